import { ManualClock } from "@susu/domain/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createPrismaClient, type PrismaClient } from "../../src/db/index.js";
import { BatchingWebhookIngest, receiveAll, WEBHOOK_EVENTS_CHANNEL } from "../../src/webhooks/index.js";
import { useTestDatabase } from "../support/index.js";
import { debitEvent, stripeEvent } from "./events.js";

const db = useTestDatabase();
const clock = new ManualClock(Date.UTC(2026, 5, 1));
let seq = 0;
const kept = () => {
  seq += 1;
  return debitEvent("payment_intent.processing", {
    groupId: "grp_ingest",
    roundId: `round_ingest_${seq}`,
    memberId: "ana",
    attempt: 1,
  });
};
const cheap = () => stripeEvent("charge.succeeded", { id: `ch_ingest_${++seq}`, object: "charge" });

let listener: pg.Client;
const notes: string[] = [];

beforeAll(async () => {
  listener = new pg.Client({ connectionString: db.connectionString });
  await listener.connect();
  listener.on("notification", (n) => notes.push(n.channel));
  await listener.query(`LISTEN ${WEBHOOK_EVENTS_CHANNEL}`);
});

afterAll(async () => {
  await listener.end();
});

const rowsOf = (ids: readonly string[]) =>
  db.prisma.webhookEvent.findMany({ where: { id: { in: [...ids] } }, orderBy: { id: "asc" } });
const settle = () => new Promise((r) => setTimeout(r, 150));

describe("receiveAll: one transaction for many events", () => {
  it("stores new events with their ordering key and triage; repeats (in the batch or stored) are duplicates", async () => {
    const [a, b, ignored] = [kept(), kept(), cheap()];
    expect((await receiveAll(db.prisma, [a], new Date(clock.now())))._unsafeUnwrap()).toEqual(["stored"]);
    const answers = (await receiveAll(db.prisma, [a, b, b, ignored], new Date(clock.now())))._unsafeUnwrap();
    expect(answers).toEqual(["duplicate", "stored", "duplicate", "stored"]);
    const rows = await rowsOf([a.id, b.id, ignored.id]);
    expect(rows).toHaveLength(3);
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(byId.get(b.id)).toMatchObject({
      status: "received",
      orderingKey: `round:round_ingest_${seq - 1}`,
    });
    expect(byId.get(b.id)?.processedAt).toBeNull();
    expect(byId.get(ignored.id)).toMatchObject({
      status: "ignored",
      outcome: "payment_intent.* events carry the payment's outcome",
      orderingKey: `charge:${(ignored.data.object as { id: string }).id}`,
      attempts: 0,
    });
    expect(byId.get(ignored.id)?.processedAt?.getTime()).toBe(clock.now());
  });

  it("stores each event's own payload: the signed text as given, or the event serialised", async () => {
    // Ids in descending order, so the rows' insert order (by id) is not the order given.
    const events = [kept(), cheap(), kept()].map((e, i) => ({ ...e, id: `evt_payload_${9 - i}` }));
    const texts = [JSON.stringify(events[0], null, 2), undefined, ` ${JSON.stringify(events[2])}\n`];
    const ingest = new BatchingWebhookIngest(db.prisma, clock, { maxBatch: 3, maxWaitMs: 50 });
    const answers = await Promise.all(events.map((e, i) => ingest.receive(e, texts[i])));
    expect(answers.map((a) => a._unsafeUnwrap())).toEqual(["stored", "stored", "stored"]);
    const rows = await rowsOf(events.map((e) => e.id));
    expect(new Map(rows.map((r) => [r.id, r.payload]))).toEqual(new Map(events.map((e) => [e.id, e])));
  });

  it("an event the database refuses fails the whole batch and stores none of it", async () => {
    const good = kept();
    // jsonb cannot hold a NUL character.
    const unstorable = stripeEvent("payment_intent.processing", {
      id: "pi_\u0000",
      object: "payment_intent",
    });
    const refused = await receiveAll(db.prisma, [good, unstorable], new Date(clock.now()));
    expect(refused._unsafeUnwrapErr()).toMatchObject({ type: "storage_refused" });
    expect(await rowsOf([good.id, unstorable.id])).toEqual([]);
  });

  it("NOTIFYs once a batch stored something a processor must work, and not for events ignored at ingest", async () => {
    await settle();
    notes.length = 0;
    (await receiveAll(db.prisma, [cheap(), cheap()], new Date(clock.now())))._unsafeUnwrap();
    await settle();
    expect(notes).toEqual([]);
    (await receiveAll(db.prisma, [kept(), kept(), cheap()], new Date(clock.now())))._unsafeUnwrap();
    await settle();
    expect(notes).toEqual([WEBHOOK_EVENTS_CHANNEL]);
    // A batch of duplicates stores nothing new: no wake-up.
    const again = kept();
    (await receiveAll(db.prisma, [again], new Date(clock.now())))._unsafeUnwrap();
    await settle();
    notes.length = 0;
    (await receiveAll(db.prisma, [again], new Date(clock.now())))._unsafeUnwrap();
    await settle();
    expect(notes).toEqual([]);
  });
});

