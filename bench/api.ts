/**
 * Benchmark of the HTTP API under a steady mixed load at fixed arrival rates.
 *
 *   npx tsx bench/api.ts [--rates 100,300,500] [--seconds 10] [--log /tmp/susu-bench-api.log]
 *
 * Starts an embedded PostgreSQL (a throw-away data folder) and migrates it, then serves the
 * API in this process on a free loopback port with everything a real deployment runs: JWT
 * auth (HS256), Idempotency-Key storage on every POST, rate limits in PostgreSQL (set high so
 * they count but never refuse), request logs (to a file) and metrics. It mints tokens, seeds
 * groups (some with an open round) and sends, per rate, an open-loop mix: requests leave at
 * fixed intervals whatever the answers, and latency is measured from each request's
 * scheduled time, so a slow server cannot slow the load down and hide its own queueing
 * (coordinated omission). The mix uses the routes the OpenAPI document has, falling back to
 * reads: create a group 10%, join 10%, read a group 40%, list rounds 20%, read a round 20%.
 * The same rates against a bare Hono handler on the same machine, in the same run, give the
 * ceiling. Everything is bounded: rates × seconds requests, each abandoned (and counted as
 * an error, status 0) 5 s after it was sent. `--rate-limits off` and `--log off` show what
 * those two cost.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createAdaptorServer } from "@hono/node-server";
import {
  applyMigrations,
  createPrismaClient,
  PrismaIdempotencyStore,
  PrismaRateLimitStore,
  PrismaStore,
  PrismaWebhookInbox,
  RandomIds,
  resolveDatabaseUrl,
  SystemClock,
} from "@susu/adapters";
import { DAY_MS, type UseCaseDeps, useCases } from "@susu/domain";
import { FakePaymentGateway, ManualClock } from "@susu/domain/testing";
import { Hono } from "hono";
import pino from "pino";
import { createApp } from "../apps/api/src/app.js";
import { createTokenVerifier, mintToken } from "../apps/api/src/http/auth.js";
import { clientIpResolver } from "../apps/api/src/http/client-ip.js";
import { readHttpConfig } from "../apps/api/src/http/config.js";
import { createHttpMetrics } from "../apps/api/src/http/metrics.js";
import { createLogger } from "../apps/api/src/http/request-log.js";

const { values } = parseArgs({
  options: {
    rates: { type: "string", default: "100,300,500" },
    seconds: { type: "string", default: "10" },
    log: { type: "string", default: join(tmpdir(), "susu-bench-api.log") },
    "rate-limits": { type: "string", default: "on" },
  },
});
const RATES = values.rates.split(",").map(Number);
const SECONDS = Number(values.seconds);
const SEED_GROUPS = 40;
const SECRET = "bench-secret-0123456789-abcdefghijklmnop";
const TIMEOUT_MS = 5_000;

// --- the system under test ---------------------------------------------------------------

const pgDir = mkdtempSync(join(tmpdir(), "susu-bench-pg-"));
const database = await resolveDatabaseUrl({
  env: { SUSU_PG_DATA_DIR: pgDir },
  embeddedDatabase: "susu_bench",
});
await applyMigrations(database.connectionString);
const prisma = createPrismaClient(database.connectionString);
const store = new PrismaStore(prisma);
const clock = new SystemClock();
const deps: UseCaseDeps = {
  people: store,
  groups: store,
  rounds: store,
  uow: store,
  audit: store,
  clock,
  ids: new RandomIds(),
};
const logDestination = pino.destination({
  dest: values.log === "off" ? "/dev/null" : values.log,
  sync: false,
});
const app = createApp({
  useCases: deps,
  gateway: new FakePaymentGateway(() => clock.now()),
  ping: async () => {
    await prisma.$queryRaw`SELECT 1`;
  },
  webhooks: { stripeSecret: "whsec_bench", inbox: new PrismaWebhookInbox(prisma, clock) },
  http: {
    config: readHttpConfig({
      SUSU_JWT_SECRET: SECRET,
      // High enough never to refuse, so they cost what they cost without changing the answers.
      SUSU_RATE_LIMIT_PER_MINUTE: values["rate-limits"] === "off" ? "0" : "1000000",
      SUSU_RATE_LIMIT_IP_PER_MINUTE: values["rate-limits"] === "off" ? "0" : "1000000",
    }),
    logger: createLogger({ level: "info", destination: logDestination }),
    metrics: createHttpMetrics({ defaultMetrics: false }),
    verifier: createTokenVerifier({ sharedSecret: SECRET }),
    idempotencyStore: new PrismaIdempotencyStore(prisma),
    rateLimitStore: new PrismaRateLimitStore(prisma),
    clientIp: clientIpResolver(),
  },
});
const api = await listen(app.fetch);

// The ceiling: a bare Hono app answering a small JSON document, no middleware.
const bare = new Hono();
bare.all("*", (c) => c.json({ id: "grp_1", name: "Friday savers", status: "forming" }));
const ceiling = await listen(bare.fetch);

function listen(fetch: (request: Request) => Response | Promise<Response>) {
  const server = createAdaptorServer({ fetch });
  return new Promise<{ port: number; close: () => Promise<void> }>((resolve) => {
    server.listen(0, "127.0.0.1", () =>
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () => new Promise<void>((r) => server.close(() => r())),
      }),
    );
  });
}

// --- the client ------------------------------------------------------------------------------

const agent = new Agent({ keepAlive: true, maxSockets: 512 });

interface Answer {
  readonly status: number;
  readonly body: string;
}

/** One request over a kept-alive loopback connection; status 0 for a network error or timeout. */
function send(
  port: number,
  method: string,
  path: string,
  token?: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve) => {
    const req = httpRequest(
      {
        host: "127.0.0.1",
        port,
        method,
        path,
        agent,
        // From the moment it is sent, queueing for a socket included: the run stays bounded.
        signal: AbortSignal.timeout(TIMEOUT_MS),
        headers: {
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
          ...(payload === undefined
            ? {}
            : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on("error", () => resolve({ status: 0, body: "" }));
      },
    );
    req.on("error", () => resolve({ status: 0, body: "" }));
    req.end(payload);
  });
}

