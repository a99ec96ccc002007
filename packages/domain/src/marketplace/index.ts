/**
 * The marketplace charge: a customer pays for an activity's RSVP or purchase; the seller is
 * paid at once by a Stripe destination charge (the platform keeping an application fee), or
 * co-hosting sellers are each paid their share by a transfer funded by the charge (separate
 * charges and transfers); refunds and disputes take back from the sellers and the fee as
 * the platform's policy says.
 *
 * @module
 */
export {
  createMarketplaceCharge,
  decideMarketplaceCharge,
  disputedSellerPartsMinor,
  type MarketplaceChargeDecideContext,
  type MarketplaceChargeDecision,
} from "./decide.js";
export {
  MARKETPLACE_CHARGE_ERROR_CODES,
  MARKETPLACE_CHARGE_USE_CASE_ERROR_CODES,
  type MarketplaceChargeError,
  type MarketplaceChargeErrorCode,
  marketplaceChargeError,
} from "./marketplace-charge.errors.js";
export {
  type CreateMarketplaceCharge,
  isMarketplaceChargeEnded,
  MARKETPLACE_TEXT_MAX_CHARS,
  type MarketplaceCharge,
  type MarketplaceChargeMode,
  type MarketplaceChargeStatus,
  type MarketplaceCustomer,
  type MarketplaceDispute,
  type MarketplacePaymentMethod,
  type MarketplaceRefund,
  type MarketplaceSeller,
  marketplaceGivenBackMinor,
  marketplaceRefundableMinor,
  type NewMarketplaceSeller,
  newMarketplaceCharge,
  type SellerPayout,
  type SellerReversal,
  type SellerTransferAttempt,
  TERMINAL_MARKETPLACE_CHARGE_STATUSES,
} from "./marketplace-charge.js";
export {
  MARKETPLACE_CHARGE_AGGREGATE,
  MARKETPLACE_CHARGE_NOTIFICATION_TEMPLATES,
  MARKETPLACE_CHARGE_TICKET_REASONS,
  type MarketplaceChargeAudience,
  type MarketplaceChargeEffect,
  type MarketplaceChargeEffectKind,
  type MarketplaceChargeMetadata,
  type MarketplaceChargeNotificationTemplate,
  type MarketplaceChargeTicketReason,
} from "./marketplace-charge-effect.js";
export { marketplaceChargeIds } from "./marketplace-charge-ids.js";
export {
  MARKETPLACE_CHARGE_IGNORED_CODES,
  type MarketplaceChargeIgnored,
  type MarketplaceChargeIgnoredCode,
} from "./marketplace-charge-ignored.js";
export type { MarketplaceChargeInput, MarketplaceChargeInputType } from "./marketplace-charge-input.js";
export {
  allocateInSteps,
  type DestinationRefundParts,
  destinationRefundParts,
  MARKETPLACE_BASIS_POINTS,
  type MarketplaceFee,
  platformFeeMinor,
  type SellerSplit,
  splitAmongSellers,
  type TakeBackParts,
  takeBackParts,
} from "./marketplace-charge-money.js";
export type { MarketplaceChargeTimer } from "./marketplace-charge-timer.js";
export {
  isMarketplaceChargeMoveAllowed,
  MARKETPLACE_CHARGE_TRANSITIONS,
} from "./marketplace-charge-transitions.js";
