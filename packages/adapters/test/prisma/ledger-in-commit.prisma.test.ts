// A `post_ledger` effect carried out in the commit that decides it (changeset-writer.ts):
// posted in the same statement or transaction as the state, behind the aggregate's version
// gate, its outbox row stored already done, and the dispatcher given nothing to do. A
// transaction id already in the ledger, or a posting the database refuses, leaves the effect
// pending for the dispatcher, which answers as it always has; the state is stored either way.

import { PrismaPg } from "@prisma/adapter-pg";
import {
  type Changeset,
  type CreateHeldPayment,
  createHeldPayment,
  DEFAULT_HELD_PAYMENT_POLICY,
  debitInitiated,
  type EffectPorts,
  type HeldPayment,
  type LedgerTransaction,
  money,
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
  RecordingSupportDesk,
  SequentialIds,
} from "@susu/domain/testing";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { poolOf } from "../../src/db/prisma-client.js";
import { OUTBOX_CHANNEL, wakeNotifierOf } from "../../src/db/wake-notifier.js";
import { singleStatementHeldPaymentCommit } from "../../src/prisma/changeset-writer.js";
import { PrismaClient } from "../../src/prisma/generated/client.js";
import { PrismaLedgerStore, PrismaStore } from "../../src/prisma/index.js";
import { statementsSentDuring } from "../support/statement-spy.js";
import { createTestDatabase, type TestDatabase } from "../support/test-database.js";
import { resetDatabase } from "./reset-database.js";

const T = Date.UTC(2026, 0, 6);
const LEASE_MS = 60_000;
const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };

function initiated(id: string, amountMinor = 100_00): LedgerTransaction {
  return debitInitiated({
    id,
    roundId: "round_1",
    memberId: "ana",
    amount: money(amountMinor, "AUD"),
    occurredAt: T,
  })._unsafeUnwrap();
}

// As the decisions make them: the effect's id is the transaction's.
const posting = (transaction: LedgerTransaction): OutboxEffect => ({
  kind: "post_ledger",
  id: transaction.id,
  transaction,
});

const timer: OutboxEffect = {
  kind: "schedule_timer",
  id: "round_1:timer:deadline",
  aggregate: "round",
  aggregateId: "round_1",
  at: T,
  timer: { kind: "collection_deadline" },
};

function heldPayment(over: Partial<CreateHeldPayment> = {}): HeldPayment {
  return createHeldPayment(
    {
      id: "hp_1",
      requestedBy: "app_1",
      clientReference: "booking_1",
      amountMinor: 10_000,
      currency: "AUD",
      seller: { id: "sel", connectedAccountId: "acct_sel", canReceive: true },
      description: "Two nights",
      customer: { email: "cy@example.com" },
      fee: { kind: "rate", basisPoints: 1_000 },
      successUrl: "https://app.example/done",
      ...over,
    },
    { now: T, policy: DEFAULT_HELD_PAYMENT_POLICY },
  )._unsafeUnwrap().state;
}

