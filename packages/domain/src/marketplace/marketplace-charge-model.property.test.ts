// Model-based test of marketplace charges: random charges (a destination charge to one
// seller, or a split among co-hosts) driven through random payments, Stripe's answers
// (transfers, refunds, reversals, disputes), timers, the passing of time and admins'
// commands — with Stripe's facts delivered in any order, duplicated at once and replayed late.
//
// A small world plays Stripe and the scheduler: it executes the effects the charge asks for
// (a transfer, refund or reversal is pending until the test decides its outcome, which it
// then reports as a fact into an inbox) and keeps its own count of what really moved. A
// model follows the rules beside the real charge and predicts each command's outcome (done,
// or which error) from what it saw. After every step:
//
// - the charge is in AUD (two decimals), JPY (zero) or KWD (three, in steps of 10 fils); every
//   posting is in its currency, and what is asked of Stripe (the payment, transfers, refunds,
//   reversals) is in it, positive and in whole steps; refunds are asked in steps or off them;
// - the ledger balances, and the charge's money adds up (paid in + platform funded = in
//   flight + payables + sellers + fees + refunds + dispute losses); the amount was paid in once
//   or not at all, and the fee stays within zero and the fee (a destination refund Stripe failed
//   after its success, then superseded by a lost dispute, too);
// - nothing is held once the charge has ended (or settled) and nothing is on its way: the
//   in-flight and payable accounts are zero;
// - no seller is paid twice: no transfer is asked for while another attempt of theirs may
//   land or after one landed, Stripe never creates two, and the ledger never pays a seller
//   more than their share;
// - no transfer is asked for while a dispute of the charge is open (a retry that comes due
//   then waits for the closure), nor one to a seller of more than lost disputes left of their
//   share (none after a loss that took their whole part);
// - refunds (and losses) never exceed what was captured, at Stripe or in the ledger;
// - no two different effects share an id;
// - every status change is in MARKETPLACE_CHARGE_TRANSITIONS;
// - a Stripe fact delivered twice in a row is ignored the second time, with no effects;
// - disputes (part or all of the charge, inquiries and chargebacks, updated — `lost` before
//   the closure too — closed won or lost for their amount or part of it) interleave with
//   refunds, reversals and transfers; Stripe fails or refuses refunds while a chargeback
//   stands;
// - Stripe fails refunds it had made succeed (succeeded → failed): the books stop counting
//   them, and at the end what the books say was refunded is what Stripe refunded;
// - Stripe's look-up of a transfer of unknown outcome sometimes misses one that landed (its list
//   lags behind): the attempt is written off and its `transfer.created` comes late; it is booked
//   as the seller's one payment unless another was (or a booked loss took their share), every
//   other attempt in flight written off, and the outbox re-reads the charge before sending a
//   transfer (an attempt written off is not sent — one whose earlier try failed unheard, a 5xx
//   Stripe may have acted on, is reported `earlier_try_unheard` and looked up once); at the end
//   no seller has two transfers
//   booked, a landed one not booked has its ticket, and the charge knows every transfer Stripe
//   made (a seller paid twice only when the next attempt went out before the late success);
// - a refund's webhook may never come: its overdue look-up (`find_refund`) is answered by
//   what Stripe holds — ended (its outcome), still pending (its id), or no refund made;
// - money out (refunds, the sellers, dispute losses) never exceeds what was paid in, once every
//   reversal asked for has landed; every snapshot round-trips through JSON;
// - at the end every outcome arrives (settle): nothing is stuck `refunding` or
//   `paying_sellers`, no refund, latest reversal or dispute unfinished, and at Stripe refunds
//   + what the banks took stay within what was captured; the books agree with Stripe on what
//   the banks took (after a refund owed outside Stripe too), and hold owed to the customer what
//   the charge says is left owed (less what lost disputes gave back of it), never below zero;
// - a payment Stripe took is never recorded as expired: the expiry timer only asks for the
//   cancel, and Stripe refuses it for a payment that succeeded (the success is read instead).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EARLIER_TRY_UNHEARD, reportsUnheardTry } from "../kernel/late-transfers.js";
import { checkMarketplaceMoney } from "../ledger/index.js";
import { type CurrencyCode, currencyInfo, money } from "../money/index.js";
import { owedLeftMinor } from "../owed/owed-payment.js";
import { decideMarketplaceOwedPayment, paymentOwed } from "../owed/payment-owed.js";
import { DEFAULT_MARKETPLACE_POLICY } from "../policy/marketplace-policy.js";
import {
  answerRefundLookup,
  commands,
  DISPUTE_UPDATE_STATUSES,
  type PaymentModel,
  PaymentWorld,
  refundsRefused,
  type StripeDispute,
  simple,
} from "../testing/payment-world.js";
import { createMarketplaceCharge, decideMarketplaceCharge } from "./decide.js";
import type { MarketplaceChargeErrorCode } from "./marketplace-charge.errors.js";
import type { MarketplaceCharge, MarketplaceChargeStatus } from "./marketplace-charge.js";
import type { MarketplaceChargeEffect } from "./marketplace-charge-effect.js";
import type { MarketplaceChargeInput } from "./marketplace-charge-input.js";
import { isMarketplaceChargeMoveAllowed } from "./marketplace-charge-transitions.js";

const policy = DEFAULT_MARKETPLACE_POLICY;

/** Runs of the property: `FC_NUM_RUNS` for a longer search, else `usual`. */
const numRuns = (usual: number): number => Number(process.env.FC_NUM_RUNS ?? usual);

const T0 = Date.UTC(2026, 4, 4);
const ID = "mc1";

/** A charge's amount and currency. */
interface Charge {
  readonly amountMinor: number;
  readonly currency: CurrencyCode;
}

/**
 * A charge in a currency of each kind of minor unit — two-decimal (AUD), zero-decimal (JPY),
 * three-decimal (KWD, in steps of 10 fils) — of 1 000 to 20 000 minor units in hundreds (so a
 * whole number of every currency's steps).
 */
const chargeArb: fc.Arbitrary<Charge> = fc.record({
  amountMinor: fc.integer({ min: 10, max: 200 }).map((x) => x * 100),
  currency: fc.constantFrom<CurrencyCode>("AUD", "JPY", "KWD"),
});

