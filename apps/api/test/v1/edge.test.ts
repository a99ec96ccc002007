// The edge on v1 and a real PostgreSQL (ported from the old edge-input test): NUL
// characters (which PostgreSQL cannot store) are refused as bad input wherever they come
// in, naming the field, with nothing stored; a 5xx never shows a database's codes or
// messages and carries the request id; wrong method, media type, size and malformed JSON
// are problems with stable codes.
import {
  PrismaLedgerStore,
  PrismaStore,
  PrismaSupportDesk,
  StripePaymentGateway,
  stripeEndpointOf,
} from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import { DAY_MS, type UseCaseDeps } from "@susu/domain";
import { FakePaymentGateway, ManualClock, SequentialIds } from "@susu/domain/testing";
import { type RunningEmulator, startEmulator } from "@susu/stripe-emulator";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { captureLogs } from "../http/support.js";
import { authed, testApp, testHttp, tokenFor } from "../support/app.js";

const db = useTestDatabase();
const clock = new ManualClock(Date.UTC(2026, 5, 1));
let store: PrismaStore;
let app: ReturnType<typeof testApp>;
let ana: string;
let admin: string;
let emulator: RunningEmulator;

function depsWith(groups?: UseCaseDeps["groups"]): UseCaseDeps {
  return {
    people: store,
    groups: groups ?? store,
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
    ids: new SequentialIds(),
  };
}

beforeAll(async () => {
  store = new PrismaStore(db.prisma);
  // The Stripe emulator through the real gateway: a debit set-up below is made at Stripe.
  emulator = await startEmulator({ port: 0, fees: false });
  const endpoint = { secretKey: emulator.secretKey, ...stripeEndpointOf(emulator.url), timeoutMs: 10_000 };
  app = testApp({
    useCases: depsWith(),
    gateway: new StripePaymentGateway({ ...endpoint, maxNetworkRetries: 0 }, { clock }),
    prisma: db.prisma,
  });
  ana = await tokenFor("ana");
  admin = await tokenFor("ops", ["admin"]);
  await new PrismaSupportDesk(db.prisma).openTicket({
    id: "tkt_edge",
    reason: "payout_blocked",
    summary: "edge",
  });
});
afterAll(async () => {
  await emulator?.stop();
});
afterEach(() => {
  vi.restoreAllMocks();
});

const NUL = "\u0000";

const newGroup = (overrides: Record<string, unknown> = {}) => ({
  name: "Edge savers",
  currency: "AUD",
  contributionMinor: 100_00,
  cadence: "weekly",
  startsAt: new Date(clock.now() + DAY_MS).toISOString(),
  payoutOrderMethod: "join_order",
  displayName: "Ana",
  ...overrides,
});

interface ProblemBody {
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly requestId?: string;
  readonly errors?: { readonly path: string; readonly message: string }[];
}

/** Expects a 400 `invalid_request` naming `field`, and no database detail. */
async function expectRefused(res: Response, field: string): Promise<void> {
  expect(res.status, field).toBe(400);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  const text = await res.text();
  expect(text).not.toMatch(/SQLSTATE|22021|22P05/);
  const body = JSON.parse(text) as ProblemBody;
  expect(body.code).toBe("invalid_request");
  expect(body.errors?.map((e) => e.path)).toContain(field);
}

