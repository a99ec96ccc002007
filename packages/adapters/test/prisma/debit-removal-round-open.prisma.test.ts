// A member removing the BECS account rounds debit, and a round of their group opening, on
// PostgreSQL as two processes (two Prisma clients with their own pools): the removal goes
// with no replacement only while no round relies on it, and the round opens only while
// everyone is ready. Both read before they commit, so whichever commits second must fail
// its version check: never a round opened on a method removed with no replacement.
import {
  type Changeset,
  DAY_MS,
  HOUR_MS,
  type SavedPaymentMethod,
  type UseCaseDeps,
  useCaseDepsOn,
  useCases,
} from "@susu/domain";
import { anActiveGroup, aReadyPerson, ManualClock, SequentialIds } from "@susu/domain/testing";
import { ResultAsync } from "neverthrow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrismaClient, type PrismaClient } from "../../src/db/prisma-client.js";
import { PrismaStore } from "../../src/prisma/index.js";
import { createTestDatabase, type TestDatabase } from "../support/test-database.js";

const STARTS_AT = Date.UTC(2026, 2, 2);
const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };

describe("removing the debit while a round opens, on PostgreSQL", () => {
  let db: TestDatabase;
  let otherClient: PrismaClient;
  let a: PrismaStore;
  let b: PrismaStore;
  const clock = new ManualClock(STARTS_AT + HOUR_MS);
  let depsA: UseCaseDeps;
  let depsB: UseCaseDeps;
  let n = 0;

  beforeAll(async () => {
    db = await createTestDatabase();
    otherClient = createPrismaClient(db.connectionString, { maxConnections: 4 });
    a = new PrismaStore(db.prisma, { clock });
    b = new PrismaStore(otherClient, { clock });
    depsA = useCaseDepsOn(a, { clock, ids: new SequentialIds() });
    depsB = useCaseDepsOn(b, { clock, ids: new SequentialIds() });
  });
  afterAll(async () => {
    await otherClient.$disconnect();
    await db.drop();
  });

  /** A new active group of ana and a member whose saved BECS account is their debit; its first round due. */
  async function dueGroup(): Promise<{
    readonly groupId: string;
    readonly member: string;
    readonly pm: string;
  }> {
    n += 1;
    const member = `ben_${n}`;
    const admin = `ana_${n}`;
    const person = aReadyPerson(member);
    const pm = person.debit?.paymentMethodId ?? "";
    const method: SavedPaymentMethod = {
      id: pm,
      personId: member,
      customerId: person.customerId ?? "",
      type: "au_becs_debit",
      bankAccount: { bsbNumber: "000000", last4: "3456" },
      mandate: { mandateId: person.debit?.mandateId ?? "", status: "active" },
      isDefault: false,
      createdAt: STARTS_AT - DAY_MS,
      updatedAt: STARTS_AT - DAY_MS,
      version: 0,
    };
    const group = anActiveGroup({ id: `grp_race_${n}`, memberIds: [admin, member], startsAt: STARTS_AT });
    (
      await a.commit({
        ...empty,
        people: [aReadyPerson(admin), person].map((state) => ({ state, expectedVersion: undefined })),
        groups: [{ state: group, expectedVersion: undefined }],
        paymentMethods: [{ state: method, expectedVersion: undefined }],
      })
    )._unsafeUnwrap();
    return { groupId: group.id, member, pm };
  }

  /** `deps` whose first `read` (of `port`) runs `between` after reading, before answering. */
  function raceAfterRead(
    deps: UseCaseDeps,
    port: "people" | "groups",
    read: string,
    between: () => Promise<void>,
  ): UseCaseDeps {
    let raced = false;
    const target = deps[port] as unknown as Record<string, unknown>;
    const racing = new Proxy(target, {
      get(t, prop, receiver) {
        const v = Reflect.get(t, prop, receiver);
        if (typeof v !== "function") return v;
        if (prop !== read) return v.bind(t);
        return (...args: unknown[]) =>
          new ResultAsync(
            (async () => {
              const answer = await v.apply(t, args);
              if (!raced) {
                raced = true;
                await between();
              }
              return answer;
            })(),
          );
      },
    });
    return { ...deps, [port]: racing };
  }

  const stored = async (groupId: string, member: string, pm: string) => ({
    roundId: (await a.getGroup(groupId))._unsafeUnwrap()?.currentRoundId,
    removed: (await a.getPaymentMethod(pm))._unsafeUnwrap()?.removal !== undefined,
    mandateActive: (await a.getPerson(member))._unsafeUnwrap()?.debit?.mandateActive,
  });

  it("removed (by another process) between the round's readiness read and its commit: the round's commit is a version conflict, and it then waits for the member", async () => {
    const { groupId, member, pm } = await dueGroup();
    let removed: string | undefined;
    const racing = raceAfterRead(depsA, "people", "getPeople", async () => {
      const r = await useCases.removePaymentMethod(depsB, member, pm, undefined, member);
      removed = r.isOk() ? "removed" : r.error.code;
    });
    const opened = await useCases.startRound(racing, groupId, "scheduler");
    expect(removed).toBe("removed");
    expect(opened.isErr() ? opened.error.code : "opened").toBe("version_conflict");
    expect(await stored(groupId, member, pm)).toEqual({
      roundId: undefined,
      removed: true,
      mandateActive: false,
    });
    const again = await useCases.startRound(depsA, groupId, "scheduler");
    expect(again.isErr() ? again.error.code : "opened").toBe("members_not_ready");
  });

  it("a round opened (by another process) between the removal's read of the member's groups and its commit: the removal, retried, is refused (payment_method_in_use)", async () => {
    const { groupId, member, pm } = await dueGroup();
    let opened: string | undefined;
    const racing = raceAfterRead(depsB, "groups", "listGroupsOfPerson", async () => {
      const r = await useCases.startRound(depsA, groupId, "scheduler");
      opened = r.isOk() ? "opened" : r.error.code;
    });
    const removal = await useCases.removePaymentMethod(racing, member, pm, undefined, member);
    expect(opened).toBe("opened");
    expect(removal.isErr() ? removal.error : "removed").toMatchObject({
      code: "payment_method_in_use",
      groupId,
    });
    const after = await stored(groupId, member, pm);
    expect(after).toMatchObject({ removed: false, mandateActive: true });
    expect(after.roundId).toBeDefined();
  });

  it("the two at once, many times: never a round opened and the debit it relies on removed", async () => {
    const outcomes = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const { groupId, member, pm } = await dueGroup();
      const [opened, removal] = await Promise.all([
        useCases.startRound(i % 2 === 0 ? depsA : depsB, groupId, "scheduler"),
        useCases.removePaymentMethod(i % 2 === 0 ? depsB : depsA, member, pm, undefined, member),
      ]);
      const after = await stored(groupId, member, pm);
      expect(opened.isOk() && removal.isOk(), JSON.stringify(after)).toBe(false);
      // What is stored agrees: a round in progress, or the method removed, not both.
      expect(after.roundId !== undefined && after.removed).toBe(false);
      outcomes.add(
        `${opened.isOk() ? "opened" : opened.error.code}/${removal.isOk() ? "removed" : removal.error.code}`,
      );
    }
    expect([...outcomes].every((o) => /^(opened\/payment_method_in_use|\w+\/removed)$/.test(o))).toBe(true);
  });
});
