import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import {
  createMarketplaceCharge as decideCreate,
  decideMarketplaceCharge,
  type MarketplaceChargeDecision,
} from "../marketplace/decide.js";
import { marketplaceChargeError } from "../marketplace/marketplace-charge.errors.js";
import type {
  CreateMarketplaceCharge,
  MarketplaceCharge,
  MarketplacePaymentMethod,
  NewMarketplaceSeller,
} from "../marketplace/marketplace-charge.js";
import type { MarketplaceChargeInput } from "../marketplace/marketplace-charge-input.js";
import type { MarketplaceFee } from "../marketplace/marketplace-charge-money.js";
import type { PersonId } from "../person/ids.js";
import type { Person } from "../person/person.js";
import {
  DEFAULT_MARKETPLACE_POLICY,
  type MarketplacePolicy,
  type RefundInitiator,
} from "../policy/marketplace-policy.js";
import type { MarketplaceChargeQuery } from "../ports/storage.js";
import {
  type AggregateKind,
  applyAggregateInput,
  applyOperatorCommand,
  commitCreation,
  loadOrNotFound,
} from "./aggregate-commit.js";
import type { UseCaseDeps, UseCaseError } from "./deps.js";
import { requireEntitled } from "./entitlements.js";
import { loadOwnCard, refuseExpiredCard } from "./own-payment-method.js";
import { operatorActor, type PlatformOperator } from "./round-use-cases.js";

/** What a client app asks for when it charges a customer for an activity (the id is chosen here). */
export interface CreateMarketplaceChargeCommand {
  /** The caller's principal (audited, and the scope of `clientReference`). */
  readonly requestedBy: string;
  /** The caller's own reference (an RSVP or order id): one charge per caller and reference. */
  readonly clientReference: string;
  readonly activityId: string;
  readonly purpose: "rsvp" | "purchase";
  readonly description: string;
  readonly amountMinor: number;
  readonly currency: string;
  /** The customer: a susu person with a Stripe customer. */
  readonly customerId: PersonId;
  /** Where notices about the charge go. */
  readonly customerEmail: string;
  /** A card saved on the customer's Stripe customer (charged off session), or a new card the client confirms. */
  readonly paymentMethod: MarketplacePaymentMethod;
  readonly fee: MarketplaceFee;
  /** One seller: a destination charge; several (co-hosts): a split. Each a person with a connected account. */
  readonly sellers: readonly { readonly id: PersonId; readonly weight?: number }[];
  /** The one seller is the merchant of record (`on_behalf_of`). */
  readonly sellerIsMerchantOfRecord?: boolean;
}

/** A created (or found again) marketplace charge: `created` is false when the same request was made before. */
export interface CreatedMarketplaceCharge {
  readonly charge: MarketplaceCharge;
  readonly created: boolean;
}

function policyOf(deps: UseCaseDeps): MarketplacePolicy {
  return deps.marketplacePolicy ?? DEFAULT_MARKETPLACE_POLICY;
}

/** A marketplace charge, for the shared load-decide-store steps. */
const marketplaceChargeKind: AggregateKind<
  "marketplaceCharges",
  MarketplaceChargeInput,
  MarketplaceChargeDecision
> = {
  aggregate: "marketplace_charge",
  stored: (change) => ({ marketplaceCharges: [change] }),
  load: (deps, id) => deps.marketplaceCharges.getMarketplaceCharge(id),
  decide: (deps, charge, input, now) =>
    decideMarketplaceCharge(charge, input, { now, policy: policyOf(deps) }),
};

/** Loads a marketplace charge or fails with `marketplace_charge_not_found`. */
export function getMarketplaceCharge(
  deps: UseCaseDeps,
  id: string,
): ResultAsync<MarketplaceCharge, UseCaseError> {
  return loadOrNotFound(marketplaceChargeKind, deps, id);
}

