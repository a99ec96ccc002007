// Wake-ups sent after the commit they announce (WakeNotifier), on a real PostgreSQL: a
// listener told of outbox effects finds them committed; a changeset without effects wakes
// nobody; a burst of wake-ups coalesces into two notifications, the last sent after the
// last call; a worker of the same process is woken directly; the writing transaction itself
// holds no NOTIFY (so it takes no notify lock);
// a notification the database cannot take is reported, never thrown.
import type { Changeset, OutboxEffect } from "@susu/domain";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createPrismaClient } from "../../src/db/prisma-client.js";
import { OUTBOX_CHANNEL, WakeNotifier, wakeNotifierOf } from "../../src/db/wake-notifier.js";
import { PrismaStore } from "../../src/prisma/index.js";
import { createTestDatabase, type TestDatabase } from "../support/test-database.js";

const T = Date.UTC(2026, 0, 6);
const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };
const timer = (id: string): OutboxEffect => ({
  kind: "schedule_timer",
  id,
  aggregate: "round",
  aggregateId: "round_wake",
  at: T,
  timer: { kind: "collection_deadline" },
});
const quiet = () => new Promise((resolve) => setTimeout(resolve, 150));

describe("WakeNotifier", () => {
  let db: TestDatabase;
  let listener: pg.Client;
  let reader: pg.Client;
  /** Per notification heard: its channel and the outbox ids committed when it was handled. */
  const heard: { channel: string; committed: string[] }[] = [];
  beforeAll(async () => {
    db = await createTestDatabase();
    listener = new pg.Client({ connectionString: db.connectionString });
    await listener.connect();
    reader = new pg.Client({ connectionString: db.connectionString });
    await reader.connect();
    let reads = Promise.resolve();
    listener.on("notification", (n) => {
      reads = reads.then(async () => {
        const { rows } = await reader.query<{ id: string }>("SELECT id FROM outbox_effects ORDER BY id");
        heard.push({ channel: n.channel, committed: rows.map((r) => r.id) });
      });
    });
    await listener.query(`LISTEN ${OUTBOX_CHANNEL}`);
    await listener.query("LISTEN susu_wake_test");
  });
  beforeEach(async () => {
    await quiet();
    heard.length = 0;
  });
  afterAll(async () => {
    await listener.end();
    await reader.end();
    await db.drop();
  });

  it("tells the dispatchers of committed effects once they are visible, and of nothing else", async () => {
    const store = new PrismaStore(db.prisma);
    (await store.commit({ ...empty, outbox: [timer("wake_1"), timer("wake_2")] }))._unsafeUnwrap();
    await wakeNotifierOf(db.prisma).idle();
    await quiet();
    expect(heard).toEqual([{ channel: OUTBOX_CHANNEL, committed: ["wake_1", "wake_2"] }]);

    heard.length = 0;
    (await store.commit({ ...empty }))._unsafeUnwrap();
    await quiet();
    expect(heard).toEqual([]);
  });

  it("tells them after a transaction left open (a webhook's) commits, never when it rolls back", async () => {
    const store = new PrismaStore(db.prisma);
    const rolledBack = (await store.openCommit({ ...empty, outbox: [timer("wake_3")] }))._unsafeUnwrap();
    await rolledBack?.rollback();
    const open = (await store.openCommit({ ...empty, outbox: [timer("wake_4")] }))._unsafeUnwrap();
    await quiet();
    expect(heard).toEqual([]);
    await open?.commit();
    await wakeNotifierOf(db.prisma).idle();
    await quiet();
    expect(heard).toEqual([{ channel: OUTBOX_CHANNEL, committed: ["wake_1", "wake_2", "wake_4"] }]);
  });

  it("sends no NOTIFY inside the writing transaction (no database-wide notify lock at its commit)", async () => {
    // The trigger that notified inside every outbox INSERT is gone: a row inserted by hand,
    // without the store, wakes nobody.
    await db.prisma.$executeRawUnsafe(
      `INSERT INTO outbox_effects (id, aggregate_type, aggregate_id, kind, payload, available_at, created_at)
       VALUES ('by_hand', 'round', 'round_wake', 'schedule_timer', '{"id":"by_hand","kind":"schedule_timer"}', now(), now())`,
    );
    await quiet();
    expect(heard).toEqual([]);
    const { rows } = await listener.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = 'outbox_effects'::regclass AND NOT tgisinternal",
    );
    expect(rows[0]?.n).toBe(0);
  });

  it("coalesces a burst: one notification now, one more after it for every call made meanwhile", async () => {
    const notifier = new WakeNotifier(db.prisma);
    for (let i = 0; i < 50; i++) notifier.wake("susu_wake_test");
    await notifier.idle();
    await quiet();
    expect(heard.map((h) => h.channel)).toEqual(["susu_wake_test", "susu_wake_test"]);

    heard.length = 0;
    notifier.wake("susu_wake_test");
    await notifier.idle();
    await quiet();
    expect(heard.map((h) => h.channel)).toEqual(["susu_wake_test"]);
  });

  it("wakes a worker of this process directly when one handles the channel, and notifies again once it is undone", async () => {
    const notifier = new WakeNotifier(db.prisma);
    let local = 0;
    const undo = notifier.handleLocally("susu_wake_test", () => {
      local += 1;
    });
    notifier.wake("susu_wake_test");
    notifier.wake("susu_wake_test");
    await notifier.idle();
    await quiet();
    expect(local).toBe(2);
    expect(heard).toEqual([]);

    undo();
    notifier.wake("susu_wake_test");
    await notifier.idle();
    await quiet();
    expect(local).toBe(2);
    expect(heard.map((h) => h.channel)).toEqual(["susu_wake_test"]);
  });

  it("reports a notification the database cannot take, and does not throw", async () => {
    const refused = db.connectionString.replace(/\/[^/?]+(\?|$)/, "/no_such_database$1");
    const unreachable = createPrismaClient(refused);
    const failures: string[] = [];
    const notifier = new WakeNotifier(unreachable, (channel) => failures.push(channel));
    expect(() => notifier.wake("susu_wake_test")).not.toThrow();
    await notifier.idle();
    expect(failures).toEqual(["susu_wake_test"]);
    await unreachable.$disconnect();
  });
});
