// Operations on v1, for platform operators only: support tickets (list, read, resolve),
// parked webhook events and outbox effects (list, replay one, replay all), and the gauges
// that count them. A replayed item is due at once and the real processors take it.
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
import {
  type Changeset,
  debitInitiated,
  money,
  type OutboxEffect,
  type UseCaseDeps,
  useCaseDepsOn,
  useCases,
} from "@susu/domain";
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
  service = await tokenFor("ops_tool", ["service"]);
  member = await tokenFor("ana");

  // A round to hang effects on (the outbox names its aggregate).
  const group = anActiveGroup({ id: "grp_ops" });
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
      rounds: [{ state: aRoundOf(group, [], { id: "rnd_ops" }), expectedVersion: undefined }],
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

/** Anonymous 401, a member 403 `operator_only`, for one request. */
async function expectOperatorsOnly(path: string, method = "GET", body?: unknown): Promise<void> {
  const anonymous = await app.request(path, {
    method,
    ...(body !== undefined
      ? { body: JSON.stringify(body), headers: { "content-type": "application/json" } }
      : {}),
  });
  expect(anonymous.status, `${method} ${path} anonymous`).toBe(401);
  const refused = await app.request(path, authed(member, method, body));
  expect(refused.status, `${method} ${path} member`).toBe(403);
  expect(((await refused.json()) as Problem).code).toBe("operator_only");
}

