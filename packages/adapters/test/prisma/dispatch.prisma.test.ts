// The domain's use cases and outbox dispatcher on PostgreSQL, end to end: two
// dispatchers and two commands racing on one round, and dispatchers that die between
// "Stripe call made" and "result recorded". The fake gateway stands in for Stripe; like
// Stripe, it answers a repeated idempotency key with the first answer.
import {
  DAY_MS,
  type DispatchReport,
  type EffectPorts,
  type Group,
  type OutboxStore,
  type PaymentGateway,
  type Round,
  roundAccounts,
  type StorageError,
  type UseCaseDeps,
  useCaseDepsOn,
  useCases,
} from "@susu/domain";
import {
  anActiveGroup,
  FakePaymentGateway,
  InMemoryTimerScheduler,
  ManualClock,
  RecordingNotifier,
  RecordingSupportDesk,
  SequentialIds,
} from "@susu/domain/testing";
import { okAsync, ResultAsync } from "neverthrow";
import { beforeEach, describe, expect, it } from "vitest";
import { PrismaLedgerStore, PrismaStore } from "../../src/prisma/index.js";
import { storeNewGroup } from "../support/index.js";
import { type TestDatabase, useTestDatabase } from "../support/test-database.js";
import { resetDatabase } from "./reset-database.js";

const START = Date.UTC(2026, 0, 6);
const LEASE_MS = 60_000;

/** Everything one susu deployment needs, on the test database, with a clock the test moves. */
function world(db: TestDatabase) {
  const clock = new ManualClock(START);
  const store = new PrismaStore(db.prisma, { clock });
  const ledger = new PrismaLedgerStore(db.prisma, { clock });
  const gateway = new FakePaymentGateway(() => clock.now(), 3 * DAY_MS);
  const notifier = new RecordingNotifier();
  const desk = new RecordingSupportDesk();
  const timers = new InMemoryTimerScheduler();
  const deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
  const ports: EffectPorts = { gateway, notifier, desk, timers, ledger };
  const dispatch = (
    workerId: string,
    options: { ports?: EffectPorts; outbox?: OutboxStore; deps?: UseCaseDeps } = {},
  ): ResultAsync<DispatchReport, StorageError> =>
    useCases.dispatchOutbox(options.deps ?? deps, options.ports ?? ports, options.outbox ?? store, {
      workerId,
      leaseMs: LEASE_MS,
    });

  /** Runs two dispatchers side by side, and delivers due settlements, until nothing is left to do now. */
  async function runUntilQuiet(): Promise<void> {
    for (let pass = 0; pass < 50; pass++) {
      const reports = await Promise.all([dispatch("w1"), dispatch("w2")]);
      const claimed = reports.reduce((n, r) => n + r._unsafeUnwrap().claimed, 0);
      const facts = gateway.settleDue();
      for (const fact of facts) (await useCases.applyRoundFact(deps, fact, "stripe:webhook"))._unsafeUnwrap();
      if (claimed === 0 && facts.length === 0) return;
    }
    throw new Error("the dispatchers did not settle");
  }

  async function startedRound(): Promise<{ group: Group; round: Round }> {
    const group = anActiveGroup({ startsAt: START });
    await storeNewGroup(store, group);
    for (const m of group.members) gateway.setAccount(`acct_${m.id}`, true);
    const round = (await useCases.startRound(deps, group.id, "scheduler"))._unsafeUnwrap().state;
    return { group, round };
  }

  return { clock, store, ledger, gateway, notifier, deps, ports, dispatch, runUntilQuiet, startedRound };
}

/** One debit per member and attempt at the gateway, and the round holds exactly the payment intent each got. */
async function expectOneDebitPerAttempt(w: ReturnType<typeof world>, roundId: string): Promise<void> {
  const debits = [...w.gateway.debits.values()];
  const keys = debits.map((d) => `${d.references.memberId}:${d.references.attempt}`);
  expect(new Set(keys).size).toBe(keys.length);
  const round = (await w.store.getRound(roundId))._unsafeUnwrap();
  // Every attempt made one debit, but those the outbox did not send (the round had stopped collecting).
  const attempts =
    round?.contributions
      .flatMap((c) => c.attempts.map((a) => ({ memberId: c.memberId, a })))
      .filter(({ a }) => a.failureCode !== "debit_not_sent") ?? [];
  expect(attempts).toHaveLength(debits.length);
  for (const { memberId, a } of attempts) {
    const debit = debits.find((d) => d.references.memberId === memberId && d.references.attempt === a.number);
    expect(a.paymentIntentId).toBe(debit?.paymentIntentId);
  }
}

