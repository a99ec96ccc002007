import pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { sqlStateOf, susuSqlStates } from "../../src/db/sql-state.js";
import { Prisma } from "../../src/prisma/generated/client.js";
import { useTestDatabase } from "../support/test-database.js";
import { at, seedRound } from "./fixtures.js";

/** The Prisma error code of a rejected operation (P2002 unique, P2003 foreign key, …). */
async function prismaCode(operation: Promise<unknown>): Promise<string> {
  const error = await operation.then(
    () => expect.fail("the database accepted an impossible state"),
    (rejection: unknown) => rejection,
  );
  expect(error).toBeInstanceOf(Prisma.PrismaClientKnownRequestError);
  return (error as Prisma.PrismaClientKnownRequestError).code;
}

/** The SQLSTATE of a rejected statement, run through node-postgres to see the server's own code. */
async function sqlState(connectionString: string, ...statements: string[]): Promise<string> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query("BEGIN");
    for (const statement of statements) await client.query(statement);
    await client.query("COMMIT");
    return expect.fail("the database accepted an impossible state");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    return (error as { code: string }).code;
  } finally {
    await client.end();
  }
}

/** The SQLSTATE and constraint name of a rejected statement (node-postgres reports both). */
async function violation(connectionString: string, statement: string): Promise<[string, string]> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query(statement);
    return expect.fail("the database accepted an impossible state");
  } catch (error) {
    const { code, constraint } = error as { code: string; constraint?: string };
    return [code, constraint ?? ""];
  } finally {
    await client.end();
  }
}

