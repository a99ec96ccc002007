// Reconciliation around midnight UTC: susu's ledger records a movement when susu processed
// it, Stripe when it created it, so the two can fall on either side of a day's bound. Each
// day finds counterparts within RECONCILIATION_MATCH_MARGIN_MS of its bounds; a movement
// matched across the bound is a difference on neither day, and a real one is still reported.
import { debitInitiated, money } from "@susu/domain";
import { beforeEach, describe, expect, it } from "vitest";
import { RECONCILIATION_MATCH_MARGIN_MS, reconcileStored } from "../../src/reconciliation/index.js";
import { useTestDatabase } from "../support/index.js";
import { balanceRecord, store } from "./balance-record.js";

const db = useTestDatabase();
const DAY = 86_400_000;
const HOUR = 3_600_000;
// The tests share one database: each its own days, ten apart.
let D = Date.UTC(2026, 0, 1);

const debit = (n: number, occurredAt: number, amount = 5000) =>
  debitInitiated({
    id: `eff_debit_${n}:initiated`,
    roundId: "r1",
    memberId: "ana",
    amount: money(amount, "AUD"),
    occurredAt,
  })._unsafeUnwrap();
const payment = (n: number, created: number, amount = 5000) =>
  balanceRecord({
    id: `txn_pay_${n}`,
    type: "payment",
    reportingCategory: "charge",
    status: "pending",
    sourceId: `py_${n}`,
    sourceObject: "charge",
    amountMinor: amount,
    netMinor: amount,
    effectId: `eff_debit_${n}`,
    created,
    availableOn: created + 3 * DAY,
  });
const day = (from: number) => reconcileStored(db.prisma, { from, to: from + DAY });

describe("reconciliation across midnight", () => {
  beforeEach(() => {
    D += 10 * DAY;
  });

  it("a debit straddling midnight by one second matches on neither day", async () => {
    await store(db.prisma, [debit(1, D + DAY + 500)], [payment(1, D + DAY - 1000)], D + 2 * DAY);
    const first = await day(D);
    const second = await day(D + DAY);
    expect(first.differences).toEqual([]);
    expect(second.differences).toEqual([]);
    // The day it happened at Stripe counts it matched.
    expect(first.matched).toBe(1);
  });

  it("the other way round too: susu before midnight, Stripe after", async () => {
    await store(db.prisma, [debit(2, D + DAY - 200)], [payment(2, D + DAY + 3000)], D + 2 * DAY);
    expect((await day(D)).differences).toEqual([]);
    expect((await day(D + DAY)).differences).toEqual([]);
  });

  it("susu recording a movement later than the margin after Stripe is reported once, on Stripe's day", async () => {
    const late = D + DAY + RECONCILIATION_MATCH_MARGIN_MS + 1000;
    await store(db.prisma, [debit(3, late)], [payment(3, D + DAY - 1000)], D + 3 * DAY);
    expect((await day(D)).differences.map((d) => [d.code, d.balanceTransactionIds])).toEqual([
      ["missing_in_susu", ["txn_pay_3"]],
    ]);
    // susu's day finds Stripe's record within its margin: not reported again.
    expect((await day(D + DAY)).differences).toEqual([]);
  });

  it("a movement with no counterpart anywhere near is reported on its own day", async () => {
    await store(db.prisma, [debit(6, D + DAY + 10)], [payment(7, D + DAY - 10, 700)], D + 2 * DAY);
    expect((await day(D)).differences.map((d) => d.code)).toEqual(["missing_in_susu"]);
    expect((await day(D + DAY)).differences.map((d) => d.code)).toEqual(["missing_at_stripe"]);
  });

  it("a real difference across midnight is still reported, with both sides", async () => {
    await store(db.prisma, [debit(4, D + DAY + 500, 4000)], [payment(4, D + DAY - 1000, 5000)], D + 2 * DAY);
    const first = (await day(D)).differences;
    expect(first.map((d) => [d.code, d.susuMinor, d.stripeMinor])).toEqual([["amount_mismatch", 4000, 5000]]);
    // And by the next day, whose own record it is too: the same items, seen from the other side
    // (two reports of one difference across the bound rather than a chance of none).
    const second = (await day(D + DAY)).differences;
    expect(second.map((d) => [d.code, d.balanceTransactionIds, d.ledgerTransactionIds])).toEqual(
      first.map((d) => [d.code, d.balanceTransactionIds, d.ledgerTransactionIds]),
    );
  });

  it("a movement alone on its day but matched within the margin's hours still matches", async () => {
    await store(db.prisma, [debit(5, D + DAY + 5 * HOUR)], [payment(5, D + DAY - HOUR)], D + 2 * DAY);
    expect(RECONCILIATION_MATCH_MARGIN_MS).toBeGreaterThanOrEqual(6 * HOUR);
    expect((await day(D)).differences).toEqual([]);
    expect((await day(D + DAY)).differences).toEqual([]);
  });
});
