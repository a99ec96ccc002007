import type { ResultAsync } from "neverthrow";
import { describe, expect, it, vi } from "vitest";
import { heldPaymentRefs, type PaymentFact } from "../facts/payment-fact.js";
import type { HeldPayment } from "../held-payment/held-payment.js";
import { checkHeldMoney, checkLedgerInvariants, type HeldMoney } from "../ledger/index.js";
import { type GatewayError, gatewayError, type PaymentStatus } from "../ports/payment-gateway.js";
import { HOUR_MS } from "../shared/time.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import type { FactPorts } from "./apply-fact.js";
import type { CreateHeldPaymentCommand } from "./held-payment-use-cases.js";
import * as useCases from "./index.js";

const SELLER = "sam";
const OPERATOR = { operator: "olga" };
const WINDOW = 72 * HOUR_MS;

const command: CreateHeldPaymentCommand = {
  requestedBy: "app_bookings",
  clientReference: "booking_42",
  amountMinor: 100_00,
  currency: "AUD",
  sellerId: SELLER,
  description: "Two nights by the sea",
  customer: { email: "cy@example.com", name: "Cy" },
  fee: { kind: "rate", basisPoints: 1_000 },
  successUrl: "https://app.example/done",
};

interface Flow {
  readonly sim: InMemorySusu;
  readonly id: string;
  readonly payment: () => HeldPayment;
  readonly books: () => HeldMoney;
}

/** A seller, a held payment asked for by the client app, and its checkout page opened. */
async function aHeldPayment(
  options: {
    readonly canReceive?: boolean;
    readonly transformFacts?: (facts: PaymentFact[]) => PaymentFact[];
  } = {},
): Promise<Flow> {
  const sim = new InMemorySusu(
    options.transformFacts !== undefined ? { transformFacts: options.transformFacts } : {},
  );
  (await sim.addSeller(SELLER, { canReceive: options.canReceive ?? true }))._unsafeUnwrap();
  const created = (await useCases.createHeldPayment(sim.deps, command))._unsafeUnwrap();
  expect(created.created).toBe(true);
  await sim.runUntilQuiet();
  const id = created.payment.id;
  const payment = () => {
    const p = sim.store.heldPayments().find((x) => x.id === id);
    if (!p) throw new Error(`no held payment ${id}`);
    return p;
  };
  const books = () => {
    const ledger = sim.ledger.snapshot();
    expect(checkLedgerInvariants(ledger).isOk()).toBe(true);
    return checkHeldMoney(ledger, id, "AUD")._unsafeUnwrap();
  };
  return { sim, id, payment, books };
}

/** A payment paid by card: held on the platform. */
async function aPaidPayment(options: Parameters<typeof aHeldPayment>[0] = {}): Promise<Flow> {
  const flow = await aHeldPayment(options);
  await flow.sim.payCheckout(flow.id, "card");
  expect(flow.payment().status).toBe("held");
  return flow;
}

async function confirm(flow: Flow): Promise<void> {
  (await useCases.confirmFulfilled(flow.sim.deps, flow.id, "app_bookings"))._unsafeUnwrap();
  await flow.sim.runUntilQuiet();
}

const templatesTo = (sim: InMemorySusu, kind: "emails" | "roles" | "personIds") =>
  sim.notifier.sent.filter((n) => (n[kind]?.length ?? 0) > 0).map((n) => n.template);

const ticketReasons = (sim: InMemorySusu) =>
  sim.desk.tickets.filter((t) => t.aggregate === "held_payment").map((t) => t.reason);

