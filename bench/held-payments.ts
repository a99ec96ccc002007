/**
 * Benchmark of held payments from checkout to release through the whole stack (issue 9).
 *
 *   npx tsx bench/held-payments.ts [--payments 200] [--concurrency 8] [--sellers 20]
 *
 * On embedded PostgreSQL (a throw-away data folder, PrismaStore and PrismaLedgerStore) and
 * the Stripe emulator **in its own process** (bench/held-emulator.ts; reached through the
 * official SDK by the StripePaymentGateway and over HTTP by its control endpoint), driven as
 * packages/adapters/test/e2e/held-payment-on-emulator.test.ts drives one payment, but N at
 * a time, `--concurrency` of each step in flight:
 *
 * 1. **checkout creation**: `createHeldPayment` through the use cases, the outbox dispatched
 *    (C dispatchers, each claiming under its own lease) until every payment has its
 *    Checkout Session;
 * 2. **payment → held**: each session paid at the emulator's control endpoint while the
 *    platform's events are read (the events API, as a webhook worker's catch-up would) and
 *    run through `processWebhookEvent`, events of different payments in parallel, each
 *    payment's in order; ends when every payment is `held`;
 * 3. fulfilment confirmed for all (not timed as a phase), both clocks — susu's ManualClock and
 *    the emulator's — moved past the 72-hour dispute window;
 * 4. **release**: the due release timers fired through `applyTimer`, the outbox dispatched
 *    (the transfers), the transfers' events processed; ends when every payment is `released`.
 *
 * Latencies: completion → held is from the moment this process received the payment's
 * `checkout.session.completed` (read from the events API) to the moment its webhook
 * processing left it `held`; window end → release-ready is from the moment both clocks moved
 * past the window to the moment the emulator answered the payment's transfer (the gateway is
 * wrapped to time `createTransfer`).
 *
 * The ceiling beside it is the emulator's own rate for the Stripe calls a held payment
 * needs at minimum — create a Checkout Session, pay it, create the transfer from its charge —
 * made straight through the SDK at the same concurrency, in the same run: what the whole
 * pipeline would reach if susu (PostgreSQL, the use cases, the outbox, the webhook
 * processing) cost nothing. It is an upper bound, not a target: susu also reads events and
 * looks up payments at Stripe.
 *
 * The run checks itself: every payment `released` with exactly one transfer in its transfer
 * group at the emulator, its hold empty in the ledger, and the ledger agreeing with its
 * postings; it exits 1 when the check fails.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  createPrismaClient,
  PrismaLedgerStore,
  PrismaStore,
  processWebhookEvent,
  RandomIds,
  StripePaymentGateway,
  type WebhookContext,
} from "@susu/adapters";
import {
  type EffectPorts,
  type HeldPayment,
  HOUR_MS,
  heldAccounts,
  type PaymentGateway,
  type Person,
  type UseCaseDeps,
  useCases,
} from "@susu/domain";
import {
  InMemoryTimerScheduler,
  ManualClock,
  RecordingNotifier,
  RecordingSupportDesk,
} from "@susu/domain/testing";
import { EmulatorControl } from "@susu/stripe-emulator";
import type Stripe from "stripe";
import { embeddedPostgres } from "./seed.js";

const { values } = parseArgs({
  options: {
    payments: { type: "string", default: "200" },
    concurrency: { type: "string", default: "8" },
    sellers: { type: "string", default: "20" },
  },
});
const N = Number(values.payments);
const C = Number(values.concurrency);
const SELLERS = Math.min(Number(values.sellers), N);
const START = Date.UTC(2026, 5, 1);
const WINDOW = 72 * HOUR_MS;
const here = dirname(fileURLToPath(import.meta.url));
const loadBefore = loadavg();
const t0 = performance.now();

// --- the emulator, PostgreSQL, the adapters ----------------------------------------------------

const emulatorProcess: ChildProcess = spawn(
  process.execPath,
  ["--import", import.meta.resolve("tsx"), join(here, "held-emulator.ts"), String(START / 1000)],
  { stdio: ["ignore", "pipe", "inherit"] },
);
const { url, secretKey } = await new Promise<{ url: string; secretKey: string }>((resolve, reject) => {
  let buffer = "";
  emulatorProcess.stdout?.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    const line = buffer.split("\n")[0];
    if (buffer.includes("\n") && line !== undefined) resolve(JSON.parse(line));
  });
  emulatorProcess.once("exit", (code) => reject(new Error(`the emulator exited (${code})`)));
});
// However this process ends, the emulator ends with it.
process.on("exit", () => emulatorProcess.kill("SIGTERM"));
const control = new EmulatorControl(url);

const { dir: pgDir, database } = await embeddedPostgres("susu-bench-held-", "susu_bench_held");
const prisma = createPrismaClient(database.connectionString);
const clock = new ManualClock(START);
const store = new PrismaStore(prisma, { clock });
const ledger = new PrismaLedgerStore(prisma, { clock });
const timers = new InMemoryTimerScheduler();
const deps: UseCaseDeps = {
  people: store,
  groups: store,
  rounds: store,
  heldPayments: store,
  payouts: store,
  marketplaceCharges: store,
  plans: store,
  subscriptions: store,
  paymentMethods: store,
  uow: store,
  audit: store,
  clock,
  ids: new RandomIds(),
};
const stripeUrl = new URL(url);
// On susu's clock, as the apps give it: the outbox stamps effects with it.
const realGateway = new StripePaymentGateway(
  {
    secretKey,
    host: stripeUrl.hostname,
    port: Number(stripeUrl.port),
    protocol: "http",
    timeoutMs: 30_000,
    maxNetworkRetries: 2,
  },
  { clock },
);
const stripe: Stripe = realGateway.stripe;

/** When the emulator answered each payment's transfer (release-ready), by held payment id. */
const transferCreatedAt = new Map<string, number>();
const gateway: PaymentGateway = new Proxy(realGateway, {
  get(target, property, receiver) {
    const value = Reflect.get(target, property, receiver);
    // Bound to the gateway itself: its methods use private fields a Proxy does not have.
    if (typeof value === "function" && property !== "createTransfer") return value.bind(target);
    if (property !== "createTransfer" || typeof value !== "function") return value;
    return (input: Parameters<PaymentGateway["createTransfer"]>[0]) =>
      (value as PaymentGateway["createTransfer"]).call(target, input).map((out) => {
        const id = input.references.heldPaymentId;
        if (id !== undefined && !transferCreatedAt.has(id)) transferCreatedAt.set(id, performance.now());
        return out;
      });
  },
});
const ports: EffectPorts = {
  gateway,
  notifier: new RecordingNotifier(),
  desk: new RecordingSupportDesk(),
  timers,
  ledger,
};
const ctx: WebhookContext = { deps, gateway: realGateway };

