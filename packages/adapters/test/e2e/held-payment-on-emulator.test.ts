// A held-funds payment on the real adapters — PostgreSQL (PrismaStore, PrismaLedgerStore),
// the Stripe gateway through the official SDK, the emulator — driven as production drives
// it: the outbox dispatcher runs the effects against the emulator, the timers fire when
// due, and the events the emulator emits go through the webhook processor. The domain's
// clock and the emulator's move together, so Stripe's own deadlines (the session's
// `expires_at`) and susu's (the dispute window) agree.
import {
  CHECKOUT_EXPIRY_RECHECK_MS,
  DEFAULT_HELD_PAYMENT_POLICY,
  type EffectPorts,
  type HeldPayment,
  HOUR_MS,
  heldAccounts,
  type LedgerAccountId,
  type Person,
  type UseCaseDeps,
  useCaseDepsOn,
  useCases,
} from "@susu/domain";
import {
  InMemoryTimerScheduler,
  ManualClock,
  RecordingNotifier,
  RecordingSupportDesk,
  SequentialIds,
} from "@susu/domain/testing";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PrismaLedgerStore, PrismaStore } from "../../src/prisma/index.js";
import { processWebhookEvent, type WebhookContext } from "../../src/webhooks/index.js";
import { type StripeHarness, startStripeHarness } from "../stripe/emulator-harness.js";
import { useTestDatabase } from "../support/index.js";

const db = useTestDatabase();
const START = Date.UTC(2026, 5, 1);
const WINDOW = 72 * HOUR_MS;

