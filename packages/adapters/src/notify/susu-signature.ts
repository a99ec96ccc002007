import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

// The `Susu-Signature` header of notification webhooks, built the way Stripe signs its
// webhooks: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`, keyed with the
// endpoint's secret. The timestamp is signed too, so an old request replayed later fails
// the tolerance check.

/** The header that carries the signature. */
export const SUSU_SIGNATURE_HEADER = "Susu-Signature";

/** How old a signature may be when verified, by default (5 minutes, as Stripe's libraries). */
export const DEFAULT_SIGNATURE_TOLERANCE_SECONDS = 300;

/** A new endpoint secret: `whsec_` and 32 random bytes, hex. */
export function newEndpointSecret(): string {
  return `whsec_${randomBytes(32).toString("hex")}`;
}

function hmacHex(secret: string, timestamp: number, body: string): string {
  return createHmac("sha256", secret).update(`${timestamp}.${body}`, "utf8").digest("hex");
}

/**
 * The `Susu-Signature` value for `body` sent at `timestamp` (unix seconds): one `v1` per
 * secret (two while a rotated secret's predecessor is still honoured; a receiver accepts
 * the request when any one matches its secret).
 */
export function signSusuPayload(secret: string | readonly string[], body: string, timestamp: number): string {
  const secrets = typeof secret === "string" ? [secret] : secret;
  return [`t=${timestamp}`, ...secrets.map((s) => `v1=${hmacHex(s, timestamp, body)}`)].join(",");
}

/** Options of {@link verifySusuSignature}. */
export interface VerifySusuSignatureOptions {
  /** The oldest (and furthest in the future) a timestamp may be, in seconds; default 300. */
  readonly toleranceSeconds?: number;
  /** The current unix time in seconds; default the system clock. */
  readonly nowSeconds?: number;
}

/** Why a signature was refused. */
export type SusuSignatureFailure =
  | "missing_header"
  | "malformed_header"
  | "timestamp_out_of_tolerance"
  | "no_matching_signature";

/** The outcome of {@link verifySusuSignature}. */
export type SusuSignatureCheck =
  | { readonly valid: true; readonly timestamp: number }
  | { readonly valid: false; readonly reason: SusuSignatureFailure };

/**
 * Checks a notification webhook's `Susu-Signature` against the raw request body (the exact
 * bytes received, before any JSON parsing) and the endpoint's secret. For client apps:
 * accept the request only when `valid` is true; then deduplicate on the delivery id, the
 * body's `deliveryId` (signed; the `Susu-Delivery-Id` header carries the same): a delivery
 * resent after a timeout carries the same one. Not on the body's `id`: that is the
 * notification's, the same in every person's delivery of one notice to the endpoint.
 * `header` is the request's `Susu-Signature` value; where a framework types headers
 * `string | string[]` (Node's `req.headers`), pass it only when it is a string.
 */
export function verifySusuSignature(
  rawBody: string,
  header: string | null | undefined,
  secret: string,
  options: VerifySusuSignatureOptions = {},
): SusuSignatureCheck {
  if (header === undefined || header === null || header.trim() === "")
    return { valid: false, reason: "missing_header" };
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(",")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === "t" && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    else if (key === "v1" && /^[0-9a-f]{64}$/.test(value)) signatures.push(value);
  }
  if (timestamp === undefined || signatures.length === 0) return { valid: false, reason: "malformed_header" };
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  const tolerance = options.toleranceSeconds ?? DEFAULT_SIGNATURE_TOLERANCE_SECONDS;
  if (Math.abs(now - timestamp) > tolerance) return { valid: false, reason: "timestamp_out_of_tolerance" };
  const expected = Buffer.from(hmacHex(secret, timestamp, rawBody), "hex");
  const matches = signatures.some((s) => timingSafeEqual(Buffer.from(s, "hex"), expected));
  return matches ? { valid: true, timestamp } : { valid: false, reason: "no_matching_signature" };
}
