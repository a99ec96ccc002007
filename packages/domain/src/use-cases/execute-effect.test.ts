import { errAsync } from "neverthrow";
import { describe, expect, it } from "vitest";
import type { NotifyError } from "../ports/notifier.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import { executeEffect } from "./execute-effect.js";

describe("executeEffect: notifications and timers name their aggregate", () => {
  it("a notification to people by id reaches them without a group", async () => {
    const sim = new InMemorySusu();
    const facts = await executeEffect(sim.deps, sim.ports, {
      kind: "notify",
      id: "round_1:notify:payout_sent:x",
      aggregate: "round",
      aggregateId: "round_1",
      to: { kind: "people", personIds: ["ana", "ben"] },
      template: "payout_sent",
      data: { roundId: "round_1" },
    });
    expect(facts._unsafeUnwrap()).toEqual([]);
    expect(sim.notifier.sent).toEqual([
      {
        id: "round_1:notify:payout_sent:x",
        aggregate: "round",
        aggregateId: "round_1",
        personIds: ["ana", "ben"],
        template: "payout_sent",
        data: { roundId: "round_1" },
      },
    ]);
  });

  it("a schedule_timer effect becomes the scheduler's timer, kind aside", async () => {
    const sim = new InMemorySusu();
    await executeEffect(sim.deps, sim.ports, {
      kind: "schedule_timer",
      id: "round_1:timer:payout_due",
      aggregate: "round",
      aggregateId: "round_1",
      at: 5,
      timer: { kind: "payout_due" },
    });
    expect(sim.timers.pending()).toEqual([
      {
        id: "round_1:timer:payout_due",
        aggregate: "round",
        aggregateId: "round_1",
        at: 5,
        timer: { kind: "payout_due" },
      },
    ]);
  });

  it.each([
    ["notify_failed", true],
    ["notify_rejected", false],
  ] as const)("a notifier's %s is retried: %s", async (type, retry) => {
    const sim = new InMemorySusu();
    const error = { type, code: type, message: "the server said no" } as NotifyError;
    const result = await executeEffect(
      sim.deps,
      { ...sim.ports, notifier: { send: () => errAsync(error) } },
      {
        kind: "notify",
        id: "round_1:notify:payout_sent:x",
        aggregate: "round",
        aggregateId: "round_1",
        to: { kind: "people", personIds: ["ana"] },
        template: "payout_sent",
        data: { roundId: "round_1" },
      },
    );
    expect(result._unsafeUnwrapErr()).toEqual({ code: type, message: "the server said no", retry });
  });
});
