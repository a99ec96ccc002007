import type { IncomingMessage, ServerResponse } from "node:http";
import qs from "qs";
import type { Engine } from "../core/engine.js";
import { newId } from "../core/ids.js";
import { withoutIncludable } from "../core/includable.js";
import {
  ApiError,
  apiError,
  authenticationError,
  invalidRequest,
  permissionError,
  rateLimited,
  validationFailure,
} from "./errors.js";
import type { Fault, Faults } from "./faults.js";
import { fingerprint, type IdempotencyKeys, type StoredResponse } from "./idempotency.js";
import { expandParam, type Params } from "./params.js";
import { expand } from "./render.js";
import { type ApiRequest, type Method, RawJson, type Router } from "./router.js";

const QS_OPTIONS = { depth: 10, arrayLimit: 1000, parameterLimit: 10_000, allowDots: false } as const;

export interface ControlDispatcher {
  handle(method: string, path: string, query: string, body: string, res: ServerResponse): void;
}

/**
 * The API's request pipeline: authentication, `Stripe-Account`, injected faults,
 * idempotency keys, routing, `expand[]`, and Stripe's error shape. Handlers are synchronous,
 * so a request's effects and its idempotency record are committed before anything else runs.
 */
export class ApiPipeline {
  private readonly hanging = new Set<ServerResponse>();
  private afterScheduled = false;

  constructor(
    private readonly engine: Engine,
    private readonly router: Router,
    private readonly faults: Faults,
    private readonly keys: IdempotencyKeys,
    private readonly control: ControlDispatcher,
    private readonly afterRequests: () => void,
  ) {}

