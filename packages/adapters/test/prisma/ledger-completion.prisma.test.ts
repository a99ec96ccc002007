// A ledger posting and the completion of the outbox effect that carries it, in one statement
// (PrismaLedgerStore.postCompleting): posted and done together, or neither; a
// claim another worker holds is left alone; and the dispatcher on PostgreSQL completes a
// posting that way, never twice. The store here leaves its postings to the dispatcher
// (postLedgerInCommit: false); a commit's own postings: ledger-in-commit.prisma.test.ts.
import {
  type Changeset,
  debitInitiated,
  type EffectPorts,
  type LedgerStore,
  type LedgerTransaction,
  money,
  type OutboxEffect,
  type OutboxStore,
  useCaseDepsOn,
  useCases,
} from "@susu/domain";
import {
  FakePaymentGateway,
  InMemoryTimerScheduler,
  ManualClock,
  RecordingNotifier,
  RecordingSupportDesk,
  SequentialIds,
} from "@susu/domain/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
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

describe("a ledger posting completed with its effect on PostgreSQL", () => {
  let db: TestDatabase;
  let store: PrismaStore;
  let ledger: PrismaLedgerStore;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });
  beforeEach(async () => {
    await resetDatabase(db.prisma);
    // The postings are left to the dispatcher (as a row stored pending is: by a version from
    // before postings were made in the commit, or when the commit could not post it).
    store = new PrismaStore(db.prisma, { postLedgerInCommit: false });
    ledger = new PrismaLedgerStore(db.prisma);
  });

  /** The effect's row and the ledger transaction's: status, and the transaction id that last wrote each. */
  async function rows(effectId: string, transactionId: string) {
    const [effect] = await db.prisma.$queryRawUnsafe<
      { status: string; claimed_by: string | null; xmin: string }[]
    >(
      "SELECT status::text AS status, claimed_by, xmin::text AS xmin FROM outbox_effects WHERE id = $1",
      effectId,
    );
    const [posted] = await db.prisma.$queryRawUnsafe<{ xmin: string }[]>(
      "SELECT xmin::text AS xmin FROM ledger_transactions WHERE id = $1",
      transactionId,
    );
    return { effect, posted };
  }

  it("posts and marks the effect done in one database transaction", async () => {
    const tx = initiated("tx_1");
    const effect = posting(tx);
    (await store.commit({ ...empty, outbox: [effect] }))._unsafeUnwrap();
    expect((await store.claimDue("w1", T, LEASE_MS, 10))._unsafeUnwrap()).toHaveLength(1);

    expect(
      (await ledger.postCompleting(tx, { effectId: effect.id, workerId: "w1", at: T + 5 }))._unsafeUnwrap(),
    ).toBe(true);

    const { effect: row, posted } = await rows(effect.id, tx.id);
    expect(row?.status).toBe("done");
    expect(row?.claimed_by).toBeNull();
    // The same transaction id wrote both rows: one commit.
    expect(posted?.xmin).toBe(row?.xmin);
    expect((await ledger.checkLedger())._unsafeUnwrap().agrees).toBe(true);
  });

  it("posts but leaves alone an effect another worker has claimed since", async () => {
    const tx = initiated("tx_2");
    const effect = posting(tx);
    (await store.commit({ ...empty, outbox: [effect] }))._unsafeUnwrap();
    // w1's lease ran out; w2 holds the effect now.
    (await store.claimDue("w1", T, LEASE_MS, 10))._unsafeUnwrap();
    expect((await store.claimDue("w2", T + LEASE_MS, LEASE_MS, 10))._unsafeUnwrap()).toHaveLength(1);

    // Answered false: the dispatcher then asks the outbox (which says the claim is lost).
    expect(
      (
        await ledger.postCompleting(tx, { effectId: effect.id, workerId: "w1", at: T + LEASE_MS })
      )._unsafeUnwrap(),
    ).toBe(false);

    const { effect: row, posted } = await rows(effect.id, tx.id);
    expect(posted).toBeDefined();
    expect(row).toMatchObject({ status: "pending", claimed_by: "w2" });
    // w2 posting it again is the same transaction: a no-op that completes it.
    expect(
      (
        await ledger.postCompleting(tx, { effectId: effect.id, workerId: "w2", at: T + LEASE_MS })
      )._unsafeUnwrap(),
    ).toBe(true);
    expect((await rows(effect.id, tx.id)).effect?.status).toBe("done");
    expect(await db.prisma.ledgerPosting.count({ where: { transactionId: tx.id } })).toBe(tx.postings.length);
  });

  it("a changeset's outbox effects, audit lines and completion are one statement: all written, a lost claim left alone", async () => {
    const claimed = posting(initiated("tx_tail_claimed"));
    (await store.commit({ ...empty, outbox: [claimed] }))._unsafeUnwrap();
    expect((await store.claimDue("w1", T, LEASE_MS, 10))._unsafeUnwrap()).toHaveLength(1);
    const next = posting(initiated("tx_tail_next"));
    const audit = (action: string) => ({
      at: T + 1,
      aggregate: "round" as const,
      aggregateId: "round_1",
      action,
      outcome: "applied" as const,
      actor: "scheduler",
    });
    const auditOf = async () =>
      (
        await db.prisma.$queryRawUnsafe<{ action: string }[]>(
          "SELECT action FROM audit_log WHERE aggregate_id = 'round_1' ORDER BY id",
        )
      ).map((r) => r.action);
    // Another worker's completion: the effect stays w1's; the rest is written.
    (
      await store.commit({
        ...empty,
        outbox: [next],
        audit: [audit("first"), audit("second")],
        outboxDone: { effectId: claimed.id, workerId: "w2", at: T + 1 },
      })
    )._unsafeUnwrap();
    expect((await rows(claimed.id, "none")).effect).toMatchObject({ status: "pending", claimed_by: "w1" });
    expect((await rows(next.id, "none")).effect).toMatchObject({ status: "pending", claimed_by: null });
    expect(await auditOf()).toEqual(["first", "second"]);
    // The holder's completion with an audit line (an effect already there is kept once).
    (
      await store.commit({
        ...empty,
        outbox: [next],
        audit: [audit("third")],
        outboxDone: { effectId: claimed.id, workerId: "w1", at: T + 2 },
      })
    )._unsafeUnwrap();
    expect((await rows(claimed.id, "none")).effect).toMatchObject({ status: "done", claimed_by: null });
    expect(await auditOf()).toEqual(["first", "second", "third"]);
    expect(
      await db.prisma.$queryRawUnsafe<{ n: bigint }[]>("SELECT count(*) AS n FROM outbox_effects"),
    ).toEqual([{ n: 2n }]);
  });

  it("a posting refused completes nothing", async () => {
    // The same id is already posted with other content: a conflict, refused.
    (await ledger.post(initiated("tx_3", 50_00)))._unsafeUnwrap();
    const tx = initiated("tx_3", 100_00);
    const effect = posting(tx);
    (await store.commit({ ...empty, outbox: [effect] }))._unsafeUnwrap();
    (await store.claimDue("w1", T, LEASE_MS, 10))._unsafeUnwrap();

    const refused = await ledger.postCompleting(tx, { effectId: effect.id, workerId: "w1", at: T + 5 });

    expect(refused._unsafeUnwrapErr().type).toBe("duplicate");
    expect((await rows(effect.id, tx.id)).effect).toMatchObject({ status: "pending", claimed_by: "w1" });
  });

  it("a post and its completion are one statement, with no transaction of its own", async () => {
    const tx = initiated("tx_one");
    const effect = posting(tx);
    (await store.commit({ ...empty, outbox: [effect] }))._unsafeUnwrap();
    (await store.claimDue("w1", T, LEASE_MS, 10))._unsafeUnwrap();
    const { result, sent } = await statementsSentDuring(
      db.prisma,
      async () => await ledger.postCompleting(tx, { effectId: effect.id, workerId: "w1", at: T + 5 }),
    );
    expect(result._unsafeUnwrap()).toBe(true);
    // Straight to the pool (a statement in a transaction would go through a checked-out connection).
    expect(sent).toEqual(["susu_ledger_post_once"]);
    const { effect: row, posted } = await rows(effect.id, tx.id);
    expect(row?.status).toBe("done");
    expect(posted?.xmin).toBe(row?.xmin);
  });

  it("a post that would take a balance out of the safe integer range stores none of it and completes nothing", async () => {
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
    const effect = posting(tx);
    (await store.commit({ ...empty, outbox: [effect] }))._unsafeUnwrap();
    (await store.claimDue("w1", T, LEASE_MS, 10))._unsafeUnwrap();

    const refused = await ledger.postCompleting(tx, { effectId: effect.id, workerId: "w1", at: T + 5 });

    expect(refused._unsafeUnwrapErr()).toMatchObject({ type: "duplicate" });
    expect(refused._unsafeUnwrapErr().message).toContain("balance_overflow");
    const { effect: row, posted } = await rows(effect.id, tx.id);
    expect(row).toMatchObject({ status: "pending", claimed_by: "w1" });
    expect(posted).toBeUndefined();
    expect(await db.prisma.ledgerPosting.count({ where: { transactionId: tx.id } })).toBe(0);
    expect((await ledger.checkLedger())._unsafeUnwrap().agrees).toBe(true);
  });

  it("the dispatcher posts each posting once, completed with it, and completes nothing twice", async () => {
    const clock = new ManualClock(T);
    const deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    let posts = 0;
    let completing = 0;
    const counted: LedgerStore = {
      post: (t) => {
        posts += 1;
        return ledger.post(t);
      },
      postCompleting: (t, c) => {
        completing += 1;
        return ledger.postCompleting(t, c);
      },
      balance: (account, currency) => ledger.balance(account, currency),
    };
    let completes = 0;
    const outbox: OutboxStore = {
      claimDue: (worker, now, leaseMs, limit) => store.claimDue(worker, now, leaseMs, limit),
      complete: (id, worker, at) => {
        completes += 1;
        return store.complete(id, worker, at);
      },
      fail: (id, worker, error, retryAt) => store.fail(id, worker, error, retryAt),
      release: (worker, ids) => store.release(worker, ids),
    };
    const ports: EffectPorts = {
      gateway: new FakePaymentGateway(() => clock.now()),
      notifier: new RecordingNotifier(),
      desk: new RecordingSupportDesk(),
      timers: new InMemoryTimerScheduler(),
      ledger: counted,
    };
    const transactions = [initiated("tx_a"), initiated("tx_b"), initiated("tx_c")];
    (await store.commit({ ...empty, outbox: transactions.map(posting) }))._unsafeUnwrap();

    const report = (
      await useCases.dispatchOutbox(deps, ports, outbox, { workerId: "w1", leaseMs: LEASE_MS })
    )._unsafeUnwrap();

    expect(report).toMatchObject({ claimed: 3, completed: 3, retried: 0, parked: 0 });
    expect({ posts, completing, completes }).toEqual({ posts: 0, completing: 3, completes: 0 });
    for (const tx of transactions) {
      const { effect, posted } = await rows(posting(tx).id, tx.id);
      expect(effect?.status).toBe("done");
      expect(posted?.xmin).toBe(effect?.xmin);
    }
  });
});
