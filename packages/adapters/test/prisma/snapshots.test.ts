// Round snapshots as stored by older releases still load, in today's shape; held payment
// snapshots load only as the domain's HeldPayment.
import {
  createHeldPayment,
  createMarketplaceCharge,
  DEFAULT_HELD_PAYMENT_POLICY,
  DEFAULT_MARKETPLACE_POLICY,
  decideHeldPayment,
  decideMarketplaceCharge,
  type HeldPayment,
  type HeldPaymentInput,
  type MarketplaceCharge,
  type MarketplaceChargeInput,
} from "@susu/domain";
import { anActiveGroup, aRoundOf } from "@susu/domain/testing";
import { describe, expect, it } from "vitest";
import {
  fromNewerSusu,
  parseHeldPaymentSnapshot,
  parseMarketplaceChargeSnapshot,
  parseOutboxEffect,
  parseRoundSnapshot,
  upgradeOutboxPayload,
} from "../../src/prisma/snapshots.js";
import { LEGACY_EFFECTS } from "../support/legacy-payloads.js";

const refunding = aRoundOf(anActiveGroup(), [{ type: "cancel", reason: "called off" }]);

describe("round snapshots", () => {
  it("a refunding or cancelled round stored with blockedReason reads it as its cancellationReason", () => {
    const { cancellationReason: _, ...fields } = refunding;
    for (const status of ["refunding", "cancelled"] as const) {
      const legacy = { ...fields, status, blockedReason: "called off" };
      const loaded = parseRoundSnapshot(JSON.parse(JSON.stringify(legacy)))._unsafeUnwrap();
      expect(loaded).toMatchObject({ status, cancellationReason: "called off" });
      expect(loaded).not.toHaveProperty("blockedReason");
    }
  });

  it("a blocked payout keeps its blockedReason; today's snapshots load as they are", () => {
    const { cancellationReason: _, ...fields } = refunding;
    const blocked = { ...fields, status: "payout_blocked" as const, blockedReason: "no account" };
    expect(parseRoundSnapshot(JSON.parse(JSON.stringify(blocked)))._unsafeUnwrap()).toEqual(blocked);
    expect(parseRoundSnapshot(JSON.parse(JSON.stringify(refunding)))._unsafeUnwrap()).toEqual(refunding);
  });
});

describe("round snapshots and refund retries", () => {
  const withContribution = (patch: Record<string, unknown>) => ({
    ...refunding,
    contributions: refunding.contributions.map((c, i) => (i === 0 ? { ...c, ...patch } : c)),
  });

  it("a snapshot stored before refunds could be retried loads as it was: no refundAttempt means attempt 1", () => {
    const before = withContribution({ status: "refund_failed" });
    const loaded = parseRoundSnapshot(JSON.parse(JSON.stringify(before)))._unsafeUnwrap();
    expect(loaded).toEqual(before);
    expect(loaded.contributions[0]).not.toHaveProperty("refundAttempt");
  });

  it("a retried refund's attempt is kept; a count that is not a positive whole number is refused", () => {
    const retried = withContribution({ status: "refund_requested", refundAttempt: 2 });
    expect(parseRoundSnapshot(JSON.parse(JSON.stringify(retried)))._unsafeUnwrap()).toEqual(retried);
    for (const refundAttempt of [0, 1.5, "2"])
      expect(parseRoundSnapshot(withContribution({ refundAttempt })).isErr()).toBe(true);
  });

  it("a retried refund's outbox payload names its attempt; attempt 1's has none, as before", () => {
    const retry = {
      kind: "refund",
      id: "round_1:refund:ana:attempt:2",
      roundId: "round_1",
      groupId: "grp_1",
      memberId: "ana",
      attempt: 2,
      paymentIntentId: "pi_1",
      amountMinor: 100_00,
      currency: "AUD",
    };
    expect(parseOutboxEffect(JSON.parse(JSON.stringify(retry)))._unsafeUnwrap()).toEqual(retry);
    const { attempt: _, ...first } = { ...retry, id: "round_1:refund:ana" };
    expect(parseOutboxEffect(first)._unsafeUnwrap()).toEqual(first);
    expect(parseOutboxEffect({ ...retry, attempt: 0 }).isErr()).toBe(true);
  });
});

