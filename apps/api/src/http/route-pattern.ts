import type { Context } from "hono";
import { matchedRoutes } from "hono/route";

/** The route label of a request that matched no route (a 404, or a 405 on a known path). */
export const UNMATCHED_ROUTE = "unmatched";

/**
 * The registered pattern of the route that serves this request (`/v1/groups/:groupId`),
 * never the raw path: metrics labels and log fields must have bounded cardinality, and
 * raw paths carry ids. Middlewares (method `ALL`) are skipped, so a request that a
 * middleware answered (401, 429) is still labelled with the route it was aimed at.
 */
export function routePatternOf(c: Context): string {
  // Hono routes HEAD through the GET routes and answers with the body stripped.
  const method = c.req.method === "HEAD" ? "GET" : c.req.method;
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) {
    const route = routes[i];
    if (route !== undefined && route.method === method) return route.path;
  }
  return UNMATCHED_ROUTE;
}
