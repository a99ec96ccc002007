/** Why a command on a round was refused. Each variant has a stable `code`. */
export type RoundError =
  | {
      readonly type: "contribution_not_found";
      readonly code: "contribution_not_found";
      readonly message: string;
    }
  | {
      readonly type: "contribution_not_retryable";
      readonly code: "contribution_not_retryable";
      readonly message: string;
    }
  | { readonly type: "round_not_blocked"; readonly code: "round_not_blocked"; readonly message: string }
  | {
      readonly type: "round_not_cancellable";
      readonly code: "round_not_cancellable";
      readonly message: string;
    }
  | { readonly type: "invalid_reassignment"; readonly code: "invalid_reassignment"; readonly message: string }
  | { readonly type: "payout_in_flight"; readonly code: "payout_in_flight"; readonly message: string }
  | {
      readonly type: "payout_partially_sent";
      readonly code: "payout_partially_sent";
      readonly message: string;
    }
  | { readonly type: "invalid_round"; readonly code: "invalid_round"; readonly message: string }
  /** The deadline can move only while the round collects (or has collected and not yet paid out). */
  | {
      readonly type: "deadline_not_extendable";
      readonly code: "deadline_not_extendable";
      readonly message: string;
    }
  /** `retry_refund` for a member whose refund has not failed, or on a round that is neither refunding nor cancelled. */
  | { readonly type: "no_failed_refund"; readonly code: "no_failed_refund"; readonly message: string }
  /** A new deadline must be later than the current one and than now. */
  | { readonly type: "invalid_deadline"; readonly code: "invalid_deadline"; readonly message: string };

/** Builds a {@link RoundError} of the given type. */
export function roundError<T extends RoundError["type"]>(
  type: T,
  message: string,
): Extract<RoundError, { type: T }> {
  return { type, code: type, message } as Extract<RoundError, { type: T }>;
}
