// Dismissing parked work, for platform operators only: a parked webhook event becomes
// `ignored` and a parked outbox effect `dismissed` (terminal: never run, not done), with who,
// when and why in the audit log and on the parking's ticket, which is resolved. The parked
// gauges drop, so the alert on them sees the next parking; replay-all leaves dismissed items
// alone; replaying one by id undoes the dismissal.
import {
  PrismaLedgerStore,
  PrismaOperationsCounts,
  PrismaStore,
  PrismaSupportDesk,
  PrismaWebhookInbox,
  processWebhookInbox,
  type WebhookGateway,
} from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import { type Changeset, type OutboxEffect, type UseCaseDeps, useCaseDepsOn, useCases } from "@susu/domain";
import {
  anActiveGroup,
  aReadyPerson,
  aRoundOf,
  FakePaymentGateway,
  InMemoryTimerScheduler,
  ManualClock,
  RecordingNotifier,
  SequentialIds,
} from "@susu/domain/testing";
import type Stripe from "stripe";
import { beforeAll, describe, expect, it } from "vitest";
import { registerOperationsGauges } from "../../src/v1/operations.js";
import { authed, testApp, testHttp, tokenFor } from "../support/app.js";

const db = useTestDatabase();
const T = Date.UTC(2026, 0, 6, 9);
const clock = new ManualClock(T);
const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };
let app: ReturnType<typeof testApp>;
let store: PrismaStore;
let inbox: PrismaWebhookInbox;
let desk: PrismaSupportDesk;
let deps: UseCaseDeps;
let admin: string;
let service: string;
let tool: string;
let member: string;

beforeAll(async () => {
  store = new PrismaStore(db.prisma, { clock });
  inbox = new PrismaWebhookInbox(db.prisma, clock);
  desk = new PrismaSupportDesk(db.prisma, clock);
  deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
  const http = testHttp({ prisma: db.prisma });
  registerOperationsGauges(http.metrics, new PrismaOperationsCounts(db.prisma), () => clock.now());
  app = testApp({
    useCases: deps,
    // Never reaches Stripe: nothing tested here calls the gateway (the fake only fills the port).
    gateway: new FakePaymentGateway(() => clock.now()),
    prisma: db.prisma,
    http,
  });
  admin = await tokenFor("ops_ana", ["admin"]);
  service = await tokenFor("ops_app", ["service"]);
  // A second platform admin, the one who dismisses in most tests below.
  tool = await tokenFor("ops_tool", ["admin"]);
  member = await tokenFor("ana");
  const group = anActiveGroup({ id: "grp_dis" });
  ok(
    await store.commit({
      ...empty,
      people: ["ana", "ben", "cy"].map((id) => ({ state: aReadyPerson(id), expectedVersion: undefined })),
    }),
  );
  ok(
    await store.commit({
      ...empty,
      groups: [{ state: group, expectedVersion: undefined }],
      rounds: [{ state: aRoundOf(group, [], { id: "rnd_dis" }), expectedVersion: undefined }],
    }),
  );
});

function ok<T>(result: { isOk(): boolean; _unsafeUnwrap(): T }): T {
  return result._unsafeUnwrap();
}

interface Problem {
  code: string;
  errors?: { path: string }[];
}

const metrics = async () => (await app.request("/metrics", authed(admin))).text();
const gauge = (text: string, name: string, status: string) =>
  Number(new RegExp(`^${name}\\{status="${status}"\\} (\\d+)$`, "m").exec(text)?.[1] ?? 0);