/** A page of marketplace charges, newest first (the query's filters narrow it). */
export function listMarketplaceCharges(
  deps: UseCaseDeps,
  query: MarketplaceChargeQuery,
): ResultAsync<{ readonly items: readonly MarketplaceCharge[]; readonly hasMore: boolean }, UseCaseError> {
  return deps.marketplaceCharges.listMarketplaceCharges(query);
}

/**
 * Feeds one input (a command, a timer, a translated Stripe event, the answer of an effect)
 * to a marketplace charge: load, decide, store — once more from the load when another
 * writer got there first (`version_conflict`). How every fact and command reaches a charge.
 *
 * @param actor who or what caused it, for the audit log (`stripe:evt_…`, `timer`, `operator:<id>`, the client app)
 * @param loaded the charge as the caller has just loaded it ({@link getMarketplaceCharge}) to
 *   make the input: the first attempt decides on it rather than loading it again; a charge
 *   that changed since is a `version_conflict`, loaded again and decided again
 */
export function applyMarketplaceChargeInput(
  deps: UseCaseDeps,
  id: string,
  input: MarketplaceChargeInput,
  actor: string,
  loaded?: MarketplaceCharge,
): ResultAsync<MarketplaceChargeDecision, UseCaseError> {
  return applyAggregateInput(marketplaceChargeKind, deps, id, input, actor, loaded);
}

/** Whether a stored charge was asked for with these terms (a client app's retry of the same request). */
function sameTerms(charge: MarketplaceCharge, command: CreateMarketplaceChargeCommand): boolean {
  return (
    charge.activityId === command.activityId &&
    charge.purpose === command.purpose &&
    charge.description === command.description &&
    charge.amountMinor === command.amountMinor &&
    charge.currency === command.currency &&
    charge.customer.id === command.customerId &&
    charge.customer.email === command.customerEmail &&
    JSON.stringify(charge.paymentMethod) === JSON.stringify(command.paymentMethod) &&
    JSON.stringify(charge.fee) === JSON.stringify(command.fee) &&
    charge.sellers.length === command.sellers.length &&
    charge.sellers.every(
      (s, i) => s.id === command.sellers[i]?.id && s.weight === (command.sellers[i]?.weight ?? 1),
    ) &&
    charge.onBehalfOf === (command.sellerIsMerchantOfRecord === true)
  );
}

/** The charge already made for this caller's reference: the same request again, or a reuse of the reference. */
function existingFor(
  deps: UseCaseDeps,
  command: CreateMarketplaceChargeCommand,
): ResultAsync<CreatedMarketplaceCharge | undefined, UseCaseError> {
  return deps.marketplaceCharges
    .findMarketplaceChargeByReference(command.requestedBy, command.clientReference)
    .andThen((existing) => {
      if (existing === undefined) return okAsync(undefined);
      if (!sameTerms(existing, command))
        return errAsync(
          marketplaceChargeError(
            "client_reference_reused",
            `client reference ${command.clientReference} is marketplace charge ${existing.id}, asked for with other terms`,
          ),
        );
      return okAsync({ charge: existing, created: false });
    });
}

/**
 * The customer and sellers as a new charge needs them: people with a Stripe customer, and
 * with connected accounts. A saved card is checked once the customer is known to be a person
 * and before whether they have a Stripe customer: one without has saved no card, so naming
 * one is `payment_method_not_found`, as for a customer with cards who names another; a card
 * of theirs past its expiry is `payment_method_expired` (Stripe would decline it).
 */
function partiesOf(
  deps: UseCaseDeps,
  command: CreateMarketplaceChargeCommand,
): ResultAsync<Pick<CreateMarketplaceCharge, "customer" | "sellers">, UseCaseError> {
  const sellerIds = command.sellers.map((s) => s.id);
  return deps.people.getPeople([command.customerId, ...sellerIds]).andThen((found: readonly Person[]) => {
    const byId = new Map(found.map((p) => [p.id, p]));
    const customer = byId.get(command.customerId);
    if (!customer)
      return errAsync(marketplaceChargeError("customer_not_found", `no person ${command.customerId}`));
    const card =
      command.paymentMethod.kind === "saved_card"
        ? loadOwnCard(deps, customer.id, command.paymentMethod.paymentMethodId, "a marketplace charge")
            .andThen((saved) => refuseExpiredCard(deps, saved, "a marketplace charge"))
            .map(() => undefined)
        : okAsync(undefined);
    return card.andThen(() => onboardedParties(command, customer, byId));
  });
}

