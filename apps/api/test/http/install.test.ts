// The whole infrastructure mounted by installHttpInfrastructure on a small OpenAPIHono app:
// the order of the middlewares, public routes outside /v1, /metrics behind roles, and the
// middlewares' errors described in the OpenAPI document.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { describe, expect, it } from "vitest";
import {
  authResponses,
  bearerSecurityScheme,
  clientIpResolver,
  createHttpMetrics,
  createOverloadGuard,
  createTokenVerifier,
  edgeResponses,
  type HttpVariables,
  IdempotencyKeyHeaderSchema,
  InMemoryIdempotencyStore,
  InMemoryRateLimitStore,
  idempotencyResponses,
  installHttpInfrastructure,
  mintToken,
  rateLimitResponses,
  readHttpConfig,
  validationProblem,
} from "../../src/http/index.js";
import { captureLogs, SECRET } from "./support.js";

const createGroup = createRoute({
  method: "post",
  path: "/v1/groups",
  security: [{ bearer: [] }],
  request: {
    headers: IdempotencyKeyHeaderSchema,
    body: { content: { "application/json": { schema: z.object({ name: z.string().min(1) }) } } },
  },
  responses: {
    201: {
      description: "Created",
      content: { "application/json": { schema: z.object({ id: z.string(), name: z.string() }) } },
    },
    ...edgeResponses,
    ...authResponses,
    ...rateLimitResponses,
    ...idempotencyResponses,
  },
});

function stack(env: Record<string, string> = {}) {
  const config = readHttpConfig({ SUSU_JWT_SECRET: SECRET, SUSU_RATE_LIMIT_PER_MINUTE: "50", ...env });
  const logs = captureLogs();
  const metrics = createHttpMetrics({ defaultMetrics: false });
  const app = new OpenAPIHono<{ Variables: HttpVariables }>({ defaultHook: validationProblem });
  installHttpInfrastructure(app, {
    config,
    logger: logs.logger,
    metrics,
    verifier: createTokenVerifier(config.auth),
    idempotencyStore: new InMemoryIdempotencyStore(),
    rateLimitStore: new InMemoryRateLimitStore(),
    clientIp: clientIpResolver(),
    overload: createOverloadGuard(config.overload, { registry: metrics.registry }),
  });
  let created = 0;
  app.openapi(createGroup, (c) => {
    created++;
    c.var.log.info("creating a group");
    return c.json({ id: `grp_${created}`, name: c.req.valid("json").name }, 201);
  });
  app.get("/health", (c) => c.json({ status: "ok" }));
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", bearerSecurityScheme);
  return { app, logs, metrics, created: () => created };
}

const bearer = async (subject: string, roles: ("member" | "admin" | "service")[] = ["member"]) =>
  `Bearer ${await mintToken({ subject, roles, ttlSeconds: 600 }, SECRET)}`;