describe("round snapshots and surplus charges", () => {
  const attempt = {
    number: 1,
    effectId: "round_1:contribution:ana:attempt:1",
    status: "succeeded" as const,
    requestedAt: 0,
    paymentIntentId: "pi_1",
    chargeId: "ch_1",
    initiatedPosted: true,
  };
  const withAttempt = (patch: Record<string, unknown>) => ({
    ...refunding,
    contributions: refunding.contributions.map((c, i) =>
      i === 0 ? { ...c, attempts: [{ ...attempt, ...patch }] } : c,
    ),
  });

  it("a surplus charge and its refund load as they were stored; an attempt without one stays without", () => {
    const plain = withAttempt({});
    expect(parseRoundSnapshot(JSON.parse(JSON.stringify(plain)))._unsafeUnwrap()).toEqual(plain);
    const surplus = withAttempt({
      surplus: { status: "refund_failed", refundId: "re_1", refundAttempt: 2 },
    });
    expect(parseRoundSnapshot(JSON.parse(JSON.stringify(surplus)))._unsafeUnwrap()).toEqual(surplus);
    expect(parseRoundSnapshot(withAttempt({ surplus: { status: "lost" } })).isErr()).toBe(true);
  });

  it("a disputed surplus charge loads as it was stored: the dispute, what it took, whether the member's loss and the withdrawal are booked", () => {
    for (const surplus of [
      { status: "refund_requested", disputeId: "dp_1", disputedMinor: 100_00 },
      { status: "refunded", refundId: "re_1", disputeId: "dp_1", disputedMinor: 100_00, lossBooked: true },
      { status: "charged_back", disputeId: "dp_1", disputedMinor: 100_00 },
      {
        status: "charged_back",
        refundId: "re_1",
        disputeId: "dp_1",
        disputedMinor: 40_00,
        withdrawnBooked: true,
      },
      { status: "refunded", refundId: "re_1", wonWithdrawal: { disputeId: "dp_1", amountMinor: 40_00 } },
      // Our refund, out when the dispute was heard, landed whole and undid its withdrawal.
      {
        status: "refunded",
        refundId: "re_1",
        disputeId: "dp_1",
        disputedMinor: 40_00,
        lossBooked: true,
        withdrawnBooked: false,
        withdrawalUndone: true,
      },
    ]) {
      const stored = withAttempt({ surplus });
      expect(parseRoundSnapshot(JSON.parse(JSON.stringify(stored)))._unsafeUnwrap()).toEqual(stored);
    }
    const taken = { status: "charged_back", disputeId: "dp_1" };
    expect(parseRoundSnapshot(withAttempt({ surplus: { ...taken, disputedMinor: -1 } })).isErr()).toBe(true);
    expect(parseRoundSnapshot(withAttempt({ surplus: { ...taken, disputedMinor: 1.5 } })).isErr()).toBe(true);
    expect(
      parseRoundSnapshot(
        withAttempt({ surplus: { ...taken, disputedMinor: 1, withdrawalUndone: "yes" } }),
      ).isErr(),
    ).toBe(true);
    const won = { status: "refunded", refundId: "re_1" };
    expect(
      parseRoundSnapshot(withAttempt({ surplus: { ...won, wonWithdrawal: { disputeId: "dp_1" } } })).isErr(),
    ).toBe(true);
  });

  it("disputes kept pending on a charge not yet heard to succeed load as they were stored; a contribution without any stays without", () => {
    const withPending = (pendingDisputes: unknown) => ({
      ...refunding,
      contributions: refunding.contributions.map((c, i) => (i === 0 ? { ...c, pendingDisputes } : c)),
    });
    const stored = withPending([
      { disputeId: "dp_1", amountMinor: 100_00, attempt: 1, paymentIntentId: "pi_1" },
      { disputeId: "dp_2", amountMinor: 50_00, attempt: 3 },
    ]);
    expect(parseRoundSnapshot(JSON.parse(JSON.stringify(stored)))._unsafeUnwrap()).toEqual(stored);
    expect(parseRoundSnapshot(JSON.parse(JSON.stringify(refunding)))._unsafeUnwrap()).toEqual(refunding);
    expect(
      parseRoundSnapshot(withPending([{ disputeId: "dp_1", amountMinor: 1.5, attempt: 1 }])).isErr(),
    ).toBe(true);
    expect(
      parseRoundSnapshot(withPending([{ disputeId: "dp_1", amountMinor: 100_00, attempt: 0 }])).isErr(),
    ).toBe(true);
  });

  it("disputes heard while a contribution's refund is out load as they were stored", () => {
    const withWaiting = (disputedWhileRefundOut: unknown) => ({
      ...refunding,
      contributions: refunding.contributions.map((c, i) =>
        i === 0 ? { ...c, status: "refund_requested", disputeIds: ["dp_1"], disputedWhileRefundOut } : c,
      ),
    });
    const stored = withWaiting([{ disputeId: "dp_1", amountMinor: 1 }]);
    expect(parseRoundSnapshot(JSON.parse(JSON.stringify(stored)))._unsafeUnwrap()).toEqual(stored);
    expect(parseRoundSnapshot(withWaiting([{ disputeId: "dp_1", amountMinor: 1.5 }])).isErr()).toBe(true);
  });

  it("how disputes were booked, and the disputes closed won, load as they were stored", () => {
    const withBookings = (disputeBookings: unknown) => ({
      ...refunding,
      contributions: refunding.contributions.map((c, i) =>
        i === 0
          ? {
              ...c,
              status: "disputed",
              disputeIds: ["dp_1", "dp_2"],
              disputeBookings,
              disputesWon: ["dp_2"],
              disputesWonOwed: ["dp_2"],
            }
          : c,
      ),
    });
    const stored = withBookings([
      { disputeId: "dp_1", as: "withdrawn", amountMinor: 0 },
      { disputeId: "dp_3", as: "loss", amountMinor: 100 },
    ]);
    expect(parseRoundSnapshot(JSON.parse(JSON.stringify(stored)))._unsafeUnwrap()).toEqual(stored);
    expect(
      parseRoundSnapshot(withBookings([{ disputeId: "dp_1", as: "refunded", amountMinor: 1 }])).isErr(),
    ).toBe(true);
    expect(
      parseRoundSnapshot(withBookings([{ disputeId: "dp_1", as: "loss", amountMinor: -1 }])).isErr(),
    ).toBe(true);
  });

  it("a surplus charge's refund names its debit attempt in the outbox payload", () => {
    const refund = {
      kind: "refund",
      id: "round_1:refund:ana:debit:1:attempt:2",
      roundId: "round_1",
      groupId: "grp_1",
      memberId: "ana",
      attempt: 2,
      debitAttempt: 1,
      paymentIntentId: "pi_1",
      amountMinor: 100_00,
      currency: "AUD",
    };
    expect(parseOutboxEffect(JSON.parse(JSON.stringify(refund)))._unsafeUnwrap()).toEqual(refund);
    expect(parseOutboxEffect({ ...refund, debitAttempt: 0 }).isErr()).toBe(true);
  });
});

