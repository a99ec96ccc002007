export {
  debitFact,
  type FeeRefundSeen,
  heldPaymentRefs,
  marketplaceChargeRefs,
  type PaymentFact,
  type PaymentFactKind,
  type PaymentObjectFact,
  refundFact,
  roundPaymentRefs,
} from "./payment-fact.js";
export { checkoutInput, type HeldPaymentRoute, routeToHeldPayment } from "./route-to-held-payment.js";
export { type MarketplaceChargeRoute, routeToMarketplaceCharge } from "./route-to-marketplace-charge.js";
export { type RoutedFact, routeToRound } from "./route-to-round.js";
