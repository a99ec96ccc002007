// NUL characters are refused at the edge. PostgreSQL cannot store U+0000 in text or jsonb,
// so a NUL that got in would fail deep inside a write or a look-up as a database error (a
// 500 where the client sent bad input), or worse, reach the payment provider. One check
// here covers every route: path parameters, the query and headers in a middleware, JSON
// bodies in the schema every body is parsed with.
import type { Context, MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import { z } from "zod";
import { problem } from "./problem.js";

const NUL = "\u0000";
const NUL_MESSAGE = "must not contain NUL (\\u0000) characters";

/**
 * The schema of a JSON request body: refuses a NUL character in any string of the body,
 * values and keys alike, naming where it is; then parses with `schema`.
 */
export function bodySchema<T extends z.ZodType>(schema: T) {
  return z
    .unknown()
    .superRefine((value, ctx) => {
      for (const path of nulPaths(value, [])) ctx.addIssue({ code: "custom", path, message: NUL_MESSAGE });
    })
    .pipe(schema);
}

/** Whether a string is free of NUL characters (for `refine` in schemas). */
export const NUL_FREE = (value: string): boolean => !value.includes(NUL);

/**
 * Refuses a JSON body with a NUL character in any string, value or key (400
 * `invalid_request` naming each place), before any route's schema sees it. Hono keeps the
 * parsed body, so the route reads it again at no cost; a body that is not JSON is left to
 * the edge's own checks.
 */
export function refuseNulInJsonBodies(): MiddlewareHandler {
  return async (c, next) => {
    const type = c.req.header("content-type") ?? "";
    if (c.req.method !== "GET" && c.req.method !== "HEAD" && type.toLowerCase().includes("json")) {
      const body: unknown = await c.req.json().catch(() => undefined);
      const paths = nulPaths(body, []);
      if (paths.length > 0)
        return problem(c, 400, "invalid_request", "the request holds a NUL character", {
          errors: paths.map((path) => ({ path: `body.${path.join(".")}`, message: NUL_MESSAGE })),
        });
    }
    await next();
  };
}

function nulPaths(value: unknown, at: (string | number)[]): (string | number)[][] {
  if (typeof value === "string") return value.includes(NUL) ? [at] : [];
  if (Array.isArray(value)) return value.flatMap((item, i) => nulPaths(item, [...at, i]));
  if (typeof value === "object" && value !== null)
    return Object.entries(value).flatMap(([key, item]) =>
      key.includes(NUL) ? [[...at, key]] : nulPaths(item, [...at, key]),
    );
  return [];
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
  const segments = new URL(c.req.url).pathname.split("/");
  // The route that will answer (the last one matched), to name the parameter.
  const pattern = routePath(c, -1).split("/");
  for (const [i, raw] of segments.entries()) {
    if (!decoded(raw).includes(NUL)) continue;
    const name = pattern[i]?.startsWith(":") ? pattern[i].slice(1).replace(/\{.*$/, "") : undefined;
    return name !== undefined && name !== "" ? `path.${name}` : "path";
  }
  for (const [name, values] of Object.entries(c.req.queries()))
    if (name.includes(NUL) || values.some((v) => v.includes(NUL))) return `query.${name}`;
  let header: string | undefined;
  c.req.raw.headers.forEach((value, name) => {
    if (header === undefined && value.includes(NUL)) header = `header.${name}`;
  });
  return header;
}

function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // a malformed escape is the router's to refuse, not a NUL
  }
}
