import { createRoute, z } from "@hono/zod-openapi";
import {
  CURRENCY_CODES,
  type CurrencyCode,
  isBookedTransfer,
  type MarketplaceCharge,
  type MarketplaceChargeStatus,
  type MarketplaceFee,
  marketplaceRefundableMinor,
  paymentOwed,
  type UseCaseDeps,
  type UseCaseError,
  useCases,
} from "@susu/domain";
import type { Context } from "hono";
import type { Result, ResultAsync } from "neverthrow";
import type { Principal } from "../http/auth.js";
import { paymentAttemptRefused, paymentAttemptResponses } from "../http/payment-attempts.js";
import { NUL_FREE } from "../input.js";
import { problem, serverProblem, useCaseProblem } from "../problem.js";
import {
  isPlatformAdmin,
  isPlatformOperator,
  type MarketplaceChargeAccess,
  type MarketplaceChargeFilter,
  marketplaceChargeAccess,
  marketplaceChargeListScopes,
  PERSON_ONLY_DETAIL,
  refuseChargingCustomer,
  refuseMarketplaceCharge,
  refusePayingAsItself,
} from "./authz.js";
import type { V1Deps, V1Env } from "./context.js";
import { v1Router } from "./context.js";
import {
  OwedOutsideStripeSchema,
  OwedPaymentRequestSchema,
  OwedRecoveryRequestSchema,
  owedPaymentRefusals,
  owedRecoveryRefusals,
  owedView,
} from "./owed.js";
import { type Page, PageQuerySchema, pageSchema } from "./pagination.js";
import {
  body,
  commandRoutes,
  feeTermsSchema,
  paymentRefusals,
  refundAmountSchema,
} from "./payment-routes.js";
import {
  commonResponses,
  IdSchema,
  json,
  MoneySchema,
  orNull,
  PersonIdSchema,
  postResponses,
  problemExamples,
  TimestampSchema,
} from "./schemas.js";
import { listVisibleUnion } from "./visible-list.js";

// Marketplace charges under /v1: a customer pays for an activity's RSVP or purchase and the
// seller is paid at once (a Stripe destination charge, the platform keeping an application
// fee), or co-hosting sellers are each paid their share (a split: separate charges and
// transfers). The customer (or a platform service acting for them) asks for the charge with
// a saved card, charged off session, or a new card the client confirms with the
// PaymentIntent's client secret, which this API gives once Stripe has made the payment (and
// again when 3-D Secure asks for the customer). Who may see and do what is authz.ts's
// (refuseMarketplaceCharge, marketplaceChargeListScopes); the rules of the charge are the domain's.

const iso = (at: number | undefined) => (at === undefined ? null : new Date(at).toISOString());

/** Every status a marketplace charge can be in, for the schemas (checked against the domain's type). */
const MARKETPLACE_CHARGE_STATUSES = [
  "awaiting_payment",
  "requires_action",
  "processing",
  "paying_sellers",
  "transfer_blocked",
  "settled",
  "refunding",
  "refunded",
  "charged_back",
  "payment_failed",
  "expired",
] as const satisfies readonly MarketplaceChargeStatus[];
const everyStatusListed: [MarketplaceChargeStatus] extends [(typeof MARKETPLACE_CHARGE_STATUSES)[number]]
  ? true
  : false = true;
void everyStatusListed;

/** Most sellers a request may name (the policy's own maximum, 10 by default, is checked by the domain). */
const SELLERS_MAX = 100;
/** Largest weight of a seller in a split. */
const WEIGHT_MAX = 1_000_000;

/** Text a person reads (a description, a reason): trimmed, 1–500 characters, no NUL. */
const TextSchema = z.string().trim().min(1).max(500).refine(NUL_FREE, "no NUL characters");

const ChargeIdParam = z.object({
  marketplaceChargeId: IdSchema.openapi({
    param: { name: "marketplaceChargeId", in: "path" },
    example: "mc_1",
  }),
});

// ─── The view ──────────────────────────────────────────────────────────────

/** Where the customer's payment stands, from the charge's status. */
type PaymentStage = "pending" | "requires_action" | "processing" | "succeeded" | "failed" | "expired";

function paymentStageOf(charge: MarketplaceCharge): PaymentStage {
  switch (charge.status) {
    case "awaiting_payment":
      return "pending";
    case "requires_action":
      return "requires_action";
    case "processing":
      return "processing";
    case "payment_failed":
      // A payment recorded as failed whose money arrived after all is refunded at once.
      return charge.capturedAt === undefined ? "failed" : "succeeded";
    case "expired":
      // Never confirmed in time: cancelled at Stripe (a late success is refunded at once).
      return charge.capturedAt === undefined ? "expired" : "succeeded";
    default:
      return "succeeded";
  }
}