async function createGroup(token: string): Promise<string> {
  const res = await app.request("/v1/groups", authed(token, "POST", newGroup()));
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

const ticket = () => db.prisma.supportTicket.findUniqueOrThrow({ where: { id: "tkt_edge" } });

describe("NUL characters at the edge", () => {
  it("in any string of a body: 400 invalid_request naming the field, nothing stored", async () => {
    const before = await db.prisma.group.count();
    const cases: [unknown, string][] = [
      [newGroup({ name: `Friday${NUL}savers` }), "body.name"],
      [newGroup({ displayName: `Ana${NUL}` }), "body.displayName"],
      [newGroup({ cadence: `weekly${NUL}` }), "body.cadence"],
      [{ ...newGroup(), [`extra${NUL}`]: 1 }, `body.extra${NUL}`],
    ];
    for (const [body, field] of cases)
      await expectRefused(await app.request("/v1/groups", authed(ana, "POST", body)), field);
    expect(await db.prisma.group.count()).toBe(before);

    const version = (await ticket()).version;
    await expectRefused(
      await app.request("/v1/tickets/tkt_edge/resolve", authed(admin, "POST", { resolution: `done${NUL}` })),
      "body.resolution",
    );
    expect(await ticket()).toMatchObject({ status: "open", version });
  });

  it("an unpaired surrogate in a body (a \\ud800 escape; jsonb refuses it): 400 naming the field, nothing stored", async () => {
    const before = await db.prisma.group.count();
    const raw = (json: string) =>
      app.request("/v1/groups", {
        method: "POST",
        headers: { authorization: `Bearer ${ana}`, "content-type": "application/json" },
        body: json,
      });
    const group = JSON.stringify(newGroup());
    await expectRefused(await raw(group.replace('"Edge savers"', '"Edge\\ud800savers"')), "body.name");
    await expectRefused(await raw(group.replace('"Ana"', '"Ana\\udc00"')), "body.displayName");
    await expectRefused(await raw(group.replace('"name"', '"na\\ud83dme"')), "body.na\ud83dme");
    expect(await db.prisma.group.count()).toBe(before);
    // A pair is a character like any other.
    expect((await raw(group.replace('"Edge savers"', '"Edge \\ud83d\\ude00 savers"'))).status).toBe(201);
  });

  it("in a path parameter: 400 invalid_request naming the parameter, nothing stored", async () => {
    const id = await createGroup(ana);
    const version = (await db.prisma.group.findUniqueOrThrow({ where: { id } })).version;
    await expectRefused(await app.request("/v1/groups/grp%00x", authed(ana)), "path.groupId");
    await expectRefused(await app.request(`/v1/groups/${id}%00/ledger`, authed(ana)), "path.groupId");
    await expectRefused(
      await app.request("/v1/groups/grp%00x/ledger/transactions", authed(ana)),
      "path.groupId",
    );
    await expectRefused(await app.request("/v1/tickets/tkt%00edge", authed(admin)), "path.ticketId");
    await expectRefused(
      await app.request("/v1/tickets/tkt_edge%00/resolve", authed(admin, "POST", { resolution: "done" })),
      "path.ticketId",
    );
    await expectRefused(
      await app.request("/v1/operations/webhook-events/evt%00/replay", authed(admin, "POST")),
      "path.eventId",
    );
    await expectRefused(
      await app.request("/v1/operations/outbox/fx%00/replay", authed(admin, "POST")),
      "path.effectId",
    );
    await expectRefused(
      await app.request(
        "/v1/operations/webhook-events/evt%00/dismiss",
        authed(admin, "POST", { reason: "gone in Stripe" }),
      ),
      "path.eventId",
    );
    await expectRefused(
      await app.request(
        "/v1/operations/outbox/fx%00/dismiss",
        authed(admin, "POST", { reason: "refunded by hand" }),
      ),
      "path.effectId",
    );
    await expectRefused(await app.request("/v1/nowhere%00", authed(ana)), "path");
    expect((await db.prisma.group.findUniqueOrThrow({ where: { id } })).version).toBe(version);
    expect((await ticket()).status).toBe("open");
  });

  it("in the query: 400 invalid_request naming the parameter", async () => {
    const id = await createGroup(ana);
    await expectRefused(await app.request(`/v1/groups/${id}?q=a%00`, authed(ana)), "query.q");
    await expectRefused(
      await app.request(`/v1/groups/${id}/ledger/transactions?starting_after=a%00`, authed(ana)),
      "query.starting_after",
    );
    await expectRefused(await app.request("/v1/tickets?status=open%00", authed(admin)), "query.status");
  });

  it("in a header: 400 invalid_request naming the header, nothing changed", async () => {
    // fetch's Headers, like Node's HTTP parser, refuses a NUL in a header; the app must
    // refuse it as well whatever carried it, so the request is given headers that do not.
    const body = JSON.stringify({ resolution: "done" });
    const request = new Request("http://localhost/v1/tickets/tkt_edge/resolve", { method: "POST", body });
    const headers = new Map([
      ["authorization", `Bearer ${admin}`],
      ["content-type", "application/json"],
      ["content-length", String(body.length)],
      ["x-client-note", `note${NUL}`],
    ]);
    Object.defineProperty(request, "headers", {
      value: {
        get: (name: string) => headers.get(name.toLowerCase()) ?? null,
        has: (name: string) => headers.has(name.toLowerCase()),
        forEach: (fn: (value: string, name: string) => void) => {
          for (const [name, value] of headers) fn(value, name);
        },
        entries: () => headers.entries(),
        [Symbol.iterator]: () => headers.entries(),
      },
    });
    await expectRefused(await app.fetch(request), "header.x-client-note");
    expect(await ticket()).toMatchObject({ status: "open", resolvedBy: null });
  });

  it("in a header as Node's server received it: 400 naming the header, nothing changed", async () => {
    // Served by @hono/node-server, the check reads Node's request (`c.env.incoming`), whose
    // raw header lines are what reached the process, whatever the Request's Headers show.
    const lines = (note: string) => ({
      socket: { remoteAddress: "127.0.0.1" },
      rawHeaders: [
        "Authorization",
        `Bearer ${admin}`,
        "Content-Type",
        "application/json",
        "X-Client-Note",
        note,
      ],
    });
    const resolve = authed(admin, "POST", { resolution: "done" });
    const path = "/v1/tickets/tkt_edge/resolve";
    await expectRefused(
      await app.request(path, resolve, { incoming: lines(`note${NUL}`) }),
      "header.x-client-note",
    );
    expect(await ticket()).toMatchObject({ status: "open", resolvedBy: null });
    const read = await app.request("/v1/tickets?status=open", authed(admin), { incoming: lines("note") });
    expect(read.status).toBe(200);
  });
});

describe("edge errors on v1 routes", () => {
  it("a wrong method is 405 with Allow", async () => {
    const id = await createGroup(ana);
    const res = await app.request(`/v1/groups/${id}/ledger`, authed(ana, "DELETE"));
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, HEAD");
    expect(((await res.json()) as ProblemBody).code).toBe("method_not_allowed");
    const tickets = await app.request("/v1/tickets/tkt_edge/resolve", authed(admin, "GET"));
    expect(tickets.status).toBe(405);
    expect(tickets.headers.get("allow")).toBe("POST");
  });

  it("a body not declared JSON is 415, one over the limit 413, malformed JSON 400 — nothing changed", async () => {
    const path = "/v1/tickets/tkt_edge/resolve";
    const asText = await app.request(path, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}`, "content-type": "text/plain" },
      body: JSON.stringify({ resolution: "done" }),
    });
    expect(asText.status).toBe(415);
    expect(((await asText.json()) as ProblemBody).code).toBe("unsupported_media_type");
    const huge = await app.request(path, authed(admin, "POST", { resolution: "x".repeat(200 * 1024) }));
    expect(huge.status).toBe(413);
    expect(((await huge.json()) as ProblemBody).code).toBe("payload_too_large");
    const malformed = await app.request(path, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      body: '{"resolution": "done"',
    });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as ProblemBody).code).toBe("malformed_json");
    expect(await ticket()).toMatchObject({ status: "open", resolvedBy: null });
  });

  it("a JSON body nested thousands of levels deep is 400 invalid_request, not a 500 — nothing changed", async () => {
    const groups = await db.prisma.group.count();
    // 3,000 levels are 6 kB, far under the body limit; walking them recursively overflows the stack.
    const deep = (open: string, close: string) => open.repeat(3_000) + close.repeat(3_000);
    const cases: [string, string, string][] = [
      ["POST", "/v1/groups", deep("[", "]")],
      ["POST", "/v1/tickets/tkt_edge/resolve", `{"resolution":${deep("[", "]")}}`],
      ["POST", "/v1/groups", `${'{"a":'.repeat(3_000)}1${"}".repeat(3_000)}`],
      ["PATCH", "/v1/groups/grp_edge_1", `{"name":${deep("[", "]")}}`],
      ["DELETE", "/v1/groups/grp_edge_1/members/ana", deep("[", "]")],
    ];
    for (const [i, [method, path, body]] of cases.entries()) {
      const res = await app.request(path, {
        method,
        headers: {
          authorization: `Bearer ${admin}`,
          "content-type": "application/json",
          "idempotency-key": `deep-${i}`,
        },
        body,
      });
      expect(res.status, `${method} ${path}`).toBeLessThan(500);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      if (method !== "DELETE") expect(((await res.json()) as ProblemBody).code).toBe("invalid_request");
    }
    expect(await db.prisma.group.count()).toBe(groups);
    expect(await ticket()).toMatchObject({ status: "open", resolvedBy: null });
  });
});

describe("a JSON body's encoding", () => {
  const post = (type: string, body: string | Uint8Array, key: string) =>
    app.request("/v1/groups", {
      method: "POST",
      headers: { authorization: `Bearer ${ana}`, "content-type": type, "idempotency-key": key },
      body,
    });

  it("is UTF-8: another charset is 415 unsupported_media_type; utf-8 (or US-ASCII) in any case or quoted is taken", async () => {
    const before = await db.prisma.group.count();
    const json = JSON.stringify(newGroup());
    for (const [i, type] of [
      "application/json; charset=utf-16",
      "application/json; charset=ISO-8859-1",
      "application/json;charset=utf-16le",
    ].entries()) {
      const res = await post(type, json, `charset-${i}`);
      expect(res.status, type).toBe(415);
      expect(((await res.json()) as ProblemBody).code).toBe("unsupported_media_type");
    }
    expect(await db.prisma.group.count()).toBe(before);
    for (const [i, type] of [
      "application/json; charset=utf-8",
      "application/json; charset=UTF-8",
      'application/json; charset="utf-8"',
      "application/json",
      // US-ASCII is a subset of UTF-8: an ASCII body may say so.
      'application/json; charset="us-ascii"',
      "application/json; charset=US-ASCII",
    ].entries())
      expect((await post(type, json, `utf8-${i}`)).status, type).toBe(201);
    // …but one declared US-ASCII holding a byte above 0x7F is not what it says.
    const accented = JSON.stringify({ ...newGroup(), name: "Épargne" });
    const notAscii = await post("application/json; charset=us-ascii", accented, "ascii-but-not");
    expect(notAscii.status).toBe(400);
    expect(((await notAscii.json()) as ProblemBody).code).toBe("malformed_json");
    // A UTF-8 byte order mark (EF BB BF) is bytes above 0x7F too, though the UTF-8 decoder
    // drops it before the text is read: refused under US-ASCII, taken under UTF-8.
    const withBom = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(json)]);
    const asciiBom = await post("application/json; charset=us-ascii", withBom, "ascii-bom");
    expect(asciiBom.status).toBe(400);
    expect(((await asciiBom.json()) as ProblemBody).code).toBe("malformed_json");
    expect((await post("application/json; charset=utf-8", withBom, "utf8-bom")).status).toBe(201);
  });

  it("bytes that are not UTF-8 are 400 malformed_json, not read as U+FFFD — nothing stored", async () => {
    const before = await db.prisma.group.count();
    const json = JSON.stringify(newGroup());
    const at = json.indexOf("Edge savers");
    const bytes = (bad: number[]) =>
      new Uint8Array([
        ...new TextEncoder().encode(json.slice(0, at)),
        ...bad,
        ...new TextEncoder().encode(json.slice(at)),
      ]);
    // A byte no UTF-8 has, a cut sequence, an encoded surrogate, an overlong "/".
    for (const [i, bad] of [[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xc0, 0xaf]].entries()) {
      const res = await post("application/json", bytes(bad), `bytes-${i}`);
      expect(res.status, String(bad)).toBe(400);
      expect(((await res.json()) as ProblemBody).code).toBe("malformed_json");
    }
    expect(await db.prisma.group.count()).toBe(before);
    // Well-formed UTF-8 beyond ASCII is taken.
    expect((await post("application/json", bytes([0xc3, 0xa9, 0x20]), "bytes-ok")).status).toBe(201);
  });
});

describe("a list's limit", () => {
  it("is plain decimal digits: hex, exponents, signs, decimals and spaces are 400 invalid_request naming it", async () => {
    await createGroup(ana);
    for (const [token, path] of [
      [ana, "/v1/groups"],
      [admin, "/v1/tickets"],
    ] as const) {
      for (const limit of ["0x10", "1e1", "%20%205", "5%20", "+5", "5.0", "0b1", "", "Infinity"])
        await expectRefused(await app.request(`${path}?limit=${limit}`, authed(token)), "limit");
      for (const limit of ["5", "005", "100"]) {
        const res = await app.request(`${path}?limit=${limit}`, authed(token));
        expect(res.status, `${path}?limit=${limit}`).toBe(200);
      }
      expect((await app.request(`${path}?limit=101`, authed(token))).status).toBe(400);
    }
  });
});

describe("an empty body", () => {
  /** `path` POSTed by `token` with an empty body, with or without `Content-Type: application/json`. */
  const empty = (token: string, path: string, declared: boolean, key: string) =>
    app.request(path, {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "idempotency-key": `${key}-${declared ? "json" : "none"}`,
        ...(declared ? { "content-type": "application/json" } : {}),
      },
      // A string body would be declared text/plain by the Request: without the header, no body.
      ...(declared ? { body: "" } : {}),
    });

  it("is the same with or without Content-Type: application/json: optional-body routes take it, required-body routes say which fields", async () => {
    const groupId = await createGroup(ana);
    const created = await app.request(
      "/v1/notification-endpoints",
      authed(admin, "POST", { url: "https://push.app.example/susu" }),
    );
    expect(created.status).toBe(201);
    const endpointId = ((await created.json()) as { id: string }).id;
    const cases: [string, () => Promise<string>, number, string | undefined][] = [
      // Optional bodies: the command runs as without a body (a group to close each time).
      [ana, async () => "/v1/people/me/debit-setup", 201, undefined],
      [admin, async () => `/v1/notification-endpoints/${endpointId}/rotate-secret`, 200, undefined],
      [ana, async () => `/v1/groups/${await createGroup(ana)}/close`, 200, undefined],
      // Required bodies: the schema's answer, naming the fields.
      [ana, async () => `/v1/groups/${groupId}/pause`, 400, "invalid_request"],
      [ana, async () => "/v1/groups", 400, "invalid_request"],
      [admin, async () => "/v1/tickets/tkt_edge/resolve", 400, "invalid_request"],
    ];
    for (const [i, [token, pathOf, status, code]] of cases.entries()) {
      for (const declared of [false, true]) {
        const path = await pathOf();
        const res = await empty(token, path, declared, `empty-${i}`);
        const text = await res.text();
        expect(res.status, `${path} declared=${declared}: ${text}`).toBe(status);
        if (code !== undefined) {
          const body = JSON.parse(text) as ProblemBody;
          expect(body.code).toBe(code);
          expect(body.errors?.length).toBeGreaterThan(0);
        }
      }
    }
    expect(await ticket()).toMatchObject({ status: "open", resolvedBy: null });
    // Ana's debit set-up was made at Stripe: a BECS SetupIntent for her customer.
    const intents = await emulator.stripe({ maxNetworkRetries: 0 }).setupIntents.list({ limit: 10 });
    expect(intents.data.map((si) => si.payment_method_types)).toContainEqual(["au_becs_debit"]);
  });
});

describe("5xx answers", () => {
  /** What problem.ts's serverProblem logged with console.error, parsed. */
  function logged(spy: { mock: { calls: unknown[][] } }): { requestId: string; cause: string }[] {
    return spy.mock.calls.map((call) => JSON.parse(String(call[0])) as { requestId: string; cause: string });
  }

  async function expectGeneric(res: Response, status: number, code: string, hidden: RegExp): Promise<string> {
    expect(res.status).toBe(status);
    const text = await res.text();
    expect(text).not.toMatch(hidden);
    const body = JSON.parse(text) as ProblemBody;
    expect(body.code).toBe(code);
    expect(body.requestId).toBeDefined();
    expect(res.headers.get("x-request-id")).toBe(body.requestId);
    expect(body.detail).toContain(body.requestId);
    return body.requestId ?? "";
  }

  /** `target` with `method` replaced. */
  function replacing<T extends object>(target: T, method: string, replacement: unknown): T {
    return new Proxy(target, {
      get(t, prop) {
        if (prop === method) return replacement;
        const value: unknown = Reflect.get(t, prop, t);
        return typeof value === "function" ? value.bind(t) : value;
      },
    });
  }

  it("a database refusal is a generic problem with a request id; its SQLSTATE is only logged", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    // Look-ups that reach PostgreSQL with a NUL by another way than the edge: a real 22021.
    // The group's read takes the group with its people: the same look-up, with a NUL.
    const groups = replacing(store, "getGroupWithPeople", () => store.getGroupWithPeople(`grp${NUL}x`));
    const ledger = new PrismaLedgerStore(db.prisma);
    const leaky = testApp({
      useCases: depsWith(groups),
      // Never reaches Stripe: nothing tested here calls the gateway (the fake only fills the port).
      gateway: new FakePaymentGateway(() => clock.now()),
      prisma: db.prisma,
    });
    const id = await expectGeneric(
      await leaky.request("/v1/groups/grp_any", authed(ana)),
      500,
      "storage_refused",
      /SQLSTATE|22021|getGroup|database/,
    );
    const groupId = await createGroup(ana);
    const leakyLedger = testApp({
      useCases: depsWith(),
      // Never reaches Stripe: nothing tested here calls the gateway (the fake only fills the port).
      gateway: new FakePaymentGateway(() => clock.now()),
      prisma: db.prisma,
      operations: {
        ledger: replacing(ledger, "balancesOfRounds", () => ledger.balancesOfRounds([`rnd${NUL}`])),
        tickets: new PrismaSupportDesk(db.prisma),
        outbox: store,
        inbox: undefined as never,
      },
    });
    const ledgerId = await expectGeneric(
      await leakyLedger.request(`/v1/groups/${groupId}/ledger`, authed(ana)),
      500,
      "storage_refused",
      /SQLSTATE|22021|ledger|database/,
    );
    for (const requestId of [id, ledgerId])
      expect(logged(errors)).toContainEqual(
        expect.objectContaining({ requestId, cause: expect.stringContaining("SQLSTATE 22021") }),
      );
  });

  it("an exception and a database that does not answer say nothing of their cause either", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const secret = "password authentication failed for user susu at 10.0.0.5 (SQLSTATE 28P01)";
    const logs = captureLogs();
    const throwing = () => {
      throw new Error(secret);
    };
    const broken = testApp({
      // The group's read takes the group with its people.
      useCases: depsWith(replacing(store, "getGroupWithPeople", throwing)),
      // Never reaches Stripe: nothing tested here calls the gateway (the fake only fills the port).
      gateway: new FakePaymentGateway(() => clock.now()),
      prisma: db.prisma,
      ping: async () => throwing(),
      http: { ...testHttp({ prisma: db.prisma }), logger: logs.logger },
      operations: {
        ledger: new PrismaLedgerStore(db.prisma),
        tickets: replacing(new PrismaSupportDesk(db.prisma), "listTickets", throwing),
        outbox: store,
        inbox: undefined as never,
      },
    });
    const hidden = /SQLSTATE|28P01|password|10\.0\.0\.5/;
    const thrown = await expectGeneric(
      await broken.request("/v1/groups/grp_any", authed(ana)),
      500,
      "internal_error",
      hidden,
    );
    const ticketsThrown = await expectGeneric(
      await broken.request("/v1/tickets", authed(admin)),
      500,
      "internal_error",
      hidden,
    );
    const ready = await expectGeneric(await broken.request("/readyz"), 503, "database_unavailable", hidden);
    // The cause is in the logs, under the request id the client was given.
    for (const requestId of [thrown, ticketsThrown])
      expect(logs.lines()).toContainEqual(
        expect.objectContaining({
          requestId,
          status: 500,
          err: expect.objectContaining({ message: expect.stringContaining("28P01") }),
        }),
      );
    expect(logged(errors)).toContainEqual(
      expect.objectContaining({ requestId: ready, cause: expect.stringContaining("28P01") }),
    );
  });
});
