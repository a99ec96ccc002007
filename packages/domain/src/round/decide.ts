import { err, ok, type Result } from "neverthrow";
import type { MemberId } from "../group/ids.js";
import { type Decision, ignore } from "../kernel/decision.js";
import { Draft as KernelDraft } from "../kernel/draft.js";
import type { GroupAudience } from "../kernel/notify-audience.js";
import {
  contributionOwedToMember,
  contributionRefunded,
  contributionRefundFailed,
  debitFailed,
  debitInitiated,
  debitSettled,
  disputeLoss,
  disputeReinstated,
  payoutTransferred,
  transferReversed,
} from "../ledger/index.js";
import { money } from "../money/index.js";
import { owedToMemberBooked } from "../owed/round-owed.js";
import { debitMethodFor } from "../policy/debit-methods.js";
import { classifyFailure } from "../policy/failure-codes.js";
import { retryDelayMs } from "../policy/retry-policy.js";
import { MAX_COLLECTION_MS, type RoundPolicy } from "../policy/round-policy.js";
import { expectedSettlementAt } from "../policy/settlement.js";
import { unitFraction } from "../shared/hash.js";
import { DAY_MS, type Instant, isoString } from "../shared/time.js";
import { type RoundError, roundError } from "./round.errors.js";
import {
  type Contribution,
  type DebitAttempt,
  type DisputeBooking,
  type EarlierTransfer,
  type PayoutTransfer,
  type PendingDispute,
  payoutDueMinor,
  type Round,
  type SurplusCharge,
  sentNetMinor,
} from "./round.js";
import type { NotificationTemplate, RoundEffect, TicketReason } from "./round-effect.js";
import { roundIds } from "./round-ids.js";
import type { RoundIgnoredCode } from "./round-ignored.js";
import type { RoundInput, RoundTimer } from "./round-input.js";
import { moveRound } from "./round-transitions.js";

/** What `decide` needs besides the state and the input: the time, and the group's policy. */
export interface DecideContext {
  readonly now: Instant;
  readonly policy: RoundPolicy;
}

/**
 * The outcome of a decision: the next state and the effects to carry out. When the input
 * did not apply to the state (a duplicate or stale event, a timer for a step already
 * done), the state is unchanged, there are no effects, and `ignored` says why — a code
 * from `ROUND_IGNORED_CODES` and a sentence — so the caller can record it.
 */
export type RoundDecision = Decision<Round, RoundEffect, RoundIgnoredCode>;

type Step = Result<RoundDecision, RoundError>;

/** The input of one type, so each handler sees its own fields by name. */
type InputOf<T extends RoundInput["type"]> = Extract<RoundInput, { readonly type: T }>;

/** A round's draft: the kernel's {@link KernelDraft} (status moves, postings), plus its contributions, payouts, timers, notices and tickets. */
class Draft extends KernelDraft<Round, RoundEffect, DecideContext> {
  constructor(initial: Round, ctx: DecideContext) {
    super(initial, ctx, { label: "round", move: moveRound });
  }

  contribution(memberId: MemberId): Contribution | undefined {
    return this.state.contributions.find((c) => c.memberId === memberId);
  }

  updateContribution(memberId: MemberId, patch: (c: Contribution) => Contribution): void {
    this.set({
      contributions: this.state.contributions.map((c) => (c.memberId === memberId ? patch(c) : c)),
    });
  }

  updateAttempt(memberId: MemberId, attempt: number, patch: Partial<DebitAttempt>): void {
    this.updateContribution(memberId, (c) => ({
      ...c,
      attempts: c.attempts.map((a) => (a.number === attempt ? { ...a, ...patch } : a)),
    }));
  }

  updatePayout(sourceMemberId: MemberId, patch: Partial<PayoutTransfer>): void {
    this.set({
      payouts: this.state.payouts.map((p) => (p.sourceMemberId === sourceMemberId ? { ...p, ...patch } : p)),
    });
  }

  /**
   * Schedules a timer. Its id must be new for every arming: the outbox and the scheduler
   * keep one timer per id, so a re-armed timer with an old id would silently never fire.
   * `rearm` tells apart timers of one kind armed more than once (the round's version).
   */
  timer(timer: RoundTimer, at: Instant, rearm?: number): void {
    const roundId = this.state.id;
    this.effects.push({
      kind: "schedule_timer",
      id: roundIds.timer(roundId, timer, rearm),
      aggregate: "round",
      aggregateId: roundId,
      at,
      timer,
    });
  }

  /** Notifies some of the round's group: a member, its admins or all its members. */
  notify(
    id: string,
    members: GroupAudience,
    template: NotificationTemplate,
    data: Record<string, string | number>,
  ): void {
    const s = this.state;
    this.effects.push({
      kind: "notify",
      id,
      aggregate: "round",
      aggregateId: s.id,
      to: { kind: "group", groupId: s.groupId, members },
      template,
      data: { roundId: s.id, currency: s.currency, ...data },
    });
  }

  ticket(id: string, reason: TicketReason, summary: string): void {
    const s = this.state;
    this.effects.push({
      kind: "open_ticket",
      id,
      aggregate: "round",
      aggregateId: s.id,
      groupId: s.groupId,
      reason,
      summary,
    });
  }
}

/**
 * The attempt whose charge funds the contribution: the latest that succeeded (an earlier
 * one may be disputed), never a surplus charge (one that succeeded after susu recorded it
 * as failed: it is refunded on its own).
 */
function lastSucceeded(c: Contribution): DebitAttempt | undefined {
  return [...c.attempts].reverse().find((a) => a.status === "succeeded" && a.surplus === undefined);
}

/** A member's surplus charges (see `DebitAttempt.surplus`), oldest attempt first. */
function surplusCharges(c: Contribution): (DebitAttempt & { readonly surplus: SurplusCharge })[] {
  return c.attempts.filter(
    (a): a is DebitAttempt & { readonly surplus: SurplusCharge } => a.surplus !== undefined,
  );
}

const ledgerRef = (round: Round, memberId: MemberId, amountMinor: number, occurredAt: Instant) => ({
  roundId: round.id,
  memberId,
  amount: money(amountMinor, round.currency),
  occurredAt,
});

/**
 * The round's state machine: given the current state and an input, the next state and
 * the effects to carry out. Pure: no I/O, no clock, no randomness (retry jitter is derived
 * from the attempt's stable id). Inputs that do not apply are ignored with a code, never
 * errors; invalid commands from people are errors with a stable code. A move outside
 * `ROUND_TRANSITIONS` or a posting the ledger refuses throws: both are bugs.
 */
export function decide(state: Round, input: RoundInput, ctx: DecideContext): Step {
  const d = new Draft(state, ctx);
  switch (input.type) {
    case "open":
      return open(d);
    case "retry_contribution":
      return retryContribution(d, input);
    case "cancel":
      return cancel(d, input);
    case "resume_payout":
      return resumePayout(d);
    case "reassign_payout":
      return reassignPayout(d, input);
    case "extend_deadline":
      return extendDeadline(d, input);
    case "retry_refund":
      return retryRefund(d, input);
    case "timer":
      return onTimer(d, input);
    case "debit_processing":
      return debitProcessing(d, input);
    case "debit_succeeded":
      return withPendingDisputes(debitSucceeded(d, input), input, ctx);
    case "debit_failed":
      return debitFailedInput(d, input);
    case "refund_succeeded":
      return refundSucceeded(d, input);
    case "refund_failed":
      return refundFailedInput(d, input);
    case "transfer_created":
      return transferCreated(d, input);
    case "transfer_failed":
      return transferFailed(d, input);
    case "transfer_reversed":
      return transferReversedInput(d, input);
    case "recipient_readiness":
      return recipientReadiness(d, input);
    case "dispute_opened":
      return disputeOpened(d, input);
    case "dispute_won":
      return disputeWon(d, input);
  }
}

// ---------------------------------------------------------------- collection

function requestDebit(d: Draft, memberId: MemberId): void {
  const s = d.state;
  const c = d.contribution(memberId);
  if (!c) return;
  const number = c.attempts.length + 1;
  const effectId = roundIds.debit(s.id, memberId, number);
  const { retryAt: _retryAt, ...rest } = c;
  d.updateContribution(memberId, () => ({
    ...rest,
    status: "awaiting_debit",
    attempts: [
      ...c.attempts,
      { number, effectId, status: "requested", requestedAt: d.ctx.now, initiatedPosted: false },
    ],
  }));
  d.effects.push({
    kind: "collect_contribution",
    id: effectId,
    roundId: s.id,
    groupId: s.groupId,
    memberId,
    attempt: number,
    amountMinor: c.amountMinor,
    currency: s.currency,
    transferGroup: s.transferGroup,
  });
}

function open(d: Draft): Step {
  if (d.state.status !== "scheduled")
    return ignore(d.state, "round_not_scheduled", `round is ${d.state.status}, not scheduled`);
  const deadline = d.ctx.now + d.ctx.policy.collectionWindowMs;
  d.moveTo("collecting", { openedAt: d.ctx.now, collectionDeadlineAt: deadline });
  for (const c of d.state.contributions) requestDebit(d, c.memberId);
  d.timer({ kind: "collection_deadline" }, deadline);
  return d.done();
}

/**
 * A member's debit asked for again now, by the member or an admin, before the deadline, while
 * the contribution failed, waits for a retry or was disputed. Refused (`contribution_not_retryable`)
 * once the contribution has had the policy's most debit attempts (`debitRetry.attemptsMax`,
 * automatic and manual together: a bank is not asked without end), and after a permanent
 * failure (account closed, mandate revoked, …) unless the member's mandate is active again
 * (`mandateActive`: Stripe deactivates the one that failed for good, so an active mandate
 * means new bank details): the same bank would refuse the same debit again.
 */
function retryContribution(d: Draft, { memberId, mandateActive }: InputOf<"retry_contribution">): Step {
  const c = d.contribution(memberId);
  if (!c) return err(roundError("contribution_not_found", `${memberId} does not contribute to this round`));
  const s = d.state;
  const canRetry =
    (s.status === "collecting" || s.status === "settled") &&
    (c.status === "failed" || c.status === "retry_scheduled" || c.status === "disputed") &&
    (s.collectionDeadlineAt === undefined || d.ctx.now < s.collectionDeadlineAt);
  if (!canRetry)
    return err(
      roundError(
        "contribution_not_retryable",
        `the contribution is ${c.status} and the round is ${s.status}`,
      ),
    );
  const most = d.ctx.policy.debitRetry.attemptsMax;
  if (c.attempts.length >= most)
    return err(
      roundError(
        "contribution_not_retryable",
        `the contribution has had ${c.attempts.length} debit attempts, the most a round asks of one member (${most}): no further debit is made for this round`,
      ),
    );
  const last = c.attempts.at(-1);
  if (c.status === "failed" && last?.failureClass === "permanent" && mandateActive !== true)
    return err(
      roundError(
        "contribution_not_retryable",
        `the last debit failed permanently (${last.failureCode ?? "unknown"}) and the bank would refuse it again: the member must first save new bank details (a new BECS Direct Debit mandate), then retry`,
      ),
    );
  if (s.status === "settled") d.moveTo("collecting");
  requestDebit(d, memberId);
  return d.done();
}

function findAttempt(
  d: Draft,
  memberId: MemberId,
  attempt: number,
): [Contribution, DebitAttempt] | undefined {
  const c = d.contribution(memberId);
  const a = c?.attempts.find((x) => x.number === attempt);
  return c && a ? [c, a] : undefined;
}

function debitProcessing(
  d: Draft,
  { memberId, attempt, paymentIntentId }: InputOf<"debit_processing">,
): Step {
  const found = findAttempt(d, memberId, attempt);
  if (!found) return ignore(d.state, "no_such_attempt", `no debit attempt ${attempt} for ${memberId}`);
  const [c, a] = found;
  if (a.status !== "requested")
    return ignore(
      d.state,
      a.status === "processing" ? "attempt_already_processing" : "attempt_already_settled",
      `debit attempt is already ${a.status}`,
    );
  d.updateAttempt(memberId, attempt, { status: "processing", paymentIntentId, initiatedPosted: true });
  if (c.status === "awaiting_debit") d.updateContribution(memberId, (x) => ({ ...x, status: "processing" }));
  d.post(
    debitInitiated({
      id: roundIds.ledger.debitInitiated(a.effectId),
      ...ledgerRef(d.state, memberId, c.amountMinor, d.ctx.now),
    }),
  );
  noticeDebitInitiated(d, memberId, attempt, c.amountMinor);
  return d.done();
}

/**
 * Tells the member their debit was submitted to their bank: how much, for which group, and
 * by when it should have settled (the debit method's business days from now). Sent when
 * the debit is known to be processing, once per attempt (its id is the attempt's).
 */
function noticeDebitInitiated(d: Draft, memberId: MemberId, attempt: number, amountMinor: number): void {
  const s = d.state;
  const method = debitMethodFor(s.currency);
  d.notify(
    roundIds.notice.debitInitiated(s.id, memberId, attempt),
    { kind: "member", memberId },
    "debit_initiated",
    {
      memberId,
      groupId: s.groupId,
      amountMinor,
      attempt,
      ...(method !== undefined
        ? { expectedSettlementBy: isoString(expectedSettlementAt(method, d.ctx.now)) }
        : {}),
    },
  );
}

