// The columns and child rows derived from an aggregate's state. They are rewritten from
// the snapshot on every commit, in the same transaction, so they can never disagree
// with it; they exist for queries and for the constraints that refuse impossible states.
import {
  type AuditEntry,
  outboxAggregateOf as domainOutboxAggregateOf,
  type Group,
  type HeldPayment,
  type Instant,
  type MarketplaceCharge,
  nextRoundOpensAt,
  type Person,
  type Round,
} from "@susu/domain";
import { toBigIntMinor, toDate, toDateOrNull } from "./conversions.js";

/**
 * A snapshot as the text of a `jsonb` column: absent optional fields are dropped, and
 * states are plain data (the loaders' schemas, run before every save, prove it).
 */
function snapshotText(value: Group | Round | HeldPayment | MarketplaceCharge): string {
  return JSON.stringify(value);
}

const isoOrNull = (at: Instant | undefined): string | null =>
  at === undefined ? null : toDate(at).toISOString();

/** Safe-integer amounts travel in JSON as numbers; assert before they become BIGINT. */
const amount = (amountMinor: number): number => {
  toBigIntMinor(amountMinor);
  return amountMinor;
};

/** The `groups` row of a group stored at `version`. */
export function groupColumns(group: Group, version: number, at: Instant) {
  return {
    name: group.name,
    currency: group.currency,
    contributionAmountMinor: toBigIntMinor(group.contributionMinor),
    cadence: group.cadence,
    startsAt: toDate(group.startsAt),
    payoutOrderMethod: group.payoutOrder.method,
    payoutOrderSeed: group.payoutOrder.seed ?? null,
    status: group.status,
    pausedReason: group.pausedReason ?? null,
    rotationNumber: group.rotation.number,
    rotationsPlanned: group.rotationsPlanned,
    currentRoundId: group.currentRoundId ?? null,
    nextRoundAt: toDate(nextRoundOpensAt(group)),
    snapshot: snapshotText({ ...group, version }),
    version,
    updatedAt: toDate(at),
  };
}

/**
 * The `people` row of a person stored at `version`. A person is flat, so the row is the
 * whole state (no snapshot); `created_at` is the domain's own `createdAt`.
 */
export function personColumns(person: Person, version: number, at: Instant) {
  return {
    displayName: person.displayName,
    stripeCustomerId: person.customerId ?? null,
    becsPaymentMethodId: person.debit?.paymentMethodId ?? null,
    mandateId: person.debit?.mandateId ?? null,
    mandateActive: person.debit?.mandateActive ?? false,
    connectedAccountId: person.payout?.connectedAccountId ?? null,
    payoutsEnabled: person.payout?.payoutsEnabled ?? false,
    version,
    customerRequestedAt: person.customerRequestedAt === undefined ? null : toDate(person.customerRequestedAt),
    updatedAt: toDate(at),
  };
}

/** A `members` row as JSON for `jsonb_to_recordset` (keys are the column names). */
export interface MemberRow {
  readonly id: string;
  readonly display_name: string;
  readonly role: string;
  readonly status: string;
  readonly rotation_position: number | null;
  readonly joined_at: string;
}

/** The group's members as rows; a member's position is its place in the current payout order. */
export function memberRows(group: Group): MemberRow[] {
  return group.members.map((m) => {
    const position = group.payoutOrder.memberIds.indexOf(m.id);
    return {
      id: m.id,
      display_name: m.displayName,
      role: m.role,
      status: m.status,
      rotation_position: position >= 0 ? position : null,
      joined_at: toDate(m.joinedAt).toISOString(),
    };
  });
}

/** The `rounds` row of a round stored at `version`. */
export function roundColumns(round: Round, version: number, at: Instant) {
  return {
    groupId: round.groupId,
    sequence: round.sequence,
    rotation: round.rotation,
    recipientMemberId: round.recipientMemberId,
    state: round.status,
    currency: round.currency,
    contributionAmountMinor: toBigIntMinor(round.contributionMinor),
    scheduledFor: toDate(round.scheduledFor),
    openedAt: toDateOrNull(round.openedAt),
    collectionDeadlineAt: toDateOrNull(round.collectionDeadlineAt),
    graceEndsAt: toDateOrNull(round.graceEndsAt),
    // Why the payout is blocked, and nothing else: a cancellation's reason is in the snapshot.
    blockedReason: round.blockedReason ?? null,
    endedAt: toDateOrNull(round.endedAt),
    transferGroup: round.transferGroup,
    snapshot: snapshotText({ ...round, version }),
    version,
    updatedAt: toDate(at),
  };
}

/**
 * The `held_payments` row of a payment stored at `version`. `created_at` is the domain's
 * own `createdAt` (pages are ordered by it), set when the row is inserted.
 */
export function heldPaymentColumns(payment: HeldPayment, version: number, at: Instant) {
  return {
    requestedBy: payment.requestedBy,
    clientReference: payment.clientReference,
    sellerPersonId: payment.seller.id,
    sellerAccountId: payment.seller.connectedAccountId,
    status: payment.status,
    currency: payment.currency,
    amountMinor: toBigIntMinor(payment.amountMinor),
    feeMinor: toBigIntMinor(payment.feeMinor),
    customerEmail: payment.customer.email,
    checkoutSessionId: payment.checkoutSessionId ?? null,
    paymentIntentId: payment.paymentIntentId ?? null,
    chargeId: payment.chargeId ?? null,
    transferGroup: payment.transferGroup,
    releaseDueAt: toDateOrNull(payment.releaseDueAt),
    endedAt: toDateOrNull(payment.endedAt),
    snapshot: snapshotText({ ...payment, version }),
    version,
    createdAt: toDate(payment.createdAt),
    updatedAt: toDate(at),
  };
}

