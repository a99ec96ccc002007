import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import type { PaymentObjectFact } from "../facts/payment-fact.js";
import { membershipError } from "../membership/membership.errors.js";
import {
  availablePrice,
  createPlan as decideNewPlan,
  decidePlan,
  type Plan,
  type PlanDecision,
  type PlanInput,
  type PlanTerms,
} from "../membership/plan.js";
import {
  isCurrentMembership,
  type SubscribedPrice,
  type Subscription,
  trialDaysFor,
} from "../membership/subscription.js";
import {
  createSubscription,
  decideSubscription,
  type SubscriptionDecision,
} from "../membership/subscription-decide.js";
import type { SubscriptionInput } from "../membership/subscription-input.js";
import type { PersonId } from "../person/ids.js";
import type { GatewayError, PaymentGateway } from "../ports/payment-gateway.js";
import {
  type AggregateKind,
  applyAggregateInput,
  commitCreation,
  loadOrNotFound,
} from "./aggregate-commit.js";
import type { UseCaseDeps, UseCaseError } from "./deps.js";
import { ensureCustomer } from "./onboarding.js";
import { loadOwnCard, refuseExpiredCard } from "./own-payment-method.js";
import { operatorActor, type PlatformOperator } from "./round-use-cases.js";

/** A plan, for the shared load-decide-store steps. */
const planKind: AggregateKind<"plans", PlanInput, PlanDecision> = {
  aggregate: "plan",
  stored: (change) => ({ plans: [change] }),
  load: (deps, id) => deps.plans.getPlan(id),
  decide: (_deps, plan, input, now) => decidePlan(plan, input, { now }),
};

/** A subscription, for the shared load-decide-store steps. */
const subscriptionKind: AggregateKind<"subscriptions", SubscriptionInput, SubscriptionDecision> = {
  aggregate: "subscription",
  stored: (change) => ({ subscriptions: [change] }),
  load: (deps, id) => deps.subscriptions.getSubscription(id),
  decide: (_deps, s, input, now) => decideSubscription(s, input, { now }),
};

/** Loads a plan or fails with `plan_not_found`. */
export function getPlan(deps: UseCaseDeps, id: string): ResultAsync<Plan, UseCaseError> {
  return loadOrNotFound(planKind, deps, id);
}

/** The plans people can subscribe to (and the archived ones, when asked). */
export function listPlans(
  deps: UseCaseDeps,
  query: { readonly includeArchived: boolean } = { includeArchived: false },
): ResultAsync<readonly Plan[], UseCaseError> {
  return deps.plans.listPlans(query);
}

/** A platform admin creates a plan; its Stripe product and prices are created through the outbox. */
export function createPlan(
  deps: UseCaseDeps,
  terms: PlanTerms,
  operator: PlatformOperator,
): ResultAsync<Plan, UseCaseError> {
  const now = deps.clock.now();
  const decided = decideNewPlan(deps.ids.newId("plan"), terms, now);
  if (decided.isErr()) return errAsync(decided.error);
  return commitCreation(
    planKind,
    deps,
    decided.value,
    { input: { type: "create" }, at: now, actor: operatorActor(operator) },
    (plan): Plan => plan,
    () => okAsync<Plan | undefined, UseCaseError>(undefined),
  );
}

/** A platform admin changes a plan (name, entitlements, trial, prices) or archives it. */
export function changePlan(
  deps: UseCaseDeps,
  id: string,
  input: Extract<PlanInput, { type: "update" | "archive" }>,
  operator: PlatformOperator,
): ResultAsync<Plan, UseCaseError> {
  return applyAggregateInput(planKind, deps, id, input, operatorActor(operator)).map((d) => d.state);
}

/** Feeds an input (Stripe's answer about a price) to a plan. */
export function applyPlanInput(
  deps: UseCaseDeps,
  id: string,
  input: PlanInput,
  actor: string,
): ResultAsync<PlanDecision, UseCaseError> {
  return applyAggregateInput(planKind, deps, id, input, actor);
}

