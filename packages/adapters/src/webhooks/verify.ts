import { err, ok, type Result } from "neverthrow";
import Stripe from "stripe";

/** Stripe's default: a delivery signed more than five minutes ago is refused (replay protection). */
export const DEFAULT_WEBHOOK_TOLERANCE_SECONDS = 300;

/**
 * Why a webhook delivery was refused before anything was stored. Each code is stable (the
 * API answers it as a problem `code`):
 * - `signature_missing`: no `Stripe-Signature` header;
 * - `signature_invalid`: the header is malformed or no `v1` signature matches the body
 *   under the endpoint secret (a forgery, a body changed on the way, another secret);
 * - `signature_expired`: a signature matches, but its timestamp is older than the
 *   tolerance (a replayed delivery);
 * - `payload_invalid`: correctly signed, but not a Stripe event (nor one the inbox could
 *   ever store: a `created` that is no timestamp, see {@link isStripeEventShaped}, or
 *   nesting deeper than {@link WEBHOOK_JSON_DEPTH_MAX}).
 */
export type WebhookRejection = {
  readonly type: "webhook_rejected";
  readonly code: "signature_missing" | "signature_invalid" | "signature_expired" | "payload_invalid";
  readonly message: string;
};

function rejection(code: WebhookRejection["code"], message: string): WebhookRejection {
  return { type: "webhook_rejected", code, message };
}

/** Whether a signature over `rawBody` matches, ignoring its age (tolerance 0 skips the age check). */
function signatureMatchesIgnoringAge(rawBody: string, header: string, secret: string): boolean {
  try {
    return Stripe.webhooks.signature?.verifyHeader(rawBody, header, secret, 0) === true;
  } catch {
    return false;
  }
}

/**
 * Latest `created` taken, in Unix seconds: 9999-12-31T23:59:59Z. Stripe's `created` is a
 * timestamp in whole seconds; a later one cannot be a Stripe event's, and from year 275760 on
 * it is no JS Date (the inbox stores it as a timestamptz through one): PostgreSQL would refuse
 * it on every delivery. The earliest taken is the epoch, 0.
 */
export const WEBHOOK_CREATED_MAX_SECONDS = 253_402_300_799;

/** Whether `created` is whole seconds from the epoch to {@link WEBHOOK_CREATED_MAX_SECONDS}. */
function isCreatedTimestamp(created: unknown): boolean {
  return (
    typeof created === "number" &&
    Number.isInteger(created) &&
    created >= 0 &&
    created <= WEBHOOK_CREATED_MAX_SECONDS
  );
}

/**
 * Whether a parsed body has the shape of a Stripe event (`object: "event"`, an id, a type,
 * `created` (whole seconds a timestamp column holds), `livemode` and `data.object`): the little
 * the inbox and the translator rely on.
 */
export function isStripeEventShaped(value: unknown): value is Stripe.Event {
  if (typeof value !== "object" || value === null) return false;
  const e = value as Record<string, unknown>;
  const data = e.data as Record<string, unknown> | null | undefined;
  return (
    e.object === "event" &&
    typeof e.id === "string" &&
    e.id !== "" &&
    typeof e.type === "string" &&
    e.type !== "" &&
    isCreatedTimestamp(e.created) &&
    typeof e.livemode === "boolean" &&
    typeof data === "object" &&
    data !== null &&
    typeof data.object === "object" &&
    data.object !== null
  );
}

/**
 * Deepest nesting of arrays and objects a webhook event may have, the event itself being the
 * first level (as the API's `/v1` bodies, `JSON_DEPTH_MAX`). Stripe's events nest far less (an
 * invoice's line item's proration details are about a dozen levels down); a deeper one cannot
 * be stored: PostgreSQL's json parser recurses and refuses it (SQLSTATE 54001, stack depth), and
 * the recursive walks over an event (JSON.stringify, the translator) could overflow the stack.
 */
export const WEBHOOK_JSON_DEPTH_MAX = 64;

/**
 * Whether JSON text nests arrays and objects more than `max` levels deep. Reads the text once,
 * without recursion or allocation: only brackets outside strings count (a string ends at an
 * unescaped quote). Meant for text that parsed.
 */
export function jsonTextNestedDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++;
      if (depth > max) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
  return false;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/**
 * Verifies a Stripe webhook delivery and parses its event. The check is the SDK's
 * (`stripe.webhooks.constructEvent`): HMAC-SHA256 of `"<t>.<raw body>"` under `secret`,
 * compared in constant time with every `v1` in the header, and `t` no older than
 * `toleranceSeconds`.
 *
 * @param rawBody the request body exactly as received: re-serialised JSON does not verify.
 * @param signatureHeader the `Stripe-Signature` header.
 * @param secret the endpoint's signing secret (`whsec_…`).
 * @param toleranceSeconds the oldest signature accepted, in seconds (positive; 300 like Stripe's SDK).
 */
export function verifyStripeWebhook(
  rawBody: string,
  signatureHeader: string | undefined,
  secret: string,
  toleranceSeconds = DEFAULT_WEBHOOK_TOLERANCE_SECONDS,
): Result<Stripe.Event, WebhookRejection> {
  // The SDK reads 0 as "its default", which would silently ignore a configured 0.
  if (!Number.isInteger(toleranceSeconds) || toleranceSeconds <= 0)
    throw new RangeError(`toleranceSeconds must be a positive integer, got ${toleranceSeconds}`);
  if (signatureHeader === undefined || signatureHeader.trim() === "")
    return err(rejection("signature_missing", "the request has no Stripe-Signature header"));
  let parsed: unknown;
  try {
    parsed = Stripe.webhooks.constructEvent(rawBody, signatureHeader, secret, toleranceSeconds);
  } catch (error) {
    if (!(error instanceof Stripe.errors.StripeSignatureVerificationError)) {
      // The signature matched (the SDK checks it before parsing) but the body is not JSON.
      return err(rejection("payload_invalid", "the signed body is not JSON"));
    }
    // The SDK reports every refusal with the same error class and only a message to tell
    // them apart. Messages change between versions, so ask the question directly instead:
    // does a signature match when the age is not checked? Then the age was the problem.
    if (signatureMatchesIgnoringAge(rawBody, signatureHeader, secret))
      return err(
        rejection("signature_expired", `the signature is older than the ${toleranceSeconds} s tolerance`),
      );
    return err(rejection("signature_invalid", "no signature in the header matches the body"));
  }
  if (!isStripeEventShaped(parsed))
    return err(rejection("payload_invalid", "the signed body is not a Stripe event"));
  // The SDK's JSON.parse took it (V8 parses without recursion); storing it would not.
  if (jsonTextNestedDeeperThan(rawBody, WEBHOOK_JSON_DEPTH_MAX))
    return err(
      rejection(
        "payload_invalid",
        `the signed event nests arrays and objects more than ${WEBHOOK_JSON_DEPTH_MAX} levels deep`,
      ),
    );
  return ok(parsed);
}
