// The edge on a real PostgreSQL: NUL characters (which PostgreSQL cannot store) are refused
// as bad input wherever they come in, and a 5xx never shows a database's codes or messages.
import { PrismaStore, PrismaWebhookInbox } from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import { DAY_MS, type UseCaseDeps } from "@susu/domain";
import { FakePaymentGateway, ManualClock, SequentialIds } from "@susu/domain/testing";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type ApiDeps, createApp } from "../src/app.js";

const db = useTestDatabase();
const clock = new ManualClock(Date.UTC(2026, 5, 1));
let store: PrismaStore;

function appWith(overrides: Partial<ApiDeps> = {}, groups?: UseCaseDeps["groups"]) {
  return createApp({
    useCases: {
      people: store,
      groups: groups ?? store,
      rounds: store,
      uow: store,
      clock,
      ids: new SequentialIds(),
    },
    ping: async () => {
      await db.prisma.$queryRaw`SELECT 1`;
    },
    webhooks: { stripeSecret: "whsec_edge_test", inbox: new PrismaWebhookInbox(db.prisma) },
    gateway: new FakePaymentGateway(() => clock.now()),
    ...overrides,
  });
}

let app: ReturnType<typeof createApp>;
beforeAll(() => {
  store = new PrismaStore(db.prisma);
  app = appWith();
});
afterEach(() => {
  vi.restoreAllMocks();
});

const NUL = "\u0000";

const send = (method: string, body?: unknown, actor?: string): RequestInit => ({
  method,
  headers: { "content-type": "application/json", ...(actor ? { "x-susu-member": actor } : {}) },
  ...(body === undefined ? {} : { body: JSON.stringify(body) }),
});

