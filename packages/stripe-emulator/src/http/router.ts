import type { Params } from "./params.js";

export type Method = "GET" | "POST" | "DELETE";

/** What a handler sees of a request, after authentication and parsing. */
export interface ApiRequest {
  method: Method;
  path: string;
  params: Params;
  /** Values of the `:name` segments of the route. */
  pathParams: Record<string, string>;
  /** The account the request acts as: the platform, or the `Stripe-Account` header's account. */
  account: string;
  /** True when `account` is the platform itself. */
  onPlatform: boolean;
  requestId: string;
}

/** A handler's answer: an API object (expanded by `expand[]`) or a ready JSON text. */
export type HandlerResult = object | RawJson;

export class RawJson {
  constructor(readonly json: string) {}
}

export type Handler = (req: ApiRequest) => HandlerResult;

interface Route {
  method: Method;
  segments: string[];
  pattern: string;
  handler: Handler;
  known: ReadonlySet<string> | undefined;
}

export interface RouteMatch {
  handler: Handler;
  pattern: string;
  params: Record<string, string>;
  /** Top-level parameters the endpoint accepts, when it declares them. */
  known: ReadonlySet<string> | undefined;
}

/** Routes like `/v1/payment_intents/:id/confirm`, matched segment by segment. */
export class Router {
  private readonly routes = new Map<string, Route[]>();

  add(method: Method, pattern: string, handler: Handler, known?: ReadonlySet<string>): void {
    const segments = pattern.split("/").filter(Boolean);
    const key = `${method} ${segments.length}`;
    const list = this.routes.get(key) ?? [];
    list.push({ method, segments, pattern, handler, known });
    this.routes.set(key, list);
  }

  get(pattern: string, handler: Handler): void {
    this.add("GET", pattern, handler);
  }

  post(pattern: string, handler: Handler, known?: ReadonlySet<string>): void {
    this.add("POST", pattern, handler, known);
  }

  delete(pattern: string, handler: Handler): void {
    this.add("DELETE", pattern, handler);
  }

  match(method: string, path: string): RouteMatch | undefined {
    const segments = path.split("/").filter(Boolean);
    const candidates = this.routes.get(`${method} ${segments.length}`);
    if (!candidates) return undefined;
    // Literal segments win over parameters, so `/v1/accounts/:id` never shadows a fixed path.
    let best: RouteMatch | undefined;
    let bestScore = -1;
    for (const route of candidates) {
      const params: Record<string, string> = {};
      let score = 0;
      let ok = true;
      for (let i = 0; i < segments.length; i++) {
        const want = route.segments[i]!;
        const got = segments[i]!;
        if (want.startsWith(":")) {
          params[want.slice(1)] = decodeURIComponent(got);
        } else if (want === got) {
          score++;
        } else {
          ok = false;
          break;
        }
      }
      if (ok && score > bestScore) {
        best = { handler: route.handler, pattern: `${method} ${route.pattern}`, params, known: route.known };
        bestScore = score;
      }
    }
    return best;
  }

  patterns(): string[] {
    return [...this.routes.values()].flat().map((r) => `${r.method} ${r.pattern}`);
  }
}
