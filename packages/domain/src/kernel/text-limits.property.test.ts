// A text limit counts characters (Unicode code points), as the API's schemas, the published
// OpenAPI's `maxLength` and PostgreSQL do: a text of at most the limit passes whatever its
// characters (astral ones, such as emoji, are two UTF-16 units each), one character more is
// refused. A few representative validators, each at its own limit.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createGroup } from "../group/group.js";
import { HELD_PAYMENT_TEXT_MAX_CHARS, newHeldPayment } from "../held-payment/held-payment.js";
import { MANUAL_ADJUSTMENT_REASON_MAX_CHARS, manualAdjustment } from "../ledger/manual-adjustment.js";
import { MARKETPLACE_TEXT_MAX_CHARS, newMarketplaceCharge } from "../marketplace/marketplace-charge.js";
import { createPlan, PLAN_TEXT_MAX_CHARS } from "../membership/plan.js";
import { money } from "../money/money.js";
import { decideOwedPayment, OWED_PAYMENT_REFERENCE_MAX } from "../owed/owed-payment.js";
import { createPerson, PERSON_TEXT_MAX } from "../person/person.js";
import { DEFAULT_HELD_PAYMENT_POLICY } from "../policy/held-payment-policy.js";
import { DEFAULT_MARKETPLACE_POLICY } from "../policy/marketplace-policy.js";
import { destinationCommand } from "../testing/marketplace-charge-mothers.js";
import { basicPlanTerms } from "../testing/membership-mothers.js";
import { clipText, textLength } from "./text.js";

const T0 = Date.UTC(2026, 0, 5);

/** One character, never whitespace: ASCII, Latin-1, CJK, or astral (emoji, maths letters). */
const charArb = fc.oneof(
  fc.constantFrom("a", "Z", "7", "é", "ß", "中", "€"),
  fc.constantFrom("😀", "🎉", "𝔸", "𠀀"),
  fc.integer({ min: 0x1_0000, max: 0x10_ffff }).map((cp) => String.fromCodePoint(cp)),
);

/** A text of `min` to `max` characters, with at least one astral character when it has any. */
const textOf = (min: number, max: number) =>
  fc
    .array(charArb, { minLength: Math.max(min, 1) - 1, maxLength: Math.max(max, 1) - 1 })
    .chain((chars) =>
      fc
        .integer({ min: 0, max: chars.length })
        .map((at) => [...chars.slice(0, at), "😀", ...chars.slice(at)].join("")),
    );

interface Limited {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly check: (text: string) => { readonly ok: boolean; readonly code?: string };
  readonly refusal: string;
}

const outcome = (r: { isOk(): boolean; isErr(): boolean }, error: () => { code: string }) =>
  r.isOk() ? { ok: true } : { ok: false, code: error().code };

const heldCommand = {
  id: "hp_1",
  clientReference: "booking_1",
  requestedBy: "app_1",
  amountMinor: 10_000,
  currency: "AUD",
  seller: { id: "sel_1", connectedAccountId: "acct_1", canReceive: true },
  description: "A booking",
  customer: { email: "c@example.com" },
  fee: { kind: "rate", basisPoints: 1_250 },
  successUrl: "https://app.example/done",
} as const;