describe("a held payment on PostgreSQL and the emulator", () => {
  let harness: StripeHarness;
  let store: PrismaStore;
  let ledger: PrismaLedgerStore;
  let deps: UseCaseDeps;
  let ports: EffectPorts;
  let ctx: WebhookContext;
  const clock = new ManualClock(START);
  const timers = new InMemoryTimerScheduler();
  const desk = new RecordingSupportDesk();
  const notifier = new RecordingNotifier();
  /** Every webhook outcome, in order: `processed: …` or `ignored: …`. */
  const outcomes: string[] = [];
  /** When set, each batch of events is delivered newest first, every event twice (Stripe promises neither order nor once). */
  let shuffled = false;
  /** Events of these types are held back (Stripe's webhook late), kept in `late` until delivered by hand. */
  let lateTypes: ReadonlySet<string> = new Set();
  const late: Stripe.Event[] = [];

  beforeAll(async () => {
    // AUD pages offer cards and BECS, as a Dashboard with both turned on does.
    harness = await startStripeHarness({
      startTime: START / 1000,
      dynamicPaymentMethodTypes: { aud: ["card", "au_becs_debit"] },
    });
    store = new PrismaStore(db.prisma, { clock });
    ledger = new PrismaLedgerStore(db.prisma, { clock });
    deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    ports = { gateway: harness.gateway, notifier, desk, timers, ledger };
    ctx = { deps, gateway: harness.gateway };
    await harness.events.skipExisting();
  });
  afterAll(async () => {
    await harness?.emulator.stop();
  });

  /** A seller: a person whose connected account at the emulator is onboarded. */
  async function aSeller(id: string): Promise<string> {
    const account = await harness.driver.connectedAccount({ canReceive: true });
    const person: Person = {
      id,
      displayName: id,
      payout: { connectedAccountId: account, payoutsEnabled: true },
      createdAt: clock.now(),
      version: 0,
    };
    (
      await store.commit({
        people: [{ state: person, expectedVersion: undefined }],
        groups: [],
        rounds: [],
        outbox: [],
        audit: [],
      })
    )._unsafeUnwrap();
    return account;
  }

  /** Both clocks move: susu's and Stripe's (which runs what fell due: expiries, dispute deadlines). */
  async function advance(ms: number): Promise<void> {
    clock.advance(ms);
    await harness.emulator.control.advanceClock(ms / 1000);
  }

  async function deliver(events: readonly Stripe.Event[]): Promise<void> {
    for (const event of events) {
      const outcome = await processWebhookEvent(event, ctx);
      if (outcome.isErr()) throw new Error(`${event.type} ${event.id}: ${outcome.error.message}`);
      const o = outcome.value;
      outcomes.push(
        `${event.type} ${o.status === "processed" ? `processed: ${o.outcome}` : `ignored: ${o.reason}`}`,
      );
    }
  }

  /** The dispatcher, the due timers and the platform's webhooks, until nothing is left to do now. */
  async function settle(): Promise<void> {
    for (let pass = 0; pass < 30; pass++) {
      const report = (
        await useCases.dispatchOutbox(deps, ports, store, { workerId: "dispatcher" })
      )._unsafeUnwrap();
      expect(report.parked).toBe(0);
      const due = timers.takeDue(clock.now());
      for (const t of due) (await useCases.applyTimer(deps, t))._unsafeUnwrap();
      const all = await harness.events.next();
      late.push(...all.filter((e) => lateTypes.has(e.type)));
      const events = all.filter((e) => !lateTypes.has(e.type));
      await deliver(shuffled ? [...events].reverse().flatMap((e) => [e, e]) : events);
      if (report.claimed === 0 && due.length === 0 && events.length === 0) return;
    }
    throw new Error("the held payment did not settle");
  }

  /** The newest account.updated of a connected account, through the processor (Connect events belong to the account). */
  async function deliverAccountUpdate(accountId: string): Promise<void> {
    const page = await harness.stripe.events.list(
      { type: "account.updated", limit: 1 },
      { stripeAccount: accountId },
    );
    const event = page.data[0];
    if (!event) throw new Error(`no account.updated for ${accountId}`);
    await deliver([event]);
  }

  async function payment(id: string): Promise<HeldPayment> {
    const p = (await store.getHeldPayment(id))._unsafeUnwrap();
    if (!p) throw new Error(`no held payment ${id}`);
    return p;
  }

  const balance = async (account: LedgerAccountId) =>
    (await ledger.balance(account, "AUD"))._unsafeUnwrap().amountMinor;

  /** The books agree with their postings, and the payment's hold is empty. */
  async function booksBalanced(id: string): Promise<void> {
    expect((await ledger.checkLedger())._unsafeUnwrap().agrees).toBe(true);
    expect(await balance(heldAccounts.hold(id))).toBe(0);
  }

  /** Everything of an account's balance, available and pending, in AUD. */
  async function stripeBalance(accountId?: string): Promise<number> {
    const b = await harness.stripe.balance.retrieve(
      {},
      accountId !== undefined ? { stripeAccount: accountId } : {},
    );
    const sum = (list: readonly { amount: number; currency: string }[]) =>
      list.filter((x) => x.currency === "aud").reduce((n, x) => n + x.amount, 0);
    return sum(b.available) + sum(b.pending);
  }

  let seq = 0;
  /** The payment of the first scenario, refunded by the second. */
  let firstPaymentId = "";
  /** A booking of A$100.00 with a 10% fee, created, and its Checkout Session made by the outbox. */
  async function aCheckout(sellerId: string): Promise<HeldPayment> {
    seq += 1;
    const { payment: created } = (
      await useCases.createHeldPayment(deps, {
        requestedBy: "app_bookings",
        clientReference: `booking_${seq}`,
        amountMinor: 100_00,
        currency: "AUD",
        sellerId,
        description: `Two nights, booking ${seq}`,
        customer: { email: "cy@example.com", name: "Cy" },
        fee: { kind: "rate", basisPoints: 1_000 },
        successUrl: "https://app.example/done",
      })
    )._unsafeUnwrap();
    await settle();
    return payment(created.id);
  }

  /** The customer pays the session's page, and the webhooks say so. */
  async function payAndHold(id: string, paymentMethod = "pm_card_visa"): Promise<HeldPayment> {
    const p = await payment(id);
    await harness.emulator.control.completeCheckoutSession(p.checkoutSessionId ?? "", { paymentMethod });
    await settle();
    return payment(id);
  }

  /** A seller's payment, paid by card, held, and confirmed fulfilled by the app. */
  async function aFulfilledPayment(sellerId: string): Promise<{ account: string; held: HeldPayment }> {
    const account = await aSeller(sellerId);
    const opened = await aCheckout(sellerId);
    const held = await payAndHold(opened.id);
    (await useCases.confirmFulfilled(deps, held.id, "app_bookings"))._unsafeUnwrap();
    await settle();
    return { account, held };
  }

  /** The seller's A$90.00 reached their account in one transfer from the payment's charge, and the books balance. */
  async function sellerPaidFromCharge(held: HeldPayment, account: string): Promise<void> {
    const transfers = (await harness.stripe.transfers.list({ transfer_group: held.transferGroup })).data;
    expect(transfers.map((t) => [t.amount, t.destination, t.source_transaction])).toEqual([
      [90_00, account, held.chargeId],
    ]);
    await booksBalanced(held.id);
  }

  it("created, paid by card, held, released after the window from its charge: the transfer lands, the platform keeps its fee", async () => {
    const account = await aSeller("sam");
    const platformBefore = await stripeBalance();
    const opened = await aCheckout("sam");
    expect(opened.status).toBe("awaiting_payment");
    expect(opened.checkoutSessionId).toMatch(/^cs_/);
    expect(opened.checkoutUrl).toMatch(/^https?:\/\//);

    const session = await harness.stripe.checkout.sessions.retrieve(opened.checkoutSessionId ?? "");
    expect(session).toMatchObject({
      mode: "payment",
      amount_total: 100_00,
      currency: "aud",
      status: "open",
      customer_email: "cy@example.com",
      metadata: { held_payment_id: opened.id },
    });
    expect(session.expires_at * 1000).toBe(opened.checkoutExpiresAt);
    const [line] = (await harness.stripe.checkout.sessions.listLineItems(session.id)).data;
    expect(line).toMatchObject({ quantity: 1, amount_total: 100_00 });

    const held = await payAndHold(opened.id);
    firstPaymentId = held.id;
    expect(held.status).toBe("held");
    // Judged by the PaymentIntent: the session's payment carries the transfer group and the references.
    const pi = await harness.stripe.paymentIntents.retrieve(held.paymentIntentId ?? "");
    expect(pi).toMatchObject({
      status: "succeeded",
      amount: 100_00,
      transfer_group: held.transferGroup,
      metadata: { held_payment_id: held.id },
      latest_charge: held.chargeId,
    });
    expect(outcomes.some((o) => o.startsWith("checkout.session.completed processed"))).toBe(true);
    // The whole amount is in the hold until the release.
    expect(await balance(heldAccounts.hold(held.id))).toBe(100_00);

    (await useCases.confirmFulfilled(deps, held.id, "app_bookings"))._unsafeUnwrap();
    await settle();
    await advance(WINDOW - HOUR_MS);
    await settle();
    expect((await payment(held.id)).status).toBe("held");

    await advance(HOUR_MS + 1_000);
    await settle();
    const released = await payment(held.id);
    expect(released.status).toBe("released");
    const transfers = (await harness.stripe.transfers.list({ transfer_group: held.transferGroup })).data;
    expect(transfers).toHaveLength(1);
    expect(transfers[0]).toMatchObject({
      id: released.transfers[0]?.transferId,
      amount: 90_00,
      currency: "aud",
      destination: account,
      source_transaction: held.chargeId,
      metadata: { held_payment_id: held.id, attempt: "1" },
    });
    // The platform kept the fee; the seller's account holds its share (no Stripe fees here).
    expect((await stripeBalance()) - platformBefore).toBe(10_00);
    expect(await stripeBalance(account)).toBe(90_00);

    await booksBalanced(held.id);
    expect(await balance(heldAccounts.seller(held.id))).toBe(90_00);
    expect(await balance(heldAccounts.fees(held.id))).toBe(10_00);
    expect(await balance(heldAccounts.paidIn(held.id))).toBe(-100_00);
    expect(notifier.sent.filter((n) => n.template === "payout_sent")).toHaveLength(1);
  });

  it("refunded in part after the release: the seller's transfer is reversed in proportion, then the customer refunded", async () => {
    const id = firstPaymentId;
    const before = await payment(id);
    expect(before.status).toBe("released");
    const transferId = before.transfers[0]?.transferId ?? "";
    const account = before.seller.connectedAccountId;

    (await useCases.refundHeldPayment(deps, id, { operator: "olga" }, 50_00))._unsafeUnwrap();
    await settle();

    const reversals = (await harness.stripe.transfers.listReversals(transferId)).data;
    expect(reversals.map((r) => r.amount)).toEqual([45_00]);
    expect(reversals[0]?.metadata).toMatchObject({ held_payment_id: id, reversal_number: "1" });
    const refunds = (await harness.stripe.refunds.list({ payment_intent: before.paymentIntentId ?? "" }))
      .data;
    expect(refunds.map((r) => [r.amount, r.status])).toEqual([[50_00, "succeeded"]]);
    expect(refunds[0]?.metadata).toMatchObject({ held_payment_id: id, refund_number: "1" });
    expect(await stripeBalance(account)).toBe(45_00);

    const after = await payment(id);
    expect(after.reversals).toEqual([
      expect.objectContaining({ number: 1, amountMinor: 45_00, reason: "refund", status: "reversed" }),
    ]);
    expect(after.refunds).toEqual([
      expect.objectContaining({
        number: 1,
        amountMinor: 50_00,
        sellerPartMinor: 45_00,
        feePartMinor: 5_00,
        status: "succeeded",
        refundId: refunds[0]?.id,
      }),
    ]);
    await booksBalanced(id);
    expect(await balance(heldAccounts.seller(id))).toBe(45_00);
    expect(await balance(heldAccounts.fees(id))).toBe(5_00);
    expect(await balance(heldAccounts.refunds(id))).toBe(50_00);
  });

  it("the seller restricted when the release is due: blocked with a ticket, resumed when Stripe reports the account fixed", async () => {
    const account = await aSeller("rita");
    const opened = await aCheckout("rita");
    const held = await payAndHold(opened.id);
    expect(held.status).toBe("held");
    (await useCases.confirmFulfilled(deps, held.id, "app_bookings"))._unsafeUnwrap();
    await settle();

    // Stripe disables the seller's transfers inside the window; its account.updated reaches susu.
    await harness.emulator.control.disableTransfers(account);
    await deliverAccountUpdate(account);
    await advance(WINDOW + 1_000);
    await settle();
    const blocked = await payment(held.id);
    expect(blocked).toMatchObject({ status: "release_blocked", blockKind: "seller_cannot_receive" });
    expect(desk.tickets.some((t) => t.reason === "release_blocked" && t.summary.includes(held.id))).toBe(
      true,
    );
    expect((await harness.stripe.transfers.list({ transfer_group: held.transferGroup })).data).toEqual([]);

    // The seller fixes their account at Stripe: account.updated resumes the release.
    await harness.emulator.control.completeAccountOnboarding(account);
    await deliverAccountUpdate(account);
    await settle();
    const released = await payment(held.id);
    expect(released.status).toBe("released");
    await sellerPaidFromCharge(held, account);
  });

  it("the transfer Stripe refuses three times: retried with backoff, parked with a ticket and admins told; an admin's release pays once", async () => {
    const { account, held } = await aFulfilledPayment("tess");
    // Stripe refuses the next three transfers outright (nothing made), with a code worth retrying.
    await harness.emulator.control.injectFault({
      route: "POST /v1/transfers",
      kind: "error",
      status: 400,
      code: "balance_insufficient",
      count: 3,
    });
    await advance(WINDOW + 1_000);
    await settle();
    expect((await payment(held.id)).transfers.map((t) => t.status)).toEqual(["failed"]);
    // The second attempt waits out its backoff (an hour or more, the policy's), then the third.
    await advance(30 * 60_000);
    await settle();
    expect((await payment(held.id)).transfers).toHaveLength(1);
    for (let waited = 0; (await payment(held.id)).transfers.length < 3 && waited < 12; waited++) {
      await advance(HOUR_MS);
      await settle();
    }
    const parked = await payment(held.id);
    expect(parked).toMatchObject({ status: "release_blocked", blockKind: "transfer_parked" });
    expect(parked.transfers.map((t) => [t.number, t.status, t.failureCode])).toEqual([
      [1, "failed", "balance_insufficient"],
      [2, "failed", "balance_insufficient"],
      [3, "failed", "balance_insufficient"],
    ]);
    // Each attempt's error is on the payment, as Stripe said it.
    expect(parked.transfers.every((t) => t.failureMessage?.includes("Injected failure"))).toBe(true);
    const times = parked.transfers.map((t) => t.requestedAt);
    expect((times[1] ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(HOUR_MS);
    expect((times[2] ?? 0) - (times[1] ?? 0)).toBeGreaterThanOrEqual(HOUR_MS);
    expect(desk.tickets.filter((t) => t.aggregateId === held.id).map((t) => t.reason)).toEqual([
      "transfer_parked",
    ]);
    expect(
      notifier.sent
        .filter((n) => n.aggregateId === held.id && n.template === "release_blocked")
        .map((n) => n.roles ?? n.personIds),
    ).toEqual(expect.arrayContaining([["platform_admins"]]));
    expect((await harness.stripe.transfers.list({ transfer_group: held.transferGroup })).data).toEqual([]);
    // Nothing more happens on its own.
    await advance(24 * HOUR_MS);
    await settle();
    expect((await payment(held.id)).transfers).toHaveLength(3);

    (await useCases.adminRelease(deps, held.id, { operator: "olga" }))._unsafeUnwrap();
    await settle();
    const released = await payment(held.id);
    expect(released.status).toBe("released");
    expect(released.transfers.map((t) => t.status)).toEqual(["failed", "failed", "failed", "created"]);
    await sellerPaidFromCharge(held, account);
  });

  it("the transfer lands at Stripe but its answer is lost: blocked for a person, whose release finds it and pays the seller once", async () => {
    const { account, held } = await aFulfilledPayment("lenny");
    // Stripe makes the transfer, then the answer is an error susu cannot read as "nothing
    // happened"; its transfer.created webhook is late.
    lateTypes = new Set(["transfer.created"]);
    await harness.emulator.control.injectFault({
      route: "POST /v1/transfers",
      kind: "error",
      phase: "after",
      status: 400,
      code: "processing_error",
    });
    await advance(WINDOW + 1_000);
    await settle();
    const blocked = await payment(held.id);
    expect(blocked).toMatchObject({ status: "release_blocked", blockKind: "transfer_outcome_unknown" });
    expect(blocked.transfers.map((t) => [t.number, t.status])).toEqual([[1, "unknown"]]);
    expect((await harness.stripe.transfers.list({ transfer_group: held.transferGroup })).data).toHaveLength(
      1,
    );

    // The admin releases: the earlier attempt is looked up at Stripe and adopted, no second transfer.
    (await useCases.adminRelease(deps, held.id, { operator: "olga" }))._unsafeUnwrap();
    await settle();
    const released = await payment(held.id);
    expect(released.status).toBe("released");
    expect(released.transfers.map((t) => [t.number, t.status])).toEqual([[1, "created"]]);
    // The late webhook changes nothing.
    lateTypes = new Set();
    const before = outcomes.length;
    await deliver(late.splice(0));
    expect(outcomes.slice(before)).toEqual([
      expect.stringMatching(/^transfer\.created ignored: .*transfer_already_created/),
    ]);
    await sellerPaidFromCharge(held, account);
    // Booked once: the seller's A$90.00, nothing left set aside.
    expect(Math.abs(await balance(heldAccounts.seller(held.id)))).toBe(90_00);
    expect(await balance(heldAccounts.sellerPayable(held.id))).toBe(0);
  });

  it("the transfer's answer is an error of unknown outcome and Stripe made nothing: the admin's release looks, then pays once", async () => {
    const { account, held } = await aFulfilledPayment("lev");
    await harness.emulator.control.injectFault({
      route: "POST /v1/transfers",
      kind: "error",
      status: 400,
      code: "processing_error",
    });
    await advance(WINDOW + 1_000);
    await settle();
    expect((await payment(held.id)).transfers.map((t) => t.status)).toEqual(["unknown"]);
    expect((await harness.stripe.transfers.list({ transfer_group: held.transferGroup })).data).toEqual([]);
    (await useCases.adminRelease(deps, held.id, { operator: "olga" }))._unsafeUnwrap();
    await settle();
    const released = await payment(held.id);
    expect(released.status).toBe("released");
    expect(released.transfers.map((t) => [t.number, t.status])).toEqual([
      [1, "failed"],
      [2, "created"],
    ]);
    await sellerPaidFromCharge(held, account);
  });

  it("disputed inside the window: the release freezes with a ticket and the evidence date; won, it resumes", async () => {
    const { account, held } = await aFulfilledPayment("dee");
    await advance(HOUR_MS);

    const dispute = await harness.emulator.control.forceDispute(held.chargeId ?? "", {
      reason: "product_not_received",
    });
    await settle();
    const frozen = await payment(held.id);
    expect(frozen.disputes).toEqual([
      expect.objectContaining({
        id: dispute.id,
        status: "open",
        evidenceDueBy: (dispute.evidence_details?.due_by ?? 0) * 1000,
      }),
    ]);
    expect(desk.tickets.some((t) => t.reason === "dispute" && t.summary.includes(dispute.id))).toBe(true);

    // The window ends while the dispute is open: the release waits.
    await advance(WINDOW);
    await settle();
    expect((await payment(held.id)).status).toBe("held");
    expect((await harness.stripe.transfers.list({ transfer_group: held.transferGroup })).data).toEqual([]);

    await harness.emulator.control.resolveDispute(dispute.id, "won");
    await settle();
    const released = await payment(held.id);
    expect(released.status).toBe("released");
    expect(released.disputes[0]).toMatchObject({ id: dispute.id, status: "won" });
    await sellerPaidFromCharge(held, account);
  });

  it("restricted at Stripe but not yet reported when the release is due: Stripe refuses the transfer, the release parks with a ticket, resumes when reported fixed", async () => {
    const { account, held } = await aFulfilledPayment("ray");
    // Stripe disables transfers; its account.updated has not reached susu yet.
    await harness.emulator.control.disableTransfers(account);
    await advance(WINDOW + 1_000);
    await settle();
    const blocked = await payment(held.id);
    expect(blocked.status).toBe("release_blocked");
    expect(blocked.transfers.map((t) => [t.status, t.failureCode])).toEqual([
      ["failed", "insufficient_capabilities_for_transfer"],
    ]);
    expect(desk.tickets.filter((t) => t.aggregateId === held.id).map((t) => t.reason)).toEqual([
      "transfer_parked",
    ]);

    await harness.emulator.control.completeAccountOnboarding(account);
    await deliverAccountUpdate(account);
    await settle();
    const released = await payment(held.id);
    expect(released.status).toBe("released");
    expect(released.transfers.map((t) => t.status)).toEqual(["failed", "created"]);
    const transfers = (await harness.stripe.transfers.list({ transfer_group: held.transferGroup })).data;
    expect(transfers.map((t) => [t.amount, t.destination])).toEqual([[90_00, account]]);
    await booksBalanced(held.id);
  });

  it("paid with Stripe's test card that disputes at once: the dispute is on the payment and the release waits for it", async () => {
    const account = await aSeller("pat");
    const opened = await aCheckout("pat");
    const held = await payAndHold(opened.id, "pm_card_createDispute");
    expect(held.status).toBe("held");
    expect(held.disputes.map((d) => [d.status, d.reason])).toEqual([["open", "fraudulent"]]);
    (await useCases.confirmFulfilled(deps, held.id, "app_bookings"))._unsafeUnwrap();
    await advance(WINDOW + 1_000);
    await settle();
    expect((await payment(held.id)).status).toBe("held");
    expect((await harness.stripe.transfers.list({ transfer_group: held.transferGroup })).data).toEqual([]);

    const [dispute] = (await harness.stripe.disputes.list({ charge: held.chargeId ?? "" })).data;
    await harness.emulator.control.resolveDispute(dispute?.id ?? "", "won");
    await settle();
    expect((await payment(held.id)).status).toBe("released");
    const transfers = (await harness.stripe.transfers.list({ transfer_group: held.transferGroup })).data;
    expect(transfers.map((t) => [t.amount, t.destination])).toEqual([[90_00, account]]);
    await booksBalanced(held.id);
  });

  it("not fulfilled: everything is refunded at Stripe before any release; the payment ends refunded", async () => {
    await aSeller("una");
    const opened = await aCheckout("una");
    const held = await payAndHold(opened.id);
    (await useCases.reportUnfulfilled(deps, held.id, "the host cancelled", "app_bookings"))._unsafeUnwrap();
    await settle();
    const refunded = await payment(held.id);
    expect(refunded.status).toBe("refunded");
    const refunds = (await harness.stripe.refunds.list({ payment_intent: held.paymentIntentId ?? "" })).data;
    expect(refunds.map((r) => [r.amount, r.status])).toEqual([[100_00, "succeeded"]]);
    expect((await harness.stripe.transfers.list({ transfer_group: held.transferGroup })).data).toEqual([]);
    await booksBalanced(held.id);
    expect(await balance(heldAccounts.refunds(held.id))).toBe(100_00);
  });

  it.each([
    ["in order", false],
    ["its failure reported after the dispute's closure: the loss waits for it", true],
  ])(
    "refunded by Stripe's pending-refund card, then charged back before the refund went through: Stripe fails the refund (charge_for_pending_refund_disputed), the loss is the whole payment, booked once (%s)",
    async (_label, refundLate) => {
      const seller = refundLate ? "pla" : "pin";
      const account = await aSeller(seller);
      const opened = await aCheckout(seller);
      const held = await payAndHold(opened.id, "pm_card_refundPending");
      (await useCases.reportUnfulfilled(deps, held.id, "the host cancelled", "app_bookings"))._unsafeUnwrap();
      await settle();
      expect((await payment(held.id)).refunds.map((r) => [r.amountMinor, r.status])).toEqual([
        [100_00, "requested"],
      ]);
      if (refundLate) lateTypes = new Set(["refund.updated", "charge.refund.updated", "refund.failed"]);
      try {
        const dispute = await harness.emulator.control.forceDispute(held.chargeId ?? "");
        expect(dispute.amount).toBe(100_00);
        const [refund] = (await harness.stripe.refunds.list({ payment_intent: held.paymentIntentId ?? "" }))
          .data;
        expect(refund).toMatchObject({
          status: "failed",
          failure_reason: "charge_for_pending_refund_disputed",
        });
        await settle();
        await harness.emulator.control.resolveDispute(dispute.id, "lost");
        await settle();
        if (refundLate) {
          // Stripe closed it lost while susu still thinks the refund is on its way: the loss waits.
          const waiting = await payment(held.id);
          expect(waiting.status).toBe("refunding");
          expect(waiting.disputes.map((d) => [d.status, d.stripeStatus])).toEqual([["open", "lost"]]);
          expect(await balance(heldAccounts.disputeLosses(held.id))).toBe(0);
        }
      } finally {
        lateTypes = new Set();
      }
      await deliver(late.splice(0));
      await settle();
      const lost = await payment(held.id);
      expect(lost.status).toBe("charged_back");
      expect(lost.refunds.map((r) => [r.status, r.failureCode])).toEqual([
        ["superseded_by_dispute", "charge_for_pending_refund_disputed"],
      ]);
      expect(lost.disputes.map((d) => [d.status, d.lostMinor, d.lossBooked])).toEqual([
        ["lost", 100_00, true],
      ]);
      await booksBalanced(held.id);
      expect(await balance(heldAccounts.disputeLosses(held.id))).toBe(100_00);
      expect(await balance(heldAccounts.refunds(held.id))).toBe(0);
      expect(await stripeBalance(account)).toBe(0);
    },
  );

  it("a dispute opened after the release and lost: the seller's share is reversed, the payment charged back", async () => {
    const account = await aSeller("lou");
    const opened = await aCheckout("lou");
    const held = await payAndHold(opened.id);
    (await useCases.confirmFulfilled(deps, held.id, "app_bookings"))._unsafeUnwrap();
    await advance(WINDOW + 1_000);
    await settle();
    const released = await payment(held.id);
    expect(released.status).toBe("released");
    const dispute = await harness.emulator.control.forceDispute(held.chargeId ?? "");
    await settle();
    await harness.emulator.control.resolveDispute(dispute.id, "lost");
    await settle();
    const lost = await payment(held.id);
    expect(lost.status).toBe("charged_back");
    const reversals = (await harness.stripe.transfers.listReversals(released.transfers[0]?.transferId ?? ""))
      .data;
    expect(reversals.map((r) => r.amount)).toEqual([90_00]);
    expect(lost.reversals.map((r) => [r.reason, r.status])).toEqual([["dispute_lost", "reversed"]]);
    expect(await stripeBalance(account)).toBe(0);
    await booksBalanced(held.id);
    expect(await balance(heldAccounts.disputeLosses(held.id))).toBe(100_00);
  });

  it("Stripe's events newest first and each twice: the same end, one transfer", async () => {
    shuffled = true;
    try {
      const account = await aSeller("sue");
      const opened = await aCheckout("sue");
      const held = await payAndHold(opened.id);
      expect(held.status).toBe("held");
      (await useCases.confirmFulfilled(deps, held.id, "app_bookings"))._unsafeUnwrap();
      await advance(WINDOW + 1_000);
      await settle();
      expect((await payment(held.id)).status).toBe("released");
      const transfers = (await harness.stripe.transfers.list({ transfer_group: held.transferGroup })).data;
      expect(transfers.map((t) => [t.amount, t.destination])).toEqual([[90_00, account]]);
      await booksBalanced(held.id);
    } finally {
      shuffled = false;
    }
  });

  it("paid by BECS on the page: processing, held when the debit settles, released after the window", async () => {
    const account = await aSeller("bea");
    const opened = await aCheckout("bea");
    await harness.emulator.control.completeCheckoutSession(opened.checkoutSessionId ?? "", {
      becs: { accountNumber: "000123456" },
    });
    await settle();
    expect((await payment(opened.id)).status).toBe("payment_processing");
    await advance(3 * 24 * HOUR_MS + 1_000);
    await settle();
    const held = await payment(opened.id);
    expect(held.status).toBe("held");
    (await useCases.confirmFulfilled(deps, held.id, "app_bookings"))._unsafeUnwrap();
    await advance(WINDOW + 1_000);
    await settle();
    expect((await payment(held.id)).status).toBe("released");
    await sellerPaidFromCharge(held, account);
  });

  it("an unpaid checkout expires at Stripe: checkout.session.expired ends the payment expired", async () => {
    await aSeller("exa");
    const opened = await aCheckout("exa");
    expect(opened.status).toBe("awaiting_payment");
    await advance(opened.checkoutExpiresAt - clock.now() + 1_000);
    await settle();
    const expired = await payment(opened.id);
    expect(expired.status).toBe("expired");
    expect(outcomes.some((o) => o.startsWith("checkout.session.expired processed"))).toBe(true);
    const session = await harness.stripe.checkout.sessions.retrieve(opened.checkoutSessionId ?? "");
    expect(session.status).toBe("expired");
    await booksBalanced(opened.id);
  });

  it("paid, its checkout.session.completed late past the backstop timer: Stripe refuses to expire the complete session, the payment is read and held — never expired, never refunded", async () => {
    await aSeller("exb");
    const opened = await aCheckout("exb");
    lateTypes = new Set(["checkout.session.completed"]);
    try {
      await harness.emulator.control.completeCheckoutSession(opened.checkoutSessionId ?? "", {
        paymentMethod: "pm_card_visa",
      });
      await settle();
      expect((await payment(opened.id)).status).toBe("awaiting_payment");
      expect(late.map((e) => e.type)).toContain("checkout.session.completed");
      // The backstop: the session's expiry and the grace.
      await advance(
        opened.checkoutExpiresAt + DEFAULT_HELD_PAYMENT_POLICY.checkoutExpiryGraceMs - clock.now() + 1_000,
      );
      await settle();
      const held = await payment(opened.id);
      expect(held).toMatchObject({ status: "held", refunds: [] });
      expect(held.expiryRequestedAt).toBeDefined();
      expect(held.endedAt).toBeUndefined();
      expect(held.paymentIntentId).toMatch(/^pi_/);
      expect(await balance(heldAccounts.hold(opened.id))).toBe(100_00);
      // The late webhook, delivered at last, changes nothing.
      const before = held.version;
      await deliver(late.splice(0));
      await settle();
      expect(await payment(opened.id)).toMatchObject({ status: "held", version: before });
    } finally {
      lateTypes = new Set();
    }
    const session = await harness.stripe.checkout.sessions.retrieve(opened.checkoutSessionId ?? "");
    expect(session.status).toBe("complete");
    const pi = await harness.stripe.paymentIntents.retrieve(String(session.payment_intent));
    expect(pi.status).toBe("succeeded");
    expect((await harness.stripe.refunds.list({ payment_intent: pi.id })).data).toEqual([]);
    expect(notifier.sent.filter((n) => n.aggregateId === opened.id).map((n) => n.template)).not.toContain(
      "checkout_expired",
    );
    expect(desk.tickets.filter((t) => t.aggregateId === opened.id)).toEqual([]);
  });

  it("the session's checkout.session.expired lost: the backstop asks Stripe to expire it, whose answer ends the payment expired, the customer told once", async () => {
    await aSeller("exc");
    const opened = await aCheckout("exc");
    lateTypes = new Set(["checkout.session.expired"]);
    try {
      await advance(opened.checkoutExpiresAt - clock.now() + 1_000);
      await settle();
      expect((await payment(opened.id)).status).toBe("awaiting_payment");
      await advance(DEFAULT_HELD_PAYMENT_POLICY.checkoutExpiryGraceMs);
      await settle();
      expect(await payment(opened.id)).toMatchObject({ status: "expired" });
      // The lost webhook, after all: nothing more.
      await deliver(late.splice(0));
      await settle();
    } finally {
      lateTypes = new Set();
    }
    expect(notifier.sent.filter((n) => n.aggregateId === opened.id).map((n) => n.template)).toEqual([
      "checkout_expired",
    ]);
    await booksBalanced(opened.id);
  });

  it("the session's checkout.session.expired lost and Stripe refusing the backstop's ask (parked with its ticket): the recheck asks again under a new key and Stripe's answer ends it expired; the operator's replay of the parked ask changes nothing", async () => {
    await aSeller("exd");
    const opened = await aCheckout("exd");
    const firstAsk = `${opened.id}:checkout_session:expire`;
    lateTypes = new Set(["checkout.session.expired"]);
    try {
      await advance(
        opened.checkoutExpiresAt + DEFAULT_HELD_PAYMENT_POLICY.checkoutExpiryGraceMs - clock.now() + 1_000,
      );
      // Stripe refuses the expiry, and the read of the session after it: a refusal, parked at once.
      const refused = { kind: "error", status: 400, code: "parameter_invalid_empty" } as const;
      await harness.emulator.control.injectFaults([
        { ...refused, route: "POST /v1/checkout/sessions/*/expire" },
        { ...refused, route: "GET /v1/checkout/sessions/*" },
      ]);
      const due = timers.takeDue(clock.now());
      // (Another payment's recheck may fall due too: its payment ended, it asks nothing.)
      expect(due.map((t) => t.id)).toContain(`${opened.id}:timer:checkout_expired`);
      for (const t of due) (await useCases.applyTimer(deps, t))._unsafeUnwrap();
      const report = (
        await useCases.dispatchOutbox(deps, ports, store, { workerId: "dispatcher" })
      )._unsafeUnwrap();
      expect(report.parked).toBe(1);
      const parked = (await store.listOutbox({ status: "parked", limit: 10 }))._unsafeUnwrap().items;
      expect(parked.map((e) => e.id)).toEqual([firstAsk]);
      expect(desk.tickets.map((t) => t.id)).toContain(`${firstAsk}:parked`);
      await settle();
      expect(await payment(opened.id)).toMatchObject({ status: "awaiting_payment", expiryAsks: 1 });

      // The recheck, six hours on: asked again under its own key, Stripe says the session expired.
      await advance(CHECKOUT_EXPIRY_RECHECK_MS);
      await settle();
      const ended = await payment(opened.id);
      expect(ended).toMatchObject({ status: "expired", expiryAsks: 2 });

      // The operator replays the parked ask: its answer (expired) changes nothing.
      expect((await store.requeueParked(firstAsk, clock.now()))._unsafeUnwrap()).toBe("requeued");
      await settle();
      expect((await store.listOutbox({ status: "parked", limit: 10 }))._unsafeUnwrap().items).toEqual([]);
      expect(await payment(opened.id)).toMatchObject({ status: "expired", version: ended.version });
      // The lost webhook, after all: nothing more.
      await deliver(late.splice(0));
      await settle();
      expect(await payment(opened.id)).toMatchObject({ status: "expired", version: ended.version });
    } finally {
      lateTypes = new Set();
    }
    const session = await harness.stripe.checkout.sessions.retrieve(opened.checkoutSessionId ?? "");
    expect(session.status).toBe("expired");
    expect(notifier.sent.filter((n) => n.aggregateId === opened.id).map((n) => n.template)).toEqual([
      "checkout_expired",
    ]);
    await booksBalanced(opened.id);
  });

  it("Stripe asks a seller for more after onboarding: they are told what and where to continue, once per set of requirements", async () => {
    const account = await aSeller("olly");
    const told = () =>
      notifier.sent.filter((n) => n.template === "onboarding_incomplete" && n.aggregateId === account);
    await harness.emulator.control.restrictAccount(account, ["individual.verification.document"]);
    await deliverAccountUpdate(account);
    await settle();
    // The same account.updated again (Stripe redelivers): nothing more.
    await deliverAccountUpdate(account);
    await settle();
    expect(told()).toEqual([
      expect.objectContaining({
        personIds: ["olly"],
        data: expect.objectContaining({
          requirements: "individual.verification.document",
          disabledReason: "requirements.past_due",
          onboardingPath: "/v1/people/olly/payout-onboarding",
        }),
      }),
    ]);
    const olly = (await store.getPerson("olly"))._unsafeUnwrap();
    expect(olly?.payout?.payoutsEnabled).toBe(false);
    // Something else is due: a second notice; fixed: nothing more.
    await harness.emulator.control.restrictAccount(account, ["external_account"]);
    await deliverAccountUpdate(account);
    await settle();
    await harness.emulator.control.completeAccountOnboarding(account);
    await deliverAccountUpdate(account);
    await settle();
    expect(told().map((n) => n.data.requirements)).toEqual([
      "individual.verification.document",
      "external_account",
    ]);
    expect((await store.getPerson("olly"))._unsafeUnwrap()?.payout?.payoutsEnabled).toBe(true);
  });
});