const newGroup = (overrides: Record<string, unknown> = {}) => ({
  name: "Edge savers",
  currency: "AUD",
  contributionMinor: 100_00,
  cadence: "weekly",
  startsAt: new Date(clock.now() + DAY_MS).toISOString(),
  payoutOrderMethod: "join_order",
  creator: { id: "ana", displayName: "Ana" },
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

async function createGroup(creator = "ana"): Promise<string> {
  const res = await app.request(
    "/groups",
    send("POST", newGroup({ creator: { id: creator, displayName: creator } })),
  );
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

describe("NUL characters at the edge", () => {
  it("in any string of a body: 400 invalid_request naming the field, nothing stored", async () => {
    const before = await db.prisma.group.count();
    const cases: [unknown, string][] = [
      [newGroup({ name: `Friday${NUL}savers` }), "name"],
      [newGroup({ creator: { id: "ana", displayName: `Ana${NUL}` } }), "creator.displayName"],
      [newGroup({ creator: { id: `ana${NUL}`, displayName: "Ana" } }), "creator.id"],
      [{ ...newGroup(), [`extra${NUL}`]: 1 }, `extra${NUL}`],
    ];
    for (const [body, field] of cases)
      await expectRefused(await app.request("/groups", send("POST", body)), field);
    expect(await db.prisma.group.count()).toBe(before);

    const id = await createGroup("bea");
    const members = async () => (await db.prisma.group.findUniqueOrThrow({ where: { id } })).version;
    const version = await members();
    await expectRefused(
      await app.request(`/groups/${id}/members`, send("POST", { id: "cy", displayName: `C${NUL}y` })),
      "displayName",
    );
    await expectRefused(
      await app.request(`/groups/${id}/payout-order`, send("PUT", { seed: `seed${NUL}seed` }, "bea")),
      "seed",
    );
    await expectRefused(
      await app.request(`/groups/${id}/members/bea/debit-setup`, send("POST", { attempt: `2${NUL}` }, "bea")),
      "attempt",
    );
    expect(await members()).toBe(version);
  });

  it("in a path parameter: 400 invalid_request naming the parameter, nothing stored", async () => {
    const id = await createGroup("dan");
    const version = (await db.prisma.group.findUniqueOrThrow({ where: { id } })).version;
    await expectRefused(await app.request("/groups/grp%00x"), "path.groupId");
    await expectRefused(await app.request("/groups/grp%00x/rounds"), "path.groupId");
    await expectRefused(await app.request("/rounds/round%00x"), "path.roundId");
    await expectRefused(
      await app.request(`/groups/${id}%00/members`, send("POST", { id: "eve", displayName: "Eve" })),
      "path.groupId",
    );
    await expectRefused(
      await app.request(`/groups/${id}/members/dan%00`, send("DELETE", undefined, "dan")),
      "path.memberId",
    );
    await expectRefused(
      await app.request(`/groups/${id}/members/dan%00/debit-setup`, send("POST", {}, "dan")),
      "path.memberId",
    );
    await expectRefused(await app.request("/nowhere%00"), "path");
    await expectRefused(await app.request(`/groups/${id}?q=a%00`), "query.q");
    expect((await db.prisma.group.findUniqueOrThrow({ where: { id } })).version).toBe(version);
  });

  it("in the X-Susu-Member header: 400 invalid_request naming the header, nothing changed", async () => {
    const id = await createGroup("fay");
    await app.request(`/groups/${id}/members`, send("POST", { id: "gus", displayName: "Gus" }));
    // fetch's Headers, like Node's HTTP parser, refuses a NUL in a header; the app must
    // refuse it as well whatever carried it, so the request is given headers that do not.
    const request = new Request(`http://localhost/groups/${id}/activate`, { method: "POST" });
    const headers = new Map([["x-susu-member", `fay${NUL}`]]);
    Object.defineProperty(request, "headers", {
      value: {
        get: (name: string) => headers.get(name.toLowerCase()) ?? null,
        has: (name: string) => headers.has(name.toLowerCase()),
        forEach: (fn: (value: string, name: string) => void) => {
          for (const [name, value] of headers) fn(value, name);
        },
      },
    });
    await expectRefused(await app.fetch(request), "header.x-susu-member");
    const group = await app.request(`/groups/${id}`);
    expect(((await group.json()) as { status: string }).status).toBe("forming");
  });
});

describe("5xx answers", () => {
  /** What the API logged with console.error, parsed. */
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
    return body.requestId!;
  }

  it("a database refusal is a generic problem with a request id; its SQLSTATE is only logged", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    // A look-up that reaches PostgreSQL with a NUL by another way than the edge: a real 22021.
    const groups = new Proxy(store, {
      get(target, prop) {
        if (prop === "getGroup") return () => target.getGroup(`grp${NUL}x`);
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const leaky = appWith({}, groups);
    const id = await expectGeneric(
      await leaky.request("/groups/grp_any"),
      500,
      "storage_refused",
      /SQLSTATE|22021|getGroup|database/,
    );
    expect(logged(errors)).toContainEqual(
      expect.objectContaining({ requestId: id, cause: expect.stringContaining("SQLSTATE 22021") }),
    );
  });

  it("an exception and a database that does not answer say nothing of their cause either", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const secret = "password authentication failed for user susu at 10.0.0.5 (SQLSTATE 28P01)";
    const broken = appWith(
      {
        ping: async () => {
          throw new Error(secret);
        },
      },
      new Proxy(store, {
        get(target, prop) {
          if (prop === "getGroup")
            return () => {
              throw new Error(secret);
            };
          const value: unknown = Reflect.get(target, prop, target);
          return typeof value === "function" ? value.bind(target) : value;
        },
      }),
    );
    const thrown = await expectGeneric(
      await broken.request("/groups/grp_any"),
      500,
      "internal_error",
      /SQLSTATE|28P01|password|10\.0\.0\.5/,
    );
    const health = await expectGeneric(
      await broken.request("/health"),
      503,
      "database_unavailable",
      /SQLSTATE|28P01|password|10\.0\.0\.5/,
    );
    const causes = logged(errors);
    for (const requestId of [thrown, health])
      expect(causes).toContainEqual(
        expect.objectContaining({ requestId, cause: expect.stringContaining("28P01") }),
      );
  });
});