/** The customer's Stripe customer and each seller's connected account, or why not. */
function onboardedParties(
  command: CreateMarketplaceChargeCommand,
  customer: Person,
  byId: ReadonlyMap<string, Person>,
): ResultAsync<Pick<CreateMarketplaceCharge, "customer" | "sellers">, UseCaseError> {
  if (customer.customerId === undefined)
    return errAsync(
      marketplaceChargeError(
        "customer_not_onboarded",
        `customer ${command.customerId} has no Stripe customer to charge`,
      ),
    );
  const sellers: NewMarketplaceSeller[] = [];
  for (const s of command.sellers) {
    const person = byId.get(s.id);
    if (!person) return errAsync(marketplaceChargeError("seller_not_found", `no person ${s.id}`));
    if (!person.payout)
      return errAsync(
        marketplaceChargeError(
          "seller_not_onboarded",
          `seller ${s.id} has no connected account to be paid into`,
        ),
      );
    sellers.push({
      id: person.id,
      connectedAccountId: person.payout.connectedAccountId,
      ...(s.weight !== undefined ? { weight: s.weight } : {}),
    });
  }
  return okAsync({
    customer: { id: customer.id, stripeCustomerId: customer.customerId, email: command.customerEmail },
    sellers,
  });
}

/**
 * A client app charges a customer for an activity's RSVP or purchase: the customer must be
 * a person (`customer_not_found`), a saved card one the customer saved and has not removed
 * (`payment_method_not_found` otherwise: an id never saved, such as a provider's test token,
 * somebody else's method, a BECS account; so too for a customer with no Stripe customer,
 * who has saved none) and one that can be charged (`payment_method_expired`: past its expiry
 * month), the customer a person with a Stripe customer
 * (`customer_not_onboarded`: a new card needs one), and every seller a person with a
 * connected account (`seller_not_found`, `seller_not_onboarded`), all checked before
 * anything is stored or asked of Stripe. The charge asks Stripe for the payment through the
 * outbox: a saved card is charged off session; a new card (or 3-D Secure) leaves the charge
 * `requires_action` with the client secret the client needs, once Stripe answered.
 *
 * Idempotent per caller and reference: the same request again returns the charge made the
 * first time (`created: false`); the reference with other terms is refused
 * (`client_reference_reused`).
 */
export function createMarketplaceCharge(
  deps: UseCaseDeps,
  command: CreateMarketplaceChargeCommand,
): ResultAsync<CreatedMarketplaceCharge, UseCaseError> {
  return existingFor(deps, command).andThen((existing) => {
    if (existing !== undefined) return okAsync(existing);
    return decidedCreation(deps, command, deps.ids.newId("mc")).andThen(({ create, decided, now }) => {
      const input: MarketplaceChargeInput = { type: "create", command: create };
      return commitCreation(
        marketplaceChargeKind,
        deps,
        decided,
        { input, at: now, actor: command.requestedBy },
        (charge): CreatedMarketplaceCharge => ({ charge, created: true }),
        () => existingFor(deps, command),
      );
    });
  });
}

/**
 * Checks a `create` as {@link createMarketplaceCharge} would — the caller's reference, the
 * customer and sellers, every rule of the domain — and stores nothing: `exists` when the
 * same request made its charge before. What a route runs before it counts a payment
 * attempt, so a request refused for its content is not an attempt.
 */
export function checkMarketplaceChargeRequest(
  deps: UseCaseDeps,
  command: CreateMarketplaceChargeCommand,
): ResultAsync<{ readonly exists: boolean }, UseCaseError> {
  return existingFor(deps, command).andThen((existing) =>
    existing !== undefined
      ? okAsync({ exists: true })
      : decidedCreation(deps, command, "mc_check").map(() => ({ exists: false })),
  );
}

