// Builders ("mothers") of marketplace charges for tests: a destination charge and a split
// among three co-hosts, the Stripe facts that move them, and a ledger of their postings.
import {
  checkLedgerInvariants,
  checkMarketplaceMoney,
  emptyLedger,
  type Ledger,
  postTransaction,
} from "../ledger/index.js";
import {
  createMarketplaceCharge,
  decideMarketplaceCharge,
  type MarketplaceChargeDecision,
} from "../marketplace/decide.js";
import type { CreateMarketplaceCharge, MarketplaceCharge } from "../marketplace/marketplace-charge.js";
import type { MarketplaceChargeEffect } from "../marketplace/marketplace-charge-effect.js";
import type { MarketplaceChargeInput } from "../marketplace/marketplace-charge-input.js";
import { DEFAULT_MARKETPLACE_POLICY, type MarketplacePolicy } from "../policy/marketplace-policy.js";

/** The time the builders create charges at. */
export const T0 = Date.UTC(2026, 4, 4);
/** The policy the builders decide with (the default). */
export const marketplaceTestPolicy: MarketplacePolicy = DEFAULT_MARKETPLACE_POLICY;

/** A destination charge: 100.00 AUD to one seller, 10 % fee. */
export const destinationCommand: CreateMarketplaceCharge = {
  id: "mc1",
  clientReference: "rsvp_1",
  requestedBy: "app_events",
  activityId: "act_1",
  purpose: "rsvp",
  description: "Pottery class",
  amountMinor: 10_000,
  currency: "AUD",
  customer: { id: "cus_person", stripeCustomerId: "cus_1", email: "cy@example.com" },
  paymentMethod: { kind: "saved_card", paymentMethodId: "pm_1" },
  fee: { kind: "rate", basisPoints: 1_000 },
  sellers: [{ id: "sel_a", connectedAccountId: "acct_a" }],
};

/** A split among three co-hosts weighted 2:1:1. */
export const splitCommand: CreateMarketplaceCharge = {
  ...destinationCommand,
  id: "mc2",
  clientReference: "order_2",
  purpose: "purchase",
  amountMinor: 10_001,
  sellers: [
    { id: "sel_a", connectedAccountId: "acct_a", weight: 2 },
    { id: "sel_b", connectedAccountId: "acct_b", weight: 1 },
    { id: "sel_c", connectedAccountId: "acct_c", weight: 1 },
  ],
};

/** A charge just created (default: {@link destinationCommand}). */
export function created(command: CreateMarketplaceCharge = destinationCommand): MarketplaceCharge {
  return createMarketplaceCharge(command, { now: T0, policy: marketplaceTestPolicy })._unsafeUnwrap().state;
}

/** Applies inputs in order (each must apply or be ignored), returning the last decision and every effect. */
export function run(
  state: MarketplaceCharge,
  inputs: readonly MarketplaceChargeInput[],
  now = T0,
  p: MarketplacePolicy = marketplaceTestPolicy,
): { state: MarketplaceCharge; last: MarketplaceChargeDecision; effects: MarketplaceChargeEffect[] } {
  let s = state;
  let last: MarketplaceChargeDecision = { state, effects: [] };
  const effects: MarketplaceChargeEffect[] = [];
  for (const input of inputs) {
    const d = decideMarketplaceCharge(s, input, { now, policy: p });
    if (d.isErr()) throw new Error(`${input.type} refused: ${d.error.code}: ${d.error.message}`);
    last = d.value;
    s = d.value.ignored ? s : { ...d.value.state, version: s.version + 1 };
    effects.push(...d.value.effects);
  }
  return { state: s, last, effects };
}

/** The state after applying `inputs` in order (see {@link run}). */
export function after(
  state: MarketplaceCharge,
  inputs: readonly MarketplaceChargeInput[],
  now = T0,
  p: MarketplacePolicy = marketplaceTestPolicy,
): MarketplaceCharge {
  return run(state, inputs, now, p).state;
}

/** Posts every post_ledger effect into a fresh ledger (each id once). */
export function ledgerOf(effects: readonly MarketplaceChargeEffect[]): Ledger {
  let ledger = emptyLedger();
  for (const e of effects)
    if (e.kind === "post_ledger") ledger = postTransaction(ledger, e.transaction)._unsafeUnwrap();
  return ledger;
}

/** The payment succeeded (a destination charge's transfer named). */
export const paid = (transferId = "tr_dest"): MarketplaceChargeInput => ({
  type: "payment_succeeded",
  paymentIntentId: "pi_1",
  chargeId: "ch_1",
  transferId,
});
/** A seller's transfer attempt was created. */
export const created1 = (sellerId: string, attempt = 1): MarketplaceChargeInput => ({
  type: "transfer_created",
  sellerId,
  attempt,
  transferId: `tr_${sellerId}_${attempt}`,
});
/** Every co-host of {@link splitCommand} paid by their first attempt. */
export const allCreated: MarketplaceChargeInput[] = ["sel_a", "sel_b", "sel_c"].map((s) => created1(s));
/** A dispute was opened. */
export const dispute = (amountMinor: number, disputeId = "dp_1"): MarketplaceChargeInput => ({
  type: "dispute_opened",
  disputeId,
  amountMinor,
  reason: "fraudulent",
  stripeStatus: "needs_response",
});
/** A dispute was closed. */
export const closed = (
  outcome: "won" | "lost",
  amountMinor: number,
  disputeId = "dp_1",
): MarketplaceChargeInput => ({
  type: "dispute_closed",
  disputeId,
  outcome,
  amountMinor,
});
/** A refund command (of everything when no amount). */
export const refund = (
  amountMinor?: number,
  initiatedBy: "customer" | "platform" = "platform",
): MarketplaceChargeInput =>
  amountMinor === undefined
    ? { type: "refund", initiatedBy, by: "admin_1", reason: "cancelled" }
    : { type: "refund", initiatedBy, by: "admin_1", reason: "cancelled", amountMinor };
/** A refund attempt succeeded. */
export const refundOk = (n: number, attempt = 1): MarketplaceChargeInput => ({
  type: "refund_succeeded",
  refund: n,
  attempt,
  refundId: `re_${n}_${attempt}`,
});
/** A reversal landed. */
export const reversed = (reversal: number, amountMinor: number): MarketplaceChargeInput => ({
  type: "transfer_reversed",
  reversal,
  transferId: "tr_x",
  amountMinor,
});

/** Refund `n` (attempt `attempt`) failed at Stripe with `failureCode`. */
export const refundFailed = (failureCode: string, n = 1, attempt = 1): MarketplaceChargeInput => ({
  type: "refund_failed",
  refund: n,
  attempt,
  failureCode,
});

/** The charge's books from `effects`' postings, after checking the ledger's invariants (throws if broken). */
export function marketplaceBooks(effects: readonly MarketplaceChargeEffect[], charge: MarketplaceCharge) {
  const ledger = ledgerOf(effects);
  checkLedgerInvariants(ledger)._unsafeUnwrap();
  return checkMarketplaceMoney(
    ledger,
    charge.id,
    charge.sellers.map((s) => s.id),
    charge.currency,
  )._unsafeUnwrap();
}

/** The effects of one kind. */
export const effectsOfKind = <K extends MarketplaceChargeEffect["kind"]>(
  effects: readonly MarketplaceChargeEffect[],
  kind: K,
) => effects.filter((e): e is Extract<MarketplaceChargeEffect, { kind: K }> => e.kind === kind);