describe("held payment snapshots", () => {
  const payment = createHeldPayment(
    {
      id: "hp_1",
      requestedBy: "app_1",
      clientReference: "booking_1",
      amountMinor: 10_000,
      currency: "AUD",
      seller: { id: "sel", connectedAccountId: "acct_sel", canReceive: true },
      description: "Two nights",
      customer: { email: "cy@example.com" },
      fee: { kind: "fixed", amountMinor: 500 },
      successUrl: "https://app.example/done",
    },
    { now: Date.UTC(2026, 0, 6), policy: DEFAULT_HELD_PAYMENT_POLICY },
  )._unsafeUnwrap().state;
  const json = (value: unknown) => JSON.parse(JSON.stringify(value));

  it("a stored payment loads as it was", () => {
    expect(parseHeldPaymentSnapshot(json(payment))._unsafeUnwrap()).toEqual(payment);
    const unfulfilled = {
      ...payment,
      fulfilment: "unfulfilled",
      unfulfilledReason: "double booked",
    } as const;
    expect(parseHeldPaymentSnapshot(json(unfulfilled))._unsafeUnwrap()).toEqual(unfulfilled);
  });

  it("a KWD loss off the step with no fee for its part of a step loads with what the platform paid", () => {
    const kwd = createHeldPayment(
      {
        id: "hp_2",
        requestedBy: "app_1",
        clientReference: "booking_2",
        amountMinor: 10_000,
        currency: "KWD",
        seller: { id: "sel", connectedAccountId: "acct_sel", canReceive: true },
        description: "Two nights",
        customer: { email: "cy@example.com" },
        fee: { kind: "rate", basisPoints: 0 },
        successUrl: "https://app.example/done",
      },
      { now: Date.UTC(2026, 0, 6), policy: DEFAULT_HELD_PAYMENT_POLICY },
    )._unsafeUnwrap().state;
    const inputs: HeldPaymentInput[] = [
      {
        type: "checkout_completed",
        sessionId: "cs",
        paymentIntentId: "pi",
        paymentStatus: "succeeded",
        chargeId: "ch",
      },
      {
        type: "dispute_created",
        disputeId: "dp",
        amountMinor: 1_235,
        reason: "fraudulent",
        stripeStatus: "needs_response",
      },
      { type: "dispute_closed", disputeId: "dp", outcome: "lost", amountMinor: 1_235 },
    ];
    let state: HeldPayment = kwd;
    for (const input of inputs)
      state = decideHeldPayment(state, input, {
        now: state.createdAt,
        policy: DEFAULT_HELD_PAYMENT_POLICY,
      })._unsafeUnwrap().state;
    expect(state.disputes[0]).toMatchObject({
      sellerPartMinor: 1_230,
      feePartMinor: 0,
      platformFundedMinor: 5,
    });
    expect(parseHeldPaymentSnapshot(json(state))._unsafeUnwrap()).toEqual(state);
  });

  it("a refund a lost dispute superseded loads as it was, before and after", () => {
    const inputs: HeldPaymentInput[] = [
      {
        type: "checkout_completed",
        sessionId: "cs",
        paymentIntentId: "pi",
        paymentStatus: "succeeded",
        chargeId: "ch",
      },
      { type: "report_unfulfilled", reason: "cancelled" },
      { type: "refund_failed", refund: 1, attempt: 1, failureCode: "charge_disputed" },
      {
        type: "dispute_created",
        disputeId: "dp",
        amountMinor: 6_000,
        reason: "fraudulent",
        stripeStatus: "needs_response",
      },
      { type: "dispute_closed", disputeId: "dp", outcome: "lost", amountMinor: 6_000 },
    ];
    let state: HeldPayment = payment;
    for (const input of inputs) {
      state = decideHeldPayment(state, input, {
        now: state.createdAt,
        policy: DEFAULT_HELD_PAYMENT_POLICY,
      })._unsafeUnwrap().state;
      expect(parseHeldPaymentSnapshot(json(state))._unsafeUnwrap()).toEqual(state);
    }
    // The rest of the partial loss is owed outside Stripe (Stripe refuses the refund). A
    // snapshot stored before that, with the rest asked of Stripe (`requested`), loads too.
    expect(state.refunds.map((r) => r.status)).toEqual(["superseded_by_dispute", "owed_outside_stripe"]);
    const before: HeldPayment = {
      ...state,
      refunds: state.refunds.map((r) =>
        r.number === 2 ? { ...r, status: "requested", ledgerPosted: false } : r,
      ),
    };
    expect(parseHeldPaymentSnapshot(json(before))._unsafeUnwrap()).toEqual(before);
  });

  it("refuses unknown fields, missing ones, fractional amounts and unknown statuses, saying where", () => {
    const { requestedBy: _, ...withoutCaller } = payment;
    for (const [bad, where] of [
      [{ ...payment, extra: 1 }, "(root)"],
      [withoutCaller, "requestedBy"],
      [{ ...payment, amountMinor: 10.5 }, "amountMinor"],
      [{ ...payment, status: "lost" }, "status"],
      [{ ...payment, fee: { kind: "rate", amountMinor: 5 } }, "fee"],
    ] as const) {
      const problem = parseHeldPaymentSnapshot(json(bad))._unsafeUnwrapErr();
      expect(problem).toContain("held payment snapshot");
      expect(problem).toContain(where);
    }
  });
});