/** What the model knows, from what it saw happen. */
interface Model extends PaymentModel {
  /** Per seller: attempts asked for whose outcome is not a definite failure yet. */
  transfersOpen: Map<string, Set<number>>;
  /** Per seller: attempts answered with an uncertain error. */
  transfersUnknown: Map<string, Set<number>>;
  /** Sellers paid (their transfer landed, or the destination charge paid them). */
  paid: Set<string>;
  /** Reversals reported failed and not asked again yet. */
  reversalsFailed: Set<number>;
  /** Disputes Stripe closed lost while a refund was in flight, in order: open until no refund is, then their losses are taken. */
  lossesWaiting: { disputeId: string; amountMinor: number }[];
  /** A dispute was lost (the charge charged back): Stripe refuses every refund after it (`charge_disputed`). */
  chargedBack: boolean;
}

/**
 * The rule a lost dispute's loss waits by: a refund at Stripe, or a split's refund with a
 * seller's reversal for it in flight, among the first `known` refunds (those the charge had
 * before the input).
 */
function refundInFlight(s: MarketplaceCharge, known = s.refunds.length): boolean {
  return s.refunds.some(
    (r) =>
      r.number <= known &&
      (r.status === "requested" ||
        (r.status === "reversing" &&
          s.reversals.some((rv) => rv.forRefund === r.number && rv.status === "requested"))),
  );
}

const SETTLES: readonly MarketplaceChargeInput["type"][] = [
  "refund_succeeded",
  "refund_failed",
  "transfer_reversed",
  "transfer_reversal_failed",
];

/** The charge, the world around it (testing/payment-world.ts), and the checks. */
class World extends PaymentWorld<
  MarketplaceCharge,
  MarketplaceChargeInput,
  MarketplaceChargeEffect,
  MarketplaceChargeErrorCode