// --- helpers -------------------------------------------------------------------------------------

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `fn` on every item, at most `limit` at a time. */
async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function unwrap<T, E>(
  result: { isOk(): boolean; _unsafeUnwrap(): T; _unsafeUnwrapErr(): E },
  what: string,
): T {
  if (!result.isOk()) throw new Error(`${what}: ${JSON.stringify(result._unsafeUnwrapErr())}`);
  return result._unsafeUnwrap();
}

async function payment(id: string): Promise<HeldPayment> {
  const p = unwrap(await store.getHeldPayment(id), `read ${id}`);
  if (!p) throw new Error(`no held payment ${id}`);
  return p;
}

/** The platform's events newer than the last call, oldest first (as the adapters' e2e harness reads them). */
let cursor: string | undefined = (await stripe.events.list({ limit: 1 })).data[0]?.id;
async function nextEvents(): Promise<Stripe.Event[]> {
  const out: Stripe.Event[] = [];
  for (;;) {
    const page = await stripe.events.list({ limit: 100, ...(cursor ? { ending_before: cursor } : {}) });
    out.push(...[...page.data].reverse());
    const newest = page.data[0];
    if (newest) cursor = newest.id;
    if (!page.has_more || !newest) return out;
  }
}

/** The outbox, C dispatchers each claiming under its own lease, until none claims anything. */
let parked = 0;
async function dispatchAll(): Promise<number> {
  let total = 0;
  await Promise.all(
    Array.from({ length: C }, async (_, w) => {
      for (;;) {
        const report = unwrap(
          await useCases.dispatchOutbox(deps, ports, store, { workerId: `dispatcher_${w}`, limit: 10 }),
          "dispatch",
        );
        parked += report.parked;
        total += report.claimed;
        if (report.claimed === 0) return;
      }
    }),
  );
  return total;
}