function debitSucceeded(d: Draft, input: InputOf<"debit_succeeded">): Step {
  const { memberId, attempt, paymentIntentId, chargeId } = input;
  const found = findAttempt(d, memberId, attempt);
  if (!found) return ignore(d.state, "no_such_attempt", `no debit attempt ${attempt} for ${memberId}`);
  const [c, a] = found;
  if (a.status === "succeeded")
    return ignore(d.state, "attempt_already_settled", "debit attempt is already succeeded");
  if (a.status === "failed") return successAfterFailure(d, c, a, input);
  const ref = ledgerRef(d.state, memberId, c.amountMinor, d.ctx.now);
  // The success overtook the "processing" event: post the initiation first so the ledger stays whole.
  if (!a.initiatedPosted) d.post(debitInitiated({ id: roundIds.ledger.debitInitiated(a.effectId), ...ref }));
  d.updateAttempt(memberId, attempt, {
    status: "succeeded",
    paymentIntentId,
    chargeId,
    initiatedPosted: true,
  });
  d.post(debitSettled({ id: roundIds.ledger.debitSettled(a.effectId), ...ref }));
  const { retryAt: _r, ...rest } = c;
  d.updateContribution(memberId, (x) => ({ ...rest, attempts: x.attempts, status: "succeeded" }));

  switch (d.state.status) {
    case "collecting":
      if (d.state.contributions.every((x) => x.status === "succeeded")) return settle(d);
      return refundIfNothingCanArrive(d);
    case "refunding":
      requestRefund(d, memberId);
      return d.done();
    default:
      // A success after the round moved on (cannot normally happen): keep the money visible.
      d.ticket(
        roundIds.ticket.lateDebitSuccess(d.state.id, memberId, attempt),
        "unexpected_money",
        `debit ${paymentIntentId} succeeded after the round was ${d.state.status}`,
      );
      return d.done();
  }
}

/**
 * Whether the late success of `a` (an attempt recorded as failed) is the member's
 * contribution rather than a second charge: the round still collects, the member still
 * owes (their contribution failed, or waits for a retry not yet asked for), no later attempt
 * of theirs is asked for at Stripe (requested or processing: a BECS debit in flight cannot be
 * called back and may still take the money, so the late charge goes back at once and the
 * attempt in flight counts if it succeeds; never two charges counted), and no later attempt
 * succeeded (the contribution counts the latest success, see {@link lastSucceeded}: a later
 * one disputed keeps it a second charge).
 */
function lateChargeCounts(d: Draft, c: Contribution, a: DebitAttempt): boolean {
  if (d.state.status !== "collecting") return false;
  if (c.status !== "retry_scheduled" && c.status !== "failed") return false;
  if (c.attempts.some((x) => x.status === "requested" || x.status === "processing")) return false;
  return (lastSucceeded(c)?.number ?? 0) < a.number;
}

/**
 * The bank took the money for an attempt susu had recorded as failed (an answer lost and
 * a failure assumed, a slow bank, or events that contradict each other). The money is real:
 * record it in the ledger (it sits in the pot). When the member still owes the contribution
 * and nothing else of theirs is in flight ({@link lateChargeCounts}), it IS the contribution,
 * counted as an on-time success ({@link countLateCharge}). Otherwise it is a second charge:
 * give it back to the member at once from its own PaymentIntent, whatever the round is
 * doing, and open a ticket so a person sees it. Never ignored: that would leave a member's
 * money on the platform with nothing saying so.
 */
function successAfterFailure(
  d: Draft,
  c: Contribution,
  a: DebitAttempt,
  input: InputOf<"debit_succeeded">,
): Step {
  const { paymentIntentId, chargeId } = input;
  const ref = ledgerRef(d.state, c.memberId, c.amountMinor, d.ctx.now);
  // If the failure undid the initiation, initiate again (under a new id) so settling balances.
  d.post(
    debitInitiated({
      id: a.initiatedPosted
        ? roundIds.ledger.debitInitiatedLate(a.effectId)
        : roundIds.ledger.debitInitiated(a.effectId),
      ...ref,
    }),
  );
  d.post(debitSettled({ id: roundIds.ledger.debitSettled(a.effectId), ...ref }));
  if (lateChargeCounts(d, c, a)) return countLateCharge(d, c, a, input);
  // The contribution does not count this charge (it may have another, or none): it is a
  // surplus, refunded on its own at once. It never funds a transfer, so the round goes on
  // as it would have without it: a round that pays out ends paid out while this refund is
  // out, and a refunding round waits for it as for its other refunds.
  d.updateAttempt(c.memberId, a.number, {
    status: "succeeded",
    paymentIntentId,
    chargeId,
    initiatedPosted: true,
    surplus: { status: "held" },
  });
  d.ticket(
    roundIds.ticket.lateDebitSuccess(d.state.id, c.memberId, a.number),
    "unexpected_money",
    `debit ${paymentIntentId} of ${c.memberId} succeeded after susu recorded it as failed; round ${d.state.id} is ${d.state.status} and does not count it: it is refunded on its own (${roundIds.surplusRefund(d.state.id, c.memberId, a.number)})`,
  );
  d.notify(
    roundIds.notice.lateDebitSuccess(d.state.id, c.memberId, a.number),
    { kind: "admins" },
    "unexpected_money",
    {
      memberId: c.memberId,
      paymentIntentId,
      refundId: roundIds.surplusRefund(d.state.id, c.memberId, a.number),
    },
  );
  requestSurplusRefund(d, c.memberId, a.number);
  return d.done();
}

/**
 * A late charge that is the member's contribution (see {@link lateChargeCounts}), its
 * postings made by {@link successAfterFailure}: the pot and the ledger hold it as they hold
 * an on-time success. The contribution has succeeded, so the retry the failure scheduled is
 * not asked for (its timer, still armed at the scheduler, is ignored when it fires: the
 * contribution no longer waits for a retry), nothing is refunded, and the round goes on as
 * after any success: it settles (and pays out) if everyone has paid, or, past the deadline,
 * refunds if nothing else can still arrive.
 */
function countLateCharge(
  d: Draft,
  c: Contribution,
  a: DebitAttempt,
  { paymentIntentId, chargeId }: InputOf<"debit_succeeded">,
): Step {
  d.updateAttempt(c.memberId, a.number, {
    status: "succeeded",
    paymentIntentId,
    chargeId,
    initiatedPosted: true,
  });
  d.updateContribution(c.memberId, (x) => {
    const { retryAt: _cancelled, ...rest } = x;
    return { ...rest, status: "succeeded" };
  });
  // The member was told the debit failed (and a retry, or none): they hear it was collected
  // after all, once (the id is the attempt's; the same success heard again is ignored).
  d.notify(
    roundIds.notice.contributionCollectedLate(d.state.id, c.memberId, a.number),
    { kind: "member", memberId: c.memberId },
    "contribution_collected_late",
    {
      memberId: c.memberId,
      groupId: d.state.groupId,
      amountMinor: c.amountMinor,
      attempt: a.number,
      paymentIntentId,
    },
  );
  if (d.state.contributions.every((x) => x.status === "succeeded")) return settle(d);
  return refundIfNothingCanArrive(d);
}

function debitFailedInput(d: Draft, input: InputOf<"debit_failed">): Step {
  const { memberId, attempt, failureCode, paymentIntentId } = input;
  const found = findAttempt(d, memberId, attempt);
  if (!found) return ignore(d.state, "no_such_attempt", `no debit attempt ${attempt} for ${memberId}`);
  const [c, a] = found;
  if (a.status === "succeeded" || a.status === "failed")
    return ignore(d.state, "attempt_already_settled", `debit attempt is already ${a.status}`);
  const failureClass = classifyFailure("becs_debit", failureCode);
  d.updateAttempt(memberId, attempt, {
    status: "failed",
    failureCode,
    failureClass,
    ...(paymentIntentId !== undefined ? { paymentIntentId } : {}),
  });
  if (a.initiatedPosted)
    d.post(
      debitFailed({
        id: roundIds.ledger.debitFailed(a.effectId),
        ...ledgerRef(d.state, memberId, c.amountMinor, d.ctx.now),
      }),
    );
  const s = d.state;
  if (s.status !== "collecting") {
    d.updateContribution(memberId, (x) => ({ ...x, status: "failed" }));
    return s.status === "refunding" ? finishRefundingIfDone(d) : d.done();
  }
  const deadline = s.collectionDeadlineAt ?? Number.POSITIVE_INFINITY;
  const delay =
    failureClass === "retryable"
      ? retryDelayMs(d.ctx.policy.debitRetry, attempt, unitFraction(roundIds.seed.debitRetry(a.effectId)))
      : null;
  if (delay !== null && d.ctx.now + delay < deadline) {
    const retryAt = d.ctx.now + delay;
    d.updateContribution(memberId, (x) => ({ ...x, status: "retry_scheduled", retryAt }));
    d.timer({ kind: "retry_debit", memberId, attempt: attempt + 1 }, retryAt);
    d.notify(
      roundIds.notice.contributionRetryScheduled(s.id, memberId, attempt),
      { kind: "member", memberId },
      "contribution_retry_scheduled",
      { memberId, failureCode, retryAt: isoString(retryAt) },
    );
    return d.done();
  }
  d.updateContribution(memberId, (x) => ({ ...x, status: "failed" }));
  const data = {
    memberId,
    failureCode,
    permanent: failureClass === "permanent" ? "yes" : "no",
    deadline: isoString(deadline),
  };
  d.notify(
    roundIds.notice.contributionFailed(s.id, memberId, attempt),
    { kind: "member", memberId },
    "contribution_failed",
    data,
  );
  d.notify(
    roundIds.notice.contributionFailedToAdmins(s.id, memberId, attempt),
    { kind: "admins" },
    "contribution_failed",
    data,
  );
  return refundIfNothingCanArrive(d);
}

/**
 * Whether a contribution not yet paid may still be: a debit processing at the bank (BECS
 * takes days), asked for and not yet answered, or a retry scheduled.
 */
function canStillArrive(c: Contribution): boolean {
  return c.status === "processing" || c.status === "awaiting_debit" || c.status === "retry_scheduled";
}

/**
 * Once the deadline has passed (its grace period running, or its timer not yet fired), a
 * collecting round waits only for debits that may still succeed. When someone has not paid
 * and none of the missing contributions can still arrive (every debit failed with no retry
 * left: none is scheduled past the deadline, and a member may retry only before it), there
 * is nothing to wait for: the refunds start now instead of when the grace period ends.
 * Before the deadline the round waits for it, as a member may still pay again.
 */
function refundIfNothingCanArrive(d: Draft): Step {
  const s = d.state;
  const deadline = s.collectionDeadlineAt;
  if (s.status !== "collecting" || deadline === undefined || d.ctx.now < deadline) return d.done();
  const missing = s.contributions.filter((c) => c.status !== "succeeded");
  if (missing.length === 0 || missing.some(canStillArrive)) return d.done();
  return startRefunding(
    d,
    s.graceEndsAt !== undefined
      ? "the collection deadline passed and the debits its grace period waited for failed"
      : "the collection deadline passed before every contribution succeeded",
  );
}

// ---------------------------------------------------------------- timers

function onTimer(d: Draft, { timer }: InputOf<"timer">): Step {
  const s = d.state;
  switch (timer.kind) {
    case "collection_deadline": {
      if (s.status !== "collecting")
        return ignore(s, "timer_no_longer_due", `deadline passed while ${s.status}`);
      // Armed for a deadline since extended: the new deadline has its own timer.
      if ((timer.extension ?? 0) !== (s.deadlineExtensions ?? 0))
        return ignore(s, "timer_no_longer_due", "the deadline was extended after this timer was armed");
      const open = s.contributions.filter((c) => c.status !== "succeeded");
      if (open.length === 0) return settle(d);
      // Only debits still in flight: they may yet succeed, so wait out the grace period (it
      // ends sooner if they all land before it does: see `refundIfNothingCanArrive`).
      if (open.every((c) => c.status === "processing") && d.ctx.policy.settlementGraceMs > 0) {
        const graceEndsAt = d.ctx.now + d.ctx.policy.settlementGraceMs;
        d.set({ graceEndsAt });
        armDeadlineTimer(d, "grace_end", graceEndsAt);
        return d.done();
      }
      return startRefunding(d, "the collection deadline passed before every contribution succeeded");
    }
    case "grace_end":
      if (s.status !== "collecting") return ignore(s, "timer_no_longer_due", `grace ended while ${s.status}`);
      // An extended deadline ends the grace period the old one started.
      if ((timer.extension ?? 0) !== (s.deadlineExtensions ?? 0))
        return ignore(s, "timer_no_longer_due", "the deadline was extended after this grace period began");
      if (s.contributions.every((c) => c.status === "succeeded")) return settle(d);
      return startRefunding(
        d,
        "the collection deadline and grace period passed before every contribution succeeded",
      );
    case "retry_debit": {
      if (s.status !== "collecting") return ignore(s, "timer_no_longer_due", `retry timer while ${s.status}`);
      const c = d.contribution(timer.memberId);
      if (c?.status !== "retry_scheduled" || c.attempts.length + 1 !== timer.attempt)
        return ignore(s, "timer_no_longer_due", `retry ${timer.attempt} for ${timer.memberId} no longer due`);
      // A retry fires before the deadline it was armed for; one that fires after it (the
      // scheduler was late) asks for no debit, as a member asking then is refused: the
      // deadline's own timer refunds the round (the contribution cannot be paid in time).
      if (s.collectionDeadlineAt !== undefined && d.ctx.now >= s.collectionDeadlineAt)
        return ignore(
          s,
          "timer_no_longer_due",
          `retry ${timer.attempt} for ${timer.memberId} fired after the collection deadline (${isoString(s.collectionDeadlineAt)})`,
        );
      requestDebit(d, timer.memberId);
      return d.done();
    }
    case "payout_due":
      if (s.status !== "settled") return ignore(s, "timer_no_longer_due", `payout timer while ${s.status}`);
      return startPayout(d);
    case "retry_payout":
      if (s.status !== "paying_out" || s.payoutAttempt + 1 !== timer.attempt)
        return ignore(s, "timer_no_longer_due", `payout retry ${timer.attempt} no longer due`);
      return startPayout(d);
  }
}

function settle(d: Draft): Step {
  d.moveTo("settled");
  if (d.ctx.policy.payoutDelayMs === 0) return startPayout(d);
  d.timer({ kind: "payout_due" }, d.ctx.now + d.ctx.policy.payoutDelayMs, d.state.version);
  return d.done();
}

// ---------------------------------------------------------------- refunds and cancellation

/** The refund attempt a contribution asked for last (absent: 1, see `Contribution.refundAttempt`). */
function refundAttemptOf(c: Contribution): number {
  return c.refundAttempt ?? 1;
}