> {
  paymentAnswered = false;
  /** Transfer effects whose try failed unheard (a 5xx): the outbox keeps them to retry. */
  readonly triedUnheard = new Set<string>();
  /** Whether Stripe answered the expiry timer's cancel. */
  cancelAnswered = false;
  readonly stripe = {
    capturedMinor: 0,
    refundedMinor: 0,
    transfersBySeller: new Map<string, number>(),
    /** Transfers Stripe made, by the key (effect id) they were made under: their answers may have been lost. */
    landed: new Map<string, string>(),
    /**
     * Sellers a look-up of whose landed attempt found nothing (Stripe's list lagging behind):
     * susu wrote the attempt off, and its `transfer.created` webhook is still to come.
     */
    lookupMissed: new Set<string>(),
    disputes: 0,
    disputeOpen: false,
    dispute: undefined as StripeDispute | undefined,
    lostMinor: 0,
    reversedMinor: 0,
  };
  readonly model: Model = {
    captured: false,
    refunds: new Map(),
    lostMinor: 0,
    disputes: new Map(),
    transfersOpen: new Map(),
    transfersUnknown: new Map(),
    paid: new Set(),
    reversalsFailed: new Set(),
    lossesWaiting: [],
    chargedBack: false,
  };

  constructor(
    { amountMinor, currency }: Charge,
    readonly sellerIds: readonly string[],
  ) {
    super(
      amountMinor,
      currency,
      T0,
      createMarketplaceCharge(
        {
          id: ID,
          clientReference: "rsvp_1",
          requestedBy: "app_events",
          activityId: "act_1",
          purpose: "rsvp",
          description: "Pottery class",
          amountMinor,
          currency,
          customer: { id: "p_1", stripeCustomerId: "cus_1", email: "c@example.com" },
          paymentMethod: { kind: "saved_card", paymentMethodId: "pm_1" },
          fee: { kind: "rate", basisPoints: 1_250 },
          sellers: sellerIds.map((id, i) => ({ id, connectedAccountId: `acct_${id}`, weight: i + 1 })),
        },
        { now: T0, policy },
      )._unsafeUnwrap(),
    );
    this.check();
  }

  /**
   * A dispute that reaches a charge still waiting for its payment, or one that gave up on it
   * (failed, expired), has the payment read first (`disputeOvertookPayment` in apply-fact.ts):
   * succeeded, it is heard as `payment_succeeded`.
   */
  protected override readFirst(input: MarketplaceChargeInput): MarketplaceChargeInput | undefined {
    const s = this.state;
    const dispute = ["dispute_opened", "dispute_updated", "dispute_closed"].includes(input.type);
    const unpaid = [
      "awaiting_payment",
      "requires_action",
      "processing",
      "payment_failed",
      "expired",
    ].includes(s.status);
    if (!dispute || !unpaid || s.capturedAt !== undefined || this.stripe.capturedMinor === 0) return;
    return succeeded(this);
  }

  protected decide(state: MarketplaceCharge, input: MarketplaceChargeInput) {
    return decideMarketplaceCharge(state, input, { now: this.now, policy });
  }

  protected moveAllowed(from: MarketplaceChargeStatus, to: MarketplaceChargeStatus): boolean {
    return isMarketplaceChargeMoveAllowed(from, to);
  }

  get split(): boolean {
    return this.sellerIds.length > 1;
  }

  private open(sellerId: string): Set<number> {
    const set = this.model.transfersOpen.get(sellerId) ?? new Set<number>();
    this.model.transfersOpen.set(sellerId, set);
    return set;
  }

  private unknown(sellerId: string): Set<number> {
    const set = this.model.transfersUnknown.get(sellerId) ?? new Set<number>();
    this.model.transfersUnknown.set(sellerId, set);
    return set;
  }

  protected observe(
    input: MarketplaceChargeInput,
    effects: readonly MarketplaceChargeEffect[],
    ignored: boolean,
  ): void {
    const m = this.model;
    // An attempt of unknown outcome stays open through an admin's retry: it is looked up at
    // Stripe, and only a look-up that finds nothing closes it (written off).
    if (input.type === "transfer_not_found" && !ignored) {
      this.open(input.sellerId).delete(input.attempt);
      this.unknown(input.sellerId).delete(input.attempt);
    }
    if (input.type === "retry_reversal" && !ignored) m.reversalsFailed.clear();
    for (const e of effects) {
      if (e.kind === "post_ledger" && e.id === `${ID}:ledger:captured`) m.captured = true;
      if (e.kind === "post_ledger" && e.id.startsWith(`${ID}:ledger:transferred:`))
        m.paid.add(e.id.slice(`${ID}:ledger:transferred:`.length));
      if (e.kind === "notify" && e.template === "refund_started") {
        const n = Number(e.id.split(":").at(-1));
        if (!m.refunds.has(n)) m.refunds.set(n, { amountMinor: Number(e.data.amountMinor), done: false });
      }
      // The rest of a refund a loss superseded, owed outside Stripe: given back, nothing to wait for.
      if (e.kind === "notify" && e.template === "refund_owed")
        m.refunds.set(Number(e.data.refund), { amountMinor: Number(e.data.amountMinor), done: true });
      if (e.kind === "transfer") {
        if (this.open(e.sellerId).size > 0 || m.paid.has(e.sellerId))
          this.problems.push(
            `transfer ${e.id} asked for while another may land or after the seller was paid`,
          );
        // No co-host is paid while a dispute of the charge is open (a held payment freezes its
        // release the same way): the transfer waits for the closure.
        const open = this.state.disputes.find((x) => x.status === "open");
        if (open) this.problems.push(`transfer ${e.id} asked for while dispute ${open.id} is open`);
        // A lost dispute takes a seller's part from the share the platform holds when they were
        // not paid yet: no transfer gives them more than the losses left (nothing, when a loss
        // took their whole part), to be reversed again later.
        const { share, lostPart } = this.lostPartOf(e.sellerId);
        if (lostPart > 0 && e.amountMinor > share - lostPart)
          this.problems.push(
            `transfer ${e.id} of ${e.amountMinor} to ${e.sellerId} after lost disputes took ${lostPart} of their ${share} share`,
          );
        this.open(e.sellerId).add(e.attempt);
      }
    }
    if (ignored) return;
    switch (input.type) {
      case "refund_succeeded": {
        const r = m.refunds.get(input.refund);
        if (r) r.done = true;
        break;
      }
      case "refund_failed": {
        // It waits for a retry — unless it is owed outside Stripe at once (a success Stripe
        // failed once a dispute was lost: its refund_owed notice above).
        const r = m.refunds.get(input.refund);
        const owed = this.state.refunds.some(
          (x) => x.number === input.refund && x.status === "owed_outside_stripe",
        );
        if (r && !ignored && !owed) r.done = false;
        break;
      }
      case "transfer_created":
        this.open(input.sellerId).delete(input.attempt);
        this.unknown(input.sellerId).delete(input.attempt);
        break;
      case "transfer_failed":
        if (input.failureCode === "api_error" || input.failureCode === EARLIER_TRY_UNHEARD)
          this.unknown(input.sellerId).add(input.attempt);
        else {
          this.open(input.sellerId).delete(input.attempt);
          this.unknown(input.sellerId).delete(input.attempt);
        }
        break;
      case "transfer_reversal_failed":
        m.reversalsFailed.add(input.reversal);
        break;
      case "dispute_opened":
        if (!m.disputes.has(input.disputeId)) m.disputes.set(input.disputeId, true);
        break;
      case "dispute_closed":
        // Lost while a refund is in flight: it stays open until the refund's outcome is heard.
        if (input.outcome === "lost" && refundInFlight(this.previous)) {
          m.disputes.set(input.disputeId, true);
          m.lossesWaiting = [
            ...m.lossesWaiting.filter((x) => x.disputeId !== input.disputeId),
            { disputeId: input.disputeId, amountMinor: input.amountMinor },
          ];
          break;
        }
        m.disputes.set(input.disputeId, false);
        if (input.outcome === "lost") {
          this.takeLoss(input.amountMinor);
          m.chargedBack = true;
        }
        break;
      default:
        break;
    }
    // Losses that waited are taken, in turn, once no refund is in flight any more: those the
    // charge had, and the one a loss taken asks for the rest with (numbered next). Stripe
    // refuses every refund of a charge charged back (`charge_disputed`): asking for one would
    // leave the charge refunding for good.
    if (m.chargedBack && effects.some((e) => e.kind === "refund"))
      this.problems.push(`a refund was asked of Stripe after a lost dispute (${input.type})`);
    if (!SETTLES.includes(input.type)) return;
    let known = this.previous.refunds.length;
    for (const waiting of [...m.lossesWaiting]) {
      if (refundInFlight(this.state, known)) break;
      m.lossesWaiting.shift();
      m.disputes.set(waiting.disputeId, false);
      this.takeLoss(waiting.amountMinor);
      m.chargedBack = true;
      if (this.state.refunds.some((r) => r.number === known + 1)) known += 1;
    }
    if (m.chargedBack && effects.some((e) => e.kind === "refund"))
      this.problems.push(`a refund was asked of Stripe after a loss that waited (${input.type})`);
  }

  /** A lost dispute supersedes the refunds that never reached the customer, then takes what it says, up to what is left. */
  private takeLoss(amountMinor: number): void {
    const m = this.model;
    this.supersedeRefundsNotDone();
    m.lostMinor += Math.min(amountMinor, this.remainingMinor());
    // A refund the loss superseded (it never reached the customer: e.g. a seller's
    // reversal for it failed) needs its failed reversals no more: retry_reversal
    // leaves them (the loss's own reversal takes that seller's part instead).
    for (const n of [...m.reversalsFailed]) {
      const forRefund = this.state.reversals.find((rv) => rv.number === n)?.forRefund;
      const r = this.state.refunds.find((x) => x.number === forRefund);
      if (r?.status === "superseded_by_dispute") m.reversalsFailed.delete(n);
    }
  }

  /**
   * An admin records paying the customer `partBp` of what is still owed outside Stripe (at
   * least one step of the currency, at most what is left), as the owed-payments route does:
   * never refused while something is owed.
   */
  payOwed(partBp: number): void {
    const leftMinor = owedLeftMinor(paymentOwed(this.state));
    if (leftMinor <= 0) return;
    const step = currencyInfo(this.currency).amountStepMinor;
    const amountMinor = Math.min(
      leftMinor,
      Math.max(step, Math.floor((leftMinor * partBp) / 10_000 / step) * step),
    );
    const code = this.applyOwedPayment(
      amountMinor,
      decideMarketplaceOwedPayment(
        this.state,
        {
          type: "record_owed_payment",
          amount: money(amountMinor, this.currency),
          reference: `bank ${this.state.owedPayments?.length ?? 0}`,
          by: "operator:o",
        },
        { now: this.now },
      ),
    );
    if (code !== undefined)
      this.problems.push(
        `an admin's payment of ${amountMinor} of the ${leftMinor} owed was refused: ${code}`,
      );
  }

  check(): void {
    const s = this.state;
    this.checkLedger();
    for (const [id, open] of this.model.disputes) {
      const x = s.disputes.find((y) => y.id === id);
      if (x && (x.status === "open") !== open)
        this.problems.push(`dispute ${id} is ${x.status}; the model has it ${open ? "open" : "closed"}`);
    }
    const money = checkMarketplaceMoney(this.ledger, ID, this.sellerIds, this.currency);
    if (money.isErr()) {
      this.problems.push(money.error.message);
      return;
    }
    const m = money.value;
    for (const seller of s.sellers) {
      if ((m.sellerMinor[seller.id] ?? 0) > seller.shareMinor)
        this.problems.push(
          `seller ${seller.id} got ${m.sellerMinor[seller.id]} of a ${seller.shareMinor} share`,
        );
      // (Unless a look-up missed a landed attempt and the next one was sent before the late
      // success was heard: susu could not know; a person is told — see `checkSettled`.)
      if ((this.stripe.transfersBySeller.get(seller.id) ?? 0) > 1 && !this.stripe.lookupMissed.has(seller.id))
        this.problems.push(`Stripe created two transfers to ${seller.id}: paid twice`);
    }
    this.checkPayment(m);
    // Money out (to the customer, the sellers, the customer's bank) never exceeds what was paid
    // in, once every reversal of a seller's transfer asked for has landed.
    const out = m.refundedMinor + m.sellersMinor + m.disputeLostMinor;
    if (s.reversals.every((r) => r.status === "reversed") && out > m.paidInMinor)
      this.problems.push(
        `the books send out ${out} (refunds ${m.refundedMinor}, sellers ${m.sellersMinor}, disputes ${m.disputeLostMinor}) of ${m.paidInMinor} paid in`,
      );
    if (s.status === "expired" && this.stripe.capturedMinor > 0)
      this.problems.push("expired though Stripe took the payment (its cancel could not have succeeded)");
    const quiet =
      s.reversals.every((r) => r.status === "reversed") &&
      s.refunds.every((r) => r.status === "succeeded") &&
      s.disputes.every((x) => x.status !== "lost" || x.lossBooked === true);
    const ended: readonly MarketplaceChargeStatus[] = [
      "settled",
      "refunded",
      "charged_back",
      "payment_failed",
    ];
    if (quiet && ended.includes(s.status) && (m.inFlightMinor !== 0 || m.sellerPayableMinor !== 0))
      this.problems.push(`${s.status} with ${m.inFlightMinor} in flight and ${m.sellerPayableMinor} payable`);
  }

  /**
   * Once every outcome has arrived (see `settle`): the charge is not stuck half-way
   * (`refunding`, `paying_sellers`, a refund or the latest reversal unfinished, a dispute open
   * that Stripe closed), and what the customer and the banks got back at Stripe is within
   * what was captured.
   */
  checkSettled(): void {
    const s = this.state;
    const where = `settled ${s.status}`;
    if (["refunding", "paying_sellers", "processing"].includes(s.status))
      this.problems.push(`${where}: stuck with every outcome delivered`);
    for (const r of s.refunds)
      if (r.status === "requested" || r.status === "reversing" || r.status === "failed")
        this.problems.push(`${where}: refund ${r.number} is ${r.status} (${r.failureCode ?? "no failure"})`);
    const superseded = new Set(
      s.refunds.filter((r) => r.status === "superseded_by_dispute").map((r) => r.number),
    );
    const latest = new Map<string, (typeof s.reversals)[number]>();
    for (const rv of s.reversals)
      if (rv.forRefund === undefined || !superseded.has(rv.forRefund))
        latest.set(`${rv.sellerId}:${rv.forDisputeId ?? `refund ${rv.forRefund}`}`, rv);
    for (const rv of latest.values())
      if (rv.status !== "reversed") this.problems.push(`${where}: reversal ${rv.number} is ${rv.status}`);
    for (const x of s.disputes)
      if (x.status === "open") this.problems.push(`${where}: dispute ${x.id} still open`);
    // A seller paid twice (a look-up missed a landed attempt), or a late transfer the books
    // could not take: it is not booked, and a person is told.
    const tickets = new Set(
      [...this.effects.values()].flatMap((e) =>
        e.kind === "open_ticket" && e.reason === "unexpected_money" ? [e.id] : [],
      ),
    );
    for (const seller of s.sellers) {
      const landed = s.transfers.filter((t) => t.sellerId === seller.id && t.status === "created");
      if (landed.filter((t) => t.unbooked !== true).length > 1)
        this.problems.push(`${where}: two transfers to ${seller.id} booked`);
      for (const t of landed)
        if (t.unbooked === true && !tickets.has(`${ID}:ticket:unexpected_money:transfer:${t.transferId}`))
          this.problems.push(`${where}: ${t.transferId} to ${seller.id} is not booked and nobody was told`);
      if ((this.stripe.transfersBySeller.get(seller.id) ?? 0) !== landed.length && this.split)
        this.problems.push(
          `${where}: Stripe made ${this.stripe.transfersBySeller.get(seller.id) ?? 0} transfers to ${seller.id}, the charge knows ${landed.length}`,
        );
    }
    // What the books say went back to the customer is what Stripe refunded and kept refunded
    // (a refund Stripe failed after its success is not counted once its failure is heard).
    const settledBooks = checkMarketplaceMoney(this.ledger, ID, this.sellerIds, this.currency);
    if (settledBooks.isOk() && settledBooks.value.refundedMinor !== this.stripe.refundedMinor)
      this.problems.push(
        `${where}: the books say ${settledBooks.value.refundedMinor} refunded, Stripe ${this.stripe.refundedMinor}`,
      );
    const st = this.stripe;
    if (settledBooks.isOk()) {
      const b = settledBooks.value;
      // What the customer's bank took (a loss after a refund owed outside Stripe too: what it
      // took beyond what was left comes out of what is owed), and what is owed: what the books
      // hold is what the charge says is left owed, never below zero.
      if (b.disputeLostMinor !== st.lostMinor)
        this.problems.push(
          `${where}: the books say ${b.disputeLostMinor} lost to disputes, Stripe ${st.lostMinor}`,
        );
      const owedLeft = owedLeftMinor(paymentOwed(s));
      if (b.owedToCustomerMinor !== owedLeft || owedLeft < 0)
        this.problems.push(
          `${where}: the books hold ${b.owedToCustomerMinor} owed to the customer, the charge says ${owedLeft} is left owed`,
        );
      // The customer got more back than they paid (Stripe's refunds, what their bank took, and
      // what admins paid them outside Stripe): what they got twice is booked as owed back by
      // them (each lost dispute's `overpaidMinor`), and a person is asked to recover it.
      const gotMinor = st.refundedMinor + st.lostMinor + this.paidOutsideMinor;
      const overpaidMinor = s.disputes.reduce((sum, x) => sum + (x.overpaidMinor ?? 0), 0);
      if (b.owedByCustomerMinor !== overpaidMinor)
        this.problems.push(
          `${where}: the books say the customer owes back ${b.owedByCustomerMinor}, the disputes ${overpaidMinor}`,
        );
      if (gotMinor > st.capturedMinor && b.owedByCustomerMinor < gotMinor - st.capturedMinor)
        this.problems.push(
          `${where}: the customer got ${gotMinor} back of ${st.capturedMinor} paid, the books say they owe back ${b.owedByCustomerMinor}`,
        );
      // Every lost dispute that lessened what is owed told the customer (what came back, what is left).
      for (const x of s.disputes)
        if (
          (x.owedTakenMinor ?? 0) > 0 &&
          ![...this.effects.values()].some(
            (e) =>
              e.kind === "notify" && e.template === "owed_reduced_by_dispute" && e.data.disputeId === x.id,
          )
        )
          this.problems.push(`${where}: dispute ${x.id} lessened what is owed and the customer was not told`);
      const recoveryAsked = [...this.effects.values()].some(
        (e) => e.kind === "open_ticket" && e.reason === "owed_overpaid",
      );
      if (b.owedByCustomerMinor > 0 && !recoveryAsked)
        this.problems.push(
          `${where}: the customer owes back ${b.owedByCustomerMinor} and nobody was asked to recover it`,
        );
    }
    if (st.refundedMinor + st.lostMinor > st.capturedMinor)
      this.problems.push(
        `${where}: Stripe gave back ${st.refundedMinor} refunded and ${st.lostMinor} to the banks of ${st.capturedMinor} captured`,
      );
  }

  /** A seller's share and what lost disputes of the charge took of it (their parts, as the charge divided each loss). */
  lostPartOf(sellerId: string): { share: number; lostPart: number } {
    const s = this.state;
    const i = s.sellers.findIndex((x) => x.id === sellerId);
    const lostPart = s.disputes
      .filter((x) => x.status === "lost")
      .reduce((sum, x) => sum + (x.parts?.sellerPartsMinor[i] ?? 0), 0);
    return { share: s.sellers[i]?.shareMinor ?? 0, lostPart };
  }

  /** A seller never paid whom lost disputes left nothing, with no transfer of theirs that may land: nothing is owed to them. */
  owedNothing(sellerId: string): boolean {
    const { share, lostPart } = this.lostPartOf(sellerId);
    return lostPart >= share && this.open(sellerId).size === 0;
  }

  /** What a command must do, by the rules, from what the model saw; undefined: it applies. */
  predict(input: MarketplaceChargeInput): MarketplaceChargeErrorCode | undefined {
    const m = this.model;
    const s = this.state;
    switch (input.type) {
      case "refund": {
        if (!m.captured)
          return s.status === "payment_failed" || s.status === "expired"
            ? "charge_ended"
            : "payment_not_captured";
        if (s.status === "refunded" || s.status === "charged_back") return "charge_ended";
        if (s.status === "refunding") return "refund_in_flight";
        if (this.sellerIds.some((x) => !m.paid.has(x) && !this.owedNothing(x))) return "transfers_pending";
        if ([...m.disputes.values()].some((open) => open)) return "payment_disputed";
        if (m.chargedBack) return "charge_disputed";
        if ([...m.refunds.values()].some((r) => !r.done)) return "refund_in_flight";
        const left = this.remainingMinor();
        if (left === 0) return "nothing_to_refund";
        const a = input.amountMinor ?? left;
        const step = currencyInfo(this.currency).amountStepMinor;
        return a <= 0 || a > left || a % step !== 0 ? "invalid_refund_amount" : undefined;
      }
      case "retry_refund":
        if (!s.refunds.some((r) => r.status === "failed")) return "no_failed_refund";
        if ([...m.disputes.values()].some((open) => open)) return "payment_disputed";
        return m.chargedBack ? "charge_disputed" : undefined;
      case "retry_transfers":
        return s.status === "transfer_blocked" ? undefined : "no_blocked_transfer";
      case "retry_reversal":
        return m.reversalsFailed.size > 0 ? undefined : "no_failed_reversal";
      default:
        return undefined;
    }
  }

  command(input: MarketplaceChargeInput): void {
    const expected = this.predict(input);
    const { code } = this.apply(input);
    if (code !== expected)
      this.problems.push(`${JSON.stringify(input)}: expected ${expected ?? "ok"}, got ${code ?? "ok"}`);
  }
}

