import type { PaymentFact, ReportedPaymentMethod } from "@susu/domain";
import type Stripe from "stripe";

/** `payment_method.*` */
export type PaymentMethodEvent = Extract<Stripe.Event, { type: `payment_method.${string}` }>;

/** Whether the event is about a payment method. */
export function isPaymentMethodEvent(event: Stripe.Event): event is PaymentMethodEvent {
  return event.type.startsWith("payment_method.");
}

/**
 * What a `payment_method.*` event means: `attached`, `detached` and `automatically_updated`
 * (the card network changed a saved card's expiry or number) are news of the method, read
 * again from Stripe when routed, so their order does not matter. Others say nothing susu keeps.
 */
export function paymentMethodFact(
  event: PaymentMethodEvent,
): { readonly fact: PaymentFact } | { readonly ignored: string } {
  const pm = event.data.object;
  switch (event.type) {
    case "payment_method.attached":
    case "payment_method.detached":
    case "payment_method.automatically_updated": {
      // A detached method no longer names its customer; the event's previous attributes do.
      const previous = (event.data.previous_attributes as { customer?: unknown } | undefined)?.customer;
      const customer = customerIdOf(pm.customer) ?? (typeof previous === "string" ? previous : undefined);
      return {
        fact: {
          kind: "payment_method_changed",
          paymentMethodId: pm.id,
          ...(customer !== undefined ? { customerId: customer } : {}),
        },
      };
    }
    default:
      return { ignored: "only attached, detached and network updates change a saved method" };
  }
}

function customerIdOf(customer: Stripe.PaymentMethod["customer"]): string | undefined {
  if (customer === null) return undefined;
  return typeof customer === "string" ? customer : customer.id;
}

/**
 * A Stripe payment method in the domain's words: the type susu saves (`other` for the rest),
 * its customer, and no more of a number than the last four digits (and a BECS account's BSB).
 */
export function reportedPaymentMethodOf(pm: Stripe.PaymentMethod): ReportedPaymentMethod {
  const customerId = customerIdOf(pm.customer);
  const common = {
    paymentMethodId: pm.id,
    ...(customerId !== undefined ? { customerId } : {}),
    createdAt: pm.created * 1000,
  };
  if (pm.type === "card" && pm.card)
    return {
      ...common,
      type: "card",
      card: {
        brand: pm.card.brand,
        last4: pm.card.last4,
        expMonth: pm.card.exp_month,
        expYear: pm.card.exp_year,
      },
    };
  if (pm.type === "au_becs_debit" && pm.au_becs_debit?.last4 && pm.au_becs_debit.bsb_number)
    return {
      ...common,
      type: "au_becs_debit",
      bankAccount: { bsbNumber: pm.au_becs_debit.bsb_number, last4: pm.au_becs_debit.last4 },
    };
  return { ...common, type: "other" };
}
