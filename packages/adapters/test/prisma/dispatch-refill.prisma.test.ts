// The refilling dispatcher pass on PostgreSQL (a reviewer's test): several dispatchers
// (two clients, as two processes), each pass claiming again while a slot is idle, small claims
// so that refills happen; each aggregate's effects one at a time, in order, each once.
import { type Changeset, type EffectPorts, type OutboxEffect, useCaseDepsOn, useCases } from "@susu/domain";
import {
  FakePaymentGateway,
  RecordingNotifier,
  RecordingSupportDesk,
  SequentialIds,
} from "@susu/domain/testing";
import { ResultAsync } from "neverthrow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrismaClient, type PrismaClient } from "../../src/db/prisma-client.js";
import { PrismaLedgerStore, PrismaStore } from "../../src/prisma/index.js";
import { createTestDatabase, type TestDatabase } from "../support/test-database.js";

const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };
const effect = (i: number, round: number): OutboxEffect => ({
  kind: "schedule_timer",
  id: `fx:${String(i).padStart(4, "0")}`,
  aggregate: "round",
  aggregateId: `round_${round}`,
  at: 0,
  timer: { kind: "collection_deadline" },
});

describe("refilling dispatcher passes on PostgreSQL", () => {
  let db: TestDatabase;
  let otherClient: PrismaClient;
  beforeAll(async () => {
    db = await createTestDatabase();
    otherClient = createPrismaClient(db.connectionString, { maxConnections: 6 });
  });
  afterAll(async () => {
    await otherClient.$disconnect();
    await db.drop();
  });

  it("three refilling dispatchers run each aggregate's effects one at a time, in order, each once", async () => {
    const clock = { now: () => Date.now() };
    const stores = [new PrismaStore(db.prisma, { clock }), new PrismaStore(otherClient, { clock })];
    const effects = Array.from({ length: 150 }, (_, i) => effect(i, (i * 5 + (i >> 3)) % 9));
    (await stores[0]?.commit({ ...empty, outbox: effects }))?._unsafeUnwrap();
    const aggregateOf = new Map(effects.map((e) => [e.id, (e as { aggregateId: string }).aggregateId]));
    const running = new Map<string, string>();
    const overlaps: string[] = [];
    const ran = new Map<string, string[]>();
    const runs = new Map<string, number>();
    let seed = 11;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    let claims = 0;
    const dispatcher = async (store: PrismaStore, worker: string, concurrency: number, limit: number) => {
      const deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
      const ports: EffectPorts = {
        gateway: new FakePaymentGateway(clock.now, 1_000),
        notifier: new RecordingNotifier(),
        desk: new RecordingSupportDesk(),
        ledger: new PrismaLedgerStore(db.prisma, { clock }),
        timers: {
          schedule: (timer) => {
            const aggregate = aggregateOf.get(timer.id) ?? "?";
            const other = running.get(aggregate);
            if (other !== undefined) overlaps.push(`${timer.id} by ${worker} while ${other}`);
            running.set(aggregate, `${timer.id} by ${worker}`);
            runs.set(timer.id, (runs.get(timer.id) ?? 0) + 1);
            ran.set(aggregate, [...(ran.get(aggregate) ?? []), timer.id]);
            return ResultAsync.fromSafePromise(
              new Promise<void>((resolve) => setTimeout(resolve, Math.floor(random() * 5))).then(() => {
                running.delete(aggregate);
              }),
            );
          },
        },
      };
      const outbox = {
        claimDue: (...args: Parameters<PrismaStore["claimDue"]>) => {
          claims += 1;
          return store.claimDue(...args);
        },
        complete: store.complete.bind(store),
        fail: store.fail.bind(store),
        release: store.release.bind(store),
      };
      const held = new Set<string>();
      for (let pass = 0; pass < 200; pass++) {
        const report = (
          await useCases.dispatchOutbox(deps, ports, outbox, {
            workerId: worker,
            concurrency,
            limit,
            held,
            leaseMs: 60_000,
            refillForMs: 2_000,
          })
        )._unsafeUnwrap();
        if (report.claimed === 0) {
          if ((await db.prisma.outboxEffect.count({ where: { status: "pending" } })) === 0) return;
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      }
    };
    await Promise.all([
      dispatcher(stores[0] as PrismaStore, "p1-a", 4, 3),
      dispatcher(stores[1] as PrismaStore, "p2-a", 3, 5),
      dispatcher(stores[0] as PrismaStore, "p1-b", 2, 2),
    ]);
    expect(overlaps).toEqual([]);
    expect([...runs.values()].filter((n) => n !== 1)).toEqual([]);
    expect(runs.size).toBe(150);
    for (const [aggregate, ids] of ran) expect([aggregate, ids]).toEqual([aggregate, [...ids].sort()]);
    expect(await db.prisma.outboxEffect.count({ where: { status: "done" } })).toBe(150);
    console.log(`claims: ${claims} for 150 effects`);
  }, 60_000);
});
