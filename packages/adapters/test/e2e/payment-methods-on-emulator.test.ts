// Saved payment methods on the real adapters — PostgreSQL (PrismaStore, PrismaSupportDesk)
// and the emulator through the official SDK, with Stripe's events processed as the webhook
// worker does and the outbox run by the dispatcher: a member saves a card and a BECS
// account, makes the card the default, cannot remove the BECS account a running round
// relies on, replaces it with another and removes the old one (detached at Stripe), and is
// told — with the group's admins and a ticket — when the replacement is detached behind
// susu's back.
import {
  DAY_MS,
  type EffectPorts,
  type SavedPaymentMethod,
  type UseCaseDeps,
  useCaseDepsOn,
  useCases,
} from "@susu/domain";
import { InMemoryTimerScheduler, ManualClock, RecordingNotifier, SequentialIds } from "@susu/domain/testing";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PrismaLedgerStore, PrismaStore } from "../../src/prisma/index.js";
import { PrismaSupportDesk } from "../../src/support/index.js";
import { processWebhookEvent, type WebhookContext } from "../../src/webhooks/index.js";
import { acceptBecsMandate, type StripeHarness, startStripeHarness } from "../stripe/emulator-harness.js";
import { useTestDatabase } from "../support/index.js";

const db = useTestDatabase();

