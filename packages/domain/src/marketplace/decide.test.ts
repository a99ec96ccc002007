import { describe, expect, it } from "vitest";
import { checkLedgerInvariants, checkMarketplaceMoney } from "../ledger/index.js";
import { CHECKOUT_EXPIRY_ASKS_MAX, CHECKOUT_EXPIRY_RECHECK_MS } from "../policy/checkout-expiry-recheck.js";
import { HOUR_MS } from "../shared/time.js";
import {
  after,
  allCreated,
  closed,
  created,
  created1,
  destinationCommand,
  dispute,
  ledgerOf,
  paid,
  marketplaceTestPolicy as policy,
  refund,
  refundOk,
  reversed,
  run,
  splitCommand,
  T0,
} from "../testing/marketplace-charge-mothers.js";
import { createMarketplaceCharge, decideMarketplaceCharge } from "./decide.js";
import type { MarketplaceChargeErrorCode } from "./marketplace-charge.errors.js";
import {
  type CreateMarketplaceCharge,
  type MarketplaceCharge,
  marketplaceRefundableMinor,
} from "./marketplace-charge.js";
import type { MarketplaceChargeEffect } from "./marketplace-charge-effect.js";
import {
  MARKETPLACE_CHARGE_IGNORED_CODES,
  type MarketplaceChargeIgnoredCode,
} from "./marketplace-charge-ignored.js";
import type { MarketplaceChargeInput } from "./marketplace-charge-input.js";

const SELLERS = ["sel_a", "sel_b", "sel_c"];
const kinds = (effects: readonly MarketplaceChargeEffect[]) => effects.map((e) => e.kind);
const of = <K extends MarketplaceChargeEffect["kind"]>(
  effects: readonly MarketplaceChargeEffect[],
  kind: K,
) => effects.filter((e): e is Extract<MarketplaceChargeEffect, { kind: K }> => e.kind === kind);

function books(effects: readonly MarketplaceChargeEffect[], charge: MarketplaceCharge) {
  const ledger = ledgerOf(effects);
  expect(checkLedgerInvariants(ledger).isOk()).toBe(true);
  return checkMarketplaceMoney(
    ledger,
    charge.id,
    charge.sellers.map((s) => s.id),
    charge.currency,
  )._unsafeUnwrap();
}

function refused(
  state: MarketplaceCharge,
  input: MarketplaceChargeInput,
  now = T0,
): MarketplaceChargeErrorCode {
  return decideMarketplaceCharge(state, input, { now, policy })._unsafeUnwrapErr().code;
}

function ignoredCode(state: MarketplaceCharge, input: MarketplaceChargeInput, now = T0) {
  const d = decideMarketplaceCharge(state, input, { now, policy })._unsafeUnwrap();
  expect(d.state).toBe(state);
  expect(d.effects).toEqual([]);
  return d.ignored?.code;
}

const splitSettled = () => run(created(splitCommand), [paid(), ...allCreated]);

describe("creating a marketplace charge", () => {
  it("the builders: a 100.00 AUD destination charge with a 10.00 fee, and a 100.01 AUD split 2:1:1", () => {
    const dest = created();
    expect([dest.mode, dest.feeMinor, dest.sellers[0]?.shareMinor]).toEqual(["destination", 1_000, 9_000]);
    const split = created(splitCommand);
    expect(split.mode).toBe("split");
    expect(split.feeMinor).toBe(1_000);
    expect(split.sellers.map((s) => [s.shareMinor, s.feeMinor])).toEqual([
      [4_501, 500],
      [2_250, 250],
      [2_250, 250],
    ]);
  });

  it("a destination charge: the seller's account as transfer_data[destination], the fee as application_fee_amount, a saved card off-session", () => {
    const d = createMarketplaceCharge(
      { ...destinationCommand, sellerIsMerchantOfRecord: true },
      { now: T0, policy },
    )._unsafeUnwrap();
    expect(d.state.status).toBe("awaiting_payment");
    expect(d.effects).toEqual([
      {
        id: "mc1:payment",
        aggregate: "marketplace_charge",
        aggregateId: "mc1",
        kind: "create_payment",
        amountMinor: 10_000,
        currency: "AUD",
        description: "Pottery class",
        customerId: "cus_person",
        stripeCustomerId: "cus_1",
        confirmation: { kind: "saved_card", paymentMethodId: "pm_1", offSession: true },
        destination: { connectedAccountId: "acct_a", applicationFeeMinor: 1_000, onBehalfOf: true },
        transferGroup: "marketplace_mc1",
        metadata: { aggregate: "marketplace_charge", marketplaceChargeId: "mc1" },
      },
    ]);
  });

  it("a split: one charge to the platform (no destination), a new card confirmed by the client", () => {
    const d = createMarketplaceCharge(
      { ...splitCommand, paymentMethod: { kind: "new_card" } },
      { now: T0, policy },
    )._unsafeUnwrap();
    const [effect] = of(d.effects, "create_payment");
    expect(effect?.destination).toBeUndefined();
    expect(effect?.confirmation).toEqual({ kind: "client_confirmation" });
    expect(effect?.transferGroup).toBe("marketplace_mc2");
  });

  it("only in a currency the platform settles in, when the policy names them (the sellers' transfers and reversals are in it): a split and a destination charge alike", () => {
    const settled = { ...policy, settlementCurrencies: ["AUD"] as const };
    const made = (command: CreateMarketplaceCharge) =>
      createMarketplaceCharge({ ...command, currency: "USD" }, { now: T0, policy: settled });
    expect(made(splitCommand)._unsafeUnwrapErr().code).toBe("currency_not_settled");
    expect(made(destinationCommand)._unsafeUnwrapErr().code).toBe("currency_not_settled");
    expect(createMarketplaceCharge(destinationCommand, { now: T0, policy: settled }).isOk()).toBe(true);
    expect(createMarketplaceCharge(splitCommand, { now: T0, policy: settled }).isOk()).toBe(true);
    expect(createMarketplaceCharge({ ...splitCommand, currency: "USD" }, { now: T0, policy }).isOk()).toBe(
      true,
    );
  });

  it("the fee is raised to the currency's minimum, and a fixed fee is taken as it is", () => {
    expect(created({ ...destinationCommand, fee: { kind: "rate", basisPoints: 10 } }).feeMinor).toBe(50);
    expect(created({ ...destinationCommand, fee: { kind: "fixed", amountMinor: 725 } }).feeMinor).toBe(725);
    expect(
      created({
        ...destinationCommand,
        currency: "KWD",
        amountMinor: 10_000,
        fee: { kind: "rate", basisPoints: 333 },
      }).feeMinor % 10,
    ).toBe(0);
  });

  it.each<[string, Partial<CreateMarketplaceCharge>, MarketplaceChargeErrorCode]>([
    ["an unknown currency", { currency: "XXX" }, "unsupported_currency"],
    ["an amount below Stripe's minimum", { amountMinor: 20 }, "invalid_amount"],
    ["a fractional amount", { amountMinor: 10.5 }, "invalid_amount"],
    ["a rate of 100 %", { fee: { kind: "rate", basisPoints: 10_000 } }, "invalid_fee"],
    ["a fixed fee of everything", { fee: { kind: "fixed", amountMinor: 10_000 } }, "invalid_fee"],
    ["no sellers", { sellers: [] }, "invalid_split"],
    [
      "a seller twice",
      {
        sellers: [
          { id: "a", connectedAccountId: "acct_a" },
          { id: "a", connectedAccountId: "acct_b" },
        ],
      },
      "invalid_split",
    ],
    [
      "a zero weight",
      {
        sellers: [
          { id: "a", connectedAccountId: "acct_a", weight: 0 },
          { id: "b", connectedAccountId: "acct_b" },
        ],
      },
      "invalid_split",
    ],
    [
      "more co-hosts than the policy allows",
      { sellers: Array.from({ length: 11 }, (_, i) => ({ id: `s${i}`, connectedAccountId: `acct_${i}` })) },
      "invalid_split",
    ],
    ["an empty client reference", { clientReference: " " }, "invalid_marketplace_charge"],
    [
      "a client reference over 500 characters",
      { clientReference: "r".repeat(501) },
      "invalid_marketplace_charge",
    ],
    ["no caller", { requestedBy: "" }, "invalid_marketplace_charge"],
    [
      "an email without @",
      { customer: { id: "p", stripeCustomerId: "cus_1", email: "nope" } },
      "invalid_marketplace_charge",
    ],
    [
      "on_behalf_of for a split",
      { ...splitCommand, id: "mc1", sellerIsMerchantOfRecord: true },
      "invalid_marketplace_charge",
    ],
  ])("refuses %s", (_name, over, code) => {
    expect(
      createMarketplaceCharge({ ...destinationCommand, ...over }, { now: T0, policy })._unsafeUnwrapErr()
        .code,
    ).toBe(code);
  });

  it("create again is ignored", () => {
    expect(ignoredCode(created(), { type: "create", command: destinationCommand })).toBe("already_created");
  });
});

