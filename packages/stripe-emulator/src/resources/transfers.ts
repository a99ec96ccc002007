import type Stripe from "stripe";
import type { Engine } from "../core/engine.js";
import { asCharge } from "../core/fx.js";
import { newId } from "../core/ids.js";
import type { Availability } from "../core/ledger.js";
import { parseCurrency } from "../core/money.js";
import { stringKey } from "../core/store.js";
import { invalidParam, invalidRequest, refusedParam, resourceMissing } from "../http/errors.js";
import { TRANSFER_CREATE, TRANSFER_REVERSAL_CREATE } from "../http/known-params.js";
import {
  applyMetadata,
  matchesRange,
  optInt,
  optNullableString,
  optString,
  reqInt,
  reqString,
} from "../http/params.js";
import { listOf, pageRequest } from "../http/render.js";
import type { Router } from "../http/router.js";
import { capabilityStatus, findAccount } from "./accounts.js";
import { createApplicationFee } from "./application-fees.js";
import type { ChargeMeta } from "./charge-meta.js";

export interface TransferMeta {
  /** Balance transaction of the destination payment on the connected account. */
  destinationTxn: string;
  /**
   * Made by a destination charge (`transfer_data[destination]`): Stripe lets such a transfer
   * be reversed up to the charge's amount whatever the account's balance (it may go
   * negative), where a transfer of its own needs the balance to cover the reversal.
   */
  destinationCharge?: boolean;
}

export interface TransferInput {
  amount: number;
  currency: string;
  destination: string;
  sourceTransaction: string | null;
  transferGroup: string | null;
  description: string | null;
  metadata: Record<string, string>;
  /** A destination charge's application fee, taken back from the connected account's payment. */
  applicationFee?: number;
  /** Made by a destination charge (see {@link TransferMeta.destinationCharge}). */
  destinationCharge?: boolean;
}

function insufficientCapabilities(): ReturnType<typeof invalidRequest> {
  return invalidRequest(
    "Your destination account needs to have at least one of the following capabilities enabled: transfers, crypto_transfers, legacy_payments",
    { code: "insufficient_capabilities_for_transfer", param: "destination" },
  );
}

/** Checks that `destination` can receive a transfer now; Stripe refuses before moving money. */
export function assertCanReceiveTransfers(
  engine: Engine,
  destination: string,
  param = "destination",
): Stripe.Account {
  const account = findAccount(engine, destination);
  if (!account) throw resourceMissing("destination", destination, param);
  if (capabilityStatus(account, "transfers") !== "active") throw insufficientCapabilities();
  return account;
}

/** Moves funds from the platform to a connected account, as `POST /v1/transfers` does. */
export function createTransfer(engine: Engine, input: TransferInput): Stripe.Transfer {
  assertCanReceiveTransfers(engine, input.destination);
  let availability: Availability = { kind: "now" };
  if (input.sourceTransaction !== null) {
    const charge = engine.store.find<Stripe.Charge, ChargeMeta>(
      "charge",
      input.sourceTransaction,
      engine.platform,
    );
    if (!charge) throw resourceMissing("charge", input.sourceTransaction, "source_transaction");
    if (charge.obj.status === "failed") {
      throw refusedParam(
        "source_transaction",
        `The source_transaction ${input.sourceTransaction} has failed and cannot fund a transfer.`,
        "parameter_invalid_string",
      );
    }
    // A charge in another currency settled converted: transfers it funds are in the settled currency.
    const settled = asCharge(
      engine,
      engine.platform,
      charge.obj,
      charge.obj.amount - charge.obj.amount_refunded,
    );
    if (settled.currency !== input.currency) {
      throw refusedParam(
        "currency",
        `The currency of source_transaction's balance transaction (${settled.currency}) must be the same as the transfer currency (${input.currency})`,
      );
    }
    const transferred = charge.meta.transferred ?? 0;
    if (transferred + input.amount > settled.amount) {
      throw invalidRequest(
        `Insufficient funds in the source transaction: the transfers funded by ${input.sourceTransaction} would exceed its amount.`,
        { code: "balance_insufficient", param: "amount" },
      );
    }
    availability = { kind: "with_charge", chargeId: input.sourceTransaction };
    charge.meta.transferred = transferred + input.amount;
  } else if (engine.ledger.amounts(engine.platform, input.currency).available < input.amount) {
    throw invalidRequest(
      "You have insufficient available funds in your Stripe account. Try adding funds directly to your available balance by creating Charges using the 4000000000000077 test card. See: https://stripe.com/docs/testing#available-balance",
      { code: "balance_insufficient" },
    );
  }

  const id = newId("tr");
  const paymentId = newId("py");
  const platformTxn = engine.ledger.create({
    owner: engine.platform,
    amount: -input.amount,
    currency: input.currency,
    type: "transfer",
    reportingCategory: "transfer",
    source: id,
    availability,
  });
  const applicationFee = input.applicationFee ?? 0;
  const destinationTxn = engine.ledger.create({
    owner: input.destination,
    amount: input.amount,
    currency: input.currency,
    fee: applicationFee,
    applicationFee,
    type: "payment",
    reportingCategory: "charge",
    source: paymentId,
    availability,
  });
  const payment = destinationPayment(engine, paymentId, id, input, destinationTxn.id);
  engine.store.insert<Stripe.Charge, Record<string, never>>("charge", input.destination, payment, {});
  if (applicationFee > 0) {
    payment.application_fee_amount = applicationFee;
    payment.application_fee = createApplicationFee(engine, {
      amount: applicationFee,
      currency: input.currency,
      account: input.destination,
      charge: paymentId,
      originatingTransaction: input.sourceTransaction,
      availableOn: destinationTxn.available_on,
    }).id;
  }
  const transfer: Stripe.Transfer = {
    id,
    object: "transfer",
    amount: input.amount,
    amount_reversed: 0,
    balance_transaction: platformTxn.id,
    created: engine.now(),
    currency: input.currency,
    description: input.description,
    destination: input.destination,
    destination_payment: paymentId,
    livemode: false,
    metadata: input.metadata,
    reversals: { object: "list", data: [], has_more: false, url: `/v1/transfers/${id}/reversals` },
    reversed: false,
    source_transaction: input.sourceTransaction,
    source_type: "card",
    transfer_group: input.transferGroup,
  };
  engine.store.insert<Stripe.Transfer, TransferMeta>("transfer", engine.platform, transfer, {
    destinationTxn: destinationTxn.id,
    ...(input.destinationCharge === true ? { destinationCharge: true } : {}),
  });
  engine.emit("transfer.created", transfer, engine.platform);
  return transfer;
}

