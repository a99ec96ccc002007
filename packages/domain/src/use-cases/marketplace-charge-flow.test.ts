// Marketplace charges end to end in memory: the use cases, the outbox and its effects on the
// fake gateway (which behaves like Stripe's test cards), Stripe's facts through the router,
// and the ledger the charge posts.
import { okAsync } from "neverthrow";
import { describe, expect, it } from "vitest";
import { marketplaceChargeRefs, type PaymentFact } from "../facts/payment-fact.js";
import { checkLedgerInvariants, checkMarketplaceMoney, type MarketplaceMoney } from "../ledger/index.js";
import type { MarketplaceCharge } from "../marketplace/marketplace-charge.js";
import type { MarketplaceChargeEffect } from "../marketplace/marketplace-charge-effect.js";
import { DEFAULT_MARKETPLACE_POLICY } from "../policy/marketplace-policy.js";
import { gatewayError } from "../ports/payment-gateway.js";
import { DAY_MS, HOUR_MS } from "../shared/time.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import {
  created as createdMarketplace,
  paid,
  run as runMarketplace,
  splitCommand,
} from "../testing/marketplace-charge-mothers.js";
import type { UseCaseDeps } from "./deps.js";
import { executeEffect } from "./execute-effect.js";
import * as useCases from "./index.js";
import type { CreateMarketplaceChargeCommand } from "./marketplace-charge-use-cases.js";

const CUSTOMER = "cy";
const OPERATOR = { operator: "olga" };

/** A destination charge of 100.00 AUD to one seller, 10 % fee, on the customer's saved card. */
const destination: CreateMarketplaceChargeCommand = {
  requestedBy: "app_events",
  clientReference: "rsvp_1",
  activityId: "act_1",
  purpose: "rsvp",
  description: "Pottery class",
  amountMinor: 100_00,
  currency: "AUD",
  customerId: CUSTOMER,
  customerEmail: "cy@example.com",
  paymentMethod: { kind: "saved_card", paymentMethodId: "pm_card_visa" },
  fee: { kind: "rate", basisPoints: 1_000 },
  sellers: [{ id: "sel_a" }],
};

/** A co-hosted purchase of 100.01 AUD split 2:1:1 among three sellers. */
const split: CreateMarketplaceChargeCommand = {
  ...destination,
  clientReference: "order_2",
  purpose: "purchase",
  amountMinor: 100_01,
  sellers: [{ id: "sel_a", weight: 2 }, { id: "sel_b" }, { id: "sel_c" }],
};

interface Flow {
  readonly sim: InMemorySusu;
  readonly id: string;
  readonly charge: () => MarketplaceCharge;
  readonly books: () => MarketplaceMoney;
}

/** Stripe's test cards the customer saved (the fake behaves as each), as their app saves a card. */
const CUSTOMER_CARDS = ["pm_card_visa", "pm_card_chargeDeclined", "pm_card_authenticationRequired"];

/** The customer, with the cards the tests charge saved, and the sellers. */
async function addPeople(sim: InMemorySusu, sellers: readonly string[]): Promise<void> {
  for (const person of [CUSTOMER, ...sellers]) (await sim.addSeller(person))._unsafeUnwrap();
  for (const card of CUSTOMER_CARDS) await sim.saveCard(CUSTOMER, card);
}

/** The people, then the charge asked for by the client app, and the outbox run until quiet. */
async function aCharge(command: CreateMarketplaceChargeCommand): Promise<Flow> {
  const sim = new InMemorySusu();
  await addPeople(sim, ["sel_a", "sel_b", "sel_c"]);
  const created = (await useCases.createMarketplaceCharge(sim.deps, command))._unsafeUnwrap();
  expect(created.created).toBe(true);
  await sim.runUntilQuiet();
  const id = created.charge.id;
  const charge = () => {
    const c = sim.store.marketplaceCharges().find((x) => x.id === id);
    if (!c) throw new Error(`no marketplace charge ${id}`);
    return c;
  };
  const books = () => {
    const ledger = sim.ledger.snapshot();
    expect(checkLedgerInvariants(ledger).isOk()).toBe(true);
    return checkMarketplaceMoney(
      ledger,
      id,
      command.sellers.map((s) => s.id),
      "AUD",
    )._unsafeUnwrap();
  };
  return { sim, id, charge, books };
}

const templates = (sim: InMemorySusu, kind: "emails" | "roles" | "personIds") =>
  sim.notifier.sent
    .filter((n) => n.aggregate === "marketplace_charge" && (n[kind]?.length ?? 0) > 0)
    .map((n) => n.template);

const ticketReasons = (sim: InMemorySusu) =>
  sim.desk.tickets.filter((t) => t.aggregate === "marketplace_charge").map((t) => t.reason);

