// Edge errors: body limit (413), media type (415), malformed JSON (400), wrong method (405
// with Allow), unknown routes (404), CORS, and onError that leaks nothing.
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { describe, expect, it } from "vitest";
import {
  allowedMethods,
  bodyLimit,
  corsFor,
  isJsonContentType,
  jsonBodies,
  methodNotAllowed,
  problemOnError,
} from "../../src/http/index.js";
import { jsonRequest } from "./support.js";

function edgeApp(limit = 1024) {
  const app = new Hono();
  app.use("*", bodyLimit(limit));
  app.use("*", jsonBodies());
  const groups = new Hono();
  groups.get("/", (c) => c.json({ data: [] }));
  groups.post("/", async (c) => c.json({ received: await c.req.json() }, 201));
  groups.get("/:groupId", (c) => c.json({ id: c.req.param("groupId") }));
  groups.patch("/:groupId", async (c) => c.json({ patched: await c.req.json() }));
  groups.post("/:groupId/pause", (c) => c.json({ paused: true }));
  app.route("/v1/groups", groups);
  app.get("/boom", () => {
    throw new Error("database password is hunter2");
  });
  app.get("/teapot", () => {
    throw new HTTPException(413);
  });
  app.notFound(methodNotAllowed(app));
  app.onError(problemOnError);
  return app;
}

async function codeOf(res: Response): Promise<string> {
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  return ((await res.json()) as { code: string }).code;
}

