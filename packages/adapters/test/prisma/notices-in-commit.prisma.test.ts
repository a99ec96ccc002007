// Notices queued by the commit that decides them (notify/commit-notices.ts): the notification
// and its deliveries written in the same statement or transaction as the state, exactly as
// the dispatcher's send would have written them, the outbox row stored done; admin alerts and
// notices that cannot be planned left pending to the dispatcher; nothing queued by a commit
// that stores nothing.

import {
  type Changeset,
  createHeldPayment,
  DEFAULT_HELD_PAYMENT_POLICY,
  type EffectPorts,
  type HeldPayment,
  type OutboxEffect,
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
  peopleOf,
  RecordingSupportDesk,
  SequentialIds,
} from "@susu/domain/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { OUTBOX_CHANNEL, wakeNotifierOf } from "../../src/db/wake-notifier.js";
import { CommitNotices } from "../../src/notify/commit-notices.js";
import { DeliveringNotifier } from "../../src/notify/delivering-notifier.js";
import { PrismaLedgerStore, PrismaStore } from "../../src/prisma/index.js";
import { statementsSentDuring } from "../support/statement-spy.js";
import { createTestDatabase, type TestDatabase } from "../support/test-database.js";
import { resetDatabase } from "./reset-database.js";

const T = Date.UTC(2026, 0, 6);
const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };

function heldPayment(): HeldPayment {
  return createHeldPayment(
    {
      id: "hp_1",
      requestedBy: "app_1",
      clientReference: "booking_1",
      amountMinor: 10_000,
      currency: "AUD",
      seller: { id: "sel", connectedAccountId: "acct_sel", canReceive: true },
      description: "Two nights",
      customer: { email: "cy@example.com" },
      fee: { kind: "rate", basisPoints: 1_000 },
      successUrl: "https://app.example/done",
    },
    { now: T, policy: DEFAULT_HELD_PAYMENT_POLICY },
  )._unsafeUnwrap().state;
}

const notice = (id: string, to: Extract<OutboxEffect, { kind: "notify" }>["to"]): OutboxEffect =>
  ({
    kind: "notify",
    id,
    aggregate: "held_payment",
    aggregateId: "hp_1",
    to,
    template: "booking_paid",
    data: { description: "Two nights", amountMinor: 10_000, paidAt: new Date(T).toISOString() },
  }) as OutboxEffect;

const toCustomer = notice("hp_1:notice:booking_paid:customer", { kind: "customer", email: "cy@example.com" });
const toSeller = notice("hp_1:notice:booking_paid:seller", { kind: "seller", sellerId: "sel" });
const toAdmins: OutboxEffect = {
  kind: "notify",
  id: "hp_1:notice:release_blocked",
  aggregate: "held_payment",
  aggregateId: "hp_1",
  to: { kind: "platform_admins" },
  template: "release_blocked",
  data: { reason: "x" },
} as OutboxEffect;

