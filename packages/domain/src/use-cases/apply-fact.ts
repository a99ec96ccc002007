import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import type { PaymentFact, PaymentObjectFact } from "../facts/payment-fact.js";
import { checkoutInput, routeToHeldPayment } from "../facts/route-to-held-payment.js";
import { routeToMarketplaceCharge } from "../facts/route-to-marketplace-charge.js";
import { routeToRound } from "../facts/route-to-round.js";
import type { HeldPayment } from "../held-payment/held-payment.js";
import type { HeldPaymentInput } from "../held-payment/held-payment-input.js";
import type { MarketplaceCharge } from "../marketplace/marketplace-charge.js";
import type { MarketplaceChargeInput } from "../marketplace/marketplace-charge-input.js";
import { canDebitWith } from "../payment-method/saved-payment-method.js";
import type { MemberReadiness, Person, ReadinessSubject } from "../person/person.js";
import { isGoneCode } from "../policy/failure-codes.js";
import type { ConnectedAccountStatus, GatewayError, PaymentReader } from "../ports/payment-gateway.js";
import type { UseCaseDeps, UseCaseError } from "./deps.js";
import { applyHeldPaymentInput, getHeldPayment } from "./held-payment-use-cases.js";
import { applyMarketplaceChargeInput, getMarketplaceCharge } from "./marketplace-charge-use-cases.js";
import { applyMembershipFact, isMembershipFact } from "./membership-use-cases.js";
import { noticeOnboardingIncomplete } from "./onboarding-notice.js";
import { recordPaymentMethodNews } from "./payment-method-use-cases.js";
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
 * still waits for its money (or gave up on it: expired, failed) and would ignore a dispute
 * of a charge it has not heard of, then release (or refund) the money of a disputed charge. A dispute proves the charge was captured,
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
    // Given up on too (expired, failed): the late money is recorded (and refunded) before the
    // dispute, which would otherwise be ignored for good and the refund of that money refused.
    const uncaptured: readonly HeldPayment["status"][] = [
      "awaiting_payment",
      "payment_processing",
      "expired",
      "payment_failed",
    ];
    const sessionId = payment.checkoutSessionId;
    return uncaptured.includes(payment.status) && payment.capturedAt === undefined && sessionId !== undefined
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
  /** Applies `input`, decided first on `loaded` (the payment as just read here) when given. */
  const apply = (input: HeldPaymentInput, loaded?: HeldPayment): ResultAsync<FactOutcome, FactError> => {
    const what = `held payment ${route.heldPaymentId}: ${input.type}`;
    return applyHeldPaymentInput(deps, route.heldPaymentId, input, actor, loaded).map((decision) =>
      decision.ignored === undefined
        ? applied(`${what} applied`)
        : ignored(`${what} ignored: ${decision.ignored.code}: ${decision.ignored.detail}`),
    );
  };
  /**
   * The checkout's news, judged by its payment as the provider holds it now, and applied to
   * `payment` as loaded to make the input (a payment changed since is loaded again).
   */
  const applyCheckout = (
    payment: HeldPayment,
    sessionId: string,
    paymentIntentId: string,
  ): ResultAsync<FactOutcome, FactError> =>
    ports.reader
      .getPayment(paymentIntentId)
      .andThen((now) => apply(checkoutInput(sessionId, now, payment.status), payment))
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

/** An input for a marketplace charge, with the charge when it was loaded to make the input. */
interface ChargeInput {
  readonly input: MarketplaceChargeInput;
  readonly loaded?: MarketplaceCharge;
}

/**
 * A destination charge's payment that succeeded without naming the transfer Stripe made to
 * the seller with it (a webhook's PaymentIntent does not expand its charge): the payment is
 * read again for it, since a lost dispute reverses that transfer. A payment that cannot be
 * read leaves the input as it is (the platform then bears such a loss, which the charge says).
 * The charge, when loaded to decide this, comes with the input.
 */
