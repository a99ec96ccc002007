import type { Context } from "hono";

/**
 * Sets headers on the response a middleware's `next()` produced. Responses built from
 * `Response.redirect()` or a `fetch()` have immutable headers; those are copied first.
 */
export function setResponseHeaders(c: Context, headers: Readonly<Record<string, string>>): void {
  try {
    for (const [name, value] of Object.entries(headers)) c.res.headers.set(name, value);
  } catch {
    c.res = new Response(c.res.body, c.res);
    for (const [name, value] of Object.entries(headers)) c.res.headers.set(name, value);
  }
}
