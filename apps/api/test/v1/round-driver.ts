// What the rounds and audit tests share: the use cases, the ledger and the support desk on
// PostgreSQL with a manual clock and the fake gateway, a group set up and ready to open rounds, and a driver that plays
// the outbox dispatcher, the timers and Stripe's webhooks (as InMemorySusu does in memory).
import { PrismaLedgerStore, PrismaStore, PrismaSupportDesk } from "@susu/adapters";
import type { TestDatabase } from "@susu/adapters/testing";
import {
  DAY_MS,
  type DurationMs,
  type Instant,
  type LedgerStore,
  type SupportDesk,
  useCaseDepsOn,
  useCases,
} from "@susu/domain";
import {
  FakePaymentGateway,
  InMemoryTimerScheduler,
  ManualClock,
  RecordingNotifier,
  SequentialIds,
} from "@susu/domain/testing";
import { authed, testApp, tokenFor } from "../support/app.js";

/**
 * The app on `db` with everything a round needs, and the driver of its outside world. The
 * dispatcher posts to the ledger and opens tickets in `db` (PrismaLedgerStore,
 * PrismaSupportDesk on the world's clock) unless `ports` gives others.
 */
export function roundWorld(
  db: TestDatabase,
  ports: { readonly ledger?: LedgerStore; readonly desk?: SupportDesk } = {},
) {
  const clock = new ManualClock(Date.UTC(2026, 5, 1));
  const gateway = new FakePaymentGateway(() => clock.now());
  const store = new PrismaStore(db.prisma);
  const deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
  const timers = new InMemoryTimerScheduler();
  const notifier = new RecordingNotifier();
  const effectPorts = {
    gateway,
    notifier,
    desk: ports.desk ?? new PrismaSupportDesk(db.prisma, clock),
    timers,
    ledger: ports.ledger ?? new PrismaLedgerStore(db.prisma, { clock }),
  };
  const app = testApp({ useCases: deps, gateway, prisma: db.prisma });

  /** Runs the outbox, due timers and due settlements until nothing more happens now. */
  async function runUntilQuiet(): Promise<void> {
    for (let pass = 0; pass < 200; pass++) {
      const report = (
        await useCases.dispatchOutbox(deps, effectPorts, store, { workerId: "test" })
      )._unsafeUnwrap();
      const due = timers.takeDue(clock.now());
      for (const t of due) (await useCases.applyTimer(deps, t))._unsafeUnwrap();
      const facts = gateway.settleDue();
      for (const fact of facts)
        (await useCases.applyPaymentFact(deps, { reader: gateway }, fact, "stripe"))._unsafeUnwrap();
      if (report.claimed === 0 && due.length === 0 && facts.length === 0) return;
    }
    throw new Error("the round did not settle");
  }

  /** Moves the clock forward by `ms`, stopping at every timer and settlement on the way. */
  async function advance(ms: DurationMs): Promise<void> {
    const target = clock.now() + ms;
    await runUntilQuiet();
    for (;;) {
      const next = [timers.nextAt(), gateway.nextSettlementAt()]
        .filter((t): t is Instant => t !== undefined && t <= target)
        .sort((a, b) => a - b)[0];
      if (next === undefined) break;
      clock.advanceTo(next);
      await runUntilQuiet();
    }
    clock.advanceTo(target);
    await runUntilQuiet();
  }

  /** Records a person's finished onboarding as Stripe's webhooks would: a mandate and an account that can receive. */
  async function onboarded(personId: string): Promise<void> {
    gateway.setAccount(`acct_${personId}`, true);
    (
      await useCases.updatePersonPayment(
        deps,
        personId,
        {
          customerId: `cus_${personId}`,
          debit: { paymentMethodId: `pm_${personId}`, mandateId: `mandate_${personId}`, mandateActive: true },
          connectedAccountId: `acct_${personId}`,
        },
        "stripe",
      )
    )._unsafeUnwrap();
    (
      await useCases.updatePersonReadiness(deps, personId, { payoutsEnabled: true }, "stripe")
    )._unsafeUnwrap();
  }

  /**
   * A group made through the API by `admin`, joined by `others`, everyone onboarded,
   * activated, and (unless `due` is false) the clock moved past its start: a round is due.
   */
  async function readyGroup(
    admin: string,
    others: readonly string[],
    options: { readonly due?: boolean } = {},
  ): Promise<string> {
    const created = await app.request(
      "/v1/groups",
      authed(await tokenFor(admin), "POST", {
        name: `${admin}'s savers`,
        currency: "AUD",
        contributionMinor: 100_00,
        cadence: "weekly",
        startsAt: new Date(clock.now() + DAY_MS).toISOString(),
        payoutOrderMethod: "join_order",
        displayName: admin.toUpperCase(),
      }),
    );
    if (created.status !== 201) throw new Error(`group not created: ${await created.text()}`);
    const { id } = (await created.json()) as { id: string };
    for (const m of others)
      (await useCases.joinGroup(deps, id, { id: m, displayName: m.toUpperCase() }))._unsafeUnwrap();
    for (const m of [admin, ...others]) await onboarded(m);
    (await useCases.activateGroup(deps, id, admin))._unsafeUnwrap();
    if (options.due !== false) clock.advance(2 * DAY_MS);
    return id;
  }

  return {
    app,
    clock,
    gateway,
    store,
    deps,
    timers,
    notifier,
    advance,
    runUntilQuiet,
    onboarded,
    readyGroup,
  };
}