describe("notices queued by the commit that decides them (PostgreSQL)", () => {
  let db: TestDatabase;
  let payment: HeldPayment;
  let wakes = 0;
  let stopWaking: () => void = () => undefined;
  const lines: { obj: object; msg: string }[] = [];
  const log = { info: (obj: object, msg: string) => lines.push({ obj, msg }) };

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    stopWaking();
    await db.drop();
  });

  const notifierOf = (email: boolean, now = T + 5) =>
    new DeliveringNotifier({
      prisma: db.prisma,
      clock: { now: () => now },
      email,
      adminEmails: ["ops@example.com"],
      where: { locale: "en-AU", timeZone: "Australia/Sydney" },
      alerts: { windowMs: 0 },
      log,
    });
  const storeWith = (notifier?: DeliveringNotifier) =>
    new PrismaStore(db.prisma, {
      clock: { now: () => T + 5 },
      ...(notifier !== undefined ? { notices: new CommitNotices(notifier) } : {}),
    });

  /** A fresh database with the seller (with an address), the payment and an enabled endpoint. */
  async function seed(): Promise<void> {
    await resetDatabase(db.prisma);
    payment = heldPayment();
    (
      await storeWith().commit({
        ...empty,
        people: [{ state: aReadyPerson("sel"), expectedVersion: undefined }],
        heldPayments: [{ state: payment, expectedVersion: undefined }],
      })
    )._unsafeUnwrap();
    await db.prisma.$executeRawUnsafe("UPDATE people SET email = 'sel@example.com' WHERE id = 'sel'");
    await db.prisma.notificationEndpoint.create({
      data: {
        id: "ne_1",
        url: "https://hooks.example/susu",
        secret: "whsec_x",
        createdAt: new Date(T),
        updatedAt: new Date(T),
      },
    });
  }

  beforeEach(async () => {
    await seed();
    lines.length = 0;
    stopWaking();
    wakes = 0;
    stopWaking = wakeNotifierOf(db.prisma).handleLocally(OUTBOX_CHANNEL, () => {
      wakes += 1;
    });
  });

  const paymentChange = (version: number, outbox: readonly OutboxEffect[]): Changeset => ({
    ...empty,
    heldPayments: [
      { state: { ...payment, description: `v${version + 1}`, version }, expectedVersion: version },
    ],
    outbox,
  });

  const statusOf = async (id: string) =>
    (
      await db.prisma.$queryRawUnsafe<{ status: string }[]>(
        "SELECT status::text AS status FROM outbox_effects WHERE id = $1",
        id,
      )
    )[0]?.status;

  /** What the delivery log holds: notifications and deliveries, as rows to compare. */
  async function deliveryLog() {
    const notifications = await db.prisma.$queryRawUnsafe<object[]>(
      `SELECT id, template, aggregate_type, aggregate_id, group_id, person_ids, roles, data, created_at
         FROM notifications ORDER BY id`,
    );
    const deliveries = await db.prisma.$queryRawUnsafe<object[]>(
      `SELECT id, notification_id, channel::text, recipient, person_id, endpoint_id, locale, time_zone,
              status::text, attempts, next_attempt_at, created_at, updated_at
         FROM notification_deliveries ORDER BY id`,
    );
    return { notifications, deliveries };
  }

  function dispatch(store: PrismaStore, notifier: DeliveringNotifier) {
    const clock = new ManualClock(T + 5);
    const ports: EffectPorts = {
      gateway: new FakePaymentGateway(() => clock.now()),
      notifier,
      desk: new RecordingSupportDesk(),
      timers: new InMemoryTimerScheduler(),
      ledger: new PrismaLedgerStore(db.prisma, { clock }),
    };
    const deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    return useCases.dispatchOutbox(deps, ports, store, { workerId: "w1", leaseMs: 60_000 });
  }

  it("a held payment's one-statement commit queues its notices with the state, as the dispatcher's send would have; the admin alert is left to the dispatcher", async () => {
    const notifier = notifierOf(true);
    const { result, sent } = await statementsSentDuring(db.prisma, async () =>
      storeWith(notifier).commit(paymentChange(0, [toCustomer, toSeller, toAdmins])),
    );
    result._unsafeUnwrap();
    // The recipients' read, then one statement: the notices are parts of the payment's commit.
    expect(sent.filter((s) => !s.startsWith("SELECT pg_notify"))).toEqual([
      "susu_notification_recipients",
      "susu_commit_held_payment_notices",
    ]);
    expect(await statusOf(toCustomer.id)).toBe("done");
    expect(await statusOf(toSeller.id)).toBe("done");
    expect(await statusOf(toAdmins.id)).toBe("pending");
    expect(wakes).toBe(1); // for the admin alert
    const inCommit = await deliveryLog();
    // The customer by e-mail; the seller by e-mail and the enabled endpoint.
    expect(inCommit.deliveries.map((d) => (d as { recipient: string }).recipient).sort()).toEqual([
      "cy@example.com",
      "ne_1",
      "sel@example.com",
    ]);

    // The same notices sent by the dispatcher, from a store that queues none in its commits:
    // the same rows, to the column.
    await seed();
    const plain = storeWith();
    (await plain.commit(paymentChange(0, [toCustomer, toSeller])))._unsafeUnwrap();
    expect(await statusOf(toCustomer.id)).toBe("pending");
    expect((await dispatch(plain, notifier))._unsafeUnwrap()).toMatchObject({ completed: 2 });
    expect(await deliveryLog()).toEqual(inCommit);
  });

  it("a commit that stores nothing (a stale version) queues nothing", async () => {
    const store = storeWith(notifierOf(true));
    (await store.commit(paymentChange(0, [])))._unsafeUnwrap();
    const stale = await store.commit(paymentChange(0, [toCustomer, toSeller]));
    expect(stale._unsafeUnwrapErr().type).toBe("version_conflict");
    expect(await deliveryLog()).toEqual({ notifications: [], deliveries: [] });
    expect(await statusOf(toCustomer.id)).toBeUndefined();
  });

  it("a notice that reaches nobody stores nothing but its row, done, and says so once the commit stored it", async () => {
    await db.prisma.$executeRawUnsafe("UPDATE notification_endpoints SET status = 'disabled'");
    const store = storeWith(notifierOf(false)); // no e-mail, no enabled endpoint
    (await store.commit(paymentChange(0, [toCustomer])))._unsafeUnwrap();
    expect(await statusOf(toCustomer.id)).toBe("done");
    expect(wakes).toBe(0);
    expect(await deliveryLog()).toEqual({ notifications: [], deliveries: [] });
    expect(lines.map((l) => l.msg)).toEqual(["notification has no recipient"]);
  });

  it("a changeset of other shapes queues its notices in its transaction (outbox effects alone)", async () => {
    const notifier = notifierOf(true);
    const { result, sent } = await statementsSentDuring(db.prisma, async () =>
      storeWith(notifier).commit({ ...empty, outbox: [toSeller] }),
    );
    result._unsafeUnwrap();
    expect(sent.some((s) => s.startsWith("susu_tail_outbox_notices"))).toBe(true);
    expect(await statusOf(toSeller.id)).toBe("done");
    expect((await deliveryLog()).deliveries).toHaveLength(2);
    expect(wakes).toBe(0);
  });

  it("a notice after an effect that is neither a notice nor a posting waits for it, with every notice after it: left to the dispatcher, in order", async () => {
    const notifier = notifierOf(true);
    const store = storeWith(notifier);
    const ticket: OutboxEffect = {
      kind: "open_ticket",
      id: "hp_1:ticket:x",
      aggregate: "held_payment",
      aggregateId: "hp_1",
      reason: "dispute",
      summary: "look",
    } as OutboxEffect;
    (await store.commit(paymentChange(0, [toCustomer, ticket, toSeller])))._unsafeUnwrap();
    expect(await statusOf(toCustomer.id)).toBe("done");
    expect(await statusOf(ticket.id)).toBe("pending");
    expect(await statusOf(toSeller.id)).toBe("pending");
    expect(wakes).toBe(1);
    const notifications = (await deliveryLog()).notifications.map((n) => (n as { id: string }).id);
    expect(notifications).toEqual([toCustomer.id]);
    expect((await dispatch(store, notifier))._unsafeUnwrap()).toMatchObject({ completed: 2 });
    expect((await deliveryLog()).notifications).toHaveLength(2);
  });

  it("a notice of an aggregate with an effect pending in the outbox (an earlier decision's) is left to the dispatcher, queued once, after it", async () => {
    const notifier = notifierOf(true);
    // An earlier decision's effect, still pending: the same notice, decided before.
    (await storeWith().commit({ ...empty, outbox: [toSeller] }))._unsafeUnwrap();
    wakes = 0;
    const store = storeWith(notifier);
    (await store.commit(paymentChange(0, [toCustomer])))._unsafeUnwrap();
    expect(await statusOf(toCustomer.id)).toBe("pending");
    expect(await deliveryLog()).toEqual({ notifications: [], deliveries: [] });
    expect(wakes).toBe(1);
    expect((await dispatch(store, notifier))._unsafeUnwrap()).toMatchObject({ completed: 2 });
    const queued = await deliveryLog();
    expect(queued.notifications).toHaveLength(2);
    expect(queued.deliveries).toHaveLength(3);
    // Decided again: queued once.
    (await store.commit(paymentChange(1, [toCustomer])))._unsafeUnwrap();
    expect(await deliveryLog()).toEqual(queued);
  });

  it("the effect whose result the commit records does not hold its notices back: queued in that commit, the effect completed", async () => {
    const notifier = notifierOf(true);
    const ticket: OutboxEffect = {
      kind: "open_ticket",
      id: "hp_1:ticket:y",
      aggregate: "held_payment",
      aggregateId: "hp_1",
      reason: "dispute",
      summary: "look",
    } as OutboxEffect;
    (await storeWith().commit({ ...empty, outbox: [ticket] }))._unsafeUnwrap();
    const claimed = (await storeWith().claimDue("w1", T + 5, 60_000, 10))._unsafeUnwrap();
    expect(claimed.map((r) => r.effect.id)).toEqual([ticket.id]);
    wakes = 0;
    const store = storeWith(notifier);
    (
      await store.commit({
        ...paymentChange(0, [toSeller]),
        outboxDone: { effectId: ticket.id, workerId: "w1", at: T + 6 },
      })
    )._unsafeUnwrap();
    expect(await statusOf(ticket.id)).toBe("done");
    expect(await statusOf(toSeller.id)).toBe("done");
    expect((await deliveryLog()).deliveries).toHaveLength(2);
    expect(wakes).toBe(0);
  });
  it("a round's notices to its group's members are queued in its commit, the group read once, its name in each", async () => {
    const group = anActiveGroup({ id: "grp_n" });
    const round = aRoundOf(group, [], { id: "round_n" });
    (
      await storeWith().commit({
        ...empty,
        people: peopleOf(group).map((state) => ({ state, expectedVersion: undefined })),
        groups: [{ state: group, expectedVersion: undefined }],
        rounds: [{ state: round, expectedVersion: undefined }],
      })
    )._unsafeUnwrap();
    const store = storeWith(notifierOf(false));
    // Loaded through the store, as the dispatcher and the webhook processor load a round.
    const loaded = (await store.getRound(round.id))._unsafeUnwrap();
    if (loaded === undefined) throw new Error("round not stored");
    const toMembers = (id: string, members: { kind: "all_members" } | { kind: "admins" }): OutboxEffect =>
      ({
        kind: "notify",
        id,
        aggregate: "round",
        aggregateId: round.id,
        to: { kind: "group", groupId: group.id, members },
        template: "round_cancelling",
        data: { rotation: 1 },
      }) as OutboxEffect;
    const notices = [
      toMembers("round_n:notice:a", { kind: "all_members" }),
      toMembers("round_n:notice:b", { kind: "admins" }),
    ];
    const { result, sent } = await statementsSentDuring(db.prisma, async () =>
      store.commit({
        ...empty,
        rounds: [{ state: loaded, expectedVersion: loaded.version }],
        outbox: notices,
      }),
    );
    result._unsafeUnwrap();
    expect(sent.filter((s) => s.includes("getGroup")).length).toBe(1); // one read of the group for both
    expect(sent.some((s) => s.startsWith("susu_commit_round_outbox_notices"))).toBe(true);
    for (const n of notices) expect(await statusOf(n.id)).toBe("done");
    const { notifications } = await deliveryLog();
    expect(notifications).toHaveLength(2);
    for (const n of notifications as { data: { groupName: string }; person_ids: string[]; id: string }[]) {
      expect(n.data.groupName).toBe("Test group");
      expect(n.person_ids).toEqual(n.id.endsWith(":a") ? ["ana", "ben", "cy"] : ["ana"]);
    }
  });
  it("a notice is queued on its notifier's clock, as a send is (the delivery worker's), not the store's", async () => {
    (await storeWith(notifierOf(true, T + 60_000)).commit({ ...empty, outbox: [toSeller] }))._unsafeUnwrap();
    const { notifications, deliveries } = await deliveryLog();
    expect((notifications[0] as { created_at: Date }).created_at).toEqual(new Date(T + 60_000));
    for (const d of deliveries as { next_attempt_at: Date }[])
      expect(d.next_attempt_at).toEqual(new Date(T + 60_000));
  });
});
