// A held payment's change and the webhook event's result written by one statement
// (PrismaStore.deferCommit, EventCommits.finishWith), through real PostgreSQL: applied, a
// stale version (nothing written, the event processed again), a refusal, a deadlock.
import {
  type AuditEntry,
  type Changeset,
  type Clock,
  createHeldPayment,
  DEFAULT_HELD_PAYMENT_POLICY,
  decideHeldPayment,
  type HeldPayment,
  markRoundOpened,
  type StorageError,
  storageError,
  useCaseDepsOn,
} from "@susu/domain";
import {
  anActiveGroup,
  aReadyPerson,
  aRoundOf,
  ManualClock,
  peopleOf,
  SequentialIds,
} from "@susu/domain/testing";
import { errAsync } from "neverthrow";
import { beforeAll, describe, expect, it } from "vitest";
import { PrismaStore } from "../../src/prisma/index.js";
import { PrismaSupportDesk } from "../../src/support/index.js";
import {
  EventCommits,
  type OpenCommitStore,
  PrismaWebhookInbox,
  processWebhookInbox,
  type WebhookProcessorContext,
} from "../../src/webhooks/index.js";
import { useTestDatabase } from "../support/index.js";
import { statementsSentDuring } from "../support/statement-spy.js";
import { debitEvent } from "./events.js";
import { ScriptedStripeReads } from "./harness.js";

const db = useTestDatabase();
const T = Date.UTC(2026, 8, 1);
const policy = DEFAULT_HELD_PAYMENT_POLICY;
const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };

/** The statements sent through the test database's pool while `work` runs: named ones by name, others by their first word. */
async function statementsSentOn<T>(
  work: () => Promise<T>,
): Promise<{ readonly result: T; readonly sent: readonly string[] }> {
  const { result, sent } = await statementsSentDuring(db.prisma, work);
  return { result, sent: sent.map((s) => s.split(" ")[0] ?? s) };
}

let seq = 0;
const unique = (label: string) => `${label}_hr1_${++seq}`;

let clock: ManualClock;
let store: PrismaStore;
let inbox: PrismaWebhookInbox;

beforeAll(async () => {
  clock = new ManualClock(T);
  store = new PrismaStore(db.prisma, { clock });
  inbox = new PrismaWebhookInbox(db.prisma, clock);
  (
    await store.commit({ ...empty, people: [{ state: aReadyPerson("sel"), expectedVersion: undefined }] })
  )._unsafeUnwrap();
});

/** A stored held payment at version 0. */
async function storedPayment(): Promise<HeldPayment> {
  const id = unique("hp");
  const payment = createHeldPayment(
    {
      id,
      requestedBy: "app_1",
      clientReference: `ref_${id}`,
      amountMinor: 10_000,
      currency: "AUD",
      seller: { id: "sel", connectedAccountId: "acct_sel", canReceive: true },
      description: "Two nights",
      customer: { email: "cy@example.com" },
      fee: { kind: "rate", basisPoints: 1_000 },
      successUrl: "https://app.example/done",
    },
    { now: T, policy },
  )._unsafeUnwrap().state;
  (
    await store.commit({ ...empty, heldPayments: [{ state: payment, expectedVersion: undefined }] })
  )._unsafeUnwrap();
  return payment;
}

/** `payment`'s next change (its Checkout Session created), as the use case commits it, with an audit line. */
function changeOf(payment: HeldPayment, action = "checkout_session_created"): Changeset {
  const session = `cs_${payment.id}_${payment.version}`;
  const next = decideHeldPayment(
    payment,
    { type: "checkout_session_created", sessionId: session, url: `https://checkout.example/${session}` },
    { now: T + 1_000, policy },
  )._unsafeUnwrap().state;
  const audit: AuditEntry = {
    at: T + 1_000,
    aggregate: "held_payment",
    aggregateId: payment.id,
    action,
    outcome: "applied",
    actor: "test",
  };
  return { ...empty, heldPayments: [{ state: next, expectedVersion: payment.version }], audit: [audit] };
}

