// Money owed outside Stripe, recorded paid, on PostgreSQL: the use case stores the payment
// on the held payment (version checked), the outbox carries the posting, the customer's
// notice and the ticket's resolution, and the dispatcher posts to the ledger and resolves
// the `refund_owed` ticket in `support_tickets` once nothing is left. Two admins recording
// the whole amount at once: one is stored, the other refused (`nothing_owed`).
import {
  type CreateHeldPayment,
  createHeldPayment,
  DEFAULT_HELD_PAYMENT_POLICY,
  decideHeldPayment,
  type EffectPorts,
  type HeldPaymentInput,
  heldAccounts,
  heldPaymentIds,
  type OutboxEffect,
  useCaseDepsOn,
  useCases,
} from "@susu/domain";
import {
  aReadyPerson,
  FakePaymentGateway,
  InMemoryTimerScheduler,
  ManualClock,
  RecordingNotifier,
  SequentialIds,
} from "@susu/domain/testing";
import { beforeEach, describe, expect, it } from "vitest";
import { PrismaLedgerStore, PrismaStore } from "../../src/prisma/index.js";
import { PrismaSupportDesk } from "../../src/support/prisma-support-desk.js";
import { type TestDatabase, useTestDatabase } from "../support/test-database.js";
import { resetDatabase } from "./reset-database.js";

const T = Date.UTC(2026, 0, 6);
const HOUR = 3_600_000;

const command: CreateHeldPayment = {
  id: "hp_owed",
  requestedBy: "app_1",
  clientReference: "booking_owed",
  amountMinor: 10_000,
  currency: "AUD",
  seller: { id: "sel", connectedAccountId: "acct_sel", canReceive: true },
  description: "Two nights",
  customer: { email: "cy@example.com", name: "Cy" },
  fee: { kind: "rate", basisPoints: 1_000 },
  successUrl: "https://app.example/done",
};

/** A refund refused (`charge_disputed`), then a loss of 6,000: 4,000 owed to the customer outside Stripe. */
const owingInputs: HeldPaymentInput[] = [
  { type: "checkout_session_created", sessionId: "cs_o", url: "https://checkout.example/o" },
  {
    type: "checkout_completed",
    sessionId: "cs_o",
    paymentIntentId: "pi_o",
    paymentStatus: "succeeded",
    chargeId: "ch_o",
  },
  { type: "report_unfulfilled", reason: "cancelled" },
  { type: "refund_failed", refund: 1, attempt: 1, failureCode: "charge_disputed" },
  {
    type: "dispute_created",
    disputeId: "dp_o",
    amountMinor: 6_000,
    reason: "fraudulent",
    stripeStatus: "needs_response",
  },
  { type: "dispute_closed", disputeId: "dp_o", outcome: "lost", amountMinor: 6_000 },
];

function world(db: TestDatabase) {
  const clock = new ManualClock(T + 2 * HOUR);
  const store = new PrismaStore(db.prisma, { clock });
  const ledger = new PrismaLedgerStore(db.prisma, { clock });
  const desk = new PrismaSupportDesk(db.prisma, clock);
  const notifier = new RecordingNotifier();
  const deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
  const ports: EffectPorts = {
    gateway: new FakePaymentGateway(() => clock.now()),
    notifier,
    desk,
    timers: new InMemoryTimerScheduler(),
    ledger,
  };
  const dispatch = async () => {
    for (let pass = 0; pass < 10; pass++) {
      const report = (await useCases.dispatchOutbox(deps, ports, store, { workerId: "w1" }))._unsafeUnwrap();
      if (report.claimed === 0) return;
    }
  };
  const balance = async (account: string) =>
    (await ledger.balance(account, "AUD"))._unsafeUnwrap().amountMinor;
  return { clock, store, deps, desk, notifier, dispatch, balance };
}

/** Stores the payment as the domain left it after `owingInputs`, with its effects in the outbox. */
async function storeOwing(w: ReturnType<typeof world>): Promise<void> {
  const created = createHeldPayment(command, { now: T, policy: DEFAULT_HELD_PAYMENT_POLICY })._unsafeUnwrap();
  let state = created.state;
  const effects: OutboxEffect[] = [];
  for (const input of owingInputs) {
    const d = decideHeldPayment(state, input, {
      now: T + HOUR,
      policy: DEFAULT_HELD_PAYMENT_POLICY,
    })._unsafeUnwrap();
    state = d.state;
    // Stripe's calls are not this test's: the postings, notices and tickets are.
    effects.push(
      ...d.effects.filter((e) => e.kind === "post_ledger" || e.kind === "notify" || e.kind === "open_ticket"),
    );
  }
  (
    await w.store.commit({
      people: [{ state: aReadyPerson("sel"), expectedVersion: undefined }],
      groups: [],
      rounds: [],
      heldPayments: [{ state: { ...state, version: 0 }, expectedVersion: undefined }],
      outbox: effects,
      audit: [],
    })
  )._unsafeUnwrap();
  await w.dispatch();
}