/** When this process received each payment's checkout.session.completed, and when it was held. */
const completedAt = new Map<string, number>();
const heldAt = new Map<string, number>();
const outcomes = new Map<string, number>();

function heldPaymentIdOf(event: Stripe.Event): string | undefined {
  const object = event.data.object as { metadata?: Record<string, string> | null };
  return object.metadata?.held_payment_id;
}

/** New events through the webhook processor: payments in parallel, each payment's in order. */
async function processEvents(): Promise<number> {
  const events = await nextEvents();
  const receivedAt = performance.now();
  const groups = new Map<string, Stripe.Event[]>();
  for (const event of events) {
    const key = heldPaymentIdOf(event) ?? "_other";
    groups.set(key, [...(groups.get(key) ?? []), event]);
  }
  await pool([...groups], C, async ([key, group]) => {
    for (const event of group) {
      if (event.type === "checkout.session.completed" && !completedAt.has(key))
        completedAt.set(key, receivedAt);
      const outcome = unwrap(await processWebhookEvent(event, ctx), `${event.type} ${event.id}`);
      const label = `${event.type} ${outcome.status}`;
      outcomes.set(label, (outcomes.get(label) ?? 0) + 1);
    }
    if (completedAt.has(key) && !heldAt.has(key) && (await payment(key)).status === "held")
      heldAt.set(key, performance.now());
  });
  return events.length;
}

/** One pass of everything production runs: the dispatcher, the due timers, the webhooks. */
async function pass(): Promise<number> {
  const dispatched = await dispatchAll();
  const due = timers.takeDue(clock.now());
  await pool(due, C, async (t) => {
    unwrap(await useCases.applyTimer(deps, t), "applyTimer");
  });
  return dispatched + due.length + (await processEvents());
}

async function settle(): Promise<void> {
  for (let i = 0; i < 1000; i++) if ((await pass()) === 0) return;
  throw new Error("did not settle");
}

// --- sellers (not timed) ---------------------------------------------------------------------------

const sellers: string[] = [];
await pool(
  Array.from({ length: SELLERS }, (_, i) => i),
  C,
  async (i) => {
    const account = await stripe.accounts.create({
      type: "express",
      country: "AU",
      capabilities: { transfers: { requested: true } },
    });
    await control.completeAccountOnboarding(account.id);
    const person: Person = {
      id: `seller_${i}`,
      displayName: `Seller ${i}`,
      payout: { connectedAccountId: account.id, payoutsEnabled: true },
      createdAt: clock.now(),
      version: 0,
    };
    unwrap(
      await store.commit({
        people: [{ state: person, expectedVersion: undefined }],
        groups: [],
        rounds: [],
        outbox: [],
        audit: [],
      }),
      "seller",
    );
    sellers.push(person.id);
  },
);
await settle();

// --- 1. checkout creation ------------------------------------------------------------------------

