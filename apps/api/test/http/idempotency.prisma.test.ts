// Idempotency keys on PostgreSQL through the API's middleware: the store contract, and
// concurrent requests with one key on two API instances (own Prisma clients, one database).
import { createPrismaClient, type PrismaClient, PrismaIdempotencyStore } from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AuthVariables,
  bearerAuth,
  createTokenVerifier,
  type IdempotencyStore,
  idempotency,
  jsonBodies,
  mintToken,
  problemOnError,
  requestFingerprint,
} from "../../src/http/index.js";
import { idempotencyStoreContract } from "./idempotency-store.contract.js";
import { SECRET } from "./support.js";

const db = useTestDatabase();

describe("PrismaIdempotencyStore (the API's contract)", () => {
  // Compile-time: the adapter satisfies the API's port.
  idempotencyStoreContract((): IdempotencyStore => new PrismaIdempotencyStore(db.prisma));
});

describe("one key, concurrent requests, two API instances", () => {
  let otherClient: PrismaClient;
  let executions = 0;
  let release: () => void = () => undefined;
  let gate: Promise<void> = Promise.resolve();
  let token: string;

  const instance = (prisma: PrismaClient) => {
    const app = new Hono<{ Variables: AuthVariables }>();
    app.use("*", jsonBodies());
    app.use("*", bearerAuth(createTokenVerifier({ sharedSecret: SECRET })));
    app.use("*", idempotency({ store: new PrismaIdempotencyStore(prisma) }));
    app.post("/v1/groups", async (c) => {
      executions++;
      const id = `grp_${executions}`;
      await gate;
      return c.json({ id, name: ((await c.req.json()) as { name: string }).name }, 201, {
        location: `/v1/groups/${id}`,
      });
    });
    app.onError(problemOnError);
    return app;
  };

  beforeAll(async () => {
    otherClient = createPrismaClient(db.connectionString, { maxConnections: 4 });
    token = await mintToken({ subject: "ana", ttlSeconds: 3600 }, SECRET);
  });
  afterAll(async () => {
    await otherClient.$disconnect();
  });

  const send = (app: Hono<{ Variables: AuthVariables }>, key: string, name = "Friday") =>
    app.request("/v1/groups", {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        "idempotency-key": key,
      },
      body: JSON.stringify({ name }),
    });

  it("runs exactly one of them; the others get 409 while it runs and its response after", async () => {
    const a = instance(db.prisma);
    const b = instance(otherClient);
    executions = 0;
    gate = new Promise((resolve) => {
      release = resolve;
    });
    let answered = 0;
    const racing = Array.from({ length: 8 }, (_, i) =>
      Promise.resolve(send(i % 2 === 0 ? a : b, "race-key")).then((res) => {
        answered++;
        return res;
      }),
    );
    // The executing request waits at the gate: every other one must answer without it.
    await expect.poll(() => answered, { timeout: 10_000 }).toBe(7);
    release();
    const responses = await Promise.all(racing);
    expect(executions).toBe(1);
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
    const winner = responses.find((r) => r.status === 201);
    const winnerBody = await winner?.text();
    for (const app of [a, b]) {
      const replay = await send(app, "race-key");
      expect(replay.status).toBe(201);
      expect(replay.headers.get("idempotent-replayed")).toBe("true");
      expect(replay.headers.get("location")).toBe("/v1/groups/grp_1");
      expect(await replay.text()).toBe(winnerBody);
    }
    const mismatch = await send(b, "race-key", "Saturday");
    expect(mismatch.status).toBe(422);
    expect(executions).toBe(1);
    const row = await db.prisma.idempotencyKey.findUniqueOrThrow({
      where: { scope_key: { scope: "ana", key: "race-key" } },
    });
    expect(row).toMatchObject({
      status: "completed",
      responseStatus: 201,
      requestMethod: "POST",
      requestPath: "/v1/groups",
    });
  });

  it("unlocks a crashed request's key after the lock time, for the same request only", async () => {
    const store = new PrismaIdempotencyStore(db.prisma);
    const now = Date.now();
    // A process took the key for this very request 61 s ago and died before answering.
    await store.begin(
      {
        scope: "ana",
        key: "crash-key",
        method: "POST",
        path: "/v1/groups",
        requestHash: requestFingerprint("POST", "/v1/groups", JSON.stringify({ name: "Friday" })),
      },
      { nowMs: now - 61_000, lockMs: 60_000, ttlMs: 24 * 3600_000, lockToken: "dead-process" },
    );
    executions = 0;
    gate = Promise.resolve();
    const app = instance(otherClient);
    expect((await send(app, "crash-key", "Saturday")).status).toBe(422);
    const retried = await send(app, "crash-key");
    expect(retried.status).toBe(201);
    expect(retried.headers.get("idempotent-replayed")).toBeNull();
    expect(executions).toBe(1);
  });
});
