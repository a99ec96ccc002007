import type Stripe from "stripe";
import type { Engine } from "../core/engine.js";
import { newId } from "../core/ids.js";
import { stringKey } from "../core/store.js";
import { invalidRequest, resourceMissing } from "../http/errors.js";
import { APPLICATION_FEE_REFUND_CREATE } from "../http/known-params.js";
import { applyMetadata, matchesRange, optInt, optString } from "../http/params.js";
import { listOf, pageRequest } from "../http/render.js";
import type { Router } from "../http/router.js";

export interface ApplicationFeeInput {
  amount: number;
  currency: string;
  /** The connected account the fee was taken from. */
  account: string;
  /** The charge the fee was taken from (the connected account's `py_…` for destination charges). */
  charge: string;
  /** The platform's charge, for destination charges. */
  originatingTransaction: string | null;
  /** When the platform's `application_fee` transaction becomes available. */
  availableOn: number;
}

/**
 * The platform's fee on a connected account's payment: an `application_fee` object and an
 * `application_fee` balance transaction crediting the platform (`application_fee.created`).
 */
export function createApplicationFee(engine: Engine, input: ApplicationFeeInput): Stripe.ApplicationFee {
  const id = newId("fee");
  const txn = engine.ledger.create({
    owner: engine.platform,
    amount: input.amount,
    currency: input.currency,
    type: "application_fee",
    reportingCategory: "platform_earning",
    source: id,
    availability: { kind: "at", at: input.availableOn },
  });
  const fee: Stripe.ApplicationFee = {
    id,
    object: "application_fee",
    account: input.account,
    amount: input.amount,
    amount_refunded: 0,
    application: "ca_emulator",
    balance_transaction: txn.id,
    charge: input.charge,
    created: engine.now(),
    currency: input.currency,
    fee_source: { charge: input.charge, type: "charge" },
    livemode: false,
    originating_transaction: input.originatingTransaction,
    refunded: false,
    refunds: { object: "list", data: [], has_more: false, url: `/v1/application_fees/${id}/refunds` },
  };
  engine.store.insert("application_fee", engine.platform, fee, {});
  engine.emit("application_fee.created", fee, engine.platform);
  return fee;
}

/**
 * Gives (part of) a fee back to the connected account: a `fee_refund` (`fr_…`), an
 * `application_fee_refund` debit on the platform and the matching credit on the account.
 */
export function refundApplicationFee(
  engine: Engine,
  feeId: string,
  amount: number | undefined,
  metadata: Record<string, string>,
): Stripe.FeeRefund {
  const record = engine.store.get<Stripe.ApplicationFee>(
    "application_fee",
    feeId,
    engine.platform,
    "application_fee",
  );
  const fee = record.obj;
  const remaining = fee.amount - fee.amount_refunded;
  const value = amount ?? remaining;
  if (remaining <= 0) {
    throw invalidRequest(`Application fee ${fee.id} has already been refunded.`, {
      code: "charge_already_refunded",
    });
  }
  if (value <= 0 || value > remaining) {
    throw invalidRequest(`Refund amount (${value}) is greater than unrefunded amount on fee (${remaining})`, {
      param: "amount",
      code: "amount_too_large",
    });
  }
  const id = newId("fr");
  const txn = engine.ledger.create({
    owner: engine.platform,
    amount: -value,
    currency: fee.currency,
    type: "application_fee_refund",
    reportingCategory: "platform_earning_refund",
    source: id,
    availability: { kind: "now" },
  });
  engine.ledger.create({
    owner: fee.account as string,
    amount: value,
    currency: fee.currency,
    type: "application_fee_refund",
    reportingCategory: "platform_earning_refund",
    source: id,
    availability: { kind: "now" },
  });
  const refund: Stripe.FeeRefund = {
    id,
    object: "fee_refund",
    amount: value,
    balance_transaction: txn.id,
    created: engine.now(),
    currency: fee.currency,
    fee: fee.id,
    metadata,
  };
  engine.store.insert("fee_refund", engine.platform, refund, {});
  const previous = { amount_refunded: fee.amount_refunded, refunded: fee.refunded };
  fee.amount_refunded += value;
  fee.refunded = fee.amount_refunded === fee.amount;
  fee.refunds.data.unshift(refund);
  engine.emit("application_fee.refunded", fee, engine.platform, { previous });
  return refund;
}

