// Random input at every operation of the OpenAPI document (so routes added later are fuzzed
// with no edit here): random path ids (unicode, NUL, "..", very long, empty, broken
// percent-encodings), query strings, headers (content types, idempotency keys, garbage
// Authorization) and bodies (any JSON value, bytes that are not JSON, and mutations of the
// operation's example body), with a member's token, the world's held payment's requester's,
// a platform admin's (past the operators' 403s) and none. The properties:
// - no 5xx, ever;
// - every answer that is not 2xx is application/problem+json with a `code`;
// - an answer that is not 2xx stored nothing (the domain tables' row counts are unchanged).
// Runs are bounded (FUZZ_RUNS, default 400 requests); a failure prints fast-check's seed,
// replay it with FUZZ_SEED=<seed>.
import { useTestDatabase } from "@susu/adapters/testing";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../src/http/auth.js";
import { TEST_JWT_SECRET } from "../support/app.js";
import {
  countDomainRows,
  exampleBodyOf,
  fillPath,
  type OpenApiDocument,
  type Operation,
  operationsOf,
  pathParamsOf,
} from "../support/v1-surface.js";
import { makeWorlds, type World, worldApp } from "../support/world.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 400);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);

const db = useTestDatabase();
let env: ReturnType<typeof worldApp>;
let doc: OpenApiDocument;
let operations: Operation[];
let world: World;
let garbageTokens: string[];

beforeAll(async () => {
  env = worldApp(db.prisma);
  doc = (await (await env.app.request("/v1/openapi.json")).json()) as OpenApiDocument;
  operations = operationsOf(doc);
  const [made] = await makeWorlds(env.deps, 1);
  if (made === undefined) throw new Error("no world");
  world = made;
  garbageTokens = [
    "Bearer not-a-jwt",
    "Bearer ",
    "Bearer",
    "bearer  x.y.z",
    "Basic YW5hOnNlY3JldA==",
    `Bearer ${world.tokens.member}x`,
    `Bearer ${world.tokens.member.split(".").slice(0, 2).join(".")}.`,
    // Signed with another secret; expired; unsigned (alg none).
    `Bearer ${await mintToken({ subject: world.member, roles: ["member"], ttlSeconds: 60 }, "another-secret-0123456789abcdefghij")}`,
    `Bearer ${await mintToken({ subject: world.member, roles: ["member"], ttlSeconds: 60 }, TEST_JWT_SECRET, { now: () => Date.now() - 3_600_000 })}`,
    `Bearer ${b64({ alg: "none", typ: "JWT" })}.${b64({ sub: world.member, roles: ["admin"], iss: "susu" })}.`,
    `Bearer ${"a".repeat(10_000)}`,
  ];
});

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

// --- arbitraries -------------------------------------------------------------------------

/** Characters a header value may carry (a ByteString without controls). */
const headerChar = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0xa0, max: 0xff }).map((c) => String.fromCharCode(c)),
);
const headerValue = fc.string({ unit: headerChar, maxLength: 300 });

/** Path segments sent as they are (they exercise the URL parser and the router). */
const RAW_IDS = ["", ".", "..", "%", "%zz", "%00", "%2F", "%2e%2e", "a/b", "a?b=c", "a#b", "%C0%AF", "%ff"];
/** Ids sent percent-encoded. */
const NASTY_IDS = [
  "\u0000",
  "grp\u0000",
  "..",
  "../../etc/passwd",
  "x".repeat(101),
  "x".repeat(256),
  "x".repeat(5_000),
  // Identity providers' subjects: person ids that are valid (a 404 for unknown people).
  "auth0|ben",
  "google-oauth2|1234567890",
  "ben+susu@example.com",
  "a:b%c/d?e#f",
  "😀",
  "ｇｒｐ＿１",
  "grp_1'; DROP TABLE groups; --",
  " ",
  "\u202e",
  "null",
  "-1",
];

function idFor(name: string): fc.Arbitrary<{ readonly raw: boolean; readonly value: string }> {
  const real = (w: World) =>
    (
      ({
        groupId: w.groupId,
        memberId: w.member,
        personId: w.member,
        roundId: w.roundId,
        heldPaymentId: w.heldPaymentId,
        marketplaceChargeId: w.marketplaceChargeId,
      }) as Record<string, string>
    )[name] ?? `${name}_1`;
  return fc
    .oneof(
      { weight: 3, arbitrary: fc.constant({ raw: false, value: "__real__" }) },
      { weight: 2, arbitrary: fc.constantFrom(...NASTY_IDS).map((value) => ({ raw: false, value })) },
      { weight: 2, arbitrary: fc.constantFrom(...RAW_IDS).map((value) => ({ raw: true, value })) },
      {
        weight: 2,
        arbitrary: fc.string({ unit: "grapheme", maxLength: 40 }).map((value) => ({ raw: false, value })),
      },
      {
        weight: 1,
        arbitrary: fc.string({ unit: "binary", maxLength: 20 }).map((value) => ({ raw: false, value })),
      },
    )
    .map((id) => (id.value === "__real__" ? { raw: false, value: real(world) } : id));
}

