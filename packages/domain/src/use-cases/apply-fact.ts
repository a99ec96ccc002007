import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import type { PaymentFact, PaymentObjectFact } from "../facts/payment-fact.js";
import { checkoutInput, routeToHeldPayment } from "../facts/route-to-held-payment.js";
import { routeToRound } from "../facts/route-to-round.js";
import type { HeldPayment } from "../held-payment/held-payment.js";
import type { HeldPaymentInput } from "../held-payment/held-payment-input.js";
import type { MemberReadiness, Person, ReadinessSubject } from "../person/person.js";
import { isGoneCode } from "../policy/failure-codes.js";
import type { GatewayError, PaymentReader } from "../ports/payment-gateway.js";
import type { UseCaseDeps, UseCaseError } from "./deps.js";
import { applyHeldPaymentInput, getHeldPayment } from "./held-payment-use-cases.js";
import { recordPayout } from "./payout-use-cases.js";
import { updatePersonPayment, updatePersonReadiness } from "./person-use-cases.js";
import { retryOnConflict } from "./retry-on-conflict.js";
import { applyRoundInput } from "./round-use-cases.js";

/** What routing a fact needs besides the use cases' ports. */
export interface FactPorts {
  /** Reads the current state of accounts and mandates (facts about them are re-read, not trusted). */
  readonly reader: PaymentReader;
}

/** What a fact did: changed state (`applied`), or nothing to do (`ignored`), with what and why. */
export interface FactOutcome {
  readonly status: "applied" | "ignored";
  readonly detail: string;
}

/** Why applying a fact failed: storage, a refused state, or a provider read that failed. */
export type FactError = UseCaseError | GatewayError;

const applied = (detail: string): FactOutcome => ({ status: "applied", detail });
const ignored = (detail: string): FactOutcome => ({ status: "ignored", detail });

/** Errors that mean "that round, group, member or person does not exist (any more)": retrying cannot make it appear. */
function isMissing(error: FactError): boolean {
  return (
    error.type === "not_found" || error.type === "member_not_found" || error.type === "contribution_not_found"
  );
}

/**
 * Applies a fact about a payment to the round it concerns (lost optimistic races retried).
 * The same function serves the answers of effects and webhooks, so the in-memory system
 * and production route facts identically.
 */
export function applyRoundFact(
  deps: UseCaseDeps,
  fact: PaymentObjectFact,
  actor: string,
): ResultAsync<FactOutcome, FactError> {
  const route = routeToRound(fact);
  if (route.to === "nobody") return okAsync(ignored(`${fact.kind}: ${route.reason}`));
  const what = `round ${route.roundId}: ${route.input.type}`;
  return retryOnConflict(() => applyRoundInput(deps, route.roundId, route.input, actor))
    .map((decision) =>
      decision.ignored === undefined
        ? applied(`${what} applied`)
        : ignored(`${what} ignored: ${decision.ignored.code}: ${decision.ignored.detail}`),
    )
    .orElse((e) => (isMissing(e) ? okAsync(ignored(`${what} not applied: ${e.code}`)) : errAsync(e)));
}

/**
 * A dispute of a held payment's charge that reached the payment before the checkout's
 * news did (Stripe promises no order, and a card can be disputed at once): the payment
 * still waits for its money and would ignore a dispute of a charge it has not heard of,
 * then release the money of a disputed charge. A dispute proves the charge was captured,
 * so the checkout's payment, named by the dispute, is read first, as the session's own
 * event would have it read. `undefined` when the payment has heard of its charge, or when
 * there is nothing to read (no session or no PaymentIntent known).
 */
function disputeOvertookCheckout(
  deps: UseCaseDeps,
  heldPaymentId: string,
  fact: PaymentObjectFact,
): ResultAsync<
  { readonly payment: HeldPayment; readonly sessionId: string; readonly paymentIntentId: string } | undefined,
  FactError
