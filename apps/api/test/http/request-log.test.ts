// One JSON log line per request, request ids both ways, a child logger for handlers, 500s
// logged with their stack but never sent, and no secrets in any line.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import {
  type AuthVariables,
  bearerAuth,
  createTokenVerifier,
  LOG_FLUSH_INTERVAL_MS,
  LOG_WRITE_MIN_BYTES,
  mintToken,
  problemOnError,
  type RequestLogVariables,
  requestIdOf,
  requestLog,
} from "../../src/http/index.js";
import { captureLogs, jsonRequest, SECRET } from "./support.js";

function loggedApp() {
  const logs = captureLogs();
  let next = 0;
  const app = new Hono<{ Variables: RequestLogVariables & AuthVariables }>();
  app.use("*", requestLog({ logger: logs.logger, generateId: () => `gen-${++next}` }));
  app.use("/v1/*", bearerAuth(createTokenVerifier({ sharedSecret: SECRET })));
  app.post("/v1/groups/:groupId/members", async (c) => {
    c.var.log.info({ groupId: c.req.param("groupId") }, "joining");
    return c.json({ requestId: c.var.requestId }, 201);
  });
  app.get("/v1/boom", () => {
    throw new Error("connection to db.internal:5432 refused");
  });
  app.get("/health", (c) => c.json({ status: "ok" }));
  app.onError(problemOnError);
  return { app, logs };
}