/** A Stripe event about a susu debit of a round that does not exist: processing it ignores it. */
function unknownEvent(id: string): Stripe.Event {
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

/** Stores the events and parks them as a processor that gave up would, each with its ticket. */
async function parkEvents(ids: readonly string[]): Promise<void> {
  for (const id of ids) ok(await inbox.receive(unknownEvent(id)));
  const claimed = ok(await inbox.claimDue("worker", clock.now(), 60_000, 100));
  for (const e of claimed) {
    if (!ids.includes(e.id)) continue;
    ok(
      await desk.openTicket(
        { id: `webhook:${e.id}:parked`, reason: "webhook_parked", summary: `Stripe event ${e.id}` },
        { webhookEventId: e.id },
      ),
    );
    expect(ok(await inbox.park(e.id, "worker", "boom: translator failed"))).toBe("marked");
  }
}

const processor = () =>
  processWebhookInbox(
    { deps, inbox, desk, gateway: {} as WebhookGateway },
    { workerId: "processor", limit: 100 },
  );

function timer(id: string): OutboxEffect {
  return {
    kind: "schedule_timer",
    id,
    aggregate: "round",
    aggregateId: "rnd_dis",
    at: T,
    timer: { kind: "collection_deadline" },
  };
}

/** Appends the effects and parks them as a dispatcher that gave up would, each with its ticket. */
async function parkEffects(ids: readonly string[]): Promise<void> {
  ok(await store.commit({ ...empty, outbox: ids.map(timer) }));
  const claimed = ok(await store.claimDue("dispatcher", clock.now(), 60_000, 100));
  for (const r of claimed) {
    if (!ids.includes(r.effect.id)) continue;
    ok(
      await desk.openTicket({
        id: `${r.effect.id}:parked`,
        reason: "effect_parked",
        summary: `effect ${r.effect.id}`,
      }),
    );
    ok(await store.fail(r.effect.id, "dispatcher", "timer store down", undefined));
  }
}

const dispatch = () =>
  useCases.dispatchOutbox(
    deps,
    {
      // Never reaches Stripe: nothing tested here calls the gateway (the fake only fills the port).
      gateway: new FakePaymentGateway(() => clock.now()),
      notifier: new RecordingNotifier(),
      desk,
      timers: new InMemoryTimerScheduler(),
      ledger: new PrismaLedgerStore(db.prisma, { clock }),
    },
    store,
    { workerId: "dispatcher" },
  );

const REASON = "the customer's payment was refunded by hand in the dashboard";

describe("dismissing a parked webhook event", () => {
  beforeAll(async () => {
    await parkEvents(["evt_d1", "evt_d2", "evt_d3"]);
  });

  it("is for platform admins only: anonymous 401, a member 403, a service token 403 admin_only, and nothing changes", async () => {
    const path = "/v1/operations/webhook-events/evt_d1/dismiss";
    // A service token (a client app's backend) sees parked work but may not set it aside.
    const byService = await app.request(path, authed(service, "POST", { reason: REASON }));
    expect(byService.status).toBe(403);
    expect(((await byService.json()) as Problem).code).toBe("admin_only");
    const byServiceToOutbox = await app.request(
      "/v1/operations/outbox/any_effect/dismiss",
      authed(service, "POST", { reason: REASON }),
    );
    expect(byServiceToOutbox.status).toBe(403);
    expect(((await byServiceToOutbox.json()) as Problem).code).toBe("admin_only");
    const anonymous = await app.request(path, {
      method: "POST",
      body: JSON.stringify({ reason: REASON }),
      headers: { "content-type": "application/json" },
    });
    expect(anonymous.status).toBe(401);
    const refused = await app.request(path, authed(member, "POST", { reason: REASON }));
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as Problem).code).toBe("operator_only");
    expect((await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id: "evt_d1" } })).status).toBe(
      "parked",
    );
    expect(await db.prisma.auditLogEntry.count({ where: { aggregateType: "webhook_event" } })).toBe(0);
  });

  it("refuses a missing, blank, NUL or over-long reason with 400, and changes nothing", async () => {
    const path = "/v1/operations/webhook-events/evt_d1/dismiss";
    for (const body of [
      {},
      { reason: "" },
      { reason: "   " },
      { reason: "a\u0000b" },
      { reason: "x".repeat(2001) },
    ]) {
      const res = await app.request(path, authed(admin, "POST", body));
      expect(res.status, JSON.stringify(body).slice(0, 40)).toBe(400);
      expect(((await res.json()) as Problem).code).toBe("invalid_request");
    }
    const noBody = await app.request(path, authed(admin, "POST"));
    expect(noBody.status).toBeGreaterThanOrEqual(400);
    expect(noBody.status).toBeLessThan(500);
    expect(await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id: "evt_d1" } })).toMatchObject({
      status: "parked",
      attempts: 1,
    });
    expect(
      (await db.prisma.supportTicket.findUniqueOrThrow({ where: { id: "webhook:evt_d1:parked" } })).status,
    ).toBe("open");
  });

  it("makes it ignored, keeps its attempts and error, audits who and why, resolves its ticket; the gauge drops", async () => {
    expect(gauge(await metrics(), "susu_webhook_events", "parked")).toBe(3);
    clock.advance(60_000);
    const res = await app.request(
      "/v1/operations/webhook-events/evt_d1/dismiss",
      authed(admin, "POST", { reason: `  ${REASON} ` }),
    );
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toEqual({
      object: "dismissal",
      id: "evt_d1",
      status: "ignored",
      reason: REASON,
      dismissedBy: "ops_ana",
      dismissedAt: new Date(clock.now()).toISOString(),
      ticketId: "webhook:evt_d1:parked",
      ticketResolved: true,
    });
    const row = await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id: "evt_d1" } });
    expect(row).toMatchObject({
      status: "ignored",
      attempts: 1,
      lastError: "boom: translator failed",
      claimedBy: null,
      processedAt: new Date(clock.now()),
    });
    expect(row.outcome).toContain(REASON);
    expect(row.outcome).toContain("ops_ana");
    const audit = await db.prisma.auditLogEntry.findMany({
      where: { aggregateType: "webhook_event", aggregateId: "evt_d1" },
    });
    expect(audit).toEqual([
      expect.objectContaining({
        action: "dismiss_parked",
        outcome: "applied",
        actor: "operator:ops_ana",
        detail: REASON,
        occurredAt: new Date(clock.now()),
      }),
    ]);
    expect(
      await db.prisma.supportTicket.findUniqueOrThrow({ where: { id: "webhook:evt_d1:parked" } }),
    ).toMatchObject({
      status: "resolved",
      resolvedBy: "ops_ana",
      resolvedAt: new Date(clock.now()),
      resolution: `dismissed: ${REASON}`,
    });
    expect(gauge(await metrics(), "susu_webhook_events", "parked")).toBe(2);
    const parked = (await (await app.request("/v1/operations/webhook-events", authed(admin))).json()) as {
      data: { id: string }[];
    };
    expect(parked.data.map((e) => e.id)).toEqual(["evt_d2", "evt_d3"]);
  });

  it("answers 409 webhook_event_not_parked for an event not parked, 404 for an unknown one", async () => {
    const again = await app.request(
      "/v1/operations/webhook-events/evt_d1/dismiss",
      authed(tool, "POST", { reason: "again" }),
    );
    expect(again.status).toBe(409);
    expect(((await again.json()) as Problem).code).toBe("webhook_event_not_parked");
    expect(await db.prisma.auditLogEntry.count({ where: { aggregateId: "evt_d1" } })).toBe(1);
    expect((await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id: "evt_d1" } })).outcome).toContain(
      REASON,
    );
    const missing = await app.request(
      "/v1/operations/webhook-events/evt_nope/dismiss",
      authed(admin, "POST", { reason: REASON }),
    );
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as Problem).code).toBe("webhook_event_not_found");
  });

  it("with an Idempotency-Key answers the first dismissal again, and changes nothing more", async () => {
    const init = () =>
      authed(tool, "POST", { reason: "duplicate of evt_d1" }, { "idempotency-key": "dis-2" });
    const first = await app.request("/v1/operations/webhook-events/evt_d2/dismiss", init());
    expect(first.status).toBe(200);
    const again = await app.request("/v1/operations/webhook-events/evt_d2/dismiss", init());
    expect(again.status).toBe(200);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await again.json()).toEqual(await first.json());
    expect(await db.prisma.auditLogEntry.count({ where: { aggregateId: "evt_d2" } })).toBe(1);
  });

  it("dismisses an event without a ticket (none open): ticketResolved false", async () => {
    await db.prisma.supportTicket.update({
      where: { id: "webhook:evt_d3:parked" },
      data: {
        status: "resolved",
        resolution: "looked at it",
        resolvedBy: "ops_ben",
        resolvedAt: new Date(T),
      },
    });
    const res = await app.request(
      "/v1/operations/webhook-events/evt_d3/dismiss",
      authed(admin, "POST", { reason: REASON }),
    );
    expect(await res.json()).toMatchObject({ status: "ignored", ticketResolved: false });
    // The first resolution stays.
    expect(
      await db.prisma.supportTicket.findUniqueOrThrow({ where: { id: "webhook:evt_d3:parked" } }),
    ).toMatchObject({ resolvedBy: "ops_ben", resolution: "looked at it" });
  });

  it("is left alone by replay-all, and undone by replaying it by id", async () => {
    await parkEvents(["evt_d4"]);
    const all = await app.request("/v1/operations/webhook-events/replay", authed(admin, "POST"));
    expect(await all.json()).toMatchObject({ requeued: 1 });
    expect((await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id: "evt_d1" } })).status).toBe(
      "ignored",
    );
    clock.advance(1_000);
    const undo = await app.request("/v1/operations/webhook-events/evt_d1/replay", authed(admin, "POST"));
    expect(undo.status).toBe(200);
    expect(await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id: "evt_d1" } })).toMatchObject({
      status: "received",
      attempts: 0,
      nextAttemptAt: new Date(clock.now()),
    });
    expect(ok(await processor())).toMatchObject({ claimed: 2, ignored: 2 });
  });
});

