import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import {
  createHeldPayment as decideCreate,
  decideHeldPayment,
  type HeldPaymentDecision,
} from "../held-payment/decide.js";
import { heldPaymentError } from "../held-payment/held-payment.errors.js";
import type { CreateHeldPayment, HeldPayment, HeldPaymentCustomer } from "../held-payment/held-payment.js";
import { isHeldPaymentEnded } from "../held-payment/held-payment.js";
import type { HeldPaymentInput } from "../held-payment/held-payment-input.js";
import type { PlatformFee } from "../held-payment/held-payment-money.js";
import type { PersonId } from "../person/ids.js";
import type { Person } from "../person/person.js";
import { DEFAULT_HELD_PAYMENT_POLICY, type HeldPaymentPolicy } from "../policy/held-payment-policy.js";
import {
  type AggregateKind,
  applyAggregateInput,
  applyOperatorCommand,
  commitCreation,
  loadOrNotFound,
} from "./aggregate-commit.js";
import type { UseCaseDeps, UseCaseError } from "./deps.js";
import { requireEntitled } from "./entitlements.js";
import type { PlatformOperator } from "./round-use-cases.js";

/** What a client app asks for when it creates a held payment (the id is chosen here). */
export interface CreateHeldPaymentCommand {
  /** The caller's principal (audited, and the scope of `clientReference`). */
  readonly requestedBy: string;
  /** The caller's own reference (a booking id): one payment per caller and reference. */
  readonly clientReference: string;
  readonly amountMinor: number;
  readonly currency: string;
  /** The seller: a susu person with a connected account. */
  readonly sellerId: PersonId;
  readonly description: string;
  readonly customer: HeldPaymentCustomer;
  readonly fee: PlatformFee;
  /** This booking's dispute window; the policy's when absent. */
  readonly disputeWindowMs?: number;
  readonly successUrl: string;
  readonly cancelUrl?: string;
}

/** A created (or found again) held payment: `created` is false when the same request was made before. */
export interface CreatedHeldPayment {
  readonly payment: HeldPayment;
  readonly created: boolean;
}

function policyOf(deps: UseCaseDeps): HeldPaymentPolicy {
  return deps.heldPaymentPolicy ?? DEFAULT_HELD_PAYMENT_POLICY;
}

/** A held payment, for the shared load-decide-store steps. */
const heldPaymentKind: AggregateKind<"heldPayments", HeldPaymentInput, HeldPaymentDecision> = {
  aggregate: "held_payment",
  stored: (change) => ({ heldPayments: [change] }),
  load: (deps, id) => deps.heldPayments.getHeldPayment(id),
  decide: (deps, payment, input, now) => decideHeldPayment(payment, input, { now, policy: policyOf(deps) }),
};

/** Loads a held payment or fails with `held_payment_not_found`. */
export function getHeldPayment(deps: UseCaseDeps, id: string): ResultAsync<HeldPayment, UseCaseError> {
  return loadOrNotFound(heldPaymentKind, deps, id);
}

/**
 * Feeds one input (a command, a timer, a translated Stripe event, the answer of an
 * effect) to a held payment: load, decide, store — once more from the load when another
 * writer got there first (`version_conflict`). How every fact and command reaches a held
 * payment.
 *
 * @param actor who or what caused it, for the audit log (`stripe:evt_…`, `timer`, `operator:<id>`, the client app)
 * @param loaded the payment as the caller has just loaded it ({@link getHeldPayment}) to make
 *   the input: the first attempt decides on it rather than loading it again; a payment that
 *   changed since is a `version_conflict`, loaded again and decided again
 */
export function applyHeldPaymentInput(
  deps: UseCaseDeps,
  id: string,
  input: HeldPaymentInput,
  actor: string,
  loaded?: HeldPayment,
): ResultAsync<HeldPaymentDecision, UseCaseError> {
  return applyAggregateInput(heldPaymentKind, deps, id, input, actor, loaded);
}

/** Whether a stored payment was asked for with these terms (a client app's retry of the same request). */
function sameTerms(payment: HeldPayment, command: CreateHeldPaymentCommand): boolean {
  return (
    payment.amountMinor === command.amountMinor &&
    payment.currency === command.currency &&
    payment.seller.id === command.sellerId &&
    payment.description === command.description &&
    payment.customer.email === command.customer.email &&
    payment.customer.name === command.customer.name &&
    JSON.stringify(payment.fee) === JSON.stringify(command.fee) &&
    (command.disputeWindowMs === undefined || payment.disputeWindowMs === command.disputeWindowMs) &&
    payment.successUrl === command.successUrl &&
    payment.cancelUrl === command.cancelUrl
  );
}

