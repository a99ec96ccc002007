// Model test of the parallel outbox dispatcher: random effects over a few aggregates, several
// dispatchers (each with its own concurrency and batch size, some claiming again while slots are
// idle) running passes side by side with
// random delays inside every execution, some executions failing (retried after a backoff) and
// some results not recorded because "the database went away" (neither the completion nor the
// failure: the claim stays with the worker until its next pass gives it back). Whatever the
// interleaving:
// - no two executions of one aggregate's effects ever overlap, across all dispatchers;
// - effects that never failed ran in the order they were decided, per aggregate;
// - every effect was completed exactly once, none lost, and none ran twice except the ones
//   whose completion could not be recorded (run again under the same idempotency key);
// - claims stranded by a failed pass are given back at once, not after the 5-minute lease
//   (the run gets far fewer simulated seconds than a lease lasts);
// - every claim says an effect was tried before (a run is then a retry: `attempts` or
//   `failedBefore`) exactly when one of its executions started before, recorded or not.
import fc from "fast-check";
import { errAsync, ResultAsync } from "neverthrow";
import { describe, expect, it } from "vitest";
import type { RetryPolicy } from "../policy/retry-policy.js";
import type { OutboxEffect } from "../ports/outbox-effect.js";
import { type Changeset, type OutboxStore, storageError } from "../ports/storage.js";
import type { ScheduledTimer, TimerScheduler } from "../ports/timer-scheduler.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import { dispatchOutbox } from "./dispatch-outbox.js";

const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };
const RETRY: RetryPolicy = {
  baseDelayMs: 1_000,
  factor: 1,
  maxDelayMs: 1_000,
  jitter: "none",
  attemptsMax: 50,
};

const effectOf = (i: number, aggregate: number): OutboxEffect => ({
  kind: "schedule_timer",
  id: `e${String(i).padStart(3, "0")}`,
  aggregate: "round",
  aggregateId: `round_${aggregate}`,
  at: 0,
  timer: { kind: "collection_deadline" },
});

const yieldTimes = async (n: number) => {
  for (let k = 0; k < n; k++) await Promise.resolve();
};

interface Scenario {
  readonly aggregates: readonly number[];
  readonly dispatchers: readonly {
    readonly concurrency: number;
    readonly limit: number;
    /** Whether its passes claim again while slots are idle (refillForMs). */
    readonly refill: boolean;
  }[];
  /** Microtask yields inside each execution, cycled. */
  readonly delays: readonly number[];
  /** Effects whose first execution fails (retried after the backoff). */
  readonly failFirst: readonly number[];
  /** Effects whose first completion cannot be recorded (the database is "away"). */
  readonly lostCompletion: readonly number[];
}

const scenario: fc.Arbitrary<Scenario> = fc.record({
  aggregates: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 40 }),
  dispatchers: fc.array(
    fc.record({
      concurrency: fc.integer({ min: 1, max: 5 }),
      limit: fc.integer({ min: 1, max: 12 }),
      refill: fc.boolean(),
    }),
    { minLength: 1, maxLength: 4 },
  ),
  delays: fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 1, maxLength: 16 }),
  failFirst: fc.array(fc.integer({ min: 0, max: 39 }), { maxLength: 6 }),
  lostCompletion: fc.array(fc.integer({ min: 0, max: 39 }), { maxLength: 4 }),
});