/** The `py_…` payment a transfer creates on the connected account. */
function destinationPayment(
  engine: Engine,
  id: string,
  transferId: string,
  input: TransferInput,
  txnId: string,
): Stripe.Charge {
  return {
    id,
    object: "charge",
    amount: input.amount,
    amount_captured: input.amount,
    amount_refunded: 0,
    application: null,
    application_fee: null,
    application_fee_amount: null,
    balance_transaction: txnId,
    billing_details: { address: null, email: null, name: null, phone: null, tax_id: null },
    calculated_statement_descriptor: null,
    captured: true,
    created: engine.now(),
    currency: input.currency,
    customer: null,
    description: null,
    disputed: false,
    failure_balance_transaction: null,
    failure_code: null,
    failure_message: null,
    fraud_details: {},
    livemode: false,
    metadata: {},
    on_behalf_of: null,
    outcome: null,
    paid: true,
    payment_intent: null,
    payment_method: null,
    payment_method_details: { type: "stripe_account" },
    receipt_email: null,
    receipt_number: null,
    receipt_url: null,
    refunded: false,
    review: null,
    shipping: null,
    source: null,
    source_transfer: transferId,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: "succeeded",
    transfer_data: null,
    transfer_group: input.transferGroup,
  };
}

/** Takes funds back from the connected account, as `POST /v1/transfers/:id/reversals` does. */
export function reverseTransfer(
  engine: Engine,
  transferId: string,
  amount: number | undefined,
  metadata: Record<string, string>,
  sourceRefund: string | null = null,
): Stripe.TransferReversal {
  const record = engine.store.get<Stripe.Transfer, TransferMeta>(
    "transfer",
    transferId,
    engine.platform,
    "transfer",
  );
  const transfer = record.obj;
  const remaining = transfer.amount - transfer.amount_reversed;
  const value = amount ?? remaining;
  if (remaining === 0) {
    throw invalidRequest(`Transfer ${transfer.id} has already been fully reversed.`, {
      code: "transfer_already_reversed",
    });
  }
  if (value <= 0 || value > remaining) {
    throw invalidRequest(
      `You have requested a reversal of ${value}, but the transfer only has ${remaining} remaining to reverse.`,
      { param: "amount", code: "amount_too_large" },
    );
  }
  const destination = transfer.destination as string;
  const funds = engine.ledger.amounts(destination, transfer.currency);
  if (record.meta.destinationCharge !== true && funds.available + funds.pending < value) {
    throw invalidRequest("The connected account has insufficient funds to cover this reversal.", {
      code: "balance_insufficient",
    });
  }
  // Reversing funds that are still pending nets them out on the same schedule.
  const follow = (txnId: string): Availability => {
    const txn = engine.store.record<Stripe.BalanceTransaction, { waitsFor?: string }>(txnId);
    if (txn?.obj.status !== "pending") return { kind: "now" };
    if (txn.meta.waitsFor) return { kind: "with_charge", chargeId: txn.meta.waitsFor };
    return { kind: "at", at: txn.obj.available_on };
  };
  const id = newId("trr");
  const refundId = newId("pyr");
  const platformReversalTxn = engine.ledger.create({
    owner: engine.platform,
    amount: value,
    currency: transfer.currency,
    type: "transfer_refund",
    reportingCategory: "transfer_reversal",
    source: id,
    availability: follow(transfer.balance_transaction as string),
  });
  engine.ledger.create({
    owner: destination,
    amount: -value,
    currency: transfer.currency,
    type: "payment_refund",
    reportingCategory: "refund",
    source: refundId,
    availability: follow(record.meta.destinationTxn),
  });
  const reversal: Stripe.TransferReversal = {
    id,
    object: "transfer_reversal",
    amount: value,
    balance_transaction: platformReversalTxn.id,
    created: engine.now(),
    currency: transfer.currency,
    destination_payment_refund: refundId,
    metadata,
    source_refund: sourceRefund,
    transfer: transfer.id,
  };
  engine.store.insert("transfer_reversal", engine.platform, reversal, {});
  transfer.amount_reversed += value;
  if (transfer.source_transaction) {
    const source = engine.store.record<Stripe.Charge, ChargeMeta>(transfer.source_transaction as string);
    if (source) source.meta.transferred = Math.max(0, (source.meta.transferred ?? 0) - value);
  }
  transfer.reversed = transfer.amount_reversed === transfer.amount;
  transfer.reversals.data.unshift(reversal);
  engine.emit("transfer.reversed", transfer, engine.platform);
  return reversal;
}