> {
  const isDispute =
    fact.kind === "dispute_opened" || fact.kind === "dispute_updated" || fact.kind === "dispute_closed";
  if (!isDispute || fact.paymentIntentId === undefined) return okAsync(undefined);
  const paymentIntentId = fact.paymentIntentId;
  return getHeldPayment(deps, heldPaymentId).map((payment) => {
    const waiting = payment.status === "awaiting_payment" || payment.status === "payment_processing";
    const sessionId = payment.checkoutSessionId;
    return waiting && payment.capturedAt === undefined && sessionId !== undefined
      ? { payment, sessionId, paymentIntentId }
      : undefined;
  });
}

/**
 * Applies a fact about a payment to the held payment its references name. A checkout's
 * news is judged by its payment as the provider holds it now (read again here, so the
 * session's events may arrive in any order). A payment that does not exist makes the
 * fact `ignored`.
 */
export function applyHeldPaymentFact(
  deps: UseCaseDeps,
  ports: FactPorts,
  fact: PaymentObjectFact,
  actor: string,
): ResultAsync<FactOutcome, FactError> {
  const route = routeToHeldPayment(fact);
  if (route.to === "nobody") return okAsync(ignored(`${fact.kind}: ${route.reason}`));
  const apply = (input: HeldPaymentInput): ResultAsync<FactOutcome, FactError> => {
    const what = `held payment ${route.heldPaymentId}: ${input.type}`;
    return applyHeldPaymentInput(deps, route.heldPaymentId, input, actor).map((decision) =>
      decision.ignored === undefined
        ? applied(`${what} applied`)
        : ignored(`${what} ignored: ${decision.ignored.code}: ${decision.ignored.detail}`),
    );
  };
  /** The checkout's news, judged by its payment as the provider holds it now. */
  const applyCheckout = (
    payment: HeldPayment,
    sessionId: string,
    paymentIntentId: string,
  ): ResultAsync<FactOutcome, FactError> =>
    ports.reader
      .getPayment(paymentIntentId)
      .andThen((now) => apply(checkoutInput(sessionId, now, payment.status)))
      .orElse((e) =>
        e.type === "gateway_definite" && isGoneCode(e.code)
          ? okAsync(
              ignored(`held payment ${payment.id}: payment ${paymentIntentId} cannot be read (${e.code})`),
            )
          : errAsync<FactOutcome, FactError>(e),
      );
  const outcome: ResultAsync<FactOutcome, FactError> =
    route.to === "held_payment"
      ? disputeOvertookCheckout(deps, route.heldPaymentId, fact).andThen((catchUp) =>
          catchUp === undefined
            ? apply(route.input)
            : applyCheckout(catchUp.payment, catchUp.sessionId, catchUp.paymentIntentId).andThen((first) =>
                apply(route.input).map((then) => ({
                  status: first.status === "applied" ? "applied" : then.status,
                  detail: `${first.detail} (the dispute's news came first); ${then.detail}`,
                })),
              ),
        )
      : getHeldPayment(deps, route.heldPaymentId).andThen((payment) =>
          applyCheckout(payment, route.sessionId, route.paymentIntentId),
        );
  return outcome.orElse((e) =>
    isMissing(e)
      ? okAsync(ignored(`held payment ${route.heldPaymentId}: not applied: ${e.code}`))
      : errAsync(e),
  );
}

/**
 * Applies a fact about a payment to the aggregate its references name: a held payment
 * (`heldPaymentId`), otherwise a round.
 */
export function applyPaymentObjectFact(
  deps: UseCaseDeps,
  ports: FactPorts,
  fact: PaymentObjectFact,
  actor: string,
): ResultAsync<FactOutcome, FactError> {
  return fact.refs.heldPaymentId !== undefined
    ? applyHeldPaymentFact(deps, ports, fact, actor)
    : applyRoundFact(deps, fact, actor);
}

/** Runs a change to a person (lost optimistic races retried); a person who is gone is `missing`. */
function changePerson<T>(
  change: () => ResultAsync<T, UseCaseError>,
): ResultAsync<{ readonly done: T } | "missing", FactError> {
  return retryOnConflict(change)
    .map((done) => ({ done }))
    .orElse((e) => (isMissing(e) ? okAsync("missing" as const) : errAsync(e)));
}

/** Whether the person still uses the mandate or account the news was about. */
const stillUses = (person: Person, about: ReadinessSubject): boolean =>
  (about.mandateId === undefined || person.debit?.mandateId === about.mandateId) &&
  (about.connectedAccountId === undefined || person.payout?.connectedAccountId === about.connectedAccountId);

