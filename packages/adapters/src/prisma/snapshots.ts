// The shapes of what the database stores as JSON: whole aggregates (the `snapshot`
// columns of groups, rounds, held payments and marketplace charges) and outbox effects (`payload`), and of a person (stored as columns, checked
// with the same rigour when written and read). JSON read back from PostgreSQL is untrusted
// until it has been checked against the domain's types, so every load goes through
// these schemas. The type assertions at the end make the build fail when the domain
// type and the schema drift apart, in either direction.
import {
  CADENCES,
  CURRENCY_CODES,
  type CurrencyCode,
  createLedgerTransaction,
  type Group,
  HELD_PAYMENT_NOTIFICATION_TEMPLATES,
  HELD_PAYMENT_TICKET_REASONS,
  type HeldPayment,
  type LedgerTransaction,
  MARKETPLACE_CHARGE_NOTIFICATION_TEMPLATES,
  MARKETPLACE_CHARGE_TICKET_REASONS,
  type MarketplaceCharge,
  NOTIFICATION_TEMPLATES,
  type OutboxEffect,
  PAYMENT_METHOD_NOTIFICATION_TEMPLATES,
  PAYMENT_METHOD_TICKET_REASONS,
  PAYOUT_NOTIFICATION_TEMPLATES,
  PAYOUT_ORDER_METHODS,
  PAYOUT_TICKET_REASONS,
  type Person,
  PLAN_INTERVALS,
  type Plan,
  type Round,
  SUBSCRIPTION_NOTIFICATION_TEMPLATES,
  SUBSCRIPTION_STATUSES,
  SUBSCRIPTION_TICKET_REASONS,
  type Subscription,
  TICKET_REASONS,
} from "@susu/domain";
import { err, ok, type Result } from "neverthrow";
import { z } from "zod";

const safeInt = z.int();
const nonNegative = z.int().min(0);
const instant = z.int().min(0);
const text = z.string();
const currency = z.enum(CURRENCY_CODES as readonly [CurrencyCode, ...CurrencyCode[]]);
const list = <T extends z.ZodType>(item: T) => z.array(item).readonly();

const retryPolicy = z.strictObject({
  baseDelayMs: safeInt,
  factor: z.number(),
  maxDelayMs: safeInt,
  jitter: z.enum(["full", "equal", "none"]),
  attemptsMax: safeInt,
});

// Group snapshots written before people existed hold each member's Stripe ids
// (`payment`) and readiness; those belong to the person now (the people migration moved
// them to `people`), so they are dropped when read, and the group's next write leaves
// them out. Any other unknown field is still refused.
const LEGACY_MEMBER_FIELDS = new Set(["payment", "readiness"]);
const withoutLegacyMemberFields = (value: unknown): unknown =>
  typeof value === "object" && value !== null && !Array.isArray(value)
    ? Object.fromEntries(Object.entries(value).filter(([key]) => !LEGACY_MEMBER_FIELDS.has(key)))
    : value;

const member = z.preprocess(
  withoutLegacyMemberFields,
  z.strictObject({
    id: text,
    displayName: text,
    role: z.enum(["admin", "member"]),
    status: z.enum(["active", "pending", "leaving", "left"]),
    joinedAt: instant,
  }),
);

const person = z.strictObject({
  id: text,
  displayName: text,
  customerId: text.exactOptional(),
  customerRequestedAt: instant.exactOptional(),
  debit: z
    .strictObject({ paymentMethodId: text, mandateId: text, mandateActive: z.boolean() })
    .exactOptional(),
  payout: z.strictObject({ connectedAccountId: text, payoutsEnabled: z.boolean() }).exactOptional(),
  createdAt: instant,
  version: nonNegative,
});

const groupSnapshot = z.strictObject({
  id: text,
  name: text,
  currency,
  contributionMinor: safeInt,
  cadence: z.enum(CADENCES as readonly ["weekly", "fortnightly", "monthly"]),
  startsAt: instant,
  // The IANA time zone of the group's schedule; snapshots stored before groups had one are
  // in UTC, which keeps their schedule as it was.
  timeZone: text.default("UTC"),
  rotationsPlanned: safeInt,
  status: z.enum(["forming", "active", "paused", "completed", "closed"]),
  pausedReason: text.exactOptional(),
  adminPause: z.strictObject({ by: text, at: instant, reason: text }).exactOptional(),
  closure: z.strictObject({ by: text, at: instant, reason: text }).exactOptional(),
  members: list(member),
  payoutOrder: z.strictObject({
    method: z.enum(
      PAYOUT_ORDER_METHODS as readonly ["fixed", "join_order", "seeded_draw", "reverse_join_order"],
    ),
    memberIds: list(text),
    seed: text.exactOptional(),
  }),
  rotation: z.strictObject({ number: safeInt, receivedMemberIds: list(text), roundSequence: nonNegative }),
  currentRoundId: text.exactOptional(),
  // When the last round opened (absent before the first, and in snapshots stored before it
  // was kept: the next round then keeps to its slot).
  lastRoundOpenedAt: instant.exactOptional(),
  pendingSwaps: list(z.strictObject({ proposedBy: text, counterparty: text, proposedAt: instant })),
  policy: z.strictObject({
    collectionWindowMs: safeInt,
    settlementGraceMs: safeInt,
    payoutDelayMs: safeInt,
    debitRetry: retryPolicy,
    payoutRetry: retryPolicy,
    maxCollectionMs: safeInt.exactOptional(),
  }),
  createdAt: instant,
  version: nonNegative,
});

const failureClass = z.enum(["retryable", "permanent", "outcome_unknown"]);

const debitAttempt = z.strictObject({
  number: z.int().min(1),
  effectId: text,
  status: z.enum(["requested", "processing", "succeeded", "failed"]),
  requestedAt: instant,
  paymentIntentId: text.exactOptional(),
  chargeId: text.exactOptional(),
  failureCode: text.exactOptional(),
  failureClass: failureClass.exactOptional(),
  initiatedPosted: z.boolean(),
  // A charge taken after susu recorded the attempt as failed (absent on every other attempt,
  // and in snapshots stored before surplus charges were refunded on their own).
  surplus: z
    .strictObject({
      status: z.enum(["held", "refund_requested", "refunded", "refund_failed", "charged_back"]),
      refundId: text.exactOptional(),
      refundAttempt: z.int().min(1).exactOptional(),
      // The member's dispute of this charge (absent until one is heard, and in snapshots
      // stored before a surplus charge's dispute was booked against it).
      disputeId: text.exactOptional(),
      disputedMinor: z.int().min(0).exactOptional(),
      lossBooked: z.boolean().exactOptional(),
      // Whether the dispute's part is booked withdrawn from the pot (absent: not, and in
      // snapshots stored before it was kept).
      withdrawnBooked: z.boolean().exactOptional(),
      // A dispute closed won whose withdrawal stays beside our refund, which posted only the
      // rest (absent otherwise, and in snapshots stored before it was kept).
      wonWithdrawal: z.strictObject({ disputeId: text, amountMinor: z.int().min(0) }).exactOptional(),
      // The dispute's withdrawal, booked while our refund was out, undone when that refund
      // landed whole (absent otherwise, and in snapshots stored before it was kept).
      withdrawalUndone: z.boolean().exactOptional(),
    })
    .exactOptional(),
});

// A payment an admin recorded of money owed outside Stripe (since paid_outside_stripe).
const owedPayment = z.strictObject({
  number: z.int().min(1),
  amountMinor: safeInt,
  reference: text,
  paidBy: text,
  recordedAt: instant,
});

// A recovery an admin recorded of money a customer owed back (since owed_recovered_from_customer).
const owedRecovery = z.strictObject({
  number: z.int().min(1),
  amountMinor: safeInt,
  reference: text,
  recordedBy: text,
  recordedAt: instant,
  settledDisputeIds: list(text).exactOptional(),
});

