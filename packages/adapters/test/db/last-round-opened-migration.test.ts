// The migration that gives groups stored before it their last round's opening (the domain's
// Group.lastRoundOpenedAt) and moves their next_round_at to no sooner than a cadence after it.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { databasePaths } from "../../src/db/paths.js";
import { useTestDatabase } from "../support/test-database.js";
import { seedRound } from "./fixtures.js";

const MIGRATION = "20261206120100_groups_last_round_opened";

describe(`migration ${MIGRATION}`, () => {
  const db = useTestDatabase();
  let late: string;
  let onTime: string;
  let none: string;

  beforeAll(async () => {
    late = (await seedRound(db.prisma, "lro")).groupId;
    onTime = (await seedRound(db.prisma, "lrt")).groupId;
    none = (await seedRound(db.prisma, "lrn")).groupId;
    const client = new pg.Client({ connectionString: db.connectionString });
    await client.connect();
    try {
      // Monthly groups due on the 5th of February; `late`'s round opened on 31 January, so a
      // month after it is 28 February (less the hour); `onTime`'s opened on 5 January.
      await client.query(`UPDATE groups SET next_round_at = '2026-02-05T00:00:00Z' WHERE id = ANY($1)`, [
        [late, onTime, none],
      ]);
      await client.query(`UPDATE rounds SET opened_at = '2026-01-31T10:00:00Z' WHERE group_id = $1`, [late]);
      await client.query(`UPDATE rounds SET opened_at = '2026-01-05T00:00:00Z' WHERE group_id = $1`, [
        onTime,
      ]);
      const sql = await readFile(join(databasePaths.migrationsDir, MIGRATION, "migration.sql"), "utf8");
      await client.query(sql);
    } finally {
      await client.end();
    }
  });

  it("records the last opening and moves next_round_at to a month after it, less an hour", async () => {
    const rows = await db.prisma.group.findMany({
      where: { id: { in: [late, onTime, none] } },
      select: { id: true, nextRoundAt: true, snapshot: true },
    });
    const byId = Object.fromEntries(rows.map((r) => [r.id, r]));
    const lastOpened = (id: string) =>
      (byId[id]?.snapshot as { lastRoundOpenedAt?: number } | undefined)?.lastRoundOpenedAt;
    expect(byId[late]?.nextRoundAt.toISOString()).toBe("2026-02-28T09:00:00.000Z");
    expect(lastOpened(late)).toBe(Date.parse("2026-01-31T10:00:00Z"));
    expect(byId[onTime]?.nextRoundAt.toISOString()).toBe("2026-02-05T00:00:00.000Z");
    expect(lastOpened(onTime)).toBe(Date.parse("2026-01-05T00:00:00Z"));
    expect(byId[none]?.snapshot).not.toHaveProperty("lastRoundOpenedAt");
  });
});
