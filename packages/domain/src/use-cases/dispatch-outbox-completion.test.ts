import { errAsync, type ResultAsync } from "neverthrow";
import { describe, expect, it } from "vitest";
import { debitInitiated, type LedgerTransaction } from "../ledger/index.js";
import { money } from "../money/index.js";
import type { LedgerStore } from "../ports/ledger-store.js";
import type { OutboxEffect } from "../ports/outbox-effect.js";
import {
  type Changeset,
  type OutboxCompletion,
  type OutboxStore,
  type StorageError,
  storageError,
} from "../ports/storage.js";
import { DAY_MS } from "../shared/time.js";
import { FakePaymentGateway } from "../testing/fake-payment-gateway.js";
import { InMemoryLedgerStore } from "../testing/in-memory-ledger.js";
import { InMemoryStore } from "../testing/in-memory-store.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import { ManualClock } from "../testing/manual-clock.js";
import { InMemoryTimerScheduler, RecordingNotifier, RecordingSupportDesk } from "../testing/recorders.js";
import { SequentialIds } from "../testing/sequential-ids.js";
import { type UseCaseDeps, useCaseDepsOn } from "./deps.js";
import { dispatchOutbox } from "./dispatch-outbox.js";
import { activateGroup, createGroup, joinGroup } from "./group-use-cases.js";
import { startRound } from "./round-use-cases.js";

const T = Date.UTC(2026, 0, 6);

function initiated(id: string): LedgerTransaction {
  return debitInitiated({
    id,
    roundId: "round_1",
    memberId: "ana",
    amount: money(100_00, "AUD"),
    occurredAt: T,
  })._unsafeUnwrap();
}

const posting = (transaction: LedgerTransaction): OutboxEffect => ({
  kind: "post_ledger",
  id: transaction.id,
  transaction,
});

/**
 * A ledger stored with the outbox: `postCompleting` posts and completes as one step (or
 * answers `refuse` and does neither). Counts what the dispatcher called.
 */
function world(refuse?: StorageError, elsewhere = false) {
  const clock = new ManualClock(T);
  const store = new InMemoryStore();
  const memory = new InMemoryLedgerStore();
  const calls = { post: 0, postCompleting: 0, complete: 0 };
  const ledger: LedgerStore = {
    post: (t) => {
      calls.post += 1;
      return memory.post(t);
    },
    postCompleting: (t: LedgerTransaction, c: OutboxCompletion): ResultAsync<boolean, StorageError> => {
      calls.postCompleting += 1;
      if (refuse !== undefined) return errAsync(refuse);
      // `elsewhere`: the outbox is not in the ledger's database, so no effect is marked done.
      if (elsewhere) return memory.post(t).map(() => false);
      return memory.post(t).andThen(() => store.complete(c.effectId, c.workerId).map(() => true));
    },
    balance: (account, currency) => memory.balance(account, currency),
  };
  const outbox: OutboxStore = {
    claimDue: (w, now, lease, limit) => store.claimDue(w, now, lease, limit),
    complete: (id, w) => {
      calls.complete += 1;
      return store.complete(id, w);
    },
    fail: (id, w, error, at) => store.fail(id, w, error, at),
    release: (w, ids) => store.release(w, ids),
  };
  const desk = new RecordingSupportDesk();
  const timers = new InMemoryTimerScheduler();
  const ports = {
    gateway: new FakePaymentGateway(() => clock.now()),
    notifier: new RecordingNotifier(),
    desk,
    timers,
    ledger,
  };
  const deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
  const dispatch = () => dispatchOutbox(deps, ports, outbox, { workerId: "w1" });
  return { store, memory, calls, desk, timers, dispatch };
}

const timer: OutboxEffect = {
  kind: "schedule_timer",
  id: "round_1:timer:deadline",
  aggregate: "round",
  aggregateId: "round_1",
  at: T,
  timer: { kind: "collection_deadline" },
};

describe("dispatchOutbox with a ledger that completes its postings", () => {
  it("a posting whose effect the ledger could not mark done is completed through the outbox", async () => {
    const w = world(undefined, true);
    const transaction = initiated("tx_elsewhere");
    (
      await w.store.commit({ people: [], groups: [], rounds: [], outbox: [posting(transaction)], audit: [] })
    )._unsafeUnwrap();
    const report = (await w.dispatch())._unsafeUnwrap();
    expect(report).toMatchObject({ claimed: 1, completed: 1 });
    expect(w.calls).toEqual({ post: 0, postCompleting: 1, complete: 1 });
    // Done, not re-posted on every lease: a second pass claims nothing.
    expect((await w.dispatch())._unsafeUnwrap().claimed).toBe(0);
  });

  it("posts each posting completing its effect with it, and completes the other effects itself", async () => {
    const w = world();
    const transactions = [initiated("tx_a"), initiated("tx_b")];
    const effects = [
      posting(transactions[0] as LedgerTransaction),
      timer,
      posting(transactions[1] as LedgerTransaction),
    ];
    (
      await w.store.commit({ people: [], groups: [], rounds: [], outbox: effects, audit: [] })
    )._unsafeUnwrap();

    const report = (await w.dispatch())._unsafeUnwrap();

    expect(report).toMatchObject({ claimed: 3, completed: 3, retried: 0, parked: 0 });
    expect(w.calls).toEqual({ post: 0, postCompleting: 2, complete: 1 });
    expect(w.memory.snapshot().transactions.map((t) => t.id)).toEqual(["tx_a", "tx_b"]);
    expect(w.timers.takeDue(T).map((t) => t.id)).toEqual([timer.id]);
    // Nothing is left to do: a second pass claims nothing.
    expect((await w.dispatch())._unsafeUnwrap().claimed).toBe(0);
  });

  it("a posting the database could not store is retried later, not completed", async () => {
    const w = world(storageError.unavailable("connection lost"));
    (
      await w.store.commit({
        people: [],
        groups: [],
        rounds: [],
        outbox: [posting(initiated("tx_c"))],
        audit: [],
      })
    )._unsafeUnwrap();

    const report = (await w.dispatch())._unsafeUnwrap();

    expect(report).toMatchObject({ claimed: 1, completed: 0, retried: 1, parked: 0 });
    const pending = (await w.store.listOutbox({ status: "pending", limit: 10 }))._unsafeUnwrap().items;
    expect(pending).toMatchObject([
      { id: "tx_c", attempts: 1, lastError: expect.stringContaining("connection lost") },
    ]);
    expect(w.calls.complete).toBe(0);
  });

  it("a posting the ledger refuses is parked with a ticket", async () => {
    const w = world(storageError.duplicate("duplicate_transaction_conflict: tx_d"));
    (
      await w.store.commit({
        people: [],
        groups: [],
        rounds: [],
        outbox: [posting(initiated("tx_d"))],
        audit: [],
      })
    )._unsafeUnwrap();

    const report = (await w.dispatch())._unsafeUnwrap();

    expect(report).toMatchObject({ claimed: 1, completed: 0, retried: 0, parked: 1 });
    expect((await w.store.listOutbox({ status: "parked", limit: 10 }))._unsafeUnwrap().items).toMatchObject([
      { id: "tx_d" },
    ]);
    expect(w.desk.tickets.map((t) => t.id)).toEqual(["tx_d:parked"]);
  });
});

