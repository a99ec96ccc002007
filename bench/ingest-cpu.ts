/**
 * CPU per webhook delivery in the API process: signed `POST /webhooks/stripe` sent by this
 * process over kept-alive connections (node:http, bodies signed before the timed phase, so
 * the sender costs little), the API run as production runs it (`apps/api/dist/main.js`;
 * build first), embedded PostgreSQL. Prints, per client count: events/s, p50/p99, and the
 * CPU ms per event of the API process and of PostgreSQL (from /proc), and the statements
 * PostgreSQL committed per event (`pg_stat_database.xact_commit`, approximate).
 *
 *   npx tsx bench/ingest-cpu.ts [--events 4000] [--clients 16,64]
 *
 * A measuring tool beside bench/webhooks.ts (which gives the goal's table): its figures are
 * the API's own cost per event, with the sender's kept out of the API's process.
 */
import { spawn } from "node:child_process";
import { openSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { signatureHeader } from "../packages/stripe-emulator/src/webhooks/signature.js";
import { keptAliveAgent } from "./http-agent.js";
import { embeddedPostgres } from "./seed.js";
import { exited, freePort, prismaOn, root, treeCpuMs, xactCommits } from "./stack.js";

const { values } = parseArgs({
  options: {
    events: { type: "string", default: "4000" },
    clients: { type: "string", default: "16,64" },
    log: { type: "string", default: join(tmpdir(), "susu-bench-ingest-cpu.log") },
    /** Extra Node options for the API, e.g. `--api-node-options="--cpu-prof --cpu-prof-dir=/tmp/p"`. */
    "api-node-options": { type: "string", default: "" },
  },
});
const EVENTS = Number(values.events);
const CLIENTS = values.clients
  .split(",")
  .filter((c) => c !== "")
  .map(Number);
const SECRET = "whsec_bench_ingest_cpu";
const loadBefore = loadavg();

const { dir: pgDir, database } = await embeddedPostgres("susu-ingest-cpu-", "susu_ingest_cpu");
const prisma = prismaOn(database.connectionString);
const port = await freePort();
const apiProcess = spawn(
  process.execPath,
  [...values["api-node-options"].split(" ").filter((o) => o !== ""), join(root, "apps/api/dist/main.js")],
  {
    env: {
      ...process.env,
      DATABASE_URL: database.connectionString,
      HOST: "127.0.0.1",
      PORT: String(port),
      LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
      SUSU_JWT_SECRET: "bench-secret-0123456789-abcdefghijklmnop",
      STRIPE_SECRET_KEY: "sk_test_bench",
      STRIPE_WEBHOOK_SECRET: SECRET,
      STRIPE_API_URL: "http://127.0.0.1:9",
    },
    stdio: ["ignore", openSync(values.log, "w"), openSync(values.log, "a"), "ipc"],
  },
);
await new Promise<void>((resolve, reject) => {
  apiProcess.on("message", (message: { type?: string }) => {
    if (message?.type === "susu:ready") resolve();
  });
  apiProcess.once("exit", (code) => reject(new Error(`the API exited (${code}); see ${values.log}`)));
});
const postmasterPid = Number(readFileSync(join(pgDir, "postmaster.pid"), "utf8").split("\n")[0]);

/** A PaymentIntent event about a held payment, of the size Stripe sends (~1.9 KB, pretty-printed as Stripe does). */
function eventBody(id: string, n: number): string {
  const created = Math.floor(Date.now() / 1000);
  const event = {
    id,
    object: "event",
    api_version: "2025-03-31.basil",
    created,
    livemode: false,
    pending_webhooks: 1,
    request: { id: `req_${n}`, idempotency_key: `held_${n}:payment` },
    type: n % 2 === 0 ? "payment_intent.succeeded" : "charge.succeeded",
    data: {
      object: {
        id: `pi_${n.toString(36).padStart(24, "0")}`,
        object: n % 2 === 0 ? "payment_intent" : "charge",
        amount: 12_500,
        amount_capturable: 0,
        amount_received: 12_500,
        capture_method: "automatic",
        client_secret: null,
        confirmation_method: "automatic",
        created,
        currency: "aud",
        customer: `cus_${n.toString(36).padStart(14, "0")}`,
        description: "Booking 2030-01-10, 2 guests",
        latest_charge: `ch_${n.toString(36).padStart(24, "0")}`,
        livemode: false,
        metadata: { susu_held_payment_id: `held_${n}`, susu_kind: "held_payment" },
        payment_method: `pm_${n.toString(36).padStart(24, "0")}`,
        payment_method_types: ["card"],
        status: "succeeded",
        transfer_group: `held_${n}`,
        shipping: null,
        statement_descriptor: null,
        on_behalf_of: null,
        application_fee_amount: 750,
        payment_method_options: { card: { request_three_d_secure: "automatic", installments: null } },
      },
    },
  };
  return JSON.stringify(event, null, 2);
}

// Idle sockets are closed before the API closes them (bench/http-agent.ts).
const agent = keptAliveAgent(512);
function post(body: string, signature: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        method: "POST",
        path: "/webhooks/stripe",
        agent,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          "stripe-signature": signature,
        },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", () => resolve(0));
    req.end(body);
  });
}

