import { describe, expect, it } from "vitest";
import { parseRoundTimerJob } from "../../src/pgboss/round-timer-job.js";

describe("round timer jobs", () => {
  it("keep the deadline extension a deadline or grace timer was armed at (a stale one is told apart by it)", () => {
    for (const kind of ["collection_deadline", "grace_end"] as const) {
      const job = { timerId: `r1:timer:${kind}:v3`, roundId: "r1", timer: { kind, extension: 2 } };
      expect(parseRoundTimerJob(job)).toEqual(job);
      expect(parseRoundTimerJob({ ...job, timer: { kind } })).toEqual({ ...job, timer: { kind } });
      expect(parseRoundTimerJob({ ...job, timer: { kind, extension: -1 } })).toBeUndefined();
    }
  });
});
