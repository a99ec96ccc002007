import type { MemberId } from "../group/ids.js";
import type { Instant } from "../shared/time.js";

/** The timers a round sets; a timer that fires when it no longer applies is ignored. */
export type RoundTimer =
  /**
   * `extension`: how many times the deadline had been extended when the timer was armed
   * (absent: never). A timer armed for an earlier deadline is ignored when it fires.
   */
  | { readonly kind: "collection_deadline"; readonly extension?: number }
  | { readonly kind: "grace_end"; readonly extension?: number }
  | { readonly kind: "retry_debit"; readonly memberId: MemberId; readonly attempt: number }
  | { readonly kind: "payout_due" }
  | { readonly kind: "retry_payout"; readonly attempt: number };

/**
 * Everything that can happen to a round. Commands come from people or the scheduler;
 * facts come from Stripe (translated webhook events) or from the results of effects.
 */
export type RoundInput =
  // commands
  | { readonly type: "open" }
  /**
   * A member (or an admin for them) asks for a new debit now. `mandateActive`: whether the
   * member's saved BECS mandate is active now, as susu last heard from Stripe (the use case
   * `retryContribution` reads it from the person). After a permanent failure the retry is
   * refused unless it is `true`: Stripe deactivates the mandate a debit failed on for good
   * (account closed, no account, not authorised), so an active one is a new mandate (new bank
   * details) or one the bank still honours. Absent: not known, refused after a permanent failure.
   */
  | { readonly type: "retry_contribution"; readonly memberId: MemberId; readonly mandateActive?: boolean }
  | { readonly type: "cancel"; readonly reason: string }
  | { readonly type: "resume_payout" }
  | { readonly type: "reassign_payout"; readonly toMemberId: MemberId; readonly toCanReceive: boolean }
  /** An admin gives members more time to pay: a later collection deadline, while collecting or settled. */
  | { readonly type: "extend_deadline"; readonly deadline: Instant }
  /**
   * An admin asks again for the refund of a member's contribution whose refund failed, while
   * the round is refunding or once it was cancelled, and for any of their surplus charges'
   * failed refunds, whatever the round's status: a new refund attempt, under a new
   * idempotency key.
   */
  | { readonly type: "retry_refund"; readonly memberId: MemberId }
  // timers
  | { readonly type: "timer"; readonly timer: RoundTimer }
  // facts about debits
  | {
      readonly type: "debit_processing";
      readonly memberId: MemberId;
      readonly attempt: number;
      readonly paymentIntentId: string;
    }
  | {
      readonly type: "debit_succeeded";
      readonly memberId: MemberId;
      readonly attempt: number;
      readonly paymentIntentId: string;
      readonly chargeId: string;
    }
  | {
      readonly type: "debit_failed";
      readonly memberId: MemberId;
      readonly attempt: number;
      readonly paymentIntentId?: string;
      readonly failureCode: string;
    }
  // facts about refunds (`attempt`: the refund attempt the refund's metadata names; absent:
  // attempt 1, whose refunds carry none, as every refund made before retries existed;
  // `debitAttempt`: set on the refund of a surplus charge, the debit attempt whose charge
  // it gives back; absent on a contribution's refund)
  | {
      readonly type: "refund_succeeded";
      readonly memberId: MemberId;
      readonly refundId: string;
      readonly attempt?: number;
      readonly debitAttempt?: number;
    }
  | {
      readonly type: "refund_failed";
      readonly memberId: MemberId;
      readonly failureCode: string;
      readonly attempt?: number;
      readonly debitAttempt?: number;
    }
  // facts about payouts
  | {
      readonly type: "transfer_created";
      readonly sourceMemberId: MemberId;
      readonly attempt: number;
      readonly transferId: string;
    }
  | {
      readonly type: "transfer_failed";
      readonly sourceMemberId: MemberId;
      readonly attempt: number;
      readonly failureCode: string;
    }
  | {
      readonly type: "transfer_reversed";
      readonly sourceMemberId: MemberId;
      readonly transferId: string;
      readonly amountMinor: number;
    }
  | { readonly type: "recipient_readiness"; readonly canReceive: boolean }
  // facts about disputes
  | {
      readonly type: "dispute_opened";
      readonly memberId: MemberId;
      readonly disputeId: string;
      readonly amountMinor: number;
      /**
       * The debit attempt whose charge is disputed (its PaymentIntent's metadata), and that
       * PaymentIntent, when known: a member charged twice may dispute either charge, and a
       * dispute of a surplus charge is booked against that charge, not the contribution.
       * Absent: the contribution's charge, as before disputes named their charge.
       */
      readonly attempt?: number;
      readonly paymentIntentId?: string;
    }
  /**
   * Stripe closed a member's dispute `won` (`charge.dispute.closed`): the bank gave the
   * disputed amount back to the platform. Whether a BECS dispute can end this way is not
   * documented; the round books it if it ever comes (see `disputeWon` in decide.ts). The
   * charge as `dispute_opened` names it; the amount is Stripe's dispute amount.
   */
  | {
      readonly type: "dispute_won";
      readonly memberId: MemberId;
      readonly disputeId: string;
      readonly amountMinor: number;
      readonly attempt?: number;
      readonly paymentIntentId?: string;
    };
