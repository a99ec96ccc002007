import type { Ignored } from "../kernel/decision.js";
/**
 * Why `decide` ignored an input: it did not apply to the round as it is. Ignored inputs
 * are normal (Stripe repeats and reorders events, timers fire for steps already done) and
 * are recorded in the audit log with their code, never raised as errors.
 *
 * - `round_not_scheduled`: `open` for a round that is no longer scheduled.
 * - `no_such_attempt`: a debit fact for an attempt the round never asked for.
 * - `attempt_already_processing`: a "processing" fact repeated.
 * - `attempt_already_settled`: a fact for a debit attempt that already succeeded or failed.
 * - `timer_no_longer_due`: a timer for a step already done, or for a status the round left.
 * - `no_refund_pending`: a refund outcome for a member with no refund in progress.
 * - `refund_attempt_superseded`: a refund outcome for an attempt a retry has replaced.
 * - `no_such_transfer`: a transfer fact for a transfer (or attempt) the round never asked for.
 * - `transfer_already_created`: a transfer reported created again (or after it came back).
 * - `transfer_not_pending`: a transfer failure for a transfer no longer awaited.
 * - `readiness_unchanged`: the recipient's account readiness reported as it already was.
 * - `transfer_not_reversible`: a reversal of a transfer the round does not hold as created.
 * - `reversal_amount_invalid`: a reversal of nothing, or of more than is left of the transfer.
 * - `no_such_contribution`: a dispute for someone who does not contribute to the round.
 * - `duplicate_dispute`: a dispute already recorded (or already closed won).
 * - `dispute_already_closed`: a dispute's closure `won` heard again.
 */
export const ROUND_IGNORED_CODES = [
  "round_not_scheduled",
  "no_such_attempt",
  "attempt_already_processing",
  "attempt_already_settled",
  "timer_no_longer_due",
  "no_refund_pending",
  "refund_attempt_superseded",
  "no_such_transfer",
  "transfer_already_created",
  "transfer_not_pending",
  "readiness_unchanged",
  "transfer_not_reversible",
  "reversal_amount_invalid",
  "no_such_contribution",
  "duplicate_dispute",
  "dispute_already_closed",
] as const;

/** One of {@link ROUND_IGNORED_CODES}. */
export type RoundIgnoredCode = (typeof ROUND_IGNORED_CODES)[number];

/** Why an input was ignored: a stable code to count and match on, and a sentence for people. */
export type RoundIgnored = Ignored<RoundIgnoredCode>;
