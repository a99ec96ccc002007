// A round's change (of a round the store loaded) and the webhook event's result written by one
// statement (PrismaStore.deferCommit, EventCommits.finishWith), through real PostgreSQL: only the
// changed child rows written, a stale version or snapshot writing neither, a deadlock handed to
// the transaction, a failure settled (retried, then parked). Then the processor with the real
// store and a competing writer on the same database: an event whose deferred commit lost the
// race is processed again and applied once, for a round and for a held payment.
import {
  type AuditEntry,
  type Changeset,
  createHeldPayment,
  DEFAULT_HELD_PAYMENT_POLICY,
  DEFAULT_ROUND_POLICY,
  debitInitiated,
  decide,
  decideHeldPayment,
  type HeldPayment,
  markRoundOpened,
  money,
  type Round,
  type RoundInput,
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
import { ResultAsync } from "neverthrow";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { NamedStatement } from "../../src/db/prisma-client.js";
import { PrismaStore } from "../../src/prisma/index.js";
import { PrismaSupportDesk } from "../../src/support/index.js";
import {
  EventCommits,
  type OpenCommitStore,
  PrismaWebhookInbox,
  processWebhookInbox,
  type WebhookPassOptions,
  type WebhookProcessorContext,
} from "../../src/webhooks/index.js";
import { useTestDatabase } from "../support/index.js";
import { statementsSentDuring } from "../support/statement-spy.js";
import { debitEvent, stripeEvent } from "./events.js";
import { ScriptedStripeReads } from "./harness.js";

const db = useTestDatabase();
const T = Date.UTC(2026, 8, 1);
const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };
const MEMBERS = 3;

let seq = 0;
const unique = (label: string) => `${label}_rr1_${++seq}`;

let clock: ManualClock;
let store: PrismaStore;
/** Another process's store on the same database: its commits are the competing writer's. */
let other: PrismaStore;
let inbox: PrismaWebhookInbox;

beforeAll(async () => {
  clock = new ManualClock(T);
  store = new PrismaStore(db.prisma, { clock });
  other = new PrismaStore(db.prisma, { clock });
  inbox = new PrismaWebhookInbox(db.prisma, clock);
  (
    await store.commit({ ...empty, people: [{ state: aReadyPerson("sel_rr1"), expectedVersion: undefined }] })
  )._unsafeUnwrap();
});

beforeEach(async () => {
  // Each test's passes see only its own events: whatever an earlier test left due is set aside.
  await db.prisma.webhookEvent.updateMany({
    where: { status: { in: ["received", "failed"] } },
    data: { status: "ignored", outcome: "set aside between tests", claimedBy: null, claimedUntil: null },
  });
});

/** The statements sent through the test database's pool while `work` runs: named ones by name, others by their first word. */
async function statementsSentOn<R>(
  work: () => Promise<R>,
): Promise<{ readonly result: R; readonly sent: readonly string[] }> {
  const { result, sent } = await statementsSentDuring(db.prisma, work);
  return { result, sent: sent.map((s) => s.split(" ")[0] ?? s) };
}

