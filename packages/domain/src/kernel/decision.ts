import { type Ok, ok } from "neverthrow";

/**
 * Why an input did not apply to an aggregate's state (a duplicate or stale event, a timer
 * for a step already done): a stable code from the aggregate's own list, which tests
 * assert exactly, and a sentence for the audit log.
 */
export interface Ignored<C extends string> {
  readonly code: C;
  readonly detail: string;
}

/**
 * What every aggregate's `decide(state, input, ctx)` returns on success: the next state
 * and the effects to carry out; when the input did not apply, the state unchanged, no
 * effects, and `ignored` saying why.
 */
export interface Decision<S, E, C extends string> {
  readonly state: S;
  readonly effects: readonly E[];
  readonly ignored?: Ignored<C>;
}

/** The decision for an input that did not apply: `state` unchanged, no effects, and why (`code`, `detail`). */
export function ignore<S, C extends string>(
  state: S,
  code: C,
  detail: string,
): Ok<Decision<S, never, C>, never> {
  return ok({ state, effects: [], ignored: { code, detail } });
}
