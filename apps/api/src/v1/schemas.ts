import { z } from "@hono/zod-openapi";
import {
  authResponses,
  CALLER_ALIAS,
  PERSON_PATH_PATTERN,
  SUBJECT_MAX_CHARS,
  SUBJECT_PATTERN,
} from "../http/auth.js";
import { edgeResponses } from "../http/edge.js";
import { idempotencyResponses, PRINTABLE_ASCII } from "../http/idempotency.js";
import {
  PROBLEM_CONTENT_TYPE,
  PROVIDER_CODE,
  problemBody,
  problemDoc,
  type ResponseDoc,
} from "../http/problem-response.js";
import { rateLimitResponses } from "../http/rate-limit.js";
import { NUL_FREE } from "../input.js";

/** An id in a path or a body: letters, digits, `_` and `-`, 1–100 characters. */
export const IdSchema = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9_-]+$/, "letters, digits, _ and - only");

/**
 * A person's id (a member id, a seller, a customer, a counterparty): exactly what a token's
 * `sub` may be ({@link SUBJECT_PATTERN}: 1–255 printable ASCII characters, no whitespace or
 * control characters, not `.`, `..` or `me`), since the subject becomes the person's id.
 * Identity providers' subjects fit: `auth0|abc`, `google-oauth2|123`, UUIDs, e-mail
 * addresses. In a path the id is percent-encoded (`auth0%7Cabc`). `me` is no one's id: it is
 * the caller's name in `/v1/people/{personId}` paths ({@link PersonIdParam}).
 */
export const PersonIdSchema = z
  .string()
  .min(1)
  .max(SUBJECT_MAX_CHARS)
  .regex(SUBJECT_PATTERN, "printable ASCII without spaces (as a token's sub), not ., .. or me")
  .openapi({
    description: `A person's id: their token's \`sub\`, 1–${SUBJECT_MAX_CHARS} printable ASCII characters without whitespace (e.g. \`auth0|64f1c2\`, \`ana@example.com\`), never \`${CALLER_ALIAS}\` (tokens with that \`sub\` are refused); percent-encode it in a path`,
  });

/**
 * A set-up's `attempt` (a debit set-up, a saved payment method): it names the set-up at
 * Stripe, as part of the Idempotency-Key the gateway sends, so it is held to what the API's
 * own Idempotency-Key is: printable ASCII (space to tilde), 1–64 characters once trimmed. A
 * character Node cannot put in a header (above U+00FF, CR, LF) would otherwise fail the call
 * to Stripe as a connection error, which no retry cures.
 */
export function setupAttemptSchema(description: string) {
  return z
    .string()
    .trim()
    .min(1)
    .max(64)
    .regex(PRINTABLE_ASCII, "printable ASCII only (space to ~), as an Idempotency-Key")
    .optional()
    .openapi({ description: `${description}. 1–64 printable ASCII characters`, example: "1" });
}

/** A name people read: trimmed, 1–100 characters, no NUL. */
export const DisplayNameSchema = z.string().trim().min(1).max(100).refine(NUL_FREE, "no NUL characters");

/** An amount in the currency's minor unit, with its currency (ISO 4217, upper case). */
export const MoneySchema = z
  .object({
    amountMinor: z.number().int().openapi({ example: 10000 }),
    currency: z.string().length(3).openapi({ example: "AUD" }),
  })
  .openapi("Money");

/**
 * `schema` (one registered as a component, such as {@link MoneySchema}) or null. Not
 * `schema.nullable()`: the generator writes that as `allOf: [$ref, {type: [object, null]}]`,
 * which null does not satisfy (the `$ref` still must), so a client generated from the
 * document rejected the nulls the API sends; a union is written `anyOf: [$ref, {type: null}]`.
 */
export function orNull<T extends z.ZodType>(schema: T) {
  return z.union([schema, z.null()]);
}

