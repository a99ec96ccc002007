import { ManualClock } from "@susu/domain/testing";
import type Stripe from "stripe";
import { beforeAll, describe, expect, it } from "vitest";
import { createPrismaClient, type PrismaClient } from "../../src/db/index.js";
import { PrismaSupportDesk } from "../../src/support/index.js";
import { PrismaWebhookInbox } from "../../src/webhooks/index.js";
import { useTestDatabase } from "../support/index.js";
import { statementsSentDuring } from "../support/statement-spy.js";
import { eventId, stripeEvent } from "./events.js";

const db = useTestDatabase();
const clock = new ManualClock(Date.UTC(2026, 5, 1));
let inbox: PrismaWebhookInbox;

beforeAll(() => {
  inbox = new PrismaWebhookInbox(db.prisma, clock);
});

let n = 0;
/** A debit's event (kept at ingest), each about its own round: its own ordering key. */
const anEvent = (created?: number) => {
  n += 1;
  return stripeEvent(
    "payment_intent.processing",
    {
      id: `pi_inbox_${n}`,
      object: "payment_intent",
      status: "processing",
      metadata: { group_id: "grp_inbox", round_id: `round_inbox_${n}`, member_id: "ana", attempt: "1" },
    },
    {
      ...(created !== undefined ? { created } : {}),
    },
  );
};

/** Leases whatever is due now so earlier tests' rows do not leak into the next one. */
async function drain(): Promise<void> {
  const due = (await inbox.claimDue("drain", clock.now(), 60_000, 1_000))._unsafeUnwrap();
  for (const e of due) (await inbox.markIgnored(e.id, "drain", "drained by the test"))._unsafeUnwrap();
}

describe("receive", () => {
  it("stores an event once; the same id again is a duplicate, not an error", async () => {
    const event = anEvent();
    expect((await inbox.receive(event))._unsafeUnwrap()).toBe("stored");
    expect((await inbox.receive(event))._unsafeUnwrap()).toBe("duplicate");
    const row = await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id: event.id } });
    expect(row).toMatchObject({
      type: "payment_intent.processing",
      livemode: false,
      apiVersion: "2026-08-26.dahlia",
      status: "received",
      attempts: 0,
      claimedBy: null,
    });
    expect(row.stripeCreatedAt.getTime()).toBe(event.created * 1000);
    expect(row.receivedAt.getTime()).toBe(clock.now());
    expect(row.nextAttemptAt.getTime()).toBe(clock.now());
    expect(row.payload).toEqual(JSON.parse(JSON.stringify(event)));
  });

  it("concurrent deliveries of one event store exactly one row", async () => {
    const event = anEvent();
    const answers = await Promise.all(Array.from({ length: 8 }, () => inbox.receive(event)));
    expect(answers.map((a) => a._unsafeUnwrap()).sort()).toEqual([
      "duplicate",
      "duplicate",
      "duplicate",
      "duplicate",
      "duplicate",
      "duplicate",
      "duplicate",
      "stored",
    ]);
    expect(await db.prisma.webhookEvent.count({ where: { id: event.id } })).toBe(1);
  });
});