describe("marketplace charge snapshots", () => {
  it("a refund a lost dispute superseded loads as it was, before and after", () => {
    let state: MarketplaceCharge = createMarketplaceCharge(
      {
        id: "mc_1",
        clientReference: "rsvp_1",
        requestedBy: "app_1",
        activityId: "act_1",
        purpose: "rsvp",
        description: "Pottery class",
        amountMinor: 10_000,
        currency: "AUD",
        fee: { kind: "rate", basisPoints: 1_000 },
        sellers: [{ id: "sel_a", connectedAccountId: "acct_a" }],
        customer: { id: "cus_person", stripeCustomerId: "cus_1", email: "cy@example.com" },
        paymentMethod: { kind: "saved_card", paymentMethodId: "pm_1" },
      },
      { now: Date.UTC(2026, 0, 6), policy: DEFAULT_MARKETPLACE_POLICY },
    )._unsafeUnwrap().state;
    const inputs: MarketplaceChargeInput[] = [
      { type: "payment_succeeded", paymentIntentId: "pi_1", chargeId: "ch_1", transferId: "tr_1" },
      { type: "refund", initiatedBy: "platform", by: "admin_1", reason: "cancelled" },
      { type: "refund_failed", refund: 1, attempt: 1, failureCode: "charge_disputed" },
      { type: "dispute_closed", disputeId: "dp", outcome: "lost", amountMinor: 6_000 },
    ];
    for (const input of inputs) {
      state = decideMarketplaceCharge(state, input, {
        now: state.createdAt,
        policy: DEFAULT_MARKETPLACE_POLICY,
      })._unsafeUnwrap().state;
      expect(parseMarketplaceChargeSnapshot(JSON.parse(JSON.stringify(state)))._unsafeUnwrap()).toEqual(
        state,
      );
    }
    // The rest of the partial loss is owed outside Stripe (Stripe refuses the refund).
    expect(state.refunds.map((r) => r.status)).toEqual(["superseded_by_dispute", "owed_outside_stripe"]);
  });

  it("a co-host's transfer frozen by an open dispute loads as it was, frozen and thawed (a payout without the field, as stored before, loads too)", () => {
    let state: MarketplaceCharge = createMarketplaceCharge(
      {
        id: "mc_2",
        clientReference: "order_2",
        requestedBy: "app_1",
        activityId: "act_1",
        purpose: "purchase",
        description: "Pottery class",
        amountMinor: 10_000,
        currency: "AUD",
        fee: { kind: "rate", basisPoints: 1_000 },
        sellers: [
          { id: "sel_a", connectedAccountId: "acct_a" },
          { id: "sel_b", connectedAccountId: "acct_b" },
        ],
        customer: { id: "cus_person", stripeCustomerId: "cus_1", email: "cy@example.com" },
        paymentMethod: { kind: "saved_card", paymentMethodId: "pm_1" },
      },
      { now: Date.UTC(2026, 0, 6), policy: DEFAULT_MARKETPLACE_POLICY },
    )._unsafeUnwrap().state;
    const inputs: MarketplaceChargeInput[] = [
      { type: "payment_succeeded", paymentIntentId: "pi_1", chargeId: "ch_1" },
      { type: "transfer_failed", sellerId: "sel_a", attempt: 1, failureCode: "balance_insufficient" },
      {
        type: "dispute_opened",
        disputeId: "dp",
        amountMinor: 10_000,
        reason: "fraudulent",
        stripeStatus: "needs_response",
      },
      { type: "timer", timer: { kind: "retry_transfer", sellerId: "sel_a", attempt: 2 } },
      { type: "dispute_closed", disputeId: "dp", outcome: "won", amountMinor: 10_000 },
    ];
    const frozen: (string | undefined)[] = [];
    for (const input of inputs) {
      state = decideMarketplaceCharge(state, input, {
        now: state.createdAt,
        policy: DEFAULT_MARKETPLACE_POLICY,
      })._unsafeUnwrap().state;
      frozen.push(state.payouts.find((p) => p.sellerId === "sel_a")?.frozenBy);
      expect(parseMarketplaceChargeSnapshot(JSON.parse(JSON.stringify(state)))._unsafeUnwrap()).toEqual(
        state,
      );
    }
    expect(frozen).toEqual([undefined, undefined, undefined, "dp", undefined]);
  });

  it("a loss that took a frozen co-host's part from the share the platform held loads as it was (withheldMinor)", () => {
    let state: MarketplaceCharge = createMarketplaceCharge(
      {
        id: "mc_3",
        clientReference: "order_3",
        requestedBy: "app_1",
        activityId: "act_1",
        purpose: "purchase",
        description: "Pottery class",
        amountMinor: 10_000,
        currency: "AUD",
        fee: { kind: "rate", basisPoints: 1_000 },
        sellers: [
          { id: "sel_a", connectedAccountId: "acct_a" },
          { id: "sel_b", connectedAccountId: "acct_b" },
        ],
        customer: { id: "cus_person", stripeCustomerId: "cus_1", email: "cy@example.com" },
        paymentMethod: { kind: "saved_card", paymentMethodId: "pm_1" },
      },
      { now: Date.UTC(2026, 0, 6), policy: DEFAULT_MARKETPLACE_POLICY },
    )._unsafeUnwrap().state;
    const inputs: MarketplaceChargeInput[] = [
      { type: "payment_succeeded", paymentIntentId: "pi_1", chargeId: "ch_1" },
      { type: "transfer_failed", sellerId: "sel_a", attempt: 1, failureCode: "balance_insufficient" },
      { type: "transfer_created", sellerId: "sel_b", attempt: 1, transferId: "tr_b" },
      {
        type: "dispute_opened",
        disputeId: "dp",
        amountMinor: 10_000,
        reason: "fraudulent",
        stripeStatus: "needs_response",
      },
      { type: "timer", timer: { kind: "retry_transfer", sellerId: "sel_a", attempt: 2 } },
      { type: "dispute_closed", disputeId: "dp", outcome: "lost", amountMinor: 10_000 },
    ];
    for (const input of inputs) {
      state = decideMarketplaceCharge(state, input, {
        now: state.createdAt,
        policy: DEFAULT_MARKETPLACE_POLICY,
      })._unsafeUnwrap().state;
      expect(parseMarketplaceChargeSnapshot(JSON.parse(JSON.stringify(state)))._unsafeUnwrap()).toEqual(
        state,
      );
    }
    expect(state.disputes[0]?.withheldMinor).toEqual([4_500, 0]);
  });
});