async function run(s: Scenario) {
  const susu = new InMemorySusu();
  const effects = s.aggregates.map((a, i) => effectOf(i, a));
  (await susu.store.commit({ ...empty, outbox: effects }))._unsafeUnwrap();
  const aggregateOf = new Map(effects.map((e) => [e.id, (e as { aggregateId: string }).aggregateId]));
  const failFirst = new Set(s.failFirst.map((i) => effectOf(i, 0).id));
  const lose = new Set(s.lostCompletion.map((i) => effectOf(i, 0).id));
  const running = new Map<string, string>();
  const executions = new Map<string, number>();
  const ran: { readonly id: string; readonly aggregate: string }[] = [];
  const overlaps: string[] = [];
  let tick = 0;
  const timers: TimerScheduler = {
    schedule: (timer: ScheduledTimer) => {
      const aggregate = aggregateOf.get(timer.id) ?? "?";
      const other = running.get(aggregate);
      if (other !== undefined) overlaps.push(`${timer.id} started while ${other} ran`);
      running.set(aggregate, timer.id);
      const attempt = (executions.get(timer.id) ?? 0) + 1;
      executions.set(timer.id, attempt);
      const delay = s.delays[tick++ % s.delays.length] ?? 0;
      const work = yieldTimes(delay).then(() => {
        running.delete(aggregate);
        ran.push({ id: timer.id, aggregate });
      });
      if (failFirst.has(timer.id) && attempt === 1)
        return ResultAsync.fromSafePromise(work).andThen(() =>
          errAsync({ type: "schedule_failed" as const, code: "schedule_failed" as const, message: "down" }),
        );
      return ResultAsync.fromSafePromise(work);
    },
  };
  // The outbox as a dispatcher sees it, with completions lost once for the chosen effects.
  const lost = new Set<string>();
  const away = new Set<string>();
  /** Per claim of an effect: whether the claim says it was tried, and whether it was. */
  const claims: { readonly id: string; readonly triedBefore: boolean; readonly started: boolean }[] = [];
  const outbox: OutboxStore = {
    claimDue: (...args) =>
      susu.store.claimDue(...args).map((records) => {
        for (const r of records)
          claims.push({
            id: r.effect.id,
            triedBefore: r.attempts > 0 || r.failedBefore === true,
            started: (executions.get(r.effect.id) ?? 0) > 0,
          });
        return records;
      }),
    // The database still away when the dispatcher records the lost completion as a failure:
    // the claim stays with the worker, its execution started, nothing recorded.
    fail: (id, ...rest) => {
      if (lost.has(id) && !away.has(id)) {
        away.add(id);
        return errAsync(storageError.unavailable("connection lost"));
      }
      return susu.store.fail(id, ...rest);
    },
    release: (...args) => susu.store.release(...args),
    complete: (id, worker) => {
      if (lose.has(id) && !lost.has(id)) {
        lost.add(id);
        return errAsync(storageError.unavailable("connection lost"));
      }
      return susu.store.complete(id, worker);
    },
  };
  const ports = { ...susu.ports, timers };
  const workers = s.dispatchers.map((d, n) => ({
    ...d,
    id: `w${n}`,
    held: new Set<string>(),
    started: new Set<string>(),
  }));
  let seconds = 0;
  for (let round = 0; round < 200; round++) {
    const claimed = await Promise.all(
      workers.map(async (w, n) => {
        await yieldTimes((round + n) % 3);
        const report = await dispatchOutbox(susu.deps, ports, outbox, {
          workerId: w.id,
          concurrency: w.concurrency,
          limit: w.limit,
          retry: RETRY,
          held: w.held,
          started: w.started,
          ...(w.refill ? { refillForMs: 60_000 } : {}),
        });
        return report.isOk() ? report.value.claimed + report.value.released : 1;
      }),
    );
    const pending = (await susu.store.listOutbox({ status: "pending", limit: 100 }))._unsafeUnwrap().items;
    if (pending.length === 0 && workers.every((w) => w.held.size === 0)) break;
    if (claimed.every((c) => c === 0)) {
      susu.clock.advance(1_000);
      seconds += 1;
    }
  }
  return { effects, executions, ran, overlaps, seconds, susu, failFirst, lose, claims };
}