const MarketplaceChargeSchema = z
  .object({
    object: z.literal("marketplace_charge"),
    id: z.string().openapi({ example: "mc_1" }),
    clientReference: z.string().openapi({ example: "rsvp_42" }),
    requestedBy: z.string().openapi({
      description: "The principal (token subject) that asked for the charge",
      example: "app_events",
    }),
    activityId: z.string().openapi({ example: "act_pottery_7" }),
    purpose: z.enum(["rsvp", "purchase"]),
    description: z.string(),
    status: z.enum(MARKETPLACE_CHARGE_STATUSES),
    mode: z.enum(["destination", "split"]).openapi({
      description:
        "`destination`: one seller, paid by the charge itself (the platform keeps an application fee); `split`: co-hosts, each paid by a transfer of their share",
    }),
    onBehalfOf: z
      .boolean()
      .openapi({ description: "The seller is the merchant of record (`on_behalf_of`); destination only" }),
    amount: MoneySchema,
    fee: z
      .object({
        kind: z.enum(["rate", "fixed"]),
        rateBps: z.number().int().nullable().openapi({ description: "The rate asked for, in basis points" }),
        fixedAmount: orNull(MoneySchema).openapi({ description: "The fixed fee asked for" }),
        amount: MoneySchema.openapi({
          description: "The platform's fee on the whole amount, after the currency's minimum",
        }),
      })
      .openapi("MarketplaceChargeFee"),
    refundable: MoneySchema.openapi({
      description: "What is left to refund (zero until the payment is captured)",
    }),
    customer: z.object({ id: z.string().openapi({ example: "cy" }), email: z.string() }),
    sellers: z.array(
      z.object({
        id: z.string().openapi({ example: "sam" }),
        weight: z.number().int(),
        share: MoneySchema.openapi({
          description: "What the seller is paid: their share of the amount minus the fee",
        }),
        fee: MoneySchema.openapi({ description: "The seller's part of the platform's fee" }),
      }),
    ),
    paymentMethod: z.object({
      type: z.enum(["saved_card", "new_card"]),
      paymentMethodId: z.string().nullable().openapi({ example: "pm_123" }),
    }),
    payment: z
      .object({
        status: z
          .enum(["pending", "requires_action", "processing", "succeeded", "failed", "expired"])
          .openapi({
            description:
              "`pending` until Stripe has made the PaymentIntent (moments after creation); `requires_action` while the customer must confirm a new card or pass 3-D Secure; `expired` when they did not in the platform's time (`SUSU_MARKETPLACE_ACTION_EXPIRY_SECONDS`, 24 hours by default): the PaymentIntent is cancelled and the charge ends",
          }),
        clientSecret: z.string().nullable().openapi({
          description:
            "The PaymentIntent's client secret, for Stripe.js to confirm the card or run 3-D Secure: only while `requires_action`, and only to the charge's requester and its customer",
          example: "pi_1_secret_abc",
        }),
        failureCode: z.string().nullable().openapi({ example: "card_declined" }),
      })
      .openapi("MarketplaceChargePayment"),
    createdAt: z.string().openapi({ example: "2030-01-03T09:00:00.000Z" }),
    capturedAt: TimestampSchema,
    endedAt: TimestampSchema,
    payouts: z.array(
      z.object({
        sellerId: z.string(),
        failures: z.number().int(),
        parked: z.boolean().openapi({ description: "Parked with a ticket until an operator retries" }),
        frozenBy: z.string().nullable().openapi({
          description:
            "The open dispute this seller's next transfer waits for: it came due while the charge was disputed, and is asked for once no dispute is open",
          example: null,
        }),
      }),
    ),
    transfers: z.array(
      z.object({
        sellerId: z.string(),
        attempt: z.number().int(),
        amount: MoneySchema,
        status: z.enum(["requested", "created", "failed", "unknown"]),
        failureCode: z.string().nullable().openapi({
          description:
            "Why it failed; `another_attempt_landed`: written off because an earlier attempt, given up on, landed late and was booked as the seller's payment",
        }),
        booked: z.boolean().openapi({
          description:
            "Whether the books count it as the seller's payment: false for one that landed late and could not be booked (the seller paid twice, or a lost dispute took their share first; an `unexpected_money` ticket names it)",
        }),
      }),
    ),
    refunds: z.array(
      z.object({
        number: z.number().int(),
        amount: MoneySchema,
        initiatedBy: z.enum(["customer", "platform"]),
        reason: z.string(),
        reverseTransfer: z.boolean(),
        refundApplicationFee: z.boolean(),
        sellerParts: z
          .array(MoneySchema)
          .openapi({ description: "Reversed from each seller, in the order of `sellers`" }),
        feePart: MoneySchema,
        platformFunded: MoneySchema,
        full: z.boolean(),
        status: z
          .enum([
            "reversing",
            "requested",
            "succeeded",
            "failed",
            "superseded_by_dispute",
            "owed_outside_stripe",
          ])
          .openapi({
            description:
              "`superseded_by_dispute`: the refund never reached the customer (Stripe refused it, e.g. `charge_disputed`, or a seller's reversal for it failed) and a dispute was lost: the customer's bank gave the money back instead. `owed_outside_stripe`: what such a refund asked for beyond the loss, still owed to the customer; Stripe refuses every refund of a charge charged back, so it is never asked of Stripe — likewise a refund Stripe failed because the card can no longer take money (`failureCode` `lost_or_stolen_card` or `expired_or_canceled_card`: Stripe refunds only to the card charged, so a retry would fail too): it is booked as owed to the customer (its sellers' parts reversed as the refund's would have been), and the platform's admins pay it by other means (a `refund_owed` ticket names it)",
          }),
        attempts: z.number().int(),
        failureCode: z.string().nullable(),
        supersededBy: z
          .string()
          .nullable()
          .openapi({ description: "The lost dispute that superseded the refund", example: "dp_1" }),
      }),
    ),
    reversals: z.array(
      z.object({
        number: z.number().int(),
        sellerId: z.string(),
        amount: MoneySchema,
        refundNumber: z.number().int().nullable(),
        disputeId: z.string().nullable(),
        status: z.enum(["requested", "reversed", "failed"]),
        failureCode: z.string().nullable(),
      }),
    ),
    disputes: z.array(
      z.object({
        id: z.string().openapi({ example: "dp_1" }),
        amount: MoneySchema,
        reason: z.string(),
        status: z.enum(["open", "won", "lost"]),
        stripeStatus: z.string().openapi({ example: "needs_response" }),
        evidenceDueBy: TimestampSchema,
        lost: orNull(MoneySchema).openapi({
          description:
            "What a lost dispute took back (beyond what was left to give back: out of what was owed to the customer outside Stripe, which it lessened)",
        }),
      }),
    ),
    owedOutsideStripe: OwedOutsideStripeSchema,
    version: z.number().int(),
  })
  .openapi("MarketplaceCharge");