describe("a held payment end to end, in memory", () => {
  it("checkout → paid by card → fulfilment confirmed → released 72 h later from the charge, books balanced, hold zero", async () => {
    const flow = await aHeldPayment();
    const { sim } = flow;
    expect(flow.payment().checkoutSessionId).toMatch(/^cs_/);
    expect(flow.payment().checkoutUrl).toContain(flow.payment().checkoutSessionId);
    const checkout = sim.gateway.checkouts.get(flow.payment().checkoutSessionId ?? "");
    expect(checkout?.references).toEqual({ heldPaymentId: flow.id });
    expect(checkout?.transferGroup).toBe(`held_${flow.id}`);

    await sim.payCheckout(flow.id, "card");
    expect(flow.payment().status).toBe("held");
    expect(flow.books()).toMatchObject({ paidInMinor: 100_00, holdMinor: 100_00 });
    // The customer gets a receipt and the seller hears they were paid, held until after the booking.
    const paidNotices = sim.notifier.sent.filter((n) => n.template === "booking_paid");
    expect(paidNotices.map((n) => [n.emails ?? n.personIds, n.data.recipient, n.data.amountMinor])).toEqual([
      [[flow.payment().customer.email], "customer", 100_00],
      [[SELLER], "seller", 100_00],
    ]);
    expect(paidNotices[1]?.data).toMatchObject({ sellerShareMinor: 90_00, feeMinor: 10_00 });
    expect(paidNotices[0]?.data.holdDaysAfterFulfilment).toBe(WINDOW / (24 * HOUR_MS));

    await confirm(flow);
    await sim.advance(WINDOW - HOUR_MS);
    expect(flow.payment().status).toBe("held");
    expect(sim.gateway.transfers).toEqual([]);

    await sim.advance(HOUR_MS);
    const p = flow.payment();
    expect(p.status).toBe("released");
    expect(sim.gateway.transfers).toEqual([
      {
        transferId: p.transfers[0]?.transferId,
        destinationAccountId: `acct_${SELLER}`,
        amount: { amountMinor: 90_00, currency: "AUD" },
        sourceChargeId: p.chargeId,
        transferGroup: `held_${flow.id}`,
        idempotencyKey: `${flow.id}:transfer:attempt:1`,
      },
    ]);
    expect(flow.books()).toMatchObject({
      paidInMinor: 100_00,
      holdMinor: 0,
      sellerPayableMinor: 0,
      sellerMinor: 90_00,
      feesMinor: 10_00,
    });
    expect(templatesTo(sim, "personIds")).toEqual(["booking_paid", "payout_sent"]);
    expect(sim.store.outbox("parked")).toEqual([]);
    // The audit log names the held payment and who acted.
    const actors = sim.store
      .audit()
      .filter((a) => a.aggregate === "held_payment")
      .map((a) => [a.action, a.actor]);
    expect(actors).toContainEqual(["create", "app_bookings"]);
    expect(actors).toContainEqual(["confirm_fulfilled", "app_bookings"]);
    expect(actors).toContainEqual(["timer:release_due", "timer"]);
  });

  it("a delayed method that succeeds: processing, then held when it settles, then released", async () => {
    const flow = await aHeldPayment();
    await flow.sim.payCheckout(flow.id, { delayed: "succeed" });
    expect(flow.payment().status).toBe("payment_processing");
    await flow.sim.advance(3 * 24 * HOUR_MS);
    expect(flow.payment().status).toBe("held");
    expect(flow.payment().chargeId).toMatch(/^ch_/);
    await confirm(flow);
    await flow.sim.advance(WINDOW);
    expect(flow.payment().status).toBe("released");
    expect(flow.books()).toMatchObject({ holdMinor: 0, sellerMinor: 90_00, feesMinor: 10_00 });
  });

  it("a delayed method that fails: payment_failed, the customer told, nothing in the books", async () => {
    const flow = await aHeldPayment();
    await flow.sim.payCheckout(flow.id, { delayed: { fail: "insufficient_funds" } });
    await flow.sim.advance(3 * 24 * HOUR_MS);
    expect(flow.payment()).toMatchObject({ status: "payment_failed", failureCode: "insufficient_funds" });
    const told = flow.sim.notifier.sent.find((n) => n.template === "payment_failed");
    expect(told).toMatchObject({ aggregate: "held_payment", personIds: [], emails: ["cy@example.com"] });
    expect(flow.books().paidInMinor).toBe(0);
  });

  it("the checkout expires unpaid: expired, the customer told; the backstop timer is ignored", async () => {
    const flow = await aHeldPayment();
    await flow.sim.advance(26 * HOUR_MS);
    expect(flow.payment().status).toBe("expired");
    expect(templatesTo(flow.sim, "emails")).toEqual(["checkout_expired"]);
    const backstop = flow.sim.store.audit().find((a) => a.action === "timer:checkout_expired");
    expect(backstop).toMatchObject({ outcome: "ignored" });
  });

  it("the customer paid, the success webhook late past the backstop: Stripe refuses to expire the session, the payment is read and held — never expired, never refunded", async () => {
    const holdBack = (facts: PaymentFact[]): PaymentFact[] =>
      facts.filter((f) => f.kind !== "checkout_payment_changed");
    const flow = await aHeldPayment({ transformFacts: holdBack });
    const { sim } = flow;
    await sim.payCheckout(flow.id, "card");
    expect(flow.payment().status).toBe("awaiting_payment");
    await sim.advance(26 * HOUR_MS);
    expect(flow.payment()).toMatchObject({ status: "held", refunds: [] });
    expect(flow.payment().endedAt).toBeUndefined();
    expect(flow.payment().expiryRequestedAt).toBeDefined();
    expect(
      sim.store
        .audit()
        .filter((a) => a.action === "timer:checkout_expired")
        .map((a) => a.outcome),
    ).toEqual(["applied"]);
    expect([...sim.gateway.refunds.values()]).toEqual([]);
    expect(templatesTo(sim, "emails")).not.toContain("checkout_expired");
    expect(ticketReasons(sim)).toEqual([]);
    expect(flow.books()).toMatchObject({ paidInMinor: 100_00, holdMinor: 100_00, refundedMinor: 0 });
    // The late webhook, when it comes at last, changes nothing.
    const p = flow.payment();
    const paymentIntentId = p.paymentIntentId ?? "";
    (
      await sim.deliver([
        {
          kind: "checkout_payment_changed",
          refs: heldPaymentRefs(p.id),
          sessionId: p.checkoutSessionId ?? "",
          paymentIntentId,
        },
      ])
    )._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(flow.payment()).toMatchObject({ status: "held", version: p.version });
  });

  it("the session's expiry webhook lost: the backstop asks Stripe, which says it expired — only then expired, the customer told", async () => {
    const lose = (facts: PaymentFact[]): PaymentFact[] => facts.filter((f) => f.kind !== "checkout_expired");
    const flow = await aHeldPayment({ transformFacts: lose });
    const { sim } = flow;
    // The session expires at Stripe after 23 h; its webhook never comes.
    await sim.advance(23 * HOUR_MS + 30 * 60_000);
    expect(sim.gateway.checkouts.get(flow.payment().checkoutSessionId ?? "")?.status).toBe("expired");
    expect(flow.payment().status).toBe("awaiting_payment");
    expect(templatesTo(sim, "emails")).toEqual([]);
    // The backstop an hour later asks Stripe, whose answer ends it.
    await sim.advance(HOUR_MS);
    expect(flow.payment().status).toBe("expired");
    expect(sim.gateway.checkouts.get(flow.payment().checkoutSessionId ?? "")?.status).toBe("expired");
    expect(templatesTo(sim, "emails")).toEqual(["checkout_expired"]);
    expect(flow.books().paidInMinor).toBe(0);
  });

  it("unfulfilled: refunded at once, the customer told", async () => {
    const flow = await aPaidPayment();
    (
      await useCases.reportUnfulfilled(flow.sim.deps, flow.id, "the host cancelled", "app_bookings")
    )._unsafeUnwrap();
    await flow.sim.runUntilQuiet();
    expect(flow.payment().status).toBe("refunded");
    expect([...flow.sim.gateway.refunds.values()].map((r) => r.amount.amountMinor)).toEqual([100_00]);
    expect(templatesTo(flow.sim, "emails")).toEqual(["booking_paid", "refund_started"]);
    expect(flow.books()).toMatchObject({ holdMinor: 0, refundedMinor: 100_00, sellerMinor: 0, feesMinor: 0 });
  });

  it("a refund that fails opens a ticket for the admins; an operator's retry finishes it", async () => {
    const flow = await aPaidPayment();
    const { sim } = flow;
    sim.gateway.injectFault(
      "refund",
      "before",
      gatewayError("gateway_definite", "charge_disputed", "the charge is disputed"),
    );
    (await useCases.reportUnfulfilled(sim.deps, flow.id, "no show", "app_bookings"))._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(flow.payment().refunds[0]).toMatchObject({ status: "failed", failureCode: "charge_disputed" });
    expect(ticketReasons(sim)).toEqual(["refund_failed"]);
    expect(templatesTo(sim, "roles")).toEqual(["refund_failed"]);
    expect(sim.notifier.sent.find((n) => n.template === "refund_failed")?.roles).toEqual(["platform_admins"]);

    (await useCases.retryRefund(sim.deps, flow.id, OPERATOR))._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(flow.payment().status).toBe("refunded");
    expect(flow.books()).toMatchObject({ holdMinor: 0, refundedMinor: 100_00 });
  });

  it("an admin hold stops the release; the admin's release lets it go", async () => {
    const flow = await aPaidPayment();
    await confirm(flow);
    (await useCases.adminHold(flow.sim.deps, flow.id, OPERATOR, "customer complaint"))._unsafeUnwrap();
    await flow.sim.advance(WINDOW + HOUR_MS);
    expect(flow.payment().status).toBe("held");
    expect(flow.sim.store.audit().find((a) => a.action === "timer:release_due")).toMatchObject({
      outcome: "ignored",
      detail: expect.stringMatching(/^release_on_hold:/),
    });
    (await useCases.adminRelease(flow.sim.deps, flow.id, OPERATOR))._unsafeUnwrap();
    await flow.sim.runUntilQuiet();
    expect(flow.payment().status).toBe("released");
    expect(flow.sim.store.audit().find((a) => a.action === "admin_hold")?.actor).toBe("operator:olga");
    expect(flow.books()).toMatchObject({ holdMinor: 0, sellerMinor: 90_00 });
  });

  it("a seller restricted at release time: blocked, admins and seller told; the account fixed, the release resumes", async () => {
    const flow = await aPaidPayment();
    const { sim } = flow;
    await confirm(flow);
    (await sim.accountUpdated(SELLER, false))._unsafeUnwrap();
    expect(flow.payment().sellerCanReceive).toBe(false);
    await sim.advance(WINDOW);
    expect(flow.payment()).toMatchObject({ status: "release_blocked", blockKind: "seller_cannot_receive" });
    expect(ticketReasons(sim)).toEqual(["release_blocked"]);
    expect(
      sim.notifier.sent.filter((n) => n.template === "release_blocked").map((n) => n.roles ?? n.personIds),
    ).toEqual([[SELLER], ["platform_admins"]]);
    expect(sim.gateway.transfers).toEqual([]);

    (await sim.accountUpdated(SELLER, true))._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(flow.payment().status).toBe("released");
    expect(flow.books()).toMatchObject({ holdMinor: 0, sellerMinor: 90_00, feesMinor: 10_00 });
  });

  it("a transfer that fails three times is parked with a ticket, no fourth attempt", async () => {
    const flow = await aPaidPayment();
    const { sim } = flow;
    for (let i = 0; i < 3; i++)
      sim.gateway.injectFault(
        "createTransfer",
        "before",
        gatewayError("gateway_definite", "balance_insufficient", "not enough"),
      );
    await confirm(flow);
    await sim.advance(WINDOW + 2 * 24 * HOUR_MS);
    const p = flow.payment();
    expect(p.transfers.map((t) => [t.number, t.status, t.failureCode])).toEqual([
      [1, "failed", "balance_insufficient"],
      [2, "failed", "balance_insufficient"],
      [3, "failed", "balance_insufficient"],
    ]);
    expect(p).toMatchObject({ status: "release_blocked", blockKind: "transfer_parked" });
    expect(ticketReasons(sim)).toEqual(["transfer_parked"]);
    expect(sim.gateway.transfers).toEqual([]);
    // Money stays set aside for the seller, none of it lost.
    expect(flow.books()).toMatchObject({ holdMinor: 0, sellerPayableMinor: 90_00, feesMinor: 10_00 });
    // Once the admin has looked, the release goes again.
    (await useCases.adminRelease(sim.deps, flow.id, OPERATOR))._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(flow.payment().status).toBe("released");
    expect(flow.books()).toMatchObject({ sellerPayableMinor: 0, sellerMinor: 90_00 });
  });

  it("a refund after the release reverses the seller's part first, then refunds", async () => {
    const flow = await aPaidPayment();
    const { sim } = flow;
    await confirm(flow);
    await sim.advance(WINDOW);
    expect(flow.payment().status).toBe("released");
    (await useCases.refundHeldPayment(sim.deps, flow.id, OPERATOR, 50_00))._unsafeUnwrap();
    await sim.runUntilQuiet();
    const transferId = flow.payment().transfers[0]?.transferId;
    expect(sim.gateway.reversals).toEqual([
      {
        reversalId: `trr_${flow.id}:reversal:1`,
        transferId,
        amount: { amountMinor: 45_00, currency: "AUD" },
      },
    ]);
    expect([...sim.gateway.refunds.values()].map((r) => r.amount.amountMinor)).toEqual([50_00]);
    expect(flow.payment().refunds[0]).toMatchObject({ status: "succeeded", reversalNumber: 1 });
    expect(flow.books()).toMatchObject({
      holdMinor: 0,
      refundedMinor: 50_00,
      sellerMinor: 45_00,
      feesMinor: 5_00,
    });
  });

  describe("a dispute inside the window freezes the release", () => {
    const opened = (id: string, paymentIntentId?: string): PaymentFact => ({
      kind: "dispute_opened",
      refs: heldPaymentRefs(id),
      ...(paymentIntentId !== undefined ? { paymentIntentId } : {}),
      disputeId: "dp_1",
      amountMinor: 100_00,
      reason: "fraudulent",
      status: "needs_response",
    });
    const closed = (id: string, outcome: "won" | "lost"): PaymentFact => ({
      kind: "dispute_closed",
      refs: heldPaymentRefs(id),
      disputeId: "dp_1",
      outcome,
      amountMinor: 100_00,
    });

    it("won: the release resumes", async () => {
      const flow = await aPaidPayment();
      const { sim } = flow;
      await confirm(flow);
      (await sim.deliver([opened(flow.id)]))._unsafeUnwrap();
      await sim.advance(WINDOW + HOUR_MS);
      expect(flow.payment().status).toBe("held");
      expect(ticketReasons(sim)).toEqual(["dispute"]);
      expect(sim.store.audit().find((a) => a.action === "timer:release_due")?.detail).toMatch(
        /^release_frozen:/,
      );
      (await sim.deliver([closed(flow.id, "won")]))._unsafeUnwrap();
      await sim.runUntilQuiet();
      expect(flow.payment().status).toBe("released");
      expect(flow.books()).toMatchObject({ holdMinor: 0, sellerMinor: 90_00 });
    });

    it("a dispute that overtakes the checkout's news (a card disputed at once): the payment is read first, so it is held and frozen", async () => {
      // Stripe's events of the payment arrive dispute first: the dispute names the PaymentIntent.
      const disputeFirst = (facts: PaymentFact[]): PaymentFact[] => {
        const paid = facts.find((f) => f.kind === "checkout_payment_changed");
        if (paid?.kind !== "checkout_payment_changed") return facts;
        return [opened(paid.refs.heldPaymentId ?? "", paid.paymentIntentId), ...facts];
      };
      const flow = await aHeldPayment({ transformFacts: disputeFirst });
      const { sim } = flow;
      await sim.payCheckout(flow.id, "card");
      expect(flow.payment()).toMatchObject({ status: "held", disputes: [{ id: "dp_1", status: "open" }] });
      expect(ticketReasons(sim)).toEqual(["dispute"]);
      // The session's own news, after: already heard.
      expect(
        sim.store
          .audit()
          .filter((a) => a.action === "checkout_completed")
          .map((a) => a.outcome),
      ).toEqual(["applied", "ignored"]);
      await confirm(flow);
      await sim.advance(WINDOW + HOUR_MS);
      expect(flow.payment().status).toBe("held");
      expect(sim.gateway.transfers).toEqual([]);
      (await sim.deliver([closed(flow.id, "won")]))._unsafeUnwrap();
      await sim.runUntilQuiet();
      expect(flow.payment().status).toBe("released");
      expect(flow.books()).toMatchObject({ holdMinor: 0, sellerMinor: 90_00 });
    });

    it("a dispute that overtakes the news of a payment older code gave up on (expired): the payment is read first, so the late money is recorded, refunded and the dispute kept", async () => {
      // The session's news is late (its webhooks failed for a while), and the payment was
      // stored expired by the backstop timer of older code, which did not ask Stripe first.
      let late: PaymentFact[] = [];
      const holdBack = (facts: PaymentFact[]): PaymentFact[] => {
        late = [...late, ...facts.filter((f) => f.kind === "checkout_payment_changed")];
        return facts.filter((f) => f.kind !== "checkout_payment_changed");
      };
      const flow = await aHeldPayment({ transformFacts: holdBack });
      const { sim } = flow;
      await sim.payCheckout(flow.id, "card");
      const stored = flow.payment();
      expect(stored.status).toBe("awaiting_payment");
      (
        await sim.store.commit({
          people: [],
          groups: [],
          rounds: [],
          outbox: [],
          audit: [],
          heldPayments: [
            {
              state: { ...stored, status: "expired", endedAt: sim.clock.now() },
              expectedVersion: stored.version,
            },
          ],
        })
      )._unsafeUnwrap();
      await sim.advance(24 * HOUR_MS + HOUR_MS);
      expect(flow.payment().status).toBe("expired");
      expect(sim.store.audit().find((a) => a.action === "timer:checkout_expired")).toMatchObject({
        outcome: "ignored",
      });
      const paymentIntentId = late.find((f) => f.kind === "checkout_payment_changed")?.paymentIntentId;
      expect(paymentIntentId).toBeDefined();
      // The dispute names the PaymentIntent: it proves the money came.
      (await sim.deliver([opened(flow.id, paymentIntentId)]))._unsafeUnwrap();
      await sim.runUntilQuiet();
      expect(flow.payment()).toMatchObject({ disputes: [{ id: "dp_1", status: "open" }] });
      expect(flow.payment().capturedAt).toBeDefined();
      expect(ticketReasons(sim)).toContain("unexpected_money");
      expect(ticketReasons(sim)).toContain("dispute");
    });

    it("a dispute of a payment whose checkout never reported, with no PaymentIntent named, is ignored as before", async () => {
      const flow = await aHeldPayment();
      const outcome = (
        await useCases.applyPaymentFact(flow.sim.deps, flow.sim.factPorts, opened(flow.id), "stripe")
      )._unsafeUnwrap();
      expect(outcome).toMatchObject({ status: "ignored" });
      expect(outcome.detail).toMatch(/no_charge/);
      expect(flow.payment()).toMatchObject({ status: "awaiting_payment", disputes: [] });
    });

    it("lost: the loss is booked and the payment charged back", async () => {
      const flow = await aPaidPayment();
      const { sim } = flow;
      await confirm(flow);
      (await sim.deliver([opened(flow.id)]))._unsafeUnwrap();
      (await sim.deliver([closed(flow.id, "lost")]))._unsafeUnwrap();
      await sim.advance(WINDOW + HOUR_MS);
      expect(flow.payment().status).toBe("charged_back");
      expect(sim.gateway.transfers).toEqual([]);
      expect(flow.books()).toMatchObject({ holdMinor: 0, disputeLostMinor: 100_00, sellerMinor: 0 });
    });
  });

  it("duplicated and reordered facts change nothing", async () => {
    const run = async (transformFacts?: (facts: PaymentFact[]) => PaymentFact[]) => {
      const flow = await aHeldPayment(transformFacts !== undefined ? { transformFacts } : {});
      await flow.sim.payCheckout(flow.id, { delayed: "succeed" });
      await confirm(flow);
      await flow.sim.advance(3 * 24 * HOUR_MS + WINDOW);
      return flow;
    };
    const plain = await run();
    const shuffled = await run((facts) => [...facts].reverse().flatMap((f) => [f, f]));
    expect(shuffled.payment()).toEqual(plain.payment());
    expect(shuffled.payment().status).toBe("released");
    expect(shuffled.sim.ledger.snapshot().transactions.map((t) => t.id)).toEqual(
      plain.sim.ledger.snapshot().transactions.map((t) => t.id),
    );
    expect(shuffled.sim.gateway.transfers).toEqual(plain.sim.gateway.transfers);

    // Everything Stripe said, said again late: nothing moves.
    const p = plain.payment();
    const late: PaymentFact[] = [
      {
        kind: "checkout_payment_changed",
        refs: heldPaymentRefs(p.id),
        sessionId: p.checkoutSessionId ?? "",
        paymentIntentId: p.paymentIntentId ?? "",
      },
      { kind: "checkout_expired", refs: heldPaymentRefs(p.id), sessionId: p.checkoutSessionId ?? "" },
      {
        kind: "transfer_created",
        refs: heldPaymentRefs(p.id, { attempt: 1 }),
        transferId: p.transfers[0]?.transferId ?? "",
      },
    ];
    (await plain.sim.deliver(late))._unsafeUnwrap();
    await plain.sim.runUntilQuiet();
    expect(plain.payment()).toEqual(p);
    expect(plain.books()).toMatchObject({ holdMinor: 0, sellerMinor: 90_00, feesMinor: 10_00 });
  });
});