describe("a destination charge, in memory", () => {
  it("a saved card is charged off session: the seller is paid with the charge, the fee kept, the books balanced", async () => {
    const flow = await aCharge(destination);
    const { sim } = flow;
    const c = flow.charge();
    expect(c.status).toBe("settled");
    const payment = sim.gateway.debits.get(c.paymentIntentId ?? "");
    expect(payment).toMatchObject({
      amount: { amountMinor: 100_00, currency: "AUD" },
      references: { marketplaceChargeId: flow.id },
      transferGroup: `marketplace_${flow.id}`,
      destination: {
        accountId: "acct_sel_a",
        applicationFee: { amountMinor: 10_00, currency: "AUD" },
        onBehalfOf: false,
      },
      status: "succeeded",
    });
    expect(sim.gateway.transfers).toEqual([
      {
        transferId: c.destinationTransferId,
        // Stripe transfers the whole amount and takes the application fee back from the account.
        destinationAccountId: "acct_sel_a",
        amount: { amountMinor: 100_00, currency: "AUD" },
        sourceChargeId: c.chargeId,
        transferGroup: `marketplace_${flow.id}`,
      },
    ]);
    expect(flow.books()).toMatchObject({
      paidInMinor: 100_00,
      inFlightMinor: 0,
      sellerPayableMinor: 0,
      sellerMinor: { sel_a: 90_00 },
      feesMinor: 10_00,
    });
    expect(templates(sim, "personIds")).toEqual(["seller_paid"]);
    expect(sim.store.outbox("parked")).toEqual([]);
    expect(sim.store.outbox("pending")).toEqual([]);
  });

  it("the same request again is the same charge; the reference with other terms is refused", async () => {
    const flow = await aCharge(destination);
    const again = (await useCases.createMarketplaceCharge(flow.sim.deps, destination))._unsafeUnwrap();
    expect(again).toMatchObject({ created: false, charge: { id: flow.id } });
    const other = await useCases.createMarketplaceCharge(flow.sim.deps, {
      ...destination,
      amountMinor: 50_00,
    });
    expect(other._unsafeUnwrapErr().code).toBe("client_reference_reused");
    expect(flow.sim.store.marketplaceCharges()).toHaveLength(1);
  });

  it("the same request twice at once stores one charge and answers the second as a repeat", async () => {
    const sim = new InMemorySusu();
    await addPeople(sim, ["sel_a"]);
    // Both read "no charge for this reference" before either stores: the second commit is a duplicate.
    const [first, second] = await Promise.all([
      useCases.createMarketplaceCharge(sim.deps, destination),
      useCases.createMarketplaceCharge(sim.deps, destination),
    ]);
    const stored = sim.store.marketplaceCharges();
    expect(stored).toHaveLength(1);
    expect(first._unsafeUnwrap()).toEqual({ charge: stored[0], created: true });
    expect(second._unsafeUnwrap()).toEqual({ charge: stored[0], created: false });
  });

  it("refuses a customer or seller who is not a person, or not onboarded, and a card the customer did not save, storing nothing", async () => {
    const sim = new InMemorySusu();
    (await sim.addSeller("sel_a"))._unsafeUnwrap();
    const refused = async (command: CreateMarketplaceChargeCommand) =>
      (await useCases.createMarketplaceCharge(sim.deps, command))._unsafeUnwrapErr().code;
    expect(await refused(destination)).toBe("customer_not_found");
    (await sim.addSeller(CUSTOMER))._unsafeUnwrap();
    expect(await refused(destination)).toBe("payment_method_not_found");
    await sim.saveCard(CUSTOMER, "pm_card_visa");
    expect(await refused({ ...destination, sellers: [{ id: "nobody" }] })).toBe("seller_not_found");
    expect(await refused({ ...destination, amountMinor: 10 })).toBe("invalid_amount");
    expect(sim.store.marketplaceCharges()).toEqual([]);
    expect(sim.store.outbox()).toEqual([]);
  });

  it("a saved card a customer does not have is payment_method_not_found whether they have a Stripe customer or not; a new card for one without is customer_not_onboarded", async () => {
    const sim = new InMemorySusu();
    (await sim.addSeller("sel_a"))._unsafeUnwrap();
    (await sim.addSeller(CUSTOMER))._unsafeUnwrap();
    await sim.saveCard(CUSTOMER, "pm_card_visa");
    // A person who never set up a payment: no Stripe customer, so no saved card either.
    (
      await sim.deps.uow.commit({
        people: [
          {
            state: { id: "newbie", displayName: "Newbie", createdAt: sim.clock.now(), version: 0 },
            expectedVersion: undefined,
          },
        ],
        groups: [],
        rounds: [],
        outbox: [],
        audit: [],
      })
    )._unsafeUnwrap();
    const answers = async (command: CreateMarketplaceChargeCommand) => [
      (await useCases.checkMarketplaceChargeRequest(sim.deps, command))._unsafeUnwrapErr().code,
      (await useCases.createMarketplaceCharge(sim.deps, command))._unsafeUnwrapErr().code,
    ];
    const naming = (customerId: string, paymentMethodId: string): CreateMarketplaceChargeCommand => ({
      ...destination,
      customerId,
      paymentMethod: { kind: "saved_card", paymentMethodId },
    });
    for (const customerId of [CUSTOMER, "newbie"])
      expect(await answers(naming(customerId, "pm_doesnotexist")), customerId).toEqual([
        "payment_method_not_found",
        "payment_method_not_found",
      ]);
    // Somebody else's card, named for the person without a customer.
    expect(await answers(naming("newbie", "pm_card_visa"))).toEqual([
      "payment_method_not_found",
      "payment_method_not_found",
    ]);
    expect(
      await answers({ ...destination, customerId: "newbie", paymentMethod: { kind: "new_card" } }),
    ).toEqual(["customer_not_onboarded", "customer_not_onboarded"]);
    expect(sim.store.marketplaceCharges()).toEqual([]);
    expect(sim.store.outbox()).toEqual([]);
  });

  it("on_behalf_of the seller when they are the merchant of record", async () => {
    const flow = await aCharge({ ...destination, sellerIsMerchantOfRecord: true });
    const c = flow.charge();
    expect(flow.sim.gateway.debits.get(c.paymentIntentId ?? "")?.destination?.onBehalfOf).toBe(true);
    expect(c.status).toBe("settled");
  });

  it("a new card: the client gets the client secret (requires_action), then the customer pays and the seller is paid", async () => {
    const flow = await aCharge({ ...destination, paymentMethod: { kind: "new_card" } });
    const { sim } = flow;
    const waiting = flow.charge();
    expect(waiting.status).toBe("requires_action");
    expect(waiting.clientSecret).toBe(sim.gateway.debits.get(waiting.paymentIntentId ?? "")?.clientSecret);
    expect(waiting.clientSecret).toMatch(/_secret_/);
    // On session the customer is in front of the client: nobody is told to come back.
    expect(templates(sim, "emails")).toEqual([]);
    expect(flow.books().paidInMinor).toBe(0);

    await sim.confirmCardPayment(flow.id, "succeed");
    const paid = flow.charge();
    expect(paid.status).toBe("settled");
    expect(paid.clientSecret).toBeUndefined();
    // The webhook's PaymentIntent does not name the destination transfer: it was read again.
    expect(paid.destinationTransferId).toBe(sim.gateway.transfers[0]?.transferId);
    expect(flow.books()).toMatchObject({
      paidInMinor: 100_00,
      sellerMinor: { sel_a: 90_00 },
      feesMinor: 10_00,
    });
  });

  it("a new card never confirmed expires: the PaymentIntent cancelled, the customer told; paid just before, it is paid out, never refunded", async () => {
    const quiet = await aCharge({ ...destination, paymentMethod: { kind: "new_card" } });
    const expiry = DEFAULT_MARKETPLACE_POLICY.actionExpiryMs;
    await quiet.sim.advance(expiry + 1_000);
    expect(quiet.charge()).toMatchObject({ status: "expired", failureCode: "action_expired" });
    expect(quiet.sim.gateway.debits.get(quiet.charge().paymentIntentId ?? "")?.status).toBe("canceled");
    expect(templates(quiet.sim, "emails")).toEqual(["payment_expired"]);
    expect(quiet.books().paidInMinor).toBe(0);

    // The customer pays moments before the deadline and Stripe's webhook is late: the cancel
    // is refused, the payment read instead, and the charge settles as any payment does —
    // never expired, the customer never told it expired, nothing refunded.
    const late = await aCharge({
      ...destination,
      clientReference: "rsvp_late",
      paymentMethod: { kind: "new_card" },
    });
    const { sim } = late;
    const paymentIntentId = late.charge().paymentIntentId ?? "";
    await sim.advance(expiry - 1_000);
    sim.gateway.confirmCardPayment(paymentIntentId, "succeed");
    await sim.advance(2_000);
    expect(late.charge()).toMatchObject({ status: "settled", refunds: [] });
    expect(late.charge().endedAt).toBeUndefined();
    expect(sim.gateway.debits.get(paymentIntentId)?.status).toBe("succeeded");
    expect([...sim.gateway.refunds.values()]).toEqual([]);
    expect(ticketReasons(sim)).toEqual([]);
    expect(templates(sim, "emails")).not.toContain("payment_expired");
    expect(late.books()).toMatchObject({ paidInMinor: 100_00, refundedMinor: 0 });
  });

  it("a new card the customer's bank declines leaves the charge waiting, the decline shown; another card pays it once", async () => {
    const flow = await aCharge({ ...destination, paymentMethod: { kind: "new_card" } });
    await flow.sim.confirmCardPayment(flow.id, { fail: "card_declined" });
    expect(flow.charge()).toMatchObject({ status: "requires_action", failureCode: "card_declined" });
    expect(flow.charge().clientSecret).toBeDefined();
    expect(templates(flow.sim, "emails")).toEqual([]);
    expect(flow.books().paidInMinor).toBe(0);
    // The customer tries another card with the same client secret: the charge settles, no refund.
    await flow.sim.confirmCardPayment(flow.id, "succeed");
    expect(flow.charge()).toMatchObject({ status: "settled", refunds: [] });
    expect(flow.charge().failureCode).toBeUndefined();
    expect(flow.books().paidInMinor).toBe(flow.charge().amountMinor);
  });

  it.each([
    ["pm_card_chargeDeclined", "generic_decline"],
    ["pm_card_authenticationRequired", "authentication_required"],
  ])("a saved card %s fails off session (%s): nothing is captured", async (paymentMethodId, code) => {
    const flow = await aCharge({ ...destination, paymentMethod: { kind: "saved_card", paymentMethodId } });
    expect(flow.charge()).toMatchObject({ status: "payment_failed", failureCode: code });
    expect(templates(flow.sim, "emails")).toEqual(["payment_failed"]);
    expect(flow.sim.gateway.transfers).toEqual([]);
  });
});

