// Memberships on the real adapters, for the tests that drive them as production does:
// PostgreSQL (PrismaStore, PrismaLedgerStore), Stripe Billing through the official SDK
// (StripeBillingGateway) on the emulator, the outbox dispatcher calling Stripe and the
// emulator's events going through the webhook processor. One plan is created at the start.
import {
  type EffectPorts,
  type Person,
  type Plan,
  type Subscription,
  type UseCaseDeps,
  useCaseDepsOn,
  useCases,
} from "@susu/domain";
import {
  InMemoryTimerScheduler,
  ManualClock,
  RecordingNotifier,
  RecordingSupportDesk,
  SequentialIds,
} from "@susu/domain/testing";
import type Stripe from "stripe";
import { afterAll, beforeAll, expect } from "vitest";
import { PrismaLedgerStore, PrismaStore } from "../../src/prisma/index.js";
import { StripeBillingGateway } from "../../src/stripe/index.js";
import { processWebhookEvent, type WebhookContext, type WebhookOutcome } from "../../src/webhooks/index.js";
import { type StripeHarness, startStripeHarness } from "../stripe/emulator-harness.js";
import type { TestDatabase } from "../support/index.js";

const DAY = 86_400;
const ADMIN = { operator: "olga" };

export interface MembershipStackOptions {
  /** susu's clock; Stripe's starts at the same time, and the advance helpers move both. */
  readonly clock: ManualClock;
  /** The plan created (by an admin) before the tests. */
  readonly plan: Parameters<typeof useCases.createPlan>[1];
  readonly notifier?: RecordingNotifier;
  readonly desk?: RecordingSupportDesk;
  /** Told of each event before the webhook processor gets it. */
  readonly onDelivered?: (event: Stripe.Event) => void;
  /** Told of what the webhook processor made of each event. */
  readonly onOutcome?: (event: Stripe.Event, outcome: WebhookOutcome) => void;
}

export interface MembershipStack {
  readonly harness: StripeHarness;
  readonly store: PrismaStore;
  readonly ledger: PrismaLedgerStore;
  readonly deps: UseCaseDeps;
  readonly ports: EffectPorts;
  readonly ctx: WebhookContext;
  /** The plan, with its Stripe product and prices. */
  readonly plan: Plan;
  /** Dispatches the outbox and delivers Stripe's events until nothing is left to do. */
  settle(): Promise<void>;
  /** Moves Stripe's clock (and susu's) by `seconds`, then lets what fell due happen (unless told not to). */
  advanceSeconds(seconds: number, options?: { readonly settle?: boolean }): Promise<void>;
  /** Moves Stripe's clock (and susu's with it) and lets everything that fell due happen. */
  advanceDays(days: number): Promise<void>;
  /** Stores person `id` with Stripe customer `customerId`. */
  storePerson(id: string, customerId: string): Promise<void>;
  /** A person whose Stripe customer has a card saved through susu (confirmed with Stripe's test card `pm`). */
  aPerson(id: string, pm: string): Promise<{ paymentMethodId: string; customerId: string }>;
  /** `personId`'s monthly AUD membership of the plan, started with a saved method, once settled. */
  subscribed(personId: string, paymentMethodId: string): Promise<Subscription>;
  /** A person with a Stripe customer (no saved method), subscribing to `planId` through a Checkout page. */
  subscribeThroughCheckout(id: string, planId: string): Promise<Subscription>;
  current(id: string): Promise<Subscription>;
}

