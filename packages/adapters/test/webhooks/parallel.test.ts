import { type Clock, type StorageError, type UseCaseDeps, useCaseDepsOn } from "@susu/domain";
import { InMemoryStore, ManualClock, SequentialIds } from "@susu/domain/testing";
import { errAsync, okAsync, ResultAsync } from "neverthrow";
import { beforeEach, describe, expect, it } from "vitest";
import { createPrismaClient, type PrismaClient } from "../../src/db/index.js";
import { PrismaSupportDesk } from "../../src/support/index.js";
import {
  type InboxEvent,
  PrismaWebhookInbox,
  processWebhookInbox,
  type SettledWebhookEvent,
  type WebhookInbox,
  type WebhookProcessorContext,
} from "../../src/webhooks/index.js";
import { useTestDatabase } from "../support/index.js";
import { debitEvent } from "./events.js";
import { ScriptedStripeReads } from "./harness.js";

const db = useTestDatabase();
let seq = 0;

beforeEach(async () => {
  // Each test sees only its own events.
  await db.prisma.webhookEvent.updateMany({
    where: { status: { in: ["received", "failed"] } },
    data: { status: "ignored", outcome: "set aside between tests", claimedBy: null, claimedUntil: null },
  });
});

/** A debit's event about `round` (its ordering key is `round:<round>`), created at `created` (s). */
function eventOf(round: string, created: number) {
  seq += 1;
  return debitEvent(
    "payment_intent.processing",
    { groupId: "grp_par", roundId: round, memberId: `m${seq}`, attempt: 1 },
    { created },
  );
}

/** A clock whose every reading is later than the one before: intervals from it never tie. */
class StrictClock implements Clock {
  #last = 0;
  now(): number {
    this.#last = Math.max(Date.now(), this.#last + 1);
    return this.#last;
  }
}

