/**
 * Backup and restore of susu's database, and the Stripe events catch-up that follows a
 * restore: a consistent snapshot of schemas `public` and `pgboss` streamed with COPY into
 * one gzip'd file with a manifest; a restore into an empty database that migrates, loads,
 * and proves every table's rows; and the events Stripe sent since, put back in the inbox.
 *
 * @module
 */
export {
  BACKUP_FORMAT_VERSION,
  BackupFileError,
  type BackupManifest,
  type BackupMigration,
  type BackupSequence,
  type BackupTable,
} from "./backup-file.js";
export { BACKUP_SCHEMAS, type CatalogTable, listTables, tableDigest } from "./catalog.js";
export {
  BACKUP_USAGE,
  CATCH_UP_USAGE,
  type CatchUpStart,
  DEFAULT_CATCH_UP_MARGIN_MINUTES,
  parseBackupArgs,
  parseCatchUpArgs,
  parseRestoreArgs,
  RESTORE_USAGE,
} from "./command-args.js";
export {
  markDatabaseRewound,
  type RestoredBackup,
  RestoreError,
  type RestoreOptions,
  readBackupManifest,
  restoreBackup,
} from "./restore-backup.js";
export {
  type CatchUpOptions,
  type CatchUpReport,
  catchUpStripeEvents,
  knownConnectedAccounts,
} from "./stripe-catch-up.js";
export { type TakenBackup, takeBackup } from "./take-backup.js";