/**
 * Asks Stripe to refund a member's contribution, as refund attempt `attempt` (the current
 * one unless an admin's retry asks for the next). Attempt 1 keeps the id, effect and
 * metadata it had before refunds could be retried; a later attempt is a new refund under
 * a new idempotency key, its number in the effect (and so in the refund's metadata).
 */
function requestRefund(d: Draft, memberId: MemberId, attempt?: number): void {
  const c = d.contribution(memberId);
  const paid = c ? lastSucceeded(c) : undefined;
  if (!c || !paid?.paymentIntentId) return;
  const n = attempt ?? refundAttemptOf(c);
  d.updateContribution(memberId, (x) => ({
    ...x,
    status: "refund_requested",
    ...(n > 1 ? { refundAttempt: n } : {}),
  }));
  d.effects.push({
    kind: "refund",
    id: roundIds.refund(d.state.id, memberId, n),
    roundId: d.state.id,
    groupId: d.state.groupId,
    memberId,
    ...(n > 1 ? { attempt: n } : {}),
    paymentIntentId: paid.paymentIntentId,
    amountMinor: c.amountMinor,
    currency: d.state.currency,
  });
}

/**
 * An admin asks again for a refund that failed (Stripe's `refund.failed`, or a refusal when
 * it was created), once the cause is fixed: without it the round could never leave
 * `refunding`. The new attempt is a new refund at Stripe under a new idempotency key (the
 * old key would only replay the failed refund); outcomes of the old attempt that arrive
 * late are ignored. The ledger posts a contribution's refund once, whichever attempt lands.
 * Also once the round is cancelled: a refund Stripe failed after its success leaves the
 * member owed the money, and the retry is the product's way to pay it (the round stays
 * cancelled and posts nothing more). A surplus charge's refund is retried whatever the
 * round's status (it is asked for at once, so it can fail while the round collects, pays
 * out or once it was paid out); a surplus charge stored `held` by a version that held them
 * until the round refunded is asked for here for the first time.
 */
function retryRefund(d: Draft, { memberId }: InputOf<"retry_refund">): Step {
  const c = d.contribution(memberId);
  if (!c) return err(roundError("contribution_not_found", `${memberId} does not contribute to this round`));
  const s = d.state;
  const contributionFailed =
    refundRetryable(s) && c.status === "refund_failed" && lastSucceeded(c)?.paymentIntentId !== undefined;
  const surplusOwed = surplusCharges(c).filter(
    (a) => a.surplus.status === "refund_failed" || a.surplus.status === "held",
  );
  if (!contributionFailed && surplusOwed.length === 0)
    return err(
      roundError(
        "no_failed_refund",
        `no refund of ${memberId} waits for a retry: neither the contribution's (retried in a refunding or cancelled round) nor a surplus charge's (the round is ${s.status}, the contribution ${c.status})`,
      ),
    );
  // Every failed refund of the member is asked for again: the contribution's, and any
  // surplus charge's (one stored held is asked for as its first attempt).
  if (contributionFailed) requestRefund(d, memberId, refundAttemptOf(c) + 1);
  for (const a of surplusOwed)
    requestSurplusRefund(
      d,
      memberId,
      a.number,
      (a.surplus.refundAttempt ?? 1) + (a.surplus.status === "refund_failed" ? 1 : 0),
    );
  return d.done();
}

/**
 * Whether a contribution's failed refund can be asked for again: while the round refunds
 * (it waits for the refund), and once it was cancelled (Stripe failed a refund after
 * reporting it succeeded: the member is owed the money, and the round, which ended once,
 * does not end again when the retry lands). A surplus charge's failed refund can be asked
 * for again in any status (see {@link retryRefund}).
 */
function refundRetryable(round: Round): boolean {
  return round.status === "refunding" || round.status === "cancelled";
}

/**
 * Asks Stripe to refund a member's surplus charge (see `DebitAttempt.surplus`) from its
 * own PaymentIntent, as refund attempt `attempt` (the current one unless an admin's retry
 * asks for the next), under its own id and idempotency key.
 */
function requestSurplusRefund(d: Draft, memberId: MemberId, debitAttempt: number, attempt?: number): void {
  const c = d.contribution(memberId);
  const a = c?.attempts.find((x) => x.number === debitAttempt);
  if (!c || !a?.surplus || a.paymentIntentId === undefined) return;
  const n = attempt ?? a.surplus.refundAttempt ?? 1;
  d.updateAttempt(memberId, debitAttempt, {
    surplus: { ...a.surplus, status: "refund_requested", ...(n > 1 ? { refundAttempt: n } : {}) },
  });
  d.effects.push({
    kind: "refund",
    id: roundIds.surplusRefund(d.state.id, memberId, debitAttempt, n),
    roundId: d.state.id,
    groupId: d.state.groupId,
    memberId,
    ...(n > 1 ? { attempt: n } : {}),
    debitAttempt,
    paymentIntentId: a.paymentIntentId,
    amountMinor: c.amountMinor,
    currency: d.state.currency,
  });
}

/**
 * Asks for the refund of every surplus charge still `held`: only a snapshot stored by a
 * version that held them until the round refunded has one (today's refunds them at once).
 * Called when the round starts refunding and when it is paid out, so such a charge does not
 * stay in the pot.
 */
function refundHeldSurpluses(d: Draft): void {
  for (const c of d.state.contributions)
    for (const a of surplusCharges(c))
      if (a.surplus.status === "held") requestSurplusRefund(d, c.memberId, a.number);
}

function startRefunding(d: Draft, reason: string): Step {
  d.moveTo("refunding", { cancellationReason: reason });
  refundHeldSurpluses(d);
  for (const c of d.state.contributions) {
    if (c.status === "succeeded") requestRefund(d, c.memberId);
    // No new attempt will be made. A debit still awaited whose effect waits in the outbox is
    // not sent: the outbox sees the round no longer collects and reports it failed
    // (`debit_not_sent`), or, when an earlier try may have reached Stripe, looks the debit up
    // and reports what it found (refunded on success, as any late success).
    else if (c.status === "retry_scheduled")
      d.updateContribution(c.memberId, (x) => ({ ...x, status: "failed" }));
  }
  d.notify(roundIds.notice.roundCancelling(d.state.id), { kind: "all_members" }, "round_cancelling", {
    reason,
  });
  return finishRefundingIfDone(d);
}

function finishRefundingIfDone(d: Draft): Step {
  const s = d.state;
  // A refund that lands after the round was cancelled (a surplus charge's, a retried one's)
  // ends nothing: the round ended once.
  if (s.status !== "refunding") return d.done();
  const surplus = (c: Contribution, status: SurplusCharge["status"]) =>
    surplusCharges(c).some((a) => a.surplus.status === status);
  const waiting = s.contributions.some(
    (c) =>
      c.status === "processing" ||
      c.status === "refund_requested" ||
      (c.status === "awaiting_debit" && c.attempts.some((a) => a.status === "requested")) ||
      surplus(c, "refund_requested"),
  );
  if (waiting || s.contributions.some((c) => c.status === "refund_failed" || surplus(c, "refund_failed")))
    return d.done();
  d.moveTo("cancelled", { endedAt: d.ctx.now });
  d.effects.push({
    kind: "round_ended",
    id: roundIds.roundEnded(s.id),
    groupId: s.groupId,
    roundId: s.id,
    outcome: { cancelled: true },
  });
  d.notify(roundIds.notice.roundCancelled(s.id), { kind: "all_members" }, "round_cancelled", {
    reason: s.cancellationReason ?? "cancelled",
  });
  return d.done();
}

/**
 * An admin moves the collection deadline later, while the round collects or has collected
 * and not paid out (a dispute may yet reopen collection). The deadline timer armed before
 * stays in the scheduler and is ignored when it fires early; a new one is armed under a
 * new id (the round's version), since the scheduler keeps one timer per id. A grace period
 * the old deadline started is over: the new deadline replaces it.
 */
function extendDeadline(d: Draft, { deadline }: InputOf<"extend_deadline">): Step {
  const s = d.state;
  if (s.status !== "collecting" && s.status !== "settled")
    return err(
      roundError(
        "deadline_not_extendable",
        `the round is ${s.status}; only a collecting round has a deadline`,
      ),
    );
  const current = s.collectionDeadlineAt ?? d.ctx.now;
  if (!Number.isSafeInteger(deadline) || deadline <= current || deadline <= d.ctx.now)
    return err(
      roundError(
        "invalid_deadline",
        `the new deadline must be later than the current one (${isoString(current)}) and than now`,
      ),
    );
  // Collected contributions must stay refundable (Stripe: 90 days from the charge).
  const latest = (s.openedAt ?? s.scheduledFor) + (d.ctx.policy.maxCollectionMs ?? MAX_COLLECTION_MS);
  if (deadline > latest)
    return err(
      roundError(
        "deadline_not_extendable",
        `the deadline can be at most ${Math.floor((latest - (s.openedAt ?? s.scheduledFor)) / DAY_MS)} days after the round opened, so that every contribution can still be refunded: the latest allowed is ${isoString(latest)}`,
      ),
    );
  const { graceEndsAt: _replaced, ...rest } = s;
  d.state = { ...rest, collectionDeadlineAt: deadline, deadlineExtensions: (s.deadlineExtensions ?? 0) + 1 };
  if (s.status === "collecting") armDeadlineTimer(d, "collection_deadline", deadline, s.version);
  return d.done();
}

/**
 * Arms the deadline or grace timer tagged with the round's deadline extensions, so that
 * one armed before an extension is recognised as stale when it fires. Once the deadline
 * was extended, each arming gets a new id (`rearm`, the round's version by default): the
 * scheduler keeps one timer per id, and an earlier arming's id may already have fired.
 */
function armDeadlineTimer(
  d: Draft,
  kind: "collection_deadline" | "grace_end",
  at: Instant,
  rearm?: number,
): void {
  const extension = d.state.deadlineExtensions;
  if (extension === undefined) d.timer({ kind }, at, rearm);
  else d.timer({ kind, extension }, at, rearm ?? d.state.version);
}

function cancel(d: Draft, { reason }: InputOf<"cancel">): Step {
  const s = d.state;
  if (s.status !== "scheduled" && s.status !== "collecting" && s.status !== "settled")
    return err(roundError("round_not_cancellable", `a round that is ${s.status} cannot be cancelled`));
  return startRefunding(d, reason);
}

/**
 * Whether a refund outcome is about the contribution's current refund attempt: an earlier
 * attempt was replaced by an admin's retry (it failed; a late copy of its news changes
 * nothing), and a later one was never asked for.
 */
function staleRefundAttempt(d: Draft, c: Contribution, attempt: number): Step | undefined {
  const current = refundAttemptOf(c);
  if (attempt === current) return undefined;
  return attempt < current
    ? ignore(
        d.state,
        "refund_attempt_superseded",
        `refund attempt ${attempt} of ${c.memberId} was replaced by attempt ${current}`,
      )
    : ignore(d.state, "no_refund_pending", `no refund attempt ${attempt} for ${c.memberId}`);
}

function refundSucceeded(d: Draft, input: InputOf<"refund_succeeded">): Step {
  if (input.debitAttempt !== undefined) return surplusRefundSucceeded(d, input, input.debitAttempt);
  const { memberId, refundId, attempt } = input;
  const c = d.contribution(memberId);
  if (!c || (c.status !== "refund_requested" && c.status !== "refund_failed"))
    return ignore(d.state, "no_refund_pending", `no refund pending for ${memberId}`);
  const stale = staleRefundAttempt(d, c, attempt ?? 1);
  if (stale) return stale;
  const failed = refundSuccessAfterFailure(d, c.status, c.refundId, refundId, attempt ?? 1, memberId);
  if (failed) return failed;
  const postedBefore = c.refundId !== undefined;
  d.updateContribution(memberId, (x) => ({ ...x, status: "refunded", refundId }));
  if (!postedBefore)
    d.post(
      contributionRefunded({
        id: roundIds.ledger.contributionRefunded(d.state.id, memberId, attempt ?? 1),
        ...ledgerRef(d.state, memberId, c.amountMinor, d.ctx.now),
      }),
    );
  bookDisputesHeardWhileRefundOut(d, c, refundId);
  return finishRefundingIfDone(d);
}

/**
 * A contribution's refund succeeded after the member had disputed the charge while it was out
 * (see `Contribution.disputedWhileRefundOut`): the member got the refund and the bank's return,
 * so each dispute is booked as their loss (`member:<id>`), as a dispute heard after the refund
 * is, and kept with those (`disputedAfterRefund`) so that a failure of this refund after its
 * success undoes the losses.
 */
function bookDisputesHeardWhileRefundOut(d: Draft, c: Contribution, refundId: string): void {
  const waiting = c.disputedWhileRefundOut ?? [];
  if (waiting.length === 0) return;
  const roundId = d.state.id;
  const { memberId } = c;
  d.updateContribution(memberId, (x) => {
    const { disputedWhileRefundOut: _booked, ...rest } = x;
    return { ...rest, disputedAfterRefund: [...(x.disputedAfterRefund ?? []), ...waiting] };
  });
  for (const { disputeId, amountMinor } of waiting) {
    d.post(
      disputeLoss({
        id: roundIds.ledger.disputeLoss(roundId, disputeId),
        ...ledgerRef(d.state, memberId, amountMinor, d.ctx.now),
      }),
    );
    d.ticket(
      roundIds.ticket.disputeAfterPayout(roundId, disputeId),
      "dispute_after_payout",
      `the refund to ${memberId} of their contribution to round ${roundId} succeeded (${refundId}) although they had disputed the charge while it was out (${disputeId}): the member was paid twice, and ${amountMinor} is booked as their loss`,
    );
  }
}

