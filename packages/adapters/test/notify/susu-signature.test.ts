import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { newEndpointSecret, signSusuPayload, verifySusuSignature } from "../../src/notify/susu-signature.js";

const secret = "whsec_test_secret";
const body = '{"object":"notification","id":"n_1"}';
const t = 1_800_000_000;

describe("Susu-Signature", () => {
  it("is t=<unix>,v1=<hex HMAC-SHA256 of 't.body'>, as Stripe signs", () => {
    // Computed apart from the code under test (Python's hmac over b'1800000000.' + body).
    expect(signSusuPayload(secret, body, t)).toBe(
      `t=${t},v1=43523c78ebec60b3fc986ff54d137b0c085295abb47679ced677149ce5e78c5f`,
    );
  });

  it("verifies what it signed, within the tolerance", () => {
    const header = signSusuPayload(secret, body, t);
    expect(verifySusuSignature(body, header, secret, { nowSeconds: t + 299 })).toEqual({
      valid: true,
      timestamp: t,
    });
  });

  it("refuses a missing, malformed, stale, or wrongly keyed signature, each with its reason", () => {
    const header = signSusuPayload(secret, body, t);
    const at = { nowSeconds: t };
    expect(verifySusuSignature(body, undefined, secret, at)).toEqual({
      valid: false,
      reason: "missing_header",
    });
    expect(verifySusuSignature(body, "v1=abc", secret, at)).toEqual({
      valid: false,
      reason: "malformed_header",
    });
    expect(verifySusuSignature(body, `t=${t}`, secret, at)).toEqual({
      valid: false,
      reason: "malformed_header",
    });
    expect(verifySusuSignature(body, header, secret, { nowSeconds: t + 301 })).toEqual({
      valid: false,
      reason: "timestamp_out_of_tolerance",
    });
    expect(verifySusuSignature(body, header, "whsec_other", at)).toEqual({
      valid: false,
      reason: "no_matching_signature",
    });
    // The timestamp is signed: moving it breaks the signature.
    expect(verifySusuSignature(body, header.replace(`t=${t}`, `t=${t + 1}`), secret, at)).toMatchObject({
      valid: false,
    });
  });

  it("accepts any one matching v1 among several (a secret being rolled over)", () => {
    const mine = signSusuPayload(secret, body, t).split(",")[1];
    const other = signSusuPayload("whsec_old", body, t).split(",")[1];
    expect(verifySusuSignature(body, `t=${t},${other},${mine}`, secret, { nowSeconds: t }).valid).toBe(true);
  });

  it("fails for any change to the body", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.string({ maxLength: 200 }), (a, b) => {
        const header = signSusuPayload(secret, a, t);
        expect(verifySusuSignature(b, header, secret, { nowSeconds: t }).valid).toBe(a === b);
      }),
    );
  });

  it("makes a new random secret each time", () => {
    const a = newEndpointSecret();
    expect(a).toMatch(/^whsec_[0-9a-f]{64}$/);
    expect(newEndpointSecret()).not.toBe(a);
  });
});
