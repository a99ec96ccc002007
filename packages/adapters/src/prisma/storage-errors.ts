// Database failures, sorted by error code into the domain's StorageError: the one mapper
// for every Prisma-backed adapter (the store, the ledger, the webhook inbox, the member
// directory, the support desk). Codes only: Prisma's (P2002, P2034, P1001, …) and
// PostgreSQL's SQLSTATE (kept by adapter-pg in the error's meta, read with sqlStateOf), and
// a socket's errno code; never message text, which changes between versions and locales (and
// a refused row's detail can hold payment data) — but for node-postgres's own errors of a
// connection that ended, which have no code and carry no data (CONNECTION_ENDED).
import { isDriverAdapterError } from "@prisma/driver-adapter-utils";
import { type StorageError, type StoredAggregate, storageError } from "@susu/domain";
import { ResultAsync } from "neverthrow";
import { sqlStateOf } from "../db/sql-state.js";
import { Prisma } from "./generated/client.js";

/** How a database error matters to a caller. */
export type DatabaseFailure =
  /** A unique constraint or primary key refused a row; `constraint` names it when known. */
  | { readonly kind: "unique_violation"; readonly constraint: string | undefined }
  /** Concurrent transactions collided (serialization failure, deadlock): retrying can succeed. */
  | { readonly kind: "write_conflict" }
  /** Another rule refused the data (foreign key, CHECK, append-only, ledger balance, a value out of range, a limit exceeded). */
  | { readonly kind: "refused"; readonly code: string }
  /** The database could not be reached, or the work did not finish in time. */
  | { readonly kind: "unavailable"; readonly code: string }
  /** Anything else. */
  | { readonly kind: "unknown"; readonly code: string };

// Prisma's codes for a database it cannot reach or a transaction it could not run.
// https://www.prisma.io/docs/orm/reference/error-reference
const UNAVAILABLE_PRISMA_CODES = new Set([
  "P1001", // can't reach the server
  "P1002", // the server timed out
  "P1008", // operation timed out
  "P1017", // the server closed the connection
  "P2024", // timed out fetching a connection from the pool
  "P2028", // transaction API error: could not start, or expired before it finished
]);

interface DriverCause {
  readonly constraint?: { readonly index?: unknown };
}

function uniqueConstraintOf(error: unknown): string | undefined {
  let cause: DriverCause | undefined;
  if (error instanceof Prisma.PrismaClientKnownRequestError) {
    const meta = error.meta as { driverAdapterError?: { cause?: DriverCause } } | undefined;
    cause = meta?.driverAdapterError?.cause;
  } else if (isObject(error) && isDriverAdapterError(error)) {
    cause = error.cause as DriverCause;
  }
  const index = cause?.constraint?.index;
  if (typeof index === "string") return index;
  // node-postgres's DatabaseError (statements run on the pool) names it itself.
  const constraint = isObject(error) ? (error as { constraint?: unknown }).constraint : undefined;
  return typeof constraint === "string" ? constraint : undefined;
}

const isObject = (value: unknown): value is object => typeof value === "object" && value !== null;

/**
 * The SQLSTATE behind `error`. Besides what `sqlStateOf` reads (Prisma's wrapped errors,
 * node-postgres errors), errors raised while a transaction COMMITs reach the caller as
 * adapter-pg's bare DriverAdapterError, unwrapped by Prisma: a serialization failure or
 * a deferred trigger (the ledger balance check) fails there.
 */
function sqlStateIn(error: unknown): string | undefined {
  const wrapped = sqlStateOf(error);
  if (wrapped !== undefined) return wrapped;
  if (!isObject(error) || !isDriverAdapterError(error)) return undefined;
  const cause = error.cause;
  if (typeof cause.originalCode === "string") return cause.originalCode;
  return cause.kind === "TransactionWriteConflict" ? "40001" : undefined;
}

function prismaCodeOf(error: unknown): string | undefined {
  if (error instanceof Prisma.PrismaClientKnownRequestError) return error.code;
  if (error instanceof Prisma.PrismaClientInitializationError) return error.errorCode ?? "initialization";
  return undefined;
}