// --- seeding ---------------------------------------------------------------------------------

const doc = JSON.parse((await send(api.port, "GET", "/v1/openapi.json")).body) as {
  paths: Record<string, Record<string, unknown>>;
};
const has = (method: string, path: string) => doc.paths[path]?.[method] !== undefined;
const routes = {
  join: has("post", "/v1/groups/{groupId}/members"),
  listRounds: has("get", "/v1/groups/{groupId}/rounds"),
  readRound: has("get", "/v1/rounds/{roundId}"),
};

const newGroup = (displayName: string) => ({
  name: "Bench savers",
  currency: "AUD",
  contributionMinor: 100_00,
  cadence: "weekly",
  startsAt: new Date(Date.now() + 30 * DAY_MS).toISOString(),
  payoutOrderMethod: "join_order",
  displayName,
});

const people: { id: string; token: string; groupId: string }[] = [];
for (let i = 0; i < SEED_GROUPS; i++) {
  const id = `bench_${i}`;
  const token = await mintToken({ subject: id, ttlSeconds: 3600 }, SECRET);
  const created = await send(api.port, "POST", "/v1/groups", token, newGroup(`Person ${i}`), {
    "idempotency-key": randomUUID(),
  });
  if (created.status !== 201) throw new Error(`seeding failed: ${created.status} ${created.body}`);
  people.push({ id, token, groupId: (JSON.parse(created.body) as { id: string }).id });
}

// Rounds to read: a few groups made ready and started through the use cases (with a clock
// of their own at the groups' start), as the scheduler and Stripe's webhooks would.
const rounds: { roundId: string; token: string }[] = [];
{
  const seedClock = new ManualClock(Date.now());
  const seedDeps: UseCaseDeps = { ...deps, clock: seedClock };
  for (let i = 0; i < 5; i++) {
    const admin = `bench_round_${i}`;
    const group = (
      await useCases.createGroup(seedDeps, {
        ...newGroup("Ana"),
        startsAt: seedClock.now() + DAY_MS,
        name: "Bench round",
        creator: { id: admin, displayName: "Ana" },
      } as never)
    )._unsafeUnwrap();
    (await useCases.joinGroup(seedDeps, group.id, { id: `${admin}_b`, displayName: "Ben" }))._unsafeUnwrap();
    for (const person of [admin, `${admin}_b`]) {
      (
        await useCases.updatePersonPayment(
          seedDeps,
          person,
          {
            customerId: `cus_${person}`,
            debit: { paymentMethodId: `pm_${person}`, mandateId: `mandate_${person}`, mandateActive: true },
            connectedAccountId: `acct_${person}`,
          },
          "stripe",
        )
      )._unsafeUnwrap();
      (
        await useCases.updatePersonReadiness(seedDeps, person, { payoutsEnabled: true }, "stripe")
      )._unsafeUnwrap();
    }
    (await useCases.activateGroup(seedDeps, group.id, admin))._unsafeUnwrap();
    seedClock.advance(DAY_MS);
    const opened = (await useCases.startRound(seedDeps, group.id, { memberId: admin }))._unsafeUnwrap();
    rounds.push({
      roundId: opened.state.id,
      token: await mintToken({ subject: admin, ttlSeconds: 3600 }, SECRET),
    });
  }
}

