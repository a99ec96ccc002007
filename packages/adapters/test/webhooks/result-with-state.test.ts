import {
  type Changeset,
  type Clock,
  markRoundOpened,
  type StorageError,
  type UseCaseDeps,
  useCaseDepsOn,
} from "@susu/domain";
import {
  anActiveGroup,
  aRoundOf,
  InMemoryStore,
  ManualClock,
  peopleOf,
  SequentialIds,
} from "@susu/domain/testing";
import { ResultAsync } from "neverthrow";
import { beforeEach, describe, expect, it } from "vitest";
import { createPrismaClient, type PrismaClient } from "../../src/db/index.js";
import type { OpenTransaction } from "../../src/db/prisma-client.js";
import { PrismaStore } from "../../src/prisma/index.js";
import { PrismaSupportDesk } from "../../src/support/index.js";
import {
  EventCommits,
  type OpenCommitStore,
  PrismaWebhookInbox,
  processWebhookInbox,
  type SettledWebhookEvent,
  type WebhookProcessorContext,
} from "../../src/webhooks/index.js";
import { useTestDatabase } from "../support/index.js";
import { statementsSentDuring } from "../support/statement-spy.js";
import { debitEvent } from "./events.js";
import { ScriptedStripeReads } from "./harness.js";

// The processor with a PrismaStore behind the use cases and `commits` set, as the scheduler
// runs it: an event's result is stored in the transaction of the state it changed.

const db = useTestDatabase();
let seq = 0;
const unique = (label: string) => `${label}_rws_${++seq}`;

beforeEach(async () => {
  // Each test sees only its own events.
  await db.prisma.webhookEvent.updateMany({
    where: { status: { in: ["received", "failed"] } },
    data: { status: "ignored", outcome: "set aside between tests", claimedBy: null, claimedUntil: null },
  });
});

/** An active group of fresh members with its first round open, stored through `store`. */
async function seedRound(store: PrismaStore, size = 2) {
  const groupId = unique("grp");
  const roundId = unique("round");
  const memberIds = Array.from({ length: size }, () => unique("m"));
  const base = anActiveGroup({ id: groupId, memberIds });
  const round = aRoundOf(base, [], { id: roundId });
  const group = markRoundOpened(base, roundId)._unsafeUnwrap();
  (
    await store.commit({
      people: peopleOf(group).map((state) => ({ state, expectedVersion: undefined })),
      groups: [{ state: group, expectedVersion: undefined }],
      rounds: [{ state: round, expectedVersion: undefined }],
      outbox: [],
      audit: [],
    })
  )._unsafeUnwrap();
  return { groupId, roundId, memberIds };
}

/** The transaction that last wrote each row (its xmin): rows written together share it. */
async function writerOf(table: "rounds" | "webhook_events", id: string): Promise<string> {
  const rows = await db.prisma.$queryRawUnsafe<{ x: string }[]>(
    `SELECT xmin::text AS x FROM ${table} WHERE id = $1`,
    id,
  );
  return rows[0]?.x ?? "missing";
}

async function contributionStatus(roundId: string, memberId: string): Promise<string | undefined> {
  const rows = await db.prisma.$queryRawUnsafe<{ status: string }[]>(
    "SELECT status::text AS status FROM contributions WHERE round_id = $1 AND member_id = $2",
    roundId,
    memberId,
  );
  return rows[0]?.status;
}

async function appliedLines(roundId: string, eventId: string): Promise<number> {
  const rows = await db.prisma.$queryRawUnsafe<{ n: bigint }[]>(
    "SELECT count(*) AS n FROM audit_log WHERE aggregate_id = $1 AND actor = $2 AND outcome = 'applied'",
    roundId,
    `stripe:${eventId}`,
  );
  return Number(rows[0]?.n ?? 0);
}