  listener = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = chunks.length === 0 ? "" : Buffer.concat(chunks).toString("utf8");
      try {
        this.dispatch(req, res, body);
      } catch (error) {
        this.log(
          `internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
        );
        if (!res.headersSent) this.sendError(res, newId("req", 14), apiError(), {});
      }
    });
  };

  /** Ends responses held by `hang` faults, so the server can close. */
  releaseHanging(): void {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
  }

  private log(line: string): void {
    this.engine.options.log?.(line);
  }

  private dispatch(req: IncomingMessage, res: ServerResponse, body: string): void {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q >= 0 ? url.slice(0, q) : url;
    const query = q >= 0 ? url.slice(q + 1) : "";
    const method = (req.method ?? "GET").toUpperCase();
    if (path.startsWith("/_emulator/") || path === "/_emulator") {
      this.control.handle(method, path, query, body, res);
      return;
    }
    const requestId = newId("req", 14);
    const baseHeaders: Record<string, string> = {
      "Stripe-Version": headerString(req.headers["stripe-version"]) ?? this.engine.options.apiVersion,
    };
    const idempotencyKey = headerString(req.headers["idempotency-key"]);
    if (idempotencyKey !== undefined) baseHeaders["Idempotency-Key"] = idempotencyKey;

    const authError = this.authenticate(req);
    if (authError) {
      this.sendError(res, requestId, authError, baseHeaders);
      return;
    }
    if (method !== "GET" && method !== "POST" && method !== "DELETE") {
      this.sendError(res, requestId, unrecognized(method, path), baseHeaders);
      return;
    }
    let account = this.engine.platform;
    const stripeAccount = headerString(req.headers["stripe-account"]);
    if (stripeAccount !== undefined && stripeAccount !== "" && stripeAccount !== this.engine.platform) {
      const record = this.engine.store.find("account", stripeAccount, this.engine.platform);
      if (!record || (record.obj as { deleted?: boolean }).deleted) {
        this.sendError(
          res,
          requestId,
          permissionError(
            `The provided key '${maskKey(this.engine.options.secretKey)}' does not have access to account '${stripeAccount}' (or that account does not exist). Application access may have been revoked.`,
            "account_invalid",
          ),
          baseHeaders,
        );
        return;
      }
      account = stripeAccount;
      baseHeaders["Stripe-Account"] = stripeAccount;
    }

    const match = this.router.match(method, path);
    if (!match) {
      this.sendError(res, requestId, unrecognized(method, path), baseHeaders);
      return;
    }

    let params: Params;
    try {
      const source = method === "POST" ? (body !== "" ? body : query) : query;
      params = qs.parse(source, QS_OPTIONS) as Params;
    } catch {
      this.sendError(res, requestId, invalidRequest("Invalid request body"), baseHeaders);
      return;
    }

    const fault = this.faults.take(method, path);
    if (fault && fault.phase === "before" && fault.kind !== "slow") {
      this.applyFault(fault, req, res, requestId, baseHeaders, null);
      return;
    }

    const apiRequest: ApiRequest = {
      method: method as Method,
      path,
      params,
      pathParams: match.params,
      account,
      onPlatform: account === this.engine.platform,
      requestId,
    };

    let response: StoredResponse;
    if (method === "POST" && idempotencyKey !== undefined && idempotencyKey !== "") {
      if (idempotencyKey.length > 255) {
        this.sendError(
          res,
          requestId,
          invalidRequest("Invalid Idempotency-Key: must be at most 255 characters long.", {
            param: "Idempotency-Key",
          }),
          baseHeaders,
        );
        return;
      }
      const now = this.engine.now();
      const claim = this.keys.claim(account, idempotencyKey, fingerprint(method, path, body), now);
      if (claim.kind === "mismatch") {
        this.sendError(
          res,
          requestId,
          new ApiError(400, {
            type: "idempotency_error",
            message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idempotencyKey}' if you meant to execute a different request.`,
          }),
          baseHeaders,
        );
        return;
      }
      if (claim.kind === "in_flight") {
        // Handlers run synchronously, so only a `slow` fault leaves a key claimed across requests.
        this.sendError(
          res,
          requestId,
          new ApiError(409, {
            type: "invalid_request_error",
            code: "idempotency_key_in_use",
            message:
              "There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): " +
              `${idempotencyKey}. Please try again later.`,
          }),
          baseHeaders,
        );
        return;
      }
      if (claim.kind === "replay") {
        const headers = {
          ...baseHeaders,
          ...claim.response.headers,
          "Idempotent-Replayed": "true",
          "Original-Request": claim.response.requestId,
        };
        if (fault) {
          this.applyFault(fault, req, res, requestId, headers, claim.response);
          return;
        }
        this.send(res, claim.response.status, claim.response.body, claim.response.requestId, headers);
        return;
      }
      const run = (): StoredResponse => {
        const { keep, ...executed } = this.execute(apiRequest, idempotencyKey);
        if (keep) {
          this.keys.complete(account, idempotencyKey, executed);
        } else {
          this.keys.release(account, idempotencyKey);
        }
        return executed;
      };
      if (fault?.kind === "slow") {
        this.runSlowly(fault, res, requestId, baseHeaders, run);
        return;
      }
      response = run();
    } else {
      if (fault?.kind === "slow") {
        this.runSlowly(fault, res, requestId, baseHeaders, () => this.execute(apiRequest, null));
        return;
      }
      response = this.execute(apiRequest, idempotencyKey ?? null);
    }
    this.scheduleAfter();
    const headers = { ...baseHeaders, ...response.headers };
    if (fault) {
      this.applyFault(fault, req, res, requestId, headers, response);
      return;
    }
    this.send(res, response.status, response.body, requestId, headers);
  }

  /**
   * Runs the handler. `keep` says whether an idempotency key keeps the answer: every success
   * and every error the endpoint raised ({@link ApiError.stored}: declines, refusals by a rule
   * or an object's state, missing objects, 5xx); only the parameters' own validation failures
   * (unknown, missing, malformed) are forgotten.
   */
  private execute(apiRequest: ApiRequest, idempotencyKey: string | null): StoredResponse & { keep: boolean } {
    const match = this.router.match(apiRequest.method, apiRequest.path)!;
    this.engine.currentRequest = { id: apiRequest.requestId, idempotency_key: idempotencyKey };
    try {
      if (match.known) {
        for (const key of Object.keys(apiRequest.params)) {
          if (!match.known.has(key)) {
            throw validationFailure(`Received unknown parameter: ${key}`, {
              param: key,
              code: "parameter_unknown",
            });
          }
        }
      }
      const result = match.handler(apiRequest);
      const body =
        result instanceof RawJson
          ? result.json
          : JSON.stringify(expandIfAsked(this.engine, result, apiRequest.params));
      this.engine.changed();
      return { status: 200, body, headers: {}, requestId: apiRequest.requestId, keep: true };
    } catch (error) {
      const apiErr = error instanceof ApiError ? error : null;
      if (!apiErr) {
        this.log(`handler error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      }
      const e = apiErr ?? apiError();
      if (e.stored) this.engine.changed();
      return {
        status: e.status,
        body: JSON.stringify({ error: { ...e.body, request_log_url: requestLogUrl(apiRequest.requestId) } }),
        headers: e.headers,
        requestId: apiRequest.requestId,
        keep: e.stored,
      };
    } finally {
      this.engine.currentRequest = null;
    }
  }

  private runSlowly(
    fault: Fault,
    res: ServerResponse,
    requestId: string,
    headers: Record<string, string>,
    run: () => StoredResponse,
  ): void {
    this.log(`fault slow (${fault.delayMs ?? 1000} ms)`);
    setTimeout(() => {
      const response = run();
      this.scheduleAfter();
      this.send(res, response.status, response.body, requestId, { ...headers, ...response.headers });
    }, fault.delayMs ?? 1000);
  }

  private applyFault(
    fault: Fault,
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    headers: Record<string, string>,
    executed: StoredResponse | null,
  ): void {
    this.log(`fault ${fault.kind} (${fault.phase}) on ${req.method} ${req.url}`);
    switch (fault.kind) {
      case "error":
        this.sendError(
          res,
          requestId,
          fault.code !== null && fault.status < 500
            ? new ApiError(fault.status, {
                type: "invalid_request_error",
                message: `Injected failure: ${fault.code}.`,
                code: fault.code,
              })
            : apiError("An unknown error occurred", fault.status),
          headers,
        );
        return;
      case "rate_limit":
        this.sendError(res, requestId, rateLimited(fault.shouldRetry), headers);
        return;
      case "drop":
        req.socket.destroy();
        return;
      case "slow":
        return;
      case "hang": {
        this.hanging.add(res);
        res.on("close", () => this.hanging.delete(res));
        if (fault.delayMs !== null) {
          setTimeout(() => {
            this.hanging.delete(res);
            if (res.destroyed) return;
            if (executed) this.send(res, executed.status, executed.body, requestId, headers);
            else this.sendError(res, requestId, apiError("Request timed out", 504), headers);
          }, fault.delayMs).unref();
        }
        return;
      }
    }
  }

  private authenticate(req: IncomingMessage): ApiError | null {
    const header = headerString(req.headers.authorization);
    if (header === undefined || header === "") {
      return authenticationError(
        "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
      );
    }
    let key: string | undefined;
    if (header.startsWith("Bearer ")) key = header.slice(7).trim();
    else if (header.startsWith("Basic ")) {
      key = Buffer.from(header.slice(6), "base64").toString("utf8").split(":")[0];
    }
    if (key !== this.engine.options.secretKey) {
      return authenticationError(`Invalid API Key provided: ${maskKey(key ?? header)}`);
    }
    return null;
  }

  private sendError(
    res: ServerResponse,
    requestId: string,
    error: ApiError,
    headers: Record<string, string>,
  ): void {
    const body = JSON.stringify({ error: { ...error.body, request_log_url: requestLogUrl(requestId) } });
    this.send(res, error.status, body, requestId, { ...headers, ...error.headers });
  }

  private send(
    res: ServerResponse,
    status: number,
    body: string,
    requestId: string,
    headers: Record<string, string>,
  ): void {
    if (res.destroyed) return;
    res.writeHead(status, {
      ...headers,
      "Content-Type": "application/json",
      "Content-Length": Buffer.byteLength(body),
      "Request-Id": requestId,
    });
    res.end(body);
  }

  /** Tasks due now and webhook deliveries run after the response, never inside a handler. */
  private scheduleAfter(): void {
    if (this.afterScheduled) return;
    this.afterScheduled = true;
    setImmediate(() => {
      this.afterScheduled = false;
      this.afterRequests();
    });
  }
}

function expandIfAsked(engine: Engine, result: object, params: Params): unknown {
  const paths = expandParam(params);
  return paths.length === 0 ? withoutIncludable(result) : expand(engine, result, paths);
}

function headerString(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function maskKey(key: string): string {
  if (key.length <= 12) return "*".repeat(key.length);
  return `${key.slice(0, 8)}${"*".repeat(Math.max(0, key.length - 12))}${key.slice(-4)}`;
}

function requestLogUrl(requestId: string): string {
  return `https://dashboard.stripe.com/test/logs/${requestId}`;
}

function unrecognized(method: string, path: string): ApiError {
  return new ApiError(404, {
    type: "invalid_request_error",
    message: `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
  });
}
