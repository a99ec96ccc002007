import { sqlStateOf } from "../db/sql-state.js";
import { Prisma } from "../prisma/generated/client.js";

/**
 * A failed query of the HTTP stores. The message names the operation and the SQLSTATE (or
 * Prisma code), never the driver's text, which can quote parameters; callers treat any of
 * these as "infrastructure unavailable".
 */
export class HttpStoreError extends Error {
  /** The SQLSTATE or Prisma error code, when there is one. */
  readonly code: string | undefined;

  constructor(operation: string, cause: unknown) {
    const code =
      sqlStateOf(cause) ??
      (cause instanceof Prisma.PrismaClientKnownRequestError ? cause.code : undefined) ??
      (cause instanceof Prisma.PrismaClientInitializationError
        ? (cause.errorCode ?? "initialization")
        : undefined);
    super(`${operation}: database error (${code ?? (cause instanceof Error ? cause.name : typeof cause)})`);
    this.name = "HttpStoreError";
    this.code = code;
  }
}

/** Runs a query, turning its failure into an {@link HttpStoreError}. */
export async function query<T>(operation: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw new HttpStoreError(operation, error);
  }
}
