// The in-memory adapters' operator ports behave as the PostgreSQL ones (tested through the
// API in apps/api/test/v1): the ledger read by round, and parked outbox effects requeued.
import { describe, expect, it } from "vitest";
import { debitInitiated, debitSettled } from "../ledger/index.js";
import { money } from "../money/index.js";
import type { OutboxEffect } from "../ports/outbox-effect.js";
import type { Changeset } from "../ports/storage.js";
import { InMemoryLedgerStore } from "./in-memory-ledger.js";
import { InMemoryStore } from "./in-memory-store.js";

const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };

describe("InMemoryLedgerStore as a LedgerReader", () => {
  it("sums the rounds' postings by account and pages their transactions oldest first", async () => {
    const ledger = new InMemoryLedgerStore(() => 42);
    const amount = money(10_00, "AUD");
    for (const tx of [
      debitInitiated({ id: "b", roundId: "r1", memberId: "ana", amount, occurredAt: 2 }),
      debitInitiated({ id: "a", roundId: "r1", memberId: "ben", amount, occurredAt: 1 }),
      debitSettled({ id: "c", roundId: "r1", memberId: "ana", amount, occurredAt: 3 }),
      debitInitiated({ id: "x", roundId: "r2", memberId: "cy", amount, occurredAt: 1 }),
    ])
      (await ledger.post(tx._unsafeUnwrap()))._unsafeUnwrap();
    const balances = (await ledger.balancesOfRounds(["r1"]))._unsafeUnwrap();
    expect(balances).toEqual([
      { account: "round:r1:contributions:ana", balance: money(-10_00, "AUD") },
      { account: "round:r1:contributions:ben", balance: money(-10_00, "AUD") },
      { account: "round:r1:in_flight", balance: money(10_00, "AUD") },
      { account: "round:r1:pot", balance: money(10_00, "AUD") },
    ]);
    const first = (await ledger.transactionsOfRounds(["r1"], { limit: 2 }))._unsafeUnwrap();
    expect(first.items.map((i) => i.transaction.id)).toEqual(["a", "b"]);
    expect(first).toMatchObject({ hasMore: true, items: [{ recordedAt: 42 }, { recordedAt: 42 }] });
    const next = (
      await ledger.transactionsOfRounds(["r1"], { limit: 2, startingAfter: "b" })
    )._unsafeUnwrap();
    expect(next.items.map((i) => i.transaction.id)).toEqual(["c"]);
    expect(next.hasMore).toBe(false);
    const foreign = (
      await ledger.transactionsOfRounds(["r1"], { limit: 2, startingAfter: "x" })
    )._unsafeUnwrap();
    expect(foreign.items).toEqual([]);
  });
});

describe("InMemoryStore as OutboxOperations", () => {
  const timer = (id: string): OutboxEffect => ({
    kind: "schedule_timer",
    id,
    aggregate: "round",
    aggregateId: "r1",
    at: 0,
    timer: { kind: "collection_deadline" },
  });

  it("lists parked effects and requeues them due now with a fresh retry budget", async () => {
    const store = new InMemoryStore();
    (await store.commit({ ...empty, outbox: [timer("e1"), timer("e2"), timer("e3")] }))._unsafeUnwrap();
    for (const r of (await store.claimDue("w", 0, 1000, 10))._unsafeUnwrap())
      if (r.effect.id !== "e3") (await store.fail(r.effect.id, "w", "down", undefined))._unsafeUnwrap();
    const parked = (await store.listOutbox({ status: "parked", limit: 1 }))._unsafeUnwrap();
    expect(parked).toMatchObject({ hasMore: true, items: [{ id: "e1", attempts: 1, lastError: "down" }] });
    expect((await store.requeueParked("e1", 500))._unsafeUnwrap()).toBe("requeued");
    expect((await store.requeueParked("e1", 500))._unsafeUnwrap()).toBe("not_parked");
    expect((await store.requeueParked("nope", 500))._unsafeUnwrap()).toBe("not_found");
    expect((await store.requeueAllParked(500))._unsafeUnwrap()).toBe(1);
    // e3 was never parked: it stays w's until its lease ends at 1000.
    const due = (await store.claimDue("w2", 1000, 1000, 10))._unsafeUnwrap();
    expect(due.map((r) => [r.effect.id, r.attempts])).toEqual([
      ["e1", 0],
      ["e2", 0],
      ["e3", 0],
    ]);
  });

  it("dismisses a parked effect: never claimed, left by replay-all, audited, undone by a replay by id", async () => {
    const store = new InMemoryStore();
    (await store.commit({ ...empty, outbox: [timer("d1"), timer("d2")] }))._unsafeUnwrap();
    for (const r of (await store.claimDue("w", 0, 1000, 10))._unsafeUnwrap())
      if (r.effect.id === "d1") (await store.fail(r.effect.id, "w", "down", undefined))._unsafeUnwrap();
    const dismissal = { by: "ops_ana", reason: "paid by hand", at: 7 };
    expect((await store.dismissParked("d2", dismissal))._unsafeUnwrap()).toEqual({ outcome: "not_parked" });
    expect((await store.dismissParked("nope", dismissal))._unsafeUnwrap()).toEqual({ outcome: "not_found" });
    expect((await store.dismissParked("d1", dismissal))._unsafeUnwrap()).toEqual({
      outcome: "dismissed",
      ticketResolved: false,
    });
    expect((await store.listOutbox({ status: "dismissed", limit: 5 }))._unsafeUnwrap().items).toEqual([
      expect.objectContaining({ id: "d1", status: "dismissed", attempts: 1, lastError: "down" }),
    ]);
    expect(store.audit().map((a) => [a.aggregate, a.aggregateId, a.action, a.actor, a.detail])).toEqual([
      ["outbox_effect", "d1", "dismiss_parked", "operator:ops_ana", "paid by hand"],
      ["round", "r1", "dismiss_parked", "operator:ops_ana", "d1 (schedule_timer): paid by hand"],
    ]);
    expect((await store.requeueAllParked(2000))._unsafeUnwrap()).toBe(0);
    expect((await store.claimDue("w2", 2000, 1000, 10))._unsafeUnwrap().map((r) => r.effect.id)).toEqual([
      "d2",
    ]);
    expect((await store.requeueParked("d1", 2000))._unsafeUnwrap()).toBe("requeued");
    expect((await store.claimDue("w3", 3000, 1000, 10))._unsafeUnwrap().map((r) => r.effect.id)).toEqual([
      "d1",
      "d2",
    ]);
  });
});