describe("the payment", () => {
  it("3-D Secure: the client secret is kept while the customer must act, and an off-session customer is told", () => {
    const { state, effects } = run(created(), [
      { type: "payment_requires_action", paymentIntentId: "pi_1", clientSecret: "pi_1_secret" },
    ]);
    expect(state.status).toBe("requires_action");
    expect(state.clientSecret).toBe("pi_1_secret");
    expect(effects.map((e) => e.id)).toEqual([
      "mc1:timer:action_expired",
      "mc1:notify:payment_action_required:customer",
    ]);
    const paidNow = after(state, [paid()]);
    expect(paidNow.status).toBe("settled");
    expect(paidNow.clientSecret).toBeUndefined();
  });

  it("a new card on-session: the client confirms, nobody is notified", () => {
    const s = created({ ...destinationCommand, paymentMethod: { kind: "new_card" } });
    const { state, effects } = run(s, [
      { type: "payment_requires_action", paymentIntentId: "pi_1", clientSecret: "pi_1_secret" },
    ]);
    expect(state.clientSecret).toBe("pi_1_secret");
    // Only the expiry timer: the customer has the policy's time to confirm.
    expect(kinds(effects)).toEqual(["schedule_timer"]);
    // A declined card: the customer may try another on the same PaymentIntent (Stripe keeps
    // it confirmable), so the charge waits on, the decline recorded; a later success settles it.
    const declined = run(state, [
      { type: "payment_failed", paymentIntentId: "pi_1", failureCode: "card_declined" },
    ]);
    expect(declined.state).toMatchObject({ status: "requires_action", failureCode: "card_declined" });
    expect(declined.effects).toEqual([]);
    expect(after(declined.state, [paid()]).status).toBe("settled");
  });

  it("a new card's PaymentIntent cancelled at Stripe without susu asking (the dashboard, the API) ends the charge payment_failed: the customer cannot pay it any more, and is told", () => {
    const s = created({ ...destinationCommand, paymentMethod: { kind: "new_card" } });
    const waiting = after(s, [
      { type: "payment_requires_action", paymentIntentId: "pi_1", clientSecret: "pi_1_secret" },
      { type: "payment_failed", paymentIntentId: "pi_1", failureCode: "card_declined" },
    ]);
    expect(waiting.status).toBe("requires_action");
    for (const failureCode of ["canceled", "canceled_requested_by_customer", "canceled_abandoned"]) {
      const cancelled = run(
        waiting,
        [{ type: "payment_failed", paymentIntentId: "pi_1", failureCode }],
        T0 + 60_000,
      );
      expect(cancelled.state).toMatchObject({ status: "payment_failed", failureCode, endedAt: T0 + 60_000 });
      expect(cancelled.state.expiryRequestedAt).toBeUndefined();
      expect(of(cancelled.effects, "notify")).toEqual([
        expect.objectContaining({
          template: "payment_failed",
          data: expect.objectContaining({ failureCode }),
        }),
      ]);
      // Its expiry timer then finds nothing to do; a success after all is a late payment, refunded.
      expect(
        run(
          cancelled.state,
          [{ type: "timer", timer: { kind: "action_expired" } }],
          T0 + policy.actionExpiryMs,
        ).effects,
      ).toEqual([]);
      expect(kinds(run(cancelled.state, [paid()]).effects)).toContain("refund");
    }
  });

  it("a payment never confirmed expires once Stripe confirms the cancel: the customer told then; a success after the cancel is refunded", () => {
    const s = created({ ...destinationCommand, paymentMethod: { kind: "new_card" } });
    const waiting = run(s, [
      { type: "payment_requires_action", paymentIntentId: "pi_1", clientSecret: "pi_1_secret" },
    ]);
    expect(of(waiting.effects, "schedule_timer")).toEqual([
      expect.objectContaining({
        id: "mc1:timer:action_expired",
        at: T0 + policy.actionExpiryMs,
        timer: { kind: "action_expired" },
      }),
    ]);
    // Another requires_action (a new secret, 3-D Secure again) does not push the deadline.
    const again = run(waiting.state, [
      { type: "payment_requires_action", paymentIntentId: "pi_1", clientSecret: "pi_1_secret_2" },
    ]);
    expect(of(again.effects, "schedule_timer")).toEqual([]);
    const fire = { type: "timer", timer: { kind: "action_expired" } } as const;
    const expiresAt = T0 + policy.actionExpiryMs;
    // The timer asks for the cancel and nothing else: the charge waits for Stripe's answer.
    const asked = run(again.state, [fire], expiresAt);
    expect(asked.state).toMatchObject({ status: "requires_action", expiryRequestedAt: expiresAt });
    expect(asked.state.endedAt).toBeUndefined();
    expect(kinds(asked.effects)).toEqual(["cancel_payment", "schedule_timer"]);
    expect(of(asked.effects, "cancel_payment")).toEqual([
      expect.objectContaining({ id: "mc1:payment:cancel", paymentIntentId: "pi_1" }),
    ]);
    // The recheck, in case Stripe's word never comes (the ask parked or ended with no news, the webhook lost).
    expect(of(asked.effects, "schedule_timer")).toEqual([
      expect.objectContaining({
        id: "mc1:timer:cancel_recheck:2",
        at: expiresAt + CHECKOUT_EXPIRY_RECHECK_MS,
        timer: { kind: "cancel_recheck", ask: 2 },
      }),
    ]);
    expect(asked.state.expiryAsks).toBe(1);
    expect(ignoredCode(asked.state, fire)).toBe("timer_no_longer_due");
    // A decline meanwhile is not the cancel: still waiting.
    expect(
      after(asked.state, [{ type: "payment_failed", paymentIntentId: "pi_1", failureCode: "card_declined" }]),
    ).toMatchObject({ status: "requires_action", failureCode: "card_declined" });
    // Stripe confirms the cancel: now it has expired, and the customer is told.
    const cancelled = {
      type: "payment_failed",
      paymentIntentId: "pi_1",
      failureCode: "canceled_abandoned",
    } as const;
    const expired = run(asked.state, [cancelled], expiresAt + 1_000);
    expect(expired.state).toMatchObject({
      status: "expired",
      failureCode: "action_expired",
      endedAt: expiresAt + 1_000,
    });
    expect(expired.state.clientSecret).toBeUndefined();
    expect(of(expired.effects, "notify")).toEqual([
      expect.objectContaining({
        id: "mc1:notify:payment_expired:customer",
        template: "payment_expired",
        to: { kind: "customer", email: s.customer.email },
      }),
    ]);
    // Expired, it changes no more: the timer again, the cancel reported again (webhook after
    // the effect's answer), a decline, a refund asked for.
    expect(ignoredCode(expired.state, fire)).toBe("timer_no_longer_due");
    expect(ignoredCode(expired.state, cancelled)).toBe("payment_already_settled");
    expect(ignoredCode(expired.state, { type: "payment_failed", failureCode: "card_declined" })).toBe(
      "payment_already_settled",
    );
    expect(refused(expired.state, refund())).toBe("charge_ended");
    // Money that arrives after a confirmed cancel (Stripe never does this; recorded anyway) is refunded whole.
    const late = run(expired.state, [paid()]);
    expect(late.state.status).toBe("refunding");
    expect(of(late.effects, "refund")).toEqual([
      expect.objectContaining({ amountMinor: 10_000, reverseTransfer: true, refundApplicationFee: true }),
    ]);
    expect(of(late.effects, "open_ticket").map((e) => e.reason)).toEqual(["unexpected_money"]);
    const done = run(late.state, [refundOk(1)]);
    expect(done.state.status).toBe("refunded");
    expect(books([...late.effects, ...done.effects], done.state)).toMatchObject({ refundedMinor: 10_000 });
    // A payment paid in time: the timer finds nothing to expire.
    expect(ignoredCode(after(waiting.state, [paid()]), fire)).toBe("timer_no_longer_due");
  });

  it.each([
    ["destination", destinationCommand, "settled"],
    ["split", splitCommand, "paying_sellers"],
  ] as const)(
    "a %s charge paid seconds before the expiry timer fired is an ordinary payment: never expired, never refunded",
    (_mode, command, paidStatus) => {
      const waiting = after(created({ ...command, paymentMethod: { kind: "new_card" } }), [
        { type: "payment_requires_action", paymentIntentId: "pi_1", clientSecret: "pi_1_secret" },
      ]);
      const fire = { type: "timer", timer: { kind: "action_expired" } } as const;
      // The customer passed 3-D Secure; the success webhook is still queued when the timer fires.
      const asked = run(waiting, [fire], T0 + policy.actionExpiryMs);
      expect(of(asked.effects, "notify")).toEqual([]);
      // The cancel is refused (the payment succeeded) and the success is read, or its webhook arrives.
      const { state, effects } = run(asked.state, [paid()], T0 + policy.actionExpiryMs + 1_000);
      expect(state.status).toBe(paidStatus);
      expect(state.endedAt).toBeUndefined();
      expect(state.refunds).toEqual([]);
      expect(of(effects, "refund")).toEqual([]);
      expect(of(effects, "open_ticket")).toEqual([]);
      expect(effects.some((e) => e.kind === "notify" && e.template === "payment_expired")).toBe(false);
      if (command.sellers.length > 1) expect(of(effects, "transfer").map((e) => e.sellerId)).toEqual(SELLERS);
      else expect(of(effects, "notify").map((e) => e.id)).toEqual(["mc1:notify:seller_paid:sel_a"]);
      expect(books(effects, state)).toMatchObject({ paidInMinor: command.amountMinor, refundedMinor: 0 });
      // The cancel's confirmation cannot follow a success; reported anyway, it changes nothing.
      expect(
        ignoredCode(state, {
          type: "payment_failed",
          paymentIntentId: "pi_1",
          failureCode: "canceled_abandoned",
        }),
      ).toBe("payment_already_settled");
    },
  );

  it("a destination charge that succeeds pays the seller at once: captured, fee earned, seller paid, nothing in flight", () => {
    const { state, effects } = run(created(), [
      { type: "payment_processing", paymentIntentId: "pi_1" },
      paid(),
    ]);
    expect(state.status).toBe("settled");
    expect(state.destinationTransferId).toBe("tr_dest");
    expect(of(effects, "notify").map((e) => e.id)).toEqual(["mc1:notify:seller_paid:sel_a"]);
    expect(of(effects, "post_ledger").map((e) => e.id)).toEqual([
      "mc1:ledger:captured",
      "mc1:ledger:fee_earned",
      "mc1:ledger:seller_payable:sel_a",
      "mc1:ledger:transferred:sel_a",
    ]);
    const m = books(effects, state);
    expect([m.paidInMinor, m.feesMinor, m.sellersMinor, m.inFlightMinor, m.sellerPayableMinor]).toEqual([
      10_000, 1_000, 9_000, 0, 0,
    ]);
  });

  it("a split that succeeds asks for one transfer per seller, funded by the charge, in the transfer group", () => {
    const { state, effects } = run(created(splitCommand), [paid()]);
    expect(state.status).toBe("paying_sellers");
    expect(of(effects, "transfer")).toEqual(
      SELLERS.map((sellerId, i) => ({
        id: `mc2:transfer:${sellerId}:attempt:1`,
        aggregate: "marketplace_charge",
        aggregateId: "mc2",
        kind: "transfer",
        sellerId,
        attempt: 1,
        destinationAccountId: `acct_${sellerId.slice(-1)}`,
        sourceChargeId: "ch_1",
        amountMinor: [4_501, 2_250, 2_250][i],
        currency: "AUD",
        transferGroup: "marketplace_mc2",
        metadata: { aggregate: "marketplace_charge", marketplaceChargeId: "mc2", sellerId, attempt: 1 },
      })),
    );
    const m = books(effects, state);
    expect([m.sellerPayableMinor, m.feesMinor, m.inFlightMinor]).toEqual([9_001, 1_000, 0]);
  });

  it("a failed payment ends the charge and tells the customer", () => {
    const { state, effects } = run(created(), [
      { type: "payment_failed", paymentIntentId: "pi_1", failureCode: "card_declined" },
    ]);
    expect(state.status).toBe("payment_failed");
    expect(effects.map((e) => e.id)).toEqual(["mc1:notify:payment_failed:customer"]);
  });

  it("money that arrives after the payment failed is captured and refunded whole at once, with a ticket (split: straight from the platform)", () => {
    const failed = after(created(splitCommand), [{ type: "payment_failed", failureCode: "card_declined" }]);
    const { state, effects } = run(failed, [paid()]);
    expect(state.status).toBe("refunding");
    expect(kinds(effects)).toEqual([
      "post_ledger",
      "open_ticket",
      "notify",
      "refund",
      "schedule_timer",
      "notify",
    ]);
    expect(of(effects, "refund")[0]).toMatchObject({ amountMinor: 10_001, reverseTransfer: false });
    const done = run(state, [refundOk(1)]);
    expect(done.state.status).toBe("refunded");
    const m = books([...effects, ...done.effects], done.state);
    expect([m.refundedMinor, m.inFlightMinor, m.feesMinor, m.sellersMinor]).toEqual([10_001, 0, 0, 0]);
  });

  it("a late destination payment reverses the seller and gives the fee back", () => {
    const failed = after(created(), [{ type: "payment_failed", failureCode: "card_declined" }]);
    const { state, effects } = run(failed, [paid(), refundOk(1)]);
    expect(state.status).toBe("refunded");
    expect(of(effects, "refund")[0]).toMatchObject({ reverseTransfer: true, refundApplicationFee: true });
    const m = books(effects, state);
    expect([m.refundedMinor, m.inFlightMinor, m.feesMinor, m.sellersMinor, m.platformFundedMinor]).toEqual([
      10_000, 0, 0, 0, 0,
    ]);
  });
});

