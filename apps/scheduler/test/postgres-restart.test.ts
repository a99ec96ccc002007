// The real scheduler process (dist/main.js) through a PostgreSQL restart, on its own embedded
// server: debits are in flight at the emulator (held there by a gate in front of it) when
// PostgreSQL stops; Stripe answers while the database is down, so the scheduler cannot record
// what it did; PostgreSQL starts again on the same port and data folder. Without being
// restarted, the scheduler reconnects, gives its stranded claims back at once (not after the
// 5-minute lease) and finishes every debit within seconds — and the emulator holds exactly one
// PaymentIntent per debit effect (its id is the Idempotency-Key and the `effect_id` metadata).
// The dispatcher polls only every 60 s here: it is the notifications that wake it.
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  applyMigrations,
  createPrismaClient,
  createStripeClient,
  type EmbeddedPostgresServer,
  type PrismaClient,
  PrismaStore,
  StripePaymentGateway,
  startEmbeddedPostgres,
  stripeEndpointOf,
} from "@susu/adapters";
import { type Person, useCaseDepsOn, useCases } from "@susu/domain";
import { anActiveGroup, SequentialIds } from "@susu/domain/testing";
import { type RunningEmulator, startEmulator } from "@susu/stripe-emulator";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const main = join(import.meta.dirname, "..", "dist", "main.js");
const GROUPS = 6;
const MEMBERS = ["ana", "ben", "cy"];

/** A proxy in front of the emulator that holds PaymentIntent creations until opened. */
function gatedProxy(target: string) {
  let open = true;
  let opened: () => void = () => {};
  let gate = Promise.resolve();
  let held = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", async () => {
      if (req.method === "POST" && req.url?.startsWith("/v1/payment_intents") && !open) {
        held += 1;
        await gate;
      }
      const url = new URL(req.url ?? "/", target);
      const forward = request(url, { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      forward.on("error", () => res.destroy());
      forward.end(Buffer.concat(chunks));
    });
  });
  return {
    server,
    get held() {
      return held;
    },
    close() {
      gate = new Promise<void>((resolve) => (opened = resolve));
      open = false;
    },
    open() {
      open = true;
      opened();
    },
  };
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** The scheduler's log lines but its Stripe calls, last first-thirty: for a failure's message. */
function logTail(output: string): string {
  return output
    .split("\n")
    .filter((line) => !line.includes('"msg":"stripe call"'))
    .slice(-30)
    .join("\n");
}

async function until(what: string, check: () => Promise<boolean> | boolean, ms: number): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return Date.now() - started;
}

