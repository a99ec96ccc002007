/**
 * A load generator's HTTP/1.1 client, for benches whose sender shares the machine with what
 * it measures: one kept-alive TCP connection, one request in flight, the request written as
 * one ready-made string and the answer read with only what framing needs (status line,
 * Content-Length or a chunked body's last chunk). node:http spends about 0.25 ms of CPU per
 * request on the same work (its agent, header objects, streams), and on two cores that time
 * is taken from the API and PostgreSQL being measured; this costs a fraction of it (the
 * benches print the sender's own CPU per request beside their figures).
 */
import { connect, type Socket } from "node:net";

/** What came back: the status (0 when the connection failed first). */
export interface RawAnswer {
  readonly status: number;
}

const HEADER_END = "\r\n\r\n";

/** Where a complete HTTP response in `text` ends (an index), or -1 while it is incomplete. */
export function responseEnd(text: string): number {
  const headerEnd = text.indexOf(HEADER_END);
  if (headerEnd < 0) return -1;
  const head = text.slice(0, headerEnd).toLowerCase();
  const bodyStart = headerEnd + HEADER_END.length;
  // Transfer-Encoding wins over Content-Length (RFC 9112 §6.3); only a last chunk without
  // extensions or trailers is recognised (what Node's server writes).
  if (/\r\ntransfer-encoding:[^\r]*chunked/.test(head)) {
    const last = text.indexOf("\r\n0\r\n\r\n", bodyStart - 2);
    return last < 0 ? -1 : last + "\r\n0\r\n\r\n".length;
  }
  const length = /\r\ncontent-length:\s*(\d+)/.exec(head);
  if (length !== null) {
    const end = bodyStart + Number(length[1]);
    return text.length >= end ? end : -1;
  }
  const status = statusOf(text);
  if ((status >= 100 && status < 200) || status === 204 || status === 304) return bodyStart;
  // A body that ends when the connection closes: not something this client frames.
  throw new Error(
    `HTTP ${status} without Content-Length or a chunked body: cannot frame it on a kept-alive connection`,
  );
}

/** The status code of the response at the start of `text`. */
export function statusOf(text: string): number {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  if (match === null) throw new Error(`not an HTTP response: ${JSON.stringify(text.slice(0, 40))}`);
  return Number(match[1]);
}

/** One kept-alive connection; `send` writes a whole request and resolves with its answer. */
export class RawHttpConnection {
  #socket: Socket | undefined;
  #buffer = "";
  #waiting: ((answer: RawAnswer) => void) | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
    /** Called with each transport error's code (the request then answers status 0). */
    private readonly onError: (error: Error & { code?: string }) => void = () => undefined,
  ) {}

  /** Writes `request` (the full HTTP/1.1 text: request line, headers, blank line, body). */
  send(request: string): Promise<RawAnswer> {
    if (this.#waiting !== undefined) throw new Error("one request at a time per connection");
    const socket = this.#socket ?? this.#open();
    return new Promise<RawAnswer>((resolve) => {
      this.#waiting = resolve;
      socket.write(request);
    });
  }

  close(): void {
    this.#socket?.destroy();
    this.#socket = undefined;
  }

  #open(): Socket {
    const socket = connect({ host: this.host, port: this.port, noDelay: true });
    socket.setEncoding("latin1");
    const fail = (error: Error & { code?: string }) => {
      if (this.#socket !== socket) return;
      // An error on an idle connection (reset by the server between requests) fails no
      // request: the connection is dropped and the next request opens a new one.
      if (this.#waiting !== undefined) this.onError(error);
      this.#drop();
    };
    socket.on("data", (chunk: string) => {
      this.#buffer += chunk;
      let end: number;
      let status: number;
      try {
        end = responseEnd(this.#buffer);
        if (end < 0) return;
        status = statusOf(this.#buffer);
      } catch (error) {
        // An answer this client cannot read: the request counts as unanswered (status 0).
        fail(Object.assign(error as Error, { code: "UNREADABLE_RESPONSE" }));
        return;
      }
      this.#buffer = this.#buffer.slice(end);
      this.#answer({ status });
    });
    socket.on("error", fail);
    socket.on("close", () => {
      if (this.#socket !== socket) return;
      // Closed by the server between requests (Connection: close, an idle timeout): the next
      // request opens a new connection. Closed while a request waited: that request failed.
      if (this.#waiting !== undefined)
        fail(Object.assign(new Error("connection closed"), { code: "CLOSED" }));
      else {
        this.#socket = undefined;
        this.#buffer = "";
      }
    });
    this.#socket = socket;
    return socket;
  }

  #answer(answer: RawAnswer): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.(answer);
  }

  #drop(): void {
    this.#socket?.destroy();
    this.#socket = undefined;
    this.#buffer = "";
    this.#answer({ status: 0 });
  }
}

/** A POST's full text: `headers` (name → value) plus Host and Content-Length, then `body`. */
export function postText(
  host: string,
  path: string,
  headers: Readonly<Record<string, string>>,
  body: string,
): string {
  let text = `POST ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
  for (const [name, value] of Object.entries(headers)) text += `${name}: ${value}\r\n`;
  return `${text}\r\n${body}`;
}

/**
 * Connections of {@link RawHttpConnection} for an open-loop sender: a request goes out on an
 * idle connection when there is one (the one used last first), else on a new one, so
 * requests never wait for each other's answers. A connection left idle for `idleMs` is
 * closed before it is used again: a server closes its idle kept-alive connections after a
 * while, and a request written on one just as it does gets no answer (the keep-alive race).
 */
export class RawHttpPool {
  readonly #idle: { readonly connection: RawHttpConnection; readonly since: number }[] = [];
  readonly #all = new Set<RawHttpConnection>();

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly idleMs: number,
    /** Called with each transport error's code (the request then answers status 0). */
    private readonly onError: (error: Error & { code?: string }) => void = () => undefined,
  ) {}

  /** How many connections it has opened and not closed. */
  get size(): number {
    return this.#all.size;
  }

  async send(request: string): Promise<RawAnswer> {
    const connection = this.#take();
    try {
      return await connection.send(request);
    } finally {
      this.#idle.push({ connection, since: performance.now() });
    }
  }

  close(): void {
    for (const connection of this.#all) connection.close();
    this.#all.clear();
    this.#idle.length = 0;
  }

  #take(): RawHttpConnection {
    const now = performance.now();
    // The oldest idle ones are first in the list: those idle too long are closed.
    while (this.#idle.length > 0 && now - (this.#idle[0]?.since ?? now) > this.idleMs) {
      const stale = this.#idle.shift();
      stale?.connection.close();
      if (stale !== undefined) this.#all.delete(stale.connection);
    }
    const idle = this.#idle.pop();
    if (idle !== undefined) return idle.connection;
    const connection = new RawHttpConnection(this.host, this.port, this.onError);
    this.#all.add(connection);
    return connection;
  }
}
