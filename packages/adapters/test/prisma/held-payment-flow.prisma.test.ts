// A held payment's whole life on PostgreSQL: its state, outbox payloads, timers' payloads,
// audit lines and ledger postings stored and read back by the adapters, with two
// dispatchers side by side. The fake gateway stands in for Stripe.
import {
  type EffectPorts,
  HOUR_MS,
  heldAccounts,
  type LedgerAccountId,
  type PaymentFact,
  useCaseDepsOn,
  useCases,
} from "@susu/domain";
import {
  aReadyPerson,
  FakePaymentGateway,
  InMemoryTimerScheduler,
  ManualClock,
  RecordingNotifier,
  RecordingSupportDesk,
  SequentialIds,
} from "@susu/domain/testing";
import { beforeEach, describe, expect, it } from "vitest";
import { PrismaLedgerStore, PrismaStore } from "../../src/prisma/index.js";
import { type TestDatabase, useTestDatabase } from "../support/test-database.js";
import { resetDatabase } from "./reset-database.js";

const START = Date.UTC(2026, 0, 6);

function world(db: TestDatabase) {
  const clock = new ManualClock(START);
  const store = new PrismaStore(db.prisma, { clock });
  const ledger = new PrismaLedgerStore(db.prisma, { clock });
  const gateway = new FakePaymentGateway(() => clock.now());
  const notifier = new RecordingNotifier();
  const desk = new RecordingSupportDesk();
  const timers = new InMemoryTimerScheduler();
  const deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
  const ports: EffectPorts = { gateway, notifier, desk, timers, ledger };
  const factPorts = { reader: gateway };

  async function deliver(facts: readonly PaymentFact[]): Promise<void> {
    for (const fact of facts)
      (await useCases.applyPaymentFact(deps, factPorts, fact, "stripe:webhook"))._unsafeUnwrap();
  }

  /** Two dispatchers, due timers and due settlements, until nothing is left to do now. */
  async function runUntilQuiet(): Promise<void> {
    for (let pass = 0; pass < 50; pass++) {
      const reports = await Promise.all(
        ["w1", "w2"].map((workerId) => useCases.dispatchOutbox(deps, ports, store, { workerId })),
      );
      const claimed = reports.reduce((n, r) => n + r._unsafeUnwrap().claimed, 0);
      const due = timers.takeDue(clock.now());
      for (const t of due) (await useCases.applyTimer(deps, t))._unsafeUnwrap();
      const facts = gateway.settleDue();
      await deliver(facts);
      if (claimed === 0 && due.length === 0 && facts.length === 0) return;
    }
    throw new Error("the dispatchers did not settle");
  }

  const balance = async (account: LedgerAccountId) =>
    (await ledger.balance(account, "AUD"))._unsafeUnwrap().amountMinor;

  return { clock, store, gateway, notifier, desk, deps, deliver, runUntilQuiet, balance };
}

describe("a held payment on PostgreSQL", () => {
  const db = useTestDatabase();
  beforeEach(async () => {
    await resetDatabase(db.prisma);
  });

  it("paid, released from the charge after the window, partly refunded after: the books balance, the hold is zero", async () => {
    const w = world(db);
    (
      await w.store.commit({
        people: [{ state: aReadyPerson("sam"), expectedVersion: undefined }],
        groups: [],
        rounds: [],
        outbox: [],
        audit: [],
      })
    )._unsafeUnwrap();
    w.gateway.setAccount("acct_sam", true);
    const command = {
      requestedBy: "app_bookings",
      clientReference: "booking_42",
      amountMinor: 100_00,
      currency: "AUD",
      sellerId: "sam",
      description: "Two nights",
      customer: { email: "cy@example.com" },
      fee: { kind: "rate" as const, basisPoints: 1_000 },
      successUrl: "https://app.example/done",
    };
    const { payment } = (await useCases.createHeldPayment(w.deps, command))._unsafeUnwrap();
    // The same request again (a client's retry) finds the stored payment by its reference.
    expect((await useCases.createHeldPayment(w.deps, command))._unsafeUnwrap()).toMatchObject({
      created: false,
      payment: { id: payment.id },
    });
    await w.runUntilQuiet();
    const opened = (await w.store.getHeldPayment(payment.id))._unsafeUnwrap();
    expect(opened?.checkoutSessionId).toMatch(/^cs_/);

    await w.deliver(w.gateway.payCheckout(opened?.checkoutSessionId ?? "", "card"));
    (await useCases.confirmFulfilled(w.deps, payment.id, "app_bookings"))._unsafeUnwrap();
    await w.runUntilQuiet();
    w.clock.advance(72 * HOUR_MS);
    await w.runUntilQuiet();

    const released = (await w.store.getHeldPayment(payment.id))._unsafeUnwrap();
    expect(released?.status).toBe("released");
    expect(w.gateway.transfers).toHaveLength(1);
    expect(w.gateway.transfers[0]?.sourceChargeId).toBe(released?.chargeId);

    (await useCases.refundHeldPayment(w.deps, payment.id, { operator: "olga" }, 50_00))._unsafeUnwrap();
    await w.runUntilQuiet();
    expect(w.gateway.reversals.map((r) => r.amount.amountMinor)).toEqual([45_00]);
    expect([...w.gateway.refunds.values()].map((r) => r.amount.amountMinor)).toEqual([50_00]);

    const p = payment.id;
    expect(await w.balance(heldAccounts.hold(p))).toBe(0);
    expect(await w.balance(heldAccounts.seller(p))).toBe(45_00);
    expect(await w.balance(heldAccounts.fees(p))).toBe(5_00);
    expect(await w.balance(heldAccounts.refunds(p))).toBe(50_00);
    expect(await w.balance(heldAccounts.paidIn(p))).toBe(-100_00);

    // Nothing was parked, and the audit log tells the payment's story under its name.
    expect((await w.store.listOutbox({ status: "parked", limit: 10 }))._unsafeUnwrap().items).toEqual([]);
    const lines = (
      await w.store.listAudit({ subjects: [{ aggregate: "held_payment", aggregateId: p }], limit: 100 })
    )._unsafeUnwrap();
    expect(lines.map((l) => l.action)).toEqual(
      expect.arrayContaining([
        "create",
        "checkout_session_created",
        "confirm_fulfilled",
        "timer:release_due",
        "refund",
      ]),
    );
    expect(w.notifier.sent.find((n) => n.template === "refund_started")?.emails).toEqual(["cy@example.com"]);
  });
});
