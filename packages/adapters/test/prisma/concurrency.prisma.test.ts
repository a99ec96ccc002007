// Two processes on one database, played by two Prisma clients with their own connection
// pools: racing commits on one version, racing inserts of one new aggregate, and two
// dispatchers draining one outbox.
import type { Changeset, OutboxEffect } from "@susu/domain";
import { anActiveGroup, aReadyPerson, aRoundOf } from "@susu/domain/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrismaClient, type PrismaClient } from "../../src/db/prisma-client.js";
import { PrismaStore } from "../../src/prisma/index.js";
import { createTestDatabase, type TestDatabase } from "../support/test-database.js";

const T = Date.UTC(2026, 0, 6);
const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };

describe("two processes on one database", () => {
  let db: TestDatabase;
  let otherClient: PrismaClient;
  let a: PrismaStore;
  let b: PrismaStore;

  beforeAll(async () => {
    db = await createTestDatabase();
    otherClient = createPrismaClient(db.connectionString, { maxConnections: 4 });
    a = new PrismaStore(db.prisma);
    b = new PrismaStore(otherClient);
    // The members of every group here (anActiveGroup's ana, ben and cy) are people first.
    const people = ["ana", "ben", "cy"].map((id) => ({
      state: aReadyPerson(id),
      expectedVersion: undefined,
    }));
    (await a.commit({ ...empty, people }))._unsafeUnwrap();
  });
  afterAll(async () => {
    await otherClient.$disconnect();
    await db.drop();
  });

  it("commits racing on one version: each time exactly one wins, the losers store nothing", async () => {
    const group = anActiveGroup({ id: "grp_race" });
    const round = aRoundOf(group, [], { id: "round_race" });
    (
      await a.commit({
        ...empty,
        groups: [{ state: group, expectedVersion: undefined }],
        rounds: [{ state: round, expectedVersion: undefined }],
      })
    )._unsafeUnwrap();
    for (let version = 0; version < 10; version++) {
      // Each writer changes the group and the round together, with its own outbox effect
      // and audit line, as a use case does.
      const attempt = (store: PrismaStore, writer: string) =>
        store.commit({
          people: [],
          groups: [{ state: { ...group, name: `${writer} ${version}` }, expectedVersion: version }],
          rounds: [{ state: round, expectedVersion: version }],
          outbox: [timerEffect(`fx:${version}:${writer}`)],
          audit: [
            {
              at: T,
              aggregate: "round",
              aggregateId: round.id,
              action: writer,
              outcome: "applied",
              actor: writer,
            },
          ],
        });
      const results = await Promise.all([attempt(a, "A"), attempt(b, "B"), attempt(a, "C"), attempt(b, "D")]);
      const winners = results.flatMap((r, i) => (r.isOk() ? ["ABCD"[i]] : []));
      expect(winners).toHaveLength(1);
      for (const r of results.filter((r) => r.isErr()))
        expect(r._unsafeUnwrapErr()).toMatchObject({ type: "version_conflict" });
      const stored = (await b.getGroup(group.id))._unsafeUnwrap();
      expect(stored).toMatchObject({ name: `${winners[0]} ${version}`, version: version + 1 });
      expect((await a.getRound(round.id))._unsafeUnwrap()?.version).toBe(version + 1);
      // Only the winner's effect and audit line were stored.
      const effects = await db.prisma.outboxEffect.findMany({
        where: { id: { startsWith: `fx:${version}:` } },
      });
      expect(effects.map((e) => e.id)).toEqual([`fx:${version}:${winners[0]}`]);
    }
    expect(await db.prisma.auditLogEntry.count({ where: { aggregateId: "round_race" } })).toBe(10);
  });

  it("two processes creating the same aggregate: one stores it, the other gets version_conflict", async () => {
    for (let i = 0; i < 5; i++) {
      const group = anActiveGroup({ id: `grp_new_${i}` });
      const create = (store: PrismaStore, name: string) =>
        store.commit({ ...empty, groups: [{ state: { ...group, name }, expectedVersion: undefined }] });
      const results = await Promise.all([create(a, "A"), create(b, "B")]);
      expect(results.filter((r) => r.isOk())).toHaveLength(1);
      expect(results.find((r) => r.isErr())?._unsafeUnwrapErr()).toMatchObject({
        type: "version_conflict",
        aggregate: "group",
        id: group.id,
      });
    }
    // Two joins making the same new person: one stores it, the other retries and finds it.
    for (let i = 0; i < 5; i++) {
      const create = (store: PrismaStore, displayName: string) =>
        store.commit({
          ...empty,
          people: [{ state: { ...aReadyPerson(`new_${i}`), displayName }, expectedVersion: undefined }],
        });
      const results = await Promise.all([create(a, "A"), create(b, "B")]);
      expect(results.filter((r) => r.isOk())).toHaveLength(1);
      expect(results.find((r) => r.isErr())?._unsafeUnwrapErr()).toMatchObject({
        type: "version_conflict",
        aggregate: "person",
        id: `new_${i}`,
      });
    }
  });

  it("two dispatchers draining one outbox claim disjoint effects and complete each once", async () => {
    // 12 rounds with 10 effects each: one worker at a time per round, rounds side by side.
    const effects = Array.from({ length: 120 }, (_, i) =>
      timerEffect(`drain:${String(i).padStart(3, "0")}`, `round_drain_${i % 12}`),
    );
    (await a.commit({ ...empty, outbox: effects }))._unsafeUnwrap();
    const completedBy = new Map<string, string[]>();
    const order: string[] = [];
    const pending = () => db.prisma.outboxEffect.count({ where: { status: "pending" } });
    const drain = async (store: PrismaStore, worker: string) => {
      for (let pass = 0; pass < 500; pass++) {
        const claimed = (await store.claimDue(worker, T, 60_000, 7))._unsafeUnwrap();
        if (claimed.length === 0) {
          // Another worker may hold what is left: done only once nothing is pending.
          if ((await pending()) === 0) return;
          await new Promise((resolve) => setTimeout(resolve, 5));
          continue;
        }
        for (const record of claimed) {
          completedBy.set(record.effect.id, [...(completedBy.get(record.effect.id) ?? []), worker]);
          order.push(record.effect.id);
          (await store.complete(record.effect.id, worker, T))._unsafeUnwrap();
        }
      }
    };
    await Promise.all([drain(a, "w1"), drain(b, "w2"), drain(a, "w3"), drain(b, "w4")]);
    // (The effects of the first test are due too, and drained with these.)
    const drained = [...completedBy.keys()].filter((id) => id.startsWith("drain:")).sort();
    expect(drained).toEqual(effects.map((e) => e.id));
    expect([...completedBy.values()].filter((workers) => workers.length !== 1)).toEqual([]);
    // Each round's effects were completed in the order they were stored.
    for (let r = 0; r < 12; r++) {
      const ofRound = effects.filter((_, i) => i % 12 === r).map((e) => e.id);
      expect(order.filter((id) => ofRound.includes(id))).toEqual(ofRound);
    }
    // Each worker got a share: they really ran side by side.
    expect(new Set([...completedBy.values()].flat()).size).toBeGreaterThan(1);
    expect(
      await db.prisma.outboxEffect.count({ where: { id: { startsWith: "drain:" }, status: "done" } }),
    ).toBe(120);
  });
});

function timerEffect(id: string, aggregateId = "round_race"): OutboxEffect {
  return {
    kind: "schedule_timer",
    id,
    aggregate: "round",
    aggregateId,
    at: T,
    timer: { kind: "collection_deadline" },
  };
}