function withDestinationTransfer(
  deps: UseCaseDeps,
  ports: FactPorts,
  marketplaceChargeId: string,
  input: MarketplaceChargeInput,
): ResultAsync<ChargeInput, FactError> {
  if (input.type !== "payment_succeeded" || input.transferId !== undefined) return okAsync({ input });
  return getMarketplaceCharge(deps, marketplaceChargeId).andThen((loaded) => {
    if (loaded.mode !== "destination" || loaded.capturedAt !== undefined) return okAsync({ input, loaded });
    return ports.reader
      .getPayment(input.paymentIntentId)
      .map(
        (now): ChargeInput => ({
          input:
            now.status === "succeeded" && now.transferId !== undefined
              ? { ...input, transferId: now.transferId }
              : input,
          loaded,
        }),
      )
      .orElse((e) =>
        e.type === "gateway_definite" && isGoneCode(e.code)
          ? okAsync({ input, loaded })
          : errAsync<ChargeInput, FactError>(e),
      );
  });
}

/**
 * The statuses of a marketplace charge that has not heard its payment succeed: still waiting
 * for it, or given up on it (`payment_failed`, `expired`) before money came after all.
 */
const MARKETPLACE_UNPAID: readonly MarketplaceCharge["status"][] = [
  "awaiting_payment",
  "requires_action",
  "processing",
  "payment_failed",
  "expired",
];

/**
 * A dispute of a marketplace charge's payment that reached the charge before the payment's
 * own news did (Stripe promises no order, and a card can be disputed at once): the charge
 * would ignore a dispute of a charge it has not heard of — for good when it had given up on
 * the payment (failed, expired), whose late money would then be refunded on a charge Stripe
 * holds disputed. A dispute proves the payment was captured, so the payment it names is read
 * first and, paid, heard as the charge's `payment_succeeded` (with the charge as loaded to
 * decide it: money after a charge was given up on is recorded and refunded in full). `undefined`
 * when the charge has heard of its payment already, or when there is nothing to read.
 */
function disputeOvertookPayment(
  deps: UseCaseDeps,
  ports: FactPorts,
  marketplaceChargeId: string,
  fact: PaymentObjectFact,
): ResultAsync<ChargeInput | undefined, FactError> {
  const isDispute =
    fact.kind === "dispute_opened" || fact.kind === "dispute_updated" || fact.kind === "dispute_closed";
  if (!isDispute || fact.paymentIntentId === undefined) return okAsync(undefined);
  const paymentIntentId = fact.paymentIntentId;
  return getMarketplaceCharge(deps, marketplaceChargeId).andThen((charge) => {
    if (charge.capturedAt !== undefined || !MARKETPLACE_UNPAID.includes(charge.status))
      return okAsync(undefined);
    return ports.reader
      .getPayment(paymentIntentId)
      .map((now): ChargeInput | undefined =>
        now.status === "succeeded"
          ? {
              input: {
                type: "payment_succeeded",
                paymentIntentId,
                chargeId: now.chargeId,
                ...(now.transferId !== undefined ? { transferId: now.transferId } : {}),
              },
              loaded: charge,
            }
          : undefined,
      )
      .orElse((e) =>
        e.type === "gateway_definite" && isGoneCode(e.code)
          ? okAsync(undefined)
          : errAsync<ChargeInput | undefined, FactError>(e),
      );
  });
}

/**
 * Applies a fact about a payment to the marketplace charge its references name
 * (`marketplaceChargeId`). A dispute that overtook the payment's news has the payment read
 * and heard first. A charge that does not exist makes the fact `ignored`.
 */