/** Loads a subscription or fails with `subscription_not_found`. */
export function getSubscription(deps: UseCaseDeps, id: string): ResultAsync<Subscription, UseCaseError> {
  return loadOrNotFound(subscriptionKind, deps, id);
}

/** A person's memberships, newest first. */
export function listSubscriptionsOfPerson(
  deps: UseCaseDeps,
  personId: PersonId,
): ResultAsync<readonly Subscription[], UseCaseError> {
  return deps.subscriptions.listSubscriptionsOfPerson(personId);
}

/**
 * Feeds one input (a command, or a translated Stripe event) to a subscription.
 *
 * @param loaded the subscription as the caller has just loaded it (to find it): the first
 *   attempt decides on it rather than loading it again; a subscription that changed since is
 *   a `version_conflict`, loaded again and decided again
 */
export function applySubscriptionInput(
  deps: UseCaseDeps,
  id: string,
  input: SubscriptionInput,
  actor: string,
  loaded?: Subscription,
): ResultAsync<SubscriptionDecision, UseCaseError> {
  return applyAggregateInput(subscriptionKind, deps, id, input, actor, loaded);
}

/** What a person asks for when they subscribe themselves. */
export interface SubscribeCommand {
  readonly personId: PersonId;
  readonly planId: string;
  readonly currency: string;
  readonly interval: string;
  /** A payment method saved on their Stripe customer, or a Checkout page to pay on. */
  readonly start:
    | { readonly kind: "saved_method"; readonly paymentMethodId: string }
    | { readonly kind: "checkout"; readonly successUrl: string; readonly cancelUrl: string };
}

/** `already_subscribed`: the person holds `current`. */
function alreadySubscribed(personId: PersonId, current: Subscription): UseCaseError {
  return membershipError(
    "already_subscribed",
    `person ${personId} holds subscription ${current.id} (${current.status}); change its plan instead`,
  );
}

/** The price a plan offers in a currency and interval, as a subscription records it. */
function subscribedPrice(plan: Plan, currency: string, interval: string): SubscribedPrice | undefined {
  const price = availablePrice(plan, currency, interval);
  if (price?.stripePriceId === undefined) return undefined;
  return {
    planId: plan.id,
    priceKey: price.key,
    revision: price.revision,
    stripePriceId: price.stripePriceId,
    currency: price.currency,
    interval: price.interval,
    amountMinor: price.amountMinor,
  };
}

function priceOrRefuse(
  plan: Plan,
  currency: string,
  interval: string,
): ResultAsync<SubscribedPrice, UseCaseError> {
  if (plan.status === "archived")
    return errAsync(membershipError("plan_archived", `plan ${plan.id} is archived`));
  const price = subscribedPrice(plan, currency, interval);
  return price
    ? okAsync(price)
    : errAsync(
        membershipError(
          "price_not_available",
          `plan ${plan.id} has no ${currency} price per ${interval} ready`,
        ),
      );
}

/**
 * A start on a saved method names a card the person saved and has not removed
 * (`loadOwnCard`): anything else (an id never saved, somebody else's, a BECS account) is
 * `payment_method_not_found`; a card past its expiry is `payment_method_expired` (its first
 * invoice would be declined). A Checkout start names none.
 */
function savedCardOrRefuse(
  deps: UseCaseDeps,
  personId: PersonId,
  start: SubscribeCommand["start"],
): ResultAsync<void, UseCaseError> {
  if (start.kind !== "saved_method") return okAsync(undefined);
  return loadOwnCard(deps, personId, start.paymentMethodId, "a membership")
    .andThen((card) => refuseExpiredCard(deps, card, "a membership"))
    .map(() => undefined);
}

/**
 * A person subscribes themselves to a plan's price: they must be a person
 * (`person_not_found`) who holds no current membership (`already_subscribed`: change its
 * plan instead). A saved method must be a card they saved and have not removed
 * (`payment_method_not_found` otherwise: an id never saved, such as a provider's test token,
 * somebody else's method, a BECS account), and one that can be charged
 * (`payment_method_expired`: past its expiry month), checked before anything is stored or
 * asked of Stripe. A person with no Stripe customer yet gets one first, as a debit set-up
 * or a saved method does (`ensureCustomer`: one per person, whatever is retried), once
 * the plan, the price and the membership check passed; without `gateway` they are refused
 * (`customer_not_onboarded`). Stripe is asked for the subscription through the outbox.
 */
