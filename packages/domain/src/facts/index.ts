export {
  debitFact,
  type PaymentFact,
  type PaymentFactKind,
  type PaymentObjectFact,
  refundFact,
  roundPaymentRefs,
} from "./payment-fact.js";
export { type RoutedFact, routeToRound } from "./route-to-round.js";
