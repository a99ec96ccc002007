import { okAsync, type ResultAsync } from "neverthrow";
import type { PaymentFact } from "../facts/payment-fact.js";
import type { GroupId, MemberId } from "../group/ids.js";
import type { Entitlements } from "../membership/entitlements.js";
import type { PersonId } from "../person/ids.js";
import type { Person } from "../person/person.js";
import { DAY_MS, type DurationMs, type Instant } from "../shared/time.js";
import { applyPaymentFact, type FactError, type FactPorts } from "../use-cases/apply-fact.js";
import { applyTimer } from "../use-cases/apply-timer.js";
import { type UseCaseDeps, type UseCaseError, useCaseDepsOn } from "../use-cases/deps.js";
import { type DispatchReport, dispatchOutbox } from "../use-cases/dispatch-outbox.js";
import type { EffectPorts } from "../use-cases/execute-effect.js";
import { updatePersonPayment, updatePersonReadiness } from "../use-cases/person-use-cases.js";
import { FakeBillingGateway } from "./fake-billing-gateway.js";
import { type FakeCheckoutPayment, FakePaymentGateway } from "./fake-payment-gateway.js";
import { InMemoryLedgerStore } from "./in-memory-ledger.js";
import { InMemoryStore } from "./in-memory-store.js";
import { ManualClock } from "./manual-clock.js";
import { aReadyPerson } from "./mothers.js";
import { saveCardThroughUseCases } from "./onboarding.js";
import { InMemoryTimerScheduler, RecordingNotifier, RecordingSupportDesk } from "./recorders.js";
import { SequentialIds } from "./sequential-ids.js";

/**
 * The whole domain wired to in-memory adapters: a manual clock, a fake BECS gateway (with
 * checkout pages), recorders for notifications and tickets, and a driver that plays the
 * scheduler, the outbox dispatcher and Stripe's webhooks. Other teams use it to run rounds,
 * held payments and marketplace charges in tests.
 */
export class InMemorySusu {
  readonly clock: ManualClock;
  readonly store = new InMemoryStore();
  readonly ledger = new InMemoryLedgerStore();
  readonly gateway: FakePaymentGateway;
  /** Stripe Billing (membership plans and subscriptions). */
  readonly billing = new FakeBillingGateway();
  readonly notifier = new RecordingNotifier();
  readonly desk = new RecordingSupportDesk();
  readonly timers = new InMemoryTimerScheduler();
  readonly ids = new SequentialIds();
  readonly deps: UseCaseDeps;
  readonly ports: EffectPorts;
  /** What the fact router reads: the fake gateway stands in for Stripe. */
  readonly factPorts: FactPorts;

  /** Rewrites each batch of Stripe facts before delivery: tests duplicate, drop or shuffle them here. */
  readonly transformFacts: (facts: PaymentFact[]) => PaymentFact[];

  constructor(
    options: {
      readonly start?: Instant;
      readonly settlementDelayMs?: DurationMs;
      readonly transformFacts?: (facts: PaymentFact[]) => PaymentFact[];
      /** What people without a membership may do (`UseCaseDeps.defaultEntitlements`); everything when absent. */
      readonly defaultEntitlements?: Entitlements;
    } = {},
  ) {
    this.clock = new ManualClock(options.start);
    this.transformFacts = options.transformFacts ?? ((facts) => facts);
    this.gateway = new FakePaymentGateway(() => this.clock.now(), options.settlementDelayMs ?? 3 * DAY_MS);
    this.deps = useCaseDepsOn(this.store, {
      clock: this.clock,
      ids: this.ids,
      ...(options.defaultEntitlements !== undefined
        ? { defaultEntitlements: options.defaultEntitlements }
        : {}),
    });
    this.ports = {
      gateway: this.gateway,
      notifier: this.notifier,
      desk: this.desk,
      timers: this.timers,
      ledger: this.ledger,
      billing: this.billing,
    };
    this.factPorts = { reader: this.gateway };
  }

  /**
   * Gives a person a customer, an active BECS mandate and a connected account that can
   * receive (unless `canReceive` is false), as if they had finished onboarding — once, for
   * every group they are in. Stripe ids are `cus_<id>`, `pm_<id>`, `mandate_<id>`, `acct_<id>`.
   */
  onboardPerson(
    personId: PersonId,
    options: { readonly canReceive?: boolean } = {},
  ): ResultAsync<Person, UseCaseError> {
    const accountId = `acct_${personId}`;
    const canReceive = options.canReceive ?? true;
    this.gateway.setAccount(accountId, canReceive);
    return updatePersonPayment(
      this.deps,
      personId,
      {
        customerId: `cus_${personId}`,
        debit: { paymentMethodId: `pm_${personId}`, mandateId: `mandate_${personId}`, mandateActive: true },
        connectedAccountId: accountId,
      },
      "test",
    ).andThen(() => updatePersonReadiness(this.deps, personId, { payoutsEnabled: canReceive }, "test"));
  }

  /**
   * {@link onboardPerson} for a member of a group, as tests that set up a group read best.
   * The member id is the person id: onboarding is the person's, shared by all their groups.
   */
  onboardMember(
    _groupId: GroupId,
    memberId: MemberId,
    options: { readonly canReceive?: boolean } = {},
  ): ResultAsync<Person, UseCaseError> {
    return this.onboardPerson(memberId, options);
  }