describe("BatchingWebhookIngest", () => {
  it("gathers concurrent deliveries into few transactions and answers each only once stored", async () => {
    const ingest = new BatchingWebhookIngest(db.prisma, clock, {
      maxBatch: 16,
      maxWaitMs: 20,
      maxInFlight: 2,
    });
    const events = Array.from({ length: 40 }, kept);
    notes.length = 0;
    const answers = await Promise.all(
      events.map(async (e) => {
        const answer = (await ingest.receive(e))._unsafeUnwrap();
        // Durable when answered: another connection sees the row.
        const row = await db.prisma.webhookEvent.findUnique({ where: { id: e.id } });
        return { answer, stored: row !== null };
      }),
    );
    expect(answers.every((a) => a.answer === "stored" && a.stored)).toBe(true);
    await settle();
    // 40 events, at most 16 per transaction, one NOTIFY per transaction: 3 to 40/16 rounded up.
    expect(notes.length).toBeGreaterThanOrEqual(3);
    expect(notes.length).toBeLessThanOrEqual(4);
  });

  it("maxWaitMs 0 writes what arrived in the same turn together, without waiting for a timer", async () => {
    const ingest = new BatchingWebhookIngest(db.prisma, clock, {
      maxBatch: 64,
      maxWaitMs: 0,
      maxInFlight: 1,
    });
    await settle();
    notes.length = 0;
    // No timer can fire meanwhile: a batch closed by one (setTimeout's 0 is 1 ms) never would be written.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const events = Array.from({ length: 12 }, kept);
      const answers = await Promise.all(events.map((e) => ingest.receive(e)));
      expect(answers.map((a) => a._unsafeUnwrap())).toEqual(events.map(() => "stored"));
    } finally {
      vi.useRealTimers();
    }
    await settle();
    // One transaction for the twelve: one wake-up.
    expect(notes).toEqual([WEBHOOK_EVENTS_CHANNEL]);
  });

  it("maxWaitMs 0 under load: deliveries of several turns that wait behind a busy write go together in the next one", async () => {
    const ingest = new BatchingWebhookIngest(db.prisma, clock, {
      maxBatch: 64,
      maxWaitMs: 0,
      maxInFlight: 1,
    });
    // The first write waits for this lock (an INSERT needs ROW EXCLUSIVE), so it is busy while
    // the next deliveries arrive, over three turns of the event loop.
    const blocker = new pg.Client({ connectionString: db.connectionString });
    await blocker.connect();
    try {
      await blocker.query("BEGIN");
      await blocker.query("LOCK TABLE webhook_events IN SHARE MODE");
      const first = kept();
      const answers = [ingest.receive(first)];
      // The first write must be in flight (waiting on the lock) before the next deliveries come:
      // on a loaded machine its connection can take longer than a turn, and deliveries arriving
      // before it is sent would rightly join it.
      for (let i = 0; ; i++) {
        const { rows } = await blocker.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_locks WHERE relation = 'webhook_events'::regclass AND NOT granted",
        );
        if ((rows[0]?.n ?? 0) > 0) break;
        if (i >= 500) throw new Error("the first write never waited on the lock");
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const later: ReturnType<typeof kept>[] = [];
      for (let turn = 0; turn < 3; turn++) {
        await new Promise((resolve) => setImmediate(resolve));
        for (let i = 0; i < 4; i++) {
          const e = kept();
          later.push(e);
          answers.push(ingest.receive(e));
        }
      }
      // The last turn's batch closes on the next turn: let it, before the lock goes (on a loaded
      // machine the first write could otherwise end, and take the queued batches, before it has).
      await new Promise((resolve) => setImmediate(resolve));
      expect(ingest.waiting()).toBe(12);
      await blocker.query("COMMIT");
      expect((await Promise.all(answers)).map((a) => a._unsafeUnwrap())).toEqual(answers.map(() => "stored"));
      const { rows } = await blocker.query<{ id: string; xmin: string }>(
        "SELECT id, xmin::text AS xmin FROM webhook_events WHERE id = ANY($1::text[])",
        [[first.id, ...later.map((e) => e.id)]],
      );
      const xminOf = new Map(rows.map((r) => [r.id, r.xmin]));
      // Two transactions: the first delivery's, then the twelve of three turns merged in one.
      expect(new Set(later.map((e) => xminOf.get(e.id)))).toEqual(new Set([xminOf.get(later[0]?.id ?? "")]));
      expect(xminOf.get(first.id)).not.toBe(xminOf.get(later[0]?.id ?? ""));
      expect(rows).toHaveLength(13);
    } finally {
      await blocker.end();
    }
  });

  it("duplicates in one batch and across racing batches on two clients end as one row, one `stored` each", async () => {
    const clients: PrismaClient[] = [
      createPrismaClient(db.connectionString, { maxConnections: 2 }),
      createPrismaClient(db.connectionString, { maxConnections: 2 }),
    ];
    try {
      const [one, two] = clients.map(
        (c) => new BatchingWebhookIngest(c, clock, { maxBatch: 8, maxWaitMs: 5 }),
      );
      const events = Array.from({ length: 30 }, (_, i) => (i % 3 === 0 ? cheap() : kept()));
      // The same events, in opposite orders, twice on each client: racing inserts of shared ids.
      const deliveries = [
        ...events.map((e) => one!.receive(e)),
        ...[...events].reverse().map((e) => two!.receive(e)),
        ...events.map((e) => two!.receive(e)),
        ...[...events].reverse().map((e) => one!.receive(e)),
      ];
      const answers = (await Promise.all(deliveries)).map((r) => r._unsafeUnwrap());
      expect(answers.filter((a) => a === "stored")).toHaveLength(events.length);
      const rows = await rowsOf(events.map((e) => e.id));
      expect(rows).toHaveLength(events.length);
    } finally {
      await Promise.all(clients.map((c) => c.$disconnect()));
    }
  });

  it("an event the database refuses fails alone: the others gathered with it are written one by one and stored", async () => {
    const ingest = new BatchingWebhookIngest(db.prisma, clock, { maxBatch: 10, maxWaitMs: 30 });
    const good = [kept(), kept()];
    const unstorable = stripeEvent("payment_intent.processing", {
      id: "pi_\u0000",
      object: "payment_intent",
    });
    const answers = await Promise.all([...good, unstorable].map((e) => ingest.receive(e)));
    expect(answers.map((a) => (a.isErr() ? a.error.type : a.value))).toEqual([
      "stored",
      "stored",
      "storage_refused",
    ]);
    expect((await rowsOf(good.map((e) => e.id))).map((r) => r.id)).toEqual(good.map((e) => e.id).sort());
    expect(await rowsOf([unstorable.id])).toEqual([]);
  });

  it("a database that cannot be reached is storage_unavailable for the whole batch", async () => {
    const gone = createPrismaClient("postgresql://susu:susu@127.0.0.1:1/susu", { maxConnections: 1 });
    try {
      const ingest = new BatchingWebhookIngest(gone, clock, { maxWaitMs: 1 });
      const answers = await Promise.all([kept(), kept()].map((e) => ingest.receive(e)));
      expect(answers.map((a) => a.isErr() && a.error.type)).toEqual([
        "storage_unavailable",
        "storage_unavailable",
      ]);
    } finally {
      await gone.$disconnect();
    }
  });

  it("is full once maxWaiting events wait behind the writes, and empties as they are written", async () => {
    const ingest = new BatchingWebhookIngest(db.prisma, clock, {
      maxBatch: 2,
      maxWaitMs: 0,
      maxInFlight: 1,
      maxWaiting: 3,
    });
    const events = Array.from({ length: 5 }, kept);
    const fullness: [number, boolean][] = [];
    const answers = events.map((e) => {
      const answer = ingest.receive(e);
      fullness.push([ingest.waiting(), ingest.full()]);
      return answer;
    });
    // The first two go to the one writer at once; the next three wait, and the third fills it.
    expect(fullness).toEqual([
      [1, false],
      [0, false],
      [1, false],
      [2, false],
      [3, true],
    ]);
    expect((await Promise.all(answers)).map((a) => a._unsafeUnwrap())).toEqual(Array(5).fill("stored"));
    expect([ingest.waiting(), ingest.full()]).toEqual([0, false]);
    expect(await rowsOf(events.map((e) => e.id))).toHaveLength(5);
  });

  it("refuses settings that would never write or never gather", () => {
    expect(() => new BatchingWebhookIngest(db.prisma, clock, { maxWaiting: 0 })).toThrow(RangeError);
    expect(() => new BatchingWebhookIngest(db.prisma, clock, { maxBatch: 0 })).toThrow(RangeError);
    expect(() => new BatchingWebhookIngest(db.prisma, clock, { maxWaitMs: -1 })).toThrow(RangeError);
    expect(() => new BatchingWebhookIngest(db.prisma, clock, { maxInFlight: 1.5 })).toThrow(RangeError);
  });
});