export function applyMarketplaceChargeFact(
  deps: UseCaseDeps,
  ports: FactPorts,
  fact: PaymentObjectFact,
  actor: string,
): ResultAsync<FactOutcome, FactError> {
  const route = routeToMarketplaceCharge(fact);
  if (route.to === "nobody") return okAsync(ignored(`${fact.kind}: ${route.reason}`));
  const id = route.marketplaceChargeId;
  /** Applies the input, decided first on the charge it was made from when that was loaded. */
  const apply = ({ input, loaded }: ChargeInput): ResultAsync<FactOutcome, FactError> => {
    const what = `marketplace charge ${id}: ${input.type}`;
    return applyMarketplaceChargeInput(deps, id, input, actor, loaded).map((decision) =>
      decision.ignored === undefined
        ? applied(`${what} applied`)
        : ignored(`${what} ignored: ${decision.ignored.code}: ${decision.ignored.detail}`),
    );
  };
  return disputeOvertookPayment(deps, ports, id, fact)
    .andThen((catchUp) =>
      catchUp === undefined
        ? withDestinationTransfer(deps, ports, id, route.input).andThen(apply)
        : apply(catchUp).andThen((first) =>
            // The charge has changed since it was loaded: the next input loads it again.
            apply({ input: route.input }).map(
              (then): FactOutcome => ({
                status: first.status === "applied" ? "applied" : then.status,
                detail: `${first.detail} (the dispute's news came first); ${then.detail}`,
              }),
            ),
          ),
    )
    .orElse((e) =>
      isMissing(e) ? okAsync(ignored(`marketplace charge ${id}: not applied: ${e.code}`)) : errAsync(e),
    );
}

/**
 * Applies a fact about a payment to the aggregate its references name: a membership's
 * news (a refund of its invoice included) to its subscription, a held payment
 * (`heldPaymentId`), a marketplace charge (`marketplaceChargeId`), otherwise a round.
 */
export function applyPaymentObjectFact(
  deps: UseCaseDeps,
  ports: FactPorts,
  fact: PaymentObjectFact,
  actor: string,
): ResultAsync<FactOutcome, FactError> {
  if (isMembershipFact(fact)) return retryOnConflict(() => applyMembershipFact(deps, fact, actor));
  if (fact.refs.heldPaymentId !== undefined) return applyHeldPaymentFact(deps, ports, fact, actor);
  if (fact.refs.marketplaceChargeId !== undefined)
    return applyMarketplaceChargeFact(deps, ports, fact, actor);
  return applyRoundFact(deps, fact, actor);
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

/**
 * The account as the provider says it is now; undefined when it is gone (deleted or no
 * longer ours to read), which cannot be paid.
 */
function accountNow(
  ports: FactPorts,
  accountId: string,
): ResultAsync<ConnectedAccountStatus | undefined, FactError> {
  return ports.reader
    .getConnectedAccount(accountId)
    .map((s): ConnectedAccountStatus | undefined => s)
    .orElse((e) => (e.type === "gateway_definite" && isGoneCode(e.code) ? okAsync(undefined) : errAsync(e)));
}

/** Whether the mandate is active, as the provider says now (see {@link accountNow}). */
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
    return mandateActiveNow(ports, fact.mandateId).andThen((mandateActive) => {
      return (
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
        )
      );
    });
  });
}

/**
 * A BECS account saved from the person's payment methods: recorded as a saved method first
 * (read again from the provider), then made the debit rounds use only when it works (saved,
 * attached, its mandate active) and the person's does not (none, or dead) — a working debit
 * changes only when they name a replacement. So whichever Stripe reports first, this set-up
 * or their debit's death, they end debited from an account that works.
 */
function savedMethodSetupSucceeded(
  deps: UseCaseDeps,
  ports: FactPorts,
  fact: SetupSucceeded,
  actor: string,
): ResultAsync<FactOutcome, FactError> {
  const what = `BECS set-up ${fact.setupIntentId}`;
  return methodNews(
    deps,
    ports,
    { paymentMethodId: fact.paymentMethodId, mandateId: fact.mandateId },
    actor,
  ).andThen((news) =>
    deps.paymentMethods.getPaymentMethod(fact.paymentMethodId).andThen((saved) => {
      const recorded = news?.detail ?? `${what}: nothing new`;
      if (saved === undefined || !canDebitWith(saved) || saved.mandate === undefined)
        return okAsync(news ?? ignored(`${recorded}; not a working account of a susu person`));
      const mandateId = saved.mandate.mandateId;
      return changePerson(() =>
        changeDebitIfDead(deps, saved.personId, { paymentMethodId: saved.id, mandateId }, actor),
      ).map((result) =>
        result !== "missing" && result.done
          ? applied(
              `${recorded}; rounds debit ${saved.id} now (the debit of ${saved.personId} was not working)`,
            )
          : (news ?? ignored(`${recorded}; rounds keep debiting the working account of ${saved.personId}`)),
      );
    }),
  );
}

