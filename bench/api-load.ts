/**
 * The load generator of bench/api.ts, in a process of its own (forked by it), so the
 * requests it sends and the answers it reads do not share an event loop with the server
 * under test. It is told what to do over the IPC channel, one command at a time, and
 * answers each with one message; see {@link Command}.
 */
import { randomUUID } from "node:crypto";
import { request as httpRequest } from "node:http";
import { DAY_MS } from "@susu/domain";
import { mintToken } from "../apps/api/src/http/auth.js";
import { keptAliveAgent } from "./http-agent.js";

/** What bench/api.ts asks for. */
export type Command =
  | {
      readonly type: "setup";
      readonly apiPort: number;
      readonly barePort: number;
      readonly secret: string;
      readonly seedGroups: number;
      readonly rounds: readonly { readonly roundId: string; readonly token: string }[];
    }
  | {
      readonly type: "rate";
      readonly target: "api" | "bare";
      readonly rate: number;
      readonly seconds: number;
    }
  | { readonly type: "serial"; readonly kind: Kind; readonly count: number };

/** What this process answers. */
export type Reply =
  | { readonly type: "ready"; readonly routes: Readonly<Record<string, boolean>> }
  | {
      readonly type: "rate";
      /** Every request's, from its scheduled time to its answer (or its abandonment at 5 s). */
      readonly latencies: readonly number[];
      /** Those of the requests answered 2xx. */
      readonly okLatencies: readonly number[];
      readonly statuses: readonly (readonly [number, number])[];
      readonly errors: number;
      /** The answers that were the overload guard's refusals (503 `overloaded`), among the errors. */
      readonly overloaded: number;
      readonly elapsedMs: number;
    }
  | { readonly type: "serial"; readonly times: readonly number[]; readonly statuses: readonly number[] }
  | { readonly type: "failed"; readonly message: string };

export type Kind = "create group" | "join" | "read group" | "list rounds" | "read round";
export const MIX: readonly [Kind, number][] = [
  ["create group", 10],
  ["join", 10],
  ["read group", 40],
  ["list rounds", 20],
  ["read round", 20],
];

const TIMEOUT_MS = 5_000;
// Idle sockets are closed before the API closes them (bench/http-agent.ts).
const agent = keptAliveAgent(512);