/** The payment already made for this caller's reference: the same request again, or a reuse of the reference. */
function existingFor(
  deps: UseCaseDeps,
  command: CreateHeldPaymentCommand,
): ResultAsync<CreatedHeldPayment | undefined, UseCaseError> {
  return deps.heldPayments
    .findHeldPaymentByReference(command.requestedBy, command.clientReference)
    .andThen((existing) => {
      if (existing === undefined) return okAsync(undefined);
      if (!sameTerms(existing, command))
        return errAsync(
          heldPaymentError(
            "client_reference_reused",
            `client reference ${command.clientReference} is held payment ${existing.id}, asked for with other terms`,
          ),
        );
      return okAsync({ payment: existing, created: false });
    });
}

/** The seller as a new payment needs them: a person with a connected account, and whether it can receive now. */
function sellerOf(
  deps: UseCaseDeps,
  sellerId: PersonId,
): ResultAsync<CreateHeldPayment["seller"], UseCaseError> {
  return deps.people.getPerson(sellerId).andThen((person: Person | undefined) => {
    if (!person) return errAsync(heldPaymentError("seller_not_found", `no person ${sellerId}`));
    if (!person.payout)
      return errAsync(
        heldPaymentError(
          "seller_not_onboarded",
          `seller ${sellerId} has no connected account to be paid into`,
        ),
      );
    return okAsync({
      id: person.id,
      connectedAccountId: person.payout.connectedAccountId,
      canReceive: person.payout.payoutsEnabled,
    });
  });
}

/**
 * A client app asks for a held payment for one of its bookings: the seller must be a
 * person with a connected account (`seller_not_found`, `seller_not_onboarded`), whose
 * readiness to receive is read now; fee and dispute window come from the command (the
 * window within the policy). The payment asks Stripe for its Checkout Session through the
 * outbox; its URL is on the payment once the session exists.
 *
 * Idempotent per caller and reference: the same request again returns the payment made
 * the first time (`created: false`); the reference with other terms is refused
 * (`client_reference_reused`).
 */
export function createHeldPayment(
  deps: UseCaseDeps,
  command: CreateHeldPaymentCommand,
): ResultAsync<CreatedHeldPayment, UseCaseError> {
  return existingFor(deps, command).andThen((existing) => {
    if (existing !== undefined) return okAsync(existing);
    return decidedCreation(deps, command, deps.ids.newId("hp")).andThen(({ create, decided, now }) => {
      const input: HeldPaymentInput = { type: "create", command: create };
      return commitCreation(
        heldPaymentKind,
        deps,
        decided,
        { input, at: now, actor: command.requestedBy },
        (payment): CreatedHeldPayment => ({ payment, created: true }),
        () => existingFor(deps, command),
      );
    });
  });
}

/**
 * Checks a `create` as {@link createHeldPayment} would — the caller's reference, the
 * seller, every rule of the domain — and stores nothing: `exists` when the same request
 * made its payment before. What a route runs before it counts a payment attempt, so a
 * request refused for its content is not an attempt.
 */
export function checkHeldPaymentRequest(
  deps: UseCaseDeps,
  command: CreateHeldPaymentCommand,
): ResultAsync<{ readonly exists: boolean }, UseCaseError> {
  return existingFor(deps, command).andThen((existing) =>
    existing !== undefined
      ? okAsync({ exists: true })
      : decidedCreation(deps, command, "hp_check").map(() => ({ exists: false })),
  );
}

/** The `create` the domain decides for `command` under `id`, or why it refuses. */
function decidedCreation(
  deps: UseCaseDeps,
  command: CreateHeldPaymentCommand,
  id: string,
): ResultAsync<
  {
    readonly create: CreateHeldPayment;
    readonly decided: HeldPaymentDecision;
    readonly now: number;
  },
  UseCaseError
> {
  return sellerOf(deps, command.sellerId)
    .andThen((seller) => requireEntitled(deps, seller.id, "sell_bookings").map(() => seller))
    .andThen((seller) => {
      const now = deps.clock.now();
      const create: CreateHeldPayment = {
        id,
        clientReference: command.clientReference,
        requestedBy: command.requestedBy,
        amountMinor: command.amountMinor,
        currency: command.currency,
        seller,
        description: command.description,
        customer: command.customer,
        fee: command.fee,
        ...(command.disputeWindowMs !== undefined ? { disputeWindowMs: command.disputeWindowMs } : {}),
        successUrl: command.successUrl,
        ...(command.cancelUrl !== undefined ? { cancelUrl: command.cancelUrl } : {}),
      };
      const decided = decideCreate(create, { now, policy: policyOf(deps) });
      if (decided.isErr()) return errAsync(decided.error);
      return okAsync({ create, decided: decided.value, now });
    });
}

