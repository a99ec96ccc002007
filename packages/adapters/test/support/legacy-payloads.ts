// Outbox payloads and timer job data as the release before aggregate references wrote
// them, and what they mean today. The migration test stores the old ones and checks the
// rewrite; the snapshot test reads them as a process would after a rolling deploy.
import type { OutboxEffect } from "@susu/domain";

/** One stored effect before and after: the payload an older process wrote, and today's effect. */
export interface LegacyEffect {
  readonly old: Record<string, unknown>;
  readonly today: OutboxEffect;
}

export const LEGACY_EFFECTS: readonly LegacyEffect[] = [
  {
    old: {
      kind: "schedule_timer",
      id: "round_1:timer:collection_deadline:v2",
      roundId: "round_1",
      at: 1_800_000_000_000,
      timer: { kind: "collection_deadline", extension: 1 },
    },
    today: {
      kind: "schedule_timer",
      id: "round_1:timer:collection_deadline:v2",
      aggregate: "round",
      aggregateId: "round_1",
      at: 1_800_000_000_000,
      timer: { kind: "collection_deadline", extension: 1 },
    },
  },
  {
    old: {
      kind: "schedule_timer",
      id: "round_1:timer:retry_debit:ben:2",
      roundId: "round_1",
      at: 1_800_000_100_000,
      timer: { kind: "retry_debit", memberId: "ben", attempt: 2 },
    },
    today: {
      kind: "schedule_timer",
      id: "round_1:timer:retry_debit:ben:2",
      aggregate: "round",
      aggregateId: "round_1",
      at: 1_800_000_100_000,
      timer: { kind: "retry_debit", memberId: "ben", attempt: 2 },
    },
  },
  {
    old: {
      kind: "notify",
      id: "round_1:notify:contribution_failed:ben:1",
      groupId: "grp_1",
      roundId: "round_1",
      to: { kind: "member", memberId: "ben" },
      template: "contribution_failed",
      data: { roundId: "round_1", deadline: "2027-01-15T00:00:00.000Z", attempt: 1 },
    },
    today: {
      kind: "notify",
      id: "round_1:notify:contribution_failed:ben:1",
      aggregate: "round",
      aggregateId: "round_1",
      to: { kind: "group", groupId: "grp_1", members: { kind: "member", memberId: "ben" } },
      template: "contribution_failed",
      data: { roundId: "round_1", deadline: "2027-01-15T00:00:00.000Z", attempt: 1 },
    },
  },
  {
    old: {
      kind: "notify",
      id: "round_1:notify:round_cancelled:all",
      groupId: "grp_1",
      roundId: "round_1",
      to: { kind: "all_members" },
      template: "round_cancelled",
      data: { roundId: "round_1" },
    },
    today: {
      kind: "notify",
      id: "round_1:notify:round_cancelled:all",
      aggregate: "round",
      aggregateId: "round_1",
      to: { kind: "group", groupId: "grp_1", members: { kind: "all_members" } },
      template: "round_cancelled",
      data: { roundId: "round_1" },
    },
  },
  {
    old: {
      kind: "open_ticket",
      id: "round_1:ticket:payout_blocked:ana:1:v3",
      groupId: "grp_1",
      roundId: "round_1",
      reason: "payout_blocked",
      summary: "payout to ana blocked",
    },
    today: {
      kind: "open_ticket",
      id: "round_1:ticket:payout_blocked:ana:1:v3",
      aggregate: "round",
      aggregateId: "round_1",
      groupId: "grp_1",
      reason: "payout_blocked",
      summary: "payout to ana blocked",
    },
  },
  // Effects whose shape did not change pass through as they are.
  {
    old: {
      kind: "refund",
      id: "round_1:refund:ana",
      roundId: "round_1",
      groupId: "grp_1",
      memberId: "ana",
      paymentIntentId: "pi_1",
      amountMinor: 100_00,
      currency: "AUD",
    },
    today: {
      kind: "refund",
      id: "round_1:refund:ana",
      roundId: "round_1",
      groupId: "grp_1",
      memberId: "ana",
      paymentIntentId: "pi_1",
      amountMinor: 100_00,
      currency: "AUD",
    },
  },
];