function contextOn(
  prisma: PrismaClient,
  clock: Clock,
  store: PrismaStore,
  commits: OpenCommitStore = store,
  deps: UseCaseDeps = useCaseDepsOn(store, { clock, ids: new SequentialIds() }),
): WebhookProcessorContext {
  return {
    deps,
    inbox: new PrismaWebhookInbox(prisma, clock),
    gateway: new ScriptedStripeReads(),
    desk: new PrismaSupportDesk(prisma, clock),
    commits,
  };
}

/** `store`'s open commits, with their COMMIT failing as a connection lost at that moment would (nothing stored). */
function commitsFailingAtCommit(store: PrismaStore, state: { failing: boolean }): OpenCommitStore {
  return {
    openCommit: (changes: Changeset) =>
      store.openCommit(changes).map((open): OpenTransaction | undefined =>
        open === undefined
          ? undefined
          : {
              run: open.run,
              rollback: () => open.rollback(),
              commit: async () => {
                if (!state.failing) return open.commit();
                await open.rollback();
                throw new Error("Connection terminated unexpectedly");
              },
            },
      ),
  };
}

describe("an event's result and the state it changed", () => {
  it("commit in one transaction: the round's row and the event's row are written by the same one", async () => {
    const clock = new ManualClock(Date.UTC(2026, 7, 1));
    const store = new PrismaStore(db.prisma, { clock });
    const ctx = contextOn(db.prisma, clock, store);
    const { groupId, roundId, memberIds } = await seedRound(store);
    const memberId = memberIds[1] as string;
    const event = debitEvent("payment_intent.succeeded", { groupId, roundId, memberId, attempt: 1 });
    (await ctx.inbox.receive(event))._unsafeUnwrap();

    const report = (await processWebhookInbox(ctx, { workerId: "w1" }))._unsafeUnwrap();

    expect(report).toMatchObject({ claimed: 1, processed: 1, leaseLost: 0 });
    expect(await contributionStatus(roundId, memberId)).toBe("succeeded");
    const row = await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id: event.id } });
    expect(row).toMatchObject({
      status: "processed",
      outcome: `round ${roundId}: debit_succeeded applied`,
      claimedBy: null,
    });
    expect(await writerOf("webhook_events", event.id)).toBe(await writerOf("rounds", roundId));
  });

  it("an event that changes nothing is recorded on its own", async () => {
    const clock = new ManualClock(Date.UTC(2026, 7, 1));
    const store = new PrismaStore(db.prisma, { clock });
    const ctx = contextOn(db.prisma, clock, store);
    const event = debitEvent("payment_intent.succeeded", {
      groupId: "grp_rws_gone",
      roundId: "round_rws_gone",
      memberId: "m",
      attempt: 1,
    });
    (await ctx.inbox.receive(event))._unsafeUnwrap();
    expect((await processWebhookInbox(ctx, { workerId: "w1" }))._unsafeUnwrap()).toMatchObject({
      ignored: 1,
    });
    expect(await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id: event.id } })).toMatchObject({
      status: "ignored",
      outcome: "round round_rws_gone: debit_succeeded not applied: round_not_found",
      claimedBy: null,
    });
  });

  it("an input the round ignores: its audit line and the event's result are written by one statement", async () => {
    const clock = new ManualClock(Date.UTC(2026, 7, 1));
    const store = new PrismaStore(db.prisma, { clock });
    const ctx = contextOn(db.prisma, clock, store);
    const { groupId, roundId, memberIds } = await seedRound(store);
    const memberId = memberIds[1] as string;
    // A success for an attempt the round never made: the round ignores it, and audits that.
    const events = [2, 3, 4].map((attempt) =>
      debitEvent("payment_intent.succeeded", { groupId, roundId, memberId, attempt }),
    );
    for (const event of events) (await ctx.inbox.receive(event))._unsafeUnwrap();
    const versionBefore = (await db.prisma.round.findUniqueOrThrow({ where: { id: roundId } })).version;

    expect(
      (await processWebhookInbox(ctx, { workerId: "w1", concurrency: 3 }))._unsafeUnwrap(),
    ).toMatchObject({ claimed: 3, ignored: 3, leaseLost: 0 });

    expect((await db.prisma.round.findUniqueOrThrow({ where: { id: roundId } })).version).toBe(versionBefore);
    for (const event of events) {
      const row = await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id: event.id } });
      expect(row).toMatchObject({ status: "ignored", claimedBy: null });
      expect(row.outcome).toContain(`round ${roundId}: debit_succeeded ignored`);
      const lines = await db.prisma.$queryRawUnsafe<{ outcome: string; x: string }[]>(
        "SELECT outcome::text AS outcome, xmin::text AS x FROM audit_log WHERE aggregate_id = $1 AND actor = $2",
        roundId,
        `stripe:${event.id}`,
      );
      expect(lines).toEqual([{ outcome: "ignored", x: await writerOf("webhook_events", event.id) }]);
    }
  });

  it("a crash at the commit stores neither the state nor the result: the event is processed again, once", async () => {
    const clock = new ManualClock(Date.UTC(2026, 7, 1));
    const store = new PrismaStore(db.prisma, { clock });
    const failing = { failing: true };
    const ctx = contextOn(db.prisma, clock, store, commitsFailingAtCommit(store, failing));
    const { groupId, roundId, memberIds } = await seedRound(store);
    const memberId = memberIds[1] as string;
    const event = debitEvent("payment_intent.succeeded", { groupId, roundId, memberId, attempt: 1 });
    (await ctx.inbox.receive(event))._unsafeUnwrap();
    const before = await contributionStatus(roundId, memberId);
    expect(before).not.toBe("succeeded");

    const crashed = await processWebhookInbox(ctx, { workerId: "w1" });
    expect(crashed._unsafeUnwrapErr().type).toBe("storage_unavailable");
    expect(await contributionStatus(roundId, memberId)).toBe(before);
    expect(await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id: event.id } })).toMatchObject({
      status: "received",
      claimedBy: "w1",
      processedAt: null,
    });

    failing.failing = false;
    // The worker's next pass gives back what the failed one held, and runs it.
    expect((await processWebhookInbox(ctx, { workerId: "w1" }))._unsafeUnwrap()).toMatchObject({
      claimed: 1,
      processed: 1,
    });
    expect(await contributionStatus(roundId, memberId)).toBe("succeeded");
    expect(await appliedLines(roundId, event.id)).toBe(1);
    expect((await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id: event.id } })).status).toBe(
      "processed",
    );
  });

  it("a lease lost while the event ran: the state is stored, the result is not, and the pass says so", async () => {
    const clock = new ManualClock(Date.UTC(2026, 7, 1));
    const store = new PrismaStore(db.prisma, { clock });
    const { groupId, roundId, memberIds } = await seedRound(store);
    const memberId = memberIds[1] as string;
    const event = debitEvent("payment_intent.succeeded", { groupId, roundId, memberId, attempt: 1 });
    const base = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    // While the use case loads the round, another processor takes the event (this one's lease ran out).
    const deps: UseCaseDeps = {
      ...base,
      rounds: {
        getRound: (id) =>
          ResultAsync.fromPromise(
            db.prisma.webhookEvent.updateMany({
              where: { id: event.id },
              data: { claimedBy: "w2", claimedUntil: new Date(clock.now() + 60_000) },
            }),
            (): StorageError => ({
              type: "storage_unavailable",
              code: "storage_unavailable",
              message: "steal",
            }),
          ).andThen(() => base.rounds.getRound(id)),
        listRoundsOfGroup: (id) => base.rounds.listRoundsOfGroup(id),
      },
    };
    const ctx = contextOn(db.prisma, clock, store, store, deps);
    (await ctx.inbox.receive(event))._unsafeUnwrap();
    const settled: SettledWebhookEvent[] = [];

    const report = (
      await processWebhookInbox(ctx, { workerId: "w1", onSettled: (s) => settled.push(s) })
    )._unsafeUnwrap();

    expect(report).toMatchObject({ claimed: 1, processed: 0, leaseLost: 1 });
    expect(settled.map((s) => s.outcome)).toEqual(["lease_lost"]);
    expect(await contributionStatus(roundId, memberId)).toBe("succeeded");
    expect(await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id: event.id } })).toMatchObject({
      status: "received",
      claimedBy: "w2",
      processedAt: null,
    });
  });

  it("a result the database refuses: the state is stored alone and the event parked with a ticket", async () => {
    const clock = new ManualClock(Date.UTC(2026, 7, 1));
    const store = new PrismaStore(db.prisma, { clock });
    const ctx = contextOn(db.prisma, clock, store);
    const inbox = ctx.inbox as PrismaWebhookInbox;
    const refused: WebhookProcessorContext = {
      ...ctx,
      inbox: {
        receive: (e) => inbox.receive(e),
        claimDue: (...a) => inbox.claimDue(...a),
        releaseOwnClaims: (w) => inbox.releaseOwnClaims(w),
        markProcessed: (...a) => inbox.markProcessed(...a),
        markIgnored: (...a) => inbox.markIgnored(...a),
        markFailed: (...a) => inbox.markFailed(...a),
        park: (...a) => inbox.park(...a),
        // A status the column's type does not have: refused by the database, as a corrupt text would be.
        finishStatement: (id, workerId, _status, text) =>
          inbox.finishStatement(id, workerId, "no_such_status" as "processed", text),
      },
    };
    const { groupId, roundId, memberIds } = await seedRound(store);
    const memberId = memberIds[1] as string;
    const event = debitEvent("payment_intent.succeeded", { groupId, roundId, memberId, attempt: 1 });
    (await ctx.inbox.receive(event))._unsafeUnwrap();

    const report = (await processWebhookInbox(refused, { workerId: "w1" }))._unsafeUnwrap();

    expect(report).toMatchObject({ claimed: 1, processed: 0, parked: 1 });
    expect(await contributionStatus(roundId, memberId)).toBe("succeeded");
    expect(await appliedLines(roundId, event.id)).toBe(1);
    const row = await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id: event.id } });
    expect(row).toMatchObject({ status: "parked", claimedBy: null });
    expect(row.lastError).toContain("while recording it as processed");
    expect(await db.prisma.supportTicket.count({ where: { id: `webhook:${event.id}:parked` } })).toBe(1);
  });
});

