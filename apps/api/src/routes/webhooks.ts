import { DEFAULT_WEBHOOK_TOLERANCE_SECONDS, verifyStripeWebhook, type WebhookInbox } from "@susu/adapters";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { problem, serverProblem } from "../problem.js";

/** Largest webhook body accepted. Stripe's events are far smaller; this only stops abuse. */
export const WEBHOOK_BODY_MAX_BYTES = 1024 * 1024;

/** What the webhook endpoint needs. */
export interface WebhookRouteDeps {
  /**
   * The endpoint's signing secret (`whsec_…`) from Stripe's dashboard — or several,
   * comma-separated: a platform endpoint and a Connect endpoint (which receives the
   * connected accounts' `account.updated`) each have their own, and during a secret
   * roll both the old and the new one are valid.
   */
  readonly stripeSecret: string;
  /** Only `receive`: the endpoint stores; the scheduler's processor does the rest. */
  readonly inbox: Pick<WebhookInbox, "receive">;
  /** Oldest signature accepted, in seconds (default 300, like Stripe's SDK). */
  readonly toleranceSeconds?: number;
}

/**
 * `/webhooks`: `POST /webhooks/stripe` verifies the `Stripe-Signature` over the raw body,
 * stores the event in the inbox (a repeat delivery is a no-op) and answers `200
 * {"received":true}` at once; processing happens later, in the scheduler. Only a 2xx
 * stops Stripe's retries, so the answer is 2xx exactly when the event is stored (or was
 * already): a refused signature is a 400 problem with the verifier's stable code
 * (`signature_missing`, `signature_invalid`, `signature_expired`, `payload_invalid`) and
 * stores nothing; a database that cannot store it is a 503, and Stripe delivers it again.
 */
export function webhookRoutes(deps: WebhookRouteDeps) {
  // Fail at start-up, not on the first delivery: an empty secret would refuse every event.
  const secrets = deps.stripeSecret
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x !== "");
  if (secrets.length === 0) throw new RangeError("the Stripe webhook secret is empty");
  const tolerance = deps.toleranceSeconds ?? DEFAULT_WEBHOOK_TOLERANCE_SECONDS;
  const app = new Hono();
  app.post(
    "/stripe",
    bodyLimit({
      maxSize: WEBHOOK_BODY_MAX_BYTES,
      onError: (c) =>
        problem(c, 413, "payload_too_large", `webhook bodies are limited to ${WEBHOOK_BODY_MAX_BYTES} bytes`),
    }),
    async (c) => {
      // The raw text, not c.req.json(): the signature covers the exact bytes Stripe sent.
      const rawBody = await c.req.text();
      const header = c.req.header("stripe-signature");
      // Any configured secret may have signed it; report the first secret's verdict otherwise.
      const attempts = secrets.map((secret) => verifyStripeWebhook(rawBody, header, secret, tolerance));
      const verified = attempts.find((r) => r.isOk()) ?? attempts[0];
      if (verified === undefined) throw new Error("no webhook secret configured");
      if (verified.isErr()) return problem(c, 400, verified.error.code, verified.error.message);
      const stored = await deps.inbox.receive(withoutNulCharacters(verified.value));
      if (stored.isErr())
        return serverProblem(
          c,
          503,
          "inbox_unavailable",
          `${stored.error.code}: ${stored.error.message}`,
          "the event could not be stored; Stripe will deliver it again",
        );
      return c.json({ received: true }, 200);
    },
  );
  return app;
}

/**
 * The event with every NUL character (U+0000) in its strings and keys replaced by U+FFFD.
 * PostgreSQL cannot store U+0000 in jsonb, so a signed event carrying one (a customer's
 * name, say) could never be stored: the endpoint would answer 503 and Stripe would retry it
 * until it gave up. The signature was checked on the exact bytes first; only the stored
 * copy differs, and only where PostgreSQL could not hold it anyway.
 */
export function withoutNulCharacters<T>(value: T): T {
  const clean = (v: unknown): unknown => {
    if (typeof v === "string") return v.includes("\u0000") ? v.replaceAll("\u0000", "\ufffd") : v;
    if (Array.isArray(v)) return v.map(clean);
    if (typeof v === "object" && v !== null)
      return Object.fromEntries(Object.entries(v).map(([k, item]) => [clean(k), clean(item)]));
    return v;
  };
  return clean(value) as T;
}
