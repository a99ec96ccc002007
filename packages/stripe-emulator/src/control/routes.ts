import type { ServerResponse } from "node:http";
import type Stripe from "stripe";
import type { Engine } from "../core/engine.js";
import type { WebhookChaos } from "../core/options.js";
import { ApiError } from "../http/errors.js";
import type { FaultKind, FaultSpec, Faults } from "../http/faults.js";
import type { ControlDispatcher } from "../http/server.js";
import {
  completeOnboarding,
  disableTransfers,
  getAccount,
  restrictAccount,
  visitAccountLink,
} from "../resources/accounts.js";
import { openDispute, resolveDispute } from "../resources/charges.js";
import { type CheckoutCompletion, completeCheckoutSession } from "../resources/checkout.js";
import { deactivateMandate } from "../resources/mandates.js";
import { authenticatePaymentIntent } from "../resources/payment-intents.js";
import { networkUpdateCard } from "../resources/payment-methods.js";
import { failPayout } from "../resources/payouts.js";
import type { WebhookDispatcher } from "../webhooks/dispatcher.js";

class ControlError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type ControlBody = Record<string, unknown>;
type ControlHandler = (match: RegExpExecArray, body: ControlBody, query: URLSearchParams) => unknown;

interface ControlRoute {
  method: string;
  pattern: RegExp;
  handler: ControlHandler;
}

export interface ControlDeps {
  engine: Engine;
  faults: Faults;
  dispatcher: WebhookDispatcher;
  advanceClock(toSeconds: number): number;
  reset(): void;
  configuredEndpoint(): { id: string; url: string; secret: string } | null;
  afterChange(): void;
}

const FAULT_KINDS: FaultKind[] = ["error", "rate_limit", "hang", "drop", "slow"];

function num(body: ControlBody, name: string): number | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  const n = typeof value === "string" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isFinite(n)) throw new ControlError(400, `${name} must be a number`);
  return n;
}

/**
 * The `/_emulator/…` endpoints tests use to drive what Stripe would do on its own: move the
 * clock, inject faults, shape webhook delivery, and play the customer or Stripe's risk team.
 * JSON in, JSON out; no API key (the emulator only listens on a local address by default).
 */
export class ControlRoutes implements ControlDispatcher {
  private readonly routes: ControlRoute[] = [];

