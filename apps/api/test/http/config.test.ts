import { describe, expect, it } from "vitest";
import { HttpConfigError, readHttpConfig } from "../../src/http/index.js";

const secret = "s".repeat(32);

function problemsOf(env: Record<string, string>): { variable: string; message: string }[] {
  try {
    readHttpConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(HttpConfigError);
    return [...(error as HttpConfigError).problems];
  }
  throw new Error("expected the configuration to be refused");
}

describe("readHttpConfig", () => {
  it("gives defaults for everything but the token trust", () => {
    expect(readHttpConfig({ SUSU_JWT_SECRET: secret })).toEqual({
      auth: { sharedSecret: secret, jwks: undefined, clockToleranceSeconds: 5 },
      rateLimit: { perSubjectPerMinute: 600, perIpPerMinute: 1200, trustedProxyHops: 0 },
      idempotency: { ttlHours: 24, lockSeconds: 60 },
      bodyLimitBytes: 102_400,
      corsOrigins: [],
      shutdownTimeoutMs: 10_000,
      overload: { maxInFlight: 64 },
    });
  });

  it("reads an identity provider, CORS origins and limits", () => {
    const config = readHttpConfig({
      SUSU_JWKS_URL: "https://idp.example.com/.well-known/jwks.json",
      SUSU_JWT_ISSUER: "https://idp.example.com/",
      SUSU_JWT_AUDIENCE: "susu-api, susu-mobile",
      SUSU_CORS_ORIGINS: "https://app.example.com, http://localhost:5173",
      SUSU_RATE_LIMIT_PER_MINUTE: "0",
      SUSU_BODY_LIMIT_BYTES: "2048",
      SUSU_JWT_SECRET: "", // empty means unset
    });
    expect(config.auth.sharedSecret).toBeUndefined();
    expect(config.auth.jwks).toEqual({
      url: new URL("https://idp.example.com/.well-known/jwks.json"),
      issuer: "https://idp.example.com/",
      audience: ["susu-api", "susu-mobile"],
    });
    expect(config.corsOrigins).toEqual(["https://app.example.com", "http://localhost:5173"]);
    expect(config.rateLimit.perSubjectPerMinute).toBe(0);
    expect(config.bodyLimitBytes).toBe(2048);
  });

  it("names every wrong or missing variable in one error", () => {
    const env = {
      SUSU_JWT_SECRET: "short",
      SUSU_JWKS_URL: "ftp://idp.example.com/jwks",
      SUSU_RATE_LIMIT_PER_MINUTE: "lots",
      SUSU_IDEMPOTENCY_TTL_HOURS: "1",
      SUSU_MAX_IN_FLIGHT: "-1",
      SUSU_CORS_ORIGINS: "https://app.example.com/path,*",
    };
    const problems = problemsOf(env);
    expect(problems.map((p) => p.variable).sort()).toEqual([
      "SUSU_CORS_ORIGINS",
      "SUSU_CORS_ORIGINS",
      "SUSU_IDEMPOTENCY_TTL_HOURS",
      "SUSU_JWKS_URL",
      "SUSU_JWT_AUDIENCE",
      "SUSU_JWT_ISSUER",
      "SUSU_JWT_SECRET",
      "SUSU_MAX_IN_FLIGHT",
      "SUSU_RATE_LIMIT_PER_MINUTE",
    ]);
    let message = "";
    try {
      readHttpConfig(env);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain("invalid configuration (9 problems)");
    expect(message).toContain("SUSU_JWT_SECRET: must be at least 32 characters");
    expect(message).toContain("SUSU_IDEMPOTENCY_TTL_HOURS: must be at least 24");
    expect(message).toContain("SUSU_MAX_IN_FLIGHT: must be at least 0");
    expect(message).toContain('SUSU_CORS_ORIGINS: "*" is not an origin');
    // The message names variables, never their values when they may be secret.
    expect(message).not.toContain("short");
  });

  it("needs at least one way to trust tokens, and issuer and audience only with a JWKS", () => {
    expect(problemsOf({})).toEqual([
      {
        variable: "SUSU_JWT_SECRET",
        message: "set SUSU_JWT_SECRET (tokens susu mints) or SUSU_JWKS_URL (an identity provider), or both",
      },
    ]);
    expect(problemsOf({ SUSU_JWT_SECRET: secret, SUSU_JWT_ISSUER: "x" })).toEqual([
      { variable: "SUSU_JWT_ISSUER", message: "only used with SUSU_JWKS_URL, which is not set" },
    ]);
    expect(
      problemsOf({
        SUSU_JWKS_URL: "https://idp.example.com/jwks",
        SUSU_JWT_ISSUER: "susu",
        SUSU_JWT_AUDIENCE: " , ",
      }).map((p) => p.variable),
    ).toEqual(["SUSU_JWT_AUDIENCE", "SUSU_JWT_ISSUER"]);
  });
});
