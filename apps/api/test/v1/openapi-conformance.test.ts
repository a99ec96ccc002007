// The check every API test's responses go through (support/openapi-conformance.ts) finds what
// it is there for. A route planted on a test app, described in the document like any other,
// answers what its description says or, on request, something it does not: a wrong type, a
// null, a property the schema does not declare, an undocumented status, media type or empty
// body, a problem without its `code`, a problem whose `code` the response does not list (its
// `x-problem-codes`), a problem response that lists no codes. The test app's own `request`
// must throw for each, naming the method, the path, the status and the JSON pointer.

import { createRoute, z } from "@hono/zod-openapi";
import { useTestDatabase } from "@susu/adapters/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { openApiDocumentOf } from "../../src/app.js";
import {
  PROBLEM_CODES,
  PROBLEM_CONTENT_TYPE,
  ProblemSchema,
  problemBody,
} from "../../src/http/problem-response.js";
import { json, MoneySchema, notFoundResponse, orNull } from "../../src/v1/schemas.js";
import { authed, tokenFor } from "../support/app.js";
import { conformanceChecker, OpenApiViolation, strictCopy } from "../support/openapi-conformance.js";
import { type OpenApiDocument, operationsOf } from "../support/v1-surface.js";
import { worldApp } from "../support/world.js";

const db = useTestDatabase();

const PlantedSchema = z
  .object({
    name: z.string(),
    labels: z.record(z.string(), z.string()).openapi({ description: "Any keys: a map" }),
    fee: orNull(MoneySchema),
  })
  .openapi("Planted");

const plantedRoute = createRoute({
  method: "get",
  path: "/v1/planted/{mode}",
  summary: "A route planted by the conformance check's own test",
  request: { params: z.object({ mode: z.string() }) },
  responses: {
    200: json(PlantedSchema, "What was planted"),
    ...notFoundResponse(["planted_not_found"]),
    // A problem response described by hand, without the codes it can carry.
    422: { description: "Refused", content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema } } },
  },
});

const good = { name: "a thing", labels: { any: "key", goes: "here" }, fee: null };
const money = { amountMinor: 250, currency: "AUD" };

/** What the planted route answers for each mode: status, content type and body text. */
const ANSWERS: Record<string, readonly [number, string | undefined, string]> = {
  good: [200, "application/json", JSON.stringify(good)],
  "good-fee": [200, "application/json", JSON.stringify({ ...good, fee: money })],
  "wrong-type": [200, "application/json", JSON.stringify({ ...good, name: 42 })],
  null: [200, "application/json", JSON.stringify({ ...good, name: null })],
  undeclared: [200, "application/json", JSON.stringify({ ...good, internalVersion: 7 })],
  "nested-undeclared": [200, "application/json", JSON.stringify({ ...good, fee: { ...money, cents: 250 } })],
  "undocumented-status": [409, PROBLEM_CONTENT_TYPE, JSON.stringify(problemBody(409, "conflict", "no"))],
  "problem-without-code": [
    404,
    PROBLEM_CONTENT_TYPE,
    JSON.stringify({
      type: "x",
      title: "x",
      status: 404,
      detail: "gone",
      stack: "at handler (planted.ts:1)",
    }),
  ],
  "listed-code": [404, PROBLEM_CONTENT_TYPE, JSON.stringify(problemBody(404, "planted_not_found", "no"))],
  "unlisted-code": [404, PROBLEM_CONTENT_TYPE, JSON.stringify(problemBody(404, "group_not_found", "no"))],
  "codes-not-listed": [422, PROBLEM_CONTENT_TYPE, JSON.stringify(problemBody(422, "invalid_thing", "no"))],
  "undocumented-media": [200, "text/plain", "a thing"],
  "no-body": [200, undefined, ""],
};

let app: ReturnType<typeof worldApp>["app"];
let token: string;

