/**
 * Counts the statements each request kind of the bench's mix sends to PostgreSQL: the API
 * built in this process (as main.ts builds it, with rate limits and idempotency keys on
 * PostgreSQL) over embedded PostgreSQL, node-postgres' `Client.query` counted around
 * each request. A kind's first requests warm up (rate-limit leases, prepared statements);
 * the table shows the steady state (the median of the last requests) and each statement.
 *
 *   npx tsx bench/statements.ts [--requests 20]
 */
import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { parseArgs } from "node:util";
import pg from "pg";
import { createApp } from "../apps/api/src/app.js";
import { createContainer, TOKENS } from "../apps/api/src/container.js";
import { mintToken } from "../apps/api/src/http/auth.js";
import { readHttpConfig } from "../apps/api/src/http/config.js";
import { embeddedPostgres, seedOpenRounds } from "./seed.js";

const { values } = parseArgs({ options: { requests: { type: "string", default: "20" } } });
const REQUESTS = Number(values.requests);
const SECRET = "bench-secret-0123456789-abcdefghijklmnop";

const { dir: pgDir, database } = await embeddedPostgres("susu-statements-pg-", "susu_stmts");

// A round to read, made through the use cases with a clock of their own (as bench/api.ts does).
const roundAdmin = "stmt_round_admin";
const [roundId] = await seedOpenRounds(database.connectionString, [roundAdmin], "Round");

let sent: string[] = [];
const query = pg.Client.prototype.query as (...args: unknown[]) => unknown;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  const first = args[0] as string | { name?: string; text?: string };
  sent.push(
    typeof first === "string"
      ? first.trim().slice(0, 40)
      : (first.name ?? first.text?.trim().replace(/\s+/g, " ").slice(0, 40) ?? "?"),
  );
  return query.apply(this, args);
} as typeof pg.Client.prototype.query;

const container = createContainer({
  databaseUrl: database.connectionString,
  stripeWebhookSecret: "whsec_x",
  stripeSecretKey: "sk_test_x",
  stripeApiUrl: "http://127.0.0.1:9",
  http: readHttpConfig({
    SUSU_JWT_SECRET: SECRET,
    SUSU_RATE_LIMIT_PER_MINUTE: "1000000",
    SUSU_RATE_LIMIT_IP_PER_MINUTE: "1000000",
  }),
  logLevel: "silent",
});
const app = createApp(container.get(TOKENS.apiDeps));
const env = { incoming: { socket: { remoteAddress: "127.0.0.1" } } };
const call = async (method: string, path: string, subject: string, body?: unknown) => {
  const token = await mintToken({ subject, ttlSeconds: 3600 }, SECRET);
  const res = await app.request(
    path,
    {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined
          ? {}
          : { "content-type": "application/json", "idempotency-key": randomUUID() }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    },
    env,
  );
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as { id: string };
};
const newGroup = {
  name: "Savers",
  currency: "AUD",
  contributionMinor: 100_00,
  cadence: "weekly",
  payoutOrderMethod: "join_order",
  startsAt: new Date(Date.now() + 86_400_000).toISOString(),
  displayName: "Ana",
};
const owner = "stmt_owner";
const group = await call("POST", "/v1/groups", owner, newGroup);
let joiner = 0;
const kinds: Record<string, () => Promise<unknown>> = {
  "create group": () => call("POST", "/v1/groups", owner, newGroup),
  join: () =>
    call("POST", `/v1/groups/${group.id}/members`, `stmt_joiner_${++joiner}`, { displayName: "Ben" }),
  "read group": () => call("GET", `/v1/groups/${group.id}`, owner),
  "list rounds": () => call("GET", `/v1/groups/${group.id}/rounds`, owner),
  "read round": () => call("GET", `/v1/rounds/${roundId}`, roundAdmin),
};
console.log("| kind         | statements | each (the last request)");
console.log("| ------------ | ---------- | -----------------------");
for (const [kind, run] of Object.entries(kinds)) {
  const counts: number[] = [];
  let last: string[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    sent = [];
    await run();
    counts.push(sent.length);
    last = sent;
  }
  const sorted = [...counts].sort((a, b) => a - b);
  console.log(
    `| ${kind.padEnd(12)} | ${String(sorted[Math.floor(sorted.length / 2)]).padStart(10)} | ${last.join(", ")}`,
  );
}
await container.get(TOKENS.close)();
await database.close();
rmSync(pgDir, { recursive: true, force: true });