describe("sellers' transfers (split)", () => {
  it("every seller paid: settled, each told, nothing payable or in flight", () => {
    const { state, effects } = splitSettled();
    expect(state.status).toBe("settled");
    expect(of(effects, "notify").map((e) => e.id)).toEqual(SELLERS.map((s) => `mc2:notify:seller_paid:${s}`));
    const m = books(effects, state);
    expect(m.sellerMinor).toEqual({ sel_a: 4_501, sel_b: 2_250, sel_c: 2_250 });
    expect([m.sellerPayableMinor, m.inFlightMinor, m.feesMinor]).toEqual([0, 0, 1_000]);
  });

  it("a retryable failure is retried after backoff with a new key; a seller is paid once", () => {
    const paidState = after(created(splitCommand), [paid()]);
    const fail = run(
      paidState,
      [{ type: "transfer_failed", sellerId: "sel_b", attempt: 1, failureCode: "balance_insufficient" }],
      T0,
    );
    const [timer] = of(fail.effects, "schedule_timer");
    expect(timer?.id).toBe("mc2:timer:retry_transfer:sel_b:2");
    expect(timer?.at).toBeGreaterThanOrEqual(T0 + HOUR_MS / 2);
    const retry = run(fail.state, [
      { type: "timer", timer: { kind: "retry_transfer", sellerId: "sel_b", attempt: 2 } },
    ]);
    expect(of(retry.effects, "transfer").map((e) => e.id)).toEqual(["mc2:transfer:sel_b:attempt:2"]);
    const done = run(retry.state, [created1("sel_a"), created1("sel_c"), created1("sel_b", 2)]);
    expect(done.state.status).toBe("settled");
  });

  it("retries used up: the transfer is parked with a ticket, the admins told; an admin's retry starts again", () => {
    const failing = (attempt: number): MarketplaceChargeInput => ({
      type: "transfer_failed",
      sellerId: "sel_b",
      attempt,
      failureCode: "balance_insufficient",
    });
    const retryTimer = (attempt: number): MarketplaceChargeInput => ({
      type: "timer",
      timer: { kind: "retry_transfer", sellerId: "sel_b", attempt },
    });
    const { state, effects } = run(created(splitCommand), [
      paid(),
      failing(1),
      retryTimer(2),
      failing(2),
      retryTimer(3),
      failing(3),
    ]);
    expect(state.status).toBe("transfer_blocked");
    expect(of(effects, "open_ticket").map((e) => [e.id, e.reason])).toEqual([
      ["mc2:ticket:transfer_parked:sel_b:3", "transfer_parked"],
    ]);
    expect(of(effects, "notify").map((e) => e.id)).toEqual(["mc2:notify:transfer_blocked:sel_b:3"]);
    const again = run(state, [{ type: "retry_transfers", by: "admin_1" }]);
    expect(again.state.status).toBe("paying_sellers");
    expect(of(again.effects, "transfer").map((e) => e.id)).toEqual(["mc2:transfer:sel_b:attempt:4"]);
  });

  it("a permanent failure parks at once; an unknown outcome parks without writing the attempt off", () => {
    const permanent = run(created(splitCommand), [
      paid(),
      { type: "transfer_failed", sellerId: "sel_a", attempt: 1, failureCode: "account_invalid" },
    ]);
    expect(permanent.state.status).toBe("transfer_blocked");
    const unknown = run(created(splitCommand), [
      paid(),
      { type: "transfer_failed", sellerId: "sel_a", attempt: 1, failureCode: "api_error" },
    ]);
    expect(unknown.state.status).toBe("transfer_blocked");
    expect(of(unknown.effects, "open_ticket")[0]?.id).toBe("mc2:ticket:transfer_outcome_unknown:sel_a:1");
    // It landed after all: the seller is paid by it, once.
    const landed = run(unknown.state, [created1("sel_a"), created1("sel_b"), created1("sel_c")]);
    expect(landed.state.status).toBe("settled");
  });

  it("an admin's retry of an attempt of unknown outcome looks it up at Stripe first: adopted if found, retried if not", () => {
    const unknown = run(created(splitCommand), [
      paid(),
      { type: "transfer_failed", sellerId: "sel_a", attempt: 1, failureCode: "api_error" },
      created1("sel_b"),
      created1("sel_c"),
    ]);
    expect(unknown.state.status).toBe("transfer_blocked");
    const asked = run(unknown.state, [{ type: "retry_transfers", by: "admin_1" }]);
    expect(of(asked.effects, "transfer")).toEqual([]);
    expect(of(asked.effects, "find_transfer")).toMatchObject([
      {
        id: "mc2:transfer:sel_a:attempt:1:lookup:1",
        sellerId: "sel_a",
        attempt: 1,
        transferEffectId: "mc2:transfer:sel_a:attempt:1",
      },
    ]);
    expect(asked.state.status).toBe("transfer_blocked");
    // Found: adopted, the seller paid once, the charge settled.
    const found = run(asked.state, [created1("sel_a")]);
    expect(found.state.status).toBe("settled");
    expect(found.state.transfers.filter((t) => t.sellerId === "sel_a").map((t) => t.status)).toEqual([
      "created",
    ]);
    // Not found: written off, attempt 2 asked for.
    const missing = run(asked.state, [{ type: "transfer_not_found", sellerId: "sel_a", attempt: 1 }]);
    expect(missing.state.status).toBe("paying_sellers");
    expect(of(missing.effects, "transfer").map((e) => e.id)).toEqual(["mc2:transfer:sel_a:attempt:2"]);
    expect(ignoredCode(unknown.state, { type: "transfer_not_found", sellerId: "sel_a", attempt: 1 })).toBe(
      "transfer_not_pending",
    );
  });

  it("an attempt susu gave up on that is created after all is never ignored: a ticket, and no second posting", () => {
    const { state } = run(created(splitCommand), [
      paid(),
      { type: "transfer_failed", sellerId: "sel_a", attempt: 1, failureCode: "balance_insufficient" },
      { type: "timer", timer: { kind: "retry_transfer", sellerId: "sel_a", attempt: 2 } },
      created1("sel_a", 2),
    ]);
    const late = run(state, [created1("sel_a", 1)]);
    expect(kinds(late.effects)).toEqual(["open_ticket", "notify"]);
    expect(late.effects[0]?.id).toBe("mc2:ticket:unexpected_money:transfer:tr_sel_a_1");
  });
});

