import { type StorageError, storageError } from "@susu/domain";
import { ResultAsync } from "neverthrow";
import { sqlStateOf } from "../db/sql-state.js";
import { Prisma } from "../prisma/generated/client.js";

function prismaCodeOf(error: unknown): string | undefined {
  if (error instanceof Prisma.PrismaClientKnownRequestError) return error.code;
  if (error instanceof Prisma.PrismaClientInitializationError) return error.errorCode ?? "initialization";
  return undefined;
}

/**
 * The StorageError for a failed inbox or ticket query, sorted by PostgreSQL's SQLSTATE
 * and Prisma's error code, never by message text (it changes between versions and
 * locales, and a refused row's detail can hold payment data, so it is not copied either).
 * Every failure but a unique violation is `storage_unavailable`: the caller retries later.
 */
export function databaseStorageError(error: unknown, operation: string): StorageError {
  const sqlState = sqlStateOf(error);
  const prismaCode = prismaCodeOf(error);
  if (sqlState === "23505" || prismaCode === "P2002")
    return storageError.duplicate(`${operation}: already stored`);
  if (sqlState === "40001" || sqlState === "40P01" || prismaCode === "P2034")
    return storageError.unavailable(`${operation}: concurrent transactions collided; retry`);
  const code = sqlState ?? prismaCode ?? (error instanceof Error ? error.name : typeof error);
  return storageError.unavailable(`${operation}: database error (${code})`);
}

/** Runs a query, returning its failure as a StorageError. */
export function fromQuery<T>(work: () => Promise<T>, operation: string): ResultAsync<T, StorageError> {
  // An async wrapper so that a synchronous throw (a bad argument) is caught like a rejection.
  return ResultAsync.fromPromise((async () => work())(), (error) => databaseStorageError(error, operation));
}
