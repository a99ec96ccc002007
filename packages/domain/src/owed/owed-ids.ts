// Every id recording money owed outside Stripe makes, named once. These strings are stored
// (outbox keys, ledger ids, notification and ticket-resolution ids): changing a format is a
// data migration. `owed-ids.test.ts` pins every format.
//
// A held payment's and a marketplace charge's owed account is the aggregate's own (its ids
// start with the aggregate's id, as all of theirs do); a round owes each member apart, so
// its ids name the member.

/** The ids of a held payment's or a marketplace charge's money owed to its customer. */
const paymentOwedIds = Object.freeze({
  /** Payment n recorded: `<id>:owed:paid:<n>:ledger`. */
  ledgerPaid: (id: string, n: number): string => `${id}:owed:paid:${n}:ledger`,
  /** The customer is told refund r is owed to them outside Stripe: `<id>:notify:owed_outside_stripe:<r>`. */
  noticeBooked: (id: string, refund: number): string => `${id}:notify:owed_outside_stripe:${refund}`,
  /** The customer is told payment n was made: `<id>:notify:owed_paid_outside_stripe:<n>`. */
  noticePaid: (id: string, n: number): string => `${id}:notify:owed_paid_outside_stripe:${n}`,
  /**
   * The `refund_owed` ticket of refund r is noted that lost dispute step s (`<d>`, or `<d>:<n>`
   * when refund n's failure made it take from what is owed) lessened what is owed:
   * `<id>:ticket:refund_owed:<r>:note:dispute:<s>`.
   */
  noteRefundOwed: (id: string, refund: number, step: string): string =>
    `${id}:ticket:refund_owed:${refund}:note:dispute:${step}`,
  /** The customer is told lost dispute step s lessened what is owed: `<id>:notify:owed_reduced_by_dispute:<s>`. */
  noticeReduced: (id: string, step: string): string => `${id}:notify:owed_reduced_by_dispute:${step}`,
  /** Recovery n recorded (the customer paid back what they got twice): `<id>:owed:recovered:<n>:ledger`. */
  ledgerRecovered: (id: string, n: number): string => `${id}:owed:recovered:${n}:ledger`,
  /**
   * The `owed_overpaid` ticket of lost dispute d is resolved (what it booked as owed back is all
   * recovered): `<id>:ticket:owed_overpaid:<d>:resolve`.
   */
  resolveOwedOverpaid: (id: string, disputeId: string): string =>
    `${id}:ticket:owed_overpaid:${disputeId}:resolve`,
  /** The `refund_owed` ticket of refund r is resolved: `<id>:ticket:refund_owed:<r>:resolve`. */
  resolveRefundOwed: (id: string, refund: number): string => `${id}:ticket:refund_owed:${refund}:resolve`,
});

/** The ids of a round's money owed to one member. */
const roundOwedIds = Object.freeze({
  /** Member m's payment n recorded: `<round>:owed:<m>:paid:<n>:ledger`. */
  ledgerPaid: (roundId: string, memberId: string, n: number): string =>
    `${roundId}:owed:${memberId}:paid:${n}:ledger`,
  /** Member m is told dispute d left them owed money: `<round>:notify:owed_outside_stripe:<m>:<d>`. */
  noticeBooked: (roundId: string, memberId: string, disputeId: string): string =>
    `${roundId}:notify:owed_outside_stripe:${memberId}:${disputeId}`,
  /** Member m is told payment n was made: `<round>:notify:owed_paid_outside_stripe:<m>:<n>`. */
  noticePaid: (roundId: string, memberId: string, n: number): string =>
    `${roundId}:notify:owed_paid_outside_stripe:${memberId}:${n}`,
  /** The rest-owed ticket of dispute d is resolved: `<round>:ticket:dispute:<d>:rest_owed:resolve`. */
  resolveRestOwed: (roundId: string, disputeId: string): string =>
    `${roundId}:ticket:dispute:${disputeId}:rest_owed:resolve`,
  /** The won ticket of dispute d (its closure left money owed) is resolved: `<round>:ticket:dispute:<d>:won:resolve`. */
  resolveWonOwed: (roundId: string, disputeId: string): string =>
    `${roundId}:ticket:dispute:${disputeId}:won:resolve`,
});

/** Every id of money owed outside Stripe: a payment aggregate's (`payment`) and a round's (`round`). */
export const owedIds = Object.freeze({ payment: paymentOwedIds, round: roundOwedIds });