describe("support tickets", () => {
  beforeAll(async () => {
    // Tickets opened by parking have ids with colons (`<effect id>:parked`).
    for (const [i, id] of ["tkt_a", "tkt_b", "tkt_c", "rnd_ops:fx:1:parked"].entries()) {
      clock.advanceTo(T + i * 1000);
      ok(
        await desk.openTicket({
          id,
          reason: "payout_blocked",
          summary: `ticket ${id}`,
          groupId: "grp_ops",
          // A round's ticket names the round; one opened by parking here names none.
          ...(id === "tkt_b" ? { aggregate: "round", aggregateId: "rnd_ops" } : {}),
        }),
      );
    }
    clock.advanceTo(T + 10_000);
  });

  it("are for platform operators only: anonymous 401, a member 403 and nothing resolved", async () => {
    await expectOperatorsOnly("/v1/tickets");
    await expectOperatorsOnly("/v1/tickets/tkt_a");
    await expectOperatorsOnly("/v1/tickets/tkt_a/resolve", "POST", { resolution: "done" });
    expect(await db.prisma.supportTicket.findUniqueOrThrow({ where: { id: "tkt_a" } })).toMatchObject({
      status: "open",
      resolvedBy: null,
    });
  });

  it("lists oldest first a page at a time, filtered by status", async () => {
    const first = (await (await app.request("/v1/tickets?limit=2", authed(admin))).json()) as {
      data: { id: string }[];
      has_more: boolean;
    };
    expect(first.data.map((t) => t.id)).toEqual(["tkt_a", "tkt_b"]);
    expect(first.has_more).toBe(true);
    const next = (await (
      await app.request("/v1/tickets?limit=2&starting_after=tkt_b", authed(service))
    ).json()) as {
      data: { id: string }[];
      has_more: boolean;
    };
    expect(next.data.map((t) => t.id)).toEqual(["tkt_c", "rnd_ops:fx:1:parked"]);
    expect(next.has_more).toBe(false);
    const resolved = (await (await app.request("/v1/tickets?status=resolved", authed(admin))).json()) as {
      data: unknown[];
    };
    expect(resolved.data).toEqual([]);
    const bad = await app.request("/v1/tickets?status=closed", authed(admin));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as Problem).errors?.map((e) => e.path)).toContain("status");
  });

  it("reads one ticket; an unknown one is 404 ticket_not_found", async () => {
    const res = await app.request("/v1/tickets/tkt_b", authed(admin));
    expect(await res.json()).toMatchObject({
      object: "support_ticket",
      id: "tkt_b",
      kind: "payout_blocked",
      status: "open",
      groupId: "grp_ops",
      aggregate: "round",
      aggregateId: "rnd_ops",
      roundId: "rnd_ops",
      createdAt: new Date(T + 1000).toISOString(),
      resolvedAt: null,
    });
    const colons = await app.request("/v1/tickets/rnd_ops:fx:1:parked", authed(service));
    expect(await colons.json()).toMatchObject({
      id: "rnd_ops:fx:1:parked",
      createdAt: new Date(T + 3000).toISOString(),
      aggregate: null,
      aggregateId: null,
      roundId: null,
    });
    const missing = await app.request("/v1/tickets/tkt_nope", authed(admin));
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as Problem).code).toBe("ticket_not_found");
  });

  it("resolving is a platform admin's decision: a service token reads tickets but gets 403 admin_only, and nothing changes", async () => {
    const before = await db.prisma.supportTicket.findUniqueOrThrow({ where: { id: "tkt_c" } });
    const audited = await db.prisma.auditLogEntry.count();
    expect((await app.request("/v1/tickets/tkt_c", authed(service))).status).toBe(200);
    const refused = await app.request(
      "/v1/tickets/tkt_c/resolve",
      authed(service, "POST", { resolution: "closed by an app's backend" }),
    );
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({
      code: "admin_only",
      detail: "only platform admins may resolve a ticket (a service token may not)",
    });
    // Refused before the ticket is looked up: a missing one is the same 403.
    const missing = await app.request(
      "/v1/tickets/tkt_nope/resolve",
      authed(service, "POST", { resolution: "x" }),
    );
    expect([missing.status, ((await missing.json()) as Problem).code]).toEqual([403, "admin_only"]);
    expect(await db.prisma.supportTicket.findUniqueOrThrow({ where: { id: "tkt_c" } })).toEqual(before);
    expect(before).toMatchObject({ status: "open", resolvedBy: null, resolution: null });
    expect(await db.prisma.auditLogEntry.count()).toBe(audited);
  });

  it("resolves with a note and who; a second resolve is 409 and keeps the first resolution", async () => {
    const res = await app.request(
      "/v1/tickets/tkt_a/resolve",
      authed(admin, "POST", { resolution: "refunded by hand" }),
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      status: "resolved",
      resolvedBy: "ops_ana",
      resolution: "refunded by hand",
      resolvedAt: new Date(T + 10_000).toISOString(),
    });
    const again = await app.request(
      "/v1/tickets/tkt_a/resolve",
      authed(admin, "POST", { resolution: "again" }),
    );
    expect(again.status).toBe(409);
    expect(((await again.json()) as Problem).code).toBe("ticket_already_resolved");
    expect(await db.prisma.supportTicket.findUniqueOrThrow({ where: { id: "tkt_a" } })).toMatchObject({
      resolvedBy: "ops_ana",
      resolution: "refunded by hand",
    });
    const listed = (await (await app.request("/v1/tickets?status=resolved", authed(admin))).json()) as {
      data: { id: string }[];
    };
    expect(listed.data.map((t) => t.id)).toEqual(["tkt_a"]);
    const missing = await app.request(
      "/v1/tickets/tkt_nope/resolve",
      authed(admin, "POST", { resolution: "x" }),
    );
    expect(missing.status).toBe(404);
  });

  it("refuses an empty or NUL resolution with 400, and changes nothing", async () => {
    for (const resolution of ["", "   ", "a\u0000b"]) {
      const res = await app.request("/v1/tickets/tkt_b/resolve", authed(admin, "POST", { resolution }));
      expect(res.status).toBe(400);
      expect(((await res.json()) as Problem).code).toBe("invalid_request");
    }
    expect((await db.prisma.supportTicket.findUniqueOrThrow({ where: { id: "tkt_b" } })).status).toBe("open");
  });
});

/** A Stripe event no handler knows: processing it marks it ignored, with no provider call. */
function unknownEvent(id: string): Stripe.Event {
  return {
    id,
    object: "event",
    api_version: "2026-08-26.dahlia",
    created: Math.floor(T / 1000),
    // A susu debit (so it is not stored ignored at ingest) of a round that does not exist.
    data: {
      object: {
        id: `pi_${id}`,
        object: "payment_intent",
        status: "processing",
        metadata: { group_id: "grp_gone", round_id: `round_${id}`, member_id: "ana", attempt: "1" },
        secret_marker: "payload-only",
      },
    },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: "payment_intent.processing",
  } as unknown as Stripe.Event;
}

