// Property: whatever held payments exist, the held-funds gauges read from PostgreSQL put
// each payment whose money is on the platform in exactly one age band (by its capture, the
// bands' bounds included in the older band), with its whole amount, and count every capture
// as one succeeded payment — the same as a model computed from the payments in TypeScript.
import {
  type Changeset,
  createHeldPayment,
  DEFAULT_HELD_PAYMENT_POLICY,
  decideHeldPayment,
  type HeldPayment,
  type HeldPaymentInput,
  type Instant,
} from "@susu/domain";
import { aReadyPerson } from "@susu/domain/testing";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  HELD_FUNDS_AGES,
  type HeldFundsAge,
  PrismaPaymentMetricsReads,
  PrismaStore,
} from "../../src/prisma/index.js";
import { createTestDatabase, type TestDatabase } from "../support/test-database.js";

const NOW = Date.UTC(2026, 5, 1);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const policy = DEFAULT_HELD_PAYMENT_POLICY;
const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };

/** What becomes of a generated payment: paid and held, paid then refunded, never paid. */
type Fate = "held" | "refunded" | "unpaid";
interface Generated {
  readonly fate: Fate;
  readonly capturedAgoMs: number;
  readonly amountMinor: number;
}

function apply(p: HeldPayment, now: Instant, ...inputs: HeldPaymentInput[]): HeldPayment {
  return inputs.reduce((s, input) => decideHeldPayment(s, input, { now, policy })._unsafeUnwrap().state, p);
}

function build(g: Generated, i: number): HeldPayment {
  const id = `hp_${i}`;
  const capturedAt = NOW - g.capturedAgoMs;
  let p = createHeldPayment(
    {
      id,
      requestedBy: "app_1",
      clientReference: `booking_${i}`,
      amountMinor: g.amountMinor,
      currency: "AUD",
      seller: { id: "sel", connectedAccountId: "acct_sel", canReceive: true },
      description: "A booking",
      customer: { email: "cy@example.com" },
      fee: { kind: "rate", basisPoints: 1_000 },
      successUrl: "https://app.example/done",
    },
    { now: capturedAt - HOUR, policy },
  )._unsafeUnwrap().state;
  p = apply(p, capturedAt - HOUR, {
    type: "checkout_session_created",
    sessionId: `cs_${i}`,
    url: "https://c.example",
  });
  if (g.fate === "unpaid") return p;
  p = apply(p, capturedAt, {
    type: "checkout_completed",
    sessionId: `cs_${i}`,
    paymentIntentId: `pi_${i}`,
    paymentStatus: "succeeded",
    chargeId: `ch_${i}`,
  });
  if (g.fate === "refunded")
    p = apply(
      p,
      capturedAt,
      { type: "refund", by: "admin_1" },
      { type: "refund_succeeded", refund: 1, attempt: 1, refundId: `re_${i}` },
    );
  return p;
}

function bandOf(ageMs: number): HeldFundsAge {
  if (ageMs < DAY) return "under_1d";
  if (ageMs < 3 * DAY) return "1d_to_3d";
  if (ageMs < 7 * DAY) return "3d_to_7d";
  return "over_7d";
}

const generated = fc.record({
  fate: fc.constantFrom<Fate>("held", "held", "refunded", "unpaid"),
  // Any age up to 3 weeks, and the bands' bounds exactly.
  capturedAgoMs: fc.oneof(
    fc.integer({ min: 0, max: 21 * DAY }),
    fc.constantFrom(DAY - 1, DAY, 3 * DAY, 7 * DAY, 7 * DAY + 1),
  ),
  amountMinor: fc.integer({ min: 100, max: 50_000_000 }),
});

describe("held funds bands on PostgreSQL (property)", () => {
  let db: TestDatabase;
  let store: PrismaStore;
  let reads: PrismaPaymentMetricsReads;

  beforeAll(async () => {
    db = await createTestDatabase();
    store = new PrismaStore(db.prisma, { clock: { now: () => NOW } });
    reads = new PrismaPaymentMetricsReads(db.prisma);
    (
      await store.commit({ ...empty, people: [{ state: aReadyPerson("sel"), expectedVersion: undefined }] })
    )._unsafeUnwrap();
  });
  afterAll(async () => {
    await db.drop();
  });

  it("puts each held payment in one band with its whole amount, and counts each capture once", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(generated, { maxLength: 8 }), async (payments) => {
        await db.prisma.$executeRaw`DELETE FROM held_payments`;
        const built = payments.map(build);
        (
          await store.commit({
            ...empty,
            heldPayments: built.map((state) => ({ state, expectedVersion: undefined })),
          })
        )._unsafeUnwrap();

        const want = new Map<HeldFundsAge, { payments: number; amountMinor: number }>(
          HELD_FUNDS_AGES.map((age) => [age, { payments: 0, amountMinor: 0 }]),
        );
        const held = payments.filter((g) => g.fate === "held");
        for (const g of held) {
          const band = want.get(bandOf(g.capturedAgoMs));
          if (band !== undefined) {
            band.payments += 1;
            band.amountMinor += g.amountMinor;
          }
        }
        const got = await reads.heldFundsByAge(NOW);
        expect(got).toEqual(
          held.length === 0 ? [] : HELD_FUNDS_AGES.map((age) => ({ currency: "AUD", age, ...want.get(age) })),
        );
        const captured = payments.filter((g) => g.fate !== "unpaid").length;
        const outcomes = (await reads.paymentOutcomes()).filter((o) => o.flow === "held_payment");
        expect(outcomes).toEqual(
          captured === 0
            ? []
            : [
                {
                  flow: "held_payment",
                  method: "checkout",
                  currency: "AUD",
                  outcome: "succeeded",
                  count: captured,
                },
              ],
        );
      }),
      { numRuns: 25 },
    );
  });
});
