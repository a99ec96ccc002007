// What PostgreSQL adds to the storage contract for marketplace charges: projection columns
// and seller rows kept in step with the snapshot, constraints that refuse impossible rows,
// snapshots validated on save and on load, and every page served by an index.
import {
  type Changeset,
  type CreateMarketplaceCharge,
  createMarketplaceCharge,
  DEFAULT_MARKETPLACE_POLICY,
  decideMarketplaceCharge,
  type Instant,
  type MarketplaceCharge,
  type MarketplaceChargeInput,
} from "@susu/domain";
import { aReadyPerson } from "@susu/domain/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sqlStateOf } from "../../src/db/sql-state.js";
import { PrismaStore } from "../../src/prisma/index.js";
import { marketplaceChargesPage } from "../../src/prisma/prisma-store.js";
import { createTestDatabase, type TestDatabase } from "../support/test-database.js";

const T = Date.UTC(2026, 0, 6);
const HOUR = 3_600_000;
const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };
const policy = DEFAULT_MARKETPLACE_POLICY;

const coHosts: CreateMarketplaceCharge["sellers"] = [
  { id: "sel", connectedAccountId: "acct_sel", weight: 2 },
  { id: "sel_2", connectedAccountId: "acct_sel_2", weight: 1 },
  { id: "sel_3", connectedAccountId: "acct_sel_3", weight: 1 },
];

function created(over: Partial<CreateMarketplaceCharge> = {}): MarketplaceCharge {
  return createMarketplaceCharge(
    {
      id: "mc_1",
      clientReference: "rsvp_1",
      requestedBy: "app_1",
      activityId: "act_1",
      purpose: "rsvp",
      description: "Pottery class",
      amountMinor: 10_001,
      currency: "AUD",
      customer: { id: "cus", stripeCustomerId: "cus_stripe", email: "cy@example.com" },
      paymentMethod: { kind: "saved_card", paymentMethodId: "pm_1" },
      fee: { kind: "rate", basisPoints: 1_000 },
      sellers: coHosts,
      ...over,
    },
    { now: T, policy },
  )._unsafeUnwrap().state;
}

function apply(
  charge: MarketplaceCharge,
  now: Instant,
  ...inputs: MarketplaceChargeInput[]
): MarketplaceCharge {
  return inputs.reduce((c, input) => {
    const decided = decideMarketplaceCharge(c, input, { now, policy })._unsafeUnwrap();
    expect(decided.ignored, input.type).toBeUndefined();
    return decided.state;
  }, charge);
}

