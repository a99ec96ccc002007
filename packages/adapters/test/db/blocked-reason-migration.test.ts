// The migration that clears `rounds.blocked_reason` on rounds that are not blocked, run on
// rows as the code before `cancellationReason` left them.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { databasePaths } from "../../src/db/paths.js";
import { useTestDatabase } from "../support/test-database.js";
import { seedRound } from "./fixtures.js";

const MIGRATION = "20261202083500_round_blocked_reason_only_when_blocked";

describe(`migration ${MIGRATION}`, () => {
  const db = useTestDatabase();
  let cancelled: string;
  let blocked: string;

  beforeAll(async () => {
    cancelled = (await seedRound(db.prisma, "bro")).roundId;
    blocked = (await seedRound(db.prisma, "brb")).roundId;
    const client = new pg.Client({ connectionString: db.connectionString });
    await client.connect();
    try {
      // What the old code stored: the cancellation's reason in blocked_reason.
      await client.query(
        `UPDATE rounds SET state = 'cancelled', blocked_reason = 'deadline passed', snapshot = snapshot || '{"status":"cancelled"}' WHERE id = $1`,
        [cancelled],
      );
      await client.query(
        `UPDATE rounds SET state = 'payout_blocked', blocked_reason = 'recipient cannot receive', snapshot = snapshot || '{"status":"payout_blocked"}' WHERE id = $1`,
        [blocked],
      );
      const sql = await readFile(join(databasePaths.migrationsDir, MIGRATION, "migration.sql"), "utf8");
      await client.query(sql);
    } finally {
      await client.end();
    }
  });

  it("clears the reason on a round that is not blocked and keeps it on a blocked one", async () => {
    const rows = await db.prisma.round.findMany({
      where: { id: { in: [cancelled, blocked] } },
      select: { id: true, blockedReason: true },
    });
    expect(Object.fromEntries(rows.map((r) => [r.id, r.blockedReason]))).toEqual({
      [cancelled]: null,
      [blocked]: "recipient cannot receive",
    });
  });
});
