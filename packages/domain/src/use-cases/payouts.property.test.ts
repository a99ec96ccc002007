import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type CurrencyCode, money } from "../money/index.js";
import type { PayoutStatus, ReportedPayout } from "../payout/payout.js";
import { DAY_MS } from "../shared/time.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import * as useCases from "./index.js";

const CURRENCIES: readonly CurrencyCode[] = ["AUD", "NZD", "JPY"];

type Step =
  | { readonly kind: "fund"; readonly currency: CurrencyCode; readonly amountMinor: number }
  | { readonly kind: "run"; readonly day: number }
  | { readonly kind: "request"; readonly key: string }
  /** An admin's request and the day's run at the same time, both reading the same balance. */
  | { readonly kind: "together"; readonly day: number; readonly key: string };

const steps = fc.array(
  fc.oneof(
    fc.record({
      kind: fc.constant("fund" as const),
      currency: fc.constantFrom(...CURRENCIES),
      // Often one of a few amounts: money arriving again exactly as much as a payout made.
      amountMinor: fc.oneof(
        { arbitrary: fc.constant(2_500), weight: 3 },
        { arbitrary: fc.integer({ min: 1, max: 1_000_000 }), weight: 1 },
      ),
    }),
    fc.record({ kind: fc.constant("run" as const), day: fc.integer({ min: 0, max: 3 }) }),
    fc.record({ kind: fc.constant("request" as const), key: fc.constantFrom("k1", "k2", "k3") }),
    fc.record({
      kind: fc.constant("together" as const),
      day: fc.integer({ min: 0, max: 3 }),
      key: fc.constantFrom("k1", "k4", "k5"),
    }),
  ),
  { maxLength: 25 },
);

describe("paying sellers out (property)", () => {
  it("never pays out more than arrived, never twice for one key, never a refusal when payouts race, and a fresh day's run empties the balance", async () => {
    await fc.assert(
      fc.asyncProperty(steps, async (plan: Step[]) => {
        const sim = new InMemorySusu({ start: Date.UTC(2030, 0, 1, 2) });
        (await sim.addSeller("sam"))._unsafeUnwrap();
        const account = "acct_sam";
        const funded = new Map<CurrencyCode, number>();
        const start = sim.clock.now();
        for (const step of plan) {
          if (step.kind === "fund") {
            funded.set(step.currency, (funded.get(step.currency) ?? 0) + step.amountMinor);
            const balance = sim.gateway.balances.get(account) ?? [];
            const have = balance.find((m) => m.currency === step.currency)?.amountMinor ?? 0;
            sim.gateway.balances.set(account, [
              ...balance.filter((m) => m.currency !== step.currency),
              money(have + step.amountMinor, step.currency),
            ]);
            continue;
          }
          const keysBefore = new Set(sim.gateway.payouts.keys());
          const idsBefore = new Set([...sim.gateway.payouts.values()].map((p) => p.payoutId));
          const scheduled = (day: number) => ({ kind: "scheduled" as const, at: start + day * DAY_MS });
          const requested = (key: string) => ({ kind: "requested" as const, requestKey: key, by: "ops" });
          const triggers =
            step.kind === "run"
              ? [scheduled(step.day)]
              : step.kind === "request"
                ? [requested(step.key)]
                : [requested(step.key), scheduled(step.day)];
          const runs = (
            await Promise.all(triggers.map((t) => useCases.payOutPerson(sim.deps, sim.gateway, "sam", t)))
          ).map((r) => r._unsafeUnwrap());
          for (const [i, run] of runs.entries()) {
            // Each currency paid in this run was paid under a key not used before, or replayed unchanged.
            for (const p of run.payouts) expect(p.amount.amountMinor).toBeGreaterThan(0);
            // A scheduled run reports only payouts it made, never an earlier run's.
            if (triggers[i]?.kind === "scheduled")
              for (const p of run.payouts) expect(idsBefore.has(p.payoutId)).toBe(false);
            // Whatever was skipped was skipped because its key had paid another amount already;
            // a balance another payout took at the same time is never a refusal.
            for (const s of run.skipped) expect(s.code).toBe("idempotency_key_reused");
          }
          const fresh = [...sim.gateway.payouts.keys()].filter((k) => !keysBefore.has(k));
          // At most one payout per currency and trigger (a key refused made none).
          expect(fresh.length).toBeLessThanOrEqual(CURRENCIES.length * triggers.length);
        }
        // Nobody was told of a refusal, and no ticket opened: nothing is wrong with the account.
        await sim.runUntilQuiet();
        expect(sim.notifier.sent.map((n) => n.template)).not.toContain("payout_refused");
        expect(sim.desk.tickets).toEqual([]);
        // Money is conserved: what arrived is what was paid out plus what is left, per currency.
        for (const currency of CURRENCIES) {
          const paid = [...sim.gateway.payouts.values()]
            .filter((p) => p.amount.currency === currency)
            .reduce((sum, p) => sum + p.amount.amountMinor, 0);
          const left =
            (sim.gateway.balances.get(account) ?? []).find((m) => m.currency === currency)?.amountMinor ?? 0;
          expect(paid + left).toBe(funded.get(currency) ?? 0);
          expect(left).toBeGreaterThanOrEqual(0);
        }
        // One key, one payout; the scheduled keys name one account, currency, day and number each.
        const keys = [...sim.gateway.payouts.keys()];
        expect(new Set(keys).size).toBe(keys.length);
        // A run on a day never seen before pays everything available.
        const later = start + 30 * DAY_MS;
        (
          await useCases.payOutPerson(sim.deps, sim.gateway, "sam", { kind: "scheduled", at: later })
        )._unsafeUnwrap();
        expect((sim.gateway.balances.get(account) ?? []).every((m) => m.amountMinor === 0)).toBe(true);
      }),
      { numRuns: 150 },
    );
  });
});