describe("a loss that took money owed to the customer outside Stripe", () => {
  const json = (value: unknown) => JSON.parse(JSON.stringify(value));
  const now = Date.UTC(2026, 0, 6);
  const lost = (amountMinor: number) =>
    [
      {
        type: "dispute_created",
        disputeId: "dp",
        amountMinor,
        reason: "fraudulent",
        stripeStatus: "needs_response",
      },
      { type: "dispute_closed", disputeId: "dp", outcome: "lost", amountMinor },
    ] as const;

  it("a held payment whose refund the card could not take loads with what the loss took of it (owedTakenMinor)", () => {
    let state: HeldPayment = createHeldPayment(
      {
        id: "hp_2",
        requestedBy: "app_1",
        clientReference: "booking_2",
        amountMinor: 10_000,
        currency: "AUD",
        seller: { id: "sel", connectedAccountId: "acct_sel", canReceive: true },
        description: "Two nights",
        customer: { email: "cy@example.com" },
        fee: { kind: "fixed", amountMinor: 500 },
        successUrl: "https://app.example/done",
      },
      { now, policy: DEFAULT_HELD_PAYMENT_POLICY },
    )._unsafeUnwrap().state;
    const inputs: HeldPaymentInput[] = [
      {
        type: "checkout_completed",
        sessionId: "cs",
        paymentIntentId: "pi",
        paymentStatus: "succeeded",
        chargeId: "ch",
      },
      { type: "report_unfulfilled", reason: "cancelled" },
      { type: "refund_failed", refund: 1, attempt: 1, failureCode: "expired_or_canceled_card" },
      ...lost(4_000),
    ];
    for (const input of inputs)
      state = decideHeldPayment(state, input, { now, policy: DEFAULT_HELD_PAYMENT_POLICY })._unsafeUnwrap()
        .state;
    expect(state.disputes[0]?.owedTakenMinor).toBe(4_000);
    expect(parseHeldPaymentSnapshot(json(state))._unsafeUnwrap()).toEqual(state);
    const dispute = json(state).disputes[0];
    expect(
      parseHeldPaymentSnapshot({ ...json(state), disputes: [{ ...dispute, owedTakenMinor: 0 }] }).isErr(),
    ).toBe(true);
  });

  it("a marketplace charge's loads as it was too", () => {
    let state: MarketplaceCharge = createMarketplaceCharge(
      {
        id: "mc_4",
        clientReference: "rsvp_4",
        requestedBy: "app_1",
        activityId: "act_1",
        purpose: "rsvp",
        description: "Pottery class",
        amountMinor: 10_000,
        currency: "AUD",
        fee: { kind: "rate", basisPoints: 1_000 },
        sellers: [{ id: "sel_a", connectedAccountId: "acct_a" }],
        customer: { id: "cus_person", stripeCustomerId: "cus_1", email: "cy@example.com" },
        paymentMethod: { kind: "saved_card", paymentMethodId: "pm_1" },
      },
      { now, policy: DEFAULT_MARKETPLACE_POLICY },
    )._unsafeUnwrap().state;
    const inputs: MarketplaceChargeInput[] = [
      { type: "payment_succeeded", paymentIntentId: "pi_1", chargeId: "ch_1", transferId: "tr_1" },
      { type: "refund", initiatedBy: "platform", by: "admin_1", reason: "cancelled" },
      { type: "refund_failed", refund: 1, attempt: 1, failureCode: "expired_or_canceled_card" },
      {
        type: "dispute_opened",
        disputeId: "dp",
        amountMinor: 10_000,
        reason: "fraudulent",
        stripeStatus: "needs_response",
      },
      { type: "dispute_closed", disputeId: "dp", outcome: "lost", amountMinor: 10_000 },
    ];
    for (const input of inputs)
      state = decideMarketplaceCharge(state, input, {
        now,
        policy: DEFAULT_MARKETPLACE_POLICY,
      })._unsafeUnwrap().state;
    expect(state.disputes[0]?.owedTakenMinor).toBe(10_000);
    expect(parseMarketplaceChargeSnapshot(json(state))._unsafeUnwrap()).toEqual(state);
  });
});

