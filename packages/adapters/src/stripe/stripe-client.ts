import Stripe from "stripe";
import type { LineSink } from "../notify/log-notifier.js";

/**
 * How to reach Stripe (or the emulator). `timeoutMs` and `maxNetworkRetries` have no
 * defaults on purpose: the SDK's (80 s, 1–2 retries) are not a decision, and the
 * retry count is part of the idempotency story — every SDK retry reuses the same
 * `Idempotency-Key`, so raising it can never double a payment, only delay an answer.
 */
export interface StripeClientConfig {
  /** `sk_live_…`, `sk_test_…`, or the emulator's key. */
  readonly secretKey: string;
  /** API host, e.g. `127.0.0.1` for the emulator; Stripe's when omitted. */
  readonly host?: string;
  readonly port?: number;
  readonly protocol?: "http" | "https";
  /** Per-request timeout; a timed-out call is reported as outcome unknown. */
  readonly timeoutMs: number;
  /** Retries the SDK makes on no response, 409 and 5xx, always with the same idempotency key. */
  readonly maxNetworkRetries: number;
  /**
   * Where one line per answered call goes (`stripe call`: method, path without its query,
   * status, Stripe's request id, idempotency key, milliseconds). Written inside the call's
   * async context, so a logger with the log context (`logContext`) ties it to the request
   * or job that made it. Never parameters, bodies or keys.
   */
  readonly log?: LineSink;
}

/** Builds an SDK client with every network setting explicit. */
export function createStripeClient(config: StripeClientConfig): Stripe {
  if (!Number.isInteger(config.timeoutMs) || config.timeoutMs <= 0)
    throw new RangeError(`timeoutMs must be a positive integer, got ${config.timeoutMs}`);
  if (!Number.isInteger(config.maxNetworkRetries) || config.maxNetworkRetries < 0)
    throw new RangeError(`maxNetworkRetries must be a non-negative integer, got ${config.maxNetworkRetries}`);
  const stripe = new Stripe(config.secretKey, {
    timeout: config.timeoutMs,
    maxNetworkRetries: config.maxNetworkRetries,
    // No usage telemetry headers: the emulator does not need them and production logs stay ours.
    telemetry: false,
    appInfo: { name: "susu" },
    ...(config.host !== undefined ? { host: config.host } : {}),
    ...(config.port !== undefined ? { port: config.port } : {}),
    ...(config.protocol !== undefined ? { protocol: config.protocol } : {}),
  });
  const log = config.log;
  if (log !== undefined)
    stripe.on("response", (call: Stripe.ResponseEvent) => {
      log.info(
        {
          stripe: {
            method: call.method,
            // A query (a search, a list's filters) may hold personal data: the path only.
            path: call.path.split("?")[0],
            status: call.status,
            stripeRequestId: call.request_id,
            ...(call.idempotency_key !== undefined ? { idempotencyKey: call.idempotency_key } : {}),
            elapsedMs: call.elapsed,
          },
        },
        "stripe call",
      );
    });
  return stripe;
}

/**
 * SDK connection settings from a base URL: `{}` for Stripe itself (undefined), or host,
 * port and protocol for another address such as the emulator (`http://127.0.0.1:12111`).
 */
export function stripeEndpointOf(
  url: string | undefined,
): Pick<StripeClientConfig, "host" | "port" | "protocol"> {
  if (url === undefined) return {};
  const parsed = new URL(url);
  const https = parsed.protocol === "https:";
  return {
    host: parsed.hostname,
    port: Number(parsed.port || (https ? 443 : 80)),
    protocol: https ? "https" : "http",
  };
}

/** The environment an operator's command reads Stripe from (`process.env`, or a test's own). */
export type StripeEnv = Readonly<Record<string, string | undefined>>;

const setting = (v: string | undefined) => (v === undefined || v.trim() === "" ? undefined : v.trim());

/**
 * Where an operator's command (reconcile, Stripe catch-up) finds Stripe: `STRIPE_SECRET_KEY`
 * at `STRIPE_API_URL` (`apiUrl` undefined: Stripe itself), or, with neither set, the emulator
 * of `npm start` on `http://127.0.0.1:12111` (`SUSU_EMULATOR_PORT`). A blank setting counts
 * as unset; values are trimmed.
 */
export function stripeSettingsFromEnv(env: StripeEnv): {
  readonly secretKey: string | undefined;
  readonly apiUrl: string | undefined;
} {
  const secretKey = setting(env.STRIPE_SECRET_KEY);
  const apiUrl =
    setting(env.STRIPE_API_URL) ??
    (secretKey === undefined ? `http://127.0.0.1:${setting(env.SUSU_EMULATOR_PORT) ?? "12111"}` : undefined);
  return { secretKey, apiUrl };
}

/**
 * The address the SDK dials for a base URL, to name in an operator's error: scheme, host and
 * port only, so a user:password, path or query in the setting (never sent) is never printed.
 */
export function stripeAddressOf(url: string | undefined): string {
  if (url === undefined) return "https://api.stripe.com";
  const { host, port, protocol } = stripeEndpointOf(url);
  // The URL parser keeps an IPv6 host in its brackets (`[::1]`).
  return `${protocol}://${host}:${port}`;
}
