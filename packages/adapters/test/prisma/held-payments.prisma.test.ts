// What PostgreSQL adds to the storage contract for held payments: projection columns kept
// in step with the snapshot, constraints that refuse impossible rows, snapshots validated
// on load, and the seller's and the pages' queries served by their indexes.
import {
  type AuditEntry,
  type Changeset,
  type CreateHeldPayment,
  createHeldPayment,
  DEFAULT_HELD_PAYMENT_POLICY,
  decideHeldPayment,
  type HeldPayment,
  type HeldPaymentInput,
  type Instant,
  type OutboxEffect,
} from "@susu/domain";
import { aReadyPerson } from "@susu/domain/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sqlStateOf } from "../../src/db/sql-state.js";
import { PrismaStore } from "../../src/prisma/index.js";
import { heldPaymentsPage, OPEN_HELD_PAYMENTS_OF_SELLER_SQL } from "../../src/prisma/prisma-store.js";
import { createTestDatabase, type TestDatabase } from "../support/test-database.js";

const T = Date.UTC(2026, 0, 6);
const HOUR = 3_600_000;
const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };
const policy = DEFAULT_HELD_PAYMENT_POLICY;

function created(over: Partial<CreateHeldPayment> = {}): HeldPayment {
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
      ...over,
    },
    { now: T, policy },
  )._unsafeUnwrap().state;
}

/** The statements `work` sends on any connection (by prepared name, or a simple query's first word). */
async function clientStatementsDuring<T>(work: () => Promise<T>): Promise<{ result: T; sent: string[] }> {
  const query = pg.Client.prototype.query;
  const sent: string[] = [];
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const first = args[0] as string | { name?: string };
    sent.push(typeof first === "string" ? (first.split(" ")[0] ?? "") : (first.name ?? "?"));
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
  try {
    return { result: await work(), sent };
  } finally {
    pg.Client.prototype.query = query;
  }
}

function apply(payment: HeldPayment, now: Instant, ...inputs: HeldPaymentInput[]): HeldPayment {
  return inputs.reduce(
    (p, input) => decideHeldPayment(p, input, { now, policy })._unsafeUnwrap().state,
    payment,
  );
}

