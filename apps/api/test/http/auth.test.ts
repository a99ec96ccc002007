// Bearer JWT authentication: susu's own HS256 tokens, an identity provider's keys served as
// a JWKS over HTTP on 127.0.0.1, and the attacks a verifier must refuse.
import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { Hono } from "hono";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AuthVariables,
  bearerAuth,
  createTokenVerifier,
  mintToken,
  principalOf,
  requireRole,
  type TokenVerifier,
} from "../../src/http/index.js";
import { SECRET } from "./support.js";

const NOW = Date.UTC(2026, 5, 1, 12);
type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];
const clock = () => NOW;

function appWith(verifier: TokenVerifier) {
  const app = new Hono<{ Variables: AuthVariables }>();
  app.use("*", bearerAuth(verifier));
  app.get("/me", (c) => c.json(c.var.principal));
  app.get("/ops", requireRole("admin", "service"), (c) => c.json({ ok: true }));
  return app;
}

const get = (app: Hono<{ Variables: AuthVariables }>, token?: string, path = "/me") =>
  app.request(path, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });

async function problem(res: Response) {
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  return (await res.json()) as { type: string; title: string; status: number; code: string; detail: string };
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

describe("susu's own tokens (HS256)", () => {
  const verifier = createTokenVerifier({ sharedSecret: SECRET, now: clock });
  const app = appWith(verifier);
  const mint = (
    input: { subject?: string; roles?: ("member" | "admin" | "service")[]; ttlSeconds?: number },
    at = NOW,
  ) =>
    mintToken(
      {
        subject: input.subject ?? "ana",
        ttlSeconds: input.ttlSeconds ?? 3600,
        ...(input.roles ? { roles: input.roles } : {}),
      },
      SECRET,
      {
        now: () => at,
      },
    );

  it("accepts a minted token and exposes the principal", async () => {
    const res = await get(app, await mint({ roles: ["admin"] }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ subject: "ana", roles: ["admin"] });
  });

  it("defaults roles to member", async () => {
    expect(await (await get(app, await mint({}))).json()).toEqual({ subject: "ana", roles: ["member"] });
  });

  it("refuses a missing or non-Bearer Authorization with 401 unauthenticated and a challenge", async () => {
    for (const res of [
      await get(app),
      await app.request("/me", { headers: { authorization: "Basic YW5hOnB3" } }),
      await app.request("/me", { headers: { authorization: "Bearer" } }),
    ]) {
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="susu"');
      expect(await problem(res)).toMatchObject({
        type: "https://susu.dev/problems/unauthenticated",
        title: "unauthenticated",
        status: 401,
        code: "unauthenticated",
      });
    }
  });

  it("refuses an expired token with token_expired (allowing 5 s of clock difference)", async () => {
    const token = await mint({ ttlSeconds: 60 }, NOW - 64_000);
    expect((await get(app, token)).status).toBe(200);
    const expired = await mint({ ttlSeconds: 60 }, NOW - 66_000);
    const res = await get(app, expired);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer realm="susu", error="invalid_token"/);
    expect((await problem(res)).code).toBe("token_expired");
  });

  it("remembers a verified token only within its time window: it still expires, and waits for its nbf", async () => {
    let at = NOW;
    const remembering = appWith(createTokenVerifier({ sharedSecret: SECRET, now: () => at }));
    const token = await mint({ ttlSeconds: 60 });
    expect((await get(remembering, token)).status).toBe(200);
    // Within the 5 s tolerance after exp, then past it: refused as expired, as a fresh verifier would.
    at = NOW + 64_000;
    expect((await get(remembering, token)).status).toBe(200);
    at = NOW + 66_000;
    const expired = await get(remembering, token);
    expect(expired.status).toBe(401);
    expect((await problem(expired)).code).toBe("token_expired");
    at = NOW + 3_600_000;
    expect((await problem(await get(remembering, token))).code).toBe("token_expired");

    // Not valid before its nbf: refused (and not remembered), accepted once due, refused
    // again if the clock goes back before it.
    const notBefore = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer("susu")
      .setSubject("ana")
      .setNotBefore(NOW / 1000 + 60)
      .setExpirationTime(NOW / 1000 + 3600)
      .sign(new TextEncoder().encode(SECRET));
    at = NOW;
    expect((await problem(await get(remembering, notBefore))).code).toBe("token_invalid");
    at = NOW + 56_000;
    expect((await get(remembering, notBefore)).status).toBe(200);
    at = NOW;
    expect((await problem(await get(remembering, notBefore))).code).toBe("token_invalid");
  });

  it("remembers the exact token string only: a remembered token's payload with another body is refused", async () => {
    const token = await mint({});
    expect((await get(app, token)).status).toBe(200);
    const [header, payload, signature] = token.split(".");
    const escalated = `${header}.${base64url({ ...JSON.parse(Buffer.from(payload ?? "", "base64url").toString()), roles: ["admin"] })}.${signature}`;
    const res = await get(app, escalated);
    expect(res.status).toBe(401);
    expect((await problem(res)).code).toBe("token_invalid");
    expect((await get(app, token)).status).toBe(200);
  });

  it("refuses a tampered token, another secret's token, a wrong issuer and garbage with token_invalid", async () => {
    const token = await mint({});
    const [header, payload, signature] = token.split(".");
    const escalated = `${header}.${base64url({ ...JSON.parse(Buffer.from(payload ?? "", "base64url").toString()), roles: ["admin"] })}.${signature}`;
    const otherSecret = await mintToken(
      { subject: "ana", ttlSeconds: 60 },
      "another-secret-0123456789-0123456789",
      {
        now: clock,
      },
    );
    const wrongIssuer = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer("evil")
      .setSubject("ana")
      .setExpirationTime(NOW / 1000 + 60)
      .sign(new TextEncoder().encode(SECRET));
    const noExpiry = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer("susu")
      .setSubject("ana")
      .sign(new TextEncoder().encode(SECRET));
    for (const bad of [escalated, otherSecret, wrongIssuer, noExpiry, "not.a.jwt", "x".repeat(9000)]) {
      const res = await get(app, bad);
      expect(res.status, bad.slice(0, 40)).toBe(401);
      const body = await problem(res);
      expect(body.code).toBe("token_invalid");
      // Nothing of the token comes back.
      expect(JSON.stringify(body)).not.toContain(bad.slice(-20));
    }
  });

  it("refuses alg none and a HS384 token", async () => {
    const unsigned = `${base64url({ alg: "none", typ: "JWT" })}.${base64url({ iss: "susu", sub: "ana", exp: NOW / 1000 + 60, roles: ["admin"] })}.`;
    const hs384 = await new SignJWT({})
      .setProtectedHeader({ alg: "HS384" })
      .setIssuer("susu")
      .setSubject("ana")
      .setExpirationTime(NOW / 1000 + 60)
      .sign(new TextEncoder().encode(SECRET.repeat(2)));
    for (const bad of [unsigned, hs384]) {
      const res = await get(app, bad);
      expect(res.status).toBe(401);
      expect((await problem(res)).code).toBe("token_invalid");
    }
  });

  it("lets requireRole through only the roles named, else 403 insufficient_role", async () => {
    expect((await get(app, await mint({ roles: ["service"] }), "/ops")).status).toBe(200);
    const res = await get(app, await mint({ roles: ["member"] }), "/ops");
    expect(res.status).toBe(403);
    expect((await problem(res)).code).toBe("insufficient_role");
  });

  it("reads roles from the roles claim: unknown values ignored, a wrong shape refused", () => {
    expect(principalOf({ sub: "ana", roles: ["admin", "editor"] })).toEqual({
      subject: "ana",
      roles: ["admin"],
    });
    expect(principalOf({ sub: "ana", roles: [] })).toEqual({ subject: "ana", roles: ["member"] });
    expect(principalOf({ sub: "ana", roles: "admin" })).toMatchObject({ code: "token_invalid" });
    expect(principalOf({ sub: "" })).toMatchObject({ code: "token_invalid" });
    expect(principalOf({ sub: "a".repeat(256) })).toMatchObject({ code: "token_invalid" });
  });

  it("admits identity providers' subjects (printable ASCII, up to 255) and refuses others with 401 token_subject_unsupported", async () => {
    for (const subject of [
      "auth0|ana",
      "google-oauth2|1234567890",
      "ana+susu@example.com",
      "us-east-1:8f0c-1d2e",
      "a".repeat(255),
      "~!#$%&'*/=?^`{}[]()<>,;\\\"",
    ]) {
      const res = await get(app, await mint({ subject }));
      expect(res.status, subject).toBe(200);
      expect(((await res.json()) as { subject: string }).subject).toBe(subject);
    }
    const signed = (sub: string) =>
      new SignJWT({})
        .setProtectedHeader({ alg: "HS256" })
        .setIssuer("susu")
        .setSubject(sub)
        .setExpirationTime(NOW / 1000 + 60)
        .sign(new TextEncoder().encode(SECRET));
    for (const subject of [
      "ana smith",
      " ana",
      "ana\t",
      "ana\u0000",
      "ana\u007f",
      "anä",
      "ana\u2028",
      ".",
      "..",
      // `/v1/people/me` is the caller: a person whose id were `me` could not be named in paths.
      "me",
    ]) {
      const res = await get(app, await signed(subject));
      expect(res.status, JSON.stringify(subject)).toBe(401);
      expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
      expect((await problem(res)).code).toBe("token_subject_unsupported");
      expect(principalOf({ sub: subject })).toMatchObject({ code: "token_subject_unsupported" });
      await expect(mintToken({ subject, ttlSeconds: 60 }, SECRET)).rejects.toThrow(RangeError);
    }
    expect(principalOf({ sub: "..." })).toEqual({ subject: "...", roles: ["member"] });
    for (const subject of ["Me", "ME", "me.", "mee", "auth0|me"])
      expect(principalOf({ sub: subject }), subject).toEqual({ subject, roles: ["member"] });
  });

  it("refuses to mint bad tokens or use a short secret", async () => {
    await expect(mintToken({ subject: "", ttlSeconds: 60 }, SECRET)).rejects.toThrow(RangeError);
    await expect(mintToken({ subject: "ana", ttlSeconds: 0 }, SECRET)).rejects.toThrow(RangeError);
    await expect(mintToken({ subject: "ana", ttlSeconds: 60 }, "short")).rejects.toThrow(RangeError);
    expect(() => createTokenVerifier({ sharedSecret: "short" })).toThrow(RangeError);
    expect(() => createTokenVerifier({})).toThrow(RangeError);
  });
});

