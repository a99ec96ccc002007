import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type Stripe from "stripe";
import { type EmulatorOptions, type RunningEmulator, startEmulator } from "../src/index.js";

export const DAY = 86_400;

export interface Harness {
  emu: RunningEmulator;
  /** An SDK client without retries, so each call is exactly one request. */
  stripe: Stripe;
}

export async function harness(options: EmulatorOptions = {}): Promise<Harness> {
  const emu = await startEmulator({ port: 0, ...options });
  return { emu, stripe: emu.stripe({ maxNetworkRetries: 0 }) };
}

/** A raw HTTP call, for protocol details the SDK hides (headers, replays). */
export async function raw(
  emu: RunningEmulator,
  method: string,
  path: string,
  options: { body?: string; headers?: Record<string, string>; key?: string | null } = {},
): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key !== null) headers.Authorization = `Bearer ${options.key ?? emu.secretKey}`;
  if (options.body !== undefined) headers["Content-Type"] = "application/x-www-form-urlencoded";
  const response = await fetch(`${emu.url}${path}`, {
    method,
    headers,
    ...(options.body !== undefined ? { body: options.body } : {}),
  });
  return {
    status: response.status,
    headers: response.headers,
    json: (await response.json()) as Record<string, unknown>,
  };
}

/** Expects `promise` to reject and returns the error for assertions. */
export async function failure(promise: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  try {
    await promise;
  } catch (error) {
    return error as Stripe.errors.StripeError;
  }
  throw new Error("expected the call to fail");
}

export interface ReceivedWebhook {
  body: string;
  signature: string;
  event: Stripe.Event;
}

/**
 * A webhook receiver on a random port that records every delivery; `respond` decides the
 * status code of each (default 200).
 */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  respond: (event: Stripe.Event, attempt: number) => number = () => 200;
  private server: Server | null = null;
  private readonly attempts = new Map<string, number>();
  url = "";

  async start(): Promise<this> {
    this.server = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const event = JSON.parse(body) as Stripe.Event;
        const attempt = (this.attempts.get(event.id) ?? 0) + 1;
        this.attempts.set(event.id, attempt);
        this.received.push({ body, signature: String(req.headers["stripe-signature"]), event });
        res.writeHead(this.respond(event, attempt));
        res.end("ok");
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/webhooks`;
    return this;
  }

  types(): string[] {
    return this.received.map((r) => r.event.type);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server?.close(() => resolve());
      this.server?.closeAllConnections();
    });
  }
}

/** BECS payment method details with a Stripe test account number (BSB 000-000). */
export function becs(accountNumber: string): Stripe.PaymentMethodCreateParams {
  return {
    type: "au_becs_debit",
    au_becs_debit: { bsb_number: "000000", account_number: accountNumber },
    billing_details: { name: "Jenny Rosen", email: "jenny@example.com" },
  };
}

export const MANDATE_DATA = {
  customer_acceptance: {
    type: "online" as const,
    online: { ip_address: "203.0.113.7", user_agent: "vitest" },
  },
};