describe("saved payment methods on PostgreSQL and the emulator", () => {
  let harness: StripeHarness;
  let store: PrismaStore;
  let deps: UseCaseDeps;
  let ctx: WebhookContext;
  let ports: EffectPorts;
  let groupId: string;
  const clock = new ManualClock(Date.UTC(2026, 5, 1));
  const notifier = new RecordingNotifier();

  beforeAll(async () => {
    harness = await startStripeHarness();
    store = new PrismaStore(db.prisma, { clock });
    deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    ctx = { deps, gateway: harness.gateway };
    ports = {
      gateway: harness.gateway,
      notifier,
      desk: new PrismaSupportDesk(db.prisma, clock),
      timers: new InMemoryTimerScheduler(),
      ledger: new PrismaLedgerStore(db.prisma, { clock }),
    };
    groupId = (
      await useCases.createGroup(deps, {
        name: "Methods",
        currency: "AUD",
        contributionMinor: 100_00,
        cadence: "weekly",
        startsAt: clock.now() + DAY_MS,
        payoutOrderMethod: "join_order",
        creator: { id: "ana", displayName: "Ana" },
      })
    )._unsafeUnwrap().id;
    (await useCases.joinGroup(deps, groupId, { id: "ben", displayName: "Ben" }))._unsafeUnwrap();
    // Ana onboarded the usual way; both can be paid.
    const anaMandate = await harness.customerWithMandate("ana", "000123456");
    for (const id of ["ana", "ben"]) {
      const account = await harness.driver.connectedAccount({ canReceive: true });
      (
        await useCases.updatePersonPayment(
          deps,
          id,
          id === "ana"
            ? {
                customerId: anaMandate.customerId,
                debit: {
                  paymentMethodId: anaMandate.paymentMethodId,
                  mandateId: anaMandate.mandateId,
                  mandateActive: true,
                },
                connectedAccountId: account,
              }
            : { connectedAccountId: account },
          "test",
        )
      )._unsafeUnwrap();
      (await useCases.updatePersonReadiness(deps, id, { payoutsEnabled: true }, "test"))._unsafeUnwrap();
    }
    await harness.events.skipExisting();
  });
  afterAll(async () => {
    await harness?.emulator.stop();
  });

  /** Stripe's new events, processed as the webhook worker does; their outcomes. */
  async function processEvents(): Promise<string[]> {
    const outcomes: string[] = [];
    for (const event of (await harness.events.next()) as Stripe.Event[]) {
      const outcome = (await processWebhookEvent(event, ctx))._unsafeUnwrap();
      outcomes.push(
        `${event.type}: ${outcome.status === "processed" ? outcome.outcome : `ignored: ${outcome.reason}`}`,
      );
    }
    return outcomes;
  }

  async function runOutbox(): Promise<void> {
    for (let i = 0; i < 10; i++) {
      const report = (await useCases.dispatchOutbox(deps, ports, store, { workerId: "e2e" }))._unsafeUnwrap();
      if (report.claimed === 0) return;
    }
  }

  async function saveBecs(attempt: string): Promise<string> {
    const setup = (
      await useCases.startPaymentMethodSetup(deps, harness.gateway, "ben", "au_becs_debit", attempt)
    )._unsafeUnwrap();
    const { paymentMethodId } = await acceptBecsMandate(harness.stripe, setup.setupIntentId, "000123456");
    await processEvents();
    return paymentMethodId;
  }

  const methods = async (): Promise<readonly SavedPaymentMethod[]> =>
    (await store.listPaymentMethodsOfPerson("ben"))._unsafeUnwrap();
  const ben = async () => (await store.getPerson("ben"))._unsafeUnwrap();

  let card: string;
  let first: string;
  let second: string;

  it("ben saves a BECS account (his first: the debit rounds use) and a card, and makes the card his default", async () => {
    first = await saveBecs("1");
    expect((await ben())?.debit).toMatchObject({ paymentMethodId: first, mandateActive: true });

    const setup = (
      await useCases.startPaymentMethodSetup(deps, harness.gateway, "ben", "card", "1")
    )._unsafeUnwrap();
    card = (
      await harness.stripe.setupIntents.confirm(setup.setupIntentId, { payment_method: "pm_card_visa" })
    ).payment_method as string;
    const outcomes = await processEvents();
    expect(outcomes.some((o) => o.startsWith("payment_method.attached") && o.includes(card))).toBe(true);
    // Oldest first by Stripe's creation time, which the emulator's frozen clock makes equal here.
    expect(new Map((await methods()).map((m) => [m.id, m.type]))).toEqual(
      new Map([
        [first, "au_becs_debit"],
        [card, "card"],
      ]),
    );
    expect((await methods()).find((m) => m.id === first)).toMatchObject({
      bankAccount: { bsbNumber: "000000", last4: "3456" },
      mandate: { status: "active" },
    });

    (await useCases.setDefaultPaymentMethod(deps, "ben", card, "ben"))._unsafeUnwrap();
    await runOutbox();
    const customerId = (await ben())?.customerId ?? "";
    const customer = await harness.stripe.customers.retrieve(customerId);
    expect(!customer.deleted && customer.invoice_settings.default_payment_method).toBe(card);

    // The card network reissues the card: the new expiry is recorded.
    await harness.emulator.control.updateCardFromNetwork(card, { exp_month: 7, exp_year: 2035 });
    await processEvents();
    expect((await methods()).find((m) => m.id === card)?.card).toMatchObject({ expMonth: 7, expYear: 2035 });
  });

  it("during a round, the BECS account it relies on cannot go without a replacement; with one, it is detached at Stripe", async () => {
    (await useCases.activateGroup(deps, groupId, "ana"))._unsafeUnwrap();
    clock.advance(DAY_MS);
    (await useCases.startRound(deps, groupId, { memberId: "ana" }))._unsafeUnwrap();
    await runOutbox();
    await processEvents();

    const refused = (
      await useCases.removePaymentMethod(deps, "ben", first, undefined, "ben")
    )._unsafeUnwrapErr();
    expect(refused).toMatchObject({ code: "payment_method_in_use", groupId });
    expect((await harness.stripe.paymentMethods.retrieve(first)).customer).not.toBeNull();

    second = await saveBecs("2");
    expect((await ben())?.debit?.paymentMethodId).toBe(first);
    const removed = (await useCases.removePaymentMethod(deps, "ben", first, second, "ben"))._unsafeUnwrap();
    expect(removed.debitPaymentMethodId).toBe(second);
    expect((await ben())?.debit).toMatchObject({ paymentMethodId: second, mandateActive: true });
    await runOutbox();
    expect((await harness.stripe.paymentMethods.retrieve(first)).customer).toBeNull();
    // Stripe's detached event comes back: already removed, nobody is told anything.
    await processEvents();
    expect(notifier.sent.filter((n) => n.aggregate === "payment_method")).toEqual([]);
    expect((await methods()).map((m) => m.id).sort()).toEqual([card, second].sort());
  });

  it("the replacement detached behind susu's back: readiness drops, ben and the admin are told, a ticket is opened", async () => {
    await harness.stripe.paymentMethods.detach(second);
    await processEvents();
    expect((await ben())?.debit?.mandateActive).toBe(false);
    await runOutbox();
    expect(
      notifier.sent
        .filter((n) => n.aggregate === "payment_method")
        .map((n) => [n.template, n.personIds, n.groupId]),
    ).toEqual([
      ["payment_method_detached", ["ben"], undefined],
      ["member_payment_method_detached", ["ana"], groupId],
    ]);
    const tickets = await db.prisma.supportTicket.findMany({ where: { aggregateId: second } });
    expect(tickets).toEqual([
      expect.objectContaining({
        kind: "payment_method_detached",
        groupId,
        aggregateType: "payment_method",
        status: "open",
      }),
    ]);
    // No number beyond four digits in what people were told.
    expect(JSON.stringify(notifier.sent)).not.toMatch(/\d{6,}/);
  });
});