describe("request log", () => {
  it("writes one line per request with method, route pattern, status, duration, id and subject", async () => {
    const { app, logs } = loggedApp();
    const token = await mintToken({ subject: "ana", ttlSeconds: 600 }, SECRET);
    const res = await app.request(
      "/v1/groups/grp_123/members",
      jsonRequest(
        "POST",
        { bsb: "062-000", accountNumber: "12345678" },
        { authorization: `Bearer ${token}` },
      ),
    );
    expect(res.status).toBe(201);
    const lines = logs.lines();
    expect(lines).toHaveLength(2);
    const [handlerLine, requestLine] = lines;
    // The handler's line carries the request id through the child logger.
    expect(handlerLine).toMatchObject({ msg: "joining", requestId: "gen-1", groupId: "grp_123" });
    expect(requestLine).toMatchObject({
      level: 30,
      msg: "request",
      service: "susu-api",
      requestId: "gen-1",
      method: "POST",
      route: "/v1/groups/:groupId/members",
      status: 201,
      subject: "ana",
    });
    expect(typeof requestLine?.durationMs).toBe("number");
    // Nothing of the token, the body's bank details or the raw path.
    const text = logs.text();
    expect(text).not.toContain(token.slice(-16));
    expect(text).not.toContain("12345678");
    expect(text).not.toMatch(/authorization/i);
    expect(requestLine).not.toHaveProperty("path");
  });

  it("returns the client's sane X-Request-Id and replaces an unsafe one", async () => {
    const { app, logs } = loggedApp();
    const kept = await app.request("/health", { headers: { "x-request-id": "client-1.retry_2" } });
    expect(kept.headers.get("x-request-id")).toBe("client-1.retry_2");
    for (const unsafe of ["a b", "x".repeat(129), 'inject"},{"level":60', "ünï"]) {
      const res = await app.request("/health", { headers: { "x-request-id": unsafe } });
      expect(res.headers.get("x-request-id")).toMatch(/^gen-\d+$/);
    }
    expect(logs.lines().map((l) => l.requestId)).toEqual([
      "client-1.retry_2",
      "gen-1",
      "gen-2",
      "gen-3",
      "gen-4",
    ]);
    expect(requestIdOf(undefined, () => "new")).toBe("new");
  });

  it("logs an unhandled error with its stack at error level; the client gets a bare 500", async () => {
    const { app, logs } = loggedApp();
    const token = await mintToken({ subject: "ben", ttlSeconds: 600 }, SECRET);
    const res = await app.request("/v1/boom", { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(500);
    expect(res.headers.get("x-request-id")).toBe("gen-1");
    const body = await res.text();
    expect(body).not.toContain("db.internal");
    const [line] = logs.lines();
    expect(line).toMatchObject({
      level: 50,
      msg: "request failed",
      status: 500,
      route: "/v1/boom",
      subject: "ben",
    });
    const err = line?.err as { message: string; stack: string };
    expect(err.message).toContain("db.internal");
    expect(err.stack).toContain("request-log.test.ts");
  });

  it("labels requests that matched no route as unmatched, and 401s with the route they aimed at", async () => {
    const { app, logs } = loggedApp();
    await app.request("/nowhere/123");
    await app.request("/v1/groups/grp_9/members", jsonRequest("POST", {}));
    expect(logs.lines().map((l) => [l.route, l.status, l.subject])).toEqual([
      ["unmatched", 404, undefined],
      ["/v1/groups/:groupId/members", 401, undefined],
    ]);
  });

  it("lines written below the route through the plain logger carry the request id, redacted as any", async () => {
    const logs = captureLogs();
    const app = new Hono<{ Variables: RequestLogVariables }>();
    app.use("*", requestLog({ logger: logs.logger, generateId: () => "gen-below" }));
    // An adapter holds the process logger, not the request's: it is called with no id.
    const adapter = {
      async save(groupId: string) {
        await new Promise((resolve) => setTimeout(resolve, 1));
        logs.logger.warn(
          { groupId, token: "tok_below", headers: { authorization: "Bearer a.b.c" } },
          "storage slow",
        );
      },
    };
    app.post("/v1/groups/:groupId", async (c) => {
      await adapter.save(c.req.param("groupId"));
      return c.body(null, 204);
    });
    const res = await app.request("/v1/groups/grp_9", { method: "POST" });
    expect(res.headers.get("x-request-id")).toBe("gen-below");
    const below = logs.lines().find((l) => l.msg === "storage slow");
    expect(below).toMatchObject({ requestId: "gen-below", groupId: "grp_9", token: "[redacted]" });
    expect(logs.text()).not.toContain("tok_below");
    expect(logs.text()).not.toContain("a.b.c");
    // Once the request is over, the process logger's lines carry no request id.
    logs.logger.info("after");
    expect(logs.lines().find((l) => l.msg === "after")).not.toHaveProperty("requestId");
    // Each request id appears once per line: the handler's logger does not add a second.
    expect(logs.text().match(/"requestId"/g)?.length).toBe(logs.lines().length - 1);
  });

  it("the handler's logger still redacts: only the request's own line is written without redaction", async () => {
    const logs = captureLogs();
    const app = new Hono<{ Variables: RequestLogVariables }>();
    app.use("*", requestLog({ logger: logs.logger, generateId: () => "gen-h" }));
    app.post("/v1/things", (c) => {
      c.var.log.info({ token: "tok_handler", body: { iban: "DE00" } }, "careless handler");
      return c.body(null, 204);
    });
    expect((await app.request("/v1/things", { method: "POST" })).status).toBe(204);
    const [handlerLine, requestLine] = logs.lines();
    expect(handlerLine).toMatchObject({ msg: "careless handler", requestId: "gen-h", token: "[redacted]" });
    expect(logs.text()).not.toContain("tok_handler");
    expect(logs.text()).not.toContain("DE00");
    expect(requestLine).toMatchObject({
      msg: "request",
      service: "susu-api",
      requestId: "gen-h",
      method: "POST",
      route: "/v1/things",
      status: 204,
    });
    // Lines after the request through the process logger are redacted as ever.
    logs.logger.info({ password: "pw_after" }, "after");
    expect(logs.text()).not.toContain("pw_after");
  });

  it("blanks credentials a careless caller logs", () => {
    const logs = captureLogs();
    logs.logger.info(
      { headers: { authorization: "Bearer abc.def.ghi" }, token: "tok_secret", user: { password: "pw" } },
      "careless",
    );
    const text = logs.text();
    expect(text).not.toContain("abc.def.ghi");
    expect(text).not.toContain("tok_secret");
    expect(text).not.toContain('"pw"');
    expect(text).toContain("[redacted]");
  });
});

describe("the default destination (stdout, lines gathered before a write)", () => {
  const root = join(import.meta.dirname, "../../../..");
  // A process that logs through createLogger's default destination, as the API does.
  const run = (script: string) => {
    const child = spawn(
      join(root, "node_modules/.bin/tsx"),
      [
        "--eval",
        `import { createLogger } from ${JSON.stringify(join(root, "apps/api/src/http/request-log.ts"))};\n${script}`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const lines: { line: string; at: number }[] = [];
    let buffer = "";
    child.stdout.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      const parts = buffer.split("\n");
      buffer = parts.pop() ?? "";
      for (const line of parts) lines.push({ line, at: Date.now() });
    });
    const exited = new Promise<number>((resolve) => child.once("close", (code) => resolve(code ?? -1)));
    return { lines, exited };
  };

  it("writes a lone line within the flush interval, while the process is still running", async () => {
    // The marker goes to stdout straight, 8 intervals after the line: a line still gathered
    // then would come out only at exit, after the marker.
    const { lines, exited } = run(
      `const log = createLogger(); log.info({ n: 1 }, "lone"); setTimeout(() => { process.stdout.write("marker\\n", () => process.exit(0)); }, ${
        LOG_FLUSH_INTERVAL_MS * 8
      });`,
    );
    expect(await exited).toBe(0);
    const order = lines.map((l) => (l.line.includes('"lone"') ? "lone" : l.line));
    expect(order).toEqual(["lone", "marker"]);
  });

  it("loses no line gathered when the process exits at once, or throws", async () => {
    for (const end of ["process.exit(3);", 'throw new Error("boom");']) {
      const { lines, exited } = run(
        `const log = createLogger(); for (let i = 0; i < 50; i++) log.info({ i }, "gathered"); ${end}`,
      );
      expect(await exited).not.toBe(0);
      const written = lines.filter((l) => l.line.includes('"gathered"'));
      expect(written.map((l) => (JSON.parse(l.line) as { i: number }).i)).toEqual(
        Array.from({ length: 50 }, (_, i) => i),
      );
      expect(LOG_WRITE_MIN_BYTES).toBeGreaterThan(written[0]?.line.length ?? 0);
    }
  });
});