/** An active group of fresh members with its first round open (attempt 1 of every debit asked for). */
async function seedRound() {
  const groupId = unique("grp");
  const roundId = unique("round");
  const memberIds = Array.from({ length: MEMBERS }, () => unique("m"));
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

const succeeded = (memberId: string): RoundInput => ({
  type: "debit_succeeded",
  memberId,
  attempt: 1,
  paymentIntentId: `pi_rr1_${memberId}`,
  chargeId: `ch_rr1_${memberId}`,
});

/** `round`'s change by `input`, as a use case commits it: with an audit line, and its effects when asked. */
function roundChange(round: Round, input: RoundInput, action: string): Changeset {
  const next = decide(round, input, { now: T, policy: DEFAULT_ROUND_POLICY })._unsafeUnwrap().state;
  const audit: AuditEntry = {
    at: T,
    aggregate: "round",
    aggregateId: round.id,
    action,
    outcome: "applied",
    actor: "test",
  };
  return { ...empty, rounds: [{ state: next, expectedVersion: round.version }], audit: [audit] };
}

/** The round as `by` loads it now (and, for a PrismaStore, remembers it for its commits). */
async function loadedRound(by: PrismaStore, roundId: string): Promise<Round> {
  const round = (await by.getRound(roundId))._unsafeUnwrap();
  if (round === undefined) throw new Error(`no round ${roundId}`);
  return round;
}

/** Another writer moves the round on: a debit of another member succeeds, committed by another process. */
async function competingDebit(roundId: string, memberId: string): Promise<void> {
  const round = await loadedRound(other, roundId);
  (await other.commit(roundChange(round, succeeded(memberId), "other writer")))._unsafeUnwrap();
}

/** A stored event claimed by `workerId`. */
async function claimedEvent(workerId: string): Promise<string> {
  const event = debitEvent("payment_intent.processing", {
    groupId: "grp_rr1",
    roundId: unique("round_elsewhere"),
    memberId: "m",
    attempt: 1,
  });
  (await inbox.receive(event))._unsafeUnwrap();
  const claimed = (await inbox.claimDue(workerId, clock.now(), 60_000, 50))._unsafeUnwrap();
  expect(claimed.map((e) => e.id)).toContain(event.id);
  return event.id;
}

const roundRow = (id: string) => db.prisma.round.findUniqueOrThrow({ where: { id } });
const statusOf = async (roundId: string, memberId: string) =>
  (await db.prisma.contribution.findUniqueOrThrow({ where: { roundId_memberId: { roundId, memberId } } }))
    .status;
const eventRow = (id: string) => db.prisma.webhookEvent.findUniqueOrThrow({ where: { id } });
const auditsOf = async (id: string) =>
  (await db.prisma.auditLogEntry.findMany({ where: { aggregateId: id }, orderBy: { id: "asc" } })).map(
    (a) => a.action,
  );

/** The transaction that last wrote each row of the round, its children and `eventId`'s row (its xmin), by a key per row. */
async function writers(roundId: string, eventId: string): Promise<Map<string, string>> {
  const rows = await db.prisma.$queryRawUnsafe<{ key: string; x: string }[]>(
    `SELECT 'round' AS key, xmin::text AS x FROM rounds WHERE id = $1
     UNION ALL SELECT 'c:' || member_id, xmin::text FROM contributions WHERE round_id = $1
     UNION ALL SELECT 'a:' || member_id || ':' || attempt, xmin::text FROM contribution_attempts WHERE round_id = $1
     UNION ALL SELECT 'event', xmin::text FROM webhook_events WHERE id = $2`,
    roundId,
    eventId,
  );
  return new Map(rows.map((r) => [r.key, r.x]));
}

/**
 * Makes the next `times` writes of row `id` of `table` fail with SQLSTATE `code` (a deadlock,
 * a failure the store does not know), as a collision or a fault would: a trigger that counts
 * with a sequence (not rolled back with the statement it fails).
 */
async function failNextWritesOf(
  table: "rounds" | "held_payments",
  id: string,
  code: string,
  times: number,
): Promise<() => Promise<void>> {
  const tag = id.replace(/\W/g, "_");
  await db.prisma.$executeRawUnsafe(`CREATE SEQUENCE fail_${tag}`);
  await db.prisma.$executeRawUnsafe(`
    CREATE FUNCTION fail_${tag}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.id = '${id}' AND nextval('fail_${tag}') <= ${times} THEN
        RAISE EXCEPTION 'injected failure' USING ERRCODE = '${code}';
      END IF;
      RETURN NEW;
    END $$`);
  await db.prisma.$executeRawUnsafe(
    `CREATE TRIGGER fail_${tag} BEFORE UPDATE ON ${table} FOR EACH ROW EXECUTE FUNCTION fail_${tag}()`,
  );
  return async () => {
    await db.prisma.$executeRawUnsafe(`DROP TRIGGER fail_${tag} ON ${table}`);
    await db.prisma.$executeRawUnsafe(`DROP FUNCTION fail_${tag}()`);
    await db.prisma.$executeRawUnsafe(`DROP SEQUENCE fail_${tag}`);
  };
}

describe("a round's change and the event's result", () => {
  it("are written by one statement, with only the changed contribution and attempt rows", async () => {
    const { roundId, memberIds } = await seedRound();
    const [, ben] = memberIds as [string, string];
    const id = await claimedEvent("rr1");
    const round = await loadedRound(store, roundId);
    const before = await writers(roundId, id);
    const commits = new EventCommits(store, store, inbox.finishAudited.bind(inbox));

    const { result, sent } = await statementsSentOn(async () => {
      (await commits.commit(roundChange(round, succeeded(ben), "debit_succeeded")))._unsafeUnwrap();
      return commits.finishWith(inbox.finishStatement(id, "rr1", "processed", "applied"));
    });

    expect(result._unsafeUnwrap()).toEqual([{ id }]);
    expect(sent).toEqual(["susu_commit_round+webhook_finish"]);
    expect(commits.lost()).toBeUndefined();
    expect(await roundRow(roundId)).toMatchObject({ version: round.version + 1 });
    expect(await statusOf(roundId, ben)).toBe("succeeded");
    expect(await auditsOf(roundId)).toEqual(["debit_succeeded"]);
    expect(await eventRow(id)).toMatchObject({ status: "processed", outcome: "applied", claimedBy: null });
    // One transaction wrote the round, the event's result and ben's two rows; no other row.
    const after = await writers(roundId, id);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    const rewritten = [...after].filter(([key, x]) => before.get(key) !== x).map(([key]) => key);
    expect(rewritten.sort()).toEqual([`a:${ben}:1`, `c:${ben}`, "event", "round"].sort());
    expect(new Set(rewritten.map((key) => after.get(key))).size).toBe(1);
  });

  it("with outbox effects: one statement too, the effects stored with it", async () => {
    const { roundId, memberIds } = await seedRound();
    const id = await claimedEvent("rr2");
    const round = await loadedRound(store, roundId);
    const change = roundChange(round, succeeded(memberIds[0] as string), "debit_succeeded");
    const effect = {
      kind: "schedule_timer" as const,
      id: `${roundId}:rr2:timer`,
      aggregate: "round" as const,
      aggregateId: roundId,
      at: T + 60_000,
      timer: { kind: "collection_deadline" as const },
    };
    const commits = new EventCommits(store, store);

    const { result, sent } = await statementsSentOn(async () => {
      (await commits.commit({ ...change, outbox: [effect] }))._unsafeUnwrap();
      return commits.finishWith(inbox.finishStatement(id, "rr2", "processed", "applied"));
    });

    expect(result._unsafeUnwrap()).toEqual([{ id }]);
    // The dispatchers are woken after it (a NOTIFY of its own).
    expect(sent[0]).toBe("susu_commit_round_outbox+webhook_finish");
    expect(sent).not.toContain("BEGIN");
    expect((await db.prisma.outboxEffect.findUniqueOrThrow({ where: { id: effect.id } })).status).toBe(
      "pending",
    );
    expect((await eventRow(id)).status).toBe("processed");
    await db.prisma.outboxEffect.update({ where: { id: effect.id }, data: { status: "done" } });
  });

  it("with a ledger posting: posted in the same one statement, its effect stored done", async () => {
    const { roundId, memberIds } = await seedRound();
    const id = await claimedEvent("rr2l");
    const round = await loadedRound(store, roundId);
    const change = roundChange(round, succeeded(memberIds[0] as string), "debit_succeeded");
    const transaction = debitInitiated({
      id: `${roundId}:rr2l:ledger`,
      roundId,
      memberId: memberIds[0] as string,
      amount: money(100_00, "AUD"),
      occurredAt: T,
    })._unsafeUnwrap();
    const effect = { kind: "post_ledger" as const, id: transaction.id, transaction };
    const commits = new EventCommits(store, store);

    const { result, sent } = await statementsSentOn(async () => {
      (await commits.commit({ ...change, outbox: [effect] }))._unsafeUnwrap();
      return commits.finishWith(inbox.finishStatement(id, "rr2l", "processed", "applied"));
    });

    expect(result._unsafeUnwrap()).toEqual([{ id }]);
    expect(sent[0]).toBe("susu_commit_round_ledger+webhook_finish");
    expect(sent).not.toContain("BEGIN");
    const row = await db.prisma.outboxEffect.findUniqueOrThrow({ where: { id: effect.id } });
    expect(row.status).toBe("done");
    expect(row.completedAt).toEqual(row.createdAt);
    expect(await db.prisma.ledgerPosting.count({ where: { transactionId: transaction.id } })).toBe(2);
    expect(
      (await db.prisma.ledgerTransaction.findUniqueOrThrow({ where: { id: transaction.id } })).roundId,
    ).toBe(roundId);
    expect((await eventRow(id)).status).toBe("processed");
  });

  it("a stale version writes neither, and the event's commits are lost from then on", async () => {
    const { roundId, memberIds } = await seedRound();
    const [ana, ben] = memberIds as [string, string];
    const id = await claimedEvent("rr3");
    const round = await loadedRound(store, roundId);
    const commits = new EventCommits(store, store);
    // Told it was stored: its version is checked only when it is written.
    (await commits.commit(roundChange(round, succeeded(ben), "stale")))._unsafeUnwrap();
    await competingDebit(roundId, ana);

    const { result, sent } = await statementsSentOn(async () =>
      commits.finishWith(inbox.finishStatement(id, "rr3", "processed", "x")),
    );

    expect(result._unsafeUnwrapErr()).toMatchObject({ type: "version_conflict" });
    expect(sent[0]).toBe("susu_commit_round+webhook_finish");
    expect(sent).toContain("ROLLBACK"); // the transaction that decided stored nothing either
    expect(commits.lost()).toMatchObject({ type: "version_conflict" });
    expect(await roundRow(roundId)).toMatchObject({ version: round.version + 1 });
    expect(await statusOf(roundId, ana)).toBe("succeeded");
    expect(await statusOf(roundId, ben)).not.toBe("succeeded");
    expect(await auditsOf(roundId)).toEqual(["other writer"]);
    expect(await eventRow(id)).toMatchObject({ status: "received", claimedBy: "rr3" });
    expect((await commits.flush())._unsafeUnwrapErr().type).toBe("version_conflict");
  });

  it("another snapshot stored at the version it was loaded at writes neither (version_conflict)", async () => {
    const { roundId, memberIds } = await seedRound();
    const id = await claimedEvent("rr4");
    const round = await loadedRound(store, roundId);
    const commits = new EventCommits(store, store);
    (await commits.commit(roundChange(round, succeeded(memberIds[1] as string), "forked")))._unsafeUnwrap();
    // Another history at the same version (as a restore could leave): the stored rows are not the loaded state's.
    await db.prisma.$executeRawUnsafe(
      `UPDATE rounds SET snapshot = jsonb_set(snapshot, '{transferGroup}', '"tg_forked"') WHERE id = $1`,
      roundId,
    );

    const finished = await commits.finishWith(inbox.finishStatement(id, "rr4", "processed", "x"));

    expect(finished._unsafeUnwrapErr()).toMatchObject({ type: "version_conflict" });
    expect(commits.lost()).toMatchObject({ type: "version_conflict" });
    expect(await roundRow(roundId)).toMatchObject({ version: round.version });
    expect(await statusOf(roundId, memberIds[1] as string)).not.toBe("succeeded");
    expect(await auditsOf(roundId)).toEqual([]);
    expect((await eventRow(id)).status).toBe("received");
  });

  it("a deadlock or serialization failure of the one statement: written by the transaction instead, both together", async () => {
    for (const code of ["40P01", "40001"]) {
      const { roundId, memberIds } = await seedRound();
      const id = await claimedEvent("rr5");
      const round = await loadedRound(store, roundId);
      const commits = new EventCommits(store, store);
      const restore = await failNextWritesOf("rounds", roundId, code, 1);
      try {
        (
          await commits.commit(roundChange(round, succeeded(memberIds[2] as string), "debit_succeeded"))
        )._unsafeUnwrap();
        const { result, sent } = await statementsSentOn(async () =>
          commits.finishWith(inbox.finishStatement(id, "rr5", "processed", "applied")),
        );
        expect(result._unsafeUnwrap()).toEqual([{ id }]);
        expect(sent[0]).toBe("susu_commit_round+webhook_finish");
        expect(sent).toContain("webhook_finish");
        // The transaction wrote only the changed rows too (the round as it was loaded).
        expect(sent).not.toContain("susu_contributions_delete_gone");
      } finally {
        await restore();
      }
      expect(await roundRow(roundId)).toMatchObject({ version: round.version + 1 });
      expect(await statusOf(roundId, memberIds[2] as string)).toBe("succeeded");
      const after = await writers(roundId, id);
      expect(after.get("event")).toBe(after.get("round"));
      expect((await eventRow(id)).status).toBe("processed");
    }
  });
});

describe("the processor with the real store", () => {
  const processorClock = () => clock;

  function contextWith(commits: OpenCommitStore): WebhookProcessorContext {
    return {
      deps: useCaseDepsOn(store, { clock: processorClock(), ids: new SequentialIds() }),
      inbox,
      gateway: new ScriptedStripeReads(),
      desk: new PrismaSupportDesk(db.prisma, processorClock()),
      commits,
    };
  }

  /**
   * The store's commits, each deferred one written after `before` runs (once per deferred
   * commit, for the first `times` of them): another writer's commit lands between the use
   * case's load and the deferred write. Counts the deferred commits written.
   */
  function racedBy(before: () => Promise<void>, times: number): OpenCommitStore & { written: number } {
    let raced = 0;
    const commits = {
      written: 0,
      openCommit: (changes: Changeset) => store.openCommit(changes),
      deferCommit: (changes: Changeset) => {
        const deferred = store.deferCommit(changes);
        if (deferred === undefined) return undefined;
        return {
          withResult: (statement: NamedStatement) => {
            commits.written += 1;
            const race = raced < times ? before() : Promise.resolve();
            raced += 1;
            return ResultAsync.fromSafePromise(race).andThen(() => deferred.withResult(statement));
          },
        };
      },
    };
    return commits;
  }

  const appliedLines = (aggregateId: string, eventId: string) =>
    db.prisma.auditLogEntry.count({ where: { aggregateId, actor: `stripe:${eventId}`, outcome: "applied" } });

  it("a round's event whose deferred commit lost the race to another writer is processed again and applied once", async () => {
    const { groupId, roundId, memberIds } = await seedRound();
    const [ana, ben] = memberIds as [string, string];
    const event = debitEvent("payment_intent.succeeded", { groupId, roundId, memberId: ben, attempt: 1 });
    (await inbox.receive(event))._unsafeUnwrap();
    const commits = racedBy(() => competingDebit(roundId, ana), 1);

    const report = (await processWebhookInbox(contextWith(commits), { workerId: "rr-p1" }))._unsafeUnwrap();

    // Written twice: found stale the first time (nothing stored), stored the second.
    expect(commits.written).toBe(2);
    expect(report).toMatchObject({ claimed: 1, processed: 1, retried: 0 });
    expect(await statusOf(roundId, ana)).toBe("succeeded");
    expect(await statusOf(roundId, ben)).toBe("succeeded");
    expect(await roundRow(roundId)).toMatchObject({ version: 2 });
    expect(await appliedLines(roundId, event.id)).toBe(1);
    expect(await eventRow(event.id)).toMatchObject({ status: "processed", attempts: 0, claimedBy: null });
    const after = await writers(roundId, event.id);
    expect(after.get("event")).toBe(after.get("round"));
  });

  it("a held payment's event whose deferred commit lost the race to another writer is processed again and applied once", async () => {
    const policy = DEFAULT_HELD_PAYMENT_POLICY;
    const id = unique("hp");
    const created = createHeldPayment(
      {
        id,
        requestedBy: "app_rr1",
        clientReference: `ref_${id}`,
        amountMinor: 10_000,
        currency: "AUD",
        seller: { id: "sel_rr1", connectedAccountId: "acct_sel_rr1", canReceive: true },
        description: "Two nights",
        customer: { email: "cy@example.com" },
        fee: { kind: "rate", basisPoints: 1_000 },
        successUrl: "https://app.example/done",
      },
      { now: T, policy },
    )._unsafeUnwrap().state;
    const sessionId = `cs_${id}`;
    const awaiting = decideHeldPayment(
      created,
      { type: "checkout_session_created", sessionId, url: `https://checkout.example/${sessionId}` },
      { now: T, policy },
    )._unsafeUnwrap().state;
    (
      await store.commit({ ...empty, heldPayments: [{ state: awaiting, expectedVersion: undefined }] })
    )._unsafeUnwrap();
    const event = stripeEvent("checkout.session.expired", {
      id: sessionId,
      object: "checkout.session",
      mode: "payment",
      status: "expired",
      payment_intent: null,
      metadata: { held_payment_id: id },
    });
    (await inbox.receive(event))._unsafeUnwrap();
    // Another process stores the payment again meanwhile (its version moves on, with an audit line).
    const competing = async () => {
      const payment = (await other.getHeldPayment(id))._unsafeUnwrap() as HeldPayment;
      const audit: AuditEntry = {
        at: T,
        aggregate: "held_payment",
        aggregateId: id,
        action: "other writer",
        outcome: "applied",
        actor: "test",
      };
      (
        await other.commit({
          ...empty,
          heldPayments: [{ state: payment, expectedVersion: payment.version }],
          audit: [audit],
        })
      )._unsafeUnwrap();
    };
    const commits = racedBy(competing, 1);

    const report = (await processWebhookInbox(contextWith(commits), { workerId: "rr-p2" }))._unsafeUnwrap();

    expect(commits.written).toBe(2);
    expect(report).toMatchObject({ claimed: 1, processed: 1, retried: 0 });
    const row = await db.prisma.heldPayment.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({ status: "expired", version: 2 });
    expect(await auditsOf(id)).toHaveLength(2);
    expect((await auditsOf(id))[0]).toBe("other writer");
    expect(await appliedLines(id, event.id)).toBe(1);
    expect(await eventRow(event.id)).toMatchObject({ status: "processed", attempts: 0, claimedBy: null });
  });

  it("a round's deferred commit that fails for another reason loses the event: retried, then parked, nothing stored", async () => {
    const { groupId, roundId, memberIds } = await seedRound();
    const ben = memberIds[1] as string;
    const event = debitEvent("payment_intent.succeeded", { groupId, roundId, memberId: ben, attempt: 1 });
    (await inbox.receive(event))._unsafeUnwrap();
    const before = await roundRow(roundId);
    // XX000: a failure the store knows nothing of (reported as the database unavailable).
    const restore = await failNextWritesOf("rounds", roundId, "XX000", 100);
    const options: WebhookPassOptions = {
      workerId: "rr-p3",
      retry: { baseDelayMs: 1_000, factor: 2, maxDelayMs: 60_000, jitter: "none", attemptsMax: 2 },
      jitter: () => 0,
    };
    try {
      const { result, sent } = await statementsSentOn(async () =>
        processWebhookInbox(contextWith(store), options),
      );
      expect(result._unsafeUnwrap()).toMatchObject({ claimed: 1, processed: 0, retried: 1 });
      // The deferred commit with the result and the debit's ledger posting, in one statement: it
      // failed, and nothing else wrote the round.
      expect(sent.filter((s) => s.startsWith("susu_commit") || s.startsWith("susu_round"))).toEqual([
        "susu_commit_round_ledger+webhook_finish",
      ]);
      expect(await eventRow(event.id)).toMatchObject({ status: "failed", attempts: 1 });
      clock.advance(1_000);
      const second = (await processWebhookInbox(contextWith(store), options))._unsafeUnwrap();
      expect(second).toMatchObject({ claimed: 1, parked: 1 });
    } finally {
      await restore();
    }
    const row = await eventRow(event.id);
    expect(row.status).toBe("parked");
    expect(row.lastError).toContain("storage_unavailable");
    expect(await roundRow(roundId)).toMatchObject({ version: before.version, snapshot: before.snapshot });
    expect(await statusOf(roundId, ben)).not.toBe("succeeded");
    expect(await auditsOf(roundId)).toEqual([]);
    expect(await db.prisma.ledgerTransaction.count({ where: { roundId } })).toBe(0);
  });
});