/** A stored event claimed by `workerId`. */
async function claimedEvent(workerId: string): Promise<string> {
  const event = debitEvent("payment_intent.processing", {
    groupId: "grp_hr1",
    roundId: unique("round"),
    memberId: "m",
    attempt: 1,
  });
  (await inbox.receive(event))._unsafeUnwrap();
  const claimed = (await inbox.claimDue(workerId, clock.now(), 60_000, 50))._unsafeUnwrap();
  expect(claimed.map((e) => e.id)).toContain(event.id);
  return event.id;
}

const versionOf = async (id: string) =>
  (await db.prisma.heldPayment.findUniqueOrThrow({ where: { id } })).version;
const auditsOf = async (id: string) =>
  (await db.prisma.auditLogEntry.findMany({ where: { aggregateId: id }, orderBy: { id: "asc" } })).map(
    (a) => a.action,
  );
/** The transaction that last wrote each row (its xmin): rows written together share it. */
async function writerOf(table: "held_payments" | "webhook_events", id: string): Promise<string> {
  const rows = await db.prisma.$queryRawUnsafe<{ x: string }[]>(
    `SELECT xmin::text AS x FROM ${table} WHERE id = $1`,
    id,
  );
  return rows[0]?.x ?? "missing";
}

/**
 * Makes the next `times` writes of held payment `id` fail with SQLSTATE `code` (a deadlock,
 * a serialization failure), as a collision with another transaction would: a trigger that
 * counts with a sequence (not rolled back with the statement it fails).
 */
async function failNextWritesOf(id: string, code: string, times: number): Promise<() => Promise<void>> {
  const tag = id.replace(/\W/g, "_");
  await db.prisma.$executeRawUnsafe(`CREATE SEQUENCE fail_${tag}`);
  await db.prisma.$executeRawUnsafe(`
    CREATE FUNCTION fail_${tag}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.id = '${id}' AND nextval('fail_${tag}') <= ${times} THEN
        RAISE EXCEPTION 'injected collision' USING ERRCODE = '${code}';
      END IF;
      RETURN NEW;
    END $$`);
  await db.prisma.$executeRawUnsafe(
    `CREATE TRIGGER fail_${tag} BEFORE UPDATE ON held_payments FOR EACH ROW EXECUTE FUNCTION fail_${tag}()`,
  );
  return async () => {
    await db.prisma.$executeRawUnsafe(`DROP TRIGGER fail_${tag} ON held_payments`);
    await db.prisma.$executeRawUnsafe(`DROP FUNCTION fail_${tag}()`);
    await db.prisma.$executeRawUnsafe(`DROP SEQUENCE fail_${tag}`);
  };
}

