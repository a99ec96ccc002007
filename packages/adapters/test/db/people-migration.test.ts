// The people migration on data written before it: members with their own Stripe ids, the
// same person in several groups with different ones, become one person each; the members'
// Stripe columns are gone; and the groups they belong to still load.
import { cp, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyMigrations } from "../../src/db/migrations.js";
import { databasePaths } from "../../src/db/paths.js";
import { PrismaStore } from "../../src/prisma/index.js";
import { createTestDatabase, type TestDatabase } from "../support/test-database.js";

const PEOPLE_MIGRATION = "20261202055545_people";

interface OldMember {
  readonly group: string;
  readonly id: string;
  readonly name: string;
  readonly joined: string;
  readonly status?: "active" | "left";
  readonly customer?: string;
  readonly pm?: string;
  readonly mandate?: string;
  readonly mandateActive?: boolean;
  readonly account?: string;
  readonly payoutsEnabled?: boolean;
}

// The rows as the code before people wrote them.
const OLD_MEMBERS: readonly OldMember[] = [
  // ana onboarded in both groups; only g2's mandate is active, only g1's account can receive.
  {
    group: "g1",
    id: "ana",
    name: "Ana",
    joined: "2026-01-01",
    customer: "cus_a1",
    pm: "pm_a1",
    mandate: "md_a1",
    mandateActive: false,
    account: "acct_a1",
    payoutsEnabled: true,
  },
  {
    group: "g2",
    id: "ana",
    name: "Ana B",
    joined: "2026-02-01",
    customer: "cus_a2",
    pm: "pm_a2",
    mandate: "md_a2",
    mandateActive: true,
    account: "acct_a2",
    payoutsEnabled: false,
  },
  // ben: a complete set-up in g1, nothing yet in the (more recent) g2: the complete one is kept.
  {
    group: "g1",
    id: "ben",
    name: "Ben",
    joined: "2026-01-01",
    customer: "cus_b1",
    pm: "pm_b1",
    mandate: "md_b1",
    mandateActive: true,
    account: "acct_b1",
    payoutsEnabled: true,
  },
  { group: "g2", id: "ben", name: "Benjamin", joined: "2026-02-01" },
  // cy: two equally good set-ups: the most recent membership wins.
  {
    group: "g1",
    id: "cy",
    name: "Cy",
    joined: "2026-01-01",
    customer: "cus_c1",
    pm: "pm_c1",
    mandate: "md_c1",
    mandateActive: true,
    account: "acct_c1",
    payoutsEnabled: true,
  },
  {
    group: "g2",
    id: "cy",
    name: "Cy",
    joined: "2026-02-01",
    customer: "cus_c2",
    pm: "pm_c2",
    mandate: "md_c2",
    mandateActive: true,
    account: "acct_c2",
    payoutsEnabled: true,
  },
  // dee: only a customer; a payment method without its mandate is no debit.
  {
    group: "g1",
    id: "dee",
    name: "Dee",
    joined: "2026-01-01",
    status: "left",
    customer: "cus_d1",
    pm: "pm_d1",
  },
  // eve: shares ben's connected account (never made by susu): ben keeps it, eve loses it.
  { group: "g2", id: "eve", name: "Eve", joined: "2026-02-01", account: "acct_b1", payoutsEnabled: true },
];

