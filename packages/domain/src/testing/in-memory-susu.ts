import { okAsync, type ResultAsync } from "neverthrow";
import type { PaymentFact } from "../facts/payment-fact.js";
import type { Group } from "../group/group.js";
import type { GroupId, MemberId } from "../group/ids.js";
import { DAY_MS, type DurationMs, type Instant } from "../shared/time.js";
import { applyPaymentFact, type FactError, type FactPorts } from "../use-cases/apply-fact.js";
import type { UseCaseDeps, UseCaseError } from "../use-cases/deps.js";
import { type DispatchReport, dispatchOutbox } from "../use-cases/dispatch-outbox.js";
import type { EffectPorts } from "../use-cases/execute-effect.js";
import { updateMemberPayment, updateMemberReadiness } from "../use-cases/group-use-cases.js";
import { applyRoundInput } from "../use-cases/round-use-cases.js";
import { FakePaymentGateway } from "./fake-payment-gateway.js";
import { InMemoryLedgerStore } from "./in-memory-ledger.js";
import { InMemoryStore } from "./in-memory-store.js";
import { ManualClock } from "./manual-clock.js";
import { InMemoryTimerScheduler, RecordingNotifier, RecordingSupportDesk } from "./recorders.js";
import { SequentialIds } from "./sequential-ids.js";

/**
 * The whole domain wired to in-memory adapters: a manual clock, a fake BECS gateway,
 * recorders for notifications and tickets, and a driver that plays the scheduler, the
 * outbox dispatcher and Stripe's webhooks. Other teams use it to run rounds in tests.
 */
export class InMemorySusu {
  readonly clock: ManualClock;
  readonly store = new InMemoryStore();
  readonly ledger = new InMemoryLedgerStore();
  readonly gateway: FakePaymentGateway;
  readonly notifier = new RecordingNotifier();
  readonly desk = new RecordingSupportDesk();
  readonly timers = new InMemoryTimerScheduler();
  readonly ids = new SequentialIds();
  readonly deps: UseCaseDeps;
  readonly ports: EffectPorts;

  readonly factPorts: FactPorts;

  /** Rewrites each batch of Stripe facts before delivery: tests duplicate, drop or shuffle them here. */
  readonly transformFacts: (facts: PaymentFact[]) => PaymentFact[];

  constructor(
    options: {
      readonly start?: Instant;
      readonly settlementDelayMs?: DurationMs;
      readonly transformFacts?: (facts: PaymentFact[]) => PaymentFact[];
    } = {},
  ) {
    this.clock = new ManualClock(options.start);
    this.transformFacts = options.transformFacts ?? ((facts) => facts);
    this.gateway = new FakePaymentGateway(() => this.clock.now(), options.settlementDelayMs ?? 3 * DAY_MS);
    this.deps = { groups: this.store, rounds: this.store, uow: this.store, clock: this.clock, ids: this.ids };
    this.ports = {
      gateway: this.gateway,
      notifier: this.notifier,
      desk: this.desk,
      timers: this.timers,
      ledger: this.ledger,
    };
    this.factPorts = { reader: this.gateway, directory: this.store };
  }

  /**
   * Gives a member a customer, an active BECS mandate and (optionally) a connected
   * account that can receive, as if they had finished onboarding.
   */
  onboardMember(
    groupId: GroupId,
    memberId: MemberId,
    options: { readonly canReceive?: boolean } = {},
  ): ResultAsync<Group, UseCaseError> {
    const accountId = `acct_${memberId}`;
    this.gateway.setAccount(accountId, options.canReceive ?? true);
    return updateMemberPayment(
      this.deps,
      groupId,
      memberId,
      {
        customerId: `cus_${memberId}`,
        paymentMethodId: `pm_${memberId}`,
        mandateId: `mandate_${memberId}`,
        connectedAccountId: accountId,
      },
      "test",
    ).andThen(() =>
      updateMemberReadiness(
        this.deps,
        groupId,
        memberId,
        { mandateActive: true, payoutsEnabled: options.canReceive ?? true },
        "test",
      ),
    );
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
        const r = await applyRoundInput(this.deps, t.roundId, { type: "timer", timer: t.timer }, "timer");
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