/** Stores the events and parks them as a processor that gave up would. */
async function parkEvents(ids: readonly string[]): Promise<void> {
  for (const id of ids) ok(await inbox.receive(unknownEvent(id)));
  const claimed = ok(await inbox.claimDue("worker", clock.now(), 60_000, 100));
  for (const e of claimed)
    if (ids.includes(e.id))
      expect(ok(await inbox.park(e.id, "worker", "boom: translator failed"))).toBe("marked");
}

const processor = () =>
  processWebhookInbox(
    { deps, inbox, desk, gateway: {} as WebhookGateway },
    { workerId: "processor", limit: 100 },
  );

describe("parked webhook events", () => {
  beforeAll(async () => {
    await parkEvents(["evt_p1", "evt_p2", "evt_p3"]);
  });

  it("are for platform operators only, and a refused replay changes nothing", async () => {
    await expectOperatorsOnly("/v1/operations/webhook-events?status=parked");
    await expectOperatorsOnly("/v1/operations/webhook-events/evt_p1/replay", "POST");
    await expectOperatorsOnly("/v1/operations/webhook-events/replay", "POST");
    expect(await db.prisma.webhookEvent.count({ where: { status: "parked" } })).toBe(3);
  });

  it("lists parked events a page at a time with attempts and last error, never the payload", async () => {
    const res = await app.request("/v1/operations/webhook-events?status=parked&limit=2", authed(admin));
    const text = await res.text();
    expect(text).not.toContain("payload-only");
    const page = JSON.parse(text) as {
      data: { id: string; attempts: number; lastError: string }[];
      has_more: boolean;
    };
    expect(page.data.map((e) => e.id)).toEqual(["evt_p1", "evt_p2"]);
    expect(page.data[0]).toMatchObject({
      status: "parked",
      attempts: 1,
      lastError: "boom: translator failed",
    });
    expect(page.has_more).toBe(true);
    const next = (await (
      await app.request("/v1/operations/webhook-events?starting_after=evt_p2", authed(service))
    ).json()) as { data: { id: string }[]; has_more: boolean };
    expect(next).toMatchObject({ data: [{ id: "evt_p3" }], has_more: false });
  });

  it("replays one: due now with attempts reset, and the processor takes it", async () => {
    clock.advance(60_000);
    const res = await app.request("/v1/operations/webhook-events/evt_p1/replay", authed(admin, "POST"));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      object: "replay",
      id: "evt_p1",
      status: "requeued",
      dueAt: new Date(clock.now()).toISOString(),
    });
    expect(await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id: "evt_p1" } })).toMatchObject({
      status: "received",
      attempts: 0,
      nextAttemptAt: new Date(clock.now()),
      lastError: "boom: translator failed",
    });
    // Due now: a second replay is refused and changes nothing.
    const due = await app.request("/v1/operations/webhook-events/evt_p1/replay", authed(admin, "POST"));
    expect(due.status).toBe(409);
    expect(((await due.json()) as Problem).code).toBe("webhook_event_not_parked");
    expect(await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id: "evt_p1" } })).toMatchObject({
      status: "received",
      attempts: 0,
    });
    const report = ok(await processor());
    expect(report).toMatchObject({ claimed: 1, ignored: 1 });
    const ignored = await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id: "evt_p1" } });
    expect(ignored.status).toBe("ignored");
    expect(ignored.processedAt).not.toBeNull();
    // Ignored: replayable by id (a release may now handle what an earlier one ignored).
    clock.advance(1_000);
    const replayIgnored = await app.request(
      "/v1/operations/webhook-events/evt_p1/replay",
      authed(admin, "POST"),
    );
    expect(replayIgnored.status).toBe(200);
    expect(await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id: "evt_p1" } })).toMatchObject({
      status: "received",
      nextAttemptAt: new Date(clock.now()),
      processedAt: null,
    });
    expect(ok(await processor())).toMatchObject({ claimed: 1, ignored: 1 });
    expect((await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id: "evt_p1" } })).status).toBe(
      "ignored",
    );
    const missing = await app.request("/v1/operations/webhook-events/evt_nope/replay", authed(admin, "POST"));
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as Problem).code).toBe("webhook_event_not_found");
  });

  it("replays all parked events at once; the processor takes them all", async () => {
    const res = await app.request("/v1/operations/webhook-events/replay", authed(service, "POST"));
    expect(await res.json()).toMatchObject({ object: "replay_all", requeued: 2 });
    expect(await db.prisma.webhookEvent.count({ where: { status: "parked" } })).toBe(0);
    expect(ok(await processor())).toMatchObject({ claimed: 2, ignored: 2 });
  });
});

