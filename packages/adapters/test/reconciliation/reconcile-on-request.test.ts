// An admin's comparison on request (GET /v1/operations/reconciliation) pulls what a run pulls:
// the period and the margin around it, so that a movement whose two records fall on either side
// of the period's bound matches there as it does in the stored runs, and is no difference.
import { debitInitiated, money } from "@susu/domain";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PrismaLedgerStore } from "../../src/prisma/index.js";
import { reconcileOnRequest } from "../../src/reconciliation/index.js";
import { type StripeHarness, startStripeHarness } from "../stripe/emulator-harness.js";
import { useTestDatabase } from "../support/index.js";

const db = useTestDatabase();
const DAY_MS = 86_400_000;
const HOUR = 3_600_000;
const D = Date.UTC(2026, 8, 1);

describe("a comparison on request (PostgreSQL + the emulator)", () => {
  let harness: StripeHarness;

  beforeAll(async () => {
    // Stripe's clock an hour before the day compared.
    harness = await startStripeHarness({ startTime: (D - HOUR) / 1000 });
  });
  afterAll(async () => {
    await harness?.emulator.stop();
  });

  it("finds the other record of a movement just before the period, never pulled before: no difference", async () => {
    const pi = await harness.stripe.paymentIntents.create({
      amount: 40_00,
      currency: "aud",
      payment_method: "pm_card_visa",
      payment_method_types: ["card"],
      confirm: true,
      metadata: { effect_id: "eff_edge_debit" },
    });
    expect(pi.status).toBe("succeeded");
    // susu books it half an hour into the day.
    const booked = debitInitiated({
      id: "eff_edge_debit:initiated",
      roundId: "r1",
      memberId: "ana",
      amount: money(40_00, "AUD"),
      occurredAt: D + HOUR / 2,
    })._unsafeUnwrap();
    (await new PrismaLedgerStore(db.prisma).post(booked))._unsafeUnwrap();

    const report = await reconcileOnRequest(
      { prisma: db.prisma, stripe: harness.stripe, now: () => D + 2 * DAY_MS },
      { from: D, to: D + DAY_MS },
    );
    expect(report.differences).toEqual([]);
    expect(report.matched).toBe(1);
    // Nothing stored: a comparison on request tells no one.
    expect(await db.prisma.reconciliationReport.count()).toBe(0);
  });
});
