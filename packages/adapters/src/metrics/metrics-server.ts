import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { MetricsRegistry } from "./metrics-registry.js";

/** Where {@link serveMetrics} listens. */
export interface MetricsServerOptions {
  /** 0 picks a free port (see {@link MetricsServer.port}). */
  readonly port: number;
  /** Default 127.0.0.1: metrics are for the local Prometheus unless said otherwise. */
  readonly host?: string;
}

/** A listening metrics endpoint. */
export interface MetricsServer {
  /** The port it listens on (the one picked when asked for 0). */
  readonly port: number;
  /** `http://host:port/metrics`. */
  readonly url: string;
  /** Stops listening; resolves once open connections are closed. */
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` (and `HEAD`) in Prometheus text format, for a process that has no
 * HTTP app of its own (the scheduler). Anything else is 404, another method 405. It reads
 * nothing from requests, so it needs no body limit or parsing. Rejects when the port
 * cannot be listened on (`EADDRINUSE`), so the caller can name the variable that moves it.
 */
export function serveMetrics(
  metrics: MetricsRegistry,
  options: MetricsServerOptions,
): Promise<MetricsServer> {
  const host = options.host ?? "127.0.0.1";
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found: try /metrics\n");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    metrics.text().then(
      (text) => {
        res.writeHead(200, { "content-type": metrics.contentType });
        res.end(req.method === "HEAD" ? undefined : text);
      },
      () => {
        res.writeHead(500, { "content-type": "text/plain; charset=utf-8" }).end("metrics unavailable\n");
      },
    );
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, host, () => {
      server.off("error", reject);
      const { port } = server.address() as AddressInfo;
      const shown = host.includes(":") ? `[${host}]` : host;
      resolve({
        port,
        url: `http://${shown}:${port}/metrics`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