  constructor(private readonly deps: ControlDeps) {
    const { engine, faults, dispatcher } = deps;
    this.on("GET", /^\/_emulator\/health$/, () => ({ ok: true }));
    this.on("GET", /^\/_emulator\/clock$/, () => ({ now: engine.now() }));
    this.on("POST", /^\/_emulator\/clock\/advance$/, (_m, body) => {
      const seconds = num(body, "seconds");
      const to = num(body, "to");
      const target = to ?? engine.now() + (seconds ?? 0);
      if (!Number.isInteger(target) || target < engine.now()) {
        throw new ControlError(400, "the clock only moves forward, by a whole number of seconds");
      }
      const tasksRun = deps.advanceClock(target);
      return { now: engine.now(), tasksRun };
    });
    this.on("POST", /^\/_emulator\/reset$/, () => {
      deps.reset();
      return { ok: true, now: engine.now() };
    });

    this.on("GET", /^\/_emulator\/faults$/, () => ({ data: faults.list() }));
    this.on("DELETE", /^\/_emulator\/faults$/, () => {
      faults.clear();
      return { ok: true };
    });
    this.on("POST", /^\/_emulator\/faults$/, (_m, body) => {
      const kind = body.kind as FaultKind;
      if (!FAULT_KINDS.includes(kind))
        throw new ControlError(400, `kind must be one of ${FAULT_KINDS.join(", ")}`);
      if (typeof body.route !== "string" || body.route === "")
        throw new ControlError(400, "route is required");
      const spec: FaultSpec = { route: body.route, kind };
      const count = num(body, "count");
      if (count !== undefined) spec.count = count;
      if (body.phase === "before" || body.phase === "after") spec.phase = body.phase;
      const status = num(body, "status");
      if (status !== undefined) spec.status = status;
      if (typeof body.code === "string" && body.code !== "") spec.code = body.code;
      if (typeof body.shouldRetry === "boolean") spec.shouldRetry = body.shouldRetry;
      const delayMs = num(body, "delayMs");
      if (delayMs !== undefined) spec.delayMs = delayMs;
      return faults.add(spec);
    });

    this.on("GET", /^\/_emulator\/webhooks\/deliveries$/, () => ({ data: dispatcher.list() }));
    this.on("GET", /^\/_emulator\/webhooks\/endpoint$/, () => deps.configuredEndpoint());
    this.on("POST", /^\/_emulator\/webhooks\/flush$/, () => dispatcher.flush());
    this.on("POST", /^\/_emulator\/webhooks\/retry$/, () => ({ retried: dispatcher.retryNow() }));
    this.on("POST", /^\/_emulator\/webhooks\/chaos$/, (_m, body) => {
      if (body.seed === undefined || body.seed === null) {
        dispatcher.setChaos(null);
        return { chaos: null };
      }
      const chaos: WebhookChaos = { seed: num(body, "seed")! };
      for (const key of ["duplicate", "outOfOrder", "late", "lateMs"] as const) {
        const value = num(body, key);
        if (value !== undefined) chaos[key] = value;
      }
      dispatcher.setChaos(chaos);
      return { chaos };
    });

    const account = (m: RegExpExecArray): Stripe.Account => this.api(() => getAccount(engine, m[1]!, "id"));
    this.on("POST", /^\/_emulator\/accounts\/([^/]+)\/complete_onboarding$/, (m) => {
      const a = account(m);
      completeOnboarding(engine, a);
      return a;
    });
    this.on("POST", /^\/_emulator\/accounts\/([^/]+)\/restrict$/, (m, body) => {
      const a = account(m);
      const fields = Array.isArray(body.fields)
        ? body.fields.map(String)
        : ["individual.verification.document"];
      restrictAccount(engine, a, fields);
      return a;
    });
    this.on("POST", /^\/_emulator\/accounts\/([^/]+)\/disable_transfers$/, (m) => {
      const a = account(m);
      disableTransfers(engine, a);
      return a;
    });
    this.on("POST", /^\/_emulator\/accounts\/([^/]+)\/deauthorize$/, (m) => {
      const a = account(m);
      const application: Stripe.Application = { id: "ca_emulator", object: "application", name: "susu" };
      engine.emit("account.application.deauthorized", application, a.id);
      return a;
    });

    this.on("POST", /^\/_emulator\/charges\/([^/]+)\/dispute$/, (m, body) =>
      this.api(() =>
        openDispute(engine, m[1]!, typeof body.reason === "string" ? body.reason : "fraudulent", {
          inquiry: body.inquiry === true,
        }),
      ),
    );
    this.on("POST", /^\/_emulator\/disputes\/([^/]+)\/resolve$/, (m, body) => {
      if (body.outcome !== "won" && body.outcome !== "lost")
        throw new ControlError(400, "outcome must be won or lost");
      const outcome = body.outcome;
      return this.api(() => resolveDispute(engine, m[1]!, outcome));
    });
    this.on("POST", /^\/_emulator\/payouts\/([^/]+)\/fail$/, (m, body) =>
      this.api(() => failPayout(engine, m[1]!, typeof body.code === "string" ? body.code : undefined)),
    );
    this.on("POST", /^\/_emulator\/payment_intents\/([^/]+)\/authenticate$/, (m, body) =>
      this.api(() => authenticatePaymentIntent(engine, m[1]!, body.succeed !== false)),
    );
    this.on("POST", /^\/_emulator\/mandates\/([^/]+)\/revoke$/, (m) => {
      const record = engine.store.record<Stripe.Mandate>(m[1]!);
      if (record?.type !== "mandate") throw new ControlError(404, `No such mandate: '${m[1]}'`);
      deactivateMandate(engine, record.obj.id);
      return record.obj;
    });
    this.on("POST", /^\/_emulator\/payment_methods\/([^/]+)\/network_update$/, (m, body) => {
      const last4 = body.last4;
      if (last4 !== undefined && typeof last4 !== "string")
        throw new ControlError(400, "last4 must be a string");
      const expMonth = num(body, "exp_month");
      const expYear = num(body, "exp_year");
      const result = networkUpdateCard(engine, m[1]!, {
        ...(expMonth !== undefined ? { expMonth } : {}),
        ...(expYear !== undefined ? { expYear } : {}),
        ...(last4 !== undefined ? { last4 } : {}),
      });
      if ("refused" in result)
        throw new ControlError(result.refused.startsWith("No such") ? 404 : 400, result.refused);
      return result;
    });
    this.on("POST", /^\/_emulator\/balance\/top_up$/, (_m, body) => {
      const amount = num(body, "amount");
      if (amount === undefined || !Number.isInteger(amount) || amount <= 0) {
        throw new ControlError(400, "amount must be a positive integer");
      }
      const owner = typeof body.account === "string" ? body.account : engine.platform;
      if (owner !== engine.platform) this.api(() => getAccount(engine, owner, "account"));
      return engine.ledger.create({
        owner,
        amount,
        currency: typeof body.currency === "string" ? body.currency.toLowerCase() : "aud",
        type: "topup",
        reportingCategory: "topup",
        source: null,
        description: "Emulator top-up",
        availability: { kind: "now" },
      });
    });
    this.on("POST", /^\/_emulator\/checkout\/sessions\/([^/]+)\/complete$/, (m, body) =>
      this.api(() => completeCheckoutSession(engine, m[1]!, body as CheckoutCompletion)),
    );
    this.on("GET", /^\/_emulator\/checkout\/sessions\/([^/]+)$/, (m) => {
      const record = engine.store.record<Stripe.Checkout.Session>(m[1]!);
      if (!record) throw new ControlError(404, `No such checkout session: '${m[1]}'`);
      return record.obj;
    });
  }

