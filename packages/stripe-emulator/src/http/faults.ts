import { newId } from "../core/ids.js";

/** What an injected fault does to a matching request. */
export type FaultKind = "error" | "rate_limit" | "hang" | "drop" | "slow";

export interface FaultSpec {
  /**
   * `"POST /v1/payment_intents"`, with `*` matching one path segment
   * (`"POST /v1/payment_intents/*\/confirm"`), or `"*"` for every API request.
   */
  route: string;
  kind: FaultKind;
  /** How many matching requests it affects (default 1). */
  count?: number;
  /**
   * `"before"` (default): the request is not executed. `"after"`: it is executed and its
   * result kept for its idempotency key, but the client sees the fault — the case where
   * only a retry with the same key is safe.
   */
  phase?: "before" | "after";
  /** Status of an `error` fault (default 500). */
  status?: number;
  /**
   * For an `error` fault with a 4xx status: the Stripe error `code` it answers with, as an
   * `invalid_request_error` (e.g. `balance_insufficient`, `lock_timeout`): the request was
   * refused, nothing ran. A 5xx is always Stripe's codeless `api_error`.
   */
  code?: string;
  /** `Stripe-Should-Retry` of a `rate_limit` fault (default true). */
  shouldRetry?: boolean;
  /**
   * For `hang`: answer after this long instead of never (default: hold until the client gives
   * up). For `slow`: the request holds its idempotency key this long before it executes, so a
   * concurrent request with the same key gets Stripe's 409 (default 1000 ms).
   */
  delayMs?: number;
}

export interface Fault extends Required<Omit<FaultSpec, "delayMs" | "code">> {
  id: string;
  delayMs: number | null;
  code: string | null;
  remaining: number;
}

export class Faults {
  private faults: Fault[] = [];

  add(spec: FaultSpec): Fault {
    const count = spec.count ?? 1;
    const fault: Fault = {
      id: newId("fault", 12),
      route: spec.route,
      kind: spec.kind,
      count,
      remaining: count,
      phase: spec.phase ?? "before",
      status: spec.status ?? 500,
      shouldRetry: spec.shouldRetry ?? true,
      delayMs: spec.delayMs ?? null,
      code: spec.code ?? null,
    };
    this.faults.push(fault);
    return fault;
  }

  list(): Fault[] {
    return this.faults;
  }

  clear(): void {
    this.faults = [];
  }

  /** Consumes one use of the first fault matching the request, if any. */
  take(method: string, path: string): Fault | undefined {
    if (this.faults.length === 0) return undefined;
    const fault = this.faults.find((f) => f.remaining > 0 && routeMatches(f.route, method, path));
    if (!fault) return undefined;
    fault.remaining--;
    if (fault.remaining === 0) this.faults = this.faults.filter((f) => f !== fault);
    return fault;
  }
}

function routeMatches(route: string, method: string, path: string): boolean {
  if (route === "*") return true;
  const space = route.indexOf(" ");
  const routeMethod = space >= 0 ? route.slice(0, space) : "*";
  const routePath = space >= 0 ? route.slice(space + 1) : route;
  if (routeMethod !== "*" && routeMethod.toUpperCase() !== method) return false;
  const want = routePath.split("/").filter(Boolean);
  const got = path.split("/").filter(Boolean);
  if (want.length !== got.length) return false;
  return want.every((w, i) => w === "*" || w.startsWith(":") || w === got[i]);
}
