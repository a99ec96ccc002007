import type { MemberReadiness } from "../person/person.js";
import type { MemberId } from "./ids.js";

/** Looks up what a member is ready for (from the person who is the member). */
export type ReadinessOf = (memberId: MemberId) => MemberReadiness;

/** What a member lacks before money can move for them. */
export type ReadinessGap = "mandate" | "payout_account";

/** A member who is not ready, and what they lack. */
export interface MemberNotReady {
  readonly memberId: MemberId;
  readonly lacks: readonly ReadinessGap[];
}
