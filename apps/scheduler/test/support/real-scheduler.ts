// Shared by the tests that run the real scheduler process (dist/main.js) against an embedded
// PostgreSQL and the emulator behind a gate: the gate, waits, the process and the members.
import { type ChildProcess, spawn } from "node:child_process";
import { createServer, request, type Server } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { join } from "node:path";
import {
  createPrismaClient,
  createStripeClient,
  type PrismaClient,
  PrismaStore,
  StripePaymentGateway,
  stripeEndpointOf,
} from "@susu/adapters";
import { type Group, type Person, type UseCaseDeps, useCaseDepsOn } from "@susu/domain";
import { anActiveGroup, SequentialIds } from "@susu/domain/testing";
import type { RunningEmulator } from "@susu/stripe-emulator";
import type Stripe from "stripe";

const main = join(import.meta.dirname, "..", "..", "dist", "main.js");

/** A proxy in front of the emulator that holds PaymentIntent creations until opened. */
export function gatedProxy(target: string) {
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
    get url() {
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
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
export type GatedProxy = ReturnType<typeof gatedProxy>;

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export function accepts(port: number): Promise<boolean> {
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
export function logTail(output: string): string {
  return output
    .split("\n")
    .filter((line) => !line.includes('"msg":"stripe call"'))
    .slice(-30)
    .join("\n");
}

/** Waits until `check` holds (polling every 50 ms); how long it took, or a throw after `ms`. */
export async function until(
  what: string,
  check: () => Promise<boolean> | boolean,
  ms: number,
): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return Date.now() - started;
}

/** A scheduler process and everything it has printed so far. */
export interface RealScheduler {
  readonly process: ChildProcess;
  readonly output: () => string;
}

/**
 * The real scheduler, polling only every minute (notifications wake it), four aggregates at
 * once, its Stripe calls through `proxy`; resolves once it has logged "scheduler started".
 */
export async function startRealScheduler(options: {
  readonly databaseUrl: string;
  readonly emulator: RunningEmulator;
  readonly proxy: GatedProxy;
  readonly workerId: string;
}): Promise<RealScheduler> {
  let output = "";
  const child = spawn(process.execPath, [main], {
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: options.databaseUrl,
      STRIPE_SECRET_KEY: options.emulator.secretKey,
      STRIPE_API_URL: options.proxy.url,
      SUSU_WORKER_ID: options.workerId,
      SUSU_SCHEDULER_METRICS_PORT: "0",
      SUSU_DISPATCH_INTERVAL_MS: "60000",
      SUSU_DISPATCH_CONCURRENCY: "4",
      SUSU_OPEN_ROUNDS_CRON: "0 0 1 1 *",
      SUSU_RECONCILE_CRON: "off",
      LOG_LEVEL: "info",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  // Start-up (pg-boss creating its schema on a fresh database) is not what these tests time:
  // a loaded CI runner gets a generous bound, and the process's output if it is passed.
  await until("scheduler started", () => output.includes('"msg":"scheduler started"'), 90_000).catch(
    (error: Error) => {
      child.kill("SIGKILL");
      throw new Error(`${error.message}; scheduler output:\n${output.slice(-4_000)}`);
    },
  );
  return { process: child, output: () => output };
}

/** Stops `scheduler` with SIGTERM; its exit code. */
export async function stopRealScheduler(scheduler: RealScheduler): Promise<number | null> {
  if (scheduler.process.exitCode !== null) return scheduler.process.exitCode;
  const exited = new Promise<number | null>((resolve) =>
    scheduler.process.once("exit", (code) => resolve(code)),
  );
  scheduler.process.kill("SIGTERM");
  return exited;
}

/** What {@link seedActiveGroups} stored. */
export interface SeededGroups {
  readonly stripe: Stripe;
  readonly prisma: PrismaClient;
  readonly deps: UseCaseDeps;
  readonly groups: readonly Group[];
}

/**
 * `groupCount` active groups of `members` (ids prefixed by `prefix`), each member a real
 * customer with a BECS mandate and a connected account that can receive at the emulator.
 */
export async function seedActiveGroups(options: {
  readonly databaseUrl: string;
  readonly emulator: RunningEmulator;
  readonly prefix: string;
  readonly groupCount: number;
  readonly members: readonly string[];
}): Promise<SeededGroups> {
  const { emulator, prefix } = options;
  const stripe = createStripeClient({
    secretKey: emulator.secretKey,
    ...stripeEndpointOf(emulator.url),
    timeoutMs: 10_000,
    maxNetworkRetries: 0,
  });
  const gateway = new StripePaymentGateway(stripe);
  const now = Date.now();
  const people: Person[] = [];
  for (let g = 0; g < options.groupCount; g++)
    for (const m of options.members)
      people.push(await emulatorMember({ emulator, stripe, gateway }, `${prefix}${m}_${g}`, now));
  const prisma = createPrismaClient(options.databaseUrl, { maxConnections: 2 });
  const store = new PrismaStore(prisma);
  const deps = useCaseDepsOn(store, { clock: { now: () => Date.now() }, ids: new SequentialIds() });
  const groups = Array.from({ length: options.groupCount }, (_, g) =>
    anActiveGroup({
      id: `${prefix}grp_${g}`,
      memberIds: options.members.map((m) => `${prefix}${m}_${g}`),
      startsAt: now - 1,
    }),
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
  return { stripe, prisma, deps, groups };
}

/**
 * Person `id` as the API onboards a member, at the emulator: a real customer with a BECS
 * mandate (a bank account whose debits succeed) and a connected account that can receive
 * transfers and pay out; `createdAt` is when the person was stored.
 */
export async function emulatorMember(
  at: { readonly emulator: RunningEmulator; readonly stripe: Stripe; readonly gateway: StripePaymentGateway },
  id: string,
  createdAt: number,
): Promise<Person> {
  const { emulator, stripe, gateway } = at;
  const customer = (
    await gateway.createCustomer({
      idempotencyKey: `setup:cus:${id}`,
      name: id,
      references: { personId: id },
      // A first request: made now, under a key Stripe keeps.
      notBefore: Date.now(),
      effectCreatedAt: Date.now(),
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
  return {
    id,
    displayName: id,
    customerId: customer.customerId,
    debit: {
      paymentMethodId: String(si.payment_method),
      mandateId: String(si.mandate),
      mandateActive: true,
    },
    payout: { connectedAccountId: account.id, payoutsEnabled: true },
    createdAt,
    version: 0,
  };
}

/** How many PaymentIntents the emulator holds per debit effect (`effect_id` metadata). */
export async function paymentIntentsPerEffect(stripe: Stripe): Promise<Map<string, number>> {
  const perEffect = new Map<string, number>();
  for await (const pi of stripe.paymentIntents.list({ limit: 100 }) as AsyncIterable<Stripe.PaymentIntent>) {
    const effect = pi.metadata?.effect_id ?? `none:${pi.id}`;
    perEffect.set(effect, (perEffect.get(effect) ?? 0) + 1);
  }
  return perEffect;
}
