// An operator's dismissal of parked work on PostgreSQL: a parked outbox effect becomes
// `dismissed` (terminal: no claim, sweep or replay-all takes it; a replay by id undoes it) and
// a parked webhook event `ignored`, each in one statement with its audit lines and the
// resolution of its parking's ticket when that is still open. Anything not parked is left as
// it is (`not_parked`), an unknown id is `not_found`.
import type { Changeset, OutboxEffect } from "@susu/domain";
import type Stripe from "stripe";
import { beforeAll, describe, expect, it } from "vitest";
import { PrismaStore, sweepStuckWork } from "../../src/prisma/index.js";
import { OUTBOX_DEPTH_SQL } from "../../src/prisma/operations-counts.js";
import { PrismaSupportDesk } from "../../src/support/index.js";
import { PrismaWebhookInbox } from "../../src/webhooks/inbox.js";
import { useTestDatabase } from "../support/index.js";

const db = useTestDatabase();
const T = Date.UTC(2026, 0, 6, 9);
let now = T;
const clock = { now: () => now };
const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };
let store: PrismaStore;
let inbox: PrismaWebhookInbox;
let desk: PrismaSupportDesk;

beforeAll(() => {
  store = new PrismaStore(db.prisma, { clock });
  inbox = new PrismaWebhookInbox(db.prisma, clock);
  desk = new PrismaSupportDesk(db.prisma, clock);
});

const timer = (id: string): OutboxEffect => ({
  kind: "schedule_timer",
  id,
  aggregate: "round",
  aggregateId: "rnd_x",
  at: T,
  timer: { kind: "collection_deadline" },
});

async function parkEffect(id: string, ticket = true): Promise<void> {
  (await store.commit({ ...empty, outbox: [timer(id)] }))._unsafeUnwrap();
  const claimed = (await store.claimDue("w", now, 60_000, 100))._unsafeUnwrap();
  expect(claimed.map((r) => r.effect.id)).toContain(id);
  for (const r of claimed) (await store.fail(r.effect.id, "w", "stripe said no", undefined))._unsafeUnwrap();
  if (ticket)
    (await desk.openTicket({ id: `${id}:parked`, reason: "effect_parked", summary: id }))._unsafeUnwrap();
}

const by = (reason: string) => ({ by: "ops_ana", reason, at: now });