describe("a split among co-hosts, in memory", () => {
  it("each seller is paid their share by a transfer funded by the charge, in its transfer group", async () => {
    const flow = await aCharge(split);
    const c = flow.charge();
    expect(c.status).toBe("settled");
    expect(flow.sim.gateway.debits.get(c.paymentIntentId ?? "")?.destination).toBeUndefined();
    const shares = Object.fromEntries(c.sellers.map((s) => [s.id, s.shareMinor]));
    expect(flow.sim.gateway.transfers.map((t) => [t.destinationAccountId, t.amount.amountMinor])).toEqual([
      ["acct_sel_a", shares.sel_a],
      ["acct_sel_b", shares.sel_b],
      ["acct_sel_c", shares.sel_c],
    ]);
    for (const t of flow.sim.gateway.transfers)
      expect(t).toMatchObject({ sourceChargeId: c.chargeId, transferGroup: `marketplace_${flow.id}` });
    const books = flow.books();
    expect(books).toMatchObject({
      paidInMinor: 100_01,
      inFlightMinor: 0,
      sellerPayableMinor: 0,
      sellerMinor: shares,
    });
    expect(books.sellersMinor + books.feesMinor).toBe(100_01);
  });

  it("a seller's failing transfer is retried, then parked with a ticket; an admin's retry pays them", async () => {
    const sim = new InMemorySusu();
    await addPeople(sim, ["sel_a", "sel_b", "sel_c"]);
    const insufficient = gatewayError(
      "gateway_definite",
      "balance_insufficient",
      "the platform's balance is short",
    );
    // The first transfer made is sel_a's.
    sim.gateway.injectFault("createTransfer", "before", insufficient);
    const id = (await useCases.createMarketplaceCharge(sim.deps, split))._unsafeUnwrap().charge.id;
    await sim.runUntilQuiet();
    const charge = () => sim.store.marketplaceCharges().find((x) => x.id === id) as MarketplaceCharge;
    expect(charge().status).toBe("paying_sellers");
    expect(sim.gateway.transfers.map((t) => t.destinationAccountId)).toEqual(["acct_sel_b", "acct_sel_c"]);

    // Its two retries fail too (nobody else is being paid by then).
    for (let i = 0; i < 2; i++) sim.gateway.injectFault("createTransfer", "before", insufficient);
    await sim.advance(24 * HOUR_MS);
    const blocked = charge();
    expect(blocked.status).toBe("transfer_blocked");
    expect(blocked.transfers.filter((t) => t.sellerId === "sel_a").map((t) => [t.attempt, t.status])).toEqual(
      [
        [1, "failed"],
        [2, "failed"],
        [3, "failed"],
      ],
    );
    expect(ticketReasons(sim)).toEqual(["transfer_parked"]);
    expect(templates(sim, "roles")).toEqual(["transfer_blocked"]);

    (await useCases.retryMarketplaceTransfers(sim.deps, id, OPERATOR))._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(charge().status).toBe("settled");
    expect(sim.gateway.transfers.map((t) => t.destinationAccountId)).toEqual([
      "acct_sel_b",
      "acct_sel_c",
      "acct_sel_a",
    ]);
    const money = checkMarketplaceMoney(
      sim.ledger.snapshot(),
      id,
      ["sel_a", "sel_b", "sel_c"],
      "AUD",
    )._unsafeUnwrap();
    expect(money).toMatchObject({ inFlightMinor: 0, sellerPayableMinor: 0, paidInMinor: 100_01 });
    expect(sim.store.audit().some((l) => l.action === "retry_transfers" && l.actor === "operator:olga")).toBe(
      true,
    );
  });
});