describe("a held payment's change and the event's result", () => {
  it("are written by one statement, with no transaction around it", async () => {
    const payment = await storedPayment();
    const id = await claimedEvent("hr1");
    const commits = new EventCommits(store, store, inbox.finishAudited.bind(inbox));

    const { result, sent } = await statementsSentOn(async () => {
      (await commits.commit(changeOf(payment)))._unsafeUnwrap();
      return commits.finishWith(inbox.finishStatement(id, "hr1", "processed", "applied"));
    });

    expect(result._unsafeUnwrap()).toEqual([{ id }]);
    expect(sent).toEqual(["susu_commit_held_payment+webhook_finish"]);
    expect(await versionOf(payment.id)).toBe(1);
    expect(await auditsOf(payment.id)).toEqual(["checkout_session_created"]);
    expect(await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id } })).toMatchObject({
      status: "processed",
      outcome: "applied",
      claimedBy: null,
    });
    expect(await writerOf("webhook_events", id)).toBe(await writerOf("held_payments", payment.id));
    expect(commits.lost()).toBeUndefined();
  });

  it("with the lease lost meanwhile: the change is stored, the result is not", async () => {
    const payment = await storedPayment();
    const id = await claimedEvent("hr2");
    await db.prisma.webhookEvent.update({ where: { id }, data: { claimedBy: "someone_else" } });
    const commits = new EventCommits(store, store);
    (await commits.commit(changeOf(payment)))._unsafeUnwrap();

    expect(
      (await commits.finishWith(inbox.finishStatement(id, "hr2", "processed", "x")))._unsafeUnwrap(),
    ).toEqual([]);
    expect(await versionOf(payment.id)).toBe(1);
    expect(await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id } })).toMatchObject({
      status: "received",
      claimedBy: "someone_else",
    });
  });

  it("a stale version writes neither, and the event's commits are lost from then on", async () => {
    const payment = await storedPayment();
    const id = await claimedEvent("hr3");
    const commits = new EventCommits(store, store);
    // Told it was stored: its version is checked only when it is written.
    (await commits.commit(changeOf(payment, "stale")))._unsafeUnwrap();
    // Another writer moves the payment on meanwhile.
    (await store.commit(changeOf(payment, "other writer")))._unsafeUnwrap();

    const finished = await commits.finishWith(inbox.finishStatement(id, "hr3", "processed", "x"));

    expect(finished._unsafeUnwrapErr()).toMatchObject({ type: "version_conflict" });
    expect(commits.lost()).toMatchObject({ type: "version_conflict" });
    expect(await versionOf(payment.id)).toBe(1);
    expect(await auditsOf(payment.id)).toEqual(["other writer"]);
    expect(await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id } })).toMatchObject({
      status: "received",
      claimedBy: "hr3",
    });
    // Nothing more of this event is stored.
    expect((await commits.flush())._unsafeUnwrapErr().type).toBe("version_conflict");
  });

  it("a stale version found by a read after the commit: the read fails, and so does everything after it", async () => {
    const payment = await storedPayment();
    const id = await claimedEvent("hr4");
    const commits = new EventCommits(store, store);
    const deps = commits.depsOver(useCaseDepsOn(store, { clock, ids: new SequentialIds() }));
    (await commits.commit(changeOf(payment, "stale")))._unsafeUnwrap();
    (await store.commit(changeOf(payment, "other writer")))._unsafeUnwrap();

    // The read writes the change alone first (as a commit would have), which finds it stale.
    expect((await deps.heldPayments.getHeldPayment(payment.id))._unsafeUnwrapErr().type).toBe(
      "version_conflict",
    );
    // A retry of the use case (retryOnConflict) cannot carry on without it.
    expect((await deps.heldPayments.getHeldPayment(payment.id))._unsafeUnwrapErr().type).toBe(
      "version_conflict",
    );
    expect((await deps.uow.commit(changeOf({ ...payment, version: 1 })))._unsafeUnwrapErr().type).toBe(
      "version_conflict",
    );
    expect(
      (await commits.finishWith(inbox.finishStatement(id, "hr4", "processed", "x")))._unsafeUnwrapErr().type,
    ).toBe("version_conflict");
    expect(await versionOf(payment.id)).toBe(1);
    expect(await auditsOf(payment.id)).toEqual(["other writer"]);
    expect((await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id } })).status).toBe("received");
  });

  it("a read after the commit writes it alone first; the result is then the caller's to record", async () => {
    const payment = await storedPayment();
    const commits = new EventCommits(store, store);
    const deps = commits.depsOver(useCaseDepsOn(store, { clock, ids: new SequentialIds() }));
    (await commits.commit(changeOf(payment)))._unsafeUnwrap();
    expect(await versionOf(payment.id)).toBe(0);
    const { result, sent } = await statementsSentOn(async () => deps.heldPayments.getHeldPayment(payment.id));
    expect(result._unsafeUnwrap()?.version).toBe(1);
    expect(sent).toEqual(["susu_commit_held_payment", "susu_getHeldPayment"]);
    const id = await claimedEvent("hr5");
    expect(
      (await commits.finishWith(inbox.finishStatement(id, "hr5", "processed", "x")))._unsafeUnwrap(),
    ).toBeUndefined();
  });

  it("a change that breaks a unique rule writes neither, and the event's commits are lost (settled as a failed commit, not failing the pass)", async () => {
    const first = await storedPayment();
    (await store.commit(changeOf(first)))._unsafeUnwrap();
    const taken = `cs_${first.id}_${first.version}`;
    const payment = await storedPayment();
    const id = await claimedEvent("hr9");
    const commits = new EventCommits(store, store);
    // The same Checkout Session as the first payment's: held_payments_checkout_session_id_key.
    const next = decideHeldPayment(
      payment,
      { type: "checkout_session_created", sessionId: taken, url: `https://checkout.example/${taken}` },
      { now: T + 1_000, policy },
    )._unsafeUnwrap().state;
    (
      await commits.commit({ ...empty, heldPayments: [{ state: next, expectedVersion: payment.version }] })
    )._unsafeUnwrap();

    const finished = await commits.finishWith(inbox.finishStatement(id, "hr9", "processed", "x"));

    expect(finished._unsafeUnwrapErr()).toMatchObject({ type: "duplicate" });
    expect(commits.lost()).toMatchObject({ type: "duplicate" });
    expect(await versionOf(payment.id)).toBe(0);
    expect(await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id } })).toMatchObject({
      status: "received",
      claimedBy: "hr9",
    });
  });

  it("a result the database refuses: the change is stored alone and the refusal returned", async () => {
    const payment = await storedPayment();
    const id = await claimedEvent("hr6");
    const commits = new EventCommits(store, store);
    (await commits.commit(changeOf(payment)))._unsafeUnwrap();

    // 22021: a text column cannot hold a NUL.
    const refused = await commits.finishWith(inbox.finishStatement(id, "hr6", "processed", "bad \u0000"));

    expect(refused._unsafeUnwrapErr()).toMatchObject({ type: "storage_refused" });
    expect(commits.lost()).toBeUndefined();
    expect(await versionOf(payment.id)).toBe(1);
    expect(await auditsOf(payment.id)).toEqual(["checkout_session_created"]);
    expect(await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id } })).toMatchObject({
      status: "received",
      claimedBy: "hr6",
    });
  });

  it("a deadlock or serialization failure of the one statement: written by the transaction instead, both together", async () => {
    for (const code of ["40P01", "40001"]) {
      const payment = await storedPayment();
      const id = await claimedEvent("hr7");
      const commits = new EventCommits(store, store);
      const restore = await failNextWritesOf(payment.id, code, 1);
      try {
        (await commits.commit(changeOf(payment)))._unsafeUnwrap();
        const { result, sent } = await statementsSentOn(async () =>
          commits.finishWith(inbox.finishStatement(id, "hr7", "processed", "applied")),
        );
        expect(result._unsafeUnwrap()).toEqual([{ id }]);
        expect(sent[0]).toBe("susu_commit_held_payment+webhook_finish");
        expect(sent).toContain("webhook_finish");
      } finally {
        await restore();
      }
      expect(await versionOf(payment.id)).toBe(1);
      expect(await writerOf("webhook_events", id)).toBe(await writerOf("held_payments", payment.id));
      expect((await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id } })).status).toBe("processed");
    }
  });
});