describe("refunds", () => {
  const destinationSettled = () => run(created(), [paid()]);

  it("a platform refund of a destination charge reverses the transfer and refunds the fee with it (Stripe does both)", () => {
    const start = destinationSettled();
    const asked = run(start.state, [refund()]);
    expect(asked.state.status).toBe("refunding");
    expect(of(asked.effects, "refund")).toEqual([
      {
        id: "mc1:refund:1:attempt:1",
        aggregate: "marketplace_charge",
        aggregateId: "mc1",
        kind: "refund",
        refund: 1,
        attempt: 1,
        paymentIntentId: "pi_1",
        amountMinor: 10_000,
        currency: "AUD",
        reverseTransfer: true,
        refundApplicationFee: true,
        initiatedBy: "platform",
      },
    ]);
    const done = run(asked.state, [refundOk(1)]);
    expect(done.state.status).toBe("refunded");
    const m = books([...start.effects, ...asked.effects, ...done.effects], done.state);
    expect([m.refundedMinor, m.sellersMinor, m.feesMinor, m.inFlightMinor, m.platformFundedMinor]).toEqual([
      10_000, 0, 0, 0, 0,
    ]);
  });

  it("a customer's partial refund reverses the seller but keeps the platform's fee (the default policy)", () => {
    const start = destinationSettled();
    const { state, effects } = run(start.state, [refund(2_000, "customer"), refundOk(1)]);
    expect(state.status).toBe("settled");
    expect(of(effects, "refund")[0]).toMatchObject({ reverseTransfer: true, refundApplicationFee: false });
    const m = books([...start.effects, ...effects], state);
    expect([m.refundedMinor, m.sellersMinor, m.feesMinor, m.inFlightMinor]).toEqual([2_000, 7_000, 1_000, 0]);
  });

  it("Stripe's application fee refund is recorded; a figure that differs is what the books keep: the difference is booked between the seller and the fee, a ticket only beyond a rounding step", () => {
    const start = destinationSettled();
    const asked = run(start.state, [refund(5_000), refundOk(1)]);
    const { state } = asked;
    const same = run(state, [
      {
        type: "application_fee_refunded",
        feeRefunds: [{ refund: 1, feeRefundId: "fr_1", amountMinor: 500, currency: "AUD" }],
      },
    ]);
    expect(same.effects).toEqual([]);
    expect(same.state.refunds[0]?.feeRefundId).toBe("fr_1");
    // Stripe rounded the other way: its figure is booked, no ticket.
    const less = run(state, [
      {
        type: "application_fee_refunded",
        feeRefunds: [{ refund: 1, feeRefundId: "fr_1", amountMinor: 499, currency: "AUD" }],
      },
    ]);
    expect(less.effects.map((e) => e.id)).toEqual(["mc1:refund:1:ledger:fee_refund_corrected"]);
    expect(less.state.refunds[0]?.parts.feePartMinor).toBe(499);
    const afterLess = books([...start.effects, ...asked.effects, ...less.effects], less.state);
    expect([afterLess.sellersMinor, afterLess.feesMinor, afterLess.inFlightMinor]).toEqual([4_499, 501, 0]);
    // Far from the prediction: booked as Stripe says, and a ticket.
    const more = run(state, [
      {
        type: "application_fee_refunded",
        feeRefunds: [{ refund: 1, feeRefundId: "fr_1", amountMinor: 700, currency: "AUD" }],
      },
    ]);
    expect(more.effects.map((e) => e.id)).toEqual([
      "mc1:refund:1:ledger:fee_refund_corrected",
      "mc1:ticket:amount_mismatch:fee_refund:1",
    ]);
    const afterMore = books([...start.effects, ...asked.effects, ...more.effects], more.state);
    expect([afterMore.sellersMinor, afterMore.feesMinor, afterMore.inFlightMinor]).toEqual([4_700, 300, 0]);
  });

  it("a fee refund in another currency than the charge's (Stripe converted the fee) is recorded, not compared: no correction, no ticket, the predicted part stays", () => {
    const start = destinationSettled();
    const asked = run(start.state, [refund(5_000), refundOk(1)]);
    // 500 AUD cents predicted; Stripe kept the fee in the platform's currency: 750 of another.
    const converted = run(asked.state, [
      {
        type: "application_fee_refunded",
        feeRefunds: [{ refund: 1, feeRefundId: "fr_1", amountMinor: 750, currency: "USD" }],
      },
    ]);
    expect(converted.effects).toEqual([]);
    expect(converted.state.refunds[0]?.feeRefundId).toBe("fr_1");
    expect(converted.state.refunds[0]?.parts.feePartMinor).toBe(500);
    const m = books([...start.effects, ...asked.effects, ...converted.effects], converted.state);
    expect([m.sellersMinor, m.feesMinor, m.inFlightMinor]).toEqual([4_500, 500, 0]);
    // Told again, it is known.
    const again = run(converted.state, [
      {
        type: "application_fee_refunded",
        feeRefunds: [{ refund: 1, feeRefundId: "fr_1", amountMinor: 750, currency: "USD" }],
      },
    ]);
    expect(again.last.ignored).toMatchObject({ code: "fee_refund_already_recorded" });
  });

  it("application_fee.refunded names no refund: it goes to the earliest refund that asked for the fee back, once", () => {
    // Two platform refunds of a destination charge, each giving back its part of the fee.
    const { state } = run(destinationSettled().state, [refund(2_000), refundOk(1), refund(3_000)]);
    expect(state.refunds.map((r) => r.parts.feePartMinor)).toEqual([200, 300]);
    const first = run(state, [
      {
        type: "application_fee_refunded",
        feeRefunds: [{ feeRefundId: "fr_1", amountMinor: 200, currency: "AUD" }],
      },
    ]);
    expect(first.effects).toEqual([]);
    expect(first.state.refunds.map((r) => r.feeRefundId)).toEqual(["fr_1", undefined]);
    // The same event again (Stripe delivers at least once): nothing.
    expect(
      ignoredCode(first.state, {
        type: "application_fee_refunded",
        feeRefunds: [{ feeRefundId: "fr_1", amountMinor: 200, currency: "AUD" }],
      }),
    ).toBe("fee_refund_already_recorded");
    // The second, before its refund succeeded, with a figure a rounding step from the
    // prediction: recorded, and the refund's postings will carry it; no ticket.
    const second = run(first.state, [
      {
        type: "application_fee_refunded",
        feeRefunds: [{ feeRefundId: "fr_2", amountMinor: 299, currency: "AUD" }],
      },
    ]);
    expect(second.state.refunds.map((r) => r.feeRefundId)).toEqual(["fr_1", "fr_2"]);
    expect(second.state.refunds.map((r) => r.parts.feePartMinor)).toEqual([200, 299]);
    expect(second.effects).toEqual([]);
    const secondDone = run(second.state, [refundOk(2)]);
    const feeRefunded = ledgerOf(secondDone.effects).transactions.find(
      (t) => t.id === "mc1:refund:2:ledger:fee_refunded",
    );
    expect(feeRefunded?.postings.map((p) => p.amount.amountMinor)).toEqual([299, 299]);
    // A third nobody asked for (a refund made at the Dashboard): a ticket, the books untouched.
    const third = run(second.state, [
      {
        type: "application_fee_refunded",
        feeRefunds: [{ feeRefundId: "fr_x", amountMinor: 50, currency: "AUD" }],
      },
    ]);
    expect(kinds(third.effects)).toEqual(["open_ticket"]);
    expect(third.effects[0]?.id).toBe("mc1:ticket:amount_mismatch:fee_refund:fr_x");
    // A customer's refund keeps the fee (the default policy): no candidate for a fee refund.
    const kept = run(destinationSettled().state, [refund(2_000, "customer"), refundOk(1)]);
    expect(
      kinds(
        run(kept.state, [
          {
            type: "application_fee_refunded",
            feeRefunds: [{ feeRefundId: "fr_9", amountMinor: 200, currency: "AUD" }],
          },
        ]).effects,
      ),
    ).toEqual(["open_ticket"]);
  });

  it("application_fee.refunded lists every fee refund: two refunds close together are each matched once, oldest first, no false mismatch", () => {
    const { state } = run(destinationSettled().state, [
      refund(2_000),
      refundOk(1),
      refund(3_000),
      refundOk(2),
    ]);
    expect(state.refunds.map((r) => r.parts.feePartMinor)).toEqual([200, 300]);
    const fr1 = { feeRefundId: "fr_1", amountMinor: 200, currency: "AUD" };
    const fr2 = { feeRefundId: "fr_2", amountMinor: 300, currency: "AUD" };
    // Both fee refunds exist by the time the first event is read: its fee lists both.
    const first = run(state, [{ type: "application_fee_refunded", feeRefunds: [fr1, fr2] }]);
    expect(first.state.refunds.map((r) => r.feeRefundId)).toEqual(["fr_1", "fr_2"]);
    expect(first.effects).toEqual([]);
    // The second event (and any replay) lists the same two: nothing new.
    expect(ignoredCode(first.state, { type: "application_fee_refunded", feeRefunds: [fr1, fr2] })).toBe(
      "fee_refund_already_recorded",
    );
    // Events one by one, in any order of arrival, end the same, with no ticket.
    const oneByOne = run(state, [
      { type: "application_fee_refunded", feeRefunds: [fr1] },
      { type: "application_fee_refunded", feeRefunds: [fr1, fr2] },
    ]);
    expect(oneByOne.state.refunds.map((r) => r.feeRefundId)).toEqual(["fr_1", "fr_2"]);
    expect(oneByOne.effects).toEqual([]);
    // A fee refund nobody asked for is ticketed once, however many later events list it.
    const extra = { feeRefundId: "fr_x", amountMinor: 50, currency: "AUD" };
    const unasked = run(first.state, [{ type: "application_fee_refunded", feeRefunds: [fr1, fr2, extra] }]);
    expect(unasked.effects.map((e) => e.id)).toEqual(["mc1:ticket:amount_mismatch:fee_refund:fr_x"]);
    expect(
      ignoredCode(unasked.state, { type: "application_fee_refunded", feeRefunds: [fr1, fr2, extra] }),
    ).toBe("fee_refund_already_recorded");
  });

  it("a split refund reverses each seller's part first, then refunds; the parts are proportional and add up", () => {
    const start = splitSettled();
    const asked = run(start.state, [refund(4_001)]);
    expect(asked.state.refunds[0]?.status).toBe("reversing");
    const reversals = of(asked.effects, "reverse_transfer");
    expect(reversals.map((r) => [r.id, r.sellerId, r.transferId, r.amountMinor])).toEqual([
      ["mc2:reversal:1", "sel_a", "tr_sel_a_1", 1_801],
      ["mc2:reversal:2", "sel_b", "tr_sel_b_1", 900],
      ["mc2:reversal:3", "sel_c", "tr_sel_c_1", 900],
    ]);
    expect(asked.state.refunds[0]?.parts.feePartMinor).toBe(400);
    const two = run(asked.state, [reversed(1, 1_801), reversed(2, 900)]);
    expect(of(two.effects, "refund")).toEqual([]);
    const three = run(two.state, [reversed(3, 900)]);
    expect(of(three.effects, "refund").map((e) => [e.id, e.amountMinor, e.reverseTransfer])).toEqual([
      ["mc2:refund:1:attempt:1", 4_001, false],
    ]);
    const done = run(three.state, [refundOk(1)]);
    const m = books(
      [...start.effects, ...asked.effects, ...two.effects, ...three.effects, ...done.effects],
      done.state,
    );
    expect(m.sellerMinor).toEqual({ sel_a: 2_700, sel_b: 1_350, sel_c: 1_350 });
    expect([m.refundedMinor, m.feesMinor, m.inFlightMinor]).toEqual([4_001, 600, 0]);
  });

  // A refund call's reply is lost and the outbox sends it again under the same key while
  // Stripe fails the refund: its refund.failed is heard first, then the replayed first
  // answer (succeeded, a refund id never seen). Stripe's failed is final: older news.
  it("a refund attempt's failure heard before its replayed success: still owed, nothing posted", () => {
    const failure = (attempt: number): MarketplaceChargeInput => ({
      type: "refund_failed",
      refund: 1,
      attempt,
      failureCode: "declined",
    });
    const failed = after(destinationSettled().state, [refund(1_000), failure(1)]);
    const replayed = run(failed, [refundOk(1, 1)]);
    expect(replayed.last.ignored?.code).toBe("refund_already_settled");
    expect(replayed.effects).toEqual([]);
    expect(replayed.state.refunds[0]).toMatchObject({ status: "failed", ledgerPosted: false });
    // Attempt 2 succeeded, then failed; the admin's retry (attempt 3) fails before its answer.
    const reverted = after(failed, [{ type: "retry_refund", by: "admin_1" }, refundOk(1, 2), failure(2)]);
    const again = run(reverted, [{ type: "retry_refund", by: "admin_1" }, failure(3), refundOk(1, 3)]);
    expect(again.last.ignored?.code).toBe("refund_already_settled");
    expect(again.effects.filter((e) => e.kind === "post_ledger")).toEqual([]);
    expect(again.state.refunds[0]).toMatchObject({ status: "failed", attempts: 3 });
  });

  it("a failed refund opens a ticket; an admin retries it under a new key", () => {
    const { state, effects } = run(destinationSettled().state, [
      refund(1_000),
      { type: "refund_failed", refund: 1, attempt: 1, failureCode: "declined" },
    ]);
    expect(of(effects, "open_ticket").map((e) => e.id)).toEqual(["mc1:ticket:refund_failed:1:1"]);
    const retried = run(state, [{ type: "retry_refund", by: "admin_1" }]);
    expect(of(retried.effects, "refund").map((e) => e.id)).toEqual(["mc1:refund:1:attempt:2"]);
  });

  it("a failed reversal opens a ticket; an admin asks again under a new reversal number", () => {
    const { state, effects } = run(splitSettled().state, [
      refund(1_000),
      { type: "transfer_reversal_failed", reversal: 2, failureCode: "insufficient_funds" },
    ]);
    expect(of(effects, "open_ticket").map((e) => e.id)).toEqual(["mc2:ticket:reversal_failed:2"]);
    const again = run(state, [{ type: "retry_reversal", by: "admin_1" }]);
    expect(of(again.effects, "reverse_transfer").map((e) => [e.id, e.sellerId])).toEqual([
      ["mc2:reversal:4", "sel_b"],
    ]);
    const parts = state.refunds[0]?.parts.sellerPartsMinor ?? [];
    const done = run(again.state, [
      reversed(1, parts[0] ?? 0),
      reversed(3, parts[2] ?? 0),
      reversed(4, parts[1] ?? 0),
    ]);
    expect(of(done.effects, "refund")).toHaveLength(1);
  });
});

