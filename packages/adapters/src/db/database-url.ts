import { startEmbeddedPostgres } from "./embedded-postgres.js";
import { type DatabaseEnv, readDatabaseEnv } from "./env.js";

/** Options of {@link resolveDatabaseUrl}. */
export interface ResolveDatabaseOptions {
  /** Settings to use instead of the process environment. */
  readonly env?: DatabaseEnv;
  /** Database created on the embedded server. Default `susu`. Ignored with `DATABASE_URL`. */
  readonly embeddedDatabase?: string;
}

/** The database the process should use, and how to let go of it. */
export interface ResolvedDatabase {
  readonly connectionString: string;
  /** `external` when `DATABASE_URL` named it; `embedded` when started (or reused) locally. */
  readonly source: "external" | "embedded";
  /** Stops the embedded server if this process started it; nothing for an external database. */
  close(): Promise<void>;
}

/**
 * `DATABASE_URL` when it is set; otherwise the embedded PostgreSQL on its data folder
 * (`SUSU_PG_DATA_DIR`, default `<repo>/.data/postgres`), started if needed, with the
 * `susu` database created. Does not migrate: call `applyMigrations` next.
 */
export async function resolveDatabaseUrl(options: ResolveDatabaseOptions = {}): Promise<ResolvedDatabase> {
  const env = options.env ?? readDatabaseEnv();
  if (env.DATABASE_URL !== undefined) {
    return { connectionString: env.DATABASE_URL, source: "external", close: async () => undefined };
  }
  const server = await startEmbeddedPostgres({
    ...(env.SUSU_PG_DATA_DIR === undefined ? {} : { dataDir: env.SUSU_PG_DATA_DIR }),
    ...(env.SUSU_PG_PORT === undefined ? {} : { port: env.SUSU_PG_PORT }),
  });
  const database = options.embeddedDatabase ?? "susu";
  await server.ensureDatabase(database);
  return {
    connectionString: server.connectionString(database),
    source: "embedded",
    close: () => server.stop(),
  };
}
