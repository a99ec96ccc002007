/**
 * Benchmark of the Stripe emulator through the official SDK.
 *
 *   npx tsx bench/stripe-emulator.ts [--requests 4000] [--concurrency 1,16,64] [--in-process]
 *
 * The emulator runs in its own process by default (so the SDK's own cost does not count
 * against it) and its CPU time is read from /proc, giving how busy it was and the rate one
 * emulator core sustains ("per core"), next to the rate this client achieved. On a small
 * machine the SDK client is usually the bottleneck: see "emulator CPU %".
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type Stripe from "stripe";
import { createStripeClient, startEmulator } from "../packages/stripe-emulator/src/index.js";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "4000" },
    concurrency: { type: "string", default: "1,16,64" },
    "in-process": { type: "boolean", default: false },
  },
});
const REQUESTS = Number(values.requests);
const CONCURRENCY = values.concurrency.split(",").map(Number);
const here = dirname(fileURLToPath(import.meta.url));

interface Target {
  url: string;
  pid: number | null;
  stop(): Promise<void>;
}

async function startTarget(): Promise<Target> {
  if (values["in-process"]) {
    const emu = await startEmulator({ port: 0, fees: false });
    return { url: emu.url, pid: null, stop: emu.stop };
  }
  const cli = join(here, "../packages/stripe-emulator/src/cli.ts");
  // Resolved here so the emulator starts the same from any working directory.
  const tsx = import.meta.resolve("tsx");
  const child: ChildProcess = spawn(process.execPath, ["--import", tsx, cli, "--port", "0", "--quiet"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buffer = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      const line = buffer.split("\n").find((l) => l.includes("stripe emulator ready"));
      if (line) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.once("exit", (code) => reject(new Error(`emulator exited with ${code}`)));
  });
  return {
    url,
    pid: child.pid ?? null,
    stop: async () => {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    },
  };
}

/** CPU seconds (user + system) used so far by a process, from /proc (Linux). */
function cpuSeconds(pid: number | null): number | null {
  try {
    const stat = readFileSync(`/proc/${pid ?? "self"}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

type Scenario = { name: string; requestsPerOp: number; op: (stripe: Stripe, i: number) => Promise<unknown> };

const scenarios: Scenario[] = [
  {
    name: "create PaymentIntent",
    requestsPerOp: 1,
    op: (s, i) => s.paymentIntents.create({ amount: 1000 + (i % 100), currency: "aud" }),
  },
  {
    name: "create+confirm (card, one call)",
    requestsPerOp: 1,
    op: (s, i) =>
      s.paymentIntents.create({
        amount: 1000 + (i % 100),
        currency: "aud",
        payment_method: "pm_card_visa",
        confirm: true,
      }),
  },
  {
    name: "create, then confirm (card)",
    requestsPerOp: 2,
    op: async (s, i) => {
      const pi = await s.paymentIntents.create({ amount: 1000 + (i % 100), currency: "aud" });
      return s.paymentIntents.confirm(pi.id, { payment_method: "pm_card_visa" });
    },
  },
  {
    name: "create+confirm (BECS debit)",
    requestsPerOp: 1,
    op: (s, i) =>
      s.paymentIntents.create({
        amount: 1000 + (i % 100),
        currency: "aud",
        payment_method_types: ["au_becs_debit"],
        payment_method_data: {
          type: "au_becs_debit",
          au_becs_debit: { bsb_number: "000000", account_number: "000123456" },
          billing_details: { name: "Bench", email: "bench@example.com" },
        },
        mandate_data: {
          customer_acceptance: { type: "online", online: { ip_address: "127.0.0.1", user_agent: "bench" } },
        },
        confirm: true,
      }),
  },
];

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function run(stripe: Stripe, target: Target, scenario: Scenario, concurrency: number) {
  const ops = Math.max(concurrency, Math.floor(REQUESTS / scenario.requestsPerOp));
  const latencies: number[] = [];
  let next = 0;
  const cpuBefore = cpuSeconds(target.pid);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < ops) {
        const i = next++;
        const t0 = performance.now();
        await scenario.op(stripe, i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpuAfter = cpuSeconds(target.pid);
  latencies.sort((a, b) => a - b);
  const requests = ops * scenario.requestsPerOp;
  const cpu = cpuBefore !== null && cpuAfter !== null && target.pid !== null ? cpuAfter - cpuBefore : null;
  return {
    scenario: scenario.name,
    concurrency,
    requests,
    "req/s": Math.round(requests / seconds),
    "p50 ms": Number(percentile(latencies, 50).toFixed(2)),
    "p99 ms": Number(percentile(latencies, 99).toFixed(2)),
    // Below 100% the client, not the emulator, set the pace.
    "emulator CPU %": cpu !== null ? Math.round((cpu / seconds) * 100) : "n/a",
    "emulator req/s per core": cpu && cpu > 0 ? Math.round(requests / cpu) : "n/a",
  };
}

const target = await startTarget();
const stripe = createStripeClient(target.url, { maxNetworkRetries: 0 });
// Warm up both sides (JIT, sockets) before measuring.
for (let i = 0; i < 300; i++) await scenarios[1]!.op(stripe, i);
const rows = [];
for (const scenario of scenarios) {
  for (const concurrency of CONCURRENCY) rows.push(await run(stripe, target, scenario, concurrency));
}
await target.stop();
console.log(
  `stripe emulator benchmark (${values["in-process"] ? "in-process" : "separate process"}, node ${process.version})`,
);
console.table(rows);
