// Idempotency-Key with Stripe's semantics, through app.request() with the in-memory store;
// the same contract and the concurrency cases on PostgreSQL are in idempotency.prisma.test.ts.
import { request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import {
  type AuthVariables,
  bearerAuth,
  canonicalJson,
  createTokenVerifier,
  defaultStorePolicy,
  type IdempotencyStore,
  InMemoryIdempotencyStore,
  idempotency,
  jsonBodies,
  mintToken,
  problemOnError,
  problemResponse,
  requestFingerprint,
  stringBodyOf,
} from "../../src/http/index.js";
import { idempotencyStoreContract } from "./idempotency-store.contract.js";
import { SECRET } from "./support.js";

const T = Date.UTC(2026, 5, 1, 12);

/** An app whose POST /v1/groups counts its executions and answers what the test asks. */
function idempotentApp(options: { store?: IdempotencyStore; now?: () => number; lockMs?: number } = {}) {
  const store = options.store ?? new InMemoryIdempotencyStore();
  let executions = 0;
  let answer: () => Response | Promise<Response> = () => new Response(null, { status: 500 });
  const app = new Hono<{ Variables: AuthVariables }>();
  app.use("*", jsonBodies());
  app.use("*", bearerAuth(createTokenVerifier({ sharedSecret: SECRET })));
  app.use(
    "*",
    idempotency({
      store,
      now: options.now ?? (() => T),
      ...(options.lockMs !== undefined ? { lockMs: options.lockMs } : {}),
    }),
  );
  app.post("/v1/groups", async (c) => {
    executions++;
    return c.json({ id: `grp_${executions}`, body: await c.req.json() }, 201, {
      location: `/v1/groups/grp_${executions}`,
    });
  });
  app.post("/v1/answer", async () => {
    executions++;
    return answer();
  });
  app.get("/v1/groups", (c) => c.json({ data: [] }));
  app.onError(problemOnError);
  return {
    app,
    store,
    executions: () => executions,
    answerWith: (f: () => Response | Promise<Response>) => {
      answer = f;
    },
  };
}

let tokens: Record<string, string> = {};
async function tokenOf(subject: string): Promise<string> {
  tokens[subject] ??= await mintToken({ subject, ttlSeconds: 3600 }, SECRET);
  return tokens[subject];
}
tokens = {};

async function post(
  app: Hono<{ Variables: AuthVariables }>,
  path: string,
  body: string | undefined,
  key: string | undefined,
  subject = "ana",
) {
  return app.request(path, {
    method: "POST",
    headers: {
      authorization: `Bearer ${await tokenOf(subject)}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...(key === undefined ? {} : { "idempotency-key": key }),
    },
    ...(body === undefined ? {} : { body }),
  });
}

/** Makes the app's answer wait until the returned function is called; then it answers 200. */
function answerWhenFinished(answerWith: (f: () => Promise<Response>) => void): () => void {
  let finish: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    finish = resolve;
  });
  answerWith(async () => {
    await gate;
    return Response.json({ ok: true }, { status: 200 });
  });
  return () => finish();
}

async function codeOf(res: Response): Promise<string> {
  return ((await res.json()) as { code: string }).code;
}

describe("Idempotency-Key", () => {
  it("stores the first response and replays it byte for byte with Idempotent-Replayed", async () => {
    const { app, executions } = idempotentApp();
    const first = await post(app, "/v1/groups", '{"name":"Friday","currency":"AUD"}', "key-1");
    expect(first.status).toBe(201);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    const firstBody = await first.text();
    // The same JSON in another key order and spacing is the same request.
    const again = await post(app, "/v1/groups", '{ "currency": "AUD", "name": "Friday" }', "key-1");
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.headers.get("location")).toBe("/v1/groups/grp_1");
    expect(again.headers.get("content-type")).toBe("application/json");
    expect(await again.text()).toBe(firstBody);
    expect(executions()).toBe(1);
  });

  it("refuses the same key with another body or path: 422 idempotency_key_reused", async () => {
    const { app, executions } = idempotentApp();
    await post(app, "/v1/groups", '{"name":"Friday"}', "key-2");
    const otherBody = await post(app, "/v1/groups", '{"name":"Saturday"}', "key-2");
    expect(otherBody.status).toBe(422);
    expect(otherBody.headers.get("content-type")).toBe("application/problem+json");
    expect(await codeOf(otherBody)).toBe("idempotency_key_reused");
    const otherPath = await post(app, "/v1/answer", '{"name":"Friday"}', "key-2");
    expect(otherPath.status).toBe(422);
    expect(executions()).toBe(1);
  });

  it("a key used with some roles neither replays nor runs for the same subject with others: 422 idempotency_key_reused; with the first roles it replays", async () => {
    const { app, executions } = idempotentApp();
    const as = async (roles: ("admin" | "member")[]) =>
      `Bearer ${await mintToken({ subject: "olga", roles, ttlSeconds: 3600 }, SECRET)}`;
    const send = async (roles: ("admin" | "member")[]) =>
      app.request("/v1/groups", {
        method: "POST",
        headers: {
          authorization: await as(roles),
          "content-type": "application/json",
          "idempotency-key": "k-roles",
        },
        body: '{"name":"Friday"}',
      });
    expect((await send(["admin", "member"])).status).toBe(201);
    const demoted = await send(["member"]);
    expect(demoted.status).toBe(422);
    expect(await codeOf(demoted)).toBe("idempotency_key_reused");
    expect(executions()).toBe(1);
    // The same roles in another order are the same caller.
    expect((await send(["member", "admin"])).headers.get("idempotent-replayed")).toBe("true");
    expect(executions()).toBe(1);
  });

  it("a key stored before the roles counted (its fingerprint without them) still replays to its caller until it expires", async () => {
    const store = new InMemoryIdempotencyStore();
    const legacy = requestFingerprint("POST", "/v1/groups", '{"name":"Friday"}');
    await store.begin(
      { scope: "ana", key: "k-old", method: "POST", path: "/v1/groups", requestHash: legacy },
      { nowMs: T, lockMs: 60_000, ttlMs: 24 * 3600_000, lockToken: "t" },
    );
    await store.complete(
      { scope: "ana", key: "k-old", lockToken: "t" },
      { status: 201, headers: { "content-type": "application/json" }, body: '{"id":"grp_old"}' },
    );
    const { app, executions } = idempotentApp({ store });
    const res = await post(app, "/v1/groups", '{"name":"Friday"}', "k-old");
    expect(res.headers.get("idempotent-replayed")).toBe("true");
    expect(await res.text()).toBe('{"id":"grp_old"}');
    expect(executions()).toBe(0);
  });

  it("scopes keys to the caller: another person's same key is their own", async () => {
    const { app, executions } = idempotentApp();
    await post(app, "/v1/groups", '{"name":"Friday"}', "shared-key", "ana");
    const ben = await post(app, "/v1/groups", '{"name":"Other"}', "shared-key", "ben");
    expect(ben.status).toBe(201);
    expect(ben.headers.get("idempotent-replayed")).toBeNull();
    expect(executions()).toBe(2);
  });

  it("answers 409 idempotency_key_in_use while the first request runs", async () => {
    const { app, answerWith, executions } = idempotentApp();
    const finish = answerWhenFinished(answerWith);
    const first = post(app, "/v1/answer", "{}", "slow");
    await expect.poll(executions).toBe(1);
    const second = await post(app, "/v1/answer", "{}", "slow");
    expect(second.status).toBe(409);
    expect(second.headers.get("retry-after")).toBe("1");
    expect(await codeOf(second)).toBe("idempotency_key_in_use");
    finish();
    expect((await first).status).toBe(200);
    expect((await post(app, "/v1/answer", "{}", "slow")).headers.get("idempotent-replayed")).toBe("true");
    expect(executions()).toBe(1);
  });

  it("renews the lock while the request runs: a retry with the same key after lockMs is 409, not a second run", async () => {
    let t = T;
    const { app, answerWith, executions } = idempotentApp({ now: () => t, lockMs: 90 });
    const finish = answerWhenFinished(answerWith);
    const first = post(app, "/v1/answer", "{}", "slow");
    await expect.poll(executions).toBe(1);
    // Past the first lock's end (within the renewals' 10 × lockMs): only a renewed lock holds the key.
    t = T + 500;
    await new Promise((resolve) => setTimeout(resolve, 150));
    const second = await post(app, "/v1/answer", "{}", "slow");
    expect(await codeOf(second)).toBe("idempotency_key_in_use");
    expect(executions()).toBe(1);
    finish();
    expect((await first).status).toBe(200);
    expect((await post(app, "/v1/answer", "{}", "slow")).headers.get("idempotent-replayed")).toBe("true");
    expect(executions()).toBe(1);
  });

  it("stops renewing a lock after 10 × lockMs (a hung handler's key frees as a crashed one's)", async () => {
    let t = T;
    const { app, answerWith, executions } = idempotentApp({ now: () => t, lockMs: 90 });
    answerWith(() => new Promise<Response>(() => undefined));
    void post(app, "/v1/answer", "{}", "hung");
    await expect.poll(executions).toBe(1);
    t = T + 10 * 90;
    await new Promise((resolve) => setTimeout(resolve, 150));
    t = T + 10 * 90 + 91;
    answerWith(() => Response.json({ ok: true }, { status: 200 }));
    expect((await post(app, "/v1/answer", "{}", "hung")).status).toBe(200);
    expect(executions()).toBe(2);
  });

  it("does not store 5xx: the same key runs again", async () => {
    const { app, answerWith, executions } = idempotentApp();
    answerWith(() => problemResponse(503, "storage_unavailable", "down"));
    expect((await post(app, "/v1/answer", "{}", "retry-me")).status).toBe(503);
    answerWith(() => Response.json({ ok: true }));
    const retried = await post(app, "/v1/answer", "{}", "retry-me");
    expect(retried.status).toBe(200);
    expect(retried.headers.get("idempotent-replayed")).toBeNull();
    expect(executions()).toBe(2);
  });

  it("does not store a thrown error: the key is released", async () => {
    const { app, answerWith, executions } = idempotentApp();
    answerWith(() => {
      throw new Error("bug");
    });
    expect((await post(app, "/v1/answer", "{}", "bug")).status).toBe(500);
    answerWith(() => Response.json({ ok: true }));
    expect((await post(app, "/v1/answer", "{}", "bug")).status).toBe(200);
    expect(executions()).toBe(2);
  });

  it("does not store validation failures (400, 422) so the client can fix the body under the same key", async () => {
    const { app, answerWith } = idempotentApp();
    answerWith(() => problemResponse(400, "invalid_request", "name is required"));
    expect((await post(app, "/v1/answer", '{"nme":"x"}', "fix-me")).status).toBe(400);
    answerWith(() => problemResponse(422, "invalid_amount", "amount must be positive"));
    expect((await post(app, "/v1/answer", '{"name":"x","amount":-1}', "fix-me")).status).toBe(422);
    answerWith(() => Response.json({ id: "g1" }, { status: 201 }));
    expect((await post(app, "/v1/answer", '{"name":"x","amount":1}', "fix-me")).status).toBe(201);
  });

  it("stores a 409 the use case decided, but not a version conflict", async () => {
    const { app, answerWith, executions } = idempotentApp();
    answerWith(() => problemResponse(409, "group_not_forming", "the group has started"));
    await post(app, "/v1/answer", "{}", "decided");
    const replay = await post(app, "/v1/answer", "{}", "decided");
    expect(replay.status).toBe(409);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(await codeOf(replay)).toBe("group_not_forming");
    answerWith(() => problemResponse(409, "version_conflict", "retry"));
    await post(app, "/v1/answer", "{}", "transient");
    answerWith(() => Response.json({ ok: true }));
    expect((await post(app, "/v1/answer", "{}", "transient")).status).toBe(200);
    expect(executions()).toBe(3);
  });

  it("replays a bodiless 204", async () => {
    const { app, answerWith } = idempotentApp();
    answerWith(() => new Response(null, { status: 204 }));
    await post(app, "/v1/answer", undefined, "empty");
    const replay = await post(app, "/v1/answer", undefined, "empty");
    expect(replay.status).toBe(204);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(await replay.text()).toBe("");
  });

  it("lets an expired key be used for a new request", async () => {
    let now = T;
    const { app, executions } = idempotentApp({ now: () => now });
    await post(app, "/v1/groups", '{"name":"Friday"}', "old-key");
    now = T + 24 * 3600_000;
    const reused = await post(app, "/v1/groups", '{"name":"Sunday"}', "old-key");
    expect(reused.status).toBe(201);
    expect(reused.headers.get("idempotent-replayed")).toBeNull();
    expect(executions()).toBe(2);
  });

  it("refuses keys that are empty, too long or not printable ASCII: 400 invalid_idempotency_key", async () => {
    const { app, executions } = idempotentApp();
    for (const key of ["x".repeat(256), "cl\u00e9", "tab\there", "bell\u0007"]) {
      const res = await post(app, "/v1/groups", "{}", key);
      expect(res.status, key).toBe(400);
      expect(await codeOf(res)).toBe("invalid_idempotency_key");
    }
    // An empty header value: Fetch keeps it as "", which is not a key.
    const empty = await app.request("/v1/groups", {
      method: "POST",
      headers: { authorization: `Bearer ${await tokenOf("ana")}`, "idempotency-key": "" },
    });
    expect(empty.status).toBe(400);
    expect((await post(app, "/v1/groups", "{}", "x".repeat(255))).status).toBe(201);
    expect(executions()).toBe(1);
  });

  it("leaves POSTs without a key and other methods alone", async () => {
    const { app, executions } = idempotentApp();
    await post(app, "/v1/groups", "{}", undefined);
    await post(app, "/v1/groups", "{}", undefined);
    expect(executions()).toBe(2);
    const list = await app.request("/v1/groups", {
      headers: { authorization: `Bearer ${await tokenOf("ana")}`, "idempotency-key": "ignored" },
    });
    expect(list.status).toBe(200);
  });

  it("can require a key", async () => {
    const app = new Hono<{ Variables: AuthVariables }>();
    app.use("*", bearerAuth(createTokenVerifier({ sharedSecret: SECRET })));
    app.use("*", idempotency({ store: new InMemoryIdempotencyStore(), required: true }));
    app.post("/v1/x", (c) => c.json({}));
    const res = await post(app, "/v1/x", "{}", undefined);
    expect(res.status).toBe(400);
    expect(await codeOf(res)).toBe("idempotency_key_required");
  });

  it("answers 503 when the store cannot be reached, running nothing", async () => {
    const broken: IdempotencyStore = {
      begin: () => Promise.reject(new Error("connection refused")),
      complete: () => Promise.reject(new Error("unreachable")),
      extend: () => Promise.reject(new Error("unreachable")),
      release: () => Promise.reject(new Error("unreachable")),
      deleteExpired: () => Promise.reject(new Error("unreachable")),
    };
    const { app, executions } = idempotentApp({ store: broken });
    const res = await post(app, "/v1/groups", "{}", "k");
    expect(res.status).toBe(503);
    expect(await codeOf(res)).toBe("storage_unavailable");
    expect(executions()).toBe(0);
  });

  it("needs bearerAuth before it", async () => {
    const app = new Hono();
    app.use("*", idempotency({ store: new InMemoryIdempotencyStore() }));
    app.post("/x", (c) => c.json({}));
    app.onError(problemOnError);
    const res = await app.request("/x", { method: "POST", headers: { "idempotency-key": "k" } });
    expect(res.status).toBe(500);
  });

  it("refuses a TTL under 24 hours", () => {
    expect(() => idempotency({ store: new InMemoryIdempotencyStore(), ttlMs: 3600_000 })).toThrow(RangeError);
  });
});

// As production serves it, over a socket through @hono/node-server (whose Response keeps
// the string a JSON answer was made from): what the client receives, first time and
// replayed, is the handler's answer exactly, JSON or not.
describe("Idempotency-Key over a socket", () => {
  interface Received {
    readonly status: number;
    readonly headers: Record<string, string | string[] | undefined>;
    readonly body: Buffer;
  }
  function send(port: number, path: string, key: string, body: string): Promise<Received> {
    return new Promise((resolve, reject) => {
      void tokenOf("ana").then((token) => {
        const req = httpRequest(
          {
            host: "127.0.0.1",
            port,
            method: "POST",
            path,
            agent: false,
            headers: {
              authorization: `Bearer ${token}`,
              "content-type": "application/json",
              "content-length": Buffer.byteLength(body),
              "idempotency-key": key,
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () =>
              resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
            );
          },
        );
        req.on("error", reject);
        req.end(body);
      }, reject);
    });
  }
  async function served(work: (port: number, h: ReturnType<typeof idempotentApp>) => Promise<void>) {
    const h = idempotentApp();
    const server = createAdaptorServer({ fetch: h.app.fetch });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      await work((server.address() as AddressInfo).port, h);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  it("sends a JSON answer whole with its headers, and replays the same bytes", async () => {
    await served(async (port, h) => {
      const body = JSON.stringify({ name: "Savers", note: "é ✓" });
      const first = await send(port, "/v1/groups", "k-json", body);
      expect(first.status).toBe(201);
      expect(first.headers.location).toBe("/v1/groups/grp_1");
      expect(first.headers["content-type"]).toMatch(/^application\/json/);
      expect(Number(first.headers["content-length"])).toBe(first.body.length);
      expect(JSON.parse(first.body.toString("utf8"))).toEqual({ id: "grp_1", body: JSON.parse(body) });
      const again = await send(port, "/v1/groups", "k-json", body);
      expect(again.status).toBe(201);
      expect(again.headers["idempotent-replayed"]).toBe("true");
      expect(again.headers.location).toBe("/v1/groups/grp_1");
      expect(again.body.equals(first.body)).toBe(true);
      expect(h.executions()).toBe(1);
    });
  });

  it("leaves a body that is not JSON as the handler made it", async () => {
    await served(async (port, h) => {
      const bytes = Uint8Array.from([0, 255, 128, 10, 13, 1]);
      h.answerWith(
        () => new Response(bytes, { status: 201, headers: { "content-type": "application/octet-stream" } }),
      );
      const first = await send(port, "/v1/answer", "k-bytes", "{}");
      expect(first.status).toBe(201);
      expect([...first.body]).toEqual([...bytes]);
      expect(h.executions()).toBe(1);
    });
  });

  it("sends a bodiless 204 without a body, and replays it", async () => {
    await served(async (port, h) => {
      h.answerWith(
        () => new Response(null, { status: 204, headers: { "content-type": "application/json" } }),
      );
      const first = await send(port, "/v1/answer", "k-204", "{}");
      expect(first.status).toBe(204);
      expect(first.body.length).toBe(0);
      const again = await send(port, "/v1/answer", "k-204", "{}");
      expect(again.status).toBe(204);
      expect(again.headers["idempotent-replayed"]).toBe("true");
      expect(h.executions()).toBe(1);
    });
  });
});

describe("stringBodyOf", () => {
  it("gives the string a @hono/node-server response holds, and nothing once its body was read", async () => {
    // The server puts its light Response in place of the global one when it is made.
    const server = createAdaptorServer({ fetch: () => new Response("x") });
    try {
      const text = JSON.stringify({ id: "grp_1", note: "é ✓" });
      const light = new Response(text, { status: 201, headers: { "content-type": "application/json" } });
      light.headers.set("x-request-id", "r1");
      expect(stringBodyOf(light)).toBe(text);
      expect(light.status).toBe(201);
      expect(await light.text()).toBe(text);
      // Read, it is a web Response now: the general way reads it.
      expect(stringBodyOf(light)).toBeUndefined();
      expect(stringBodyOf(new Response(Uint8Array.from([1, 2]), { status: 201 }))).toBeUndefined();
      expect(stringBodyOf(new Response(null, { status: 204 }))).toBeUndefined();
    } finally {
      server.close();
    }
  });

  it("gives nothing for a web Response", () => {
    const GlobalResponse = Object.getPrototypeOf(Response) as typeof Response;
    const web = GlobalResponse === Function.prototype ? new Response("{}") : new GlobalResponse("{}");
    expect(stringBodyOf(web)).toBeUndefined();
  });
});

describe("request fingerprints", () => {
  it("are the same for the same JSON in any key order, and differ by method, path, query and body", () => {
    const base = requestFingerprint("POST", "/v1/groups", '{"a":1,"b":{"d":[1,2],"c":null}}');
    expect(requestFingerprint("POST", "/v1/groups", '{"b":{"c":null,"d":[1,2]},"a":1.0}')).toBe(base);
    expect(requestFingerprint("POST", "/v1/groups", '{"a":1,"b":{"d":[2,1],"c":null}}')).not.toBe(base);
    expect(requestFingerprint("PUT", "/v1/groups", '{"a":1,"b":{"d":[1,2],"c":null}}')).not.toBe(base);
    expect(requestFingerprint("POST", "/v1/groups?x=1", '{"a":1,"b":{"d":[1,2],"c":null}}')).not.toBe(base);
    expect(requestFingerprint("POST", "/v1/groups", "not json")).not.toBe(
      requestFingerprint("POST", "/v1/groups", ""),
    );
    expect(canonicalJson({ b: 1, a: [{ d: 1, c: 2 }] })).toBe('{"a":[{"c":2,"d":1}],"b":1}');
    // The caller's roles count, in any order, and none is not the same as some.
    const withRoles = requestFingerprint("POST", "/v1/groups", "{}", ["member", "admin"]);
    expect(requestFingerprint("POST", "/v1/groups", "{}", ["admin", "member"])).toBe(withRoles);
    expect(requestFingerprint("POST", "/v1/groups", "{}", ["member"])).not.toBe(withRoles);
    expect(requestFingerprint("POST", "/v1/groups", "{}")).not.toBe(
      requestFingerprint("POST", "/v1/groups", "{}", []),
    );
  });

  it("store exactly the outcomes of executed requests", () => {
    const stores = (status: number, code?: string) => defaultStorePolicy({ status, code });
    expect([200, 201, 202, 204].map((s) => stores(s))).toEqual([true, true, true, true]);
    expect(stores(409, "member_exists")).toBe(true);
    expect(stores(409, "version_conflict")).toBe(false);
    // Work in flight at Stripe lands on its own: the same key may ask again once it has.
    expect(
      ["refund_in_flight", "release_in_flight", "transfers_pending", "payout_in_flight"].map((c) =>
        stores(409, c),
      ),
    ).toEqual([false, false, false, false]);
    expect(stores(409, "round_in_progress")).toBe(true);
    expect([400, 401, 403, 404, 413, 415, 422, 429, 500, 502, 503].map((s) => stores(s))).toEqual(
      Array(11).fill(false),
    );
  });
});

describe("InMemoryIdempotencyStore", () => {
  idempotencyStoreContract(() => new InMemoryIdempotencyStore());
});
