import { randomUUID } from "node:crypto";
import { logContext, withLogContext } from "@susu/adapters";
import type { MiddlewareHandler } from "hono";
import pino from "pino";
import type { Principal } from "./auth.js";
import { setResponseHeaders } from "./response-headers.js";
import { routePatternOf } from "./route-pattern.js";

/** A structured JSON logger (pino). */
export type Logger = pino.Logger;

/** The Hono variables {@link requestLog} sets for everything after it. */
export interface RequestLogVariables {
  /** The request's id: the client's `X-Request-Id` when sane, else a new UUID. */
  requestId: string;
  /** A logger whose lines carry `requestId`; handlers log through it. */
  log: Logger;
  /** Set by the overload guard on a request it refused (the reason: `in_flight`). */
  shed?: string;
}

/** The header that carries the request id both ways. */
export const REQUEST_ID_HEADER = "X-Request-Id";

// Client ids end up in log lines and response headers: a bounded, plain alphabet keeps
// them from forging log fields or smuggling header syntax. (hono/request-id allows
// [\w\-=] and 255 characters, which refuses dotted ids; hence this small middleware.)
const SANE_REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** The client's request id if it is sane (≤ 128 of `[A-Za-z0-9._-]`), otherwise a new one. */
export function requestIdOf(header: string | undefined, generate: () => string = randomUUID): string {
  return header !== undefined && SANE_REQUEST_ID.test(header) ? header : generate();
}

/**
 * Paths pino blanks if a careless caller logs a request, headers or credentials anyway. The
 * request log itself writes only named fields, so these are a second line of defence.
 */
export const REDACTED_PATHS: readonly string[] = [
  "authorization",
  "*.authorization",
  "headers.authorization",
  "*.headers.authorization",
  "headers.cookie",
  "*.headers.cookie",
  "token",
  "*.token",
  "password",
  "*.password",
  "secret",
  "*.secret",
  "body",
  "*.body",
];

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  readonly level?: pino.LevelWithSilent;
  /**
   * Where lines go. Default: stdout, written asynchronously (pino's `sync: false`): a line
   * never waits for the write in the request's path (a synchronous write cost ~0.1 ms of
   * each request's CPU), lines are written in order, and what is pending is flushed when
   * the process exits (pino registers that). Lines are gathered up to
   * {@link LOG_WRITE_MIN_BYTES} before a write, and whatever is gathered is written at
   * least every {@link LOG_FLUSH_INTERVAL_MS}: one write per line cost ~4% of the API's CPU
   * at 500 requests/s. Tests pass a stream that collects them.
   */
  readonly destination?: pino.DestinationStream;
}

/** Bytes of log lines gathered before the default destination writes them (a few dozen request lines). */
export const LOG_WRITE_MIN_BYTES = 4096;
/**
 * Longest a line waits in the default destination before it is written, ms. Only a process
 * killed outright (SIGKILL) loses what was gathered; any exit, a crash included, flushes it.
 */
export const LOG_FLUSH_INTERVAL_MS = 250;

/**
 * The API's logger: JSON lines with `service: "susu-api"`, {@link REDACTED_PATHS} blanked,
 * and the log context's fields (`requestId` while a request is handled: {@link requestLog})
 * on every line, whoever writes it — a handler, an adapter, a provider call.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const settings: pino.LoggerOptions = {
    level: options.level ?? "info",
    base: { service: "susu-api" },
    redact: { paths: [...REDACTED_PATHS], censor: "[redacted]" },
    mixin: logContext,
  };
  return pino(
    settings,
    options.destination ??
      pino.destination({
        dest: 1,
        sync: false,
        minLength: LOG_WRITE_MIN_BYTES,
        periodicFlush: LOG_FLUSH_INTERVAL_MS,
      }),
  );
}

/** Options of {@link requestLog}. */
export interface RequestLogOptions {
  readonly logger: Logger;
  /** Makes request ids; default `crypto.randomUUID`. */
  readonly generateId?: () => string;
}

/** Whether `logger` takes the log context's fields (a {@link createLogger} logger or its child). */
function carriesLogContext(logger: Logger): boolean {
  return (logger as unknown as Record<symbol, unknown>)[pino.symbols.mixinSym] === logContext;
}

/**
 * Mount first. Gives each request an id (returned as `X-Request-Id`) and handles the rest
 * of the request inside a log context holding it, so every line written meanwhile by a
 * {@link createLogger} logger carries `requestId`: the handler's (`c.var.log`), and those
 * of adapters and provider calls below the route, given the same logger and no id. Then
 * writes one line per request: method, route pattern, status, duration, request id and
 * the principal's subject. Never headers, tokens, bodies or raw paths (they carry ids and
 * are unbounded). A request that ended in an unhandled error is logged at `error` with the
 * error and its stack; what the client sees is the app's `onError` answer, which must not
 * include it. (A logger made otherwise gets a child with the id for `c.var.log`; lines
 * written below the route through it then go without.)
 */
export function requestLog(
  options: RequestLogOptions,
): MiddlewareHandler<{ Variables: RequestLogVariables & { principal?: Principal } }> {
  const generate = options.generateId ?? randomUUID;
  const log = options.logger;
  const contextual = carriesLogContext(log);
  // The line logged for every request holds only the named fields below (no headers, body,
  // token or error), so it needs none of REDACTED_PATHS: the same logger without them writes
  // it (pino's redaction walks its paths for every line, ~15 µs, 5 times the rest of the
  // line's cost). A failed request's line carries its error and goes through the redacting one.
  const unredacted = (logger: Logger) => logger.child({}, { redact: { paths: [] } });
  const contextualLines = contextual ? unredacted(log) : undefined;
  return (c, next) => {
    const requestId = requestIdOf(c.req.header(REQUEST_ID_HEADER), generate);
    return withLogContext({ requestId }, async () => {
      const startedAt = performance.now();
      const requestLogger = contextual ? log : log.child({ requestId });
      c.set("requestId", requestId);
      c.set("log", requestLogger);
      await next();
      setResponseHeaders(c, { [REQUEST_ID_HEADER]: requestId });
      const line = {
        method: c.req.method,
        route: routePatternOf(c),
        status: c.res.status,
        durationMs: Math.round((performance.now() - startedAt) * 10) / 10,
        subject: c.get("principal")?.subject,
      };
      // Hono catches a handler's exception, answers with onError and records it as c.error.
      if (c.error !== undefined) requestLogger.error({ ...line, err: c.error }, "request failed");
      else {
        const lines = contextualLines ?? requestLogger;
        const shed = c.get("shed");
        // A request refused by the overload guard is the process protecting itself, not a failure.
        if (shed !== undefined) lines.warn({ ...line, shed }, "request refused: overloaded");
        else if (c.res.status >= 500) lines.error(line, "request");
        else lines.info(line, "request");
      }
    });
  };
}