// ---------------------------------------------------------------- commands

type Cmd = fc.Command<object, World>;

type PayHow = "card" | "3ds_ok" | "3ds_fail" | "processing_ok" | "fail_then_ok";

const succeeded = (w: World): MarketplaceChargeInput => ({
  type: "payment_succeeded",
  paymentIntentId: "pi_1",
  chargeId: "ch_1",
  ...(w.split ? {} : { transferId: "tr_dest" }),
});

/** The customer pays (or not): Stripe's facts go to the inbox. */
function pay(w: World, how: PayHow): void {
  w.paymentAnswered = true;
  const pi = "pi_1";
  const ok = succeeded(w);
  const action: MarketplaceChargeInput = {
    type: "payment_requires_action",
    paymentIntentId: pi,
    clientSecret: "pi_1_secret",
  };
  const failed: MarketplaceChargeInput = {
    type: "payment_failed",
    paymentIntentId: pi,
    failureCode: "card_declined",
  };
  const facts: Record<PayHow, MarketplaceChargeInput[]> = {
    card: [ok],
    "3ds_ok": [action, ok],
    "3ds_fail": [action, failed],
    processing_ok: [{ type: "payment_processing", paymentIntentId: pi }, ok],
    fail_then_ok: [failed, ok],
  };
  w.inbox.push(...facts[how]);
  if (how !== "3ds_fail") {
    w.stripe.capturedMinor = w.amountMinor;
    // A destination charge pays the seller with the charge.
    if (!w.split) w.stripe.transfersBySeller.set(w.sellerIds[0] ?? "", 1);
  }
}