describe("refunds, as the policy says for who asks", () => {
  it("the customer's refund reverses the seller's transfer and leaves the platform its fee", async () => {
    const flow = await aCharge(destination);
    const requester = { kind: "customer", requestedBy: "app_events" } as const;
    (
      await useCases.refundMarketplaceCharge(flow.sim.deps, flow.id, requester, "changed their mind")
    )._unsafeUnwrap();
    await flow.sim.runUntilQuiet();
    expect(flow.charge().status).toBe("refunded");
    expect([...flow.sim.gateway.refunds.values()]).toMatchObject([
      { amount: { amountMinor: 100_00 }, reverseTransfer: true, refundApplicationFee: false },
    ]);
    expect(flow.books()).toMatchObject({ refundedMinor: 100_00, feesMinor: 10_00, inFlightMinor: 0 });
  });

  it("a refund Stripe left pending whose webhook never came: 4 days on susu asks Stripe, finds it succeeded, and the charge is refunded", async () => {
    const flow = await aCharge(destination);
    const { sim } = flow;
    sim.gateway.refundsWait();
    const requester = { kind: "customer", requestedBy: "app_events" } as const;
    (
      await useCases.refundMarketplaceCharge(sim.deps, flow.id, requester, "changed their mind")
    )._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(flow.charge().refunds).toMatchObject([{ number: 1, status: "requested", attempts: 1 }]);
    // Stripe ends it a day later; its charge.refund.updated never reaches susu.
    await sim.advance(DAY_MS);
    expect(sim.gateway.endWaitingRefunds("succeeded")).toHaveLength(1);
    await sim.advance(3 * DAY_MS);
    expect(flow.charge().status).toBe("refunded");
    expect(flow.charge().refunds).toMatchObject([{ number: 1, status: "succeeded", attempts: 1 }]);
    expect(flow.books()).toMatchObject({ refundedMinor: 100_00, inFlightMinor: 0 });
    expect(ticketReasons(sim)).not.toContain("refund_overdue");
    expect([...sim.gateway.refunds.values()]).toHaveLength(1);
  });

  it("a refund still pending at Stripe is ticketed once and asked about again every 2 days; its outcome still ends it", async () => {
    const flow = await aCharge(destination);
    const { sim } = flow;
    sim.gateway.refundsWait();
    const requester = { kind: "customer", requestedBy: "app_events" } as const;
    (
      await useCases.refundMarketplaceCharge(sim.deps, flow.id, requester, "changed their mind")
    )._unsafeUnwrap();
    await sim.advance(4 * DAY_MS);
    expect(ticketReasons(sim)).toEqual(["refund_overdue"]);
    expect(flow.charge().refunds).toMatchObject([{ status: "requested", lookups: 1 }]);
    await sim.advance(2 * DAY_MS);
    expect(flow.charge().refunds).toMatchObject([{ status: "requested", lookups: 2 }]);
    expect(ticketReasons(sim)).toEqual(["refund_overdue"]);
    // The webhook comes this time.
    (await sim.deliver(sim.gateway.endWaitingRefunds("succeeded")))._unsafeUnwrap();
    await sim.advance(10 * DAY_MS);
    expect(flow.charge().status).toBe("refunded");
    expect(flow.charge().refunds).toMatchObject([{ status: "succeeded", lookups: 2 }]);
  });

  it("the platform's refund reverses the transfer and gives its fee back", async () => {
    const flow = await aCharge(destination);
    const requester = { kind: "platform", operator: OPERATOR } as const;
    (
      await useCases.refundMarketplaceCharge(flow.sim.deps, flow.id, requester, "event cancelled")
    )._unsafeUnwrap();
    await flow.sim.runUntilQuiet();
    expect(flow.charge().status).toBe("refunded");
    expect([...flow.sim.gateway.refunds.values()]).toMatchObject([
      { amount: { amountMinor: 100_00 }, reverseTransfer: true, refundApplicationFee: true },
    ]);
    expect(flow.books()).toMatchObject({
      refundedMinor: 100_00,
      feesMinor: 0,
      sellerMinor: { sel_a: 0 },
      inFlightMinor: 0,
    });
  });

  it("a split's partial refund reverses each seller's part first, then refunds; a refund of more than is left is refused", async () => {
    const flow = await aCharge(split);
    const requester = { kind: "platform", operator: OPERATOR } as const;
    (
      await useCases.refundMarketplaceCharge(flow.sim.deps, flow.id, requester, "one ticket", 40_00)
    )._unsafeUnwrap();
    await flow.sim.runUntilQuiet();
    const c = flow.charge();
    expect(c.status).toBe("settled");
    expect(flow.sim.gateway.reversals.map((r) => r.transferId)).toEqual(c.transfers.map((t) => t.transferId));
    expect(flow.books()).toMatchObject({ refundedMinor: 40_00, inFlightMinor: 0 });
    const tooMuch = await useCases.refundMarketplaceCharge(flow.sim.deps, flow.id, requester, "all", 70_00);
    expect(tooMuch._unsafeUnwrapErr().code).toBe("invalid_refund_amount");
  });
});