describe("EventCommits", () => {
  /** A change of `roundId` that only moves its version on (what is stored does not matter here). */
  async function touch(store: PrismaStore, roundId: string): Promise<Changeset> {
    const round = (await store.getRound(roundId))._unsafeUnwrap();
    if (round === undefined) throw new Error(`no round ${roundId}`);
    return {
      people: [],
      groups: [],
      rounds: [{ state: round, expectedVersion: round.version }],
      outbox: [],
      audit: [],
    };
  }

  async function claimed(clock: Clock, workerId: string) {
    const inbox = new PrismaWebhookInbox(db.prisma, clock);
    const event = debitEvent("payment_intent.processing", {
      groupId: "grp_rws_ec",
      roundId: unique("round_ec"),
      memberId: "m",
      attempt: 1,
    });
    (await inbox.receive(event))._unsafeUnwrap();
    const [record] = (await inbox.claimDue(workerId, clock.now(), 60_000, 10))._unsafeUnwrap();
    expect(record?.id).toBe(event.id);
    return { inbox, id: event.id };
  }

  it("a second commit, or a read, first makes the commit before it durable; the result goes with the last", async () => {
    const clock = new ManualClock(Date.UTC(2026, 7, 2));
    const store = new PrismaStore(db.prisma, { clock });
    const a = await seedRound(store);
    const b = await seedRound(store);
    const { inbox, id } = await claimed(clock, "ec1");
    const commits = new EventCommits(store, store);
    const deps = commits.depsOver(useCaseDepsOn(store, { clock, ids: new SequentialIds() }));
    const versionOf = async (roundId: string) =>
      (await db.prisma.round.findUniqueOrThrow({ where: { id: roundId } })).version;
    const before = await versionOf(a.roundId);
    const beforeB = await versionOf(b.roundId);

    (await commits.commit(await touch(store, a.roundId)))._unsafeUnwrap();
    // Open, so not visible to anyone else yet.
    expect(await versionOf(a.roundId)).toBe(before);
    // A read through the event's ports commits it first, and sees it.
    expect((await deps.rounds.getRound(a.roundId))._unsafeUnwrap()?.version).toBe(before + 1);
    expect(await versionOf(a.roundId)).toBe(before + 1);

    (await deps.uow.commit(await touch(store, b.roundId)))._unsafeUnwrap();
    (await commits.commit(await touch(store, a.roundId)))._unsafeUnwrap();
    // The second commit of the event made the one before it (b) durable before it began.
    expect(await versionOf(b.roundId)).toBe(beforeB + 1);
    const bWriter = await writerOf("rounds", b.roundId);
    const rows = (
      await commits.finishWith(inbox.finishStatement(id, "ec1", "processed", "two rounds"))
    )._unsafeUnwrap();
    expect(rows).toHaveLength(1);
    expect(await versionOf(a.roundId)).toBe(before + 2);
    expect(await writerOf("webhook_events", id)).toBe(await writerOf("rounds", a.roundId));
    expect(await writerOf("webhook_events", id)).not.toBe(bWriter);
    // Nothing open any more: a finish now runs nothing.
    expect(
      (await commits.finishWith(inbox.finishStatement(id, "ec1", "processed", "again")))._unsafeUnwrap(),
    ).toBeUndefined();
  });

  /** The audit line of an input `roundId` ignored, as the use case commits it. */
  const ignoredLine = (roundId: string, id: string, detail = "stale: already processing"): Changeset => ({
    people: [],
    groups: [],
    rounds: [],
    outbox: [],
    audit: [
      {
        at: Date.UTC(2026, 7, 2),
        aggregate: "round",
        aggregateId: roundId,
        action: "fact:debit_processing",
        outcome: "ignored",
        detail,
        actor: `stripe:${id}`,
      },
    ],
  });
  const linesOf = async (id: string) =>
    db.prisma.$queryRawUnsafe<{ x: string }[]>(
      "SELECT xmin::text AS x FROM audit_log WHERE actor = $1",
      `stripe:${id}`,
    );

  it("with an audited finish, an audit-only commit waits for the result, or is written before anything else the use case does", async () => {
    const clock = new ManualClock(Date.UTC(2026, 7, 2));
    const store = new PrismaStore(db.prisma, { clock });
    const a = await seedRound(store);
    const { inbox, id } = await claimed(clock, "ec4");
    const commits = new EventCommits(store, store, inbox.finishAudited.bind(inbox));
    // What is sent to the database meanwhile: statement names, or the SQL of unnamed ones.
    const { sent } = await statementsSentDuring(db.prisma, async () => {
      (await commits.commit(ignoredLine(a.roundId, id)))._unsafeUnwrap();
      const rows = (
        await commits.finishWith(inbox.finishStatement(id, "ec4", "ignored", "stale"))
      )._unsafeUnwrap();
      expect(rows).toHaveLength(1);
    });
    // No transaction of its own: the line and the result in one statement.
    expect(sent).toEqual(["webhook_finish_many"]);
    expect(await linesOf(id)).toEqual([{ x: await writerOf("webhook_events", id) }]);

    // Another event: its audit line, then a read through its ports — the line is stored first.
    const second = await claimed(clock, "ec5");
    const other = new EventCommits(store, store, inbox.finishAudited.bind(inbox));
    const otherDeps = other.depsOver(useCaseDepsOn(store, { clock, ids: new SequentialIds() }));
    (await other.commit(ignoredLine(a.roundId, second.id)))._unsafeUnwrap();
    expect((await otherDeps.rounds.getRound(a.roundId))._unsafeUnwrap()?.id).toBe(a.roundId);
    expect(await linesOf(second.id)).toHaveLength(1);
    // Nothing open any more: the result is the caller's to record alone.
    expect(
      (await other.finishWith(inbox.finishStatement(second.id, "ec5", "ignored", "x")))._unsafeUnwrap(),
    ).toBeUndefined();
  });

  it("with an audited finish, a result the database refuses leaves the audit line stored alone and returns the refusal", async () => {
    const clock = new ManualClock(Date.UTC(2026, 7, 2));
    const store = new PrismaStore(db.prisma, { clock });
    const a = await seedRound(store);
    const { inbox, id } = await claimed(clock, "ec6");
    const commits = new EventCommits(store, store, inbox.finishAudited.bind(inbox));
    (await commits.commit(ignoredLine(a.roundId, id)))._unsafeUnwrap();
    // 22021: a text column cannot hold a NUL.
    const refused = await commits.finishWith(inbox.finishStatement(id, "ec6", "ignored", "bad \u0000"));
    expect(refused._unsafeUnwrapErr()).toMatchObject({ type: "storage_refused" });
    expect(await linesOf(id)).toHaveLength(1);
    expect(await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id } })).toMatchObject({
      status: "received",
      claimedBy: "ec6",
    });
  });

  it("a crash at the last commit keeps the commits before it and stores neither the last nor the result", async () => {
    const clock = new ManualClock(Date.UTC(2026, 7, 2));
    const store = new PrismaStore(db.prisma, { clock });
    const a = await seedRound(store);
    const b = await seedRound(store);
    const { inbox, id } = await claimed(clock, "ec2");
    const failing = { failing: false };
    const commits = new EventCommits(commitsFailingAtCommit(store, failing), store);
    const versionOf = async (roundId: string) =>
      (await db.prisma.round.findUniqueOrThrow({ where: { id: roundId } })).version;
    const [va, vb] = [await versionOf(a.roundId), await versionOf(b.roundId)];

    (await commits.commit(await touch(store, a.roundId)))._unsafeUnwrap();
    (await commits.commit(await touch(store, b.roundId)))._unsafeUnwrap();
    failing.failing = true;
    const finished = await commits.finishWith(inbox.finishStatement(id, "ec2", "processed", "x"));

    expect(finished._unsafeUnwrapErr().type).toBe("storage_unavailable");
    expect(await versionOf(a.roundId)).toBe(va + 1);
    expect(await versionOf(b.roundId)).toBe(vb);
    expect(await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id } })).toMatchObject({
      status: "received",
      claimedBy: "ec2",
    });
  });

  it("a load right after a read of the same aggregate uses that read; a commit in between, or a third load, reads again", async () => {
    const clock = new ManualClock(Date.UTC(2026, 7, 2));
    const store = new PrismaStore(db.prisma, { clock });
    const a = await seedRound(store);
    const b = await seedRound(store);
    const reads: string[] = [];
    const base = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    const counted: UseCaseDeps = {
      ...base,
      rounds: {
        getRound: (id) => {
          reads.push(id);
          return store.getRound(id);
        },
        listRoundsOfGroup: (id) => store.listRoundsOfGroup(id),
      },
    };
    const commits = new EventCommits(store, store);
    const deps = commits.depsOver(counted);
    const load = async (id: string) => (await deps.rounds.getRound(id))._unsafeUnwrap();

    const first = await load(a.roundId);
    expect(await load(a.roundId)).toBe(first);
    expect(reads).toEqual([a.roundId]);
    await load(a.roundId);
    expect(reads).toEqual([a.roundId, a.roundId]);
    await load(b.roundId);
    expect(reads).toHaveLength(3);
    // Another writer moves round b on: the load kept from before is used once, its commit
    // is refused (stale version), and the retry's load reads the round as it is now.
    (await store.commit(await touch(store, b.roundId)))._unsafeUnwrap();
    const kept = await load(b.roundId);
    const stale = await touch(store, b.roundId);
    expect(
      (
        await deps.uow.commit({
          ...stale,
          rounds: [{ state: kept as NonNullable<typeof kept>, expectedVersion: kept?.version }],
        })
      )._unsafeUnwrapErr().type,
    ).toBe("version_conflict");
    expect(reads).toHaveLength(3);
    expect((await load(b.roundId))?.version).toBe((kept?.version ?? 0) + 1);
    expect(reads).toHaveLength(4);
    // A commit of this event forgets what was read.
    await load(a.roundId);
    (await deps.uow.commit(await touch(store, a.roundId)))._unsafeUnwrap();
    await load(a.roundId);
    expect(reads).toHaveLength(6);
    // Any other call between the two loads (a provider's read, during which another writer may
    // store a change) makes the second read again: a decision to ignore has no version check.
    await load(b.roundId);
    const provider = commits.over({ getPayment: () => ResultAsync.fromSafePromise(Promise.resolve("pi_1")) });
    (await provider.getPayment())._unsafeUnwrap();
    await load(b.roundId);
    expect(reads).toHaveLength(8);
    (await commits.flush())._unsafeUnwrap();
  });

  it("a stale version is refused at the commit, before anything is left open", async () => {
    const clock = new ManualClock(Date.UTC(2026, 7, 2));
    const store = new PrismaStore(db.prisma, { clock });
    const a = await seedRound(store);
    const stale = await touch(store, a.roundId);
    (await store.commit(await touch(store, a.roundId)))._unsafeUnwrap();
    // Only the open transaction: a round the store loaded would be deferred and its version
    // checked when written with the result (round-result-one-statement.test.ts).
    const commits = new EventCommits({ openCommit: (changes) => store.openCommit(changes) }, store);
    expect((await commits.commit(stale))._unsafeUnwrapErr().type).toBe("version_conflict");
    const { inbox, id } = await claimed(clock, "ec3");
    expect(
      (await commits.finishWith(inbox.finishStatement(id, "ec3", "processed", "x")))._unsafeUnwrap(),
    ).toBeUndefined();
  });
});

