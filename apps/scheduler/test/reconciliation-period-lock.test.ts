// A reconciliation period's lock is a session advisory lock held on a PostgreSQL connection of
// its own, outside the pool. When that connection cannot be opened (here: the role's connection
// limit, which the pool's idle connection already uses), the run fails naming the period's lock,
// and the scheduler logs the failure with the period before the job fails — not a bare error.
import { createPrismaClient, createStripeClient, PrismaSupportDesk, stripeEndpointOf } from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import { ManualClock } from "@susu/domain/testing";
import { type RunningEmulator, startEmulator } from "@susu/stripe-emulator";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { notifierOf } from "../src/container.js";
import { readSchedulerEnv } from "../src/env.js";
import { reconcilePeriod } from "../src/jobs/reconciliation.js";
import { createLogger } from "../src/logger.js";

const db = useTestDatabase();
const DAY_MS = 86_400_000;
const D0 = Date.UTC(2026, 11, 1);
const ROLE = `susu_one_connection_${process.pid}`;

describe("a reconciliation period's lock whose connection is refused (PostgreSQL)", () => {
  let emulator: RunningEmulator;
  let limited: ReturnType<typeof createPrismaClient>;

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0, fees: false, startTime: D0 / 1000 });
    await db.prisma.$executeRawUnsafe(`DROP ROLE IF EXISTS ${ROLE}`);
    await db.prisma.$executeRawUnsafe(`CREATE ROLE ${ROLE} LOGIN PASSWORD 'one' CONNECTION LIMIT 1`);
    const url = new URL(db.connectionString);
    url.username = ROLE;
    url.password = "one";
    limited = createPrismaClient(url.toString(), { maxConnections: 1, minConnections: 1 });
    // The pool's one connection, open and idle: the role's whole allowance.
    await limited.$queryRawUnsafe("SELECT 1");
  });
  afterAll(async () => {
    await limited?.$disconnect();
    await emulator?.stop();
    await db.prisma.$executeRawUnsafe(`DROP ROLE IF EXISTS ${ROLE}`);
  });

  it("fails naming the period's lock, and the scheduler logs it with the period; nothing is stored", async () => {
    const lines: Record<string, unknown>[] = [];
    const captured = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const clock = new ManualClock(D0 + 2 * DAY_MS);
    const deps = {
      prisma: limited,
      stripe: createStripeClient({
        secretKey: emulator.secretKey,
        ...stripeEndpointOf(emulator.url),
        timeoutMs: 10_000,
        maxNetworkRetries: 0,
      }),
      desk: new PrismaSupportDesk(limited, clock),
      notifier: notifierOf(
        readSchedulerEnv({ STRIPE_SECRET_KEY: "sk_test_x" }),
        limited,
        createLogger("silent", "reconciliation-period-lock-test"),
      ),
      clock,
    };
    const period = { from: D0, to: D0 + DAY_MS };
    await expect(reconcilePeriod(deps, captured, period)).rejects.toThrow(
      /^reconciliation of 2026-12-01T00:00:00\.000Z to 2026-12-02T00:00:00\.000Z: its period's lock \(susu:reconciliation-period:.*\) could not be taken: .*too many connections/,
    );
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 50,
        msg: "reconciliation with Stripe failed for the period",
        from: "2026-12-01T00:00:00.000Z",
        to: "2026-12-02T00:00:00.000Z",
        err: expect.objectContaining({ message: expect.stringContaining("too many connections") }),
      }),
    );
    expect(await db.prisma.reconciliationReport.count()).toBe(0);
  });
});
