// The payout run on real PostgreSQL and pg-boss, Stripe being the emulator reached through the
// SDK and the adapter gateway: sellers onboarded with an account that can pay out are paid
// their available balance once per day, however often the job runs (two schedulers at once, a
// retry); the cron is registered whatever the schedule new accounts get (SUSU_PAYOUT_CRON alone turns it off).
import { PrismaStore } from "@susu/adapters";
import { startTestBoss, useTestDatabase } from "@susu/adapters/testing";
import { DAY_MS, money, type UseCaseDeps, useCaseDepsOn, useCases } from "@susu/domain";
import { ManualClock, SequentialIds } from "@susu/domain/testing";
import type PgBoss from "pg-boss";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSchedulerEnv, SchedulerConfigError } from "../src/env.js";
import {
  PAY_OUT_BALANCES_QUEUE,
  payOutBalances,
  schedulePayOutBalances,
} from "../src/jobs/pay-out-balances.js";
import { createLogger } from "../src/logger.js";
import { createSchedulerMetrics } from "../src/metrics.js";
import { parseScrape } from "./prometheus.js";
import { type EmulatorGateway, onboardSeller, startEmulatorGateway } from "./support/emulator.js";

const db = useTestDatabase();
const log = createLogger("silent", "payouts-job-test");
const START = Date.UTC(2030, 0, 3, 2);

