// Edge errors: body limit (413), media type (415), malformed JSON (400), wrong method (405
// with Allow), unknown routes (404), CORS, and onError that leaks nothing.
import { request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { describe, expect, it } from "vitest";
import {
  allowedMethods,
  bodyLimit,
  corsFor,
  isJsonContentType,
  JSON_DEPTH_MAX,
  jsonBodies,
  jsonNestedDeeperThan,
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
  // What Hono's JSON validator throws for a body it cannot parse.
  app.get("/unparsed", () => {
    throw new HTTPException(400, { message: "Malformed JSON in request body" });
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

  it(`refuses a body nesting arrays and objects more than ${JSON_DEPTH_MAX} levels deep with 400 invalid_request`, async () => {
    const nested = (depth: number) => `${'{"a":['.repeat(depth / 2)}1${"]}".repeat(depth / 2)}`;
    const atLimit = await edgeApp(20_000).request("/v1/groups", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: nested(JSON_DEPTH_MAX),
    });
    expect(atLimit.status).toBe(201);
    for (const depth of [JSON_DEPTH_MAX + 2, 3_000]) {
      const res = await edgeApp(20_000).request("/v1/groups", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: nested(depth),
      });
      expect(res.status, String(depth)).toBe(400);
      expect(await res.json()).toMatchObject({ code: "invalid_request", errors: [{ path: "body" }] });
    }
    expect(jsonNestedDeeperThan([[1]], 2)).toBe(false);
    expect(jsonNestedDeeperThan([[[]]], 2)).toBe(true);
    expect(jsonNestedDeeperThan("[[[[", 0)).toBe(false);
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

// As production serves it: @hono/node-server over a socket, where the limit is decided from
// the headers without building a web Request (and a GET never gets a body stream).
describe("body limit over a socket", () => {
  async function served<T>(work: (port: number) => Promise<T>): Promise<T> {
    const server = createAdaptorServer({ fetch: edgeApp(1024).fetch });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      return await work((server.address() as AddressInfo).port);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }
  /** Sends `chunks` with Content-Length (one write) or chunked (several writes). */
  function send(
    port: number,
    method: string,
    chunks: readonly string[],
    framing: "length" | "chunked",
  ): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const body = chunks.join("");
      const req = httpRequest(
        {
          host: "127.0.0.1",
          port,
          method,
          path: "/v1/groups",
          agent: false,
          headers: {
            "content-type": "application/json",
            ...(framing === "length"
              ? { "content-length": Buffer.byteLength(body) }
              : { "transfer-encoding": "chunked" }),
          },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => {
            text += c;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on("error", reject);
      if (framing === "length") req.end(body);
      else {
        for (const chunk of chunks) req.write(chunk);
        req.end();
      }
    });
  }
  const atLimit = JSON.stringify({ name: "x".repeat(1024 - 11) });
  const overLimit = JSON.stringify({ name: "x".repeat(1024 - 10) });

  it("refuses by Content-Length one byte over, and takes the body at the limit whole", async () => {
    await served(async (port) => {
      const over = await send(port, "POST", [overLimit], "length");
      expect(over.status).toBe(413);
      expect(JSON.parse(over.body)).toMatchObject({ code: "payload_too_large" });
      const at = await send(port, "POST", [atLimit], "length");
      expect(at.status).toBe(201);
      expect(JSON.parse(at.body)).toEqual({ received: JSON.parse(atLimit) });
    });
  });

  it("counts a chunked body: over the limit refused, at the limit taken whole", async () => {
    await served(async (port) => {
      const over = await send(port, "POST", [overLimit.slice(0, 600), overLimit.slice(600)], "chunked");
      expect(over.status).toBe(413);
      expect(JSON.parse(over.body)).toMatchObject({ code: "payload_too_large" });
      const at = await send(port, "PATCH", [atLimit.slice(0, 600), atLimit.slice(600)], "chunked");
      expect(at.status).toBe(405); // no PATCH /v1/groups: the limit let it through to routing
      const posted = await send(port, "POST", [atLimit.slice(0, 600), atLimit.slice(600)], "chunked");
      expect(posted.status).toBe(201);
      expect(JSON.parse(posted.body)).toEqual({ received: JSON.parse(atLimit) });
    });
  });

  it("lets a GET through untouched", async () => {
    await served(async (port) => {
      const res = await fetch(`http://127.0.0.1:${port}/v1/groups`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ data: [] });
    });
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

  it("answers a JSON body Hono's validator could not parse as malformed_json, never a generic bad_request", async () => {
    const res = await edgeApp().request("/unparsed");
    expect(res.status).toBe(400);
    expect(await codeOf(res)).toBe("malformed_json");
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