/** Makes `debit` the person's, active, only if theirs does not work (none, or inactive); whether it did. */
function changeDebitIfDead(
  deps: UseCaseDeps,
  personId: string,
  debit: { readonly paymentMethodId: string; readonly mandateId: string },
  actor: string,
): ResultAsync<boolean, UseCaseError> {
  return deps.people.getPerson(personId).andThen((person) => {
    if (person === undefined || person.debit?.mandateActive === true) return okAsync(false);
    return updatePersonPayment(deps, personId, { debit: { ...debit, mandateActive: true } }, actor).map(
      () => true,
    );
  });
}

/**
 * News of a payment method recorded on the person's saved methods; `undefined` when it
 * changed nothing (or names no person's method), so the caller's outcome stands alone.
 */
function methodNews(
  deps: UseCaseDeps,
  ports: FactPorts,
  news: { readonly paymentMethodId: string; readonly customerId?: string; readonly mandateId?: string },
  actor: string,
): ResultAsync<FactOutcome | undefined, FactError> {
  return recordPaymentMethodNews(deps, ports.reader, news, actor)
    .map((o) => (o.applied ? applied(o.detail) : undefined))
    .orElse((e) => (isMissing(e) ? okAsync(undefined) : errAsync(e)));
}

/** `outcome`, and what the same news did to the person's saved methods when it did something. */
function withMethodNews(
  deps: UseCaseDeps,
  ports: FactPorts,
  outcome: FactOutcome,
  news: { readonly paymentMethodId: string; readonly mandateId?: string },
  actor: string,
): ResultAsync<FactOutcome, FactError> {
  return methodNews(deps, ports, news, actor).map((more) =>
    more === undefined ? outcome : applied(`${outcome.detail}; ${more.detail}`),
  );
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
 * | a refund whose references name a membership and its invoice (`subscriptionId`, `invoiceId`) | that subscription hears how susu's refund of the invoice ended (`invoice_refund_settled`) |
 * | `invoice_refunds_made` (the refunds susu's refund of a membership invoice made) | that subscription hears which refunds it waits for (`invoice_refunds_made`) |
 * | `invoice_void_answered` (Stripe's answer to susu's void of a membership invoice) | that subscription hears it (`invoice_void_answered`): a void Stripe could not make while the invoice's debit is processing waits for the debit |
 * | about a payment whose references name a marketplace charge (`marketplaceChargeId`) | that charge hears the matching input (`routeToMarketplaceCharge`): the payment's outcome (a destination charge's payment read again for its transfer when the fact does not name it), sellers' transfers by seller and attempt, refunds by number and attempt, reversals by number, disputes |
 * | about a payment (debit, refund, transfer, dispute) | otherwise the round named by its references hears the matching input |
 * | `dispute_updated` | ignored by rounds: a BECS dispute is booked when it opens |
 * | `dispute_closed` lost | the round hears `dispute_opened` (the closure's amount): a dispute it recorded ignores it; one whose opening it never heard is booked as if it had opened then |
 * | `dispute_closed` won | the round hears `dispute_won`: the money came back to the platform, and what the dispute booked is undone (if a BECS dispute ever closes won) |
 * | `payout_account_changed` | the person with the account gets `payoutsEnabled` as the provider reports it now — one write, which reaches every round where they are the recipient (a blocked payout resumes) and every open held payment they sell (a blocked release resumes); an account that cannot receive for want of information after the person went through onboarding tells them what is missing, once per set of requirements (`noticeOnboardingIncomplete`) |
 * | `payout_account_disconnected` | the person with the account gets `payoutsEnabled: false` |
 * | `mandate_changed` | the person with the mandate gets `mandateActive` as the provider reports it now |
 * | `debit_setup_succeeded` | the person (named by the set-up's references, or found by customer) stores the customer, payment method, mandate and `mandateActive` in one write |
 * | `payout_changed` | the payout is recorded for the person with the account, its status only moving forward; a failure tells the person and opens a ticket, once per payout |
 * | `payment_method_changed` | the method, read from the provider now, is recorded on its person's saved methods (`recordPaymentMethodNews`): saved, updated, or removed behind susu's back (readiness drops; when a running round relied on it, the person and the admins are told and a ticket is opened) |
 * | `debit_setup_succeeded`, `mandate_changed` | also recorded on the saved method (its mandate; an inactive one tells the person how to fix it) |
 * | `debit_setup_failed` | nothing stored: an earlier mandate stays as it was; the member restarts in the app |
 *
 * Safe to run twice and in any order: rounds, held payments and marketplace charges ignore inputs that no longer apply, and
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
    case "payment_requires_action":
    case "refund_succeeded":
    case "refund_failed":
    case "transfer_created":
    case "transfer_failed":
    case "transfer_not_found":
    case "refund_not_ended":
    case "application_fee_refunded":
    case "transfer_reversed":
    case "dispute_opened":
    case "dispute_updated":
    case "dispute_closed":
    case "transfer_reversal_failed":
    case "checkout_session_created":
    case "checkout_payment_changed":
    case "checkout_expired":
    case "plan_price_created":
    case "subscription_changed":
    case "subscription_start_refused":
    case "subscription_change_refused":
    case "subscription_payment_method_refused":
    case "subscription_checkout_created":
    case "subscription_trial_will_end":
    case "invoice_paid":
    case "invoice_payment_failed":
    case "invoice_payment_action_required":
    case "invoice_marked_uncollectible":
    case "invoice_voided":
    case "invoice_refunds_made":
    case "invoice_void_answered":
    case "membership_charge_refunded":
      return applyPaymentObjectFact(deps, ports, fact, actor);
    case "payout_account_changed": {
      const what = `account ${fact.accountId}`;
      return deps.people.findByConnectedAccount(fact.accountId).andThen((person) =>
        person === undefined
          ? okAsync(ignored(`${what}: no person has this connected account`))
          : accountNow(ports, fact.accountId).andThen((status) =>
              recordReadiness(
                deps,
                person,
                { payoutsEnabled: status?.transfersActive === true && status.payoutsEnabled },
                { connectedAccountId: fact.accountId },
                actor,
                what,
              ).andThen((outcome) =>
                // The person still uses the account (an outcome that applied): tell them what it misses.
                outcome.status === "applied" && status !== undefined
                  ? noticeOnboardingIncomplete(deps, person, status, actor).map((told) =>
                      told === undefined ? outcome : applied(`${outcome.detail}; ${told}`),
                    )
                  : okAsync(outcome),
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
        )
        .andThen((outcome) =>
          withMethodNews(
            deps,
            ports,
            outcome,
            { paymentMethodId: fact.mandate.paymentMethodId, mandateId },
            actor,
          ),
        );
    }
    case "debit_setup_succeeded":
      if (fact.refs?.setupPurpose === "saved_method")
        return savedMethodSetupSucceeded(deps, ports, fact, actor);
      return debitSetupSucceeded(deps, ports, fact, actor).andThen((outcome) =>
        withMethodNews(
          deps,
          ports,
          outcome,
          { paymentMethodId: fact.paymentMethodId, mandateId: fact.mandateId },
          actor,
        ),
      );
    case "payment_method_changed":
      return methodNews(deps, ports, fact, actor).map(
        (news) => news ?? ignored(`payment method ${fact.paymentMethodId}: nothing to record`),
      );
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