async function run(label: string, clients: number, count: number) {
  const bodies = Array.from({ length: count }, (_, i) => {
    const body = eventBody(`evt_${label}_${clients}_${i}`, i);
    return { body, signature: signatureHeader(SECRET, body, Math.floor(Date.now() / 1000)) };
  });
  const commitsBefore = await xactCommits(prisma);
  const apiBefore = treeCpuMs(apiProcess.pid);
  const pgBefore = treeCpuMs(postmasterPid);
  const latencies: number[] = [];
  let next = 0;
  let bad = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let i = next++; i < count; i = next++) {
        const item = bodies[i] as { body: string; signature: string };
        const t = performance.now();
        const status = await post(item.body, item.signature);
        latencies.push(performance.now() - t);
        if (status !== 200) bad++;
      }
    }),
  );
  const elapsed = performance.now() - started;
  const api_ = treeCpuMs(apiProcess.pid) - apiBefore;
  const pg = treeCpuMs(postmasterPid) - pgBefore;
  const commits = (await xactCommits(prisma)) - commitsBefore;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)] ?? NaN;
  return {
    clients,
    count,
    bad,
    perSecond: (count / elapsed) * 1000,
    p50: pct(0.5),
    p99: pct(0.99),
    api: api_ / count,
    pg: pg / count,
    commits: commits / count,
  };
}

await run("warm", 8, 1000);
const rows = [];
for (const clients of CLIENTS) rows.push(await run("timed", clients, EVENTS));
const cores = cpus();
console.log(
  `\nWebhook ingest CPU (bench/ingest-cpu.ts): ${EVENTS} events per row, bodies ~${eventBody("evt_x", 1).length} bytes. Machine: ${cores.length} CPUs, Node ${process.version}; load average before ${loadBefore.map((n) => n.toFixed(2)).join(" ")}, after ${loadavg()
    .map((n) => n.toFixed(2))
    .join(" ")} (shared machine: figures are upper bounds).\n`,
);
console.log(
  "| clients | events | non-200 | events/s | p50 ms | p99 ms | API CPU ms/event | PG CPU ms/event | commits/event |",
);
console.log(
  "| ------- | ------ | ------- | -------- | ------ | ------ | ---------------- | --------------- | ------------- |",
);
for (const r of rows)
  console.log(
    `| ${r.clients} | ${r.count} | ${r.bad} | ${r.perSecond.toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.api.toFixed(3)} | ${r.pg.toFixed(3)} | ${r.commits.toFixed(3)} |`,
  );

agent.destroy();
await prisma.$disconnect();
apiProcess.kill("SIGTERM");
await exited(apiProcess);
await database.close();
rmSync(pgDir, { recursive: true, force: true });
