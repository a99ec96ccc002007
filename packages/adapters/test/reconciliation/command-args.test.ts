import { describe, expect, it } from "vitest";
import { parseInstant, parseReconcileArgs } from "../../src/reconciliation/command-args.js";

describe("npm run reconcile's arguments", () => {
  it("takes a period of dates (midnight UTC, end exclusive) and an optional CSV path", () => {
    expect(
      parseReconcileArgs(["--from", "2026-12-01", "--to", "2026-12-02", "--csv", "out.csv"])._unsafeUnwrap(),
    ).toEqual({
      period: { from: Date.UTC(2026, 11, 1), to: Date.UTC(2026, 11, 2) },
      csvPath: "out.csv",
    });
    expect(
      parseReconcileArgs([
        "--from",
        "2026-12-01T06:00:00+10:00",
        "--to",
        "2026-12-01T12:00:00Z",
      ])._unsafeUnwrap(),
    ).toEqual({
      period: { from: Date.UTC(2026, 10, 30, 20), to: Date.UTC(2026, 11, 1, 12) },
    });
  });

  it("refuses what is not a period, with a message that says why", () => {
    expect(parseReconcileArgs(["--from", "2026-12-02", "--to", "2026-12-01"])._unsafeUnwrapErr()).toMatch(
      /^reconciliation_period_invalid/,
    );
    expect(parseReconcileArgs(["--from", "2026-12-01", "--to", "2026-12-01"])._unsafeUnwrapErr()).toMatch(
      /^reconciliation_period_invalid/,
    );
    expect(parseReconcileArgs(["--from", "2026-01-01", "--to", "2026-03-01"])._unsafeUnwrapErr()).toMatch(
      /^reconciliation_period_too_long/,
    );
    expect(parseReconcileArgs(["--from", "2026-12-01"])._unsafeUnwrapErr()).toMatch(
      /--from and --to are required/,
    );
    expect(parseReconcileArgs(["--from", "yesterday", "--to", "2026-12-01"])._unsafeUnwrapErr()).toMatch(
      /^--from: not a date/,
    );
    expect(
      parseReconcileArgs(["--from", "2026-12-01", "--to", "2026-12-02", "--bogus"])._unsafeUnwrapErr(),
    ).toMatch(/usage/);
    expect(
      parseReconcileArgs(["--from", "2026-12-01", "--to", "2026-12-02", "--csv", ""])._unsafeUnwrapErr(),
    ).toMatch(/--csv/);
  });

  it("refuses days that do not exist and instants without a zone", () => {
    expect(parseInstant("2026-02-31")).toBeUndefined();
    expect(parseInstant("2026-12-01T00:00:00")).toBeUndefined();
    expect(parseInstant("2026-12-01T00:00:00.5Z")).toBe(Date.UTC(2026, 11, 1, 0, 0, 0, 500));
  });

  it("takes --day for a whole UTC day that is over, as the scheduler reconciles it, and refuses one that is not", () => {
    const now = Date.UTC(2026, 11, 2, 9);
    expect(parseReconcileArgs(["--day", "2026-12-01", "--csv", "d.csv"], now)._unsafeUnwrap()).toEqual({
      period: { from: Date.UTC(2026, 11, 1), to: Date.UTC(2026, 11, 2) },
      csvPath: "d.csv",
    });
    // Yesterday only once the 6 hours after it are over, as the scheduler reconciles it.
    expect(
      parseReconcileArgs(["--day", "2026-12-01"], Date.UTC(2026, 11, 2, 5, 59, 59))._unsafeUnwrapErr(),
    ).toMatch(/^reconciliation_day_not_over: 2026-12-01 /);
    expect(parseReconcileArgs(["--day", "2026-12-01"], Date.UTC(2026, 11, 2, 6)).isOk()).toBe(true);
    expect(parseReconcileArgs(["--day", "2026-12-02"], now)._unsafeUnwrapErr()).toMatch(
      /^reconciliation_day_not_over: 2026-12-02 is not over yet/,
    );
    expect(parseReconcileArgs(["--day", "2027-01-01"], now)._unsafeUnwrapErr()).toMatch(
      /^reconciliation_day_not_over/,
    );
    for (const day of ["2026-02-30", "2026-12-1", "2026-12-01T00:00:00Z"])
      expect(parseReconcileArgs(["--day", day], now)._unsafeUnwrapErr()).toMatch(/^--day: not a date/);
    expect(
      parseReconcileArgs(
        ["--day", "2026-12-01", "--from", "2026-12-01", "--to", "2026-12-02"],
        now,
      )._unsafeUnwrapErr(),
    ).toMatch(/--day or --from and --to, not both/);
  });
});