/** Starts the stack before the describe block's tests (and stops it after them). */
export function useMembershipStack(db: TestDatabase, options: MembershipStackOptions): MembershipStack {
  const { clock } = options;
  let started:
    | Pick<MembershipStack, "harness" | "store" | "ledger" | "deps" | "ports" | "ctx" | "plan">
    | undefined;
  const get = () => {
    if (started === undefined) throw new Error("the membership stack is not started");
    return started;
  };

  async function settle(): Promise<void> {
    const { harness, deps, ports, store, ctx } = get();
    for (let pass = 0; pass < 30; pass++) {
      const report = (
        await useCases.dispatchOutbox(deps, ports, store, { workerId: "dispatcher" })
      )._unsafeUnwrap();
      expect(report.parked).toBe(0);
      const events = await harness.events.next();
      for (const event of events) {
        options.onDelivered?.(event);
        const outcome = await processWebhookEvent(event, ctx);
        if (outcome.isErr()) throw new Error(`${event.type} ${event.id}: ${outcome.error.message}`);
        options.onOutcome?.(event, outcome.value);
      }
      if (report.claimed === 0 && events.length === 0) return;
    }
    throw new Error("the membership did not settle");
  }

  async function advanceSeconds(seconds: number, { settle: andSettle = true } = {}): Promise<void> {
    const { harness } = get();
    await harness.emulator.control.advanceClock(seconds);
    clock.advanceTo((await harness.emulator.control.now()) * 1000);
    if (andSettle) await settle();
  }

  async function storePerson(id: string, customerId: string): Promise<void> {
    const person: Person = { id, displayName: id, customerId, createdAt: clock.now(), version: 0 };
    const changes = { people: [{ state: person, expectedVersion: undefined }], groups: [], rounds: [] };
    (await get().store.commit({ ...changes, outbox: [], audit: [] }))._unsafeUnwrap();
  }

  async function current(id: string): Promise<Subscription> {
    return (await useCases.getSubscription(get().deps, id))._unsafeUnwrap();
  }

  beforeAll(async () => {
    const harness = await startStripeHarness({ startTime: clock.now() / 1000 });
    const store = new PrismaStore(db.prisma, { clock });
    const ledger = new PrismaLedgerStore(db.prisma, { clock });
    const deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    const ports: EffectPorts = {
      gateway: harness.gateway,
      notifier: options.notifier ?? new RecordingNotifier(),
      desk: options.desk ?? new RecordingSupportDesk(),
      timers: new InMemoryTimerScheduler(),
      ledger,
      billing: new StripeBillingGateway(harness.stripe),
    };
    const ctx: WebhookContext = { deps, gateway: harness.gateway };
    await harness.events.skipExisting();
    const plan = (await useCases.createPlan(deps, options.plan, ADMIN))._unsafeUnwrap();
    started = { harness, store, ledger, deps, ports, ctx, plan };
    await settle();
    started = { ...started, plan: (await useCases.getPlan(deps, plan.id))._unsafeUnwrap() };
  });
  afterAll(async () => {
    await started?.harness.emulator.stop();
  });

  return {
    get harness() {
      return get().harness;
    },
    get store() {
      return get().store;
    },
    get ledger() {
      return get().ledger;
    },
    get deps() {
      return get().deps;
    },
    get ports() {
      return get().ports;
    },
    get ctx() {
      return get().ctx;
    },
    get plan() {
      return get().plan;
    },
    settle,
    advanceSeconds,
    advanceDays: (days) => advanceSeconds(days * DAY),
    storePerson,
    async aPerson(id, pm) {
      const { harness, deps } = get();
      const customer = await harness.stripe.customers.create({ name: id, metadata: { person_id: id } });
      await storePerson(id, customer.id);
      // The card is saved as the person's app saves it: a SetupIntent through the use case,
      // confirmed with Stripe's test card, and Stripe's webhooks recording it.
      const setup = (
        await useCases.startPaymentMethodSetup(deps, harness.gateway, id, "card", "1")
      )._unsafeUnwrap();
      const confirmed = await harness.stripe.setupIntents.confirm(setup.setupIntentId, {
        payment_method: pm,
      });
      expect(confirmed.status).toBe("succeeded");
      await settle();
      const paymentMethodId =
        typeof confirmed.payment_method === "string"
          ? confirmed.payment_method
          : (confirmed.payment_method?.id ?? "");
      const saved = (await deps.paymentMethods.getPaymentMethod(paymentMethodId))._unsafeUnwrap();
      expect(saved?.personId).toBe(id);
      return { paymentMethodId, customerId: customer.id };
    },
    async subscribed(personId, paymentMethodId) {
      const s = (
        await useCases.subscribe(get().deps, {
          personId,
          planId: get().plan.id,
          currency: "AUD",
          interval: "month",
          start: { kind: "saved_method", paymentMethodId },
        })
      )._unsafeUnwrap();
      await settle();
      return current(s.id);
    },
    async subscribeThroughCheckout(id, planId) {
      const customer = await get().harness.stripe.customers.create({ name: id, metadata: { person_id: id } });
      await storePerson(id, customer.id);
      return (
        await useCases.subscribe(get().deps, {
          personId: id,
          planId,
          currency: "AUD",
          interval: "month",
          start: {
            kind: "checkout",
            successUrl: "https://app.example/ok",
            cancelUrl: "https://app.example/no",
          },
        })
      )._unsafeUnwrap();
    },
    current,
  };
}

/**
 * The stack with one plan, "Organiser": 15.00 AUD a month, no trial, from 1 July 2026 (the
 * membership e2e tests that need nothing else).
 */
export function useMonthlyPlanStack(db: TestDatabase): MembershipStack {
  return useMembershipStack(db, {
    clock: new ManualClock(Date.UTC(2026, 6, 1)),
    notifier: new RecordingNotifier(),
    plan: {
      name: "Organiser",
      entitlements: { createGroups: true, maxOpenGroups: 10, sellBookings: true },
      trialDays: 0,
      prices: [{ currency: "AUD", interval: "month", amountMinor: 15_00 }],
    },
  });
}
