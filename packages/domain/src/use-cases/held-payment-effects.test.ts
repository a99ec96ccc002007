import { okAsync } from "neverthrow";
import { describe, expect, it } from "vitest";
import { heldPaymentRefs } from "../facts/payment-fact.js";
import type { HeldPaymentEffect } from "../held-payment/held-payment-effect.js";
import type { HeldPaymentInput } from "../held-payment/held-payment-input.js";
import { gatewayError } from "../ports/payment-gateway.js";
import { HOUR_MS } from "../shared/time.js";
import { HELD_T0, heldPaid, runHeld, startHeld } from "../testing/held-payment-mothers.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import { applyTimer } from "./apply-timer.js";
import type { UseCaseDeps } from "./deps.js";
import { executeEffect } from "./execute-effect.js";
import * as useCases from "./index.js";

const LATER = HELD_T0 + 80 * HOUR_MS;

const P = "hp_1";
const at = { aggregate: "held_payment", aggregateId: P } as const;
const T = Date.UTC(2026, 0, 5);

const transfer: HeldPaymentEffect = {
  ...at,
  id: `${P}:transfer:attempt:1`,
  kind: "transfer",
  attempt: 1,
  sellerId: "sam",
  destinationAccountId: "acct_sam",
  sourceChargeId: "ch_1",
  amountMinor: 9_000,
  currency: "AUD",
  transferGroup: `held_${P}`,
};

