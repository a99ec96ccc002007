import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { withDatabase } from "../../src/db/connection-string.js";
import { type EmbeddedPostgresServer, startEmbeddedPostgres } from "../../src/db/embedded-postgres.js";
import { readDatabaseEnv } from "../../src/db/env.js";
import { applyMigrations } from "../../src/db/migrations.js";
import { createDatabase, dropDatabase, uniqueDatabaseName } from "./databases.js";
import "./provided-context.js";

/**
 * One PostgreSQL server for the whole run: `DATABASE_URL`'s server when it is set (only
 * databases created here are touched, each with a unique name, and dropped at the end),
 * otherwise an embedded server on a free port with a throw-away data folder. Migrations
 * are applied once, to a template database that each test file copies.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const env = readDatabaseEnv();
  let server: EmbeddedPostgresServer | undefined;
  let dataDir: string | undefined;
  let serverUrl: string;
  if (env.DATABASE_URL !== undefined) {
    serverUrl = env.DATABASE_URL;
  } else {
    dataDir = await mkdtemp(join(tmpdir(), "susu-test-pg-"));
    server = await startEmbeddedPostgres({ dataDir, durable: false });
    serverUrl = server.connectionString("postgres");
  }

  const template = uniqueDatabaseName("susu_test_template");
  try {
    await createDatabase(serverUrl, template);
    await applyMigrations(withDatabase(serverUrl, template));
  } catch (error) {
    await dropDatabase(serverUrl, template).catch(() => undefined);
    await server?.stop();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
    throw error;
  }

  project.provide("susuTestServerUrl", serverUrl);
  project.provide("susuTestTemplateDatabase", template);

  return async () => {
    await dropDatabase(serverUrl, template);
    await server?.stop();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  };
}
