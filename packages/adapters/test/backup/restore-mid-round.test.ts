// Issue 11's restore drill, on real PostgreSQL and the emulator through the SDK. Three groups:
// A's round is debited and settled and two of its three transfers are made; B's round has
// just started (its debits are still in the outbox); C's round is due but not yet opened. A
// backup is taken. Life goes on: A's last transfer, B's three debits, C's round opened and
// its three debits made, their webhooks processed, A's round paid out. Then the database is
// lost and the backup restored into a new one, which has forgotten all that — C's round
// included. Recovery is the operator's runbook: catch up on Stripe's events since the backup
// (into the inbox), then the scheduler runs: the due-round job opens C's round again — under
// the same id, derived from the group's state (`roundIds.round`), so its debits carry the
// same Idempotency-Keys — and the dispatcher re-runs the effects whose results were lost:
// Stripe answers the same keys with the objects it made the first time, and the rounds run
// to the end. Stripe must hold exactly one PaymentIntent per debit and one Transfer per
// contribution; susu's books must balance, each round end once.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type EffectPorts,
  type Person,
  roundMoney,
  type UseCaseDeps,
  useCaseDepsOn,
  useCases,
} from "@susu/domain";
import {
  anActiveGroup,
  InMemoryTimerScheduler,
  ManualClock,
  RecordingNotifier,
  RecordingSupportDesk,
  SequentialIds,
} from "@susu/domain/testing";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restoreBackup } from "../../src/backup/restore-backup.js";
import { catchUpStripeEvents, knownConnectedAccounts } from "../../src/backup/stripe-catch-up.js";
import { takeBackup } from "../../src/backup/take-backup.js";
import { PrismaLedgerStore, PrismaStore } from "../../src/prisma/index.js";
import { StripePaymentGateway } from "../../src/stripe/index.js";
import { PrismaSupportDesk } from "../../src/support/index.js";
import {
  PrismaWebhookInbox,
  processWebhookInbox,
  type WebhookProcessorContext,
} from "../../src/webhooks/index.js";
import { type StripeHarness, startStripeHarness } from "../stripe/emulator-harness.js";
import { createTestDatabase, type TestDatabase } from "../support/index.js";

const START = Date.UTC(2026, 6, 1);
const MINUTE = 60;
const SETTLE_SECONDS = 3 * 86_400 + 60;

/** susu on one database: what the API, the webhook processor and the dispatcher use. */
interface Susu {
  readonly db: TestDatabase;
  readonly store: PrismaStore;
  readonly ledger: PrismaLedgerStore;
  readonly deps: UseCaseDeps;
  readonly inbox: PrismaWebhookInbox;
  readonly processor: WebhookProcessorContext;
  readonly ports: EffectPorts;
}

/**
 * After the catch-up, which loop goes first: the webhook processor (the caught-up events
 * record the objects, and the dispatcher finds nothing left to make) or the dispatcher
 * (the effects re-run before their events are applied: only the Idempotency-Keys keep
 * Stripe from making the objects again). The scheduler runs both at once; both must hold.
 */
const ORDERS = ["processor first", "dispatcher first", "dispatcher first, Idempotency-Keys alone"] as const;

/**
 * The SDK client with its PaymentIntent and Transfer lists always empty: the gateway's
 * second guard (looking for an object its effect made, by `effect_id` metadata, for retries
 * after Stripe's 24 h key retention) finds nothing, so only the Idempotency-Keys are left.
 */
function blindToEarlierObjects(stripe: Stripe): Stripe {
  const emptyList = () => Promise.resolve({ object: "list", data: [], has_more: false, url: "" });
  const blind = (resource: object) =>
    new Proxy(resource, {
      get: (target, prop, receiver) => (prop === "list" ? emptyList : Reflect.get(target, prop, receiver)),
    });
  return new Proxy(stripe, {
    get: (target, prop, receiver) =>
      prop === "paymentIntents" || prop === "transfers"
        ? blind(Reflect.get(target, prop, receiver) as object)
        : Reflect.get(target, prop, receiver),
  });
}

