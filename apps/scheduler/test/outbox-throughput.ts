// A quick check that the parallel dispatcher is parallel: effects/s draining one outbox on
// real (embedded) PostgreSQL with concurrency 1 (one effect at a time, as before) and with
// more. Each effect stands for a provider call by a fixed wait (PROVIDER_MS) and commits its
// result as the dispatcher does. Not a benchmark (bench/ has those): figures on a shared
// machine are noisy. Stripe is the emulator through the SDK and the adapter gateway (these
// effects ask nothing of it).
//
//   cd apps/scheduler && npx tsx --conditions @susu/source test/outbox-throughput.ts [effects] [aggregates]
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyMigrations, createPrismaClient, PrismaStore, startEmbeddedPostgres } from "@susu/adapters";
import { type Changeset, type EffectPorts, type OutboxEffect, useCaseDepsOn } from "@susu/domain";
import {
  InMemoryLedgerStore,
  RecordingNotifier,
  RecordingSupportDesk,
  SequentialIds,
} from "@susu/domain/testing";
import { okAsync, ResultAsync } from "neverthrow";
import { startOutboxDispatcher } from "../src/jobs/outbox-dispatcher.js";
import { createLogger } from "../src/logger.js";
import { startEmulatorGateway } from "./support/emulator.js";

const EFFECTS = Number(process.argv[2] ?? 2_000);
const AGGREGATES = Number(process.argv[3] ?? 200);
const PROVIDER_MS = 25;
const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };

const dir = mkdtempSync(join(tmpdir(), "susu-outbox-throughput-"));
chmodSync(dir, 0o755);
const server = await startEmbeddedPostgres({ dataDir: join(dir, "pg"), durable: false });
const stripeSide = await startEmulatorGateway();
try {
  const results: { concurrency: number; effectsPerSecond: number; seconds: number }[] = [];
  for (const concurrency of [1, 4, 16, 32]) {
    const database = `throughput_${concurrency}`;
    await server.ensureDatabase(database);
    const url = server.connectionString(database);
    await applyMigrations(url);
    const prisma = createPrismaClient(url, { maxConnections: concurrency + 8 });
    const store = new PrismaStore(prisma);
    const clock = { now: () => Date.now() };
    const deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    const ports: EffectPorts = {
      gateway: stripeSide.gateway,
      notifier: new RecordingNotifier(),
      desk: new RecordingSupportDesk(),
      timers: {
        schedule: () =>
          ResultAsync.fromSafePromise(new Promise((resolve) => setTimeout(resolve, PROVIDER_MS))).andThen(
            () => okAsync(undefined),
          ),
      },
      ledger: new InMemoryLedgerStore(),
    };
    const effects: OutboxEffect[] = Array.from({ length: EFFECTS }, (_, i) => ({
      kind: "schedule_timer",
      id: `fx_${i}`,
      aggregate: "round",
      aggregateId: `round_${i % AGGREGATES}`,
      at: Date.now() + 3_600_000,
      timer: { kind: "collection_deadline" },
    }));
    for (let i = 0; i < effects.length; i += 500)
      (await store.commit({ ...empty, outbox: effects.slice(i, i + 500) }))._unsafeUnwrap();
    const started = performance.now();
    const loop = startOutboxDispatcher(deps, ports, store, {
      workerId: `throughput-${concurrency}`,
      intervalMs: 50,
      concurrency,
      log: createLogger("silent", "outbox-throughput"),
    });
    while ((await prisma.outboxEffect.count({ where: { status: "pending" } })) > 0)
      await new Promise((resolve) => setTimeout(resolve, 50));
    const seconds = (performance.now() - started) / 1000;
    await loop.stop();
    await prisma.$disconnect();
    results.push({
      concurrency,
      seconds: Number(seconds.toFixed(2)),
      effectsPerSecond: Math.round(EFFECTS / seconds),
    });
  }
  console.log(`${EFFECTS} effects over ${AGGREGATES} aggregates, ${PROVIDER_MS} ms per provider call:`);
  console.table(results);
} finally {
  await stripeSide.emulator.stop();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
