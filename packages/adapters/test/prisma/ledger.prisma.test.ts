// The ledger on PostgreSQL: balances kept in step with the postings (and a check that
// proves it, and catches a tampered balance), the same ledger as the domain's own, and
// posts racing from two processes.
import {
  balanceOf,
  debitInitiated,
  debitSettled,
  type LedgerTransaction,
  money,
  payoutTransferred,
  roundAccounts,
} from "@susu/domain";
import { InMemoryLedgerStore } from "@susu/domain/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrismaClient, type PrismaClient, poolOf } from "../../src/db/prisma-client.js";
import { PrismaLedgerStore } from "../../src/prisma/index.js";
import { createTestDatabase, type TestDatabase } from "../support/test-database.js";

const T = Date.UTC(2026, 0, 6);
const members = ["ana", "ben", "cy"];

/** A round's money movements: every member's debit initiated and settled, then the payout to ana. */
function roundMovements(roundId: string, amountMinor: number): LedgerTransaction[] {
  const amount = money(amountMinor, "AUD");
  const perMember = members.flatMap((memberId) => [
    debitInitiated({ id: `${roundId}:${memberId}:initiated`, roundId, memberId, amount, occurredAt: T }),
    debitSettled({ id: `${roundId}:${memberId}:settled`, roundId, memberId, amount, occurredAt: T + 1 }),
  ]);
  const payout = payoutTransferred({
    id: `${roundId}:payout`,
    roundId,
    recipientMemberId: "ana",
    amount: money(amountMinor * members.length, "AUD"),
    occurredAt: T + 2,
  });
  return [...perMember, payout].map((tx) => tx._unsafeUnwrap());
}