describe("the payout run (PostgreSQL + pg-boss + the emulator)", () => {
  let boss: PgBoss;
  let deps: UseCaseDeps;
  let stripeSide: EmulatorGateway;
  const clock = new ManualClock(START);
  /** Each seller's connected account at the emulator. */
  const accounts = new Map<string, string>();
  const accountOf = (id: string) => accounts.get(id) ?? "";

  beforeAll(async () => {
    boss = await startTestBoss(db.connectionString);
    const store = new PrismaStore(db.prisma);
    deps = useCaseDepsOn(store, { clock, ids: new SequentialIds(), payoutSchedule: { interval: "manual" } });
    stripeSide = await startEmulatorGateway({ startTimeMs: START, clock });
    // ana and ben finish onboarding; cy abandons it: her account cannot pay out.
    for (const id of ["ana", "ben", "cy"])
      accounts.set(id, await onboardSeller(deps, stripeSide, id, id !== "cy"));
    for (const id of ["ana", "ben", "cy"])
      await stripeSide.emulator.control.topUp({
        amount: id === "ana" ? 100_00 : 40_00,
        currency: "aud",
        account: accountOf(id),
      });
  });
  afterAll(async () => {
    await boss.stop({ graceful: false, wait: true });
    await stripeSide?.emulator.stop();
  });

  /** The payouts Stripe made to `id`'s account, newest first. */
  const payoutsOf = async (id: string) =>
    (await stripeSide.stripe.payouts.list({ limit: 100 }, { stripeAccount: accountOf(id) })).data;
  /** How many payouts Stripe made to every seller's account. */
  const payoutCount = async () => {
    let count = 0;
    for (const id of accounts.keys()) count += (await payoutsOf(id)).length;
    return count;
  };
  /** The domain's day and Stripe's move on together. */
  const nextDay = async () => {
    clock.advance(DAY_MS);
    await stripeSide.emulator.control.advanceClock(DAY_MS / 1000);
  };
  const gateway = () => stripeSide.gateway;

  it("pays each payable seller once a day, however often and however many schedulers run it", async () => {
    const [a, b] = await Promise.all([
      payOutBalances(deps, gateway(), log),
      payOutBalances(deps, gateway(), log),
    ]);
    expect([...a.payouts, ...b.payouts].map((p) => p.amount.amountMinor).sort()).toEqual(
      expect.arrayContaining([40_00, 100_00]),
    );
    // cy cannot pay out: not in the run at all (her balance stays at Stripe).
    expect(a.people).toBe(2);
    expect((await payoutsOf("ana")).map((p) => p.amount)).toEqual([100_00]);
    expect((await payoutsOf("ben")).map((p) => p.amount)).toEqual([40_00]);
    expect(await payoutsOf("cy")).toEqual([]);
    const again = await payOutBalances(deps, gateway(), log);
    expect(again.payouts).toEqual([]);
    expect(await payoutCount()).toBe(2);
    // Tomorrow's run pays what arrived since.
    await stripeSide.emulator.control.topUp({ amount: 7_00, currency: "aud", account: accountOf("ana") });
    await nextDay();
    const tomorrow = await payOutBalances(deps, gateway(), log);
    expect(tomorrow.payouts.map((p) => p.amount)).toEqual([money(7_00, "AUD")]);
    expect(await payoutCount()).toBe(3);
    expect((await payoutsOf("ana")).map((p) => p.amount)).toEqual([7_00, 100_00]);
  });

  it("a balance Stripe refuses to pay out is counted, and its person told once that day", async () => {
    const metrics = createSchedulerMetrics({ defaultMetrics: false });
    const ben = accountOf("ben");
    // Stripe restricts ben's account (requirements past due: payouts disabled); its
    // account.updated has not reached susu, which still counts him among the payable.
    await stripeSide.emulator.control.restrictAccount(ben);
    await stripeSide.emulator.control.topUp({ amount: 12_00, currency: "aud", account: ben });
    await nextDay();
    const before = await payoutCount();
    const first = await payOutBalances(deps, gateway(), log, metrics);
    await payOutBalances(deps, gateway(), log, metrics);
    expect(first.skipped).toEqual([
      expect.objectContaining({ personId: "ben", amount: money(12_00, "AUD"), code: "payouts_not_allowed" }),
    ]);
    expect(await payoutCount()).toBe(before);
    const scrape = parseScrape(await metrics.metrics.registry.metrics());
    expect(scrape.value("susu_payouts_skipped_total", { code: "payouts_not_allowed" })).toBe(2);
    // The person's notice and the admins' ticket wait in the outbox, once for the day's two runs.
    const day = new Date(clock.now()).toISOString().slice(0, 10);
    const rows = await db.prisma.outboxEffect.findMany({
      where: { aggregateType: "payout", id: { contains: ":refused:" } },
      orderBy: { id: "asc" },
    });
    expect(rows.map((r) => [r.id, r.kind])).toEqual([
      [`payout:${ben}:AUD:${day}:refused:notify`, "notify"],
      [`payout:${ben}:AUD:${day}:refused:ticket`, "open_ticket"],
    ]);
    // ben provides what was due: his account can pay out again (his 12.00 still waits there).
    await stripeSide.emulator.control.completeAccountOnboarding(ben);
  });

  it("paused by an operator, the run pays no one, logs and counts why; resumed, it pays what is due", async () => {
    const metrics = createSchedulerMetrics({ defaultMetrics: false });
    const lines: Record<string, unknown>[] = [];
    const captured = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
    await stripeSide.emulator.control.topUp({ amount: 5_00, currency: "aud", account: accountOf("ana") });
    await stripeSide.emulator.control.topUp({ amount: 6_00, currency: "aud", account: accountOf("ben") });
    await nextDay();
    const made = await payoutCount();
    (
      await useCases.pausePayouts(deps, {
        scope: { kind: "platform" },
        reason: "month-end close",
        by: "olga",
      })
    )._unsafeUnwrap();
    const paused = await payOutBalances(deps, gateway(), captured, metrics);
    expect(paused.payouts).toEqual([]);
    expect(await payoutCount()).toBe(made);
    expect(lines).toContainEqual(
      expect.objectContaining({
        msg: "payout run paused: no payout asked for until an operator resumes payouts",
        reason: "month-end close",
        pausedBy: "olga",
      }),
    );
    // The platform resumed, ben's own pause holds only him back.
    (
      await useCases.pausePayouts(deps, {
        scope: { kind: "person", personId: "ben" },
        reason: "fraud review",
        by: "olga",
      })
    )._unsafeUnwrap();
    (await useCases.resumePayouts(deps, { scope: { kind: "platform" }, by: "olga" }))._unsafeUnwrap();
    const held = await payOutBalances(deps, gateway(), captured, metrics);
    expect(held.payouts.map((p) => p.amount)).toEqual([money(5_00, "AUD")]);
    expect(lines).toContainEqual(
      expect.objectContaining({
        msg: "payouts paused for this person: skipped",
        personId: "ben",
        reason: "fraud review",
      }),
    );
    const scrape = parseScrape(await metrics.metrics.registry.metrics());
    expect(scrape.value("susu_payouts_paused_total", { scope: "platform" })).toBe(1);
    expect(scrape.value("susu_payouts_paused_total", { scope: "person" })).toBe(1);
    (
      await useCases.resumePayouts(deps, { scope: { kind: "person", personId: "ben" }, by: "olga" })
    )._unsafeUnwrap();
    const resumed = await payOutBalances(deps, gateway(), captured, metrics);
    // ben's whole available balance: the 12.00 refused yesterday and today's 6.00.
    expect(resumed.payouts.map((p) => p.amount)).toEqual([money(18_00, "AUD")]);
    expect(await payoutCount()).toBe(made + 2);
    expect((await payoutsOf("ben"))[0]?.amount).toBe(18_00);
  });

  it("registers the cron in UTC", async () => {
    await schedulePayOutBalances(boss, deps, gateway(), log, "0 2 * * *");
    expect((await boss.getSchedules()).filter((s) => s.name === PAY_OUT_BALANCES_QUEUE)).toEqual([
      expect.objectContaining({ cron: "0 2 * * *", options: expect.objectContaining({ tz: "UTC" }) }),
    ]);
  });

  it("refuses the payout run off whatever the schedule new accounts get, and reads the defaults", () => {
    expect(readSchedulerEnv({ STRIPE_SECRET_KEY: "sk_test_x" })).toMatchObject({
      SUSU_CONNECTED_PAYOUT_SCHEDULE: { interval: "manual" },
      SUSU_PAYOUT_CRON: "0 2 * * *",
    });
    // Accounts created while the setting was manual stay manual at Stripe, and the run is also
    // the recheck of payouts whose news was lost: off strands them under any setting.
    for (const schedule of [undefined, "manual", "daily", "weekly:friday", "monthly:1"]) {
      let thrown: unknown;
      try {
        readSchedulerEnv({
          STRIPE_SECRET_KEY: "sk_test_x",
          SUSU_PAYOUT_CRON: "off",
          ...(schedule !== undefined ? { SUSU_CONNECTED_PAYOUT_SCHEDULE: schedule } : {}),
        });
      } catch (error) {
        thrown = error;
      }
      expect(thrown, String(schedule)).toBeInstanceOf(SchedulerConfigError);
      expect((thrown as SchedulerConfigError).problems).toEqual([
        { variable: "SUSU_PAYOUT_CRON", message: expect.stringContaining("cannot be off") },
      ]);
    }
    expect(
      readSchedulerEnv({
        STRIPE_SECRET_KEY: "sk_test_x",
        SUSU_PAYOUT_CRON: "30 3 * * *",
        SUSU_CONNECTED_PAYOUT_SCHEDULE: "daily",
      }),
    ).toMatchObject({
      SUSU_PAYOUT_CRON: "30 3 * * *",
      SUSU_CONNECTED_PAYOUT_SCHEDULE: { interval: "daily" },
    });
    let thrown: unknown;
    try {
      readSchedulerEnv({ STRIPE_SECRET_KEY: "sk_test_x", SUSU_CONNECTED_PAYOUT_SCHEDULE: "monthly:40" });
    } catch (error) {
      thrown = error;
    }
    expect((thrown as SchedulerConfigError).problems.map((p) => p.variable)).toEqual([
      "SUSU_CONNECTED_PAYOUT_SCHEDULE",
    ]);
  });
});
