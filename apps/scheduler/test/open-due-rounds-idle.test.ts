// What the due-round cron costs PostgreSQL for a group that waits for its members and has
// nothing new to say: every minute it finds the group due again; once its notices are queued,
// a run reads and writes nothing (no transaction, no INSERT, no wake-up of the dispatchers).
import { PrismaStore } from "@susu/adapters";
import { statementTextsSentDuring, useTestDatabase } from "@susu/adapters/testing";
import { type Group, type UseCaseDeps, useCaseDepsOn } from "@susu/domain";
import { anActiveGroup, aReadyPerson, ManualClock, SequentialIds } from "@susu/domain/testing";
import { describe, expect, it } from "vitest";
import { openDueRounds } from "../src/jobs/open-due-rounds.js";
import { createLogger } from "../src/logger.js";

const db = useTestDatabase();
const log = createLogger("silent", "open-due-rounds-idle-test");

/** A statement that writes, or opens or ends a transaction. */
const WRITES =
  /^\s*(BEGIN|COMMIT|ROLLBACK|START|SAVEPOINT|INSERT|UPDATE|DELETE|SELECT\s+pg_notify|NOTIFY)\b|\b(INSERT\s+INTO|UPDATE\s+\S+\s+SET|DELETE\s+FROM)\b/i;

async function saveDueGroup(deps: UseCaseDeps, now: number, id: string, mandateActive: boolean) {
  const group: Group = anActiveGroup({ id, memberIds: [`${id}_a`, `${id}_b`], startsAt: now - 3_600_000 });
  const [first, second] = group.members.map((m) => m.id);
  if (first === undefined || second === undefined) throw new Error("two members expected");
  (
    await deps.uow.commit({
      people: [aReadyPerson(first), aReadyPerson(second, { mandateActive })].map((state) => ({
        state,
        expectedVersion: undefined,
      })),
      groups: [{ state: group, expectedVersion: undefined }],
      rounds: [],
      outbox: [],
      audit: [],
    })
  )._unsafeUnwrap();
}

describe("open-due-rounds: a group waiting for its members (PostgreSQL)", () => {
  it("costs no write once its notices are queued: no transaction, no INSERT, the outbox untouched", async () => {
    const now = Date.UTC(2026, 2, 1, 9);
    const clock = new ManualClock(now);
    const store = new PrismaStore(db.prisma);
    const deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    await saveDueGroup(deps, now, "grp_idle", false);

    // The first run finds the round waiting and queues its notices (a write: they are new).
    const first = await statementTextsSentDuring(db.prisma, () => openDueRounds(deps, log));
    expect(first.result).toMatchObject({ opened: 0, waiting: 1, failed: 0, seen: 1 });
    expect(first.sent.filter((s) => WRITES.test(s.text)).length).toBeGreaterThan(0);
    const outbox = async () =>
      db.prisma.$queryRawUnsafe<{ id: string; xmin: string }[]>(
        `SELECT id, xmin::text AS xmin FROM outbox_effects ORDER BY id`,
      );
    const queued = await outbox();
    expect(queued).toHaveLength(2);

    // Every minute after: the same group, the same members lacking the same things.
    for (let run = 0; run < 3; run++) {
      clock.advance(60_000);
      const again = await statementTextsSentDuring(db.prisma, () => openDueRounds(deps, log));
      expect(again.result).toMatchObject({ opened: 0, waiting: 1, failed: 0, seen: 1 });
      expect(again.sent.filter((s) => WRITES.test(s.text)).map((s) => s.name ?? s.text)).toEqual([]);
    }
    // The rows are the ones the first run wrote (no row version written since).
    expect(await outbox()).toEqual(queued);

    // What is lacking changes (the first member's mandate lapses too): the new notices are queued.
    const person = (await store.getPerson("grp_idle_a"))._unsafeUnwrap();
    if (person === undefined) throw new Error("no person");
    (
      await deps.uow.commit({
        people: [
          { state: aReadyPerson("grp_idle_a", { mandateActive: false }), expectedVersion: person.version },
        ],
        groups: [],
        rounds: [],
        outbox: [],
        audit: [],
      })
    )._unsafeUnwrap();
    clock.advance(60_000);
    expect(await openDueRounds(deps, log)).toMatchObject({ waiting: 1 });
    const after = await outbox();
    expect(after.length).toBeGreaterThan(queued.length);
    expect(after.filter((r) => queued.some((q) => q.id === r.id))).toEqual(queued);
  });
});