/**
 * A refund attempt's success heard after that same attempt's failure (`status` is the
 * refund's as recorded, `attempt` already known to be the current one; `what` names the
 * refund for the detail: the member, or the member's surplus charge). Stripe's `failed`
 * is final: a refund never succeeds after failing, so the success is older news delivered
 * late — an event, or the answer to the refund call sent again under its idempotency key,
 * which Stripe replays as it first answered (pending or succeeded) even though the refund
 * has failed since. The refund's id is no guide: when the failure came before any answer,
 * susu never learnt it, and `recordedRefundId` may be an earlier attempt's (one that
 * succeeded, then failed). So the attempt's status decides: the member is still owed, and
 * only a new attempt (`retry_refund`) pays them. `undefined` when the refund has not failed.
 */
function refundSuccessAfterFailure(
  d: Draft,
  status: Contribution["status"] | SurplusCharge["status"],
  recordedRefundId: string | undefined,
  refundId: string,
  attempt: number,
  what: string,
): Step | undefined {
  if (status !== "refund_failed") return undefined;
  return ignore(
    d.state,
    "no_refund_pending",
    recordedRefundId === refundId
      ? `refund ${refundId} of ${what} has since failed`
      : `refund attempt ${attempt} of ${what} failed; its success (${refundId}) was reported before the failure`,
  );
}

/**
 * How an operator asks for a failed refund again, as the ticket and the admins' notice
 * say it: the round's `retry_refund` command, by the API's route.
 */
function retryRefundHint(roundId: string, memberId: MemberId): string {
  return `once the cause is fixed, a group admin or platform operator retries it with retry_refund (POST /v1/rounds/${roundId}/contributions/${memberId}/retry-refund), which asks Stripe for a new refund`;
}

function refundFailedInput(d: Draft, input: InputOf<"refund_failed">): Step {
  if (input.debitAttempt !== undefined) return surplusRefundFailed(d, input, input.debitAttempt);
  const { memberId, failureCode, attempt } = input;
  const c = d.contribution(memberId);
  const roundId = d.state.id;
  // Only the current attempt's failure counts: an attempt a retry replaced failed already.
  const stale =
    c && (c.status === "refunded" || c.status === "refund_requested")
      ? staleRefundAttempt(d, c, attempt ?? 1)
      : undefined;
  if (stale) return stale;
  const n = c ? refundAttemptOf(c) : 1;
  // A retry is possible while the round is refunding (it waits for this refund) and once it
  // was cancelled (a refund Stripe failed after its success: the member is still owed it).
  const retryable = refundRetryable(d.state);
  const hint = retryable ? `; ${retryRefundHint(roundId, memberId)}` : "";
  const data = {
    memberId,
    failureCode,
    attempt: n,
    ...(retryable ? { retryWith: `POST /v1/rounds/${roundId}/contributions/${memberId}/retry-refund` } : {}),
  };
  if (c?.status === "refunded" && (c.disputedAfterRefund ?? []).length > 0)
    return refundFailedAfterDispute(d, c, failureCode);
  // Disputed while it was out: Stripe fails a pending refund of a disputed charge
  // (`charge_for_pending_refund_disputed`) and refuses any other, so nothing is retried.
  if (c?.status === "refund_requested" && (c.disputedWhileRefundOut ?? []).length > 0)
    return refundFailedAfterDispute(d, c, failureCode);
  if (c?.status === "refunded") {
    // Stripe can fail a refund it had reported succeeded: the member has not got the money
    // back, and Stripe has it again (the refund's failure balance transaction reverses it). The
    // refund is taken back out of the books, so the round holds the money until a new refund
    // (`retry_refund`) pays it; with no `refundId`, that refund is posted when it lands.
    const { refundId: failedRefundId, ...rest } = c;
    d.updateContribution(memberId, () => ({ ...rest, status: "refund_failed" }));
    if (failedRefundId !== undefined)
      d.post(
        contributionRefundFailed({
          id: roundIds.ledger.contributionRefundFailed(roundId, memberId, n),
          ...ledgerRef(d.state, memberId, c.amountMinor, d.ctx.now),
        }),
      );
    d.ticket(
      roundIds.ticket.refundFailedAfterSuccess(roundId, memberId, n),
      "refund_failed",
      `the refund to ${memberId} (${failedRefundId ?? "?"}) failed after it had succeeded (${failureCode}): Stripe has the money back, and the books no longer count it refunded; round ${roundId} holds it until a new refund pays it${hint}`,
    );
    d.notify(
      roundIds.notice.refundFailedAfterSuccess(roundId, memberId, n),
      { kind: "admins" },
      "refund_failed",
      data,
    );
    return d.done();
  }
  if (c?.status !== "refund_requested")
    return ignore(d.state, "no_refund_pending", `no refund pending for ${memberId}`);
  d.updateContribution(memberId, (x) => ({ ...x, status: "refund_failed" }));
  d.ticket(
    roundIds.ticket.refundFailed(roundId, memberId, n),
    "refund_failed",
    `refund of ${memberId}'s contribution failed (${failureCode}, attempt ${n}); the money is still held and the round stays refunding${hint}`,
  );
  d.notify(roundIds.notice.refundFailed(roundId, memberId, n), { kind: "admins" }, "refund_failed", data);
  return d.done();
}

/**
 * Stripe failed a contribution's refund that the member had disputed the charge beside: after
 * its success (each dispute booked as their loss: they looked paid twice), or while it was
 * still out (nothing booked yet). The bank's return is all they got, so each loss booked is
 * undone; Stripe refuses a refund of a disputed charge (`charge_disputed`), so the rest is
 * owed outside Stripe and no retry is asked of Stripe. A refund in the books is reversed; the
 * bank's return is booked as taken out of the pot, and the rest as owed to the member
 * (`owed_to_member`). A refunding round no longer waits for this refund.
 */
function refundFailedAfterDispute(d: Draft, c: Contribution, failureCode: string): Step {
  const roundId = d.state.id;
  const { memberId } = c;
  const afterSuccess = c.status === "refunded";
  const booked = c.disputedAfterRefund ?? [];
  const disputes = [...booked, ...(c.disputedWhileRefundOut ?? [])];
  for (const { disputeId, amountMinor } of booked)
    d.post(
      disputeReinstated({
        id: roundIds.ledger.disputeLossUndone(roundId, disputeId),
        ...ledgerRef(d.state, memberId, amountMinor, d.ctx.now),
      }),
    );
  const { disputedAfterRefund: _undone, disputedWhileRefundOut: _settled, ...rest } = c;
  d.updateContribution(memberId, () => ({ ...rest, status: "disputed" }));
  // A refund in the books (`refundId` is set when it is posted) has its money back at Stripe:
  // it is reversed, and the bank's returns and the rest owed leave the pot as for a dispute of
  // a contribution never refunded.
  if (c.refundId !== undefined)
    d.post(
      contributionRefundFailed({
        id: roundIds.ledger.contributionRefundFailed(roundId, memberId, refundAttemptOf(c)),
        ...ledgerRef(d.state, memberId, c.amountMinor, d.ctx.now),
      }),
    );
  let leftMinor = c.amountMinor;
  const bookings: DisputeBooking[] = [];
  for (const { disputeId, amountMinor } of disputes) {
    const withdrawnMinor = Math.min(amountMinor, leftMinor);
    leftMinor -= withdrawnMinor;
    bookings.push({ disputeId, as: "withdrawn", amountMinor: withdrawnMinor });
    if (withdrawnMinor > 0)
      d.post(
        contributionRefunded({
          id: roundIds.ledger.disputeWithdrawn(roundId, disputeId),
          ...ledgerRef(d.state, memberId, withdrawnMinor, d.ctx.now),
        }),
      );
  }
  recordDisputeBookings(d, memberId, bookings);
  const takenMinor = disputes.reduce((total, x) => total + x.amountMinor, 0);
  const restOwedMinor = leftMinor;
  const last = disputes.at(-1);
  if (restOwedMinor > 0 && last !== undefined) {
    d.post(
      contributionOwedToMember({
        id: roundIds.ledger.disputeRestOwed(roundId, last.disputeId),
        ...ledgerRef(d.state, memberId, restOwedMinor, d.ctx.now),
      }),
    );
    const ids = disputes.map((x) => x.disputeId).join(", ");
    owedBooked(d, memberId, last.disputeId, restOwedMinor);
    d.ticket(
      roundIds.ticket.disputeRestOwed(roundId, last.disputeId),
      "dispute",
      afterSuccess
        ? `the refund to ${memberId} (${c.refundId ?? "?"}) failed after it had succeeded (${failureCode}), and they had disputed the charge (${ids}): the bank gave back ${takenMinor}, no longer booked as their loss, and the other ${restOwedMinor} is owed to them; Stripe refuses a refund of a disputed charge, so pay it by other means and record it (POST /v1/rounds/${roundId}/contributions/${memberId}/owed-payments), which closes this ticket once nothing is left owed`
        : `the refund to ${memberId} failed (${failureCode}) after they had disputed the charge while it was out (${ids}): the bank gave back ${takenMinor}, and the other ${restOwedMinor} is owed to them; Stripe refuses a refund of a disputed charge, so pay it by other means and record it (POST /v1/rounds/${roundId}/contributions/${memberId}/owed-payments), which closes this ticket once nothing is left owed`,
    );
    d.notify(
      afterSuccess
        ? roundIds.notice.refundFailedAfterSuccess(roundId, memberId, refundAttemptOf(c))
        : roundIds.notice.refundFailed(roundId, memberId, refundAttemptOf(c)),
      { kind: "admins" },
      "refund_failed",
      { memberId, failureCode, attempt: refundAttemptOf(c), disputeId: last.disputeId, restOwedMinor },
    );
  }
  return finishRefundingIfDone(d);
}

// ---------------------------------------------------------------- payout

function startPayout(d: Draft): Step {
  const s = d.state;
  if (!s.recipientCanReceive) return block(d, "the recipient's account cannot receive transfers yet");
  const attempt = s.payoutAttempt + 1;
  const existing = new Map(s.payouts.map((p) => [p.sourceMemberId, p]));
  const payouts: PayoutTransfer[] = [];
  for (const c of s.contributions) {
    const charge = lastSucceeded(c);
    if (c.status !== "succeeded" || !charge?.chargeId) continue;
    const prior = existing.get(c.memberId);
    // A requested transfer is still in flight under its own idempotency key and may yet
    // land: re-issuing it under a new key could pay twice. A created one is done unless
    // part of what it sent came back (reversed): that part is sent again, by a new transfer
    // that keeps the old one in `earlier`. A transfer that definitely failed is asked for again.
    let next: { readonly amountMinor: number; readonly earlier?: readonly EarlierTransfer[] } = {
      amountMinor: c.amountMinor,
    };
    if (prior?.status === "requested") {
      payouts.push(prior);
      continue;
    }
    if (prior?.status === "created" || prior?.status === "reversed") {
      const unsent = payoutDueMinor(prior) - sentNetMinor(prior);
      if (unsent <= 0 || prior.transferId === undefined) {
        payouts.push(prior);
        continue;
      }
      next = {
        amountMinor: unsent,
        earlier: [
          ...(prior.earlier ?? []),
          {
            transferId: prior.transferId,
            effectId: prior.effectId,
            attempt: prior.attempt,
            amountMinor: prior.amountMinor,
            reversedMinor: prior.reversedMinor ?? 0,
          },
        ],
      };
    } else if (prior?.status === "failed")
      next = { amountMinor: prior.amountMinor, ...(prior.earlier ? { earlier: prior.earlier } : {}) };
    const effectId = roundIds.transfer(s.id, c.memberId, attempt);
    payouts.push({
      sourceMemberId: c.memberId,
      sourceChargeId: charge.chargeId,
      amountMinor: next.amountMinor,
      attempt,
      effectId,
      status: "requested",
      ...(next.earlier ? { earlier: next.earlier } : {}),
    });
    d.effects.push({
      kind: "transfer",
      id: effectId,
      roundId: s.id,
      groupId: s.groupId,
      recipientMemberId: s.recipientMemberId,
      sourceMemberId: c.memberId,
      sourceChargeId: charge.chargeId,
      attempt,
      amountMinor: next.amountMinor,
      currency: s.currency,
      transferGroup: s.transferGroup,
    });
  }
  const wasBlocked = s.status === "payout_blocked";
  d.moveTo("paying_out", { payoutAttempt: attempt, payouts });
  // The round paused the group when it blocked; unblocked, it resumes the group too.
  if (wasBlocked)
    d.effects.push({ kind: "resume_group", id: roundIds.resumeGroup(s.id, s.version), groupId: s.groupId });
  return payoutCompleteIfDone(d);
}

/**
 * Blocks the payout: round `payout_blocked`, group paused, recipient and admins told, a ticket.
 * `cause` adds fields the notices carry beside the free-text reason (a reversal names its
 * transfer and what came back, so the e-mail can say it without reading the reason).
 */
function block(d: Draft, reason: string, cause?: Record<string, string | number>): Step {
  const s = d.state;
  // The round's version makes each block's notices and ticket new (a block after a resume is news).
  const key = [s.id, s.recipientMemberId, s.payoutAttempt, s.version] as const;
  d.moveTo("payout_blocked", { blockedReason: reason });
  d.effects.push({ kind: "pause_group", id: roundIds.pauseGroup(...key), groupId: s.groupId, reason });
  const data = { recipientMemberId: s.recipientMemberId, reason, ...cause };
  d.notify(
    roundIds.notice.payoutBlocked(...key),
    { kind: "member", memberId: s.recipientMemberId },
    "payout_blocked",
    data,
  );
  d.notify(roundIds.notice.payoutBlockedToAdmins(...key), { kind: "admins" }, "payout_blocked", data);
  d.ticket(
    roundIds.ticket.payoutBlocked(...key),
    "payout_blocked",
    `payout of round ${s.id} to ${s.recipientMemberId} is blocked: ${reason}`,
  );
  return d.done();
}

/**
 * Whether a contribution's payout is done: its transfer created, and the recipient holds the
 * whole contribution (nothing of it came back). A reversed transfer is not done.
 */
function payoutDone(p: PayoutTransfer): boolean {
  return (p.status === "created" || p.status === "reversed") && sentNetMinor(p) === payoutDueMinor(p);
}

