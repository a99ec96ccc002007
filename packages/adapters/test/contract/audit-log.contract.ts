// The audit log's read side: what every implementation of `AuditLog` must do. Run against
// the in-memory store (test/memory) and PostgreSQL (test/prisma).
import type { AuditEntry, AuditLog, UnitOfWork } from "@susu/domain";
import { beforeEach, describe, expect, it } from "vitest";

/** An audit log with the unit of work that writes its lines, fresh and empty for each test. */
export interface AuditPorts {
  readonly audit: AuditLog;
  readonly uow: UnitOfWork;
}

const T = Date.UTC(2026, 0, 6);

const line = (
  aggregate: AuditEntry["aggregate"],
  aggregateId: string,
  action: string,
  n: number,
): AuditEntry => ({
  at: T + n,
  aggregate,
  aggregateId,
  action,
  outcome: n % 2 === 0 ? "applied" : "ignored",
  ...(n % 2 === 0 ? {} : { detail: `timer_no_longer_due: line ${n}` }),
  actor: `actor_${n}`,
});

/** The contract, for one implementation. */
export function auditLogContract(name: string, create: () => Promise<AuditPorts>): void {
  describe(`audit log contract: ${name}`, () => {
    let ports: AuditPorts;
    beforeEach(async () => {
      ports = await create();
      const lines = [
        line("group", "g1", "create_group", 0),
        line("round", "r1", "open", 1),
        line("round", "r2", "open", 2),
        line("group", "g2", "create_group", 3),
        line("round", "r1", "debit_succeeded", 4),
        // Another kind of aggregate with the same id is not the group's.
        line("person", "g1", "update_person", 5),
      ];
      for (const l of lines)
        (
          await ports.uow.commit({ people: [], groups: [], rounds: [], outbox: [], audit: [l] })
        )._unsafeUnwrap();
    });

    it("reads the lines of the subjects asked for, oldest first, each with an increasing id", async () => {
      const read = (
        await ports.audit.listAudit({
          subjects: [
            { aggregate: "group", aggregateId: "g1" },
            { aggregate: "round", aggregateId: "r1" },
          ],
          limit: 10,
        })
      )._unsafeUnwrap();
      expect(read.map((l) => [l.aggregate, l.aggregateId, l.action])).toEqual([
        ["group", "g1", "create_group"],
        ["round", "r1", "open"],
        ["round", "r1", "debit_succeeded"],
      ]);
      const { id: _id, ...first } = read[1] ?? { id: "" };
      expect(first).toEqual(line("round", "r1", "open", 1));
      expect(read.map((l) => l.id)).toEqual([...read.map((l) => l.id)].sort(byNumber));
      for (const l of read) expect(l.id).toMatch(/^audit_[1-9][0-9]*$/);
    });

    it("pages by id: `startingAfter` continues where the last page ended", async () => {
      const subjects = [
        { aggregate: "round", aggregateId: "r1" },
        { aggregate: "round", aggregateId: "r2" },
      ] as const;
      const first = (await ports.audit.listAudit({ subjects, limit: 2 }))._unsafeUnwrap();
      expect(first.map((l) => l.action)).toEqual(["open", "open"]);
      const rest = (
        await ports.audit.listAudit({ subjects, limit: 2, startingAfter: first[1]?.id ?? "" })
      )._unsafeUnwrap();
      expect(rest.map((l) => [l.aggregateId, l.action])).toEqual([["r1", "debit_succeeded"]]);
      const none = (
        await ports.audit.listAudit({ subjects, limit: 2, startingAfter: rest[0]?.id ?? "" })
      )._unsafeUnwrap();
      expect(none).toEqual([]);
    });

    it("reads nothing for no subjects or a cursor in no known format; refuses a limit out of range", async () => {
      expect((await ports.audit.listAudit({ subjects: [], limit: 5 }))._unsafeUnwrap()).toEqual([]);
      const subjects = [{ aggregate: "group", aggregateId: "g1" }] as const;
      for (const startingAfter of [
        "nope",
        "audit_0",
        "audit_-1",
        "audit_99999999999999999999",
        "audit_9999999999999999999",
      ])
        expect(
          (await ports.audit.listAudit({ subjects, limit: 5, startingAfter }))._unsafeUnwrap(),
          startingAfter,
        ).toEqual([]);
      expect((await ports.audit.listAudit({ subjects, limit: 0 })).isErr()).toBe(true);
      expect((await ports.audit.listAudit({ subjects, limit: 501 })).isErr()).toBe(true);
    });
  });
}

function byNumber(a: string, b: string): number {
  return Number(a.slice("audit_".length)) - Number(b.slice("audit_".length));
}