describe("executeEffect: a held payment's effects", () => {
  it("a checkout session: asked with the payment's references, answered as checkout_session_created", async () => {
    const sim = new InMemorySusu({ start: T });
    const facts = await executeEffect(sim.deps, sim.ports, {
      ...at,
      id: `${P}:checkout_session`,
      kind: "create_checkout_session",
      mode: "payment",
      clientReference: "b1",
      amountMinor: 10_000,
      currency: "AUD",
      description: "Two nights",
      customerEmail: "cy@example.com",
      transferGroup: `held_${P}`,
      expiresAt: T + 24 * HOUR_MS,
      successUrl: "https://app/done",
      metadata: { aggregate: "held_payment", heldPaymentId: P },
    });
    const [fact] = facts._unsafeUnwrap();
    expect(fact).toMatchObject({ kind: "checkout_session_created", refs: { heldPaymentId: P } });
    const session = [...sim.gateway.checkouts.values()][0];
    expect(session).toMatchObject({ references: { heldPaymentId: P }, transferGroup: `held_${P}` });
  });

  it("expiring the checkout: an open session is expired (checkout_expired); one the customer completed has its payment read (checkout_payment_changed); a passing fault is the dispatcher's to retry", async () => {
    const sim = new InMemorySusu({ start: T });
    const open = async () =>
      (
        await sim.gateway.createCheckoutSession({
          idempotencyKey: `k_${sim.gateway.checkouts.size}`,
          amount: { amountMinor: 10_000, currency: "AUD" },
          transferGroup: `held_${P}`,
          expiresAt: T + 2 * HOUR_MS,
          references: heldPaymentRefs(P),
        })
      )._unsafeUnwrap().sessionId;
    const expire = (sessionId: string, id = `${P}:checkout_session:expire`): HeldPaymentEffect => ({
      ...at,
      id,
      kind: "expire_checkout_session",
      sessionId,
    });
    const unpaid = await open();
    const expired = await executeEffect(sim.deps, sim.ports, expire(unpaid));
    expect(expired._unsafeUnwrap()).toEqual([
      { kind: "checkout_expired", refs: heldPaymentRefs(P), sessionId: unpaid },
    ]);
    expect(sim.gateway.checkouts.get(unpaid)?.status).toBe("expired");
    // Run again (a crash before the answer was recorded): the same answer.
    expect((await executeEffect(sim.deps, sim.ports, expire(unpaid)))._unsafeUnwrap()).toEqual(
      expired._unsafeUnwrap(),
    );

    const paidSession = await open();
    sim.gateway.payCheckout(paidSession, "card");
    const paymentIntentId = sim.gateway.checkouts.get(paidSession)?.paymentIntentId;
    expect(paymentIntentId).toBeDefined();
    const read = await executeEffect(
      sim.deps,
      sim.ports,
      expire(paidSession, `${P}_2:checkout_session:expire`),
    );
    expect(read._unsafeUnwrap()).toEqual([
      { kind: "checkout_payment_changed", refs: heldPaymentRefs(P), sessionId: paidSession, paymentIntentId },
    ]);
    expect(sim.gateway.checkouts.get(paidSession)?.status).toBe("complete");

    const another = await open();
    sim.gateway.injectFault(
      "expireCheckoutSession",
      "before",
      gatewayError("gateway_retryable", "rate_limit", "slow down"),
    );
    const failed = await executeEffect(
      sim.deps,
      sim.ports,
      expire(another, `${P}_3:checkout_session:expire`),
    );
    expect(failed._unsafeUnwrapErr()).toMatchObject({ retry: true });
    expect(sim.gateway.checkouts.get(another)?.status).toBe("open");
  });

  it("a transfer: from the charge to the seller's account, keyed by the effect id, refs naming the attempt", async () => {
    const sim = new InMemorySusu();
    sim.gateway.setAccount("acct_sam", true);
    const first = (await executeEffect(sim.deps, sim.ports, transfer))._unsafeUnwrap();
    const again = (await executeEffect(sim.deps, sim.ports, transfer))._unsafeUnwrap();
    expect(again).toEqual(first);
    expect(first).toEqual([
      {
        kind: "transfer_created",
        refs: { heldPaymentId: P, attempt: 1 },
        transferId: sim.gateway.transfers[0]?.transferId,
      },
    ]);
    expect(sim.gateway.transfers).toHaveLength(1);
    expect(sim.gateway.transfers[0]).toMatchObject({
      sourceChargeId: "ch_1",
      destinationAccountId: "acct_sam",
    });
  });

  it("a transfer refused for good is the payment's transfer_failed; a passing fault is the dispatcher's to retry", async () => {
    const sim = new InMemorySusu();
    sim.gateway.setAccount("acct_sam", false);
    expect((await executeEffect(sim.deps, sim.ports, transfer))._unsafeUnwrap()).toEqual([
      {
        kind: "transfer_failed",
        refs: { heldPaymentId: P, attempt: 1 },
        failureCode: "insufficient_capabilities_for_transfer",
        failureMessage: "the account cannot receive transfers",
      },
    ]);
    sim.gateway.injectFault(
      "createTransfer",
      "before",
      gatewayError("gateway_retryable", "rate_limit", "slow down"),
    );
    expect((await executeEffect(sim.deps, sim.ports, transfer))._unsafeUnwrapErr()).toMatchObject({
      code: "rate_limit",
      retry: true,
    });
  });

  it("a reversal names its number; refused, it is transfer_reversal_failed", async () => {
    const sim = new InMemorySusu();
    sim.gateway.setAccount("acct_sam", true);
    const created = (await executeEffect(sim.deps, sim.ports, transfer))._unsafeUnwrap();
    const transferId = created[0]?.kind === "transfer_created" ? created[0].transferId : "";
    const reversal: HeldPaymentEffect = {
      ...at,
      id: `${P}:reversal:1`,
      kind: "reverse_transfer",
      reversal: 1,
      transferId,
      amountMinor: 4_500,
      currency: "AUD",
      reason: "refund",
    };
    expect((await executeEffect(sim.deps, sim.ports, reversal))._unsafeUnwrap()).toEqual([
      { kind: "transfer_reversed", refs: { heldPaymentId: P, reversal: 1 }, transferId, amountMinor: 4_500 },
    ]);
    sim.gateway.injectFault(
      "reverseTransfer",
      "before",
      gatewayError("gateway_definite", "insufficient_funds", "the seller's balance is short"),
    );
    expect(
      (
        await executeEffect(sim.deps, sim.ports, { ...reversal, id: `${P}:reversal:2`, reversal: 2 })
      )._unsafeUnwrap(),
    ).toEqual([
      {
        kind: "transfer_reversal_failed",
        refs: { heldPaymentId: P, reversal: 2 },
        transferId,
        failureCode: "insufficient_funds",
      },
    ]);
  });

  it("a refund names its number and attempt", async () => {
    const flow = new InMemorySusu();
    (await flow.addSeller("sam"))._unsafeUnwrap();
    const made = (
      await useCases.createHeldPayment(flow.deps, {
        requestedBy: "app",
        clientReference: "b1",
        amountMinor: 10_000,
        currency: "AUD",
        sellerId: "sam",
        description: "d",
        customer: { email: "cy@example.com" },
        fee: { kind: "rate", basisPoints: 1_000 },
        successUrl: "https://app/done",
      })
    )._unsafeUnwrap();
    await flow.runUntilQuiet();
    await flow.payCheckout(made.payment.id, "card");
    const paymentIntentId = flow.store.heldPayments()[0]?.paymentIntentId ?? "";
    const facts = await executeEffect(flow.deps, flow.ports, {
      aggregate: "held_payment",
      aggregateId: made.payment.id,
      id: `${made.payment.id}:refund:1:attempt:1`,
      kind: "refund",
      refund: 1,
      attempt: 1,
      paymentIntentId,
      amountMinor: 2_000,
      currency: "AUD",
      reason: "admin",
    });
    expect(facts._unsafeUnwrap()).toMatchObject([
      { kind: "refund_succeeded", refs: { heldPaymentId: made.payment.id, refund: 1, attempt: 1 } },
    ]);
  });

  it("a refund's look-up finds it by the attempt's key: pending or none is refund_not_ended, an end is the refund's fact", async () => {
    const flow = new InMemorySusu();
    (await flow.addSeller("sam"))._unsafeUnwrap();
    const made = (
      await useCases.createHeldPayment(flow.deps, {
        requestedBy: "app",
        clientReference: "b1",
        amountMinor: 10_000,
        currency: "AUD",
        sellerId: "sam",
        description: "d",
        customer: { email: "cy@example.com" },
        fee: { kind: "rate", basisPoints: 1_000 },
        successUrl: "https://app/done",
      })
    )._unsafeUnwrap();
    await flow.runUntilQuiet();
    await flow.payCheckout(made.payment.id, "card");
    const p = made.payment.id;
    const paymentIntentId = flow.store.heldPayments()[0]?.paymentIntentId ?? "";
    const refs = { heldPaymentId: p, refund: 1, attempt: 1 };
    const lookup = (n: number): HeldPaymentEffect => ({
      aggregate: "held_payment",
      aggregateId: p,
      id: `${p}:refund:1:attempt:1:lookup:${n}`,
      kind: "find_refund",
      refund: 1,
      attempt: 1,
      lookup: n,
      refundEffectId: `${p}:refund:1:attempt:1`,
      paymentIntentId,
    });
    expect((await executeEffect(flow.deps, flow.ports, lookup(1)))._unsafeUnwrap()).toEqual([
      { kind: "refund_not_ended", refs, lookup: 1 },
    ]);
    flow.gateway.refundsWait();
    const refund = (
      await flow.gateway.refund({
        idempotencyKey: `${p}:refund:1:attempt:1`,
        paymentIntentId,
        references: refs,
      })
    )._unsafeUnwrap();
    expect((await executeEffect(flow.deps, flow.ports, lookup(2)))._unsafeUnwrap()).toEqual([
      { kind: "refund_not_ended", refs, lookup: 2, refundId: refund.refundId },
    ]);
    flow.gateway.endWaitingRefunds("failed");
    expect((await executeEffect(flow.deps, flow.ports, lookup(3)))._unsafeUnwrap()).toEqual([
      { kind: "refund_failed", refs, refundId: refund.refundId, failureCode: "insufficient_funds" },
    ]);
    flow.gateway.injectFault(
      "findRefund",
      "before",
      gatewayError("gateway_retryable", "rate_limit", "slow down"),
    );
    expect((await executeEffect(flow.deps, flow.ports, lookup(4)))._unsafeUnwrapErr()).toMatchObject({
      code: "rate_limit",
      retry: true,
    });
  });

  it("notices reach the customer by address, the seller as a person, the admins by role", async () => {
    const sim = new InMemorySusu();
    const notice = (id: string, to: Extract<HeldPaymentEffect, { kind: "notify" }>["to"]) =>
      executeEffect(sim.deps, sim.ports, {
        ...at,
        id,
        kind: "notify",
        to,
        template: "refund_started",
        data: { x: 1 },
      });
    await notice("n1", { kind: "customer", email: "cy@example.com" });
    await notice("n2", { kind: "seller", sellerId: "sam" });
    await notice("n3", { kind: "platform_admins" });
    expect(
      sim.notifier.sent.map(({ id, personIds, emails, roles }) => ({ id, personIds, emails, roles })),
    ).toEqual([
      { id: "n1", personIds: [], emails: ["cy@example.com"], roles: undefined },
      { id: "n2", personIds: ["sam"], emails: undefined, roles: undefined },
      { id: "n3", personIds: [], emails: undefined, roles: ["platform_admins"] },
    ]);
    expect(sim.notifier.sent[0]).toMatchObject({ aggregate: "held_payment", aggregateId: P });
  });

  it("a transfer and its reversal carry the effect's creation time to the provider when it is known, and none when not", async () => {
    const sim = new InMemorySusu();
    sim.gateway.setAccount("acct_sam", true);
    const seen: { readonly call: string; readonly effectCreatedAt: number | undefined }[] = [];
    const gateway = new Proxy(sim.gateway, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property);
        if (typeof value !== "function") return value;
        return (input: { readonly effectCreatedAt?: number }) => {
          if (property === "createTransfer" || property === "reverseTransfer")
            seen.push({ call: property, effectCreatedAt: input.effectCreatedAt });
          return value.call(target, input);
        };
      },
    });
    const ports = { ...sim.ports, gateway };
    const created = (await executeEffect(sim.deps, ports, transfer, T - HOUR_MS))._unsafeUnwrap();
    const transferId = created[0]?.kind === "transfer_created" ? created[0].transferId : "";
    const reversal: HeldPaymentEffect = {
      ...at,
      id: `${P}:reversal:1`,
      kind: "reverse_transfer",
      reversal: 1,
      transferId,
      amountMinor: 4_500,
      currency: "AUD",
      reason: "refund",
    };
    await executeEffect(sim.deps, ports, reversal, T);
    await executeEffect(sim.deps, ports, { ...reversal, id: `${P}:reversal:2`, reversal: 2 });
    expect(seen).toEqual([
      { call: "createTransfer", effectCreatedAt: T - HOUR_MS },
      { call: "reverseTransfer", effectCreatedAt: T },
      { call: "reverseTransfer", effectCreatedAt: undefined },
    ]);
  });

  it("tickets and timers name the held payment (no group)", async () => {
    const sim = new InMemorySusu();
    await executeEffect(sim.deps, sim.ports, {
      ...at,
      id: `${P}:ticket:transfer_parked:3`,
      kind: "open_ticket",
      reason: "transfer_parked",
      summary: "parked",
    });
    expect(sim.desk.tickets).toEqual([
      { ...at, id: `${P}:ticket:transfer_parked:3`, reason: "transfer_parked", summary: "parked" },
    ]);
    await executeEffect(sim.deps, sim.ports, {
      ...at,
      id: `${P}:timer:release_due`,
      kind: "schedule_timer",
      at: 5,
      timer: { kind: "release_due" },
    });
    expect(sim.timers.pending()).toEqual([
      { ...at, id: `${P}:timer:release_due`, at: 5, timer: { kind: "release_due" } },
    ]);
  });
});