/** An ISO-8601 timestamp in UTC, or null when it has not happened. */
export const TimestampSchema = z
  .string()
  .datetime()
  .nullable()
  .openapi({ example: "2030-01-03T09:00:00.000Z" });

/** The path parameter `{groupId}`. */
export const GroupIdParam = z.object({
  groupId: IdSchema.openapi({ param: { name: "groupId", in: "path" }, example: "grp_1" }),
});

/** A person named in a `/v1/people/{personId}` path: their id, or `me` for the caller. */
export const PersonIdParam = z.object({
  personId: z
    .string()
    .min(1)
    .max(SUBJECT_MAX_CHARS)
    .regex(PERSON_PATH_PATTERN, "printable ASCII without spaces (as a token's sub), not . or ..")
    .openapi({
      param: { name: "personId", in: "path" },
      description: `A person's id (their token's \`sub\`, percent-encoded), or \`${CALLER_ALIAS}\` for the caller, a person (a \`service\` token is an app's: 403 \`person_only\`; no person's id is \`${CALLER_ALIAS}\`: a token whose \`sub\` is \`${CALLER_ALIAS}\` is refused with 401 \`token_subject_unsupported\`)`,
      example: CALLER_ALIAS,
    }),
});

/** The error responses every v1 route can give, whatever it does (auth, rate limit, edge). */
export const commonResponses = {
  ...authResponses,
  ...rateLimitResponses,
  400: edgeResponses[400],
  405: edgeResponses[405],
  413: edgeResponses[413],
  415: edgeResponses[415],
} satisfies Record<number, ResponseDoc>;

/** The error responses of a POST (the common ones, and idempotency keys). */
export const postResponses = { ...commonResponses, ...idempotencyResponses } satisfies Record<
  number,
  ResponseDoc
>;

/** The answers of a route that calls the payment provider while the client waits. */
export const providerResponses = {
  502: problemDoc("The payment provider refused the request.", [PROVIDER_CODE]),
  503: problemDoc("The payment provider did not answer; repeating the request is safe.", [PROVIDER_CODE]),
} satisfies Record<number, ResponseDoc>;

/** A 404 for a resource the caller may not see or that does not exist (one answer for both). */
export const notFoundResponse = (codes: readonly string[]) => ({
  404: problemDoc("Not found, or not yours to see.", codes),
});

/** A 409 for a request the resource's state refuses. */
export const conflictResponse = (codes: readonly string[]) => ({
  409: problemDoc("The resource's state does not allow this now.", codes),
});

/** A 422 for a request whose values the domain refuses. */
export const unprocessableResponse = (codes: readonly string[]) => ({
  422: problemDoc("The values are well-formed but not acceptable.", codes),
});

/** A 403 for an action the caller may see but not do. */
export const forbiddenResponse = (codes: readonly string[]) => ({
  403: problemDoc("Allowed to see, not to do.", codes),
});

/** A JSON response of `schema`. */
export function json<T extends z.ZodTypeAny>(schema: T, description: string) {
  return { content: { "application/json": { schema } }, description };
}

/**
 * A problem response of `status` whose every code comes with an example document (the
 * media type's `examples`, one per code, named by it): `details` maps each code a client
 * may see with this status to a detail like the one it gets.
 */
export function problemExamples<S extends number>(
  status: S,
  description: string,
  details: Readonly<Record<string, string>>,
): Record<S, ResponseDoc> {
  const doc = problemDoc(description, Object.keys(details)) as {
    readonly content: Readonly<Record<string, object>>;
  };
  const examples = Object.fromEntries(
    Object.entries(details).map(([code, detail]) => [
      code,
      { summary: code, value: problemBody(status, code, detail) },
    ]),
  );
  const media = doc.content?.[PROBLEM_CONTENT_TYPE];
  return {
    [status]: { ...doc, content: { [PROBLEM_CONTENT_TYPE]: { ...media, examples } } },
  } as Record<S, ResponseDoc>;
}