/** A seeded source of numbers in [0, 1), so a failing run can be replayed. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const keysOf = (events: readonly InboxEvent[]) => new Set(events.map((e) => e.orderingKey));

describe("claims by ordering key", () => {
  it("never hands out a key a live claim holds; a finished or expired claim frees it", async () => {
    const clock = new ManualClock(Date.UTC(2026, 6, 1));
    const inbox = new PrismaWebhookInbox(db.prisma, clock);
    const base = 1_900_000_000;
    const [k1a, k1b, k2, k3] = [
      eventOf("round_k1", base),
      eventOf("round_k1", base + 1),
      eventOf("round_k2", base + 2),
      eventOf("round_k3", base + 3),
    ];
    for (const e of [k1b, k2, k1a, k3]) (await inbox.receive(e))._unsafeUnwrap();

    const a = (await inbox.claimDue("a", clock.now(), 30_000, 1))._unsafeUnwrap();
    expect(a.map((e) => [e.id, e.orderingKey])).toEqual([[k1a.id, "round:round_k1"]]);
    // k1b is due and unleased, but its key is a's.
    const b = (await inbox.claimDue("b", clock.now(), 30_000, 10))._unsafeUnwrap();
    expect(b.map((e) => e.id)).toEqual([k2.id, k3.id]);
    expect((await inbox.claimDue("c", clock.now(), 30_000, 10))._unsafeUnwrap()).toEqual([]);

    // a records its result: the key is free, and the next of its events goes to whoever asks.
    expect((await inbox.markProcessed(k1a.id, "a", "ok"))._unsafeUnwrap()).toBe("marked");
    expect((await inbox.claimDue("c", clock.now(), 30_000, 10))._unsafeUnwrap().map((e) => e.id)).toEqual([
      k1b.id,
    ]);

    // c dies holding k1b; a new event of its key waits for the lease, then goes with it, in order.
    const k1c = eventOf("round_k1", base + 4);
    (await inbox.receive(k1c))._unsafeUnwrap();
    expect((await inbox.claimDue("d", clock.now(), 30_000, 10))._unsafeUnwrap()).toEqual([]);
    clock.advance(30_000);
    const d = (await inbox.claimDue("d", clock.now(), 30_000, 10))._unsafeUnwrap();
    // b's claims ran out too: everything comes back, oldest Stripe event first.
    expect(d.map((e) => e.id)).toEqual([k1b.id, k2.id, k3.id, k1c.id]);
  });

  it("many claimers at once on separate connections come away with disjoint keys", async () => {
    const clock = new ManualClock(Date.UTC(2026, 6, 2));
    const base = 1_900_100_000;
    const events = Array.from({ length: 60 }, (_, i) => eventOf(`round_many_${i % 6}`, base + i));
    const setup = new PrismaWebhookInbox(db.prisma, clock);
    for (const e of events) (await setup.receive(e))._unsafeUnwrap();
    const clients: PrismaClient[] = Array.from({ length: 4 }, () =>
      createPrismaClient(db.connectionString, { maxConnections: 2 }),
    );
    try {
      const inboxes = clients.map((c) => new PrismaWebhookInbox(c, clock));
      const claims = (
        await Promise.all(
          Array.from({ length: 8 }, (_, i) => inboxes[i % 4]!.claimDue(`w${i}`, clock.now(), 60_000, 7)),
        )
      ).map((r) => r._unsafeUnwrap());
      const keySets = claims.map(keysOf);
      const allKeys = keySets.flatMap((s) => [...s]);
      expect(new Set(allKeys).size).toBe(allKeys.length);
      // Every key went to someone (6 keys, 8 claimers of 7).
      expect(new Set(allKeys).size).toBe(6);
      // Each claimer's events of a key are that key's oldest, in Stripe order.
      for (const claim of claims)
        for (const key of keysOf(claim)) {
          const mine = claim.filter((e) => e.orderingKey === key).map((e) => e.stripeCreatedAt);
          const all = events
            .filter(
              (e) =>
                `round:${(e.data.object as unknown as { metadata: { round_id: string } }).metadata.round_id}` ===
                key,
            )
            .map((e) => e.created * 1000);
          expect(mine).toEqual(all.slice(0, mine.length));
        }
    } finally {
      await Promise.all(clients.map((c) => c.$disconnect()));
    }
  });
});

describe("processors in parallel", () => {
  function contextOn(
    prisma: PrismaClient,
    clock: Clock,
    random: () => number,
    store: InMemoryStore,
  ): WebhookProcessorContext {
    const deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    const inbox = new PrismaWebhookInbox(prisma, clock);
    const slow = <T>(work: () => ResultAsync<T, StorageError>) =>
      okAsync(undefined)
        .andThen(() => okAsync(sleep(Math.floor(random() * 8))))
        .andThen(() => work());
    const slowDeps: UseCaseDeps = {
      ...deps,
      rounds: {
        getRound: (id) => slow(() => deps.rounds.getRound(id)),
        listRoundsOfGroup: (id) => deps.rounds.listRoundsOfGroup(id),
      },
    };
    const slowInbox: WebhookInbox = {
      receive: (e) => inbox.receive(e),
      claimDue: (...args) => inbox.claimDue(...args),
      releaseOwnClaims: (w) => inbox.releaseOwnClaims(w),
      markProcessed: (...args) => slow(() => inbox.markProcessed(...args)),
      markIgnored: (...args) => slow(() => inbox.markIgnored(...args)),
      markFailed: (...args) => slow(() => inbox.markFailed(...args)),
      park: (...args) => slow(() => inbox.park(...args)),
    };
    return {
      deps: slowDeps,
      inbox: slowInbox,
      gateway: new ScriptedStripeReads(),
      desk: new PrismaSupportDesk(prisma, clock),
    };
  }

  it.each([
    { mode: "one claim per pass", refillForMs: 0 },
    { mode: "claiming more as slots free up", refillForMs: 10_000 },
  ])(
    "N processors over few keys with random delays ($mode): each key in Stripe order, one at a time, none twice, none lost",
    async ({ refillForMs }) => {
      const clock = new StrictClock();
      const random = seeded(11);
      const base = 1_900_200_000;
      const keys = 5;
      // Interleaved keys, each key's events one second apart in Stripe time, stored shuffled.
      const events = Array.from({ length: 80 }, (_, i) =>
        eventOf(`round_par_${refillForMs}_${i % keys}`, base + i),
      );
      const shuffled = [...events].sort(() => random() - 0.5);
      const setup = new PrismaWebhookInbox(db.prisma, clock);
      for (const e of shuffled) (await setup.receive(e))._unsafeUnwrap();

      const clients: PrismaClient[] = Array.from({ length: 4 }, () =>
        createPrismaClient(db.connectionString, { maxConnections: 4 }),
      );
      const settled: (SettledWebhookEvent & { worker: string })[] = [];
      const store = new InMemoryStore();
      try {
        const deadline = Date.now() + 60_000;
        await Promise.all(
          clients.map(async (client, i) => {
            const worker = `par-${i}`;
            const ctx = contextOn(client, clock, random, store);
            while (settled.length < events.length && Date.now() < deadline) {
              const report = (
                await processWebhookInbox(ctx, {
                  workerId: worker,
                  limit: 6,
                  concurrency: 3,
                  refillForMs,
                  onSettled: (s) => settled.push({ ...s, worker }),
                })
              )._unsafeUnwrap();
              expect(report.leaseLost).toBe(0);
              if (report.claimed === 0) await sleep(2);
            }
          }),
        );
      } finally {
        await Promise.all(clients.map((c) => c.$disconnect()));
      }

      // None lost, none twice.
      expect(settled.map((s) => s.eventId).sort()).toEqual(events.map((e) => e.id).sort());
      const rows = await db.prisma.webhookEvent.findMany({ where: { id: { in: events.map((e) => e.id) } } });
      expect(rows.every((r) => r.status === "ignored" && r.claimedBy === null)).toBe(true);
      // Several processors took part, with events of different keys running at the same time.
      expect(new Set(settled.map((s) => s.worker)).size).toBeGreaterThan(1);
      const overlaps = settled.some((a) =>
        settled.some((b) => a !== b && a.startedAt < b.settledAt && b.startedAt < a.settledAt),
      );
      expect(overlaps).toBe(true);
      // Per key: in Stripe's order, and never two at once (across processors too).
      const keyOf = new Map(events.map((e, i) => [e.id, i % keys]));
      for (let k = 0; k < keys; k += 1) {
        const mine = settled
          .filter((s) => keyOf.get(s.eventId) === k)
          .sort((a, b) => a.startedAt - b.startedAt);
        expect(mine.map((s) => s.stripeCreatedAt)).toEqual(
          [...mine.map((s) => s.stripeCreatedAt)].sort((a, b) => a - b),
        );
        for (let i = 1; i < mine.length; i += 1)
          expect(mine[i - 1]!.settledAt).toBeLessThan(mine[i]!.startedAt);
      }
    },
  );
});

describe("claiming more within a pass", () => {
  it("takes events that arrive while it works, never a key it is working on, and ends once nothing is due", async () => {
    const clock = new ManualClock(Date.UTC(2026, 6, 5));
    const inbox = new PrismaWebhookInbox(db.prisma, clock);
    const base = 1_900_400_000;
    const first = [eventOf("round_refill_1", base), eventOf("round_refill_2", base + 1)];
    for (const e of first) (await inbox.receive(e))._unsafeUnwrap();
    const arriving = [eventOf("round_refill_1", base + 2), eventOf("round_refill_3", base + 3)];
    const order: string[] = [];
    let delivered = false;
    const ctx: WebhookProcessorContext = {
      deps: useCaseDepsOn(new InMemoryStore(), { clock, ids: new SequentialIds() }),
      inbox: {
        ...wrap(inbox),
        markIgnored: (id, workerId, reason) => {
          order.push(id);
          // While the first event is being recorded, two more arrive: one of its own key.
          const arrive = delivered
            ? okAsync(undefined)
            : ResultAsync.fromSafePromise(
                (async () => {
                  delivered = true;
                  for (const e of arriving) (await inbox.receive(e))._unsafeUnwrap();
                })(),
              );
          return arrive.andThen(() => inbox.markIgnored(id, workerId, reason));
        },
      },
      gateway: new ScriptedStripeReads(),
      desk: new PrismaSupportDesk(db.prisma, clock),
    };
    const report = (
      await processWebhookInbox(ctx, { workerId: "refill", limit: 2, concurrency: 2, refillForMs: 60_000 })
    )._unsafeUnwrap();
    expect(report).toMatchObject({ claimed: 4, ignored: 4, leaseLost: 0 });
    // The key's later event came after its earlier one.
    expect(order.indexOf(arriving[0]!.id)).toBeGreaterThan(order.indexOf(first[0]!.id));
    expect(new Set(order)).toEqual(new Set([...first, ...arriving].map((e) => e.id)));
    // Without refills, the same pass would have ended after its first claim.
    for (const e of [eventOf("round_refill_4", base + 4), eventOf("round_refill_5", base + 5)])
      (await inbox.receive(e))._unsafeUnwrap();
    expect(
      (
        await processWebhookInbox({ ...ctx, inbox }, { workerId: "single", limit: 1, concurrency: 2 })
      )._unsafeUnwrap(),
    ).toMatchObject({ claimed: 1 });
  });

  it("told of wake-ups, claims again only after one, after a full claim, or for a held key's later event", async () => {
    const clock = new ManualClock(Date.UTC(2026, 6, 7));
    const inbox = new PrismaWebhookInbox(db.prisma, clock);
    const base = 1_900_500_000;
    const listeners = new Set<() => void>();
    const onWake = (listener: () => void) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    };
    const wake = () => {
      for (const l of listeners) l();
    };
    let claims = 0;
    const order: string[] = [];
    let onFirstMark: (() => Promise<void>) | undefined;
    const ctx: WebhookProcessorContext = {
      deps: useCaseDepsOn(new InMemoryStore(), { clock, ids: new SequentialIds() }),
      inbox: {
        ...wrap(inbox),
        claimDue: (...args) => {
          claims += 1;
          return inbox.claimDue(...args);
        },
        markIgnored: (id, workerId, reason) => {
          order.push(id);
          const hook = onFirstMark;
          onFirstMark = undefined;
          return ResultAsync.fromSafePromise((hook ?? (async () => {}))()).andThen(() =>
            inbox.markIgnored(id, workerId, reason),
          );
        },
      },
      gateway: new ScriptedStripeReads(),
      desk: new PrismaSupportDesk(db.prisma, clock),
    };
    const pass = (workerId: string, limit: number) =>
      processWebhookInbox(ctx, { workerId, limit, concurrency: 2, refillForMs: 60_000, onWake });

    // No wake-up: one claim, and the pass ends once its events are done.
    const quiet = [1, 2, 3].map((i) => eventOf(`round_wake_q${i}`, base + i));
    for (const e of quiet) (await inbox.receive(e))._unsafeUnwrap();
    expect((await pass("wake-quiet", 10))._unsafeUnwrap()).toMatchObject({ claimed: 3, ignored: 3 });
    expect(claims).toBe(1);
    // The same without wake-ups claims again as slots free up, not knowing what arrived.
    claims = 0;
    for (const e of [4, 5, 6].map((i) => eventOf(`round_wake_q${i}`, base + i)))
      (await inbox.receive(e))._unsafeUnwrap();
    expect(
      (
        await processWebhookInbox(ctx, {
          workerId: "no-wake",
          limit: 10,
          concurrency: 2,
          refillForMs: 60_000,
        })
      )._unsafeUnwrap(),
    ).toMatchObject({ claimed: 3 });
    expect(claims).toBeGreaterThan(1);

    // A full claim may leave due events behind: the pass claims again without a wake-up.
    claims = 0;
    const many = [7, 8, 9].map((i) => eventOf(`round_wake_f${i}`, base + i));
    for (const e of many) (await inbox.receive(e))._unsafeUnwrap();
    expect((await pass("wake-full", 2))._unsafeUnwrap()).toMatchObject({ claimed: 3, ignored: 3 });
    expect(claims).toBeGreaterThan(1);

    // Events arriving with a wake-up while the pass works, one of them of the key it is
    // working on (skipped by the claim the wake-up brings): both are taken in this pass,
    // the held key's after its earlier event.
    claims = 0;
    order.length = 0;
    const first = eventOf("round_wake_a", base + 10);
    (await inbox.receive(first))._unsafeUnwrap();
    const arriving = [eventOf("round_wake_a", base + 11), eventOf("round_wake_b", base + 12)];
    onFirstMark = async () => {
      for (const e of arriving) (await inbox.receive(e))._unsafeUnwrap();
      wake();
      // Let the pass claim (and skip the held key's event) before this event is recorded.
      await sleep(50);
    };
    expect((await pass("wake-arrive", 10))._unsafeUnwrap()).toMatchObject({ claimed: 3, ignored: 3 });
    expect(new Set(order)).toEqual(new Set([first, ...arriving].map((e) => e.id)));
    expect(order.indexOf(arriving[0]!.id)).toBeGreaterThan(order.indexOf(first.id));
    expect(claims).toBeLessThanOrEqual(3);

    // An event that arrives with no wake-up (a lost notification) waits for the next pass.
    claims = 0;
    const unannounced = eventOf("round_wake_c", base + 13);
    onFirstMark = async () => {
      (await inbox.receive(unannounced))._unsafeUnwrap();
    };
    const lone = eventOf("round_wake_d", base + 14);
    (await inbox.receive(lone))._unsafeUnwrap();
    expect((await pass("wake-lost", 10))._unsafeUnwrap()).toMatchObject({ claimed: 1 });
    expect((await pass("wake-lost", 10))._unsafeUnwrap()).toMatchObject({ claimed: 1, ignored: 1 });
    expect(listeners.size).toBe(0);
    // A pass that throws (a bug) stops listening too.
    const throwing: WebhookProcessorContext = {
      ...ctx,
      inbox: {
        ...ctx.inbox,
        claimDue: () => {
          throw new Error("claim bug");
        },
      },
    };
    await expect(
      processWebhookInbox(throwing, { workerId: "wake-throw", refillForMs: 60_000, onWake }),
    ).rejects.toThrow("claim bug");
    expect(listeners.size).toBe(0);
  });

  it("a wake-up that comes while events run waits gatherWakeMs for others, so events delivered together come in one claim", async () => {
    const clock = new ManualClock(Date.UTC(2026, 6, 8));
    const inbox = new PrismaWebhookInbox(db.prisma, clock);
    const base = 1_900_600_000;
    const listeners = new Set<() => void>();
    const onWake = (listener: () => void) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    };
    const wake = () => {
      for (const l of listeners) l();
    };
    const run = async (gatherWakeMs: number, tag: string) => {
      const sizes: number[] = [];
      let hook: (() => Promise<void>) | undefined;
      const first = eventOf(`round_gather_${tag}_a`, base);
      const arriving = [
        eventOf(`round_gather_${tag}_b`, base + 1),
        eventOf(`round_gather_${tag}_c`, base + 2),
      ];
      hook = async () => {
        // Two deliveries 20 ms apart, each with its wake-up, while this event is running.
        (await inbox.receive(arriving[0]!))._unsafeUnwrap();
        wake();
        await sleep(20);
        (await inbox.receive(arriving[1]!))._unsafeUnwrap();
        wake();
        await sleep(300);
      };
      const ctx: WebhookProcessorContext = {
        deps: useCaseDepsOn(new InMemoryStore(), { clock, ids: new SequentialIds() }),
        inbox: {
          ...wrap(inbox),
          claimDue: (...args) =>
            inbox.claimDue(...args).map((events) => {
              sizes.push(events.length);
              return events;
            }),
          markIgnored: (id, workerId, reason) => {
            const h = hook;
            hook = undefined;
            return ResultAsync.fromSafePromise((h ?? (async () => {}))()).andThen(() =>
              inbox.markIgnored(id, workerId, reason),
            );
          },
        },
        gateway: new ScriptedStripeReads(),
        desk: new PrismaSupportDesk(db.prisma, clock),
      };
      (await inbox.receive(first))._unsafeUnwrap();
      const report = (
        await processWebhookInbox(ctx, {
          workerId: `gather-${tag}`,
          limit: 10,
          concurrency: 4,
          refillForMs: 60_000,
          onWake,
          gatherWakeMs,
        })
      )._unsafeUnwrap();
      expect(report).toMatchObject({ claimed: 3, ignored: 3 });
      return sizes.filter((n) => n > 0);
    };
    // Gathering: both deliveries in one claim.
    expect(await run(150, "on")).toEqual([1, 2]);
    // Not gathering: a claim for each wake-up.
    expect(await run(0, "off")).toEqual([1, 1, 1]);
    expect(listeners.size).toBe(0);
  });

  it("refuses a negative refill time", () => {
    const clock = new ManualClock(Date.UTC(2026, 6, 6));
    const ctx: WebhookProcessorContext = {
      deps: useCaseDepsOn(new InMemoryStore(), { clock, ids: new SequentialIds() }),
      inbox: new PrismaWebhookInbox(db.prisma, clock),
      gateway: new ScriptedStripeReads(),
      desk: new PrismaSupportDesk(db.prisma, clock),
    };
    expect(() => processWebhookInbox(ctx, { workerId: "w", refillForMs: -1 })).toThrow(RangeError);
  });
});

describe("own claims", () => {
  it("a live processor whose pass failed (database gone) takes its claims back on its next pass; another waits for the lease", async () => {
    const clock = new ManualClock(Date.UTC(2026, 6, 3));
    const store = new InMemoryStore();
    const inbox = new PrismaWebhookInbox(db.prisma, clock);
    const base = 1_900_300_000;
    const events = [
      eventOf("round_own_1", base),
      eventOf("round_own_2", base + 1),
      eventOf("round_own_3", base + 2),
    ];
    for (const e of events) (await inbox.receive(e))._unsafeUnwrap();
    const deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    const ctx: WebhookProcessorContext = {
      deps,
      inbox,
      gateway: new ScriptedStripeReads(),
      desk: new PrismaSupportDesk(db.prisma, clock),
    };
    const down: StorageError = {
      type: "storage_unavailable",
      code: "storage_unavailable",
      message: "connection refused",
    };
    // The database goes away after the claim: recording the first result fails.
    const outage: WebhookProcessorContext = {
      ...ctx,
      inbox: { ...wrap(inbox), markIgnored: () => errAsync(down) },
    };

    const failed = await processWebhookInbox(outage, { workerId: "live", limit: 10 });
    expect(failed._unsafeUnwrapErr()).toEqual(down);
    const held = await db.prisma.webhookEvent.findMany({ where: { id: { in: events.map((e) => e.id) } } });
    expect(held.every((r) => r.claimedBy === "live" && r.status === "received")).toBe(true);

    // Another process gets nothing: to it, "live" might still be working on them.
    expect((await processWebhookInbox(ctx, { workerId: "other" }))._unsafeUnwrap()).toMatchObject({
      claimed: 0,
    });
    // The database answers again: the live processor's next pass releases and works them at once.
    expect((await processWebhookInbox(ctx, { workerId: "live" }))._unsafeUnwrap()).toMatchObject({
      claimed: 3,
      ignored: 3,
    });

    // A dead process's claims are not released by anyone else's pass: they wait out the lease.
    const late = eventOf("round_own_4", base + 3);
    (await inbox.receive(late))._unsafeUnwrap();
    (await inbox.claimDue("dead", clock.now(), 60_000, 10))._unsafeUnwrap();
    expect((await processWebhookInbox(ctx, { workerId: "live" }))._unsafeUnwrap()).toMatchObject({
      claimed: 0,
    });
    clock.advance(60_000);
    expect((await processWebhookInbox(ctx, { workerId: "live" }))._unsafeUnwrap()).toMatchObject({
      claimed: 1,
    });
  });

  it("refuses a concurrency that is not a positive integer", () => {
    const clock = new ManualClock(Date.UTC(2026, 6, 4));
    const ctx: WebhookProcessorContext = {
      deps: useCaseDepsOn(new InMemoryStore(), { clock, ids: new SequentialIds() }),
      inbox: new PrismaWebhookInbox(db.prisma, clock),
      gateway: new ScriptedStripeReads(),
      desk: new PrismaSupportDesk(db.prisma, clock),
    };
    expect(() => processWebhookInbox(ctx, { workerId: "w", concurrency: 0 })).toThrow(RangeError);
  });
});

/** The inbox's methods as a plain object, to override one. */
function wrap(inbox: PrismaWebhookInbox): WebhookInbox {
  return {
    receive: (e) => inbox.receive(e),
    claimDue: (...args) => inbox.claimDue(...args),
    releaseOwnClaims: (w) => inbox.releaseOwnClaims(w),
    markProcessed: (...args) => inbox.markProcessed(...args),
    markIgnored: (...args) => inbox.markIgnored(...args),
    markFailed: (...args) => inbox.markFailed(...args),
    park: (...args) => inbox.park(...args),
  };
}