  private on(method: string, pattern: RegExp, handler: ControlHandler): void {
    this.routes.push({ method, pattern, handler });
  }

  /** Runs an API-style operation; its Stripe error becomes the control endpoint's error. */
  private api<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      if (error instanceof ApiError)
        throw new ControlError(error.status === 402 ? 400 : error.status, error.body.message);
      throw error;
    }
  }

  handle(method: string, path: string, query: string, body: string, res: ServerResponse): void {
    const params = new URLSearchParams(query);
    const link = /^\/_emulator\/account_links\/([^/]+)$/.exec(path);
    if (link && method === "GET") {
      const action = params.get("action") === "abandon" ? "abandon" : "complete";
      const target = visitAccountLink(this.deps.engine, link[1]!, action);
      this.deps.afterChange();
      if (target === null) {
        this.reply(res, 404, { error: { message: "This account link does not exist." } });
        return;
      }
      res.writeHead(302, { Location: target, "Content-Length": 0 });
      res.end();
      return;
    }
    const route = this.routes.find((r) => r.method === method && r.pattern.test(path));
    if (!route) {
      this.reply(res, 404, { error: { message: `Unknown control endpoint ${method} ${path}` } });
      return;
    }
    let parsed: ControlBody = {};
    if (body !== "") {
      try {
        parsed = JSON.parse(body) as ControlBody;
      } catch {
        this.reply(res, 400, { error: { message: "control endpoints take JSON bodies" } });
        return;
      }
    }
    const match = route.pattern.exec(path)!;
    const engine = this.deps.engine;
    const saved = engine.currentRequest;
    engine.currentRequest = null;
    let result: unknown;
    try {
      result = route.handler(match, parsed, params);
    } catch (error) {
      engine.currentRequest = saved;
      if (error instanceof ControlError) {
        this.reply(res, error.status, { error: { message: error.message } });
        return;
      }
      this.reply(res, 500, { error: { message: error instanceof Error ? error.message : String(error) } });
      return;
    }
    engine.currentRequest = saved;
    this.deps.afterChange();
    if (result instanceof Promise) {
      result.then(
        (value: unknown) => this.reply(res, 200, value ?? null),
        (error: unknown) => this.reply(res, 500, { error: { message: String(error) } }),
      );
      return;
    }
    this.reply(res, 200, result ?? null);
  }

  private reply(res: ServerResponse, status: number, value: unknown): void {
    if (res.destroyed) return;
    const body = JSON.stringify(value);
    res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
    res.end(body);
  }
}
