import type { PaymentReferences } from "@susu/domain";
import type Stripe from "stripe";
import { EFFECT_ID_METADATA_KEY } from "./made-by-effect.js";

/**
 * The metadata keys susu writes on every Stripe object it creates, so that an event about
 * the object (which arrives days later for BECS) can be traced back without a database
 * lookup: a round's payment to the round, the member and the attempt; a held payment's
 * checkout, transfers, refunds and reversals to the payment and the step (attempt, refund
 * number, reversal number); a marketplace charge's PaymentIntent, sellers' transfers,
 * refunds and reversals to the charge and the step (seller, attempt, refund number,
 * reversal number); what a person owns (customer, debit set-up, connected
 * account) to the person.
 */
export const METADATA_KEYS = {
  groupId: "group_id",
  roundId: "round_id",
  memberId: "member_id",
  personId: "person_id",
  attempt: "attempt",
  heldPaymentId: "held_payment_id",
  refund: "refund_number",
  reversal: "reversal_number",
  marketplaceChargeId: "marketplace_charge_id",
  sellerId: "seller_id",
  setupPurpose: "setup_purpose",
  effectId: EFFECT_ID_METADATA_KEY,
  /** The payout run that asked for a payout (part of its request, so another run's same key is refused, not replayed). */
  payoutRun: "payout_run",
} as const;

/** Stripe metadata for an object created by an effect or for a person. */
export function referencesToMetadata(references: PaymentReferences, effectId?: string): Stripe.MetadataParam {
  const metadata: Stripe.MetadataParam = {};
  if (references.groupId !== undefined) metadata[METADATA_KEYS.groupId] = references.groupId;
  if (references.roundId !== undefined) metadata[METADATA_KEYS.roundId] = references.roundId;
  if (references.memberId !== undefined) metadata[METADATA_KEYS.memberId] = references.memberId;
  if (references.personId !== undefined) metadata[METADATA_KEYS.personId] = references.personId;
  if (references.attempt !== undefined) metadata[METADATA_KEYS.attempt] = String(references.attempt);
  if (references.heldPaymentId !== undefined)
    metadata[METADATA_KEYS.heldPaymentId] = references.heldPaymentId;
  if (references.refund !== undefined) metadata[METADATA_KEYS.refund] = String(references.refund);
  if (references.reversal !== undefined) metadata[METADATA_KEYS.reversal] = String(references.reversal);
  if (references.marketplaceChargeId !== undefined)
    metadata[METADATA_KEYS.marketplaceChargeId] = references.marketplaceChargeId;
  if (references.sellerId !== undefined) metadata[METADATA_KEYS.sellerId] = references.sellerId;
  if (references.setupPurpose !== undefined) metadata[METADATA_KEYS.setupPurpose] = references.setupPurpose;
  if (effectId !== undefined) metadata[METADATA_KEYS.effectId] = effectId;
  return metadata;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

/** A counter written by susu (an attempt, a refund or reversal number); anything but a non-negative integer is dropped, not guessed. */
function counterOf(value: string | undefined): number | undefined {
  const text = nonEmpty(value);
  return text !== undefined && /^(0|[1-9][0-9]{0,8})$/.test(text) ? Number(text) : undefined;
}

/**
 * Reads the references back from an object's metadata. `undefined` when the object was
 * not created by susu (none of `group_id`, `person_id`, `held_payment_id`,
 * `marketplace_charge_id`); an attempt, refund
 * or reversal number that is not a non-negative integer is dropped rather than guessed.
 */
export function metadataToReferences(
  metadata: Stripe.Metadata | null | undefined,
): PaymentReferences | undefined {
  if (!metadata) return undefined;
  const groupId = nonEmpty(metadata[METADATA_KEYS.groupId]);
  const personId = nonEmpty(metadata[METADATA_KEYS.personId]);
  const heldPaymentId = nonEmpty(metadata[METADATA_KEYS.heldPaymentId]);
  const marketplaceChargeId = nonEmpty(metadata[METADATA_KEYS.marketplaceChargeId]);
  if (
    groupId === undefined &&
    personId === undefined &&
    heldPaymentId === undefined &&
    marketplaceChargeId === undefined
  )
    return undefined;
  const sellerId = nonEmpty(metadata[METADATA_KEYS.sellerId]);
  const roundId = nonEmpty(metadata[METADATA_KEYS.roundId]);
  const memberId = nonEmpty(metadata[METADATA_KEYS.memberId]);
  const attempt = counterOf(metadata[METADATA_KEYS.attempt]);
  const refund = counterOf(metadata[METADATA_KEYS.refund]);
  const reversal = counterOf(metadata[METADATA_KEYS.reversal]);
  // Only the one purpose susu writes; anything else is not guessed.
  const setupPurpose = metadata[METADATA_KEYS.setupPurpose] === "saved_method" ? "saved_method" : undefined;
  return {
    ...(groupId !== undefined ? { groupId } : {}),
    ...(roundId !== undefined ? { roundId } : {}),
    ...(memberId !== undefined ? { memberId } : {}),
    ...(personId !== undefined ? { personId } : {}),
    ...(attempt !== undefined ? { attempt } : {}),
    ...(heldPaymentId !== undefined ? { heldPaymentId } : {}),
    ...(refund !== undefined ? { refund } : {}),
    ...(reversal !== undefined ? { reversal } : {}),
    ...(marketplaceChargeId !== undefined ? { marketplaceChargeId } : {}),
    ...(sellerId !== undefined ? { sellerId } : {}),
    ...(setupPurpose !== undefined ? { setupPurpose } : {}),
  };
}