function payoutCompleteIfDone(d: Draft): Step {
  const s = d.state;
  if (s.status !== "paying_out") return d.done();
  if (!s.payouts.every(payoutDone)) {
    // Nothing left in flight, yet some of it came back after the resume that was to send it
    // again (a reversal heard while its re-send was in flight blocked, and was resumed before
    // that re-send landed): send it now, as that resume would have.
    const settled = s.payouts.every((p) => p.status === "created" || p.status === "reversed");
    const short = s.payouts.some((p) => !payoutDone(p) && p.transferId !== undefined);
    return settled && short ? startPayout(d) : d.done();
  }
  d.moveTo("paid_out", { endedAt: d.ctx.now });
  refundHeldSurpluses(d);
  d.effects.push({
    kind: "round_ended",
    id: roundIds.roundEnded(s.id),
    groupId: s.groupId,
    roundId: s.id,
    outcome: { paidTo: s.recipientMemberId },
  });
  const total = s.payouts.reduce((sum, p) => sum + sentNetMinor(p), 0);
  d.notify(
    roundIds.notice.payoutSent(s.id, s.recipientMemberId),
    { kind: "member", memberId: s.recipientMemberId },
    "payout_sent",
    { recipientMemberId: s.recipientMemberId, amountMinor: total, currency: s.currency },
  );
  return d.done();
}

function transferCreated(
  d: Draft,
  { sourceMemberId, attempt, transferId }: InputOf<"transfer_created">,
): Step {
  const p = d.state.payouts.find((x) => x.sourceMemberId === sourceMemberId);
  if (!p) return ignore(d.state, "no_such_transfer", `no transfer from ${sourceMemberId}`);
  if (p.attempt !== attempt) {
    if (attempt > p.attempt)
      return ignore(d.state, "no_such_transfer", `no transfer attempt ${attempt} from ${sourceMemberId}`);
    // The transfer a later one replaced after part of it came back: known, and booked.
    if (p.earlier?.some((e) => e.attempt === attempt && e.transferId === transferId))
      return ignore(
        d.state,
        "transfer_already_created",
        `transfer ${transferId} was created and partly reversed`,
      );
    // An earlier attempt, recorded as failed, did create a transfer: money moved that the
    // round does not count. Make it visible; never ignore money.
    d.ticket(
      roundIds.ticket.lateTransfer(d.state.id, transferId),
      "unexpected_money",
      `transfer ${transferId} (attempt ${attempt} from ${sourceMemberId}) was created after susu recorded it as failed`,
    );
    d.notify(roundIds.notice.lateTransfer(d.state.id, transferId), { kind: "admins" }, "unexpected_money", {
      transferId,
      sourceMemberId,
    });
    return d.done();
  }
  if (p.status === "created" || p.status === "reversed")
    return ignore(d.state, "transfer_already_created", `transfer already ${p.status}`);
  d.updatePayout(sourceMemberId, { status: "created", transferId });
  d.set({ payoutFailures: 0 });
  d.post(
    payoutTransferred({
      id: roundIds.ledger.payoutTransferred(p.effectId),
      roundId: d.state.id,
      recipientMemberId: d.state.recipientMemberId,
      amount: money(p.amountMinor, d.state.currency),
      occurredAt: d.ctx.now,
    }),
  );
  return payoutCompleteIfDone(d);
}

function transferFailed(
  d: Draft,
  { sourceMemberId, attempt, failureCode }: InputOf<"transfer_failed">,
): Step {
  const p = d.state.payouts.find((x) => x.sourceMemberId === sourceMemberId);
  if (!p || p.attempt !== attempt || p.status !== "requested")
    return ignore(
      d.state,
      "transfer_not_pending",
      `no pending transfer attempt ${attempt} from ${sourceMemberId}`,
    );
  d.updatePayout(sourceMemberId, { status: "failed", failureCode });
  if (d.state.status !== "paying_out") return d.done();
  const failureClass = classifyFailure("transfer", failureCode);
  if (failureClass === "permanent") return block(d, `a payout transfer failed: ${failureCode}`);
  // One retry per payout attempt, however many of its transfers failed: the budget counts
  // attempts, so fifty transfers failing together use one retry, not fifty.
  // Snapshots from before `payoutRetryArmedFor` existed fall back to counting the failures.
  const armed =
    d.state.payoutRetryArmedFor === undefined
      ? d.state.payouts.filter((x) => x.status === "failed" && x.attempt === attempt).length > 1
      : d.state.payoutRetryArmedFor === attempt;
  if (armed) return d.done();
  const failures = d.state.payoutFailures + 1;
  d.set({ payoutFailures: failures, payoutRetryArmedFor: attempt });
  const delay = retryDelayMs(
    d.ctx.policy.payoutRetry,
    failures,
    unitFraction(roundIds.seed.payoutRetry(p.effectId)),
  );
  if (delay === null) return block(d, `payout transfers kept failing (${failureCode}); retries exhausted`);
  d.timer({ kind: "retry_payout", attempt: d.state.payoutAttempt + 1 }, d.ctx.now + delay);
  return d.done();
}

function recipientReadiness(d: Draft, { canReceive }: InputOf<"recipient_readiness">): Step {
  const s = d.state;
  // A payout can block on a transfer the bank refused while susu still thought the account
  // could receive; "it can receive" is then news even though the flag does not change, and
  // the payout is tried again (it blocks again, with a new notice, if the account still fails).
  const retryBlocked = s.status === "payout_blocked" && canReceive;
  if (s.recipientCanReceive === canReceive && !retryBlocked)
    return ignore(s, "readiness_unchanged", "recipient readiness unchanged");
  d.set({ recipientCanReceive: canReceive });
  if (retryBlocked) {
    d.set({ payoutFailures: 0 });
    return startPayout(d);
  }
  return d.done();
}

function resumePayout(d: Draft): Step {
  if (d.state.status !== "payout_blocked")
    return err(roundError("round_not_blocked", `the round is ${d.state.status}, not payout_blocked`));
  d.set({ payoutFailures: 0 });
  return startPayout(d);
}

function reassignPayout(d: Draft, { toMemberId, toCanReceive }: InputOf<"reassign_payout">): Step {
  const s = d.state;
  if (s.status !== "payout_blocked")
    return err(
      roundError("round_not_blocked", `the round is ${s.status}; only a blocked payout can be reassigned`),
    );
  if (toMemberId === s.recipientMemberId)
    return err(roundError("invalid_reassignment", "the payout already belongs to that member"));
  if (!s.contributions.some((c) => c.memberId === toMemberId))
    return err(roundError("invalid_reassignment", `${toMemberId} is not a member of this round`));
  if (s.payouts.some((p) => p.status === "created" || p.status === "reversed"))
    return err(
      roundError(
        "payout_partially_sent",
        "part of the pot already reached the recipient; resume the payout instead",
      ),
    );
  if (s.payouts.some((p) => p.status === "requested"))
    return err(
      roundError(
        "payout_in_flight",
        "a transfer to the recipient is still in flight; wait for its outcome before reassigning",
      ),
    );
  d.set({ recipientMemberId: toMemberId, recipientCanReceive: toCanReceive, payoutFailures: 0 });
  return startPayout(d);
}

// ---------------------------------------------------------------- after the money moved

/**
 * A payout transfer came back to the platform, in whole or in part (`transfer.reversed`):
 * the ledger moves it back into the pot, a ticket and the admins say so. While the round
 * pays out, a reversed transfer is not done: the round does not end `paid_out` holding the
 * money with the recipient short. It blocks as an undeliverable payout does (`payout_blocked`,
 * the group paused, the recipient and the admins told, a ticket), and its resume (the
 * account fixed, `recipient_readiness`, or an admin's `resume_payout`) sends what came back
 * again, by a new transfer under a new key (see `startPayout`). While blocked, the reversal is
 * booked and its resume sends it too. After the round ended (`paid_out`), the money sits in
 * the ended round's pot: the ticket and notices say so, for an admin to pay it again or give
 * it back by hand.
 */
function transferReversedInput(
  d: Draft,
  { sourceMemberId, transferId, amountMinor }: InputOf<"transfer_reversed">,
): Step {
  const current = d.state.payouts.find(
    (x) => x.sourceMemberId === sourceMemberId && x.transferId === transferId,
  );
  const p = current ?? d.state.payouts.find((x) => x.sourceMemberId === sourceMemberId);
  const earlier = current ? undefined : p?.earlier?.find((e) => e.transferId === transferId);
  const sent =
    current?.status === "created"
      ? {
          effectId: current.effectId,
          amountMinor: current.amountMinor,
          reversedMinor: current.reversedMinor ?? 0,
        }
      : earlier;
  if (p === undefined || sent === undefined)
    return ignore(d.state, "transfer_not_reversible", `no transfer ${transferId} left to reverse`);
  const reversedMinor = sent.reversedMinor + amountMinor;
  if (amountMinor <= 0 || reversedMinor > sent.amountMinor)
    return ignore(
      d.state,
      "reversal_amount_invalid",
      `reversal of ${amountMinor} exceeds what is left of transfer ${transferId}`,
    );
  // Partial reversals add up; the transfer counts as reversed once all of it came back.
  if (earlier === undefined)
    d.updatePayout(sourceMemberId, {
      reversedMinor,
      ...(reversedMinor === sent.amountMinor ? { status: "reversed" as const } : {}),
    });
  else
    d.updatePayout(sourceMemberId, {
      earlier: (p.earlier ?? []).map((e) => (e.transferId === transferId ? { ...e, reversedMinor } : e)),
    });
  const s = d.state;
  const roundId = s.id;
  d.post(
    transferReversed({
      id: roundIds.ledger.transferReversed(sent.effectId, reversedMinor),
      roundId,
      memberId: s.recipientMemberId,
      amount: money(amountMinor, s.currency),
      occurredAt: d.ctx.now,
    }),
  );
  const ended = s.status === "paid_out";
  d.ticket(
    roundIds.ticket.transferReversed(roundId, transferId, reversedMinor),
    "transfer_reversed",
    ended
      ? `transfer ${transferId} of round ${roundId}: ${amountMinor} reversed after the round was paid out; it is back in the ended round's pot and ${s.recipientMemberId} is short of it: pay it to them again or give it back to the members, by hand`
      : `transfer ${transferId} of round ${roundId}: ${amountMinor} reversed while the round paid out; the payout waits (payout_blocked) and sends it again when it resumes`,
  );
  d.notify(
    roundIds.notice.transferReversed(roundId, transferId, reversedMinor),
    { kind: "admins" },
    "transfer_reversed",
    { transferId, amountMinor, recipientMemberId: s.recipientMemberId, roundEnded: ended ? "yes" : "no" },
  );
  if (s.status !== "paying_out") return d.done();
  return block(
    d,
    `payout transfer ${transferId} was reversed (${amountMinor} came back); it is sent again when the payout resumes`,
    { cause: "transfer_reversed", transferId, amountMinor, currency: s.currency },
  );
}

/**
 * The debit attempt whose charge a dispute names: by its PaymentIntent, else by the attempt
 * its metadata carries; `undefined` when the dispute names neither (it is the contribution's)
 * or names a charge the round has no attempt for.
 */
function disputedAttempt(
  c: Contribution,
  { attempt, paymentIntentId }: Pick<PendingDispute, "attempt" | "paymentIntentId">,
): DebitAttempt | undefined {
  const byPayment =
    paymentIntentId !== undefined ? c.attempts.find((a) => a.paymentIntentId === paymentIntentId) : undefined;
  return byPayment ?? (attempt !== undefined ? c.attempts.find((a) => a.number === attempt) : undefined);
}

/**
 * A member disputed one of their charges. A dispute of a surplus charge is that charge's
 * (see {@link surplusDisputed}); one of a charge susu has not heard succeed waits for that
 * success (see {@link disputePending}); any other is the contribution's. The amount is
 * Stripe's dispute amount, positive by Stripe's rules; a fact without one is a bug at the
 * edge and makes the contribution's posting throw.
 */
