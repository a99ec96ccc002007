// Which membership invoice a payment paid. Stripe Billing's PaymentIntents and charges carry no
// susu metadata, and since API version 2025-03-31 (basil) neither names its invoice: the link
// is the invoice's InvoicePayment, listed by payment
// (`GET /v1/invoice_payments?payment[type]=payment_intent&payment[payment_intent]=pi_…`). The
// invoice names its subscription and that subscription's metadata (`parent.subscription_details`),
// where susu wrote its own id.
import type { GatewayError, PaymentReferences } from "@susu/domain";
import { okAsync, ResultAsync } from "neverthrow";
import type Stripe from "stripe";
import { classifyStripeError } from "./stripe-errors.js";
import { idOf } from "./stripe-mappings.js";

/**
 * The invoice a payment (a PaymentIntent, or the charge it made) paid, as a susu membership's
 * references (`subscriptionId`, `invoiceId`); or why there is none.
 */
export type InvoiceReferences = { readonly refs: PaymentReferences } | { readonly unresolved: string };

/**
 * The metadata key of susu's subscription id on what memberships create at Stripe
 * (`BILLING_METADATA_KEYS.subscriptionId` in stripe-billing-gateway.ts, which imports this
 * module's importer; a test pins that they agree).
 */
export const SUBSCRIPTION_METADATA_KEY = "susu_subscription_id";

function call<T>(request: () => Promise<T>): ResultAsync<T, GatewayError> {
  return ResultAsync.fromPromise((async () => request())(), classifyStripeError);
}

/**
 * The susu membership and invoice a PaymentIntent (or, failing that, a charge's PaymentIntent)
 * paid; `unresolved` with why when it paid no invoice, or the invoice's subscription is not
 * one susu made (its metadata names no susu subscription).
 */
export function invoiceReferencesOf(
  stripe: Stripe,
  ids: { readonly paymentIntentId?: string; readonly chargeId?: string },
): ResultAsync<InvoiceReferences, GatewayError> {
  const intent: ResultAsync<string | undefined, GatewayError> =
    ids.paymentIntentId !== undefined
      ? okAsync(ids.paymentIntentId)
      : ids.chargeId !== undefined
        ? call(() => stripe.charges.retrieve(ids.chargeId as string)).map((c) => idOf(c.payment_intent))
        : okAsync(undefined);
  return intent.andThen((paymentIntentId) => {
    if (paymentIntentId === undefined)
      return okAsync<InvoiceReferences, GatewayError>({
        unresolved: `charge ${ids.chargeId ?? "?"} has no PaymentIntent, so paid no invoice`,
      });
    return call(() =>
      stripe.invoicePayments.list({
        payment: { type: "payment_intent", payment_intent: paymentIntentId },
        limit: 1,
        expand: ["data.invoice"],
      }),
    ).andThen((page) => {
      const payment = page.data[0];
      if (payment === undefined)
        return okAsync<InvoiceReferences, GatewayError>({
          unresolved: `payment ${paymentIntentId} paid no invoice (no invoice payment names it)`,
        });
      const invoice: ResultAsync<Stripe.Invoice | Stripe.DeletedInvoice, GatewayError> =
        typeof payment.invoice === "string"
          ? call(() => stripe.invoices.retrieve(payment.invoice as string))
          : okAsync(payment.invoice);
      return invoice.map((inv): InvoiceReferences => {
        if ("deleted" in inv && inv.deleted === true)
          return { unresolved: `payment ${paymentIntentId}'s invoice ${inv.id} was deleted` };
        const details = (inv as Stripe.Invoice).parent?.subscription_details;
        const subscriptionId = details?.metadata?.[SUBSCRIPTION_METADATA_KEY];
        if (subscriptionId === undefined || subscriptionId === "")
          return {
            unresolved:
              `payment ${paymentIntentId} paid invoice ${inv.id}, whose subscription ` +
              `${idOf(details?.subscription) ?? "(none)"} is not a susu membership`,
          };
        return { refs: { subscriptionId, invoiceId: inv.id } };
      });
    });
  });
}