describe("dismissing a parked outbox effect", () => {
  it("makes it dismissed with its attempts and error, writes its audit lines, resolves its open ticket", async () => {
    await parkEffect("rnd_x:timer:1");
    now = T + 60_000;
    expect((await store.dismissParked("rnd_x:timer:1", by("paid by hand")))._unsafeUnwrap()).toEqual({
      outcome: "dismissed",
      ticketResolved: true,
    });
    expect(await db.prisma.outboxEffect.findUniqueOrThrow({ where: { id: "rnd_x:timer:1" } })).toMatchObject({
      status: "dismissed",
      attempts: 1,
      lastError: "stripe said no",
      claimedBy: null,
      completedAt: null,
    });
    const lines = await db.prisma.auditLogEntry.findMany({
      where: { action: "dismiss_parked" },
      orderBy: { id: "asc" },
    });
    expect(lines.map((l) => [l.aggregateType, l.aggregateId, l.actor, l.outcome, l.detail])).toEqual([
      ["outbox_effect", "rnd_x:timer:1", "operator:ops_ana", "applied", "paid by hand"],
      ["round", "rnd_x", "operator:ops_ana", "applied", "rnd_x:timer:1 (schedule_timer): paid by hand"],
    ]);
    expect(lines[0]?.occurredAt).toEqual(new Date(now));
    expect(
      await db.prisma.supportTicket.findUniqueOrThrow({ where: { id: "rnd_x:timer:1:parked" } }),
    ).toMatchObject({
      status: "resolved",
      resolvedBy: "ops_ana",
      resolvedAt: new Date(now),
      resolution: "dismissed: paid by hand",
      version: 1,
    });
  });

  it("is not_parked for an effect not parked (nothing written), not_found for an unknown one", async () => {
    const before = await db.prisma.auditLogEntry.count();
    expect((await store.dismissParked("rnd_x:timer:1", by("again")))._unsafeUnwrap()).toEqual({
      outcome: "not_parked",
    });
    (await store.commit({ ...empty, outbox: [timer("rnd_x:timer:pending")] }))._unsafeUnwrap();
    expect((await store.dismissParked("rnd_x:timer:pending", by("x")))._unsafeUnwrap()).toEqual({
      outcome: "not_parked",
    });
    expect((await store.dismissParked("nope", by("x")))._unsafeUnwrap()).toEqual({ outcome: "not_found" });
    expect(await db.prisma.auditLogEntry.count()).toBe(before);
    expect(
      (await db.prisma.outboxEffect.findUniqueOrThrow({ where: { id: "rnd_x:timer:pending" } })).status,
    ).toBe("pending");
    // Run it, so the later claims see only what they test.
    for (const r of (await store.claimDue("w", now, 60_000, 100))._unsafeUnwrap())
      (await store.complete(r.effect.id, "w", now))._unsafeUnwrap();
  });

  it("without an open ticket dismisses all the same, and leaves a resolved ticket's first resolution", async () => {
    await parkEffect("rnd_x:timer:2", false);
    expect((await store.dismissParked("rnd_x:timer:2", by("no ticket")))._unsafeUnwrap()).toEqual({
      outcome: "dismissed",
      ticketResolved: false,
    });
    await parkEffect("rnd_x:timer:3");
    (
      await desk.resolveTicket("rnd_x:timer:3:parked", { by: "ops_ben", note: "looked", at: now })
    )._unsafeUnwrap();
    expect((await store.dismissParked("rnd_x:timer:3", by("later")))._unsafeUnwrap()).toEqual({
      outcome: "dismissed",
      ticketResolved: false,
    });
    expect(
      await db.prisma.supportTicket.findUniqueOrThrow({ where: { id: "rnd_x:timer:3:parked" } }),
    ).toMatchObject({ resolvedBy: "ops_ben", resolution: "looked" });
  });

  it("is never claimed, swept, counted as depth or replayed with every parked effect; listed by its status", async () => {
    await parkEffect("rnd_x:timer:4");
    now += 3_600_000;
    expect((await store.claimDue("w2", now, 60_000, 100))._unsafeUnwrap()).toEqual([]);
    expect((await sweepStuckWork(db.prisma, now, { bossSchema: false })).outboxLeasesExpired).toEqual([]);
    const depth = await db.prisma.$queryRawUnsafe<{ status: string; count: bigint }[]>(OUTBOX_DEPTH_SQL);
    expect(depth.map((r) => [r.status, Number(r.count)])).toEqual([["parked", 1]]);
    const listed = (await store.listOutbox({ status: "dismissed", limit: 10 }))._unsafeUnwrap();
    expect(listed.items.map((e) => [e.id, e.status, e.attempts, e.lastError])).toEqual([
      ["rnd_x:timer:1", "dismissed", 1, "stripe said no"],
      ["rnd_x:timer:2", "dismissed", 1, "stripe said no"],
      ["rnd_x:timer:3", "dismissed", 1, "stripe said no"],
    ]);
    expect(
      (
        await store.listOutbox({ status: "dismissed", limit: 1, startingAfter: "rnd_x:timer:2" })
      )._unsafeUnwrap(),
    ).toMatchObject({ items: [{ id: "rnd_x:timer:3" }], hasMore: false });
    expect((await store.requeueAllParked(now))._unsafeUnwrap()).toBe(1);
    expect(await db.prisma.outboxEffect.count({ where: { status: "dismissed" } })).toBe(3);
  });

  it("is undone by a replay by id: pending, due now, attempts 0, its error kept", async () => {
    now += 1_000;
    expect((await store.requeueParked("rnd_x:timer:1", now))._unsafeUnwrap()).toBe("requeued");
    expect(await db.prisma.outboxEffect.findUniqueOrThrow({ where: { id: "rnd_x:timer:1" } })).toMatchObject({
      status: "pending",
      attempts: 0,
      availableAt: new Date(now),
      lastError: "stripe said no",
    });
    const claimed = (await store.claimDue("w3", now, 60_000, 100))._unsafeUnwrap();
    expect(claimed.map((r) => [r.effect.id, r.failedBefore])).toContainEqual(["rnd_x:timer:1", true]);
  });
});