/**
 * The `marketplace_charges` row of a charge stored at `version`. `created_at` is the
 * domain's own `createdAt` (pages are ordered by it), set when the row is inserted.
 */
export function marketplaceChargeColumns(charge: MarketplaceCharge, version: number, at: Instant) {
  return {
    requestedBy: charge.requestedBy,
    clientReference: charge.clientReference,
    activityId: charge.activityId,
    purpose: charge.purpose,
    mode: charge.mode,
    status: charge.status,
    currency: charge.currency,
    amountMinor: toBigIntMinor(charge.amountMinor),
    feeMinor: toBigIntMinor(charge.feeMinor),
    onBehalfOf: charge.onBehalfOf,
    customerPersonId: charge.customer.id,
    stripeCustomerId: charge.customer.stripeCustomerId,
    customerEmail: charge.customer.email,
    paymentIntentId: charge.paymentIntentId ?? null,
    chargeId: charge.chargeId ?? null,
    transferGroup: charge.transferGroup,
    endedAt: toDateOrNull(charge.endedAt),
    snapshot: snapshotText({ ...charge, version }),
    version,
    createdAt: toDate(charge.createdAt),
    updatedAt: toDate(at),
  };
}

/** A `marketplace_charge_sellers` row as JSON for `jsonb_to_recordset`. */
export interface MarketplaceSellerRow {
  readonly seller_person_id: string;
  readonly position: number;
  readonly connected_account_id: string;
  readonly weight: number;
  readonly share_minor: number;
  readonly fee_minor: number;
}

/** A charge's sellers as rows, in the order of its sellers. */
export function marketplaceSellerRows(charge: MarketplaceCharge): MarketplaceSellerRow[] {
  return charge.sellers.map((seller, position) => ({
    seller_person_id: seller.id,
    position,
    connected_account_id: seller.connectedAccountId,
    weight: seller.weight,
    share_minor: amount(seller.shareMinor),
    fee_minor: amount(seller.feeMinor),
  }));
}

/** A `contributions` row as JSON for `jsonb_to_recordset`. */
export interface ContributionRow {
  readonly member_id: string;
  readonly currency: string;
  readonly amount_minor: number;
  readonly status: string;
  readonly attempts_count: number;
  readonly retry_at: string | null;
  readonly stripe_refund_id: string | null;
}

/** A `contribution_attempts` row as JSON for `jsonb_to_recordset`. */
export interface AttemptRow {
  readonly member_id: string;
  readonly attempt: number;
  readonly effect_id: string;
  readonly currency: string;
  readonly amount_minor: number;
  readonly status: string;
  readonly requested_at: string;
  readonly stripe_payment_intent_id: string | null;
  readonly stripe_charge_id: string | null;
  readonly failure_code: string | null;
  readonly failure_class: string | null;
}

/** A `payout_transfers` row as JSON for `jsonb_to_recordset`. */
export interface PayoutRow {
  readonly effect_id: string;
  readonly source_member_id: string;
  readonly source_charge_id: string;
  readonly attempt: number;
  readonly currency: string;
  readonly amount_minor: number;
  readonly status: string;
  readonly stripe_transfer_id: string | null;
  readonly failure_code: string | null;
}

/** A round's contributions, debit attempts and payout transfers as rows. */
export function roundChildRows(round: Round): {
  contributions: ContributionRow[];
  attempts: AttemptRow[];
  payouts: PayoutRow[];
} {
  const contributions = round.contributions.map((c) => ({
    member_id: c.memberId,
    currency: round.currency,
    amount_minor: amount(c.amountMinor),
    status: c.status,
    attempts_count: c.attempts.length,
    retry_at: isoOrNull(c.retryAt),
    stripe_refund_id: c.refundId ?? null,
  }));
  const attempts = round.contributions.flatMap((c) =>
    c.attempts.map((a) => ({
      member_id: c.memberId,
      attempt: a.number,
      effect_id: a.effectId,
      currency: round.currency,
      amount_minor: amount(c.amountMinor),
      status: a.status,
      requested_at: toDate(a.requestedAt).toISOString(),
      stripe_payment_intent_id: a.paymentIntentId ?? null,
      stripe_charge_id: a.chargeId ?? null,
      failure_code: a.failureCode ?? null,
      failure_class: a.failureClass ?? null,
    })),
  );
  const payouts = round.payouts.map((p) => ({
    effect_id: p.effectId,
    source_member_id: p.sourceMemberId,
    source_charge_id: p.sourceChargeId,
    attempt: p.attempt,
    currency: round.currency,
    amount_minor: amount(p.amountMinor),
    status: p.status,
    stripe_transfer_id: p.transferId ?? null,
    failure_code: p.failureCode ?? null,
  }));
  return { contributions, attempts, payouts };
}

/** The aggregate an outbox effect belongs to, for the outbox's per-aggregate index (the domain's rule). */
export const outboxAggregateOf = domainOutboxAggregateOf;

/** An `audit_log` row as JSON for `jsonb_to_recordset`. */
export function auditRow(entry: AuditEntry) {
  return {
    occurred_at: toDate(entry.at).toISOString(),
    aggregate_type: entry.aggregate,
    aggregate_id: entry.aggregateId,
    action: entry.action,
    outcome: entry.outcome,
    detail: entry.detail ?? null,
    actor: entry.actor,
  };
}