const ticketId = heldPaymentIds.ticket.refundOwed("hp_owed", 2);

describe("money owed to a held payment's customer outside Stripe, recorded paid, on PostgreSQL", () => {
  const db = useTestDatabase();
  beforeEach(async () => {
    await resetDatabase(db.prisma);
  });

  it("a part, then the rest: the ledger moves what is owed out, the customer is told each time, the ticket resolved at the end", async () => {
    const w = world(db);
    await storeOwing(w);
    expect(await w.balance(heldAccounts.owedToCustomer("hp_owed"))).toBe(4_000);
    expect((await w.desk.getTicket(ticketId))._unsafeUnwrap()?.status).toBe("open");
    expect(w.notifier.sent.filter((n) => n.template === "owed_outside_stripe")).toMatchObject([
      { emails: ["cy@example.com"], data: { amountMinor: 4_000 } },
    ]);

    const olga = { operator: "olga" };
    const first = await useCases.recordHeldPaymentOwedPaid(w.deps, "hp_owed", olga, {
      amountMinor: 1_500,
      currency: "AUD",
      reference: "NAB 0042",
    });
    expect(first._unsafeUnwrap().owedPayments).toMatchObject([
      { number: 1, amountMinor: 1_500, reference: "NAB 0042", paidBy: "operator:olga" },
    ]);
    await w.dispatch();
    expect(await w.balance(heldAccounts.owedToCustomer("hp_owed"))).toBe(2_500);
    expect(await w.balance(heldAccounts.paidOutsideStripe("hp_owed"))).toBe(1_500);
    expect((await w.desk.getTicket(ticketId))._unsafeUnwrap()?.status).toBe("open");

    // More than is left, another currency: refused, nothing stored.
    for (const [amountMinor, currency, code] of [
      [2_501, "AUD", "amount_exceeds_owed"],
      [100, "NZD", "currency_mismatch"],
    ] as const) {
      const refused = await useCases.recordHeldPaymentOwedPaid(w.deps, "hp_owed", olga, {
        amountMinor,
        currency,
        reference: "x",
      });
      expect(refused._unsafeUnwrapErr().code).toBe(code);
    }
    expect((await w.store.getHeldPayment("hp_owed"))._unsafeUnwrap()?.owedPayments).toHaveLength(1);

    (
      await useCases.recordHeldPaymentOwedPaid(w.deps, "hp_owed", olga, {
        amountMinor: 2_500,
        currency: "AUD",
        reference: "NAB 0043",
      })
    )._unsafeUnwrap();
    await w.dispatch();
    expect(await w.balance(heldAccounts.owedToCustomer("hp_owed"))).toBe(0);
    expect(await w.balance(heldAccounts.paidOutsideStripe("hp_owed"))).toBe(4_000);
    expect((await w.desk.getTicket(ticketId))._unsafeUnwrap()).toMatchObject({
      status: "resolved",
      resolvedBy: "operator:olga",
    });
    expect(
      w.notifier.sent.filter((n) => n.template === "owed_paid_outside_stripe").map((n) => n.data),
    ).toMatchObject([
      { amountMinor: 1_500, leftMinor: 2_500, reference: "NAB 0042" },
      { amountMinor: 2_500, leftMinor: 0, reference: "NAB 0043" },
    ]);
    // Read back whole from its snapshot.
    const stored = (await w.store.getHeldPayment("hp_owed"))._unsafeUnwrap();
    expect(stored?.owedPayments?.map((p) => [p.number, p.amountMinor, p.reference])).toEqual([
      [1, 1_500, "NAB 0042"],
      [2, 2_500, "NAB 0043"],
    ]);
    const audit = (
      await w.store.listAudit({
        subjects: [{ aggregate: "held_payment", aggregateId: "hp_owed" }],
        limit: 50,
      })
    )._unsafeUnwrap();
    expect(audit.filter((a) => a.action === "record_owed_payment").map((a) => a.actor)).toEqual([
      "operator:olga",
      "operator:olga",
    ]);
  });

  it("two admins recording all of it at once: one payment is stored, the other refused", async () => {
    const w = world(db);
    await storeOwing(w);
    const results = await Promise.all(
      ["olga", "omar"].map((operator) =>
        useCases.recordHeldPaymentOwedPaid(
          w.deps,
          "hp_owed",
          { operator },
          {
            amountMinor: 4_000,
            currency: "AUD",
            reference: `paid by ${operator}`,
          },
        ),
      ),
    );
    expect(results.filter((r) => r.isOk())).toHaveLength(1);
    expect(results.flatMap((r) => (r.isErr() ? [r.error.code] : []))).toEqual(["nothing_owed"]);
    await w.dispatch();
    expect(await w.balance(heldAccounts.owedToCustomer("hp_owed"))).toBe(0);
    expect(await w.balance(heldAccounts.paidOutsideStripe("hp_owed"))).toBe(4_000);
    expect((await w.store.getHeldPayment("hp_owed"))._unsafeUnwrap()?.owedPayments).toHaveLength(1);
  });

  it("a customer who got it twice (the admin paid all 4,000 owed, then a second dispute took it back) pays it back: two admins record it at once, one is stored, the books close, the owed_overpaid ticket resolved", async () => {
    const w = world(db);
    await storeOwing(w);
    (
      await useCases.recordHeldPaymentOwedPaid(
        w.deps,
        "hp_owed",
        { operator: "olga" },
        {
          amountMinor: 4_000,
          currency: "AUD",
          reference: "NAB 0042",
        },
      )
    )._unsafeUnwrap();
    await w.dispatch();
    const before = (await w.store.getHeldPayment("hp_owed"))._unsafeUnwrap();
    if (before === undefined) throw new Error("stored above");
    let state = before;
    const effects: OutboxEffect[] = [];
    for (const input of [
      {
        type: "dispute_created",
        disputeId: "dp_o2",
        amountMinor: 4_000,
        reason: "fraudulent",
        stripeStatus: "needs_response",
      },
      { type: "dispute_closed", disputeId: "dp_o2", outcome: "lost", amountMinor: 4_000 },
    ] as const satisfies readonly HeldPaymentInput[]) {
      const d = decideHeldPayment(state, input, {
        now: T + 3 * HOUR,
        policy: DEFAULT_HELD_PAYMENT_POLICY,
      })._unsafeUnwrap();
      state = d.state;
      effects.push(
        ...d.effects.filter(
          (e) => e.kind === "post_ledger" || e.kind === "notify" || e.kind === "open_ticket",
        ),
      );
    }
    expect(state.disputes.find((x) => x.id === "dp_o2")?.overpaidMinor).toBe(4_000);
    (
      await w.store.commit({
        people: [],
        groups: [],
        rounds: [],
        heldPayments: [{ state: { ...state, version: before.version + 1 }, expectedVersion: before.version }],
        outbox: effects,
        audit: [],
      })
    )._unsafeUnwrap();
    await w.dispatch();
    const overpaidTicket = heldPaymentIds.ticket.owedOverpaid("hp_owed", "dp_o2");
    expect((await w.desk.getTicket(overpaidTicket))._unsafeUnwrap()?.status).toBe("open");
    expect(await w.balance(heldAccounts.owedByCustomer("hp_owed"))).toBe(-4_000);

    const results = await Promise.all(
      ["olga", "omar"].map((operator) =>
        useCases.recordHeldPaymentOwedRecovered(
          w.deps,
          "hp_owed",
          { operator },
          { amountMinor: 4_000, currency: "AUD", reference: `back via ${operator}` },
        ),
      ),
    );
    expect(results.filter((r) => r.isOk())).toHaveLength(1);
    expect(results.flatMap((r) => (r.isErr() ? [r.error.code] : []))).toEqual(["nothing_owed_back"]);
    await w.dispatch();
    expect(await w.balance(heldAccounts.owedByCustomer("hp_owed"))).toBe(0);
    expect(await w.balance(heldAccounts.paidOutsideStripe("hp_owed"))).toBe(0);
    expect((await w.desk.getTicket(overpaidTicket))._unsafeUnwrap()).toMatchObject({ status: "resolved" });
    // Read back whole from its snapshot.
    const stored = (await w.store.getHeldPayment("hp_owed"))._unsafeUnwrap();
    expect(stored?.owedRecoveries).toHaveLength(1);
    expect(stored?.owedRecoveries?.[0]).toMatchObject({
      number: 1,
      amountMinor: 4_000,
      settledDisputeIds: ["dp_o2"],
    });
    const audit = (
      await w.store.listAudit({
        subjects: [{ aggregate: "held_payment", aggregateId: "hp_owed" }],
        limit: 50,
      })
    )._unsafeUnwrap();
    expect(audit.filter((a) => a.action === "record_owed_recovery")).toHaveLength(1);
  });
});