function disputeOpened(d: Draft, input: InputOf<"dispute_opened">): Step {
  const { memberId, disputeId, amountMinor } = input;
  const c = d.contribution(memberId);
  if (!c) return ignore(d.state, "no_such_contribution", `${memberId} does not contribute to this round`);
  if (
    c.disputeIds.includes(disputeId) ||
    surplusCharges(c).some((a) => a.surplus.disputeId === disputeId) ||
    (c.pendingDisputes ?? []).some((p) => p.disputeId === disputeId)
  )
    return ignore(d.state, "duplicate_dispute", `dispute ${disputeId} already recorded`);
  // Closed won already: its closure overtook it (Stripe does not promise order), or it was a
  // surplus charge's or a pending one, which forgets it once won. Nothing to book.
  if ((c.disputesWon ?? []).includes(disputeId))
    return ignore(d.state, "dispute_already_closed", `dispute ${disputeId} was closed won already`);
  const charged = disputedAttempt(c, input);
  const namesCharge = input.attempt !== undefined || input.paymentIntentId !== undefined;
  if (namesCharge && charged?.status !== "succeeded") return disputePending(d, c, charged, input);
  if (charged?.surplus !== undefined)
    return surplusDisputed(d, c, { ...charged, surplus: charged.surplus }, input);
  const s = d.state;
  // "After payout" means this contribution's money has been (or may be being) transferred.
  // A contribution whose transfer failed and waits to be re-issued has not left the pot:
  // it is treated like a dispute before payout, and its transfer is dropped. So is one no
  // transfer was ever asked for (a payout blocked before it started: the recipient could
  // not receive), which would otherwise be paid out of the platform's funds when it resumes.
  const payout = s.payouts.find((p) => p.sourceMemberId === memberId);
  const transferPending = payout?.status === "failed";
  const afterPayout =
    (s.status === "paying_out" || s.status === "paid_out" || s.status === "payout_blocked") &&
    payout !== undefined &&
    !transferPending;
  if (transferPending) d.set({ payouts: s.payouts.filter((p) => p.sourceMemberId !== memberId) });
  // A contribution whose refund failed (when made, or after it had succeeded) is still owed
  // to the member: the bank's return now pays part or all of it, and Stripe refuses a refund
  // of a disputed charge (`charge_disputed`), so no retry is asked of Stripe again.
  const refundFailed = c.status === "refund_failed";
  d.updateContribution(memberId, (x) => ({
    ...x,
    disputeIds: [...x.disputeIds, disputeId],
    status: !afterPayout && (x.status === "succeeded" || refundFailed) ? "disputed" : x.status,
    ...(x.status === "refunded" && !afterPayout
      ? { disputedAfterRefund: [...(x.disputedAfterRefund ?? []), { disputeId, amountMinor }] }
      : {}),
    // A refund of ours is out: whether the member is paid twice depends on its outcome, which
    // books the dispute (see `Contribution.disputedWhileRefundOut`).
    ...(x.status === "refund_requested" && !afterPayout
      ? { disputedWhileRefundOut: [...(x.disputedWhileRefundOut ?? []), { disputeId, amountMinor }] }
      : {}),
  }));
  // After payout the pot is gone: the loss is recorded against the member (what they owe),
  // never clawed back from the recipient. Before payout the bank simply took the
  // contribution back out of the pot: the member has not paid, and may pay again. A
  // contribution susu had already refunded was paid back twice: the bank's return is the
  // member's loss too.
  const refundedAlready = c.status === "refunded";
  // What the dispute leaves owed to the member outside Stripe (see below); the admins' notice says it.
  let restOwedMinor = 0;
  if (afterPayout || refundedAlready) {
    d.post(
      disputeLoss({
        id: roundIds.ledger.disputeLoss(s.id, disputeId),
        ...ledgerRef(s, memberId, amountMinor, d.ctx.now),
      }),
    );
    // Beside a refund the loss is kept in `disputedAfterRefund` (above); after the payout, here.
    if (afterPayout) recordDisputeBookings(d, memberId, [{ disputeId, as: "loss", amountMinor }]);
  } else if (c.status === "succeeded" || refundFailed) {
    // A refund that succeeded before it failed is in the books (`refundId` is set when it is
    // posted), though Stripe has the money back: it is reversed, so the money is in the pot
    // again, and leaves it below as a contribution never refunded does.
    if (refundFailed && c.refundId !== undefined)
      d.post(
        contributionRefundFailed({
          id: roundIds.ledger.contributionRefundFailed(s.id, memberId, refundAttemptOf(c)),
          ...ledgerRef(s, memberId, c.amountMinor, d.ctx.now),
        }),
      );
    d.post(
      contributionRefunded({
        id: roundIds.ledger.disputeWithdrawn(s.id, disputeId),
        ...ledgerRef(s, memberId, amountMinor, d.ctx.now),
      }),
    );
    recordDisputeBookings(d, memberId, [{ disputeId, as: "withdrawn", amountMinor }]);
    // A dispute of part of it leaves the contribution unpaid all the same (the member pays
    // again in full; a refunded round owes all of it back), so the rest leaves the pot too:
    // it is the member's, and Stripe refuses a refund of a disputed charge
    // (`charge_disputed`), so it is owed outside Stripe (`owed_to_member`), not refunded.
    restOwedMinor = Math.max(c.amountMinor - amountMinor, 0);
    if (restOwedMinor > 0) {
      d.post(
        contributionOwedToMember({
          id: roundIds.ledger.disputeRestOwed(s.id, disputeId),
          ...ledgerRef(s, memberId, restOwedMinor, d.ctx.now),
        }),
      );
      owedBooked(d, memberId, disputeId, restOwedMinor);
      d.ticket(
        roundIds.ticket.disputeRestOwed(s.id, disputeId),
        "dispute",
        refundFailed
          ? `${memberId} disputed ${amountMinor} of their ${c.amountMinor} contribution to round ${s.id} (${disputeId}) while its refund had failed${c.refundId !== undefined ? ` after it had succeeded (${c.refundId})` : ""}: the other ${restOwedMinor} is owed to them; Stripe refuses a refund of a disputed charge, so pay it by other means and record it (POST /v1/rounds/${s.id}/contributions/${memberId}/owed-payments), which closes this ticket once nothing is left owed`
          : `${memberId} disputed ${amountMinor} of their ${c.amountMinor} contribution to round ${s.id} (${disputeId}): the contribution no longer counts, and the other ${restOwedMinor} is owed to them; Stripe refuses a refund of a disputed charge, so pay it by other means and record it (POST /v1/rounds/${s.id}/contributions/${memberId}/owed-payments), which closes this ticket once nothing is left owed`,
      );
    }
  }
  const refundOut = c.status === "refund_requested" && !afterPayout;
  d.ticket(
    afterPayout || refundedAlready
      ? roundIds.ticket.disputeAfterPayout(s.id, disputeId)
      : roundIds.ticket.dispute(s.id, disputeId),
    afterPayout || refundedAlready ? "dispute_after_payout" : "dispute",
    refundedAlready
      ? `${memberId} disputed their contribution to round ${s.id} after susu had refunded it (${c.refundId ?? "?"}): the member was paid twice, and ${amountMinor} is booked as their loss (${disputeId})`
      : refundOut
        ? `${memberId} disputed ${amountMinor} of their contribution to round ${s.id} (${disputeId}) while its refund is out: nothing is booked until the refund's outcome is heard (a success paid them twice: the ${amountMinor} becomes their loss; a failure leaves the rest owed outside Stripe)`
        : `${memberId} disputed their contribution to round ${s.id} (${disputeId})`,
  );
  d.notify(roundIds.notice.disputeOpened(s.id, disputeId), { kind: "admins" }, "dispute_opened", {
    memberId,
    disputeId,
    amountMinor,
    ...(restOwedMinor > 0 ? { restOwedMinor } : {}),
  });
  // A refunding round no longer waits for this refund.
  if (refundFailed) return finishRefundingIfDone(d);
  if (s.status === "settled") {
    // The pot is short again. Its deadline timer may have fired (and been ignored) while it
    // was settled, so arm a fresh one — or, if the deadline has passed, refund at once.
    d.moveTo("collecting");
    const deadline = s.collectionDeadlineAt ?? d.ctx.now;
    if (d.ctx.now >= deadline)
      return startRefunding(d, "a contribution was disputed after the collection deadline");
    armDeadlineTimer(d, "collection_deadline", deadline, s.version);
  }
  // With the disputed transfer dropped, the rest may already all have arrived.
  if (transferPending) return payoutCompleteIfDone(d);
  return d.done();
}

/**
 * A dispute of a charge susu has not heard succeed (its attempt requested, processing or
 * recorded failed, or not one of this round's): the bank can only dispute a charge that
 * succeeded, so its success is on its way (events are unordered; it may be parked or late).
 * Booking it now would book it against the wrong charge (the contribution's, while the
 * disputed charge becomes a surplus that would be refunded too), or against nothing (a
 * contribution still processing). It is kept on the contribution, nothing is booked, and a
 * ticket says so; {@link withPendingDisputes} books it when that success is heard.
 */
function disputePending(
  d: Draft,
  c: Contribution,
  charged: DebitAttempt | undefined,
  { disputeId, amountMinor, attempt, paymentIntentId }: InputOf<"dispute_opened">,
): Step {
  const s = d.state;
  const pending: PendingDispute = {
    disputeId,
    amountMinor,
    ...(attempt !== undefined ? { attempt } : {}),
    ...(paymentIntentId !== undefined ? { paymentIntentId } : {}),
  };
  d.updateContribution(c.memberId, (x) => ({
    ...x,
    pendingDisputes: [...(x.pendingDisputes ?? []), pending],
  }));
  const what =
    charged !== undefined
      ? `debit attempt ${charged.number} (${charged.paymentIntentId ?? paymentIntentId ?? "no PaymentIntent"}), which susu has as ${charged.status}`
      : `a charge round ${s.id} has no debit attempt for (attempt ${attempt ?? "unknown"}, ${paymentIntentId ?? "no PaymentIntent"})`;
  d.ticket(
    roundIds.ticket.disputePending(s.id, disputeId),
    "dispute",
    `${c.memberId} disputed ${what} (${disputeId}, ${amountMinor}): nothing is booked until susu hears that charge succeed, then the dispute is booked against it; check the charge at Stripe if its success does not arrive`,
  );
  return d.done();
}

/**
 * After a debit's success, the disputes kept pending on the charge it names (see
 * {@link disputePending}), in the order they were heard, each decided as if it had come
 * after the success: the outcome is the same whatever the order of the two events.
 */
function withPendingDisputes(step: Step, input: InputOf<"debit_succeeded">, ctx: DecideContext): Step {
  if (step.isErr() || step.value.ignored) return step;
  const { memberId } = input;
  const c = step.value.state.contributions.find((x) => x.memberId === memberId);
  const succeeded = c?.attempts.find((a) => a.number === input.attempt);
  if (!c?.pendingDisputes || !succeeded) return step;
  const due = c.pendingDisputes.filter((p) => disputedAttempt(c, p) === succeeded);
  if (due.length === 0) return step;
  const rest = c.pendingDisputes.filter((p) => !due.includes(p));
  const { pendingDisputes: _p, ...without } = c;
  let state: Round = {
    ...step.value.state,
    contributions: step.value.state.contributions.map((x) =>
      x.memberId === memberId ? (rest.length > 0 ? { ...without, pendingDisputes: rest } : without) : x,
    ),
  };
  const effects = [...step.value.effects];
  for (const p of due) {
    const next = disputeOpened(new Draft(state, ctx), { type: "dispute_opened", memberId, ...p });
    if (next.isErr()) return next;
    state = next.value.state;
    effects.push(...next.value.effects);
  }
  return ok({ state, effects });
}

/** Keeps how disputes of a member's charges were booked (see `Contribution.disputeBookings`). */
function recordDisputeBookings(d: Draft, memberId: MemberId, bookings: readonly DisputeBooking[]): void {
  if (bookings.length === 0) return;
  d.updateContribution(memberId, (x) => ({
    ...x,
    disputeBookings: [...(x.disputeBookings ?? []), ...bookings],
  }));
}

// ---------------------------------------------------------------- a dispute closed won

/**
 * Stripe closed a member's dispute `won`: the bank gave the disputed amount back to the
 * platform's Stripe balance. BECS disputes cannot be contested and whether one can close won
 * is not documented, but the money would be real, so it is booked back rather than ignored:
 * what the dispute had booked when it was heard is undone, to whoever is owed it, with a
 * `dispute` ticket (`<round>:ticket:dispute:<dispute>:won`) so an admin sees it:
 * - a loss booked against the member (after the payout, or beside a refund of ours that paid
 *   them twice) is undone (`dispute_reinstated`): they paid, and got back only our refund;
 * - the bank's part taken out of the pot (a dispute before the payout: the contribution no
 *   longer counted, the member may have paid again, and the rest was owed to them) comes back
 *   into the pot and leaves it as owed to the member outside Stripe (`owed_to_member`, like
 *   the rest): the charge is all theirs, and the contribution stays as it is;
 * - a surplus charge's bank part comes back the same way, owed to the member, unless a refund
 *   of ours is still out for the whole charge: it then stays in the pot for that refund;
 * - a dispute that booked nothing yet (kept until a refund's outcome, or until the success
 *   of the charge it names) is dropped, and the closure is noted so its opening, if it comes
 *   later, is ignored.
 * Once per dispute (`disputesWon`): a duplicate or late closure is ignored
 * (`dispute_already_closed`), and a loss already undone (the refund beside it failed after
 * its success) is not undone again: the dispute then counts as a withdrawal, undone as such.
 */
function disputeWon(d: Draft, input: InputOf<"dispute_won">): Step {
  const { memberId, disputeId } = input;
  const c = d.contribution(memberId);
  if (!c) return ignore(d.state, "no_such_contribution", `${memberId} does not contribute to this round`);
  if ((c.disputesWon ?? []).includes(disputeId))
    return ignore(d.state, "dispute_already_closed", `dispute ${disputeId} was closed won already`);
  d.updateContribution(memberId, (x) => ({ ...x, disputesWon: [...(x.disputesWon ?? []), disputeId] }));
  const s = d.state;
  const surplus = surplusCharges(c).find((a) => a.surplus.disputeId === disputeId);
  const what = surplus ? surplusDisputeWon(d, c, surplus) : contributionDisputeWon(d, c, disputeId);
  d.ticket(
    roundIds.ticket.disputeWon(s.id, disputeId),
    "dispute",
    `Stripe closed ${memberId}'s dispute ${disputeId} (${input.amountMinor}) of ${surplus ? `their second charge (debit attempt ${surplus.number})` : "their contribution's charge"} to round ${s.id} won: the bank gave the money back to the platform's Stripe balance. ${what}`,
  );
  return d.done();
}