export function registerTransfers(router: Router, engine: Engine): void {
  engine.store.defineIndex<Stripe.Transfer>(
    "transfer",
    "destination",
    stringKey((t) => t.destination),
  );
  engine.store.defineIndex<Stripe.Transfer>(
    "transfer",
    "transfer_group",
    stringKey((t) => t.transfer_group),
  );
  engine.store.defineIndex<Stripe.TransferReversal>(
    "transfer_reversal",
    "transfer",
    stringKey((r) => r.transfer),
  );
  router.post(
    "/v1/transfers",
    (req) => {
      const amount = reqInt(req.params, "amount");
      if (amount <= 0) throw invalidParam("amount", "Invalid positive integer", "parameter_invalid_integer");
      return createTransfer(engine, {
        amount,
        currency: parseCurrency(reqString(req.params, "currency")),
        destination: reqString(req.params, "destination"),
        sourceTransaction: optString(req.params, "source_transaction") || null,
        transferGroup: optString(req.params, "transfer_group") || null,
        description: optString(req.params, "description") || null,
        metadata: applyMetadata({}, req.params),
      });
    },
    TRANSFER_CREATE,
  );

  router.get(
    "/v1/transfers/:id",
    (req) => engine.store.get("transfer", req.pathParams.id!, req.account, "transfer").obj as object,
  );

  router.post("/v1/transfers/:id", (req) => {
    const transfer = engine.store.get<Stripe.Transfer>(
      "transfer",
      req.pathParams.id!,
      req.account,
      "transfer",
    ).obj;
    const previous = { description: transfer.description, metadata: transfer.metadata };
    const description = optNullableString(req.params, "description");
    if (description !== undefined) transfer.description = description;
    transfer.metadata = applyMetadata(transfer.metadata, req.params);
    engine.emit("transfer.updated", transfer, req.account, { previous });
    return transfer;
  });

  router.get("/v1/transfers", (req) => {
    const destination = optString(req.params, "destination");
    const group = optString(req.params, "transfer_group");
    const page = engine.store.page<Stripe.Transfer>(
      "transfer",
      req.account,
      pageRequest(req.params),
      (r) =>
        (destination === undefined || r.obj.destination === destination) &&
        (group === undefined || r.obj.transfer_group === group) &&
        matchesRange(r.obj.created, req.params, "created"),
      [
        ["destination", destination],
        ["transfer_group", group],
      ],
    );
    return listOf("/v1/transfers", page);
  });

  router.post(
    "/v1/transfers/:id/reversals",
    (req) => {
      engine.store.get("transfer", req.pathParams.id!, req.account, "transfer");
      const amount = optInt(req.params, "amount");
      return reverseTransfer(engine, req.pathParams.id!, amount, applyMetadata({}, req.params));
    },
    TRANSFER_REVERSAL_CREATE,
  );

  router.get("/v1/transfers/:id/reversals", (req) => {
    const transfer = engine.store.get<Stripe.Transfer>(
      "transfer",
      req.pathParams.id!,
      req.account,
      "transfer",
    ).obj;
    const page = engine.store.page<Stripe.TransferReversal>(
      "transfer_reversal",
      req.account,
      pageRequest(req.params),
      (r) => r.obj.transfer === transfer.id,
      [["transfer", transfer.id]],
    );
    return listOf(`/v1/transfers/${transfer.id}/reversals`, page);
  });

  router.get("/v1/transfers/:id/reversals/:rid", (req) => {
    const reversal = engine.store.get<Stripe.TransferReversal>(
      "transfer_reversal",
      req.pathParams.rid!,
      req.account,
      "transfer_reversal",
    ).obj;
    if (reversal.transfer !== req.pathParams.id)
      throw resourceMissing("transfer_reversal", req.pathParams.rid!);
    return reversal;
  });
}