const contribution = z.strictObject({
  memberId: text,
  amountMinor: safeInt,
  status: z.enum([
    "awaiting_debit",
    "processing",
    "retry_scheduled",
    "succeeded",
    "failed",
    "refund_requested",
    "refunded",
    "refund_failed",
    "disputed",
  ]),
  attempts: list(debitAttempt),
  retryAt: instant.exactOptional(),
  refundId: text.exactOptional(),
  // Since refunds could be retried (retry_refund); absent in older snapshots and until a
  // retry: attempt 1.
  refundAttempt: z.int().min(1).exactOptional(),
  disputeIds: list(text),
  // Disputes heard after a refund of ours had paid the contribution back, booked as the
  // member's loss (absent when there are none, and in snapshots stored before they were kept).
  disputedAfterRefund: list(z.strictObject({ disputeId: text, amountMinor: safeInt })).exactOptional(),
  // Disputes heard while a refund of ours was out, booked when its outcome is heard (absent
  // when there are none, and in snapshots stored before they were kept).
  disputedWhileRefundOut: list(z.strictObject({ disputeId: text, amountMinor: safeInt })).exactOptional(),
  // Disputes heard before the success of the charge they name (absent when there are none,
  // and in snapshots stored before such disputes were kept pending).
  pendingDisputes: list(
    z.strictObject({
      disputeId: text,
      amountMinor: safeInt,
      attempt: z.int().min(1).exactOptional(),
      paymentIntentId: text.exactOptional(),
    }),
  ).exactOptional(),
  // Since paid_outside_stripe: what the round booked as owed to the member outside Stripe,
  // and the payments admins recorded of it (absent: none, and in snapshots stored before).
  owedOutsideStripeMinor: nonNegative.exactOptional(),
  owedPayments: list(owedPayment).exactOptional(),
  // How the disputes that booked money when heard were booked (a member's loss, or the bank's
  // part withdrawn from the pot), for a closure won to undo; and the disputes closed won
  // (absent when there are none, and in snapshots stored before they were kept).
  disputeBookings: list(
    z.strictObject({ disputeId: text, as: z.enum(["loss", "withdrawn"]), amountMinor: z.int().min(0) }),
  ).exactOptional(),
  disputesWon: list(text).exactOptional(),
  // The disputes closed won whose closure left money owed (their won ticket is resolved once it
  // is paid; absent when there are none, and in snapshots stored before they were kept).
  disputesWonOwed: list(text).exactOptional(),
});

const payoutTransfer = z.strictObject({
  sourceMemberId: text,
  sourceChargeId: text,
  amountMinor: safeInt,
  attempt: z.int().min(1),
  effectId: text,
  status: z.enum(["requested", "created", "failed", "reversed"]),
  transferId: text.exactOptional(),
  failureCode: text.exactOptional(),
  reversedMinor: safeInt.exactOptional(),
  earlier: list(
    z.strictObject({
      transferId: text,
      effectId: text,
      attempt: z.int().min(1),
      amountMinor: safeInt,
      reversedMinor: safeInt,
    }),
  ).exactOptional(),
});

const roundSnapshot = z.strictObject({
  id: text,
  groupId: text,
  rotation: safeInt,
  sequence: nonNegative,
  recipientMemberId: text,
  recipientCanReceive: z.boolean(),
  currency,
  contributionMinor: safeInt,
  status: z.enum([
    "scheduled",
    "collecting",
    "settled",
    "paying_out",
    "payout_blocked",
    "paid_out",
    "refunding",
    "cancelled",
  ]),
  scheduledFor: instant,
  openedAt: instant.exactOptional(),
  collectionDeadlineAt: instant.exactOptional(),
  graceEndsAt: instant.exactOptional(),
  deadlineExtensions: nonNegative.exactOptional(),
  transferGroup: text,
  contributions: list(contribution),
  payouts: list(payoutTransfer),
  payoutAttempt: nonNegative,
  payoutFailures: nonNegative,
  payoutRetryArmedFor: nonNegative.exactOptional(),
  blockedReason: text.exactOptional(),
  cancellationReason: text.exactOptional(),
  endedAt: instant.exactOptional(),
  version: nonNegative,
});

const transferAttempt = z.strictObject({
  number: z.int().min(1),
  effectId: text,
  amountMinor: safeInt,
  status: z.enum(["requested", "created", "failed", "unknown"]),
  requestedAt: instant,
  transferId: text.exactOptional(),
  failureCode: text.exactOptional(),
  failureMessage: text.exactOptional(),
  lookups: z.int().min(1).exactOptional(),
  // Since late_transfer_unbooked: landed late and not booked (absent: booked, or not landed).
  unbooked: z.literal(true).exactOptional(),
});

const transferReversal = z.strictObject({
  number: z.int().min(1),
  effectId: text,
  amountMinor: safeInt,
  reason: z.enum(["refund", "dispute_lost"]),
  forRefund: z.int().min(1).exactOptional(),
  forDisputeId: text.exactOptional(),
  status: z.enum(["requested", "reversed", "failed"]),
  failureCode: text.exactOptional(),
});

const heldRefund = z.strictObject({
  number: z.int().min(1),
  amountMinor: safeInt,
  sellerPartMinor: safeInt,
  feePartMinor: safeInt,
  // Since held platform_funded: what the platform pays itself of an amount off the step.
  platformFundedMinor: safeInt.exactOptional(),
  stage: z.enum(["holding", "earmarked", "transferred"]),
  reason: z.enum(["unfulfilled", "admin", "late_payment"]),
  full: z.boolean(),
  status: z.enum([
    "reversing",
    "requested",
    "succeeded",
    "failed",
    "reversal_failed",
    "superseded_by_dispute",
    // Since owed_to_customer: the rest of a partial loss, owed outside Stripe.
    "owed_outside_stripe",
  ]),
  attempts: nonNegative,
  reversalNumber: z.int().min(1).exactOptional(),
  refundId: text.exactOptional(),
  failureCode: text.exactOptional(),
  ledgerPosted: z.boolean(),
  supersededBy: text.exactOptional(),
  lookups: z.int().min(1).exactOptional(),
  // Since refund_failed_after_success: how many times Stripe failed it after its success.
  failedAfterSuccess: z.int().min(1).exactOptional(),
  // Since held_refund_superseded: where a superseded refund's money was moved to.
  supersededMoneyAt: z.enum(["earmarked", "transferred"]).exactOptional(),
});

const heldDispute = z.strictObject({
  id: text,
  amountMinor: safeInt,
  reason: text,
  stripeStatus: text,
  evidenceDueBy: instant.exactOptional(),
  status: z.enum(["open", "won", "lost"]),
  waitingLossMinor: safeInt.exactOptional(),
  lostMinor: safeInt.exactOptional(),
  // Since a loss takes what it took beyond what was left from what is owed outside Stripe.
  owedTakenMinor: z.int().min(1).exactOptional(),
  // Since a loss takes what it took beyond what was still owed from what an admin had paid.
  overpaidMinor: z.int().min(1).exactOptional(),
  sellerPartMinor: safeInt.exactOptional(),
  feePartMinor: safeInt.exactOptional(),
  // Since held platform_funded: what the platform pays itself of a loss off the step.
  platformFundedMinor: safeInt.exactOptional(),
  lossBooked: z.boolean().exactOptional(),
  reversalNumber: z.int().min(1).exactOptional(),
  // Since held_refund_superseded: lost while the transfer was in flight, its owed rest waits.
  owedRestWaits: z.literal(true).exactOptional(),
});

