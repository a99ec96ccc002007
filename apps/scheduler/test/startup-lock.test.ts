// Schedulers started together take turns at their start-up (queue creation can deadlock in
// pg-boss when two do it at once on a fresh database): the second's work starts only once the
// first's has ended, and a start-up that fails frees the lock for the next.
import { useTestDatabase } from "@susu/adapters/testing";
import { describe, expect, it } from "vitest";
import { withStartupLock } from "../src/jobs/startup-lock.js";

const db = useTestDatabase();

describe("the scheduler start-up lock (PostgreSQL)", () => {
  it("runs start-ups one after the other across connections, and frees the lock when one fails", async () => {
    const events: string[] = [];
    const startUp = (name: string) => async () => {
      events.push(`${name} start`);
      await new Promise((resolve) => setTimeout(resolve, 150));
      events.push(`${name} end`);
      return name;
    };
    const failing = withStartupLock(db.prisma, async () => {
      events.push("c start");
      throw new Error("queue creation failed");
    });
    const results = await Promise.allSettled([
      withStartupLock(db.prisma, startUp("a")),
      withStartupLock(db.prisma, startUp("b")),
      failing,
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected"]);
    // Never two start-ups at once: every start is followed by its own end before the next start.
    const starts = events.filter((e) => e.endsWith("start")).map((e) => e[0]);
    expect(starts.sort()).toEqual(["a", "b", "c"]);
    for (let i = 0; i < events.length; i += 1) {
      const event = events[i] as string;
      if (event.endsWith("start") && event[0] !== "c") expect(events[i + 1]).toBe(`${event[0]} end`);
    }
  });
});