/** The `create` the domain decides for `command` under `id`, or why it refuses. */
function decidedCreation(
  deps: UseCaseDeps,
  command: CreateMarketplaceChargeCommand,
  id: string,
): ResultAsync<
  {
    readonly create: CreateMarketplaceCharge;
    readonly decided: MarketplaceChargeDecision;
    readonly now: number;
  },
  UseCaseError
> {
  return partiesOf(deps, command)
    .andThen((parties) =>
      parties.sellers
        .reduce<ResultAsync<void, UseCaseError>>(
          (acc, s) => acc.andThen(() => requireEntitled(deps, s.id, "sell_bookings")),
          okAsync(undefined),
        )
        .map(() => parties),
    )
    .andThen(({ customer, sellers }) => {
      const now = deps.clock.now();
      const create: CreateMarketplaceCharge = {
        id,
        clientReference: command.clientReference,
        requestedBy: command.requestedBy,
        activityId: command.activityId,
        purpose: command.purpose,
        description: command.description,
        amountMinor: command.amountMinor,
        currency: command.currency,
        customer,
        paymentMethod: command.paymentMethod,
        fee: command.fee,
        sellers,
        ...(command.sellerIsMerchantOfRecord !== undefined
          ? { sellerIsMerchantOfRecord: command.sellerIsMerchantOfRecord }
          : {}),
      };
      const decided = decideCreate(create, { now, policy: policyOf(deps) });
      if (decided.isErr()) return errAsync(decided.error);
      return okAsync({ create, decided: decided.value, now });
    });
}

/** Who asks for a refund: the client app for its customer, or a platform operator. */
export type MarketplaceRefundRequester =
  | { readonly kind: "customer"; readonly requestedBy: string }
  | { readonly kind: "platform"; readonly operator: PlatformOperator };

/**
 * A refund of `amountMinor` (everything left when absent). Who asks decides, by the
 * policy, whether the sellers' transfers are reversed and the platform's fee given back.
 */
export function refundMarketplaceCharge(
  deps: UseCaseDeps,
  id: string,
  requester: MarketplaceRefundRequester,
  reason: string,
  amountMinor?: number,
): ResultAsync<MarketplaceCharge, UseCaseError> {
  const initiatedBy: RefundInitiator = requester.kind;
  const by = requester.kind === "customer" ? requester.requestedBy : requester.operator.operator;
  const actor = requester.kind === "customer" ? requester.requestedBy : operatorActor(requester.operator);
  return applyMarketplaceChargeInput(
    deps,
    id,
    { type: "refund", initiatedBy, by, reason, ...(amountMinor !== undefined ? { amountMinor } : {}) },
    actor,
  ).map((d) => d.state);
}

/** A platform operator retries the refund that failed, once the cause is fixed. */
export function retryMarketplaceRefund(
  deps: UseCaseDeps,
  id: string,
  operator: PlatformOperator,
): ResultAsync<MarketplaceCharge, UseCaseError> {
  return applyOperatorCommand(marketplaceChargeKind, deps, id, operator, {
    type: "retry_refund",
    by: operator.operator,
  });
}

/** A platform operator retries every parked seller transfer, once the cause is fixed. */
export function retryMarketplaceTransfers(
  deps: UseCaseDeps,
  id: string,
  operator: PlatformOperator,
): ResultAsync<MarketplaceCharge, UseCaseError> {
  return applyOperatorCommand(marketplaceChargeKind, deps, id, operator, {
    type: "retry_transfers",
    by: operator.operator,
  });
}

/** A platform operator asks again for every reversal that failed, once the sellers' balances cover them. */
export function retryMarketplaceReversal(
  deps: UseCaseDeps,
  id: string,
  operator: PlatformOperator,
): ResultAsync<MarketplaceCharge, UseCaseError> {
  return applyOperatorCommand(marketplaceChargeKind, deps, id, operator, {
    type: "retry_reversal",
    by: operator.operator,
  });
}