describe("dismissing a parked outbox effect", () => {
  const ids = ["rnd_dis:timer:a", "rnd_dis:timer:b", "rnd_dis:timer:c"] as const;
  beforeAll(async () => {
    await parkEffects(ids);
  });

  it("is for platform operators only: anonymous 401, a member 403, and nothing changes", async () => {
    const path = `/v1/operations/outbox/${ids[0]}/dismiss`;
    const anonymous = await app.request(path, {
      method: "POST",
      body: JSON.stringify({ reason: REASON }),
      headers: { "content-type": "application/json" },
    });
    expect(anonymous.status).toBe(401);
    const refused = await app.request(path, authed(member, "POST", { reason: REASON }));
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as Problem).code).toBe("operator_only");
    expect((await db.prisma.outboxEffect.findUniqueOrThrow({ where: { id: ids[0] } })).status).toBe("parked");
  });

  it("refuses a missing, blank, NUL or over-long reason with 400, and changes nothing", async () => {
    for (const body of [
      {},
      { reason: " " },
      { reason: "a\u0000" },
      { reason: "x".repeat(2001) },
      { reason: 7 },
    ]) {
      const res = await app.request(`/v1/operations/outbox/${ids[0]}/dismiss`, authed(admin, "POST", body));
      expect(res.status).toBe(400);
      expect(((await res.json()) as Problem).code).toBe("invalid_request");
    }
    expect((await db.prisma.outboxEffect.findUniqueOrThrow({ where: { id: ids[0] } })).status).toBe("parked");
  });

  it("makes it dismissed, keeps its attempts and error, audits who and why, resolves its ticket; the gauge drops", async () => {
    expect(gauge(await metrics(), "susu_outbox_effects", "parked")).toBe(3);
    clock.advance(60_000);
    const res = await app.request(
      `/v1/operations/outbox/${ids[0]}/dismiss`,
      authed(tool, "POST", { reason: REASON }),
    );
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toEqual({
      object: "dismissal",
      id: ids[0],
      status: "dismissed",
      reason: REASON,
      dismissedBy: "ops_tool",
      dismissedAt: new Date(clock.now()).toISOString(),
      ticketId: `${ids[0]}:parked`,
      ticketResolved: true,
    });
    expect(await db.prisma.outboxEffect.findUniqueOrThrow({ where: { id: ids[0] } })).toMatchObject({
      status: "dismissed",
      attempts: 1,
      lastError: "timer store down",
      claimedBy: null,
      completedAt: null,
    });
    // On the effect, and on its aggregate (the round's timeline and its group's audit trail show it).
    const audit = await db.prisma.auditLogEntry.findMany({
      where: { action: "dismiss_parked" },
      orderBy: { id: "asc" },
    });
    expect(audit.filter((a) => a.aggregateId === ids[0] || a.aggregateId === "rnd_dis")).toEqual([
      expect.objectContaining({
        aggregateType: "outbox_effect",
        aggregateId: ids[0],
        outcome: "applied",
        actor: "operator:ops_tool",
        detail: REASON,
        occurredAt: new Date(clock.now()),
      }),
      expect.objectContaining({
        aggregateType: "round",
        aggregateId: "rnd_dis",
        actor: "operator:ops_tool",
        detail: `${ids[0]} (schedule_timer): ${REASON}`,
      }),
    ]);
    expect(
      await db.prisma.supportTicket.findUniqueOrThrow({ where: { id: `${ids[0]}:parked` } }),
    ).toMatchObject({
      status: "resolved",
      resolvedBy: "ops_tool",
      resolution: `dismissed: ${REASON}`,
    });
    const text = await metrics();
    expect(gauge(text, "susu_outbox_effects", "parked")).toBe(2);
    expect(gauge(text, "susu_outbox_effects", "dismissed")).toBe(0);
  });

  it("lists dismissed effects by status, and parked ones without them", async () => {
    const dismissed = (await (
      await app.request("/v1/operations/outbox?status=dismissed", authed(admin))
    ).json()) as {
      data: { id: string; status: string; attempts: number; lastError: string }[];
    };
    expect(dismissed.data).toEqual([
      expect.objectContaining({
        id: ids[0],
        status: "dismissed",
        attempts: 1,
        lastError: "timer store down",
      }),
    ]);
    const parked = (await (await app.request("/v1/operations/outbox", authed(admin))).json()) as {
      data: { id: string }[];
    };
    expect(parked.data.map((e) => e.id)).toEqual([ids[1], ids[2]]);
  });

  it("answers 409 outbox_effect_not_parked for an effect not parked, 404 for an unknown one", async () => {
    const again = await app.request(
      `/v1/operations/outbox/${ids[0]}/dismiss`,
      authed(admin, "POST", { reason: "again" }),
    );
    expect(again.status).toBe(409);
    expect(((await again.json()) as Problem).code).toBe("outbox_effect_not_parked");
    const missing = await app.request(
      "/v1/operations/outbox/fx_nope/dismiss",
      authed(admin, "POST", { reason: REASON }),
    );
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as Problem).code).toBe("outbox_effect_not_found");
  });

  it("is never claimed, left alone by replay-all, and undone by replaying it by id", async () => {
    expect(ok(await dispatch())).toMatchObject({ claimed: 0 });
    const all = await app.request("/v1/operations/outbox/replay", authed(admin, "POST"));
    expect(await all.json()).toMatchObject({ requeued: 2 });
    expect(ok(await dispatch())).toMatchObject({ claimed: 2, completed: 2 });
    expect((await db.prisma.outboxEffect.findUniqueOrThrow({ where: { id: ids[0] } })).status).toBe(
      "dismissed",
    );
    clock.advance(1_000);
    const undo = await app.request(`/v1/operations/outbox/${ids[0]}/replay`, authed(admin, "POST"));
    expect(undo.status, await undo.clone().text()).toBe(200);
    expect(await db.prisma.outboxEffect.findUniqueOrThrow({ where: { id: ids[0] } })).toMatchObject({
      status: "pending",
      attempts: 0,
      availableAt: new Date(clock.now()),
    });
    expect(ok(await dispatch())).toMatchObject({ claimed: 1, completed: 1 });
    // Done now: neither dismissable nor replayable.
    const done = await app.request(
      `/v1/operations/outbox/${ids[0]}/dismiss`,
      authed(admin, "POST", { reason: REASON }),
    );
    expect(done.status).toBe(409);
  });
});

describe("the OpenAPI document", () => {
  it("describes both dismiss routes with their auth, body and answers", async () => {
    const doc = (await (await app.request("/v1/openapi.json")).json()) as {
      paths: Record<
        string,
        Record<string, { security?: unknown[]; requestBody?: unknown; responses: Record<string, unknown> }>
      >;
    };
    for (const path of [
      "/v1/operations/webhook-events/{eventId}/dismiss",
      "/v1/operations/outbox/{effectId}/dismiss",
    ]) {
      const operation = doc.paths[path]?.post;
      expect(operation, path).toBeDefined();
      expect(operation?.security).toEqual([{ bearer: [] }]);
      expect(operation?.requestBody).toBeDefined();
      expect(Object.keys(operation?.responses ?? {})).toEqual(
        expect.arrayContaining(["200", "400", "401", "403", "404", "409"]),
      );
    }
  });
});