describe("disputes", () => {
  it("a lost dispute of a destination charge is booked and reverses the seller's transfer", async () => {
    const flow = await aCharge(destination);
    const { sim } = flow;
    const refs = marketplaceChargeRefs(flow.id);
    const opened: PaymentFact = {
      kind: "dispute_opened",
      refs,
      disputeId: "dp_1",
      amountMinor: 100_00,
      reason: "fraudulent",
      status: "needs_response",
      evidenceDueBy: sim.clock.now() + 7 * 24 * HOUR_MS,
    };
    (await sim.deliver([opened]))._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(ticketReasons(sim)).toEqual(["dispute"]);
    expect(templates(sim, "personIds")).toContain("dispute_opened");
    const refused = await useCases.refundMarketplaceCharge(
      sim.deps,
      flow.id,
      { kind: "platform", operator: OPERATOR },
      "no",
    );
    expect(refused._unsafeUnwrapErr().code).toBe("payment_disputed");

    const closed: PaymentFact = {
      kind: "dispute_closed",
      refs,
      disputeId: "dp_1",
      outcome: "lost",
      amountMinor: 100_00,
    };
    (await sim.deliver([closed, closed]))._unsafeUnwrap();
    await sim.runUntilQuiet();
    const c = flow.charge();
    expect(c.status).toBe("charged_back");
    expect(sim.gateway.reversals).toEqual([
      expect.objectContaining({
        transferId: c.destinationTransferId,
        amount: { amountMinor: 100_00, currency: "AUD" },
      }),
    ]);
    // The whole transfer is reversed and the platform keeps its fee (the policy for losses):
    // the seller, who was paid 90.00 net, bears the 10.00 fee too.
    expect(flow.books()).toMatchObject({
      disputeLostMinor: 100_00,
      inFlightMinor: 0,
      feesMinor: 10_00,
      sellerMinor: { sel_a: -10_00 },
    });
  });
});

