// Reconciliation of savings rounds on PostgreSQL and the emulator: BECS debits (Stripe's
// `payment` transactions, pending from submission), a debit that fails at the bank (its
// `payment_failure_refund`), and the pot's transfers, compared with the round's ledger.
import { type EffectPorts, type Person, type UseCaseDeps, useCaseDepsOn, useCases } from "@susu/domain";
import {
  anActiveGroup,
  InMemoryTimerScheduler,
  ManualClock,
  RecordingNotifier,
  RecordingSupportDesk,
  SequentialIds,
} from "@susu/domain/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PrismaLedgerStore, PrismaStore } from "../../src/prisma/index.js";
import { runReconciliation } from "../../src/reconciliation/index.js";
import {
  roundFacts,
  type StripeHarness,
  startStripeHarness,
  translateAll,
} from "../stripe/emulator-harness.js";
import { useTestDatabase } from "../support/index.js";

const db = useTestDatabase();
const START = Date.UTC(2026, 5, 1);

describe("reconciling rounds on PostgreSQL with the emulator", () => {
  let harness: StripeHarness;
  let store: PrismaStore;
  let deps: UseCaseDeps;
  let ports: EffectPorts;
  const clock = new ManualClock(START);

  async function aGroup(id: string, accounts: Record<string, string>): Promise<void> {
    const members = Object.keys(accounts);
    const group = anActiveGroup({ id, memberIds: members, startsAt: clock.now() - 1 });
    const people: Person[] = [];
    for (const m of members) {
      const saved = await harness.customerWithMandate(m, accounts[m] ?? "");
      const account = await harness.driver.connectedAccount({ canReceive: true });
      people.push({
        id: m,
        displayName: m,
        customerId: saved.customerId,
        debit: { paymentMethodId: saved.paymentMethodId, mandateId: saved.mandateId, mandateActive: true },
        payout: { connectedAccountId: account, payoutsEnabled: true },
        createdAt: clock.now(),
        version: 0,
      });
    }
    (
      await deps.uow.commit({
        people: people.map((state) => ({ state, expectedVersion: undefined })),
        groups: [{ state: group, expectedVersion: undefined }],
        rounds: [],
        outbox: [],
        audit: [],
      })
    )._unsafeUnwrap();
  }

  beforeAll(async () => {
    harness = await startStripeHarness({ startTime: START / 1000 });
    store = new PrismaStore(db.prisma, { clock });
    deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    ports = {
      gateway: harness.gateway,
      notifier: new RecordingNotifier(),
      desk: new RecordingSupportDesk(),
      timers: new InMemoryTimerScheduler(),
      ledger: new PrismaLedgerStore(db.prisma, { clock }),
    };
    await aGroup("grp_paid", { ana: "000123456", ben: "000123456", cy: "000123456" });
    await aGroup("grp_failing", { dee: "000123456", eli: "111111113" });
    await harness.events.skipExisting();
  });
  afterAll(async () => {
    await harness?.emulator.stop();
  });

  async function dispatch(): Promise<void> {
    for (let i = 0; i < 10; i++) {
      const report = (await useCases.dispatchOutbox(deps, ports, store, { workerId: "d" }))._unsafeUnwrap();
      if (report.claimed === 0) return;
    }
  }

  async function deliver(): Promise<void> {
    for (const fact of roundFacts(await translateAll(harness.gateway, await harness.events.next())))
      (await useCases.applyPaymentFact(deps, { reader: harness.gateway }, fact, "stripe"))._unsafeUnwrap();
  }

  it("agrees with Stripe: debits submitted, one failed at the bank, the pot paid out by transfers", async () => {
    const paid = (await useCases.startRound(deps, "grp_paid", "scheduler"))._unsafeUnwrap().state;
    (await useCases.startRound(deps, "grp_failing", "scheduler"))._unsafeUnwrap();
    await dispatch();
    const settleSeconds = 3 * 86_400 + 60;
    clock.advance(settleSeconds * 1000);
    await harness.emulator.control.advanceClock(settleSeconds);
    await deliver();
    await dispatch();
    await deliver();
    expect((await store.getRound(paid.id))._unsafeUnwrap()?.status).toBe("paid_out");
    const kinds = await db.prisma.ledgerTransaction.groupBy({
      by: ["kind"],
      _count: true,
      orderBy: { kind: "asc" },
    });
    expect(Object.fromEntries(kinds.map((k) => [k.kind, k._count]))).toMatchObject({
      debit_initiated: 5,
      debit_failed: 1,
      debit_settled: 4,
      payout_transferred: 3,
    });

    const period = { from: START, to: Math.ceil((clock.now() + 1) / 1000) * 1000 };
    const run = await runReconciliation(
      { prisma: db.prisma, stripe: harness.stripe, now: () => clock.now() },
      period,
      "test",
    );
    expect(run.report.differences).toEqual([]);
    // Five debits (the failed one nets to zero on both sides) and three transfers.
    expect(run.report.matched).toBe(8);
    const types = await db.prisma.stripeBalanceTransaction.groupBy({ by: ["type"], _count: true });
    expect(Object.fromEntries(types.map((t) => [t.type, t._count]))).toEqual({
      payment: 5,
      payment_failure_refund: 1,
      transfer: 3,
    });
  });
});