describe("PrismaLedgerStore", () => {
  let db: TestDatabase;
  let ledger: PrismaLedgerStore;
  const memory = new InMemoryLedgerStore();

  beforeAll(async () => {
    db = await createTestDatabase();
    ledger = new PrismaLedgerStore(db.prisma);
    for (const tx of [...roundMovements("r1", 100_00), ...roundMovements("r2", 55_55)]) {
      (await ledger.post(tx))._unsafeUnwrap();
      (await memory.post(tx))._unsafeUnwrap();
    }
  });
  afterAll(async () => {
    await db.drop();
  });

  it("holds the same ledger as the domain's: balances, and every transaction as posted", async () => {
    const loaded = (await ledger.loadLedger())._unsafeUnwrap();
    const expected = memory.snapshot();
    expect(loaded.transactions).toHaveLength(expected.transactions.length);
    for (const tx of expected.transactions)
      expect(loaded.transactions[loaded.positionById.get(tx.id) ?? -1]).toEqual(tx);
    expect(loaded.balancesMinor).toEqual(expected.balancesMinor);
    expect((await ledger.balance(roundAccounts.pot("r1"), "AUD"))._unsafeUnwrap()).toEqual(
      balanceOf(expected, roundAccounts.pot("r1"), "AUD"),
    );
    // The round paid out: its pot and in-flight accounts are back to zero.
    expect((await ledger.balance(roundAccounts.pot("r1"), "AUD"))._unsafeUnwrap()).toEqual(money(0, "AUD"));
    expect((await ledger.balance(roundAccounts.inFlight("r2"), "AUD"))._unsafeUnwrap()).toEqual(
      money(0, "AUD"),
    );
  });

  it("a check proves the stored balances agree with the postings", async () => {
    const report = (await ledger.checkLedger())._unsafeUnwrap();
    const expected = memory.snapshot();
    expect(report).toEqual({
      agrees: true,
      // One row per account and currency.
      accountsChecked: [...expected.balancesMinor.values()].reduce((n, byCurrency) => n + byCurrency.size, 0),
      transactionsChecked: expected.transactions.length,
      mismatches: [],
      unbalanced: [],
    });
  });

  it("the check catches a balance changed behind the ledger's back", async () => {
    const pot = roundAccounts.pot("r2");
    await db.prisma
      .$executeRaw`UPDATE ledger_accounts SET balance_minor = balance_minor + 1 WHERE id = ${pot}`;
    try {
      const report = (await ledger.checkLedger())._unsafeUnwrap();
      expect(report.agrees).toBe(false);
      expect(report.mismatches).toEqual([
        { account: pot, currency: "AUD", storedMinor: 1n, postedMinor: 0n },
      ]);
      expect((await ledger.loadLedger())._unsafeUnwrapErr()).toMatchObject({ type: "storage_refused" });
    } finally {
      await db.prisma
        .$executeRaw`UPDATE ledger_accounts SET balance_minor = balance_minor - 1 WHERE id = ${pot}`;
    }
    expect((await ledger.checkLedger())._unsafeUnwrap().agrees).toBe(true);
  });

  describe("a pool with no free connection", () => {
    const WAIT_MS = 400;
    let one: PrismaClient;
    beforeAll(() => {
      one = createPrismaClient(db.connectionString, { maxConnections: 1 });
    });
    afterAll(async () => {
      await one.$disconnect();
    });

    it("a post waits at most its limit for a connection, then fails storage_unavailable and stores nothing", async () => {
      const pool = poolOf(one);
      if (pool === undefined) throw new Error("the client has no pool");
      const store = new PrismaLedgerStore(one, { connectionMaxWaitMs: WAIT_MS });
      const tx = debitSettled({
        id: "starved:1",
        roundId: "r4",
        memberId: "ana",
        amount: money(7_00, "AUD"),
        occurredAt: T,
      })._unsafeUnwrap();
      // The pool's only connection, held elsewhere for the whole attempt.
      const held = await pool.connect();
      const started = performance.now();
      let outcome: Awaited<ReturnType<PrismaLedgerStore["post"]>> | "still waiting";
      try {
        const gaveUp = new Promise<"still waiting">((resolve) =>
          setTimeout(() => resolve("still waiting"), WAIT_MS + 4_000),
        );
        outcome = await Promise.race([store.post(tx), gaveUp]);
      } finally {
        held.release();
      }
      const waited = performance.now() - started;
      if (outcome === "still waiting")
        throw new Error(`the post was still waiting after ${Math.round(waited)} ms`);
      expect(outcome._unsafeUnwrapErr()).toMatchObject({
        type: "storage_unavailable",
        message: expect.stringContaining("ledger post"),
      });
      expect(waited).toBeGreaterThanOrEqual(WAIT_MS - 5);
      expect(waited).toBeLessThan(WAIT_MS + 2_000);
      expect(await db.prisma.ledgerTransaction.count({ where: { id: "starved:1" } })).toBe(0);
      expect(await db.prisma.ledgerAccount.count({ where: { id: { startsWith: "round:r4:" } } })).toBe(0);
      // The connection it no longer waited for went back to the pool: the same post now succeeds.
      (await store.post(tx))._unsafeUnwrap();
      expect((await store.balance(roundAccounts.pot("r4"), "AUD"))._unsafeUnwrap()).toEqual(
        money(7_00, "AUD"),
      );
    });
  });

  describe("posts racing from two processes", () => {
    let other: PrismaClient;
    beforeAll(() => {
      other = createPrismaClient(db.connectionString, { maxConnections: 4 });
    });
    afterAll(async () => {
      await other.$disconnect();
    });

    it("many transactions on the same accounts: every one counted once, the balances exact", async () => {
      const stores = [ledger, new PrismaLedgerStore(other)];
      const txs = Array.from({ length: 24 }, (_, i) =>
        debitSettled({
          id: `race:${i}`,
          roundId: "r3",
          memberId: members[i % members.length] ?? "ana",
          amount: money(100 + i, "AUD"),
          occurredAt: T,
        })._unsafeUnwrap(),
      );
      // Every transaction is posted by both processes at once: one inserts, the other
      // waits for it and then finds the same content (a no-op).
      const results = await Promise.all(txs.flatMap((tx) => stores.map((store) => store.post(tx))));
      expect(results.filter((r) => r.isErr())).toEqual([]);
      const total = txs.reduce((sum, tx) => sum + (tx.postings[0]?.amount.amountMinor ?? 0), 0);
      expect((await ledger.balance(roundAccounts.pot("r3"), "AUD"))._unsafeUnwrap()).toEqual(
        money(total, "AUD"),
      );
      expect((await ledger.balance(roundAccounts.inFlight("r3"), "AUD"))._unsafeUnwrap()).toEqual(
        money(-total, "AUD"),
      );
      expect(await db.prisma.ledgerTransaction.count({ where: { id: { startsWith: "race:" } } })).toBe(24);
      expect((await ledger.checkLedger())._unsafeUnwrap().agrees).toBe(true);
    });
  });
});
