import type { MemberId } from "../group/ids.js";
import type { TimerOf } from "../kernel/aggregate-ref.js";
import type { ResolveTicketEffect } from "../kernel/effect-address.js";
import type { NotifyAudience } from "../kernel/notify-audience.js";
import type { LedgerTransaction } from "../ledger/index.js";
import type { CurrencyCode } from "../money/index.js";
import type { RoundTimer } from "./round-input.js";

/** The messages a round sends; the notifier renders each one. */
export const NOTIFICATION_TEMPLATES = [
  "debit_initiated",
  "contribution_retry_scheduled",
  "contribution_failed",
  // A debit the member was told had failed was taken after all and counts as their contribution.
  "contribution_collected_late",
  "round_cancelling",
  "round_cancelled",
  "payout_blocked",
  "payout_sent",
  "refund_failed",
  "dispute_opened",
  "transfer_reversed",
  "unexpected_money",
  // A round is due but cannot open: to each member not ready (what they lack), and to the
  // group's admins (who lacks what). Sent for the round that would open, before it exists.
  "round_waiting_for_you",
  "round_waiting_for_members",
  // Money the round owes a member outside Stripe: booked (what and why), then each payment
  // an admin recorded making (a bank transfer, cash), to the member.
  "owed_outside_stripe",
  "owed_paid_outside_stripe",
] as const;

/** One of {@link NOTIFICATION_TEMPLATES}. */
export type NotificationTemplate = (typeof NOTIFICATION_TEMPLATES)[number];

/** Why a round opened a support ticket. */
export const TICKET_REASONS = [
  "unexpected_money",
  "payout_blocked",
  "refund_failed",
  "dispute_after_payout",
  "dispute",
  "transfer_reversed",
] as const;

/** One of {@link TICKET_REASONS}. */
export type TicketReason = (typeof TICKET_REASONS)[number];

/**
 * What a decision asks the outside world to do, as data. Every effect has an `id` that is
 * stable for the aggregate and step (e.g. `round_1:contribution:mem_7:attempt:2`): the
 * outbox stores effects by it and it is the Stripe `Idempotency-Key`, so executing an
 * effect twice after a crash can never charge or pay twice.
 */
export type RoundEffect =
  | {
      readonly kind: "collect_contribution";
      readonly id: string;
      readonly roundId: string;
      readonly groupId: string;
      readonly memberId: MemberId;
      readonly attempt: number;
      readonly amountMinor: number;
      readonly currency: CurrencyCode;
      readonly transferGroup: string;
    }
  | {
      readonly kind: "transfer";
      readonly id: string;
      readonly roundId: string;
      readonly groupId: string;
      readonly recipientMemberId: MemberId;
      readonly sourceMemberId: MemberId;
      readonly sourceChargeId: string;
      readonly attempt: number;
      readonly amountMinor: number;
      readonly currency: CurrencyCode;
      readonly transferGroup: string;
    }
  | {
      readonly kind: "refund";
      readonly id: string;
      readonly roundId: string;
      readonly groupId: string;
      readonly memberId: MemberId;
      /**
       * The refund attempt, from 2 (an admin's `retry_refund`); absent on attempt 1, whose
       * effect and Stripe metadata stay exactly as they were before retries existed (a
       * replay must send the same parameters under the same idempotency key).
       */
      readonly attempt?: number;
      /**
       * Set on the refund of a surplus charge (a debit recorded as failed that took the money
       * after all): the debit attempt whose charge it gives back, in the refund's metadata
       * (`refund`) so its facts find that charge. Absent on a contribution's refund.
       */
      readonly debitAttempt?: number;
      readonly paymentIntentId: string;
      readonly amountMinor: number;
      readonly currency: CurrencyCode;
    }
  /** `{ kind, id, aggregate: "round", aggregateId, at, timer }`: the timer comes back to this round. */
  | ({ readonly kind: "schedule_timer" } & TimerOf<"round", RoundTimer>)
  | {
      readonly kind: "notify";
      readonly id: string;
      readonly aggregate: "round";
      readonly aggregateId: string;
      /** A round's notifications go to its group's members (`{ kind: "group", … }`), or people by id. */
      readonly to: Extract<NotifyAudience, { readonly kind: "group" | "people" }>;
      readonly template: NotificationTemplate;
      readonly data: Readonly<Record<string, string | number>>;
    }
  | { readonly kind: "post_ledger"; readonly id: string; readonly transaction: LedgerTransaction }
  | {
      readonly kind: "open_ticket";
      readonly id: string;
      readonly aggregate: "round";
      readonly aggregateId: string;
      /** The round's group: operators find a group's tickets by it. */
      readonly groupId: string;
      readonly reason: TicketReason;
      readonly summary: string;
    }
  /** Resolves a ticket the round opened (what is owed outside Stripe was recorded paid). */
  | ResolveTicketEffect<"round">
  /** Applied to the group in the same transaction as the round (not through the outbox). */
  | { readonly kind: "pause_group"; readonly id: string; readonly groupId: string; readonly reason: string }
  /** Applied to the group in the same transaction as the round: the block that paused it is over. */
  | { readonly kind: "resume_group"; readonly id: string; readonly groupId: string }
  /** Applied to the group in the same transaction as the round (not through the outbox). */
  | {
      readonly kind: "round_ended";
      readonly id: string;
      readonly groupId: string;
      readonly roundId: string;
      readonly outcome: { readonly paidTo: MemberId } | { readonly cancelled: true };
    };

/** The effects the use case applies to the group inside the same transaction. */
export type GroupLocalEffect = Extract<RoundEffect, { kind: "pause_group" | "resume_group" | "round_ended" }>;

/** A round's effects that go through the outbox to be executed by a dispatcher (see `OutboxEffect`). */
export type RoundOutboxEffect = Exclude<RoundEffect, GroupLocalEffect>;

/** Whether an effect is applied to the group in the same transaction. */
export function isGroupLocalEffect(effect: RoundEffect): effect is GroupLocalEffect {
  return effect.kind === "pause_group" || effect.kind === "resume_group" || effect.kind === "round_ended";
}