export function subscribe(
  deps: UseCaseDeps,
  command: SubscribeCommand,
  gateway?: PaymentGateway,
): ResultAsync<Subscription, UseCaseError | GatewayError> {
  return deps.people.getPerson(command.personId).andThen((person) => {
    if (!person) return errAsync(membershipError("person_not_found", `no person ${command.personId}`));
    const customerOf = (): ResultAsync<string, UseCaseError | GatewayError> => {
      if (person.customerId !== undefined) return okAsync(person.customerId);
      if (gateway === undefined)
        return errAsync(
          membershipError("customer_not_onboarded", `person ${person.id} has no Stripe customer yet`),
        );
      return ensureCustomer(deps, gateway, person);
    };
    return getPlan(deps, command.planId)
      .mapErr(
        (e): UseCaseError => (e.code === "plan_not_found" ? membershipError("plan_not_found", e.message) : e),
      )
      .andThen((plan) =>
        priceOrRefuse(plan, command.currency, command.interval).andThen((price) =>
          deps.subscriptions
            .listSubscriptionsOfPerson(person.id)
            .andThen((held) => {
              const current = held.find(isCurrentMembership);
              return current
                ? errAsync<void, UseCaseError | GatewayError>(alreadySubscribed(person.id, current))
                : savedCardOrRefuse(deps, person.id, command.start);
            })
            .andThen(customerOf)
            .andThen((customerId) =>
              // One free trial per person: an earlier membership with a trial, or paid, means none.
              deps.subscriptions
                .listStartedSubscriptionsOfPerson(person.id)
                .map((started) => ({ customerId, trialDays: trialDaysFor(plan.trialDays, started) })),
            )
            .andThen(({ customerId, trialDays }) => {
              const now = deps.clock.now();
              const decided = createSubscription(
                {
                  id: deps.ids.newId("mbr"),
                  personId: person.id,
                  stripeCustomerId: customerId,
                  price,
                  trialDays,
                  start: command.start,
                },
                { now },
              );
              if (decided.isErr()) return errAsync(decided.error);
              return commitCreation(
                subscriptionKind,
                deps,
                decided.value,
                { input: { type: "subscribe" }, at: now, actor: person.id },
                (s): Subscription => s,
                // A concurrent subscribe stored its membership first (the store holds one
                // current membership per person): answered as the read check above answers.
                () =>
                  deps.subscriptions.listSubscriptionsOfPerson(person.id).andThen((again) => {
                    const other = again.find(
                      (s) => s.id !== decided.value.state.id && isCurrentMembership(s),
                    );
                    return other
                      ? errAsync<Subscription | undefined, UseCaseError>(alreadySubscribed(person.id, other))
                      : okAsync<Subscription | undefined, UseCaseError>(undefined);
                  }),
              );
            }),
        ),
      );
  });
}

/** The person changes plan (or interval): Stripe prorates and invoices the difference at once. */
export function changeSubscriptionPlan(
  deps: UseCaseDeps,
  id: string,
  to: { readonly planId: string; readonly interval?: string },
  actor: string,
): ResultAsync<Subscription, UseCaseError> {
  return getSubscription(deps, id).andThen((s) =>
    getPlan(deps, to.planId)
      .mapErr(
        (e): UseCaseError => (e.code === "plan_not_found" ? membershipError("plan_not_found", e.message) : e),
      )
      .andThen((plan) => priceOrRefuse(plan, s.price.currency, to.interval ?? s.price.interval))
      .andThen((price) =>
        applySubscriptionInput(
          deps,
          id,
          { type: "change_price", price, prorationBehavior: "always_invoice" },
          actor,
        ),
      )
      .map((d) => d.state),
  );
}

