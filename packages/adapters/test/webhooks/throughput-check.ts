/**
 * A quick before/after check of the webhook side (not a benchmark: the real ones, with the
 * pgbench ceiling beside each figure, are in bench/). On a throw-away embedded PostgreSQL:
 *
 * - ingest: `--events` signed deliveries from `--clients` concurrent clients, each verified
 *   and stored — one transaction per event (`PrismaWebhookInbox.receive`, the old shape)
 *   vs grouped commits (`BatchingWebhookIngest`); events/s and p50/p99 per delivery;
 * - processing: the stored debits drained by one processor with concurrency 1 (the old
 *   one-at-a-time) vs `--concurrency`, each event's domain work given `--work-ms` of
 *   simulated I/O (the domain runs in memory here); events/s.
 *
 *   npx tsx test/webhooks/throughput-check.ts [--events 3000] [--clients 64] [--rounds 50]
 *                                             [--concurrency 8] [--work-ms 5]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type StorageError, useCaseDepsOn } from "@susu/domain";
import { InMemoryStore, SequentialIds } from "@susu/domain/testing";
import { okAsync, type ResultAsync } from "neverthrow";
import { SystemClock } from "../../src/clock/index.js";
import { applyMigrations, createPrismaClient, resolveDatabaseUrl } from "../../src/db/index.js";
import { PrismaSupportDesk } from "../../src/support/index.js";
import {
  BatchingWebhookIngest,
  PrismaWebhookInbox,
  processWebhookInbox,
  type ReceiveResult,
  verifyStripeWebhook,
} from "../../src/webhooks/index.js";
import { ScriptedStripeReads } from "./harness.js";
import { roundEventStream, type SignedDelivery, signedDelivery } from "./signed-events.js";

const { values } = parseArgs({
  options: {
    events: { type: "string", default: "3000" },
    clients: { type: "string", default: "64" },
    rounds: { type: "string", default: "50" },
    concurrency: { type: "string", default: "8" },
    "work-ms": { type: "string", default: "5" },
  },
});
const EVENTS = Number(values.events);
const CLIENTS = Number(values.clients);
const ROUNDS = Number(values.rounds);
const CONCURRENCY = Number(values.concurrency);
const WORK_MS = Number(values["work-ms"]);
const SECRET = "whsec_throughput_check";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const percentile = (sorted: readonly number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

async function ingest(
  label: string,
  deliveries: readonly SignedDelivery[],
  receive: (event: import("stripe").Stripe.Event) => ResultAsync<ReceiveResult, StorageError>,
): Promise<string[]> {
  const latencies: number[] = [];
  let next = 0;
  let failed = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      for (let i = next++; i < deliveries.length; i = next++) {
        const d = deliveries[i]!;
        const t0 = performance.now();
        const verified = verifyStripeWebhook(d.body, d.signature, SECRET, 300);
        if (verified.isErr()) throw new Error(verified.error.message);
        const stored = await receive(verified.value);
        if (stored.isErr()) failed += 1;
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return [
    label,
    (deliveries.length / seconds).toFixed(0),
    percentile(latencies, 50).toFixed(1),
    percentile(latencies, 99).toFixed(1),
    String(failed),
  ];
}

async function drain(connectionString: string, label: string, concurrency: number, ids: readonly string[]) {
  const prisma = createPrismaClient(connectionString, { maxConnections: concurrency + 2 });
  const clock = new SystemClock();
  const store = new InMemoryStore();
  const deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
  const ctx = {
    deps: {
      ...deps,
      rounds: {
        // The domain is in memory here: give each event's read the I/O time a database would take.
        getRound: (id: string) =>
          okAsync(undefined)
            .andThen(() => okAsync(sleep(WORK_MS)))
            .andThen(() => deps.rounds.getRound(id)),
        listRoundsOfGroup: (id: string) => deps.rounds.listRoundsOfGroup(id),
      },
    },
    inbox: new PrismaWebhookInbox(prisma, clock),
    gateway: new ScriptedStripeReads(),
    desk: new PrismaSupportDesk(prisma, clock),
  };
  // Due again, as if just received.
  await prisma.webhookEvent.updateMany({
    where: { id: { in: [...ids] }, status: { not: "received" } },
    data: { status: "received", processedAt: null, outcome: null, claimedBy: null, claimedUntil: null },
  });
  const started = performance.now();
  let done = 0;
  for (;;) {
    const report = (
      await processWebhookInbox(ctx, {
        workerId: `check-${label}`,
        concurrency,
        limit: Math.max(50, concurrency * 8),
        refillForMs: concurrency > 1 ? 2_000 : 0,
      })
    )._unsafeUnwrap();
    if (report.claimed === 0) break;
    done += report.claimed;
  }
  const seconds = (performance.now() - started) / 1000;
  await prisma.$disconnect();
  return [label, String(done), (done / seconds).toFixed(0)];
}

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

const dir = mkdtempSync(join(tmpdir(), "susu-webhook-check-"));
const database = await resolveDatabaseUrl({ env: { SUSU_PG_DATA_DIR: dir }, embeddedDatabase: "check" });
try {
  await applyMigrations(database.connectionString);
  console.log(
    `machine: ${cpus().length} cores, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")} (noisy: shared)`,
  );
  const prisma = createPrismaClient(database.connectionString, { maxConnections: 10 });
  const clock = new SystemClock();
  const sign = (label: string) =>
    roundEventStream({ count: EVENTS, rounds: ROUNDS, label }).map((e) => signedDelivery(e, SECRET));
  const before = sign("one");
  const after = sign("grouped");
  const single = new PrismaWebhookInbox(prisma, clock);
  const batching = new BatchingWebhookIngest(prisma, clock);
  const ingestRows = [
    await ingest("one transaction per event", before, (e) => single.receive(e)),
    await ingest("grouped commits (the defaults: 64, no wait)", after, (e) => batching.receive(e)),
  ];
  console.log(`\ningest: ${EVENTS} signed deliveries, ${CLIENTS} concurrent clients\n`);
  console.log(table(["ingest", "events/s", "p50 ms", "p99 ms", "failed"], ingestRows));
  const kept = await prisma.webhookEvent.findMany({
    where: { status: "received", id: { in: after.map((d) => d.id) } },
    select: { id: true },
  });
  console.log(
    `\n${kept.length} of ${after.length} events need a processor; the rest were stored ignored at ingest.`,
  );
  const ids = kept.map((r) => r.id);
  // Only the grouped run's events are drained (twice): the first run's are set aside.
  await prisma.webhookEvent.updateMany({
    where: { status: "received", id: { notIn: ids } },
    data: { status: "ignored", outcome: "set aside by the check" },
  });
  await prisma.$disconnect();
  const drainRows = [
    await drain(database.connectionString, "concurrency 1 (one at a time)", 1, ids),
    await drain(database.connectionString, `concurrency ${CONCURRENCY}, keyed`, CONCURRENCY, ids),
  ];
  console.log(`\nprocessing: ${ROUNDS} rounds (keys), ${WORK_MS} ms simulated I/O per event\n`);
  console.log(table(["processor", "events", "events/s"], drainRows));
} finally {
  await database.close();
  rmSync(dir, { recursive: true, force: true });
}
