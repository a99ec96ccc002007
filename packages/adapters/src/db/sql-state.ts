/**
 * SQLSTATEs raised by the hand-written rules in prisma/migrations (see the
 * constraints_and_triggers migration). PostgreSQL does not use the SU class.
 */
export const susuSqlStates = {
  /** UPDATE, DELETE or TRUNCATE on ledger_transactions, ledger_postings or audit_log. */
  appendOnlyViolation: "SU001",
  /** A ledger transaction with fewer than two postings, or whose debits and credits differ in a currency. */
  ledgerUnbalanced: "SU002",
  /** A ledger account's balance outside the safe integer range, ±(2^53 − 1). */
  ledgerBalanceUnsafe: "SU003",
} as const;

interface DriverAdapterErrorCause {
  readonly code?: unknown;
  readonly originalCode?: unknown;
}

/**
 * The PostgreSQL SQLSTATE behind an error from Prisma (via adapter-pg) or node-postgres,
 * if there is one. Prisma reports database errors it has no code for as P2039 and
 * keeps the SQLSTATE in `meta.driverAdapterError.cause`; mapping by SQLSTATE avoids
 * depending on message text.
 */
export function sqlStateOf(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const cause = (error as { meta?: { driverAdapterError?: { cause?: DriverAdapterErrorCause } } }).meta
    ?.driverAdapterError?.cause;
  const fromPrisma = cause?.originalCode ?? cause?.code;
  if (typeof fromPrisma === "string") return fromPrisma;
  const fromPg = (error as { code?: unknown }).code;
  // node-postgres puts the SQLSTATE in `code`; Prisma's own codes (P2002, …) are not SQLSTATEs.
  return typeof fromPg === "string" && /^[0-9A-Z]{5}$/.test(fromPg) && !/^P\d{4}$/.test(fromPg)
    ? fromPg
    : undefined;
}
