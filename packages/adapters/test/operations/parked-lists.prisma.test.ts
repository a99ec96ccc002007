// The operators' lists and replays of open work give what they gave when they were Prisma
// queries (before they were written in SQL with the status as a literal, for the partial
// indexes: parked-lists-plans.prisma.test.ts): the same rows in the same order, page by page,
// the same answer to a cursor of no row, and the same columns written by a replay of
// everything parked. One change since: a cursor is found by its id whatever its status now
// (an operator who replays the last item of a page still gets the next page), so the old
// queries below look their cursor up by id alone.
import { beforeAll, describe, expect, it } from "vitest";
import { PrismaStore } from "../../src/prisma/index.js";
import { PrismaWebhookInbox, type WebhookEventStatus } from "../../src/webhooks/inbox.js";
import { useTestDatabase } from "../support/index.js";

const db = useTestDatabase();
const T = Date.UTC(2026, 0, 6);
const NOW = T + 86_400_000;

const outboxStatuses = ["pending", "parked"] as const;
/** A list's query and page, as both the lists and the old queries take and answer them. */
type Query<S extends string> = { status: S; limit: number; startingAfter?: string };
type Page = { readonly items: readonly { readonly id: string }[]; readonly hasMore: boolean };
const eventStatuses = ["received", "processed", "ignored", "failed", "parked"] as const;

/** The page the Prisma query of the outbox list read (the same query, mapped the same way). */
async function outboxPageBefore(query: {
  status: "pending" | "parked";
  limit: number;
  startingAfter?: string;
}) {
  let after: bigint | undefined;
  if (query.startingAfter !== undefined) {
    const cursor = await db.prisma.outboxEffect.findFirst({
      where: { id: query.startingAfter },
      select: { sequence: true },
    });
    if (cursor === null) return { items: [], hasMore: false };
    after = cursor.sequence;
  }
  const rows = await db.prisma.outboxEffect.findMany({
    where: { status: query.status, ...(after !== undefined ? { sequence: { gt: after } } : {}) },
    orderBy: { sequence: "asc" },
    take: query.limit + 1,
  });
  return {
    items: rows.slice(0, query.limit).map((r) => ({
      id: r.id,
      kind: r.kind,
      status: r.status,
      attempts: r.attempts,
      availableAt: r.availableAt.getTime(),
      lastError: r.lastError ?? undefined,
      aggregateId: r.aggregateId,
    })),
    hasMore: rows.length > query.limit,
  };
}

/** The page the Prisma query of the inbox list read. */
async function eventPageBefore(query: { status: WebhookEventStatus; limit: number; startingAfter?: string }) {
  let after: { receivedAt: Date; id: string } | undefined;
  if (query.startingAfter !== undefined) {
    const cursor = await db.prisma.webhookEvent.findFirst({
      where: { id: query.startingAfter },
      select: { receivedAt: true, id: true },
    });
    if (cursor === null) return { items: [], hasMore: false };
    after = cursor;
  }
  const rows = await db.prisma.webhookEvent.findMany({
    where: {
      status: query.status,
      ...(after !== undefined
        ? {
            OR: [
              { receivedAt: { gt: after.receivedAt } },
              { receivedAt: after.receivedAt, id: { gt: after.id } },
            ],
          }
        : {}),
    },
    orderBy: [{ receivedAt: "asc" }, { id: "asc" }],
    take: query.limit + 1,
  });
  return {
    items: rows.slice(0, query.limit).map((r) => ({
      id: r.id,
      type: r.type,
      status: r.status,
      attempts: r.attempts,
      nextAttemptAt: r.nextAttemptAt.getTime(),
      claimedBy: r.claimedBy ?? undefined,
      lastError: r.lastError ?? undefined,
      outcome: r.outcome ?? undefined,
      receivedAt: r.receivedAt.getTime(),
      processedAt: r.processedAt?.getTime(),
    })),
    hasMore: rows.length > query.limit,
  };
}

