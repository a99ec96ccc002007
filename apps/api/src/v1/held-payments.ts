import { createRoute, z } from "@hono/zod-openapi";
import type { ChargeSettlement } from "@susu/adapters";
import {
  CURRENCY_CODES,
  type CurrencyCode,
  feeNetMinor,
  type HeldPayment,
  type HeldPaymentStatus,
  HOUR_MS,
  isBookedTransfer,
  type PlatformFee,
  paymentOwed,
  refundableMinor,
  sellerNetMinor,
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
  type HeldPaymentFilter,
  heldPaymentAccess,
  heldPaymentListScopes,
  isPlatformOperator,
  PERSON_ONLY_DETAIL,
  refuseHeldPayment,
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

// Held payments under /v1: a client app (any principal) asks for a payment for one of its
// bookings, paid by its customer on a Stripe Checkout page, held on the platform for a
// dispute window after the app confirms the booking, then released to the seller (a susu
// person with a connected account). Who may see and do what is authz.ts's
// (refuseHeldPayment, heldPaymentListScopes): the requester, the seller and platform
// operators see a payment, everyone else gets 404; the requester reports on the booking;
// platform operators hold, release and refund. The rules of the payment are the domain's.

const iso = (at: number | undefined) => (at === undefined ? null : new Date(at).toISOString());

/** Every status a held payment can be in, for the schemas (checked against the domain's type). */
const HELD_PAYMENT_STATUSES = [
  "awaiting_payment",
  "payment_processing",
  "held",
  "releasing",
  "release_blocked",
  "released",
  "refunding",
  "refunded",
  "expired",
  "payment_failed",
  "charged_back",
] as const satisfies readonly HeldPaymentStatus[];
const everyStatusListed: [HeldPaymentStatus] extends [(typeof HELD_PAYMENT_STATUSES)[number]] ? true : false =
  true;
void everyStatusListed;

/** Longest dispute window a request may name, in hours (the policy's maximum is checked by the domain). */
const DISPUTE_WINDOW_HOURS_MAX = 24 * 366;

/** Text a person reads (a description, a reason): trimmed, 1–500 characters, no NUL. */
const TextSchema = z.string().trim().min(1).max(500).refine(NUL_FREE, "no NUL characters");

const HeldPaymentIdParam = z.object({
  heldPaymentId: IdSchema.openapi({ param: { name: "heldPaymentId", in: "path" }, example: "hp_1" }),
});

// ─── The view ──────────────────────────────────────────────────────────────

const HeldPaymentSchema = z
  .object({
    object: z.literal("held_payment"),
    id: z.string().openapi({ example: "hp_1" }),
    clientReference: z.string().openapi({ example: "booking_42" }),
    requestedBy: z.string().openapi({
      description: "The principal (token subject) that asked for the payment",
      example: "app_bookings",
    }),
    description: z.string(),
    status: z.enum(HELD_PAYMENT_STATUSES),
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
      .openapi("HeldPaymentFee"),
    sellerShare: MoneySchema.openapi({
      description: "The amount minus the fee: what the seller gets if nothing is given back",
    }),
    sellerNet: MoneySchema.openapi({
      description:
        "The seller's share net of the seller's parts of refunds and lost disputes: what the release transfers",
    }),
    feeNet: MoneySchema.openapi({ description: "The fee net of the fee parts of refunds and lost disputes" }),
    refundable: MoneySchema.openapi({
      description: "What is left to refund (zero until the payment is captured)",
    }),
    seller: z.object({
      id: z.string().openapi({ example: "sam" }),
      canReceive: z
        .boolean()
        .openapi({ description: "Whether the seller's account could receive transfers, as last reported" }),
    }),
    customer: z.object({ email: z.string(), name: z.string().nullable() }),
    disputeWindowHours: z
      .number()
      .openapi({ description: "The dispute window in hours (a fraction when it is not whole hours)" }),
    disputeWindowSeconds: z.number().int(),
    checkout: z.object({
      url: z.string().nullable().openapi({
        description:
          "The Stripe Checkout page for the customer; null until the session exists (moments after creation)",
      }),
      expiresAt: z.string().openapi({ example: "2030-01-04T09:00:00.000Z" }),
      successUrl: z.string(),
      cancelUrl: z.string().nullable(),
    }),
    fulfilment: z.enum(["pending", "confirmed", "unfulfilled"]),
    unfulfilledReason: z
      .string()
      .nullable()
      .openapi({ description: "Why the booking could not be fulfilled, as the client app reported it" }),
    createdAt: z.string().openapi({ example: "2030-01-03T09:00:00.000Z" }),
    capturedAt: TimestampSchema,
    releaseDueAt: TimestampSchema.openapi({
      description: "When the dispute window ends and the release is due; set by the fulfilment confirmation",
    }),
    releaseStarted: z.boolean(),
    adminHold: z
      .object({ by: z.string(), reason: z.string(), at: z.string() })
      .nullable()
      .openapi({ description: "A platform operator's hold on the release, until they release it" }),
    blockKind: z
      .enum([
        "seller_cannot_receive",
        "transfer_parked",
        "transfer_outcome_unknown",
        "frozen",
        "late_transfer_unbooked",
      ])
      .nullable()
      .openapi({
        description:
          "What blocks the release (only while `release_blocked`); `late_transfer_unbooked`: a transfer landed late and could not be booked, and no other will pay the seller: a person reconciles it, no command releases it",
      }),
    blockedReason: z.string().nullable(),
    failureCode: z.string().nullable(),
    endedAt: TimestampSchema,
    transfers: z.array(
      z.object({
        number: z.number().int(),
        amount: MoneySchema,
        status: z.enum(["requested", "created", "failed", "unknown"]),
        requestedAt: z.string(),
        failureCode: z.string().nullable(),
        failureMessage: z.string().nullable(),
        booked: z.boolean().openapi({
          description:
            "Whether the books count it as the seller's payment: false for one that landed late and could not be booked (an `unexpected_money` ticket names it)",
        }),
      }),
    ),
    refunds: z.array(
      z.object({
        number: z.number().int(),
        amount: MoneySchema,
        sellerPart: MoneySchema,
        feePart: MoneySchema,
        reason: z.enum(["unfulfilled", "admin", "late_payment"]),
        stage: z.enum(["holding", "earmarked", "transferred"]).openapi({
          description:
            "Where the refunded money was: held, set aside for the seller, or already transferred (then reversed first)",
        }),
        full: z.boolean(),
        status: z
          .enum([
            "reversing",
            "requested",
            "succeeded",
            "failed",
            "reversal_failed",
            "superseded_by_dispute",
            "owed_outside_stripe",
          ])
          .openapi({
            description:
              "`superseded_by_dispute`: the refund never reached the customer (Stripe refused it, e.g. `charge_disputed`) and a dispute was lost: the customer's bank gave the money back instead. `owed_outside_stripe`: what such a refund asked for beyond the loss, still owed to the customer; Stripe refuses every refund of a charge charged back, so it is never asked of Stripe — likewise a refund Stripe failed because the card can no longer take money (`failureCode` `lost_or_stolen_card` or `expired_or_canceled_card`: Stripe refunds only to the card charged, so a retry would fail too): it is booked as owed to the customer, never released to the seller, and the platform's admins pay it by other means (a `refund_owed` ticket names it)",
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
        amount: MoneySchema,
        reason: z.enum(["refund", "dispute_lost"]),
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
  .openapi("HeldPayment");

function settlementView(s: ChargeSettlement | undefined) {
  if (s === undefined) return null;
  return {
    chargeId: s.chargeId,
    presentment: { amountMinor: s.presentmentMinor, currency: s.presentmentCurrency },
    settlement: { amountMinor: s.settlementMinor, currency: s.settlementCurrency },
    exchangeRate: s.exchangeRate,
  };
}

/** A held payment as a client sees it: amounts with their currency, ISO times, no Stripe object ids but disputes'. */
export function heldPaymentView(p: HeldPayment) {
  const money = (amountMinor: number) => ({ amountMinor, currency: p.currency });
  return {
    object: "held_payment" as const,
    id: p.id,
    clientReference: p.clientReference,
    requestedBy: p.requestedBy,
    description: p.description,
    status: p.status,
    amount: money(p.amountMinor),
    fee: {
      kind: p.fee.kind,
      rateBps: p.fee.kind === "rate" ? p.fee.basisPoints : null,
      fixedAmount: p.fee.kind === "fixed" ? money(p.fee.amountMinor) : null,
      amount: money(p.feeMinor),
    },
    sellerShare: money(p.sellerShareMinor),
    sellerNet: money(sellerNetMinor(p)),
    feeNet: money(feeNetMinor(p)),
    refundable: money(refundableMinor(p)),
    seller: { id: p.seller.id, canReceive: p.sellerCanReceive },
    customer: { email: p.customer.email, name: p.customer.name ?? null },
    disputeWindowHours: p.disputeWindowMs / HOUR_MS,
    disputeWindowSeconds: Math.round(p.disputeWindowMs / 1000),
    checkout: {
      url: p.checkoutUrl ?? null,
      expiresAt: new Date(p.checkoutExpiresAt).toISOString(),
      successUrl: p.successUrl,
      cancelUrl: p.cancelUrl ?? null,
    },
    fulfilment: p.fulfilment,
    unfulfilledReason: p.unfulfilledReason ?? null,
    createdAt: new Date(p.createdAt).toISOString(),
    capturedAt: iso(p.capturedAt),
    releaseDueAt: iso(p.releaseDueAt),
    releaseStarted: p.releaseStarted,
    adminHold:
      p.adminHold === undefined
        ? null
        : { by: p.adminHold.by, reason: p.adminHold.reason, at: new Date(p.adminHold.at).toISOString() },
    blockKind: p.blockKind ?? null,
    blockedReason: p.blockedReason ?? null,
    failureCode: p.failureCode ?? null,
    endedAt: iso(p.endedAt),
    transfers: p.transfers.map((t) => ({
      number: t.number,
      amount: money(t.amountMinor),
      status: t.status,
      requestedAt: new Date(t.requestedAt).toISOString(),
      failureCode: t.failureCode ?? null,
      failureMessage: t.failureMessage ?? null,
      booked: isBookedTransfer(t),
    })),
    refunds: p.refunds.map((r) => ({
      number: r.number,
      amount: money(r.amountMinor),
      sellerPart: money(r.sellerPartMinor),
      feePart: money(r.feePartMinor),
      reason: r.reason,
      stage: r.stage,
      full: r.full,
      status: r.status,
      attempts: r.attempts,
      failureCode: r.failureCode ?? null,
      supersededBy: r.supersededBy ?? null,
    })),
    reversals: p.reversals.map((v) => ({
      number: v.number,
      amount: money(v.amountMinor),
      reason: v.reason,
      refundNumber: v.forRefund ?? null,
      disputeId: v.forDisputeId ?? null,
      status: v.status,
      failureCode: v.failureCode ?? null,
    })),
    disputes: p.disputes.map((d) => ({
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
    owedOutsideStripe: owedView(paymentOwed(p)),
    version: p.version,
  };
}

/** What {@link heldPaymentView} returns. */
export type HeldPaymentView = ReturnType<typeof heldPaymentView>;

// ─── Requests ──────────────────────────────────────────────────────────────

const FeeSchema = feeTermsSchema(
  "HeldPaymentFeeTerms",
  "The platform's fee: `{rateBps}` or `{amountMinor}`, raised to the currency's minimum; it must leave the seller something",
);

const CreateHeldPaymentSchema = z
  .object({
    clientReference: z.string().trim().min(1).max(255).refine(NUL_FREE, "no NUL characters").openapi({
      description: "Your own reference (a booking id): one payment per caller and reference",
      example: "booking_42",
    }),
    amountMinor: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).openapi({ example: 10000 }),
    currency: z.enum(CURRENCY_CODES as [CurrencyCode, ...CurrencyCode[]]).openapi({ example: "AUD" }),
    sellerId: PersonIdSchema.openapi({
      description: "The seller: a susu person who has a connected account (payout onboarding)",
      example: "sam",
    }),
    description: TextSchema.openapi({ example: "Two nights by the sea" }),
    customer: z.object({
      email: z.email().max(254).openapi({ example: "cy@example.com" }),
      name: z
        .string()
        .trim()
        .min(1)
        .max(200)
        .refine(NUL_FREE, "no NUL characters")
        .optional()
        .openapi({ example: "Cy" }),
    }),
    fee: FeeSchema,
    disputeWindowHours: z.number().int().positive().max(DISPUTE_WINDOW_HOURS_MAX).optional().openapi({
      description:
        "How long funds stay held after the booking is fulfilled; the platform's (72 h) when absent. At least the platform's shortest window (1 h)",
      example: 72,
    }),
    disputeWindowSeconds: z
      .number()
      .int()
      .positive()
      .max(DISPUTE_WINDOW_HOURS_MAX * 3600)
      .optional()
      .openapi({
        description:
          "The same window in seconds, instead of `disputeWindowHours` (not both); at least the platform's shortest window",
        example: 3600,
      }),
    successUrl: httpUrl().openapi({ example: "https://app.example/booking/42/paid" }),
    cancelUrl: httpUrl().optional().openapi({ example: "https://app.example/booking/42" }),
  })
  .refine((body) => body.disputeWindowHours === undefined || body.disputeWindowSeconds === undefined, {
    message: "give disputeWindowHours or disputeWindowSeconds, not both",
    path: ["disputeWindowSeconds"],
  })
  .openapi("CreateHeldPayment");

function httpUrl() {
  return z
    .url()
    .max(500)
    .refine((url) => /^https?:\/\//i.test(url), "an http or https URL");
}

const ReasonBodySchema = (name: string, example: string) =>
  z.object({ reason: TextSchema.openapi({ example }) }).openapi(name);

const UnfulfilledSchema = ReasonBodySchema("ReportUnfulfilled", "the guest did not show up");
const HoldSchema = ReasonBodySchema("HoldHeldPayment", "the customer complained; checking with the seller");

const RefundSchema = z.object({ amountMinor: refundAmountSchema() }).openapi("RefundHeldPayment");

const ListQuerySchema = PageQuerySchema.extend({
  status: z.enum(HELD_PAYMENT_STATUSES).optional(),
  seller: PersonIdSchema.optional().openapi({
    description: "Only the payments to this seller (a person id)",
  }),
});

// ─── Documented refusals ───────────────────────────────────────────────────

const notFound = problemExamples(404, "Not found, or not yours to see.", {
  held_payment_not_found: "no held payment hp_1",
});
const notRequester = problemExamples(403, "Allowed to see, not to do.", {
  not_requester: "only the one who asked for this payment may report on its booking",
});
const { operatorOnly, conflicts, unprocessable } = paymentRefusals(
  "payment",
  "held payment hp_1 was changed by someone else; load it again and retry",
);

const NOT_CAPTURED = { payment_not_captured: "the payment is awaiting_payment" };
const DISPUTED = { payment_disputed: "the charge is disputed: Stripe cannot refund it" };
const CHARGED_BACK = {
  charge_disputed: "dispute dp_1 was lost: Stripe refuses every refund of a charge charged back",
};
const REFUND_IN_FLIGHT = { refund_in_flight: "a refund is unfinished" };

// ─── Routes ────────────────────────────────────────────────────────────────

const TAGS = ["held payments"];

const createRouteDef = createRoute({
  method: "post",
  path: "/held-payments",
  tags: TAGS,
  summary: "Ask for a held payment for one of your bookings (anyone with a token; you are its requester)",
  description:
    "The payment waits for the customer on a Stripe Checkout page (`checkout.url`, once the session exists). A `service` token asks for its users' sellers; naming its own subject as the seller is 403 `person_only` (an app is paid as no seller). One payment per caller and `clientReference`: the same request again answers 200 with the payment made the first time; the reference with other terms is 409 `client_reference_reused`. Payment attempts are limited per person (the caller, unless a `service` token) and per customer email: over a limit, 429 `payment_attempts_exceeded` with `Retry-After`, and nothing is stored; the same request again is not counted twice.",
  security: [{ bearer: [] }],
  request: { body: body(CreateHeldPaymentSchema) },
  responses: {
    201: json(HeldPaymentSchema, "The payment, awaiting payment"),
    200: json(
      HeldPaymentSchema,
      "The payment made the first time for this reference (the same request again)",
    ),
    ...postResponses,
    ...paymentAttemptResponses,
    ...problemExamples(403, "A service token named its own subject as the seller.", {
      person_only: PERSON_ONLY_DETAIL.payment,
    }),
    ...conflicts({
      client_reference_reused: "client reference booking_42 is held payment hp_1, asked for with other terms",
      seller_not_onboarded: "seller sam has no connected account to be paid into",
    }),
    ...unprocessable({
      invalid_amount: "the amount is below the currency's minimum charge",
      currency_not_settled:
        "the platform settles in AUD, not USD: the seller could not be paid from the charge",
      invalid_fee: "a fee of 10000 AUD leaves the seller nothing of 10000",
      invalid_dispute_window: "the dispute window must be from 3600 to 7776000 seconds",
      invalid_held_payment: "customer email has no @",
      seller_not_found: "no person sam",
    }),
  },
});

const listRouteDef = createRoute({
  method: "get",
  path: "/held-payments",
  tags: TAGS,
  summary: "Held payments, newest first: those you asked for or that pay you (platform operators: all)",
  security: [{ bearer: [] }],
  request: { query: ListQuerySchema },
  responses: {
    200: json(pageSchema(HeldPaymentSchema, "HeldPaymentList"), "A page of held payments"),
    ...commonResponses,
  },
});

/** How the charge settled, as Stripe booked it (read from reconciliation's pull of Stripe's balance transactions). */
const SettlementSchema = z
  .object({
    chargeId: z.string().openapi({ example: "ch_1" }),
    presentment: MoneySchema.openapi({
      description: "What the customer was charged, in the charge's currency",
    }),
    settlement: MoneySchema.openapi({
      description: "What landed in the platform's balance, in its currency",
    }),
    exchangeRate: z.number().nullable().openapi({
      description: "Stripe's rate (presentment × rate = settlement, major units); null when not converted",
    }),
  })
  .openapi("HeldPaymentSettlement");

const HeldPaymentDetailSchema = HeldPaymentSchema.extend({
  settlement: SettlementSchema.nullable().openapi({
    description:
      "How the charge settled in the platform's balance (both amounts and the exchange rate), once a reconciliation has pulled its balance transaction; platform operators only (null for others)",
  }),
}).openapi("HeldPaymentDetail");

const getRouteDef = createRoute({
  method: "get",
  path: "/held-payments/{heldPaymentId}",
  tags: TAGS,
  summary:
    "A held payment with its fee, transfers, refunds, reversals and disputes (its requester, its seller, platform operators)",
  security: [{ bearer: [] }],
  request: { params: HeldPaymentIdParam },
  responses: { 200: json(HeldPaymentDetailSchema, "The payment"), ...commonResponses, ...notFound },
});

/** A command on one held payment: `POST /held-payments/{heldPaymentId}/<action>`, answering the payment as it now stands. */
const commandRoute = commandRoutes({
  collection: "/held-payments",
  param: "heldPaymentId",
  params: HeldPaymentIdParam,
  schema: HeldPaymentSchema,
  tags: TAGS,
  notFound,
});

const fulfilmentRouteDef = commandRoute({
  action: "fulfilment",
  summary:
    "Confirm the booking was fulfilled: the dispute window starts, the release follows it (the requester)",
  answers: "The payment, with `releaseDueAt`",
  refusals: {
    ...notRequester,
    ...conflicts({
      ...NOT_CAPTURED,
      fulfilment_already_reported: "the booking was already reported confirmed",
      payment_ended: "the payment is refunded",
    }),
  },
});

const unfulfilledRouteDef = commandRoute({
  action: "unfulfilled",
  summary:
    "Report the booking was not fulfilled: everything is refunded at once, the customer told (the requester)",
  request: { body: body(UnfulfilledSchema) },
  answers: "The payment, refunding",
  refusals: {
    ...notRequester,
    ...conflicts({
      ...NOT_CAPTURED,
      fulfilment_already_reported: "the booking was already reported confirmed",
      payment_ended: "the payment is released",
      ...DISPUTED,
      ...CHARGED_BACK,
      ...REFUND_IN_FLIGHT,
    }),
  },
});

const holdRouteDef = commandRoute({
  action: "hold",
  summary: "Stop the release until an operator releases it (platform operators)",
  request: { body: body(HoldSchema) },
  answers: "The payment, with `adminHold`",
  refusals: {
    ...operatorOnly,
    ...conflicts({
      release_in_flight: "the release has started",
      not_holdable: "the payment is released",
      already_on_hold: "held by ops_olga since 2030-01-03T09:00:00.000Z",
    }),
  },
});

const releaseRouteDef = commandRoute({
  action: "release",
  summary:
    "Lift an operator's hold, or retry a blocked release once its cause is checked; a transfer attempt of unknown outcome is looked up on Stripe first and adopted if it landed (platform operators)",
  answers: "The payment, released on its schedule (or releasing now)",
  refusals: {
    ...operatorOnly,
    ...conflicts({
      not_on_hold: "no admin hold and no blocked release",
      ...DISPUTED,
      ...REFUND_IN_FLIGHT,
      seller_cannot_receive: "the seller's account cannot receive transfers",
      transfer_landed_late:
        "transfer tr_1 (attempt 1) landed late and is not booked: reconcile it with the seller first",
    }),
  },
});

const refundRouteDef = commandRoute({
  action: "refunds",
  summary: "Refund the customer, wholly or in part, before or after the release (platform operators)",
  description:
    "`amountMinor` refunds part of what is left; without it (or without a body) everything left is refunded and the payment ends `refunded`. After the release the seller's part is reversed from their transfer first.",
  request: { body: body(RefundSchema, false) },
  answers: "The payment, with the new refund",
  refusals: {
    ...operatorOnly,
    ...conflicts({
      ...NOT_CAPTURED,
      ...REFUND_IN_FLIGHT,
      nothing_to_refund: "everything was refunded or taken back",
      release_in_flight: "the seller's transfer is in flight",
      ...DISPUTED,
      ...CHARGED_BACK,
    }),
    ...unprocessable({ invalid_refund_amount: "a refund is a whole multiple of 1 in (0, 10000] AUD" }),
  },
});

const retryRefundRouteDef = commandRoute({
  action: "refunds/retry",
  summary:
    "Retry the refund (or its reversal) that failed, once the cause is fixed (platform operators). After a lost dispute Stripe refuses every refund of the charge: a refund that never reached the customer is then owed outside Stripe instead (`owed_outside_stripe`, a `refund_owed` ticket), never asked of Stripe again. A refund that failed because the card can no longer take money (`lost_or_stolen_card`, `expired_or_canceled_card`) is owed outside Stripe when it fails and is not retried (`no_failed_refund`); every other failure (e.g. `insufficient_funds` of the platform's balance, `declined`, `unknown`) waits for this retry",
  answers: "The payment, its refund asked for again (or owed outside Stripe after a lost dispute)",
  refusals: {
    ...operatorOnly,
    ...conflicts({ no_failed_refund: "no refund failed", ...DISPUTED, ...CHARGED_BACK }),
  },
});

const retryReversalRouteDef = commandRoute({
  action: "reversals/retry",
  summary:
    "Ask again for a lost dispute's (or an owed refund's) reversal from the seller's transfer that failed, once their balance covers it (platform operators)",
  answers: "The payment, the reversal asked for again",
  refusals: {
    ...operatorOnly,
    ...conflicts({ no_failed_reversal: "no reversal of a lost dispute failed" }),
  },
});

const owedPaymentRouteDef = commandRoute({
  action: "owed-payments",
  summary:
    "Record paying the customer outside Stripe (a bank transfer, cash) part or all of what is owed to them after a lost dispute (platform admins)",
  description:
    "What is owed is the payment's refunds `owed_outside_stripe` (Stripe refuses a refund of a charge charged back). The amount moves from `held:<p>:owed_to_customer` to `held:<p>:paid_outside_stripe` in the ledger, the customer is told (`owed_paid_outside_stripe`), and once nothing is left the `refund_owed` ticket is resolved. Send an `Idempotency-Key`: the same key again answers what the first request did, and records nothing more. A refusal changes nothing.",
  request: { body: body(OwedPaymentRequestSchema) },
  answers: "The payment, with the new payment in `owedOutsideStripe`",
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
    "What the customer owes back is `owedOutsideStripe.owedBackByCustomer` (booked on `held:<p>:owed_by_customer` when the dispute was lost). The amount moves from `held:<p>:owed_by_customer` back to `held:<p>:paid_outside_stripe` (the payment outside Stripe in reverse: the money came back by the way it left), and once nothing is owed back the `owed_overpaid` ticket of each dispute that booked it is resolved. Send an `Idempotency-Key`: the same key again answers what the first request did, and records nothing more. A refusal changes nothing.",
  request: { body: body(OwedRecoveryRequestSchema) },
  answers: "The payment, with the new recovery in `owedOutsideStripe.recoveries`",
  refusals: {
    ...operatorOnly,
    ...conflicts(owedRecoveryRefusals.nothingOwedBack),
    ...unprocessable(owedRecoveryRefusals.unprocessable),
  },
});

// ─── Lists ─────────────────────────────────────────────────────────────────

/**
 * One page of the held payments `principal` may list: the union of authz's scopes, each
 * read from the repository after the cursor and merged newest first. A cursor the caller
 * may not see is an empty page, as an unknown one is, so it tells nothing.
 */
async function listVisible(
  uc: UseCaseDeps,
  principal: Principal,
  filter: HeldPaymentFilter,
  page: { readonly limit: number; readonly startingAfter?: string | undefined },
): Promise<Result<{ readonly items: readonly HeldPayment[]; readonly hasMore: boolean }, UseCaseError>> {
  return listVisibleUnion({
    scopes: heldPaymentListScopes(principal, filter),
    page,
    checkCursor: !isPlatformOperator(principal),
    cursorVisible: async (id) =>
      (await uc.heldPayments.getHeldPayment(id)).map(
        (cursor) => cursor !== undefined && heldPaymentAccess(principal, cursor) !== "none",
      ),
    list: (query) => uc.heldPayments.listHeldPayments(query),
  });
}

// ─── The router ────────────────────────────────────────────────────────────

/** `/v1/held-payments`: ask for, list and read held payments; the requester's and operators' commands. */
/** Where a held payment's charge settlement is read (reconciliation's store); none: `settlement` is null. */
export interface HeldPaymentSettlements {
  heldPaymentSettlement(heldPaymentId: string): Promise<ChargeSettlement | undefined>;
}

export function heldPaymentsV1(deps: V1Deps & { readonly settlements?: HeldPaymentSettlements }) {
  const app = v1Router();
  const uc = deps.useCases;

  /** Loads a payment and applies the one authorisation rule for held payments. */
  async function find(
    c: Context,
    principal: Principal,
    id: string,
    need: "see" | "requester" | "operator",
  ): Promise<{ readonly payment: HeldPayment } | { readonly refused: Response }> {
    const payment = await uc.heldPayments.getHeldPayment(id);
    if (payment.isErr()) return { refused: useCaseProblem(c, payment.error) };
    const refused = refuseHeldPayment(c, principal, payment.value, id, need);
    if (refused !== undefined || payment.value === undefined)
      return { refused: refused ?? problem(c, 404, "held_payment_not_found", `no held payment ${id}`) };
    return { payment: payment.value };
  }

  /**
   * A command on one payment: load it, authorise `need` (refused as {@link find} does), apply
   * the use case, answer its outcome with the payment as it now stands.
   */
  async function command(
    c: Context<V1Env>,
    id: string,
    need: "requester" | "operator",
    apply: (id: string, principal: Principal) => ResultAsync<HeldPayment, UseCaseError>,
  ): Promise<Response> {
    const principal = c.get("principal");
    const found = await find(c, principal, id, need);
    if ("refused" in found) return found.refused;
    const result = await apply(id, principal);
    if (result.isErr()) return useCaseProblem(c, result.error);
    return c.json(heldPaymentView(result.value), 200);
  }

  app.openapi(createRouteDef, async (c) => {
    const principal = c.get("principal");
    const input = c.req.valid("json");
    // Before the attempt is counted: an app's token is paid as no seller.
    const selfPaid = refusePayingAsItself(c, principal, [input.sellerId]);
    if (selfPaid !== undefined) return selfPaid;
    const fee: PlatformFee =
      "rateBps" in input.fee
        ? { kind: "rate", basisPoints: input.fee.rateBps }
        : { kind: "fixed", amountMinor: input.fee.amountMinor };
    const command: useCases.CreateHeldPaymentCommand = {
      requestedBy: principal.subject,
      clientReference: input.clientReference,
      amountMinor: input.amountMinor,
      currency: input.currency,
      sellerId: input.sellerId,
      description: input.description,
      customer:
        input.customer.name === undefined
          ? { email: input.customer.email }
          : { email: input.customer.email, name: input.customer.name },
      fee,
      ...(input.disputeWindowHours !== undefined
        ? { disputeWindowMs: input.disputeWindowHours * HOUR_MS }
        : input.disputeWindowSeconds !== undefined
          ? { disputeWindowMs: input.disputeWindowSeconds * 1000 }
          : {}),
      successUrl: input.successUrl,
      ...(input.cancelUrl !== undefined ? { cancelUrl: input.cancelUrl } : {}),
    };
    const refused = await limitAttempt(c, principal, command);
    if (refused !== undefined) return refused;
    const created = await useCases.createHeldPayment(uc, command);
    if (created.isErr()) return useCaseProblem(c, created.error);
    const { payment } = created.value;
    return c.json(heldPaymentView(payment), created.value.created ? 201 : 200, {
      location: `/v1/held-payments/${encodeURIComponent(payment.id)}`,
    });
  });

  app.openapi(listRouteDef, async (c) => {
    const { limit, starting_after, status, seller } = c.req.valid("query");
    const filter = {
      ...(status !== undefined ? { status } : {}),
      ...(seller !== undefined ? { sellerId: seller } : {}),
    };
    const listed = await listVisible(uc, c.get("principal"), filter, {
      limit,
      startingAfter: starting_after,
    });
    if (listed.isErr()) return useCaseProblem(c, listed.error);
    const page: Page<HeldPaymentView> = {
      object: "list",
      url: "/v1/held-payments",
      data: listed.value.items.map(heldPaymentView),
      has_more: listed.value.hasMore,
    };
    return c.json(page, 200);
  });

  app.openapi(getRouteDef, async (c) => {
    const { heldPaymentId } = c.req.valid("param");
    const principal = c.get("principal");
    const found = await find(c, principal, heldPaymentId, "see");
    if ("refused" in found) return found.refused;
    const settled =
      deps.settlements !== undefined && isPlatformOperator(principal)
        ? await deps.settlements.heldPaymentSettlement(heldPaymentId)
        : undefined;
    return c.json({ ...heldPaymentView(found.payment), settlement: settlementView(settled) }, 200);
  });

  /**
   * Counts the attempt against the payment-attempt limits, or answers why not (429, or 503
   * when they cannot be checked). Only a request the domain would accept is an attempt: one
   * refused for its content (an unknown seller, a bad amount or fee, a reused reference) is
   * answered with its problem, uncounted; so is the same request again, whose payment exists.
   */
  async function limitAttempt(
    c: Context,
    principal: Principal,
    command: useCases.CreateHeldPaymentCommand,
  ): Promise<Response | undefined> {
    const limiter = deps.paymentAttempts;
    if (limiter === undefined) return undefined;
    const checked = await useCases.checkHeldPaymentRequest(uc, command);
    if (checked.isErr()) return useCaseProblem(c, checked.error);
    if (checked.value.exists) return undefined;
    try {
      const verdict = await limiter.admit({
        key: `held_payment:${principal.subject}:${command.clientReference}`,
        principal,
        customerEmail: command.customer.email,
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

  const operatorOf = (principal: Principal) => ({ operator: principal.subject });

  app.openapi(fulfilmentRouteDef, (c) =>
    command(c, c.req.valid("param").heldPaymentId, "requester", (id, principal) =>
      useCases.confirmFulfilled(uc, id, principal.subject),
    ),
  );

  app.openapi(unfulfilledRouteDef, (c) =>
    command(c, c.req.valid("param").heldPaymentId, "requester", (id, principal) =>
      useCases.reportUnfulfilled(uc, id, c.req.valid("json").reason, principal.subject),
    ),
  );

  app.openapi(holdRouteDef, (c) =>
    command(c, c.req.valid("param").heldPaymentId, "operator", (id, principal) =>
      useCases.adminHold(uc, id, operatorOf(principal), c.req.valid("json").reason),
    ),
  );

  app.openapi(releaseRouteDef, (c) =>
    command(c, c.req.valid("param").heldPaymentId, "operator", (id, principal) =>
      useCases.adminRelease(uc, id, operatorOf(principal)),
    ),
  );

  app.openapi(refundRouteDef, (c) => {
    // The body is optional: without one, everything left is refunded.
    const { amountMinor } = (c.req.valid("json") as { amountMinor?: number } | undefined) ?? {};
    return command(c, c.req.valid("param").heldPaymentId, "operator", (id, principal) =>
      useCases.refundHeldPayment(uc, id, operatorOf(principal), amountMinor),
    );
  });

  app.openapi(retryRefundRouteDef, (c) =>
    command(c, c.req.valid("param").heldPaymentId, "operator", (id, principal) =>
      useCases.retryRefund(uc, id, operatorOf(principal)),
    ),
  );

  app.openapi(retryReversalRouteDef, (c) =>
    command(c, c.req.valid("param").heldPaymentId, "operator", (id, principal) =>
      useCases.retryHeldPaymentReversal(uc, id, operatorOf(principal)),
    ),
  );

  app.openapi(owedPaymentRouteDef, (c) =>
    command(c, c.req.valid("param").heldPaymentId, "operator", (id, principal) =>
      useCases.recordHeldPaymentOwedPaid(uc, id, operatorOf(principal), c.req.valid("json")),
    ),
  );

  app.openapi(owedRecoveryRouteDef, (c) =>
    command(c, c.req.valid("param").heldPaymentId, "operator", (id, principal) =>
      useCases.recordHeldPaymentOwedRecovered(uc, id, operatorOf(principal), c.req.valid("json")),
    ),
  );

  return app;
}
