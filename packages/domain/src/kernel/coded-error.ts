/**
 * A refused command of an aggregate whose codes are `C`: a union tagged by `type`, equal
 * to its stable `code`, with a message for people.
 */
export type CodedError<C extends string> = {
  [K in C]: { readonly type: K; readonly code: K; readonly message: string };
}[C];

/** The constructor of an aggregate's {@link CodedError}s: `heldPaymentError("invalid_fee", "…")`. */
export type CodedErrorConstructor<C extends string> = <T extends C>(
  type: T,
  message: string,
) => Extract<CodedError<C>, { type: T }>;

/** Makes the constructor of the {@link CodedError}s with codes `C`. */
export function codedErrorConstructor<C extends string>(): CodedErrorConstructor<C> {
  // The arm of `type` is `{ type, code: type, message }` by definition; the compiler
  // cannot see that through the mapped type, hence the one cast.
  return ((type: C, message: string) => ({ type, code: type, message })) as CodedErrorConstructor<C>;
}