describe.skipIf(process.platform !== "linux")("the scheduler through a PostgreSQL restart", () => {
  let dataDir: string;
  let pgServer: EmbeddedPostgresServer | undefined;
  let emulator: RunningEmulator;
  let proxy: ReturnType<typeof gatedProxy>;
  let prisma: PrismaClient | undefined;
  let scheduler: ChildProcess | undefined;
  let output = "";
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
    if (scheduler?.exitCode === null) scheduler.kill("SIGKILL");
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
    const stripe = createStripeClient({
      secretKey: emulator.secretKey,
      ...stripeEndpointOf(emulator.url),
      timeoutMs: 10_000,
      maxNetworkRetries: 0,
    });
    const gateway = new StripePaymentGateway(stripe);
    const now = Date.now();
    const people: Person[] = [];
    for (let g = 0; g < GROUPS; g++)
      for (const m of MEMBERS) {
        const id = `${m}_${g}`;
        const customer = (
          await gateway.createCustomer({
            idempotencyKey: `setup:cus:${id}`,
            name: id,
            references: { personId: id },
          })
        )._unsafeUnwrap();
        const setup = (
          await gateway.createDebitSetup({
            idempotencyKey: `setup:si:${id}`,
            customerId: customer.customerId,
            references: { personId: id },
          })
        )._unsafeUnwrap();
        const si = await stripe.setupIntents.confirm(setup.setupIntentId, {
          payment_method_data: {
            type: "au_becs_debit",
            au_becs_debit: { bsb_number: "000000", account_number: "000123456" },
            billing_details: { name: id, email: `${id}@example.com` },
          },
          mandate_data: {
            customer_acceptance: {
              type: "online",
              online: { ip_address: "203.0.113.7", user_agent: "susu-tests" },
            },
          },
        });
        const account = await stripe.accounts.create({
          type: "express",
          country: "AU",
          capabilities: { transfers: { requested: true } },
        });
        await emulator.control.completeAccountOnboarding(account.id);
        people.push({
          id,
          displayName: id,
          customerId: customer.customerId,
          debit: {
            paymentMethodId: String(si.payment_method),
            mandateId: String(si.mandate),
            mandateActive: true,
          },
          payout: { connectedAccountId: account.id, payoutsEnabled: true },
          createdAt: now,
          version: 0,
        });
      }
    prisma = createPrismaClient(databaseUrl, { maxConnections: 2 });
    const store = new PrismaStore(prisma);
    const deps = useCaseDepsOn(store, { clock: { now: () => Date.now() }, ids: new SequentialIds() });
    const groups = Array.from({ length: GROUPS }, (_, g) =>
      anActiveGroup({ id: `grp_${g}`, memberIds: MEMBERS.map((m) => `${m}_${g}`), startsAt: now - 1 }),
    );
    (
      await deps.uow.commit({
        people: people.map((state) => ({ state, expectedVersion: undefined })),
        groups: groups.map((state) => ({ state, expectedVersion: undefined })),
        rounds: [],
        outbox: [],
        audit: [],
      })
    )._unsafeUnwrap();

    // The real scheduler, polling only every minute, four aggregates at once.
    const proxyUrl = `http://127.0.0.1:${(proxy.server.address() as AddressInfo).port}`;
    scheduler = spawn(process.execPath, [main], {
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: databaseUrl,
        STRIPE_SECRET_KEY: emulator.secretKey,
        STRIPE_API_URL: proxyUrl,
        SUSU_WORKER_ID: "restart-test",
        SUSU_SCHEDULER_METRICS_PORT: "0",
        SUSU_DISPATCH_INTERVAL_MS: "60000",
        SUSU_DISPATCH_CONCURRENCY: "4",
        SUSU_OPEN_ROUNDS_CRON: "0 0 1 1 *",
        SUSU_RECONCILE_CRON: "off",
        LOG_LEVEL: "info",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    scheduler.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    scheduler.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    // Start-up (pg-boss creating its schema on a fresh database) is not what this test times:
    // a loaded CI runner gets a generous bound, and the process's output if it is passed.
    await until("scheduler started", () => output.includes('"msg":"scheduler started"'), 90_000).catch(
      (error: Error) => {
        throw new Error(`${error.message}; scheduler output:\n${output.slice(-4_000)}`);
      },
    );
    // The connections its pool keeps were opened before its loops started (SUSU_DB_POOL_MIN
    // unset: the 8 webhook slots + 4).
    expect(output).toMatch(/"dbConnections":12[,}][^\n]*"msg":"scheduler started"/);

    // Rounds open: their debits are committed, the notification wakes the dispatcher, and
    // the first PaymentIntent creations are held at the gate (at least two: the first pass
    // may have been woken by the first rounds alone, and it waits for its calls to end).
    proxy.close();
    for (const group of groups) (await useCases.startRound(deps, group.id, "scheduler"))._unsafeUnwrap();
    const debits = GROUPS * MEMBERS.length;
    await until("debits in flight", () => proxy.held >= 2, 30_000).catch((error: Error) => {
      throw new Error(`${error.message}; held ${proxy.held}; the scheduler said:\n${logTail(output)}`);
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
    expect(scheduler.exitCode).toBeNull();
    // (Logged after the pass that did it; the log reaches us a moment later.)
    await until(
      "the release logged",
      () => output.includes("outbox claims of a failed pass given back"),
      5_000,
    );
    expect(output).toContain("notification listener reconnected");

    // Exactly one PaymentIntent per debit effect at Stripe.
    const perEffect = new Map<string, number>();
    for await (const pi of stripe.paymentIntents.list({
      limit: 100,
    }) as AsyncIterable<Stripe.PaymentIntent>) {
      const effect = pi.metadata?.effect_id ?? `none:${pi.id}`;
      perEffect.set(effect, (perEffect.get(effect) ?? 0) + 1);
    }
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
    const exited = new Promise<number | null>((resolve) => scheduler?.once("exit", (code) => resolve(code)));
    scheduler.kill("SIGTERM");
    expect(await exited).toBe(0);
  }, 210_000);
});