/** The person's current membership, once Stripe started it (it has a Stripe subscription). */
export function startedMembershipOf(
  deps: UseCaseDeps,
  personId: PersonId,
): ResultAsync<Subscription | undefined, UseCaseError> {
  return deps.subscriptions
    .listSubscriptionsOfPerson(personId)
    .map((held) => held.find((s) => isCurrentMembership(s) && s.stripeSubscriptionId !== undefined));
}

/**
 * The person's current membership is charged on `paymentMethodId` from now on (their new
 * default card): Stripe is asked through the outbox to make it the subscription's own
 * `default_payment_method`, which renewals and dunning's next retry use before the customer's
 * default. Nothing when they have no such membership, or it is charged on it already; safe to
 * run again.
 */
export function chargeMembershipOn(
  deps: UseCaseDeps,
  personId: PersonId,
  paymentMethodId: string,
  actor: string,
): ResultAsync<void, UseCaseError> {
  return startedMembershipOf(deps, personId).andThen((s) =>
    s === undefined
      ? okAsync(undefined)
      : applySubscriptionInput(deps, s.id, { type: "use_payment_method", paymentMethodId }, actor, s).map(
          () => undefined,
        ),
  );
}

/** The person cancels now, or at the end of the period. */
export function cancelSubscription(
  deps: UseCaseDeps,
  id: string,
  atPeriodEnd: boolean,
  actor: string,
): ResultAsync<Subscription, UseCaseError> {
  return applySubscriptionInput(deps, id, { type: "cancel", atPeriodEnd }, actor).map((d) => d.state);
}

/** The person (or an admin) drops the plan change waiting for Stripe. */
export function cancelSubscriptionChange(
  deps: UseCaseDeps,
  id: string,
  actor: string,
): ResultAsync<Subscription, UseCaseError> {
  return applySubscriptionInput(deps, id, { type: "cancel_change" }, actor).map((d) => d.state);
}

/** The person takes back a cancellation at period end. */
export function resumeSubscription(
  deps: UseCaseDeps,
  id: string,
  actor: string,
): ResultAsync<Subscription, UseCaseError> {
  return applySubscriptionInput(deps, id, { type: "resume" }, actor).map((d) => d.state);
}

export { entitlementsOfPerson } from "./entitlements.js";

/** What a membership fact did: applied, or ignored and why. */
export interface MembershipFactOutcome {
  readonly status: "applied" | "ignored";
  readonly detail: string;
}

/** The subscription a fact is about: its references name it, or its Stripe subscription does. */
function subscriptionOf(
  deps: UseCaseDeps,
  fact: PaymentObjectFact,
): ResultAsync<Subscription | undefined, UseCaseError> {
  const stripeId =
    fact.kind === "subscription_changed"
      ? fact.snapshot.stripeSubscriptionId
      : "stripeSubscriptionId" in fact
        ? fact.stripeSubscriptionId
        : undefined;
  const byRef = fact.refs.subscriptionId;
  if (byRef !== undefined) return deps.subscriptions.getSubscription(byRef);
  if (stripeId === undefined) return okAsync(undefined);
  return deps.subscriptions.findSubscriptionByStripeId(stripeId);
}

