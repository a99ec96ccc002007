import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { translateStripeEvent } from "../../src/stripe/event-translator.js";
import { orderingKeyOf, triageAtIngest } from "../../src/webhooks/index.js";
import { anObject } from "./arbitrary-objects.js";
import { debitEvent, stripeEvent } from "./events.js";

// Every event type the translator names in a `case` or a comparison, read from its source:
// a type added to the translator is covered here without anyone updating a list.
const STRIPE_SOURCES = join(import.meta.dirname, "../../src/stripe");
const HANDLED_TYPES = [
  ...new Set(
    readdirSync(STRIPE_SOURCES)
      .filter((f) => f.endsWith(".ts"))
      .flatMap((f) =>
        [...readFileSync(join(STRIPE_SOURCES, f), "utf8").matchAll(/"([a-z_]+(?:\.[a-z_]+)+)"/g)].map(
          (m) => m[1] as string,
        ),
      )
      .filter((t) => !t.includes("_test") && /^[a-z]/.test(t)),
  ),
].sort();

const ACTS = new Set(["fact", "dispute_needs_references", "fee_refund_needs_references"]);

const anEvent = fc
  .tuple(
    fc.constantFrom(...HANDLED_TYPES, "future_thing.happened"),
    anObject,
    fc.option(fc.constantFrom("acct_1"), { nil: undefined }),
  )
  .map(([type, object, account]) =>
    stripeEvent(type, object, { ...(account !== undefined ? { account } : {}) }),
  );

function translated(event: ReturnType<typeof stripeEvent>): string {
  try {
    return translateStripeEvent(event).kind;
  } catch {
    return "throws";
  }
}

describe("triage at ingest", () => {
  it("reads the translator's event types from its source (the table below is not empty)", () => {
    expect(HANDLED_TYPES).toContain("payment_intent.succeeded");
    expect(HANDLED_TYPES).toContain("charge.dispute.created");
    expect(HANDLED_TYPES).toContain("invoice.paid");
    expect(HANDLED_TYPES.length).toBeGreaterThan(40);
  });

  it("never ignores an event the translator acts on, or one it throws on; ignores with the processor's own reason", () => {
    fc.assert(
      fc.property(anEvent, (event) => {
        const triage = triageAtIngest(event);
        const kind = translated(event);
        if (ACTS.has(kind) || kind === "throws") expect(triage.ignoredReason).toBeUndefined();
        if (triage.ignoredReason !== undefined) {
          const t = translateStripeEvent(event);
          expect(t.kind === "ignored" || t.kind === "not_handled").toBe(true);
          if (t.kind === "ignored") expect(triage.ignoredReason).toBe(t.reason);
          if (t.kind === "not_handled") expect(triage.ignoredReason).toBe(`not handled: ${t.reason}`);
        }
      }),
      { numRuns: 3_000 },
    );
  });

  it("covers every handled type: each is kept in some shape the translator acts on, or is one it never acts on", () => {
    // Which types can be cheap at all: those the translator ignored in every generated shape.
    const actedOn = new Set<string>();
    fc.assert(
      fc.property(anEvent, (event) => {
        if (ACTS.has(translated(event))) {
          actedOn.add(event.type);
          expect(triageAtIngest(event).ignoredReason).toBeUndefined();
        }
      }),
      { numRuns: 5_000 },
    );
    // The round's and payment's main events are acted on in some shape…
    for (const t of [
      "payment_intent.succeeded",
      "payment_intent.processing",
      "refund.updated",
      "transfer.created",
    ])
      expect(actedOn).toContain(t);
  });

  it("keeps charge.failed always: the processor records the card's failure before translating", () => {
    const failed = stripeEvent("charge.failed", {
      id: "ch_1",
      object: "charge",
      payment_intent: "pi_1",
      payment_method_details: { card: { fingerprint: "fp_1" } },
    });
    expect(translateStripeEvent(failed).kind).toBe("ignored");
    expect(triageAtIngest(failed)).toEqual({ orderingKey: "pi:pi_1" });
  });

  it("stores the events of a round that cannot change state as ignored (the cheap ones)", () => {
    const cheap = [
      stripeEvent("payment_intent.created", { id: "pi_1", object: "payment_intent" }),
      stripeEvent("charge.succeeded", { id: "ch_1", object: "charge", payment_intent: "pi_1" }),
      stripeEvent("charge.updated", { id: "ch_1", object: "charge", payment_intent: "pi_1" }),
      stripeEvent("charge.pending", { id: "ch_1", object: "charge", payment_intent: "pi_1" }),
      stripeEvent("transfer.updated", { id: "tr_1", object: "transfer", metadata: { group_id: "g" } }),
      stripeEvent("capability.updated", { id: "card_payments", object: "capability", account: "acct_1" }),
      stripeEvent("balance.available", { id: "bal", object: "balance" }),
      // A payment not made by susu (no references in its metadata).
      stripeEvent("payment_intent.succeeded", { id: "pi_2", object: "payment_intent", status: "succeeded" }),
    ];
    for (const event of cheap) expect(triageAtIngest(event).ignoredReason, event.type).toBeDefined();
    const debit = debitEvent("payment_intent.succeeded", {
      groupId: "g",
      roundId: "r",
      memberId: "ana",
      attempt: 1,
    });
    expect(triageAtIngest(debit)).toEqual({ orderingKey: "round:r" });
  });

  it("keeps an event whose payload the translator throws on, for the processor to report", () => {
    const broken = stripeEvent("transfer.reversed", {
      id: "tr_1",
      object: "transfer",
      metadata: "not an object",
    });
    const odd = { ...broken, data: null } as unknown as typeof broken;
    expect(translated(odd)).toBe("throws");
    expect(triageAtIngest(odd).ignoredReason).toBeUndefined();
    expect(triageAtIngest(odd).orderingKey).toBe(`event:${odd.id}`);
  });
});