const ids: string[] = [];
const checkoutStart = performance.now();
await pool(
  Array.from({ length: N }, (_, i) => i),
  C,
  async (i) => {
    const { payment: created } = unwrap(
      await useCases.createHeldPayment(deps, {
        requestedBy: "app_bookings",
        clientReference: `booking_${i}`,
        amountMinor: 100_00,
        currency: "AUD",
        sellerId: sellers[i % sellers.length] ?? "",
        description: `Two nights, booking ${i}`,
        customer: { email: "cy@example.com", name: "Cy" },
        fee: { kind: "rate", basisPoints: 1_000 },
        successUrl: "https://app.example/done",
      }),
      "createHeldPayment",
    );
    ids.push(created.id);
  },
);
await settle();
const checkoutMs = performance.now() - checkoutStart;
const sessions = new Map<string, string>();
await pool(ids, C, async (id) => {
  const p = await payment(id);
  if (p.status !== "awaiting_payment" || !p.checkoutSessionId) throw new Error(`${id} is ${p.status}`);
  sessions.set(id, p.checkoutSessionId);
});

// --- 2. payment → held ---------------------------------------------------------------------------

const heldStart = performance.now();
let paying = true;
const payers = pool(ids, C, async (id) => {
  await control.completeCheckoutSession(sessions.get(id) ?? "", { paymentMethod: "pm_card_visa" });
}).finally(() => {
  paying = false;
});
for (;;) {
  const work = await pass();
  if (!paying && work === 0 && heldAt.size === N) break;
  if (!paying && work === 0) {
    // Quiet with payments not yet seen held: one more pass proves it, or they never will be.
    if ((await pass()) === 0) break;
  }
  if (work === 0) await sleep(2);
}
await payers;
const heldMs = performance.now() - heldStart;

// --- 3. fulfilment, the window passes -------------------------------------------------------------

await pool(ids, C, async (id) => {
  unwrap(await useCases.confirmFulfilled(deps, id, "app_bookings"), `confirmFulfilled ${id}`);
});
await settle();
clock.advance(WINDOW + 1_000);
await control.advanceClock((WINDOW + 1_000) / 1000);
const windowEnd = performance.now();

// --- 4. release ----------------------------------------------------------------------------------

await settle();
const releaseMs = performance.now() - windowEnd;
const wallMs = performance.now() - checkoutStart;

// --- the check -----------------------------------------------------------------------------------

const problems: string[] = [];
let releasedCount = 0;
let oneTransfer = 0;
let emptyHolds = 0;
await pool(ids, C, async (id) => {
  const p = await payment(id);
  if (p.status === "released") releasedCount += 1;
  else problems.push(`${id} is ${p.status}`);
  const transfers = (await stripe.transfers.list({ transfer_group: p.transferGroup, limit: 10 })).data;
  if (transfers.length === 1 && transfers[0]?.amount === 90_00) oneTransfer += 1;
  else problems.push(`${id} has ${transfers.length} transfers at the emulator`);
  const hold = unwrap(await ledger.balance(heldAccounts.hold(id), "AUD"), "balance").amountMinor;
  if (hold === 0) emptyHolds += 1;
  else problems.push(`${id} hold holds ${hold}`);
});
const ledgerCheck = unwrap(await ledger.checkLedger(), "checkLedger");
if (!ledgerCheck.agrees) problems.push("the ledger disagrees with its postings");
if (parked > 0) problems.push(`${parked} effects parked`);

// --- the ceiling: the same Stripe calls straight through the SDK ----------------------------------

