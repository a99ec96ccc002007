// Worker liveness on real PostgreSQL: a worker's claims are judged by whether its session-level
// advisory lock is held, and only a lockless worker's live claims are given back.
import { type Changeset, interruptedTry, type OutboxEffect } from "@susu/domain";
import { ManualClock } from "@susu/domain/testing";
import pg from "pg";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  claimersWithoutLiveness,
  holdWorkerLiveness,
  livenessOnConnect,
  PrismaStore,
  releaseClaimsOfDeadWorkers,
  startPgListener,
} from "../../src/index.js";
import { PrismaWebhookInbox } from "../../src/webhooks/index.js";
import { useTestDatabase } from "../support/index.js";
import { stripeEvent } from "../webhooks/events.js";

const db = useTestDatabase();
const T = Date.UTC(2026, 0, 6);
const LEASE = 5 * 60_000;
const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };
const timer = (id: string): OutboxEffect => ({
  kind: "schedule_timer",
  id,
  aggregate: "round",
  aggregateId: `round_${id}`,
  at: T,
  timer: { kind: "collection_deadline" },
});
const event = (n: number) =>
  stripeEvent("payment_intent.processing", {
    id: `pi_live_${n}`,
    object: "payment_intent",
    status: "processing",
    metadata: { group_id: "grp_live", round_id: `round_live_${n}`, member_id: "ana", attempt: "1" },
  });

const sessions: pg.Client[] = [];
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((c) => c.end().catch(() => undefined)));
});
async function session(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: db.connectionString });
  await client.connect();
  sessions.push(client);
  return client;
}

async function claimsOf(): Promise<Record<string, string | null>> {
  const effects = await db.prisma.outboxEffect.findMany({ select: { id: true, claimedBy: true } });
  const events = await db.prisma.webhookEvent.findMany({ select: { id: true, claimedBy: true } });
  return Object.fromEntries([...effects, ...events].map((r) => [r.id, r.claimedBy]));
}