/**
 * A marketplace charge as `access` sees it: amounts with their currency, ISO times, no
 * Stripe object ids but disputes'. The client secret acts as the customer (it confirms
 * their card): only the requester and the customer get it, never a seller or an operator.
 */
export function marketplaceChargeView(charge: MarketplaceCharge, access: MarketplaceChargeAccess) {
  const money = (amountMinor: number) => ({ amountMinor, currency: charge.currency });
  const mayConfirm = access === "requester" || access === "customer";
  return {
    object: "marketplace_charge" as const,
    id: charge.id,
    clientReference: charge.clientReference,
    requestedBy: charge.requestedBy,
    activityId: charge.activityId,
    purpose: charge.purpose,
    description: charge.description,
    status: charge.status,
    mode: charge.mode,
    onBehalfOf: charge.onBehalfOf,
    amount: money(charge.amountMinor),
    fee: {
      kind: charge.fee.kind,
      rateBps: charge.fee.kind === "rate" ? charge.fee.basisPoints : null,
      fixedAmount: charge.fee.kind === "fixed" ? money(charge.fee.amountMinor) : null,
      amount: money(charge.feeMinor),
    },
    refundable: money(marketplaceRefundableMinor(charge)),
    customer: { id: charge.customer.id, email: charge.customer.email },
    sellers: charge.sellers.map((s) => ({
      id: s.id,
      weight: s.weight,
      share: money(s.shareMinor),
      fee: money(s.feeMinor),
    })),
    paymentMethod:
      charge.paymentMethod.kind === "saved_card"
        ? {
            type: "saved_card" as const,
            paymentMethodId: mayConfirm ? charge.paymentMethod.paymentMethodId : null,
          }
        : { type: "new_card" as const, paymentMethodId: null },
    payment: {
      status: paymentStageOf(charge),
      clientSecret: mayConfirm ? (charge.clientSecret ?? null) : null,
      failureCode: charge.failureCode ?? null,
    },
    createdAt: new Date(charge.createdAt).toISOString(),
    capturedAt: iso(charge.capturedAt),
    endedAt: iso(charge.endedAt),
    payouts: charge.payouts.map((p) => ({
      sellerId: p.sellerId,
      failures: p.failures,
      parked: p.parked,
      frozenBy: p.frozenBy ?? null,
    })),
    transfers: charge.transfers.map((t) => ({
      sellerId: t.sellerId,
      attempt: t.attempt,
      amount: money(t.amountMinor),
      status: t.status,
      failureCode: t.failureCode ?? null,
      booked: isBookedTransfer(t),
    })),
    refunds: charge.refunds.map((r) => ({
      number: r.number,
      amount: money(r.amountMinor),
      initiatedBy: r.initiatedBy,
      reason: r.reason,
      reverseTransfer: r.rules.reverseTransfer,
      refundApplicationFee: r.rules.refundApplicationFee,
      sellerParts: r.parts.sellerPartsMinor.map(money),
      feePart: money(r.parts.feePartMinor),
      platformFunded: money(r.parts.platformFundedMinor),
      full: r.full,
      status: r.status,
      attempts: r.attempts,
      failureCode: r.failureCode ?? null,
      supersededBy: r.supersededBy ?? null,
    })),
    reversals: charge.reversals.map((v) => ({
      number: v.number,
      sellerId: v.sellerId,
      amount: money(v.amountMinor),
      refundNumber: v.forRefund ?? null,
      disputeId: v.forDisputeId ?? null,
      status: v.status,
      failureCode: v.failureCode ?? null,
    })),
    disputes: charge.disputes.map((d) => ({
      id: d.id,
      amount: money(d.amountMinor),
      reason: d.reason,
      status: d.status,
      stripeStatus: d.stripeStatus,
      evidenceDueBy: iso(d.evidenceDueBy),
      lost:
        d.lostMinor === undefined
          ? null
          : money(d.lostMinor + (d.owedTakenMinor ?? 0) + (d.overpaidMinor ?? 0)),
    })),
    owedOutsideStripe: owedView(paymentOwed(charge)),
    version: charge.version,
  };
}

