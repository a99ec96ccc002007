export { databaseOf, redactConnectionString, withDatabase } from "./connection-string.js";
export { type ResolveDatabaseOptions, type ResolvedDatabase, resolveDatabaseUrl } from "./database-url.js";
export {
  type EmbeddedPostgresOptions,
  type EmbeddedPostgresServer,
  startEmbeddedPostgres,
} from "./embedded-postgres.js";
export { type DatabaseEnv, readDatabaseEnv } from "./env.js";
export {
  type AppliedMigrations,
  applyMigrations,
  type CreatedMigration,
  type CreateMigrationOptions,
  createMigration,
  diffMigrationsToSchema,
  EditedMigrationError,
  type MigrationPaths,
  SchemaEngineError,
} from "./migrations.js";
export { databasePaths } from "./paths.js";
export {
  type PgListener,
  type PgListenerLog,
  type PgListenerOptions,
  startPgListener,
} from "./pg-listener.js";
export {
  createPrismaClient,
  openConnections,
  PLAN_CACHE_MODES,
  type PlanCacheMode,
  type PrismaClient,
  type PrismaClientOptions,
} from "./prisma-client.js";
export { type SessionLock, trySessionLock, waitForSessionLock } from "./session-lock.js";
export { sqlStateOf, susuSqlStates } from "./sql-state.js";
export { OUTBOX_CHANNEL, WakeNotifier, wakeNotifierOf } from "./wake-notifier.js";