describe("the outbox and the timer router with held payments", () => {
  it("a checkout session the provider could not open now is retried with the same key, then recorded", async () => {
    const sim = new InMemorySusu();
    (await sim.addSeller("sam"))._unsafeUnwrap();
    sim.gateway.injectFault("createCheckoutSession", "lost_reply");
    const made = (
      await useCases.createHeldPayment(sim.deps, {
        requestedBy: "app",
        clientReference: "b1",
        amountMinor: 10_000,
        currency: "AUD",
        sellerId: "sam",
        description: "d",
        customer: { email: "cy@example.com" },
        fee: { kind: "fixed", amountMinor: 500 },
        successUrl: "https://app/done",
      })
    )._unsafeUnwrap();
    const first = (await sim.dispatch())._unsafeUnwrap();
    expect(first).toMatchObject({ retried: 1 });
    await sim.advance(HOUR_MS);
    expect(sim.gateway.checkouts.size).toBe(1);
    expect(sim.store.heldPayments()[0]?.checkoutSessionId).toBe([...sim.gateway.checkouts.keys()][0]);
    expect(sim.store.outbox("pending").filter((e) => e.id === `${made.payment.id}:checkout_session`)).toEqual(
      [],
    );
  });

  it("applyTimer feeds a held payment's timer to it, and says when it no longer applied", async () => {
    const sim = new InMemorySusu();
    (await sim.addSeller("sam"))._unsafeUnwrap();
    const made = (
      await useCases.createHeldPayment(sim.deps, {
        requestedBy: "app",
        clientReference: "b1",
        amountMinor: 10_000,
        currency: "AUD",
        sellerId: "sam",
        description: "d",
        customer: { email: "cy@example.com" },
        fee: { kind: "fixed", amountMinor: 500 },
        successUrl: "https://app/done",
      })
    )._unsafeUnwrap();
    const fired = {
      aggregate: "held_payment",
      aggregateId: made.payment.id,
      id: "t",
      timer: { kind: "release_due" },
    } as const;
    expect((await applyTimer(sim.deps, fired))._unsafeUnwrap()).toMatchObject({
      aggregate: "held_payment",
      aggregateId: made.payment.id,
      status: "awaiting_payment",
      ignored: { code: "timer_no_longer_due" },
    });
    expect(
      (await applyTimer(sim.deps, { ...fired, timer: { kind: "checkout_expired" } }))._unsafeUnwrap(),
    ).toMatchObject({ status: "expired" });
  });
});