function timer(id: string): OutboxEffect {
  return {
    kind: "schedule_timer",
    id,
    aggregate: "round",
    aggregateId: "rnd_ops",
    at: T,
    timer: { kind: "collection_deadline" },
  };
}

/** Appends the effects and parks them as a dispatcher that gave up would. */
async function parkEffects(ids: readonly string[]): Promise<void> {
  ok(await store.commit({ ...empty, outbox: ids.map(timer) }));
  const claimed = ok(await store.claimDue("dispatcher", clock.now(), 60_000, 100));
  for (const r of claimed)
    if (ids.includes(r.effect.id))
      ok(await store.fail(r.effect.id, "dispatcher", "timer store down", undefined));
}

const timers = new InMemoryTimerScheduler();
const dispatch = () =>
  useCases.dispatchOutbox(
    deps,
    {
      // Never reaches Stripe: nothing tested here calls the gateway (the fake only fills the port).
      gateway: new FakePaymentGateway(() => clock.now()),
      notifier: new RecordingNotifier(),
      desk,
      timers,
      ledger: new PrismaLedgerStore(db.prisma, { clock }),
    },
    store,
    { workerId: "dispatcher" },
  );

describe("parked outbox effects", () => {
  const ids = ["rnd_ops:timer:a", "rnd_ops:timer:b", "rnd_ops:timer:c"] as const;
  beforeAll(async () => {
    await parkEffects(ids);
  });

  it("are for platform operators only, and a refused replay changes nothing", async () => {
    await expectOperatorsOnly("/v1/operations/outbox?status=parked");
    await expectOperatorsOnly(`/v1/operations/outbox/${ids[0]}/replay`, "POST");
    await expectOperatorsOnly("/v1/operations/outbox/replay", "POST");
    expect(await db.prisma.outboxEffect.count({ where: { status: "parked" } })).toBe(3);
  });

  it("lists parked effects in dispatch order a page at a time, with attempts and last error", async () => {
    const page = (await (await app.request("/v1/operations/outbox?limit=2", authed(admin))).json()) as {
      data: { id: string }[];
      has_more: boolean;
    };
    expect(page.data).toEqual([
      expect.objectContaining({
        object: "outbox_effect",
        id: ids[0],
        kind: "schedule_timer",
        status: "parked",
        attempts: 1,
        lastError: "timer store down",
        availableAt: null,
        aggregateId: "rnd_ops",
      }),
      expect.objectContaining({ id: ids[1] }),
    ]);
    expect(page.has_more).toBe(true);
    const next = (await (
      await app.request(`/v1/operations/outbox?limit=2&starting_after=${ids[1]}`, authed(admin))
    ).json()) as { data: { id: string }[]; has_more: boolean };
    expect(next).toMatchObject({ data: [{ id: ids[2] }], has_more: false });
    const pending = (await (
      await app.request("/v1/operations/outbox?status=pending", authed(admin))
    ).json()) as {
      data: unknown[];
    };
    expect(pending.data).toEqual([]);
  });

  it("replays one: pending, due now, attempts reset, same id; the dispatcher runs it", async () => {
    clock.advance(60_000);
    const res = await app.request(`/v1/operations/outbox/${ids[0]}/replay`, authed(admin, "POST"));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: ids[0], status: "requeued" });
    expect(await db.prisma.outboxEffect.findUniqueOrThrow({ where: { id: ids[0] } })).toMatchObject({
      status: "pending",
      attempts: 0,
      availableAt: new Date(clock.now()),
    });
    expect(ok(await dispatch())).toMatchObject({ claimed: 1, completed: 1 });
    expect((await db.prisma.outboxEffect.findUniqueOrThrow({ where: { id: ids[0] } })).status).toBe("done");
    const again = await app.request(`/v1/operations/outbox/${ids[0]}/replay`, authed(admin, "POST"));
    expect(again.status).toBe(409);
    expect(((await again.json()) as Problem).code).toBe("outbox_effect_not_parked");
    expect((await db.prisma.outboxEffect.findUniqueOrThrow({ where: { id: ids[0] } })).status).toBe("done");
    const missing = await app.request("/v1/operations/outbox/fx_nope/replay", authed(admin, "POST"));
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as Problem).code).toBe("outbox_effect_not_found");
  });

  it("replays all parked effects; the dispatcher runs them all", async () => {
    const res = await app.request("/v1/operations/outbox/replay", authed(admin, "POST"));
    expect(await res.json()).toMatchObject({ object: "replay_all", requeued: 2 });
    expect(ok(await dispatch())).toMatchObject({ claimed: 2, completed: 2 });
    expect(await db.prisma.outboxEffect.count({ where: { status: "parked" } })).toBe(0);
  });
});