describe("several processors, state-changing events", () => {
  it("each key in Stripe order, one at a time; every event applied once and recorded with its state", async () => {
    const clock = new ManualClock(Date.UTC(2026, 7, 3));
    const setupStore = new PrismaStore(db.prisma, { clock });
    const rounds = [];
    for (let k = 0; k < 4; k += 1) rounds.push(await seedRound(setupStore, 7));
    const base = 1_900_600_000;
    // Per round, each member's debit goes processing then succeeded, one second apart in Stripe time.
    const events = rounds.flatMap((r, k) =>
      r.memberIds.flatMap((memberId, i) => [
        debitEvent(
          "payment_intent.processing",
          { groupId: r.groupId, roundId: r.roundId, memberId, attempt: 1 },
          { created: base + k + i * 10 },
        ),
        debitEvent(
          "payment_intent.succeeded",
          { groupId: r.groupId, roundId: r.roundId, memberId, attempt: 1 },
          { created: base + k + i * 10 + 5 },
        ),
      ]),
    );
    const roundOfEvent = new Map(
      events.map((e) => [
        e.id,
        (e.data.object as unknown as { metadata: { round_id: string } }).metadata.round_id,
      ]),
    );
    const setupInbox = new PrismaWebhookInbox(db.prisma, clock);
    for (const e of [...events].reverse()) (await setupInbox.receive(e))._unsafeUnwrap();

    const clients = Array.from({ length: 3 }, () =>
      createPrismaClient(db.connectionString, { maxConnections: 4 }),
    );
    const settled: (SettledWebhookEvent & { worker: string })[] = [];
    try {
      const deadline = Date.now() + 60_000;
      await Promise.all(
        clients.map(async (client, i) => {
          const store = new PrismaStore(client, { clock });
          const ctx = contextOn(client, clock, store);
          while (settled.length < events.length && Date.now() < deadline) {
            const report = (
              await processWebhookInbox(ctx, {
                workerId: `rws-${i}`,
                limit: 4,
                concurrency: 2,
                onSettled: (s) => settled.push({ ...s, worker: `rws-${i}` }),
              })
            )._unsafeUnwrap();
            expect(report.leaseLost).toBe(0);
            if (report.claimed === 0) await new Promise((r) => setTimeout(r, 2));
          }
        }),
      );
    } finally {
      await Promise.all(clients.map((c) => c.$disconnect()));
    }

    expect(settled.map((s) => s.eventId).sort()).toEqual(events.map((e) => e.id).sort());
    expect(settled.every((s) => s.outcome === "applied")).toBe(true);
    for (const r of rounds) {
      for (const memberId of r.memberIds)
        expect(await contributionStatus(r.roundId, memberId)).toBe("succeeded");
      const mine = settled
        .filter((s) => roundOfEvent.get(s.eventId) === r.roundId)
        .sort((x, y) => x.startedAt - y.startedAt);
      expect(mine.map((s) => s.stripeCreatedAt)).toEqual(
        [...mine.map((s) => s.stripeCreatedAt)].sort((x, y) => x - y),
      );
      for (let i = 1; i < mine.length; i += 1)
        expect(mine[i - 1]!.settledAt).toBeLessThanOrEqual(mine[i]!.startedAt);
    }
    for (const e of events) {
      const roundId = roundOfEvent.get(e.id) as string;
      expect(await appliedLines(roundId, e.id)).toBe(1);
      const row = await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id: e.id } });
      expect(row).toMatchObject({ status: "processed", claimedBy: null });
    }
  });
});

