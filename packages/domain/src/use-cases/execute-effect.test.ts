import { errAsync, okAsync } from "neverthrow";
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

describe("executeEffect after refused runs (ExecuteOptions.refusals)", () => {
  /** The gateway of `sim`, recording the idempotency key each call is asked under. */
  function recordingKeys(sim: InMemorySusu) {
    const keys: { method: string; key: unknown }[] = [];
    const gateway = new Proxy(sim.ports.gateway, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property);
        if (typeof value !== "function") return value;
        return (input: unknown, ...rest: unknown[]) => {
          if (typeof input === "object" && input !== null && "idempotencyKey" in input)
            keys.push({ method: String(property), key: input.idempotencyKey });
          return value.apply(target, [input, ...rest]);
        };
      },
    });
    return { keys, ports: { ...sim.ports, gateway } };
  }

  it("a non-money call of the effect goes under <id>:refused:<n>: Stripe keeps the refusal under the old key", async () => {
    const sim = new InMemorySusu();
    const { keys, ports } = recordingKeys(sim);
    await executeEffect(
      sim.deps,
      ports,
      {
        kind: "set_default_payment_method",
        id: "pm_ana:default:1",
        aggregate: "payment_method",
        aggregateId: "pm_ana",
        customerId: "cus_ana",
        paymentMethodId: "pm_1",
      },
      undefined,
      { refusals: 2 },
    );
    expect(keys).toEqual([{ method: "setDefaultPaymentMethod", key: "pm_ana:default:1:refused:2" }]);
  });

  it("a look-up keeps the key it looks for (another effect's), so a requeued look-up still finds what was made", async () => {
    const sim = new InMemorySusu();
    const { keys, ports } = recordingKeys(sim);
    await executeEffect(
      sim.deps,
      ports,
      {
        kind: "find_transfer",
        id: "hp_1:find_transfer:1",
        aggregate: "held_payment",
        aggregateId: "hp_1",
        attempt: 1,
        transferEffectId: "hp_1:transfer:attempt:1",
        transferGroup: "hp_1",
      },
      undefined,
      { refusals: 1 },
    );
    expect(keys).toEqual([{ method: "findTransfer", key: "hp_1:transfer:attempt:1" }]);
  });
});

describe("executeEffect: set_default_payment_method refused", () => {
  const effect = {
    kind: "set_default_payment_method" as const,
    id: "pm_1:default:1",
    aggregate: "payment_method" as const,
    aggregateId: "pm_1",
    customerId: "cus_ana",
    paymentMethodId: "pm_1",
  };
  const refused = {
    type: "gateway_definite" as const,
    code: "parameter_invalid_string",
    message: "The customer does not have a payment method with the ID pm_1.",
  };
  function refusingWith(sim: InMemorySusu, customerId: string | undefined) {
    return {
      ...sim.ports,
      gateway: Object.assign(Object.create(sim.ports.gateway), {
        setDefaultPaymentMethod: () => errAsync(refused),
        getPaymentMethod: (id: string) =>
          okAsync({
            paymentMethodId: id,
            type: "card" as const,
            ...(customerId !== undefined ? { customerId } : {}),
            createdAt: 0,
          }),
      }),
    };
  }

  it("is done when the card is no longer the customer's (removed meanwhile): nothing to make default", async () => {
    const sim = new InMemorySusu();
    const result = await executeEffect(sim.deps, refusingWith(sim, undefined), effect);
    expect(result._unsafeUnwrap()).toEqual([]);
  });

  it("is retried when the card cannot be read back for a passing fault (not parked)", async () => {
    const sim = new InMemorySusu();
    const ports = {
      ...sim.ports,
      gateway: Object.assign(Object.create(sim.ports.gateway), {
        setDefaultPaymentMethod: () => errAsync(refused),
        getPaymentMethod: () =>
          errAsync({ type: "gateway_retryable" as const, code: "api_error", message: "503 from Stripe" }),
      }),
    };
    const result = await executeEffect(sim.deps, ports, effect);
    expect(result._unsafeUnwrapErr()).toMatchObject({ retry: true });
  });

  it("is parked (a person looks) when Stripe refuses a card the customer still has", async () => {
    const sim = new InMemorySusu();
    const result = await executeEffect(sim.deps, refusingWith(sim, "cus_ana"), effect);
    expect(result._unsafeUnwrapErr()).toMatchObject({ code: "parameter_invalid_string", retry: false });
  });
});

describe("executeEffect: note_ticket", () => {
  it("adds its note to the ticket once (by the effect's id); a ticket never opened is done with", async () => {
    const sim = new InMemorySusu();
    (
      await sim.ports.desk.openTicket({
        id: "hp1:ticket:refund_owed:1",
        aggregate: "held_payment",
        aggregateId: "hp1",
        reason: "refund_owed",
        summary: "100.00 AUD is owed",
      })
    )._unsafeUnwrap();
    const note = {
      kind: "note_ticket",
      id: "hp1:ticket:refund_owed:1:note:dispute:dp",
      aggregate: "held_payment",
      aggregateId: "hp1",
      ticketId: "hp1:ticket:refund_owed:1",
      note: "60.00 AUD is left owed to the customer now",
    } as const;
    expect((await executeEffect(sim.deps, sim.ports, note))._unsafeUnwrap()).toEqual([]);
    expect((await executeEffect(sim.deps, sim.ports, note))._unsafeUnwrap()).toEqual([]);
    expect(sim.desk.notes.get("hp1:ticket:refund_owed:1")).toMatchObject([
      {
        noteId: "hp1:ticket:refund_owed:1:note:dispute:dp",
        summary: "60.00 AUD is left owed to the customer now",
      },
    ]);
    const elsewhere = { ...note, id: "hp2:n", aggregateId: "hp2", ticketId: "hp2:ticket:refund_owed:1" };
    expect((await executeEffect(sim.deps, sim.ports, elsewhere))._unsafeUnwrap()).toEqual([]);
  });
});