describe("disputes", () => {
  it("opened: recorded, a ticket, every seller and the admins told; won: nothing is lost", () => {
    const start = splitSettled();
    const opened = run(start.state, [dispute(10_001)]);
    expect(kinds(opened.effects)).toEqual(["open_ticket", "notify", "notify", "notify", "notify"]);
    expect(of(opened.effects, "notify").map((e) => e.to)).toEqual([
      { kind: "seller", sellerId: "sel_a" },
      { kind: "seller", sellerId: "sel_b" },
      { kind: "seller", sellerId: "sel_c" },
      { kind: "platform_admins" },
    ]);
    const won = run(opened.state, [closed("won", 10_001)]);
    expect(won.state.status).toBe("settled");
    expect(of(won.effects, "post_ledger")).toEqual([]);
  });

  it("lost (split): booked, each seller's part reversed, the fee's part lost by the platform; everything gone ends the charge", () => {
    const start = splitSettled();
    const { state, effects } = run(start.state, [dispute(10_001), closed("lost", 10_001)]);
    expect(state.status).toBe("charged_back");
    expect(of(effects, "reverse_transfer").map((r) => r.amountMinor)).toEqual([4_501, 2_250, 2_250]);
    const all = [...start.effects, ...effects];
    expect(books(all, state).inFlightMinor).toBe(-9_001); // the sellers owe it until their reversals land
    const landed = run(state, [reversed(1, 4_501), reversed(2, 2_250), reversed(3, 2_250)]);
    const m = books([...all, ...landed.effects], state);
    expect([m.disputeLostMinor, m.sellersMinor, m.feesMinor, m.inFlightMinor]).toEqual([10_001, 0, 0, 0]);
  });

  it("lost (destination): reversed from the seller's transfer where it can be", () => {
    const start = run(created(), [paid()]);
    const { state, effects } = run(start.state, [closed("lost", 4_000)]);
    expect(state.status).toBe("settled");
    expect(of(effects, "reverse_transfer").map((r) => [r.transferId, r.amountMinor])).toEqual([
      ["tr_dest", 4_000],
    ]);
    const landed = run(state, [reversed(1, 4_000)]);
    const m = books([...start.effects, ...effects, ...landed.effects], state);
    expect([m.disputeLostMinor, m.sellersMinor, m.inFlightMinor]).toEqual([4_000, 5_000, 0]);
  });

  it("a loss while a seller's transfer is pending waits for it", () => {
    const { state, effects } = run(created(splitCommand), [paid(), closed("lost", 10_001)]);
    expect(of(effects, "post_ledger").map((e) => e.id)).not.toContain("mc2:dispute:dp_1:lost");
    const landed = run(state, allCreated);
    expect(landed.state.status).toBe("charged_back");
    expect(of(landed.effects, "post_ledger").map((e) => e.id)).toContain("mc2:dispute:dp_1:lost");
  });
});