/** What {@link marketplaceChargeView} returns. */
export type MarketplaceChargeView = ReturnType<typeof marketplaceChargeView>;

// ─── Requests ──────────────────────────────────────────────────────────────

const FeeSchema = feeTermsSchema(
  "MarketplaceChargeFeeTerms",
  "The platform's fee: `{rateBps}` or `{amountMinor}`, raised to the currency's minimum; it must leave every seller something",
);

const PaymentMethodSchema = z
  .discriminatedUnion("type", [
    z.strictObject({
      type: z.literal("saved_card"),
      paymentMethodId: IdSchema.openapi({
        description:
          "A card the customer saved through susu (`POST /v1/people/me/payment-methods/setup`, listed by `GET /v1/people/me/payment-methods`) and has not removed: charged at once, off session. Anything else is 404 `payment_method_not_found`, for a customer with no Stripe customer too (a `new_card` for them is 409 `customer_not_onboarded`); a card past its expiry (the last day of its expiry month, UTC) is 409 `payment_method_expired`, nothing stored and Stripe not asked",
        example: "pm_123",
      }),
    }),
    z.strictObject({ type: z.literal("new_card") }),
  ])
  .openapi("MarketplacePaymentMethod", {
    description:
      "`saved_card` charges a card the customer saved, off session; `new_card` makes a PaymentIntent the client confirms with its client secret (`payment.clientSecret`)",
    example: { type: "saved_card", paymentMethodId: "pm_123" },
  });

const CreateMarketplaceChargeSchema = z
  .object({
    clientReference: z.string().trim().min(1).max(255).refine(NUL_FREE, "no NUL characters").openapi({
      description: "Your own reference (an RSVP or order id): one charge per caller and reference",
      example: "rsvp_42",
    }),
    activityId: IdSchema.openapi({ example: "act_pottery_7" }),
    purpose: z.enum(["rsvp", "purchase"]).openapi({ example: "rsvp" }),
    amountMinor: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).openapi({ example: 10000 }),
    currency: z.enum(CURRENCY_CODES as [CurrencyCode, ...CurrencyCode[]]).openapi({ example: "AUD" }),
    description: TextSchema.openapi({ example: "Pottery class, Saturday 10:00" }),
    customer: z.object({
      personId: PersonIdSchema.openapi({
        description:
          "Who pays: a susu person with a Stripe customer; yourself unless you are a platform service (which names one of its users, never itself: 403 `person_only`)",
        example: "cy",
      }),
      email: z.email().max(254).openapi({ example: "cy@example.com" }),
    }),
    sellers: z
      .array(
        z.strictObject({
          personId: PersonIdSchema.openapi({
            description: "A seller: a susu person with a connected account",
            example: "sam",
          }),
          weight: z
            .number()
            .int()
            .positive()
            .max(WEIGHT_MAX)
            .optional()
            .openapi({ description: "Their weight in a split (default 1)", example: 1 }),
        }),
      )
      .min(1)
      .max(SELLERS_MAX)
      .openapi({
        description: "One seller: a destination charge; several (co-hosts): a split of the amount by weight",
      }),
    fee: FeeSchema,
    paymentMethod: PaymentMethodSchema,
    onBehalfOf: z.boolean().optional().openapi({
      description:
        "The one seller is the merchant of record (Stripe `on_behalf_of`); destination charges only",
      example: false,
    }),
  })
  .openapi("CreateMarketplaceCharge");

const RefundSchema = z
  .object({
    amountMinor: refundAmountSchema(),
    reason: TextSchema.optional().openapi({ example: "the customer cannot come" }),
    initiatedBy: z.enum(["customer", "platform"]).optional().openapi({
      description:
        "Whose refund it is, which decides by the platform's policy whether the sellers' transfers are reversed and the fee given back: `customer` (the requester, the customer, or an operator on their word) or `platform` (operators only). Default: `customer`, or `platform` for an operator who is neither the requester nor the customer",
    }),
  })
  .openapi("RefundMarketplaceCharge");

const ListQuerySchema = PageQuerySchema.extend({
  status: z.enum(MARKETPLACE_CHARGE_STATUSES).optional(),
  seller: PersonIdSchema.optional().openapi({
    description: "Only the charges that pay this seller (a person id)",
  }),
  customer: PersonIdSchema.optional().openapi({
    description: "Only the charges this customer paid (a person id)",
  }),
});

// ─── Documented refusals ───────────────────────────────────────────────────

const notFound = problemExamples(404, "Not found, or not yours to see.", {
  marketplace_charge_not_found: "no marketplace charge mc_1",
});
const { operatorOnly, conflicts, unprocessable } = paymentRefusals(
  "charge",
  "marketplace charge mc_1 was changed by someone else; load it again and retry",
);

// ─── Routes ────────────────────────────────────────────────────────────────

const TAGS = ["marketplace charges"];

