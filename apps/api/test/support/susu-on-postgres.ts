// The whole domain on a test database, for the API tests that drive held payments,
// payouts, memberships and owed money through their lives: the use cases on PrismaStore,
// the ledger on PrismaLedgerStore and the tickets on PrismaSupportDesk (all PostgreSQL),
// with a manual clock, the fake gateways standing in for Stripe, recorders for notices,
// an in-memory timer queue, and a driver that plays the scheduler, the outbox dispatcher
// and Stripe's webhooks — what InMemorySusu does with its in-memory store.
import { type PrismaClient, PrismaLedgerStore, PrismaStore, PrismaSupportDesk } from "@susu/adapters";
import {
  DAY_MS,
  type DispatchReport,
  type DurationMs,
  type EffectPorts,
  type Entitlements,
  type FactError,
  type FactPorts,
  type Instant,
  type PaymentFact,
  type UseCaseDeps,
  type UseCaseError,
  useCaseDepsOn,
  useCases,
} from "@susu/domain";
import {
  aReadyPerson,
  FakeBillingGateway,
  type FakeCheckoutPayment,
  FakePaymentGateway,
  InMemoryTimerScheduler,
  ManualClock,
  RecordingNotifier,
  SequentialIds,
  saveCardThroughUseCases,
} from "@susu/domain/testing";
import { okAsync, type ResultAsync } from "neverthrow";

/** The domain on `prisma`'s database, and the driver of its outside world. */
export class SusuOnPostgres {
  readonly clock: ManualClock;
  readonly store: PrismaStore;
  readonly ledger: PrismaLedgerStore;
  readonly desk: PrismaSupportDesk;
  readonly gateway: FakePaymentGateway;
  /** Stripe Billing (membership plans and subscriptions). */
  readonly billing = new FakeBillingGateway();
  readonly notifier = new RecordingNotifier();
  readonly timers = new InMemoryTimerScheduler();
  readonly deps: UseCaseDeps;
  readonly ports: EffectPorts;
  readonly factPorts: FactPorts;

  constructor(
    readonly prisma: PrismaClient,
    options: {
      readonly start?: Instant;
      readonly settlementDelayMs?: DurationMs;
      /** What people without a membership may do; everything when absent. */
      readonly defaultEntitlements?: Entitlements;
      /** Ids for new rows; default sequential (one world per database). */
      readonly ids?: UseCaseDeps["ids"];
    } = {},
  ) {
    this.clock = new ManualClock(options.start);
    const clock = { now: () => this.clock.now() };
    this.store = new PrismaStore(prisma, { clock });
    this.ledger = new PrismaLedgerStore(prisma, { clock });
    this.desk = new PrismaSupportDesk(prisma, clock);
    this.gateway = new FakePaymentGateway(() => this.clock.now(), options.settlementDelayMs ?? 3 * DAY_MS);
    this.deps = useCaseDepsOn(this.store, {
      clock: this.clock,
      ids: options.ids ?? new SequentialIds(),
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

  /** A person onboarded as Stripe's webhooks would say: `cus_`, `pm_`, `mandate_` and `acct_<id>`. */
  onboardPerson(personId: string, options: { readonly canReceive?: boolean } = {}) {
    const accountId = `acct_${personId}`;
    const canReceive = options.canReceive ?? true;
    this.gateway.setAccount(accountId, canReceive);
    return useCases
      .updatePersonPayment(
        this.deps,
        personId,
        {
          customerId: `cus_${personId}`,
          debit: { paymentMethodId: `pm_${personId}`, mandateId: `mandate_${personId}`, mandateActive: true },
          connectedAccountId: accountId,
        },
        "test",
      )
      .andThen(() =>
        useCases.updatePersonReadiness(this.deps, personId, { payoutsEnabled: canReceive }, "test"),
      );
  }

  /** A seller with a connected account (`acct_<id>`) that can receive unless `canReceive` is false. */
  addSeller(personId: string, options: { readonly canReceive?: boolean } = {}): ResultAsync<void, unknown> {
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

  /** The customer pays a held payment's checkout page; Stripe's word is delivered, the outbox run. */
  async payCheckout(heldPaymentId: string, how: FakeCheckoutPayment): Promise<void> {
    const payment = (await this.store.getHeldPayment(heldPaymentId))._unsafeUnwrap();
    const sessionId = payment?.checkoutSessionId;
    if (sessionId === undefined) throw new Error(`held payment ${heldPaymentId} has no checkout session yet`);
    const delivered = await this.deliver(this.gateway.payCheckout(sessionId, how));
    if (delivered.isErr()) throw new Error(`delivery failed: ${delivered.error.code}`);
    await this.runUntilQuiet();
  }

  /** The person saves a card as their app does; returns its id. */
  saveCard(personId: string, paymentMethodId?: string): Promise<string> {
    return saveCardThroughUseCases(this.deps, this.gateway, personId, paymentMethodId);
  }

  /** One outbox pass. */
  dispatch(workerId = "postgres"): ResultAsync<DispatchReport, UseCaseError> {
    return useCases.dispatchOutbox(this.deps, this.ports, this.store, { workerId });
  }

  /** Delivers facts as Stripe's webhooks would, through the production router. */
  deliver(facts: readonly PaymentFact[], actor = "stripe"): ResultAsync<void, FactError> {
    return facts.reduce<ResultAsync<void, FactError>>(
      (chain, f) =>
        chain.andThen(() =>
          useCases.applyPaymentFact(this.deps, this.factPorts, f, actor).map(() => undefined),
        ),
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
        const r = await useCases.applyTimer(this.deps, t);
        if (r.isErr()) throw new Error(`timer ${t.id} failed: ${r.error.code}`);
      }
      const facts = this.gateway.settleDue();
      const delivered = await this.deliver(facts);
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