const heldPaymentSnapshot = z.strictObject({
  id: text,
  clientReference: text,
  requestedBy: text,
  description: text,
  currency,
  amountMinor: safeInt,
  fee: z.discriminatedUnion("kind", [
    z.strictObject({ kind: z.literal("rate"), basisPoints: safeInt }),
    z.strictObject({ kind: z.literal("fixed"), amountMinor: safeInt }),
  ]),
  feeMinor: safeInt,
  sellerShareMinor: safeInt,
  seller: z.strictObject({ id: text, connectedAccountId: text }),
  sellerCanReceive: z.boolean(),
  customer: z.strictObject({ email: text, name: text.exactOptional() }),
  disputeWindowMs: safeInt,
  transferGroup: text,
  successUrl: text,
  cancelUrl: text.exactOptional(),
  status: z.enum([
    "awaiting_payment",
    "payment_processing",
    "held",
    "releasing",
    "release_blocked",
    "released",
    "refunding",
    "refunded",
    "expired",
    "payment_failed",
    "charged_back",
  ]),
  createdAt: instant,
  checkoutExpiresAt: instant,
  checkoutSessionId: text.exactOptional(),
  checkoutUrl: text.exactOptional(),
  expiryRequestedAt: instant.exactOptional(),
  expiryAsks: z.int().min(1).exactOptional(),
  paymentIntentId: text.exactOptional(),
  chargeId: text.exactOptional(),
  capturedAt: instant.exactOptional(),
  fulfilment: z.enum(["pending", "confirmed", "unfulfilled"]),
  unfulfilledReason: text.exactOptional(),
  releaseDueAt: instant.exactOptional(),
  adminHold: z.strictObject({ by: text, reason: text, at: instant }).exactOptional(),
  releaseStarted: z.boolean(),
  transferFailures: nonNegative,
  transfers: list(transferAttempt),
  reversals: list(transferReversal),
  refunds: list(heldRefund),
  disputes: list(heldDispute),
  // Since paid_outside_stripe (absent: none, and in snapshots stored before).
  owedPayments: list(owedPayment).exactOptional(),
  // Since owed_recovered_from_customer (absent: none, and in snapshots stored before).
  owedRecoveries: list(owedRecovery).exactOptional(),
  blockedReason: text.exactOptional(),
  blockKind: z
    .enum([
      "seller_cannot_receive",
      "transfer_parked",
      "transfer_outcome_unknown",
      "frozen",
      "late_transfer_unbooked",
    ])
    .exactOptional(),
  failureCode: text.exactOptional(),
  endedAt: instant.exactOptional(),
  version: nonNegative,
});

const platformFee = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("rate"), basisPoints: safeInt }),
  z.strictObject({ kind: z.literal("fixed"), amountMinor: safeInt }),
]);

const takeBackParts = z.strictObject({
  sellerPartsMinor: list(safeInt),
  feePartMinor: safeInt,
  platformFundedMinor: safeInt,
});

const marketplaceRefund = z.strictObject({
  number: z.int().min(1),
  amountMinor: safeInt,
  initiatedBy: z.enum(["customer", "platform"]),
  reason: text,
  rules: z.strictObject({ reverseTransfer: z.boolean(), refundApplicationFee: z.boolean() }),
  parts: takeBackParts,
  full: z.boolean(),
  status: z.enum([
    "reversing",
    "requested",
    "succeeded",
    "failed",
    "superseded_by_dispute",
    // Since owed_to_customer: the rest of a partial loss, owed outside Stripe.
    "owed_outside_stripe",
  ]),
  attempts: nonNegative,
  refundId: text.exactOptional(),
  feeRefundId: text.exactOptional(),
  failureCode: text.exactOptional(),
  ledgerPosted: z.boolean(),
  unsplit: z.boolean(),
  supersededBy: text.exactOptional(),
  lookups: z.int().min(1).exactOptional(),
  // Since refund_failed_after_success: how many times Stripe failed it after its success.
  failedAfterSuccess: z.int().min(1).exactOptional(),
});

const marketplaceDispute = z.strictObject({
  id: text,
  amountMinor: safeInt,
  reason: text,
  stripeStatus: text,
  evidenceDueBy: instant.exactOptional(),
  status: z.enum(["open", "won", "lost"]),
  waitingLossMinor: safeInt.exactOptional(),
  lostMinor: safeInt.exactOptional(),
  // Since a loss takes what it took beyond what was left from what is owed outside Stripe.
  owedTakenMinor: z.int().min(1).exactOptional(),
  // Since a loss takes what it took beyond what was still owed from what an admin had paid.
  overpaidMinor: z.int().min(1).exactOptional(),
  lossBooked: z.boolean().exactOptional(),
  parts: takeBackParts.exactOptional(),
  // Since a loss takes a never-paid co-host's part from the share the platform holds.
  withheldMinor: list(nonNegative).exactOptional(),
});

const marketplaceChargeSnapshot = z.strictObject({
  id: text,
  clientReference: text,
  requestedBy: text,
  activityId: text,
  purpose: z.enum(["rsvp", "purchase"]),
  description: text,
  currency,
  amountMinor: safeInt,
  fee: platformFee,
  feeMinor: safeInt,
  mode: z.enum(["destination", "split"]),
  sellers: list(
    z.strictObject({
      id: text,
      connectedAccountId: text,
      weight: safeInt,
      shareMinor: safeInt,
      feeMinor: safeInt,
    }),
  ),
  onBehalfOf: z.boolean(),
  customer: z.strictObject({ id: text, stripeCustomerId: text, email: text }),
  paymentMethod: z.discriminatedUnion("kind", [
    z.strictObject({ kind: z.literal("saved_card"), paymentMethodId: text }),
    z.strictObject({ kind: z.literal("new_card") }),
  ]),
  transferGroup: text,
  status: z.enum([
    "awaiting_payment",
    "requires_action",
    "processing",
    "paying_sellers",
    "transfer_blocked",
    "settled",
    "refunding",
    "refunded",
    "charged_back",
    "payment_failed",
    "expired",
  ]),
  createdAt: instant,
  paymentIntentId: text.exactOptional(),
  clientSecret: text.exactOptional(),
  chargeId: text.exactOptional(),
  destinationTransferId: text.exactOptional(),
  capturedAt: instant.exactOptional(),
  failureCode: text.exactOptional(),
  expiryRequestedAt: instant.exactOptional(),
  expiryAsks: z.int().min(1).exactOptional(),
  actionWaits: z.int().min(1).exactOptional(),
  expiryWait: z.int().min(2).exactOptional(),
  unmatchedFeeRefundIds: list(text).exactOptional(),
  payouts: list(
    z.strictObject({
      sellerId: text,
      failures: nonNegative,
      parked: z.boolean(),
      frozenBy: text.exactOptional(),
    }),
  ),
  transfers: list(
    z.strictObject({
      sellerId: text,
      attempt: z.int().min(1),
      effectId: text,
      amountMinor: safeInt,
      status: z.enum(["requested", "created", "failed", "unknown"]),
      transferId: text.exactOptional(),
      failureCode: text.exactOptional(),
      lookups: z.int().min(1).exactOptional(),
      // Since s22: landed late and not booked (absent: booked, or not landed).
      unbooked: z.literal(true).exactOptional(),
    }),
  ),
  reversals: list(
    z.strictObject({
      number: z.int().min(1),
      effectId: text,
      sellerId: text,
      transferId: text,
      amountMinor: safeInt,
      forRefund: z.int().min(1).exactOptional(),
      forDisputeId: text.exactOptional(),
      status: z.enum(["requested", "reversed", "failed"]),
      failureCode: text.exactOptional(),
    }),
  ),
  refunds: list(marketplaceRefund),
  disputes: list(marketplaceDispute),
  // Since paid_outside_stripe (absent: none, and in snapshots stored before).
  owedPayments: list(owedPayment).exactOptional(),
  // Since owed_recovered_from_customer (absent: none, and in snapshots stored before).
  owedRecoveries: list(owedRecovery).exactOptional(),
  endedAt: instant.exactOptional(),
  version: nonNegative,
});