const createRouteDef = createRoute({
  method: "post",
  path: "/marketplace-charges",
  tags: TAGS,
  summary:
    "Charge a customer for an activity, paying its seller at once or splitting among co-hosts (the customer, or a platform service for them: never as its own subject, 403 `person_only`)",
  description:
    "Stripe makes the PaymentIntent moments after (`payment.status` leaves `pending`): a saved card is charged off session; a new card, or 3-D Secure, leaves the charge `requires_action` with `payment.clientSecret` for Stripe.js. One charge per caller and `clientReference`: the same request again answers 200 with the charge made the first time; the reference with other terms is 409 `client_reference_reused`. Payment attempts are limited per person (the caller unless a `service` token, and the customer), per saved card and per customer email: over a limit, 429 `payment_attempts_exceeded` with `Retry-After`, and nothing is stored; the same request again is not counted twice.",
  security: [{ bearer: [] }],
  request: { body: body(CreateMarketplaceChargeSchema) },
  responses: {
    201: json(MarketplaceChargeSchema, "The charge, awaiting payment"),
    200: json(
      MarketplaceChargeSchema,
      "The charge made the first time for this reference (the same request again)",
    ),
    ...postResponses,
    ...paymentAttemptResponses,
    ...problemExamples(
      403,
      "Not allowed to charge this customer, or a service token named its own subject as the customer or a seller.",
      {
        not_customer: "only the customer themselves or a platform service may charge a customer",
        person_only: PERSON_ONLY_DETAIL.payment,
      },
    ),
    ...problemExamples(
      404,
      "A `saved_card` that is not a card the customer saved through susu and still has (an id never saved, such as Stripe's test token `pm_card_visa`, somebody else's, a removed card, a BECS account; any, for a customer with no Stripe customer, who has saved none). Nothing is stored, Stripe is not asked and the attempt is not counted.",
      { payment_method_not_found: "cy has no saved payment method pm_doesnotexist" },
    ),
    ...conflicts({
      client_reference_reused:
        "client reference rsvp_42 is marketplace charge mc_1, asked for with other terms",
      // A new card only: a saved card named for such a customer is 404 payment_method_not_found.
      customer_not_onboarded: "customer cy has no Stripe customer to charge",
      payment_method_expired:
        "card pm_123 has expired (expired 12/2025) and cannot be charged: a marketplace charge needs a card that can; save another card",
      seller_not_onboarded: "seller sam has no connected account to be paid into",
    }),
    ...unprocessable({
      invalid_amount: "the amount is below the currency's minimum charge",
      currency_not_settled:
        "the platform settles in AUD, not USD: the sellers' transfers and their reversals could not be made in the charge's currency",
      invalid_fee: "a fee of 10000 AUD leaves the sellers nothing of 10000",
      invalid_split: "a seller appears twice",
      invalid_marketplace_charge:
        "on_behalf_of names one merchant of record: only a destination charge (one seller) can carry it",
      customer_not_found: "no person cy",
      seller_not_found: "no person sam",
    }),
  },
});

const listRouteDef = createRoute({
  method: "get",
  path: "/marketplace-charges",
  tags: TAGS,
  summary:
    "Marketplace charges, newest first: those you asked for, paid, or that pay you (platform operators: all)",
  security: [{ bearer: [] }],
  request: { query: ListQuerySchema },
  responses: {
    200: json(pageSchema(MarketplaceChargeSchema, "MarketplaceChargeList"), "A page of marketplace charges"),
    ...commonResponses,
  },
});

const getRouteDef = createRoute({
  method: "get",
  path: "/marketplace-charges/{marketplaceChargeId}",
  tags: TAGS,
  summary:
    "A marketplace charge with its payment (client secret while it requires action), sellers' shares, transfers, refunds, reversals and disputes (its requester, customer, sellers, platform operators)",
  security: [{ bearer: [] }],
  request: { params: ChargeIdParam },
  responses: { 200: json(MarketplaceChargeSchema, "The charge"), ...commonResponses, ...notFound },
});

/** A command on one charge: `POST /marketplace-charges/{marketplaceChargeId}/<action>`, answering the charge as it now stands. */
const commandRoute = commandRoutes({
  collection: "/marketplace-charges",
  param: "marketplaceChargeId",
  params: ChargeIdParam,
  schema: MarketplaceChargeSchema,
  tags: TAGS,
  notFound,
});

const NOT_CAPTURED = { payment_not_captured: "the charge is awaiting_payment" };
const ENDED = { charge_ended: "the charge is refunded" };
const DISPUTED = { payment_disputed: "the charge is disputed: Stripe cannot refund it" };
const CHARGED_BACK = {
  charge_disputed: "dispute dp_1 was lost: Stripe refuses every refund of a charge charged back",
};
const REFUND_IN_FLIGHT = { refund_in_flight: "a refund is unfinished" };