/**
 * Stripe answers the `i`-th pending refund: it succeeds or fails as the test says — but a
 * chargeback open or lost fails it (`charge_disputed`), as Stripe does. `unheard`: its webhook
 * never reaches susu (only a look-up, `find_refund`, tells the outcome).
 */
function answerRefund(w: World, i: number, ok: boolean, unheard = false): void {
  const [r] = w.pendingRefunds.splice(i % w.pendingRefunds.length, 1);
  if (!r) return;
  const refused = refundsRefused(w.stripe);
  if (!ok || refused) {
    // A failure a retry can fix (the admins retry it), or a card that cannot take money (owed
    // outside Stripe at once): drawn by the refund's index.
    const failureCode = refused ? "charge_disputed" : i % 2 === 0 ? "declined" : "expired_or_canceled_card";
    w.refundsAtStripe.set(r.id, { status: "failed", refundId: `re_${r.id}`, failureCode });
    if (!unheard) w.inbox.push({ type: "refund_failed", refund: r.refund, attempt: r.attempt, failureCode });
    return;
  }
  w.stripe.refundedMinor += r.amountMinor;
  w.succeededRefunds.push({
    refund: r.refund,
    attempt: r.attempt,
    amountMinor: r.amountMinor,
    effectId: r.id,
    refundId: `re_${r.id}`,
  });
  w.refundsAtStripe.set(r.id, { status: "succeeded", refundId: `re_${r.id}` });
  if (!unheard)
    w.inbox.push({ type: "refund_succeeded", refund: r.refund, attempt: r.attempt, refundId: `re_${r.id}` });
  const fee = w.state.refunds.find((x) => x.number === r.refund)?.parts.feePartMinor ?? 0;
  if (r.refundApplicationFee)
    w.inbox.push({
      type: "application_fee_refunded",
      feeRefunds: [
        { refund: r.refund, feeRefundId: `fr_${r.id}`, amountMinor: fee, currency: w.state.currency },
      ],
    });
}

