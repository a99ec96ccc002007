import {
  DEFAULT_WEBHOOK_TOLERANCE_SECONDS,
  mayHoldUnstorable,
  storableInJsonb,
  verifyStripeWebhook,
  type WebhookInbox,
} from "@susu/adapters";
import type { StorageError } from "@susu/domain";
import { Hono } from "hono";
import type { ResultAsync } from "neverthrow";
import type Stripe from "stripe";
import { bodyLimit } from "../http/edge.js";
import type { OverloadGuard } from "../http/overload.js";
import type { RequestLogVariables } from "../http/request-log.js";
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
  /**
   * Only `receive`: the endpoint stores; the scheduler's processor does the rest. The
   * endpoint passes the signed body's text beside the event when the event is exactly its
   * parse, so a store that can (`BatchingWebhookIngest`) keeps that text instead of
   * serialising the event again; `WebhookInbox.receive` ignores it.
   */
  readonly inbox: {
    receive(
      event: Stripe.Event,
      rawBody?: string,
    ): ReturnType<WebhookInbox["receive"]> | ResultAsync<"stored" | "duplicate", StorageError>;
    /**
     * Whether the events waiting to be stored reached their limit (`BatchingWebhookIngest`):
     * the endpoint then answers 503 `overloaded` with `Retry-After` and stores nothing, and
     * Stripe delivers the event again later. Without it, nothing is refused.
     */
    full?(): boolean;
  };
  /** Counts and logs a refusal as the API's overload guard does; without it, a plain 503. */
  readonly overload?: Pick<OverloadGuard, "refuse">;
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
 * stores nothing (`payload_invalid` also for a signed event the inbox could never store: a
 * `created` that is no timestamp, nesting deeper than `WEBHOOK_JSON_DEPTH_MAX`); an event the
 * database refuses for its data (`storage_refused`: a value it cannot hold, a limit it
 * exceeds) is a 400 `event_unstorable`, logged at `warn`, since every delivery would be refused
 * alike; a database that cannot store it is a 503 `inbox_unavailable`, and a backlog of events
 * waiting to be stored at its limit a 503 `overloaded`: Stripe delivers it again.
 */
export function webhookRoutes(deps: WebhookRouteDeps) {
  // Fail at start-up, not on the first delivery: an empty secret would refuse every event.
  const secrets = deps.stripeSecret
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x !== "");
  if (secrets.length === 0) throw new RangeError("the Stripe webhook secret is empty");
  const tolerance = deps.toleranceSeconds ?? DEFAULT_WEBHOOK_TOLERANCE_SECONDS;
  const app = new Hono<{ Variables: Pick<RequestLogVariables, "shed"> }>();
  app.post(
    "/stripe",
    // Decided from Content-Length where it settles it (counting only a chunked body), so the
    // body is read once, straight off the socket, not through a web stream.
    bodyLimit(WEBHOOK_BODY_MAX_BYTES, (c) =>
      problem(c, 413, "payload_too_large", `webhook bodies are limited to ${WEBHOOK_BODY_MAX_BYTES} bytes`),
    ),
    async (c) => {
      // The raw text, not c.req.json(): the signature covers the exact bytes Stripe sent.
      const rawBody = await c.req.text();
      const header = c.req.header("stripe-signature");
      // Any configured secret may have signed it (tried in order, each parse only when its
      // signature matched); report the first secret's verdict otherwise.
      const first = verifyStripeWebhook(rawBody, header, secrets[0] as string, tolerance);
      let verified = first;
      for (let i = 1; verified.isErr() && i < secrets.length; i++) {
        const next = verifyStripeWebhook(rawBody, header, secrets[i] as string, tolerance);
        if (next.isOk()) verified = next;
      }
      if (verified.isErr()) {
        const refusal = first.isErr() ? first.error : verified.error;
        return problem(c, 400, refusal.code, refusal.message);
      }
      // After the signature, so a forged request learns nothing and a bad one keeps its 400.
      if (deps.inbox.full?.() === true) {
        const detail = "Stripe events waiting to be stored reached their limit";
        return deps.overload !== undefined
          ? deps.overload.refuse(c, "webhook_backlog", detail)
          : problem(c, 503, "overloaded", detail);
      }
      // JSON can hold a NUL or a lone surrogate only as an escape (\u0000, \ud83d: a raw
      // control character does not parse, and UTF-8 cannot carry a lone surrogate), so a body
      // without such text needs no walk, and the event is exactly its parse: the store may
      // keep the text Stripe signed instead of serialising it again.
      const stored = mayHoldUnstorable(rawBody)
        ? await deps.inbox.receive(storableInJsonb(verified.value))
        : await deps.inbox.receive(verified.value, rawBody);
      if (stored.isErr() && stored.error.type === "storage_refused") {
        // The database refuses this event's data (a value it cannot hold, a limit it exceeds):
        // it would refuse every delivery of it. Stripe retries any non-2xx answer, a 4xx too,
        // but a 4xx keeps a permanent refusal out of the 5xx alerts (a 503 would page someone
        // for days over nothing an outage explains); the log says why.
        // The request log's logger (set for every request); absent only outside the app.
        (c.var as Partial<RequestLogVariables>).log?.warn(
          {
            eventId: verified.value.id,
            type: verified.value.type,
            code: stored.error.type,
            cause: stored.error.message,
          },
          "webhook event refused by the database",
        );
        return problem(
          c,
          400,
          "event_unstorable",
          "the signed event holds what the database cannot store; no delivery of it can be stored",
        );
      }
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