// The ledger transaction inside a post_ledger effect is checked twice: here for its
// shape, then by the domain's own `createLedgerTransaction` for its rules (balanced,
// positive amounts, limits), which also rebuilds its Money values.
const ledgerTransactionShape = z.strictObject({
  id: text,
  kind: z.enum([
    "debit_initiated",
    "debit_settled",
    "debit_failed",
    "contribution_refunded",
    "payout_transferred",
    "transfer_reversed",
    "dispute_loss",
    "dispute_reinstated",
    // Since round_owed_to_member: a refund failed after its success, reversed when the member
    // disputes the charge, and the rest of a disputed contribution owed outside Stripe.
    "contribution_refund_failed",
    "contribution_owed_to_member",
    // Since paid_outside_stripe: money owed outside Stripe, recorded paid by an admin.
    "contribution_paid_outside_stripe",
    "held_paid_outside_stripe",
    "marketplace_paid_outside_stripe",
    // A held payment's kinds (also in the database's ledger_transaction_kind enum since
    // the held_payments migration).
    "held_captured",
    "held_fee_earned",
    "held_seller_payable",
    "held_transferred",
    "held_refunded",
    "held_transfer_reversed",
    "held_dispute_lost",
    // Since owed_to_customer: the rest of a partial loss, owed outside Stripe.
    "held_owed_to_customer",
    // Since refund_failed_after_success: a refund Stripe failed after its success, undone.
    "held_refund_failed",
    // Since held_refund_superseded: a superseded refund's money moved to where the payment
    // keeps it now (the release went past the refund's stage).
    "held_refund_superseded",
    // A marketplace charge's kinds (in the ledger_transaction_kind enum since the
    // marketplace_charges migration).
    "marketplace_captured",
    "marketplace_fee_earned",
    "marketplace_seller_payable",
    "marketplace_transferred",
    "marketplace_transfer_reversed",
    "marketplace_application_fee_refunded",
    // Since marketplace_fee_refund_corrected.
    "marketplace_application_fee_refund_corrected",
    "marketplace_refunded",
    "marketplace_dispute_lost",
    // Since owed_to_customer.
    "marketplace_owed_to_customer",
    // Since refund_failed_after_success.
    "marketplace_refund_failed",
    // A membership's (in the ledger_transaction_kind enum since the memberships migration;
    // a refund of a late-paid membership since membership_invoice_refunded; that refund's
    // failure after it succeeded since membership_invoice_refund_failed).
    "membership_invoice_paid",
    "membership_invoice_refunded",
    "membership_invoice_refund_failed",
    // Since membership_charge_outside_susu: an invoice's charge refunded outside susu or disputed.
    "membership_refunded_outside_susu",
    "membership_outside_refund_failed",
    "membership_dispute_lost",
    "membership_dispute_reinstated",
    // Since manual_adjustment: an operator's correction.
    "manual_adjustment",
    // Since owed_recovered_from_customer: money a customer got twice, recovered from them.
    "held_recovered_from_customer",
    "marketplace_recovered_from_customer",
  ]),
  postings: list(
    z.strictObject({
      account: text,
      side: z.enum(["debit", "credit"]),
      amount: z.strictObject({ amountMinor: safeInt, currency }),
    }),
  ),
  occurredAt: instant,
  refs: z.record(text, text),
});

// Who a notify effect addresses, and what it carries: shared by every aggregate's notices.
const notificationData = z.record(text, z.union([text, z.number()]));
const toPeople = z.strictObject({ kind: z.literal("people"), personIds: list(text) });
const toGroupMembers = z.strictObject({
  kind: z.literal("group"),
  groupId: text,
  members: z.discriminatedUnion("kind", [
    z.strictObject({ kind: z.literal("member"), memberId: text }),
    z.strictObject({ kind: z.literal("admins") }),
    z.strictObject({ kind: z.literal("all_members") }),
  ]),
});
/** A held payment's or marketplace charge's: its customer (by address), a seller, the admins. */
const toPaymentParties = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("customer"), email: text }),
  z.strictObject({ kind: z.literal("seller"), sellerId: text }),
  z.strictObject({ kind: z.literal("platform_admins") }),
]);

const roundTimer = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("collection_deadline"), extension: nonNegative.exactOptional() }),
  z.strictObject({ kind: z.literal("grace_end"), extension: nonNegative.exactOptional() }),
  z.strictObject({ kind: z.literal("retry_debit"), memberId: text, attempt: safeInt }),
  z.strictObject({ kind: z.literal("payout_due") }),
  z.strictObject({ kind: z.literal("retry_payout"), attempt: safeInt }),
]);

const roundOutboxEffectShape = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("collect_contribution"),
    id: text,
    roundId: text,
    groupId: text,
    memberId: text,
    attempt: safeInt,
    amountMinor: safeInt,
    currency,
    transferGroup: text,
  }),
  z.strictObject({
    kind: z.literal("transfer"),
    id: text,
    roundId: text,
    groupId: text,
    recipientMemberId: text,
    sourceMemberId: text,
    sourceChargeId: text,
    attempt: safeInt,
    amountMinor: safeInt,
    currency,
    transferGroup: text,
  }),
  z.strictObject({
    kind: z.literal("refund"),
    id: text,
    roundId: text,
    groupId: text,
    memberId: text,
    // A retried refund's attempt (from 2); attempt 1's payloads, older ones included, have none.
    attempt: z.int().min(1).exactOptional(),
    // A surplus charge's refund: the debit attempt it gives back (absent on a contribution's).
    debitAttempt: z.int().min(1).exactOptional(),
    paymentIntentId: text,
    amountMinor: safeInt,
    currency,
  }),
  z.strictObject({
    kind: z.literal("schedule_timer"),
    id: text,
    aggregate: z.literal("round"),
    aggregateId: text,
    at: instant,
    timer: roundTimer,
  }),
  z.strictObject({
    kind: z.literal("notify"),
    id: text,
    aggregate: z.literal("round"),
    aggregateId: text,
    to: z.discriminatedUnion("kind", [toGroupMembers, toPeople]),
    template: z.enum(NOTIFICATION_TEMPLATES),
    data: notificationData,
  }),
  z.strictObject({ kind: z.literal("post_ledger"), id: text, transaction: ledgerTransactionShape }),
  z.strictObject({
    kind: z.literal("open_ticket"),
    id: text,
    aggregate: z.literal("round"),
    aggregateId: text,
    groupId: text,
    reason: z.enum(TICKET_REASONS),
    summary: text,
  }),
  // Since paid_outside_stripe.
  z.strictObject({
    kind: z.literal("resolve_ticket"),
    id: text,
    aggregate: z.literal("round"),
    aggregateId: text,
    ticketId: text,
    by: text,
    note: text,
  }),
]);

// A held payment's effects all name it (`aggregate: "held_payment"`), except its ledger
// postings, which have the round's shape and are read by the round's schema.
const heldPaymentTimer = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("release_due") }),
  z.strictObject({ kind: z.literal("retry_transfer"), attempt: safeInt }),
  z.strictObject({ kind: z.literal("checkout_expired") }),
  z.strictObject({ kind: z.literal("checkout_recheck"), ask: z.int().min(2) }),
  z.strictObject({
    kind: z.literal("refund_overdue"),
    refund: safeInt,
    attempt: safeInt,
    lookup: z.int().min(1).exactOptional(),
  }),
]);

const heldAddressed = { id: text, aggregate: z.literal("held_payment"), aggregateId: text };

