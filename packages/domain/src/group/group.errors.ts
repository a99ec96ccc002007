import type { MemberNotReady } from "./member-readiness.js";

/** Why a command on a group was refused. Each variant has a stable `code` for API clients. */
export type GroupError =
  | { readonly type: "group_not_forming"; readonly code: "group_not_forming"; readonly message: string }
  | { readonly type: "group_not_active"; readonly code: "group_not_active"; readonly message: string }
  | { readonly type: "group_not_paused"; readonly code: "group_not_paused"; readonly message: string }
  | { readonly type: "member_exists"; readonly code: "member_exists"; readonly message: string }
  | { readonly type: "member_not_found"; readonly code: "member_not_found"; readonly message: string }
  | { readonly type: "not_admin"; readonly code: "not_admin"; readonly message: string }
  | {
      readonly type: "member_removal_not_allowed";
      readonly code: "member_removal_not_allowed";
      readonly message: string;
    }
  | { readonly type: "too_few_members"; readonly code: "too_few_members"; readonly message: string }
  | { readonly type: "too_many_members"; readonly code: "too_many_members"; readonly message: string }
  | { readonly type: "invalid_payout_order"; readonly code: "invalid_payout_order"; readonly message: string }
  | {
      readonly type: "member_owes_contributions";
      readonly code: "member_owes_contributions";
      readonly message: string;
    }
  | {
      readonly type: "member_awaiting_payout";
      readonly code: "member_awaiting_payout";
      readonly message: string;
    }
  | {
      readonly type: "member_is_current_recipient";
      readonly code: "member_is_current_recipient";
      readonly message: string;
    }
  | { readonly type: "swap_not_allowed"; readonly code: "swap_not_allowed"; readonly message: string }
  | { readonly type: "swap_not_found"; readonly code: "swap_not_found"; readonly message: string }
  | { readonly type: "round_in_progress"; readonly code: "round_in_progress"; readonly message: string }
  | {
      readonly type: "rotation_in_progress";
      readonly code: "rotation_in_progress";
      readonly message: string;
    }
  | { readonly type: "no_round_due"; readonly code: "no_round_due"; readonly message: string }
  | { readonly type: "invalid_group"; readonly code: "invalid_group"; readonly message: string }
  | { readonly type: "invalid_time_zone"; readonly code: "invalid_time_zone"; readonly message: string }
  | {
      readonly type: "currency_not_supported";
      readonly code: "currency_not_supported";
      readonly message: string;
    }
  | {
      readonly type: "members_not_ready";
      readonly code: "members_not_ready";
      readonly message: string;
      /** Who is not ready and what each lacks, in member order. */
      readonly notReady: readonly MemberNotReady[];
    };

/** Builds a {@link GroupError} of the given type (`members_not_ready` has its own builder). */
export function groupError<T extends Exclude<GroupError["type"], "members_not_ready">>(
  type: T,
  message: string,
): Extract<GroupError, { type: T }> {
  return { type, code: type, message } as Extract<GroupError, { type: T }>;
}

const GAP_TEXT = { mandate: "an active debit mandate", payout_account: "a payout account that can receive" };

/** Builds the `members_not_ready` error; its message names each member and what they lack. */
export function membersNotReadyError(
  notReady: readonly MemberNotReady[],
): Extract<GroupError, { type: "members_not_ready" }> {
  const who = notReady.map((m) => `${m.memberId} needs ${m.lacks.map((g) => GAP_TEXT[g]).join(" and ")}`);
  return {
    type: "members_not_ready",
    code: "members_not_ready",
    message: `not every member is ready for money to move: ${who.join("; ")}`,
    notReady,
  };
}