describe("refused commands", () => {
  it.each<[string, () => MarketplaceCharge, MarketplaceChargeInput, MarketplaceChargeErrorCode]>([
    ["a refund before the payment", () => created(), refund(), "payment_not_captured"],
    [
      "a refund of a failed payment",
      () => after(created(), [{ type: "payment_failed", failureCode: "x" }]),
      refund(),
      "charge_ended",
    ],
    [
      "a refund of a refunded charge",
      () => after(created(), [paid(), refund(), refundOk(1)]),
      refund(),
      "charge_ended",
    ],
    [
      "a refund while refunding everything",
      () => after(created(), [paid(), refund()]),
      refund(1),
      "refund_in_flight",
    ],
    [
      "a refund while a refund is unfinished",
      () => after(created(), [paid(), refund(100)]),
      refund(100),
      "refund_in_flight",
    ],
    [
      "a refund while transfers are pending",
      () => after(created(splitCommand), [paid()]),
      refund(),
      "transfers_pending",
    ],
    [
      "a refund of a disputed charge",
      () => after(created(), [paid(), dispute(100)]),
      refund(),
      "payment_disputed",
    ],
    [
      "a refund of more than is left",
      () => after(created(), [paid()]),
      refund(10_001),
      "invalid_refund_amount",
    ],
    ["a refund of nothing", () => after(created(), [paid()]), refund(0), "invalid_refund_amount"],
    [
      "a refund when a lost dispute took everything but the charge stays open",
      () => after(created(), [paid(), closed("lost", 10_000)]),
      refund(),
      "charge_ended",
    ],
    [
      "retry_refund with nothing failed",
      () => after(created(), [paid()]),
      { type: "retry_refund", by: "a" },
      "no_failed_refund",
    ],
    [
      "retry_transfers with nothing parked",
      () => after(created(splitCommand), [paid()]),
      { type: "retry_transfers", by: "a" },
      "no_blocked_transfer",
    ],
    [
      "retry_reversal with nothing failed",
      () => after(created(), [paid()]),
      { type: "retry_reversal", by: "a" },
      "no_failed_reversal",
    ],
  ])("%s", (_name, state, input, code) => {
    expect(refused(state(), input)).toBe(code);
  });

  it("nothing_to_refund: partial refunds took everything", () => {
    const s = after(created(), [paid(), refund(4_000), refundOk(1), refund(6_000), refundOk(2)]);
    expect(s.status).toBe("refunded");
    expect(refused(s, refund())).toBe("charge_ended");
    // A lost dispute taking the rest while a partial refund left the charge settled:
    const t = after(created(), [paid(), refund(4_000), refundOk(1), closed("lost", 6_000)]);
    expect(t.status).toBe("charged_back");
    expect(refused(t, refund())).toBe("charge_ended");
    const u = after(created(), [
      paid(),
      closed("lost", 3_000),
      dispute(10, "dp_2"),
      closed("won", 10, "dp_2"),
    ]);
    // A won dispute gives nothing back to refund; a lost one ends refunds (Stripe's charge_disputed).
    expect(marketplaceRefundableMinor(u)).toBe(7_000);
    expect(refused(u, refund(7_000))).toBe("charge_disputed");
  });
});

