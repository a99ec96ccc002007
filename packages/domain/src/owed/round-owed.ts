// Recording money a round owes a member outside Stripe paid. What is owed is what the round
// booked on `round:<r>:owed_to_member:<m>` (`Contribution.owedOutsideStripeMinor`: the rest of
// a contribution disputed in part, which Stripe will not refund); what was paid,
// `Contribution.owedPayments`. Each payment posts `contribution_paid_outside_stripe` (Dr
// `round:<r>:paid_outside_stripe:<m>`, Cr `round:<r>:owed_to_member:<m>`), tells the member,
// and once nothing is left resolves the rest-owed ticket of each of the member's disputes.
import { err, type Result } from "neverthrow";
import type { MemberId } from "../group/ids.js";
import type { Decision } from "../kernel/decision.js";
import { contributionPaidOutsideStripe } from "../ledger/round-movements.js";
import { money } from "../money/index.js";
import type { Contribution, Round } from "../round/round.js";
import type { RoundEffect } from "../round/round-effect.js";
import { roundIds } from "../round/round-ids.js";
import type { Instant } from "../shared/time.js";
import { owedIds } from "./owed-ids.js";
import { type OwedPaymentError, owedPaymentError } from "./owed-payment.errors.js";
import { decideOwedPayment, type OwedOutsideStripe, type RecordOwedPayment } from "./owed-payment.js";

/**
 * What a round owes member `c` outside Stripe, and what was paid of it. A round stored before
 * it kept what it booked (`owedOutsideStripeMinor` absent, no payment recorded) owes what the
 * ledger's `round:<r>:owed_to_member:<m>` says (`ledgerOwedMinor`, read by the use case), and
 * keeps it from the first payment on.
 */
export function roundOwed(round: Round, c: Contribution, ledgerOwedMinor = 0): OwedOutsideStripe {
  const payments = c.owedPayments ?? [];
  return {
    currency: round.currency,
    bookedMinor: c.owedOutsideStripeMinor ?? (payments.length === 0 ? ledgerOwedMinor : 0),
    payments,
  };
}

/** Whether the round keeps what it owes `c` (else the ledger says it: a round stored before it was kept). */
export function roundKeepsOwed(c: Contribution): boolean {
  return c.owedOutsideStripeMinor !== undefined || (c.owedPayments ?? []).length > 0;
}

/**
 * Whether what the round may owe `c` outside Stripe is only in the ledger: the round does not
 * keep it ({@link roundKeepsOwed}) and the member disputed a charge of theirs (money is owed
 * outside Stripe only because of a dispute). Such a contribution's owed figure is the balance
 * of `round:<r>:owed_to_member:<m>` (see {@link roundOwed}); for any other, the round's own.
 */
export function roundOwedInLedger(c: Contribution): boolean {
  return !roundKeepsOwed(c) && (memberDisputeIds(c).length > 0 || (c.disputesWon ?? []).length > 0);
}

/**
 * Every dispute of the member's that may have left money owed: of the contribution's charge
 * (`disputeIds`), and of each surplus charge (a debit that took the money after all), which is
 * booked against that charge alone and not among `disputeIds`.
 */
function memberDisputeIds(c: Contribution): readonly string[] {
  const surplus = c.attempts.flatMap((a) =>
    a.surplus?.disputeId !== undefined ? [a.surplus.disputeId] : [],
  );
  return [...new Set([...c.disputeIds, ...surplus])];
}

/**
 * A platform admin records paying member `memberId` outside Stripe (part or all of what the
 * round owes them): see {@link decideOwedPayment} for the refusals; a member who does not
 * contribute to the round is owed nothing (`nothing_owed`). Pure.
 *
 * @param ledgerOwedMinor the balance of `round:<r>:owed_to_member:<m>`, for a round stored
 *   before it kept what it owes (see {@link roundOwed}); ignored otherwise
 */