const refundRouteDef = commandRoute({
  action: "refunds",
  summary:
    "Refund the customer, wholly or in part (the requester or customer for the customer; platform operators for either)",
  description:
    "`amountMinor` refunds part of what is left; without it (or without a body) everything left is refunded and the charge ends `refunded`. Who the refund is for (`initiatedBy`) decides by the platform's policy whether the sellers' transfers are reversed (`reverse_transfer`) and the fee given back (`refund_application_fee`).",
  request: { body: body(RefundSchema, false) },
  answers: "The charge, with the new refund",
  refusals: {
    ...problemExamples(403, "Allowed to see, not to do.", {
      not_requester:
        "only the one who asked for the charge (a client app, or the customer who paid for themselves) or platform admins may refund it for the customer",
      operator_only: "only platform operators may do this",
      admin_only: "only platform admins may refund for the platform (a service token may not)",
    }),
    ...conflicts({
      ...NOT_CAPTURED,
      ...ENDED,
      ...REFUND_IN_FLIGHT,
      ...DISPUTED,
      ...CHARGED_BACK,
      nothing_to_refund: "everything was refunded or taken back",
      transfers_pending: "seller sam's transfer has not landed yet",
    }),
    ...unprocessable({ invalid_refund_amount: "a refund is a whole multiple of 1 in (0, 10000] AUD" }),
  },
});

const retryRefundRouteDef = commandRoute({
  action: "refunds/retry",
  summary:
    "Retry the refund that failed, once the cause is fixed (platform operators). After a lost dispute Stripe refuses every refund of the charge: a refund that never reached the customer is then owed outside Stripe instead (`owed_outside_stripe`, a `refund_owed` ticket), never asked of Stripe again. A refund that failed because the card can no longer take money (`lost_or_stolen_card`, `expired_or_canceled_card`) is owed outside Stripe when it fails and is not retried (`no_failed_refund`); every other failure (e.g. `insufficient_funds` of the platform's balance, `declined`, `unknown`) waits for this retry",
  answers: "The charge, its refund asked for again (or owed outside Stripe after a lost dispute)",
  refusals: {
    ...operatorOnly,
    ...conflicts({ no_failed_refund: "no refund failed", ...DISPUTED, ...CHARGED_BACK }),
  },
});

const retryTransfersRouteDef = commandRoute({
  action: "transfers/retry",
  summary:
    "Retry every parked seller transfer of a split, once the cause is fixed; an attempt of unknown outcome is looked up on Stripe first (by its idempotency key, in the transfer group): adopted if it landed, written off and retried if not (platform operators)",
  answers: "The charge, its parked transfers asked for again",
  refusals: { ...operatorOnly, ...conflicts({ no_blocked_transfer: "no seller's transfer is parked" }) },
});

const retryReversalRouteDef = commandRoute({
  action: "reversals/retry",
  summary:
    "Ask again for every reversal of a seller's transfer that failed, once their balance covers it (platform operators)",
  answers: "The charge, its failed reversals asked for again",
  refusals: { ...operatorOnly, ...conflicts({ no_failed_reversal: "no reversal failed" }) },
});

const owedPaymentRouteDef = commandRoute({
  action: "owed-payments",
  summary:
    "Record paying the customer outside Stripe (a bank transfer, cash) part or all of what is owed to them after a lost dispute (platform admins)",
  description:
    "What is owed is the charge's refunds `owed_outside_stripe` (Stripe refuses a refund of a charge charged back). The amount moves from `marketplace:<c>:owed_to_customer` to `marketplace:<c>:paid_outside_stripe` in the ledger, the customer is told (`owed_paid_outside_stripe`), and once nothing is left the `refund_owed` ticket is resolved. Send an `Idempotency-Key`: the same key again answers what the first request did, and records nothing more. A refusal changes nothing.",
  request: { body: body(OwedPaymentRequestSchema) },
  answers: "The charge, with the new payment in `owedOutsideStripe`",
  refusals: {
    ...operatorOnly,
    ...conflicts(owedPaymentRefusals.nothingOwed),
    ...unprocessable(owedPaymentRefusals.unprocessable),
  },
});

const owedRecoveryRouteDef = commandRoute({
  action: "owed-recoveries",
  summary:
    "Record that the customer paid back (outside Stripe) part or all of what they owe back: money a lost dispute's bank gave them that a platform admin had already paid them outside Stripe (platform admins)",
  description:
    "What the customer owes back is `owedOutsideStripe.owedBackByCustomer` (booked on `marketplace:<c>:owed_by_customer` when the dispute was lost). The amount moves from `marketplace:<c>:owed_by_customer` back to `marketplace:<c>:paid_outside_stripe` (the payment outside Stripe in reverse: the money came back by the way it left), and once nothing is owed back the `owed_overpaid` ticket of each dispute that booked it is resolved. Send an `Idempotency-Key`: the same key again answers what the first request did, and records nothing more. A refusal changes nothing.",
  request: { body: body(OwedRecoveryRequestSchema) },
  answers: "The charge, with the new recovery in `owedOutsideStripe.recoveries`",
  refusals: {
    ...operatorOnly,
    ...conflicts(owedRecoveryRefusals.nothingOwedBack),
    ...unprocessable(owedRecoveryRefusals.unprocessable),
  },
});

// ─── Lists ─────────────────────────────────────────────────────────────────

/**
 * One page of the charges `principal` may list: the union of authz's scopes, each read from
 * the repository after the cursor and merged newest first. A cursor the caller may not see
 * is an empty page, as an unknown one is, so it tells nothing.
 */