// --- the load ---------------------------------------------------------------------------------

type Kind = "create group" | "join" | "read group" | "list rounds" | "read round";
const MIX: readonly [Kind, number][] = [
  ["create group", 10],
  ["join", 10],
  ["read group", 40],
  ["list rounds", 20],
  ["read round", 20],
];
const pick = (i: number): Kind => {
  // A fixed interleaving (not random), so every rate sends the same mix.
  let slot = (i * 37) % 100;
  for (const [kind, weight] of MIX) {
    if (slot < weight) return kind;
    slot -= weight;
  }
  return "read group";
};

let joiners = 0;
// Joiners' tokens are minted before each run (a client holds its token already; minting
// one per request spent the load generator's CPU, on the core the server shares).
const joinerTokens: string[] = [];
async function mintJoiners(requests: number): Promise<void> {
  const needed = joiners + Math.ceil(requests / 10) + 10;
  while (joinerTokens.length < needed)
    joinerTokens.push(
      await mintToken({ subject: `bench_joiner_${joinerTokens.length + 1}`, ttlSeconds: 3600 }, SECRET),
    );
}
async function apiRequest(i: number): Promise<number> {
  const person = people[i % people.length] as (typeof people)[number];
  const kind = pick(i);
  switch (kind) {
    case "create group":
      return (
        await send(api.port, "POST", "/v1/groups", person.token, newGroup("Bench"), {
          "idempotency-key": randomUUID(),
        })
      ).status;
    case "join":
      if (routes.join) {
        const joiner = ++joiners;
        const token =
          joinerTokens[joiner - 1] ??
          (await mintToken({ subject: `bench_joiner_${joiner}`, ttlSeconds: 3600 }, SECRET));
        return (
          await send(
            api.port,
            "POST",
            `/v1/groups/${person.groupId}/members`,
            token,
            { displayName: "Joiner" },
            {
              "idempotency-key": randomUUID(),
            },
          )
        ).status;
      }
      return (await send(api.port, "GET", `/v1/groups/${person.groupId}`, person.token)).status;
    case "read group":
      return (await send(api.port, "GET", `/v1/groups/${person.groupId}`, person.token)).status;
    case "list rounds":
      return routes.listRounds
        ? (await send(api.port, "GET", `/v1/groups/${person.groupId}/rounds`, person.token)).status
        : (await send(api.port, "GET", "/v1/groups?limit=10", person.token)).status;
    case "read round": {
      const round = rounds[i % rounds.length] as (typeof rounds)[number];
      return routes.readRound
        ? (await send(api.port, "GET", `/v1/rounds/${round.roundId}`, round.token)).status
        : (await send(api.port, "GET", `/v1/groups/${person.groupId}`, person.token)).status;
    }
  }
}

interface Run {
  readonly target: string;
  readonly rate: number;
  readonly latencies: number[];
  readonly errors: number;
  readonly statuses: Map<number, number>;
  readonly elapsedMs: number;
}

/** Sends rate × SECONDS requests at fixed intervals (open loop) and waits for the last answer. */
async function runAtRate(target: string, rate: number, one: (i: number) => Promise<number>): Promise<Run> {
  const total = Math.round(rate * SECONDS);
  await mintJoiners(total);
  const interval = 1000 / rate;
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  let errors = 0;
  const inFlight: Promise<void>[] = [];
  const t0 = performance.now() + 20;
  let i = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (i < total && t0 + i * interval <= now) {
        const scheduled = t0 + i * interval;
        inFlight.push(
          one(i).then((status) => {
            latencies.push(performance.now() - scheduled);
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
            if (status < 200 || status >= 300) errors++;
          }),
        );
        i++;
      }
      if (i < total) setTimeout(tick, Math.max(0, t0 + i * interval - performance.now()));
      else resolve();
    };
    tick();
  });
  await Promise.all(inFlight);
  return { target, rate, latencies, errors, statuses, elapsedMs: performance.now() - t0 };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

