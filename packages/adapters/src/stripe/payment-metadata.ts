import type { PaymentReferences } from "@susu/domain";
import type Stripe from "stripe";

/**
 * The metadata keys susu writes on every Stripe object it creates, so that an event about
 * the object (which arrives days later for BECS) can be traced back to the round, the
 * member and the attempt without a database lookup.
 */
export const METADATA_KEYS = {
  groupId: "group_id",
  roundId: "round_id",
  memberId: "member_id",
  attempt: "attempt",
  effectId: "effect_id",
} as const;

/** Stripe metadata for an object created by an effect. */
export function referencesToMetadata(references: PaymentReferences, effectId?: string): Stripe.MetadataParam {
  const metadata: Stripe.MetadataParam = { [METADATA_KEYS.groupId]: references.groupId };
  if (references.roundId !== undefined) metadata[METADATA_KEYS.roundId] = references.roundId;
  if (references.memberId !== undefined) metadata[METADATA_KEYS.memberId] = references.memberId;
  if (references.attempt !== undefined) metadata[METADATA_KEYS.attempt] = String(references.attempt);
  if (effectId !== undefined) metadata[METADATA_KEYS.effectId] = effectId;
  return metadata;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

/**
 * Reads the references back from an object's metadata. `undefined` when the object was
 * not created by susu (no `group_id`); an attempt that is not a non-negative integer is
 * dropped rather than guessed.
 */
export function metadataToReferences(
  metadata: Stripe.Metadata | null | undefined,
): PaymentReferences | undefined {
  if (!metadata) return undefined;
  const groupId = nonEmpty(metadata[METADATA_KEYS.groupId]);
  if (groupId === undefined) return undefined;
  const roundId = nonEmpty(metadata[METADATA_KEYS.roundId]);
  const memberId = nonEmpty(metadata[METADATA_KEYS.memberId]);
  const attemptText = nonEmpty(metadata[METADATA_KEYS.attempt]);
  const attempt =
    attemptText !== undefined && /^(0|[1-9][0-9]{0,8})$/.test(attemptText) ? Number(attemptText) : undefined;
  return {
    groupId,
    ...(roundId !== undefined ? { roundId } : {}),
    ...(memberId !== undefined ? { memberId } : {}),
    ...(attempt !== undefined ? { attempt } : {}),
  };
}