const queryKey = fc.oneof(
  fc.constantFrom("limit", "starting_after", "ending_before", "expand[]", "status", "limit[]", ""),
  fc.string({ unit: "grapheme", maxLength: 12 }),
);
const queryValue = fc.oneof(
  fc.constantFrom("-1", "0", "1", "100", "101", "1e3", "abc", "", "null", "\u0000", "9".repeat(400), "grp_1"),
  fc.string({ unit: "grapheme", maxLength: 30 }),
);
const query = fc.oneof(
  { weight: 3, arbitrary: fc.constant("") },
  {
    weight: 5,
    arbitrary: fc
      .array(fc.tuple(queryKey, queryValue), { maxLength: 4 })
      .map((pairs) => pairs.map(([k, v]) => `${safeEncode(k)}=${safeEncode(v)}`).join("&")),
  },
  { weight: 1, arbitrary: fc.constantFrom("&&==", "%", "%zz=1", "limit=1&limit=2", "a=%00", "=") },
);

const contentType = fc.oneof(
  { weight: 6, arbitrary: fc.constant("application/json") },
  fc.constantFrom(
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=utf-16",
    "APPLICATION/JSON",
    "application/problem+json",
    "application/vnd.susu+json",
    "application/json;;;",
    "text/plain",
    "text/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/octet-stream",
    "",
  ),
  headerValue,
);

/**
 * What the request's Authorization is: the member's token, the held payment's requester's
 * (who may act on it, where the member sees 404), none, or garbage.
 */
type Auth = "member" | "requester" | "admin" | "none" | number;
const auth = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Auth>("member") },
  { weight: 2, arbitrary: fc.constant<Auth>("requester") },
  // A platform admin reaches the operators' handlers (ledger adjustments…), past their 403.
  { weight: 2, arbitrary: fc.constant<Auth>("admin") },
  { weight: 2, arbitrary: fc.constant<Auth>("none") },
  { weight: 1, arbitrary: fc.nat(20) },
);

const headers = fc.record(
  {
    contentType,
    idempotencyKey: fc.oneof(headerValue, fc.constantFrom("", "k".repeat(300), "same-key", "ключ")),
    requestId: headerValue,
    accept: fc.constantFrom("*/*", "application/json", "text/html", "application/xml", ""),
    extra: fc.tuple(
      fc.constantFrom("x-susu-member", "x-forwarded-for", "origin", "content-encoding"),
      headerValue,
    ),
  },
  { requiredKeys: ["contentType"] },
);

type Mutation =
  | { readonly kind: "set"; readonly at: number; readonly value: unknown }
  | { readonly kind: "delete"; readonly at: number }
  | { readonly kind: "add"; readonly key: string; readonly value: unknown }
  | { readonly kind: "wrap" };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: fc.jsonValue({ maxDepth: 2 }) }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("add" as const),
    key: fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom("__proto__", "constructor", "id", "creator")),
    value: fc.jsonValue({ maxDepth: 2 }),
  }),
  fc.constant({ kind: "wrap" as const }),
);

/** A body: none, any JSON, bytes that are not JSON, text, or a mutated example. */
type Body =
  | { readonly kind: "none" }
  | { readonly kind: "json"; readonly value: unknown }
  | { readonly kind: "bytes"; readonly value: Uint8Array }
  | { readonly kind: "text"; readonly value: string }
  | { readonly kind: "mutated"; readonly mutations: readonly Mutation[] };

const body: fc.Arbitrary<Body> = fc.oneof(
  { weight: 2, arbitrary: fc.constant<Body>({ kind: "none" }) },
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((value): Body => ({ kind: "json", value })) },
  {
    weight: 1,
    arbitrary: fc.uint8Array({ maxLength: 200 }).map((value): Body => ({ kind: "bytes", value })),
  },
  {
    weight: 1,
    arbitrary: fc
      .oneof(
        fc.string({ maxLength: 100 }),
        fc.constantFrom(
          "{",
          "[",
          '{"a":',
          "nul",
          "\u0000",
          '{"name":"\u0000"}',
          '{"name":"\\ud800","description":"\\udc00x"}',
          "1".repeat(400),
          "x".repeat(120_000),
        ),
      )
      .map((value): Body => ({ kind: "text", value })),
  },
  {
    weight: 4,
    arbitrary: fc
      .array(mutation, { minLength: 0, maxLength: 3 })
      .map((mutations): Body => ({ kind: "mutated", mutations })),
  },
);

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] as const;

