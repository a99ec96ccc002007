// The migration that adds `people.customer_requested_at`, run on rows as the code before it
// left them: a person whose customer is not recorded may have had a request sent whose answer
// was lost, so their next request must look for that customer (from their creation on); a
// person with a customer needs nothing.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { databasePaths } from "../../src/db/paths.js";
import { useTestDatabase } from "../support/test-database.js";

const MIGRATION = "20261210090000_person_customer_requested_at";
const CREATED = new Date(Date.UTC(2026, 4, 1));

describe(`migration ${MIGRATION}`, () => {
  const db = useTestDatabase();

  beforeAll(async () => {
    const client = new pg.Client({ connectionString: db.connectionString });
    await client.connect();
    try {
      // What the old code stored: no request time, with or without a customer.
      for (const [id, customer] of [
        ["crm_without", null],
        ["crm_with", "cus_crm_with"],
      ] as const)
        await client.query(
          `INSERT INTO people (id, display_name, stripe_customer_id, version, created_at, updated_at)
           VALUES ($1, $1, $2, 0, $3, $3)`,
          [id, customer, CREATED],
        );
      const sql = await readFile(join(databasePaths.migrationsDir, MIGRATION, "migration.sql"), "utf8");
      await client.query(sql);
    } finally {
      await client.end();
    }
  });

  it("dates a customer request at the person's creation only where no customer is recorded", async () => {
    const rows = await db.prisma.person.findMany({
      where: { id: { in: ["crm_without", "crm_with"] } },
      select: { id: true, customerRequestedAt: true },
    });
    expect(Object.fromEntries(rows.map((r) => [r.id, r.customerRequestedAt]))).toEqual({
      crm_without: CREATED,
      crm_with: null,
    });
  });
});