/** Sorts a database error by its codes. */
export function classifyDatabaseError(error: unknown): DatabaseFailure {
  // A socket's failure as Node reports it (ECONNREFUSED, ECONNRESET, EPIPE, ETIMEDOUT…): its
  // `code` is no SQLSTATE, though a five-letter one (EPIPE) looks like one.
  const system = systemErrorCodeOf(error);
  if (system !== undefined) return { kind: "unavailable", code: system };
  const sqlState = sqlStateIn(error);
  const prismaCode = prismaCodeOf(error);
  if (sqlState === "23505" || prismaCode === "P2002")
    return { kind: "unique_violation", constraint: uniqueConstraintOf(error) };
  if (sqlState === "40001" || sqlState === "40P01" || prismaCode === "P2034")
    return { kind: "write_conflict" };
  // Classes 21 (cardinality: one row written twice), 22 (data exceptions: a value out of
  // range, not of its type) and 23 (integrity constraints), and SU, susu's own rules
  // (see the migrations): the data itself breaks a rule. And 54, a limit the statement
  // exceeds (54000: an index entry or value too large; 54001: nesting too deep for the
  // parser's stack): the same data exceeds it on every try.
  if (sqlState !== undefined && /^(21|22|23|54|SU)/.test(sqlState))
    return { kind: "refused", code: sqlState };
  // Class 08 is connection exceptions, 53 insufficient resources, 57 operator intervention.
  if (sqlState !== undefined && /^(08|53|57)/.test(sqlState)) return { kind: "unavailable", code: sqlState };
  if (prismaCode !== undefined && UNAVAILABLE_PRISMA_CODES.has(prismaCode))
    return { kind: "unavailable", code: prismaCode };
  if (error instanceof Prisma.PrismaClientInitializationError)
    return { kind: "unavailable", code: prismaCode ?? "initialization" };
  if (sqlState === undefined && error instanceof Error && CONNECTION_ENDED.test(error.message))
    return { kind: "unavailable", code: "connection_ended" };
  const code = sqlState ?? prismaCode ?? (error instanceof Error ? error.name : typeof error);
  return { kind: "unknown", code };
}

/**
 * node-postgres's own errors for a connection that ended, or never opened, without a word
 * from the server: they carry no code, only these messages.
 */
const CONNECTION_ENDED =
  /^(Connection terminated|Client has encountered a connection error|Client was closed|timeout exceeded when trying to connect|Connection is closed)/;

/**
 * The `code` of a Node system error (one with a `syscall`): a socket's failure. A host with
 * several addresses (`localhost`: ::1 and 127.0.0.1) fails its connection as an
 * AggregateError of one such error per address, with the first one's code.
 */
function systemErrorCodeOf(error: unknown): string | undefined {
  if (!isObject(error)) return undefined;
  const { code, syscall } = error as { code?: unknown; syscall?: unknown };
  if (typeof code !== "string") return undefined;
  return typeof syscall === "string" || error instanceof AggregateError ? code : undefined;
}

/**
 * A refusal decided inside a database transaction (a stale version, a conflicting
 * ledger entry). Thrown to roll the transaction back, then returned as its StorageError.
 */
export class StorageRefusal extends Error {
  constructor(readonly refusal: StorageError) {
    super(refusal.message);
    this.name = "StorageRefusal";
  }
}

/** The aggregates a commit writes under a version, as a `version_conflict` names them. */
export type VersionedAggregate = StoredAggregate;

/** A `version_conflict` on `aggregate` `id`: reload it and retry. */
export function versionConflictOn(aggregate: VersionedAggregate, id: string): StorageError {
  return storageError.versionConflict(aggregate, id);
}

/** What the failing operation was about, so a collision can name the aggregate to reload. */
export interface FailureContext {
  /** e.g. "commit", "claimDue", "ledger post". */
  readonly operation: string;
  /** The aggregate a write conflict is reported against, when the operation wrote one. */
  readonly aggregate?: { readonly type: VersionedAggregate; readonly id: string };
}

/**
 * The StorageError for a failed database operation. Messages carry codes and constraint
 * names, never row contents (a refused row's detail can hold member data).
 */
export function storageErrorOf(error: unknown, context: FailureContext): StorageError {
  if (error instanceof StorageRefusal) return error.refusal;
  const failure = classifyDatabaseError(error);
  switch (failure.kind) {
    case "unique_violation":
      return storageError.duplicate(
        `${context.operation}: already stored (unique constraint ${failure.constraint ?? "unknown"})`,
      );
    case "write_conflict":
      // The one failure a caller should retry: report it as the domain's retryable error.
      return context.aggregate !== undefined
        ? versionConflictOn(context.aggregate.type, context.aggregate.id)
        : storageError.unavailable(`${context.operation}: concurrent transactions collided; retry`);
    case "refused":
      return storageError.refused(
        `${context.operation}: refused by the database (SQLSTATE ${failure.code}); the state breaks a stored rule`,
      );
    case "unavailable":
    case "unknown":
      // Unknown failures are retried as unavailable: most are the database going away in
      // a way not listed above, and a retry is safe (every write here is idempotent).
      return storageError.unavailable(`${context.operation}: database error (${failure.code})`);
  }
}

/**
 * Runs a database operation, returning its failure as a StorageError. Given a function,
 * a synchronous throw (a bad argument) is caught like a rejection.
 */
export function fromDatabase<T>(
  work: Promise<T> | (() => Promise<T>),
  context: FailureContext | string,
): ResultAsync<T, StorageError> {
  const failureContext = typeof context === "string" ? { operation: context } : context;
  const promise = typeof work === "function" ? (async () => work())() : work;
  return ResultAsync.fromPromise(promise, (error) => storageErrorOf(error, failureContext));
}
