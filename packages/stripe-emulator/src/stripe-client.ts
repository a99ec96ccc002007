import Stripe from "stripe";

export interface StripeClientOptions {
  secretKey?: string;
  /** The SDK's own retries (default 2, as the SDK's); 0 turns them off. */
  maxNetworkRetries?: number;
  /** Request timeout in ms (the SDK's default is 80 s). */
  timeout?: number;
  /** Act as this connected account on every request. */
  stripeAccount?: string;
}

/** A `Stripe` SDK client that talks to the emulator at `url` over plain HTTP. */
export function createStripeClient(
  target: string | { url: string; secretKey?: string },
  options: StripeClientOptions = {},
): Stripe {
  const url = new URL(typeof target === "string" ? target : target.url);
  const key =
    options.secretKey ?? (typeof target === "string" ? undefined : target.secretKey) ?? "sk_test_emulator";
  return new Stripe(key, {
    host: url.hostname,
    port: url.port || (url.protocol === "https:" ? 443 : 80),
    protocol: url.protocol === "https:" ? "https" : "http",
    maxNetworkRetries: options.maxNetworkRetries ?? 2,
    telemetry: false,
    ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
    ...(options.stripeAccount !== undefined ? { stripeAccount: options.stripeAccount } : {}),
  });
}
