import type { GroupError } from "../group/group.errors.js";
import type { HeldPaymentError } from "../held-payment/held-payment.errors.js";
import type { MarketplaceChargeError } from "../marketplace/marketplace-charge.errors.js";
import type { Entitlements } from "../membership/entitlements.js";
import type { MembershipError } from "../membership/membership.errors.js";
import type { MoneyError } from "../money/index.js";
import type { OwedPaymentError } from "../owed/owed-payment.errors.js";
import type { OwedRecoveryError } from "../owed/owed-recovery.errors.js";
import type { PaymentMethodError } from "../payment-method/payment-method.errors.js";
import type { PayoutSchedule } from "../payout/payout.js";
import type { PersonError } from "../person/person.errors.js";
import type { HeldPaymentPolicy } from "../policy/held-payment-policy.js";
import type { MarketplacePolicy } from "../policy/marketplace-policy.js";
import type { Clock } from "../ports/clock.js";
import type { IdGenerator } from "../ports/id-generator.js";
import type { PaymentMethodRepository } from "../ports/payment-method-repository.js";
import type {
  AuditLog,
  GroupRepository,
  HeldPaymentRepository,
  MarketplaceChargeRepository,
  PayoutRepository,
  PersonRepository,
  PlanRepository,
  RoundRepository,
  StorageError,
  SubscriptionRepository,
  UnitOfWork,
} from "../ports/storage.js";
import type { RoundError } from "../round/round.errors.js";

/** The ports every state-changing use case needs. */
export interface UseCaseDeps {
  readonly people: PersonRepository;
  readonly groups: GroupRepository;
  readonly rounds: RoundRepository;
  readonly heldPayments: HeldPaymentRepository;
  /** Recorded payouts of connected accounts, and the accounts a payout run pays. */
  readonly payouts: PayoutRepository;
  readonly marketplaceCharges: MarketplaceChargeRepository;
  /** Membership plans. */
  readonly plans: PlanRepository;
  /** Memberships (Stripe subscriptions). */
  readonly subscriptions: SubscriptionRepository;
  /** People's saved payment methods. */
  readonly paymentMethods: PaymentMethodRepository;
  readonly uow: UnitOfWork;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  /**
   * The audit log's read side, for what shows a round's timeline or a group's audit trail
   * (the API). The use cases that change state write audit lines through the unit of work.
   */
  readonly audit: AuditLog;
  /** The rules of held payments (dispute window, checkout lifetime, transfer retries); the defaults when absent. */
  readonly heldPaymentPolicy?: HeldPaymentPolicy;
  /** The payout schedule of connected accounts susu creates; `DEFAULT_PAYOUT_SCHEDULE` (manual) when absent. */
  readonly payoutSchedule?: PayoutSchedule;
  /** The rules of marketplace charges (refunds by who asks, transfer retries, fee minimums); the defaults when absent. */
  readonly marketplacePolicy?: MarketplacePolicy;
  /**
   * What people without a membership that grants more may do (`SUSU_DEFAULT_ENTITLEMENTS`);
   * `UNRESTRICTED_ENTITLEMENTS` (everything, today's behaviour) when absent.
   */
  readonly defaultEntitlements?: Entitlements;
  /**
   * The IANA time zone of a group created without one (`SUSU_DEFAULT_TIME_ZONE`); `UTC`
   * when absent.
   */
  readonly defaultTimeZone?: string;
}

/** A store that is every repository a use case needs (PrismaStore, InMemoryStore). */
export type UseCaseStore = PersonRepository &
  GroupRepository &
  RoundRepository &
  HeldPaymentRepository &
  PayoutRepository &
  MarketplaceChargeRepository &
  PlanRepository &
  SubscriptionRepository &
  PaymentMethodRepository &
  UnitOfWork &
  AuditLog;

/**
 * The {@link UseCaseDeps} on one store: `store` as every repository, the unit of work and the
 * audit log, with `clock` and `ids`; anything else in `rest` (a held-payment policy, a port of
 * its own) is set over them.
 */
export function useCaseDepsOn(
  store: UseCaseStore,
  rest: Pick<UseCaseDeps, "clock" | "ids"> & Partial<UseCaseDeps>,
): UseCaseDeps {
  return {
    people: store,
    groups: store,
    rounds: store,
    heldPayments: store,
    payouts: store,
    plans: store,
    subscriptions: store,
    marketplaceCharges: store,
    paymentMethods: store,
    uow: store,
    audit: store,
    ...rest,
  };
}

/** Something the use case looked for does not exist. */
export type NotFoundError = {
  readonly type: "not_found";
  readonly code:
    | "group_not_found"
    | "round_not_found"
    | "person_not_found"
    | "held_payment_not_found"
    | "marketplace_charge_not_found"
    | "plan_not_found"
    | "subscription_not_found";
  readonly message: string;
};

/** Builds a {@link NotFoundError}. */
export function notFound(
  what: "group" | "round" | "person" | "held_payment" | "marketplace_charge" | "plan" | "subscription",
  id: string,
): NotFoundError {
  return { type: "not_found", code: `${what}_not_found`, message: `no ${what.replaceAll("_", " ")} ${id}` };
}

/** Every way a use case can fail; each has a stable `code`. */
export type UseCaseError =
  | GroupError
  | PersonError
  | RoundError
  | HeldPaymentError
  | MarketplaceChargeError
  | MembershipError
  | PaymentMethodError
  | MoneyError
  | OwedPaymentError
  | OwedRecoveryError
  | StorageError
  | NotFoundError;
