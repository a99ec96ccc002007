import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  mergePayout,
  PAYOUT_STATUSES,
  type PayoutRecord,
  type PayoutSchedule,
  type PayoutStatus,
  parsePayoutSchedule,
  type ReportedPayout,
  utcDay,
  WEEKDAYS,
} from "./payout.js";

const base: Omit<ReportedPayout, "status"> = {
  payoutId: "po_1",
  accountId: "acct_1",
  amountMinor: 12_345,
  currency: "AUD",
  arrivalDate: 1_900_000_000_000,
  automatic: false,
  createdAt: 1_899_000_000_000,
};

const reported = (status: PayoutStatus): ReportedPayout => ({
  ...base,
  status,
  ...(status === "failed" ? { failureCode: "account_closed", failureMessage: "closed" } : {}),
});

/** Hears the events in order, as the use case does, and returns the final record. */
function hearAll(events: readonly PayoutStatus[]): PayoutRecord | undefined {
  let record: PayoutRecord | undefined;
  events.forEach((status, i) => {
    record = mergePayout(record, reported(status), "sam", i).record;
  });
  return record;
}

/** The lives a payout has at Stripe, as the events it sends (`payout.updated` repeats the status). */
const lives: readonly PayoutStatus[][] = [
  ["pending", "in_transit", "paid"],
  ["pending", "in_transit", "failed"],
  ["pending", "in_transit", "paid", "failed"],
  ["pending", "canceled"],
];

describe("recording a payout", () => {
  it("ends in the furthest status whatever order and however often its events arrive", () => {
    // Every event of a life at least once, some again, in any order.
    const deliveries = fc
      .tuple(fc.constantFrom(...lives), fc.array(fc.nat(), { maxLength: 12 }))
      .chain(([life, picks]) => {
        const events = [...life, ...picks.map((p) => life[p % life.length] as PayoutStatus)];
        return fc.tuple(fc.constant(life), fc.shuffledSubarray(events, { minLength: events.length }));
      });
    fc.assert(
      fc.property(deliveries, ([life, events]) => {
        const final = hearAll(events);
        expect(final?.status).toBe(life[life.length - 1]);
        expect(final?.personId).toBe("sam");
        if (final?.status === "failed") expect(final.failureCode).toBe("account_closed");
      }),
    );
  });

  it("a late payout.created never overwrites paid, and hearing an event twice changes nothing", () => {
    const paid = hearAll(["pending", "paid"]);
    const late = mergePayout(paid, reported("pending"), "sam", 99);
    expect(late.kind).toBe("stale");
    expect(late.record).toBe(paid);
    expect(mergePayout(paid, reported("paid"), "sam", 100).kind).toBe("stale");
  });

  it("a bank returning a paid payout moves it to failed; a failed or canceled payout stays so", () => {
    const paid = hearAll(["paid"]);
    const failed = mergePayout(paid, reported("failed"), "sam", 5);
    expect(failed).toMatchObject({ kind: "advanced", from: "paid", record: { status: "failed" } });
    for (const status of PAYOUT_STATUSES) {
      expect(mergePayout(failed.record, reported(status), "sam", 6).kind).toBe("stale");
      expect(mergePayout(hearAll(["canceled"]), reported(status), "sam", 6).kind).toBe("stale");
    }
  });

  it("keeps the person it was first recorded for", () => {
    const first = hearAll(["pending"]);
    expect(mergePayout(first, reported("paid"), "someone_else", 7).record.personId).toBe("sam");
  });

  it("names the UTC day of an instant", () => {
    expect(utcDay(Date.UTC(2030, 0, 2, 23, 59, 59))).toBe("2030-01-02");
    expect(utcDay(Date.UTC(2030, 0, 3))).toBe("2030-01-03");
  });
});

describe("the payout schedule's configuration text", () => {
  it("reads every schedule Stripe has, and nothing else", () => {
    expect(parsePayoutSchedule("manual")).toEqual({ interval: "manual" });
    expect(parsePayoutSchedule(" Daily ")).toEqual({ interval: "daily" });
    expect(parsePayoutSchedule("weekly:friday")).toEqual({ interval: "weekly", weeklyAnchor: "friday" });
    expect(parsePayoutSchedule("monthly:31")).toEqual({ interval: "monthly", monthlyAnchor: 31 });
    for (const bad of [
      "",
      "hourly",
      "manual:1",
      "weekly",
      "weekly:fri",
      "monthly:0",
      "monthly:32",
      "monthly:1.5",
      "daily:x:y",
    ])
      expect(parsePayoutSchedule(bad), bad).toBeUndefined();
  });

  it("reads back what it would print, for any schedule", () => {
    const schedules = fc.oneof(
      fc.constant<PayoutSchedule>({ interval: "manual" }),
      fc.constant<PayoutSchedule>({ interval: "daily" }),
      fc.constantFrom(...WEEKDAYS).map((d): PayoutSchedule => ({ interval: "weekly", weeklyAnchor: d })),
      fc.integer({ min: 1, max: 31 }).map((n): PayoutSchedule => ({ interval: "monthly", monthlyAnchor: n })),
    );
    fc.assert(
      fc.property(schedules, (s) => {
        const text =
          s.interval === "weekly"
            ? `weekly:${s.weeklyAnchor}`
            : s.interval === "monthly"
              ? `monthly:${s.monthlyAnchor}`
              : s.interval;
        expect(parsePayoutSchedule(text)).toEqual(s);
      }),
    );
  });
});