describe("installHttpInfrastructure", () => {
  it("runs a POST through log, limits, auth, rate limit and idempotency to the handler", async () => {
    const { app, logs, created } = stack();
    const send = async () =>
      app.request("/v1/groups", {
        method: "POST",
        headers: {
          authorization: await bearer("ana"),
          "content-type": "application/json",
          "idempotency-key": "create-friday",
          "x-request-id": "req-1",
        },
        body: JSON.stringify({ name: "Friday" }),
      });
    const first = await send();
    expect(first.status).toBe(201);
    expect(first.headers.get("x-request-id")).toBe("req-1");
    expect(first.headers.get("ratelimit-limit")).toBe("50");
    const replay = await send();
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(await replay.json()).toEqual({ id: "grp_1", name: "Friday" });
    expect(created()).toBe(1);
    const requestLines = logs.lines().filter((l) => l.msg === "request");
    expect(requestLines.map((l) => [l.route, l.status, l.subject])).toEqual([
      ["/v1/groups", 201, "ana"],
      ["/v1/groups", 201, "ana"],
    ]);
  });

  it("refuses an overloaded process's /v1 requests before anything else runs, logs them at warn, counts them apart", async () => {
    const { app, logs, metrics, created } = stack({ SUSU_MAX_IN_FLIGHT: "1" });
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    app.get("/v1/hold", async (c) => {
      await held;
      return c.json({ held: true });
    });
    const holding = app.request("/v1/hold", { headers: { authorization: await bearer("ana") } });
    await new Promise((resolve) => setTimeout(resolve, 20));
    // No token, no body: the guard answers before auth and the body checks would.
    const res = await app.request("/v1/groups", { method: "POST", headers: { "x-request-id": "req-shed" } });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(res.headers.get("x-request-id")).toBe("req-shed");
    expect(((await res.json()) as { code: string }).code).toBe("overloaded");
    expect(created()).toBe(0);
    expect((await app.request("/health")).status).toBe(200);
    const line = logs.lines().find((l) => l.requestId === "req-shed");
    expect(line).toMatchObject({
      level: 40,
      status: 503,
      shed: "in_flight",
      msg: "request refused: overloaded",
    });
    // Exactly the prefix is the prefix's too (Hono's /v1/* matches it).
    expect((await app.request("/v1")).status).toBe(503);
    release();
    expect((await holding).status).toBe(200);
    // The refusals are counted on their own; http_requests_total and the latency describe the requests served.
    const text = await metrics.registry.metrics();
    expect(text).toContain('susu_http_requests_shed_total{reason="in_flight"} 2');
    expect(text).not.toContain('status="503"');
    expect(text).toContain('http_requests_total{method="GET",route="/v1/hold",status="200"} 1');
  });

  it("answers the edge errors as problems: auth first, then size, media type and JSON", async () => {
    const { app } = stack({ SUSU_BODY_LIMIT_BYTES: "1024" });
    const auth = await bearer("ana");
    const json = { authorization: auth, "content-type": "application/json" };
    const cases: [RequestInit, number, string][] = [
      [
        { method: "POST", headers: { "content-type": "text/plain" }, body: "x".repeat(2048) },
        401,
        "unauthenticated",
      ],
      [{ method: "POST", headers: json, body: "x".repeat(2048) }, 413, "payload_too_large"],
      [
        { method: "POST", headers: { authorization: auth, "content-type": "text/plain" }, body: "{}" },
        415,
        "unsupported_media_type",
      ],
      [{ method: "POST", headers: json, body: "{" }, 400, "malformed_json"],
      [{ method: "DELETE", headers: { authorization: auth } }, 405, "method_not_allowed"],
      [
        { method: "POST", headers: { authorization: auth, "idempotency-key": "\u00e9" } },
        400,
        "invalid_idempotency_key",
      ],
    ];
    for (const [init, status, code] of cases) {
      const res = await app.request("/v1/groups", init);
      expect(res.status, code).toBe(status);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(((await res.json()) as { code: string }).code).toBe(code);
    }
    const invalid = await app.request("/v1/groups", { method: "POST", headers: json, body: '{"name":""}' });
    expect(invalid.status).toBe(400);
    expect(await invalid.json()).toMatchObject({
      code: "invalid_request",
      errors: [{ path: "name", message: expect.any(String) }],
    });
    const notFound = await app.request("/v1/nothing", { headers: { authorization: auth } });
    expect(notFound.status).toBe(404);
  });

  it("keeps routes outside /v1 public and /metrics for service and admin tokens", async () => {
    const { app } = stack();
    expect((await app.request("/health")).status).toBe(200);
    expect((await app.request("/metrics")).status).toBe(401);
    expect((await app.request("/metrics", { headers: { authorization: await bearer("ana") } })).status).toBe(
      403,
    );
    const metrics = await app.request("/metrics", {
      headers: { authorization: await bearer("prometheus", ["service"]) },
    });
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain(
      'http_requests_total{method="GET",route="/health",status="200"} 1',
    );
  });

  it("describes the middlewares' errors in the OpenAPI 3.1 document", () => {
    const { app } = stack();
    const doc = app.getOpenAPI31Document({ openapi: "3.1.0", info: { title: "susu", version: "1" } });
    const operation = doc.paths?.["/v1/groups"]?.post;
    expect(Object.keys(operation?.responses ?? {}).sort()).toEqual(
      [
        "201",
        "400",
        "401",
        "403",
        "405",
        "408",
        "409",
        "413",
        "415",
        "422",
        "431",
        "429",
        "500",
        "503",
      ].sort(),
    );
    expect(operation?.responses?.["401"]).toMatchObject({
      description: expect.stringContaining("`token_expired`"),
      content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
      headers: { "WWW-Authenticate": { schema: { type: "string" } } },
    });
    expect(operation?.parameters).toContainEqual(
      expect.objectContaining({ name: "idempotency-key", in: "header", required: false }),
    );
    expect(doc.components?.schemas?.Problem).toMatchObject({
      type: "object",
      required: ["type", "title", "status", "code", "detail"],
    });
    expect(doc.components?.securitySchemes?.bearer).toMatchObject({ type: "http", scheme: "bearer" });
  });
});
