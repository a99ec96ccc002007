// The commits the API makes most — creating a group, joining one — are one statement
// (data-modifying CTEs, atomic on their own, no BEGIN/COMMIT). What they store is what the
// full transaction stores; a group that is not as the change expected (changed meanwhile,
// or another snapshot at the same version) stores nothing and the transaction decides.
import { DAY_MS, type UseCaseDeps, useCaseDepsOn, useCases } from "@susu/domain";
import { ManualClock } from "@susu/domain/testing";
import pg from "pg";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createPrismaClient, type PrismaClient } from "../../src/db/prisma-client.js";
import { RandomIds } from "../../src/index.js";
import { PrismaStore } from "../../src/prisma/index.js";
import { memberRows } from "../../src/prisma/projections.js";
import { createTestDatabase, type TestDatabase } from "../support/test-database.js";

const T = Date.UTC(2026, 0, 6);

describe("single-statement commits", () => {
  let db: TestDatabase;
  let otherClient: PrismaClient;
  let a: UseCaseDeps;
  let b: UseCaseDeps;
  let sent: string[] = [];
  const query = pg.Client.prototype.query;

  const depsOf = (store: PrismaStore): UseCaseDeps =>
    useCaseDepsOn(store, { clock: new ManualClock(T), ids: new RandomIds() });
  const newGroup = (creator: string) => ({
    name: "Savers",
    currency: "AUD" as const,
    contributionMinor: 100_00,
    cadence: "weekly" as const,
    payoutOrderMethod: "join_order" as const,
    startsAt: T + DAY_MS,
    creator: { id: creator, displayName: creator },
  });
  const storedMembers = async (groupId: string) =>
    (await db.prisma.member.findMany({ where: { groupId }, orderBy: { joinedAt: "asc" } })).map((m) => ({
      id: m.id,
      display_name: m.displayName,
      role: m.role,
      status: m.status,
      rotation_position: m.rotationPosition,
      joined_at: m.joinedAt.toISOString(),
    }));

  beforeAll(async () => {
    db = await createTestDatabase();
    otherClient = createPrismaClient(db.connectionString, { maxConnections: 4 });
    a = depsOf(new PrismaStore(db.prisma));
    b = depsOf(new PrismaStore(otherClient));
  });
  beforeEach(() => {
    sent = [];
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const first = args[0] as string | { name?: string };
      sent.push(typeof first === "string" ? (first.split(" ")[0] ?? "") : (first.name ?? "?"));
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof query;
  });
  afterEach(() => {
    pg.Client.prototype.query = query;
  });
  afterAll(async () => {
    await otherClient.$disconnect();
    await db.drop();
  });

  it("creates a group and joins it in one statement each, storing what the transaction would", async () => {
    const group = (await useCases.createGroup(a, newGroup("ana")))._unsafeUnwrap();
    expect(sent.filter((s) => s.startsWith("susu_commit") || s === "BEGIN")).toEqual([
      "susu_commit_new_group",
    ]);
    sent = [];
    const joined = (await useCases.joinGroup(a, group.id, { id: "ben", displayName: "Ben" }))._unsafeUnwrap();
    expect(sent.filter((s) => s.startsWith("susu_commit") || s === "BEGIN")).toEqual([
      "susu_commit_changed_group",
    ]);
    expect(await storedMembers(group.id)).toEqual(memberRows(joined));
    expect((await db.prisma.person.findUniqueOrThrow({ where: { id: "ben" } })).displayName).toBe("Ben");
    const audit = await db.prisma.auditLogEntry.findMany({
      where: { aggregateId: group.id },
      orderBy: { id: "asc" },
    });
    expect(audit.map((l) => [l.action, l.actor])).toEqual([
      ["create_group", "ana"],
      ["join_group", "ben"],
    ]);
    expect((await a.groups.getGroup(group.id))._unsafeUnwrap()).toEqual(joined);
  });

  it("a group changed by another process since it was loaded: nothing stored, version_conflict", async () => {
    const group = (await useCases.createGroup(a, newGroup("cy")))._unsafeUnwrap();
    const loaded = (await a.groups.getGroup(group.id))._unsafeUnwrap();
    if (loaded === undefined) throw new Error("not stored");
    (await useCases.joinGroup(b, group.id, { id: "dee", displayName: "Dee" }))._unsafeUnwrap();
    // a commits a join made from the version it loaded.
    const result = await a.uow.commit({
      people: [
        { state: { id: "eve", displayName: "Eve", createdAt: T, version: 0 }, expectedVersion: undefined },
      ],
      groups: [
        {
          state: {
            ...loaded,
            version: loaded.version + 1,
            members: [
              ...loaded.members,
              { ...(loaded.members[0] as (typeof loaded.members)[number]), id: "eve", role: "member" },
            ],
          },
          expectedVersion: loaded.version,
        },
      ],
      rounds: [],
      outbox: [],
      audit: [
        {
          at: T,
          aggregate: "group",
          aggregateId: group.id,
          action: "join_group",
          outcome: "applied",
          actor: "eve",
        },
      ],
    });
    expect(result._unsafeUnwrapErr().code).toBe("version_conflict");
    expect(await db.prisma.person.findUnique({ where: { id: "eve" } })).toBeNull();
    expect((await storedMembers(group.id)).map((m) => m.id)).toEqual(["cy", "dee"]);
    expect(await db.prisma.auditLogEntry.count({ where: { aggregateId: group.id, actor: "eve" } })).toBe(0);
  });

  it("another snapshot stored at the version the change expects: the transaction rewrites the members", async () => {
    const group = (await useCases.createGroup(a, newGroup("fay")))._unsafeUnwrap();
    (await useCases.joinGroup(a, group.id, { id: "gus", displayName: "Gus" }))._unsafeUnwrap();
    const loaded = (await a.groups.getGroup(group.id))._unsafeUnwrap();
    if (loaded === undefined) throw new Error("not stored");
    // The row at that version is now another snapshot, its member rows with it (as a
    // database restored from elsewhere could be).
    await db.prisma.$executeRaw`
      UPDATE groups SET snapshot = jsonb_set(snapshot, '{members,1,displayName}', '"Stale"') WHERE id = ${group.id}`;
    await db.prisma
      .$executeRaw`UPDATE members SET display_name = 'Stale' WHERE group_id = ${group.id} AND id = 'gus'`;
    sent = [];
    const next = {
      ...loaded,
      version: loaded.version + 1,
      members: [...loaded.members, { ...(loaded.members[1] as (typeof loaded.members)[number]), id: "hal" }],
    };
    (
      await a.uow.commit({
        people: [
          { state: { id: "hal", displayName: "Hal", createdAt: T, version: 0 }, expectedVersion: undefined },
        ],
        groups: [{ state: next, expectedVersion: loaded.version }],
        rounds: [],
        outbox: [],
        audit: [],
      })
    )._unsafeUnwrap();
    // The statement found another snapshot and stored nothing; the transaction stored the
    // state whole, its members rewritten from it.
    expect(sent.filter((s) => s.startsWith("susu_commit") || s === "BEGIN")).toEqual([
      "susu_commit_changed_group",
      "BEGIN",
    ]);
    expect(await storedMembers(group.id)).toEqual(memberRows(next));
    expect((await b.groups.getGroup(group.id))._unsafeUnwrap()).toEqual(next);
  });

  it("a new group whose id is taken: version_conflict, and nothing of the changeset is stored", async () => {
    const group = (await useCases.createGroup(a, newGroup("ivy")))._unsafeUnwrap();
    const result = await b.uow.commit({
      people: [
        { state: { id: "jon", displayName: "Jon", createdAt: T, version: 0 }, expectedVersion: undefined },
      ],
      groups: [{ state: { ...group, name: "Copy" }, expectedVersion: undefined }],
      rounds: [],
      outbox: [],
      audit: [],
    });
    expect(result._unsafeUnwrapErr().code).toBe("version_conflict");
    expect(await db.prisma.person.findUnique({ where: { id: "jon" } })).toBeNull();
    expect((await db.prisma.group.findUniqueOrThrow({ where: { id: group.id } })).name).toBe("Savers");
  });
});
