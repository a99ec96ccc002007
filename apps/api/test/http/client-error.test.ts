// What Node's HTTP parser refuses, over a raw socket to the server the API runs
// (createApiServer, as main.ts makes it, serving the app on PostgreSQL): a Content-Length
// that is no number, an unknown method, a bare LF, headers over the limit. Each is answered
// with the status Node would send, as problem+json with a stable code, and the connection
// is closed; the server goes on serving.

import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { PrismaStore } from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import { useCaseDepsOn } from "@susu/domain";
import { FakePaymentGateway, ManualClock, SequentialIds } from "@susu/domain/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiServer } from "../../src/http/server.js";
import { testApp } from "../support/app.js";

const db = useTestDatabase();
let server: ReturnType<typeof createApiServer>;
let port: number;

beforeAll(async () => {
  const clock = new ManualClock(Date.UTC(2026, 5, 1));
  const deps = useCaseDepsOn(new PrismaStore(db.prisma, { clock }), { clock, ids: new SequentialIds() });
  const app = testApp({
    useCases: deps,
    // Never reaches Stripe: nothing tested here calls the gateway (the fake only fills the port).
    gateway: new FakePaymentGateway(() => clock.now()),
    prisma: db.prisma,
  });
  server = createApiServer(app.fetch);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Writes `raw` on a new connection; resolves with all the server sent once it closed the connection. */
function exchange(raw: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let received = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      received += chunk;
    });
    socket.on("error", reject);
    socket.on("close", () => resolve(received));
    socket.write(raw);
  });
}

/** The status, headers (lower-case names) and body of a raw HTTP/1.1 answer. */
function parsed(answer: string) {
  const [head = "", body = ""] = answer.split("\r\n\r\n", 2);
  const [statusLine = "", ...lines] = head.split("\r\n");
  const headers = Object.fromEntries(
    lines.map((line) => [
      line.slice(0, line.indexOf(":")).toLowerCase(),
      line.slice(line.indexOf(":") + 1).trim(),
    ]),
  );
  return { status: Number(statusLine.split(" ")[1]), headers, body };
}

describe("what Node's HTTP parser refuses", () => {
  it.each([
    [
      "a Content-Length that is no number",
      "POST /v1/groups HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}",
    ],
    ["an unknown method", "FOO /v1/groups HTTP/1.1\r\nHost: x\r\n\r\n"],
    [
      "two Content-Lengths that differ",
      "POST /v1/groups HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n{}",
    ],
    ["a request line that is no HTTP", "hello\r\n\r\n"],
  ])("%s: 400 malformed_request as problem+json, and the connection is closed", async (_, raw) => {
    const answer = parsed(await exchange(raw));
    expect(answer.status).toBe(400);
    expect(answer.headers["content-type"]).toBe("application/problem+json");
    expect(answer.headers.connection).toBe("close");
    expect(Number(answer.headers["content-length"])).toBe(Buffer.byteLength(answer.body));
    expect(JSON.parse(answer.body)).toMatchObject({ status: 400, code: "malformed_request" });
  });

  it("headers over Node's limit: 431 headers_too_large", async () => {
    const answer = parsed(
      await exchange(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`),
    );
    expect(answer.status).toBe(431);
    expect(answer.headers["content-type"]).toBe("application/problem+json");
    expect(JSON.parse(answer.body)).toMatchObject({ status: 431, code: "headers_too_large" });
  });

  it("the server goes on serving well-formed requests", async () => {
    await exchange("FOO / HTTP/1.1\r\nHost: x\r\n\r\n");
    const answer = parsed(await exchange("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    expect(answer.status).toBe(200);
    expect(answer.body).toContain('"ok"');
  });
});