/** The client app fulfilled the booking: the dispute window starts (release after it, unless something stops it). */
export function confirmFulfilled(
  deps: UseCaseDeps,
  id: string,
  actor: string,
): ResultAsync<HeldPayment, UseCaseError> {
  return applyHeldPaymentInput(deps, id, { type: "confirm_fulfilled" }, actor).map((d) => d.state);
}

/** The client app could not fulfil the booking: everything is refunded at once and the customer told. */
export function reportUnfulfilled(
  deps: UseCaseDeps,
  id: string,
  reason: string,
  actor: string,
): ResultAsync<HeldPayment, UseCaseError> {
  return applyHeldPaymentInput(deps, id, { type: "report_unfulfilled", reason }, actor).map((d) => d.state);
}

/** A platform operator stops the release until they release it. */
export function adminHold(
  deps: UseCaseDeps,
  id: string,
  operator: PlatformOperator,
  reason: string,
): ResultAsync<HeldPayment, UseCaseError> {
  return applyOperatorCommand(heldPaymentKind, deps, id, operator, {
    type: "admin_hold",
    by: operator.operator,
    reason,
  });
}

/** A platform operator lifts their hold, or retries a blocked release once they checked the cause. */
export function adminRelease(
  deps: UseCaseDeps,
  id: string,
  operator: PlatformOperator,
): ResultAsync<HeldPayment, UseCaseError> {
  return applyOperatorCommand(heldPaymentKind, deps, id, operator, {
    type: "admin_release",
    by: operator.operator,
  });
}

/** A platform operator refunds `amountMinor` (everything left when absent), before or after the release. */
export function refundHeldPayment(
  deps: UseCaseDeps,
  id: string,
  operator: PlatformOperator,
  amountMinor?: number,
): ResultAsync<HeldPayment, UseCaseError> {
  return applyOperatorCommand(heldPaymentKind, deps, id, operator, {
    type: "refund",
    by: operator.operator,
    ...(amountMinor !== undefined ? { amountMinor } : {}),
  });
}

/** A platform operator retries the refund whose reversal or refund failed, once the cause is fixed. */
export function retryRefund(
  deps: UseCaseDeps,
  id: string,
  operator: PlatformOperator,
): ResultAsync<HeldPayment, UseCaseError> {
  return applyOperatorCommand(heldPaymentKind, deps, id, operator, {
    type: "retry_refund",
    by: operator.operator,
  });
}

/** A platform operator asks again for a lost dispute's reversal that failed, once the seller's balance covers it. */
export function retryHeldPaymentReversal(
  deps: UseCaseDeps,
  id: string,
  operator: PlatformOperator,
): ResultAsync<HeldPayment, UseCaseError> {
  return applyOperatorCommand(heldPaymentKind, deps, id, operator, {
    type: "retry_reversal",
    by: operator.operator,
  });
}

/**
 * Tells a seller's open held payments whether their account can receive now (after the
 * person's own write, as the rounds are told): a release blocked on the account resumes
 * when it can. Only payments paying into the account the person has now hear it; each is
 * its own unit of work, and a payment ignores a readiness it already knows.
 */
export function tellHeldPaymentsOfSeller(
  deps: UseCaseDeps,
  seller: Person,
  canReceive: boolean,
  actor: string,
): ResultAsync<void, UseCaseError> {
  const accountId = seller.payout?.connectedAccountId;
  if (accountId === undefined) return okAsync(undefined);
  const input: HeldPaymentInput = canReceive
    ? { type: "seller_account_ready" }
    : { type: "seller_account_not_ready", reason: `connected account ${accountId} cannot receive transfers` };
  return deps.heldPayments
    .listOpenHeldPaymentsOfSeller(seller.id)
    .andThen((payments) =>
      payments.reduce<ResultAsync<void, UseCaseError>>(
        (chain, payment) =>
          chain.andThen(() =>
            payment.seller.connectedAccountId !== accountId || isHeldPaymentEnded(payment)
              ? okAsync(undefined)
              : applyHeldPaymentInput(deps, payment.id, input, actor).map(() => undefined),
          ),
        okAsync(undefined),
      ),
    );
}