/** Undoes what a dispute of the contribution's charge booked (see {@link disputeWon}); says what it did. */
function contributionDisputeWon(d: Draft, c: Contribution, disputeId: string): string {
  const roundId = d.state.id;
  const { memberId } = c;
  const ref = (amountMinor: number) => ledgerRef(d.state, memberId, amountMinor, d.ctx.now);
  const without = <T extends { readonly disputeId: string }>(list: readonly T[] | undefined) =>
    (list ?? []).filter((x) => x.disputeId !== disputeId);
  const pending = (c.pendingDisputes ?? []).some((p) => p.disputeId === disputeId);
  const whileOut = (c.disputedWhileRefundOut ?? []).find((x) => x.disputeId === disputeId);
  const afterRefund = (c.disputedAfterRefund ?? []).find((x) => x.disputeId === disputeId);
  const booking = (c.disputeBookings ?? []).find((x) => x.disputeId === disputeId);
  d.updateContribution(memberId, (x) => {
    const {
      pendingDisputes: _p,
      disputedWhileRefundOut: _o,
      disputedAfterRefund: _a,
      disputeBookings: _b,
      ...rest
    } = x;
    const p = without(x.pendingDisputes);
    const o = without(x.disputedWhileRefundOut);
    const a = without(x.disputedAfterRefund);
    const b = without(x.disputeBookings);
    return {
      ...rest,
      ...(p.length > 0 ? { pendingDisputes: p } : {}),
      ...(o.length > 0 ? { disputedWhileRefundOut: o } : {}),
      ...(a.length > 0 ? { disputedAfterRefund: a } : {}),
      ...(b.length > 0 ? { disputeBookings: b } : {}),
    };
  });
  if (pending) return "It had booked nothing yet (its charge's success was not heard): nothing to undo.";
  if (whileOut)
    return "It had booked nothing yet (a refund of ours was out): nothing to undo; that refund's outcome is booked as for any refund.";
  const loss = afterRefund ?? (booking?.as === "loss" ? booking : undefined);
  if (loss) {
    d.post(
      disputeReinstated({ id: roundIds.ledger.disputeWon(roundId, disputeId), ...ref(loss.amountMinor) }),
    );
    return `The ${loss.amountMinor} booked as ${memberId}'s loss is undone.`;
  }
  if (booking?.as === "withdrawn") {
    if (booking.amountMinor === 0)
      return "It had taken nothing out of the pot (the bank's returns before it had taken all of the charge): nothing to undo.";
    returnToMember(d, memberId, disputeId, booking.amountMinor);
    return `The ${booking.amountMinor} the bank had taken out of the pot is owed to ${memberId} outside Stripe (round:${roundId}:owed_to_member), beside any rest owed before: their contribution is as it was (pay it back by other means and record it: POST /v1/rounds/${roundId}/contributions/${memberId}/owed-payments).`;
  }
  if (c.disputeIds.includes(disputeId))
    return "How it was booked is not recorded (the round was stored before that was kept): check the round's books for this dispute by hand.";
  return "Its opening was not heard yet: nothing was booked, and its opening will be ignored.";
}

/**
 * The bank's part of a charge a won dispute brought back: out of the member's refunds and into
 * the pot (`contribution_refund_failed`, Dr pot / Cr refunds), then owed to them outside Stripe.
 */
function returnToMember(d: Draft, memberId: MemberId, disputeId: string, amountMinor: number): void {
  const roundId = d.state.id;
  const ref = ledgerRef(d.state, memberId, amountMinor, d.ctx.now);
  d.post(contributionRefundFailed({ id: roundIds.ledger.disputeWon(roundId, disputeId), ...ref }));
  d.post(contributionOwedToMember({ id: roundIds.ledger.disputeWonOwed(roundId, disputeId), ...ref }));
  owedBooked(d, memberId, disputeId, amountMinor, "won");
  // Its `won` ticket asks for this money: resolved once nothing is left owed (see `owed/`).
  d.updateContribution(memberId, (x) => ({
    ...x,
    disputesWonOwed: [...(x.disputesWonOwed ?? []), disputeId],
  }));
}

/**
 * Undoes what a dispute of a surplus charge booked (see {@link disputeWon}); says what it did.
 * The charge forgets the dispute (no `disputeId`): a refund of ours then ends as for an
 * undisputed charge.
 */
function surplusDisputeWon(
  d: Draft,
  c: Contribution,
  a: DebitAttempt & { readonly surplus: SurplusCharge },
): string {
  const roundId = d.state.id;
  const { memberId } = c;
  const {
    disputeId: _won,
    disputedMinor: _taken,
    lossBooked: _loss,
    withdrawnBooked: _withdrawn,
    withdrawalUndone: _undone,
    ...rest
  } = a.surplus;
  const disputeId = a.surplus.disputeId ?? "";
  const taken = a.surplus.disputedMinor ?? 0;
  // Our refund landed after the dispute's withdrawal was booked, so it posted only the rest:
  // the withdrawal stays beside it (together the whole charge refunded, as at Stripe), and is
  // kept so that the refund failing after its success reverses what each posted.
  const keepsWithdrawal =
    a.surplus.status === "refunded" &&
    a.surplus.refundId !== undefined &&
    a.surplus.withdrawnBooked === true &&
    taken > 0;
  d.updateAttempt(memberId, a.number, {
    surplus: keepsWithdrawal ? { ...rest, wonWithdrawal: { disputeId, amountMinor: taken } } : rest,
  });
  const ref = (amountMinor: number) => ledgerRef(d.state, memberId, amountMinor, d.ctx.now);
  if (a.surplus.lossBooked === true) {
    d.post(disputeReinstated({ id: roundIds.ledger.disputeWon(roundId, disputeId), ...ref(taken) }));
    return `The ${taken} booked as ${memberId}'s loss is undone (our refund of that charge stands).`;
  }
  if (taken === 0) return "It had taken nothing: nothing to undo.";
  if (a.surplus.status === "charged_back") {
    returnToMember(d, memberId, disputeId, taken);
    return `The ${taken} the bank had given back to ${memberId} is owed to them outside Stripe (round:${roundId}:owed_to_member), beside any rest owed before (pay it back by other means and record it: POST /v1/rounds/${roundId}/contributions/${memberId}/owed-payments).`;
  }
  // Our refund of the whole charge is still out (a refund that ended beside the dispute made the
  // charge `charged_back`, or booked the loss): the bank's part comes back into the pot for
  // it, unless that refund is in the books already (a snapshot stored before such a refund's
  // failure was taken back out of the books).
  if (a.surplus.refundId === undefined)
    d.post(contributionRefundFailed({ id: roundIds.ledger.disputeWon(roundId, disputeId), ...ref(taken) }));
  return `The ${taken} the bank had taken out of the pot is back in it, for our refund of the whole charge (${a.surplus.status}).`;
}

// ---------------------------------------------------------------- surplus charges

/** A member's surplus charge of a debit attempt, if the round holds one. */
function surplusOf(
  d: Draft,
  memberId: MemberId,
  debitAttempt: number,
): [Contribution, SurplusCharge] | undefined {
  const c = d.contribution(memberId);
  const a = c?.attempts.find((x) => x.number === debitAttempt);
  return c && a?.surplus ? [c, a.surplus] : undefined;
}

/**
 * A member disputed a surplus charge with their bank: the bank gives it back instead of
 * susu. It is booked against that charge alone: the contribution, its charge, the payout and
 * the round's status are untouched. What the bank took (`taken`, at most the charge) leaves
 * the pot unless a refund of ours already took the charge out of it. Nothing more is refunded
 * (Stripe refuses a refund of a disputed charge, `charge_disputed`): a charge not yet or no
 * longer being refunded is `charged_back`; a refund still out is settled by its outcome
 * ({@link surplusRefundSucceeded}, {@link surplusRefundFailed}); a refund that had succeeded
 * paid the member twice, and the second payment is booked as their loss (`member:<id>`), as
 * a dispute after payout is.
 */
function surplusDisputed(
  d: Draft,
  c: Contribution,
  a: DebitAttempt & { readonly surplus: SurplusCharge },
  { disputeId, amountMinor }: InputOf<"dispute_opened">,
): Step {
  const s = d.state;
  const { memberId } = c;
  const surplus = a.surplus;
  if (surplus.disputeId !== undefined)
    return ignore(
      s,
      "duplicate_dispute",
      `${memberId}'s charge ${a.number} is already disputed (${surplus.disputeId})`,
    );
  const taken = Math.min(Math.max(amountMinor, 0), c.amountMinor);
  const paidTwice = surplus.status === "refunded" && taken > 0;
  // A refund of ours still out settles it when it ends (see `surplusRefundFailed`); otherwise
  // the bank's was the refund, and what it did not give back is owed outside Stripe.
  const settledNow = surplus.status !== "refund_requested" && surplus.status !== "refunded";
  // Our refund is not in the books: the bank takes the charge out of the pot instead (below).
  const withdrawnNow = !paidTwice && surplus.refundId === undefined && taken > 0;
  const disputedSurplus: SurplusCharge = {
    ...surplus,
    status: settledNow ? "charged_back" : surplus.status,
    disputeId,
    disputedMinor: taken,
    ...(paidTwice ? { lossBooked: true } : {}),
    // Always recorded, so a later refund outcome knows how the refund and the dispute were booked.
    withdrawnBooked: withdrawnNow,
  };
  d.updateAttempt(memberId, a.number, { surplus: disputedSurplus });
  const what = `${memberId}'s second charge (debit attempt ${a.number}, ${a.paymentIntentId ?? "no PaymentIntent"})`;
  if (paidTwice) {
    d.post(
      disputeLoss({
        id: roundIds.ledger.disputeLoss(s.id, disputeId),
        ...ledgerRef(s, memberId, taken, d.ctx.now),
      }),
    );
    d.ticket(
      roundIds.ticket.disputeAfterPayout(s.id, disputeId),
      "dispute_after_payout",
      `${memberId} disputed ${what} after susu had refunded it (${surplus.refundId}): the member was paid twice, and ${taken} is booked as their loss (${disputeId}); their contribution to round ${s.id} is not affected`,
    );
  } else {
    if (withdrawnNow)
      d.post(
        contributionRefunded({
          id: roundIds.ledger.disputeWithdrawn(s.id, disputeId),
          ...ledgerRef(s, memberId, taken, d.ctx.now),
        }),
      );
    d.ticket(
      roundIds.ticket.dispute(s.id, disputeId),
      "dispute",
      `${memberId} disputed ${what} (${disputeId}): the bank gives it back instead of susu's refund, which is not asked for again; their contribution to round ${s.id} is not affected`,
    );
  }
  const restOwedMinor = settledNow
    ? oweSurplusRest(
        d,
        c,
        a.number,
        disputedSurplus,
        `${memberId} disputed ${taken} of ${what} (${disputeId}) while susu's refund of it ${surplus.status === "held" ? "was not asked for yet" : "had failed"}`,
      )
    : 0;
  d.notify(roundIds.notice.disputeOpened(s.id, disputeId), { kind: "admins" }, "dispute_opened", {
    memberId,
    disputeId,
    amountMinor,
    debitAttempt: a.number,
    ...(restOwedMinor > 0 ? { restOwedMinor } : {}),
  });
  return finishRefundingIfDone(d);
}

/**
 * A disputed surplus charge that no refund of ours will pay back (none was asked for, it
 * failed, or it failed after its success): Stripe refuses a refund of a disputed charge
 * (`charge_disputed`), so what the bank did not give back is owed to the member outside
 * Stripe. The books then show what Stripe does for that charge: a refund of ours in the books
 * came back (the refund's failure balance transaction), so it is reversed as it was posted
 * (the whole charge, or the rest of it when the dispute's withdrawal was booked before it);
 * the dispute took its amount out of the pot (booked now unless it was then); and the rest
 * leaves the pot as owed to the member, with a ticket to pay it by other means. Returns the
 * rest owed.
 */
function oweSurplusRest(
  d: Draft,
  c: Contribution,
  debitAttempt: number,
  surplus: SurplusCharge,
  why: string,
): number {
  const { disputeId } = surplus;
  if (disputeId === undefined) return 0;
  const takenMinor = surplus.disputedMinor ?? 0;
  const restMinor = c.amountMinor - takenMinor;
  const roundId = d.state.id;
  const { memberId } = c;
  const ref = (amountMinor: number) => ledgerRef(d.state, memberId, amountMinor, d.ctx.now);
  // Recorded, or read from a snapshot stored before it was (the caller, `surplusWithdrawalBooked`);
  // absent only when that snapshot cannot say.
  const withdrawn = surplus.withdrawnBooked;
  const { wonWithdrawal: _settled, ...current } = surplus;
  if (surplus.wonWithdrawal !== undefined) d.updateAttempt(memberId, debitAttempt, { surplus: current });
  if (surplus.refundId !== undefined)
    // Reversed as it was posted; in doubt, only the rest, which it posted either way.
    reverseSurplusRefund(d, memberId, debitAttempt, surplus, withdrawn === false ? c.amountMinor : restMinor);
  if (withdrawn === false && takenMinor > 0) {
    // Booked once already and undone when our refund landed beside it: booked again under its own id.
    const id = surplus.withdrawalUndone
      ? roundIds.ledger.disputeWithdrawnAgain(roundId, disputeId)
      : roundIds.ledger.disputeWithdrawn(roundId, disputeId);
    d.post(contributionRefunded({ id, ...ref(takenMinor) }));
    d.updateAttempt(memberId, debitAttempt, { surplus: { ...current, withdrawnBooked: true } });
  }
  if (withdrawn === undefined) withdrawalUnknown(d, c, debitAttempt, surplus, disputeId, why);
  if (restMinor <= 0) return 0;
  d.post(
    contributionOwedToMember({ id: roundIds.ledger.disputeRestOwed(roundId, disputeId), ...ref(restMinor) }),
  );
  owedBooked(d, memberId, disputeId, restMinor);
  d.ticket(
    roundIds.ticket.disputeRestOwed(roundId, disputeId),
    "dispute",
    `${why}: the bank gave back ${takenMinor} of that second charge, and the other ${restMinor} is owed to them; Stripe refuses a refund of a disputed charge, so pay it by other means and record it (POST /v1/rounds/${roundId}/contributions/${memberId}/owed-payments), which closes this ticket once nothing is left owed; their contribution to round ${roundId} is not affected`,
  );
  return restMinor;
}

/**
 * Reverses a surplus charge's refund in the books that Stripe failed after its success (its
 * failure balance transaction gave it back): `postedMinor` is what that refund posted, the
 * whole charge or the rest beside a dispute's withdrawal booked before it landed. Beside the
 * withdrawal of a dispute since closed won (`wonWithdrawal`), the refund posted only the rest
 * of the charge: that rest is reversed under the refund's id, and the withdrawal, which the won
 * dispute gave back, is undone under its own (`<round>:dispute:<d>:withdrawn:undone`).
 */
