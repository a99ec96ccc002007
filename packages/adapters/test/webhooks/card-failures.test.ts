// Failed card charges recorded for the payment-attempt limits by the webhook processor, on
// PostgreSQL: a `charge.failed` with a card fingerprint is recorded once however often it
// comes; a charge without a card records nothing; when the record cannot be written the
// event fails retryably (so the inbox tries it again) instead of being lost.
import { useCaseDepsOn } from "@susu/domain";
import { InMemoryStore, ManualClock, SequentialIds } from "@susu/domain/testing";
import { describe, expect, it } from "vitest";
import { PrismaPaymentAttemptStore } from "../../src/http/index.js";
import {
  CARD_FAILURE_KEEP_MS,
  cardFailureBucket,
  processWebhookEvent,
  type WebhookContext,
} from "../../src/webhooks/index.js";
import { useTestDatabase } from "../support/index.js";
import { stripeEvent } from "./events.js";
import { ScriptedStripeReads } from "./harness.js";

const db = useTestDatabase();
const clock = new ManualClock(Date.UTC(2026, 5, 1));

const context = (paymentFailures: WebhookContext["paymentFailures"]): WebhookContext => ({
  deps: useCaseDepsOn(new InMemoryStore(), { clock, ids: new SequentialIds() }),
  gateway: new ScriptedStripeReads(),
  ...(paymentFailures !== undefined ? { paymentFailures } : {}),
});

const failedCharge = (id: string, card: Record<string, unknown> | undefined, created = 1_780_000_000) =>
  stripeEvent(
    "charge.failed",
    {
      id,
      object: "charge",
      status: "failed",
      metadata: {},
      payment_method_details: card === undefined ? { type: "au_becs_debit" } : { type: "card", card },
    },
    { created },
  );

const rows = (bucket: string) =>
  db.prisma.$queryRaw<{ attempt_key: string; at: Date; expires_at: Date }[]>`
    SELECT attempt_key, at, expires_at FROM payment_attempts WHERE bucket = ${bucket}`;

describe("failed card charges recorded by the webhook processor", () => {
  it("records a card's failed charge once, at the event's time, kept a week; the event is still processed", async () => {
    const ctx = context(new PrismaPaymentAttemptStore(db.prisma));
    const event = failedCharge("ch_f1", { fingerprint: "fpA", last4: "0002" });
    for (let i = 0; i < 2; i++) {
      const outcome = await processWebhookEvent(event, ctx);
      expect(outcome.isOk()).toBe(true);
      expect(outcome._unsafeUnwrap().status).toBe("ignored");
    }
    const recorded = await rows(cardFailureBucket("fpA"));
    expect(recorded).toHaveLength(1);
    expect(recorded[0]?.attempt_key).toBe("ch_f1");
    expect(recorded[0]?.at.getTime()).toBe(1_780_000_000_000);
    expect(recorded[0]?.expires_at.getTime()).toBe(1_780_000_000_000 + CARD_FAILURE_KEEP_MS);
  });

  it("records nothing for a charge without a card fingerprint", async () => {
    const ctx = context(new PrismaPaymentAttemptStore(db.prisma));
    (await processWebhookEvent(failedCharge("ch_becs", undefined), ctx))._unsafeUnwrap();
    (await processWebhookEvent(failedCharge("ch_nofp", { fingerprint: null }), ctx))._unsafeUnwrap();
    const all = await db.prisma.$queryRaw<{ n: bigint }[]>`
      SELECT count(*) AS n FROM payment_attempts WHERE attempt_key IN ('ch_becs', 'ch_nofp')`;
    expect(Number(all[0]?.n)).toBe(0);
  });

  it("fails the event retryably when the record cannot be written", async () => {
    const ctx = context({
      record: () => Promise.reject(new Error("connection refused")),
    });
    const outcome = await processWebhookEvent(failedCharge("ch_f2", { fingerprint: "fpB" }), ctx);
    expect(outcome.isErr()).toBe(true);
    expect(outcome._unsafeUnwrapErr()).toMatchObject({ code: "card_failure_not_recorded", retryable: true });
  });
});
