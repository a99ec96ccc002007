import { afterAll, beforeAll, inject } from "vitest";
import { withDatabase } from "../../src/db/connection-string.js";
import { createPrismaClient, type PrismaClient } from "../../src/db/prisma-client.js";
import { createDatabase, dropDatabase, uniqueDatabaseName } from "./databases.js";
import "./provided-context.js";

/** A database that exists only for the test file that created it. */
export interface TestDatabase {
  readonly name: string;
  readonly connectionString: string;
  /** Connected to this database only. */
  readonly prisma: PrismaClient;
  /** Disconnects the client and drops the database. Safe to call twice. */
  drop(): Promise<void>;
}

/** Options of {@link createTestDatabase}. */
export interface TestDatabaseOptions {
  /**
   * `true` (default): a copy of the run's template database, to which every migration
   * was applied by the global setup. `false`: an empty database, to migrate yourself.
   */
  readonly migrated?: boolean;
}

/**
 * Creates a database with a unique name on the test server (see the global setup) and a
 * Prisma client for it. Call {@link TestDatabase.drop} when done, or use
 * {@link useTestDatabase}, which does it for you.
 */
export async function createTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const serverUrl = inject("susuTestServerUrl");
  const name = uniqueDatabaseName("susu_test");
  await createDatabase(
    serverUrl,
    name,
    options.migrated === false ? "template0" : inject("susuTestTemplateDatabase"),
  );
  const connectionString = withDatabase(serverUrl, name);
  const prisma = createPrismaClient(connectionString, { maxConnections: 4 });
  let dropped = false;
  return {
    name,
    connectionString,
    prisma,
    drop: async () => {
      if (dropped) return;
      dropped = true;
      await prisma.$disconnect();
      await dropDatabase(serverUrl, name);
    },
  };
}

/**
 * Registers `beforeAll`/`afterAll` hooks that create a test database for the current
 * file (or `describe` block) and drop it afterwards. Read the returned handle's
 * properties inside tests or later hooks, not at collection time.
 */
export function useTestDatabase(options: TestDatabaseOptions = {}): TestDatabase {
  let database: TestDatabase | undefined;
  beforeAll(async () => {
    database = await createTestDatabase(options);
  });
  afterAll(async () => {
    await database?.drop();
  });
  const current = (): TestDatabase => {
    if (database === undefined)
      throw new Error("the test database is created in beforeAll; use it inside a test");
    return database;
  };
  return {
    get name() {
      return current().name;
    },
    get connectionString() {
      return current().connectionString;
    },
    get prisma() {
      return current().prisma;
    },
    drop: () => current().drop(),
  };
}