describe("a claim near the end of its lease", () => {
  it("starts no event in the lease's last tenth: another processor may take the key then, and the two would run one key's events at once", async () => {
    const clock = new ManualClock(Date.UTC(2026, 6, 9));
    const inbox = new PrismaWebhookInbox(db.prisma, clock);
    const leaseMs = 60_000;
    const base = 1_900_600_000;
    const [e1, e2] = [eventOf("round_lease_end", base), eventOf("round_lease_end", base + 1)];
    for (const e of [e1, e2]) (await inbox.receive(e!))._unsafeUnwrap();
    const claimedAt = clock.now();
    const running = new Map<string, string>();
    const overlaps: string[] = [];
    /** A processor whose recording of each event takes `slowMs` of the clock, with `during` run meanwhile. */
    const processor = (worker: string, hooks: Map<string, () => Promise<void>>): WebhookProcessorContext => ({
      deps: useCaseDepsOn(new InMemoryStore(), { clock, ids: new SequentialIds() }),
      inbox: {
        ...wrap(inbox),
        markIgnored: (id, workerId, reason) => {
          const other = [...running].find(([, key]) => key === "round_lease_end");
          if (other !== undefined) overlaps.push(`${worker} ran ${id} while ${other[0]} ran one of its key`);
          running.set(worker, "round_lease_end");
          const hook = hooks.get(id) ?? (async () => {});
          return ResultAsync.fromSafePromise(hook())
            .andThen(() => inbox.markIgnored(id, workerId, reason))
            .map((mark) => {
              running.delete(worker);
              return mark;
            });
        },
      },
      gateway: new ScriptedStripeReads(),
      desk: new PrismaSupportDesk(db.prisma, clock),
    });
    let other: { claimed: number; ignored: number } | undefined;
    const a = processor(
      "a",
      new Map([
        // The key's first event is slow (Stripe reads timing out): it ends a second before the lease.
        [e1!.id, async () => void clock.advance(leaseMs - 1_000)],
        // Its second, if started, runs past the lease; meanwhile another processor claims.
        [
          e2!.id,
          async () => {
            clock.advance(2_000);
            const b = processor("b", new Map());
            other = (await processWebhookInbox(b, { workerId: "b", leaseMs }))._unsafeUnwrap();
          },
        ],
      ]),
    );
    const report = (await processWebhookInbox(a, { workerId: "a", leaseMs, limit: 10 }))._unsafeUnwrap();
    expect(clock.now() - claimedAt).toBeGreaterThan(leaseMs - 2_000);
    // a left the second event (its lease had too little left); nobody ran it beside a.
    expect({ report, overlaps }).toEqual({
      report: { claimed: 2, processed: 0, ignored: 1, retried: 0, parked: 0, leaseLost: 1 },
      overlaps: [],
    });
    expect(other).toBeUndefined();
    // The event a left is anyone's once a's lease has ended.
    clock.advance(2_000);
    const b = (
      await processWebhookInbox(processor("b", new Map()), { workerId: "b", leaseMs })
    )._unsafeUnwrap();
    expect(b).toMatchObject({ claimed: 1, ignored: 1, leaseLost: 0 });
    const rows = await db.prisma.webhookEvent.findMany({ where: { id: { in: [e1!.id, e2!.id] } } });
    expect(rows.map((r) => [r.status, r.claimedBy])).toEqual([
      ["ignored", null],
      ["ignored", null],
    ]);
  });
});