function reverseSurplusRefund(
  d: Draft,
  memberId: MemberId,
  debitAttempt: number,
  surplus: SurplusCharge,
  postedMinor: number,
): void {
  const roundId = d.state.id;
  const ref = (amountMinor: number) => ledgerRef(d.state, memberId, amountMinor, d.ctx.now);
  const won = surplus.wonWithdrawal;
  const undoneMinor = won !== undefined ? Math.min(Math.max(won.amountMinor, 0), postedMinor) : 0;
  const refundMinor = postedMinor - undoneMinor;
  if (refundMinor > 0)
    d.post(
      contributionRefundFailed({
        id: roundIds.ledger.surplusRefundFailed(roundId, memberId, debitAttempt, surplus.refundAttempt ?? 1),
        ...ref(refundMinor),
      }),
    );
  if (won !== undefined && undoneMinor > 0)
    d.post(
      contributionRefundFailed({
        id: roundIds.ledger.disputeWithdrawalUndone(roundId, won.disputeId),
        ...ref(undoneMinor),
      }),
    );
}

/**
 * Whether a disputed surplus charge's dispute part (`disputedMinor`) is booked withdrawn from
 * the pot (`<round>:dispute:<d>:withdrawn`). Recorded on every disputed charge since
 * `withdrawnBooked` was kept; a charge stored before it is read as that release booked it,
 * where the charge can say: nothing taken, nothing to withdraw; no refund of ours in the books
 * (`refundId` absent), booked when the dispute was heard; a refund of ours in the books and
 * not `refunded` (a snapshot kept `refundId` across a failed refund and its retry), not booked
 * beside it. `undefined` when it cannot: a `refunded` charge whose dispute took something was
 * stored alike whether the dispute was heard before the refund landed (withdrawal booked, the
 * refund posted only the rest) or after it (no withdrawal, the refund posted the whole charge),
 * with the loss booked in both.
 */
function surplusWithdrawalBooked(surplus: SurplusCharge): boolean | undefined {
  if (surplus.withdrawnBooked !== undefined) return surplus.withdrawnBooked;
  if ((surplus.disputedMinor ?? 0) === 0) return false;
  if (surplus.refundId === undefined) return true;
  return surplus.status === "refunded" ? undefined : false;
}

/**
 * A surplus charge's refund failed after its success and the round cannot tell how the
 * release that stored it booked the dispute's part (see {@link surplusWithdrawalBooked}):
 * {@link oweSurplusRest} reversed only what the refund posted either way (the rest) and booked
 * no withdrawal, so the round's totals are right in both cases, and a person checks the ledger
 * for the two postings that tell which it was.
 */
function withdrawalUnknown(
  d: Draft,
  c: Contribution,
  debitAttempt: number,
  surplus: SurplusCharge,
  disputeId: string,
  why: string,
): void {
  const roundId = d.state.id;
  const { memberId } = c;
  const takenMinor = surplus.disputedMinor ?? 0;
  const restMinor = c.amountMinor - takenMinor;
  const refundAttempt = surplus.refundAttempt ?? 1;
  const refundPostings = Array.from({ length: refundAttempt }, (_, i) =>
    roundIds.ledger.surplusRefunded(roundId, memberId, debitAttempt, i + 1),
  ).join(" or ");
  const reversal = roundIds.ledger.surplusRefundFailed(roundId, memberId, debitAttempt, refundAttempt);
  const withdrawal = roundIds.ledger.disputeWithdrawn(roundId, disputeId);
  const rest = restMinor > 0 ? `posted ${restMinor}` : "posted nothing";
  const reversed =
    restMinor > 0
      ? `the refund's failure is booked only for the ${restMinor} the refund posted either way (${reversal})`
      : "no refund failure is booked (the refund posted nothing, or all of it)";
  d.ticket(
    roundIds.ticket.disputeWithdrawalUnknown(roundId, disputeId),
    "dispute",
    `${why}. Round ${roundId} was stored by a release that did not record whether the ${takenMinor} the bank took (${disputeId}) was booked withdrawn from the pot before our refund (${surplus.refundId ?? "?"}) landed, and the round cannot tell: ${reversed}, no withdrawal is booked, and the round's totals are right in both cases. Check the ledger: if ${withdrawal} exists and the refund (${refundPostings}) ${rest}, the books match Stripe and nothing is left to do; if ${withdrawal} is missing and the refund posted ${c.amountMinor}, ${takenMinor} of it is still counted refunded where Stripe shows the dispute's withdrawal (reconciliation: the refund's key off by ${takenMinor}, the dispute missing): correct it by hand, a correction beside ${reversal} for ${takenMinor} more of the refund, and the dispute's withdrawal of ${takenMinor} (${withdrawal}, which the round will not post)`,
  );
}

/** Whether a refund outcome is about a surplus charge's current refund attempt (as {@link staleRefundAttempt}). */
function staleSurplusAttempt(
  d: Draft,
  memberId: MemberId,
  debitAttempt: number,
  surplus: SurplusCharge,
  attempt: number,
): Step | undefined {
  const current = surplus.refundAttempt ?? 1;
  if (attempt === current) return undefined;
  return attempt < current
    ? ignore(
        d.state,
        "refund_attempt_superseded",
        `refund attempt ${attempt} of ${memberId}'s charge ${debitAttempt} was replaced by attempt ${current}`,
      )
    : ignore(
        d.state,
        "no_refund_pending",
        `no refund attempt ${attempt} for ${memberId}'s charge ${debitAttempt}`,
      );
}

/**
 * A surplus charge's refund went through: posted under its attempt's id, unless a refund of
 * the charge is in the books already (`refundId`: a snapshot stored before a refund Stripe
 * failed after its success was taken back out of the books kept it).
 */
function surplusRefundSucceeded(d: Draft, input: InputOf<"refund_succeeded">, debitAttempt: number): Step {
  const { memberId, refundId } = input;
  const found = surplusOf(d, memberId, debitAttempt);
  if (!found || (found[1].status !== "refund_requested" && found[1].status !== "refund_failed"))
    return ignore(d.state, "no_refund_pending", `no refund pending for ${memberId}'s charge ${debitAttempt}`);
  const [c, surplus] = found;
  const stale = staleSurplusAttempt(d, memberId, debitAttempt, surplus, input.attempt ?? 1);
  if (stale) return stale;
  const failed = refundSuccessAfterFailure(
    d,
    surplus.status,
    surplus.refundId,
    refundId,
    input.attempt ?? 1,
    `${memberId}'s charge ${debitAttempt}`,
  );
  if (failed) return failed;
  const postedBefore = surplus.refundId !== undefined;
  const roundId = d.state.id;
  // A dispute heard before paid the member twice beside this refund: Stripe's refund takes the
  // whole charge, and the dispute its amount besides.
  const taken = surplus.disputeId !== undefined ? (surplus.disputedMinor ?? 0) : 0;
  const paidTwice = surplus.disputeId !== undefined && surplus.lossBooked !== true && taken > 0;
  // Never in doubt here (the charge is not `refunded` yet).
  const withdrawn = surplus.disputeId !== undefined && surplusWithdrawalBooked(surplus) === true;
  // That dispute, heard while this refund was out, took its amount out of the pot (as Stripe's
  // withdrawal): the refund is posted whole, and the withdrawal undone, so the dispute counts
  // only the member's loss (below), as when it is heard after the refund. Recorded, so that the
  // refund's failure after its success books the withdrawal again under its own id.
  const undoWithdrawal = withdrawn && !postedBefore && taken > 0;
  d.updateAttempt(memberId, debitAttempt, {
    surplus: {
      ...surplus,
      status: "refunded",
      refundId,
      ...(paidTwice ? { lossBooked: true } : {}),
      ...(surplus.disputeId !== undefined ? { withdrawnBooked: withdrawn && !undoWithdrawal } : {}),
      ...(undoWithdrawal ? { withdrawalUndone: true } : {}),
    },
  });
  const ref = (amountMinor: number) => ledgerRef(d.state, memberId, amountMinor, d.ctx.now);
  if (!postedBefore)
    d.post(
      contributionRefunded({
        id: roundIds.ledger.surplusRefunded(roundId, memberId, debitAttempt, input.attempt ?? 1),
        ...ref(c.amountMinor),
      }),
    );
  if (undoWithdrawal && surplus.disputeId !== undefined)
    d.post(
      contributionRefundFailed({
        id: roundIds.ledger.disputeWithdrawalUndone(roundId, surplus.disputeId),
        ...ref(taken),
      }),
    );
  if (paidTwice && surplus.disputeId !== undefined) {
    d.post(disputeLoss({ id: roundIds.ledger.disputeLoss(roundId, surplus.disputeId), ...ref(taken) }));
    d.ticket(
      roundIds.ticket.disputeAfterPayout(roundId, surplus.disputeId),
      "dispute_after_payout",
      `the refund of ${memberId}'s second charge (debit attempt ${debitAttempt}) succeeded (${refundId}) although they had disputed it (${surplus.disputeId}): the member was paid twice, and ${taken} is booked as their loss; their contribution to round ${roundId} is not affected`,
    );
  }
  return finishRefundingIfDone(d);
}

/**
 * A surplus charge's refund failed (or failed after it succeeded: taken back out of the books,
 * the round holds the charge again): the member is owed it, so a ticket and the admins' notice
 * say how to ask again (`retry_refund`).
 */
function surplusRefundFailed(d: Draft, input: InputOf<"refund_failed">, debitAttempt: number): Step {
  const { memberId, failureCode } = input;
  const found = surplusOf(d, memberId, debitAttempt);
  if (!found || (found[1].status !== "refund_requested" && found[1].status !== "refunded"))
    return ignore(d.state, "no_refund_pending", `no refund pending for ${memberId}'s charge ${debitAttempt}`);
  const [c, surplus] = found;
  const stale = staleSurplusAttempt(d, memberId, debitAttempt, surplus, input.attempt ?? 1);
  if (stale) return stale;
  const roundId = d.state.id;
  const n = surplus.refundAttempt ?? 1;
  // Stripe can fail a refund it had reported succeeded (the refund's failure balance transaction).
  const afterSuccess = surplus.status === "refunded";
  const noticeId = afterSuccess
    ? roundIds.notice.surplusRefundFailedAfterSuccess(roundId, memberId, debitAttempt, n)
    : roundIds.notice.surplusRefundFailed(roundId, memberId, debitAttempt, n);
  // The member disputed the charge: our refund is not owed at Stripe (which refuses one on a
  // disputed charge, `charge_disputed`, and fails a pending one), and one that had paid them
  // twice did not after all, so its loss is undone. What the bank did not give back is owed
  // outside Stripe; nothing is retried.
  if (surplus.disputeId !== undefined) {
    const withdrawn = surplusWithdrawalBooked(surplus);
    const { lossBooked: _undone, withdrawnBooked: _read, ...rest } = surplus;
    const settled: SurplusCharge = {
      ...rest,
      status: "charged_back",
      ...(withdrawn !== undefined ? { withdrawnBooked: withdrawn } : {}),
    };
    d.updateAttempt(memberId, debitAttempt, { surplus: settled });
    if (surplus.lossBooked === true)
      d.post(
        disputeReinstated({
          id: roundIds.ledger.disputeLossUndone(roundId, surplus.disputeId),
          ...ledgerRef(d.state, memberId, surplus.disputedMinor ?? 0, d.ctx.now),
        }),
      );
    const restOwedMinor = oweSurplusRest(
      d,
      c,
      debitAttempt,
      settled,
      `the refund of ${memberId}'s second charge (debit attempt ${debitAttempt}) failed${afterSuccess ? " after it had succeeded" : ""} (${failureCode}), and they had disputed ${surplus.disputedMinor ?? 0} of it (${surplus.disputeId})`,
    );
    if (restOwedMinor > 0)
      d.notify(noticeId, { kind: "admins" }, "refund_failed", {
        memberId,
        failureCode,
        attempt: n,
        debitAttempt,
        disputeId: surplus.disputeId,
        restOwedMinor,
      });
    return finishRefundingIfDone(d);
  }
  // Retried by `retry_refund` whatever the round's status (see `retryRefund`).
  const hint = `; ${retryRefundHint(roundId, memberId)}`;
  const data = {
    memberId,
    failureCode,
    attempt: n,
    debitAttempt,
    retryWith: `POST /v1/rounds/${roundId}/contributions/${memberId}/retry-refund`,
  };
  // Stripe can fail a refund it had reported succeeded: the member has not got the money back,
  // and Stripe has it again (the refund's failure balance transaction). The refund is taken back
  // out of the books (as a contribution's is), so the round holds the charge until a new refund
  // (`retry_refund`) pays it; with no `refundId`, that refund is posted when it lands.
  // A dispute closed won may have left its withdrawal beside it (`wonWithdrawal`): the refund
  // posted only the rest, and the withdrawal is undone with it (see `reverseSurplusRefund`).
  const { refundId: failedRefundId, wonWithdrawal: _undone, ...kept } = surplus;
  d.updateAttempt(memberId, debitAttempt, { surplus: { ...kept, status: "refund_failed" } });
  if (afterSuccess && failedRefundId !== undefined)
    reverseSurplusRefund(d, memberId, debitAttempt, surplus, c.amountMinor);
  d.ticket(
    afterSuccess
      ? roundIds.ticket.surplusRefundFailedAfterSuccess(roundId, memberId, debitAttempt, n)
      : roundIds.ticket.surplusRefundFailed(roundId, memberId, debitAttempt, n),
    "refund_failed",
    afterSuccess
      ? `the refund of ${memberId}'s second charge (debit attempt ${debitAttempt}, ${failedRefundId ?? "?"}) failed after it had succeeded (${failureCode}): Stripe has the money back, and the books no longer count it refunded; round ${roundId} holds it until a new refund pays it${hint}`
      : `the refund of ${memberId}'s second charge (debit attempt ${debitAttempt}) failed (${failureCode}, attempt ${n}); the money is still held${hint}`,
  );
  d.notify(noticeId, { kind: "admins" }, "refund_failed", data);
  return d.done();
}

/**
 * `restOwedMinor` was booked as owed to `memberId` outside Stripe (dispute `disputeId` left
 * it): the contribution keeps what it is owed in all, and the member is told.
 */
function owedBooked(
  d: Draft,
  memberId: MemberId,
  disputeId: string,
  restOwedMinor: number,
  occasion?: string,
): void {
  const { patch, notice } = owedToMemberBooked(d.state, memberId, disputeId, restOwedMinor, occasion);
  d.updateContribution(memberId, patch);
  d.effect(notice);
}