describe("openCommit of a held payment's change", () => {
  it("retries a deadlock or serialization failure of its one statement in a transaction of its own", async () => {
    for (const code of ["40P01", "40001"]) {
      const payment = await storedPayment();
      const restore = await failNextWritesOf(payment.id, code, 1);
      try {
        const { result, sent } = await statementsSentOn(async () => store.openCommit(changeOf(payment)));
        const open = result._unsafeUnwrap();
        if (open === undefined) throw new Error("no transaction left open");
        expect(sent.slice(0, 2)).toEqual(["BEGIN", "susu_commit_held_payment"]);
        expect(sent.filter((s) => s === "BEGIN")).toHaveLength(2);
        await open.commit();
      } finally {
        await restore();
      }
      expect(await versionOf(payment.id)).toBe(1);
      expect(await auditsOf(payment.id)).toEqual(["checkout_session_created"]);
    }
  });

  it("still fails with what the transaction answers when the collision persists", async () => {
    const payment = await storedPayment();
    const restore = await failNextWritesOf(payment.id, "40P01", 2);
    try {
      const opened = await store.openCommit(changeOf(payment));
      expect(opened._unsafeUnwrapErr()).toMatchObject({ type: "version_conflict" });
    } finally {
      await restore();
    }
    expect(await versionOf(payment.id)).toBe(0);
    expect(await auditsOf(payment.id)).toEqual([]);
  });
});