beforeAll(async () => {
  app = worldApp(db.prisma).app;
  app.openapi(plantedRoute, (c) => {
    const answer = ANSWERS[c.req.valid("param").mode];
    if (answer === undefined) return c.json(problemBody(404, "planted_not_found", "no such mode"), 404);
    const [status, type, body] = answer;
    return new Response(body === "" ? null : body, {
      status,
      headers: type === undefined ? {} : { "content-type": type },
    }) as never;
  });
  token = await tokenFor("ana");
});

/** The violation the test app's `request` throws for `mode`. */
async function violationOf(mode: string): Promise<OpenApiViolation> {
  const error = await Promise.resolve(app.request(`/v1/planted/${mode}`, authed(token))).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, mode).toBeInstanceOf(OpenApiViolation);
  return error as OpenApiViolation;
}

/** Where `schema` (any part of the document) has an `allOf` that allows null beside a `$ref`. */
function nullsInAllOf(schema: unknown, at = ""): string[] {
  if (schema === null || typeof schema !== "object") return [];
  const found: string[] = [];
  const members = (schema as { allOf?: unknown }).allOf;
  if (Array.isArray(members)) {
    const hasRef = members.some((m) => typeof m === "object" && m !== null && "$ref" in m);
    const allowsNull = members.some((m) =>
      JSON.stringify((m as { type?: unknown }).type ?? "").includes("null"),
    );
    if (hasRef && allowsNull) found.push(at);
  }
  for (const [key, value] of Object.entries(schema)) found.push(...nullsInAllOf(value, `${at}/${key}`));
  return found;
}

describe("the OpenAPI document's problem responses", () => {
  it("list, for every operation and status, the codes a client may get (x-problem-codes), the middlewares' merged into the route's own", () => {
    const doc = openApiDocumentOf(app) as unknown as OpenApiDocument;
    const unlisted: string[] = [];
    for (const { method, path, op } of operationsOf(doc)) {
      if (path === "/v1/planted/{mode}") continue;
      for (const [status, response] of Object.entries(op.responses))
        if (response.content?.[PROBLEM_CONTENT_TYPE] !== undefined && !(response[PROBLEM_CODES]?.length ?? 0))
          unlisted.push(`${method} ${path} ${status}`);
    }
    expect(unlisted).toEqual([]);
    const planted = doc.paths["/v1/planted/{mode}"]?.get?.responses;
    expect(planted?.["404"]?.[PROBLEM_CODES]).toEqual(["planted_not_found"]);
    expect(planted?.["401"]?.[PROBLEM_CODES]).toContain("unauthenticated");
    // A POST's 409 keeps its own codes and gets the Idempotency-Key's.
    const postConflicts = operationsOf(doc).flatMap((o) =>
      o.method === "POST" ? [o.op.responses["409"]?.[PROBLEM_CODES] ?? []] : [],
    );
    expect(postConflicts.every((codes) => codes.includes("idempotency_key_in_use"))).toBe(true);
    expect(postConflicts.some((codes) => codes.length > 1)).toBe(true);
  });
});

describe("the OpenAPI document's nullable components", () => {
  it("are written anyOf [$ref, null]: an allOf with the $ref takes no null, whatever its other member says", () => {
    const doc = openApiDocumentOf(app);
    expect(JSON.stringify(doc)).toContain('{"anyOf":[{"$ref":"#/components/schemas/Money"},{"type":"null"}]');
    expect(nullsInAllOf(doc)).toEqual([]);
  });
});