describe("an identity provider's tokens (JWKS over HTTP)", () => {
  const issuer = "https://idp.test/";
  const audience = "susu-api";
  let server: Server;
  let jwksUrl: URL;
  let served: { keys: JWK[] } = { keys: [] };
  let fetches = 0;
  let rsa: PrivateKey;
  let ec: PrivateKey;
  let stranger: PrivateKey;

  beforeAll(async () => {
    const rsaPair = await generateKeyPair("RS256");
    const ecPair = await generateKeyPair("ES256");
    const strangerPair = await generateKeyPair("RS256");
    rsa = rsaPair.privateKey;
    ec = ecPair.privateKey;
    stranger = strangerPair.privateKey;
    served = {
      keys: [
        { ...(await exportJWK(rsaPair.publicKey)), kid: "rsa-1", alg: "RS256", use: "sig" },
        { ...(await exportJWK(ecPair.publicKey)), kid: "ec-1", alg: "ES256", use: "sig" },
      ],
    };
    server = createServer((req, res) => {
      fetches++;
      if (req.url === "/broken") {
        res.writeHead(500).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(served));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    jwksUrl = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`);
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const idpToken = (
    key: PrivateKey,
    header: { alg: string; kid: string },
    claims: { aud?: string; iss?: string; sub?: string; roles?: unknown } = {},
  ) =>
    new SignJWT(claims.roles === undefined ? {} : { roles: claims.roles })
      .setProtectedHeader(header)
      .setIssuer(claims.iss ?? issuer)
      .setAudience(claims.aud ?? audience)
      .setSubject(claims.sub ?? "person_ana")
      .setIssuedAt(NOW / 1000)
      .setExpirationTime(NOW / 1000 + 300)
      .sign(key);

  const appFor = (url: URL, withSecret = false) =>
    appWith(
      createTokenVerifier({
        ...(withSecret ? { sharedSecret: SECRET } : {}),
        jwks: { url, issuer, audience },
        now: clock,
      }),
    );

  it("accepts RS256 and ES256 tokens signed with published keys, fetching the key set once", async () => {
    const app = appFor(jwksUrl);
    const before = fetches;
    const res = await get(app, await idpToken(rsa, { alg: "RS256", kid: "rsa-1" }, { roles: ["service"] }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ subject: "person_ana", roles: ["service"] });
    expect((await get(app, await idpToken(ec, { alg: "ES256", kid: "ec-1" }))).status).toBe(200);
    expect(fetches - before).toBe(1);
  });

  it("refuses a verified token whose subject holds a space with 401 token_subject_unsupported", async () => {
    const app = appFor(jwksUrl);
    const ok = await get(app, await idpToken(rsa, { alg: "RS256", kid: "rsa-1" }, { sub: "auth0|64f1c2" }));
    expect(ok.status).toBe(200);
    const res = await get(app, await idpToken(rsa, { alg: "RS256", kid: "rsa-1" }, { sub: "Ana Smith" }));
    expect(res.status).toBe(401);
    expect((await problem(res)).code).toBe("token_subject_unsupported");
  });

  it("refuses a wrong audience, a wrong issuer, an unknown kid and an unpublished key", async () => {
    const app = appFor(jwksUrl);
    for (const token of [
      await idpToken(rsa, { alg: "RS256", kid: "rsa-1" }, { aud: "someone-else" }),
      await idpToken(rsa, { alg: "RS256", kid: "rsa-1" }, { iss: "https://evil.test/" }),
      await idpToken(rsa, { alg: "RS256", kid: "rsa-unknown" }),
      await idpToken(stranger, { alg: "RS256", kid: "rsa-1" }),
    ]) {
      const res = await get(app, token);
      expect(res.status).toBe(401);
      expect((await problem(res)).code).toBe("token_invalid");
    }
  });

  it("never verifies HS256 with a JWKS key (algorithm confusion), nor susu tokens without the secret", async () => {
    // The classic attack: sign HS256 with the provider's public key as the HMAC secret.
    const publicJwk = served.keys[0];
    const forged = await new SignJWT({ roles: ["admin"] })
      .setProtectedHeader({ alg: "HS256", kid: "rsa-1" })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject("person_ana")
      .setExpirationTime(NOW / 1000 + 300)
      .sign(new TextEncoder().encode(JSON.stringify(publicJwk)));
    const own = await mintToken({ subject: "ana", ttlSeconds: 60 }, SECRET, { now: clock });
    for (const app of [appFor(jwksUrl), appFor(jwksUrl, true)]) {
      const res = await get(app, forged);
      expect(res.status).toBe(401);
      expect((await problem(res)).code).toBe("token_invalid");
    }
    expect((await get(appFor(jwksUrl), own)).status).toBe(401);
    // With both trusts configured, each token goes to its own.
    const both = appFor(jwksUrl, true);
    expect((await get(both, own)).status).toBe(200);
    expect((await get(both, await idpToken(rsa, { alg: "RS256", kid: "rsa-1" }))).status).toBe(200);
  });

  it("answers 503 auth_unavailable when the key set cannot be loaded", async () => {
    const token = await idpToken(rsa, { alg: "RS256", kid: "rsa-1" });
    const closed = new URL("http://127.0.0.1:9/jwks.json");
    for (const url of [new URL("/broken", jwksUrl), closed]) {
      const res = await get(appFor(url), token);
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("5");
      expect((await problem(res)).code).toBe("auth_unavailable");
    }
  });
});

describe("npm run token", () => {
  it("prints a token the API accepts, with the roles asked for", async () => {
    const root = join(import.meta.dirname, "../../../..");
    const { stdout } = await promisify(execFile)(
      join(root, "node_modules/.bin/tsx"),
      [join(root, "apps/api/scripts/mint-token.ts"), "--sub", "ana", "--role", "admin", "--ttl", "600"],
      { env: { ...process.env, SUSU_JWT_SECRET: SECRET } },
    );
    const token = stdout.trim();
    expect(token.split(".")).toHaveLength(3);
    const res = await get(appWith(createTokenVerifier({ sharedSecret: SECRET })), token);
    expect(await res.json()).toEqual({ subject: "ana", roles: ["admin"] });
  });

  it("refuses to run without the secret", async () => {
    const root = join(import.meta.dirname, "../../../..");
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      SUSU_JWT_SECRET_FILE: join(root, "no-such-dir/jwt-secret"),
    };
    delete env.SUSU_JWT_SECRET;
    const failed = await promisify(execFile)(
      join(root, "node_modules/.bin/tsx"),
      [join(root, "apps/api/scripts/mint-token.ts"), "--sub", "ana"],
      { env },
    ).then(
      () => undefined,
      (error: { code?: number; stderr?: string }) => error,
    );
    expect(failed?.code).toBe(2);
    expect(failed?.stderr).toContain("SUSU_JWT_SECRET is not set");
  });
});
