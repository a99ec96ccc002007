import { z } from "zod";
import type { OverloadLimits } from "./overload.js";

/**
 * The settings of the v1 HTTP infrastructure (auth, rate limits, idempotency, edge, CORS,
 * shutdown), read from the environment once at start. `env.ts` keeps the process's
 * basics; these are separate so each module's settings sit with the module's docs.
 */
export interface HttpConfig {
  readonly auth: {
    /** HS256 secret of the tokens susu mints itself (issuer `susu`). */
    readonly sharedSecret: string | undefined;
    /** An external identity provider's keys, issuer and audience. */
    readonly jwks:
      | { readonly url: URL; readonly issuer: string; readonly audience: readonly string[] }
      | undefined;
    /** Allowed clock difference with the token's issuer for `exp`/`nbf`/`iat`. */
    readonly clockToleranceSeconds: number;
  };
  readonly rateLimit: {
    /** Requests per minute per token subject; 0 turns the subject limit off. */
    readonly perSubjectPerMinute: number;
    /** Requests per minute per client IP address; 0 turns the IP limit off. */
    readonly perIpPerMinute: number;
    /** How many reverse proxies in front of the API append to `X-Forwarded-For`. */
    readonly trustedProxyHops: number;
  };
  readonly idempotency: { readonly ttlHours: number; readonly lockSeconds: number };
  /** Largest accepted request body. */
  readonly bodyLimitBytes: number;
  /** Browser origins allowed by CORS (exact `scheme://host[:port]`); empty: no CORS headers. */
  readonly corsOrigins: readonly string[];
  /** How long a shutdown waits for in-flight requests before closing their connections. */
  readonly shutdownTimeoutMs: number;
  /** When a process refuses new requests with 503 `overloaded` (overload.ts). */
  readonly overload: OverloadLimits;
}

/** One wrong or missing environment variable. */
export interface ConfigProblem {
  readonly variable: string;
  readonly message: string;
}

/** The environment is not a valid configuration; `problems` names every variable at fault. */
export class HttpConfigError extends Error {
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(
      `invalid configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${problems
        .map((p) => `  - ${p.variable}: ${p.message}`)
        .join("\n")}`,
    );
    this.name = "HttpConfigError";
  }
}

const int = (min: number, max: number, fallback: number) =>
  z.coerce
    .number({ error: "must be a whole number" })
    .int({ error: "must be a whole number" })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` })
    .default(fallback);

const commaList = (value: string | undefined): string[] =>
  (value ?? "")
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "");

const schema = z.object({
  SUSU_JWT_SECRET: z
    .string()
    .min(32, { error: "must be at least 32 characters (HS256 needs a 256-bit secret)" })
    .optional(),
  SUSU_JWKS_URL: z
    .url({ protocol: /^https?$/, error: "must be an http(s) URL of the identity provider's JWKS" })
    .optional(),
  SUSU_JWT_ISSUER: z.string().optional(),
  SUSU_JWT_AUDIENCE: z.string().optional(),
  SUSU_JWT_CLOCK_TOLERANCE_SECONDS: int(0, 300, 5),
  SUSU_RATE_LIMIT_PER_MINUTE: int(0, 1_000_000, 600),
  SUSU_RATE_LIMIT_IP_PER_MINUTE: int(0, 1_000_000, 1_200),
  SUSU_TRUSTED_PROXY_HOPS: int(0, 10, 0),
  // Stripe keeps keys 24 hours; clients are promised at least that.
  SUSU_IDEMPOTENCY_TTL_HOURS: int(24, 24 * 30, 24),
  SUSU_IDEMPOTENCY_LOCK_SECONDS: int(1, 3_600, 60),
  SUSU_BODY_LIMIT_BYTES: int(1_024, 10 * 1024 * 1024, 100 * 1024),
  SUSU_CORS_ORIGINS: z.string().optional(),
  SUSU_SHUTDOWN_TIMEOUT_MS: int(0, 120_000, 10_000),
  SUSU_MAX_IN_FLIGHT: int(0, 100_000, 64),
});

/** The variables this module reads; listed in apps/api/README.md. */
export const HTTP_CONFIG_VARIABLES = Object.keys(schema.shape) as readonly string[];

function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === "https:" || url.protocol === "http:") && url.origin === value;
  } catch {
    return false;
  }
}

/**
 * The rules between variables and inside lists, checked on the raw values so that they are
 * reported together with the per-variable errors instead of after them.
 */
function crossChecks(env: Readonly<Record<string, string | undefined>>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const jwks = env.SUSU_JWKS_URL;
  if (env.SUSU_JWT_SECRET === undefined && jwks === undefined)
    problems.push({
      variable: "SUSU_JWT_SECRET",
      message: "set SUSU_JWT_SECRET (tokens susu mints) or SUSU_JWKS_URL (an identity provider), or both",
    });
  if (jwks !== undefined) {
    for (const variable of ["SUSU_JWT_ISSUER", "SUSU_JWT_AUDIENCE"])
      if (env[variable] === undefined)
        problems.push({ variable, message: "required when SUSU_JWKS_URL is set" });
    if (env.SUSU_JWT_AUDIENCE !== undefined && commaList(env.SUSU_JWT_AUDIENCE).length === 0)
      problems.push({ variable: "SUSU_JWT_AUDIENCE", message: "names no audience" });
  } else {
    for (const variable of ["SUSU_JWT_ISSUER", "SUSU_JWT_AUDIENCE"])
      if (env[variable] !== undefined)
        problems.push({ variable, message: "only used with SUSU_JWKS_URL, which is not set" });
  }
  if (env.SUSU_JWT_ISSUER === "susu")
    problems.push({
      variable: "SUSU_JWT_ISSUER",
      message: `"susu" is the issuer of susu's own tokens; name the identity provider's issuer`,
    });
  for (const origin of commaList(env.SUSU_CORS_ORIGINS))
    if (!isOrigin(origin))
      problems.push({
        variable: "SUSU_CORS_ORIGINS",
        message: `"${origin}" is not an origin (scheme://host[:port], no path, no wildcard)`,
      });
  return problems;
}