describe("a dispute that overtakes the payment's news", () => {
  it("the payment it names is read and heard first: the seller is paid and the dispute recorded; the late news is ignored", async () => {
    const flow = await aCharge({ ...destination, paymentMethod: { kind: "new_card" } });
    const { sim } = flow;
    const paymentIntentId = flow.charge().paymentIntentId ?? "";
    // The customer pays; Stripe's payment_intent.succeeded is late.
    const late = sim.gateway.confirmCardPayment(paymentIntentId, "succeed");
    const opened: PaymentFact = {
      kind: "dispute_opened",
      refs: marketplaceChargeRefs(flow.id),
      disputeId: "dp_1",
      paymentIntentId,
      amountMinor: 100_00,
      reason: "fraudulent",
      status: "needs_response",
    };
    const outcome = await useCases.applyPaymentFact(sim.deps, sim.factPorts, opened, "stripe:evt_dispute");
    expect(outcome._unsafeUnwrap()).toMatchObject({
      status: "applied",
      detail: expect.stringContaining("the dispute's news came first"),
    });
    await sim.runUntilQuiet();
    const c = flow.charge();
    expect(c.status).toBe("settled");
    expect(c.destinationTransferId).toBe(sim.gateway.transfers[0]?.transferId);
    expect(c.disputes).toEqual([expect.objectContaining({ id: "dp_1", status: "open" })]);
    expect(ticketReasons(sim)).toEqual(["dispute"]);
    expect(flow.books()).toMatchObject({ paidInMinor: 100_00, sellerMinor: { sel_a: 90_00 } });

    const lateOutcome = await useCases.applyPaymentFact(sim.deps, sim.factPorts, late, "stripe:evt_late");
    expect(lateOutcome._unsafeUnwrap()).toMatchObject({ status: "ignored" });
    expect(flow.books().paidInMinor).toBe(100_00);
  });
});