const heldPaymentEffectShape = z.discriminatedUnion("kind", [
  z.strictObject({
    ...heldAddressed,
    kind: z.literal("create_checkout_session"),
    mode: z.literal("payment"),
    clientReference: text,
    amountMinor: safeInt,
    currency,
    description: text,
    customerEmail: text,
    customerName: text.exactOptional(),
    transferGroup: text,
    expiresAt: instant,
    successUrl: text,
    cancelUrl: text.exactOptional(),
    metadata: z.strictObject({ aggregate: z.literal("held_payment"), heldPaymentId: text }),
  }),
  z.strictObject({ ...heldAddressed, kind: z.literal("expire_checkout_session"), sessionId: text }),
  z.strictObject({
    ...heldAddressed,
    kind: z.literal("transfer"),
    attempt: safeInt,
    sellerId: text,
    destinationAccountId: text,
    sourceChargeId: text,
    amountMinor: safeInt,
    currency,
    transferGroup: text,
  }),
  z.strictObject({
    ...heldAddressed,
    kind: z.literal("find_transfer"),
    attempt: safeInt,
    transferEffectId: text,
    transferGroup: text,
  }),
  z.strictObject({
    ...heldAddressed,
    kind: z.literal("find_refund"),
    refund: safeInt,
    attempt: safeInt,
    lookup: safeInt,
    refundEffectId: text,
    paymentIntentId: text,
  }),
  z.strictObject({
    ...heldAddressed,
    kind: z.literal("reverse_transfer"),
    reversal: safeInt,
    transferId: text,
    amountMinor: safeInt,
    currency,
    reason: z.enum(["refund", "dispute_lost"]),
  }),
  z.strictObject({
    ...heldAddressed,
    kind: z.literal("refund"),
    refund: safeInt,
    attempt: safeInt,
    paymentIntentId: text,
    amountMinor: safeInt,
    currency,
    reason: z.enum(["unfulfilled", "admin", "late_payment"]),
  }),
  z.strictObject({
    ...heldAddressed,
    kind: z.literal("schedule_timer"),
    at: instant,
    timer: heldPaymentTimer,
  }),
  z.strictObject({
    ...heldAddressed,
    kind: z.literal("notify"),
    to: toPaymentParties,
    template: z.enum(HELD_PAYMENT_NOTIFICATION_TEMPLATES),
    data: notificationData,
  }),
  z.strictObject({
    ...heldAddressed,
    kind: z.literal("open_ticket"),
    reason: z.enum(HELD_PAYMENT_TICKET_REASONS),
    summary: text,
  }),
  // Since paid_outside_stripe.
  z.strictObject({
    ...heldAddressed,
    kind: z.literal("resolve_ticket"),
    ticketId: text,
    by: text,
    note: text,
  }), // Since what is owed outside Stripe, lessened by a lost dispute, is noted on its ticket.
  z.strictObject({
    ...heldAddressed,
    kind: z.literal("note_ticket"),
    ticketId: text,
    note: text,
  }),
]);

// A recorded payout's effects: the notice to its person and the admins' ticket of a failure.
const payoutAddressed = { id: text, aggregate: z.literal("payout"), aggregateId: text };

const payoutEffectShape = z.discriminatedUnion("kind", [
  z.strictObject({
    ...payoutAddressed,
    kind: z.literal("notify"),
    to: toPeople,
    template: z.enum(PAYOUT_NOTIFICATION_TEMPLATES),
    data: notificationData,
  }),
  z.strictObject({
    ...payoutAddressed,
    kind: z.literal("open_ticket"),
    reason: z.enum(PAYOUT_TICKET_REASONS),
    summary: text,
  }),
]);

// A saved payment method's effects: its provider calls, notices to its person or a group's
// admins, and tickets about a group whose round relied on it.
const paymentMethodAddressed = { id: text, aggregate: z.literal("payment_method"), aggregateId: text };

const paymentMethodEffectShape = z.discriminatedUnion("kind", [
  z.strictObject({
    ...paymentMethodAddressed,
    kind: z.literal("detach_payment_method"),
    paymentMethodId: text,
  }),
  z.strictObject({
    ...paymentMethodAddressed,
    kind: z.literal("set_default_payment_method"),
    customerId: text,
    paymentMethodId: text,
  }),
  z.strictObject({
    ...paymentMethodAddressed,
    kind: z.literal("notify"),
    to: z.discriminatedUnion("kind", [toPeople, toGroupMembers]),
    template: z.enum(PAYMENT_METHOD_NOTIFICATION_TEMPLATES),
    data: notificationData,
  }),
  z.strictObject({
    ...paymentMethodAddressed,
    kind: z.literal("open_ticket"),
    reason: z.enum(PAYMENT_METHOD_TICKET_REASONS),
    summary: text,
    groupId: text.exactOptional(),
  }),
]);

// A marketplace charge's effects all name it (`aggregate: "marketplace_charge"`), except
// its ledger postings, which have the round's shape and are read by the round's schema.
const marketplaceAddressed = { id: text, aggregate: z.literal("marketplace_charge"), aggregateId: text };
const marketplaceMetadata = { aggregate: z.literal("marketplace_charge"), marketplaceChargeId: text };

const marketplaceChargeEffectShape = z.discriminatedUnion("kind", [
  z.strictObject({
    ...marketplaceAddressed,
    kind: z.literal("create_payment"),
    amountMinor: safeInt,
    currency,
    description: text,
    customerId: text,
    stripeCustomerId: text,
    confirmation: z.discriminatedUnion("kind", [
      z.strictObject({ kind: z.literal("saved_card"), paymentMethodId: text, offSession: z.literal(true) }),
      z.strictObject({ kind: z.literal("client_confirmation") }),
    ]),
    destination: z
      .strictObject({ connectedAccountId: text, applicationFeeMinor: safeInt, onBehalfOf: z.boolean() })
      .exactOptional(),
    transferGroup: text,
    metadata: z.strictObject(marketplaceMetadata),
  }),
  z.strictObject({
    ...marketplaceAddressed,
    kind: z.literal("transfer"),
    sellerId: text,
    attempt: safeInt,
    destinationAccountId: text,
    sourceChargeId: text,
    amountMinor: safeInt,
    currency,
    transferGroup: text,
    metadata: z.strictObject({ ...marketplaceMetadata, sellerId: text, attempt: safeInt }),
  }),
  z.strictObject({
    ...marketplaceAddressed,
    kind: z.literal("cancel_payment"),
    paymentIntentId: text,
    wait: z.int().min(2).exactOptional(),
  }),
  z.strictObject({
    ...marketplaceAddressed,
    kind: z.literal("find_transfer"),
    sellerId: text,
    attempt: safeInt,
    transferEffectId: text,
    transferGroup: text,
  }),
  z.strictObject({
    ...marketplaceAddressed,
    kind: z.literal("find_refund"),
    refund: safeInt,
    attempt: safeInt,
    lookup: safeInt,
    refundEffectId: text,
    paymentIntentId: text,
  }),
  z.strictObject({
    ...marketplaceAddressed,
    kind: z.literal("reverse_transfer"),
    reversal: safeInt,
    sellerId: text,
    transferId: text,
    amountMinor: safeInt,
    currency,
    reason: z.enum(["refund", "dispute_lost"]),
  }),
  z.strictObject({
    ...marketplaceAddressed,
    kind: z.literal("refund"),
    refund: safeInt,
    attempt: safeInt,
    paymentIntentId: text,
    amountMinor: safeInt,
    currency,
    reverseTransfer: z.boolean(),
    refundApplicationFee: z.boolean(),
    initiatedBy: z.enum(["customer", "platform"]),
  }),
  z.strictObject({
    ...marketplaceAddressed,
    kind: z.literal("schedule_timer"),
    at: instant,
    timer: z.discriminatedUnion("kind", [
      z.strictObject({ kind: z.literal("retry_transfer"), sellerId: text, attempt: safeInt }),
      z.strictObject({
        kind: z.literal("refund_overdue"),
        refund: safeInt,
        attempt: safeInt,
        lookup: z.int().min(1).exactOptional(),
      }),
      z.strictObject({ kind: z.literal("action_expired"), wait: z.int().min(2).exactOptional() }),
      z.strictObject({
        kind: z.literal("cancel_recheck"),
        ask: z.int().min(2),
        wait: z.int().min(2).exactOptional(),
      }),
    ]),
  }),
  z.strictObject({
    ...marketplaceAddressed,
    kind: z.literal("notify"),
    to: toPaymentParties,
    template: z.enum(MARKETPLACE_CHARGE_NOTIFICATION_TEMPLATES),
    data: notificationData,
  }),
  z.strictObject({
    ...marketplaceAddressed,
    kind: z.literal("open_ticket"),
    reason: z.enum(MARKETPLACE_CHARGE_TICKET_REASONS),
    summary: text,
  }),
  // Since paid_outside_stripe.
  z.strictObject({
    ...marketplaceAddressed,
    kind: z.literal("resolve_ticket"),
    ticketId: text,
    by: text,
    note: text,
  }), // Since what is owed outside Stripe, lessened by a lost dispute, is noted on its ticket.
  z.strictObject({
    ...marketplaceAddressed,
    kind: z.literal("note_ticket"),
    ticketId: text,
    note: text,
  }),
]);