describe("a post_ledger effect posted in the commit that decides it (PostgreSQL)", () => {
  let db: TestDatabase;
  let store: PrismaStore;
  let ledger: PrismaLedgerStore;
  let payment: HeldPayment;
  let wakes = 0;
  let stopWaking: () => void = () => undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    stopWaking();
    await db.drop();
  });
  beforeEach(async () => {
    await resetDatabase(db.prisma);
    stopWaking();
    wakes = 0;
    stopWaking = wakeNotifierOf(db.prisma).handleLocally(OUTBOX_CHANNEL, () => {
      wakes += 1;
    });
    store = new PrismaStore(db.prisma, { clock: { now: () => T + 1 } });
    ledger = new PrismaLedgerStore(db.prisma, { clock: { now: () => T + 1 } });
    payment = heldPayment();
    (
      await store.commit({
        ...empty,
        people: [{ state: aReadyPerson("sel"), expectedVersion: undefined }],
        heldPayments: [{ state: payment, expectedVersion: undefined }],
      })
    )._unsafeUnwrap();
    wakes = 0;
  });

  /** The payment changed at `version` (its description), with `outbox`: the held payment's one-statement shape. */
  const paymentChange = (version: number, outbox: readonly OutboxEffect[]): Changeset => ({
    ...empty,
    heldPayments: [
      { state: { ...payment, description: `v${version + 1}`, version }, expectedVersion: version },
    ],
    outbox,
  });

  async function effectRow(id: string) {
    const [row] = await db.prisma.$queryRawUnsafe<
      { status: string; completed_at: Date | null; claimed_by: string | null; last_error: string | null }[]
    >(
      "SELECT status::text AS status, completed_at, claimed_by, last_error FROM outbox_effects WHERE id = $1",
      id,
    );
    return row;
  }
  const storedDescription = async () =>
    (await db.prisma.heldPayment.findUniqueOrThrow({ where: { id: "hp_1" } })).snapshot as {
      description: string;
    };
  const postingsOf = (id: string) => db.prisma.ledgerPosting.count({ where: { transactionId: id } });

  function dispatcher() {
    const clock = new ManualClock(T + 10);
    const desk = new RecordingSupportDesk();
    const ports: EffectPorts = {
      gateway: new FakePaymentGateway(() => clock.now()),
      notifier: new RecordingNotifier(),
      desk,
      timers: new InMemoryTimerScheduler(),
      ledger,
    };
    const deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    return {
      desk,
      run: async () =>
        (
          await useCases.dispatchOutbox(deps, ports, store, { workerId: "w1", leaseMs: LEASE_MS })
        )._unsafeUnwrap(),
    };
  }

  it("a held payment's one-statement commit posts the transaction with the state: balances there, the effect done, nothing for the dispatcher, no wake-up", async () => {
    const tx = initiated("tx_1");
    const { result, sent } = await statementsSentDuring(db.prisma, async () =>
      store.commit(paymentChange(0, [posting(tx)])),
    );
    result._unsafeUnwrap();
    // One statement, no transaction: the posting is a part of the payment's commit.
    expect(sent.filter((s) => !s.startsWith("SELECT pg_notify"))).toEqual([
      "susu_commit_held_payment_ledger",
    ]);
    expect((await storedDescription()).description).toBe("v1");
    expect(await effectRow(tx.id)).toMatchObject({ status: "done", claimed_by: null });
    expect((await effectRow(tx.id))?.completed_at).toEqual(new Date(T + 1));
    expect(await postingsOf(tx.id)).toBe(tx.postings.length);
    for (const p of tx.postings) {
      const balance = (await ledger.balance(p.account, "AUD"))._unsafeUnwrap();
      expect(Math.abs(balance.amountMinor)).toBe(100_00);
    }
    expect((await ledger.checkLedger())._unsafeUnwrap()).toMatchObject({
      agrees: true,
      transactionsChecked: 1,
    });
    expect(wakes).toBe(0);
    expect(await dispatcher().run()).toMatchObject({ claimed: 0 });
  });

  it("the posting's check that the outbox does not hold its effect is a look-up by key, not a scan of the outbox, on 5,000 rows and in both plan modes", async () => {
    await db.prisma.$executeRawUnsafe(
      `INSERT INTO outbox_effects (id, aggregate_type, aggregate_id, kind, payload, available_at, created_at, status)
       SELECT 'fx_' || g, 'held_payment', 'hp_' || (g / 5), 'notify',
              jsonb_build_object('id', 'fx_' || g, 'kind', 'notify'), now(), now(), 'done'
         FROM generate_series(1, 5000) g`,
    );
    await db.prisma.$executeRawUnsafe("ANALYZE outbox_effects");
    const statement = singleStatementHeldPaymentCommit(
      paymentChange(0, [posting(initiated("tx_plan"))]),
      T + 1,
    );
    expect(statement?.name).toBe("susu_commit_held_payment_ledger");
    const client = new pg.Client({ connectionString: db.connectionString });
    await client.connect();
    try {
      for (const mode of ["force_custom_plan", "force_generic_plan"]) {
        await client.query("BEGIN");
        await client.query(`SET LOCAL plan_cache_mode = ${mode}`);
        const { rows } = await client.query<{ "QUERY PLAN": string }>({
          text: `EXPLAIN (ANALYZE, BUFFERS) ${statement?.text}`,
          values: statement?.values as unknown[],
        });
        await client.query("ROLLBACK");
        const plan = rows.map((r) => r["QUERY PLAN"]).join("\n");
        expect(plan, mode).toContain("Tuples Inserted: 1"); // it ran: the transaction's row
        expect(plan, mode).not.toMatch(/Seq Scan on outbox_effects/);
      }
    } finally {
      await client.end();
    }
  });

  it("the transaction's commit (outbox effects alone) posts them too, leaving the other effects pending and waking the dispatchers for them", async () => {
    const [a, b] = [initiated("tx_a"), initiated("tx_b", 7_00)];
    (await store.commit({ ...empty, outbox: [posting(a), timer, posting(b)] }))._unsafeUnwrap();
    expect(await effectRow(a.id)).toMatchObject({ status: "done" });
    expect(await effectRow(b.id)).toMatchObject({ status: "done" });
    expect(await effectRow(timer.id)).toMatchObject({ status: "pending" });
    expect(await postingsOf(a.id)).toBe(a.postings.length);
    expect(await postingsOf(b.id)).toBe(b.postings.length);
    const account = a.postings[0]?.account ?? "";
    expect(Math.abs((await ledger.balance(account, "AUD"))._unsafeUnwrap().amountMinor)).toBe(107_00);
    expect(wakes).toBe(1);
    expect((await ledger.checkLedger())._unsafeUnwrap().agrees).toBe(true);
  });

  it("a transaction already posted with the same content: the effect stays pending and the dispatcher completes it", async () => {
    const tx = initiated("tx_same");
    (await ledger.post(tx))._unsafeUnwrap();
    (await store.commit(paymentChange(0, [posting(tx)])))._unsafeUnwrap();
    expect((await storedDescription()).description).toBe("v1");
    expect(await effectRow(tx.id)).toMatchObject({ status: "pending" });
    expect(wakes).toBe(1);
    expect(await dispatcher().run()).toMatchObject({ claimed: 1, completed: 1 });
    expect(await effectRow(tx.id)).toMatchObject({ status: "done" });
    expect(await postingsOf(tx.id)).toBe(tx.postings.length);
    expect((await ledger.checkLedger())._unsafeUnwrap()).toMatchObject({
      agrees: true,
      transactionsChecked: 1,
    });
  });

  it("a transaction already posted with other content: the effect stays pending and the dispatcher parks it with duplicate_transaction_conflict", async () => {
    (await ledger.post(initiated("tx_other", 50_00)))._unsafeUnwrap();
    const tx = initiated("tx_other", 100_00);
    (await store.commit(paymentChange(0, [posting(tx)])))._unsafeUnwrap();
    expect((await storedDescription()).description).toBe("v1");
    expect(await effectRow(tx.id)).toMatchObject({ status: "pending" });
    const { run, desk } = dispatcher();
    expect(await run()).toMatchObject({ claimed: 1, parked: 1 });
    const row = await effectRow(tx.id);
    expect(row?.status).toBe("parked");
    expect(row?.last_error).toContain("duplicate_transaction_conflict");
    expect(desk.tickets.map((t) => t.id)).toEqual([`${tx.id}:parked`]);
    // The first content stays the ledger's.
    expect(await postingsOf(tx.id)).toBe(2);
    const account = tx.postings[0]?.account ?? "";
    expect(Math.abs((await ledger.balance(account, "AUD"))._unsafeUnwrap().amountMinor)).toBe(50_00);
  });

  it("a posting the database refuses (a balance out of the safe range): the state is stored, the effect pending, then failed by the dispatcher as before", async () => {
    const big = (id: string) =>
      debitInitiated({
        id,
        roundId: "round_1",
        memberId: "ana",
        amount: money(5e15, "AUD"),
        occurredAt: T,
      })._unsafeUnwrap();
    (await ledger.post(big("tx_big_1")))._unsafeUnwrap();
    const tx = big("tx_big_2");
    (await store.commit(paymentChange(0, [posting(tx)])))._unsafeUnwrap();
    expect((await storedDescription()).description).toBe("v1");
    expect(await effectRow(tx.id)).toMatchObject({ status: "pending" });
    expect(await postingsOf(tx.id)).toBe(0);
    expect(wakes).toBe(1);
    // The same through the transaction's path.
    const tx3 = big("tx_big_3");
    (await store.commit({ ...empty, outbox: [posting(tx3)] }))._unsafeUnwrap();
    expect(await effectRow(tx3.id)).toMatchObject({ status: "pending" });

    const { run, desk } = dispatcher();
    expect(await run()).toMatchObject({ claimed: 2, parked: 2 });
    for (const id of [tx.id, tx3.id]) {
      const row = await effectRow(id);
      expect(row?.status).toBe("parked");
      expect(row?.last_error).toContain("balance_overflow");
    }
    expect(desk.tickets).toHaveLength(2);
    expect(await postingsOf(tx.id)).toBe(0);
    expect((await ledger.checkLedger())._unsafeUnwrap().agrees).toBe(true);
  });

  it("a stale version posts nothing: version_conflict, and neither the effect nor the ledger is stored", async () => {
    (await store.commit(paymentChange(0, [])))._unsafeUnwrap();
    const tx = initiated("tx_stale");
    const stale = await store.commit(paymentChange(0, [posting(tx)]));
    expect(stale._unsafeUnwrapErr().type).toBe("version_conflict");
    expect(await effectRow(tx.id)).toBeUndefined();
    expect(await postingsOf(tx.id)).toBe(0);
    expect(await db.prisma.ledgerTransaction.count()).toBe(0);
    expect(await db.prisma.ledgerAccount.count()).toBe(0);
  });

  it("through Prisma only (no pool of ours): posted in the commit the same way, and a refused posting falls back the same way", async () => {
    const bare = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.connectionString }) });
    try {
      expect(poolOf(bare)).toBeUndefined();
      const viaPrisma = new PrismaStore(bare, { clock: { now: () => T + 1 } });
      const tx = initiated("tx_bare");
      (await viaPrisma.commit(paymentChange(0, [posting(tx)])))._unsafeUnwrap();
      expect(await effectRow(tx.id)).toMatchObject({ status: "done" });
      expect(await postingsOf(tx.id)).toBe(tx.postings.length);
      const big = (id: string) =>
        debitInitiated({
          id,
          roundId: "round_1",
          memberId: "ana",
          amount: money(5e15, "AUD"),
          occurredAt: T,
        })._unsafeUnwrap();
      (await ledger.post(big("tx_bare_big_1")))._unsafeUnwrap();
      const refused = big("tx_bare_big_2");
      (await viaPrisma.commit(paymentChange(1, [posting(refused)])))._unsafeUnwrap();
      expect((await storedDescription()).description).toBe("v2");
      expect(await effectRow(refused.id)).toMatchObject({ status: "pending" });
      expect(await postingsOf(refused.id)).toBe(0);
      (await viaPrisma.commit({ ...empty, outbox: [posting(big("tx_bare_big_3"))] }))._unsafeUnwrap();
      expect(await effectRow("tx_bare_big_3")).toMatchObject({ status: "pending" });
      expect((await ledger.checkLedger())._unsafeUnwrap().agrees).toBe(true);
    } finally {
      await bare.$disconnect();
    }
  });

  it("an effect whose id the outbox holds already is not posted again (the first copy is the one kept)", async () => {
    const first = initiated("tx_kept", 10_00);
    (await store.commit({ ...empty, outbox: [posting(first)] }))._unsafeUnwrap();
    // Posted and done with the commit above; the same id again with other content is dropped, as the outbox drops it.
    (await store.commit(paymentChange(0, [posting(initiated("tx_kept", 99_00))])))._unsafeUnwrap();
    expect(await effectRow(first.id)).toMatchObject({ status: "done" });
    const account = first.postings[0]?.account ?? "";
    expect(Math.abs((await ledger.balance(account, "AUD"))._unsafeUnwrap().amountMinor)).toBe(10_00);
    expect(await dispatcher().run()).toMatchObject({ claimed: 0 });
  });
});
