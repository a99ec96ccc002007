// The real scheduler process (dist/main.js) through a PostgreSQL restart, on its own embedded
// server: debits are in flight at the emulator (held there by a gate in front of it) when
// PostgreSQL stops; Stripe answers while the database is down, so the scheduler cannot record
// what it did; PostgreSQL starts again on the same port and data folder. Without being
// restarted, the scheduler reconnects, gives its stranded claims back at once (not after the
// 5-minute lease) and finishes every debit within seconds — and the emulator holds exactly one
// PaymentIntent per debit effect (its id is the Idempotency-Key and the `effect_id` metadata).
// The dispatcher polls only every 60 s here: it is the notifications that wake it.
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  applyMigrations,
  type EmbeddedPostgresServer,
  type PrismaClient,
  startEmbeddedPostgres,
} from "@susu/adapters";
import { useCases } from "@susu/domain";
import { type RunningEmulator, startEmulator } from "@susu/stripe-emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  accepts,
  type GatedProxy,
  gatedProxy,
  logTail,
  paymentIntentsPerEffect,
  type RealScheduler,
  seedActiveGroups,
  startRealScheduler,
  stopRealScheduler,
  until,
} from "./support/real-scheduler.js";

const GROUPS = 6;
const MEMBERS = ["ana", "ben", "cy"];