// --- Memberships: plans and subscriptions ----------------------------------------------------

const entitlements = z.strictObject({
  createGroups: z.boolean(),
  maxOpenGroups: nonNegative.nullable(),
  sellBookings: z.boolean(),
});
const planInterval = z.enum(PLAN_INTERVALS);

const planSnapshot = z.strictObject({
  id: text,
  name: text,
  description: text,
  entitlements,
  trialDays: nonNegative,
  status: z.enum(["active", "archived"]),
  prices: list(
    z.strictObject({
      key: text,
      currency,
      interval: planInterval,
      amountMinor: nonNegative,
      revision: safeInt,
      stripePriceId: text.exactOptional(),
    }),
  ),
  createdAt: instant,
  updatedAt: instant,
  version: nonNegative,
});

const subscribedPrice = z.strictObject({
  planId: text,
  priceKey: text,
  revision: safeInt,
  stripePriceId: text,
  currency,
  interval: planInterval,
  amountMinor: nonNegative,
});

/** A refund's or a dispute's loss's part the books had no room for yet (`UnbookedRest`): something unbooked, always. */
const unbookedRest = z.strictObject({ unbookedMinor: z.int().min(1), postings: nonNegative });

const subscriptionSnapshot = z.strictObject({
  id: text,
  personId: text,
  stripeCustomerId: text,
  status: z.enum(SUBSCRIPTION_STATUSES),
  price: subscribedPrice,
  trialDays: nonNegative,
  start: z.discriminatedUnion("kind", [
    z.strictObject({ kind: z.literal("saved_method"), paymentMethodId: text }),
    z.strictObject({
      kind: z.literal("checkout"),
      successUrl: text,
      cancelUrl: text,
      sessionId: text.exactOptional(),
      url: text.exactOptional(),
    }),
  ]),
  stripeSubscriptionId: text.exactOptional(),
  canceledBeforeStart: z.boolean().exactOptional(),
  // Since the membership follows the person's default card (older snapshots: the start's method).
  paymentMethodId: text.exactOptional(),
  paymentMethodChanges: z.int().min(1).exactOptional(),
  // Since a card change waits for Stripe's view (older snapshots have none).
  pendingPaymentMethod: z
    .strictObject({ change: z.int().min(1), paymentMethodId: text, requestedAt: instant })
    .exactOptional(),
  cancelAtPeriodEnd: z.boolean(),
  currentPeriodEnd: instant.exactOptional(),
  trialEnd: instant.exactOptional(),
  trialNoticeFor: instant.exactOptional(),
  observedAt: instant.exactOptional(),
  // Since the price's floor is kept apart from the status's (older snapshots have none: their
  // observedAt was raised to a confirmed change's second, and serves as both floors).
  priceObservedAt: instant.exactOptional(),
  invoices: list(
    z.strictObject({
      id: text,
      status: z.enum(["open", "paid", "uncollectible", "void"]),
      amountDueMinor: nonNegative,
      amountPaidMinor: nonNegative,
      currency,
      failedAttempts: nonNegative,
      actionRequested: z.boolean(),
      // Since plan changes wait for their invoice's payment (older snapshots have none).
      forChange: z.literal(true).exactOptional(),
      hostedInvoiceUrl: text.exactOptional(),
      nextPaymentAttemptAt: instant.exactOptional(),
      paidAt: instant.exactOptional(),
      refund: z
        .strictObject({
          status: z.enum(["requested", "succeeded", "failed"]),
          refundId: text.exactOptional(),
          failureCode: text.exactOptional(),
          // Since membership_invoice_refund_failed (older snapshots have neither).
          failedAfterSuccess: z.literal(true).exactOptional(),
          payments: list(
            z.strictObject({
              refundId: text.exactOptional(),
              amountMinor: nonNegative,
              status: z.enum(["succeeded", "failed"]),
              failureCode: text.exactOptional(),
              posted: z.literal(true).exactOptional(),
              // Since a refund the books had given back already posts less (older snapshots: all of it).
              postedMinor: nonNegative.exactOptional(),
              // Since a refund the books had no room for books its rest later (older snapshots: none).
              rest: unbookedRest.exactOptional(),
            }),
          ).exactOptional(),
          // Since the refunds' ids came from the refund call's answer (older snapshots have neither).
          refundIds: list(text).exactOptional(),
          postedWhole: z.literal(true).exactOptional(),
          // Since a summed answer is noted (older snapshots: read from the amounts stored).
          summedAnswer: z.literal(true).exactOptional(),
          // Since refunds had a deadline (older snapshots do not have it).
          overdue: z.literal(true).exactOptional(),
          // Since a refund failed after the person was told of it is told to them too; no
          // longer written (`untold` says the opposite, and its absence reads as told).
          told: z.literal(true).exactOptional(),
          untold: z.literal(true).exactOptional(),
          // Since the refund's deadline is recorded (older snapshots: armed at the next decision).
          deadlineAt: instant.exactOptional(),
        })
        .exactOptional(),
      // Since an invoice's charge refunded outside susu or disputed is booked (older snapshots have neither).
      outsideRefunds: list(
        z.strictObject({
          refundId: text,
          amountMinor: nonNegative,
          status: z.enum(["succeeded", "failed"]),
          failureCode: text.exactOptional(),
          postedMinor: nonNegative,
          // Since a refund the books had no room for books its rest later (older snapshots: none).
          rest: unbookedRest.exactOptional(),
        }),
      ).exactOptional(),
      disputes: list(
        z.strictObject({
          disputeId: text,
          amountMinor: nonNegative,
          stripeStatus: text,
          status: z.enum(["open", "won", "lost"]),
          lossMinor: nonNegative,
          // Since a loss the books had no room for books its rest later (older snapshots: none).
          rest: unbookedRest.exactOptional(),
        }),
      ).exactOptional(),
      // Since a void Stripe could not make while the invoice's debit was processing is asked
      // again (older snapshots: none kept; a void asked then answers as call 1).
      voiding: z
        .strictObject({
          calls: z.int().min(1),
          status: z.enum(["requested", "awaiting_debit", "ended"]),
          // Since a debit failure heard while a call waits for its answer is noted (older snapshots: none).
          debitFailed: z.literal(true).exactOptional(),
          // Since the newest failure heard is kept, so the same failure heard again is no news (older snapshots: none).
          lastFailureAt: instant.exactOptional(),
        })
        .exactOptional(),
    }),
  ),
  changes: nonNegative,
  // Since a change waits for Stripe (older snapshots have none: their price was written when asked).
  pendingChange: z
    .strictObject({
      change: z.int().min(1),
      price: subscribedPrice,
      requestedAt: instant,
      // Since plan changes wait for their invoice's payment (older snapshots have none).
      awaitingPayment: z
        .strictObject({
          expiresAt: instant,
          invoiceId: text.exactOptional(),
          seenAt: instant.exactOptional(),
        })
        .exactOptional(),
      // Since a change's expiry heard before its held view is kept (older snapshots have none).
      expiredSeenAt: instant.exactOptional(),
    })
    .exactOptional(),
  cancellations: nonNegative,
  lapses: nonNegative,
  lapsedAt: instant.exactOptional(),
  endedAt: instant.exactOptional(),
  failure: z.strictObject({ code: text, message: text }).exactOptional(),
  createdAt: instant,
  version: nonNegative,
});

