import { randomBytes } from "node:crypto";
import pg from "pg";

/** A database name no other run or test file uses: prefix, time, randomness. */
export function uniqueDatabaseName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
}

async function onServer<T>(serverUrl: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

const objectInUse = "55006";

/**
 * Creates `name`, empty (from template0, so nothing a server's template1 holds leaks in)
 * or as a copy of `template`. PostgreSQL refuses to copy a template while another session
 * is connected to it, e.g. a concurrent copy; that is retried briefly.
 */
export async function createDatabase(serverUrl: string, name: string, template = "template0"): Promise<void> {
  await onServer(serverUrl, async (client) => {
    const sql = `CREATE DATABASE ${client.escapeIdentifier(name)} TEMPLATE ${client.escapeIdentifier(template)}`;
    for (let attempt = 1; ; attempt++) {
      try {
        await client.query(sql);
        return;
      } catch (error) {
        if ((error as { code?: string }).code !== objectInUse || attempt >= 50) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  });
}

/** Drops `name`, closing any session still connected to it. */
export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await onServer(serverUrl, (client) =>
    client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`),
  );
}