describe("claims", () => {
  it("claims due events oldest Stripe event first, and not again while leased", async () => {
    await drain();
    const base = Math.floor(clock.now() / 1000);
    const late = anEvent(base + 20);
    const early = anEvent(base + 10);
    const middle = anEvent(base + 15);
    for (const e of [late, early, middle]) await inbox.receive(e);

    const first = (await inbox.claimDue("w1", clock.now(), 60_000, 2))._unsafeUnwrap();
    expect(first.map((e) => e.id)).toEqual([early.id, middle.id]);
    expect(first[0]?.payload).toMatchObject({ id: early.id, type: "payment_intent.processing" });
    const second = (await inbox.claimDue("w2", clock.now(), 60_000, 10))._unsafeUnwrap();
    expect(second.map((e) => e.id)).toEqual([late.id]);
    expect((await inbox.claimDue("w3", clock.now(), 60_000, 10))._unsafeUnwrap()).toEqual([]);
    for (const e of first) await inbox.markProcessed(e.id, "w1", "ok");
    await inbox.markProcessed(late.id, "w2", "ok");
  });

  it("two processors claiming at once get disjoint events (FOR UPDATE SKIP LOCKED)", async () => {
    await drain();
    const events = Array.from({ length: 40 }, (_, i) => anEvent(1_800_000_000 + i));
    for (const e of events) await inbox.receive(e);
    // Separate clients, so the claims run on separate connections like two processes.
    const clients: PrismaClient[] = [createPrismaClient(db.connectionString, { maxConnections: 2 })];
    clients.push(createPrismaClient(db.connectionString, { maxConnections: 2 }));
    try {
      const inboxes = clients.map((c) => new PrismaWebhookInbox(c, clock));
      const claims = await Promise.all(
        [0, 1, 2, 3].map((i) => inboxes[i % 2]!.claimDue(`worker-${i}`, clock.now(), 60_000, 15)),
      );
      const ids = claims.flatMap((c) => c._unsafeUnwrap().map((e) => e.id));
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.length).toBe(40);
      const holders = await db.prisma.webhookEvent.groupBy({
        by: ["claimedBy"],
        where: { id: { in: events.map((e) => e.id) } },
        _count: true,
      });
      expect(holders.every((h) => h.claimedBy?.startsWith("worker-"))).toBe(true);
    } finally {
      await Promise.all(clients.map((c) => c.$disconnect()));
    }
    // Leave nothing leased behind for the next tests.
    clock.advance(60_000);
    await drain();
  });

  it("a lease that ran out can be claimed by another processor; the first one's marks then change nothing", async () => {
    await drain();
    const event = anEvent();
    await inbox.receive(event);
    const [claimed] = (await inbox.claimDue("slow", clock.now(), 30_000, 1))._unsafeUnwrap();
    expect(claimed?.id).toBe(event.id);
    clock.advance(29_999);
    expect((await inbox.claimDue("fast", clock.now(), 30_000, 1))._unsafeUnwrap()).toEqual([]);
    clock.advance(1);
    expect((await inbox.claimDue("fast", clock.now(), 30_000, 1))._unsafeUnwrap().map((e) => e.id)).toEqual([
      event.id,
    ]);
    expect((await inbox.markProcessed(event.id, "slow", "late"))._unsafeUnwrap()).toBe("lease_lost");
    expect((await inbox.park(event.id, "slow", "late"))._unsafeUnwrap()).toBe("lease_lost");
    expect((await inbox.markProcessed(event.id, "fast", "done"))._unsafeUnwrap()).toBe("marked");
    const row = (await inbox.find(event.id))._unsafeUnwrap();
    expect(row).toMatchObject({ status: "processed", outcome: "done", attempts: 0, claimedBy: undefined });
    expect(row?.processedAt).toBe(clock.now());
    // Done is done: a processed event is never claimed again.
    clock.advance(3_600_000);
    expect((await inbox.claimDue("any", clock.now(), 30_000, 10))._unsafeUnwrap()).toEqual([]);
  });

  it("a claim commits without waiting for the WAL flush (a lease), in one round trip with its lock", async () => {
    const event = anEvent();
    (await inbox.receive(event))._unsafeUnwrap();
    const { result, sent } = await statementsSentDuring(db.prisma, async () =>
      (await inbox.claimDue("async", clock.now(), 30_000, 10))._unsafeUnwrap(),
    );
    expect(result.map((e) => e.id)).toEqual([event.id]);
    const [begin, ...rest] = sent;
    expect(begin).toMatch(
      /^BEGIN ISOLATION LEVEL READ COMMITTED;.*SET LOCAL synchronous_commit = off;.*pg_advisory_xact_lock/,
    );
    expect(rest).toEqual(["webhook_claim", "COMMIT"]);
    // Receiving an event (what the API acknowledges) keeps its durable commit.
    const { sent: receiving } = await statementsSentDuring(db.prisma, async () =>
      (await inbox.receive(anEvent()))._unsafeUnwrap(),
    );
    expect(receiving.join("\n")).not.toMatch(/synchronous_commit/);
    (await inbox.markIgnored(event.id, "async", "done by the test"))._unsafeUnwrap();
    await drain();
  });

  it("an event nobody claimed cannot be marked", async () => {
    const event = anEvent();
    await inbox.receive(event);
    expect((await inbox.markIgnored(event.id, "nobody", "x"))._unsafeUnwrap()).toBe("lease_lost");
    expect((await inbox.markProcessed(eventId("missing"), "nobody", "x"))._unsafeUnwrap()).toBe("lease_lost");
    await drain();
  });
});

