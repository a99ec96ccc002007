import type { Notification } from "@susu/domain";
import { err, ok, type Result } from "neverthrow";
import {
  escapeHtml,
  formatAmount,
  formatInstant,
  isIsoInstant,
  labelOf,
  type MailLocale,
  maskNumbers,
} from "./mail-format.js";

/** Every template name the domain sends today. */
export type MailTemplateName = Notification["template"];

/** What one e-mail says, as plain text pieces (escaped when rendered). */
export interface MailContent {
  readonly subject: string;
  /** What happened, one paragraph each. */
  readonly happened: readonly string[];
  /** What the reader must do; absent: nothing. */
  readonly action?: string;
  /** By when (already formatted); only with `action`, and only when the data carries it. */
  readonly by?: string;
}

/** A rendered e-mail: subject, plain text and HTML. */
export interface RenderedMail {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/**
 * The data fields that can carry bank or card data: what is rendered from a saved payment
 * method (`method`, `movedTo`: its brand or bank and last 4 digits), the payment provider's
 * words about a payment, a payout or a payout account (`failureCode`, `failureMessage`,
 * `disabledReason`, `requirements`), and how money owed was paid outside it (`reference`: the
 * bank transfer's reference, or an admin's note of it); and any field named for an account,
 * a card or a bank (`accountNumber`, `cardLast4`, `bsb`, `iban`…), should one be added. Their
 * values are written masked ({@link maskNumbers}), so no e-mail carries a full card or account
 * number that came with them. Nothing else is masked: what people wrote themselves (a group's
 * name, a booking's description, a member's name, a cancellation's reason) reaches them as
 * written.
 */
const PAYMENT_DATA_FIELDS: ReadonlySet<string> = new Set([
  "method",
  "movedTo",
  "failureCode",
  "failureMessage",
  "disabledReason",
  "requirements",
  "reference",
]);

/**
 * The templates whose `reason` is why a transfer to a payout account cannot be made (the
 * payment provider's refusal, or what the account lacks): payment data too. Elsewhere a
 * `reason` is a code, or people's own words (why an admin cancelled a round).
 */
const ACCOUNT_REASON_TEMPLATES: ReadonlySet<string> = new Set(["payout_blocked", "release_blocked"]);

/** A field named for an account, a card or a bank (see {@link PAYMENT_DATA_FIELDS}). */
const PAYMENT_DATA_NAME = /account|card|bank|iban|bsb|routing|sortCode|last4/i;

/** Whether a data field of a template can carry bank or card data (see {@link PAYMENT_DATA_FIELDS}). */
export function carriesPaymentData(template: string, key: string): boolean {
  return (
    PAYMENT_DATA_FIELDS.has(key) ||
    PAYMENT_DATA_NAME.test(key) ||
    (key === "reason" && ACCOUNT_REASON_TEMPLATES.has(template))
  );
}

/**
 * The notification's data, read with formatting: amounts in its currency, instants in the
 * time zone, the fields that can carry bank or card data masked.
 */
export class MailData {
  constructor(
    private readonly n: Notification,
    private readonly where: MailLocale,
  ) {}

  get aggregate(): string {
    return this.n.aggregate;
  }

  /** A value as text, or `fallback` when absent. */
  text(key: string, fallback = ""): string {
    const v = this.n.data[key];
    return v === undefined ? fallback : this.written(key, v);
  }

  /** A value as written in the e-mail: masked when its field can carry bank or card data. */
  private written(key: string, v: string | number): string {
    return carriesPaymentData(this.n.template, key) ? maskNumbers(String(v)) : String(v);
  }

  has(key: string): boolean {
    return this.n.data[key] !== undefined;
  }

  /** A number, or undefined when absent or not a number. */
  number(key: string): number | undefined {
    const v = this.n.data[key];
    return typeof v === "number" ? v : undefined;
  }

  /** An amount in minor units (`amountMinor`) in the data's `currency`. */
  amount(key: string): string | undefined {
    const v = this.n.data[key];
    if (typeof v !== "number") return undefined;
    const currency = this.n.data.currency;
    return typeof currency === "string" ? formatAmount(v, currency, this.where.locale) : `${v} (minor units)`;
  }

  /** An instant (ISO) in the reader's time zone. */
  date(key: string): string | undefined {
    const v = this.n.data[key];
    return typeof v === "string" ? formatInstant(v, this.where) : undefined;
  }

