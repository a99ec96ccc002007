import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import {
  BatchingWebhookIngest,
  createPrismaClient,
  mayHoldUnstorable,
  PrismaStore,
  PrismaWebhookInbox,
  WEBHOOK_JSON_DEPTH_MAX,
  type WebhookInbox,
} from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import { storageError, useCaseDepsOn } from "@susu/domain";
import { FakePaymentGateway, ManualClock, SequentialIds } from "@susu/domain/testing";
import { errAsync, okAsync } from "neverthrow";
import { Registry } from "prom-client";
import Stripe from "stripe";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app.js";
import { createOverloadGuard } from "../src/http/overload.js";
import { createLogger } from "../src/http/request-log.js";
import type { WebhookRouteDeps } from "../src/routes/webhooks.js";
import { testHttp } from "./support/app.js";

const db = useTestDatabase();
const secret = "whsec_api_route_test";
let seq = 0;

/** The use cases on the test database (PrismaStore), as the API runs them. */
const useCasesOnDatabase = () =>
  useCaseDepsOn(new PrismaStore(db.prisma), { clock: new ManualClock(), ids: new SequentialIds() });

/** The database's own ping, as the API's readiness check makes it. */
const ping = async () => {
  await db.prisma.$queryRaw`SELECT 1`;
};

function appWith(webhooks: Partial<WebhookRouteDeps> = {}) {
  return createApp({
    useCases: useCasesOnDatabase(),
    ping,
    webhooks: { stripeSecret: secret, inbox: new PrismaWebhookInbox(db.prisma), ...webhooks },
    http: testHttp({ prisma: db.prisma }),
    // Never reaches Stripe: nothing tested here calls the gateway (the fake only fills the port).
    gateway: new FakePaymentGateway(() => Date.now()),
  });
}

let app: ReturnType<typeof createApp>;
beforeAll(() => {
  app = appWith();
});

/** A debit's event (kept at ingest: a processor must work it) unless `type` says otherwise. */
function eventBody(type = "payment_intent.processing"): { id: string; body: string } {
  seq += 1;
  const id = `evt_api_${Date.now().toString(36)}_${seq}`;
  const body = JSON.stringify({
    id,
    object: "event",
    api_version: "2026-08-26.dahlia",
    created: Math.floor(Date.now() / 1000),
    data: {
      object: {
        id: `pi_${seq}`,
        object: "payment_intent",
        status: "processing",
        metadata: { group_id: "grp_api", round_id: `round_api_${seq}`, member_id: "ana", attempt: "1" },
      },
    },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
  });
  return { id, body };
}

const sign = (body: string, options: { secret?: string; timestamp?: number } = {}) =>
  Stripe.webhooks.generateTestHeaderString({
    payload: body,
    secret: options.secret ?? secret,
    ...(options.timestamp !== undefined ? { timestamp: options.timestamp } : {}),
  });

function deliver(body: string, signature: string | undefined, target = app) {
  return target.request("/webhooks/stripe", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(signature !== undefined ? { "stripe-signature": signature } : {}),
    },
    body,
  });
}

const stored = (id: string) => db.prisma.webhookEvent.count({ where: { id } });