describe("database constraints refuse impossible states", () => {
  const db = useTestDatabase();
  let seed: Awaited<ReturnType<typeof seedRound>>;

  beforeAll(async () => {
    seed = await seedRound(db.prisma, "c");
  });

  it("a Stripe event is stored once: a duplicate delivery is a unique violation", async () => {
    const event = {
      id: "evt_dup_1",
      type: "payment_intent.succeeded",
      livemode: false,
      stripeCreatedAt: at,
      payload: { id: "evt_dup_1" },
      nextAttemptAt: at,
      receivedAt: at,
    };
    await db.prisma.webhookEvent.create({ data: event });
    expect(await prismaCode(db.prisma.webhookEvent.create({ data: event }))).toBe("P2002");
  });

  it("a member is a person: a membership of someone who is no person is refused", async () => {
    const stranger = db.prisma.member.create({
      data: {
        groupId: seed.groupId,
        id: "c_nobody",
        displayName: "Nobody",
        role: "member",
        status: "active",
        joinedAt: at,
      },
    });
    expect(await prismaCode(stranger)).toBe("P2003");
  });

  it("a person's readiness needs the object it is about; a debit is a payment method with its mandate", async () => {
    const person = (id: string, columns: string, values: string) =>
      `INSERT INTO people (id, display_name, created_at, updated_at${columns})
       VALUES ('${id}', 'X', now(), now()${values})`;
    const cases: [string, string][] = [
      [person("p_active", ", mandate_active", ", true"), "people_mandate_active_check"],
      [person("p_payouts", ", payouts_enabled", ", true"), "people_payouts_enabled_check"],
      [person("p_half", ", mandate_id", ", 'mandate_half'"), "people_debit_check"],
      [person("p_version", ", version", ", -1"), "people_version_check"],
    ];
    for (const [statement, constraint] of cases)
      expect(await violation(db.connectionString, statement)).toEqual(["23514", constraint]);
  });

  it("a Stripe object belongs to one person", async () => {
    for (const column of ["stripe_customer_id", "mandate_id", "connected_account_id"]) {
      const extra = column === "mandate_id" ? ", becs_payment_method_id" : "";
      const extraValue = column === "mandate_id" ? ", 'pm_x'" : "";
      const insert = (id: string) =>
        `INSERT INTO people (id, display_name, created_at, updated_at, ${column}${extra})
         VALUES ('${id}', 'X', now(), now(), 'shared_${column}'${extraValue})`;
      const client = new pg.Client({ connectionString: db.connectionString });
      await client.connect();
      await client.query(insert(`first_${column}`));
      await client.end();
      expect(await violation(db.connectionString, insert(`second_${column}`))).toEqual([
        "23505",
        `people_${column}_key`,
      ]);
    }
  });

  it("one debit per round, member and attempt number", async () => {
    const attempt = (effectId: string) => ({
      roundId: seed.roundId,
      memberId: seed.bob,
      attempt: 1,
      effectId,
      currency: "AUD",
      amountMinor: 10_000n,
      status: "processing" as const,
      requestedAt: at,
    });
    await db.prisma.contributionAttempt.create({ data: attempt("eff_1") });
    expect(await prismaCode(db.prisma.contributionAttempt.create({ data: attempt("eff_2") }))).toBe("P2002");
  });

  it("a posting must reference an existing ledger transaction", async () => {
    await db.prisma.ledgerAccount.create({
      data: { id: "acct_orphan", currency: "AUD", createdAt: at, updatedAt: at },
    });
    const orphan = db.prisma.ledgerPosting.create({
      data: {
        transactionId: "no_such_transaction",
        position: 0,
        accountId: "acct_orphan",
        direction: "debit",
        currency: "AUD",
        amountMinor: 1n,
      },
    });
    expect(await prismaCode(orphan)).toBe("P2003");
  });

  describe("the ledger", () => {
    beforeAll(async () => {
      await db.prisma.ledgerAccount.createMany({
        data: ["pot", "bank"].map((name) => ({
          id: `acct_${name}`,
          currency: "AUD",
          createdAt: at,
          updatedAt: at,
        })),
      });
    });

    const transaction = (id: string, debitMinor: bigint, creditMinor: bigint) =>
      db.prisma.ledgerTransaction.create({
        data: {
          id,
          kind: "debit_settled",
          occurredAt: at,
          refs: { roundId: seed.roundId },
          roundId: seed.roundId,
          createdAt: at,
          postings: {
            create: [
              {
                position: 0,
                accountId: "acct_bank",
                currency: "AUD",
                direction: "debit",
                amountMinor: debitMinor,
              },
              {
                position: 1,
                accountId: "acct_pot",
                currency: "AUD",
                direction: "credit",
                amountMinor: creditMinor,
              },
            ],
          },
        },
      });

    it("stores a balanced transaction and refuses an unbalanced one at commit", async () => {
      await transaction("ltx_ok", 10_000n, 10_000n);
      const refused = await transaction("ltx_unbalanced", 10_000n, 9_999n).catch((error: unknown) => error);
      expect(sqlStateOf(refused)).toBe(susuSqlStates.ledgerUnbalanced);
      expect(await db.prisma.ledgerTransaction.findUnique({ where: { id: "ltx_unbalanced" } })).toBeNull();
    });

    it("refuses a transaction with fewer than two postings", async () => {
      const state = await sqlState(
        db.connectionString,
        `INSERT INTO ledger_transactions (id, kind, occurred_at, refs, created_at)
         VALUES ('ltx_lonely', 'debit_settled', now(), '{}', now())`,
      );
      expect(state).toBe(susuSqlStates.ledgerUnbalanced);
    });

    it("is append-only: postings and transactions cannot be updated or deleted", async () => {
      const refused = await db.prisma.ledgerPosting
        .updateMany({ data: { amountMinor: 1n } })
        .catch((error: unknown) => error);
      expect(sqlStateOf(refused)).toBe(susuSqlStates.appendOnlyViolation);
      for (const statement of ["DELETE FROM ledger_transactions", "TRUNCATE ledger_postings CASCADE"]) {
        expect(await sqlState(db.connectionString, statement)).toBe(susuSqlStates.appendOnlyViolation);
      }
    });

    it("a posting cannot be in another currency than its account", async () => {
      const state = await sqlState(
        db.connectionString,
        `INSERT INTO ledger_transactions (id, kind, occurred_at, refs, created_at)
         VALUES ('ltx_fx', 'debit_settled', now(), '{}', now())`,
        `INSERT INTO ledger_postings (transaction_id, position, account_id, direction, currency, amount_minor)
         VALUES ('ltx_fx', 0, 'acct_pot', 'debit', 'NZD', 5), ('ltx_fx', 1, 'acct_bank', 'credit', 'NZD', 5)`,
      );
      expect(state).toBe("23503");
    });

    const insertTransaction = (id: string) =>
      `INSERT INTO ledger_transactions (id, kind, occurred_at, refs, created_at)
       VALUES ('${id}', 'debit_settled', now(), '{}', now())`;
    const insertPosting = (
      id: string,
      position: number,
      direction: "debit" | "credit",
      amountMinor: number,
    ) =>
      `INSERT INTO ledger_postings (transaction_id, position, account_id, direction, currency, amount_minor)
       VALUES ('${id}', ${position}, '${direction === "debit" ? "acct_bank" : "acct_pot"}', '${direction}', 'AUD', ${amountMinor})`;

    it("is checked at commit: postings written one statement at a time balance by the end", async () => {
      const client = new pg.Client({ connectionString: db.connectionString });
      await client.connect();
      try {
        await client.query("BEGIN");
        await client.query(insertTransaction("ltx_stepwise"));
        await client.query(insertPosting("ltx_stepwise", 0, "debit", 300));
        await client.query(insertPosting("ltx_stepwise", 1, "credit", 100));
        await client.query(insertPosting("ltx_stepwise", 2, "credit", 200));
        await client.query("COMMIT");
      } finally {
        await client.end();
      }
      expect(await db.prisma.ledgerPosting.count({ where: { transactionId: "ltx_stepwise" } })).toBe(3);
      const unbalanced = await sqlState(
        db.connectionString,
        insertTransaction("ltx_stepwise_short"),
        insertPosting("ltx_stepwise_short", 0, "debit", 300),
        insertPosting("ltx_stepwise_short", 1, "credit", 100),
      );
      expect(unbalanced).toBe(susuSqlStates.ledgerUnbalanced);
    });

    it("a stored transaction cannot be unbalanced by postings added to it later", async () => {
      await transaction("ltx_stored", 500n, 500n);
      // One posting more, alone or with others that do not balance it: refused.
      expect(await sqlState(db.connectionString, insertPosting("ltx_stored", 2, "debit", 1))).toBe(
        susuSqlStates.ledgerUnbalanced,
      );
      expect(
        await sqlState(
          db.connectionString,
          `INSERT INTO ledger_postings (transaction_id, position, account_id, direction, currency, amount_minor)
           VALUES ('ltx_stored', 2, 'acct_bank', 'debit', 'AUD', 7), ('ltx_stored', 3, 'acct_pot', 'credit', 'AUD', 6)`,
        ),
      ).toBe(susuSqlStates.ledgerUnbalanced);
      expect(await db.prisma.ledgerPosting.count({ where: { transactionId: "ltx_stored" } })).toBe(2);
    });
  });

  it("a member reaches the payout once per rotation; a cancelled round paid nobody", async () => {
    const round = (id: string, sequence: number, state: "paying_out" | "paid_out") => ({
      id,
      groupId: seed.groupId,
      sequence,
      rotation: 1,
      recipientMemberId: seed.alice,
      state,
      currency: "AUD",
      contributionAmountMinor: 10_000n,
      scheduledFor: at,
      transferGroup: `${id}_tg`,
      snapshot: { id, version: 0 },
      createdAt: at,
      updatedAt: at,
    });
    await db.prisma.round.update({ where: { id: seed.roundId }, data: { state: "cancelled" } });
    await expect(db.prisma.round.create({ data: round("rnd_rerun", 1, "paid_out") })).resolves.toMatchObject({
      id: "rnd_rerun",
    });
    expect(await prismaCode(db.prisma.round.create({ data: round("rnd_twice", 2, "paying_out") }))).toBe(
      "P2002",
    );
  });

  it("a round's snapshot is the aggregate its row describes (same id, same version)", async () => {
    const refused = await db.prisma.round
      .update({ where: { id: "rnd_rerun" }, data: { version: 1 } })
      .catch((error: unknown) => error);
    expect(sqlStateOf(refused)).toBe("23514");
  });

  it("amounts are positive and currencies are ISO codes", async () => {
    const contribution = (memberId: string, currency: string, amountMinor: bigint) =>
      db.prisma.contribution.create({
        data: {
          roundId: "rnd_rerun",
          groupId: seed.groupId,
          memberId,
          currency,
          amountMinor,
          status: "awaiting_debit",
          attemptsCount: 0,
        },
      });
    for (const refused of [contribution(seed.bob, "AUD", 0n), contribution(seed.alice, "aud", 1n)]) {
      expect(sqlStateOf(await refused.catch((error: unknown) => error))).toBe("23514");
    }
  });
});