describe("body limit", () => {
  it("refuses a body over the limit by Content-Length with 413 payload_too_large", async () => {
    const res = await edgeApp(1024).request("/v1/groups", jsonRequest("POST", { name: "x".repeat(2000) }));
    expect(res.status).toBe(413);
    expect(await codeOf(res)).toBe("payload_too_large");
  });

  it("counts a streamed body without Content-Length", async () => {
    const chunk = new TextEncoder().encode(`{"name":"${"x".repeat(600)}`);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(chunk);
        controller.enqueue(chunk);
        controller.close();
      },
    });
    const res = await edgeApp(1024).request("/v1/groups", {
      method: "POST",
      headers: { "content-type": "application/json", "transfer-encoding": "chunked" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(res.status).toBe(413);
  });

  it("accepts a body at the limit", async () => {
    const body = JSON.stringify({ name: "x".repeat(1024 - 11) });
    expect(body.length).toBe(1024);
    const res = await edgeApp(1024).request("/v1/groups", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    expect(res.status).toBe(201);
  });
});

describe("JSON bodies", () => {
  it("refuses a non-JSON content type with 415 unsupported_media_type", async () => {
    for (const contentType of ["text/plain", "application/x-www-form-urlencoded", "application/jsonx"]) {
      const res = await edgeApp().request("/v1/groups", {
        method: "POST",
        headers: { "content-type": contentType },
        body: '{"name":"x"}',
      });
      expect(res.status, contentType).toBe(415);
      expect(await codeOf(res)).toBe("unsupported_media_type");
    }
    const missing = await edgeApp().request("/v1/groups", {
      method: "POST",
      body: new Blob(['{"name":"x"}']),
    });
    expect(missing.status).toBe(415);
  });

  it("refuses malformed JSON with 400 malformed_json, without echoing the body", async () => {
    for (const body of ['{"name": "BSB 062-000 acct 12345678"', "not json", "{'a':1}"]) {
      const res = await edgeApp().request("/v1/groups", {
        method: "PATCH",
        headers: { "content-type": "application/json" },
        body,
      });
      expect(res.status).toBe(400);
      const text = await res.text();
      expect(JSON.parse(text)).toMatchObject({ code: "malformed_json", status: 400 });
      expect(text).not.toContain("12345678");
    }
  });

  it("passes JSON with parameters and +json types, and bodiless commands", async () => {
    const ok = await edgeApp().request("/v1/groups", {
      method: "POST",
      headers: { "content-type": "application/json; charset=utf-8" },
      body: '{"name":"Friday"}',
    });
    expect(ok.status).toBe(201);
    expect(await ok.json()).toEqual({ received: { name: "Friday" } });
    expect((await edgeApp().request("/v1/groups/g1/pause", { method: "POST" })).status).toBe(200);
    expect(isJsonContentType("application/merge-patch+json")).toBe(true);
    expect(isJsonContentType("application/vnd.susu.v1+json; charset=utf-8")).toBe(true);
    expect(isJsonContentType("text/json")).toBe(false);
    expect(isJsonContentType(undefined)).toBe(false);
  });
});

describe("405 and 404", () => {
  it("answers a wrong method on a known path with 405 and Allow", async () => {
    const app = edgeApp();
    const res = await app.request("/v1/groups/g1", { method: "DELETE" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, HEAD, PATCH");
    expect(await codeOf(res)).toBe("method_not_allowed");
    const collection = await app.request("/v1/groups", { method: "PUT", ...jsonRequest("PUT", {}) });
    expect(collection.headers.get("allow")).toBe("GET, HEAD, POST");
  });

  it("answers OPTIONS on a known path with 204 and Allow", async () => {
    const res = await edgeApp().request("/v1/groups/g1/pause", { method: "OPTIONS" });
    expect(res.status).toBe(204);
    expect(res.headers.get("allow")).toBe("POST");
  });

  it("answers an unknown path with 404 route_not_found", async () => {
    const res = await edgeApp().request("/v1/nope", { method: "DELETE" });
    expect(res.status).toBe(404);
    expect(await codeOf(res)).toBe("route_not_found");
  });

  it("computes allowed methods from a route table", () => {
    const routes = [
      { method: "ALL", path: "/v1/*" },
      { method: "GET", path: "/v1/rounds/:roundId" },
      { method: "POST", path: "/v1/rounds/:roundId/cancel" },
      { method: "POST", path: "/v1/rounds/:roundId" },
    ];
    expect(allowedMethods(routes, "/v1/rounds/r1")).toEqual(["GET", "HEAD", "POST"]);
    expect(allowedMethods(routes, "/v1/rounds/r1/cancel")).toEqual(["POST"]);
    expect(allowedMethods(routes, "/v1/rounds")).toEqual([]);
  });
});

describe("onError", () => {
  it("answers 500 internal_error without the message or stack", async () => {
    const res = await edgeApp().request("/boom");
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({ code: "internal_error", status: 500 });
    expect(text).not.toContain("hunter2");
    expect(text).not.toContain("at ");
  });

  it("turns hono's HTTPException into the problem for its status", async () => {
    const res = await edgeApp().request("/teapot");
    expect(res.status).toBe(413);
    expect(await codeOf(res)).toBe("payload_too_large");
  });
});

describe("CORS", () => {
  function corsApp(origins: string[]) {
    const app = new Hono();
    app.use("*", corsFor(origins));
    app.get("/v1/groups", (c) => c.json({ data: [] }));
    return app;
  }

  it("allows exactly the configured origins, exposing the API's headers", async () => {
    const app = corsApp(["https://app.example.com"]);
    const ok = await app.request("/v1/groups", { headers: { origin: "https://app.example.com" } });
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(ok.headers.get("access-control-expose-headers")).toContain("Idempotent-Replayed");
    expect(ok.headers.get("access-control-allow-credentials")).toBeNull();
    const other = await app.request("/v1/groups", { headers: { origin: "https://evil.example.com" } });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("answers preflights with the allowed methods and headers", async () => {
    const res = await corsApp(["https://app.example.com"]).request("/v1/groups", {
      method: "OPTIONS",
      headers: {
        origin: "https://app.example.com",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, idempotency-key",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-methods")).toContain("POST");
    expect(res.headers.get("access-control-allow-headers")).toBe(
      "Authorization,Content-Type,Idempotency-Key,X-Request-Id",
    );
    expect(res.headers.get("access-control-max-age")).toBe("600");
  });

  it("adds nothing when no origin is configured", async () => {
    const res = await corsApp([]).request("/v1/groups", { headers: { origin: "https://app.example.com" } });
    expect(res.status).toBe(200);
    expect([...res.headers.keys()].filter((name) => name.startsWith("access-control"))).toEqual([]);
  });
});