describe("ignored inputs (every code)", () => {
  const p = () => created();
  const settledDest = () => after(created(), [paid()]);
  const cases: [MarketplaceChargeIgnoredCode, () => MarketplaceCharge, MarketplaceChargeInput][] = [
    ["already_created", p, { type: "create", command: destinationCommand }],
    [
      "action_already_recorded",
      () => after(p(), [{ type: "payment_requires_action", paymentIntentId: "pi_1", clientSecret: "s" }]),
      { type: "payment_requires_action", paymentIntentId: "pi_1", clientSecret: "s" },
    ],
    [
      "payment_already_processing",
      () => after(p(), [{ type: "payment_processing", paymentIntentId: "pi_1" }]),
      { type: "payment_processing", paymentIntentId: "pi_1" },
    ],
    ["payment_already_settled", settledDest, paid()],
    [
      "payment_failure_recorded",
      () =>
        after(created({ ...destinationCommand, paymentMethod: { kind: "new_card" } }), [
          { type: "payment_requires_action", paymentIntentId: "pi_1", clientSecret: "s" },
          { type: "payment_failed", paymentIntentId: "pi_1", failureCode: "card_declined" },
        ]),
      { type: "payment_failed", paymentIntentId: "pi_1", failureCode: "card_declined" },
    ],
    [
      "timer_no_longer_due",
      () => after(created(splitCommand), [paid()]),
      { type: "timer", timer: { kind: "retry_transfer", sellerId: "sel_a", attempt: 2 } },
    ],
    ["no_such_transfer", () => after(created(splitCommand), [paid()]), created1("sel_z")],
    [
      "transfer_already_created",
      () => after(created(splitCommand), [paid(), created1("sel_a")]),
      created1("sel_a"),
    ],
    [
      "transfer_not_pending",
      () => after(created(splitCommand), [paid(), created1("sel_a")]),
      { type: "transfer_failed", sellerId: "sel_a", attempt: 1, failureCode: "balance_insufficient" },
    ],
    ["no_such_reversal", settledDest, reversed(1, 100)],
    [
      "reversal_already_settled",
      () => after(splitSettled().state, [refund(100), reversed(1, 45)]),
      reversed(1, 45),
    ],
    ["no_such_refund", settledDest, refundOk(1)],
    ["refund_already_settled", () => after(settledDest(), [refund(100), refundOk(1)]), refundOk(1)],
    [
      "fee_refund_already_recorded",
      () =>
        after(settledDest(), [
          refund(100),
          {
            type: "application_fee_refunded",
            feeRefunds: [{ refund: 1, feeRefundId: "fr", amountMinor: 10, currency: "AUD" }],
          },
        ]),
      {
        type: "application_fee_refunded",
        feeRefunds: [{ refund: 1, feeRefundId: "fr", amountMinor: 10, currency: "AUD" }],
      },
    ],
    ["no_charge", p, dispute(100)],
    ["duplicate_dispute", () => after(settledDest(), [dispute(100)]), dispute(100)],
    [
      "no_such_dispute",
      settledDest,
      { type: "dispute_updated", disputeId: "dp_9", stripeStatus: "under_review" },
    ],
    [
      "dispute_unchanged",
      () => after(settledDest(), [dispute(100)]),
      { type: "dispute_updated", disputeId: "dp_1", stripeStatus: "needs_response" },
    ],
    [
      "dispute_already_closed",
      () => after(settledDest(), [dispute(100), closed("won", 100)]),
      closed("lost", 100),
    ],
  ];

  it("the cases cover every code", () => {
    expect(cases.map(([code]) => code).sort()).toEqual([...MARKETPLACE_CHARGE_IGNORED_CODES].sort());
  });

  it.each(cases)("%s", (code, state, input) => {
    expect(ignoredCode(state(), input)).toBe(code);
  });

  it("a dispute update that changes something is recorded", () => {
    const s = after(settledDest(), [
      dispute(100),
      { type: "dispute_updated", disputeId: "dp_1", stripeStatus: "under_review" },
    ]);
    expect(s.disputes[0]?.stripeStatus).toBe("under_review");
  });
});