describe("a pending effect waiting out its backoff", () => {
  it("shows when it may next be tried; one due now shows null", async () => {
    const [waiting, due] = ["rnd_wait:timer:a", "rnd_wait:timer:b"] as const;
    ok(await store.commit({ ...empty, outbox: [timer(waiting), timer(due)] }));
    const claimed = ok(await store.claimDue("dispatcher", clock.now(), 60_000, 100));
    const retryAt = clock.now() + 30_000;
    for (const r of claimed)
      if (r.effect.id === waiting) ok(await store.fail(waiting, "dispatcher", "timer store down", retryAt));
    try {
      const listed = (await (
        await app.request("/v1/operations/outbox?status=pending", authed(admin))
      ).json()) as {
        data: { id: string; availableAt: string | null }[];
      };
      expect(listed.data.filter((e) => e.id === waiting || e.id === due)).toEqual([
        expect.objectContaining({ id: waiting, availableAt: new Date(retryAt).toISOString() }),
        expect.objectContaining({ id: due, availableAt: null }),
      ]);
      // Its backoff run out, it is due now like the other.
      clock.advance(30_000);
      const later = (await (
        await app.request("/v1/operations/outbox?status=pending", authed(admin))
      ).json()) as { data: { id: string; availableAt: string | null }[] };
      expect(later.data.find((e) => e.id === waiting)).toMatchObject({ availableAt: null });
    } finally {
      await db.prisma.outboxEffect.deleteMany({ where: { id: { in: [waiting, due] } } });
    }
  });
});

describe("a parked effect whose id holds a person id as identity providers make them", () => {
  // A debit of a member whose subject is 250 characters of Auth0: `|` in the id, 270 in all.
  const id = `rnd_ops:contribution:auth0|${"b".repeat(244)}:attempt:1`;

  it("is listed, paged after and replayed by its percent-encoded id", async () => {
    await parkEffects([id]);
    const listed = (await (await app.request("/v1/operations/outbox", authed(admin))).json()) as {
      data: { id: string }[];
    };
    expect(listed.data.map((e) => e.id)).toEqual([id]);
    const after = await app.request(
      `/v1/operations/outbox?starting_after=${encodeURIComponent(id)}`,
      authed(admin),
    );
    expect(after.status).toBe(200);
    clock.advance(60_000);
    const res = await app.request(
      `/v1/operations/outbox/${encodeURIComponent(id)}/replay`,
      authed(admin, "POST"),
    );
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toMatchObject({ id, status: "requeued" });
    expect((await db.prisma.outboxEffect.findUniqueOrThrow({ where: { id } })).status).toBe("pending");
    expect(ok(await dispatch())).toMatchObject({ claimed: 1, completed: 1 });
    const spaced = await app.request("/v1/operations/outbox/a%20b/replay", authed(admin, "POST"));
    expect(spaced.status).toBe(400);
  });
});

