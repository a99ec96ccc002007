// NUL characters are refused at the edge. PostgreSQL cannot store U+0000 in text or jsonb,
// so a NUL that got in would fail deep inside a write or a look-up as a database error (a
// 500 where the client sent bad input), or worse, reach the payment provider. One check
// here covers every route: path parameters, the query and headers in a middleware, JSON
// bodies in the schema every body is parsed with. JSON bodies are also refused a string
// that is not well-formed Unicode: a `\ud800` escape parses to an unpaired surrogate, which
// jsonb refuses just as it refuses NUL (a URL or a header cannot carry one: percent-decoding
// gives U+FFFD).
import type { Context, MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import { z } from "zod";
import { problem } from "./problem.js";

const NUL = "\u0000";
const NUL_MESSAGE = "must not contain NUL (\\u0000) characters";
const SURROGATE_MESSAGE = "must be well-formed Unicode (no unpaired surrogates such as \\ud800)";
/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The schema of a JSON request body: refuses a NUL character in any string of the body,
 * values and keys alike, naming where it is; then parses with `schema`.
 */
export function bodySchema<T extends z.ZodType>(schema: T) {
  return z
    .unknown()
    .superRefine((value, ctx) => {
      for (const { path, message } of unstorablePaths(value)) ctx.addIssue({ code: "custom", path, message });
    })
    .pipe(schema);
}

/**
 * The JSON body as the client sent it (`JSON.parse` of its text: a `__proto__` key stays an
 * own key, which a route's schema leaves out), or undefined when there is none. Never throws:
 * it reads the text the edge read and cached, which `jsonBodies` refused unless empty or JSON
 * (an empty body reaches a route as no body, whatever its declared type; the route's
 * validator then takes it as `{}`, so a route that must tell the two apart asks here).
 */
export async function jsonBodyAsSent(c: Context): Promise<unknown> {
  const text = await c.req.text().catch(() => "");
  if (text === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Whether a string is free of NUL characters (for `refine` in schemas). */
export const NUL_FREE = (value: string): boolean => !value.includes(NUL);

/**
 * Refuses a JSON body with a NUL character or an unpaired surrogate in any string, value or key (400
 * `invalid_request` naming each place), before any route's schema sees it. Hono keeps the
 * parsed body, so the route reads it again at no cost; a body that is not JSON is left to
 * the edge's own checks.
 */
export function refuseNulInJsonBodies(): MiddlewareHandler {
  return async (c, next) => {
    const type = c.req.header("content-type") ?? "";
    if (c.req.method !== "GET" && c.req.method !== "HEAD" && type.toLowerCase().includes("json")) {
      const body: unknown = await c.req.json().catch(() => undefined);
      const found = unstorablePaths(body);
      if (found.length > 0)
        return problem(c, 400, "invalid_request", "the request holds a character that cannot be stored", {
          errors: found.map(({ path, message }) => ({ path: `body.${path.join(".")}`, message })),
        });
    }
    await next();
  };
}

/** Why a string cannot be stored (a NUL, an unpaired surrogate), or undefined. */
function unstorable(value: string): string | undefined {
  if (value.includes(NUL)) return NUL_MESSAGE;
  return UNPAIRED_SURROGATE.test(value) ? SURROGATE_MESSAGE : undefined;
}

/** Where a value sits in a body: its key or index, and where its container sits. */
interface At {
  readonly key: string | number;
  readonly parent: At | undefined;
}

function pathOf(at: At | undefined): (string | number)[] {
  const path: (string | number)[] = [];
  for (let step = at; step !== undefined; step = step.parent) path.push(step.key);
  return path.reverse();
}

type Finding = { readonly path: (string | number)[]; readonly message: string };

/** A value still to walk, or a key already found unstorable (kept in its place in the order). */
type Pending =
  | { readonly value: unknown; readonly at: At | undefined }
  | { readonly badKey: At; readonly message: string };

/**
 * Every string (value or key) of `value` that cannot be stored, in document order. Walks
 * without recursion, so a body nested thousands of levels deep cannot overflow the stack
 * (a 500 where the client sent bad input); a path is built only for what is found.
 */
function unstorablePaths(value: unknown): Finding[] {
  const found: Finding[] = [];
  const pending: Pending[] = [{ value, at: undefined }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if ("badKey" in next) {
      found.push({ path: pathOf(next.badKey), message: next.message });
      continue;
    }
    const { value: item, at } = next;
    if (typeof item === "string") {
      const message = unstorable(item);
      if (message !== undefined) found.push({ path: pathOf(at), message });
      continue;
    }
    if (typeof item !== "object" || item === null) continue;
    const children: Pending[] = Array.isArray(item)
      ? item.map((child, i) => ({ value: child, at: { key: i, parent: at } }))
      : Object.entries(item).map(([key, child]) => {
          const message = unstorable(key);
          const place = { key, parent: at };
          return message !== undefined ? { badKey: place, message } : { value: child, at: place };
        });
    // Last child first onto the stack, so the first is looked at next.
    for (let i = children.length - 1; i >= 0; i--) pending.push(children[i] as Pending);
  }
  return found;
}

/**
 * Refuses, with a 400 `invalid_request` problem naming the field, a request whose path
 * parameters (`path.groupId`), query (`query.<name>`) or headers (`header.<name>`, such as
 * `header.x-susu-member`) hold a NUL character. HTTP servers refuse a NUL in a header
 * themselves; this still guards every other way a request can reach the app.
 */
export function refuseNulCharacters(): MiddlewareHandler {
  return async (c, next) => {
    const field = nulField(c);
    if (field !== undefined)
      return problem(c, 400, "invalid_request", "the request holds a NUL character", {
        errors: [{ path: field, message: NUL_MESSAGE }],
      });
    await next();
  };
}

function nulField(c: Context): string | undefined {
  const url = c.req.url;
  // The path and the query reach the app percent-encoded: a NUL in either is the text %00
  // (decoding makes a NUL from nothing else), so a URL without it, nor a raw NUL, needs no
  // parsing. Most requests end here but for the headers.
  if (url.includes("%00") || url.includes(NUL)) {
    const field = nulInUrl(c, url);
    if (field !== undefined) return field;
  }
  const lines = rawHeaderLines(c);
  if (lines !== undefined) {
    for (let i = 0; i + 1 < lines.length; i += 2) {
      const name = String(lines[i]);
      const value = lines[i + 1];
      // HTTP/2 pseudo-headers (:path, …) are not headers of the Request the server builds.
      if (typeof value === "string" && value.includes(NUL) && !name.startsWith(":"))
        return `header.${name.toLowerCase()}`;
    }
    return undefined;
  }
  let header: string | undefined;
  c.req.raw.headers.forEach((value, name) => {
    if (header === undefined && value.includes(NUL)) header = `header.${name}`;
  });
  return header;
}

/**
 * The request's headers as Node's HTTP server received them (name, value, name, value, …),
 * when it is served by @hono/node-server (its bindings, `c.env`, hold Node's request as
 * `incoming`). Read there, the check costs a pass over a few strings; walking
 * `c.req.raw.headers` makes that server build a full `Headers` object for every request
 * (~2% of a webhook delivery's CPU), which every later header read then goes through.
 */
function rawHeaderLines(c: Context): readonly unknown[] | undefined {
  const incoming = (c.env as { incoming?: { rawHeaders?: unknown } } | undefined)?.incoming;
  return Array.isArray(incoming?.rawHeaders) ? incoming.rawHeaders : undefined;
}

function nulInUrl(c: Context, url: string): string | undefined {
  const segments = new URL(url).pathname.split("/");
  // The route that will answer (the last one matched), to name the parameter.
  const pattern = routePath(c, -1).split("/");
  for (const [i, raw] of segments.entries()) {
    if (!decoded(raw).includes(NUL)) continue;
    const name = pattern[i]?.startsWith(":") ? pattern[i].slice(1).replace(/\{.*$/, "") : undefined;
    return name !== undefined && name !== "" ? `path.${name}` : "path";
  }
  for (const [name, values] of Object.entries(c.req.queries()))
    if (name.includes(NUL) || values.some((v) => v.includes(NUL))) return `query.${name}`;
  return undefined;
}

function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // a malformed escape is the router's to refuse, not a NUL
  }
}
