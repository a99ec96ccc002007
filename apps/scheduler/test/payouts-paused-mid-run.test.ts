// A payout pause an operator places while the payout run is under way, on real PostgreSQL and
// the emulator (through the SDK): the run has read the pauses at its start and paid the first
// seller when the pause is committed; the seller it holds back is reported, logged and
// counted as paused, exactly as one paused before the run, never as a failed payout (which
// the alert SusuPayoutRunPartlyFailed is about), and Stripe is asked for nothing for them.
import { PrismaStore, type StripePaymentGateway } from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import {
  DAY_MS,
  money,
  type PaymentGateway,
  type PayoutPauseScope,
  type UseCaseDeps,
  useCaseDepsOn,
  useCases,
} from "@susu/domain";
import { ManualClock, SequentialIds } from "@susu/domain/testing";
import type { RunningEmulator } from "@susu/stripe-emulator";
import { ResultAsync } from "neverthrow";
import pino from "pino";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { payOutBalances } from "../src/jobs/pay-out-balances.js";
import { createSchedulerMetrics } from "../src/metrics.js";
import { parseScrape } from "./prometheus.js";
import { type EmulatorGateway, onboardSeller, startEmulatorGateway } from "./support/emulator.js";

const db = useTestDatabase();
const START = Date.UTC(2030, 2, 4, 2);

describe("a payout pause placed while the payout run is under way (PostgreSQL + the emulator)", () => {
  let emulator: RunningEmulator;
  let stripe: Stripe;
  let gateway: StripePaymentGateway;
  let deps: UseCaseDeps;
  const clock = new ManualClock(START);
  const accounts = new Map<string, string>();

  beforeAll(async () => {
    const stripeSide: EmulatorGateway = await startEmulatorGateway({ startTimeMs: START, clock });
    ({ emulator, stripe, gateway } = stripeSide);
    const store = new PrismaStore(db.prisma, { clock });
    deps = useCaseDepsOn(store, { clock, ids: new SequentialIds(), payoutSchedule: { interval: "manual" } });
    // Both finish onboarding; account.updated (payouts enabled) is recorded for each.
    for (const id of ["ana", "ben"]) accounts.set(id, await onboardSeller(deps, stripeSide, id, true));
  });
  afterAll(async () => {
    await emulator?.stop();
  });

  /** The gateway, except that `afterPayout` runs once Stripe has made a payout to `accountId`. */
  function pausingAfterPayoutOf(accountId: string, afterPayout: () => Promise<void>): PaymentGateway {
    return new Proxy(gateway, {
      get(target, prop) {
        if (prop === "createPayout")
          return (input: Parameters<PaymentGateway["createPayout"]>[0]) =>
            new ResultAsync(
              (async () => {
                const made = await target.createPayout(input);
                if (made.isOk() && input.accountId === accountId) await afterPayout();
                return made;
              })(),
            );
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  }

  async function fundBoth(anaMinor: number, benMinor: number): Promise<void> {
    await emulator.control.topUp({ amount: anaMinor, currency: "aud", account: accounts.get("ana") ?? "" });
    await emulator.control.topUp({ amount: benMinor, currency: "aud", account: accounts.get("ben") ?? "" });
  }

  const payoutsOf = async (id: string) =>
    (await stripe.payouts.list({ limit: 100 }, { stripeAccount: accounts.get(id) ?? "" })).data;

  const pause = async (scope: PayoutPauseScope, reason: string) =>
    (await useCases.pausePayouts(deps, { scope, reason, by: "olga" }))._unsafeUnwrap();

  function capture() {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
    return { lines, log };
  }

  it("a seller paused after the run read the pauses is skipped as paused, logged and counted so, not failed", async () => {
    await fundBoth(10_00, 20_00);
    const metrics = createSchedulerMetrics({ defaultMetrics: false });
    const { lines, log } = capture();
    const ben = { kind: "person", personId: "ben" } as const;
    const run = pausingAfterPayoutOf(accounts.get("ana") ?? "", async () => {
      await pause(ben, "fraud review");
    });
    const report = await payOutBalances(deps, run, log, metrics);
    expect(report.payouts.map((p) => p.amount)).toEqual([money(10_00, "AUD")]);
    expect(report.failed).toEqual([]);
    expect(report.paused).toEqual([{ personId: "ben", reason: "fraud review", pausedBy: "olga" }]);
    expect(report.platformPause).toBeUndefined();
    expect(await payoutsOf("ben")).toEqual([]);
    expect(lines.filter((l) => l.msg === "payout failed")).toEqual([]);
    expect(lines).toContainEqual(
      expect.objectContaining({
        msg: "payouts paused for this person: skipped",
        personId: "ben",
        reason: "fraud review",
        pausedBy: "olga",
      }),
    );
    const scrape = parseScrape(await metrics.metrics.registry.metrics());
    expect(scrape.value("susu_payouts_paused_total", { scope: "person" })).toBe(1);
    // Resumed, the next run pays ben what is due; nothing was asked for him meanwhile.
    (await useCases.resumePayouts(deps, { scope: ben, by: "olga" }))._unsafeUnwrap();
    const resumed = await payOutBalances(deps, gateway, log, metrics);
    expect(resumed.payouts.map((p) => p.amount)).toEqual([money(20_00, "AUD")]);
    expect((await payoutsOf("ben")).map((p) => p.amount)).toEqual([20_00]);
  });

  it("the platform paused after the run read the pauses: no payout is asked for from then on, reported and counted as the platform's pause, not failed", async () => {
    // Whatever the test before left paused is resumed (resuming what is not paused changes nothing).
    (
      await useCases.resumePayouts(deps, { scope: { kind: "person", personId: "ben" }, by: "olga" })
    )._unsafeUnwrap();
    clock.advance(DAY_MS);
    await emulator.control.advanceClock(DAY_MS / 1000);
    await fundBoth(3_00, 4_00);
    const metrics = createSchedulerMetrics({ defaultMetrics: false });
    const { lines, log } = capture();
    const benBefore = (await payoutsOf("ben")).length;
    const run = pausingAfterPayoutOf(accounts.get("ana") ?? "", async () => {
      await pause({ kind: "platform" }, "month-end close");
    });
    const report = await payOutBalances(deps, run, log, metrics);
    expect(report.payouts.map((p) => p.amount)).toEqual([money(3_00, "AUD")]);
    expect(report.failed).toEqual([]);
    expect(report.paused).toEqual([]);
    expect(report.platformPause).toMatchObject({ reason: "month-end close", pausedBy: "olga" });
    expect(await payoutsOf("ben")).toHaveLength(benBefore);
    expect(lines.filter((l) => l.msg === "payout failed")).toEqual([]);
    expect(lines).toContainEqual(
      expect.objectContaining({
        msg: "payout run paused: no payout asked for until an operator resumes payouts",
        reason: "month-end close",
        pausedBy: "olga",
      }),
    );
    const scrape = parseScrape(await metrics.metrics.registry.metrics());
    expect(scrape.value("susu_payouts_paused_total", { scope: "platform" })).toBe(1);
    (await useCases.resumePayouts(deps, { scope: { kind: "platform" }, by: "olga" }))._unsafeUnwrap();
  });
});