describe("POST /webhooks/stripe", () => {
  it("stores a correctly signed event and answers 200 {received: true}", async () => {
    const { id, body } = eventBody();
    const response = await deliver(body, sign(body));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ received: true });
    expect(await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id } })).toMatchObject({
      type: "payment_intent.processing",
      status: "received",
      attempts: 0,
    });
  });

  it("answers 200 to a repeated delivery and keeps one row, also when the deliveries race", async () => {
    const { id, body } = eventBody();
    const header = sign(body);
    expect((await deliver(body, header)).status).toBe(200);
    expect((await deliver(body, header)).status).toBe(200);
    const racing = eventBody();
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => deliver(racing.body, sign(racing.body))),
    );
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(await stored(id)).toBe(1);
    expect(await stored(racing.id)).toBe(1);
  });

  /** A signed-to-be `customer.updated` event about `customer`, with a fresh id. */
  function customerUpdated(kind: string, customer: Record<string, unknown>) {
    seq += 1;
    const id = `evt_api_${kind}_${Date.now().toString(36)}_${seq}`;
    const body = JSON.stringify({
      id,
      object: "event",
      api_version: "2026-08-26.dahlia",
      created: Math.floor(Date.now() / 1000),
      data: { object: { object: "customer", ...customer } },
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type: "customer.updated",
    });
    return { id, body };
  }

  it("stores a signed event carrying a NUL character (PostgreSQL cannot), with U+FFFD in its place", async () => {
    const { id, body } = customerUpdated("nul", {
      id: "cus_nul",
      name: "Ana\u0000B",
      metadata: { "k\u0000": "v" },
    });
    expect(body).toContain("\\u0000");
    const response = await deliver(body, sign(body));
    expect(response.status).toBe(200);
    const row = await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id } });
    expect(row.payload).toMatchObject({
      data: { object: { name: "Ana\ufffdB", metadata: { "k\ufffd": "v" } } },
    });
  });

  it("stores a signed event carrying a lone UTF-16 surrogate escape (PostgreSQL's jsonb cannot), with U+FFFD in its place", async () => {
    // JSON.stringify escapes a lone surrogate as \ud83d; a pair (an emoji) is kept as it is.
    const { id, body } = customerUpdated("surrogate", {
      id: "cus_surrogate",
      name: "Ana\ud83d B \ud83d\ude00",
      metadata: { "k\udc00": "v" },
    });
    expect(body).toContain("\\ud83d");
    const response = await deliver(body, sign(body));
    expect(response.status).toBe(200);
    const row = await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id } });
    expect(row.payload).toMatchObject({
      data: { object: { name: "Ana\ufffd B \ud83d\ude00", metadata: { "k\ufffd": "v" } } },
    });
  });

  it("stores an event of a type susu does not know as ignored at once (no processor will claim it)", async () => {
    const { id, body } = eventBody("issuing_card.created");
    expect((await deliver(body, sign(body))).status).toBe(200);
    expect(await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id } })).toMatchObject({
      status: "ignored",
      outcome: "not handled: no susu flow listens to this event type",
    });
  });

  it("refuses a bad signature with a 400 problem and a stable code, storing nothing", async () => {
    const cases: { name: string; body: string; header: string | undefined; code: string; id: string }[] = [];
    const a = eventBody();
    cases.push({ name: "no header", body: a.body, header: undefined, code: "signature_missing", id: a.id });
    const b = eventBody();
    cases.push({
      name: "another secret",
      body: b.body,
      header: sign(b.body, { secret: "whsec_other" }),
      code: "signature_invalid",
      id: b.id,
    });
    const c = eventBody();
    cases.push({
      name: "changed body",
      body: c.body.replace('"livemode":false', '"livemode":true'),
      header: sign(c.body),
      code: "signature_invalid",
      id: c.id,
    });
    const d = eventBody();
    cases.push({
      name: "too old",
      body: d.body,
      header: sign(d.body, { timestamp: Math.floor(Date.now() / 1000) - 301 }),
      code: "signature_expired",
      id: d.id,
    });
    const e = { id: "not_an_event", body: '{"hello":"world"}' };
    cases.push({
      name: "not an event",
      body: e.body,
      header: sign(e.body),
      code: "payload_invalid",
      id: e.id,
    });

    for (const k of cases) {
      const response = await deliver(k.body, k.header);
      expect(response.status, k.name).toBe(400);
      expect(response.headers.get("content-type")).toBe("application/problem+json");
      const problem = (await response.json()) as { code: string; status: number; type: string };
      expect(problem, k.name).toMatchObject({
        code: k.code,
        status: 400,
        type: `https://susu.dev/problems/${k.code}`,
      });
      expect(await stored(k.id), k.name).toBe(0);
    }
  });

  it("answers 503 when the inbox cannot store the event, so Stripe delivers it again", async () => {
    const down: Pick<WebhookInbox, "receive"> = {
      receive: () => errAsync(storageError.unavailable("webhook receive: database error (P1001)")),
    };
    const { body } = eventBody();
    const response = await deliver(body, sign(body), appWith({ inbox: down }));
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ code: "inbox_unavailable" });
  });

  it("refuses bodies over the size limit with 413", async () => {
    const body = JSON.stringify({ padding: "x".repeat(1024 * 1024 + 1) });
    const response = await deliver(body, sign(body));
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ code: "payload_too_large" });
  });

  it("refuses a chunked body (no Content-Length) over the size limit with 413, counting as it reads", async () => {
    const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 1024 * 1024 + 64 * 1024) controller.close();
        else {
          sent += chunk.length;
          controller.enqueue(chunk);
        }
      },
    });
    const response = await app.request("/webhooks/stripe", {
      method: "POST",
      headers: { "content-type": "application/json", "stripe-signature": "t=1,v1=00" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({
      code: "payload_too_large",
      detail: "webhook bodies are limited to 1048576 bytes",
    });
  });

  it("hands the store the signed text beside the event when the event is exactly its parse, and never with a NUL replaced", async () => {
    const calls: { event: Stripe.Event; rawBody: string | undefined }[] = [];
    const recording = appWith({
      inbox: {
        receive: (event: Stripe.Event, rawBody?: string) => {
          calls.push({ event, rawBody });
          return okAsync("stored" as const);
        },
      },
    });
    const plain = eventBody();
    expect((await deliver(plain.body, sign(plain.body), recording)).status).toBe(200);
    const nul = plain.body.replace('"processing"', '"proc\\u0000essing"');
    expect(nul).toContain("\\u0000");
    expect((await deliver(nul, sign(nul), recording)).status).toBe(200);
    expect(calls).toHaveLength(2);
    expect(calls[0]?.rawBody).toBe(plain.body);
    expect(calls[0]?.event).toEqual(JSON.parse(plain.body));
    expect(calls[1]?.rawBody).toBeUndefined();
    expect(calls[1]?.event.data.object).toMatchObject({ status: "proc\ufffdessing" });
  });

  it("mayHoldUnstorable: JSON text holds a NUL or a lone surrogate only as an escape (an escaped backslash before one is a harmless yes)", () => {
    expect(mayHoldUnstorable(JSON.stringify({ name: "Ana\u0000B" }))).toBe(true);
    expect(mayHoldUnstorable(JSON.stringify({ "k\u0000": 1 }))).toBe(true);
    expect(mayHoldUnstorable(JSON.stringify({ name: "Ana", other: "\u0001\u001f" }))).toBe(false);
    expect(mayHoldUnstorable(JSON.stringify({ text: "\\u0000" }))).toBe(true);
    expect(mayHoldUnstorable(JSON.stringify({ name: "Ana\ud83d" }))).toBe(true);
    expect(mayHoldUnstorable(JSON.stringify({ name: "Ana\udc00" }))).toBe(true);
    // A pair is written as the character itself (UTF-8), not escaped: no walk.
    expect(mayHoldUnstorable(JSON.stringify({ name: "Ana \ud83d\ude00" }))).toBe(false);
  });

  it("refuses to start with an empty secret", () => {
    expect(() => appWith({ stripeSecret: "" })).toThrow(RangeError);
  });
});

