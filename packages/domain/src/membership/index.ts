/**
 * Platform memberships: plans (admin-managed, with entitlements and Stripe prices) and the
 * subscription aggregate, a state machine driven by Stripe Billing's events.
 *
 * @module
 */
export {
  type Entitlements,
  entitlementsOf,
  isEntitlements,
  MAX_OPEN_GROUPS_LIMIT,
  mayOpenAnotherGroup,
  UNRESTRICTED_ENTITLEMENTS,
  widerEntitlements,
} from "./entitlements.js";
export {
  MEMBERSHIP_ERROR_CODES,
  type MembershipError,
  type MembershipErrorCode,
  membershipError,
} from "./membership.errors.js";
export {
  PLAN_AGGREGATE,
  type PlanEffect,
  SUBSCRIPTION_AGGREGATE,
  SUBSCRIPTION_NOTIFICATION_TEMPLATES,
  SUBSCRIPTION_TICKET_REASONS,
  type SubscriptionAudience,
  type SubscriptionEffect,
  type SubscriptionEffectKind,
  type SubscriptionMetadata,
  type SubscriptionNotificationTemplate,
  type SubscriptionTicketReason,
} from "./membership-effect.js";
export { planIds, subscriptionIds } from "./membership-ids.js";
export {
  availablePrice,
  createPlan,
  decidePlan,
  PLAN_IGNORED_CODES,
  PLAN_INTERVALS,
  PLAN_PRICES_MAX,
  PLAN_TEXT_MAX_CHARS,
  type Plan,
  type PlanDecision,
  type PlanIgnoredCode,
  type PlanInput,
  type PlanInterval,
  type PlanPrice,
  type PlanPriceTerms,
  type PlanTerms,
  TRIAL_DAYS_MAX,
} from "./plan.js";
export {
  billedPaymentMethodOf,
  type ChangeAwaitingPayment,
  ENDED_SUBSCRIPTION_STATUSES,
  GRANTING_SUBSCRIPTION_STATUSES,
  grantsEntitlements,
  type InvoiceDispute,
  invoiceRefundedMinor,
  invoiceRevenueLeftMinor,
  isCurrentMembership,
  isSubscriptionEnded,
  isSubscriptionMoveAllowed,
  type OutsideRefund,
  type PendingPriceChange,
  SUBSCRIPTION_STATUSES,
  SUBSCRIPTION_TRANSITIONS,
  type SubscribedPrice,
  type Subscription,
  type SubscriptionInvoice,
  type SubscriptionInvoiceRefund,
  type SubscriptionStart,
  type SubscriptionStatus,
  trialDaysFor,
  type UnbookedRest,
  usedTrialOrPaid,
} from "./subscription.js";
export {
  createSubscription,
  decideSubscription,
  type NewSubscription,
  RETURN_URL_MAX_CHARS,
  type SubscriptionDecideContext,
  type SubscriptionDecision,
  statusFromSnapshot,
} from "./subscription-decide.js";
export {
  SUBSCRIPTION_IGNORED_CODES,
  type SubscriptionIgnored,
  type SubscriptionIgnoredCode,
} from "./subscription-ignored.js";
export {
  type InvoiceReport,
  type PendingStripeUpdate,
  STRIPE_SUBSCRIPTION_STATUSES,
  type StripeSubscriptionStatus,
  type SubscriptionInput,
  type SubscriptionInputType,
  type SubscriptionSnapshot,
} from "./subscription-input.js";
export type { SubscriptionTimer } from "./subscription-timer.js";