/**
 * Parses the HTTP settings from the environment.
 *
 * @throws {HttpConfigError} naming every missing or wrong variable at once, so a deploy is
 *   fixed in one round instead of one variable per restart.
 */
export function readHttpConfig(env: Readonly<Record<string, string | undefined>> = process.env): HttpConfig {
  // An empty value (`FOO=` in an env file) means "not set", not "set to nothing".
  const present = Object.fromEntries(
    HTTP_CONFIG_VARIABLES.map((name) => [name, env[name]?.trim() === "" ? undefined : env[name]?.trim()]),
  );
  const parsed = schema.safeParse(present);
  const problems: ConfigProblem[] = parsed.success
    ? []
    : parsed.error.issues.map((issue) => ({ variable: String(issue.path[0]), message: issue.message }));
  for (const problem of crossChecks(present))
    if (!problems.some((p) => p.variable === problem.variable && p.message === problem.message))
      problems.push(problem);
  if (!parsed.success || problems.length > 0) throw new HttpConfigError(problems);
  const v = parsed.data;
  return {
    auth: {
      sharedSecret: v.SUSU_JWT_SECRET,
      jwks:
        v.SUSU_JWKS_URL === undefined
          ? undefined
          : {
              url: new URL(v.SUSU_JWKS_URL),
              issuer: v.SUSU_JWT_ISSUER ?? "",
              audience: commaList(v.SUSU_JWT_AUDIENCE),
            },
      clockToleranceSeconds: v.SUSU_JWT_CLOCK_TOLERANCE_SECONDS,
    },
    rateLimit: {
      perSubjectPerMinute: v.SUSU_RATE_LIMIT_PER_MINUTE,
      perIpPerMinute: v.SUSU_RATE_LIMIT_IP_PER_MINUTE,
      trustedProxyHops: v.SUSU_TRUSTED_PROXY_HOPS,
    },
    idempotency: { ttlHours: v.SUSU_IDEMPOTENCY_TTL_HOURS, lockSeconds: v.SUSU_IDEMPOTENCY_LOCK_SECONDS },
    bodyLimitBytes: v.SUSU_BODY_LIMIT_BYTES,
    corsOrigins: commaList(v.SUSU_CORS_ORIGINS),
    shutdownTimeoutMs: v.SUSU_SHUTDOWN_TIMEOUT_MS,
    overload: { maxInFlight: v.SUSU_MAX_IN_FLIGHT },
  };
}
