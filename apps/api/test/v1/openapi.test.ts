// The OpenAPI document is valid OpenAPI 3.1 and describes every route the app serves under
// /v1 — read from the app's own route table, so a route added without a description fails
// here — with its method, the bearer requirement, its problem responses and its body; and
// the interactive reference at /docs loads offline, without a token.

import { Validator } from "@seriousme/openapi-schema-validator";
import { useTestDatabase } from "@susu/adapters/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { authed, tokenFor } from "../support/app.js";
import { callsIn, documentedCalls, undocumentedCalls } from "../support/doc-routes.js";
import {
  deref,
  type OpenApiDocument,
  operationsOf,
  PUBLIC_V1_PATHS,
  registeredV1Routes,
} from "../support/v1-surface.js";
import { worldApp } from "../support/world.js";

const db = useTestDatabase();
let app: ReturnType<typeof worldApp>["app"];
let doc: OpenApiDocument;

beforeAll(async () => {
  app = worldApp(db.prisma).app;
  const res = await app.request("/v1/openapi.json");
  expect(res.status).toBe(200);
  doc = (await res.json()) as OpenApiDocument;
});

describe("the OpenAPI document", () => {
  it("is valid OpenAPI 3.1 (JSON Schema of the specification, offline)", async () => {
    const validator = new Validator();
    const result = await validator.validate(doc as unknown as Record<string, unknown>);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  it("describes every route registered under /v1, and nothing that is not served", () => {
    const registered = registeredV1Routes(app.routes);
    const documented = operationsOf(doc)
      .map((o) => o.key)
      .sort();
    expect(registered.length).toBeGreaterThan(0);
    expect(registered.filter((r) => !documented.includes(r))).toEqual([]);
    expect(documented.filter((d) => !registered.includes(d))).toEqual([]);
  });

  it("has every route the runbooks and the READMEs name, with their methods and query values", () => {
    const calls = documentedCalls();
    // The reader finds the runbooks' calls at all (a broken pattern would pass vacuously).
    expect(calls.filter((c) => c.file.startsWith("docs/runbooks/")).length).toBeGreaterThan(50);
    expect(calls.filter((c) => c.text.startsWith("susu")).length).toBeGreaterThan(30);
    // The README's walkthrough calls, each with its method and its whole path (a `$GROUP`
    // segment cut short would leave `/v1/groups`, which exists).
    const readme = calls.filter(
      (c) => c.file === "README.md" && c.method !== undefined && !c.path.includes("…"),
    );
    expect(readme.filter((c) => c.text.startsWith("curl")).length).toBeGreaterThanOrEqual(30);
    expect(readme.filter((c) => c.path.includes("/$")).length).toBeGreaterThanOrEqual(20);
    expect(readme.length).toBeGreaterThanOrEqual(50);
    expect(
      calls.filter((c) => c.file === "apps/api/README.md" && c.method !== undefined).length,
    ).toBeGreaterThan(80);
    expect(undocumentedCalls(doc, calls)).toEqual([]);
  });

  it("reads each way the documents write a call, and finds a mistake planted in each", () => {
    const read = (text: string) =>
      callsIn("planted.md", text).map(
        (c) =>
          `${c.method ?? "*"} ${c.path}${c.query.map(([k, v], i) => `${i === 0 ? "?" : "&"}${k}=${v}`).join("")}`,
      );
    const reading: [string, string[]][] = [
      ['`susu "$API/v1/groups/<groupId>/rounds"`', ["GET /v1/groups/<groupId>/rounds"]],
      ['`susu -X POST "$API/v1/groups/$GROUP/resume"`', ["POST /v1/groups/$GROUP/resume"]],
      [
        '`susu -H "Idempotency-Key: $(uuidgen)" -X POST "$API/v1/held-payments/<id>/owed-payments" -d \'{}\'`',
        ["POST /v1/held-payments/<id>/owed-payments"],
      ],
      [
        "curl -sf -X POST $API/v1/groups/$GROUP/activate -H 'A: b' | jq .",
        ["POST /v1/groups/$GROUP/activate"],
      ],
      [
        `curl -sf "$API/v1/groups/\${GROUP}/audit?limit=20" | jq .`,
        ["GET /v1/groups/$" + "{GROUP}/audit?limit=20"],
      ],
      ["X=$(curl -sf $API/v1/groups -H 'A: b' \\\n  -d '{\"name\":\"x\"}' | jq -r .id)", ["POST /v1/groups"]],
      [
        "curl -sf $API/v1/groups/$GROUP | jq . && curl -s -X POST $API/v1/groups/$GROUP/pause",
        ["GET /v1/groups/$GROUP", "POST /v1/groups/$GROUP/pause"],
      ],
      ["(an admin may also open it with `POST /v1/groups/$GROUP/rounds`)", ["POST /v1/groups/$GROUP/rounds"]],
      [
        "`GET`/`PUT /v1/people/{personId}/notification-settings`",
        [
          "GET /v1/people/{personId}/notification-settings",
          "PUT /v1/people/{personId}/notification-settings",
        ],
      ],
      ["the aggregate `/v1/held-payments/<id>`", ["* /v1/held-payments/<id>"]],
      [
        "curl -sf -X POST $EMU/v1/setup_intents/$SETUP/confirm -d 'a=b'; see apps/api/test/v1/openapi.test.ts",
        [],
      ],
    ];
    for (const [text, want] of reading) expect(read(text), text).toEqual(want);
    // Each planted call is read (one call) and is wrong (one problem).
    const planted = [
      '`susu "$API/v1/groups/$GROUP/activatez"`',
      'curl -sf "$API/v1/groups/$GROUP/ledger/transactionz?limit=10"',
      'curl -sf "$API/v1/groups/$GROUP/ledger/transactions?limitz=10"',
      '`susu "$API/v1/operations/outbox?status=parkd"`',
      "curl -sf -X DELETE $API/v1/groups/$GROUP/pausez",
      "curl -sf -X DELETE $API/v1/groups/$GROUP/pause",
      '`susu -X POST "$API/v1/groups/$GROUP/resumez"`',
      '`susu -H "Idempotency-Key: $(uuidgen)" -X PUT "$API/v1/held-payments/<id>/owed-payments"`',
      `curl -sf $API/v1/groups/\${GROUP}/activate -H 'A: b'`,
      "curl -sf $API/v1/groups/$GROUP -d '{}'",
      "(an admin may also open it with `POST /v1/groups/$GROUP/roundz`)",
      "`DELETE /v1/groups/{groupId}/rounds`",
    ];
    for (const text of planted) {
      const calls = callsIn("planted.md", text);
      expect(calls, text).toHaveLength(1);
      expect(undocumentedCalls(doc, calls), text).toHaveLength(1);
    }
  });

  it("gives every operation the bearer requirement, a 4xx problem response and a described body", () => {
    const scheme = doc.components?.securitySchemes?.bearer;
    expect(scheme).toMatchObject({ type: "http", scheme: "bearer" });
    const failures: string[] = [];
    for (const { key, op } of operationsOf(doc)) {
      if (!(op.security ?? []).some((requirement) => "bearer" in requirement))
        failures.push(`${key}: no bearer security requirement`);
      const problems = Object.entries(op.responses).filter(
        ([status, response]) => /^4\d\d$/.test(status) && response.content?.["application/problem+json"],
      );
      if (problems.length === 0) failures.push(`${key}: no 4xx application/problem+json response`);
      if (!("401" in op.responses)) failures.push(`${key}: no 401 response`);
      const success = Object.entries(op.responses).filter(([status]) => /^2\d\d$/.test(status));
      if (success.length === 0) failures.push(`${key}: no 2xx response`);
      for (const [status, response] of success) {
        if (status === "204") continue;
        const media = response.content?.["application/json"];
        if (media === undefined || !described(media)) failures.push(`${key}: ${status} has no JSON schema`);
      }
      if (op.requestBody !== undefined) {
        const media = op.requestBody.content["application/json"];
        if (media === undefined) failures.push(`${key}: the request body is not application/json`);
        else if (!described(media)) failures.push(`${key}: the request body has no example or schema`);
      }
      for (const param of op.parameters ?? [])
        if (param.schema === undefined) failures.push(`${key}: parameter ${param.name} has no schema`);
      if (op.summary === undefined || op.summary.length === 0) failures.push(`${key}: no summary`);
    }
    expect(failures).toEqual([]);
  });

  it("marks POSTs' idempotency conflicts and every list as cursor-paginated", () => {
    const failures: string[] = [];
    for (const { key, method, op } of operationsOf(doc)) {
      if (method === "POST" && !("409" in op.responses)) failures.push(`${key}: no 409 (idempotency key)`);
      const ok = deref(doc, op.responses["200"]?.content?.["application/json"]?.schema);
      if (ok?.properties?.object !== undefined && ok.properties.data !== undefined) {
        const names = (op.parameters ?? []).map((p) => p.name);
        for (const name of ["limit", "starting_after"])
          if (!names.includes(name)) failures.push(`${key}: a list without the ${name} parameter`);
        if (ok.properties.has_more === undefined) failures.push(`${key}: a list without has_more`);
      }
    }
    expect(failures).toEqual([]);
  });

  it("lists at every operation the codes the middlewares answer, beside the route's own of the same status", async () => {
    // What every /v1 request may get before its handler runs (overload, token, rate limit, body),
    // and what a POST's Idempotency-Key adds.
    const everywhere: Record<string, string[]> = {
      400: ["malformed_json", "invalid_request"],
      401: ["unauthenticated", "token_expired", "token_invalid"],
      405: ["method_not_allowed"],
      413: ["payload_too_large"],
      415: ["unsupported_media_type"],
      429: ["rate_limited"],
      503: ["auth_unavailable", "overloaded"],
    };
    const posts: Record<string, string[]> = {
      400: ["invalid_idempotency_key", "idempotency_key_required"],
      409: ["idempotency_key_in_use"],
      422: ["idempotency_key_reused"],
      503: ["storage_unavailable"],
    };
    const missing: string[] = [];
    for (const { key, method, op } of operationsOf(doc))
      for (const expected of method === "POST" ? [everywhere, posts] : [everywhere])
        for (const [status, codes] of Object.entries(expected)) {
          const listed = new Set(
            [...(op.responses[status]?.description ?? "").matchAll(/`([^`]+)`/g)].map((m) => m[1]),
          );
          for (const code of codes) if (!listed.has(code)) missing.push(`${key}: ${status} ${code}`);
        }
    expect(missing).toEqual([]);
    // A route's own codes stay, and so does the Retry-After of a key in use.
    const conflict = doc.paths["/v1/groups/{groupId}/pause"]?.post?.responses["409"];
    expect(conflict?.description).toMatch(/`group_not_active`.*`idempotency_key_in_use`/);
    expect(conflict?.headers).toHaveProperty("Retry-After");
    expect(doc.paths["/v1/groups"]?.post?.responses["422"]?.description).toMatch(
      /`invalid_group`.*`idempotency_key_reused`/,
    );
  });

  it("gives a group start as its example that the API takes today (from now to 366 days ahead)", () => {
    const body = deref(doc, doc.paths["/v1/groups"]?.post?.requestBody?.content["application/json"]?.schema);
    const example = body?.properties?.startsAt?.example;
    expect(typeof example).toBe("string");
    const at = Date.parse(example as string);
    expect(at).toBeGreaterThan(Date.now());
    expect(at).toBeLessThanOrEqual(Date.now() + 366 * 24 * 3_600_000);
  });

  it("lists 403 person_only wherever a service token is refused as a person, and 403 admin_only at resolving a ticket", () => {
    const operations = operationsOf(doc);
    const codes403 = (key: string) => {
      const op = operations.find((o) => o.key === key)?.op;
      return new Set([...(op?.responses["403"]?.description ?? "").matchAll(/`([^`]+)`/g)].map((m) => m[1]));
    };
    const personOnly = [
      // every /v1/people operation: `me` is a person
      ...operations.filter((o) => o.path.startsWith("/v1/people/")).map((o) => o.key),
      "POST /v1/groups",
      "POST /v1/groups/{groupId}/members",
      "POST /v1/subscriptions",
      "GET /v1/subscriptions",
      "POST /v1/subscriptions/{subscriptionId}/change-plan",
      "POST /v1/subscriptions/{subscriptionId}/cancel",
      "POST /v1/subscriptions/{subscriptionId}/cancel-change",
      "POST /v1/subscriptions/{subscriptionId}/resume",
      "POST /v1/held-payments",
      "POST /v1/marketplace-charges",
    ];
    expect(personOnly.length).toBeGreaterThan(20);
    expect(personOnly.filter((key) => !codes403(key).has("person_only"))).toEqual([]);
    expect([...codes403("POST /v1/tickets/{ticketId}/resolve")].sort()).toEqual([
      "admin_only",
      "operator_only",
    ]);
    // The other ticket routes stay open to every operator.
    expect([...codes403("GET /v1/tickets/{ticketId}")]).toEqual(["operator_only"]);
  });

  it("documents the 400 a POST answers to a body that does not match its schema", async () => {
    const token = await tokenFor("ana");
    const res = await app.request("/v1/groups", authed(token, "POST", {}, { "idempotency-key": "doc-400" }));
    expect(res.status).toBe(400);
    const { code } = (await res.json()) as { code: string };
    expect(code).toBe("invalid_request");
    expect(doc.paths["/v1/groups"]?.post?.responses["400"]?.description).toContain(`\`${code}\``);
  });

  it("says `me` is the caller in /v1/people paths and no person's id in bodies, queries or member paths", () => {
    type Param = {
      name: string;
      in: string;
      description?: string;
      schema?: { pattern?: string; description?: string };
    };
    const params = (path: string, method: "get" | "put" = "get") =>
      (doc.paths[path]?.[method]?.parameters ?? []) as readonly Param[];
    const pattern = (p: Param | undefined) => new RegExp(p?.schema?.pattern ?? "^$");
    const person = params("/v1/people/{personId}").find((p) => p.name === "personId");
    expect(pattern(person).test("me")).toBe(true);
    expect(`${person?.description ?? ""}${person?.schema?.description ?? ""}`).toContain(
      "`me` for the caller",
    );
    const member = params("/v1/groups/{groupId}/members/{memberId}").find((p) => p.name === "memberId");
    expect(pattern(member).test("me")).toBe(false);
    expect(pattern(member).test("Me")).toBe(true);
    const query = params("/v1/subscriptions").find((p) => p.name === "person_id");
    expect(pattern(query).test("me")).toBe(false);
    expect(`${query?.description ?? ""}${query?.schema?.description ?? ""}`).toContain("never `me`");
  });

  it("is the one /v1 route served without a token", async () => {
    for (const path of PUBLIC_V1_PATHS) expect((await app.request(path)).status).toBe(200);
    expect((await app.request("/v1/groups")).status).toBe(401);
  });
});

describe("the API reference at /docs", () => {
  it("serves the page without a token, pointing at the document", async () => {
    const res = await app.request("/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('data-spec-url="/v1/openapi.json"');
    // Offline: every script and stylesheet comes from the API itself.
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string);
    expect(assets.length).toBeGreaterThanOrEqual(4);
    for (const asset of assets) expect(asset).toMatch(/^\/docs\//);
  });

  it("serves Swagger UI's assets from the installed package, with their content types", async () => {
    const expected: [string, RegExp, string][] = [
      ["/docs/swagger-ui.css", /^text\/css/, ".swagger-ui"],
      ["/docs/swagger-ui-bundle.js", /^text\/javascript/, "SwaggerUIBundle"],
      ["/docs/swagger-ui-standalone-preset.js", /^text\/javascript/, "SwaggerUIStandalonePreset"],
      ["/docs/init.js", /^text\/javascript/, "SwaggerUIBundle("],
      ["/docs/favicon-32x32.png", /^image\/png/, "PNG"],
    ];
    for (const [path, type, marker] of expected) {
      const res = await app.request(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-type"), path).toMatch(type);
      expect(await res.text(), path).toContain(marker);
    }
  });

  it("answers 404 problem+json for anything else under /docs (no file outside the package)", async () => {
    for (const path of ["/docs/package.json", "/docs/..%2f..%2fpackage.json", "/docs/index.html"]) {
      const res = await app.request(path);
      expect(res.status, path).toBe(404);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
    }
  });
});

function described(media: {
  readonly schema?: unknown;
  readonly example?: unknown;
  readonly examples?: unknown;
}) {
  return media.schema !== undefined || media.example !== undefined || media.examples !== undefined;
}
