import type { PersonId } from "../person/ids.js";
import type { Instant } from "../shared/time.js";

/**
 * What a payout pause holds back: every payout of the platform, or those of one seller (a
 * person, whatever connected account they have now). A pause stops susu asking the provider
 * for payouts (the payout run, an admin's "pay out now"); it does not stop what the provider
 * pays out by itself (an account on an automatic schedule), nor a payout already asked for.
 */
export type PayoutPauseScope =
  | { readonly kind: "platform" }
  | { readonly kind: "person"; readonly personId: PersonId };

/** A pause in force: who set it, when, and why (the reason a paused run reports). */
export interface PayoutPause {
  readonly scope: PayoutPauseScope;
  readonly reason: string;
  readonly pausedBy: string;
  readonly pausedAt: Instant;
}

/** A change to the pauses in force: `pause` set (paused, or paused again with a new reason), or absent (resumed). */
export interface PayoutPauseChange {
  readonly scope: PayoutPauseScope;
  readonly pause?: PayoutPause;
}

/** The longest reason a pause keeps. */
export const PAYOUT_PAUSE_REASON_MAX = 500;

/** The stored key of a scope: `platform`, or `person:<id>`. */
export function payoutPauseKey(scope: PayoutPauseScope): string {
  return scope.kind === "platform" ? "platform" : `person:${scope.personId}`;
}

/** The scope a stored key names; undefined for a key no scope makes. */
export function payoutPauseScopeOf(key: string): PayoutPauseScope | undefined {
  if (key === "platform") return { kind: "platform" };
  if (key.startsWith("person:") && key.length > "person:".length)
    return { kind: "person", personId: key.slice("person:".length) };
  return undefined;
}

/**
 * The pause that holds back `personId`'s payouts among `pauses`: the platform's first (it holds
 * back everyone), else the person's own; undefined when none does.
 */
export function payoutPauseOf(pauses: readonly PayoutPause[], personId: PersonId): PayoutPause | undefined {
  return (
    pauses.find((p) => p.scope.kind === "platform") ??
    pauses.find((p) => p.scope.kind === "person" && p.scope.personId === personId)
  );
}
