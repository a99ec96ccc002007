import fc from "fast-check";
import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import {
  jsonTextNestedDeeperThan,
  verifyStripeWebhook,
  WEBHOOK_CREATED_MAX_SECONDS,
  WEBHOOK_JSON_DEPTH_MAX,
} from "../../src/webhooks/index.js";
import { stripeEvent } from "./events.js";

const secret = "whsec_test_secret_for_verification";
const sign = (payload: string, options: { secret?: string; timestamp?: number } = {}): string =>
  Stripe.webhooks.generateTestHeaderString({
    payload,
    secret: options.secret ?? secret,
    ...(options.timestamp !== undefined ? { timestamp: options.timestamp } : {}),
  });

const body = JSON.stringify(
  stripeEvent("payment_intent.succeeded", { id: "pi_1", object: "payment_intent" }),
);
const nowSeconds = () => Math.floor(Date.now() / 1000);

describe("verifyStripeWebhook", () => {
  it("accepts a body signed with the endpoint secret and returns the parsed event", () => {
    const verified = verifyStripeWebhook(body, sign(body), secret);
    expect(verified._unsafeUnwrap().id).toBe(JSON.parse(body).id);
    expect(verified._unsafeUnwrap().type).toBe("payment_intent.succeeded");
  });

  it("accepts a header with several v1 signatures when any one matches (secret rotation)", () => {
    const t = nowSeconds();
    const good = sign(body, { timestamp: t });
    const other = sign(body, { timestamp: t, secret: "whsec_old" });
    const v1 = (header: string) => header.split(",").find((p) => p.startsWith("v1=")) ?? "";
    const both = `t=${t},${v1(other)},${v1(good)}`;
    expect(verifyStripeWebhook(body, both, secret).isOk()).toBe(true);
  });

  it("refuses a missing or empty header as signature_missing", () => {
    expect(verifyStripeWebhook(body, undefined, secret)._unsafeUnwrapErr().code).toBe("signature_missing");
    expect(verifyStripeWebhook(body, " ", secret)._unsafeUnwrapErr().code).toBe("signature_missing");
  });

  it("refuses another secret, a changed body, a malformed header as signature_invalid", () => {
    const header = sign(body);
    expect(
      verifyStripeWebhook(body, sign(body, { secret: "whsec_other" }), secret)._unsafeUnwrapErr().code,
    ).toBe("signature_invalid");
    const tampered = body.replace('"livemode":false', '"livemode":true');
    expect(tampered).not.toBe(body);
    expect(verifyStripeWebhook(tampered, header, secret)._unsafeUnwrapErr().code).toBe("signature_invalid");
    // Re-serialised JSON is not the raw body: the signature no longer matches.
    const reserialised = JSON.stringify(JSON.parse(body), null, 2);
    expect(verifyStripeWebhook(reserialised, header, secret)._unsafeUnwrapErr().code).toBe(
      "signature_invalid",
    );
    for (const malformed of ["garbage", "t=abc,v1=00", `t=${nowSeconds()}`, "v1=deadbeef"])
      expect(verifyStripeWebhook(body, malformed, secret)._unsafeUnwrapErr().code).toBe("signature_invalid");
  });

  it("refuses a correct signature older than the tolerance as signature_expired", () => {
    const old = sign(body, { timestamp: nowSeconds() - 301 });
    expect(verifyStripeWebhook(body, old, secret)._unsafeUnwrapErr().code).toBe("signature_expired");
    // Within a wider tolerance the same delivery passes.
    expect(verifyStripeWebhook(body, old, secret, 600).isOk()).toBe(true);
    // An old header with a wrong signature is invalid, not merely expired.
    const oldForged = sign(body, { timestamp: nowSeconds() - 3_600, secret: "whsec_other" });
    expect(verifyStripeWebhook(body, oldForged, secret)._unsafeUnwrapErr().code).toBe("signature_invalid");
  });

  it("refuses a signed body that is not a Stripe event as payload_invalid", () => {
    for (const payload of ["not json", "[]", JSON.stringify({ id: "evt_1", object: "event" })])
      expect(verifyStripeWebhook(payload, sign(payload), secret)._unsafeUnwrapErr().code).toBe(
        "payload_invalid",
      );
  });

  it("refuses as payload_invalid a `created` that is not whole seconds from the epoch to year 9999 (PostgreSQL would refuse it on every delivery)", () => {
    const withCreated = (created: unknown) =>
      JSON.stringify({ ...stripeEvent("charge.succeeded", { id: "ch_1", object: "charge" }), created });
    for (const created of [99_999_999_999_999, WEBHOOK_CREATED_MAX_SECONDS + 1, -1, 1.5, 1e300, "1"]) {
      const payload = withCreated(created);
      expect(verifyStripeWebhook(payload, sign(payload), secret)._unsafeUnwrapErr().code, `${created}`).toBe(
        "payload_invalid",
      );
    }
    for (const created of [0, WEBHOOK_CREATED_MAX_SECONDS]) {
      const payload = withCreated(created);
      expect(verifyStripeWebhook(payload, sign(payload), secret)._unsafeUnwrap().created).toBe(created);
    }
  });

  it("refuses as payload_invalid an event nested deeper than WEBHOOK_JSON_DEPTH_MAX, however deep (the parse does not recurse)", () => {
    // The event, data and data.object are three levels; `nested` adds its own below them.
    const withNested = (nested: string) =>
      JSON.stringify(
        stripeEvent("customer.updated", { id: "cus_1", object: "customer", nested: "@" }),
      ).replace('"@"', nested);
    const arrays = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`;
    const objects = (n: number) => `${'{"a":'.repeat(n)}0${"}".repeat(n)}`;
    for (const nested of [arrays(WEBHOOK_JSON_DEPTH_MAX - 2), objects(50_000), arrays(500_000)]) {
      const payload = withNested(nested);
      expect(verifyStripeWebhook(payload, sign(payload), secret)._unsafeUnwrapErr()).toMatchObject({
        code: "payload_invalid",
        message: `the signed event nests arrays and objects more than ${WEBHOOK_JSON_DEPTH_MAX} levels deep`,
      });
    }
    const atTheLimit = withNested(objects(WEBHOOK_JSON_DEPTH_MAX - 3));
    expect(verifyStripeWebhook(atTheLimit, sign(atTheLimit), secret).isOk()).toBe(true);
  });

  it("jsonTextNestedDeeperThan counts brackets outside strings only", () => {
    expect(jsonTextNestedDeeperThan("[[1]]", 2)).toBe(false);
    expect(jsonTextNestedDeeperThan("[[[1]]]", 2)).toBe(true);
    expect(jsonTextNestedDeeperThan('[[{"a":[]}]]', 3)).toBe(true);
    expect(jsonTextNestedDeeperThan('[[1],[2],{"b":3}]', 2)).toBe(false);
    expect(jsonTextNestedDeeperThan(JSON.stringify({ a: "[[[[{{{{", b: 'quote \\" [[[' }), 1)).toBe(false);
    expect(jsonTextNestedDeeperThan(JSON.stringify({ a: "x\\", b: [[1]] }), 2)).toBe(true);
    expect(jsonTextNestedDeeperThan("1", 0)).toBe(false);
  });

  it("jsonTextNestedDeeperThan agrees with the parsed value's depth, whatever the strings hold", () => {
    const depthOf = (v: unknown): number =>
      typeof v === "object" && v !== null ? 1 + Math.max(0, ...Object.values(v).map(depthOf)) : 0;
    const text = fc.string({ unit: fc.constantFrom("a", '"', "\\", "[", "]", "{", "}", "é", "\u0000") });
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: "small" },
        text,
        fc.integer(),
        fc.array(tie("value"), { maxLength: 3 }),
        fc.dictionary(text, tie("value"), { maxKeys: 3 }),
      ),
    }));
    fc.assert(
      fc.property(value, fc.integer({ min: 0, max: 8 }), (v, max) => {
        const json = JSON.stringify(v);
        expect(jsonTextNestedDeeperThan(json, max)).toBe(depthOf(v) > max);
      }),
      { numRuns: 500 },
    );
  });

  it("refuses a non-positive tolerance (the SDK would read 0 as its default)", () => {
    expect(() => verifyStripeWebhook(body, sign(body), secret, 0)).toThrow(RangeError);
  });
});
