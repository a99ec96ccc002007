/**
 * Identifies a person within susu (not a Stripe id): the subject authenticated requests
 * carry. A group member's id is the id of the person who is that member.
 */
export type PersonId = string;
