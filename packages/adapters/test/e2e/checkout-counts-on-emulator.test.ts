// Checkout Sessions counted for operators, and failed cards recorded for the payment-attempt
// limits, on PostgreSQL and the emulator: events go the production way (stored in the
// webhook inbox as the API stores them, then processed as the scheduler does, every one
// delivered twice). Four sessions: one paid, one left to expire untouched, one where the
// card was declined before it expired (abandoned), one still open.
import { type HeldPayment, type Person, type UseCaseDeps, useCaseDepsOn, useCases } from "@susu/domain";
import {
  InMemoryTimerScheduler,
  ManualClock,
  RecordingNotifier,
  RecordingSupportDesk,
  SequentialIds,
} from "@susu/domain/testing";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PrismaPaymentAttemptStore } from "../../src/http/index.js";
import { PrismaLedgerStore, PrismaOperationsCounts, PrismaStore } from "../../src/prisma/index.js";
import {
  CARD_FAILURE_KEEP_MS,
  cardFailureBucket,
  PrismaWebhookInbox,
  processWebhookEvent,
  type WebhookContext,
} from "../../src/webhooks/index.js";
import { type StripeHarness, startStripeHarness } from "../stripe/emulator-harness.js";
import { useTestDatabase } from "../support/index.js";

const db = useTestDatabase();
const START = Date.UTC(2026, 6, 1);

describe("checkout sessions counted, and failed cards recorded, on PostgreSQL and the emulator", () => {
  let harness: StripeHarness;
  let store: PrismaStore;
  let deps: UseCaseDeps;
  let ctx: WebhookContext;
  let inbox: PrismaWebhookInbox;
  let counts: PrismaOperationsCounts;
  const clock = new ManualClock(START);
  const timers = new InMemoryTimerScheduler();

  beforeAll(async () => {
    harness = await startStripeHarness({ startTime: START / 1000 });
    store = new PrismaStore(db.prisma, { clock });
    deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    inbox = new PrismaWebhookInbox(db.prisma, clock);
    counts = new PrismaOperationsCounts(db.prisma);
    ctx = { deps, gateway: harness.gateway, paymentFailures: new PrismaPaymentAttemptStore(db.prisma) };
    await harness.events.skipExisting();
    const account = await harness.driver.connectedAccount({ canReceive: true });
    const person: Person = {
      id: "sam",
      displayName: "sam",
      payout: { connectedAccountId: account, payoutsEnabled: true },
      createdAt: clock.now(),
      version: 0,
    };
    (
      await store.commit({
        people: [{ state: person, expectedVersion: undefined }],
        groups: [],
        rounds: [],
        outbox: [],
        audit: [],
      })
    )._unsafeUnwrap();
  });
  afterAll(async () => {
    await harness?.emulator.stop();
  });

  async function deliver(events: readonly Stripe.Event[]): Promise<void> {
    for (const event of events.flatMap((e) => [e, e])) {
      (await inbox.receive(event))._unsafeUnwrap();
      const outcome = await processWebhookEvent(event, ctx);
      if (outcome.isErr()) throw new Error(`${event.type} ${event.id}: ${outcome.error.message}`);
    }
  }

  async function settle(): Promise<void> {
    const ports = {
      gateway: harness.gateway,
      notifier: new RecordingNotifier(),
      desk: new RecordingSupportDesk(),
      timers,
      ledger: new PrismaLedgerStore(db.prisma, { clock }),
    };
    for (let pass = 0; pass < 30; pass++) {
      const report = (
        await useCases.dispatchOutbox(deps, ports, store, { workerId: "dispatcher" })
      )._unsafeUnwrap();
      const due = timers.takeDue(clock.now());
      for (const t of due) (await useCases.applyTimer(deps, t))._unsafeUnwrap();
      const events = await harness.events.next();
      await deliver(events);
      if (report.claimed === 0 && due.length === 0 && events.length === 0) return;
    }
    throw new Error("did not settle");
  }

  let seq = 0;
  async function aCheckout(): Promise<HeldPayment> {
    seq += 1;
    const { payment } = (
      await useCases.createHeldPayment(deps, {
        requestedBy: "app_bookings",
        clientReference: `count_${seq}`,
        amountMinor: 50_00,
        currency: "AUD",
        sellerId: "sam",
        description: `booking ${seq}`,
        customer: { email: "cy@example.com" },
        fee: { kind: "rate", basisPoints: 1_000 },
        successUrl: "https://app.example/done",
      })
    )._unsafeUnwrap();
    await settle();
    const p = (await store.getHeldPayment(payment.id))._unsafeUnwrap();
    if (p?.checkoutSessionId === undefined) throw new Error(`no session for ${payment.id}`);
    return p;
  }

  it("counts created, completed, expired untouched and abandoned sessions; records the declined card once", async () => {
    expect(await counts.checkoutSessions()).toEqual({ created: 0, completed: 0, expired: 0, abandoned: 0 });

    const paid = await aCheckout();
    const untouched = await aCheckout();
    const declined = await aCheckout();
    expect(await counts.checkoutSessions()).toEqual({ created: 3, completed: 0, expired: 0, abandoned: 0 });

    await harness.emulator.control.completeCheckoutSession(paid.checkoutSessionId ?? "", {
      paymentMethod: "pm_card_visa",
    });
    await expect(
      harness.emulator.control.completeCheckoutSession(declined.checkoutSessionId ?? "", {
        paymentMethod: "pm_card_chargeDeclined",
      }),
    ).rejects.toThrow();
    await settle();
    expect(await counts.checkoutSessions()).toEqual({ created: 3, completed: 1, expired: 0, abandoned: 0 });

    // The declined charge's card, recorded once (its event came twice), kept a week.
    const failures = await db.prisma.$queryRaw<{ bucket: string; attempt_key: string; kept_ms: number }[]>`
      SELECT bucket, attempt_key, (extract(epoch FROM expires_at - at) * 1000)::float8 AS kept_ms
      FROM payment_attempts WHERE bucket LIKE 'card_failed:%'`;
    expect(failures).toHaveLength(1);
    const charges = await harness.stripe.charges.list({ payment_intent: await paymentIntentOf(declined) });
    const charge = charges.data[0];
    expect(charge?.status).toBe("failed");
    const fingerprint = charge?.payment_method_details?.card?.fingerprint ?? "";
    expect(failures[0]).toMatchObject({
      bucket: cardFailureBucket(fingerprint),
      attempt_key: charge?.id,
      kept_ms: CARD_FAILURE_KEEP_MS,
    });

    // Both open sessions expire at Stripe; then one more is opened and left open.
    const expiresAt = Math.max(untouched.checkoutExpiresAt, declined.checkoutExpiresAt);
    const delta = expiresAt - clock.now() + 1_000;
    clock.advance(delta);
    await harness.emulator.control.advanceClock(delta / 1000);
    await settle();
    expect((await store.getHeldPayment(untouched.id))._unsafeUnwrap()?.status).toBe("expired");
    expect((await store.getHeldPayment(declined.id))._unsafeUnwrap()?.status).toBe("expired");
    await aCheckout();
    expect(await counts.checkoutSessions()).toEqual({ created: 4, completed: 1, expired: 1, abandoned: 1 });
  });

  async function paymentIntentOf(p: HeldPayment): Promise<string> {
    const session = await harness.stripe.checkout.sessions.retrieve(p.checkoutSessionId ?? "");
    const pi = session.payment_intent;
    if (typeof pi !== "string") throw new Error(`session ${session.id} has no payment intent`);
    return pi;
  }
});