describe("outbox payloads", () => {
  it("written before effects named their aggregate, they read in today's shape (a rolling deploy)", () => {
    for (const { old, today } of LEGACY_EFFECTS)
      expect(parseOutboxEffect(old)._unsafeUnwrap()).toEqual(today);
  });

  it("today's payloads read as they are, and the rewrite leaves them alone", () => {
    for (const { today } of LEGACY_EFFECTS) {
      const stored = JSON.parse(JSON.stringify(today));
      expect(upgradeOutboxPayload(stored)).toBe(stored);
      expect(parseOutboxEffect(stored)._unsafeUnwrap()).toEqual(today);
    }
  });

  it("an old payload that was never valid is still refused", () => {
    const broken = {
      kind: "notify",
      id: "x",
      roundId: "r",
      to: { kind: "admins" },
      template: "payout_sent",
      data: {},
    };
    expect(parseOutboxEffect(broken).isErr()).toBe(true); // no groupId to resolve the audience from
  });
});

describe("what a newer susu writes (a rolling deploy) is told apart from what is corrupt", () => {
  const notify = LEGACY_EFFECTS.map((e) => e.today).find((e) => e.kind === "notify");
  if (notify === undefined) throw new Error("no notify payload among the legacy effects");
  const today = () => JSON.parse(JSON.stringify(notify)) as Record<string, unknown>;
  /** Whether the payload is refused as written by a newer susu (true), as corrupt (false), or loads (undefined). */
  const newer = (payload: unknown) => {
    const parsed = parseOutboxEffect(payload);
    return parsed.isOk() ? undefined : fromNewerSusu(parsed.error);
  };

  it("a notice template, an effect kind or a field this code has no name for: newer", () => {
    expect(newer(today())).toBeUndefined();
    expect(newer({ ...today(), template: "template_added_later" })).toBe(true);
    expect(newer({ ...today(), kind: "effect_added_later" })).toBe(true);
    expect(newer({ ...today(), addedLater: 1 })).toBe(true);
    expect(newer({ ...today(), template: "template_added_later", addedLater: 1 })).toBe(true);
  });

  it("a number or nothing where a name belongs, or a newer name beside a corrupt value: corrupt", () => {
    expect(newer({ ...today(), template: 5 })).toBe(false);
    expect(newer({ ...today(), kind: 5 })).toBe(false);
    const { template: _, ...withoutTemplate } = today();
    expect(newer(withoutTemplate)).toBe(false);
    expect(newer({ ...today(), template: "template_added_later", id: 5 })).toBe(false);
  });

  it("a snapshot with a status this code does not know: newer; with a number for a status: corrupt", () => {
    const round = JSON.parse(JSON.stringify(refunding)) as Record<string, unknown>;
    const status = (value: unknown) => {
      const parsed = parseRoundSnapshot({ ...round, status: value });
      return parsed.isOk() ? undefined : fromNewerSusu(parsed.error);
    };
    expect(status("status_added_later")).toBe(true);
    expect(status(7)).toBe(false);
  });
});