const loadBefore = loadavg()
  .map((l) => l.toFixed(2))
  .join(" ");
const results: Run[] = [];
// Warm-up: JIT, connection pools, prepared statements (not reported).
await runAtRate("warm-up", 50, apiRequest);
// Service time, one request at a time: what each kind costs with no queueing, and the CPU
// the process spends per request (server and client together), which bounds the rate.
const serviceTimes: string[] = [];
await mintJoiners(200);
for (const kind of ["read group", "create group"] as const) {
  const index = [...Array(100).keys()].find((i) => pick(i) === kind) ?? 0;
  const times: number[] = [];
  const cpuBefore = process.cpuUsage();
  for (let n = 0; n < 100; n++) {
    const t = performance.now();
    await apiRequest(index + n * 100);
    times.push(performance.now() - t);
  }
  const cpu = process.cpuUsage(cpuBefore);
  times.sort((a, b) => a - b);
  serviceTimes.push(
    `${kind}: p50 ${percentile(times, 50).toFixed(1)} ms, ${((cpu.user + cpu.system) / 1000 / 100).toFixed(1)} ms CPU each`,
  );
}
for (const rate of RATES) {
  results.push(await runAtRate("susu API", rate, apiRequest));
  results.push(
    await runAtRate(
      "bare Hono",
      rate,
      async () => (await send(ceiling.port, "GET", "/v1/groups/grp_1")).status,
    ),
  );
}

const ms = (n: number) => n.toFixed(1).padStart(8);
console.log(
  `\nAPI benchmark: open loop, ${SECONDS} s per rate, loopback, one process (server and client share ${process.platform} CPU).`,
);
console.log(
  `Mix: ${MIX.map(([k, w]) => `${k} ${w}%`).join(", ")}; routes present: ${Object.entries(routes)
    .map(([k, v]) => `${k}=${v ? "yes" : "no (read instead)"}`)
    .join(", ")}.`,
);
if ((loadavg()[0] ?? 0) > cpus().length)
  console.log(
    `WARNING: the machine was busy (load average ${loadBefore} on ${cpus().length} CPUs): other work competed with this run, so these latencies are upper bounds.`,
  );
console.log(
  `Auth (HS256), idempotency keys on PostgreSQL, rate limits on PostgreSQL: ${values["rate-limits"]}, request logs: ${values.log}. ${cpus().length} CPUs, load average before the run ${loadBefore}.\n`,
);
console.log(
  "| target    | rate/s | sent  | achieved/s | p50 ms   | p95 ms   | p99 ms   | max ms   | errors |",
);
console.log(
  "| --------- | ------ | ----- | ---------- | -------- | -------- | -------- | -------- | ------ |",
);
for (const r of results) {
  const sorted = [...r.latencies].sort((a, b) => a - b);
  console.log(
    `| ${r.target.padEnd(9)} | ${String(r.rate).padStart(6)} | ${String(r.latencies.length).padStart(5)} | ${(
      (r.latencies.length / r.elapsedMs) *
      1000
    )
      .toFixed(0)
      .padStart(
        10,
      )} | ${ms(percentile(sorted, 50))} | ${ms(percentile(sorted, 95))} | ${ms(percentile(sorted, 99))} | ${ms(
      sorted.at(-1) ?? Number.NaN,
    )} | ${String(r.errors).padStart(6)} |`,
  );
}
console.log(`\nOne at a time — ${serviceTimes.join("; ")}.`);
const statusLines = results
  .filter((r) => r.target === "susu API")
  .map((r) => `${r.rate}/s: ${[...r.statuses].map(([s, n]) => `${s}×${n}`).join(" ")}`);
console.log(`\nsusu API statuses — ${statusLines.join("; ")}`);

agent.destroy();
await api.close();
await ceiling.close();
logDestination.flushSync();
await prisma.$disconnect();
await database.close();
rmSync(pgDir, { recursive: true, force: true });