/**
 * The outbox re-reads the charge before it sends a transfer: an attempt no longer `requested`
 * (written off when another attempt landed late and was booked) is never sent to Stripe — and
 * one whose earlier try failed unheard is reported so (`executeEffect`).
 */
function outboxReRead(w: World): void {
  w.pendingTransfers = w.pendingTransfers.filter((e) => {
    const attempt = w.state.transfers.find((t) => t.effectId === e.id);
    if (attempt?.status === "requested") return true;
    if (reportsUnheardTry(attempt, w.triedUnheard.has(e.id)))
      w.inbox.push({
        type: "transfer_failed",
        sellerId: e.sellerId,
        attempt: e.attempt,
        failureCode: EARLIER_TRY_UNHEARD,
      });
    w.triedUnheard.delete(e.id);
    return false;
  });
}

/**
 * Stripe makes transfer `t`. A second transfer to a seller is excused only when susu could not
 * know of the first (a look-up missed it and its late success was not heard yet): one sent
 * after the charge heard a transfer of theirs land pays them twice.
 */
function stripeMakes(w: World, t: { readonly id: string; readonly sellerId: string }): void {
  // A retry under the key of a try Stripe acted on: the same transfer, replayed.
  if (w.stripe.landed.has(t.id)) return;
  const before = w.stripe.transfersBySeller.get(t.sellerId) ?? 0;
  if (before > 0 && w.state.transfers.some((x) => x.sellerId === t.sellerId && x.status === "created"))
    w.problems.push(`transfer ${t.id} sent after ${t.sellerId}'s transfer was heard landing: paid twice`);
  w.stripe.transfersBySeller.set(t.sellerId, before + 1);
  w.stripe.landed.set(t.id, `tr_${t.id}`);
}

/** Stripe makes the `i`-th pending transfer. */
function transferLands(w: World, i: number): void {
  outboxReRead(w);
  const [t] = w.pendingTransfers.splice(i % w.pendingTransfers.length, 1);
  if (!t) return;
  stripeMakes(w, t);
  w.inbox.push({
    type: "transfer_created",
    sellerId: t.sellerId,
    attempt: t.attempt,
    transferId: `tr_${t.id}`,
  });
}

/**
 * Every outcome arrives: Stripe answers everything asked of it (transfers land, look-ups
 * find what it holds, refunds and reversals go through unless Stripe refuses them), closes the
 * open dispute (`lose`: lost for everything it disputes, else won), every fact is delivered,
 * every timer fires, and the admins do what the tickets ask (retry the blocked transfers, the
 * failed refund, the failed reversal) — until nothing changes.
 */
