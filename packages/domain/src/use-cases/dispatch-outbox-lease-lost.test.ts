// An effect whose claim this dispatcher lost while it ran it (its lease ended mid-run and
// another dispatcher took the effect over): its completion changes nothing, and the pass must
// say so (`lease_lost`), not count it completed — the other dispatcher's run is the one that
// settles it, and counting both would report one effect done twice, or done when it is not.
import { errAsync, ResultAsync } from "neverthrow";
import { describe, expect, it } from "vitest";
import type { OutboxEffect } from "../ports/outbox-effect.js";
import type { Changeset } from "../ports/storage.js";
import type { TimerScheduler } from "../ports/timer-scheduler.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import { dispatchOutbox, type SettledEffect } from "./dispatch-outbox.js";

const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };
const LEASE_MS = 60_000;

const timerEffect = (id: string): OutboxEffect => ({
  kind: "schedule_timer",
  id,
  aggregate: "round",
  aggregateId: `round_${id}`,
  at: 0,
  timer: { kind: "collection_deadline" },
});

describe("an outbox effect whose claim was lost while it ran", () => {
  it("is reported lease_lost, not completed; the dispatcher that took it over completes it", async () => {
    const susu = new InMemorySusu();
    (await susu.store.commit({ ...empty, outbox: [timerEffect("slow")] }))._unsafeUnwrap();
    let takenOver = false;
    const timers: TimerScheduler = {
      // The provider call outlasts the lease: w2 claims the effect before w1 records its result.
      schedule: () =>
        ResultAsync.fromSafePromise(
          (async () => {
            if (takenOver) return;
            susu.clock.advance(LEASE_MS + 1);
            const claimed = (await susu.store.claimDue("w2", susu.clock.now(), LEASE_MS, 10))._unsafeUnwrap();
            expect(claimed.map((r) => r.effect.id)).toEqual(["slow"]);
            takenOver = true;
          })(),
        ),
    };
    const ports = { ...susu.ports, timers };
    const settled: SettledEffect[] = [];
    const first = await dispatchOutbox(susu.deps, ports, susu.store, {
      workerId: "w1",
      leaseMs: LEASE_MS,
      onSettled: (s) => settled.push(s),
    });
    expect(first._unsafeUnwrap()).toMatchObject({ claimed: 1, completed: 0, leaseLost: 1 });
    expect(settled.map((s) => [s.effectId, s.outcome])).toEqual([["slow", "lease_lost"]]);
    // Still w2's: w1's completion did not take effect.
    expect((await susu.store.complete("slow", "w1"))._unsafeUnwrap()).toBe(false);
    expect((await susu.store.complete("slow", "w2"))._unsafeUnwrap()).toBe(true);
    expect((await susu.store.complete("slow", "w2"))._unsafeUnwrap()).toBe(false);
  });

  it("whose run failed is reported lease_lost, not retried: the failure is not recorded against the new holder's claim", async () => {
    const susu = new InMemorySusu();
    (await susu.store.commit({ ...empty, outbox: [timerEffect("flaky")] }))._unsafeUnwrap();
    const timers: TimerScheduler = {
      schedule: () =>
        ResultAsync.fromSafePromise(
          (async () => {
            susu.clock.advance(LEASE_MS + 1);
            (await susu.store.claimDue("w2", susu.clock.now(), LEASE_MS, 10))._unsafeUnwrap();
          })(),
        ).andThen(() =>
          errAsync({
            type: "schedule_failed" as const,
            code: "schedule_failed" as const,
            message: "queue away",
          }),
        ),
    };
    const settled: SettledEffect[] = [];
    const report = await dispatchOutbox(susu.deps, { ...susu.ports, timers }, susu.store, {
      workerId: "w1",
      leaseMs: LEASE_MS,
      onSettled: (s) => settled.push(s),
    });
    expect(report._unsafeUnwrap()).toMatchObject({ claimed: 1, retried: 0, parked: 0, leaseLost: 1 });
    expect(settled.map((s) => [s.effectId, s.outcome, s.code])).toEqual([
      ["flaky", "lease_lost", "schedule_failed"],
    ]);
    // w2's claim untouched: no attempt counted by w1.
    const row = (await susu.store.listOutbox({ status: "pending", limit: 10 }))._unsafeUnwrap().items[0];
    expect(row).toMatchObject({ id: "flaky", attempts: 0 });
    expect((await susu.store.fail("flaky", "w1", "late", undefined))._unsafeUnwrap()).toBe(false);
    expect((await susu.store.fail("flaky", "w2", "queue away", susu.clock.now() + 1))._unsafeUnwrap()).toBe(
      true,
    );
  });

  it("held to the end is reported completed", async () => {
    const susu = new InMemorySusu();
    (await susu.store.commit({ ...empty, outbox: [timerEffect("quick")] }))._unsafeUnwrap();
    const settled: SettledEffect[] = [];
    const report = await dispatchOutbox(susu.deps, susu.ports, susu.store, {
      workerId: "w1",
      leaseMs: LEASE_MS,
      onSettled: (s) => settled.push(s),
    });
    expect(report._unsafeUnwrap()).toMatchObject({ claimed: 1, completed: 1, leaseLost: 0 });
    expect(settled.map((s) => [s.effectId, s.outcome])).toEqual([["quick", "completed"]]);
  });
});
