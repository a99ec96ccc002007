import type { PrismaClient } from "@susu/adapters";

/**
 * Runs `work` (a scheduler's start-up: creating pg-boss queues, registering crons) while
 * holding a PostgreSQL advisory lock every scheduler takes for it, so schedulers started
 * together do it one after the other. pg-boss 10 creates a queue's table partition inside
 * `create_queue`; two processes creating the same queues at once on a fresh database can
 * deadlock there (SQLSTATE 40P01) and the loser exits before it is ready. The lock is
 * transaction-scoped: a process that dies mid-start-up frees it with its connection.
 */
export async function withStartupLock<T>(prisma: PrismaClient, work: () => Promise<T>): Promise<T> {
  return prisma.$transaction(
    async (tx) => {
      await tx.$queryRaw`SELECT 1 AS locked FROM pg_advisory_xact_lock(hashtext('susu:scheduler:start-up'))`;
      return work();
    },
    // Waiting behind other schedulers' start-ups, then this one's own: both are short.
    { maxWait: 10_000, timeout: 600_000 },
  );
}
