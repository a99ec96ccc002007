// The refilling outbox pass's bounds (a reviewer's tests): how often it claims, how long it
// refills whatever the domain's clock does, a refill claim that fails, and a group that rejects
// (a bug: a port that throws rather than returning an error), which must not end the pass
// while its other groups still run: the polling loop's next pass would give their claims back
// and run them again, concurrently.
import { errAsync, ResultAsync } from "neverthrow";
import { describe, expect, it } from "vitest";
import type { OutboxEffect } from "../ports/outbox-effect.js";
import { type Changeset, type OutboxStore, storageError } from "../ports/storage.js";
import type { ScheduledTimer, TimerScheduler } from "../ports/timer-scheduler.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import { dispatchOutbox } from "./dispatch-outbox.js";

const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };

const effectOf = (id: string, aggregate: string): OutboxEffect => ({
  kind: "schedule_timer",
  id,
  aggregate: "round",
  aggregateId: aggregate,
  at: 0,
  timer: { kind: "collection_deadline" },
});

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe("the refilling outbox pass", () => {
  it("claims at most once more when nothing else is due (each SQL claim reads every pending row)", async () => {
    // Eight single-effect aggregates, all due, concurrency 8, the scheduler's limit (50) and
    // refill window: the first claim takes all eight and nothing else becomes due. Without
    // refilling the pass claims once (the loop's next pass claims once more and finds nothing).
    const susu = new InMemorySusu();
    const effects = Array.from({ length: 8 }, (_, i) => effectOf(`e${i}`, `agg${i}`));
    (await susu.store.commit({ ...empty, outbox: effects }))._unsafeUnwrap();
    let claims = 0;
    const outbox: OutboxStore = {
      claimDue: (...args) => {
        claims += 1;
        return susu.store.claimDue(...args);
      },
      complete: (id, worker) => susu.store.complete(id, worker),
      fail: (...args) => susu.store.fail(...args),
      release: (...args) => susu.store.release(...args),
    };
    let n = 0;
    const timers: TimerScheduler = {
      // Provider calls of different lengths: the groups end one by one.
      schedule: () => ResultAsync.fromSafePromise(sleep(2 + 3 * n++)),
    };
    const report = await dispatchOutbox(susu.deps, { ...susu.ports, timers }, outbox, {
      workerId: "w",
      concurrency: 8,
      limit: 50,
      refillForMs: 2_000,
    });
    expect(report._unsafeUnwrap()).toMatchObject({ claimed: 8, completed: 8 });
    // The first claim, and one that finds nothing: no claim at every group's end.
    expect(claims).toBe(2);
  });

  it("refilling is bounded in time on the pass clock even when the domain clock does not move", async () => {
    // Two chains over new aggregates: each effect's execution first makes its chain's next
    // effect due, then takes 5 ms of real time, so a group is always running when another
    // ends and every claim finds work. The refill window is 200 ms; the clock never moves.
    const susu = new InMemorySusu();
    (
      await susu.store.commit({ ...empty, outbox: [effectOf("x000", "x0"), effectOf("y000", "y0")] })
    )._unsafeUnwrap();
    let made = 0;
    const timers: TimerScheduler = {
      schedule: (timer: ScheduledTimer) => {
        made += 1;
        const chain = timer.id.slice(0, 1);
        const next = Number(timer.id.slice(1)) + 1;
        const append =
          made < 400
            ? susu.store.commit({
                ...empty,
                outbox: [effectOf(`${chain}${String(next).padStart(3, "0")}`, `${chain}${next}`)],
              })
            : undefined;
        return ResultAsync.fromSafePromise(Promise.resolve(append).then(() => sleep(5)));
      },
    };
    const started = Date.now();
    const report = await dispatchOutbox(susu.deps, { ...susu.ports, timers }, susu.store, {
      workerId: "w",
      concurrency: 2,
      refillForMs: 200,
      passClock: () => performance.now(),
    });
    const tookMs = Date.now() - started;
    expect(report.isOk()).toBe(true);
    // Stops claiming after its window: not the whole chain (400 effects, over a second) in one pass.
    expect(report._unsafeUnwrap().claimed, `the pass took ${tookMs} ms`).toBeLessThan(400);
  }, 20_000);

  it("a refill claim that fails ends the pass: running groups start nothing more, what they hold is given back by the next pass, nothing runs twice", async () => {
    // A: five effects (limit 5 takes them all); B: two. The refill claim (the second) fails.
    const susu = new InMemorySusu();
    const effects = [
      ...Array.from({ length: 5 }, (_, i) => effectOf(`a${i}`, "A")),
      effectOf("b0", "B"),
      effectOf("b1", "B"),
    ];
    (await susu.store.commit({ ...empty, outbox: effects }))._unsafeUnwrap();
    let claims = 0;
    const outbox: OutboxStore = {
      claimDue: (...args) =>
        ++claims === 2 ? errAsync(storageError.unavailable("connection lost")) : susu.store.claimDue(...args),
      complete: (id, worker) => susu.store.complete(id, worker),
      fail: (...args) => susu.store.fail(...args),
      release: (...args) => susu.store.release(...args),
    };
    const runs = new Map<string, number>();
    const timers: TimerScheduler = {
      schedule: (timer: ScheduledTimer) => {
        runs.set(timer.id, (runs.get(timer.id) ?? 0) + 1);
        return ResultAsync.fromSafePromise(sleep(3));
      },
    };
    const ports = { ...susu.ports, timers };
    const held = new Set<string>();
    const options = { workerId: "w", concurrency: 2, limit: 5, held, refillForMs: 60_000 };
    const first = await dispatchOutbox(susu.deps, ports, outbox, options);
    expect(first.isErr()).toBe(true);
    // A's first effect ran (it had started before the failure); the rest wait, held.
    expect([...runs.keys()]).toEqual(["a0"]);
    expect([...held].sort()).toEqual(["a1", "a2", "a3", "a4"]);
    const second = await dispatchOutbox(susu.deps, ports, outbox, options);
    expect(second._unsafeUnwrap()).toMatchObject({ released: 4, claimed: 6, completed: 6 });
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
    expect(held.size).toBe(0);
  });

  it("refuses a refill window that is not a finite number of ms under the lease", () => {
    const susu = new InMemorySusu();
    for (const refillForMs of [Number.NaN, Number.POSITIVE_INFINITY, -1, 300_000])
      expect(() =>
        dispatchOutbox(susu.deps, susu.ports, susu.store, { workerId: "w", leaseMs: 300_000, refillForMs }),
      ).toThrow(RangeError);
  });

  it("a pass that rejects (a port that throws) ends only once its other groups have ended, so the next pass cannot release and rerun what they still run", async () => {
    // Aggregate A's only effect throws (a bug in a port: a rejection, not an err result);
    // aggregate B's three effects each take 20 ms. forEachBounded (the old scheduler) rethrew
    // only after every group had ended; the refilling runner first rejected at once.
    const susu = new InMemorySusu();
    const effects = [effectOf("a0", "A"), effectOf("b0", "B"), effectOf("b1", "B"), effectOf("b2", "B")];
    (await susu.store.commit({ ...empty, outbox: effects }))._unsafeUnwrap();
    const running = new Map<string, string>();
    const overlaps: string[] = [];
    const timers: TimerScheduler = {
      schedule: (timer: ScheduledTimer) => {
        if (timer.id === "a0") throw new Error("bug in a port");
        const other = running.get("B");
        if (other !== undefined) overlaps.push(`${timer.id} started while ${other} ran`);
        running.set("B", timer.id);
        return ResultAsync.fromSafePromise(
          sleep(20)
            .then(() => running.delete("B"))
            .then(() => undefined),
        );
      },
    };
    const ports = { ...susu.ports, timers };
    const held = new Set<string>();
    const pass = () => dispatchOutbox(susu.deps, ports, susu.store, { workerId: "w", concurrency: 2, held });
    const first = await Promise.resolve(pass()).then(
      () => "resolved",
      () => "rejected",
    );
    expect(first).toBe("rejected");
    // Nothing of the failed pass may still be running once it has ended.
    const stillRunning = running.get("B");
    // The polling loop logs "outbox pass crashed" and runs another pass with the same `held`.
    await Promise.resolve(pass()).catch(() => undefined);
    await sleep(100);
    expect({ stillRunning, overlaps }).toEqual({ stillRunning: undefined, overlaps: [] });
  });
});
