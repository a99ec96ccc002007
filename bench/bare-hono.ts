/**
 * The ceiling of bench/api.ts: a bare Hono app answering a small JSON document, no
 * middleware, served by @hono/node-server as the API is, in a process of its own. Prints
 * `{"port": n}` once it listens on a free loopback port.
 */
import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import { Hono } from "hono";

const bare = new Hono();
bare.all("*", (c) => c.json({ id: "grp_1", name: "Friday savers", status: "forming" }));
const server = createAdaptorServer({ fetch: bare.fetch });
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