/** What a refund's share is a share of: the captured amount (less than `amount` after a partial capture). */
export function capturedAmount(charge: Stripe.Charge): number {
  return charge.amount_captured > 0 ? charge.amount_captured : charge.amount;
}

/** `refund_application_fee=true`: the fee is refunded in proportion to the charge's refund. */
export function refundFeeWithCharge(
  engine: Engine,
  charge: Stripe.Charge,
  refundAmount: number,
  all = false,
): void {
  if (typeof charge.application_fee !== "string") return;
  const fee = engine.store.record<Stripe.ApplicationFee>(charge.application_fee)?.obj;
  if (!fee) return;
  const remaining = fee.amount - fee.amount_refunded;
  // `amount_refunded` reaches `amount` when the refunds cover what was captured: a partial
  // capture counts the released rest as refunded, as Stripe does (see the capture route).
  const share =
    all || charge.amount_refunded >= charge.amount
      ? remaining
      : Math.round((fee.amount * refundAmount) / capturedAmount(charge));
  if (Math.min(share, remaining) > 0) refundApplicationFee(engine, fee.id, Math.min(share, remaining), {});
}

export function registerApplicationFees(router: Router, engine: Engine): void {
  engine.store.defineIndex<Stripe.FeeRefund>(
    "fee_refund",
    "fee",
    stringKey((r) => r.fee),
  );
  const getFee = (id: string, account: string): Stripe.ApplicationFee =>
    engine.store.get<Stripe.ApplicationFee>("application_fee", id, account, "application_fee").obj;

  router.get("/v1/application_fees/:id", (req) => getFee(req.pathParams.id!, req.account));

  router.get("/v1/application_fees", (req) => {
    const charge = optString(req.params, "charge");
    const page = engine.store.page<Stripe.ApplicationFee>(
      "application_fee",
      req.account,
      pageRequest(req.params),
      (r) =>
        (charge === undefined || r.obj.charge === charge || r.obj.originating_transaction === charge) &&
        matchesRange(r.obj.created, req.params, "created"),
    );
    return listOf("/v1/application_fees", page);
  });

  router.post(
    "/v1/application_fees/:id/refunds",
    (req) => {
      const fee = getFee(req.pathParams.id!, req.account);
      return refundApplicationFee(
        engine,
        fee.id,
        optInt(req.params, "amount"),
        applyMetadata({}, req.params),
      );
    },
    APPLICATION_FEE_REFUND_CREATE,
  );

  router.get("/v1/application_fees/:id/refunds", (req) => {
    const fee = getFee(req.pathParams.id!, req.account);
    const page = engine.store.page<Stripe.FeeRefund>(
      "fee_refund",
      req.account,
      pageRequest(req.params),
      (r) => r.obj.fee === fee.id,
      [["fee", fee.id]],
    );
    return listOf(`/v1/application_fees/${fee.id}/refunds`, page);
  });

  const getRefund = (feeId: string, id: string, account: string): Stripe.FeeRefund => {
    const refund = engine.store.get<Stripe.FeeRefund>("fee_refund", id, account, "fee_refund").obj;
    if (refund.fee !== feeId) throw resourceMissing("fee_refund", id);
    return refund;
  };

  router.get("/v1/application_fees/:id/refunds/:rid", (req) =>
    getRefund(req.pathParams.id!, req.pathParams.rid!, req.account),
  );

  router.post("/v1/application_fees/:id/refunds/:rid", (req) => {
    const refund = getRefund(req.pathParams.id!, req.pathParams.rid!, req.account);
    refund.metadata = applyMetadata(refund.metadata ?? {}, req.params);
    return refund;
  });
}