describe("results", () => {
  it("failed: counted, due again at retryAt with the error kept; parked: never due; requeue: due now", async () => {
    await drain();
    const event = anEvent();
    await inbox.receive(event);
    await inbox.claimDue("w", clock.now(), 60_000, 1);
    const retryAt = clock.now() + 5_000;
    expect(
      (await inbox.markFailed(event.id, "w", "storage_unavailable: down", retryAt))._unsafeUnwrap(),
    ).toBe("marked");
    expect((await inbox.find(event.id))._unsafeUnwrap()).toMatchObject({
      status: "failed",
      attempts: 1,
      lastError: "storage_unavailable: down",
      nextAttemptAt: retryAt,
      claimedBy: undefined,
    });
    expect((await inbox.claimDue("w", clock.now(), 60_000, 1))._unsafeUnwrap()).toEqual([]);
    clock.advance(5_000);
    const [again] = (await inbox.claimDue("w", clock.now(), 60_000, 1))._unsafeUnwrap();
    expect(again).toMatchObject({ id: event.id, attempts: 1 });

    expect((await inbox.park(event.id, "w", "x".repeat(5_000)))._unsafeUnwrap()).toBe("marked");
    const parked = (await inbox.find(event.id))._unsafeUnwrap();
    expect(parked).toMatchObject({ status: "parked", attempts: 2 });
    expect(parked?.lastError?.length).toBeLessThanOrEqual(2_000);
    clock.advance(86_400_000);
    expect((await inbox.claimDue("w", clock.now(), 60_000, 10))._unsafeUnwrap()).toEqual([]);

    expect((await inbox.requeue(event.id))._unsafeUnwrap()).toBe(true);
    expect((await inbox.requeue(event.id))._unsafeUnwrap()).toBe(false);
    const [requeued] = (await inbox.claimDue("w", clock.now(), 60_000, 1))._unsafeUnwrap();
    expect(requeued).toMatchObject({ id: event.id, attempts: 0 });
    expect((await inbox.markIgnored(event.id, "w", "unknown type"))._unsafeUnwrap()).toBe("marked");
    expect((await inbox.find(event.id))._unsafeUnwrap()).toMatchObject({
      status: "ignored",
      outcome: "unknown type",
    });
  });

  it("replay: a parked or an ignored event (by the ingest or a processor) is due again; a processed or due one is not_parked", async () => {
    await drain();
    // Ignored at ingest (the translator does nothing with a PaymentIntent's creation): never claimed.
    const created = stripeEvent("payment_intent.created", {
      id: "pi_inbox_replay",
      object: "payment_intent",
      status: "requires_payment_method",
      metadata: { group_id: "grp_inbox", round_id: "round_inbox_replay", member_id: "ana", attempt: "1" },
    });
    expect((await inbox.receive(created))._unsafeUnwrap()).toBe("stored");
    expect((await inbox.find(created.id))._unsafeUnwrap()).toMatchObject({ status: "ignored" });
    expect((await inbox.claimDue("w", clock.now(), 60_000, 10))._unsafeUnwrap()).toEqual([]);

    clock.advance(1_000);
    expect((await inbox.requeueParked(created.id))._unsafeUnwrap()).toBe("requeued");
    expect((await inbox.find(created.id))._unsafeUnwrap()).toMatchObject({
      status: "received",
      attempts: 0,
      nextAttemptAt: clock.now(),
      processedAt: undefined,
    });
    // Due again, so a second replay has nothing to do until it has run.
    expect((await inbox.requeueParked(created.id))._unsafeUnwrap()).toBe("not_parked");
    const [claimed] = (await inbox.claimDue("w", clock.now(), 60_000, 10))._unsafeUnwrap();
    expect(claimed?.id).toBe(created.id);
    expect((await inbox.markIgnored(created.id, "w", "still nothing to do"))._unsafeUnwrap()).toBe("marked");
    // Ignored by a processor: replayable the same way.
    expect((await inbox.requeueParked(created.id))._unsafeUnwrap()).toBe("requeued");
    const [again] = (await inbox.claimDue("w", clock.now(), 60_000, 10))._unsafeUnwrap();
    expect((await inbox.markProcessed(again?.id ?? "", "w", "applied"))._unsafeUnwrap()).toBe("marked");
    // Processed: applied, nothing to replay.
    expect((await inbox.requeueParked(created.id))._unsafeUnwrap()).toBe("not_parked");
    expect((await inbox.find(created.id))._unsafeUnwrap()).toMatchObject({ status: "processed" });
    expect((await inbox.requeueParked("evt_never_received"))._unsafeUnwrap()).toBe("not_found");
  });

  it("what the database refuses is storage_refused (retrying cannot help), with the SQLSTATE and no row data", async () => {
    await drain();
    // 22P05: jsonb cannot hold a NUL character, so this event can never be stored.
    const unstorable = stripeEvent("payment_intent.processing", {
      id: "pi_\u0000",
      object: "payment_intent",
    });
    const refusedReceive = (await inbox.receive(unstorable))._unsafeUnwrapErr();
    expect(refusedReceive).toEqual({
      type: "storage_refused",
      code: "storage_refused",
      message: "webhook receive: refused by the database (SQLSTATE 22P05); the state breaks a stored rule",
    });
    expect(await db.prisma.webhookEvent.count({ where: { id: unstorable.id } })).toBe(0);

    const event = anEvent();
    await inbox.receive(event);
    await inbox.claimDue("w", clock.now(), 60_000, 1);
    // 22021: a text column cannot hold a NUL either (an error message quoting a payload can).
    const refusedMark = await inbox.markFailed(event.id, "w", "upstream said \u0000", clock.now() + 1_000);
    expect(refusedMark._unsafeUnwrapErr()).toMatchObject({
      type: "storage_refused",
      message: expect.stringContaining("(SQLSTATE 22021)"),
    });
    expect(refusedMark._unsafeUnwrapErr().message).not.toContain("upstream");

    // 22003: a corrupt row (its attempt count at the column's limit) cannot be counted once more.
    await db.prisma.webhookEvent.update({ where: { id: event.id }, data: { attempts: 2_147_483_647 } });
    const refusedCount = await inbox.markFailed(event.id, "w", "down", clock.now() + 1_000);
    expect(refusedCount._unsafeUnwrapErr()).toMatchObject({
      type: "storage_refused",
      message: expect.stringContaining("(SQLSTATE 22003)"),
    });
    // Nothing of a refused write is stored: the row is as it was, still leased.
    expect((await inbox.find(event.id))._unsafeUnwrap()).toMatchObject({
      status: "received",
      claimedBy: "w",
      lastError: undefined,
    });
    await db.prisma.webhookEvent.update({ where: { id: event.id }, data: { attempts: 0 } });
    expect((await inbox.markIgnored(event.id, "w", "done with it"))._unsafeUnwrap()).toBe("marked");
  });

  it("results recorded at once are written together, each answered for its own row: marked, lease lost, or refused alone", async () => {
    await drain();
    /** Receives and claims `events`, then records all their results at once; the finish statements sent. */
    const finishAll = async (
      events: readonly Stripe.Event[],
      text: (e: Stripe.Event, i: number) => string,
      stolen?: string,
    ) => {
      for (const e of events) expect((await inbox.receive(e))._unsafeUnwrap()).toBe("stored");
      expect((await inbox.claimDue("w", clock.now(), 60_000, 100))._unsafeUnwrap()).toHaveLength(
        events.length,
      );
      // Another processor holds this one now (this worker's lease ran out and it was claimed).
      if (stolen !== undefined)
        await db.prisma.webhookEvent.update({ where: { id: stolen }, data: { claimedBy: "other" } });
      const { result, sent } = await statementsSentDuring(db.prisma, () =>
        Promise.all(
          events.map((e, i) =>
            i % 2 === 0
              ? inbox.markIgnored(e.id, "w", text(e, i))
              : inbox.markProcessed(e.id, "w", text(e, i)),
          ),
        ),
      );
      return { answers: result, sent: sent.filter((name) => name.startsWith("webhook_finish")) };
    };
    const stored = async (ids: readonly string[]) =>
      new Map(
        (await db.prisma.webhookEvent.findMany({ where: { id: { in: [...ids] } } })).map((r) => [r.id, r]),
      );

    // 20 results at once: the first written alone, the other 19 in one statement.
    const first = Array.from({ length: 20 }, () => anEvent());
    const stolen = first[5]?.id ?? "";
    const { answers, sent } = await finishAll(first, (_, i) => `result ${i}`, stolen);
    expect(sent).toEqual(["webhook_finish", "webhook_finish_many"]);
    const rows = await stored(first.map((e) => e.id));
    first.forEach((e, i) => {
      if (e.id === stolen) {
        expect(answers[i]?._unsafeUnwrap()).toBe("lease_lost");
        expect(rows.get(e.id)).toMatchObject({ status: "received", claimedBy: "other" });
        return;
      }
      expect(answers[i]?._unsafeUnwrap()).toBe("marked");
      expect(rows.get(e.id)).toMatchObject({
        status: i % 2 === 0 ? "ignored" : "processed",
        outcome: `result ${i}`,
        processedAt: new Date(clock.now()),
        claimedBy: null,
        claimedUntil: null,
      });
    });
    await db.prisma.webhookEvent.update({
      where: { id: stolen },
      data: { status: "ignored", claimedBy: null, claimedUntil: null },
    });

    // A text the database cannot hold (22021) in a group: the group is written result by
    // result, so only that one is refused (and nothing of it stored).
    const second = Array.from({ length: 6 }, () => anEvent());
    const unstorable = second[3]?.id ?? "";
    const refused = await finishAll(second, (e, i) => (e.id === unstorable ? "bad \u0000" : `ok ${i}`));
    expect(refused.sent.slice(0, 2)).toEqual(["webhook_finish", "webhook_finish_many"]);
    const after = await stored(second.map((e) => e.id));
    second.forEach((e, i) => {
      if (e.id === unstorable) {
        expect(refused.answers[i]?._unsafeUnwrapErr()).toMatchObject({
          type: "storage_refused",
          message: expect.stringContaining("(SQLSTATE 22021)"),
        });
        expect(after.get(e.id)).toMatchObject({ status: "received", claimedBy: "w", outcome: null });
        return;
      }
      expect(refused.answers[i]?._unsafeUnwrap()).toBe("marked");
      expect(after.get(e.id)).toMatchObject({ outcome: `ok ${i}`, claimedBy: null });
    });
    expect((await inbox.markIgnored(unstorable, "w", "stored fine"))._unsafeUnwrap()).toBe("marked");
  });

  it("one event's result from two workers in one group: marked for the one holding the claim only", async () => {
    await drain();
    const [filler, event] = [anEvent(), anEvent()];
    for (const e of [filler, event]) (await inbox.receive(e))._unsafeUnwrap();
    expect((await inbox.claimDue("old", clock.now(), 60_000, 10))._unsafeUnwrap()).toHaveLength(2);
    // The old worker's lease ran out and "new" claimed the event; both finish it at once.
    await db.prisma.webhookEvent.update({ where: { id: event.id }, data: { claimedBy: "new" } });
    const [first, fromOld, fromNew] = await Promise.all([
      inbox.markIgnored(filler.id, "old", "filler"),
      inbox.markIgnored(event.id, "old", "from the old worker"),
      inbox.markProcessed(event.id, "new", "from the new worker"),
    ]);
    expect(first?._unsafeUnwrap()).toBe("marked");
    expect(fromOld?._unsafeUnwrap()).toBe("lease_lost");
    expect(fromNew?._unsafeUnwrap()).toBe("marked");
    expect((await inbox.find(event.id))._unsafeUnwrap()).toMatchObject({
      status: "processed",
      outcome: "from the new worker",
    });
  });

  it("the support desk reports a ticket the database refuses as ticket_failed, with the SQLSTATE", async () => {
    const desk = new PrismaSupportDesk(db.prisma, clock);
    const refused = await desk.openTicket({
      id: `ticket_${eventId("nul")}`,
      reason: "webhook_parked",
      summary: "quoted \u0000 from a payload",
    });
    expect(refused._unsafeUnwrapErr()).toEqual({
      type: "ticket_failed",
      code: "ticket_failed",
      message:
        "open support ticket: refused by the database (SQLSTATE 22021); the state breaks a stored rule",
    });
  });

  it("a database that cannot be reached is storage_unavailable, with a code and no row data", async () => {
    const broken = createPrismaClient("postgresql://nobody:wrong@127.0.0.1:1/none", { maxConnections: 1 });
    try {
      const result = await new PrismaWebhookInbox(broken, clock).receive(anEvent());
      expect(result._unsafeUnwrapErr().type).toBe("storage_unavailable");
      expect(result._unsafeUnwrapErr().message).toMatch(/^webhook receive: database error \(\w+\)$/);
    } finally {
      await broken.$disconnect();
    }
  });
});
