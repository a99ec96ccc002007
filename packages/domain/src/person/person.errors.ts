/** Why a change to a person was refused. Each variant has a stable `code` for API clients. */
export type PersonError =
  | { readonly type: "invalid_person"; readonly code: "invalid_person"; readonly message: string }
  | { readonly type: "no_debit_mandate"; readonly code: "no_debit_mandate"; readonly message: string }
  | { readonly type: "no_payout_account"; readonly code: "no_payout_account"; readonly message: string }
  /** The person's connected account cannot pay out yet (onboarding unfinished, restricted). */
  | { readonly type: "payouts_not_enabled"; readonly code: "payouts_not_enabled"; readonly message: string }
  /** The provider no longer shows the person's connected account (deleted, disconnected): onboard again. */
  | { readonly type: "payout_account_gone"; readonly code: "payout_account_gone"; readonly message: string }
  /** susu pays out only when connected accounts are on the manual schedule; the provider pays out otherwise. */
  | { readonly type: "payouts_not_manual"; readonly code: "payouts_not_manual"; readonly message: string }
  /** An operator paused the person's payouts, or the whole platform's (`pausePayouts`). */
  | { readonly type: "payouts_paused"; readonly code: "payouts_paused"; readonly message: string };

/** Builds a {@link PersonError} of the given type. */
export function personError<T extends PersonError["type"]>(
  type: T,
  message: string,
): Extract<PersonError, { type: T }> {
  return { type, code: type, message } as Extract<PersonError, { type: T }>;
}