describe.each(ORDERS)(
  "a backup taken mid-round, restored after more money moved, %s: nothing is paid or debited twice",
  (order) => {
    let harness: StripeHarness;
    let live: Susu;
    let restored: Susu;
    let dir: string;
    let backupPath: string;
    const databases: TestDatabase[] = [];
    const clock = new ManualClock(START);
    const ids = new SequentialIds();
    const groupA = { id: "grp_a", members: ["a1", "a2", "a3"] };
    const groupB = { id: "grp_b", members: ["b1", "b2", "b3"] };
    const groupC = { id: "grp_c", members: ["c1", "c2", "c3"] };
    let roundA: { id: string; transferGroup: string; recipient: string };
    let roundB: { id: string; transferGroup: string; recipient: string };
    let roundC: { id: string; transferGroup: string; recipient: string };
    let backupAt = 0;

    function susuOn(db: TestDatabase, dispatcherGateway: StripePaymentGateway = harness.gateway): Susu {
      const store = new PrismaStore(db.prisma, { clock });
      const ledger = new PrismaLedgerStore(db.prisma, { clock });
      const deps = useCaseDepsOn(store, { clock, ids });
      const inbox = new PrismaWebhookInbox(db.prisma, clock);
      return {
        db,
        store,
        ledger,
        deps,
        inbox,
        processor: { deps, inbox, gateway: harness.gateway, desk: new PrismaSupportDesk(db.prisma, clock) },
        ports: {
          gateway: dispatcherGateway,
          notifier: new RecordingNotifier(),
          desk: new RecordingSupportDesk(),
          timers: new InMemoryTimerScheduler(),
          ledger,
        },
      };
    }

    async function advance(seconds: number): Promise<void> {
      await harness.emulator.control.advanceClock(seconds);
      clock.advance(seconds * 1000);
    }

    /** What the webhook route does: Stripe's new events, stored in the inbox of the database in use. */
    async function deliver(susu: Susu): Promise<number> {
      const events = await harness.events.next();
      for (const event of events) (await susu.inbox.receive(event))._unsafeUnwrap();
      return events.length;
    }

    async function process(susu: Susu): Promise<number> {
      const report = (await processWebhookInbox(susu.processor, { workerId: "processor" }))._unsafeUnwrap();
      expect(report.parked).toBe(0);
      return report.claimed;
    }

    async function dispatch(susu: Susu, limit?: number): Promise<number> {
      const report = (
        await useCases.dispatchOutbox(susu.deps, susu.ports, susu.store, {
          workerId: "dispatcher",
          ...(limit === undefined ? {} : { limit }),
        })
      )._unsafeUnwrap();
      return report.claimed;
    }

    /** The scheduler's loops until nothing is left to do. */
    async function runUntilQuiet(susu: Susu): Promise<void> {
      for (let pass = 0; pass < 40; pass++) {
        const work = (await deliver(susu)) + (await process(susu)) + (await dispatch(susu));
        if (work === 0) return;
      }
      throw new Error("the scheduler did not go quiet");
    }

    async function startRound(susu: Susu, groupId: string) {
      const round = (await useCases.startRound(susu.deps, groupId, "scheduler"))._unsafeUnwrap().state;
      return { id: round.id, transferGroup: round.transferGroup, recipient: round.recipientMemberId };
    }

    /** The scheduler's due-round job: opens every group's round that is due (as apps/scheduler's openDueRounds). */
    async function openDueRounds(susu: Susu): Promise<Awaited<ReturnType<typeof startRound>>[]> {
      const due = (await susu.deps.groups.findGroupsDueForRound(clock.now(), 100))._unsafeUnwrap();
      const opened: Awaited<ReturnType<typeof startRound>>[] = [];
      for (const group of due) opened.push(await startRound(susu, group.id));
      return opened;
    }

    async function paymentIntents(transferGroup: string): Promise<Stripe.PaymentIntent[]> {
      const out: Stripe.PaymentIntent[] = [];
      for await (const pi of harness.stripe.paymentIntents.list({ limit: 100 }))
        if (pi.transfer_group === transferGroup) out.push(pi);
      return out;
    }

    async function transfers(transferGroup: string): Promise<Stripe.Transfer[]> {
      const out: Stripe.Transfer[] = [];
      for await (const t of harness.stripe.transfers.list({ limit: 100, transfer_group: transferGroup }))
        out.push(t);
      return out;
    }

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "susu-restore-drill-"));
      backupPath = join(dir, "mid-round.backup");
      harness = await startStripeHarness({ startTime: START / 1000 });
      const db = await createTestDatabase();
      databases.push(db);
      live = susuOn(db);
      const people: Person[] = [];
      for (const m of [...groupA.members, ...groupB.members, ...groupC.members]) {
        const saved = await harness.customerWithMandate(m, "000123456");
        const account = await harness.driver.connectedAccount({ canReceive: true });
        people.push({
          id: m,
          displayName: m,
          customerId: saved.customerId,
          debit: { paymentMethodId: saved.paymentMethodId, mandateId: saved.mandateId, mandateActive: true },
          payout: { connectedAccountId: account, payoutsEnabled: true },
          createdAt: clock.now(),
          version: 0,
        });
      }
      (
        await live.deps.uow.commit({
          people: people.map((state) => ({ state, expectedVersion: undefined })),
          groups: [groupA, groupB, groupC].map((g) => ({
            state: anActiveGroup({ id: g.id, memberIds: g.members, startsAt: clock.now() - 1 }),
            expectedVersion: undefined,
          })),
          rounds: [],
          outbox: [],
          audit: [],
        })
      )._unsafeUnwrap();
      await harness.events.skipExisting();
    });
    afterAll(async () => {
      await harness?.emulator.stop();
      for (const db of databases) await db.drop();
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    });

    it("before the backup: A debited and settled, two of its transfers made; B started, its debits not yet sent", async () => {
      roundA = await startRound(live, groupA.id);
      await runUntilQuiet(live);
      await advance(SETTLE_SECONDS);
      await deliver(live);
      await process(live);
      expect((await live.store.getRound(roundA.id))._unsafeUnwrap()?.status).toBe("paying_out");

      roundB = await startRound(live, groupB.id);
      // A's effects (three transfers, notices) were decided before B's debits, so they are
      // claimed first: one at a time until two of A's transfers are made.
      for (let i = 0; i < 20 && (await transfers(roundA.transferGroup)).length < 2; i++)
        expect(await dispatch(live, 1)).toBe(1);
      expect(await transfers(roundA.transferGroup)).toHaveLength(2);
      expect(await paymentIntents(roundB.transferGroup)).toHaveLength(0);
      // C's round is due; the scheduler has not opened it yet.
      expect((await live.store.getGroup(groupC.id))._unsafeUnwrap()?.currentRoundId).toBeUndefined();

      await advance(MINUTE);
      backupAt = clock.now();
      await takeBackup(live.db.connectionString, backupPath);
    });

    it("after the backup: A's last transfer, B's debits, C's round opened and debited, their webhooks processed", async () => {
      await advance(10 * MINUTE);
      const opened = await openDueRounds(live);
      expect(opened).toHaveLength(1);
      roundC = opened[0] ?? roundC;
      expect((await live.store.getGroup(groupC.id))._unsafeUnwrap()?.currentRoundId).toBe(roundC.id);
      await runUntilQuiet(live);
      expect((await live.store.getRound(roundA.id))._unsafeUnwrap()?.status).toBe("paid_out");
      expect(await transfers(roundA.transferGroup)).toHaveLength(3);
      expect(await paymentIntents(roundB.transferGroup)).toHaveLength(3);
      const b = (await live.store.getRound(roundB.id))._unsafeUnwrap();
      expect(b?.contributions.map((c) => c.status)).toEqual(["processing", "processing", "processing"]);
      expect((await paymentIntents(roundC.transferGroup)).map((pi) => pi.metadata.member_id).sort()).toEqual(
        groupC.members,
      );
    });

    it("restored into a new database, caught up on Stripe's events, run to the end: one debit and one transfer each", async () => {
      // The live database is lost; its backup goes into a new, empty one.
      await advance(20 * MINUTE);
      const db = await createTestDatabase({ migrated: false });
      databases.push(db);
      await restoreBackup(db.connectionString, backupPath);
      restored = susuOn(
        db,
        order === "dispatcher first, Idempotency-Keys alone"
          ? new StripePaymentGateway(blindToEarlierObjects(harness.stripe))
          : harness.gateway,
      );
      // It has forgotten A's last transfer and B's debits.
      expect((await restored.store.getRound(roundA.id))._unsafeUnwrap()?.status).toBe("paying_out");
      expect(
        (await restored.store.getRound(roundB.id))._unsafeUnwrap()?.contributions.map((c) => c.status),
      ).not.toContain("processing");
      // C's round is unknown to it: the group is due again, with no round in progress.
      expect((await restored.store.getRound(roundC.id))._unsafeUnwrap()).toBeUndefined();
      expect((await restored.store.getGroup(groupC.id))._unsafeUnwrap()?.currentRoundId).toBeUndefined();

      // Catch-up from the backup's time minus a margin: what the inbox had is a duplicate.
      const since = backupAt - 60 * MINUTE * 1000;
      const caughtUp = await catchUpStripeEvents(harness.stripe, restored.inbox, {
        since,
        connectedAccounts: await knownConnectedAccounts(db.prisma),
      });
      expect(caughtUp.accounts).toBe(9);
      expect(caughtUp.stored).toBeGreaterThan(0);
      expect(caughtUp.duplicates).toBeGreaterThan(0);
      const again = await catchUpStripeEvents(harness.stripe, restored.inbox, { since });
      expect(again.stored).toBe(0);

      if (order === "processor first") {
        // The caught-up events of C's debits name a round the database does not have: ignored.
        while ((await process(restored)) > 0);
        // The due-round job opens C's round again: the same round, under the same id.
        expect(await openDueRounds(restored)).toEqual([roundC]);
      } else {
        expect(await openDueRounds(restored)).toEqual([roundC]);
        // Every lost effect re-runs before any caught-up event is applied: Stripe answers the
        // same keys with the objects it made after the backup.
        const before = {
          a: await transfers(roundA.transferGroup),
          b: await paymentIntents(roundB.transferGroup),
          c: await paymentIntents(roundC.transferGroup),
        };
        while ((await dispatch(restored)) > 0);
        expect((await transfers(roundA.transferGroup)).map((t) => t.id)).toEqual(before.a.map((t) => t.id));
        expect((await paymentIntents(roundB.transferGroup)).map((pi) => pi.id)).toEqual(
          before.b.map((pi) => pi.id),
        );
        expect((await paymentIntents(roundC.transferGroup)).map((pi) => pi.id)).toEqual(
          before.c.map((pi) => pi.id),
        );
        for (const id of [roundB.id, roundC.id]) {
          const round = (await restored.store.getRound(id))._unsafeUnwrap();
          expect(round?.contributions.map((c) => c.status)).toEqual([
            "processing",
            "processing",
            "processing",
          ]);
        }
      }
      await runUntilQuiet(restored);
      // B's debits settle; its transfers follow.
      await advance(SETTLE_SECONDS);
      await runUntilQuiet(restored);

      // Across every PaymentIntent at Stripe, whatever its round or transfer group: each member
      // (of one group, with one round here) was debited exactly once.
      const debited: string[] = [];
      for await (const pi of harness.stripe.paymentIntents.list({ limit: 100 }))
        debited.push(pi.metadata.member_id ?? "");
      expect(debited.sort()).toEqual([...groupA.members, ...groupB.members, ...groupC.members]);
      const membersOf = new Map([
        [roundA, groupA.members],
        [roundB, groupB.members],
        [roundC, groupC.members],
      ]);
      for (const [round, members] of membersOf) {
        // Exactly one PaymentIntent per member, C's included: re-opened under the same id, its
        // debits reached Stripe under the keys of the first opening.
        const intents = await paymentIntents(round.transferGroup);
        expect(intents.map((pi) => pi.metadata.member_id).sort()).toEqual(members);
        expect(intents.every((pi) => pi.status === "succeeded")).toBe(true);
        const made = await transfers(round.transferGroup);
        expect(made).toHaveLength(3);
        expect(new Set(made.map((t) => t.source_transaction)).size).toBe(3);
        expect(made.reduce((sum, t) => sum + t.amount, 0)).toBe(300_00);
        expect(new Set(made.map((t) => t.destination))).toEqual(
          new Set([restoredAccountOf(round.recipient)]),
        );

        const state = (await restored.store.getRound(round.id))._unsafeUnwrap();
        expect(state?.status).toBe("paid_out");
        const money = roundMoney((await restored.ledger.loadLedger())._unsafeUnwrap(), round.id, "AUD");
        expect(money).toMatchObject({
          contributedMinor: 300_00,
          paidOutMinor: 300_00,
          heldMinor: 0,
          inFlightMinor: 0,
        });
        // The round ended once: its recipient is counted once in the group's rotation.
        const group = (await restored.store.getGroup(state?.groupId ?? ""))._unsafeUnwrap();
        expect(group?.currentRoundId).toBeUndefined();
        expect(group?.rotation.receivedMemberIds).toEqual([round.recipient]);
      }
      expect((await restored.ledger.checkLedger())._unsafeUnwrap().agrees).toBe(true);
      // Nothing left behind: no effect parked or pending, no event failed.
      expect(await db.prisma.outboxEffect.count({ where: { status: { not: "done" } } })).toBe(0);
      expect(await db.prisma.webhookEvent.count({ where: { status: { in: ["failed", "parked"] } } })).toBe(0);
    });

    const accounts = new Map<string, string>();
    function restoredAccountOf(memberId: string): string {
      const account = accounts.get(memberId);
      if (account === undefined) throw new Error(`no account for ${memberId}`);
      return account;
    }
    beforeAll(async () => {
      for (const p of await live.db.prisma.person.findMany())
        if (p.connectedAccountId !== null) accounts.set(p.id, p.connectedAccountId);
    });
  },
);