const planAddressed = { id: text, aggregate: z.literal("plan"), aggregateId: text };
const planEffectShape = z.discriminatedUnion("kind", [
  z.strictObject({
    ...planAddressed,
    kind: z.literal("create_plan_price"),
    productId: text,
    productName: text,
    key: text,
    revision: safeInt,
    currency,
    interval: planInterval,
    amountMinor: nonNegative,
  }),
  z.strictObject({
    ...planAddressed,
    kind: z.literal("update_plan_product"),
    productId: text,
    name: text,
    active: z.boolean(),
  }),
]);

const subscriptionAddressed = { id: text, aggregate: z.literal("subscription"), aggregateId: text };
const subscriptionMetadata = z.strictObject({
  aggregate: z.literal("subscription"),
  subscriptionId: text,
  personId: text,
});
const subscriptionEffectShape = z.discriminatedUnion("kind", [
  z.strictObject({
    ...subscriptionAddressed,
    kind: z.literal("create_subscription"),
    stripeCustomerId: text,
    stripePriceId: text,
    paymentMethodId: text,
    trialDays: nonNegative,
    metadata: subscriptionMetadata,
  }),
  z.strictObject({
    ...subscriptionAddressed,
    kind: z.literal("create_subscription_checkout"),
    stripeCustomerId: text,
    stripePriceId: text,
    trialDays: nonNegative,
    successUrl: text,
    cancelUrl: text,
    metadata: subscriptionMetadata,
  }),
  z.strictObject({
    ...subscriptionAddressed,
    kind: z.literal("expire_subscription_checkout"),
    sessionId: text,
  }),
  z.strictObject({
    ...subscriptionAddressed,
    kind: z.literal("change_subscription_price"),
    stripeSubscriptionId: text,
    stripePriceId: text,
    prorationBehavior: z.enum(["always_invoice", "create_prorations", "none"]),
  }),
  z.strictObject({
    ...subscriptionAddressed,
    kind: z.literal("cancel_subscription"),
    stripeSubscriptionId: text,
    mode: z.enum(["now", "at_period_end", "resume"]),
  }),
  // Since an unpaid invoice is voided when Stripe ends the subscription.
  z.strictObject({
    ...subscriptionAddressed,
    kind: z.literal("void_subscription_invoice"),
    stripeInvoiceId: text,
  }),
  // Since the membership follows the person's default card.
  z.strictObject({
    ...subscriptionAddressed,
    kind: z.literal("set_subscription_payment_method"),
    stripeSubscriptionId: text,
    paymentMethodId: text,
  }),
  z.strictObject({
    ...subscriptionAddressed,
    kind: z.literal("refund_subscription_invoice"),
    stripeInvoiceId: text,
    amountMinor: nonNegative,
    currency,
  }),
  z.strictObject({
    ...subscriptionAddressed,
    kind: z.literal("schedule_timer"),
    at: instant,
    timer: z.discriminatedUnion("kind", [
      z.strictObject({ kind: z.literal("refund_overdue"), invoiceId: text }),
      // Since a void Stripe could not make while the invoice's debit was processing is asked again.
      z.strictObject({ kind: z.literal("void_recheck"), invoiceId: text, call: z.int().min(1) }),
    ]),
  }),
  z.strictObject({
    ...subscriptionAddressed,
    kind: z.literal("notify"),
    // Since a membership's dispute is told to the admins (older payloads: its person only).
    to: z.discriminatedUnion("kind", [toPeople, z.strictObject({ kind: z.literal("platform_admins") })]),
    template: z.enum(SUBSCRIPTION_NOTIFICATION_TEMPLATES),
    data: notificationData,
  }),
  z.strictObject({
    ...subscriptionAddressed,
    kind: z.literal("open_ticket"),
    reason: z.enum(SUBSCRIPTION_TICKET_REASONS),
    summary: text,
  }),
  // Since a membership's dispute ticket is resolved when Stripe closes the dispute.
  z.strictObject({
    ...subscriptionAddressed,
    kind: z.literal("resolve_ticket"),
    ticketId: text,
    by: text,
    note: text,
  }),
]);

/** The aggregate a stored payload names, if any (a round's ledger postings and older payloads name none). */
function payloadAggregate(json: unknown): unknown {
  return typeof json === "object" && json !== null ? (json as { aggregate?: unknown }).aggregate : undefined;
}

/** The schema of a stored payload: a held payment's, a marketplace charge's, a recorded payout's, else a round's (ledger postings included). */
function outboxEffectShapeOf(json: unknown) {
  switch (payloadAggregate(json)) {
    case "held_payment":
      return heldPaymentEffectShape;
    case "marketplace_charge":
      return marketplaceChargeEffectShape;
    case "payout":
      return payoutEffectShape;
    case "payment_method":
      return paymentMethodEffectShape;
    case "plan":
      return planEffectShape;
    case "subscription":
      return subscriptionEffectShape;
    default:
      return roundOutboxEffectShape;
  }
}

/**
 * Outbox payloads written before effects named their aggregate: `schedule_timer`,
 * `notify` and `open_ticket` carried a `roundId` (and `notify` a `groupId` beside a group
 * audience). The migration `aggregate_refs` rewrote the stored rows; a row an older
 * process appends after it (a rolling deploy) is read here in today's shape, the same
 * rewrite as the migration's SQL. Anything else passes through untouched, to be checked.
 */
export function upgradeOutboxPayload(json: unknown): unknown {
  if (typeof json !== "object" || json === null || Array.isArray(json)) return json;
  const old = json as Record<string, unknown>;
  if (typeof old.roundId !== "string" || "aggregate" in old) return json;
  const { roundId, ...rest } = old;
  const ref = { aggregate: "round", aggregateId: roundId };
  switch (old.kind) {
    case "schedule_timer":
    case "open_ticket":
      return { ...rest, ...ref };
    case "notify": {
      const { groupId, to, ...others } = rest;
      return { ...others, ...ref, to: { kind: "group", groupId, members: to } };
    }
    default:
      return json;
  }
}

// Compile-time proof that each schema describes exactly the domain type: if the domain
// adds, removes or changes a field, one of these stops compiling. `AllKeys` makes the
// comparison see optional fields too (structural typing alone lets an optional field be
// missing on either side).
type AllKeys<T> = T extends readonly (infer U)[]
  ? readonly AllKeys<U>[]
  : T extends object
    ? { [K in keyof T]-?: AllKeys<Exclude<T[K], undefined>> }
    : T;
type Same<A, B> = [AllKeys<A>] extends [AllKeys<B>]
  ? [AllKeys<B>] extends [AllKeys<A>]
    ? true
    : false
  : false;
const personSchemaMatches: Same<z.output<typeof person>, Person> = true;
const groupSchemaMatches: Same<z.output<typeof groupSnapshot>, Group> = true;
const roundSchemaMatches: Same<z.output<typeof roundSnapshot>, Round> = true;
const heldPaymentSchemaMatches: Same<z.output<typeof heldPaymentSnapshot>, HeldPayment> = true;
const marketplaceChargeSchemaMatches: Same<
  z.output<typeof marketplaceChargeSnapshot>,
  MarketplaceCharge
> = true;
const planSchemaMatches: Same<z.output<typeof planSnapshot>, Plan> = true;
const subscriptionSchemaMatches: Same<z.output<typeof subscriptionSnapshot>, Subscription> = true;
const ledgerSchemaMatches: Same<z.output<typeof ledgerTransactionShape>, LedgerTransaction> = true;
type EffectShape =
  | z.output<typeof roundOutboxEffectShape>
  | z.output<typeof heldPaymentEffectShape>
  | z.output<typeof marketplaceChargeEffectShape>
  | z.output<typeof payoutEffectShape>
  | z.output<typeof paymentMethodEffectShape>
  | z.output<typeof planEffectShape>
  | z.output<typeof subscriptionEffectShape>;
