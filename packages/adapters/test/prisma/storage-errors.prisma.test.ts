// Real PostgreSQL errors, as Prisma reports them, sorted by code into StorageErrors.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withDatabase } from "../../src/db/connection-string.js";
import { createPrismaClient } from "../../src/db/prisma-client.js";
import { Prisma } from "../../src/prisma/generated/client.js";
import { PrismaStore } from "../../src/prisma/index.js";
import { classifyDatabaseError, storageErrorOf } from "../../src/prisma/storage-errors.js";
import { createTestDatabase, type TestDatabase } from "../support/test-database.js";

const at = new Date("2026-01-06T00:00:00.000Z");

async function failureOf(operation: Promise<unknown>): Promise<unknown> {
  return operation.then(
    () => expect.fail("the database accepted it"),
    (error: unknown) => error,
  );
}

describe("database errors map by code", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    await db.prisma.ledgerAccount.create({
      data: { id: "a", currency: "AUD", createdAt: at, updatedAt: at },
    });
  });
  afterAll(async () => {
    await db.drop();
  });

  it("a unique violation, from the typed client (P2002) or raw SQL (P2010 with 23505), names its constraint", async () => {
    const typed = await failureOf(
      db.prisma.ledgerAccount.create({ data: { id: "a", currency: "AUD", createdAt: at, updatedAt: at } }),
    );
    const raw = await failureOf(
      db.prisma
        .$executeRaw`INSERT INTO ledger_accounts (id, currency, created_at, updated_at) VALUES ('a', 'AUD', now(), now())`,
    );
    for (const error of [typed, raw])
      expect(classifyDatabaseError(error)).toEqual({
        kind: "unique_violation",
        constraint: "ledger_accounts_pkey",
      });
    expect(storageErrorOf(typed, { operation: "test" })).toMatchObject({ type: "duplicate" });
  });

  it("foreign keys, CHECKs and the append-only rule are refusals", async () => {
    const foreignKey = await failureOf(
      db.prisma
        .$executeRaw`INSERT INTO ledger_postings (transaction_id, position, account_id, direction, currency, amount_minor)
                            VALUES ('missing', 0, 'a', 'debit', 'AUD', 1)`,
    );
    const check = await failureOf(
      db.prisma
        .$executeRaw`INSERT INTO ledger_accounts (id, currency, created_at, updated_at) VALUES ('b', 'aud', now(), now())`,
    );
    // TRUNCATE: the statement-level trigger fires even on an empty table (a DELETE of no rows would not).
    const appendOnly = await failureOf(db.prisma.$executeRaw`TRUNCATE audit_log`);
    expect([foreignKey, check, appendOnly].map(classifyDatabaseError)).toEqual([
      { kind: "refused", code: "23503" },
      { kind: "refused", code: "23514" },
      { kind: "refused", code: "SU001" },
    ]);
    expect(storageErrorOf(check, { operation: "test" })).toMatchObject({ type: "storage_refused" });
  });

  it("a limit the data exceeds (class 54: an index entry too large, json nested too deep) is a refusal, not an outage", async () => {
    // Random hex does not compress: the primary key's index entry exceeds its 2,704 bytes.
    const tooLong = await failureOf(
      db.prisma.$executeRawUnsafe(
        "INSERT INTO ledger_accounts (id, currency, created_at, updated_at) VALUES ($1, 'AUD', now(), now())",
        randomBytes(4000).toString("hex"),
      ),
    );
    const tooDeep = await failureOf(db.prisma.$queryRawUnsafe("SELECT $1::jsonb", "[".repeat(100_000)));
    expect([tooLong, tooDeep].map(classifyDatabaseError)).toEqual([
      { kind: "refused", code: "54000" },
      { kind: "refused", code: "54001" },
    ]);
    expect(storageErrorOf(tooDeep, { operation: "test" })).toMatchObject({ type: "storage_refused" });
  });

  it("a serialization failure is a write conflict: version_conflict for the aggregate being written", async () => {
    // Write skew under SERIALIZABLE: both transactions read the same rows, then each
    // inserts what the other's read would have seen. One of them must fail.
    let arrived = 0;
    let release: () => void = () => undefined;
    const bothRead = new Promise<void>((resolve) => {
      release = resolve;
    });
    const skew = (id: string) =>
      db.prisma.$transaction(
        async (tx) => {
          await tx.$queryRaw`SELECT count(*) FROM ledger_accounts WHERE currency = 'NZD'`;
          arrived += 1;
          if (arrived === 2) release();
          await bothRead;
          await tx.$executeRaw`INSERT INTO ledger_accounts (id, currency, created_at, updated_at) VALUES (${id}, 'NZD', now(), now())`;
        },
        { isolationLevel: Prisma.TransactionIsolationLevel.Serializable },
      );
    const results = await Promise.allSettled([skew("x"), skew("y")]);
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(failures).toHaveLength(1);
    const failure = failures[0]?.reason;
    expect(classifyDatabaseError(failure)).toEqual({ kind: "write_conflict" });
    expect(
      storageErrorOf(failure, { operation: "commit", aggregate: { type: "round", id: "r1" } }),
    ).toMatchObject({
      type: "version_conflict",
      aggregate: "round",
      id: "r1",
    });
    expect(storageErrorOf(failure, { operation: "claimDue" })).toMatchObject({ type: "storage_unavailable" });
  });

  it("node-postgres's failures without a SQLSTATE name what happened: a refused connection, one that ended", async () => {
    // Nothing listens on port 1: refused at once (a Node system error, ECONNREFUSED).
    const nowhere = new pg.Client({ connectionString: "postgresql://susu@127.0.0.1:1/postgres" });
    const refusedError = await failureOf(nowhere.connect());
    expect(classifyDatabaseError(refusedError)).toEqual({ kind: "unavailable", code: "ECONNREFUSED" });
    expect(storageErrorOf(refusedError, { operation: "getGroup" })).toMatchObject({
      type: "storage_unavailable",
      message: "getGroup: database error (ECONNREFUSED)",
    });

    // The same through a name of several addresses (::1 and 127.0.0.1 where both resolve: one
    // AggregateError; where one does, a plain system error): the same code either way.
    const nowhereByName = new pg.Client({ connectionString: "postgresql://susu@localhost:1/postgres" });
    expect(classifyDatabaseError(await failureOf(nowhereByName.connect()))).toEqual({
      kind: "unavailable",
      code: "ECONNREFUSED",
    });

    // As Node 20 fails a connection to both of a name's addresses (its autoSelectFamily):
    // an AggregateError with the code and no syscall of its own. Built here, since this
    // machine's localhost has one address.
    const both = Object.assign(
      new AggregateError(
        ["::1", "127.0.0.1"].map((address) =>
          Object.assign(new Error(`connect ECONNREFUSED ${address}:1`), {
            code: "ECONNREFUSED",
            syscall: "connect",
            address,
          }),
        ),
        "",
      ),
      { code: "ECONNREFUSED" },
    );
    expect(classifyDatabaseError(both)).toEqual({ kind: "unavailable", code: "ECONNREFUSED" });

    // A connection whose socket closed under it, no message from the server.
    const client = new pg.Client({ connectionString: db.connectionString });
    client.on("error", () => undefined);
    await client.connect();
    const ended = new Promise((resolve) => client.once("end", resolve));
    (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    await ended;
    const endedError = await failureOf(client.query("SELECT 1"));
    expect(classifyDatabaseError(endedError)).toEqual({ kind: "unavailable", code: "connection_ended" });
    expect(storageErrorOf(endedError, { operation: "getHeldPayment" }).message).toBe(
      "getHeldPayment: database error (connection_ended)",
    );
  });

  it("a database that cannot be reached is storage_unavailable, not an exception", async () => {
    // Port 1 on localhost: nothing listens, the connection is refused at once.
    const unreachable = createPrismaClient(withDatabase("postgresql://susu@127.0.0.1:1/postgres", "nowhere"));
    try {
      const store = new PrismaStore(unreachable);
      const loaded = await store.getGroup("grp_1");
      expect(loaded._unsafeUnwrapErr()).toMatchObject({ type: "storage_unavailable" });
      const committed = await store.commit({ people: [], groups: [], rounds: [], outbox: [], audit: [] });
      expect(committed._unsafeUnwrapErr()).toMatchObject({ type: "storage_unavailable" });
    } finally {
      await unreachable.$disconnect();
    }
  });
});