describe("a dispute that overtakes the news of a payment susu gave up on (payment_failed)", () => {
  it.each([
    ["a destination charge", destination],
    ["a split", split],
  ])(
    "%s: the payment is read first, so the late money is recorded and refunded, and the dispute kept",
    async (_, command) => {
      // The saved card is declined off session: the charge ends payment_failed.
      const flow = await aCharge({
        ...command,
        paymentMethod: { kind: "saved_card", paymentMethodId: "pm_card_chargeDeclined" },
      });
      const { sim } = flow;
      expect(flow.charge()).toMatchObject({ status: "payment_failed", disputes: [] });
      const paymentIntentId = flow.charge().paymentIntentId ?? "";
      // As at Stripe, the declined PaymentIntent waits for another payment method; the customer
      // pays it after all, and the news of that success is late (held back here).
      const debit = sim.gateway.debits.get(paymentIntentId);
      if (!debit) throw new Error(`no payment ${paymentIntentId}`);
      debit.status = "requires_action";
      const late = sim.gateway.confirmCardPayment(paymentIntentId, "succeed");
      // The dispute names the PaymentIntent: it proves the money came.
      const opened: PaymentFact = {
        kind: "dispute_opened",
        refs: marketplaceChargeRefs(flow.id),
        disputeId: "dp_1",
        paymentIntentId,
        amountMinor: command.amountMinor,
        reason: "fraudulent",
        status: "needs_response",
      };
      const outcome = await useCases.applyPaymentFact(sim.deps, sim.factPorts, opened, "stripe:evt_dispute");
      expect(outcome._unsafeUnwrap()).toMatchObject({
        status: "applied",
        detail: expect.stringContaining("the dispute's news came first"),
      });
      await sim.runUntilQuiet();
      const c = flow.charge();
      expect(c.capturedAt).toBeDefined();
      expect(c.disputes).toEqual([expect.objectContaining({ id: "dp_1", status: "open" })]);
      expect(c.refunds).toMatchObject([
        { number: 1, amountMinor: command.amountMinor, reason: "late payment" },
      ]);
      expect(ticketReasons(sim)).toEqual(expect.arrayContaining(["unexpected_money", "dispute"]));
      expect(flow.books().paidInMinor).toBe(command.amountMinor);
      // The success's own news, late, changes nothing.
      const lateOutcome = await useCases.applyPaymentFact(sim.deps, sim.factPorts, late, "stripe:evt_late");
      expect(lateOutcome._unsafeUnwrap()).toMatchObject({ status: "ignored" });
      expect(flow.books().paidInMinor).toBe(command.amountMinor);
    },
  );
});

describe("the charge's effects at the gateway", () => {
  it("a payment whose answer was lost is asked again under the same key: one PaymentIntent, and the charge settles", async () => {
    const sim = new InMemorySusu();
    await addPeople(sim, ["sel_a"]);
    sim.gateway.injectFault("createCardPayment", "lost_reply");
    const id = (await useCases.createMarketplaceCharge(sim.deps, destination))._unsafeUnwrap().charge.id;
    await sim.advance(HOUR_MS);
    expect(sim.gateway.debits.size).toBe(1);
    expect(sim.store.marketplaceCharges().find((c) => c.id === id)?.status).toBe("settled");
    expect(sim.gateway.transfers).toHaveLength(1);
  });

  it("a seller's transfer whose answer was lost is retried into the same transfer", async () => {
    const sim = new InMemorySusu();
    await addPeople(sim, ["sel_a", "sel_b", "sel_c"]);
    sim.gateway.injectFault("createTransfer", "lost_reply");
    const id = (await useCases.createMarketplaceCharge(sim.deps, split))._unsafeUnwrap().charge.id;
    await sim.advance(HOUR_MS);
    const c = sim.store.marketplaceCharges().find((x) => x.id === id);
    expect(c?.status).toBe("settled");
    expect(sim.gateway.transfers.map((t) => t.destinationAccountId).sort()).toEqual([
      "acct_sel_a",
      "acct_sel_b",
      "acct_sel_c",
    ]);
    // Each transfer names the charge, the seller and the attempt, so its webhook finds its step.
    expect(c?.transfers.map((t) => [t.sellerId, t.attempt, t.status])).toEqual([
      ["sel_a", 1, "created"],
      ["sel_b", 1, "created"],
      ["sel_c", 1, "created"],
    ]);
  });

  it("a Stripe fact about a charge that does not exist is ignored, not an error", async () => {
    const sim = new InMemorySusu();
    const outcome = await useCases.applyPaymentFact(
      sim.deps,
      sim.factPorts,
      {
        kind: "debit_succeeded",
        refs: marketplaceChargeRefs("mc_gone"),
        paymentIntentId: "pi_1",
        chargeId: "ch_1",
      },
      "stripe:evt_1",
    );
    expect(outcome._unsafeUnwrap()).toMatchObject({ status: "ignored" });
  });
});