const CEILING_N = N;
const [ceilingSeller] = (await stripe.accounts.list({ limit: 1 })).data;
const ceilingStart = performance.now();
await pool(
  Array.from({ length: CEILING_N }, (_, i) => i),
  C,
  async (i) => {
    const group = `ceiling_${i}`;
    const session = await stripe.checkout.sessions.create({
      mode: "payment",
      line_items: [
        {
          quantity: 1,
          price_data: { currency: "aud", unit_amount: 100_00, product_data: { name: "Two nights" } },
        },
      ],
      payment_intent_data: { transfer_group: group },
      success_url: "https://app.example/done",
    });
    const paid = await control.completeCheckoutSession(session.id, { paymentMethod: "pm_card_visa" });
    const piId = typeof paid.payment_intent === "string" ? paid.payment_intent : paid.payment_intent?.id;
    const pi = await stripe.paymentIntents.retrieve(piId ?? "");
    const charge = typeof pi.latest_charge === "string" ? pi.latest_charge : pi.latest_charge?.id;
    await stripe.transfers.create({
      amount: 90_00,
      currency: "aud",
      destination: ceilingSeller?.id ?? "",
      source_transaction: charge ?? "",
      transfer_group: group,
    });
  },
);
const ceilingMs = performance.now() - ceilingStart;

// --- the table -----------------------------------------------------------------------------------

const loadAfter = loadavg();
function percentiles(samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
  return [0.5, 0.95, 0.99].map((q) => at(q).toFixed(0).padStart(7)).join(" ");
}
const toHeld = ids.flatMap((id) => {
  const c = completedAt.get(id);
  const h = heldAt.get(id);
  return c !== undefined && h !== undefined ? [h - c] : [];
});
const toRelease = ids.flatMap((id) => {
  const t = transferCreatedAt.get(id);
  return t !== undefined ? [t - windowEnd] : [];
});
const rate = (n: number, ms: number) => ((n * 1000) / ms).toFixed(1).padStart(8);
const cpu = cpus();

console.log(`machine: ${cpu.length} × ${cpu[0]?.model ?? "?"}, Node ${process.version}`);
console.log(`load average before: ${loadBefore.map((l) => l.toFixed(2)).join(" ")}`);
console.log(
  `held payments: ${N}, concurrency ${C}, ${SELLERS} sellers; emulator in its own process; wall time ${(wallMs / 1000).toFixed(1)} s (setup ${((checkoutStart - t0) / 1000).toFixed(1)} s before)`,
);
console.log("");
console.log("phase                        wall s  payments/s");
console.log(
  `checkout creation          ${(checkoutMs / 1000).toFixed(2).padStart(8)}  ${rate(N, checkoutMs)}`,
);
console.log(`payment → held             ${(heldMs / 1000).toFixed(2).padStart(8)}  ${rate(N, heldMs)}`);
console.log(`release (window end → all) ${(releaseMs / 1000).toFixed(2).padStart(8)}  ${rate(N, releaseMs)}`);
console.log(`whole (checkout → released)${(wallMs / 1000).toFixed(2).padStart(8)}  ${rate(N, wallMs)}`);
console.log(
  `ceiling: emulator, same calls via SDK ${(ceilingMs / 1000).toFixed(2)} s for ${CEILING_N}  ${rate(CEILING_N, ceilingMs)}  (session + pay + PI read + transfer)`,
);
console.log("");
console.log("latency ms                      n      p50     p95     p99");
console.log(`completion received → held  ${String(toHeld.length).padStart(5)}  ${percentiles(toHeld)}`);
console.log(`window end → transfer made  ${String(toRelease.length).padStart(5)}  ${percentiles(toRelease)}`);
console.log("");
console.log(`load average after: ${loadAfter.map((l) => l.toFixed(2)).join(" ")}`);
console.log(
  `check: ${releasedCount}/${N} released, ${oneTransfer}/${N} with exactly one transfer at the emulator, ${emptyHolds}/${N} holds empty, ledger ${ledgerCheck.agrees ? "agrees" : "DISAGREES"}, ${parked} parked → ${problems.length === 0 ? "OK" : "FAILED"}`,
);
for (const p of problems.slice(0, 10)) console.log(`  ${p}`);

await prisma.$disconnect();
await database.close();
emulatorProcess.kill("SIGTERM");
rmSync(pgDir, { recursive: true, force: true });
process.exit(problems.length === 0 ? 0 : 1);