describe("a pass whose event throws outside its processing", () => {
  it("ends once its other keys' events have ended, rejecting with the throw: no hang, no rejection left unhandled", async () => {
    const clock = new ManualClock(Date.UTC(2026, 6, 11));
    const inbox = new PrismaWebhookInbox(db.prisma, clock);
    const base = 1_900_700_000;
    const [quick, slow] = [eventOf("round_throw_1", base), eventOf("round_throw_2", base + 1)];
    for (const e of [quick!, slow!]) (await inbox.receive(e))._unsafeUnwrap();
    const ctx: WebhookProcessorContext = {
      deps: useCaseDepsOn(new InMemoryStore(), { clock, ids: new SequentialIds() }),
      inbox: {
        ...wrap(inbox),
        markIgnored: (id, workerId, reason) =>
          ResultAsync.fromSafePromise(sleep(id === slow!.id ? 300 : 0)).andThen(() =>
            inbox.markIgnored(id, workerId, reason),
          ),
      },
      gateway: new ScriptedStripeReads(),
      desk: new PrismaSupportDesk(db.prisma, clock),
    };
    const pass = Promise.resolve(
      processWebhookInbox(ctx, {
        workerId: "throws",
        concurrency: 2,
        // A caller's callback that throws (a bug): it rejects the event's result chain.
        onSettled: (s) => {
          if (s.eventId === quick!.id) throw new Error("metrics exploded");
        },
      }),
    ).then(
      () => "resolved",
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    );
    const ended = await Promise.race([pass, sleep(5_000).then(() => "still running after 5 s")]);
    expect(ended).toBe("metrics exploded");
    // The other key's event ran to its end before the pass did.
    const rows = await db.prisma.webhookEvent.findMany({ where: { id: { in: [quick!.id, slow!.id] } } });
    expect(rows.map((r) => [r.status, r.claimedBy])).toEqual([
      ["ignored", null],
      ["ignored", null],
    ]);
  });
});