describe("executeEffect: a seller's transfer Stripe refuses for good", () => {
  it("is the charge's transfer_failed with Stripe's message, which the parked transfer's ticket shows", async () => {
    const r = runMarketplace(createdMarketplace(splitCommand), [paid()]);
    const transfer = r.effects.find(
      (e): e is Extract<MarketplaceChargeEffect, { kind: "transfer" }> =>
        e.kind === "transfer" && e.sellerId === "sel_a",
    );
    if (transfer === undefined) throw new Error("no transfer to sel_a was asked for");
    const sim = new InMemorySusu();
    sim.gateway.setAccount(transfer.destinationAccountId, false);
    const deps: UseCaseDeps = {
      ...sim.deps,
      marketplaceCharges: { ...sim.deps.marketplaceCharges, getMarketplaceCharge: () => okAsync(r.state) },
    };
    expect((await executeEffect(deps, sim.ports, transfer))._unsafeUnwrap()).toEqual([
      {
        kind: "transfer_failed",
        refs: marketplaceChargeRefs(r.state.id, { sellerId: "sel_a", attempt: 1 }),
        failureCode: "insufficient_capabilities_for_transfer",
        failureMessage: "the account cannot receive transfers",
      },
    ]);
  });
});

describe("executeEffect: a seller's transfer the charge no longer asks for", () => {
  /**
   * sel_a's attempt 1 answered api_error, the admins' look-up missed it (written off), attempt
   * 2 asked; then attempt 1's transfer.created came: it is sel_a's payment, attempt 2 written off.
   */
  function writtenOffQueued() {
    const late = runMarketplace(createdMarketplace(splitCommand), [
      paid(),
      { type: "transfer_failed", sellerId: "sel_a", attempt: 1, failureCode: "api_error" },
      { type: "retry_transfers", by: "admin" },
      { type: "transfer_not_found", sellerId: "sel_a", attempt: 1 },
    ]);
    const queued = late.effects.find(
      (e): e is Extract<MarketplaceChargeEffect, { kind: "transfer" }> =>
        e.kind === "transfer" && e.sellerId === "sel_a" && e.attempt === 2,
    );
    if (queued === undefined) throw new Error("attempt 2 was never asked for");
    const landed = runMarketplace(late.state, [
      { type: "transfer_created", sellerId: "sel_a", attempt: 1, transferId: "tr_1" },
    ]).state;
    expect(landed.transfers.filter((t) => t.sellerId === "sel_a").map((t) => t.status)).toEqual([
      "created",
      "failed",
    ]);
    const sim = new InMemorySusu();
    sim.gateway.setAccount(queued.destinationAccountId, true);
    const withCharge = (state: MarketplaceCharge): UseCaseDeps => ({
      ...sim.deps,
      marketplaceCharges: { ...sim.deps.marketplaceCharges, getMarketplaceCharge: () => okAsync(state) },
    });
    return { late, landed, queued, sim, withCharge };
  }

  it("attempt 2, queued, then written off when attempt 1 landed late and was booked: not sent, completed as a no-op", async () => {
    const { late, landed, queued, sim, withCharge } = writtenOffQueued();
    expect((await executeEffect(withCharge(landed), sim.ports, queued))._unsafeUnwrap()).toEqual([]);
    expect(sim.gateway.transfers).toHaveLength(0);
    // Still asked (before attempt 1 landed): sent.
    const sent = (await executeEffect(withCharge(late.state), sim.ports, queued))._unsafeUnwrap();
    expect(sent.map((f) => f.kind)).toEqual(["transfer_created"]);
    expect(sim.gateway.transfers).toHaveLength(1);
  });

  it("not sent after an earlier try that failed (its outcome unheard): reported as `earlier_try_unheard`, which the charge looks up once", async () => {
    const { landed, queued, sim, withCharge } = writtenOffQueued();
    const facts = (
      await executeEffect(withCharge(landed), sim.ports, queued, undefined, { triedBefore: true })
    )._unsafeUnwrap();
    expect(facts).toEqual([
      {
        kind: "transfer_failed",
        refs: marketplaceChargeRefs(landed.id, { sellerId: "sel_a", attempt: 2 }),
        failureCode: "earlier_try_unheard",
      },
    ]);
    expect(sim.gateway.transfers).toHaveLength(0);
    // The charge hears it as an outcome unknown: one look-up of attempt 2 ...
    const heard = runMarketplace(landed, [
      { type: "transfer_failed", sellerId: "sel_a", attempt: 2, failureCode: "earlier_try_unheard" },
    ]);
    expect(heard.last.effects.map((e) => e.kind)).toEqual(["find_transfer"]);
    // ... after which a further retry of the effect reports nothing again.
    const again = await executeEffect(withCharge(heard.state), sim.ports, queued, undefined, {
      triedBefore: true,
    });
    expect(again._unsafeUnwrap()).toEqual([]);
  });
});