describe("ordering key", () => {
  const refs = { group_id: "g1", round_id: "r1", member_id: "ana", attempt: "1" };

  it("the susu aggregate named in the metadata: round, held payment, marketplace charge, subscription, else group or person", () => {
    const key = (metadata: Record<string, string>) =>
      orderingKeyOf(
        stripeEvent("payment_intent.succeeded", { id: "pi_1", object: "payment_intent", metadata }),
      );
    expect(key(refs)).toBe("round:r1");
    expect(key({ held_payment_id: "hp_1", group_id: "g1" })).toBe("held_payment:hp_1");
    expect(key({ marketplace_charge_id: "mc_1", seller_id: "s" })).toBe("marketplace_charge:mc_1");
    expect(key({ susu_subscription_id: "sub_1", person_id: "p1" })).toBe("subscription:sub_1");
    expect(key({ group_id: "g1" })).toBe("group:g1");
    expect(key({ person_id: "p1" })).toBe("person:p1");
  });

  it("a payment's PaymentIntent, charge, refund and dispute events share a key without metadata", () => {
    const keys = [
      stripeEvent("payment_intent.succeeded", { id: "pi_9", object: "payment_intent" }),
      stripeEvent("charge.succeeded", { id: "ch_9", object: "charge", payment_intent: "pi_9" }),
      stripeEvent("charge.refund.updated", { id: "re_9", object: "refund", payment_intent: "pi_9" }),
      stripeEvent("charge.dispute.created", {
        id: "dp_9",
        object: "dispute",
        charge: "ch_9",
        payment_intent: "pi_9",
      }),
    ].map(orderingKeyOf);
    expect(new Set(keys)).toEqual(new Set(["pi:pi_9"]));
    // A dispute naming only its charge is keyed by the charge.
    expect(
      orderingKeyOf(stripeEvent("charge.dispute.created", { id: "dp_1", object: "dispute", charge: "ch_1" })),
    ).toBe("charge:ch_1");
  });

  it("an invoice shares its subscription's key; an account event the account's; else the object", () => {
    const invoice = stripeEvent("invoice.paid", {
      id: "in_1",
      object: "invoice",
      parent: {
        subscription_details: { subscription: "sub_stripe", metadata: { susu_subscription_id: "sub_1" } },
      },
    });
    expect(orderingKeyOf(invoice)).toBe("subscription:sub_1");
    expect(orderingKeyOf(stripeEvent("account.updated", { id: "acct_7", object: "account" }))).toBe(
      "account:acct_7",
    );
    expect(
      orderingKeyOf(
        stripeEvent("capability.updated", { id: "transfers", object: "capability" }, { account: "acct_7" }),
      ),
    ).toBe("account:acct_7");
    expect(orderingKeyOf(stripeEvent("payout.paid", { id: "po_1", object: "payout" }))).toBe("payout:po_1");
  });

  it("does not throw on values that are not strings where Stripe writes strings (metadata, ids)", () => {
    const odd = { toString: 1 };
    const event = stripeEvent("payment_intent.processing", {
      id: "pi_odd",
      object: "refund",
      payment_intent: { id: odd },
      charge: odd,
      metadata: { group_id: "grp_odd", round_id: odd, attempt: odd, member_id: 7 },
    });
    expect(orderingKeyOf(event)).toBe("group:grp_odd");
    expect(() => triageAtIngest(event)).not.toThrow();
    const noRefs = stripeEvent("charge.refunded", {
      id: "ch_odd",
      object: "charge",
      payment_intent: { id: odd },
      metadata: { round_id: odd },
    });
    expect(orderingKeyOf(noRefs)).toBe("charge:ch_odd");
  });

  it("is bounded and storable whatever the metadata holds", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (text) => {
        const key = orderingKeyOf(
          stripeEvent("refund.updated", {
            id: "re_1",
            object: "refund",
            metadata: { round_id: text, group_id: "g" },
          }),
        );
        expect(key.length).toBeLessThanOrEqual(200);
        expect(key).not.toContain("\u0000");
      }),
    );
  });
});