function settle(w: World, lose: boolean): void {
  const admin = (input: MarketplaceChargeInput): void => {
    if (w.predict(input) === undefined) w.command(input);
  };
  for (let round = 0; round < 40; round++) {
    const before = JSON.stringify([w.state.version, w.inbox.length, w.stripe.disputeOpen, w.timers.length]);
    while (w.inbox.length > 0) w.deliver(w.inbox.shift() as MarketplaceChargeInput, false);
    while (w.pendingTransfers.length > 0) transferLands(w, 0);
    while (w.pendingLookups.length > 0) {
      const l = w.pendingLookups.shift();
      if (!l) break;
      const found = w.stripe.landed.get(l.transferEffectId);
      w.inbox.push(
        found !== undefined
          ? { type: "transfer_created", sellerId: l.sellerId, attempt: l.attempt, transferId: found }
          : { type: "transfer_not_found", sellerId: l.sellerId, attempt: l.attempt },
      );
    }
    while (w.pendingRefunds.length > 0) answerRefund(w, 0, true);
    while (w.pendingRefundLookups.length > 0) answerRefundLookup(w, 0, true);
    while (w.pendingReversals.length > 0) commands.reversal(0, true).run({}, w);
    if (w.stripe.disputeOpen) commands.disputeClosed(lose ? "lost" : "won").run({}, w);
    if (w.inbox.length > 0) continue;
    for (const t of w.timers.splice(0).sort((a, b) => a.at - b.at)) {
      w.now = Math.max(w.now, t.at);
      w.apply({ type: "timer", timer: t.timer });
    }
    admin({ type: "retry_transfers", by: "admin" });
    admin({ type: "retry_refund", by: "admin" });
    admin({ type: "retry_reversal", by: "admin" });
    const after = JSON.stringify([w.state.version, w.inbox.length, w.stripe.disputeOpen, w.timers.length]);
    const idle =
      w.pendingTransfers.length +
      w.pendingLookups.length +
      w.pendingRefundLookups.length +
      w.pendingRefunds.length +
      w.pendingReversals.length;
    if (before === after && idle === 0) return;
  }
  w.problems.push("settling did not come to rest in 40 rounds");
}

const partBpArb = fc.oneof(fc.constant(10_000), fc.integer({ min: 1, max: 9_999 }));

const disputeOpenedArb = fc
  .record({ partBp: partBpArb, inquiry: fc.boolean() })
  .map((shape) => commands.disputeOpened("dispute_opened", shape));

const disputeUpdatedArb = fc
  .tuple(fc.constantFrom(...DISPUTE_UPDATE_STATUSES), fc.boolean())
  .map(([status, deadline]) => commands.disputeUpdated(status, deadline));

const disputeClosedArb = fc
  .tuple(fc.constantFrom("won" as const, "lost" as const), partBpArb)
  .map(([outcome, partBp]) => commands.disputeClosed(outcome, partBp));

const deliverArb = fc.tuple(fc.nat(), fc.boolean()).map(([i, twice]) => commands.deliver(i, twice));

const fireTimerArb = fc.nat().map(commands.fireTimer);