describe("executeEffect: a held payment's transfer the payment no longer asks for", () => {
  /**
   * Attempt 1 answered api_error, written off after a look-up that missed it; attempt 2 asked;
   * then attempt 1's transfer.created came: it is the seller's payment, attempt 2 is written off.
   */
  function writtenOffQueued() {
    const late = runHeld(
      runHeld(startHeld(), [heldPaid, { type: "confirm_fulfilled" }]),
      [
        { type: "timer", timer: { kind: "release_due" } },
        { type: "transfer_failed", attempt: 1, failureCode: "api_error" },
        { type: "admin_release", by: "admin" },
        { type: "transfer_not_found", attempt: 1 },
        { type: "transfer_created", attempt: 1, transferId: "tr_1" },
      ] satisfies HeldPaymentInput[],
      LATER,
    );
    expect(late.state.transfers.map((t) => t.status)).toEqual(["created", "failed"]);
    const queued = late.effects.find(
      (e): e is Extract<HeldPaymentEffect, { kind: "transfer" }> => e.kind === "transfer" && e.attempt === 2,
    );
    if (queued === undefined) throw new Error("attempt 2 was never asked for");
    const sim = new InMemorySusu();
    sim.gateway.setAccount(queued.destinationAccountId, true);
    const withPayment = (state: typeof late.state): UseCaseDeps => ({
      ...sim.deps,
      heldPayments: { ...sim.deps.heldPayments, getHeldPayment: () => okAsync(state) },
    });
    return { late, queued, sim, withPayment };
  }

  it("attempt 2, queued, then written off when attempt 1 landed late and was booked: not sent, completed as a no-op", async () => {
    const { late, queued, sim, withPayment } = writtenOffQueued();
    expect((await executeEffect(withPayment(late.state), sim.ports, queued))._unsafeUnwrap()).toEqual([]);
    expect(sim.gateway.transfers).toHaveLength(0);
    // Still asked (before attempt 1 landed): sent.
    const asking = {
      ...late.state,
      transfers: late.state.transfers.map((t) => ({ ...t, status: "requested" as const })),
    };
    const sent = (await executeEffect(withPayment(asking), sim.ports, queued))._unsafeUnwrap();
    expect(sent.map((f) => f.kind)).toEqual(["transfer_created"]);
    expect(sim.gateway.transfers).toHaveLength(1);
  });

  it("not sent after an earlier try that failed (its outcome unheard): reported as `earlier_try_unheard`, which the payment looks up once", async () => {
    const { late, queued, sim, withPayment } = writtenOffQueued();
    const facts = (
      await executeEffect(withPayment(late.state), sim.ports, queued, undefined, { triedBefore: true })
    )._unsafeUnwrap();
    expect(facts).toEqual([
      {
        kind: "transfer_failed",
        refs: heldPaymentRefs(late.state.id, { attempt: 2 }),
        failureCode: "earlier_try_unheard",
      },
    ]);
    expect(sim.gateway.transfers).toHaveLength(0);
    // The payment hears it as an outcome unknown: one look-up of attempt 2 ...
    const heard = runHeld(
      late,
      [{ type: "transfer_failed", attempt: 2, failureCode: "earlier_try_unheard" }],
      LATER,
    );
    expect(heard.last.map((e) => e.kind)).toEqual(["find_transfer"]);
    // ... after which a further retry of the effect reports nothing again.
    const again = await executeEffect(withPayment(heard.state), sim.ports, queued, undefined, {
      triedBefore: true,
    });
    expect(again._unsafeUnwrap()).toEqual([]);
  });
});