interface HttpReply {
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
): Promise<HttpReply> {
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

const newGroup = (displayName: string) => ({
  name: "Bench savers",
  currency: "AUD",
  contributionMinor: 100_00,
  cadence: "weekly",
  startsAt: new Date(Date.now() + 30 * DAY_MS).toISOString(),
  payoutOrderMethod: "join_order",
  displayName,
});

const pick = (i: number): Kind => {
  // A fixed interleaving (not random), so every rate sends the same mix.
  let slot = (i * 37) % 100;
  for (const [kind, weight] of MIX) {
    if (slot < weight) return kind;
    slot -= weight;
  }
  return "read group";
};

let setup: Extract<Command, { type: "setup" }> | undefined;
let routes = { join: false, listRounds: false, readRound: false };
const people: { id: string; token: string; groupId: string }[] = [];
let joiners = 0;
// Joiners' tokens are minted before each run: a client holds its token already.
const joinerTokens: string[] = [];

async function mintJoiners(requests: number): Promise<void> {
  const secret = (setup as NonNullable<typeof setup>).secret;
  const needed = joiners + Math.ceil(requests / 10) + 10;
  while (joinerTokens.length < needed)
    joinerTokens.push(
      await mintToken({ subject: `bench_joiner_${joinerTokens.length + 1}`, ttlSeconds: 3600 }, secret),
    );
}

async function doSetup(command: Extract<Command, { type: "setup" }>): Promise<Reply> {
  setup = command;
  const doc = JSON.parse((await send(command.apiPort, "GET", "/v1/openapi.json")).body) as {
    paths: Record<string, Record<string, unknown>>;
  };
  const has = (method: string, path: string) => doc.paths[path]?.[method] !== undefined;
  routes = {
    join: has("post", "/v1/groups/{groupId}/members"),
    listRounds: has("get", "/v1/groups/{groupId}/rounds"),
    readRound: has("get", "/v1/rounds/{roundId}"),
  };
  for (let i = 0; i < command.seedGroups; i++) {
    const id = `bench_${i}`;
    const token = await mintToken({ subject: id, ttlSeconds: 3600 }, command.secret);
    const created = await send(command.apiPort, "POST", "/v1/groups", token, newGroup(`Person ${i}`), {
      "idempotency-key": randomUUID(),
    });
    if (created.status !== 201) throw new Error(`seeding failed: ${created.status} ${created.body}`);
    people.push({ id, token, groupId: (JSON.parse(created.body) as { id: string }).id });
  }
  return { type: "ready", routes };
}

/** A request's answer: its status, and whether it was the overload guard's refusal (503 `overloaded`). */
interface Answer {
  readonly status: number;
  readonly overloaded: boolean;
}

function answerOf(reply: { readonly status: number; readonly body: string }): Answer {
  return {
    status: reply.status,
    overloaded: reply.status === 503 && reply.body.includes('"code":"overloaded"'),
  };
}

async function apiRequest(i: number, kind: Kind = pick(i), n = i): Promise<Answer> {
  const { apiPort: port, rounds } = setup as NonNullable<typeof setup>;
  const person = people[n % people.length] as (typeof people)[number];
  const readGroup = async () =>
    answerOf(await send(port, "GET", `/v1/groups/${person.groupId}`, person.token));
  switch (kind) {
    case "create group":
      return answerOf(
        await send(port, "POST", "/v1/groups", person.token, newGroup("Bench"), {
          "idempotency-key": randomUUID(),
        }),
      );
    case "join": {
      if (!routes.join) return readGroup();
      const joiner = ++joiners;
      // Spread over the groups by joiner, so no group reaches its member limit.
      const group = people[joiner % people.length] as (typeof people)[number];
      const token =
        joinerTokens[joiner - 1] ??
        (await mintToken(
          { subject: `bench_joiner_${joiner}`, ttlSeconds: 3600 },
          (setup as NonNullable<typeof setup>).secret,
        ));
      return answerOf(
        await send(
          port,
          "POST",
          `/v1/groups/${group.groupId}/members`,
          token,
          { displayName: "Joiner" },
          { "idempotency-key": randomUUID() },
        ),
      );
    }
    case "read group":
      return readGroup();
    case "list rounds":
      return routes.listRounds
        ? answerOf(await send(port, "GET", `/v1/groups/${person.groupId}/rounds`, person.token))
        : answerOf(await send(port, "GET", "/v1/groups?limit=10", person.token));
    case "read round": {
      const round = rounds[n % rounds.length] as (typeof rounds)[number];
      return routes.readRound
        ? answerOf(await send(port, "GET", `/v1/rounds/${round.roundId}`, round.token))
        : readGroup();
    }
  }
}

/** Sends rate × seconds requests at fixed intervals (open loop) and waits for the last answer. */
async function runAtRate(command: Extract<Command, { type: "rate" }>): Promise<Reply> {
  const { barePort } = setup as NonNullable<typeof setup>;
  const one =
    command.target === "api"
      ? (i: number) => apiRequest(i)
      : async () => answerOf(await send(barePort, "GET", "/v1/groups/grp_1"));
  const total = Math.round(command.rate * command.seconds);
  await mintJoiners(total);
  const interval = 1000 / command.rate;
  const latencies: number[] = [];
  const okLatencies: number[] = [];
  const statuses = new Map<number, number>();
  let errors = 0;
  let overloaded = 0;
  const inFlight: Promise<void>[] = [];
  const t0 = performance.now() + 20;
  let i = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (i < total && t0 + i * interval <= now) {
        // Latency counts from the scheduled time, so a slow server cannot slow the load
        // down and hide its own queueing (coordinated omission).
        const scheduled = t0 + i * interval;
        inFlight.push(
          one(i).then(({ status, overloaded: refused }) => {
            if (refused) overloaded++;
            const latency = performance.now() - scheduled;
            latencies.push(latency);
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
            if (status < 200 || status >= 300) errors++;
            else okLatencies.push(latency);
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
  return {
    type: "rate",
    latencies,
    okLatencies,
    statuses: [...statuses],
    errors,
    overloaded,
    elapsedMs: performance.now() - t0,
  };
}

/** `count` requests of one kind, one at a time: service time with no queueing. */
async function serial(command: Extract<Command, { type: "serial" }>): Promise<Reply> {
  await mintJoiners(command.count * 10);
  const index = [...Array(100).keys()].find((i) => pick(i) === command.kind) ?? 0;
  const times: number[] = [];
  const statuses: number[] = [];
  for (let n = 0; n < command.count; n++) {
    const t = performance.now();
    statuses.push((await apiRequest(index + n * 100, command.kind, n)).status);
    times.push(performance.now() - t);
  }
  return { type: "serial", times, statuses };
}

process.on("message", (command: Command) => {
  const work =
    command.type === "setup"
      ? doSetup(command)
      : command.type === "rate"
        ? runAtRate(command)
        : serial(command);
  work.then(
    (reply) => process.send?.(reply),
    (error: unknown) =>
      process.send?.({ type: "failed", message: error instanceof Error ? error.message : String(error) }),
  );
});
process.on("disconnect", () => {
  agent.destroy();
  process.exit(0);
});