describe("marketplace charge: rechecks while Stripe's word on the asked cancel does not come", () => {
  const recheck = (ask: number): MarketplaceChargeInput => ({
    type: "timer",
    timer: { kind: "cancel_recheck", ask },
  });
  const fire = { type: "timer", timer: { kind: "action_expired" } } as const;
  const at = T0 + policy.actionExpiryMs;
  const waiting = () =>
    after(created({ ...destinationCommand, paymentMethod: { kind: "new_card" } }), [
      { type: "payment_requires_action", paymentIntentId: "pi_1", clientSecret: "pi_1_secret" },
    ]);
  const asked = () => run(waiting(), [fire], at);
  const cancelled = {
    type: "payment_failed",
    paymentIntentId: "pi_1",
    failureCode: "canceled_abandoned",
  } as const;

  it("each recheck asks again under its own key and arms the next; the one after the last opens one ticket and asks nothing", () => {
    let r = asked();
    for (let ask = 2; ask <= CHECKOUT_EXPIRY_ASKS_MAX; ask += 1) {
      const now = at + (ask - 1) * CHECKOUT_EXPIRY_RECHECK_MS;
      r = run(r.state, [recheck(ask)], now);
      expect(r.state).toMatchObject({ status: "requires_action", expiryAsks: ask, expiryRequestedAt: at });
      expect(r.effects).toEqual([
        expect.objectContaining({
          id: `mc1:payment:cancel:${ask}`,
          kind: "cancel_payment",
          paymentIntentId: "pi_1",
        }),
        expect.objectContaining({
          id: `mc1:timer:cancel_recheck:${ask + 1}`,
          at: now + CHECKOUT_EXPIRY_RECHECK_MS,
          timer: { kind: "cancel_recheck", ask: ask + 1 },
        }),
      ]);
      // The same recheck again (a redelivery) and an earlier one ask nothing.
      expect(ignoredCode(r.state, recheck(ask), now + 1)).toBe("timer_no_longer_due");
      expect(ignoredCode(r.state, recheck(ask - 1), now + 1)).toBe("timer_no_longer_due");
    }
    const last = CHECKOUT_EXPIRY_ASKS_MAX + 1;
    r = run(r.state, [recheck(last)], at + CHECKOUT_EXPIRY_ASKS_MAX * CHECKOUT_EXPIRY_RECHECK_MS);
    expect(r.state).toMatchObject({ status: "requires_action", expiryAsks: last });
    expect(r.effects).toEqual([
      expect.objectContaining({
        kind: "open_ticket",
        id: "mc1:ticket:payment_cancel_unconfirmed:last",
        reason: "payment_cancel_unconfirmed",
      }),
    ]);
    const later = at + 40 * CHECKOUT_EXPIRY_RECHECK_MS;
    expect(ignoredCode(r.state, recheck(last), later)).toBe("timer_no_longer_due");
    expect(ignoredCode(r.state, recheck(last + 1), later)).toBe("timer_no_longer_due");
    // Stripe's word, whenever it comes, still ends it: the cancel confirmed, or a success paid as usual.
    expect(after(r.state, [cancelled], later)).toMatchObject({
      status: "expired",
      failureCode: "action_expired",
    });
    expect(after(r.state, [paid()], later)).toMatchObject({ status: "settled", refunds: [] });
  });

  it("a later wait whose cancel Stripe never confirms either opens a ticket of its own, naming the wait and its PaymentIntent; the first wait's keeps its id", () => {
    const last = CHECKOUT_EXPIRY_ASKS_MAX + 1;
    /** The rechecks of a wait's ask, from its second to the one after its last, from `from`. */
    const exhaust = (state: MarketplaceCharge, from: number, wait: number) => {
      let r = { state, effects: [] as readonly MarketplaceChargeEffect[] };
      for (let ask = 2; ask <= last; ask += 1)
        r = run(
          r.state,
          [{ type: "timer", timer: { kind: "cancel_recheck", ask, ...(wait > 1 ? { wait } : {}) } }],
          from + (ask - 1) * CHECKOUT_EXPIRY_RECHECK_MS,
        );
      return r;
    };
    const first = exhaust(asked().state, at, 1);
    expect(first.effects).toEqual([
      expect.objectContaining({ kind: "open_ticket", id: "mc1:ticket:payment_cancel_unconfirmed:last" }),
    ]);
    // The payment then processes and Stripe asks the customer to act again: wait 2, on the same
    // PaymentIntent, expires too, and Stripe answers none of its asks either.
    const again = at + last * CHECKOUT_EXPIRY_RECHECK_MS;
    const waiting2 = after(
      first.state,
      [
        { type: "payment_processing", paymentIntentId: "pi_1" },
        { type: "payment_requires_action", paymentIntentId: "pi_1", clientSecret: "pi_1_secret_2" },
      ],
      again,
    );
    expect(waiting2).toMatchObject({ status: "requires_action", actionWaits: 2 });
    const at2 = again + policy.actionExpiryMs;
    const asked2 = run(waiting2, [{ type: "timer", timer: { kind: "action_expired", wait: 2 } }], at2);
    expect(asked2.effects).toContainEqual(
      expect.objectContaining({ kind: "cancel_payment", id: "mc1:payment:cancel:wait:2" }),
    );
    const second = exhaust(asked2.state, at2, 2);
    expect(second.state).toMatchObject({ status: "requires_action", expiryAsks: last });
    expect(second.effects).toEqual([
      expect.objectContaining({
        kind: "open_ticket",
        id: "mc1:ticket:payment_cancel_unconfirmed:wait:2:last",
        reason: "payment_cancel_unconfirmed",
        summary: expect.stringMatching(
          /PaymentIntent pi_1 .*wait 2 for the customer.*mc1:payment:cancel:wait:2/,
        ),
      }),
    ]);
  });

  it("a recheck after Stripe's word (cancelled, paid, processing, failed for good) asks nothing", () => {
    const later = at + CHECKOUT_EXPIRY_RECHECK_MS;
    expect(ignoredCode(after(asked().state, [cancelled], at + 1_000), recheck(2), later)).toBe(
      "timer_no_longer_due",
    );
    expect(ignoredCode(after(asked().state, [paid()], at + 1_000), recheck(2), later)).toBe(
      "timer_no_longer_due",
    );
    const processing = after(
      asked().state,
      [{ type: "payment_processing", paymentIntentId: "pi_1" }],
      at + 1_000,
    );
    expect(processing.status).toBe("processing");
    expect(ignoredCode(processing, recheck(2), later)).toBe("timer_no_longer_due");
  });

  it("a charge stored before rechecks (asked, no count) counts its ask as the first; one never asked is not rechecked", () => {
    const { expiryAsks: _, ...stored } = asked().state;
    const r = run(stored, [recheck(2)], at + CHECKOUT_EXPIRY_RECHECK_MS);
    expect(kinds(r.effects)).toEqual(["cancel_payment", "schedule_timer"]);
    expect(ignoredCode(waiting(), recheck(2), at)).toBe("timer_no_longer_due");
  });
});
