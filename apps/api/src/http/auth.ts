import { randomUUID } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
  SignJWT,
} from "jose";
import { errAsync, okAsync, ResultAsync } from "neverthrow";
import { problemDoc, problemResponse, type ResponseDoc } from "./problem-response.js";

/** What a caller may be: a person in groups, a platform operator, or a machine (the scheduler, tools). */
export const ROLES = ["member", "admin", "service"] as const;

/** One of {@link ROLES}. */
export type Role = (typeof ROLES)[number];

/** Who is calling, as proven by a verified token. */
export interface Principal {
  /** The token's `sub`: the person's id (or the service's name for `service` tokens). */
  readonly subject: string;
  /** From the token's {@link ROLES_CLAIM} claim; never empty (`["member"]` when absent). */
  readonly roles: readonly Role[];
}

/** The Hono variables {@link bearerAuth} sets: `c.var.principal`. */
export interface AuthVariables {
  principal: Principal;
}

/** The `iss` of every token susu mints with its shared secret. */
export const SUSU_TOKEN_ISSUER = "susu";

/**
 * The claim that carries roles: `roles`, a JSON array of strings. Values other than
 * {@link ROLES} are ignored (an identity provider may put its own roles there); an absent
 * or empty array means `["member"]`; any other shape makes the token invalid.
 */
export const ROLES_CLAIM = "roles";

/** Longest token accepted; a larger header is an attack or a mistake, refused before any parsing. */
export const TOKEN_MAX_CHARS = 8_192;

/** Longest subject accepted; it is stored as an idempotency scope and a rate-limit bucket. */
export const SUBJECT_MAX_CHARS = 255;

/** What `/v1/people/{personId}` paths take for the caller; never a person's id. */
export const CALLER_ALIAS = "me";

/**
 * The subjects accepted: 1–{@link SUBJECT_MAX_CHARS} printable ASCII characters (`!` to
 * `~`: no space, other whitespace, control or non-ASCII character), other than `.`, `..` and
 * `me`. A person's subject is their id, which callers put in paths (percent-encoded) and
 * bodies, so every subject admitted must be nameable there: `auth0|abc`, `google-oauth2|123`,
 * UUIDs and e-mail addresses are; a dot segment would be resolved away by URL normalisation,
 * and `me` ({@link CALLER_ALIAS}) names the caller in paths (exactly `me`: `Me` is a subject).
 */
export const SUBJECT_PATTERN = /^(?!(?:\.\.?|me)$)[\x21-\x7E]{1,255}$/;

/** A person in a `/v1/people/{personId}` path: a subject, or {@link CALLER_ALIAS}. */
export const PERSON_PATH_PATTERN = /^(?!\.\.?$)[\x21-\x7E]{1,255}$/;

const SUBJECT_RULE = "printable ASCII without whitespace, and not ., .. or me (the caller's name in paths)";

// Algorithm confusion is prevented by routing on the header's `alg` before verifying: the
// shared secret only ever verifies HS256, and the JWKS keys only ever verify these. A token
// signed with HS256 using a JWKS public key as its "secret" goes to the secret's path and
// fails there; `none` matches neither.
const SHARED_SECRET_ALGORITHMS = ["HS256"];
const JWKS_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512"];

/** Why a request was not authenticated; `code` is the problem code it answers with. */
export type AuthFailure =
  | { readonly code: "unauthenticated"; readonly detail: string }
  | { readonly code: "token_expired"; readonly detail: string }
  | { readonly code: "token_invalid"; readonly detail: string }
  | { readonly code: "token_subject_unsupported"; readonly detail: string }
  | { readonly code: "auth_unavailable"; readonly detail: string };

/** Checks a bearer token and says who it proves. */
export interface TokenVerifier {
  verify(token: string): ResultAsync<Principal, AuthFailure>;
}

/** How tokens are trusted; at least one of `sharedSecret` and `jwks`. */
export interface TokenVerifierOptions {
  /** HS256 secret (≥ 32 characters) of tokens minted by {@link mintToken}. */
  readonly sharedSecret?: string | undefined;
  /** An external identity provider: its JWKS URL, the `iss` it signs and the `aud` meant for susu. */
  readonly jwks?:
    | {
        readonly url: URL;
        readonly issuer: string;
        readonly audience: string | readonly string[];
        /** Replaces the remote key set (tests of key rotation); default `createRemoteJWKSet(url)`. */
        readonly keySet?: JWTVerifyGetKey;
      }
    | undefined;
  /** Allowed clock difference with the issuer, seconds. Default 5. */
  readonly clockToleranceSeconds?: number;
  /** The current time in ms (tests); default `Date.now`. */
  readonly now?: () => number;
}