describe("a checkout's news: the payment loaded to read it is the one the news is applied to", () => {
  /** The customer pays by card; Stripe's news is routed with `reader`'s reads of the payment (undelivered here). */
  async function paidCheckout() {
    const flow = await aHeldPayment();
    const facts = flow.sim.gateway.payCheckout(flow.payment().checkoutSessionId ?? "", "card");
    const [fact] = facts;
    if (fact?.kind !== "checkout_payment_changed") throw new Error("no checkout fact");
    const loads = vi.spyOn(flow.sim.store, "getHeldPayment");
    return { flow, fact, loads };
  }
  const route = (flow: Flow, ports: FactPorts, fact: PaymentFact) =>
    useCases.applyPaymentFact(flow.sim.deps, ports, fact, "stripe:evt_checkout");

  it("loads the payment once: the status read to make the input is the state the input is decided on", async () => {
    const { flow, fact, loads } = await paidCheckout();
    const before = flow.payment();
    const outcome = (await route(flow, flow.sim.factPorts, fact))._unsafeUnwrap();
    expect(outcome).toEqual({
      status: "applied",
      detail: `held payment ${flow.id}: checkout_completed applied`,
    });
    expect(loads).toHaveBeenCalledTimes(1);
    expect(flow.payment()).toMatchObject({ status: "held", version: before.version + 1 });
  });

  it("a payment changed between that load and the write is loaded again and decided again; the other change is kept", async () => {
    const { flow, fact, loads } = await paidCheckout();
    const before = flow.payment();
    // While Stripe is asked for the PaymentIntent, another writer changes the payment.
    const reader = flow.sim.factPorts.reader;
    const racing: FactPorts = {
      reader: Object.assign(Object.create(reader) as typeof reader, {
        getPayment: (id: string): ResultAsync<PaymentStatus, GatewayError> =>
          useCases
            .applyHeldPaymentInput(
              flow.sim.deps,
              flow.id,
              { type: "seller_account_not_ready", reason: "restricted" },
              "stripe:evt_account",
            )
            .mapErr(() => gatewayError("gateway_retryable", "race", "the racing write failed"))
            .andThen(() => reader.getPayment(id)),
      }),
    };
    const outcome = (await route(flow, racing, fact))._unsafeUnwrap();
    expect(outcome.status).toBe("applied");
    // The fact's load, the racing writer's own, and the reload after the lost race.
    expect(loads).toHaveBeenCalledTimes(3);
    expect(flow.payment()).toMatchObject({
      status: "held",
      sellerCanReceive: false,
      version: before.version + 2,
    });
    const audit = flow.sim.store.audit().filter((a) => a.aggregateId === flow.id);
    expect(audit.slice(-2).map((a) => [a.actor, a.action, a.outcome])).toEqual([
      ["stripe:evt_account", "seller_account_not_ready", "applied"],
      ["stripe:evt_checkout", "checkout_completed", "applied"],
    ]);
    await flow.sim.runUntilQuiet();
    expect(flow.books()).toMatchObject({ paidInMinor: 100_00, holdMinor: 100_00 });
  });

  it("an ignore decided on the caller's copy is not trusted (it writes no versioned row): decided again on a fresh load", async () => {
    const flow = await aHeldPayment();
    const stored = flow.payment();
    expect(stored.sellerCanReceive).toBe(true);
    // The caller's copy is out of date: on it the seller already cannot receive (ignored).
    const stale = { ...stored, sellerCanReceive: false };
    const loads = vi.spyOn(flow.sim.store, "getHeldPayment");
    const decision = (
      await useCases.applyHeldPaymentInput(
        flow.sim.deps,
        flow.id,
        { type: "seller_account_not_ready", reason: "restricted" },
        "stripe:evt_account",
        stale,
      )
    )._unsafeUnwrap();
    expect(decision.ignored).toBeUndefined();
    expect(loads).toHaveBeenCalledTimes(1);
    expect(flow.payment()).toMatchObject({ sellerCanReceive: false, version: stored.version + 1 });
  });
});