describe("operations gauges", () => {
  it("count rounds, held payments, marketplace charges, outbox and inbox depth and open tickets at scrape time", async () => {
    await parkEffects(["rnd_ops:timer:gauge"]);
    await parkEvents(["evt_gauge"]);
    ok(
      await useCases.createHeldPayment(deps, {
        requestedBy: "app_gauge",
        clientReference: "booking_gauge",
        sellerId: "ana",
        amountMinor: 5_000,
        currency: "AUD",
        description: "A gauge's booking",
        customer: { email: "cy@example.com" },
        fee: { kind: "rate", basisPoints: 1_000 },
        successUrl: "https://app.example/done",
      }),
    );
    ok(
      await useCases.createMarketplaceCharge(deps, {
        requestedBy: "app_gauge",
        clientReference: "rsvp_gauge",
        activityId: "act_gauge",
        purpose: "rsvp",
        description: "A gauge's class",
        amountMinor: 5_000,
        currency: "AUD",
        customerId: "cy",
        customerEmail: "cy@example.com",
        paymentMethod: { kind: "new_card" },
        fee: { kind: "rate", basisPoints: 1_000 },
        sellers: [{ id: "ana" }],
      }),
    );
    const res = await app.request("/metrics", authed(admin));
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/susu_marketplace_charges\{status="awaiting_payment"\} 1/);
    expect(text).toMatch(/susu_rounds\{status="collecting"\} 1/);
    expect(text).toMatch(/susu_held_payments\{status="awaiting_payment"\} 1/);
    expect(text).toMatch(/susu_outbox_effects\{status="parked"\} 1/);
    expect(text).toMatch(/susu_webhook_events\{status="parked"\} 1/);
    expect(text).toMatch(/susu_support_tickets_open 3/);
    // Every gauge's collect errors are exported, at 0: none failed.
    expect(text).toMatch(/^susu_gauge_collect_errors_total\{gauge="susu_rounds"\} 0$/m);
    expect(text).not.toMatch(/^susu_gauge_collect_errors_total\{.*\} [1-9]/m);
  });

  it("susu_reconciliation_days_behind: the days the scheduler's daily reconciliation has still to do", async () => {
    const behind = async () => {
      const text = await (await app.request("/metrics", authed(admin))).text();
      return /^susu_reconciliation_days_behind (\d+)$/m.exec(text)?.[1];
    };
    // Before its first run, with nothing older than today in the ledger: yesterday alone.
    expect(await behind()).toBe("1");
    const day = 86_400_000;
    const today = Math.floor(T / day) * day;
    // Money moved 6 days ago and no run ever stored a report (every run crashed, or none ran):
    // the days since that day are behind, so the alert can fire.
    const ledger = new PrismaLedgerStore(db.prisma);
    ok(
      await ledger.post(
        debitInitiated({
          id: "eff_gauge_debit:initiated",
          roundId: "rnd_ops",
          memberId: "ana",
          amount: money(5000, "AUD"),
          occurredAt: today - 6 * day + 3_600_000,
        })._unsafeUnwrap(),
      ),
    );
    expect(await behind()).toBe("6");
    const report = (id: string, ranBy: string, from: number) => ({
      id,
      periodFrom: new Date(from),
      periodTo: new Date(from + day),
      ranBy,
      differencesCount: 0,
      matched: 0,
      summary: {},
      differences: [],
      createdAt: new Date(T),
    });
    // Its last day was 5 days ago: that day's successors up to yesterday, 4, are due; an admin's
    // newer report of another period does not count.
    await db.prisma.reconciliationReport.createMany({
      data: [
        report("rcn_gauge_1", "scheduler", today - 5 * day),
        report("rcn_gauge_2", "ops_ana", today - day),
      ],
    });
    expect(await behind()).toBe("4");
    await db.prisma.reconciliationReport.create({ data: report("rcn_gauge_3", "scheduler", today - day) });
    expect(await behind()).toBe("0");
  });
});

describe("the OpenAPI document", () => {
  it("describes every ledger and operations route with its auth", async () => {
    const doc = (await (await app.request("/v1/openapi.json")).json()) as {
      paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown> }>>;
    };
    const routes: [string, string][] = [
      ["/v1/groups/{groupId}/ledger", "get"],
      ["/v1/groups/{groupId}/ledger/transactions", "get"],
      ["/v1/tickets", "get"],
      ["/v1/tickets/{ticketId}", "get"],
      ["/v1/tickets/{ticketId}/resolve", "post"],
      ["/v1/operations/webhook-events", "get"],
      ["/v1/operations/webhook-events/{eventId}/replay", "post"],
      ["/v1/operations/webhook-events/replay", "post"],
      ["/v1/operations/outbox", "get"],
      ["/v1/operations/outbox/{effectId}/replay", "post"],
      ["/v1/operations/outbox/replay", "post"],
    ];
    for (const [path, method] of routes) {
      const operation = doc.paths[path]?.[method];
      expect(operation, `${method} ${path}`).toBeDefined();
      expect(operation?.security).toEqual([{ bearer: [] }]);
      expect(Object.keys(operation?.responses ?? {})).toEqual(expect.arrayContaining(["200", "401"]));
      if (!path.includes("ledger")) expect(Object.keys(operation?.responses ?? {})).toContain("403");
    }
  });
});