describe("paying into errored bank accounts (property)", () => {
  it("never pays a currency whose bank account is errored, keeps its balance, tells nobody, and pays it once the account is replaced", async () => {
    const plan = fc.array(
      fc.oneof(
        fc.record({
          kind: fc.constant("fund" as const),
          currency: fc.constantFrom(...CURRENCIES),
          amountMinor: fc.integer({ min: 1, max: 100_000 }),
        }),
        fc.record({
          kind: fc.constant("bank" as const),
          currency: fc.constantFrom(...CURRENCIES),
          status: fc.constantFrom("usable" as const, "errored" as const),
        }),
        fc.record({ kind: fc.constant("run" as const), day: fc.integer({ min: 0, max: 5 }) }),
      ),
      { maxLength: 20 },
    );
    await fc.assert(
      fc.asyncProperty(plan, async (steps) => {
        const sim = new InMemorySusu({ start: Date.UTC(2030, 0, 1, 2) });
        (await sim.addSeller("sam"))._unsafeUnwrap();
        const account = "acct_sam";
        const errored = new Set<CurrencyCode>();
        const availableOf = (currency: CurrencyCode) =>
          (sim.gateway.balances.get(account) ?? []).find((m) => m.currency === currency)?.amountMinor ?? 0;
        const bank = (currency: CurrencyCode, status: "usable" | "errored") => {
          sim.gateway.setPayoutDestination(account, { destinationId: `ba_${currency}`, currency, status });
          if (status === "errored") errored.add(currency);
          else errored.delete(currency);
        };
        for (const step of steps) {
          if (step.kind === "fund") {
            const balance = sim.gateway.balances.get(account) ?? [];
            sim.gateway.balances.set(account, [
              ...balance.filter((m) => m.currency !== step.currency),
              money(availableOf(step.currency) + step.amountMinor, step.currency),
            ]);
          } else if (step.kind === "bank") bank(step.currency, step.status);
          else {
            const before = new Map(CURRENCIES.map((c) => [c, availableOf(c)]));
            const run = (
              await useCases.payOutPerson(sim.deps, sim.gateway, "sam", {
                kind: "scheduled",
                at: sim.clock.now() + step.day * DAY_MS,
              })
            )._unsafeUnwrap();
            for (const p of run.payouts) expect(errored.has(p.amount.currency)).toBe(false);
            for (const currency of errored) {
              expect(availableOf(currency)).toBe(before.get(currency));
              if ((before.get(currency) ?? 0) > 0)
                expect(run.skipped).toContainEqual(
                  expect.objectContaining({
                    code: "bank_account_errored",
                    amount: money(before.get(currency) ?? 0, currency),
                  }),
                );
            }
          }
        }
        await sim.runUntilQuiet();
        expect(sim.notifier.sent).toEqual([]);
        expect(sim.desk.tickets).toEqual([]);
        // Every bank account replaced: a run on a fresh day pays out everything that waited.
        for (const currency of CURRENCIES) bank(currency, "usable");
        (
          await useCases.payOutPerson(sim.deps, sim.gateway, "sam", {
            kind: "scheduled",
            at: sim.clock.now() + 30 * DAY_MS,
          })
        )._unsafeUnwrap();
        for (const currency of CURRENCIES) expect(availableOf(currency)).toBe(0);
      }),
      { numRuns: 100 },
    );
  });
});