const failure = {
  invalid: (detail: string): AuthFailure => ({ code: "token_invalid", detail }),
  expired: (detail: string): AuthFailure => ({ code: "token_expired", detail }),
  unavailable: (detail: string): AuthFailure => ({ code: "auth_unavailable", detail }),
};

function secretKey(secret: string): Uint8Array {
  if (secret.length < 32) throw new RangeError("the JWT shared secret must be at least 32 characters");
  return new TextEncoder().encode(secret);
}

/** Reads the principal out of verified claims, or says why the claims do not name one. */
export function principalOf(payload: JWTPayload): Principal | AuthFailure {
  const subject = payload.sub;
  if (typeof subject !== "string" || subject.length === 0 || subject.length > SUBJECT_MAX_CHARS)
    return failure.invalid(`the token's sub must be a string of 1 to ${SUBJECT_MAX_CHARS} characters`);
  // A valid token whose subject no path or body could name: not the client's token to
  // throw away as invalid, but an identity provider configured with subjects susu refuses.
  if (!SUBJECT_PATTERN.test(subject))
    return {
      code: "token_subject_unsupported",
      detail: `the token's sub must be ${SUBJECT_RULE}`,
    };
  const claimed = payload[ROLES_CLAIM];
  if (claimed === undefined) return { subject, roles: ["member"] };
  if (!Array.isArray(claimed) || !claimed.every((r): r is string => typeof r === "string"))
    return failure.invalid(`the token's ${ROLES_CLAIM} claim must be an array of strings`);
  const roles = ROLES.filter((role) => claimed.includes(role));
  return { subject, roles: roles.length === 0 ? ["member"] : roles };
}

function isFailure(value: Principal | AuthFailure): value is AuthFailure {
  return "code" in value;
}

/**
 * Sorts a verification error. Only the JWKS path can fail for lack of infrastructure (the
 * identity provider's key endpoint down, slow or answering garbage): that is a 503 the
 * client retries, not a 401 that would make it throw its token away.
 */
function classify(error: unknown, viaJwks: boolean): AuthFailure {
  if (error instanceof errors.JWTExpired) return failure.expired("the token has expired");
  if (viaJwks) {
    if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid)
      return failure.unavailable("the identity provider's keys could not be loaded; retry");
    if (error instanceof errors.JWKSNoMatchingKey)
      return failure.invalid("the token is signed with a key the identity provider does not publish");
    // A plain JOSEError is what jose throws for a non-200 or non-JSON key set answer; a
    // non-JOSE error is a network failure of the key fetch.
    if (!(error instanceof errors.JOSEError) || error.code === errors.JOSEError.code)
      return failure.unavailable("the identity provider's keys could not be loaded; retry");
  }
  if (error instanceof errors.JWTClaimValidationFailed)
    return failure.invalid(`the token's ${error.claim} claim is not accepted`);
  if (error instanceof errors.JOSEAlgNotAllowed)
    return failure.invalid("the token's algorithm is not accepted");
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return failure.invalid("the token's signature does not verify");
  return failure.invalid("the token is not a valid JWT");
}

/** Most verified shared-secret tokens {@link createTokenVerifier} keeps (oldest out first). */
const VERIFIED_TOKENS_MAX = 10_000;

interface VerifiedToken {
  readonly principal: Principal;
  readonly exp: number;
  readonly nbf?: number;
}