describe("creating a held payment", () => {
  it("the same request again returns the same payment; the reference with other terms is refused", async () => {
    const flow = await aHeldPayment();
    const again = (await useCases.createHeldPayment(flow.sim.deps, command))._unsafeUnwrap();
    expect(again).toEqual({ payment: flow.payment(), created: false });
    const other = await useCases.createHeldPayment(flow.sim.deps, { ...command, amountMinor: 120_00 });
    expect(other._unsafeUnwrapErr().code).toBe("client_reference_reused");
    // Another caller may use the same reference.
    const theirs = await useCases.createHeldPayment(flow.sim.deps, { ...command, requestedBy: "app_other" });
    expect(theirs._unsafeUnwrap()).toMatchObject({ created: true });
    expect(flow.sim.store.heldPayments()).toHaveLength(2);
  });

  it("the same request twice at once stores one payment and answers the second as a repeat", async () => {
    const sim = new InMemorySusu();
    (await sim.addSeller(SELLER, { canReceive: true }))._unsafeUnwrap();
    // Both read "no payment for this reference" before either stores: the second commit is a duplicate.
    const [first, second] = await Promise.all([
      useCases.createHeldPayment(sim.deps, command),
      useCases.createHeldPayment(sim.deps, command),
    ]);
    const stored = sim.store.heldPayments();
    expect(stored).toHaveLength(1);
    expect(first._unsafeUnwrap()).toEqual({ payment: stored[0], created: true });
    expect(second._unsafeUnwrap()).toEqual({ payment: stored[0], created: false });
  });

  it("the seller must be a person with a connected account; their readiness is read", async () => {
    const sim = new InMemorySusu();
    expect((await useCases.createHeldPayment(sim.deps, command))._unsafeUnwrapErr().code).toBe(
      "seller_not_found",
    );
    (
      await sim.store.commit({
        people: [
          { state: { id: SELLER, displayName: "Sam", createdAt: 0, version: 0 }, expectedVersion: undefined },
        ],
        groups: [],
        rounds: [],
        outbox: [],
        audit: [],
      })
    )._unsafeUnwrap();
    expect((await useCases.createHeldPayment(sim.deps, command))._unsafeUnwrapErr().code).toBe(
      "seller_not_onboarded",
    );
    const restricted = new InMemorySusu();
    (await restricted.addSeller(SELLER, { canReceive: false }))._unsafeUnwrap();
    const made = (await useCases.createHeldPayment(restricted.deps, command))._unsafeUnwrap();
    expect(made.payment).toMatchObject({
      sellerCanReceive: false,
      seller: { id: SELLER, connectedAccountId: `acct_${SELLER}` },
      requestedBy: "app_bookings",
    });
  });

  it("a refused command is an error with a stable code, and a missing payment is held_payment_not_found", async () => {
    const flow = await aHeldPayment();
    expect((await useCases.confirmFulfilled(flow.sim.deps, flow.id, "app"))._unsafeUnwrapErr().code).toBe(
      "payment_not_captured",
    );
    expect((await useCases.getHeldPayment(flow.sim.deps, "hp_nope"))._unsafeUnwrapErr().code).toBe(
      "held_payment_not_found",
    );
  });
});