const LIMITED: readonly Limited[] = [
  {
    name: "a held payment's description",
    min: 1,
    max: HELD_PAYMENT_TEXT_MAX_CHARS,
    refusal: "invalid_held_payment",
    check: (description) => {
      const r = newHeldPayment(
        { ...heldCommand, description },
        { now: T0, policy: DEFAULT_HELD_PAYMENT_POLICY },
      );
      return outcome(r, () => r._unsafeUnwrapErr());
    },
  },
  {
    name: "a marketplace charge's description",
    min: 1,
    max: MARKETPLACE_TEXT_MAX_CHARS,
    refusal: "invalid_marketplace_charge",
    check: (description) => {
      const r = newMarketplaceCharge(
        { ...destinationCommand, description },
        { now: T0, policy: DEFAULT_MARKETPLACE_POLICY },
      );
      return outcome(r, () => r._unsafeUnwrapErr());
    },
  },
  {
    name: "a plan's name",
    min: 1,
    max: PLAN_TEXT_MAX_CHARS,
    refusal: "invalid_plan",
    check: (name) => {
      const r = createPlan("pl1", { ...basicPlanTerms, name }, T0);
      return outcome(r, () => r._unsafeUnwrapErr());
    },
  },
  {
    name: "a person's display name",
    min: 1,
    max: PERSON_TEXT_MAX,
    refusal: "invalid_person",
    check: (displayName) => {
      const r = createPerson({ id: "ana", displayName, createdAt: T0 });
      return outcome(r, () => r._unsafeUnwrapErr());
    },
  },
  {
    name: "a group's name",
    min: 1,
    max: 100,
    refusal: "invalid_group",
    check: (name) => {
      const r = createGroup({
        id: "grp_1",
        name,
        currency: "AUD",
        contributionMinor: 100_00,
        cadence: "weekly",
        startsAt: T0 + 86_400_000,
        payoutOrderMethod: "join_order",
        creator: { id: "ana", displayName: "Ana" },
        createdAt: T0,
      });
      return outcome(r, () => r._unsafeUnwrapErr());
    },
  },
  {
    name: "a manual adjustment's reason",
    min: 1,
    max: MANUAL_ADJUSTMENT_REASON_MAX_CHARS,
    refusal: "invalid_adjustment",
    check: (reason) => {
      const r = manualAdjustment({
        id: "adjustment:1",
        occurredAt: T0,
        by: "ops_ana",
        reason,
        postings: [
          { account: "platform:funds", side: "debit", amountMinor: 100, currency: "AUD" },
          { account: "member:ana", side: "credit", amountMinor: 100, currency: "AUD" },
        ],
      });
      return outcome(r, () => r._unsafeUnwrapErr());
    },
  },
  {
    name: "an owed payment's reference",
    min: 1,
    max: OWED_PAYMENT_REFERENCE_MAX,
    refusal: "invalid_owed_payment",
    check: (reference) => {
      const r = decideOwedPayment(
        { currency: "AUD", bookedMinor: 4_000, payments: [] },
        { type: "record_owed_payment", amount: money(1_000, "AUD"), reference, by: "operator:olga" },
        T0,
      );
      return outcome(r, () => r._unsafeUnwrapErr());
    },
  },
];

describe("text limits count characters (code points), not UTF-16 units", () => {
  for (const limited of LIMITED) {
    it(`${limited.name}: up to ${limited.max} characters passes, ${limited.max + 1} is refused`, () => {
      fc.assert(
        fc.property(textOf(limited.max - 3, limited.max), (text) => {
          expect(limited.check(text)).toEqual({ ok: true });
        }),
        { numRuns: 40 },
      );
      fc.assert(
        fc.property(textOf(limited.min, limited.max), (text) => {
          expect(limited.check(text)).toEqual({ ok: true });
        }),
        { numRuns: 40 },
      );
      fc.assert(
        fc.property(textOf(limited.max + 1, limited.max + 1), (text) => {
          expect(limited.check(text)).toEqual({ ok: false, code: limited.refusal });
        }),
        { numRuns: 40 },
      );
    });
  }

  it("the limit's own case: exactly the limit in emoji passes", () => {
    expect(LIMITED.map((l) => l.check("😀".repeat(l.max)).ok)).toEqual(LIMITED.map(() => true));
    expect(LIMITED.map((l) => l.check("😀".repeat(l.max + 1)).code)).toEqual(LIMITED.map((l) => l.refusal));
  });
});

describe("textLength and clipText", () => {
  it("counts code points and clips without splitting one", () => {
    fc.assert(
      fc.property(fc.array(charArb, { maxLength: 30 }), fc.nat(35), (chars, max) => {
        const text = chars.join("");
        expect(textLength(text)).toBe(chars.length);
        const clipped = clipText(text, max);
        expect(clipped).toBe(chars.slice(0, max).join(""));
        expect(textLength(clipped)).toBe(Math.min(max, chars.length));
      }),
    );
  });
});