/**
 * Verifies bearer JWTs with the shared secret (HS256, issuer `susu`), an external identity
 * provider's JWKS (RS256/384/512, ES256/384/512, with its issuer and audience), or both.
 * Every token needs `sub` and `exp`.
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const secretBytes = options.sharedSecret === undefined ? undefined : secretKey(options.sharedSecret);
  // Imported once: given raw bytes, jose imports the key on every verification.
  const secret =
    secretBytes === undefined
      ? undefined
      : crypto.subtle.importKey("raw", secretBytes, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  const jwks = options.jwks;
  if (secret === undefined && jwks === undefined)
    throw new RangeError("createTokenVerifier needs a shared secret, a JWKS, or both");
  // createRemoteJWKSet caches the keys and refetches (at most every 30 s) when a token names
  // a kid it does not know, so key rotation at the provider needs no restart.
  const keySet =
    jwks === undefined
      ? undefined
      : (jwks.keySet ?? createRemoteJWKSet(jwks.url, { timeoutDuration: 5_000 }));
  const clockTolerance = options.clockToleranceSeconds ?? 5;
  const now = options.now ?? Date.now;
  // Shared-secret tokens whose HS256 signature, issuer and claims verified, with their
  // time window: a token is the same bytes on every request, so its signature verifies
  // the same way. A hit is accepted only while jose's own time checks would pass (exp >
  // now - tolerance, nbf <= now + tolerance, now in whole seconds); otherwise the token
  // is verified in full again, failure and its reason included. Failures are never kept.
  const verifiedShared = new Map<string, VerifiedToken>();
  // A remembered token is the exact string that verified as HS256 (its header included),
  // so it is looked up before anything is decoded; a hit answers without a promise chain.
  const remembered = (token: string): Principal | undefined => {
    const known = verifiedShared.get(token);
    if (known === undefined) return undefined;
    const nowSeconds = Math.floor(now() / 1000);
    if (known.exp <= nowSeconds - clockTolerance) {
      // Expired for good: verified in full from now on (and refused), so let it go.
      verifiedShared.delete(token);
      return undefined;
    }
    return known.nbf === undefined || known.nbf <= nowSeconds + clockTolerance ? known.principal : undefined;
  };

  const check = async (token: string): Promise<Principal | AuthFailure> => {
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      return failure.invalid("the token is not a valid JWT");
    }
    const currentDate = new Date(now());
    const requiredClaims = ["sub", "exp"];
    if (alg !== undefined && SHARED_SECRET_ALGORITHMS.includes(alg) && secret !== undefined) {
      try {
        const { payload } = await jwtVerify(token, await secret, {
          algorithms: SHARED_SECRET_ALGORITHMS,
          issuer: SUSU_TOKEN_ISSUER,
          clockTolerance,
          currentDate,
          requiredClaims,
        });
        const principal = principalOf(payload);
        if (!isFailure(principal) && typeof payload.exp === "number") {
          if (verifiedShared.size >= VERIFIED_TOKENS_MAX)
            verifiedShared.delete(verifiedShared.keys().next().value as string);
          verifiedShared.set(token, {
            principal,
            exp: payload.exp,
            ...(typeof payload.nbf === "number" ? { nbf: payload.nbf } : {}),
          });
        }
        return principal;
      } catch (error) {
        return classify(error, false);
      }
    }
    if (alg !== undefined && JWKS_ALGORITHMS.includes(alg) && jwks !== undefined && keySet !== undefined) {
      try {
        const { payload } = await jwtVerify(token, keySet, {
          algorithms: JWKS_ALGORITHMS,
          issuer: jwks.issuer,
          audience: typeof jwks.audience === "string" ? jwks.audience : [...jwks.audience],
          clockTolerance,
          currentDate,
          requiredClaims,
        });
        return principalOf(payload);
      } catch (error) {
        return classify(error, true);
      }
    }
    return failure.invalid(`tokens signed with ${alg ?? "no algorithm"} are not accepted`);
  };

  return {
    verify(token) {
      if (token.length === 0 || token.length > TOKEN_MAX_CHARS)
        return errAsync(failure.invalid("the token is empty or too long"));
      const principal = remembered(token);
      if (principal !== undefined) return okAsync(principal);
      return ResultAsync.fromSafePromise(check(token)).andThen((result) =>
        isFailure(result) ? errAsync(result) : okAsync(result),
      );
    },
  };
}

// RFC 6750 §2.1: the token is everything after one "Bearer " (case-insensitive scheme).
const BEARER = /^Bearer +(\S+)$/i;

/** The `WWW-Authenticate` challenge for a failure (RFC 6750 §3). */
function challenge(failureOf: AuthFailure): string {
  if (failureOf.code === "unauthenticated") return `Bearer realm="susu"`;
  // The description is one of this module's fixed sentences: it never echoes the token.
  return `Bearer realm="susu", error="invalid_token", error_description="${failureOf.detail.replaceAll('"', "'")}"`;
}

/** The response for an authentication failure: 401 with a challenge, or 503 to retry. */
export function authProblem(failureOf: AuthFailure): Response {
  if (failureOf.code === "auth_unavailable")
    return problemResponse(503, failureOf.code, failureOf.detail, { "retry-after": "5" });
  return problemResponse(401, failureOf.code, failureOf.detail, { "www-authenticate": challenge(failureOf) });
}

