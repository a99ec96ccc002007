// The container's PostgreSQL pool, on real PostgreSQL: every connection plans named statements
// as SUSU_DB_PLAN_CACHE_MODE says (generic plans unless told otherwise).
import { openConnections } from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import PgBoss from "pg-boss";
import { describe, expect, it } from "vitest";
import { createContainer, TOKENS } from "../src/container.js";
import { readSchedulerEnv } from "../src/env.js";
import { createLogger } from "../src/logger.js";

const db = useTestDatabase();

/** The plan_cache_mode of every connection the container's pool keeps open. */
async function modesOf(env: Record<string, string>) {
  const settings = readSchedulerEnv({ STRIPE_SECRET_KEY: "sk_test_x", SUSU_DB_POOL_MIN: "3", ...env });
  const boss = new PgBoss({ connectionString: db.connectionString, supervise: false });
  const container = createContainer(
    { ...settings, DATABASE_URL: db.connectionString },
    boss,
    createLogger("silent", "container-test"),
  );
  const prisma = container.get(TOKENS.prisma);
  try {
    expect(await openConnections(prisma)).toBe(3);
    // As many at once as the pool keeps, each held a moment: one on each connection.
    const rows = await Promise.all(
      [1, 2, 3].map(() =>
        prisma.$queryRawUnsafe<{ pid: number; mode: string }[]>(
          "SELECT pg_backend_pid() AS pid, current_setting('plan_cache_mode') AS mode, pg_sleep(0.1)::text",
        ),
      ),
    );
    return {
      connections: new Set(rows.map((r) => r[0]?.pid)).size,
      modes: [...new Set(rows.map((r) => r[0]?.mode))],
    };
  } finally {
    await prisma.$disconnect();
  }
}

describe("the scheduler's container", () => {
  it("opens its pool with generic plans by default, and with the mode SUSU_DB_PLAN_CACHE_MODE names", async () => {
    expect(await modesOf({})).toEqual({ connections: 3, modes: ["force_generic_plan"] });
    expect(await modesOf({ SUSU_DB_PLAN_CACHE_MODE: "auto" })).toEqual({ connections: 3, modes: ["auto"] });
  });
});