const describe = (r: Partial<MemberReadiness>): string =>
  Object.entries(r)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(", ");

function recordReadiness(
  deps: UseCaseDeps,
  person: Person,
  readiness: Partial<MemberReadiness>,
  about: ReadinessSubject,
  actor: string,
  what: string,
): ResultAsync<FactOutcome, FactError> {
  // One write to the person, whatever groups they are in; the use case tells the rounds.
  // The person is read again inside that write: if the mandate or account was replaced
  // since it was looked up by this one, the news is about an object they no longer use.
  return changePerson(() => updatePersonReadiness(deps, person.id, readiness, actor, about)).map((result) =>
    result === "missing"
      ? ignored(`${what}: its person does not exist any more`)
      : stillUses(result.done, about)
        ? applied(`${what}: ${describe(readiness)} for ${person.id}`)
        : ignored(`${what}: ${person.id} has replaced it since`),
  );
}

/** Whether the account can receive, as the provider says now; an account that cannot be read cannot be paid. */
function payoutsEnabledNow(ports: FactPorts, accountId: string): ResultAsync<boolean, FactError> {
  return ports.reader
    .getConnectedAccount(accountId)
    .map((s) => s.transfersActive && s.payoutsEnabled)
    .orElse((e) => (e.type === "gateway_definite" && isGoneCode(e.code) ? okAsync(false) : errAsync(e)));
}

/** Whether the mandate is active, as the provider says now (see {@link payoutsEnabledNow}). */
function mandateActiveNow(ports: FactPorts, mandateId: string): ResultAsync<boolean, FactError> {
  return ports.reader
    .getMandate(mandateId)
    .map((m) => m.status === "active")
    .orElse((e) => (e.type === "gateway_definite" && isGoneCode(e.code) ? okAsync(false) : errAsync(e)));
}

type SetupSucceeded = Extract<PaymentFact, { kind: "debit_setup_succeeded" }>;

function debitSetupSucceeded(
  deps: UseCaseDeps,
  ports: FactPorts,
  fact: SetupSucceeded,
  actor: string,
): ResultAsync<FactOutcome, FactError> {
  const what = `BECS set-up ${fact.setupIntentId}`;
  // Set-ups carry the person's id; those started before people existed carry the member
  // id, which is the person's id.
  const personId = fact.refs?.personId ?? fact.refs?.memberId;
  const owner: ResultAsync<Person | undefined, FactError> =
    personId !== undefined
      ? deps.people.getPerson(personId)
      : fact.customerId !== undefined
        ? deps.people.findByCustomer(fact.customerId)
        : okAsync(undefined);
  return owner.andThen((person) => {
    if (person === undefined) return okAsync(ignored(`${what}: not made for a susu person`));
    return mandateActiveNow(ports, fact.mandateId).andThen((mandateActive) =>
      // The customer, the mandate and its state in one write to the person.
      changePerson(() =>
        updatePersonPayment(
          deps,
          person.id,
          {
            ...(fact.customerId !== undefined ? { customerId: fact.customerId } : {}),
            debit: { paymentMethodId: fact.paymentMethodId, mandateId: fact.mandateId, mandateActive },
          },
          actor,
        ),
      ).map((result) =>
        result === "missing"
          ? ignored(`${what}: its person does not exist any more`)
          : applied(
              `${what}: mandate ${fact.mandateId} (active=${String(mandateActive)}) stored for ${person.id}`,
            ),
      ),
    );
  });
}

