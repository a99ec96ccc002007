// Graceful shutdown on a real node server (@hono/node-server): in-flight requests finish,
// new connections are refused, and a request slower than the timeout is cut.
import { request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { type ClosableServer, closeGracefully } from "../../src/http/index.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function startServer(slowMs: number) {
  let started = 0;
  const app = new Hono();
  app.get("/slow", async (c) => {
    started++;
    await sleep(slowMs);
    return c.json({ done: true });
  });
  app.get("/fast", (c) => c.json({ fast: true }));
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  const port = (server.address() as AddressInfo).port;
  return { server: server as unknown as ClosableServer, port, started: () => started };
}

/** A GET on a keep-alive connection, as clients and load balancers make them. */
function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: "127.0.0.1", port, path, headers: { connection: "keep-alive" } },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("closeGracefully", () => {
  it("finishes a slow request in flight, refuses new connections, and closes promptly after", async () => {
    const { server, port, started } = await startServer(400);
    // An idle keep-alive connection must not hold the shutdown open either.
    expect((await get(port, "/fast")).status).toBe(200);
    const inFlight = get(port, "/slow");
    await expect.poll(started).toBe(1);
    const closing = closeGracefully(server, { timeoutMs: 5_000 });
    await sleep(50);
    await expect(get(port, "/fast")).rejects.toThrow(/ECONNREFUSED/);
    expect(await inFlight).toEqual({ status: 200, body: '{"done":true}' });
    const outcome = await closing;
    expect(outcome.forced).toBe(false);
    // The slow request took 400 ms; closing waited for it, not for a keep-alive timeout.
    expect(outcome.durationMs).toBeGreaterThanOrEqual(300);
    expect(outcome.durationMs).toBeLessThan(2_000);
  });

  it("cuts requests still running at the timeout", async () => {
    const { server, port, started } = await startServer(10_000);
    const inFlight = get(port, "/slow").then(
      () => "answered",
      (error: Error) => error.message,
    );
    await expect.poll(started).toBe(1);
    const outcome = await closeGracefully(server, { timeoutMs: 200 });
    expect(outcome.forced).toBe(true);
    expect(outcome.durationMs).toBeLessThan(2_000);
    expect(await inFlight).toMatch(/socket hang up|ECONNRESET/);
  });
});
