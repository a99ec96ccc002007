// The real scheduler process (dist/main.js) stopped with SIGTERM while a Stripe call is in
// flight (held by a gate in front of the emulator). While it drains, it must still look alive
// to the other schedulers: they give back the claims of a worker whose liveness lock is gone
// (startDeadWorkerRelease), and another process would then run the same effect again while
// this one's call is still under way. The lock goes with the listener's connection, so the
// listener stops only after the loops have finished their work.
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  applyMigrations,
  claimersWithoutLiveness,
  type EmbeddedPostgresServer,
  type PrismaClient,
  startEmbeddedPostgres,
} from "@susu/adapters";
import { useCases } from "@susu/domain";
import { type RunningEmulator, startEmulator } from "@susu/stripe-emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
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

describe.skipIf(process.platform !== "linux")("a scheduler stopping with a Stripe call in flight", () => {
  let dataDir: string;
  let pgServer: EmbeddedPostgresServer | undefined;
  let emulator: RunningEmulator;
  let proxy: GatedProxy;
  let prisma: PrismaClient | undefined;
  let scheduler: RealScheduler | undefined;
  let databaseUrl: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "susu-stop-liveness-"));
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

  it("keeps its liveness lock until its loops have drained, so no other scheduler takes its claims", async () => {
    const seeded = await seedActiveGroups({
      databaseUrl,
      emulator,
      prefix: "",
      groupCount: 1,
      members: ["ana", "ben"],
    });
    prisma = seeded.prisma;
    const db = prisma;
    scheduler = await startRealScheduler({ databaseUrl, emulator, proxy, workerId: "stopping-worker" });
    const output = scheduler.output;

    proxy.close();
    (await useCases.startRound(seeded.deps, seeded.groups[0]?.id ?? "", "scheduler"))._unsafeUnwrap();
    await until("a debit in flight", () => proxy.held >= 1, 30_000).catch((error: Error) => {
      throw new Error(`${error.message}; the scheduler said:\n${logTail(output())}`);
    });

    const exited = stopRealScheduler(scheduler);
    await until("the scheduler stopping", () => output().includes('"msg":"scheduler stopping"'), 10_000);
    // Draining: its call is still held at the gate. Give a wrong order time to show.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(scheduler.process.exitCode).toBeNull();
    // Its claims are live, and it still holds its lock: another scheduler's dead-worker release
    // (which gives back the claims of exactly these workers) finds nobody to release.
    const claimed = await db.outboxEffect.count({ where: { claimedBy: { startsWith: "stopping-worker-" } } });
    expect(claimed).toBeGreaterThan(0);
    expect(await claimersWithoutLiveness(db, Date.now())).toEqual([]);

    proxy.open();
    expect(await exited).toBe(0);
    // Once it is gone, its work is done and nothing was sent twice.
    const pending = await db.outboxEffect.count({
      where: { kind: "collect_contribution", status: { not: "done" } },
    });
    expect(pending).toBe(0);
    const perEffect = await paymentIntentsPerEffect(seeded.stripe);
    expect([...perEffect.values()]).toEqual([1, 1]);
  }, 180_000);
});