describe("the operators' lists and replays, as the Prisma queries were", () => {
  const store = () => new PrismaStore(db.prisma, { clock: { now: () => NOW } });
  const inbox = () => new PrismaWebhookInbox(db.prisma, { now: () => NOW });

  beforeAll(async () => {
    // Effects of every status interleaved in sequence order, some with an error, some claimed;
    // ids not in sequence order (the list is by sequence, not id).
    for (let n = 0; n < 60; n++) {
      const status = (["done", "pending", "parked"] as const)[(n * 7) % 3] ?? "done";
      const id = `fx_${String((n * 37) % 60).padStart(2, "0")}`;
      const kind = n % 2 === 0 ? "transfer" : "collect_contribution";
      await db.prisma.outboxEffect.create({
        data: {
          id,
          aggregateType: "round",
          aggregateId: `round_${n % 4}`,
          kind,
          payload: { id, kind },
          status,
          attempts: n % 5,
          availableAt: new Date(T + n * 1_000),
          createdAt: new Date(T),
          lastError: n % 3 === 1 ? null : `error ${n}`,
          // Some pending rows claimed, and parked ones with a claim left on them (a replay clears it).
          claimedBy: status !== "done" && n % 4 === 0 ? "worker" : null,
          claimedUntil: status !== "done" && n % 4 === 0 ? new Date(NOW + 60_000) : null,
          completedAt: status === "done" ? new Date(T) : null,
        },
      });
    }
    // Events of every status; received_at in steps shared by three events of each status, so
    // the order falls to the id within a step (ids not in step order).
    for (let n = 0; n < 75; n++) {
      const status = eventStatuses[(n * 3) % 5] ?? "received";
      const finished = status === "processed" || status === "ignored";
      await db.prisma.webhookEvent.create({
        data: {
          id: `evt_${String((n * 29) % 75).padStart(2, "0")}`,
          type: "payment_intent.succeeded",
          livemode: false,
          stripeCreatedAt: new Date(T),
          payload: { n },
          status,
          attempts: n % 4,
          nextAttemptAt: new Date(T + n * 500),
          claimedBy: (status === "received" || status === "parked") && n % 2 === 0 ? "worker" : null,
          claimedUntil:
            (status === "received" || status === "parked") && n % 2 === 0 ? new Date(NOW + 60_000) : null,
          lastError: status === "failed" || status === "parked" ? `boom ${n}` : null,
          outcome: finished ? `done ${n}` : null,
          receivedAt: new Date(T + Math.floor(n / 15) * 1_000),
          processedAt: finished || (status === "parked" && n % 2 === 0) ? new Date(T + 5_000) : null,
        },
      });
    }
  });

  /**
   * Pages through `list` for each status and page size, each page compared with the `before`
   * query's; the number of pages follows from `rowsEach` rows a status.
   */
  const pagesAsBefore = async <S extends string>(
    statuses: readonly S[],
    limits: readonly number[],
    rowsEach: number,
    list: (query: Query<S>) => Promise<Page>,
    before: (query: Query<S>) => Promise<Page>,
  ) => {
    for (const status of statuses)
      for (const limit of limits) {
        let startingAfter: string | undefined;
        let pages = 0;
        for (;;) {
          const query = { status, limit, ...(startingAfter !== undefined ? { startingAfter } : {}) };
          const page = await list(query);
          expect(page, JSON.stringify(query)).toEqual(await before(query));
          pages += 1;
          if (!page.hasMore) break;
          startingAfter = page.items.at(-1)?.id;
        }
        expect(pages).toBe(Math.max(1, Math.ceil(rowsEach / limit)));
      }
  };

  it("pages through each status's effects as before, at every page size", async () => {
    await pagesAsBefore(
      outboxStatuses,
      [1, 2, 3, 7, 100],
      20,
      async (query) => (await store().listOutbox(query))._unsafeUnwrap(),
      outboxPageBefore,
    );
  });

  it("pages through each status's events as before, at every page size", async () => {
    await pagesAsBefore(
      eventStatuses,
      [1, 2, 4, 100],
      15,
      async (query) => (await inbox().listEvents(query))._unsafeUnwrap(),
      eventPageBefore,
    );
  });

  it("answers an empty page to a cursor of no row, and the page after its position to a cursor of another status", async () => {
    const parkedEffect = (await store().listOutbox({ status: "parked", limit: 1 }))._unsafeUnwrap().items[0];
    const pendingEffect = (await store().listOutbox({ status: "pending", limit: 1 }))._unsafeUnwrap()
      .items[0];
    const doneEffect = await db.prisma.outboxEffect.findFirst({ where: { status: "done" } });
    expect(
      (await store().listOutbox({ status: "pending", limit: 5, startingAfter: "fx_none" }))._unsafeUnwrap(),
    ).toEqual({
      items: [],
      hasMore: false,
    });
    for (const [status, startingAfter] of [
      ["pending", parkedEffect?.id],
      ["parked", pendingEffect?.id],
      ["parked", doneEffect?.id],
    ] as const) {
      expect(startingAfter).toBeDefined();
      const query = { status, limit: 5, startingAfter: startingAfter ?? "" };
      const page = (await store().listOutbox(query))._unsafeUnwrap();
      const cursor = await db.prisma.outboxEffect.findUniqueOrThrow({ where: { id: startingAfter ?? "" } });
      const after = await db.prisma.outboxEffect.findMany({
        where: { status, sequence: { gt: cursor.sequence } },
        orderBy: { sequence: "asc" },
        take: 5,
      });
      expect(page.items.map((i) => i.id)).toEqual(after.map((r) => r.id));
      expect(page).toEqual(await outboxPageBefore(query));
    }
    expect(
      (await inbox().listEvents({ status: "parked", limit: 5, startingAfter: "evt_none" }))._unsafeUnwrap(),
    ).toEqual({
      items: [],
      hasMore: false,
    });
    const parkedEvent = (await inbox().listEvents({ status: "parked", limit: 1 }))._unsafeUnwrap().items[0];
    const receivedEvent = (await inbox().listEvents({ status: "received", limit: 1 }))._unsafeUnwrap()
      .items[0];
    for (const [status, startingAfter] of [
      ["received", parkedEvent?.id],
      ["parked", receivedEvent?.id],
      ["failed", parkedEvent?.id],
    ] as const) {
      expect(startingAfter).toBeDefined();
      const query = { status, limit: 5, startingAfter: startingAfter ?? "" };
      expect((await inbox().listEvents(query))._unsafeUnwrap()).toEqual(await eventPageBefore(query));
    }
  });

  it("an operator who replays the last parked effect of a page still gets the next page", async () => {
    const first = (await store().listOutbox({ status: "parked", limit: 2 }))._unsafeUnwrap();
    expect(first.hasMore).toBe(true);
    const last = first.items.at(-1)?.id ?? "";
    await db.prisma.outboxEffect.update({ where: { id: last }, data: { status: "pending" } });
    try {
      const next = (
        await store().listOutbox({ status: "parked", limit: 2, startingAfter: last })
      )._unsafeUnwrap();
      expect(next.items.length).toBeGreaterThan(0);
      const cursor = await db.prisma.outboxEffect.findUniqueOrThrow({ where: { id: last } });
      const after = await db.prisma.outboxEffect.findMany({
        where: { status: "parked", sequence: { gt: cursor.sequence } },
        orderBy: { sequence: "asc" },
        take: 2,
      });
      expect(next.items.map((i) => i.id)).toEqual(after.map((r) => r.id));
    } finally {
      await db.prisma.outboxEffect.update({ where: { id: last }, data: { status: "parked" } });
    }
  });

  it("replays every parked effect as the Prisma update did: pending, due now, attempts 0, no claim, the error kept", async () => {
    const before = await db.prisma.outboxEffect.findMany({ orderBy: { id: "asc" } });
    const expected = before.map((r) =>
      r.status === "parked"
        ? {
            ...r,
            status: "pending" as const,
            attempts: 0,
            availableAt: new Date(NOW),
            claimedBy: null,
            claimedUntil: null,
          }
        : r,
    );
    expect((await store().requeueAllParked(NOW))._unsafeUnwrap()).toBe(20);
    expect(await db.prisma.outboxEffect.findMany({ orderBy: { id: "asc" } })).toEqual(expected);
    expect((await store().requeueAllParked(NOW))._unsafeUnwrap()).toBe(0);
  });

  it("replays every parked event as the Prisma update did: received, due now, attempts 0, no claim, the rest kept", async () => {
    const before = await db.prisma.webhookEvent.findMany({ orderBy: { id: "asc" } });
    const expected = before.map((r) =>
      r.status === "parked"
        ? {
            ...r,
            status: "received" as const,
            attempts: 0,
            nextAttemptAt: new Date(NOW),
            claimedBy: null,
            claimedUntil: null,
          }
        : r,
    );
    expect((await inbox().requeueAllParked())._unsafeUnwrap()).toBe(15);
    expect(await db.prisma.webhookEvent.findMany({ orderBy: { id: "asc" } })).toEqual(expected);
    expect((await inbox().requeueAllParked())._unsafeUnwrap()).toBe(0);
  });
});