async function listVisible(
  uc: UseCaseDeps,
  principal: Principal,
  filter: MarketplaceChargeFilter,
  page: { readonly limit: number; readonly startingAfter?: string | undefined },
): Promise<
  Result<{ readonly items: readonly MarketplaceCharge[]; readonly hasMore: boolean }, UseCaseError>
> {
  return listVisibleUnion({
    scopes: marketplaceChargeListScopes(principal, filter),
    page,
    checkCursor: !isPlatformOperator(principal),
    cursorVisible: async (id) =>
      (await uc.marketplaceCharges.getMarketplaceCharge(id)).map(
        (cursor) => cursor !== undefined && marketplaceChargeAccess(principal, cursor) !== "none",
      ),
    list: (query) => useCases.listMarketplaceCharges(uc, query),
  });
}

// ─── The router ────────────────────────────────────────────────────────────

/** `/v1/marketplace-charges`: ask for, list and read marketplace charges; refunds and operators' retries. */
export function marketplaceChargesV1(deps: V1Deps) {
  const app = v1Router();
  const uc = deps.useCases;

  /** Loads a charge and applies the one authorisation rule for marketplace charges. */
  async function find(
    c: Context,
    principal: Principal,
    id: string,
    need: "see" | "customer" | "operator",
  ): Promise<{ readonly charge: MarketplaceCharge } | { readonly refused: Response }> {
    const charge = await uc.marketplaceCharges.getMarketplaceCharge(id);
    if (charge.isErr()) return { refused: useCaseProblem(c, charge.error) };
    const refused = refuseMarketplaceCharge(c, principal, charge.value, id, need);
    if (refused !== undefined || charge.value === undefined)
      return {
        refused: refused ?? problem(c, 404, "marketplace_charge_not_found", `no marketplace charge ${id}`),
      };
    return { charge: charge.value };
  }

  /** Answers a command's outcome with the charge as it now stands, as the caller sees it. */
  function answer(
    c: Context,
    principal: Principal,
    result: Result<MarketplaceCharge, UseCaseError>,
  ): Response {
    if (result.isErr()) return useCaseProblem(c, result.error);
    return c.json(marketplaceChargeView(result.value, marketplaceChargeAccess(principal, result.value)), 200);
  }

  /** An operator's command on one charge: load it, authorise, apply, answer. */
  async function operatorCommand(
    c: Context<V1Env>,
    id: string,
    apply: (
      id: string,
      operator: { readonly operator: string },
    ) => ResultAsync<MarketplaceCharge, UseCaseError>,
  ): Promise<Response> {
    const principal = c.get("principal");
    const found = await find(c, principal, id, "operator");
    if ("refused" in found) return found.refused;
    return answer(c, principal, await apply(id, { operator: principal.subject }));
  }

  /**
   * Counts the attempt against the payment-attempt limits (the caller, the customer, the
   * saved card, the customer's email), or answers why not (429, or 503 when they cannot be
   * checked). Only a request the domain would accept is an attempt: one refused for its
   * content (an unknown customer or seller, a bad amount, fee or split, a reused reference)
   * is answered with its problem, uncounted; so is the same request again, whose charge exists.
   */
  async function limitAttempt(
    c: Context,
    principal: Principal,
    command: useCases.CreateMarketplaceChargeCommand,
  ): Promise<Response | undefined> {
    const limiter = deps.paymentAttempts;
    if (limiter === undefined) return undefined;
    const checked = await useCases.checkMarketplaceChargeRequest(uc, command);
    if (checked.isErr()) return useCaseProblem(c, checked.error);
    if (checked.value.exists) return undefined;
    try {
      const verdict = await limiter.admit({
        key: `marketplace_charge:${principal.subject}:${command.clientReference}`,
        principal,
        customerPersonId: command.customerId,
        customerEmail: command.customerEmail,
        ...(command.paymentMethod.kind === "saved_card"
          ? { paymentMethodId: command.paymentMethod.paymentMethodId }
          : {}),
      });
      return verdict.admitted ? undefined : paymentAttemptRefused(verdict.refusal);
    } catch (error) {
      return serverProblem(
        c,
        503,
        "payment_attempt_limits_unavailable",
        error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      );
    }
  }

  app.openapi(createRouteDef, async (c) => {
    const principal = c.get("principal");
    const input = c.req.valid("json");
    // An app's token charges its customers and pays their sellers, never itself as either.
    const refused =
      refusePayingAsItself(c, principal, [
        input.customer.personId,
        ...input.sellers.map((s) => s.personId),
      ]) ?? refuseChargingCustomer(c, principal, input.customer.personId);
    if (refused !== undefined) return refused;
    const fee: MarketplaceFee =
      "rateBps" in input.fee
        ? { kind: "rate", basisPoints: input.fee.rateBps }
        : { kind: "fixed", amountMinor: input.fee.amountMinor };
    const command: useCases.CreateMarketplaceChargeCommand = {
      requestedBy: principal.subject,
      clientReference: input.clientReference,
      activityId: input.activityId,
      purpose: input.purpose,
      description: input.description,
      amountMinor: input.amountMinor,
      currency: input.currency,
      customerId: input.customer.personId,
      customerEmail: input.customer.email,
      paymentMethod:
        input.paymentMethod.type === "saved_card"
          ? { kind: "saved_card", paymentMethodId: input.paymentMethod.paymentMethodId }
          : { kind: "new_card" },
      fee,
      sellers: input.sellers.map((s) => ({
        id: s.personId,
        ...(s.weight !== undefined ? { weight: s.weight } : {}),
      })),
      ...(input.onBehalfOf !== undefined ? { sellerIsMerchantOfRecord: input.onBehalfOf } : {}),
    };
    const limited = await limitAttempt(c, principal, command);
    if (limited !== undefined) return limited;
    const created = await useCases.createMarketplaceCharge(uc, command);
    if (created.isErr()) return useCaseProblem(c, created.error);
    const { charge } = created.value;
    return c.json(
      marketplaceChargeView(charge, marketplaceChargeAccess(principal, charge)),
      created.value.created ? 201 : 200,
      { location: `/v1/marketplace-charges/${encodeURIComponent(charge.id)}` },
    );
  });

  app.openapi(listRouteDef, async (c) => {
    const principal = c.get("principal");
    const { limit, starting_after, status, seller, customer } = c.req.valid("query");
    const filter = {
      ...(status !== undefined ? { status } : {}),
      ...(seller !== undefined ? { sellerId: seller } : {}),
      ...(customer !== undefined ? { customerId: customer } : {}),
    };
    const listed = await listVisible(uc, principal, filter, { limit, startingAfter: starting_after });
    if (listed.isErr()) return useCaseProblem(c, listed.error);
    const page: Page<MarketplaceChargeView> = {
      object: "list",
      url: "/v1/marketplace-charges",
      data: listed.value.items.map((charge) =>
        marketplaceChargeView(charge, marketplaceChargeAccess(principal, charge)),
      ),
      has_more: listed.value.hasMore,
    };
    return c.json(page, 200);
  });

  app.openapi(getRouteDef, async (c) => {
    const principal = c.get("principal");
    const { marketplaceChargeId } = c.req.valid("param");
    const found = await find(c, principal, marketplaceChargeId, "see");
    if ("refused" in found) return found.refused;
    return c.json(marketplaceChargeView(found.charge, marketplaceChargeAccess(principal, found.charge)), 200);
  });

  app.openapi(refundRouteDef, async (c) => {
    const principal = c.get("principal");
    const id = c.req.valid("param").marketplaceChargeId;
    // The body is optional: without one, everything left is refunded for the customer.
    const input =
      (c.req.valid("json") as
        | { amountMinor?: number; reason?: string; initiatedBy?: "customer" | "platform" }
        | undefined) ?? {};
    const found = await find(c, principal, id, "customer");
    if ("refused" in found) return found.refused;
    const access = marketplaceChargeAccess(principal, found.charge);
    // By default the refund is the customer's when the requester or the customer asks, the
    // platform's when an operator who is neither does.
    const initiatedBy =
      input.initiatedBy ?? (access === "requester" || access === "customer" ? "customer" : "platform");
    if (initiatedBy === "platform" && !isPlatformOperator(principal))
      return problem(c, 403, "operator_only", "only platform operators may do this");
    if (initiatedBy === "platform" && !isPlatformAdmin(principal))
      return problem(
        c,
        403,
        "admin_only",
        "only platform admins may refund for the platform (a service token may not)",
      );
    const reason =
      input.reason ??
      (initiatedBy === "platform" ? "refunded by the platform" : "refund asked for by the customer");
    const refunded = await useCases.refundMarketplaceCharge(
      uc,
      id,
      initiatedBy === "platform"
        ? { kind: "platform", operator: { operator: principal.subject } }
        : { kind: "customer", requestedBy: principal.subject },
      reason,
      input.amountMinor,
    );
    return answer(c, principal, refunded);
  });

  app.openapi(retryRefundRouteDef, (c) =>
    operatorCommand(c, c.req.valid("param").marketplaceChargeId, (id, operator) =>
      useCases.retryMarketplaceRefund(uc, id, operator),
    ),
  );

  app.openapi(retryTransfersRouteDef, (c) =>
    operatorCommand(c, c.req.valid("param").marketplaceChargeId, (id, operator) =>
      useCases.retryMarketplaceTransfers(uc, id, operator),
    ),
  );

  app.openapi(retryReversalRouteDef, (c) =>
    operatorCommand(c, c.req.valid("param").marketplaceChargeId, (id, operator) =>
      useCases.retryMarketplaceReversal(uc, id, operator),
    ),
  );

  app.openapi(owedPaymentRouteDef, (c) =>
    operatorCommand(c, c.req.valid("param").marketplaceChargeId, (id, operator) =>
      useCases.recordMarketplaceChargeOwedPaid(uc, id, operator, c.req.valid("json")),
    ),
  );

  app.openapi(owedRecoveryRouteDef, (c) =>
    operatorCommand(c, c.req.valid("param").marketplaceChargeId, (id, operator) =>
      useCases.recordMarketplaceChargeOwedRecovered(uc, id, operator, c.req.valid("json")),
    ),
  );

  return app;
}
