import type { PaymentReferences } from "@susu/domain";
import type Stripe from "stripe";

/**
 * The metadata keys susu writes on every Stripe object it creates, so that an event about
 * the object (which arrives days later for BECS) can be traced back without a database
 * lookup: a round's payment to the round, the member and the attempt; what a person owns
 * (customer, debit set-up, connected account) to the person.
 */
export const METADATA_KEYS = {
  groupId: "group_id",
  roundId: "round_id",
  memberId: "member_id",
  personId: "person_id",
  attempt: "attempt",
  heldPaymentId: "held_payment_id",
  effectId: "effect_id",
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
  if (effectId !== undefined) metadata[METADATA_KEYS.effectId] = effectId;
  return metadata;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

/**
 * Reads the references back from an object's metadata. `undefined` when the object was
 * not created by susu (none of `group_id`, `person_id`, `held_payment_id`); an attempt that is not a
 * non-negative integer is dropped rather than guessed.
 */
export function metadataToReferences(
  metadata: Stripe.Metadata | null | undefined,
): PaymentReferences | undefined {
  if (!metadata) return undefined;
  const groupId = nonEmpty(metadata[METADATA_KEYS.groupId]);
  const personId = nonEmpty(metadata[METADATA_KEYS.personId]);
  const heldPaymentId = nonEmpty(metadata[METADATA_KEYS.heldPaymentId]);
  if (groupId === undefined && personId === undefined && heldPaymentId === undefined) return undefined;
  const roundId = nonEmpty(metadata[METADATA_KEYS.roundId]);
  const memberId = nonEmpty(metadata[METADATA_KEYS.memberId]);
  const attemptText = nonEmpty(metadata[METADATA_KEYS.attempt]);
  const attempt =
    attemptText !== undefined && /^(0|[1-9][0-9]{0,8})$/.test(attemptText) ? Number(attemptText) : undefined;
  return {
    ...(groupId !== undefined ? { groupId } : {}),
    ...(roundId !== undefined ? { roundId } : {}),
    ...(memberId !== undefined ? { memberId } : {}),
    ...(personId !== undefined ? { personId } : {}),
    ...(attempt !== undefined ? { attempt } : {}),
    ...(heldPaymentId !== undefined ? { heldPaymentId } : {}),
  };
}