const request = fc.record({
  operation: fc.nat(),
  // Mostly the operation's own method; now and then another (405, OPTIONS, HEAD).
  otherMethod: fc.oneof(
    { weight: 9, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.constantFrom(...METHODS) },
  ),
  ids: fc.record({
    groupId: idFor("groupId"),
    memberId: idFor("memberId"),
    roundId: idFor("roundId"),
    personId: idFor("personId"),
    heldPaymentId: idFor("heldPaymentId"),
    marketplaceChargeId: idFor("marketplaceChargeId"),
  }),
  query,
  headers,
  auth,
  body,
});

// --- building and checking a request --------------------------------------------------------

function safeEncode(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    // A lone surrogate: percent-encode its UTF-16 units by hand, as a broken client would.
    return [...value].map((ch) => `%${(ch.charCodeAt(0) & 0xff).toString(16).padStart(2, "0")}`).join("");
  }
}

function mutate(example: unknown, mutations: readonly Mutation[]): unknown {
  let value: unknown = structuredClone(example ?? {});
  for (const m of mutations) {
    if (m.kind === "wrap") {
      value = [value];
      continue;
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) continue;
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    if (m.kind === "add")
      Object.defineProperty(record, m.key, {
        value: m.value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    else if (keys.length > 0) {
      const key = keys[m.at % keys.length] as string;
      if (m.kind === "delete") delete record[key];
      else record[key] = m.value;
    }
  }
  return value;
}

type Generated = typeof request extends fc.Arbitrary<infer T> ? T : never;

function build(input: Generated): {
  readonly url: string;
  readonly init: RequestInit;
  readonly label: string;
} {
  const operation = operations[input.operation % operations.length] as Operation;
  const method = input.otherMethod ?? operation.method;
  const byName: Readonly<Record<string, { readonly raw: boolean; readonly value: string }>> = input.ids;
  let path = operation.path;
  for (const name of pathParamsOf(operation.path)) {
    const id = byName[name] ?? byName.groupId ?? { raw: false, value: "x" };
    path = path.replace(`{${name}}`, id.raw ? id.value : safeEncode(id.value));
  }
  const url = input.query === "" ? path : `${path}?${input.query}`;
  const headerEntries: [string, string][] = [];
  if (input.auth === "member") headerEntries.push(["authorization", `Bearer ${world.tokens.member}`]);
  else if (input.auth === "requester")
    headerEntries.push(["authorization", `Bearer ${world.tokens.requester}`]);
  else if (input.auth === "admin")
    headerEntries.push(["authorization", `Bearer ${world.tokens.platformAdmin}`]);
  else if (typeof input.auth === "number")
    headerEntries.push(["authorization", garbageTokens[input.auth % garbageTokens.length] as string]);
  const h = input.headers;
  if (h.contentType !== "") headerEntries.push(["content-type", h.contentType]);
  if (h.idempotencyKey !== undefined) headerEntries.push(["idempotency-key", h.idempotencyKey]);
  if (h.requestId !== undefined) headerEntries.push(["x-request-id", h.requestId]);
  if (h.accept !== undefined && h.accept !== "") headerEntries.push(["accept", h.accept]);
  if (h.extra !== undefined) headerEntries.push(h.extra);
  let payload: string | Uint8Array | undefined;
  const b = input.body;
  if (b.kind === "json") payload = JSON.stringify(b.value);
  else if (b.kind === "bytes") payload = b.value;
  else if (b.kind === "text") payload = b.value;
  else if (b.kind === "mutated")
    payload = JSON.stringify(mutate(exampleBodyOf(doc, operation.op), b.mutations));
  const canHaveBody = method !== "GET" && method !== "HEAD";
  return {
    url,
    init: {
      method,
      headers: headerEntries,
      ...(canHaveBody && payload !== undefined ? { body: payload as NonNullable<RequestInit["body"]> } : {}),
    },
    label: `${method} ${url.slice(0, 200)} (${operation.key}, auth ${String(input.auth)}, body ${b.kind})`,
  };
}

/** Checks one answer; returns what is wrong, or undefined. */
async function check(res: Response, method: string): Promise<string | undefined> {
  if (res.status >= 500) return `a ${res.status}: ${await res.text()}`;
  if (res.status >= 200 && res.status < 300) {
    await res.body?.cancel();
    return undefined;
  }
  const type = res.headers.get("content-type");
  if (type !== "application/problem+json") return `a ${res.status} as ${type}`;
  if (method === "HEAD") return undefined;
  const text = await res.text();
  let parsed: { code?: unknown; status?: unknown };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    return `a ${res.status} whose body is not JSON: ${text.slice(0, 200)}`;
  }
  if (typeof parsed.code !== "string" || parsed.code.length === 0)
    return `a ${res.status} without a code: ${text}`;
  if (parsed.status !== res.status) return `a ${res.status} whose body says status ${String(parsed.status)}`;
  return undefined;
}

describe("fuzzing every operation of the OpenAPI document", () => {
  it(`gives no 5xx, only problem+json refusals with a code, and stores nothing when refusing (${RUNS} requests)`, async () => {
    expect(operations.length).toBeGreaterThan(0);
    let counts = await countDomainRows(db.prisma);
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async (input) => {
        let built: ReturnType<typeof build>;
        try {
          built = build(input);
          new Request(`http://localhost${built.url}`, built.init);
        } catch {
          // A request no HTTP client could send (an invalid URL or header): nothing to test.
          fc.pre(false);
          return;
        }
        const res = await env.app.request(built.url, built.init);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const problem = await check(res, String(built.init.method));
        if (problem !== undefined) throw new Error(`${built.label}: ${problem}`);
        const after = await countDomainRows(db.prisma);
        if (res.status >= 300 && JSON.stringify(after) !== JSON.stringify(counts))
          throw new Error(
            `${built.label}: refused with ${res.status} but the domain tables changed: ${JSON.stringify(counts)} → ${JSON.stringify(after)}`,
          );
        counts = after;
      }),
      { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }), endOnFailure: true },
    );
    if (process.env.FUZZ_VERBOSE) console.info("statuses", Object.fromEntries(statuses));
    // The run must have reached past the edge, not only bounced off authentication.
    const reachedHandlers = [...statuses.keys()].some((s) => s !== 401 && s !== 400 && s !== 415);
    expect(reachedHandlers, JSON.stringify(Object.fromEntries(statuses))).toBe(true);
  }, 60_000);

  it("refuses the classic bad inputs at every operation with a member's token, storing nothing", async () => {
    const before = await countDomainRows(db.prisma);
    const token = world.tokens.member;
    for (const operation of operations) {
      const params = (value: string) => fillPath(operation.path, () => value);
      // Bodies are read by POST, PUT and PATCH routes; a DELETE takes none and ignores one.
      const withBody = ["POST", "PUT", "PATCH"].includes(operation.method);
      // A member is refused operators' routes (403 operator_only) whatever the id says.
      // Managing plans is refused to anyone but a platform admin (403 admin_only) before the
      // id or the body is read; what the edge refuses first (NUL, size, media type) stays.
      const managesPlans =
        operation.method !== "GET" &&
        (operation.path === "/v1/plans" || operation.path.startsWith("/v1/plans/"));
      const badId =
        operation.path.startsWith("/v1/tickets") || operation.path.startsWith("/v1/operations")
          ? [400, 403, 404]
          : managesPlans
            ? [400, 403]
            : [400, 404];
      const cases: [string, RequestInit, number[]][] = [
        // Too long for a group, round or payment id (100) and for a person id (255).
        [params("x".repeat(101)), { method: operation.method }, badId],
        [params("x".repeat(256)), { method: operation.method }, badId],
        [params("\u0000"), { method: operation.method }, badId],
        [
          `${operation.path.includes("{") ? params("a%00b") : operation.path}?limit=%00`,
          { method: operation.method },
          badId,
        ],
      ];
      if (withBody)
        cases.push(
          [
            params("grp_1"),
            { method: operation.method, headers: { "content-type": "application/json" }, body: "{" },
            // A POST without an Idempotency-Key is refused at the edge (400) before that.
            managesPlans ? [400, 403] : [400],
          ],
          [
            params("grp_1"),
            { method: operation.method, headers: { "content-type": "text/plain" }, body: "{}" },
            [415],
          ],
          [
            params("grp_1"),
            {
              method: operation.method,
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ pad: "x".repeat(200_000) }),
            },
            [413],
          ],
        );
      for (const [url, init, expected] of cases) {
        if (!operation.path.includes("{") && init.body === undefined && !url.includes("?")) continue;
        const res = await env.app.request(url, {
          ...init,
          headers: {
            authorization: `Bearer ${token}`,
            ...(init.headers as Record<string, string> | undefined),
          },
        });
        expect(expected, `${operation.key}: ${init.method} ${url.slice(0, 80)} → ${res.status}`).toContain(
          res.status,
        );
        expect(res.headers.get("content-type")).toBe("application/problem+json");
      }
    }
    expect(await countDomainRows(db.prisma)).toEqual(before);
  });
});