/** The input a membership fact means for its subscription. */
function subscriptionInputOf(fact: PaymentObjectFact): SubscriptionInput | undefined {
  switch (fact.kind) {
    case "subscription_changed":
      return { type: "subscription_changed", snapshot: fact.snapshot };
    case "subscription_start_refused":
      return { type: "start_failed", code: fact.failureCode, message: fact.failureMessage };
    case "subscription_change_refused":
      return {
        type: "change_refused",
        changeId: fact.changeId,
        code: fact.failureCode,
        message: fact.failureMessage,
      };
    case "subscription_payment_method_refused":
      return {
        type: "payment_method_refused",
        changeId: fact.changeId,
        code: fact.failureCode,
        message: fact.failureMessage,
      };
    case "subscription_checkout_created":
      return { type: "checkout_created", sessionId: fact.sessionId, url: fact.url };
    // A membership's Checkout page expired (its references name the subscription; a held
    // payment's or a round's page names none, and goes to them).
    case "checkout_expired":
      return fact.refs.subscriptionId === undefined
        ? undefined
        : { type: "checkout_expired", sessionId: fact.sessionId };
    case "subscription_trial_will_end":
      return { type: "trial_will_end", trialEnd: fact.trialEnd };
    case "invoice_paid":
      return { type: "invoice_paid", invoice: fact.invoice, paidAt: fact.paidAt };
    case "invoice_payment_failed":
      return {
        type: "invoice_payment_failed",
        invoice: fact.invoice,
        attemptCount: fact.attemptCount,
        ...(fact.nextPaymentAttemptAt !== undefined
          ? { nextPaymentAttemptAt: fact.nextPaymentAttemptAt }
          : {}),
      };
    case "invoice_payment_action_required":
      return { type: "invoice_payment_action_required", invoice: fact.invoice };
    case "invoice_marked_uncollectible":
      return { type: "invoice_marked_uncollectible", invoice: fact.invoice };
    case "invoice_voided":
      return { type: "invoice_voided", invoice: fact.invoice };
    // Susu's refund of a membership invoice (its references name both).
    case "invoice_refunds_made": {
      const { subscriptionId, invoiceId } = fact.refs;
      if (subscriptionId === undefined || invoiceId === undefined) return undefined;
      return { type: "invoice_refunds_made", invoiceId, refundIds: fact.refundIds };
    }
    case "refund_succeeded":
    case "refund_failed": {
      const { subscriptionId, invoiceId } = fact.refs;
      if (subscriptionId === undefined || invoiceId === undefined) return undefined;
      const amount = fact.amountMinor !== undefined ? { amountMinor: fact.amountMinor } : {};
      return fact.kind === "refund_succeeded"
        ? {
            type: "invoice_refund_settled",
            invoiceId,
            outcome: "succeeded",
            refundId: fact.refundId,
            ...amount,
          }
        : {
            type: "invoice_refund_settled",
            invoiceId,
            outcome: "failed",
            failureCode: fact.failureCode,
            ...(fact.refundId !== undefined ? { refundId: fact.refundId } : {}),
            ...amount,
          };
    }
    case "invoice_void_answered": {
      const { subscriptionId, invoiceId } = fact.refs;
      if (subscriptionId === undefined || invoiceId === undefined) return undefined;
      return { type: "invoice_void_answered", invoiceId, voidId: fact.voidId, status: fact.status };
    }
    // A membership invoice's charge refunded outside susu, or disputed: resolved to the
    // invoice by the adapter (the charge carries no susu metadata).
    case "membership_charge_refunded": {
      const { subscriptionId, invoiceId } = fact.refs;
      if (subscriptionId === undefined || invoiceId === undefined) return undefined;
      return {
        type: "invoice_refunded_outside",
        invoiceId,
        refundId: fact.refundId,
        amountMinor: fact.amountMinor,
        outcome: fact.outcome,
        ...(fact.failureCode !== undefined ? { failureCode: fact.failureCode } : {}),
      };
    }
    case "dispute_opened":
    case "dispute_updated":
    case "dispute_closed": {
      const { subscriptionId, invoiceId } = fact.refs;
      if (subscriptionId === undefined || invoiceId === undefined) return undefined;
      const base = { type: "invoice_disputed" as const, invoiceId, disputeId: fact.disputeId };
      if (fact.kind === "dispute_opened")
        return {
          ...base,
          amountMinor: fact.amountMinor,
          ...(fact.status !== undefined ? { stripeStatus: fact.status } : {}),
          ...(fact.reason !== undefined ? { reason: fact.reason } : {}),
          ...(fact.evidenceDueBy !== undefined ? { evidenceDueBy: fact.evidenceDueBy } : {}),
        };
      if (fact.kind === "dispute_updated")
        return {
          ...base,
          stripeStatus: fact.status,
          ...(fact.evidenceDueBy !== undefined ? { evidenceDueBy: fact.evidenceDueBy } : {}),
        };
      return { ...base, amountMinor: fact.amountMinor, closed: fact.outcome };
    }
    default:
      return undefined;
  }
}

