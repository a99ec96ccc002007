import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../prisma/generated/client.js";

/** Options of {@link createPrismaClient}. */
export interface PrismaClientOptions {
  /** Most connections the pool opens. Default 10 (pg's default). */
  readonly maxConnections?: number;
}

/**
 * A Prisma client over `@prisma/adapter-pg`: queries are compiled in-process (WASM) and
 * sent through node-postgres, so no native query engine is downloaded or started.
 */
export function createPrismaClient(
  connectionString: string,
  options: PrismaClientOptions = {},
): PrismaClient {
  const adapter = new PrismaPg({ connectionString, max: options.maxConnections ?? 10 });
  return new PrismaClient({ adapter });
}

export type { PrismaClient };
