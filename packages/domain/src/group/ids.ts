import type { PersonId } from "../person/ids.js";

/** Identifies a group. */
export type GroupId = string;
/**
 * Identifies a member of a group: the id of the person who is the member (not a Stripe
 * id). One person is a member of many groups under the same id.
 */
export type MemberId = PersonId;