const commandArbs: fc.Arbitrary<Cmd>[] = [
  fc.constantFrom<PayHow>("card", "card", "3ds_ok", "3ds_fail", "processing_ok", "fail_then_ok").map((how) =>
    simple(
      `pay(${how})`,
      (w) => !w.paymentAnswered,
      (w) => pay(w, how),
    ),
  ),
  deliverArb,
  deliverArb,
  deliverArb,
  deliverArb,
  // Stripe answers the expiry timer's cancel: refused for a payment that succeeded (the
  // executor then reads the success), else the PaymentIntent is cancelled.
  fc.constant(
    simple(
      "Stripe answers the cancel",
      (w) => !w.cancelAnswered && w.effects.has(`${ID}:payment:cancel`),
      (w) => {
        w.cancelAnswered = true;
        w.inbox.push(
          w.stripe.capturedMinor > 0
            ? succeeded(w)
            : { type: "payment_failed", paymentIntentId: "pi_1", failureCode: "canceled_abandoned" },
        );
      },
    ),
  ),
  fc.nat().map(commands.replay),
  fc
    .tuple(
      fc.nat(),
      fc.constantFrom(
        "created",
        "created",
        "balance_insufficient",
        "account_invalid",
        "api_error",
        "landed_answer_lost",
        "unheard",
        "landed_unheard",
      ),
    )
    .map(([i, answer]) =>
      simple(
        `transfer ${answer}`,
        (w) => w.pendingTransfers.length > 0,
        (w) => {
          let outcome = answer;
          outboxReRead(w);
          const k = i % Math.max(1, w.pendingTransfers.length);
          // A 5xx (Stripe acted on it or not): nothing is heard, the outbox keeps it to retry.
          if (outcome === "unheard" || outcome === "landed_unheard") {
            const t = w.pendingTransfers[k];
            if (!t) return;
            if (outcome === "landed_unheard") stripeMakes(w, t);
            w.triedUnheard.add(t.id);
            return;
          }
          const [t] = w.pendingTransfers.splice(k, 1);
          if (!t) return;
          // Stripe made it on a try unheard: the retry, same key, is answered by that transfer.
          if (w.stripe.landed.has(t.id) && outcome !== "landed_answer_lost") outcome = "created";
          if (outcome === "created" || outcome === "landed_answer_lost") {
            stripeMakes(w, t);
          }
          if (outcome === "created")
            w.inbox.push({
              type: "transfer_created",
              sellerId: t.sellerId,
              attempt: t.attempt,
              transferId: `tr_${t.id}`,
            });
          // A lost answer reaches susu as an error of unknown outcome, though Stripe made the transfer.
          else
            w.inbox.push({
              type: "transfer_failed",
              sellerId: t.sellerId,
              attempt: t.attempt,
              failureCode: outcome === "landed_answer_lost" ? "api_error" : outcome,
            });
        },
      ),
    ),
  // Stripe answers a look-up of an attempt (by its key) by what it holds
  // — or, `missed`, its list lags behind and a transfer it made is not found yet: susu writes the
  // attempt off, and the transfer's `transfer.created` webhook comes later (a late success).
  fc.tuple(fc.nat(), fc.boolean()).map(([i, missed]) =>
    simple(
      `transfer looked up${missed ? " (a landed one missed)" : ""}`,
      (w) => w.pendingLookups.length > 0,
      (w) => {
        const [l] = w.pendingLookups.splice(i % w.pendingLookups.length, 1);
        if (!l) return;
        const found = w.stripe.landed.get(l.transferEffectId);
        if (found !== undefined && missed) {
          w.stripe.lookupMissed.add(l.sellerId);
          w.inbox.push(
            { type: "transfer_not_found", sellerId: l.sellerId, attempt: l.attempt },
            { type: "transfer_created", sellerId: l.sellerId, attempt: l.attempt, transferId: found },
          );
          return;
        }
        w.inbox.push(
          found !== undefined
            ? { type: "transfer_created", sellerId: l.sellerId, attempt: l.attempt, transferId: found }
            : { type: "transfer_not_found", sellerId: l.sellerId, attempt: l.attempt },
        );
      },
    ),
  ),
  // Stripe works through everything it was asked (so splits reach their refunds and disputes too).
  fc.constant(
    simple(
      "every pending transfer lands",
      (w) => w.pendingTransfers.length > 0,
      (w) => {
        outboxReRead(w);
        for (const t of w.pendingTransfers.splice(0)) {
          stripeMakes(w, t);
          w.inbox.push({
            type: "transfer_created",
            sellerId: t.sellerId,
            attempt: t.attempt,
            transferId: `tr_${t.id}`,
          });
        }
      },
    ),
  ),
  fc.nat().map((seed) =>
    simple(
      `deliver everything (rotated by ${seed})`,
      (w) => w.inbox.length > 0,
      (w) => {
        const facts = w.inbox.splice(0);
        const k = seed % facts.length;
        for (const fact of [...facts.slice(k), ...facts.slice(0, k).reverse()]) w.deliver(fact, false);
      },
    ),
  ),
  // (its webhook sometimes never reaches susu: only the look-up after REFUND_OUTCOME_OVERDUE_MS tells)
  fc.tuple(fc.nat(), fc.boolean(), fc.boolean()).map(([i, ok, unheard]) =>
    simple(
      `refund ${ok ? "succeeds" : "fails"}${unheard ? " (its webhook lost)" : ""}`,
      (w) => w.pendingRefunds.length > 0,
      (w) => answerRefund(w, i, ok, unheard),
    ),
  ),
  fc.tuple(fc.nat(), fc.boolean()).map(([i, ok]) => commands.reversal(i, ok)),
  // Stripe fails a refund it had made succeed (the card or account could not take it).
  fc.nat().map(commands.refundFailsLater),
  // Stripe answers a look-up of a refund whose outcome is overdue (find_refund) by what it holds.
  fc.tuple(fc.nat(), fc.boolean()).map(([i, seen]) => commands.refundLookedUp(i, seen)),
  // disputes: at most one open at a time at Stripe, for part or all of what is left, an
  // inquiry or a chargeback; updated (its status, `lost` or `won` before the closure too, its
  // deadline); closed won or lost, for its amount or part of it
  disputeOpenedArb,
  disputeUpdatedArb,
  disputeClosedArb,
  disputeClosedArb,
  fireTimerArb,
  fireTimerArb,
  fc.integer({ min: 1, max: 24 }).map(commands.hoursPass),
  // (an amount in the currency's steps, or — sometimes — off them, which is refused)
  fc
    .tuple(
      fc.option(fc.tuple(fc.integer({ min: -100, max: 25_000 }), fc.boolean()), { nil: undefined }),
      fc.constantFrom("customer" as const, "platform" as const),
    )
    .map(([drawn, initiatedBy]) =>
      simple(
        `refund ${drawn === undefined ? "all" : `${drawn[0]}${drawn[1] ? " in steps" : ""}`} (${initiatedBy})`,
        () => true,
        (w) => {
          const step = currencyInfo(w.currency).amountStepMinor;
          const amountMinor =
            drawn === undefined ? undefined : drawn[1] ? Math.floor(drawn[0] / step) * step : drawn[0];
          w.command({
            type: "refund",
            initiatedBy,
            by: "admin",
            reason: "asked",
            ...(amountMinor !== undefined ? { amountMinor } : {}),
          });
        },
      ),
    ),
  fc.constant(
    simple(
      "retry refund",
      () => true,
      (w) => w.command({ type: "retry_refund", by: "admin" }),
    ),
  ),
  // An admin pays the customer part or all of what is owed outside Stripe (a bank transfer).
  fc.oneof(fc.constant(10_000), fc.integer({ min: 1, max: 9_999 })).map((partBp) =>
    simple(
      `an admin pays ${partBp / 100}% of what is owed outside Stripe`,
      (w) => owedLeftMinor(paymentOwed(w.state)) > 0,
      (w) => w.payOwed(partBp),
    ),
  ),
  fc.constant(
    simple(
      "retry transfers",
      () => true,
      (w) => w.command({ type: "retry_transfers", by: "admin" }),
    ),
  ),
  fc.constant(
    simple(
      "retry reversal",
      () => true,
      (w) => w.command({ type: "retry_reversal", by: "admin" }),
    ),
  ),
];

describe("marketplace charges against a model (fc.commands)", () => {
  it("every step keeps the books, nothing held once ended, no seller paid twice, refunds within what was paid, and every command does what the rules say", () => {
    fc.assert(
      fc.property(
        chargeArb,
        fc.constantFrom(["sel_a"], ["sel_a", "sel_b"], ["sel_a", "sel_b", "sel_c"]),
        fc.constantFrom<PayHow | "later">("card", "card", "3ds_ok", "processing_ok", "later"),
        fc.commands(commandArbs, { maxCommands: 100, size: "max" }),
        fc.boolean(),
        (charge, sellers, how, cmds, lose) => {
          const world = new World(charge, sellers);
          if (how !== "later") pay(world, how);
          fc.modelRun(() => ({ model: {}, real: world }), cmds);
          settle(world, lose);
          world.checkSettled();
          if (process.env.MODEL_TRACE === "1" && world.problems.length > 0)
            console.log(JSON.stringify({ trace: world.trace, state: world.state }, null, 1));
          expect(world.problems).toEqual([]);
        },
      ),
      { numRuns: numRuns(400) },
    );
  });
});
