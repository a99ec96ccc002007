// A whole round on the real adapters — PostgreSQL (PrismaStore, PrismaLedgerStore), the
// Stripe gateway through the official SDK, the emulator — with the dispatcher "killed"
// between a Stripe call and the recording of its result, for the debits and for the
// transfers. Another dispatcher takes over when the lease ends. Stripe must hold exactly
// one PaymentIntent per debit and one Transfer per contribution charge; the books balance.
import {
  type EffectPorts,
  type PaymentGateway,
  type Person,
  roundMoney,
  type UseCaseDeps,
  useCaseDepsOn,
  useCases,
} from "@susu/domain";
import {
  anActiveGroup,
  InMemoryTimerScheduler,
  ManualClock,
  RecordingNotifier,
  RecordingSupportDesk,
  SequentialIds,
} from "@susu/domain/testing";
import type { ResultAsync } from "neverthrow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PrismaLedgerStore, PrismaStore } from "../../src/prisma/index.js";
import type { StripePaymentGateway } from "../../src/stripe/index.js";
import {
  roundFacts,
  type StripeHarness,
  startStripeHarness,
  translateAll,
} from "../stripe/emulator-harness.js";
import { useTestDatabase } from "../support/index.js";

const db = useTestDatabase();

class ProcessDied extends Error {}

/** The real gateway, except that the first call of `op` dies after Stripe answered. */
function dyingOnce(real: StripePaymentGateway, op: "createDebit" | "createTransfer"): PaymentGateway {
  let dead = false;
  const die = <T, E>(call: () => ResultAsync<T, E>) =>
    call().map((value) => {
      if (!dead) {
        dead = true;
        throw new ProcessDied(`died after ${op} returned`);
      }
      return value;
    });
  return new Proxy(real, {
    get(target, prop, receiver) {
      const original = Reflect.get(target, prop, receiver);
      if (prop !== op || typeof original !== "function")
        return typeof original === "function" ? original.bind(target) : original;
      return (...args: unknown[]) => die(() => original.apply(target, args));
    },
  });
}

describe("a round on PostgreSQL and the emulator, with dispatchers dying mid-effect", () => {
  let harness: StripeHarness;
  let store: PrismaStore;
  let ledger: PrismaLedgerStore;
  let deps: UseCaseDeps;
  const clock = new ManualClock(Date.UTC(2026, 5, 1));
  const members = ["ana", "ben", "cy"];

  beforeAll(async () => {
    harness = await startStripeHarness();
    store = new PrismaStore(db.prisma);
    ledger = new PrismaLedgerStore(db.prisma);
    deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    const group = anActiveGroup({ id: "grp_e2e", memberIds: members, startsAt: clock.now() - 1 });
    // Each member is a person with a real customer, mandate and connected account at the emulator.
    const people: Person[] = [];
    for (const m of members) {
      const saved = await harness.customerWithMandate(m, "000123456");
      const account = await harness.driver.connectedAccount({ canReceive: true });
      people.push({
        id: m,
        displayName: m,
        customerId: saved.customerId,
        debit: { paymentMethodId: saved.paymentMethodId, mandateId: saved.mandateId, mandateActive: true },
        payout: { connectedAccountId: account, payoutsEnabled: true },
        createdAt: clock.now(),
        version: 0,
      });
    }
    (
      await deps.uow.commit({
        people: people.map((state) => ({ state, expectedVersion: undefined })),
        groups: [{ state: group, expectedVersion: undefined }],
        rounds: [],
        outbox: [],
        audit: [],
      })
    )._unsafeUnwrap();
    await harness.events.skipExisting();
  });
  afterAll(async () => {
    await harness?.emulator.stop();
  });

  const ports = (gateway: PaymentGateway): EffectPorts => ({
    gateway,
    notifier: new RecordingNotifier(),
    desk: new RecordingSupportDesk(),
    timers: new InMemoryTimerScheduler(),
    ledger,
  });

  /** One dispatcher pass; a pass that "dies" leaves its claims leased. */
  async function pass(gateway: PaymentGateway, workerId: string): Promise<"ok" | "died"> {
    try {
      const report = await useCases.dispatchOutbox(deps, ports(gateway), store, {
        workerId,
        leaseMs: 60_000,
      });
      if (report.isErr()) throw new Error(report.error.message);
      return "ok";
    } catch (error) {
      if (error instanceof ProcessDied) return "died";
      throw error;
    }
  }

  async function drain(gateway: PaymentGateway, workerId: string): Promise<void> {
    for (let i = 0; i < 10; i++) {
      const claimed = await store.claimDue("probe", clock.now(), 1, 1);
      // claimDue above took a 1 ms lease only to look; let it lapse.
      clock.advance(2);
      if (claimed._unsafeUnwrap().length === 0) return;
      await pass(gateway, workerId);
    }
  }

  it("debits: one PaymentIntent each, though the first dispatcher died after creating one", async () => {
    const round = (await useCases.startRound(deps, "grp_e2e", "scheduler"))._unsafeUnwrap().state;
    expect(await pass(dyingOnce(harness.gateway, "createDebit"), "dispatcher-1")).toBe("died");
    // dispatcher-1 is gone; its lease ends and dispatcher-2 runs everything still pending.
    clock.advance(61_000);
    await drain(harness.gateway, "dispatcher-2");
    expect(await harness.driver.debitCount(round.transferGroup)).toBe(3);
    const stored = (await store.getRound(round.id))._unsafeUnwrap();
    expect(stored?.contributions.map((c) => c.status)).toEqual(["processing", "processing", "processing"]);
  });

  it("transfers: one per contribution charge, though a dispatcher died after creating one", async () => {
    const [round] = (await store.listRoundsOfGroup("grp_e2e"))._unsafeUnwrap();
    if (!round) throw new Error("no round");
    // The bank settles; Stripe's events reach the round as the webhook processor would feed them.
    await harness.emulator.control.advanceClock(3 * 86_400 + 60);
    for (const fact of roundFacts(await translateAll(harness.gateway, await harness.events.next())))
      (await useCases.applyPaymentFact(deps, { reader: harness.gateway }, fact, "stripe"))._unsafeUnwrap();
    expect((await store.getRound(round.id))._unsafeUnwrap()?.status).toBe("paying_out");

    expect(await pass(dyingOnce(harness.gateway, "createTransfer"), "dispatcher-3")).toBe("died");
    clock.advance(61_000);
    await drain(harness.gateway, "dispatcher-4");

    expect(await harness.driver.transferCount(round.transferGroup)).toBe(3);
    const paid = (await store.getRound(round.id))._unsafeUnwrap();
    expect(paid?.status).toBe("paid_out");
    const books = await ledger.loadLedger();
    const money = roundMoney(books._unsafeUnwrap(), round.id, "AUD");
    expect(money).toMatchObject({
      contributedMinor: 300_00,
      paidOutMinor: 300_00,
      heldMinor: 0,
      inFlightMinor: 0,
    });
    expect((await ledger.checkLedger())._unsafeUnwrap().agrees).toBe(true);
  });
});