describe("the OpenAPI conformance check of every test's responses", () => {
  it("lets through what the document says, a map's any keys and a nullable component's null included", async () => {
    for (const mode of ["good", "good-fee"]) {
      const res = await app.request(`/v1/planted/${mode}`, authed(token));
      expect(res.status, mode).toBe(200);
      expect(await res.json()).toMatchObject({ name: "a thing" });
    }
  });

  it("lets through a problem whose code the response lists: the route's own, and a middleware's merged into it", async () => {
    const listed = await app.request("/v1/planted/listed-code", authed(token));
    expect(listed.status).toBe(404);
    expect(await listed.json()).toMatchObject({ code: "planted_not_found" });
    // (the token middleware's 401 codes are merged into every operation's 401)
    const unauthenticated = await app.request("/v1/planted/good");
    expect(unauthenticated.status).toBe(401);
    expect(await unauthenticated.json()).toMatchObject({ code: "unauthenticated" });
  });

  it.each([
    ["wrong-type", 200, "/name", "must be string"],
    ["null", 200, "/name", "must be string"],
    ["undeclared", 200, "/internalVersion", 'property "internalVersion" is sent but not declared'],
    ["nested-undeclared", 200, "/fee/cents", 'property "cents" is sent but not declared'],
    ["undocumented-status", 409, "", "status 409 is not documented"],
    ["problem-without-code", 404, "", "must have required property 'code'"],
    ["problem-without-code", 404, "/stack", 'property "stack" is sent but not declared'],
    [
      "unlisted-code",
      404,
      "/code",
      `code "group_not_found" is not one the document lists for 404 (${PROBLEM_CODES}: planted_not_found)`,
    ],
    ["codes-not-listed", 422, "", `the problem response 422 lists no codes (${PROBLEM_CODES})`],
    ["undocumented-media", 200, "", 'content type "text/plain" is not documented'],
    ["no-body", 200, "", "no body is sent, but application/json is documented"],
  ] as const)("fails the request for %s: %i at %j", async (mode, status, pointer, what) => {
    const violation = await violationOf(mode);
    expect(violation.violations).toContainEqual(
      expect.objectContaining({
        request: `GET /v1/planted/${mode}`,
        operation: "GET /v1/planted/{mode}",
        status,
        pointer,
        message: expect.stringContaining(what),
      }),
    );
    expect(violation.message).toContain(
      `GET /v1/planted/${mode} (GET /v1/planted/{mode}) answered ${status}: at "${pointer}": ${what}`,
    );
  });

  it("closes objects that leave extra keys unset, through allOf as a whole, and keeps maps open", () => {
    const doc: OpenApiDocument = {
      openapi: "3.1.0",
      paths: {
        "/v1/things/{id}": {
          get: {
            responses: {
              200: {
                content: {
                  "application/json": {
                    schema: {
                      allOf: [
                        { $ref: "#/components/schemas/Base" },
                        { type: "object", properties: { extra: { type: "string" } } },
                      ],
                    } as never,
                  },
                },
              },
            },
          },
        },
      },
      components: {
        schemas: {
          Base: {
            type: "object",
            properties: {
              id: { type: "string" },
              refs: { type: "object", additionalProperties: { type: "string" } } as never,
            },
            required: ["id"],
          },
        },
      },
    };
    const check = conformanceChecker(doc);
    const answer = (body: unknown) =>
      check.check({
        method: "GET",
        path: "/v1/things/t_1",
        status: 200,
        contentType: "application/json; charset=utf-8",
        body: JSON.stringify(body),
      });
    expect(answer({ id: "t_1", extra: "e", refs: { any: "key" } })).toEqual([]);
    expect(answer({ id: "t_1", other: 1 })).toEqual([
      expect.objectContaining({ pointer: "/other", operation: "GET /v1/things/{id}" }),
    ]);
    expect(answer({ id: "t_1", refs: { any: 1 } })).toEqual([
      expect.objectContaining({ pointer: "/refs/any", message: expect.stringContaining("must be string") }),
    ]);
    // A path the document does not have is no operation's to answer for.
    expect(
      check.check({ method: "GET", path: "/v1/nothing", status: 404, contentType: null, body: "" }),
    ).toEqual([]);
    expect(strictCopy({ type: "object", properties: {} })).toEqual({
      type: "object",
      properties: {},
      additionalProperties: false,
    });
    expect(strictCopy({ type: "object", additionalProperties: {} })).toEqual({
      type: "object",
      additionalProperties: {},
    });
  });
});
