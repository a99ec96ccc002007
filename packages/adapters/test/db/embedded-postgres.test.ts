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

  it("connects through a Unix socket in its data folder, keeps 127.0.0.1:<port> open, and stays on TCP when told or when the path is too long", async () => {
    const parent = await mkdtemp(join(tmpdir(), "susu-socket-"));
    folders.push(parent);
    await chmod(parent, 0o755);
    const dataDir = join(parent, "postgres");
    const peer = "SELECT client_addr::text AS addr FROM pg_stat_activity WHERE pid = pg_backend_pid()";

    const server = await startEmbeddedPostgres({ dataDir, durable: false });
    try {
      // No client address: the backend was reached through the socket, not TCP.
      expect(server.connectionString()).toContain(`host=${encodeURIComponent(dataDir)}`);
      expect(await query(server.connectionString(), peer)).toEqual([{ addr: null }]);
      const tcp = `postgresql://postgres:postgres@127.0.0.1:${server.port}/postgres`;
      expect(await query(tcp, peer)).toEqual([{ addr: "127.0.0.1/32" }]);
      // A second caller on the same folder finds the server's socket too; one that asks for TCP does not use it.
      const again = await startEmbeddedPostgres({ dataDir });
      expect(again.startedHere).toBe(false);
      expect(await query(again.connectionString(), peer)).toEqual([{ addr: null }]);
      const overTcp = await startEmbeddedPostgres({ dataDir, unixSocket: false });
      expect(overTcp.connectionString()).not.toContain("host=");
      expect(await query(overTcp.connectionString(), peer)).toEqual([{ addr: "127.0.0.1/32" }]);
    } finally {
      await server.stop();
    }

    // A data folder whose socket path would pass Linux's 107 bytes: TCP only, and it works.
    const deep = join(parent, "d".repeat(100 - parent.length), "postgres");
    const far = await startEmbeddedPostgres({ dataDir: deep, durable: false });
    try {
      expect(far.connectionString()).not.toContain("host=");
      expect(await query(far.connectionString(), peer)).toEqual([{ addr: "127.0.0.1/32" }]);
    } finally {
      await far.stop();
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