function event(id: string): Stripe.Event {
  return {
    id,
    object: "event",
    api_version: "2026-08-26.dahlia",
    created: Math.floor(T / 1000),
    data: {
      object: {
        id: `pi_${id}`,
        object: "payment_intent",
        status: "processing",
        metadata: { group_id: "grp_gone", round_id: `round_${id}`, member_id: "ana", attempt: "1" },
      },
    },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: "payment_intent.processing",
  } as unknown as Stripe.Event;
}

async function parkEvent(id: string): Promise<void> {
  (await inbox.receive(event(id)))._unsafeUnwrap();
  for (const e of (await inbox.claimDue("w", now, 60_000, 100))._unsafeUnwrap())
    (await inbox.park(e.id, "w", "round not found"))._unsafeUnwrap();
  (
    await desk.openTicket(
      { id: `webhook:${id}:parked`, reason: "webhook_parked", summary: id },
      { webhookEventId: id },
    )
  )._unsafeUnwrap();
}

describe("dismissing a parked webhook event", () => {
  it("makes it ignored with its attempts and error, writes its audit line, resolves its open ticket", async () => {
    await parkEvent("evt_1");
    now += 60_000;
    expect((await inbox.dismissParked("evt_1", by("object deleted in Stripe")))._unsafeUnwrap()).toEqual({
      outcome: "dismissed",
      ticketResolved: true,
    });
    expect(await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id: "evt_1" } })).toMatchObject({
      status: "ignored",
      attempts: 1,
      lastError: "round not found",
      outcome: "dismissed by ops_ana: object deleted in Stripe",
      processedAt: new Date(now),
    });
    expect(
      (await db.prisma.auditLogEntry.findMany({ where: { aggregateType: "webhook_event" } })).map((l) => [
        l.aggregateId,
        l.action,
        l.actor,
        l.detail,
      ]),
    ).toEqual([["evt_1", "dismiss_parked", "operator:ops_ana", "object deleted in Stripe"]]);
    expect(
      await db.prisma.supportTicket.findUniqueOrThrow({ where: { id: "webhook:evt_1:parked" } }),
    ).toMatchObject({
      status: "resolved",
      resolvedBy: "ops_ana",
      resolution: "dismissed: object deleted in Stripe",
    });
  });

  it("is not_parked for an event not parked, not_found for an unknown one; replay-all leaves it, replay by id undoes it", async () => {
    expect((await inbox.dismissParked("evt_1", by("again")))._unsafeUnwrap()).toEqual({
      outcome: "not_parked",
    });
    expect((await inbox.dismissParked("evt_nope", by("x")))._unsafeUnwrap()).toEqual({
      outcome: "not_found",
    });
    expect(await db.prisma.auditLogEntry.count({ where: { aggregateType: "webhook_event" } })).toBe(1);
    expect((await inbox.requeueAllParked())._unsafeUnwrap()).toBe(0);
    expect((await inbox.requeueParked("evt_1"))._unsafeUnwrap()).toBe("requeued");
    expect(await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id: "evt_1" } })).toMatchObject({
      status: "received",
      attempts: 0,
      processedAt: null,
    });
  });
});