describe("the processor, when a commit written with the result finds its aggregate changed", () => {
  /** An active group of fresh members with its first round open. */
  async function seedRound() {
    const groupId = unique("grp");
    const roundId = unique("round");
    const memberIds = [unique("m"), unique("m")];
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
    return { groupId, roundId, memberId: memberIds[1] as string };
  }

  function contextWith(commits: OpenCommitStore, processorClock: Clock): WebhookProcessorContext {
    return {
      deps: useCaseDepsOn(store, { clock: processorClock, ids: new SequentialIds() }),
      inbox,
      gateway: new ScriptedStripeReads(),
      desk: new PrismaSupportDesk(db.prisma, processorClock),
      commits,
    };
  }

  /** The store's commits, the first `losing` of them deferred and then found stale when written (nothing stored). */
  function losingRaces(losing: number): OpenCommitStore & { deferred: number } {
    const lost: StorageError = storageError.versionConflict("round", "raced");
    const commits = {
      deferred: 0,
      openCommit: (changes: Changeset) => store.openCommit(changes),
      deferCommit: (_changes: Changeset) => {
        if (commits.deferred >= losing) return undefined;
        commits.deferred += 1;
        return { withResult: () => errAsync(lost) };
      },
    };
    return commits;
  }

  async function contributionStatus(roundId: string, memberId: string) {
    const rows = await db.prisma.$queryRawUnsafe<{ status: string }[]>(
      "SELECT status::text AS status FROM contributions WHERE round_id = $1 AND member_id = $2",
      roundId,
      memberId,
    );
    return rows[0]?.status;
  }
  async function appliedLines(roundId: string, eventId: string) {
    return db.prisma.auditLogEntry.count({
      where: { aggregateId: roundId, actor: `stripe:${eventId}`, outcome: "applied" },
    });
  }

  it("processes the event again at once, and it is applied and recorded once", async () => {
    const { groupId, roundId, memberId } = await seedRound();
    const event = debitEvent("payment_intent.succeeded", { groupId, roundId, memberId, attempt: 1 });
    (await inbox.receive(event))._unsafeUnwrap();
    const commits = losingRaces(2);

    const report = (
      await processWebhookInbox(contextWith(commits, clock), { workerId: "hr-p1" })
    )._unsafeUnwrap();

    expect(commits.deferred).toBe(2);
    expect(report).toMatchObject({ claimed: 1, processed: 1, retried: 0 });
    expect(await contributionStatus(roundId, memberId)).toBe("succeeded");
    expect(await appliedLines(roundId, event.id)).toBe(1);
    expect(await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id: event.id } })).toMatchObject({
      status: "processed",
      attempts: 0,
      claimedBy: null,
    });
  });

  it("past its races, fails the event as a lost race (due again later), storing nothing of it", async () => {
    const { groupId, roundId, memberId } = await seedRound();
    const event = debitEvent("payment_intent.succeeded", { groupId, roundId, memberId, attempt: 1 });
    (await inbox.receive(event))._unsafeUnwrap();
    const before = await contributionStatus(roundId, memberId);
    const commits = losingRaces(100);

    const report = (
      await processWebhookInbox(contextWith(commits, clock), { workerId: "hr-p2" })
    )._unsafeUnwrap();

    expect(commits.deferred).toBe(5);
    expect(report).toMatchObject({ claimed: 1, processed: 0, retried: 1 });
    expect(await contributionStatus(roundId, memberId)).toBe(before);
    expect(await appliedLines(roundId, event.id)).toBe(0);
    const row = await db.prisma.webhookEvent.findUniqueOrThrow({ where: { id: event.id } });
    expect(row).toMatchObject({ status: "failed", attempts: 1, claimedBy: null });
    expect(row.lastError).toContain("version_conflict");
  });
});
