// 5xx answers on v1 (ported from the unauthenticated API's edge-input test): a database
// refusal, an exception and a database that does not answer are generic problems with a
// request id — the same id as the X-Request-Id header — and say nothing of their cause,
// which is logged under that id. And NUL characters anywhere in a v1 request are refused as
// bad input naming the field, at every operation of the document.
import { PrismaStore } from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import type { Group, StorageError, UseCaseDeps } from "@susu/domain";
import { FakePaymentGateway, ManualClock, SequentialIds } from "@susu/domain/testing";
import type { ResultAsync } from "neverthrow";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { authed, testApp, tokenFor } from "../support/app.js";
import {
  countDomainRows,
  exampleBodyOf,
  fillPath,
  type OpenApiDocument,
  operationsOf,
  pathParamsOf,
} from "../support/v1-surface.js";

const db = useTestDatabase();
const clock = new ManualClock(Date.UTC(2026, 5, 1));
const NUL = "\u0000";
let store: PrismaStore;

function appWith(groups?: UseCaseDeps["groups"], ping?: () => Promise<void>) {
  return testApp({
    useCases: {
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
    },
    // Never reaches Stripe: nothing tested here calls the gateway (the fake only fills the port).
    gateway: new FakePaymentGateway(() => clock.now()),
    prisma: db.prisma,
    ...(ping === undefined ? {} : { ping }),
  });
}

/** The store with `getGroup` replaced (and `getGroupWithPeople`, which reads the group too, through it). */
function withGetGroup(getGroup: (id: string) => unknown): UseCaseDeps["groups"] {
  return new Proxy(store, {
    get(target, prop) {
      if (prop === "getGroup") return getGroup;
      if (prop === "getGroupWithPeople") return (id: string) => withNoPeople(getGroup(id));
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** A replaced getGroup's answer as getGroupWithPeople's (no people: the replacements fail or throw). */
function withNoPeople(answer: unknown) {
  return (answer as ResultAsync<Group | undefined, StorageError>).map((group) =>
    group === undefined ? undefined : { group, people: [] },
  );
}

beforeAll(() => {
  store = new PrismaStore(db.prisma);
});
afterEach(() => {
  vi.restoreAllMocks();
});

interface ProblemBody {
  readonly code: string;
  readonly detail: string;
  readonly requestId?: string;
  readonly errors?: { readonly path: string }[];
}

/** What the API logged with console.error, parsed. */
function logged(spy: { mock: { calls: unknown[][] } }): { requestId?: string; cause?: string }[] {
  return spy.mock.calls.flatMap((call) => {
    try {
      return [JSON.parse(String(call[0])) as { requestId?: string; cause?: string }];
    } catch {
      return [];
    }
  });
}

async function expectGeneric(res: Response, status: number, code: string, hidden: RegExp): Promise<string> {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  const text = await res.text();
  expect(text).not.toMatch(hidden);
  const body = JSON.parse(text) as ProblemBody;
  expect(body.code).toBe(code);
  expect(body.requestId).toBeDefined();
  expect(res.headers.get("x-request-id")).toBe(body.requestId);
  expect(body.detail).toContain(body.requestId);
  return body.requestId as string;
}

describe("5xx answers on v1", () => {
  it("a database refusal is a generic problem with a request id; its SQLSTATE is only logged", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    // A look-up that reaches PostgreSQL with a NUL by another way than the edge: a real 22021.
    const leaky = appWith(withGetGroup(() => store.getGroup(`grp${NUL}x`)));
    const id = await expectGeneric(
      await leaky.request("/v1/groups/grp_any", authed(await tokenFor("ana"))),
      500,
      "storage_refused",
      /SQLSTATE|22021|getGroup|database/,
    );
    expect(logged(errors)).toContainEqual(
      expect.objectContaining({ requestId: id, cause: expect.stringContaining("SQLSTATE 22021") }),
    );
  });

  it("a database that does not answer says nothing of its cause", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const secret = "password authentication failed for user susu at 10.0.0.5 (SQLSTATE 28P01)";
    const broken = appWith(undefined, async () => {
      throw new Error(secret);
    });
    const id = await expectGeneric(
      await broken.request("/readyz"),
      503,
      "database_unavailable",
      /SQLSTATE|28P01|password|10\.0\.0\.5/,
    );
    expect(logged(errors)).toContainEqual(
      expect.objectContaining({ requestId: id, cause: expect.stringContaining("28P01") }),
    );
  });

  it("an exception in a handler is a 500 internal_error with a request id that says nothing of its cause", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    const secret = "password authentication failed for user susu at 10.0.0.5 (SQLSTATE 28P01)";
    const broken = appWith(
      withGetGroup(() => {
        throw new Error(secret);
      }),
    );
    await expectGeneric(
      await broken.request("/v1/groups/grp_any", authed(await tokenFor("ana"))),
      500,
      "internal_error",
      /SQLSTATE|28P01|password|10\.0\.0\.5/,
    );
  });
});

describe("NUL characters in v1 requests, at every operation", () => {
  it("in any string of the example body, in a path parameter or the query: 400 naming the field, nothing stored", async () => {
    const app = appWith();
    const doc = (await (await app.request("/v1/openapi.json")).json()) as OpenApiDocument;
    const token = await tokenFor("nul_tester");
    const before = await countDomainRows(db.prisma);
    const failures: string[] = [];
    const expectField = async (label: string, res: Response, field: string) => {
      const body = (await res.json()) as ProblemBody;
      if (
        res.status !== 400 ||
        body.code !== "invalid_request" ||
        !body.errors?.some((e) => e.path === field)
      )
        failures.push(`${label}: ${res.status} ${JSON.stringify(body)} (wanted 400 naming ${field})`);
    };
    for (const { key, method, path, op } of operationsOf(doc)) {
      const url = fillPath(path, () => "grp_1");
      for (const param of pathParamsOf(path)) {
        const nul = fillPath(path, (name) => (name === param ? `x${NUL}` : "grp_1"));
        await expectField(
          `${key} path ${param}`,
          await app.request(nul, authed(token, method)),
          `path.${param}`,
        );
      }
      await expectField(`${key} query`, await app.request(`${url}?q=a%00`, authed(token, method)), "query.q");
      const example = exampleBodyOf(doc, op);
      if (example !== null && typeof example === "object" && !Array.isArray(example))
        for (const [field, value] of Object.entries(example)) {
          if (typeof value !== "string") continue;
          const body = { ...example, [field]: `${value}${NUL}` };
          await expectField(
            `${key} body ${field}`,
            await app.request(url, authed(token, method, body)),
            `body.${field}`,
          );
        }
    }
    expect(failures).toEqual([]);
    expect(await countDomainRows(db.prisma)).toEqual(before);
  });
});
