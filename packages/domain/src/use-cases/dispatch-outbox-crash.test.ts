// A pass whose group rejects (a bug: a port that throws rather than returning an error) must
// not end while its other groups still run: the polling loop's next pass would give their
// claims back and run them again, concurrently.
import { ResultAsync } from "neverthrow";
import { describe, expect, it } from "vitest";
import type { OutboxEffect } from "../ports/outbox-effect.js";
import type { Changeset } from "../ports/storage.js";
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

describe("an outbox pass whose group rejects", () => {
  it("a pass that rejects (a port that throws) ends only once its other groups have ended, so the next pass cannot release and rerun what they still run", async () => {
    // Aggregate A's only effect throws (a bug in a port: a rejection, not an err result);
    // aggregate B's three effects each take 20 ms. forEachBounded (the old scheduler) rethrew
    // only after every group had ended; the refilling runner rejects at once.
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