describe("post_ledger outbox payloads", () => {
  const capture = {
    kind: "post_ledger",
    id: "eff_hp_1_capture",
    transaction: {
      id: "eff_hp_1_capture",
      kind: "held_captured",
      occurredAt: Date.UTC(2026, 0, 6),
      postings: [
        {
          account: "platform:stripe_clearing:AUD",
          side: "debit",
          amount: { amountMinor: 10_000, currency: "AUD" },
        },
        { account: "held:hp_1:AUD", side: "credit", amount: { amountMinor: 10_000, currency: "AUD" } },
      ],
      refs: { heldPaymentId: "hp_1", paymentIntentId: "pi_1" },
    },
  };
  const withPostings = (postings: readonly unknown[]) => ({
    ...capture,
    transaction: { ...capture.transaction, postings },
  });

  it("a stored posting loads as it was", () => {
    expect(parseOutboxEffect(JSON.parse(JSON.stringify(capture)))._unsafeUnwrap()).toEqual(capture);
  });

  it("its transaction is held to the ledger's rules, not only to its shape", () => {
    const [debit, credit] = capture.transaction.postings;
    // Well-formed, but the debit is 1 more than the credit.
    const unbalanced = withPostings([{ ...debit, amount: { amountMinor: 10_001, currency: "AUD" } }, credit]);
    expect(parseOutboxEffect(unbalanced)._unsafeUnwrapErr()).toMatch(/^ledger transaction \S+: /);
    // Well-formed, but a transaction needs two postings.
    expect(parseOutboxEffect(withPostings([debit]))._unsafeUnwrapErr()).toMatch(/^ledger transaction \S+: /);
    // Not of the shape: refused as an outbox effect, before any rule.
    const malformed = withPostings([{ ...debit, side: "sideways" }, credit]);
    expect(parseOutboxEffect(malformed)._unsafeUnwrapErr()).toMatch(/^outbox effect/);
  });
});