async function withClient<T>(connectionString: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** A group as the code before people stored it: members' Stripe ids and readiness in the snapshot. */
function oldGroupSnapshot(id: string, members: readonly OldMember[]) {
  return {
    id,
    name: `Group ${id}`,
    currency: "AUD",
    contributionMinor: 100_00,
    cadence: "weekly",
    startsAt: Date.parse("2026-03-01"),
    rotationsPlanned: 1,
    status: "forming",
    members: members.map((m, i) => ({
      id: m.id,
      displayName: m.name,
      role: i === 0 ? "admin" : "member",
      status: m.status ?? "active",
      joinedAt: Date.parse(m.joined),
      readiness: { mandateActive: m.mandateActive ?? false, payoutsEnabled: m.payoutsEnabled ?? false },
      payment: {
        ...(m.customer !== undefined ? { customerId: m.customer } : {}),
        ...(m.pm !== undefined ? { paymentMethodId: m.pm } : {}),
        ...(m.mandate !== undefined ? { mandateId: m.mandate } : {}),
        ...(m.account !== undefined ? { connectedAccountId: m.account } : {}),
      },
    })),
    payoutOrder: {
      method: "join_order",
      memberIds: members.filter((m) => m.status !== "left").map((m) => m.id),
    },
    rotation: { number: 1, receivedMemberIds: [], roundSequence: 0 },
    pendingSwaps: [],
    policy: {
      collectionWindowMs: 864_000_000,
      settlementGraceMs: 259_200_000,
      payoutDelayMs: 0,
      debitRetry: {
        baseDelayMs: 86_400_000,
        factor: 2,
        maxDelayMs: 259_200_000,
        jitter: "equal",
        attemptsMax: 4,
      },
      payoutRetry: {
        baseDelayMs: 3_600_000,
        factor: 2,
        maxDelayMs: 43_200_000,
        jitter: "equal",
        attemptsMax: 5,
      },
    },
    createdAt: Date.parse("2026-01-01"),
    version: 0,
  };
}

describe("the people migration", () => {
  let database: TestDatabase;
  let scratch: string;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), "susu-people-migration-"));
    database = await createTestDatabase({ migrated: false });
    // Every migration before the people one, as a database deployed before it has them.
    const before = join(scratch, "before");
    await cp(databasePaths.migrationsDir, before, { recursive: true });
    const folders = (await readdir(before, { withFileTypes: true }))
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    expect(folders).toContain(PEOPLE_MIGRATION);
    for (const folder of folders.filter((f) => f >= PEOPLE_MIGRATION))
      await rm(join(before, folder), { recursive: true });
    await applyMigrations(database.connectionString, { migrationsDir: before });

    await withClient(database.connectionString, async (client) => {
      for (const group of ["g1", "g2"]) {
        const members = OLD_MEMBERS.filter((m) => m.group === group);
        await client.query(
          `INSERT INTO groups (id, name, currency, contribution_amount_minor, cadence, starts_at, payout_order_method,
                               status, rotation_number, rotations_planned, next_round_at, snapshot, version,
                               created_at, updated_at)
           VALUES ($1, $2, 'AUD', 10000, 'weekly', '2026-03-01', 'join_order', 'forming', 1, 1, '2026-03-01',
                   $3, 0, now(), now())`,
          [group, `Group ${group}`, JSON.stringify(oldGroupSnapshot(group, members))],
        );
        let position = 0;
        for (const m of members)
          await client.query(
            `INSERT INTO members (group_id, id, display_name, role, status, rotation_position, joined_at,
                                  stripe_customer_id, becs_payment_method_id, mandate_id, mandate_active,
                                  connected_account_id, payouts_enabled)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
            [
              group,
              m.id,
              m.name,
              position === 0 ? "admin" : "member",
              m.status ?? "active",
              m.status === "left" ? null : position++,
              m.joined,
              m.customer ?? null,
              m.pm ?? null,
              m.mandate ?? null,
              m.mandateActive ?? false,
              m.account ?? null,
              m.payoutsEnabled ?? false,
            ],
          );
      }
    });
    // The release with people: every migration, the people one among them.
    await applyMigrations(database.connectionString);
  });
  afterAll(async () => {
    await database?.drop();
    await rm(scratch, { recursive: true, force: true });
  });

  it("makes one person per member id, keeping one debit and one payout account each, deterministically", async () => {
    const people = await database.prisma.person.findMany({ orderBy: { id: "asc" } });
    expect(
      people.map((p) => [
        p.id,
        p.displayName,
        p.stripeCustomerId,
        p.becsPaymentMethodId,
        p.mandateId,
        p.mandateActive,
        p.connectedAccountId,
        p.payoutsEnabled,
        p.version,
        p.createdAt.toISOString().slice(0, 10),
      ]),
    ).toEqual([
      // The active mandate (g2's) and the account that can receive (g1's); the latest name.
      ["ana", "Ana B", "cus_a2", "pm_a2", "md_a2", true, "acct_a1", true, 0, "2026-01-01"],
      ["ben", "Benjamin", "cus_b1", "pm_b1", "md_b1", true, "acct_b1", true, 0, "2026-01-01"],
      ["cy", "Cy", "cus_c2", "pm_c2", "md_c2", true, "acct_c2", true, 0, "2026-01-01"],
      ["dee", "Dee", "cus_d1", null, null, false, null, false, 0, "2026-01-01"],
      ["eve", "Eve", null, null, null, false, null, false, 0, "2026-02-01"],
    ]);
  });

  it("drops the members' Stripe columns; every member references their person", async () => {
    const columns = await withClient(database.connectionString, (client) =>
      client.query<{ column_name: string }>(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'members' ORDER BY column_name",
      ),
    );
    expect(columns.rows.map((r) => r.column_name)).toEqual([
      "display_name",
      "group_id",
      "id",
      "joined_at",
      "role",
      "rotation_position",
      "status",
    ]);
    const members = await database.prisma.member.findMany({ include: { person: true } });
    expect(members).toHaveLength(OLD_MEMBERS.length);
    expect(members.every((m) => m.person.id === m.id)).toBe(true);
  });

  it("the groups written before still load (their members' old Stripe fields ignored); people load whole", async () => {
    const store = new PrismaStore(database.prisma);
    const g2 = (await store.getGroup("g2"))._unsafeUnwrap();
    expect(g2?.members.map((m) => Object.keys(m).sort())).toEqual(
      Array(4).fill(["displayName", "id", "joinedAt", "role", "status"]),
    );
    expect((await store.findByConnectedAccount("acct_a1"))._unsafeUnwrap()).toEqual({
      id: "ana",
      displayName: "Ana B",
      customerId: "cus_a2",
      debit: { paymentMethodId: "pm_a2", mandateId: "md_a2", mandateActive: true },
      payout: { connectedAccountId: "acct_a1", payoutsEnabled: true },
      createdAt: Date.parse("2026-01-01"),
      version: 0,
    });
    // The Stripe ids not kept belong to nobody now: their events are ignored.
    expect((await store.findByMandate("md_a1"))._unsafeUnwrap()).toBeUndefined();
    expect((await store.listGroupsOfPerson("dee"))._unsafeUnwrap()).toEqual([]);
    expect((await store.listGroupsOfPerson("ana"))._unsafeUnwrap().map((g) => g.id)).toEqual(["g1", "g2"]);
  });
});