export function decideRoundOwedPayment(
  round: Round,
  memberId: MemberId,
  command: RecordOwedPayment,
  ctx: { readonly now: Instant },
  ledgerOwedMinor = 0,
): Result<Decision<Round, RoundEffect, never>, OwedPaymentError> {
  const c = round.contributions.find((x) => x.memberId === memberId);
  if (c === undefined)
    return err(owedPaymentError("nothing_owed", `${memberId} does not contribute to round ${round.id}`));
  const owed = roundOwed(round, c, ledgerOwedMinor);
  return decideOwedPayment(owed, command, ctx.now).map(({ payment, payments, leftMinor }) => {
    const posted = contributionPaidOutsideStripe({
      id: owedIds.round.ledgerPaid(round.id, memberId, payment.number),
      roundId: round.id,
      memberId,
      amount: money(payment.amountMinor, round.currency),
      occurredAt: ctx.now,
      refs: { owedPayment: `${payment.number}` },
    });
    if (posted.isErr())
      throw new Error(`round ${round.id}: a posting was refused (${posted.error.code}); this is a bug`);
    const next: Contribution = { ...c, owedOutsideStripeMinor: owed.bookedMinor, owedPayments: payments };
    const effects: RoundEffect[] = [
      { kind: "post_ledger", id: posted.value.id, transaction: posted.value },
      {
        kind: "notify",
        id: owedIds.round.noticePaid(round.id, memberId, payment.number),
        aggregate: "round",
        aggregateId: round.id,
        to: { kind: "group", groupId: round.groupId, members: { kind: "member", memberId } },
        template: "owed_paid_outside_stripe",
        data: {
          roundId: round.id,
          memberId,
          currency: round.currency,
          payment: payment.number,
          amountMinor: payment.amountMinor,
          leftMinor,
          reference: payment.reference,
        },
      },
    ];
    // Nothing left owed: what each ticket about it asked is done — every dispute's rest-owed
    // ticket, and the won ticket of each closure that left the bank's part owed.
    if (leftMinor === 0) {
      const resolve = (id: string, ticketId: string) =>
        effects.push({
          kind: "resolve_ticket",
          id,
          aggregate: "round",
          aggregateId: round.id,
          ticketId,
          by: payment.paidBy,
          note: `paid outside Stripe: ${owed.bookedMinor} ${round.currency} in ${payment.number} payment(s), the last ${payment.reference}`,
        });
      // A surplus charge forgets its dispute once closed won; the rest it left owed stays owed.
      for (const disputeId of new Set([...memberDisputeIds(c), ...(c.disputesWon ?? [])]))
        resolve(
          owedIds.round.resolveRestOwed(round.id, disputeId),
          roundIds.ticket.disputeRestOwed(round.id, disputeId),
        );
      for (const disputeId of c.disputesWonOwed ?? [])
        resolve(
          owedIds.round.resolveWonOwed(round.id, disputeId),
          roundIds.ticket.disputeWon(round.id, disputeId),
        );
    }
    return {
      state: {
        ...round,
        contributions: round.contributions.map((x) => (x.memberId === memberId ? next : x)),
      },
      effects,
    };
  });
}

/** Whether the member disputed a charge of theirs before `disputeId` (the contribution's or a surplus one). */
function earlierDispute(c: Contribution, disputeId: string): boolean {
  return memberDisputeIds(c).some((id) => id !== disputeId);
}

/**
 * What booking `restOwedMinor` as owed to member `memberId` outside Stripe (dispute
 * `disputeId` left it) adds to the round: the contribution's total owed, and a notice to the
 * member saying what is owed and that an admin will pay it by other means (once per dispute
 * and occasion).
 */
export function owedToMemberBooked(
  round: Round,
  memberId: MemberId,
  disputeId: string,
  restOwedMinor: number,
  /** Tells a second booking of one dispute apart (its closure `won`: `"won"`), so its notice is not taken for the first's. */
  occasion?: string,
): {
  readonly patch: (c: Contribution) => Contribution;
  readonly notice: Extract<RoundEffect, { readonly kind: "notify" }>;
} {
  return {
    // A contribution that does not keep what it owes yet, with an earlier dispute, may owe
    // what a round stored before it kept it booked: only the ledger knows, so it keeps not
    // keeping (the first payment reads the balance, this booking included).
    patch: (c) =>
      !roundKeepsOwed(c) && earlierDispute(c, disputeId)
        ? c
        : { ...c, owedOutsideStripeMinor: (c.owedOutsideStripeMinor ?? 0) + restOwedMinor },
    notice: {
      kind: "notify",
      id: `${owedIds.round.noticeBooked(round.id, memberId, disputeId)}${occasion === undefined ? "" : `:${occasion}`}`,
      aggregate: "round",
      aggregateId: round.id,
      to: { kind: "group", groupId: round.groupId, members: { kind: "member", memberId } },
      template: "owed_outside_stripe",
      data: { roundId: round.id, memberId, currency: round.currency, amountMinor: restOwedMinor, disputeId },
    },
  };
}
