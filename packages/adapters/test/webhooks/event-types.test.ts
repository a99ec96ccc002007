import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { translateStripeEvent } from "../../src/stripe/event-translator.js";
import {
  IGNORED_WEBHOOK_EVENT_TYPES,
  SUSU_WEBHOOK_EVENT_TYPES,
  triageAtIngest,
} from "../../src/webhooks/index.js";
import { anObject } from "./arbitrary-objects.js";
import { stripeEvent } from "./events.js";

// Every event type a translator names in a `case`, read from their sources: a type added to
// a translator fails the first test below until it is put in one of the two lists.
const STRIPE_SOURCES = join(import.meta.dirname, "../../src/stripe");
const CASE_TYPES = new Set(
  readdirSync(STRIPE_SOURCES)
    .filter((f) => f.endsWith(".ts"))
    .flatMap((f) =>
      [...readFileSync(join(STRIPE_SOURCES, f), "utf8").matchAll(/case "([a-z_]+(?:\.[a-z_]+)+)":/g)].map(
        (m) => m[1] as string,
      ),
    ),
);

const subscribed = new Set(SUSU_WEBHOOK_EVENT_TYPES);
const ignoredTypes = new Set(IGNORED_WEBHOOK_EVENT_TYPES);

describe("the webhook endpoint's event types", () => {
  it("puts every type a translator names in exactly one list, and nothing else", () => {
    expect(CASE_TYPES.size).toBeGreaterThan(50);
    expect(subscribed.size).toBe(SUSU_WEBHOOK_EVENT_TYPES.length);
    expect(ignoredTypes.size).toBe(IGNORED_WEBHOOK_EVENT_TYPES.length);
    const both = [...subscribed].filter((t) => ignoredTypes.has(t));
    expect(both).toEqual([]);
    const unlisted = [...CASE_TYPES].filter((t) => !subscribed.has(t) && !ignoredTypes.has(t)).sort();
    expect(unlisted).toEqual([]);
    const unknown = [...subscribed, ...ignoredTypes].filter((t) => !CASE_TYPES.has(t)).sort();
    expect(unknown).toEqual([]);
  });

  it("leaves out only types ignored whatever the event carries, at ingest and by the translator", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...IGNORED_WEBHOOK_EVENT_TYPES),
        anObject,
        fc.option(fc.constantFrom("acct_1"), { nil: undefined }),
        (type, object, account) => {
          const event = stripeEvent(type, object, account !== undefined ? { account } : {});
          expect(translateStripeEvent(event).kind).toBe("ignored");
          expect(triageAtIngest(event).ignoredReason).toBeDefined();
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it("subscribes to the types susu acts on: every type it left out once acted on would be a lost fact", () => {
    // The types each flow depends on (a round's debit, a held payment's checkout, refunds,
    // disputes, transfers, accounts, memberships), and the one kept for the card-attempt limits.
    for (const t of [
      "payment_intent.succeeded",
      "payment_intent.payment_failed",
      "payment_intent.processing",
      "checkout.session.completed",
      "refund.updated",
      "refund.failed",
      "charge.dispute.closed",
      "transfer.reversed",
      "account.updated",
      "mandate.updated",
      "invoice.paid",
      "customer.subscription.updated",
      "application_fee.refunded",
      "charge.failed",
    ])
      expect(subscribed, t).toContain(t);
  });
});
