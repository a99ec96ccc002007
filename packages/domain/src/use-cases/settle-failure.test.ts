import { errAsync, okAsync } from "neverthrow";
import { describe, expect, it } from "vitest";
import { type RetryOrPark, retryOrPark } from "../policy/retry-or-park.js";
import type { RetryPolicy } from "../policy/retry-policy.js";
import type { SupportDeskError, SupportTicket } from "../ports/support-desk.js";
import { type FailureSteps, settleFailure } from "./settle-failure.js";

const policy: RetryPolicy = {
  baseDelayMs: 1_000,
  factor: 2,
  maxDelayMs: 8_000,
  jitter: "none",
  attemptsMax: 3,
};

const decide = (attempts: number, retryable = true): RetryOrPark =>
  retryOrPark(
    {
      itemId: "item_1",
      attempts,
      failure: { code: "down", message: "provider down", retryable },
      ticket: { id: "item_1:parked", reason: "effect_parked", subject: "item item_1" },
    },
    { policy, now: 100_000 },
  );

/** A queue that records what it was asked, in order. */
function recordingSteps(options: { deskDown?: boolean; parkFails?: boolean } = {}) {
  const calls: string[] = [];
  const steps: FailureSteps<string, "write_failed"> = {
    retry: (at, note) => {
      calls.push(`retry@${at}: ${note}`);
      return okAsync("retry-written");
    },
    openTicket: (ticket: SupportTicket) => {
      calls.push(`ticket ${ticket.id}`);
      return options.deskDown
        ? errAsync<void, SupportDeskError>({
            type: "ticket_failed",
            code: "ticket_failed",
            message: "desk down",
          })
        : okAsync(undefined);
    },
    park: (note) => {
      calls.push(`park: ${note}`);
      return options.parkFails ? errAsync("write_failed" as const) : okAsync("parked-written");
    },
  };
  return { calls, steps };
}

describe("settleFailure", () => {
  it("a retry keeps the item due at the decided time", async () => {
    const { calls, steps } = recordingSteps();
    const settled = await settleFailure(decide(0), steps);
    expect(settled._unsafeUnwrap()).toEqual({ outcome: "retried", value: "retry-written" });
    expect(calls).toEqual(["retry@101000: down: provider down"]);
  });

  it("parking opens the ticket first, then parks", async () => {
    const { calls, steps } = recordingSteps();
    const settled = await settleFailure(decide(2), steps);
    expect(settled._unsafeUnwrap()).toEqual({ outcome: "parked", value: "parked-written" });
    expect(calls).toEqual(["ticket item_1:parked", "park: down: provider down"]);
  });

  it("when the ticket cannot be opened, the item is not parked but stays due", async () => {
    const { calls, steps } = recordingSteps({ deskDown: true });
    const settled = await settleFailure(decide(0, false), steps);
    expect(settled._unsafeUnwrap()).toEqual({ outcome: "retried", value: "retry-written" });
    expect(calls).toEqual([
      "ticket item_1:parked",
      "retry@108000: down: provider down (support ticket not opened: desk down)",
    ]);
  });

  it("a failed park write is returned, after the ticket was opened (the next try opens the same ticket)", async () => {
    const { calls, steps } = recordingSteps({ parkFails: true });
    const settled = await settleFailure(decide(5), steps);
    expect(settled._unsafeUnwrapErr()).toBe("write_failed");
    expect(calls).toEqual(["ticket item_1:parked", "park: down: provider down"]);
  });
});
