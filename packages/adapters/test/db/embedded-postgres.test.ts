import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { startEmbeddedPostgres } from "../../src/db/embedded-postgres.js";

async function query<T extends pg.QueryResultRow>(connectionString: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

describe("startEmbeddedPostgres", () => {
  const folders: string[] = [];
  afterAll(async () => {
    await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true })));
  });

  it("initialises a fresh data folder, keeps data across restarts, and reuses a running server", async () => {
    const parent = await mkdtemp(join(tmpdir(), "susu-embedded-"));
    folders.push(parent);
    // mkdtemp makes a private folder; as root, the server's "postgres" user must reach inside.
    await chmod(parent, 0o755);
    const dataDir = join(parent, "postgres");

    const server = await startEmbeddedPostgres({ dataDir, durable: false });
    try {
      expect(server.startedHere).toBe(true);
      const [row] = await query<{ version: string }>(
        server.connectionString(),
        "SELECT current_setting('server_version') AS version",
      );
      expect(row?.version).toMatch(/^17\./);
      await server.ensureDatabase("kept");
      await server.ensureDatabase("kept");

      const again = await startEmbeddedPostgres({ dataDir });
      expect(again).toMatchObject({ startedHere: false, port: server.port });
      await again.stop();
      expect(await query(server.connectionString("kept"), "SELECT 1 AS one")).toEqual([{ one: 1 }]);
    } finally {
      await server.stop();
    }

    const restarted = await startEmbeddedPostgres({ dataDir, durable: false });
    try {
      expect(restarted.startedHere).toBe(true);
      expect(await query(restarted.connectionString("kept"), "SELECT current_database() AS name")).toEqual([
        { name: "kept" },
      ]);
    } finally {
      await restarted.stop();
    }
  });

  it("refuses a folder that holds something other than PostgreSQL data", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "susu-not-pg-"));
    folders.push(dataDir);
    await writeFile(join(dataDir, "notes.txt"), "mine");
    await expect(startEmbeddedPostgres({ dataDir })).rejects.toThrow(
      /neither empty nor a PostgreSQL data folder/,
    );
  });
});
