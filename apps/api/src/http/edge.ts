import type { Context, ErrorHandler, MiddlewareHandler, NotFoundHandler, ValidationTargets } from "hono";
import { bodyLimit as honoBodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import { TrieRouter } from "hono/router/trie-router";
import type { ZodError } from "zod";
import {
  PROBLEM_CONTENT_TYPE,
  problemBody,
  problemDoc,
  problemResponse,
  type ResponseDoc,
} from "./problem-response.js";

/** The default largest request body: 100 KiB, far above any JSON command the API takes. */
export const DEFAULT_BODY_LIMIT_BYTES = 100 * 1024;

/**
 * Refuses bodies over `maxBytes` with 413 `payload_too_large`, by `Content-Length` when it
 * is given and by counting the stream when it is not (chunked uploads), so an oversized
 * body is never buffered whole. `refusal` makes the 413 (default: a problem saying the
 * limit).
 */
export function bodyLimit(
  maxBytes: number = DEFAULT_BODY_LIMIT_BYTES,
  refusal?: (c: Context) => Response,
): MiddlewareHandler {
  if (!Number.isInteger(maxBytes) || maxBytes <= 0)
    throw new RangeError(`maxBytes must be a positive integer, got ${maxBytes}`);
  const tooLarge = (c: Context) =>
    refusal !== undefined
      ? refusal(c)
      : problemResponse(413, "payload_too_large", `the request body is over ${maxBytes} bytes`);
  const counting = honoBodyLimit({ maxSize: maxBytes, onError: tooLarge });
  // Decided from the headers where they settle it, as Hono's middleware would decide, but
  // without touching `c.req.raw.body`: on @hono/node-server that builds a full web Request
  // with a stream over the socket (~0.1 ms of CPU), for a GET that has no body at all, and
  // makes a POST's body be read through web streams instead of straight off the socket.
  return (c, next) => {
    const method = c.req.method;
    // A GET or HEAD has no body here (the server gives none to the Request): nothing to limit.
    if (method === "GET" || method === "HEAD") return next();
    const length = c.req.header("content-length");
    // The HTTP parser delivers exactly Content-Length bytes, so the header is the body's size.
    if (length !== undefined && c.req.header("transfer-encoding") === undefined)
      return Number.parseInt(length, 10) > maxBytes ? Promise.resolve(tooLarge(c)) : next();
    return counting(c, next);
  };
}

const METHODS_WITH_BODY = new Set(["POST", "PUT", "PATCH"]);

/**
 * Deepest nesting of arrays and objects a JSON body may have: far above any command the API
 * takes, far below what the recursive walks over a body (the NUL check, canonical JSON for
 * idempotency keys, schema validation) can take before the stack overflows.
 */
export const JSON_DEPTH_MAX = 64;

/** Whether `value` nests arrays and objects more than `max` levels deep; walks without recursion. */
export function jsonNestedDeeperThan(value: unknown, max: number): boolean {
  const pending: [unknown, number][] = [[value, 0]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [item, depth] = next;
    if (item === null || typeof item !== "object") continue;
    if (depth >= max) return true;
    for (const child of Object.values(item)) pending.push([child, depth + 1]);
  }
  return false;
}
// application/json, application/problem+json, application/vnd.x+json, any parameters.
const JSON_MEDIA_TYPE = /^application\/(?:[a-z0-9.!#$&^_-]+\+)?json\s*(?:;|$)/i;

/**
 * The `charset` values a JSON body may declare (lower case): UTF-8's names (WHATWG's labels),
 * and US-ASCII's, a subset of UTF-8 that clients declare for ASCII bodies.
 */
const ASCII_LABELS: ReadonlySet<string> = new Set(["us-ascii", "ascii"]);
const UTF_8_LABELS: ReadonlySet<string> = new Set(["utf-8", "utf8", "unicode-1-1-utf-8", ...ASCII_LABELS]);

/** The `charset` parameter of a `Content-Type` value, lower case and unquoted, or undefined without one. */
function charsetOf(contentType: string): string | undefined {
  for (const parameter of contentType.split(";").slice(1)) {
    const at = parameter.indexOf("=");
    if (at === -1 || parameter.slice(0, at).trim().toLowerCase() !== "charset") continue;
    return parameter
      .slice(at + 1)
      .trim()
      .replace(/^"(.*)"$/, "$1")
      .toLowerCase();
  }
  return undefined;
}

/** Whether a `Content-Type` value is JSON. */
export function isJsonContentType(value: string | undefined): boolean {
  return value !== undefined && JSON_MEDIA_TYPE.test(value.trim());
}

/**
 * The request without its `Content-Type`, for a body that is empty: the routes' validators
 * parse a body declared JSON, and an empty one is no JSON (Hono's validator would throw a
 * generic 400), so without the declaration the request is what it means: no body. A route
 * whose body is optional then takes none; one whose body is required names its fields.
 */
function undeclared(request: Request): Request {
  const headers = new Headers(request.headers);
  headers.delete("content-type");
  return new Request(request.url, { method: request.method, headers, signal: request.signal });
}

/**
 * For POST, PUT and PATCH with a non-empty body: 415 `unsupported_media_type` unless the
 * body is declared JSON in UTF-8 (no `charset`, or `charset=utf-8`), 400 `malformed_json`
 * unless its bytes are UTF-8 and it parses, and 400 `invalid_request`
 * when it nests arrays and objects more than {@link JSON_DEPTH_MAX} levels deep. An empty body passes
 * whatever its type (commands such as "pause" carry none), as if no type were declared:
 * the same request with or without `Content-Type: application/json`. Mount after {@link bodyLimit}:
 * the body is read here, bounded by it, and cached by Hono for the handler's `c.req.json()`.
 * The parse error's text is not echoed: it quotes the body, which may hold bank details.
 */
export function jsonBodies(): MiddlewareHandler {
  return async (c, next) => {
    if (!METHODS_WITH_BODY.has(c.req.method)) return next();
    const bytes = await c.req.arrayBuffer();
    if (bytes.byteLength === 0) {
      // Hono keeps the bytes it read (none), so the body still reads the same after this.
      if (c.req.header("content-type") !== undefined) c.req.raw = undeclared(c.req.raw);
      return next();
    }
    if (!isJsonContentType(c.req.header("content-type")))
      return problemResponse(
        415,
        "unsupported_media_type",
        "send the body as JSON with Content-Type: application/json",
        { "accept-post": "application/json", "accept-patch": "application/json" },
      );
    const charset = charsetOf(c.req.header("content-type") ?? "");
    if (charset !== undefined && !UTF_8_LABELS.has(charset))
      return problemResponse(
        415,
        "unsupported_media_type",
        "send the body as JSON in UTF-8 (Content-Type: application/json, with no charset, charset=utf-8 or charset=us-ascii)",
        { "accept-post": "application/json", "accept-patch": "application/json" },
      );
    let text: string;
    let parsed: unknown;
    try {
      // Fatal: bytes that are not UTF-8 are refused, not read as U+FFFD (JSON is UTF-8, RFC 8259).
      // A body declared US-ASCII holds no byte above 0x7F. Checked on the bytes (a view, not a
      // copy), not the text: the decoder drops a leading UTF-8 BOM (EF BB BF) unseen.
      if (charset !== undefined && ASCII_LABELS.has(charset) && new Uint8Array(bytes).some((b) => b > 0x7f))
        throw new TypeError("not US-ASCII");
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      parsed = JSON.parse(text);
    } catch {
      return problemResponse(400, "malformed_json", "the request body is not valid JSON in UTF-8");
    }
    // What the handlers, the NUL check and the idempotency key read: the text as decoded here
    // (Hono keeps each body read as a promise, whatever `bodyCache`'s type says).
    (c.req.bodyCache as unknown as { text?: Promise<string> }).text = Promise.resolve(text);
    if (jsonNestedDeeperThan(parsed, JSON_DEPTH_MAX)) {
      const body = {
        ...problemBody(
          400,
          "invalid_request",
          `the request body nests more than ${JSON_DEPTH_MAX} levels deep`,
        ),
        errors: [
          {
            path: "body",
            message: `must not nest arrays and objects more than ${JSON_DEPTH_MAX} levels deep`,
          },
        ],
      };
      return new Response(JSON.stringify(body), {
        status: 400,
        headers: { "content-type": PROBLEM_CONTENT_TYPE },
      });
    }
    await next();
  };
}

/** A registered route as Hono lists it in `app.routes`. */
export interface RouteEntry {
  readonly method: string;
  readonly path: string;
}

/** Precomputes, for a route table, which methods each path accepts. */
export function allowedMethodsIndex(routes: readonly RouteEntry[]): (path: string) => readonly string[] {
  const methodsByPattern = new Map<string, Set<string>>();
  for (const route of routes) {
    // ALL entries are middlewares (app.use) or catch-alls; they do not make a method allowed.
    if (route.method === "ALL") continue;
    const methods = methodsByPattern.get(route.path) ?? new Set<string>();
    methods.add(route.method);
    // Hono answers HEAD from the GET route.
    if (route.method === "GET") methods.add("HEAD");
    methodsByPattern.set(route.path, methods);
  }
  const router = new TrieRouter<readonly string[]>();
  for (const [pattern, methods] of methodsByPattern) router.add("ALL", pattern, [...methods]);
  return (path) => {
    const allowed = new Set<string>();
    for (const [methods] of router.match("ALL", path)[0]) for (const method of methods) allowed.add(method);
    return [...allowed].sort();
  };
}

/** The methods the routes accept for `path` (sorted; empty when no route has the path). */
export function allowedMethods(routes: readonly RouteEntry[], path: string): readonly string[] {
  return allowedMethodsIndex(routes)(path);
}

/**
 * A `notFound` handler: 405 `method_not_allowed` with `Allow` when the path exists under
 * other methods, a bare 204 with `Allow` for OPTIONS on a known path, otherwise 404
 * `route_not_found`. Give it the top-level app; its route table is read on first use, after
 * every route is registered.
 */
export function methodNotAllowed(app: { readonly routes: readonly RouteEntry[] }): NotFoundHandler {
  let index: ((path: string) => readonly string[]) | undefined;
  return (c) => {
    index ??= allowedMethodsIndex(app.routes);
    const allowed = index(c.req.path);
    if (allowed.length === 0)
      return problemResponse(404, "route_not_found", `no route ${c.req.method} ${c.req.path}`);
    const allow = allowed.join(", ");
    if (c.req.method === "OPTIONS") return new Response(null, { status: 204, headers: { allow } });
    return problemResponse(405, "method_not_allowed", `${c.req.method} is not allowed here; use ${allow}`, {
      allow,
    });
  };
}

/** Request headers browsers may send cross-origin. */
export const CORS_ALLOW_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id"];
/** Response headers cross-origin scripts may read. */
export const CORS_EXPOSE_HEADERS = [
  "X-Request-Id",
  "Idempotent-Replayed",
  "Location",
  "Retry-After",
  "RateLimit-Limit",
  "RateLimit-Remaining",
  "RateLimit-Reset",
  "RateLimit-Policy",
];

/**
 * CORS for exactly `origins` (from `SUSU_CORS_ORIGINS`); with none, a pass-through that adds
 * no header, so browsers keep their same-origin default. Credentials are not allowed: the
 * API takes bearer tokens, never cookies.
 */
export function corsFor(origins: readonly string[]): MiddlewareHandler {
  if (origins.length === 0) return async (_c, next) => next();
  return cors({
    origin: [...origins],
    allowMethods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
    allowHeaders: CORS_ALLOW_HEADERS,
    exposeHeaders: CORS_EXPOSE_HEADERS,
    maxAge: 600,
    credentials: false,
  });
}

const CODE_OF_STATUS: Readonly<Record<number, string>> = {
  400: "malformed_request",
  401: "unauthenticated",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  408: "request_timeout",
  413: "payload_too_large",
  415: "unsupported_media_type",
  429: "rate_limited",
  503: "service_unavailable",
};

/**
 * An `onError` handler: an `HTTPException` (thrown by hono's helpers) becomes the problem
 * for its status; anything else is a bug or lost infrastructure, answered 500
 * `internal_error` without its message or stack (the request log records those). A 400
 * about JSON (Hono's validator: "Malformed JSON in request body") is `malformed_json`, as
 * {@link jsonBodies} answers it, whichever of the two meets the body first.
 */
export const problemOnError: ErrorHandler = (error, c) => {
  if (error instanceof HTTPException && error.status === 400 && /\bjson\b/i.test(error.message))
    return problemResponse(400, "malformed_json", "the request body is not valid JSON");
  if (error instanceof HTTPException && error.status < 500) {
    const code = CODE_OF_STATUS[error.status] ?? "malformed_request";
    return problemResponse(error.status, code, code.replaceAll("_", " "));
  }
  // The request id (set by the request log, which logs the error under it) is the one thing
  // told, so support can find the cause, as problem.ts's serverProblem does for other 5xx.
  const requestId: unknown = (c.var as Record<string, unknown>).requestId;
  if (typeof requestId !== "string")
    return problemResponse(500, "internal_error", "something went wrong on our side");
  const body = {
    ...problemBody(500, "internal_error", `something went wrong on our side (request id ${requestId})`),
    requestId,
  };
  return new Response(JSON.stringify(body), {
    status: 500,
    headers: { "content-type": PROBLEM_CONTENT_TYPE },
  });
};

/**
 * A `defaultHook` for `new OpenAPIHono({ defaultHook: validationProblem })`: input that fails
 * a route's schema is answered 400 `invalid_request` listing every offending field (the
 * shape of problem.ts's `validationProblem`), instead of zod-openapi's own error body.
 */
export function validationProblem(result: {
  readonly target: keyof ValidationTargets;
  readonly success: boolean;
  readonly error?: ZodError;
}): Response | undefined {
  if (result.success || result.error === undefined) return undefined;
  const body = {
    ...problemBody(400, "invalid_request", `the request's ${result.target} does not match the schema`),
    errors: result.error.issues.map((issue) => ({ path: issue.path.join("."), message: issue.message })),
  };
  return new Response(JSON.stringify(body), {
    status: 400,
    headers: { "content-type": PROBLEM_CONTENT_TYPE },
  });
}

/** The responses the edge middlewares may give, for a route's OpenAPI `responses`. */
export const edgeResponses = {
  400: problemDoc(
    "The body is not valid JSON, or does not match the schema; or the request is not well-formed HTTP (answered by the server, which then closes the connection).",
    ["malformed_json", "invalid_request", "malformed_request"],
  ),
  408: problemDoc("The request did not arrive in time (the server closes the connection).", [
    "request_timeout",
  ]),
  431: problemDoc("The request's headers are over the server's limit (the server closes the connection).", [
    "headers_too_large",
  ]),
  405: problemDoc("The path exists but not with this method.", ["method_not_allowed"], {
    Allow: { description: "The methods the path accepts." },
  }),
  413: problemDoc("The body is over the size limit.", ["payload_too_large"]),
  415: problemDoc("The body is not declared as JSON in UTF-8.", ["unsupported_media_type"]),
  500: problemDoc(
    "Something went wrong on our side: a bug, or the database refused a value; nothing of the cause is told but the `requestId` it is logged under.",
    ["internal_error", "storage_refused"],
  ),
} satisfies Record<number, ResponseDoc>;