describe.skipIf(process.platform !== "linux")(
  "the scheduler through a PostgreSQL restart and a killed process",
  () => {
    let dataDir: string;
    let pgServer: EmbeddedPostgresServer | undefined;
    let emulator: RunningEmulator;
    let proxy: GatedProxy;
    let prisma: PrismaClient | undefined;
    let scheduler: RealScheduler | undefined;
    let databaseUrl: string;

    beforeAll(async () => {
      dataDir = mkdtempSync(join(tmpdir(), "susu-pg-restart-"));
      // As root, PostgreSQL runs as "postgres", which must reach the data folder.
      chmodSync(dataDir, 0o755);
      pgServer = await startEmbeddedPostgres({ dataDir: join(dataDir, "pg"), durable: false });
      await pgServer.ensureDatabase("susu");
      databaseUrl = pgServer.connectionString("susu");
      await applyMigrations(databaseUrl);
      emulator = await startEmulator({ port: 0, fees: false });
      proxy = gatedProxy(emulator.url);
      await new Promise<void>((resolve) => proxy.server.listen(0, "127.0.0.1", resolve));
    }, 120_000);

    afterAll(async () => {
      if (scheduler?.process.exitCode === null) scheduler.process.kill("SIGKILL");
      await prisma?.$disconnect().catch(() => undefined);
      if (proxy !== undefined) {
        proxy.open();
        await new Promise((resolve) => proxy.server.close(resolve));
      }
      await emulator?.stop();
      await pgServer?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it("finishes the work in flight within seconds, executing nothing twice, without being restarted", async () => {
      // Members with real customers, BECS mandates and connected accounts at the emulator.
      const seeded = await seedActiveGroups({
        databaseUrl,
        emulator,
        prefix: "",
        groupCount: GROUPS,
        members: MEMBERS,
      });
      const { stripe, deps, groups } = seeded;
      prisma = seeded.prisma;
      scheduler = await startRealScheduler({ databaseUrl, emulator, proxy, workerId: "restart-test" });
      const output = scheduler.output;
      // The connections its pool keeps were opened before its loops started (SUSU_DB_POOL_MIN
      // unset: the 8 webhook slots + 4).
      expect(output()).toMatch(/"dbConnections":12[,}][^\n]*"msg":"scheduler started"/);

      // Rounds open: their debits are committed, the notification wakes the dispatcher, and
      // the first PaymentIntent creations are held at the gate (at least two: the first pass
      // may have been woken by the first rounds alone, and it waits for its calls to end).
      proxy.close();
      for (const group of groups) (await useCases.startRound(deps, group.id, "scheduler"))._unsafeUnwrap();
      const debits = GROUPS * MEMBERS.length;
      await until("debits in flight", () => proxy.held >= 2, 30_000).catch((error: Error) => {
        throw new Error(`${error.message}; held ${proxy.held}; the scheduler said:\n${logTail(output())}`);
      });

      // PostgreSQL goes away; Stripe answers while it is down; it comes back on the same port and folder.
      const port = pgServer?.port ?? 0;
      await pgServer?.stop();
      pgServer = undefined;
      await until("PostgreSQL down", async () => !(await accepts(port)), 10_000);
      proxy.open();
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      pgServer = await startEmbeddedPostgres({ dataDir: join(dataDir, "pg"), port, durable: false });
      expect(pgServer.port).toBe(port);
      const backAt = Date.now();

      const pendingDebits = async () => {
        try {
          return await prisma?.outboxEffect.count({
            where: { kind: "collect_contribution", status: { not: "done" } },
          });
        } catch {
          return -1; // this test's own client reconnecting
        }
      };
      const took = await until("every debit done", async () => (await pendingDebits()) === 0, 60_000);
      // Far below the 5-minute lease: the scheduler took its own claims back at once (a few
      // seconds on a quiet machine; the bound leaves room for a loaded CI runner).
      expect(took).toBeLessThan(60_000);
      expect(Date.now() - backAt).toBeLessThan(60_000);
      expect(scheduler.process.exitCode).toBeNull();
      // (Logged after the pass that did it; the log reaches us a moment later.)
      await until(
        "the release logged",
        () => output().includes("outbox claims of a failed pass given back"),
        5_000,
      );
      expect(output()).toContain("notification listener reconnected");

      // Exactly one PaymentIntent per debit effect at Stripe.
      const perEffect = await paymentIntentsPerEffect(stripe);
      expect([...perEffect.values()].filter((n) => n !== 1)).toEqual([]);
      expect(perEffect.size).toBe(debits);
      const effects = await prisma.outboxEffect.findMany({
        where: { kind: "collect_contribution" },
        select: { id: true, status: true, claimedBy: true },
      });
      expect(effects).toHaveLength(debits);
      expect(new Set(effects.map((e) => e.id))).toEqual(new Set(perEffect.keys()));
      expect(effects.every((e) => e.status === "done" && e.claimedBy === null)).toBe(true);

      // And it still stops cleanly.
      expect(await stopRealScheduler(scheduler)).toBe(0);
    }, 210_000);

    it("a scheduler killed mid-work: another gives its claims back within seconds, not after the 5-minute lease; one PaymentIntent per debit", async () => {
      const seeded = await seedActiveGroups({
        databaseUrl,
        emulator,
        prefix: "k_",
        groupCount: GROUPS,
        members: MEMBERS,
      });
      const killed = await startRealScheduler({ databaseUrl, emulator, proxy, workerId: "killed" });
      try {
        // Its debits in flight, held at the gate: claimed under its id, with 5-minute leases.
        proxy.close();
        const heldBefore = proxy.held;
        for (const group of seeded.groups)
          (await useCases.startRound(seeded.deps, group.id, "scheduler"))._unsafeUnwrap();
        await until("debits in flight", () => proxy.held >= heldBefore + 2, 30_000).catch((error: Error) => {
          throw new Error(`${error.message}; the scheduler said:\n${logTail(killed.output())}`);
        });
        killed.process.kill("SIGKILL");
        await until("the process gone", () => killed.process.signalCode !== null, 10_000);
        const stranded = await seeded.prisma.outboxEffect.count({
          where: { kind: "collect_contribution", status: "pending", claimedBy: { startsWith: "killed-" } },
        });
        expect(stranded).toBeGreaterThan(0);
        // What it had sent reaches Stripe after its death: those PaymentIntents exist, susu never heard.
        proxy.open();

        scheduler = await startRealScheduler({ databaseUrl, emulator, proxy, workerId: "survivor" });
        const pendingDebits = () =>
          seeded.prisma.outboxEffect.count({
            where: { kind: "collect_contribution", status: { not: "done" } },
          });
        // The survivor gives the dead worker's claims back once it has stayed without its liveness
        // lock for 15 s (checked every 5 s): well under the lease, with room for a loaded runner.
        await until("every debit done", async () => (await pendingDebits()) === 0, 120_000).catch(
          (error: Error) => {
            throw new Error(`${error.message}; the survivor said:\n${logTail(scheduler?.output() ?? "")}`);
          },
        );
        await until(
          "the release logged",
          () => scheduler?.output().includes("given back before their lease ended") === true,
          5_000,
        );
        // The dead worker's debits were asked again under the same idempotency keys: one each.
        const perEffect = await paymentIntentsPerEffect(seeded.stripe);
        expect([...perEffect.values()].filter((n) => n !== 1)).toEqual([]);
        expect(perEffect.size).toBe(2 * GROUPS * MEMBERS.length);
        expect(await stopRealScheduler(scheduler)).toBe(0);
      } finally {
        if (killed.process.exitCode === null && killed.process.signalCode === null)
          killed.process.kill("SIGKILL");
        await seeded.prisma.$disconnect();
      }
    }, 240_000);
  },
);