/**
 * The one router of payment facts: applies a fact to the aggregate(s) it concerns, as
 * `actor` (`stripe:evt_…`, `effect:<id>`). The webhook processor and the in-memory system
 * both run it.
 *
 * | fact | what happens |
 * |---|---|
 * | about a payment whose references name a held payment (`heldPaymentId`) | that payment hears the matching input (`routeToHeldPayment`): transfers by attempt, refunds by number and attempt, reversals by number, disputes |
 * | `checkout_payment_changed` | the held payment hears what its payment, read from the provider now, says (`checkoutInput`) |
 * | about a payment (debit, refund, transfer, dispute) | otherwise the round named by its references hears the matching input |
 * | `dispute_updated`, `dispute_closed` | ignored by rounds: a BECS dispute is final when it opens |
 * | `payout_account_changed` | the person with the account gets `payoutsEnabled` as the provider reports it now — one write, which reaches every round where they are the recipient (a blocked payout resumes) and every open held payment they sell (a blocked release resumes) |
 * | `payout_account_disconnected` | the person with the account gets `payoutsEnabled: false` |
 * | `mandate_changed` | the person with the mandate gets `mandateActive` as the provider reports it now |
 * | `debit_setup_succeeded` | the person (named by the set-up's references, or found by customer) stores the customer, payment method, mandate and `mandateActive` in one write |
 * | `payout_changed` | the payout is recorded for the person with the account, its status only moving forward; a failure tells the person and opens a ticket, once per payout |
 * | `debit_setup_failed` | nothing stored: an earlier mandate stays as it was; the member restarts in the app |
 *
 * Safe to run twice and in any order: rounds and held payments ignore inputs that no longer apply, and
 * readiness is read from the provider at the time of routing. A round, group or member
 * that does not exist makes the fact `ignored` (with why), not a failure.
 */
export function applyPaymentFact(
  deps: UseCaseDeps,
  ports: FactPorts,
  fact: PaymentFact,
  actor: string,
): ResultAsync<FactOutcome, FactError> {
  switch (fact.kind) {
    case "debit_processing":
    case "debit_succeeded":
    case "debit_failed":
    case "refund_succeeded":
    case "refund_failed":
    case "transfer_created":
    case "transfer_failed":
    case "transfer_reversed":
    case "dispute_opened":
    case "dispute_updated":
    case "dispute_closed":
    case "transfer_reversal_failed":
    case "checkout_session_created":
    case "checkout_payment_changed":
    case "checkout_expired":
      return applyPaymentObjectFact(deps, ports, fact, actor);
    case "payout_account_changed": {
      const what = `account ${fact.accountId}`;
      return deps.people
        .findByConnectedAccount(fact.accountId)
        .andThen((person) =>
          person === undefined
            ? okAsync(ignored(`${what}: no person has this connected account`))
            : payoutsEnabledNow(ports, fact.accountId).andThen((payoutsEnabled) =>
                recordReadiness(
                  deps,
                  person,
                  { payoutsEnabled },
                  { connectedAccountId: fact.accountId },
                  actor,
                  what,
                ),
              ),
        );
    }
    case "payout_account_disconnected": {
      // Final for the platform: a later re-connection arrives as its own account change.
      const what = `account ${fact.accountId} (disconnected)`;
      return deps.people
        .findByConnectedAccount(fact.accountId)
        .andThen((person) =>
          person === undefined
            ? okAsync(ignored(`${what}: no person has this connected account`))
            : recordReadiness(
                deps,
                person,
                { payoutsEnabled: false },
                { connectedAccountId: fact.accountId },
                actor,
                what,
              ),
        );
    }
    case "mandate_changed": {
      const mandateId = fact.mandate.mandateId;
      const what = `mandate ${mandateId}`;
      return deps.people
        .findByMandate(mandateId)
        .andThen((person) =>
          person === undefined
            ? okAsync(ignored(`${what}: no person has this mandate`))
            : mandateActiveNow(ports, mandateId).andThen((mandateActive) =>
                recordReadiness(deps, person, { mandateActive }, { mandateId }, actor, what),
              ),
        );
    }
    case "debit_setup_succeeded":
      return debitSetupSucceeded(deps, ports, fact, actor);
    case "payout_changed":
      // Two events of one payout may race: the store keeps the furthest status either way.
      return recordPayout(deps, fact.payout, actor)
        .map((o) => (o.applied ? applied(o.detail) : ignored(o.detail)))
        .orElse((e) =>
          e.type === "duplicate"
            ? okAsync(ignored(`payout ${fact.payout.payoutId}: ${e.message}`))
            : errAsync(e),
        );
    case "debit_setup_failed":
      return okAsync(
        ignored(
          `BECS set-up ${fact.setupIntentId} failed (${fact.failureCode}); the member restarts it in the app`,
        ),
      );
  }
}