describe("the parallel outbox dispatcher", () => {
  it("runs each aggregate's effects one at a time, in order, each once, across dispatchers", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const { effects, executions, ran, overlaps, seconds, susu, failFirst, lose, claims } = await run(s);
        expect(overlaps).toEqual([]);
        // Tried before exactly when an execution had started: a result that could not be
        // recorded comes back as a retry, a claim given back unstarted as a first try.
        expect(claims.filter((c) => c.triedBefore !== c.started)).toEqual([]);
        // None lost: every effect done; none parked.
        const pending = (await susu.store.listOutbox({ status: "pending", limit: 100 }))._unsafeUnwrap();
        const parked = (await susu.store.listOutbox({ status: "parked", limit: 100 }))._unsafeUnwrap();
        expect(pending.items.map((e) => e.id)).toEqual([]);
        expect(parked.items.map((e) => e.id)).toEqual([]);
        // None twice: one execution each, two for a planned failure or a lost completion.
        for (const e of effects) {
          const expected = 1 + (failFirst.has(e.id) ? 1 : 0) + (lose.has(e.id) ? 1 : 0);
          expect([e.id, executions.get(e.id)]).toEqual([e.id, expected]);
        }
        // In order: per aggregate, the effects that ran without a failure ran in sequence order.
        const clean = ran.filter((r) => !failFirst.has(r.id) && !lose.has(r.id));
        const byAggregate = new Map<string, string[]>();
        for (const r of clean) byAggregate.set(r.aggregate, [...(byAggregate.get(r.aggregate) ?? []), r.id]);
        for (const ids of byAggregate.values()) expect(ids).toEqual([...ids].sort());
        // Stranded claims came back at once, not after the 5-minute lease.
        expect(seconds).toBeLessThan(120);
      }),
      { numRuns: 150 },
    );
  });

  it("with nothing failing, each aggregate's effects run exactly in the order they were decided", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const { effects, ran, overlaps } = await run({ ...s, failFirst: [], lostCompletion: [] });
        expect(overlaps).toEqual([]);
        for (const aggregate of new Set(effects.map((e) => (e as { aggregateId: string }).aggregateId))) {
          const decided = effects
            .filter((e) => (e as { aggregateId: string }).aggregateId === aggregate)
            .map((e) => e.id);
          expect(ran.filter((r) => r.aggregate === aggregate).map((r) => r.id)).toEqual(decided);
        }
      }),
      { numRuns: 150 },
    );
  });

  it("runs different aggregates at once, up to the concurrency", async () => {
    const susu = new InMemorySusu();
    const effects = Array.from({ length: 8 }, (_, i) => effectOf(i, i));
    (await susu.store.commit({ ...empty, outbox: effects }))._unsafeUnwrap();
    let inFlight = 0;
    let most = 0;
    const timers: TimerScheduler = {
      schedule: () => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        return ResultAsync.fromSafePromise(
          yieldTimes(5).then(() => {
            inFlight -= 1;
          }),
        );
      },
    };
    const report = await dispatchOutbox(susu.deps, { ...susu.ports, timers }, susu.store, {
      workerId: "w",
      concurrency: 3,
    });
    expect(report._unsafeUnwrap()).toMatchObject({ claimed: 8, completed: 8 });
    expect(most).toBe(3);
  });

  it("claims again while half its slots are idle: aggregates with many effects each still run side by side", async () => {
    // Four aggregates of five effects each, in decision order aggregate by aggregate: a claim
    // of five takes one aggregate's. Without claiming again, the pass would run that one alone.
    const susu = new InMemorySusu();
    const effects = Array.from({ length: 20 }, (_, i) => effectOf(i, Math.floor(i / 5)));
    (await susu.store.commit({ ...empty, outbox: effects }))._unsafeUnwrap();
    let inFlight = 0;
    let most = 0;
    const order: string[] = [];
    const timers: TimerScheduler = {
      // A provider call lasts a few milliseconds, far longer than a claim of the in-memory store.
      schedule: (timer: ScheduledTimer) => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        order.push(timer.id);
        return ResultAsync.fromSafePromise(
          new Promise<void>((resolve) => setTimeout(resolve, 3)).then(() => {
            inFlight -= 1;
          }),
        );
      },
    };
    const report = await dispatchOutbox(susu.deps, { ...susu.ports, timers }, susu.store, {
      workerId: "w",
      concurrency: 4,
      limit: 5,
      refillForMs: 60_000,
    });
    expect(report._unsafeUnwrap()).toMatchObject({ claimed: 20, completed: 20 });
    // Claims again while at least half the slots are idle: up to three of four run at once.
    expect(most).toBe(3);
    // Each aggregate's effects still ran in the order they were decided.
    for (let a = 0; a < 4; a++) {
      const own = effects.slice(a * 5, a * 5 + 5).map((e) => e.id);
      expect(order.filter((id) => own.includes(id))).toEqual(own);
    }
  });

  it("claims only once when not told to claim again (refillForMs 0, the default)", async () => {
    const susu = new InMemorySusu();
    const effects = Array.from({ length: 20 }, (_, i) => effectOf(i, Math.floor(i / 5)));
    (await susu.store.commit({ ...empty, outbox: effects }))._unsafeUnwrap();
    const report = await dispatchOutbox(susu.deps, susu.ports, susu.store, {
      workerId: "w",
      concurrency: 4,
      limit: 5,
    });
    expect(report._unsafeUnwrap()).toMatchObject({ claimed: 5, completed: 5 });
  });

  it("stops claiming again once the pass has run refillForMs (the next pass takes the rest)", async () => {
    const susu = new InMemorySusu();
    const effects = Array.from({ length: 20 }, (_, i) => effectOf(i, Math.floor(i / 5)));
    (await susu.store.commit({ ...empty, outbox: effects }))._unsafeUnwrap();
    const timers: TimerScheduler = {
      schedule: () => {
        // Every provider call takes a second of the pass's time.
        susu.clock.advanceTo(susu.clock.now() + 1_000);
        return ResultAsync.fromSafePromise(yieldTimes(2));
      },
    };
    const report = await dispatchOutbox(susu.deps, { ...susu.ports, timers }, susu.store, {
      workerId: "w",
      concurrency: 4,
      limit: 5,
      refillForMs: 500,
    });
    // The first claim, and the refill asked for before any second had passed; none after.
    const { claimed, completed } = report._unsafeUnwrap();
    expect(claimed).toBeLessThan(20);
    expect(completed).toBe(claimed);
  });

  it("starts no effect once its claim's lease is about to end (another dispatcher may take the aggregate then)", async () => {
    const susu = new InMemorySusu();
    const effects = [effectOf(0, 1), effectOf(1, 1), effectOf(2, 1)];
    (await susu.store.commit({ ...empty, outbox: effects }))._unsafeUnwrap();
    const started: string[] = [];
    const timers: TimerScheduler = {
      schedule: (timer: ScheduledTimer) => {
        started.push(timer.id);
        // The first effect's provider call takes 4 min 40 s of a 5-minute lease.
        susu.clock.advanceTo(susu.clock.now() + 280_000);
        return ResultAsync.fromSafePromise(Promise.resolve());
      },
    };
    const held = new Set<string>();
    const report = await dispatchOutbox(susu.deps, { ...susu.ports, timers }, susu.store, {
      workerId: "w",
      leaseMs: 300_000,
      held,
    });
    expect(report._unsafeUnwrap()).toMatchObject({ claimed: 3, completed: 1 });
    expect(started).toHaveLength(1);
    // The two not started stay this worker's, given back by its next pass.
    expect([...held].sort()).toEqual([effects[1]?.id, effects[2]?.id].sort());
  });
});