  /**
   * Stripe changes whether a person's connected account can receive and says so
   * (`account.updated`): the fake account follows, and the fact goes through the router,
   * which updates the person's readiness and tells every round where they are the recipient.
   */
  accountUpdated(personId: PersonId, canReceive: boolean): ResultAsync<void, FactError> {
    const accountId = `acct_${personId}`;
    this.gateway.setAccount(accountId, canReceive);
    return this.gateway
      .getConnectedAccount(accountId)
      .andThen((reported) => this.deliver([{ kind: "payout_account_changed", accountId, reported }]));
  }

  /**
   * A person who sells through held payments: onboarded with a connected account
   * (`acct_<id>`) that can receive (unless `canReceive` is false), with no group needed.
   */
  addSeller(
    personId: PersonId,
    options: { readonly canReceive?: boolean } = {},
  ): ResultAsync<void, UseCaseError> {
    const canReceive = options.canReceive ?? true;
    this.gateway.setAccount(`acct_${personId}`, canReceive);
    const person = { ...aReadyPerson(personId, { payoutsEnabled: canReceive }), createdAt: this.clock.now() };
    return this.store.commit({
      people: [{ state: person, expectedVersion: undefined }],
      groups: [],
      rounds: [],
      outbox: [],
      audit: [],
    });
  }

  /**
   * The customer pays a held payment's checkout page (see `FakePaymentGateway.payCheckout`):
   * by card (paid at once), by a delayed method that settles or fails after the settlement
   * delay, or with a declined card (the page stays open). Stripe's word is delivered
   * through the router, and the outbox runs until quiet.
   */
  async payCheckout(heldPaymentId: string, how: FakeCheckoutPayment): Promise<void> {
    const payment = this.store.heldPayments().find((p) => p.id === heldPaymentId);
    const sessionId = payment?.checkoutSessionId;
    if (sessionId === undefined) throw new Error(`held payment ${heldPaymentId} has no checkout session yet`);
    const delivered = await this.deliver(this.transformFacts(this.gateway.payCheckout(sessionId, how)));
    if (delivered.isErr()) throw new Error(`delivery failed: ${delivered.error.code}`);
    await this.runUntilQuiet();
  }

  /**
   * The customer confirms a marketplace charge's card payment that waits for them (a new
   * card, 3-D Secure) with its client secret: it succeeds or is declined. Stripe's webhook
   * is delivered through the router, and the outbox runs until quiet.
   */
  async confirmCardPayment(
    marketplaceChargeId: string,
    how: "succeed" | { readonly fail: string },
  ): Promise<void> {
    const charge = this.store.marketplaceCharges().find((c) => c.id === marketplaceChargeId);
    const paymentIntentId = charge?.paymentIntentId;
    if (paymentIntentId === undefined)
      throw new Error(`marketplace charge ${marketplaceChargeId} has no PaymentIntent yet`);
    const fact = this.gateway.confirmCardPayment(paymentIntentId, how);
    const delivered = await this.deliver(this.transformFacts([fact]));
    if (delivered.isErr()) throw new Error(`delivery failed: ${delivered.error.code}`);
    await this.runUntilQuiet();
  }

  /**
   * The person saves a card as their app does ({@link saveCardThroughUseCases}): a set-up,
   * confirmed, and the provider's word recorded. `paymentMethodId` is the id the provider
   * gives it (one of Stripe's test cards makes it behave as that card). Returns its id.
   */
  saveCard(personId: PersonId, paymentMethodId?: string): Promise<string> {
    return saveCardThroughUseCases(this.deps, this.gateway, personId, paymentMethodId);
  }

  /** One outbox pass. */
  dispatch(workerId = "memory"): ResultAsync<DispatchReport, UseCaseError> {
    return dispatchOutbox(this.deps, this.ports, this.store, { workerId });
  }

  /**
   * Delivers facts as Stripe's webhooks would: each goes through the same router
   * ({@link applyPaymentFact}) as the production webhook processor.
   */
  deliver(facts: readonly PaymentFact[], actor = "stripe"): ResultAsync<void, FactError> {
    return facts.reduce<ResultAsync<void, FactError>>(
      (chain, f) =>
        chain.andThen(() => applyPaymentFact(this.deps, this.factPorts, f, actor).map(() => undefined)),
      okAsync(undefined),
    );
  }

  /** Runs the outbox, due timers and due settlements until nothing more happens now. */
  async runUntilQuiet(maxPasses = 1_000): Promise<void> {
    for (let pass = 0; pass < maxPasses; pass++) {
      const report = await this.dispatch();
      if (report.isErr()) throw new Error(`dispatch failed: ${report.error.code}`);
      const due = this.timers.takeDue(this.clock.now());
      for (const t of due) {
        const r = await applyTimer(this.deps, t);
        if (r.isErr()) throw new Error(`timer ${t.id} failed: ${r.error.code}`);
      }
      const facts = this.gateway.settleDue();
      const delivered = await this.deliver(this.transformFacts(facts));
      if (delivered.isErr()) throw new Error(`delivery failed: ${delivered.error.code}`);
      if (report.value.claimed === 0 && due.length === 0 && facts.length === 0) return;
    }
    throw new Error("the simulation did not settle");
  }

  /** Moves the clock forward by `ms`, stopping at every timer and settlement on the way. */
  async advance(ms: DurationMs): Promise<void> {
    const target = this.clock.now() + ms;
    await this.runUntilQuiet();
    for (;;) {
      const next = [this.timers.nextAt(), this.gateway.nextSettlementAt()]
        .filter((t): t is Instant => t !== undefined && t <= target)
        .sort((a, b) => a - b)[0];
      if (next === undefined) break;
      this.clock.advanceTo(next);
      await this.runUntilQuiet();
    }
    this.clock.advanceTo(target);
    await this.runUntilQuiet();
  }
}
