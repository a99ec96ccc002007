// The delivery worker's pure rules: the backoff between sends, what is retried, the body sent.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  deliveryBackoffMs,
  isRetryableStatus,
  retryDelayMs,
  webhookBodyOf,
} from "../../src/notify/delivery-worker.js";

describe("the delivery backoff", () => {
  it("is between half and all of the capped exponential delay, and never shrinks from one failure to the next", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 100, max: 60_000 }),
        fc.integer({ min: 1, max: 40 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (baseDelayMs, failed, fraction) => {
          const policy = { maxAttempts: 50, baseDelayMs, maxDelayMs: 3_600_000 };
          const full = Math.min(policy.maxDelayMs, baseDelayMs * 2 ** (failed - 1));
          const delay = deliveryBackoffMs(policy, failed, fraction);
          expect(delay).toBeGreaterThanOrEqual(Math.floor(full / 2));
          expect(delay).toBeLessThanOrEqual(Math.ceil(full));
          // With the same jitter, a later failure waits at least as long.
          expect(deliveryBackoffMs(policy, failed + 1, fraction)).toBeGreaterThanOrEqual(delay);
        },
      ),
    );
  });
});

describe("the delay after an endpoint's Retry-After", () => {
  it("is the later of the backoff and the time asked, but never beyond maxDelayMs; the backoff alone without one", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1_000, max: 3_600_000 }),
        fc.integer({ min: 1, max: 40 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 0, max: 30 * 86_400_000 }),
        (maxDelayMs, failed, fraction, asked) => {
          const policy = { maxAttempts: 50, baseDelayMs: 1_000, maxDelayMs };
          const backoff = deliveryBackoffMs(policy, failed, fraction);
          const delay = retryDelayMs(policy, backoff, asked);
          expect(delay).toBeGreaterThanOrEqual(backoff);
          expect(delay).toBeLessThanOrEqual(maxDelayMs);
          expect(delay).toBe(Math.max(backoff, Math.min(asked, maxDelayMs)));
          expect(retryDelayMs(policy, backoff, undefined)).toBe(backoff);
        },
      ),
    );
  });
});

describe("what is retried", () => {
  it("retries 5xx, 408 and 429 and nothing else", () => {
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 599 }), (status) => {
        expect(isRetryableStatus(status)).toBe(status >= 500 || status === 408 || status === 429);
      }),
    );
  });
});

describe("the webhook body", () => {
  it("carries the notification id, the delivery id, the template, the person, the data and the creation time", () => {
    const n = {
      id: "round_1:notify:payout_sent:ana",
      template: "payout_sent",
      aggregateType: "round",
      aggregateId: "round_1",
      data: { amountMinor: 20_000, currency: "AUD" },
      createdAt: new Date("2026-12-02T09:00:00.500Z"),
    };
    expect(JSON.parse(webhookBodyOf(n, { id: "nd_1", personId: "ana" }))).toEqual({
      object: "notification",
      id: n.id,
      deliveryId: "nd_1",
      template: "payout_sent",
      personId: "ana",
      aggregate: { type: "round", id: "round_1" },
      data: n.data,
      created: 1_796_202_000,
    });
    // An admin alert names the role, not a person.
    expect(JSON.parse(webhookBodyOf(n, { id: "nd_2", personId: null }))).toMatchObject({
      personId: null,
      role: "platform_admins",
    });
  });
});