/** A payment gateway whose process dies right after `createDebit` reached the provider. */
function dyingAfterDebit(gateway: FakePaymentGateway): PaymentGateway {
  return new Proxy<PaymentGateway>(gateway, {
    get(target, property) {
      if (property === "createDebit")
        return (input: Parameters<PaymentGateway["createDebit"]>[0]) =>
          new ResultAsync(
            (async () => {
              await target.createDebit(input);
              throw new Error("dispatcher killed after the debit was created");
            })(),
          );
      const value: unknown = Reflect.get(target, property);
      // Methods run on the gateway itself (its private state is not reachable through the proxy).
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

describe("use cases and dispatchers on PostgreSQL", () => {
  const db = useTestDatabase();
  beforeEach(async () => {
    await resetDatabase(db.prisma);
  });

  it("two dispatchers and two cancels racing on one round: one cancel wins, nothing happens twice", async () => {
    const w = world(db);
    const { group, round } = await w.startedRound();
    const cancel = (admin: string) =>
      useCases.retryOnConflict(() =>
        useCases.applyRoundInput(w.deps, round.id, { type: "cancel", reason: `${admin} cancelled` }, admin),
      );

    const [first, second, cancelA, cancelB] = await Promise.all([
      w.dispatch("w1"),
      w.dispatch("w2"),
      cancel("ana"),
      cancel("ben"),
    ]);

    // The two dispatchers shared the round's four effects (three debits, one timer) between
    // them, and the winning cancel's if it committed before they claimed.
    expect(first._unsafeUnwrap().claimed + second._unsafeUnwrap().claimed).toBeGreaterThanOrEqual(4);
    // One cancel applied; the other, re-run on the new state, was refused: already cancelling.
    const cancels = [cancelA, cancelB];
    expect(cancels.filter((c) => c.isOk() && c.value.ignored === undefined)).toHaveLength(1);
    expect(cancels.filter((c) => c.isErr()).map((c) => c._unsafeUnwrapErr().code)).toEqual([
      "round_not_cancellable",
    ]);
    // A debit a dispatcher sent before the cancel committed is made; one it came to after is
    // not sent (the round no longer collects): which, the race decides.
    expect(w.gateway.debits.size).toBeLessThanOrEqual(3);

    // The debits made settle three days later; the cancelled round refunds each of them and ends.
    await w.runUntilQuiet();
    w.clock.advance(3 * DAY_MS);
    await w.runUntilQuiet();

    await expectOneDebitPerAttempt(w, round.id);
    const ended = (await w.store.getRound(round.id))._unsafeUnwrap();
    expect(ended?.status).toBe("cancelled");
    const made = w.gateway.debits.size;
    // Each contribution refunded (its debit was made) or failed as not sent, never both.
    expect(ended?.contributions.map((c) => c.status).sort()).toEqual(
      [...Array(made).fill("refunded"), ...Array(3 - made).fill("failed")].sort(),
    );
    for (const c of ended?.contributions ?? [])
      if (c.status === "failed") expect(c.attempts.map((a) => a.failureCode)).toEqual(["debit_not_sent"]);
    expect([...w.gateway.refunds.values()].map((r) => r.paymentIntentId).sort()).toEqual(
      [...w.gateway.debits.keys()].sort(),
    );
    const sent = (template: string) => w.notifier.sent.filter((n) => n.template === template).length;
    expect([sent("round_cancelling"), sent("round_cancelled")]).toEqual([1, 1]);
    expect((await w.store.getGroup(group.id))._unsafeUnwrap()?.currentRoundId).toBeUndefined();

    // Every effect ran to completion once; the money is back where it started.
    expect(await db.prisma.outboxEffect.count({ where: { status: { not: "done" } } })).toBe(0);
    const audit = await db.prisma.auditLogEntry.findMany({ where: { action: "cancel" } });
    expect(audit.map((a) => a.outcome)).toEqual(["applied"]);
    expect((await w.ledger.checkLedger())._unsafeUnwrap().agrees).toBe(true);
    for (const account of [roundAccounts.pot(round.id), roundAccounts.inFlight(round.id)])
      expect((await w.ledger.balance(account, "AUD"))._unsafeUnwrap().amountMinor).toBe(0);
    const rows = await db.prisma.contribution.findMany({ where: { roundId: round.id } });
    expect(rows.map((r) => r.status).sort()).toEqual(ended?.contributions.map((c) => c.status).sort());
  });

  describe("a dispatcher that dies after Stripe was called: the next one finishes with exactly one debit", () => {
    it("dies before the result reached the round (then its lease runs out)", async () => {
      const w = world(db);
      const { round } = await w.startedRound();

      const died = await w
        .dispatch("w1", { ports: { ...w.ports, gateway: dyingAfterDebit(w.gateway) } })
        .then(
          () => "survived",
          (error: unknown) => (error instanceof Error ? error.message : String(error)),
        );
      expect(died).toBe("dispatcher killed after the debit was created");
      expect(w.gateway.debits.size).toBe(1);
      const stuck = (await w.store.getRound(round.id))._unsafeUnwrap();
      expect(stuck?.contributions[0]?.attempts[0]?.status).toBe("requested");

      // The dead worker's lease still holds everything it claimed.
      expect((await w.dispatch("w2"))._unsafeUnwrap().claimed).toBe(0);
      w.clock.advance(LEASE_MS + 1);
      const report = (await w.dispatch("w2"))._unsafeUnwrap();
      expect(report).toMatchObject({ claimed: 4, completed: 4 });

      expect(w.gateway.debits.size).toBe(3);
      await expectOneDebitPerAttempt(w, round.id);
      const recovered = (await w.store.getRound(round.id))._unsafeUnwrap();
      expect(recovered?.contributions.map((c) => c.status)).toEqual([
        "processing",
        "processing",
        "processing",
      ]);
    });

    it("dies once the result and the effect's completion are committed, before it heard back: nothing runs again", async () => {
      const w = world(db);
      const { round } = await w.startedRound();
      // The process dies right after the database committed ana's result: the commit that
      // records a debit's answer marks its effect done too, so there is no gap in between.
      let killed = false;
      const dyingAfterCommit: UseCaseDeps = {
        ...w.deps,
        uow: {
          commit: (changes) =>
            w.store.commit(changes).andThen((): ResultAsync<void, StorageError> => {
              if (killed || changes.outboxDone === undefined) return okAsync(undefined);
              killed = true;
              return new ResultAsync(Promise.reject(new Error("dispatcher killed after the commit")));
            }),
        },
      };

      await expect(w.dispatch("w1", { deps: dyingAfterCommit })).rejects.toThrow(
        "dispatcher killed after the commit",
      );
      const recorded = (await w.store.getRound(round.id))._unsafeUnwrap();
      expect(recorded?.contributions[0]?.attempts[0]?.status).toBe("processing");
      const done = await db.prisma.outboxEffect.findMany({
        where: { status: "done" },
        select: { id: true },
        orderBy: { sequence: "asc" },
      });
      // The debit's effect, and the ledger posting its result decided, posted in that same commit.
      const effectId = recorded?.contributions[0]?.attempts[0]?.effectId;
      expect(done.map((d) => d.id)).toEqual([effectId, `${effectId}:initiated`]);
      // The result and the completion were one transaction.
      const [same] = await db.prisma.$queryRawUnsafe<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM outbox_effects o JOIN audit_log a ON a.actor = 'effect:' || o.id
          WHERE o.status = 'done' AND a.xmin = o.xmin`,
      );
      expect(same?.n).toBe(1);

      w.clock.advance(LEASE_MS + 1);
      // The three effects w1 had claimed and not finished, and the debit-initiated notice ana's
      // recorded result added (its ledger posting was made in the commit).
      expect((await w.dispatch("w2"))._unsafeUnwrap()).toMatchObject({ claimed: 4, completed: 4 });
      await w.runUntilQuiet();

      expect(w.gateway.debits.size).toBe(3);
      await expectOneDebitPerAttempt(w, round.id);
      // Ana's debit was not asked for again: no replayed result.
      const replays = await db.prisma.auditLogEntry.findMany({
        where: { action: "debit_processing", actor: { startsWith: "effect:" } },
      });
      expect(replays.map((r) => r.outcome)).toEqual(["applied", "applied", "applied"]);
      expect(
        (await w.ledger.balance(roundAccounts.inFlight(round.id), "AUD"))._unsafeUnwrap().amountMinor,
      ).toBe(3 * 100_00);
      expect((await w.ledger.checkLedger())._unsafeUnwrap().agrees).toBe(true);
    });

    it("dies after an effect with no result to record ran, before it was marked done: run again, once more only", async () => {
      const w = world(db);
      const { round } = await w.startedRound();
      let killed = false;
      const dyingOutbox: OutboxStore = {
        claimDue: (...args) => w.store.claimDue(...args),
        fail: (...args) => w.store.fail(...args),
        release: (...args) => w.store.release(...args),
        complete: (...args) => {
          if (killed) return w.store.complete(...args);
          killed = true;
          return new ResultAsync(Promise.reject(new Error("dispatcher killed before complete")));
        },
      };

      // The debits' results complete their effects in their commits; the first effect the
      // dispatcher completes itself is the collection deadline's timer.
      await expect(w.dispatch("w1", { outbox: dyingOutbox })).rejects.toThrow(
        "dispatcher killed before complete",
      );
      const recorded = (await w.store.getRound(round.id))._unsafeUnwrap();
      expect(recorded?.contributions.map((c) => c.attempts[0]?.status)).toEqual([
        "processing",
        "processing",
        "processing",
      ]);

      w.clock.advance(LEASE_MS + 1);
      // The timer again, and each recorded debit's notice (their ledger postings were made in
      // the commits that recorded them).
      expect((await w.dispatch("w2"))._unsafeUnwrap()).toMatchObject({ claimed: 4, completed: 4 });
      await w.runUntilQuiet();

      expect(w.gateway.debits.size).toBe(3);
      await expectOneDebitPerAttempt(w, round.id);
      expect((await w.ledger.checkLedger())._unsafeUnwrap().agrees).toBe(true);
    });

    it("loses Stripe's answer (outcome unknown): retried later with the same key", async () => {
      const w = world(db);
      const { round } = await w.startedRound();
      w.gateway.injectFault("createDebit", "lost_reply");

      const report = (await w.dispatch("w1"))._unsafeUnwrap();
      expect(report).toMatchObject({ claimed: 4, completed: 3, retried: 1 });
      expect(w.gateway.debits.size).toBe(3);

      w.clock.advance(DEFAULT_RETRY_CEILING_MS);
      await w.runUntilQuiet();
      expect(w.gateway.debits.size).toBe(3);
      await expectOneDebitPerAttempt(w, round.id);
      const row = await db.prisma.outboxEffect.findUniqueOrThrow({
        where: { id: `${round.id}:contribution:ana:attempt:1` },
      });
      expect(row).toMatchObject({ status: "done", attempts: 1 });
    });

    it("hands a debit's first attempt the effect's creation time (not its claim's), and a retry after a recorded failure none, so the gateway looks first", async () => {
      const w = world(db);
      const { round } = await w.startedRound();
      const decidedAt = w.clock.now();
      const seen: Parameters<PaymentGateway["createDebit"]>[0][] = [];
      const recording = new Proxy<PaymentGateway>(w.gateway, {
        get(target, property) {
          const value: unknown = Reflect.get(target, property);
          if (property === "createDebit")
            return (input: Parameters<PaymentGateway["createDebit"]>[0]) => {
              seen.push(input);
              return target.createDebit(input);
            };
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
      const ports = { ...w.ports, gateway: recording };
      w.gateway.injectFault("createDebit", "lost_reply");

      w.clock.advance(5 * 60_000);
      (await w.dispatch("w1", { ports }))._unsafeUnwrap();
      w.clock.advance(DEFAULT_RETRY_CEILING_MS);
      (await w.dispatch("w2", { ports }))._unsafeUnwrap();

      const ana = seen.filter((input) => input.idempotencyKey === `${round.id}:contribution:ana:attempt:1`);
      expect(ana).toHaveLength(2);
      expect(seen.length).toBeGreaterThanOrEqual(4);
      // The first attempt of every debit: the time the round decided it, 5 minutes before the claim.
      const firsts = seen.filter((input) => input !== ana[1]);
      for (const input of firsts) expect(input.effectCreatedAt).toBe(decidedAt);
      // Ana's retry follows a recorded failure (Stripe's answer lost): the gateway must look for
      // an object the first attempt may have made, whatever the key's age.
      expect(ana[1]?.effectCreatedAt).toBeUndefined();
    });

    it("a parked debit a person requeues is claimed at 0 attempts as failed before, and its run hands no creation time, so the gateway looks first", async () => {
      const w = world(db);
      const { round } = await w.startedRound();
      const decidedAt = w.clock.now();
      const anaId = `${round.id}:contribution:ana:attempt:1`;
      // Ana's debit was sent and parked (Stripe answered 500 and the error was final); the others wait.
      const claimed = (await w.store.claimDue("w0", w.clock.now(), LEASE_MS, 100))._unsafeUnwrap();
      expect(claimed.map((r) => r.effect.id)).toContain(anaId);
      (await w.store.fail(anaId, "w0", "stripe answered 500 (test)", undefined))._unsafeUnwrap();
      const others = claimed.map((r) => r.effect.id).filter((id) => id !== anaId);
      expect((await w.store.release("w0", others))._unsafeUnwrap()).toBe(others.length);

      // Within Stripe's key window: the age rule alone would trust the key.
      w.clock.advance(3_600_000);
      expect((await w.store.requeueParked(anaId, w.clock.now()))._unsafeUnwrap()).toBe("requeued");
      const again = (await w.store.claimDue("peek", w.clock.now(), 1, 100))._unsafeUnwrap();
      const requeued = again.find((r) => r.effect.id === anaId);
      expect(requeued).toMatchObject({ attempts: 0, createdAt: decidedAt, failedBefore: true });
      for (const r of again.filter((r) => r.effect.id !== anaId)) expect(r.failedBefore).toBe(false);
      // Given back unstarted (a lease left to run out would say they may have been tried).
      expect(
        (
          await w.store.release(
            "peek",
            again.map((r) => r.effect.id),
          )
        )._unsafeUnwrap(),
      ).toBe(again.length);
      w.clock.advance(1);

      const seen: Parameters<PaymentGateway["createDebit"]>[0][] = [];
      const recording = new Proxy<PaymentGateway>(w.gateway, {
        get(target, property) {
          const value: unknown = Reflect.get(target, property);
          if (property === "createDebit")
            return (input: Parameters<PaymentGateway["createDebit"]>[0]) => {
              seen.push(input);
              return target.createDebit(input);
            };
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
      (await w.dispatch("w1", { ports: { ...w.ports, gateway: recording } }))._unsafeUnwrap();
      const ana = seen.filter((input) => input.idempotencyKey === anaId);
      expect(ana).toHaveLength(1);
      expect(ana[0]?.effectCreatedAt).toBeUndefined();
      // The debits that never failed still pass on when they were decided.
      const firsts = seen.filter((input) => input.idempotencyKey !== anaId);
      expect(firsts.length).toBeGreaterThanOrEqual(2);
      for (const input of firsts) expect(input.effectCreatedAt).toBe(decidedAt);
    });
  });
});

/** Longer than the dispatcher's first retry delay can be (DEFAULT_EFFECT_RETRY: 5 s base, full jitter). */
const DEFAULT_RETRY_CEILING_MS = 60_000;