describe("PostgreSQL storage of marketplace charges beyond the contract", () => {
  let db: TestDatabase;
  let store: PrismaStore;

  /** The SQLSTATE and constraint name of a refused statement (node-postgres reports both). */
  async function violation(statement: string): Promise<[string, string]> {
    const client = new pg.Client({ connectionString: db.connectionString });
    await client.connect();
    try {
      await client.query(statement);
      return expect.fail("the database accepted an impossible row");
    } catch (error) {
      const { code, constraint } = error as { code: string; constraint?: string };
      return [code, constraint ?? ""];
    } finally {
      await client.end();
    }
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    store = new PrismaStore(db.prisma, { clock: { now: () => T + 999 } });
    const people = ["cus", "sel", "sel_2", "sel_3"].map((id) => ({
      state: aReadyPerson(id),
      expectedVersion: undefined,
    }));
    (await store.commit({ ...empty, people }))._unsafeUnwrap();
  });
  afterAll(async () => {
    await db.drop();
  });

  it("keeps the projection columns and the seller rows in step with the snapshot", async () => {
    const charge = created();
    (
      await store.commit({ ...empty, marketplaceCharges: [{ state: charge, expectedVersion: undefined }] })
    )._unsafeUnwrap();
    const sellerRows = () =>
      db.prisma.marketplaceChargeSeller.findMany({
        where: { chargeId: "mc_1" },
        orderBy: { position: "asc" },
      });
    const written = await sellerRows();
    expect(written.map((r) => [r.sellerPersonId, r.position, r.connectedAccountId, r.weight])).toEqual([
      ["sel", 0, "acct_sel", 2],
      ["sel_2", 1, "acct_sel_2", 1],
      ["sel_3", 2, "acct_sel_3", 1],
    ]);
    // Each seller's share and fee part as the domain split them; together, the whole amount.
    expect(written.map((r) => [r.shareMinor, r.feeMinor])).toEqual(
      charge.sellers.map((s) => [BigInt(s.shareMinor), BigInt(s.feeMinor)]),
    );
    expect(written.reduce((sum, r) => sum + r.shareMinor + r.feeMinor, 0n)).toBe(10_001n);
    expect(written.every((r) => r.createdAt.getTime() === T)).toBe(true);
    const paid = apply(charge, T + HOUR, {
      type: "payment_succeeded",
      paymentIntentId: "pi_1",
      chargeId: "ch_1",
    });
    const decided = decideMarketplaceCharge(
      charge,
      { type: "payment_succeeded", paymentIntentId: "pi_1", chargeId: "ch_1" },
      {
        now: T + HOUR,
        policy,
      },
    )._unsafeUnwrap();
    const postings = decided.effects.filter((e) => e.kind === "post_ledger");
    expect(postings.length).toBeGreaterThan(0);
    (
      await store.commit({
        ...empty,
        marketplaceCharges: [{ state: paid, expectedVersion: 0 }],
        outbox: postings,
      })
    )._unsafeUnwrap();
    // Its postings are filed under the charge (they name it in their refs).
    const filed = await db.prisma.outboxEffect.findMany({
      where: { id: { in: postings.map((e) => e.id) } },
      select: { aggregateType: true, aggregateId: true },
    });
    expect(filed).toEqual(postings.map(() => ({ aggregateType: "marketplace_charge", aggregateId: "mc_1" })));
    const row = await db.prisma.marketplaceCharge.findUniqueOrThrow({ where: { id: "mc_1" } });
    expect(row).toMatchObject({
      requestedBy: "app_1",
      clientReference: "rsvp_1",
      activityId: "act_1",
      purpose: "rsvp",
      mode: "split",
      status: "paying_sellers",
      currency: "AUD",
      amountMinor: 10_001n,
      feeMinor: 1_000n,
      onBehalfOf: false,
      customerPersonId: "cus",
      stripeCustomerId: "cus_stripe",
      customerEmail: "cy@example.com",
      paymentIntentId: "pi_1",
      chargeId: "ch_1",
      transferGroup: "marketplace_mc_1",
      endedAt: null,
      version: 1,
      // The domain's own creation time, not the commit's: pages are ordered by it.
      createdAt: new Date(T),
      updatedAt: new Date(T + 999),
    });
    expect(row.snapshot).toEqual({ ...paid, version: 1 });
    // The sellers are fixed when the charge is made: a change leaves their rows as they were.
    expect(await sellerRows()).toEqual(written);
    const failed = apply(created({ id: "mc_f", clientReference: "rsvp_f" }), T + HOUR, {
      type: "payment_failed",
      paymentIntentId: "pi_f",
      failureCode: "card_declined",
    });
    (
      await store.commit({ ...empty, marketplaceCharges: [{ state: failed, expectedVersion: undefined }] })
    )._unsafeUnwrap();
    expect(await db.prisma.marketplaceCharge.findUniqueOrThrow({ where: { id: "mc_f" } })).toMatchObject({
      status: "payment_failed",
      endedAt: new Date(T + HOUR),
    });
  });

  it("refuses rows whose snapshot is another aggregate's, version's or status's, and impossible amounts, sellers or ends", async () => {
    const charge = created({ id: "mc_rules", clientReference: "r_rules" });
    (
      await store.commit({ ...empty, marketplaceCharges: [{ state: charge, expectedVersion: undefined }] })
    )._unsafeUnwrap();
    const refused = (data: Parameters<typeof db.prisma.marketplaceCharge.update>[0]["data"]) =>
      db.prisma.marketplaceCharge.update({ where: { id: "mc_rules" }, data }).then(
        () => expect.fail("the database accepted an impossible row"),
        (error: unknown) => sqlStateOf(error),
      );
    expect(await refused({ version: 1 })).toBe("23514");
    expect(await refused({ clientReference: "r_other" })).toBe("23514");
    expect(await refused({ requestedBy: "app_other" })).toBe("23514");
    expect(await refused({ status: "settled" })).toBe("23514");
    expect(await refused({ feeMinor: 10_001n })).toBe("23514");
    expect(await refused({ feeMinor: -1n })).toBe("23514");
    expect(await refused({ amountMinor: 0n })).toBe("23514");
    expect(await refused({ currency: "aud" })).toBe("23514");
    expect(await refused({ purpose: "gift" })).toBe("23514");
    // on_behalf_of names one merchant of record: never on a split.
    expect(await refused({ onBehalfOf: true })).toBe("23514");
    expect(await refused({ customerPersonId: "nobody" })).toBe("23503");
    // A refunded or charged-back charge has ended (the snapshot agrees, so only the end is wrong).
    expect(
      await violation(
        `UPDATE marketplace_charges SET status = 'refunded', snapshot = jsonb_set(snapshot, '{status}', '"refunded"')
          WHERE id = 'mc_rules'`,
      ),
    ).toEqual(["23514", "marketplace_charges_ended_check"]);
    const seller = (data: Parameters<typeof db.prisma.marketplaceChargeSeller.update>[0]["data"]) =>
      db.prisma.marketplaceChargeSeller
        .update({ where: { chargeId_sellerPersonId: { chargeId: "mc_rules", sellerPersonId: "sel" } }, data })
        .then(
          () => expect.fail("the database accepted an impossible seller row"),
          (error: unknown) => sqlStateOf(error),
        );
    expect(await seller({ shareMinor: 0n })).toBe("23514");
    expect(await seller({ feeMinor: -1n })).toBe("23514");
    expect(await seller({ weight: 0 })).toBe("23514");
    expect(await seller({ position: -1 })).toBe("23514");
    // Two sellers in one place, a seller who is no person, a charge that does not exist.
    expect(await seller({ position: 1 })).toBe("23505");
    expect(
      await violation(
        "UPDATE marketplace_charge_sellers SET seller_person_id = 'nobody' WHERE charge_id = 'mc_rules' AND position = 0",
      ),
    ).toEqual(["23503", "marketplace_charge_sellers_seller_person_id_fkey"]);
    const orphan = await db.prisma.marketplaceChargeSeller
      .create({
        data: {
          chargeId: "mc_nowhere",
          sellerPersonId: "sel",
          position: 0,
          connectedAccountId: "acct_sel",
          weight: 1,
          shareMinor: 1n,
          feeMinor: 0n,
          createdAt: new Date(T),
        },
      })
      .then(
        () => expect.fail("the database accepted a seller of no charge"),
        (error: unknown) => sqlStateOf(error),
      );
    expect(orphan).toBe("23503");
  });

  it("refuses to store a state its loader would refuse (storage_refused), storing nothing", async () => {
    const malformed = { ...created({ id: "mc_nan", clientReference: "r_nan" }), amountMinor: 0.5 };
    const refused = await store.commit({
      ...empty,
      marketplaceCharges: [{ state: malformed, expectedVersion: undefined }],
    });
    expect(refused._unsafeUnwrapErr()).toMatchObject({ type: "storage_refused" });
    expect((await store.getMarketplaceCharge("mc_nan"))._unsafeUnwrap()).toBeUndefined();
    expect(await db.prisma.marketplaceChargeSeller.count({ where: { chargeId: "mc_nan" } })).toBe(0);
  });

  it("keeps a seller's late transfer that could not be booked, and the attempt written off for another that landed", async () => {
    // sel's attempt 1 of unknown outcome, looked up and not found (written off), attempt 2 asked;
    // attempt 1 lands late (booked, attempt 2 written off); attempt 2 lands too (not booked).
    const charge = apply(
      created({ id: "mc_late", clientReference: "r_late" }),
      T + HOUR,
      { type: "payment_succeeded", paymentIntentId: "pi_late", chargeId: "ch_late" },
      { type: "transfer_failed", sellerId: "sel", attempt: 1, failureCode: "api_error" },
      { type: "retry_transfers", by: "admin" },
      { type: "transfer_not_found", sellerId: "sel", attempt: 1 },
      { type: "transfer_created", sellerId: "sel", attempt: 1, transferId: "tr_1" },
      { type: "transfer_created", sellerId: "sel", attempt: 2, transferId: "tr_2" },
    );
    expect(
      charge.transfers.filter((t) => t.sellerId === "sel").map((t) => [t.status, t.failureCode, t.unbooked]),
    ).toEqual([
      ["created", "api_error", undefined],
      ["created", "another_attempt_landed", true],
    ]);
    (
      await store.commit({ ...empty, marketplaceCharges: [{ state: charge, expectedVersion: undefined }] })
    )._unsafeUnwrap();
    expect((await store.getMarketplaceCharge("mc_late"))._unsafeUnwrap()).toEqual(charge);
  });

  it("reports a stored snapshot that does not parse as storage_refused, naming no contents", async () => {
    const charge = created({ id: "mc_bad", clientReference: "r_bad" });
    (
      await store.commit({ ...empty, marketplaceCharges: [{ state: charge, expectedVersion: undefined }] })
    )._unsafeUnwrap();
    await db.prisma.$executeRaw`
      UPDATE marketplace_charges SET snapshot = snapshot - 'fee' WHERE id = 'mc_bad'`;
    const loaded = await store.getMarketplaceCharge("mc_bad");
    expect(loaded._unsafeUnwrapErr()).toMatchObject({ type: "storage_refused" });
    expect(loaded._unsafeUnwrapErr().message).toContain("fee");
    expect(loaded._unsafeUnwrapErr().message).not.toContain("cy@example.com");
    expect((await store.listMarketplaceCharges({ limit: 100 }))._unsafeUnwrapErr().type).toBe(
      "storage_refused",
    );
    expect((await store.findMarketplaceChargeByReference("app_1", "r_bad"))._unsafeUnwrapErr().type).toBe(
      "storage_refused",
    );
    await db.prisma.$executeRaw`DELETE FROM marketplace_charge_sellers WHERE charge_id = 'mc_bad'`;
    await db.prisma.$executeRaw`DELETE FROM marketplace_charges WHERE id = 'mc_bad'`;
  });

  it("serves every page from an index: a seller's from the sellers' table", async () => {
    const plan = (query: Parameters<typeof marketplaceChargesPage>[0]) =>
      db.prisma.$transaction(async (tx) => {
        const { text, values } = marketplaceChargesPage(query);
        // With a handful of rows a sequential scan is cheapest; forbid it to see whether an
        // index can serve the query at all.
        await tx.$executeRaw`SET LOCAL enable_seqscan = off`;
        const lines = await tx.$queryRawUnsafe<{ "QUERY PLAN": string }[]>(`EXPLAIN ${text}`, ...values);
        return lines.map((line) => line["QUERY PLAN"]).join("\n");
      });
    expect(await plan({ limit: 10 })).toContain("marketplace_charges_created_at_id_idx");
    expect(await plan({ limit: 10, startingAfter: "mc_1" })).toContain(
      "marketplace_charges_created_at_id_idx",
    );
    expect(await plan({ sellerId: "sel", limit: 10 })).toContain("marketplace_charge_sellers_of_seller_idx");
    expect(await plan({ sellerId: "sel", status: "settled", limit: 10, startingAfter: "mc_1" })).toContain(
      "marketplace_charge_sellers_of_seller_idx",
    );
    expect(await plan({ customerId: "cus", limit: 10 })).toContain(
      "marketplace_charges_customer_person_id_created_at_id_idx",
    );
    expect(await plan({ requestedBy: "app_1", limit: 10 })).toContain(
      "marketplace_charges_requested_by_created_at_id_idx",
    );
    expect(await plan({ status: "settled", limit: 10 })).toContain(
      "marketplace_charges_status_created_at_id_idx",
    );
  });
});