describe("a notification during a pass", () => {
  it("has a pass with free slots claim the new event at once, while another event still runs", async () => {
    const clock = new ManualClock(Date.UTC(2026, 7, 4));
    const store = new InMemoryStore();
    const base = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    const inbox = new PrismaWebhookInbox(db.prisma, clock);
    const slow = debitEvent("payment_intent.processing", {
      groupId: "grp_rws_wake",
      roundId: unique("round_slow"),
      memberId: "m",
      attempt: 1,
    });
    const late = debitEvent("payment_intent.processing", {
      groupId: "grp_rws_wake",
      roundId: unique("round_late"),
      memberId: "m",
      attempt: 1,
    });
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let slowStarted: () => void = () => {};
    const started = new Promise<void>((resolve) => {
      slowStarted = resolve;
    });
    const slowRoundId = (slow.data.object as unknown as { metadata: { round_id: string } }).metadata.round_id;
    const deps: UseCaseDeps = {
      ...base,
      rounds: {
        getRound: (id) => {
          if (id !== slowRoundId) return base.rounds.getRound(id);
          slowStarted();
          return ResultAsync.fromSafePromise(gate).andThen(() => base.rounds.getRound(id));
        },
        listRoundsOfGroup: (id) => base.rounds.listRoundsOfGroup(id),
      },
    };
    const listeners = new Set<() => void>();
    const settled: string[] = [];
    (await inbox.receive(slow))._unsafeUnwrap();
    const passing = processWebhookInbox(
      { deps, inbox, gateway: new ScriptedStripeReads(), desk: new PrismaSupportDesk(db.prisma, clock) },
      {
        workerId: "wake-1",
        concurrency: 4,
        refillForMs: 60_000,
        onWake: (listener) => {
          listeners.add(listener);
          return () => listeners.delete(listener);
        },
        onSettled: (s) => settled.push(s.eventId),
      },
    );
    await started;
    (await inbox.receive(late))._unsafeUnwrap();
    // Told of it: the pass claims and settles the late event while the slow one still waits.
    for (const listener of listeners) listener();
    const deadline = Date.now() + 10_000;
    while (!settled.includes(late.id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(settled).toEqual([late.id]);
    release();
    const report = (await passing)._unsafeUnwrap();
    expect(report).toMatchObject({ claimed: 2, ignored: 2 });
    expect(settled).toEqual([late.id, slow.id]);
    expect(listeners.size).toBe(0);
  });
});