describe("several signing secrets (platform and Connect endpoints)", () => {
  it("accepts an event signed with any configured secret, and refuses others", async () => {
    const two = appWith({ stripeSecret: `whsec_platform_one, ${secret}` });
    const { body } = eventBody();
    const ok = await deliver(body, sign(body), two);
    expect(ok.status).toBe(200);
    const refused = await deliver(body, sign(body, { secret: "whsec_someone_else" }), two);
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ code: "signature_invalid" });
    // The first secret's verdict is reported: an old signature by it is expired, whatever the second says.
    const old = await deliver(
      body,
      sign(body, { secret: "whsec_platform_one", timestamp: Math.floor(Date.now() / 1000) - 3600 }),
      two,
    );
    expect(old.status).toBe(400);
    expect(await old.json()).toMatchObject({ code: "signature_expired" });
  });
});

describe("POST /webhooks/stripe with grouped commits (BatchingWebhookIngest, as the API runs)", () => {
  it("answers every concurrent delivery 200 once stored, repeats included, with one row per event", async () => {
    const batched = appWith({
      inbox: new BatchingWebhookIngest(db.prisma, undefined, { maxBatch: 8, maxWaitMs: 5 }),
    });
    const events = Array.from({ length: 20 }, () => eventBody());
    const deliveries = [...events, ...events.slice(0, 5)].map(async ({ id, body }) => {
      const response = await deliver(body, sign(body), batched);
      // Durable when acknowledged.
      return { status: response.status, rows: await stored(id) };
    });
    const answers = await Promise.all(deliveries);
    expect(answers.every((a) => a.status === 200 && a.rows === 1)).toBe(true);
  });

  it("stores the signed text as the payload (pretty-printed as Stripe sends it), and a NUL-bearing event with U+FFFD", async () => {
    const batched = appWith({
      inbox: new BatchingWebhookIngest(db.prisma, undefined, { maxBatch: 8, maxWaitMs: 5 }),
    });
    const plain = eventBody();
    const pretty = JSON.stringify(JSON.parse(plain.body), null, 2);
    const nul = eventBody();
    const withNul = nul.body.replace('"processing"', '"proc\\u0000essing"');
    const answers = await Promise.all([
      deliver(pretty, sign(pretty), batched),
      deliver(withNul, sign(withNul), batched),
    ]);
    expect(answers.map((r) => r.status)).toEqual([200, 200]);
    const rows = await db.prisma.webhookEvent.findMany({ where: { id: { in: [plain.id, nul.id] } } });
    const payloadOf = (id: string) => rows.find((r) => r.id === id)?.payload;
    expect(payloadOf(plain.id)).toEqual(JSON.parse(plain.body));
    expect(payloadOf(nul.id)).toEqual(JSON.parse(nul.body.replace('"processing"', '"proc\\ufffdessing"')));
  });

  it("answers 503 overloaded while too many events wait to be stored; those are stored when Stripe delivers again", async () => {
    const registry = new Registry();
    const overload = createOverloadGuard({ maxInFlight: 0 }, { registry });
    const ingest = new BatchingWebhookIngest(db.prisma, undefined, {
      maxBatch: 1,
      maxWaitMs: 0,
      maxInFlight: 1,
      maxWaiting: 2,
    });
    const crowded = createApp({
      useCases: useCasesOnDatabase(),
      ping,
      webhooks: {
        stripeSecret: secret,
        inbox: ingest,
        overload,
      },
      http: testHttp({ prisma: db.prisma }),
      // Never reaches Stripe: nothing tested here calls the gateway (the fake only fills the port).
      gateway: new FakePaymentGateway(() => Date.now()),
    });
    // Sent together: one is written, two wait, the rest find the backlog full.
    const events = Array.from({ length: 8 }, () => eventBody());
    const responses = await Promise.all(events.map(({ body }) => deliver(body, sign(body), crowded)));
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 503, 503, 503, 503, 503]);
    const refused = responses[3]!;
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(refused.headers.get("content-type")).toBe("application/problem+json");
    expect(await refused.json()).toMatchObject({ status: 503, code: "overloaded" });
    expect(await Promise.all(events.map(({ id }) => stored(id)))).toEqual([1, 1, 1, 0, 0, 0, 0, 0]);
    expect(await registry.getSingleMetricAsString("susu_http_requests_shed_total")).toContain(
      'susu_http_requests_shed_total{reason="webhook_backlog"} 5',
    );
    // A forged delivery keeps its 400 however full the backlog.
    const { body } = eventBody();
    expect((await deliver(body, "t=1,v1=forged", crowded)).status).toBe(400);
    // Stripe's next attempt finds room.
    for (const { id, body } of events.slice(3)) {
      expect((await deliver(body, sign(body), crowded)).status).toBe(200);
      expect(await stored(id)).toBe(1);
    }
  });

  it("answers 503 to every delivery of a batch the database could not store, and stores none", async () => {
    const gone = createPrismaClient("postgresql://susu:susu@127.0.0.1:1/susu", { maxConnections: 1 });
    try {
      const down = appWith({
        inbox: new BatchingWebhookIngest(gone, undefined, { maxBatch: 8, maxWaitMs: 5 }),
      });
      const events = Array.from({ length: 4 }, () => eventBody());
      const responses = await Promise.all(events.map(({ body }) => deliver(body, sign(body), down)));
      expect(responses.map((r) => r.status)).toEqual([503, 503, 503, 503]);
      expect(await responses[0]!.json()).toMatchObject({ code: "inbox_unavailable" });
      for (const { id } of events) expect(await stored(id)).toBe(0);
    } finally {
      await gone.$disconnect();
    }
  });
});