/** A group of three, onboarded and active, its first round open; every commit and `complete` recorded. */
async function openRound() {
  const sim = new InMemorySusu();
  const created = await createGroup(sim.deps, {
    name: "Family savings",
    currency: "AUD",
    contributionMinor: 50_00,
    cadence: "weekly",
    startsAt: sim.clock.now() + DAY_MS,
    payoutOrderMethod: "join_order",
    creator: { id: "ana", displayName: "Ana" },
  });
  const groupId = created._unsafeUnwrap().id;
  for (const n of ["ben", "cy"])
    (await joinGroup(sim.deps, groupId, { id: n, displayName: n }))._unsafeUnwrap();
  for (const n of ["ana", "ben", "cy"]) (await sim.onboardMember(groupId, n))._unsafeUnwrap();
  (await activateGroup(sim.deps, groupId, "ana"))._unsafeUnwrap();
  sim.clock.advance(DAY_MS);
  const round = (await startRound(sim.deps, groupId, { memberId: "ana" }))._unsafeUnwrap().state;
  const commits: Changeset[] = [];
  const completed: string[] = [];
  let failCommits = false;
  const deps: UseCaseDeps = {
    ...sim.deps,
    uow: {
      commit: (changes) => {
        if (failCommits) return errAsync(storageError.unavailable("connection lost"));
        commits.push(changes);
        return sim.store.commit(changes);
      },
    },
  };
  const outbox: OutboxStore = {
    claimDue: (w, now, lease, limit) => sim.store.claimDue(w, now, lease, limit),
    complete: (id, w) => {
      completed.push(id);
      return sim.store.complete(id, w);
    },
    fail: (id, w, error, at) => sim.store.fail(id, w, error, at),
    release: (w, ids) => sim.store.release(w, ids),
  };
  const dispatch = () => dispatchOutbox(deps, sim.ports, outbox, { workerId: "w1", concurrency: 1 });
  return {
    sim,
    round,
    commits,
    completed,
    dispatch,
    failCommits: () => {
      failCommits = true;
    },
  };
}

describe("dispatchOutbox records an effect's result and its completion in one commit", () => {
  it("a debit's answer is committed with its effect marked done; effects without a result are completed alone", async () => {
    const r = await openRound();
    const collects = r.round.contributions.map((c) => c.attempts[0]?.effectId ?? "");

    const report = (await r.dispatch())._unsafeUnwrap();

    expect(report.parked + report.retried).toBe(0);
    // One commit per debit answer, each carrying its own effect's completion.
    const carried = r.commits.flatMap((c) => (c.outboxDone !== undefined ? [c.outboxDone] : []));
    expect(carried.map((d) => d.effectId)).toEqual(collects);
    expect(carried.every((d) => d.workerId === "w1")).toBe(true);
    expect(r.completed.filter((id) => collects.includes(id))).toEqual([]);
    // The other effects (the deadline's timer) the dispatcher completed itself.
    expect(r.completed.length).toBeGreaterThan(0);
    const pending = (await r.sim.store.listOutbox({ status: "pending", limit: 100 }))._unsafeUnwrap().items;
    expect(pending.filter((e) => collects.includes(e.id))).toEqual([]);
    const stored = (await r.sim.store.getRound(r.round.id))._unsafeUnwrap();
    expect(stored?.contributions.map((c) => c.attempts[0]?.status)).toEqual([
      "processing",
      "processing",
      "processing",
    ]);
  });

  it("an answer that could not be committed leaves its effect pending, to be retried with the same key", async () => {
    const r = await openRound();
    r.failCommits();

    const report = (await r.dispatch())._unsafeUnwrap();

    expect(report.completed).toBeLessThan(report.claimed);
    const pending = (await r.sim.store.listOutbox({ status: "pending", limit: 100 }))._unsafeUnwrap().items;
    for (const c of r.round.contributions) {
      const id = c.attempts[0]?.effectId;
      expect(pending.find((e) => e.id === id)).toMatchObject({ attempts: 1 });
    }
    expect(
      r.completed.filter((id) => r.round.contributions.some((c) => c.attempts[0]?.effectId === id)),
    ).toEqual([]);
  });
});