/** Whether a fact is a membership's (a plan's price, a subscription's news). */
export function isMembershipFact(fact: PaymentObjectFact): boolean {
  return fact.kind === "plan_price_created" || subscriptionInputOf(fact) !== undefined;
}

/**
 * Applies a membership fact: a plan's new price to its plan, a subscription's news to the
 * subscription it names (by reference, or by its Stripe subscription). News of a
 * subscription susu does not know is ignored. News of an invoice's charge (a refund made
 * outside susu, a dispute) that the subscription ignores because it has not heard the invoice
 * paid yet fails with `invoice_not_paid_yet`, which the webhook processor retries: Stripe does
 * not promise the order of its events, and ignored, that money would never reach the books.
 */
export function applyMembershipFact(
  deps: UseCaseDeps,
  fact: PaymentObjectFact,
  actor: string,
): ResultAsync<MembershipFactOutcome, UseCaseError> {
  const outcome = (what: string, d: { readonly ignored?: { code: string; detail: string } }) =>
    d.ignored === undefined
      ? { status: "applied" as const, detail: `${what} applied` }
      : { status: "ignored" as const, detail: `${what} ignored: ${d.ignored.code}: ${d.ignored.detail}` };
  if (fact.kind === "plan_price_created") {
    const planId = fact.refs.planId;
    if (planId === undefined) return okAsync({ status: "ignored", detail: "a price that names no plan" });
    const input: PlanInput = {
      type: "price_created",
      key: fact.key,
      revision: fact.revision,
      stripePriceId: fact.priceId,
    };
    return applyPlanInput(deps, planId, input, actor)
      .map((d) => outcome(`plan ${planId}: price_created`, d))
      .orElse((e) =>
        e.code === "plan_not_found"
          ? okAsync({ status: "ignored" as const, detail: `no plan ${planId}` })
          : errAsync(e),
      );
  }
  const input = subscriptionInputOf(fact);
  if (input === undefined)
    return okAsync({ status: "ignored", detail: `${fact.kind} is not a membership's` });
  return subscriptionOf(deps, fact).andThen((s) =>
    s === undefined
      ? okAsync({ status: "ignored" as const, detail: `${fact.kind}: no subscription of susu's` })
      : withCataloguePrice(deps, s, input).andThen((resolved) =>
          applySubscriptionInput(deps, s.id, resolved, actor, s).andThen((d) =>
            d.ignored?.code === "invoice_not_paid"
              ? errAsync<MembershipFactOutcome, UseCaseError>(
                  membershipError(
                    "invoice_not_paid_yet",
                    `subscription ${s.id}: ${input.type}: ${d.ignored.detail}; retried until the invoice's payment is heard`,
                  ),
                )
              : okAsync(outcome(`subscription ${s.id}: ${input.type}`, d)),
          ),
        ),
  );
}

/**
 * A view of the subscription naming a price that is neither its own nor its pending
 * change's (changed at Stripe without susu, or a change whose answer was lost) carries the
 * plan price the catalogue knows by that Stripe price, so the membership is put on that
 * plan: Stripe's view wins. A price the catalogue does not hold (an older revision, one
 * made outside susu) is carried by its Stripe id alone.
 */
function withCataloguePrice(
  deps: UseCaseDeps,
  s: Subscription,
  input: SubscriptionInput,
): ResultAsync<SubscriptionInput, UseCaseError> {
  if (input.type !== "subscription_changed") return okAsync(input);
  const named = input.snapshot.stripePriceId;
  if (
    named === undefined ||
    named === s.price.stripePriceId ||
    named === s.pendingChange?.price.stripePriceId
  )
    return okAsync(input);
  return deps.plans.listPlans({ includeArchived: true }).map((plans) => {
    for (const plan of plans) {
      const price = plan.prices.find((p) => p.stripePriceId === named);
      if (price !== undefined)
        return {
          ...input,
          price: {
            planId: plan.id,
            priceKey: price.key,
            revision: price.revision,
            stripePriceId: named,
            currency: price.currency,
            interval: price.interval,
            amountMinor: price.amountMinor,
          },
        };
    }
    return input;
  });
}