describe("PostgreSQL storage of held payments beyond the contract", () => {
  let db: TestDatabase;
  let store: PrismaStore;

  beforeAll(async () => {
    db = await createTestDatabase();
    store = new PrismaStore(db.prisma, { clock: { now: () => T + 999 } });
    (
      await store.commit({ ...empty, people: [{ state: aReadyPerson("sel"), expectedVersion: undefined }] })
    )._unsafeUnwrap();
  });
  afterAll(async () => {
    await db.drop();
  });

  it("keeps the projection columns in step with the snapshot", async () => {
    const payment = created();
    (
      await store.commit({ ...empty, heldPayments: [{ state: payment, expectedVersion: undefined }] })
    )._unsafeUnwrap();
    const paid = apply(
      payment,
      T + HOUR,
      { type: "checkout_session_created", sessionId: "cs_1", url: "https://checkout.example/cs_1" },
      {
        type: "checkout_completed",
        sessionId: "cs_1",
        paymentIntentId: "pi_1",
        paymentStatus: "succeeded",
        chargeId: "ch_1",
      },
      { type: "confirm_fulfilled" },
    );
    (await store.commit({ ...empty, heldPayments: [{ state: paid, expectedVersion: 0 }] }))._unsafeUnwrap();
    const row = await db.prisma.heldPayment.findUniqueOrThrow({ where: { id: "hp_1" } });
    expect(row).toMatchObject({
      requestedBy: "app_1",
      clientReference: "booking_1",
      sellerPersonId: "sel",
      sellerAccountId: "acct_sel",
      status: "held",
      currency: "AUD",
      amountMinor: 10_000n,
      feeMinor: 1_000n,
      customerEmail: "cy@example.com",
      checkoutSessionId: "cs_1",
      paymentIntentId: "pi_1",
      chargeId: "ch_1",
      transferGroup: "held_hp_1",
      releaseDueAt: new Date(T + HOUR + policy.disputeWindowMs),
      endedAt: null,
      version: 1,
      // The domain's own creation time, not the commit's: pages are ordered by it.
      createdAt: new Date(T),
      updatedAt: new Date(T + 999),
    });
    expect(row.snapshot).toEqual({ ...paid, version: 1 });
    const ended = apply(
      { ...paid, version: 1 },
      T + 2 * HOUR,
      { type: "refund", by: "admin_1" },
      { type: "refund_succeeded", refund: 1, attempt: 1, refundId: "re_1" },
    );
    (await store.commit({ ...empty, heldPayments: [{ state: ended, expectedVersion: 1 }] }))._unsafeUnwrap();
    expect(await db.prisma.heldPayment.findUniqueOrThrow({ where: { id: "hp_1" } })).toMatchObject({
      status: "refunded",
      endedAt: new Date(T + 2 * HOUR),
      version: 2,
    });
  });

  it("refuses rows whose snapshot is another aggregate's or another version's, and impossible amounts or ends", async () => {
    const payment = created({ id: "hp_rules", clientReference: "b_rules" });
    (
      await store.commit({ ...empty, heldPayments: [{ state: payment, expectedVersion: undefined }] })
    )._unsafeUnwrap();
    const refused = (data: Parameters<typeof db.prisma.heldPayment.update>[0]["data"]) =>
      db.prisma.heldPayment.update({ where: { id: "hp_rules" }, data }).then(
        () => expect.fail("the database accepted an impossible row"),
        (error: unknown) => sqlStateOf(error),
      );
    expect(await refused({ version: 1 })).toBe("23514");
    expect(await refused({ clientReference: "b_other" })).toBe("23514");
    expect(await refused({ feeMinor: 10_000n })).toBe("23514");
    expect(await refused({ amountMinor: 0n })).toBe("23514");
    expect(await refused({ currency: "aud" })).toBe("23514");
    expect(await refused({ status: "refunded" })).toBe("23514");
    expect(await refused({ sellerPersonId: "nobody" })).toBe("23503");
  });

  it("writes a change of a stored payment, its effects, audit lines and completion in one statement; a stale one writes nothing", async () => {
    const payment = created({ id: "hp_one", clientReference: "b_one" });
    const timer = (id: string): OutboxEffect => ({
      kind: "schedule_timer",
      id,
      aggregate: "held_payment",
      aggregateId: payment.id,
      at: T,
      timer: { kind: "release_due" },
    });
    const audit = (action: string): AuditEntry => ({
      at: T,
      aggregate: "held_payment",
      aggregateId: payment.id,
      action,
      outcome: "applied",
      actor: "test",
    });
    (
      await store.commit({
        ...empty,
        heldPayments: [{ state: payment, expectedVersion: undefined }],
        outbox: [timer("hp_one:claimed")],
      })
    )._unsafeUnwrap();
    expect((await store.claimDue("w1", T + 1, 60_000, 10))._unsafeUnwrap().map((r) => r.effect.id)).toEqual([
      "hp_one:claimed",
    ]);
    const opened = apply(payment, T + HOUR, {
      type: "checkout_session_created",
      sessionId: "cs_one",
      url: "https://checkout.example/cs_one",
    });
    const change: Changeset = {
      ...empty,
      heldPayments: [{ state: opened, expectedVersion: 0 }],
      outbox: [timer("hp_one:next")],
      audit: [audit("checkout_session_created")],
      outboxDone: { effectId: "hp_one:claimed", workerId: "w1", at: T + 2 },
    };
    const { result, sent } = await clientStatementsDuring(async () => await store.commit(change));
    result._unsafeUnwrap();
    // One statement, no BEGIN and COMMIT.
    expect(sent).toEqual(["susu_commit_held_payment"]);
    expect((await store.getHeldPayment(payment.id))._unsafeUnwrap()).toMatchObject({
      version: 1,
      checkoutSessionId: "cs_one",
    });
    const effects = async () =>
      (
        await db.prisma.outboxEffect.findMany({ where: { aggregateId: payment.id }, orderBy: { id: "asc" } })
      ).map((e) => [e.id, e.status]);
    const audits = async () =>
      (
        await db.prisma.auditLogEntry.findMany({ where: { aggregateId: payment.id }, orderBy: { id: "asc" } })
      ).map((a) => a.action);
    expect(await effects()).toEqual([
      ["hp_one:claimed", "done"],
      ["hp_one:next", "pending"],
    ]);
    expect(await audits()).toEqual(["checkout_session_created"]);

    // The same change again: the payment is at version 1 now. Nothing of it is written.
    const stale = await store.commit({
      ...change,
      outbox: [timer("hp_one:stale")],
      audit: [audit("stale")],
    });
    expect(stale._unsafeUnwrapErr()).toMatchObject({ type: "version_conflict" });
    expect(await effects()).toEqual([
      ["hp_one:claimed", "done"],
      ["hp_one:next", "pending"],
    ]);
    expect(await audits()).toEqual(["checkout_session_created"]);

    // Left open for a webhook's result (openCommit): the same statement after the BEGIN, then
    // the caller's statement and COMMIT.
    const { outboxDone: _, ...noCompletion } = change;
    const again: Changeset = {
      ...noCompletion,
      heldPayments: [{ state: { ...opened, version: 1 }, expectedVersion: 1 }],
      outbox: [],
      audit: [audit("again")],
    };
    const opening = await clientStatementsDuring(async () => await store.openCommit(again));
    const open = opening.result._unsafeUnwrap();
    if (open === undefined) throw new Error("no transaction left open");
    expect(opening.sent).toEqual(["BEGIN", "susu_commit_held_payment"]);
    await open.commit();
    expect((await store.getHeldPayment(payment.id))._unsafeUnwrap()?.version).toBe(2);
    expect(await audits()).toEqual(["checkout_session_created", "again"]);
    const staleOpen = await store.openCommit({ ...again, audit: [audit("stale")] });
    expect(staleOpen._unsafeUnwrapErr()).toMatchObject({ type: "version_conflict" });
    expect(await audits()).toEqual(["checkout_session_created", "again"]);
  });

  it("refuses to store a state its loader would refuse (storage_refused), storing nothing", async () => {
    const malformed = { ...created({ id: "hp_nan", clientReference: "b_nan" }), transferFailures: 0.5 };
    const refused = await store.commit({
      ...empty,
      heldPayments: [{ state: malformed, expectedVersion: undefined }],
    });
    expect(refused._unsafeUnwrapErr()).toMatchObject({ type: "storage_refused" });
    expect((await store.getHeldPayment("hp_nan"))._unsafeUnwrap()).toBeUndefined();
  });

  it("reports a stored snapshot that does not parse as storage_refused, naming no contents", async () => {
    const payment = created({ id: "hp_bad", clientReference: "b_bad" });
    (
      await store.commit({ ...empty, heldPayments: [{ state: payment, expectedVersion: undefined }] })
    )._unsafeUnwrap();
    await db.prisma.$executeRaw`
      UPDATE held_payments SET snapshot = snapshot - 'fee' WHERE id = 'hp_bad'`;
    const loaded = await store.getHeldPayment("hp_bad");
    expect(loaded._unsafeUnwrapErr()).toMatchObject({ type: "storage_refused" });
    expect(loaded._unsafeUnwrapErr().message).toContain("fee");
    expect((await store.listHeldPayments({ limit: 100 }))._unsafeUnwrapErr().type).toBe("storage_refused");
    await db.prisma.$executeRaw`DELETE FROM held_payments WHERE id = 'hp_bad'`;
  });

  it("serves a seller's open payments and every page from an index", async () => {
    const plan = (text: string, values: readonly unknown[]) =>
      db.prisma.$transaction(async (tx) => {
        // With a handful of rows a sequential scan is cheapest; forbid it to see whether an
        // index can serve the query at all.
        await tx.$executeRaw`SET LOCAL enable_seqscan = off`;
        const lines = await tx.$queryRawUnsafe<{ "QUERY PLAN": string }[]>(`EXPLAIN ${text}`, ...values);
        return lines.map((line) => line["QUERY PLAN"]).join("\n");
      });
    expect(await plan(OPEN_HELD_PAYMENTS_OF_SELLER_SQL, ["sel", 10])).toContain(
      "held_payments_open_of_seller_idx",
    );
    const page = (query: Parameters<typeof heldPaymentsPage>[0]) => {
      const { text, values } = heldPaymentsPage(query);
      return plan(text, values);
    };
    expect(await page({ limit: 10 })).toContain("held_payments_created_at_id_idx");
    expect(await page({ limit: 10, startingAfter: "hp_1" })).toContain("held_payments_created_at_id_idx");
    expect(await page({ sellerId: "sel", limit: 10 })).toContain(
      "held_payments_seller_person_id_created_at_id_idx",
    );
    expect(await page({ requestedBy: "app_1", limit: 10 })).toContain(
      "held_payments_requested_by_created_at_id_idx",
    );
    expect(await page({ status: "held", limit: 10 })).toContain("held_payments_status_created_at_id_idx");
  });
});
