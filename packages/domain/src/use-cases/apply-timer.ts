import type { ResultAsync } from "neverthrow";
import type { AggregateRef, Ignored } from "../kernel/index.js";
import type { FiredTimer } from "../ports/timer-scheduler.js";
import type { UseCaseDeps, UseCaseError } from "./deps.js";
import { applyHeldPaymentInput } from "./held-payment-use-cases.js";
import { applyMarketplaceChargeInput } from "./marketplace-charge-use-cases.js";
import { applySubscriptionInput } from "./membership-use-cases.js";
import { applyRoundInput } from "./round-use-cases.js";

/**
 * What a fired timer did to its aggregate: the aggregate's status after it, and `ignored`
 * when the timer no longer applied (a step already done, an earlier deadline).
 */
export type TimerOutcome = AggregateRef & {
  readonly status: string;
  readonly ignored?: Ignored<string>;
};

/**
 * Feeds a fired timer to the aggregate it names, as that aggregate's timer input, and
 * stores the decision (audited as `actor`). The one router of timers: the scheduler's
 * timer job and `InMemorySusu` run it. A new aggregate with timers is one more case.
 */
/** The outcome of `aggregate`'s decision on a fired timer. */
const outcomeOf =
  (ref: AggregateRef) =>
  (decision: {
    readonly state: { readonly status: string };
    readonly ignored?: Ignored<string>;
  }): TimerOutcome => ({
    ...ref,
    status: decision.state.status,
    ...(decision.ignored !== undefined ? { ignored: decision.ignored } : {}),
  });

export function applyTimer(
  deps: UseCaseDeps,
  fired: FiredTimer,
  actor = "timer",
): ResultAsync<TimerOutcome, UseCaseError> {
  switch (fired.aggregate) {
    case "round":
      return applyRoundInput(deps, fired.aggregateId, { type: "timer", timer: fired.timer }, actor).map(
        outcomeOf({ aggregate: "round", aggregateId: fired.aggregateId }),
      );
    case "held_payment":
      return applyHeldPaymentInput(deps, fired.aggregateId, { type: "timer", timer: fired.timer }, actor).map(
        outcomeOf({ aggregate: "held_payment", aggregateId: fired.aggregateId }),
      );
    case "marketplace_charge":
      return applyMarketplaceChargeInput(
        deps,
        fired.aggregateId,
        { type: "timer", timer: fired.timer },
        actor,
      ).map(outcomeOf({ aggregate: "marketplace_charge", aggregateId: fired.aggregateId }));
    case "subscription":
      return applySubscriptionInput(
        deps,
        fired.aggregateId,
        { type: "timer", timer: fired.timer },
        actor,
      ).map(outcomeOf({ aggregate: "subscription", aggregateId: fired.aggregateId }));
  }
}
