import { Server as HttpServer } from "node:http";
import type { Duplex } from "node:stream";
import { createAdaptorServer, type ServerType } from "@hono/node-server";
import { problemBody } from "./problem-response.js";

/**
 * What Node's HTTP parser refused, as the API answers it: the status Node itself would send
 * (its `socketOnError`), with a problem+json body and a stable code. A request line or header
 * Node cannot parse (`Content-Length: abc`, a method such as `FOO`, a bare LF) is 400
 * `malformed_request`; headers over Node's limit 431 `headers_too_large`; chunk extensions
 * over its limit 413 `payload_too_large`; a request that did not arrive within
 * `requestTimeout` 408 `request_timeout`.
 */
export function clientErrorProblem(code: string | undefined): {
  readonly status: number;
  readonly reason: string;
  readonly code: string;
  readonly detail: string;
} {
  switch (code) {
    case "HPE_HEADER_OVERFLOW":
      return {
        status: 431,
        reason: "Request Header Fields Too Large",
        code: "headers_too_large",
        detail: "the request's headers are over the server's limit",
      };
    case "HPE_CHUNK_EXTENSIONS_OVERFLOW":
      return {
        status: 413,
        reason: "Payload Too Large",
        code: "payload_too_large",
        detail: "the request's chunk extensions are over the server's limit",
      };
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return {
        status: 408,
        reason: "Request Timeout",
        code: "request_timeout",
        detail: "the request did not arrive in time",
      };
    default:
      return {
        status: 400,
        reason: "Bad Request",
        code: "malformed_request",
        detail: "the request is not well-formed HTTP (its request line or a header cannot be parsed)",
      };
  }
}

/**
 * A `clientError` listener: answers what Node's HTTP parser refused as problem+json, then
 * closes the socket, as Node's own default does (which answers a bare `400 Bad Request` with
 * no body). Like Node, it writes only on a socket still writable that has been sent nothing
 * yet (a response already begun on a kept-alive connection cannot be followed by another),
 * and always destroys the socket: after a parse error the connection's framing is lost.
 */
export function answerClientError(error: Error & { readonly code?: string }, socket: Duplex): void {
  const net = socket as Duplex & { readonly bytesWritten?: number };
  if (error.code !== "ECONNRESET" && socket.writable && (net.bytesWritten ?? 0) === 0) {
    const problem = clientErrorProblem(error.code);
    const body = JSON.stringify(problemBody(problem.status, problem.code, problem.detail));
    // Closed once the answer is flushed; the client's unread bytes are not waited for.
    socket.end(
      `HTTP/1.1 ${problem.status} ${problem.reason}\r\n` +
        "Content-Type: application/problem+json\r\n" +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        "Connection: close\r\n\r\n" +
        body,
      () => socket.destroy(),
    );
    return;
  }
  socket.destroy();
}

/**
 * The API's HTTP server for `fetch` (the Hono app's): @hono/node-server's, with what the
 * parser refuses answered as problem+json ({@link answerClientError}), and idle kept-alive
 * connections kept open longer than the clients and proxies in front keep theirs (load
 * balancers commonly 60 s; Node's own default is 5 s). A server that closes an idle
 * connection first races the client's next request on it: the client sees the socket reset
 * (a proxy answers 502) for a request the API never received. On a stop, idle connections
 * are closed at once (main.ts's drain), so this does not delay shutdown.
 */
export function createApiServer(
  fetch: (request: Request, env?: unknown) => Response | Promise<Response>,
): ServerType {
  const server = createAdaptorServer({ fetch });
  if (server instanceof HttpServer) {
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    server.on("clientError", answerClientError);
  }
  return server;
}