describe("worker liveness", () => {
  it("gives back the live claims of a worker without its lock only, and none once the lock is taken again", async () => {
    const store = new PrismaStore(db.prisma);
    const inbox = new PrismaWebhookInbox(db.prisma, new ManualClock(T));
    (
      await store.commit({ ...empty, outbox: [timer("alive_fx"), timer("dead_fx"), timer("dead_fx2")] })
    )._unsafeUnwrap();
    const [e1, e2] = [event(1), event(2)];
    (await inbox.receive(e1))._unsafeUnwrap();
    (await inbox.receive(e2))._unsafeUnwrap();
    // "alive" holds its lock on a session of its own; "dead" held one on a session now ended.
    const alive = await session();
    expect(await holdWorkerLiveness(alive, "alive")).toBe(true);
    const gone = await session();
    expect(await holdWorkerLiveness(gone, "dead")).toBe(true);
    // Another session cannot take a lock that is held.
    expect(await holdWorkerLiveness(await session(), "alive")).toBe(false);
    (await store.claimDue("alive", T, LEASE, 1))._unsafeUnwrap();
    (await store.claimDue("dead", T, LEASE, 2))._unsafeUnwrap();
    expect((await inbox.claimDue("alive", T, LEASE, 1))._unsafeUnwrap().map((e) => e.id)).toEqual([e1.id]);
    expect((await inbox.claimDue("dead", T, LEASE, 1))._unsafeUnwrap().map((e) => e.id)).toEqual([e2.id]);

    // While "dead"'s session lives, both are alive.
    expect(await claimersWithoutLiveness(db.prisma, T + 1_000)).toEqual([]);
    expect(await releaseClaimsOfDeadWorkers(db.prisma, ["dead"], T + 1_000)).toEqual({
      outboxEffects: [],
      webhookEvents: [],
    });

    await gone.end();
    expect(await claimersWithoutLiveness(db.prisma, T + 1_000)).toEqual(["dead"]);
    // Naming a live worker changes nothing: the lock is checked again row by row.
    const released = await releaseClaimsOfDeadWorkers(db.prisma, ["dead", "alive"], T + 1_000);
    expect(released.outboxEffects.map((r) => [r.id, r.claimedBy]).sort()).toEqual([
      ["dead_fx", "dead"],
      ["dead_fx2", "dead"],
    ]);
    expect(released.webhookEvents).toEqual([{ id: e2.id, claimedBy: "dead" }]);
    expect(await claimsOf()).toEqual({
      alive_fx: "alive",
      dead_fx: null,
      dead_fx2: null,
      [e1.id]: "alive",
      [e2.id]: null,
    });
    // The work is claimable at once, long before the lease would have ended; the dead worker
    // may have tried it, so it comes as failed before (no attempt counted), the reason kept.
    expect(
      (await store.claimDue("next", T + 2_000, LEASE, 5))
        ._unsafeUnwrap()
        .map((r) => [r.effect.id, r.attempts, r.failedBefore])
        .sort(),
    ).toEqual([
      ["dead_fx", 0, true],
      ["dead_fx2", 0, true],
    ]);
    const noted = await db.prisma.outboxEffect.findMany({
      where: { id: { in: ["dead_fx", "dead_fx2"] } },
      select: { lastError: true },
    });
    expect(noted.map((r) => r.lastError)).toEqual([
      interruptedTry.workerDied("dead"),
      interruptedTry.workerDied("dead"),
    ]);
    expect((await inbox.claimDue("next", T + 2_000, LEASE, 5))._unsafeUnwrap().map((e) => e.id)).toEqual([
      e2.id,
    ]);
  });

  it("a worker whose lock is taken again before the release keeps its claims; expired leases are not its concern", async () => {
    const store = new PrismaStore(db.prisma);
    (await store.commit({ ...empty, outbox: [timer("back_fx"), timer("old_fx")] }))._unsafeUnwrap();
    (await store.claimDue("back", T, LEASE, 1))._unsafeUnwrap();
    (await store.claimDue("old", T, 1_000, 1))._unsafeUnwrap();
    // Neither holds a lock: "back" is found lockless, "old"'s lease has ended (the stuck-work
    // sweep's concern), so only "back" is named.
    const found = await claimersWithoutLiveness(db.prisma, T + 5_000);
    expect(found).toContain("back");
    expect(found).not.toContain("old");
    // Its listener reconnects and takes the lock before the release runs.
    expect(await holdWorkerLiveness(await session(), "back")).toBe(true);
    expect(await releaseClaimsOfDeadWorkers(db.prisma, ["back"], T + 5_000)).toEqual({
      outboxEffects: [],
      webhookEvents: [],
    });
    const rows = await claimsOf();
    expect(rows.back_fx).toBe("back");
  });

  it("a listener whose worker's lock another session still holds connects again until it takes it", async () => {
    // An older session of the same worker the server has not closed yet.
    const stale = await session();
    expect(await holdWorkerLiveness(stale, "w_listener")).toBe(true);
    const warnings: string[] = [];
    const listener = startPgListener({
      connectionString: db.connectionString,
      channels: ["susu_outbox"],
      onNotify: () => undefined,
      onConnect: livenessOnConnect("w_listener"),
      minBackoffMs: 20,
      maxBackoffMs: 50,
      log: { info: () => undefined, warn: (fields) => warnings.push(String(fields.reason)) },
    });
    try {
      await vi.waitFor(() => expect(warnings.length).toBeGreaterThanOrEqual(2), { timeout: 10_000 });
      expect(listener.listening).toBe(false);
      expect(warnings[0]).toContain("liveness lock of w_listener is held by another session");
      await stale.end();
      await vi.waitFor(() => expect(listener.listening).toBe(true), { timeout: 10_000 });
      // The listener's session holds it now.
      expect(await holdWorkerLiveness(await session(), "w_listener")).toBe(false);
    } finally {
      await listener.stop();
    }
  });
});
