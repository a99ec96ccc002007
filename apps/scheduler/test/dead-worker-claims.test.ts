// The dead-worker release as the scheduler runs it, on real PostgreSQL: live claims of a worker
// without its liveness lock are given back once it has stayed without it for the confirmation
// wait, not before; a worker holding its lock, and this process itself, keep theirs.
import { holdWorkerLiveness, PrismaStore, PrismaWebhookInbox, startPgListener } from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import { ManualClock } from "@susu/domain/testing";
import type Stripe from "stripe";
import { describe, expect, it, vi } from "vitest";
import { startDeadWorkerRelease } from "../src/jobs/dead-worker-claims.js";
import { createLogger } from "../src/logger.js";
import { createSchedulerMetrics } from "../src/metrics.js";
import { emptyChangeset, FIXTURE_DAY, timerEffect } from "./support/outbox-fixtures.js";

const db = useTestDatabase();
const T = FIXTURE_DAY;
const LEASE = 5 * 60_000;
const empty = emptyChangeset;
const timer = timerEffect;
/** A debit's event, which ingest keeps for a processor. */
const debitEvent = (id: string): Stripe.Event =>
  ({
    id,
    object: "event",
    type: "payment_intent.processing",
    api_version: "2025-01-27.acacia",
    created: Math.floor(T / 1000),
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    data: {
      object: {
        id: `pi_${id}`,
        object: "payment_intent",
        status: "processing",
        metadata: { group_id: "grp_dw", round_id: `round_${id}`, member_id: "ana", attempt: "1" },
      },
    },
  }) as unknown as Stripe.Event;

describe("the dead-worker release job", () => {
  it("gives back a lockless worker's live claims after the confirmation wait only, and wakes the loops", async () => {
    const store = new PrismaStore(db.prisma);
    const inbox = new PrismaWebhookInbox(db.prisma, new ManualClock(T));
    (
      await store.commit({ ...empty, outbox: [timer("ghost_fx"), timer("alive_fx"), timer("me_fx")] })
    )._unsafeUnwrap();
    (await inbox.receive(debitEvent("evt_ghost")))._unsafeUnwrap();
    // "alive" holds its lock as a scheduler does: on its notification listener's connection.
    let held = false;
    const alive = startPgListener({
      connectionString: db.connectionString,
      channels: [],
      onNotify: () => undefined,
      onConnect: async (client) => {
        held = await holdWorkerLiveness(client, "alive");
      },
    });
    await alive.ready;
    try {
      expect(held).toBe(true);
      (await store.claimDue("ghost", T, LEASE, 1))._unsafeUnwrap();
      (await store.claimDue("alive", T, LEASE, 1))._unsafeUnwrap();
      (await store.claimDue("me", T, LEASE, 1))._unsafeUnwrap();
      expect((await inbox.claimDue("ghost", T, LEASE, 1))._unsafeUnwrap()).toHaveLength(1);

      const warnings: unknown[] = [];
      const log = createLogger("silent", "dead-worker-test");
      vi.spyOn(log, "warn").mockImplementation(((fields: unknown) => warnings.push(fields)) as never);
      const metrics = createSchedulerMetrics({ defaultMetrics: false });
      let steady = 0;
      let passes = 0;
      const woken = { outbox: 0, webhooks: 0 };
      const job = startDeadWorkerRelease(db.prisma, {
        workerId: "me",
        intervalMs: 20,
        now: () => T + 1_000,
        steadyNow: () => {
          passes += 1;
          return steady;
        },
        log,
        metrics,
        onOutboxReleased: () => {
          woken.outbox += 1;
        },
        onWebhooksReleased: () => {
          woken.webhooks += 1;
        },
      });
      try {
        // Several passes within the confirmation wait: "ghost" is suspected, nothing is given back.
        await vi.waitFor(() => expect(passes).toBeGreaterThanOrEqual(3), { timeout: 5_000 });
        expect(woken).toEqual({ outbox: 0, webhooks: 0 });
        const claimed = await db.prisma.outboxEffect.findMany({ select: { id: true, claimedBy: true } });
        expect(Object.fromEntries(claimed.map((r) => [r.id, r.claimedBy]))).toEqual({
          ghost_fx: "ghost",
          alive_fx: "alive",
          me_fx: "me",
        });
        // 15 s later (steady clock), still without a lock: given back.
        steady = 15_000;
        await vi.waitFor(() => expect(woken).toEqual({ outbox: 1, webhooks: 1 }), { timeout: 5_000 });
      } finally {
        await job.stop();
      }
      const effects = await db.prisma.outboxEffect.findMany({ select: { id: true, claimedBy: true } });
      expect(Object.fromEntries(effects.map((r) => [r.id, r.claimedBy]))).toEqual({
        ghost_fx: null,
        alive_fx: "alive",
        me_fx: "me",
      });
      const events = await db.prisma.webhookEvent.findMany({ select: { id: true, claimedBy: true } });
      expect(events).toEqual([{ id: "evt_ghost", claimedBy: null }]);
      expect(warnings).toEqual([
        {
          workers: ["ghost"],
          outboxEffects: 1,
          webhookEvents: 1,
          effects: ["ghost_fx"],
          events: ["evt_ghost"],
        },
      ]);
      const text = await metrics.metrics.registry.metrics();
      expect(text).toContain('susu_stuck_work_total{what="dead_worker_outbox_claims"} 1');
      expect(text).toContain('susu_stuck_work_total{what="dead_worker_webhook_claims"} 1');
    } finally {
      await alive.stop();
    }
  });
});