describe("rechecking payouts against the provider (property)", () => {
  const LIVES: readonly (readonly PayoutStatus[])[] = [
    ["pending", "in_transit", "paid"],
    ["pending", "in_transit", "failed"],
    ["pending", "in_transit", "paid", "failed"],
    ["pending", "canceled"],
  ];
  const reportedAs = (status: PayoutStatus): ReportedPayout => ({
    payoutId: "po_1",
    accountId: "acct_sam",
    amountMinor: 80_00,
    currency: "AUD",
    status,
    arrivalDate: Date.UTC(2030, 0, 3),
    automatic: false,
    createdAt: Date.UTC(2030, 0, 1),
    ...(status === "failed" ? { failureCode: "account_closed", failureMessage: "closed" } : {}),
  });
  /** Stripe moves the payout on, a queued event is delivered (again, late, or never), or susu rechecks. */
  type Move =
    | { readonly kind: "advance" }
    | { readonly kind: "deliver"; readonly pick: number }
    | { readonly kind: "recheck" };
  const moves = fc.array(
    fc.oneof(
      fc.constant<Move>({ kind: "advance" }),
      fc.nat().map((pick): Move => ({ kind: "deliver", pick })),
      fc.constant<Move>({ kind: "recheck" }),
    ),
    { maxLength: 20 },
  );

  it("ends where the provider's payout ends, telling a failure once, whichever of lost, repeated, late events and rechecks comes when", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...LIVES), moves, async (life, plan) => {
        const sim = new InMemorySusu({ start: Date.UTC(2030, 0, 2) });
        (await sim.addSeller("sam"))._unsafeUnwrap();
        let stage = 0;
        const queued: PayoutStatus[] = [];
        const tell = (status: PayoutStatus) => {
          sim.gateway.payoutNews.set("po_1", reportedAs(status));
          queued.push(status);
        };
        // susu heard of the payout when it was made; every later event may be lost.
        tell("pending");
        (await sim.deliver([{ kind: "payout_changed", payout: reportedAs("pending") }]))._unsafeUnwrap();
        const recheck = async () => {
          const report = (
            await useCases.recheckPayouts(sim.deps, sim.gateway, sim.clock.now())
          )._unsafeUnwrap();
          expect(report.failed).toEqual([]);
        };
        for (const move of plan) {
          if (move.kind === "advance" && stage < life.length - 1) tell(life[++stage] as PayoutStatus);
          else if (move.kind === "deliver" && queued.length > 0) {
            const status = queued[move.pick % queued.length] as PayoutStatus;
            (await sim.deliver([{ kind: "payout_changed", payout: reportedAs(status) }]))._unsafeUnwrap();
          } else if (move.kind === "recheck") await recheck();
        }
        // Stripe reaches the end of the life; the next run's recheck finds it.
        while (stage < life.length - 1) tell(life[++stage] as PayoutStatus);
        await recheck();
        // Every queued event delivered after all, twice: nothing more happens.
        for (const status of [...queued, ...queued])
          (await sim.deliver([{ kind: "payout_changed", payout: reportedAs(status) }]))._unsafeUnwrap();
        await recheck();
        await sim.runUntilQuiet();
        const final = life[life.length - 1];
        expect(sim.store.payouts()).toEqual([expect.objectContaining({ payoutId: "po_1", status: final })]);
        const failedNotices = sim.notifier.sent.filter((n) => n.template === "payout_failed");
        expect(failedNotices.map((n) => n.id)).toEqual(
          final === "failed" ? ["payout:po_1:failed:notify"] : [],
        );
        expect(sim.desk.tickets.map((t) => t.id)).toEqual(
          final === "failed" ? ["payout:po_1:failed:ticket"] : [],
        );
      }),
      { numRuns: 200 },
    );
  });

  it("stops asking about a paid payout ten days after its arrival, and never about a failed or canceled one", async () => {
    const sim = new InMemorySusu({ start: Date.UTC(2030, 0, 2) });
    (await sim.addSeller("sam"))._unsafeUnwrap();
    for (const [id, status] of [
      ["po_paid", "paid"],
      ["po_failed", "failed"],
      ["po_canceled", "canceled"],
      ["po_transit", "in_transit"],
    ] as const)
      (
        await sim.deliver([{ kind: "payout_changed", payout: { ...reportedAs(status), payoutId: id } }])
      )._unsafeUnwrap();
    const arrival = reportedAs("paid").arrivalDate;
    const asked = async (at: number) =>
      (await useCases.recheckPayouts(sim.deps, sim.gateway, at))._unsafeUnwrap().checked;
    // The fake provider does not know these payouts: each asked is a (reported) failure to read.
    expect(await asked(arrival + 10 * DAY_MS)).toBe(2);
    expect(await asked(arrival + 10 * DAY_MS + 1)).toBe(1);
  });
});
