/** Identifies a group. */
export type GroupId = string;
/** Identifies a member within susu (not a Stripe id). */
export type MemberId = string;