/**
 * Requires `Authorization: Bearer <jwt>` and sets `c.var.principal`. Answers 401
 * (`unauthenticated`: no bearer token; `token_expired`; `token_invalid`: malformed, bad
 * signature, wrong issuer or audience, unknown key, refused algorithm) with a
 * `WWW-Authenticate: Bearer` challenge, or 503 `auth_unavailable` when the identity
 * provider's keys cannot be fetched. The token is never logged or echoed.
 */
export function bearerAuth(verifier: TokenVerifier): MiddlewareHandler<{ Variables: AuthVariables }> {
  return async (c, next) => {
    const header = c.req.header("authorization");
    if (header === undefined)
      return authProblem({ code: "unauthenticated", detail: "send Authorization: Bearer <token>" });
    const match = BEARER.exec(header.trim());
    if (match?.[1] === undefined)
      return authProblem({
        code: "unauthenticated",
        detail: "the Authorization header is not a Bearer token",
      });
    const verified = await verifier.verify(match[1]);
    if (verified.isErr()) return authProblem(verified.error);
    c.set("principal", verified.value);
    await next();
  };
}

/**
 * Lets through only principals with one of `roles` (after {@link bearerAuth}); others get
 * 403 `insufficient_role`. For whole surfaces (metrics, operator routes); per-resource
 * authorisation, where what a caller may not see is a 404, belongs to the routes.
 */
export function requireRole(...roles: readonly Role[]): MiddlewareHandler<{ Variables: AuthVariables }> {
  return async (c, next) => {
    const principal = c.get("principal") as Principal | undefined;
    if (principal === undefined) throw new Error("requireRole() runs after bearerAuth()");
    if (!principal.roles.some((role) => roles.includes(role)))
      return problemResponse(403, "insufficient_role", `this needs the role ${roles.join(" or ")}`);
    await next();
  };
}

/** What {@link mintToken} puts in a token. */
export interface MintTokenInput {
  readonly subject: string;
  readonly roles?: readonly Role[];
  /** Lifetime in seconds, 1 to 365 days' worth. */
  readonly ttlSeconds: number;
}

/** Longest lifetime {@link mintToken} grants: a year (demo tokens; real clients use short ones). */
export const MINT_TTL_MAX_SECONDS = 365 * 24 * 3600;

/**
 * Signs a token that {@link createTokenVerifier} accepts with the same shared secret:
 * HS256, `iss: "susu"`, `sub`, `roles`, `iat`, `exp`, and a random `jti`.
 */
export async function mintToken(
  input: MintTokenInput,
  secret: string,
  options: { readonly now?: () => number } = {},
): Promise<string> {
  if (input.subject.length === 0 || input.subject.length > SUBJECT_MAX_CHARS)
    throw new RangeError(`subject must be 1 to ${SUBJECT_MAX_CHARS} characters`);
  if (!SUBJECT_PATTERN.test(input.subject)) throw new RangeError(`subject must be ${SUBJECT_RULE}`);
  if (!Number.isInteger(input.ttlSeconds) || input.ttlSeconds <= 0 || input.ttlSeconds > MINT_TTL_MAX_SECONDS)
    throw new RangeError(`ttlSeconds must be a whole number from 1 to ${MINT_TTL_MAX_SECONDS}`);
  const issuedAt = Math.floor((options.now ?? Date.now)() / 1000);
  return new SignJWT({ [ROLES_CLAIM]: [...(input.roles ?? ["member"])] })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer(SUSU_TOKEN_ISSUER)
    .setSubject(input.subject)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + input.ttlSeconds)
    .setJti(randomUUID())
    .sign(secretKey(secret));
}

/** The OpenAPI bearer security scheme to register as `components.securitySchemes.bearer`. */
export const bearerSecurityScheme = {
  type: "http",
  scheme: "bearer",
  bearerFormat: "JWT",
  description: `A JWT: susu's own (HS256, issuer "${SUSU_TOKEN_ISSUER}") or the identity provider's. Roles come from the "${ROLES_CLAIM}" claim.`,
} as const;

/** The responses {@link bearerAuth} and {@link requireRole} may give, for a route's OpenAPI `responses`. */
export const authResponses = {
  401: problemDoc(
    "No valid bearer token.",
    ["unauthenticated", "token_expired", "token_invalid", "token_subject_unsupported"],
    {
      "WWW-Authenticate": { description: 'Bearer realm="susu" (RFC 6750)' },
    },
  ),
  403: problemDoc("The token's roles do not allow this.", ["insufficient_role"]),
  503: problemDoc("The identity provider's keys could not be loaded; retry.", ["auth_unavailable"], {
    "Retry-After": { description: "Seconds to wait." },
  }),
} satisfies Record<number, ResponseDoc>;