const effectSchemaMatches: Same<
  Exclude<EffectShape, { kind: "post_ledger" }>,
  Exclude<OutboxEffect, { kind: "post_ledger" }>
> = true;
void [
  planSchemaMatches,
  subscriptionSchemaMatches,
  personSchemaMatches,
  groupSchemaMatches,
  roundSchemaMatches,
  heldPaymentSchemaMatches,
  marketplaceChargeSchemaMatches,
  ledgerSchemaMatches,
  effectSchemaMatches,
];

/**
 * What a problem's text starts with when the only thing wrong is what this code does not know
 * — fields, or names (a status, a notice template, an effect kind) — a shape written by a newer
 * susu (stored shapes gain optional fields and new names over time), seen by an older process
 * during a rolling deploy, not a corrupted value ({@link fromNewerSusu}).
 */
const NEWER_SHAPE = "has fields this version of susu does not know";

/** The value at `path` in `input` (undefined where the path leads nowhere). */
function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/**
 * An issue that only says this code does not know something a newer susu may write: an
 * unknown field; a text where one of several names is expected (an enum: a new status or
 * template) that is none of them; a text naming no variant of a discriminated union (a new
 * effect kind); in a union, some branch failing on such issues alone. A literal's mismatch
 * (one name expected: another branch's `kind`), a number where a name belongs, a wrong
 * amount are not: the value is corrupt, not newer. `at` is the issue's base path in `input`.
 */
function newerOnly(issue: z.core.$ZodIssue, input: unknown, at: readonly PropertyKey[] = []): boolean {
  const path = [...at, ...issue.path];
  switch (issue.code) {
    case "unrecognized_keys":
      return true;
    case "invalid_value": {
      const value = valueAt(input, path);
      return (
        issue.values.length > 1 &&
        issue.values.every((v) => typeof v === "string") &&
        typeof value === "string" &&
        !issue.values.includes(value)
      );
    }
    case "invalid_union":
      // A discriminated union that found no variant for its tag reports no branches.
      if (issue.errors.length === 0 && "discriminator" in issue && issue.discriminator !== undefined)
        return typeof valueAt(input, path) === "string";
      return issue.errors.some(
        (branch) => branch.length > 0 && branch.every((inner) => newerOnly(inner, input, path)),
      );
    default:
      return false;
  }
}

function problem(what: string, error: z.ZodError, input: unknown): string {
  const issues = error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`)
    .join("; ");
  // Every other check (amounts, ids, types, a number or nothing where a name belongs) still
  // refuses: only a shape whose sole problem is what this code does not know is told apart, and
  // it is still not loaded. A text that is none of an enum's names cannot be told from a corrupt
  // one (a currency code "XYZ", a posting side "Debit"): it is read as newer too, so it waits up
  // to an hour (NEWER_PAYLOAD_WAIT_MS) before it is parked, with a reason that says "newer".
  if (error.issues.every((issue) => newerOnly(issue, input))) return `${what} ${NEWER_SHAPE}: ${issues}`;
  return `${what} is not a valid ${what.split(" ")[0]}: ${issues}`;
}

/**
 * Whether a parse problem of this module is only unknown fields: the value was most likely
 * written by a newer susu running beside this one (a rolling deploy). The stores retry the
 * work that needs it rather than park it as corrupted.
 */
export function fromNewerSusu(problemText: string): boolean {
  return problemText.includes(` ${NEWER_SHAPE}: `);
}

/** A person (as written, or as read back from its row), checked against the domain's `Person`. */
export function parsePerson(json: unknown): Result<Person, string> {
  const parsed = person.safeParse(json);
  return parsed.success ? ok(parsed.data) : err(problem("person", parsed.error, json));
}

/** A stored group snapshot, checked against the domain's `Group`; the error says what is wrong. */
export function parseGroupSnapshot(json: unknown): Result<Group, string> {
  const parsed = groupSnapshot.safeParse(json);
  return parsed.success ? ok(parsed.data) : err(problem("group snapshot", parsed.error, json));
}

/**
 * Rounds stored before `cancellationReason` existed kept the reason for cancelling in
 * `blockedReason`. Read them as they would be stored today: `blockedReason` now only ever
 * describes a payout block, so on a refunding or cancelled round it is the cancellation's
 * reason. Nothing is rewritten in place; the next save of such a round stores the new shape.
 */
function withCancellationReason(round: Round): Round {
  if (round.status !== "refunding" && round.status !== "cancelled") return round;
  const { blockedReason, ...rest } = round;
  if (blockedReason === undefined) return round;
  return { ...rest, cancellationReason: rest.cancellationReason ?? blockedReason };
}

/** A stored round snapshot, checked against the domain's `Round` (older snapshots read in today's shape). */
export function parseRoundSnapshot(json: unknown): Result<Round, string> {
  const parsed = roundSnapshot.safeParse(json);
  return parsed.success
    ? ok(withCancellationReason(parsed.data))
    : err(problem("round snapshot", parsed.error, json));
}

/** A stored held payment snapshot, checked against the domain's `HeldPayment`; the error says what is wrong. */
export function parseHeldPaymentSnapshot(json: unknown): Result<HeldPayment, string> {
  const parsed = heldPaymentSnapshot.safeParse(json);
  return parsed.success ? ok(parsed.data) : err(problem("held payment snapshot", parsed.error, json));
}

/** A stored marketplace charge snapshot, checked against the domain's `MarketplaceCharge`; the error says what is wrong. */
export function parseMarketplaceChargeSnapshot(json: unknown): Result<MarketplaceCharge, string> {
  const parsed = marketplaceChargeSnapshot.safeParse(json);
  return parsed.success ? ok(parsed.data) : err(problem("marketplace charge snapshot", parsed.error, json));
}

/** A stored ledger transaction, checked for shape and then by the domain's ledger rules. */
export function parseLedgerTransaction(json: unknown): Result<LedgerTransaction, string> {
  const parsed = ledgerTransactionShape.safeParse(json);
  if (!parsed.success) return err(problem("ledger transaction", parsed.error, json));
  return ledgerTransactionOf(parsed.data);
}

/** A ledger transaction of the right shape, checked by the domain's ledger rules. */
function ledgerTransactionOf(
  shaped: z.output<typeof ledgerTransactionShape>,
): Result<LedgerTransaction, string> {
  return createLedgerTransaction(shaped).mapErr((e) => `ledger transaction ${e.code}: ${e.message}`);
}

/**
 * A stored outbox payload, checked against the domain's `OutboxEffect` (a payload of the
 * shape before aggregate references is read in today's: {@link upgradeOutboxPayload}).
 */
export function parseOutboxEffect(json: unknown): Result<OutboxEffect, string> {
  const upgraded = upgradeOutboxPayload(json);
  const parsed = outboxEffectShapeOf(upgraded).safeParse(upgraded);
  if (!parsed.success) return err(problem("outbox effect", parsed.error, upgraded));
  const effect = parsed.data;
  if (effect.kind !== "post_ledger") return ok(effect);
  // Its transaction's shape was checked with the effect's (the same schema): the rules remain.
  return ledgerTransactionOf(effect.transaction).map((transaction) => ({ ...effect, transaction }));
}

/** A stored plan snapshot, checked against the domain's `Plan`; the error says what is wrong. */
export function parsePlanSnapshot(json: unknown): Result<Plan, string> {
  const parsed = planSnapshot.safeParse(json);
  return parsed.success ? ok(parsed.data) : err(problem("plan snapshot", parsed.error, json));
}

/** A stored subscription snapshot, checked against the domain's `Subscription`; the error says what is wrong. */
export function parseSubscriptionSnapshot(json: unknown): Result<Subscription, string> {
  const parsed = subscriptionSnapshot.safeParse(json);
  return parsed.success ? ok(parsed.data) : err(problem("subscription snapshot", parsed.error, json));
}
