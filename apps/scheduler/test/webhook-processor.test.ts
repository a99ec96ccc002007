import {
  PrismaStore,
  PrismaSupportDesk,
  PrismaWebhookInbox,
  type WebhookGateway,
  type WebhookInbox,
  type WebhookProcessorContext,
} from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import { gatewayError, useCaseDepsOn } from "@susu/domain";
import { ManualClock, SequentialIds } from "@susu/domain/testing";
import { errAsync } from "neverthrow";
import type Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { startWebhookProcessor } from "../src/jobs/webhook-processor.js";
import { createLogger } from "../src/logger.js";

const db = useTestDatabase();
const log = createLogger("silent", "webhook-processor-test");

// No event in these tests asks Stripe anything.
const noStripe: WebhookGateway = {
  getPaymentReferences: () => errAsync(gatewayError("gateway_definite", "unexpected", "not in this test")),
  getConnectedAccount: () => errAsync(gatewayError("gateway_definite", "unexpected", "not in this test")),
  getMandate: () => errAsync(gatewayError("gateway_definite", "unexpected", "not in this test")),
  getPayment: () => errAsync(gatewayError("gateway_definite", "unexpected", "not in this test")),
  getPaymentMethod: () => errAsync(gatewayError("gateway_definite", "unexpected", "not in this test")),
};

let seq = 0;
/**
 * An event a processor must work (a susu debit, so it is not stored ignored at ingest) that
 * it ends `ignored`: its round does not exist. Each is its own round (its own ordering key).
 */
function unknownEvent(): Stripe.Event {
  seq += 1;
  return {
    id: `evt_sched_${Date.now().toString(36)}_${seq}`,
    object: "event",
    api_version: "2026-08-26.dahlia",
    created: 1_800_000_000 + seq,
    data: {
      object: {
        id: `pi_sched_${seq}`,
        object: "payment_intent",
        status: "processing",
        metadata: { group_id: "grp_gone", round_id: `round_gone_${seq}`, member_id: "ana", attempt: "1" },
      },
    },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: "payment_intent.processing",
  } as unknown as Stripe.Event;
}

function context(clock: ManualClock, inbox: WebhookInbox): WebhookProcessorContext {
  const store = new PrismaStore(db.prisma, { clock });
  return {
    deps: useCaseDepsOn(store, { clock, ids: new SequentialIds() }),
    inbox,
    gateway: noStripe,
    desk: new PrismaSupportDesk(db.prisma, clock),
  };
}

async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("startWebhookProcessor", () => {
  it("drains the inbox, waits for new events, and stops after the pass in progress", async () => {
    const clock = new ManualClock(Date.UTC(2026, 5, 1));
    const inbox = new PrismaWebhookInbox(db.prisma, clock);
    const first = [unknownEvent(), unknownEvent(), unknownEvent()];
    for (const e of first) await inbox.receive(e);
    const loop = startWebhookProcessor(context(clock, inbox), {
      workerId: "sched-1",
      intervalMs: 50,
      limit: 2,
      log,
    });
    const settled = (ids: string[]) => async () =>
      (await db.prisma.webhookEvent.count({ where: { id: { in: ids }, status: "ignored" } })) === ids.length;
    await until(settled(first.map((e) => e.id)));
    // Arrives while the loop sleeps: picked up on a later pass.
    const late = unknownEvent();
    await inbox.receive(late);
    await until(settled([late.id]));
    await loop.stop();
    const after = unknownEvent();
    await inbox.receive(after);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect((await inbox.find(after.id))._unsafeUnwrap()?.status).toBe("received");
  });

  it("two processors at once handle every event exactly once", async () => {
    const clock = new ManualClock(Date.UTC(2026, 6, 1));
    const inbox = new PrismaWebhookInbox(db.prisma, clock);
    const events = Array.from({ length: 30 }, unknownEvent);
    for (const e of events) await inbox.receive(e);
    const handled: string[] = [];
    const recording: WebhookInbox = {
      receive: (e) => inbox.receive(e),
      claimDue: (...args) => inbox.claimDue(...args),
      markProcessed: (...args) => inbox.markProcessed(...args),
      markIgnored: (id, workerId, reason) => {
        handled.push(id);
        return inbox.markIgnored(id, workerId, reason);
      },
      markFailed: (...args) => inbox.markFailed(...args),
      park: (...args) => inbox.park(...args),
    };
    const loops = ["a", "b"].map((w) =>
      startWebhookProcessor(context(clock, recording), {
        workerId: `sched-${w}`,
        intervalMs: 20,
        limit: 4,
        log,
      }),
    );
    const ids = events.map((e) => e.id);
    await until(
      async () =>
        (await db.prisma.webhookEvent.count({ where: { id: { in: ids }, status: "ignored" } })) === 30,
    );
    await Promise.all(loops.map((l) => l.stop()));
    // (The first test leaves one event behind on purpose; it may be handled here too.)
    expect(handled.filter((id) => ids.includes(id)).sort()).toEqual([...ids].sort());
  });

  it("a pass that fails on storage is logged and the loop keeps going", async () => {
    const clock = new ManualClock();
    let calls = 0;
    const broken: WebhookInbox = {
      receive: () => errAsync({ type: "storage_unavailable", code: "storage_unavailable", message: "down" }),
      claimDue: () => {
        calls += 1;
        return errAsync({ type: "storage_unavailable", code: "storage_unavailable", message: "down" });
      },
      markProcessed: () =>
        errAsync({ type: "storage_unavailable", code: "storage_unavailable", message: "down" }),
      markIgnored: () =>
        errAsync({ type: "storage_unavailable", code: "storage_unavailable", message: "down" }),
      markFailed: () =>
        errAsync({ type: "storage_unavailable", code: "storage_unavailable", message: "down" }),
      park: () => errAsync({ type: "storage_unavailable", code: "storage_unavailable", message: "down" }),
    };
    const loop = startWebhookProcessor(context(clock, broken), { workerId: "sched-x", intervalMs: 10, log });
    await until(async () => calls >= 3);
    await loop.stop();
  });

  it("gives back its claims on its first pass and after a failed one, not after passes that succeeded", async () => {
    const clock = new ManualClock(Date.UTC(2026, 6, 2));
    const inbox = new PrismaWebhookInbox(db.prisma, clock);
    const steps: string[] = [];
    let claims = 0;
    const watched: WebhookInbox = {
      receive: (e) => inbox.receive(e),
      releaseOwnClaims: (w) => {
        steps.push("release");
        return inbox.releaseOwnClaims(w);
      },
      claimDue: (...args) => {
        claims += 1;
        // The fourth claim fails, as a database that went away would.
        if (claims === 4) {
          steps.push("claim failed");
          return errAsync({ type: "storage_unavailable", code: "storage_unavailable", message: "down" });
        }
        steps.push("claim");
        return inbox.claimDue(...args);
      },
      markProcessed: (...args) => inbox.markProcessed(...args),
      markIgnored: (...args) => inbox.markIgnored(...args),
      markFailed: (...args) => inbox.markFailed(...args),
      park: (...args) => inbox.park(...args),
    };
    const loop = startWebhookProcessor(context(clock, watched), {
      workerId: "sched-release",
      intervalMs: 10,
      maxBackoffMs: 10,
      log,
    });
    await until(async () => claims >= 7);
    await loop.stop();
    // Each pass: a claim, after a release on the first pass and after the failed one only.
    expect(steps.slice(0, 8)).toEqual([
      "release",
      "claim",
      "claim",
      "claim",
      "claim failed",
      "release",
      "claim",
      "claim",
    ]);
  });
});