// Signed deliveries Stripe itself would not send, but that a holder of the secret can: an event
// that can never be stored must be answered 4xx (a 5xx is retried by Stripe for days and pages
// someone), and none may crash the route (a 500).
describe("POST /webhooks/stripe: signed events that can never be stored", () => {
  /** A signed-to-be event with `created` and the `deep` placeholder of its object as given. */
  function unusualEvent(kind: string, options: { created?: unknown; deep?: string; id?: string } = {}) {
    seq += 1;
    const id = options.id ?? `evt_api_${kind}_${Date.now().toString(36)}_${seq}`;
    const text = JSON.stringify({
      id,
      object: "event",
      api_version: "2026-08-26.dahlia",
      created: options.created ?? Math.floor(Date.now() / 1000),
      data: { object: { object: "customer", id: `cus_${kind}_${seq}`, nested: "__DEEP__" } },
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type: "customer.updated",
    });
    // The event, data and data.object are three levels: `deep` adds its own below them.
    return { id, body: text.replace('"__DEEP__"', options.deep ?? "null") };
  }
  const arraysDeep = (n: number, inner = "0") => `${"[".repeat(n)}${inner}${"]".repeat(n)}`;
  const objectsDeep = (n: number, inner = "0") => `${'{"a":'.repeat(n)}${inner}${"}".repeat(n)}`;
  // As the API runs: the signed text is kept as the payload when nothing had to be replaced.
  const batchedApp = () =>
    appWith({ inbox: new BatchingWebhookIngest(db.prisma, undefined, { maxBatch: 8, maxWaitMs: 5 }) });

  async function expectRefused(response: Response, code: string, name: string) {
    expect(response.status, name).toBe(400);
    expect(response.headers.get("content-type"), name).toBe("application/problem+json");
    expect(await response.json(), name).toMatchObject({ status: 400, code });
  }

  it("refuses a `created` that is not whole seconds PostgreSQL and a JS Date can hold as payload_invalid, storing nothing", async () => {
    for (const target of [app, batchedApp()])
      for (const created of [99999999999999, 253402300800, -1, 1.5, 1e300]) {
        const { id, body } = unusualEvent("created", { created });
        await expectRefused(await deliver(body, sign(body), target), "payload_invalid", `created ${created}`);
        expect(await stored(id), `created ${created}`).toBe(0);
      }
    // The last second of year 9999 and the epoch are still taken.
    for (const created of [253402300799, 0]) {
      const { id, body } = unusualEvent("created_ok", { created });
      expect((await deliver(body, sign(body), batchedApp())).status, `created ${created}`).toBe(200);
      expect(await stored(id)).toBe(1);
    }
  });

  it("refuses an event nested deeper than WEBHOOK_JSON_DEPTH_MAX as payload_invalid (100,000 arrays, 50,000 objects), storing nothing", async () => {
    expect(WEBHOOK_JSON_DEPTH_MAX).toBe(64);
    const cases = [
      { name: "100,000 arrays", deep: arraysDeep(100_000) },
      { name: "50,000 objects", deep: objectsDeep(50_000) },
      { name: "one level too deep", deep: arraysDeep(WEBHOOK_JSON_DEPTH_MAX - 2) },
      // JSON.parse walks without recursion: the largest body taken, all nesting, still parses.
      { name: "a body of nothing but nesting", deep: arraysDeep(500_000 - 200) },
    ];
    for (const target of [app, batchedApp()])
      for (const { name, deep } of cases) {
        const { id, body } = unusualEvent("deep", { deep });
        await expectRefused(await deliver(body, sign(body), target), "payload_invalid", name);
        expect(await stored(id), name).toBe(0);
      }
    // Exactly at the limit, it is stored.
    const { id, body } = unusualEvent("deep_ok", { deep: objectsDeep(WEBHOOK_JSON_DEPTH_MAX - 3) });
    expect((await deliver(body, sign(body), batchedApp())).status).toBe(200);
    expect(await stored(id)).toBe(1);
  });

  it("refuses a NUL-bearing event nested 50,000 deep as payload_invalid, not a 500", async () => {
    for (const target of [app, batchedApp()]) {
      const { id, body } = unusualEvent("nul_deep", { deep: objectsDeep(50_000, '"x\\u0000y"') });
      await expectRefused(await deliver(body, sign(body), target), "payload_invalid", "nul deep");
      expect(await stored(id)).toBe(0);
    }
  });

  it("answers an event the database refuses (an id longer than its index holds: SQLSTATE 54000) 400 event_unstorable, and stores the others of its batch", async () => {
    const batched = batchedApp();
    // Random hex does not compress: the primary key's index entry would exceed its 2,704 bytes.
    const { id, body } = unusualEvent("long_id", { id: `evt_${randomBytes(4000).toString("hex")}` });
    const others = [eventBody(), eventBody()];
    const [refused, ...answers] = await Promise.all(
      [{ id, body }, ...others].map((e) => deliver(e.body, sign(e.body), batched)),
    );
    await expectRefused(refused as Response, "event_unstorable", "long id");
    expect(answers.map((r) => r.status)).toEqual([200, 200]);
    expect(await stored(id)).toBe(0);
    for (const e of others) expect(await stored(e.id)).toBe(1);
    // Through the unbatched inbox too.
    const again = unusualEvent("long_id", { id: `evt_${randomBytes(4000).toString("hex")}` });
    await expectRefused(
      await deliver(again.body, sign(again.body)),
      "event_unstorable",
      "long id, unbatched",
    );
  });

  it("answers any refusal by the database 400 event_unstorable and logs it at warn", async () => {
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
        done();
      },
    });
    const refusing = createApp({
      useCases: useCasesOnDatabase(),
      ping,
      webhooks: {
        stripeSecret: secret,
        inbox: {
          receive: () =>
            errAsync(
              storageError.refused(
                "webhook receive: refused by the database (SQLSTATE 22P05); the state breaks a stored rule",
              ),
            ),
        },
      },
      http: { ...testHttp({ prisma: db.prisma }), logger: createLogger({ level: "info", destination }) },
      // Never reaches Stripe: nothing tested here calls the gateway (the fake only fills the port).
      gateway: new FakePaymentGateway(() => Date.now()),
    });
    const { id, body } = eventBody();
    await expectRefused(await deliver(body, sign(body), refusing), "event_unstorable", "refused");
    const warned = lines.find((l) => l.level === 40 && l.eventId === id);
    expect(warned).toMatchObject({ code: "storage_refused" });
    expect(String(warned?.cause)).toContain("22P05");
  });

  it("stores an event whose metadata holds objects where Stripe writes strings (the ordering key does not throw)", async () => {
    seq += 1;
    const id = `evt_api_odd_metadata_${Date.now().toString(36)}_${seq}`;
    const body = JSON.stringify({
      id,
      object: "event",
      created: Math.floor(Date.now() / 1000),
      data: {
        object: {
          id: `pi_odd_${seq}`,
          object: "payment_intent",
          payment_intent: { id: { toString: 1 } },
          metadata: { group_id: "grp_odd", round_id: { toString: 1 }, attempt: { toString: 1 } },
        },
      },
      livemode: false,
      type: "payment_intent.processing",
    });
    const batched = batchedApp();
    const answers = await Promise.all([body, eventBody().body].map((b) => deliver(b, sign(b), batched)));
    expect(answers.map((r) => r.status)).toEqual([200, 200]);
    expect(await stored(id)).toBe(1);
  });
});