  /** Every data field, labelled and formatted: what the details table shows. */
  details(): readonly (readonly [string, string])[] {
    return Object.entries(this.n.data)
      .filter(([key]) => key !== "currency")
      .map(([key, v]) => {
        if (key.endsWith("Minor") && typeof v === "number") return [labelOf(key), this.amount(key) ?? ""];
        if (typeof v === "string" && isIsoInstant(v)) return [labelOf(key), formatInstant(v, this.where)];
        return [labelOf(key), this.written(key, v)];
      });
  }
}

type Template = (d: MailData) => MailContent;

const amountOr = (d: MailData, key: string, fallback: string): string => d.amount(key) ?? fallback;

/** `{ by }` when the data carries the instant `key`; nothing otherwise. */
const byDate = (d: MailData, key: string): { by?: string } => {
  const by = d.date(key);
  return by === undefined ? {} : { by };
};

/** What else still holds a held payment's release back (`waitsFor` of a won dispute's notice). */
const RELEASE_WAITS_FOR: Readonly<Record<string, string>> = {
  fulfilment: "the booking to be confirmed fulfilled",
  admin_hold: "an administrator's hold to be lifted",
  dispute: "another dispute of the payment to close",
  refund: "a refund of the payment to finish",
  seller_account: "the seller's payout account to be able to receive transfers",
  transfer: "an administrator to settle a transfer that could not be made",
};

/**
 * What a won dispute's closure (an inquiry's too) did to a held payment's release, as the
 * payment's notice says (`release`, see the domain's `releaseAfterWon`): a win lifts the
 * dispute's freeze and releases nothing by itself — the release goes when it is due and
 * nothing else holds it.
 */
function heldReleaseAfterWon(d: MailData): string {
  const lifted = "The dispute no longer holds the release of the seller's share back";
  switch (d.text("release")) {
    case "started":
      return `${lifted}: the transfer to the seller is being made now.`;
    case "under_way":
      return `${lifted}: the transfer to the seller asked for before it goes on.`;
    case "due":
      return `${lifted}: nothing is released now; it is due on ${d.date("releaseDueAt") ?? "its release date"}, as planned.`;
    case "waits":
      return `${lifted}, but it still waits for ${RELEASE_WAITS_FOR[d.text("waitsFor")] ?? "something else that holds it"}.`;
    case "done":
      return "The seller's share had been released before the dispute; nothing changes.";
    case "none":
      return "Nothing of the payment is left to release to the seller.";
    default:
      // A notice queued before its closure said what it did.
      return `${lifted}; it goes on when nothing else holds it (its release date, an administrator's hold, a refund).`;
  }
}

const contact = "If you think this is wrong, reply to this e-mail or contact the group's administrators.";

/**
 * One template per template name the domain has. The type is a mapped type over the union
 * of names, so a name added in the domain fails to compile here until its e-mail is written.
 */
export const MAIL_TEMPLATES: { readonly [T in MailTemplateName]: Template } = {
  debit_initiated: (d) => ({
    subject: "Your contribution is being debited",
    happened: [
      `We asked your bank for ${amountOr(d, "amountMinor", "your contribution")}, your contribution to ${d.has("groupName") ? `"${d.text("groupName")}"` : `group ${d.text("groupId")}`} (round ${d.text("roundId")}), by direct debit.`,
      d.has("expectedSettlementBy")
        ? `Direct debits take a few business days: it should have gone through by ${d.date("expectedSettlementBy")}.`
        : "Direct debits take a few business days to go through.",
    ],
    action:
      "Keep enough funds in the account until the debit has gone through; you will hear from us if it fails.",
    ...byDate(d, "expectedSettlementBy"),
  }),
  contribution_retry_scheduled: (d) => ({
    subject: "Your contribution could not be collected; we will try again",
    happened: [
      `The direct debit for your contribution to round ${d.text("roundId")} did not go through (${d.text("failureCode", "no reason given")}).`,
      `We will try to collect it again on ${d.date("retryAt") ?? "a later date"}.`,
    ],
    action: "Make sure the account you debit from has enough funds for the next attempt.",
    ...byDate(d, "retryAt"),
  }),
  contribution_failed: (d) => ({
    subject: "Your contribution could not be collected",
    happened: [
      `The direct debit for the contribution of member ${d.text("memberId")} to round ${d.text("roundId")} failed (${d.text("failureCode", "no reason given")}).`,
      d.text("permanent") === "yes"
        ? "The bank refused it for good: retrying the same debit will not work."
        : "No more automatic attempts will be made.",
    ],
    action:
      d.text("permanent") === "yes"
        ? "Set up a new direct debit (update your bank details) so the contribution can be collected."
        : "Make sure the account has funds, then ask the group's administrators to collect it again.",
    ...byDate(d, "deadline"),
  }),
  contribution_collected_late: (d) => ({
    subject: "Your contribution was collected after all",
    happened: [
      `The direct debit for your contribution to ${d.has("groupName") ? `"${d.text("groupName")}"` : `group ${d.text("groupId")}`} (round ${d.text("roundId")}), ${amountOr(d, "amountMinor", "your contribution")}, went through after all, after we had told you it did not.`,
      "It counts as your contribution to this round: the further attempt we told you of will not be made, and there is nothing for you to do.",
    ],
  }),
  round_cancelling: (d) => ({
    subject: "Your round is being cancelled",
    happened: [
      `Round ${d.text("roundId")} is being cancelled: ${d.text("reason", "no reason given")}.`,
      "Contributions already collected are being refunded to the accounts they came from.",
    ],
  }),
  round_cancelled: (d) => ({
    subject: "Your round was cancelled",
    happened: [
      `Round ${d.text("roundId")} was cancelled: ${d.text("reason", "no reason given")}.`,
      "Every contribution collected for it has been refunded.",
    ],
  }),
  round_waiting_for_you: (d) => {
    const group = d.has("groupName") ? `"${d.text("groupName")}"` : "your savings group";
    const where = [
      d.has("debitSetupPath") ? `set up your direct debit (through ${d.text("debitSetupPath")})` : "",
      d.has("onboardingPath") ? `finish your payout account (through ${d.text("onboardingPath")})` : "",
    ].filter((step) => step !== "");
    return {
      subject: "Your savings group's round is waiting for you",
      happened: [
        `The next round of ${group} (round ${d.text("roundId")}) was due ${d.has("dueSince") ? `on ${d.date("dueSince")}` : "already"}, but it cannot start: you still need ${d.text("lacks", "to finish setting up your account")}.`,
        "Nobody's contribution is collected and nobody is paid until every member is ready; the round starts within minutes of that.",
      ],
      action: where.length > 0 ? `Please ${where.join(" and ")}.` : "Please finish setting up your account.",
    };
  },
  round_waiting_for_members: (d) => ({
    subject: "A round of your group cannot start: members are not ready",
    happened: [
      `The next round of ${d.has("groupName") ? `"${d.text("groupName")}"` : `group ${d.text("groupId")}`} (round ${d.text("roundId")}) was due ${d.has("dueSince") ? `on ${d.date("dueSince")}` : "already"}, but it cannot start until every member in the rotation is ready.`,
      `Not ready: ${d.text("notReady", "some members")}${d.has("moreNotReady") ? ` and ${d.text("moreNotReady")} more` : ""}.`,
      "Each of them has been told what to set up. The round starts within minutes of the last one being ready.",
    ],
    action:
      "Remind them, or remove a member who will not take part, so the round can start for everyone else.",
  }),
  payout_blocked: (d) =>
    d.text("cause") === "transfer_reversed"
      ? {
          subject: "A round's payout is blocked",
          happened: [
            `${amountOr(d, "amountMinor", "Part")} of the payout of round ${d.text("roundId")} to member ${d.text("recipientMemberId")} came back (transfer ${d.text("transferId")} was reversed).`,
            "The group is paused; what came back is sent again when the payout resumes.",
          ],
          action:
            "If you are the recipient, check your payout details (bank account) are up to date; administrators: resume the group once the reason for the reversal is dealt with (see the ticket).",
        }
      : {
          subject: "A round's payout is blocked",
          happened: [
            `The payout of round ${d.text("roundId")} to member ${d.text("recipientMemberId")} could not be made: ${d.text("reason", "no reason given")}.`,
            "The group is paused until the payout can be made.",
          ],
          action:
            "If you are the recipient, finish or update your payout details (bank account) so the payout can be retried; administrators can reassign it.",
        },
  payout_sent: (d) =>
    d.aggregate === "round"
      ? {
          subject: "Your round's pot was paid out to you",
          happened: [
            `The pot of round ${d.text("roundId")}, ${amountOr(d, "amountMinor", "the collected amount")}, was sent to your payout account.`,
            "It reaches your bank on your account's payout schedule.",
          ],
        }
      : {
          subject: "A held payment was released to you",
          happened: [
            `${amountOr(d, "amountMinor", "The payment")} was transferred to your payout account (transfer ${d.text("transferId")}).`,
            "It reaches your bank on your account's payout schedule.",
          ],
        },
  refund_failed: (d) => ({
    subject: "A refund failed",
    happened: [
      `A refund${d.has("amountMinor") ? ` of ${d.amount("amountMinor")}` : ""} could not be made (${d.text("failureCode", "no reason given")}).`,
    ],
    // A round's refund names the command that asks for it again (`retryWith`): until then a
    // refunding round stays refunding (a cancelled one stays cancelled, the member still owed it).
    action: d.has("retryWith")
      ? `Check the ticket opened for it, fix the cause, then ask Stripe for a new refund: ${d.text("retryWith")}. Until it is made the member is still owed the money (a round still refunding stays refunding).`
      : "Check the ticket opened for it, fix the cause and retry the refund, or refund by hand.",
  }),
  dispute_opened: (d) => ({
    subject: "A payment is disputed",
    happened: [
      `A customer's bank disputed a payment of ${amountOr(d, "amountMinor", "an amount")} (dispute ${d.text("disputeId")}${d.has("reason") ? `, reason: ${d.text("reason")}` : ""}).`,
      "The disputed amount is held back until the dispute is decided.",
    ],
    action: "Gather the evidence that the payment was due (receipts, agreements, messages) and submit it.",
    ...byDate(d, "evidenceDueBy"),
  }),
  dispute_closed: (d) => ({
    subject: `A dispute was closed: ${d.text("outcome", "decided")}`,
    happened: [
      `Dispute ${d.text("disputeId")} was closed; outcome: ${d.text("outcome", "unknown")}.`,
      d.text("outcome") !== "won"
        ? "The disputed amount was returned to the customer."
        : d.aggregate === "held_payment"
          ? heldReleaseAfterWon(d)
          : // "won" is every closure not lost, an inquiry's `warning_closed` too: Stripe may have taken nothing.
            "It was decided in the platform's favour: any amount Stripe took for it is back in the platform's balance.",
    ],
  }),
  transfer_reversed: (d) => ({
    subject: "A transfer was reversed",
    happened: [
      `Transfer ${d.text("transferId")} of round ${d.text("roundId")} was reversed by ${amountOr(d, "amountMinor", "an amount")}.`,
    ],
    action:
      d.text("roundEnded") === "no"
        ? "The payout is blocked and sends the money again when it resumes; see the ticket."
        : "Check the round's ledger and the ticket, and decide whether the money must be paid again.",
  }),
  unexpected_money: (d) => ({
    subject: "Money moved where none was expected",
    happened: [
      `Stripe reported money on ${d.aggregate.replace("_", " ")} ${d.text("roundId") || d.text("heldPaymentId") || d.text("marketplaceChargeId")} that susu did not expect${d.has("paymentIntentId") ? ` (payment ${d.text("paymentIntentId")})` : ""}${d.has("transferId") ? ` (transfer ${d.text("transferId")})` : ""}.`,
    ],
    // A round's surplus charge is refunded on its own (refundId): the admins need only watch
    // for that refund failing, which has its own notice naming the command to retry it.
    action: d.has("refundId")
      ? `susu is refunding it to the member on its own (refund ${d.text("refundId")}); nothing to do unless that refund fails, which you will be told.`
      : "Look at the payment in Stripe and the ticket, and refund or reassign the money by hand if needed.",
  }),
  booking_paid: (d) => {
    const what = d.text("description", "your booking");
    const held = d.has("holdEndsAt")
      ? `until ${d.date("holdEndsAt")}`
      : `until ${d.text("holdDaysAfterFulfilment", "a few")} days after the booking has taken place`;
    return d.text("recipient") === "seller"
      ? {
          subject: "A booking was paid",
          happened: [
            `The customer paid ${amountOr(d, "amountMinor", "the price")} for "${what}" (booking ${d.text("clientReference")}) on ${d.date("paidAt") ?? "today"}.`,
            `Your share${d.has("sellerShareMinor") ? ` of ${d.amount("sellerShareMinor")}` : ""}${d.has("feeMinor") ? ` (after the platform fee of ${d.amount("feeMinor")})` : ""} is held ${held}, then transferred to your payout account.`,
          ],
        }
      : {
          subject: "Your booking is paid: your receipt",
          happened: [
            `You paid ${amountOr(d, "amountMinor", "the price")} for "${what}" (booking ${d.text("clientReference")}) on ${d.date("paidAt") ?? "today"}.`,
            `We hold the payment ${held} before the seller is paid, so it can be refunded if the booking does not take place.`,
          ],
        };
  },
  payment_failed: (d) => ({
    subject: "Your payment did not go through",
    happened: [`Your payment failed (${d.text("failureCode", "no reason given")}). Nothing was charged.`],
    action: "Try again with another payment method, or contact your bank.",
  }),
  payment_expired: (d) => ({
    subject: "Your payment expired",
    happened: [
      `Your payment of ${amountOr(d, "amountMinor", "the amount due")} was not confirmed in time, so it was cancelled. Nothing was charged.`,
    ],
    action: "Start the payment again if you still want to pay.",
  }),
  checkout_expired: () => ({
    subject: "Your checkout expired",
    happened: ["The checkout was not completed in time, so it expired. Nothing was charged."],
    action: "Start the payment again if you still want to pay.",
  }),
  refund_started: (d) => ({
    subject: "Your refund is on its way",
    happened: [
      `A refund of ${amountOr(d, "amountMinor", "your payment")} was started${d.has("reason") ? ` (${d.text("reason")})` : ""}.`,
      "It usually reaches your account within 5 to 10 business days.",
    ],
  }),
  release_blocked: (d) => ({
    subject: "A held payment cannot be released",
    happened: [`The release of a held payment to you is blocked: ${d.text("reason", "no reason given")}.`],
    action:
      "Finish or update your payout details so the payment can be released; contact support if it stays blocked.",
  }),
  refund_owed: (d) => ({
    subject: "A customer must be paid outside Stripe",
    happened: [
      `${amountOr(d, "amountMinor", "An amount")} is still owed to customer ${d.text("customerEmail", "(unknown)")} (refund ${d.text("refund")} of ${d.aggregate.replace("_", " ")} ${d.text("heldPaymentId") || d.text("marketplaceChargeId")}).`,
      d.has("failureCode")
        ? `Stripe failed the refund (${d.text("failureCode")}): the card can no longer take money, and Stripe refunds only to the card charged, so a new refund would fail too. It is booked as owed to the customer and is not paid to the seller.`
        : `Dispute ${d.text("disputeId")} was lost for part of the charge, and Stripe refuses every refund of a charge charged back, so susu cannot refund the rest through Stripe. It is booked as owed to the customer and is not paid to the seller.`,
    ],
    action:
      "Pay the customer this amount by other means (a bank transfer, a credit), then record the payment (POST …/owed-payments with the bank reference): the customer is told, and the ticket is closed once nothing is left owed.",
  }),
  owed_outside_stripe: (d) => ({
    subject: "Money we owe you will come by bank transfer",
    happened: [
      d.has("roundId")
        ? `${amountOr(d, "amountMinor", "Part of your contribution")} of your contribution to ${d.has("groupName") ? `"${d.text("groupName")}"` : `group round ${d.text("roundId")}`} is owed back to you: your bank returned the rest of the charge to you after your dispute, and our payment provider cannot refund a disputed charge.`
        : d.has("failureCode")
          ? `${amountOr(d, "amountMinor", "An amount")} of your payment is owed back to you: the refund to the card you paid with could not be made (the card is no longer valid), and our payment provider can refund only to that card.`
          : `${amountOr(d, "amountMinor", "An amount")} of your payment is owed back to you: your bank returned part of the charge after a dispute, and our payment provider cannot refund a disputed charge.`,
      "We will pay it to you another way (usually a bank transfer) and tell you when we have.",
    ],
    action: "Nothing to do now. If we do not have your bank details, we will contact you for them.",
  }),
  owed_paid_outside_stripe: (d) => ({
    subject: "We paid you money we owed you",
    happened: [
      `We paid you ${amountOr(d, "amountMinor", "an amount")} outside our payment provider${d.has("reference") ? ` (reference ${d.text("reference")})` : ""}.`,
      d.number("leftMinor") === 0
        ? "Nothing more is owed to you for this."
        : `${amountOr(d, "leftMinor", "The rest")} is still owed to you; we will tell you when we pay it.`,
    ],
    action:
      "Check your bank account for the payment. If it has not arrived within a few business days, reply to this e-mail.",
  }),
  owed_reduced_by_dispute: (d) => ({
    subject: "Your bank returned money we owed you",
    happened: [
      `Your bank returned ${amountOr(d, "amountMinor", "part of your payment")} to you after your dispute: that part of what we owed you has reached you this way, so we will not pay it again.`,
      d.number("leftMinor") === 0
        ? "Nothing more is owed to you for this."
        : `${amountOr(d, "leftMinor", "The rest")} is still owed to you; we will pay it another way and tell you when we have.`,
    ],
    action: "Nothing to do. Check your bank statement for the amount your bank returned.",
  }),
  reversal_failed: (d) => ({
    subject: "Taking money back from a seller failed",
    happened: [
      `Reversal ${d.text("reversal")} of ${amountOr(d, "amountMinor", "an amount")}${d.has("sellerId") ? ` from seller ${d.text("sellerId")}` : ""} failed (${d.text("failureCode", "no reason given")}).`,
    ],
    action: "Recover the amount by hand and close the ticket.",
  }),
  payment_action_required: (d) => ({
    subject: "Your payment needs your confirmation",
    happened: [
      `Your payment of ${amountOr(d, "amountMinor", "the amount due")} needs one more step from you (your bank asks you to confirm it).`,
    ],
    action: "Open the app or the payment page and confirm the payment.",
  }),
  seller_paid: (d) => ({
    subject: "You were paid for a sale",
    happened: [
      `${amountOr(d, "amountMinor", "Your share")} was transferred to your payout account${d.has("feeMinor") ? ` (platform fee: ${d.amount("feeMinor")})` : ""}.`,
      "It reaches your bank on your account's payout schedule.",
    ],
  }),
  transfer_blocked: (d) => ({
    subject: "A seller's transfer is blocked",
    happened: [
      `The transfer to seller ${d.text("sellerId")} (attempt ${d.text("attempt")}) is blocked and will not be retried automatically.`,
    ],
    action: "Ask the seller to finish their payout details, then retry the transfer from the ticket.",
  }),
  payout_failed: (d) => ({
    subject: "Your payout was returned by your bank",
    happened: [
      `Your payout of ${amountOr(d, "amountMinor", "your balance")} failed: ${d.text("failureMessage", d.text("failureCode", "the bank returned it"))}.`,
      "The money is back in your account's balance and is safe.",
      "Payouts to this bank account are paused until you update your bank details: your balance waits for you until then.",
    ],
    action: `Update your bank account details${d.has("onboardingPath") ? ` (through ${d.text("onboardingPath")})` : ""}; the next payout after that reaches you.`,
  }),
  payout_refused: (d) => ({
    subject: "We could not pay out your balance",
    happened: [
      `Your payout of ${amountOr(d, "amountMinor", "your balance")} could not be made: ${d.text("failureMessage", d.text("failureCode", "the payment provider refused it"))}.`,
      "The money stays in your account's balance and is safe.",
    ],
    action: `Check your payout details${d.has("onboardingPath") ? ` (through ${d.text("onboardingPath")})` : ""}; the next payout run tries again.`,
  }),
  onboarding_incomplete: (d) => ({
    subject: "Your payout account needs more information",
    happened: [
      "Our payment provider cannot send money to your payout account until you give it more information.",
      d.has("requirements") && d.text("requirements") !== ""
        ? `It asks for: ${d.text("requirements")}${d.has("moreRequirements") ? ` and ${d.text("moreRequirements")} more` : ""}.`
        : `It has paused the account (${d.text("disabledReason", "no reason given")}).`,
      "Until then, payouts and released payments wait for you; nothing is lost.",
    ],
    action: `Continue your payout onboarding${d.has("onboardingPath") ? ` (through ${d.text("onboardingPath")})` : ""} and give what is asked.`,
  }),
  payment_method_detached: (d) =>
    d.has("movedTo")
      ? {
          subject: "Your savings groups now debit your other bank account",
          happened: [
            d.text("removedBy") === "person"
              ? `You removed your ${d.text("method", "bank account")}, the account your savings groups debited.`
              : `Your ${d.text("method", "bank account")} was removed from your account at our payment provider, not through the app.`,
            `Your contributions are now collected from your ${d.text("movedTo")}.`,
          ],
        }
      : {
          subject: "The bank account your savings group debits was removed",
          happened: [
            `Your ${d.text("method", "bank account")} was removed from your account at our payment provider, not through the app, while your group's round relies on it.`,
            "Your next contribution cannot be collected until you save another account.",
          ],
          action: `Save a new bank account${d.has("setupPath") ? ` (through ${d.text("setupPath")})` : ""}: it becomes the one your groups debit.`,
        },
  member_payment_method_detached: (d) => ({
    subject: "A member's bank account was removed during a round",
    happened: [
      `${d.text("memberName", d.text("memberId", "A member"))}'s ${d.text("method", "bank account")} was removed at our payment provider while your group's round relies on it.`,
      "Their contribution will fail unless they save another account; they have been asked to.",
    ],
    action: "No action is needed from you now; a ticket was opened for our support team.",
  }),
  mandate_inactive: (d) => ({
    subject: "Your direct debit authority has stopped",
    happened: [
      `The direct debit authority for your ${d.text("method", "bank account")} is no longer active (your bank or our provider cancelled it).`,
      d.has("movedTo")
        ? `Your contributions are now collected from your ${d.text("movedTo")}.`
        : d.text("usedForDebits") === "yes"
          ? "Your savings groups cannot collect your contributions from it any more."
          : "It can no longer be used for payments.",
    ],
    ...(d.has("movedTo")
      ? {}
      : {
          action: `Save the bank account again, or another one${d.has("setupPath") ? ` (through ${d.text("setupPath")})` : ""}, and accept the direct debit request${d.text("usedForDebits") === "yes" ? ": it becomes the one your groups debit" : ""}.`,
        }),
  }),
  membership_card_detached: (d) =>
    d.has("movedTo")
      ? {
          subject: "Your membership is now charged on your other card",
          happened: [
            `Your ${d.text("method", "card")}, the card your membership is charged on, was removed from your account at our payment provider, not through the app.`,
            `Your membership is now charged on your ${d.text("movedTo")}.`,
          ],
        }
      : {
          subject: "Your membership has no card to charge",
          happened: [
            `Your ${d.text("method", "card")}, the card your membership is charged on, was removed from your account at our payment provider, not through the app.`,
            "Your next membership payment cannot be collected until you save another card.",
          ],
          action: `Save a new card${d.has("setupPath") ? ` (through ${d.text("setupPath")})` : ""} and make it your default: your membership is then charged on it.`,
        },
  membership_trial_ending: (d) => ({
    subject: "Your membership trial ends soon",
    happened: [
      `Your free trial ends on ${d.date("trialEnd") ?? "its last day"}. After that, your membership costs ${amountOr(d, "amountMinor", "its price")} per ${d.text("interval", "period")}.`,
    ],
    action:
      "Nothing, if you want to stay a member: your saved payment method is charged then. Cancel before then if you do not.",
    ...byDate(d, "deadline"),
  }),
  membership_payment_failed: (d) =>
    // `planChange`: the payment of a plan change the person asked for, which Stripe makes only
    // once it is paid; the membership stays as it was meanwhile.
    d.text("planChange") === "yes"
      ? {
          subject: "Your plan change is waiting for its payment",
          happened: [
            `We could not collect ${amountOr(d, "amountMinor", "the payment")} for the change of your membership to plan ${d.text("requestedPlanId", "you asked for")}.`,
            `Your membership stays on plan ${d.text("planId")} until it is paid. If it is not paid by ${d.date("changeExpiresAt") ?? "tomorrow"}, the change is dropped and nothing is charged for it.`,
          ],
          action: `Pay the invoice now${d.has("hostedInvoiceUrl") ? ` at ${d.text("hostedInvoiceUrl")}` : ""}, or ask for the change again later with a payment method that works.`,
          ...byDate(d, "changeExpiresAt"),
        }
      : {
          subject: "Your membership payment did not go through",
          happened: [
            `We could not collect ${amountOr(d, "amountMinor", "your membership payment")} for your membership (attempt ${d.text("attempt", "1")}).`,
            d.text("firstPayment") === "yes"
              ? "Your membership has not started: it starts once this first payment goes through. We do not try it again by ourselves, and the membership is cancelled if it is not paid within 23 hours of subscribing."
              : d.text("lastAttempt") === "yes"
                ? "That was the last automatic attempt: your membership has lapsed."
                : `We will try again on ${d.date("deadline") ?? "a later date"}. Your membership stays active until then.`,
          ],
          action: `Update your payment method, or pay the invoice now${d.has("hostedInvoiceUrl") ? ` at ${d.text("hostedInvoiceUrl")}` : ""}.`,
          ...byDate(d, "deadline"),
        },
  membership_payment_action_required: (d) => ({
    subject: "Confirm your membership payment",
    happened: [
      `Your bank asks you to confirm the payment of ${amountOr(d, "amountMinor", "your membership")} before it can go through.`,
    ],
    action: `Open the invoice${d.has("hostedInvoiceUrl") ? ` at ${d.text("hostedInvoiceUrl")}` : ""} and confirm the payment with your bank.`,
  }),
  membership_lapsed: (d) =>
    // `ended`: Stripe ended the subscription for non-payment, and susu voids its unpaid
    // invoice: paying it restores nothing (a payment that still goes through is refunded).
    d.text("ended") === "yes"
      ? {
          subject: "Your membership has ended",
          happened: [
            `We could not collect your membership payment of ${amountOr(d, "amountMinor", "its price")} after every attempt, so your membership has ended.`,
            "Groups and bookings you already take part in carry on as before; what the membership adds is no longer available.",
            "Its unpaid invoice is being cancelled, so you do not need to pay it; a payment of it that still goes through is refunded.",
          ],
          action: "To be a member again, subscribe again.",
        }
      : {
          subject: "Your membership has lapsed",
          happened: [
            `We could not collect your membership payment of ${amountOr(d, "amountMinor", "its price")} after every attempt, so your membership has lapsed.`,
            "Groups and bookings you already take part in carry on as before; what the membership adds is no longer available.",
          ],
          action:
            "Pay the open invoice to restore your membership. To start afresh instead, cancel this membership, then subscribe again.",
        },
  membership_refunded: (d) => {
    // "In full" only when what went back is what was collected (notices sent before
    // `collectedMinor` was carried were all for refunds in full).
    const collected = d.number("collectedMinor");
    const part = collected !== undefined && (d.number("amountMinor") ?? 0) < collected;
    const paid = d.amount("collectedMinor") ?? amountOr(d, "amountMinor", "your membership");
    return {
      subject: part
        ? "Part of your membership payment has been refunded"
        : "Your membership payment has been refunded",
      happened: [
        `You cancelled your membership before its payment reached us, and the payment of ${paid} went through anyway.`,
        part
          ? `Your membership stays cancelled. We have refunded ${amountOr(d, "amountMinor", "part of it")} of that payment. Part of it may have been refunded to you before; someone from our team is checking the rest.`
          : "Your membership stays cancelled, and we have refunded that payment in full: you have not been charged for it.",
      ],
      action: part
        ? "Nothing for now: we will be in touch about the rest. The refund usually shows on your statement within 5 to 10 business days, depending on your bank."
        : "Nothing. The refund usually shows on your statement within 5 to 10 business days, depending on your bank.",
    };
  },
  membership_refund_reversed: (d) => ({
    subject: "Your membership refund did not reach you",
    happened: [
      `We refunded ${amountOr(d, "amountMinor", "your membership payment")} to you, but your bank or card could not take the refund and it came back to us.`,
      "The money has not reached you. Someone from our team is looking at it to get it back to you.",
    ],
    action: "Nothing for now: we will be in touch.",
  }),
  membership_change_refused: (d) => ({
    subject: "Your membership plan was not changed",
    happened: [
      // `unpaid`: Stripe held the change until its payment went through, and it did not in time.
      d.text("unpaid") === "yes"
        ? `You asked to change your membership to plan ${d.text("requestedPlanId")} (${amountOr(d, "requestedAmountMinor", "its price")} per ${d.text("requestedInterval", "period")}), but its payment did not go through in time, so the change was dropped.`
        : `You asked to change your membership to plan ${d.text("requestedPlanId")} (${amountOr(d, "requestedAmountMinor", "its price")} per ${d.text("requestedInterval", "period")}), but our payment provider refused the change (${d.text("failureCode", "no reason given")}).`,
      `Nothing was charged for it. Your membership stays on plan ${d.text("planId")} at ${amountOr(d, "amountMinor", "its price")} per ${d.text("interval", "period")}, with everything it includes.`,
    ],
    action:
      "Nothing, if you are happy with your plan. To change it, choose a plan that is on offer now and ask again.",
  }),
  membership_card_change_refused: (d) => ({
    subject: "Your membership is still charged on the same card",
    happened: [
      `You made your card ${d.text("requestedPaymentMethodId", "a new card")} your default, but our payment provider refused to charge your membership on it (${d.text("failureCode", "no reason given")}).`,
      d.has("chargedOnPaymentMethodId")
        ? `Your membership is still charged on your card ${d.text("chargedOnPaymentMethodId")}.`
        : "Your membership is still charged on the card it was charged on before.",
    ],
    action:
      "Nothing, if that card is fine. Otherwise save another card and make it your default: your membership is then charged on it.",
  }),
  // For the admins; the period is written in UTC, as reconciliation periods are. The first
  // notice of a period, or the follow-up of a later run that found other differences
  // (`change: changed`) or none any more (`cleared`).
  reconciliation_differences: (d) => {
    const period = `${d.text("periodFrom", "the period")} to ${d.text("periodTo", "its end")} (UTC, end exclusive)`;
    const before = `its last run found ${d.text("previousDifferences", "others")}`;
    const ticket = `the ticket${d.has("ticketUrl") ? ` (${d.text("ticketUrl")})` : ""}`;
    const once =
      "You are told of a period's differences once, and again only when a later run of it finds other ones or none.";
    if (d.text("change") === "cleared")
      return {
        subject: "Reconciliation with Stripe: a period has no differences any more",
        happened: [
          `A later reconciliation of susu's ledger with Stripe found no differences for ${period}; ${before}.`,
          `Its ticket is resolved${d.has("ticketUrl") ? ` (${d.text("ticketUrl")})` : ""}.`,
          once,
        ],
      };
    const changed = d.text("change") === "changed";
    return {
      subject: changed
        ? `Reconciliation with Stripe: a period's differences changed, now ${d.text("differences", "some")} difference(s)`
        : `Reconciliation with Stripe found ${d.text("differences", "some")} difference(s)`,
      happened: [
        changed
          ? `A later reconciliation of susu's ledger with Stripe found other differences for ${period}: ${d.text("differences", "some")} difference(s) now; ${before}.`
          : `The daily reconciliation of susu's ledger with Stripe found ${d.text("differences", "some")} difference(s) for ${period}.`,
        `By kind: ${d.text("differencesByKind", "(not given)")}.`,
        `Amounts of the differences per currency (money into the platform balance positive): ${d.text("amountsByCurrency", "(not given)")}.`,
        once,
      ],
      action: `Read ${ticket}${changed ? " (its notes say what each later run found; it is open again if it had been resolved)" : ""} and the period's reports (GET /v1/operations/reconciliation/reports), find why each difference arose${d.has("runbookUrl") ? ` as the runbook says (${d.text("runbookUrl")})` : ""}, correct what must be, then resolve the ticket.`,
    };
  },
};

/**
 * Why an e-mail cannot be written: its notification names a template this release has not
 * got (stored by an older or newer one), or Intl refuses the reader's locale or time zone.
 * Writing it again would fail again.
 */
export interface MailRenderError {
  readonly type: "mail_unrenderable";
  readonly code: "mail_unrenderable";
  readonly message: string;
}

/**
 * The e-mail for a notification: its template's words, the data's details, escaped and
 * masked. Throws when it cannot be written (see {@link MailRenderError}; {@link tryRenderMail}
 * answers that as an error instead).
 */
export function renderMail(n: Notification, where: MailLocale): RenderedMail {
  const data = new MailData(n, where);
  // The name comes from the database: only the table's own entries are templates.
  const template: Template | undefined = Object.hasOwn(MAIL_TEMPLATES, n.template)
    ? MAIL_TEMPLATES[n.template]
    : undefined;
  if (template === undefined)
    throw new RangeError(`there is no e-mail template ${JSON.stringify(n.template)} in this release`);
  const content = template(data);
  // The values that can carry bank or card data were masked as they were read (MailData).
  const rows = data.details();
  const { subject, happened, action, by } = content;

  const text = [
    ...happened,
    ...(action !== undefined ? [`What to do: ${action}`] : []),
    ...(action !== undefined && by !== undefined ? [`By: ${by}`] : []),
    ["Details:", ...rows.map(([k, v]) => `  ${k}: ${v}`)].join("\n"),
    contact,
    `Reference: ${n.id}`,
  ].join("\n\n");

  const e = escapeHtml;
  const html = [
    "<!doctype html>",
    `<html><head><meta charset="utf-8"><title>${e(subject)}</title></head><body>`,
    ...happened.map((p) => `<p>${e(p)}</p>`),
    ...(action !== undefined ? [`<p><strong>What to do:</strong> ${e(action)}</p>`] : []),
    ...(action !== undefined && by !== undefined ? [`<p><strong>By:</strong> ${e(by)}</p>`] : []),
    "<table>",
    ...rows.map(([k, v]) => `<tr><th align="left">${e(k)}</th><td>${e(v)}</td></tr>`),
    "</table>",
    `<p>${e(contact)}</p>`,
    `<p><small>Reference: ${e(n.id)}</small></p>`,
    "</body></html>",
  ].join("\n");

  return { subject, text, html };
}

/** {@link renderMail}, with an e-mail that cannot be written as an error rather than a throw. */
export function tryRenderMail(n: Notification, where: MailLocale): Result<RenderedMail, MailRenderError> {
  try {
    return ok(renderMail(n, where));
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    return err({
      type: "mail_unrenderable",
      code: "mail_unrenderable",
      message: `the e-mail cannot be written (template ${n.template}, ${where.locale}, ${where.timeZone}): ${reason}`,
    });
  }
}
