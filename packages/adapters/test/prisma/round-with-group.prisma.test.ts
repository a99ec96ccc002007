// The round and its group read in one statement (PrismaStore.getRoundWithGroup): the same
// states as the two reads give, nothing for a round that does not exist, and the use cases
// reading through it.
import { roundPaymentRefs, useCaseDepsOn, useCases } from "@susu/domain";
import { anActiveGroup, ManualClock, SequentialIds } from "@susu/domain/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PrismaStore } from "../../src/prisma/index.js";
import { statementsSentDuring, storeNewGroup } from "../support/index.js";
import { createTestDatabase, type TestDatabase } from "../support/test-database.js";

const START = Date.UTC(2026, 0, 6);

describe("a round read with its group on PostgreSQL", () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  it("gives the round and its group as getRound and getGroup do, in one statement", async () => {
    const store = new PrismaStore(db.prisma, { clock: new ManualClock(START) });
    const deps = useCaseDepsOn(store, { clock: new ManualClock(START), ids: new SequentialIds() });
    const group = anActiveGroup({ startsAt: START });
    await storeNewGroup(store, group);
    const round = (await useCases.startRound(deps, group.id, "scheduler"))._unsafeUnwrap().state;

    const together = (await store.getRoundWithGroup(round.id))._unsafeUnwrap();

    expect(together?.round).toEqual((await store.getRound(round.id))._unsafeUnwrap());
    expect(together?.group).toEqual((await store.getGroup(group.id))._unsafeUnwrap());
    expect(together?.round.version).toBe(0);
    expect(together?.group?.version).toBe(group.version + 1);
    expect((await store.getRoundWithGroup("round_missing"))._unsafeUnwrap()).toBeUndefined();
  });

  it("a fact about the round is applied through it: the round as stored, then decided", async () => {
    const store = new PrismaStore(db.prisma, { clock: new ManualClock(START) });
    let together = 0;
    let apart = 0;
    const rounds = {
      getRound: (id: string) => {
        apart += 1;
        return store.getRound(id);
      },
      getRoundWithGroup: (id: string) => {
        together += 1;
        return store.getRoundWithGroup(id);
      },
      listRoundsOfGroup: (id: string) => store.listRoundsOfGroup(id),
    };
    const deps = {
      ...useCaseDepsOn(store, { clock: new ManualClock(START), ids: new SequentialIds() }),
      rounds,
    };
    const group = anActiveGroup({ id: "grp_together", memberIds: ["dee", "eve", "fay"], startsAt: START });
    await storeNewGroup(store, group);
    const round = (await useCases.startRound(deps, group.id, "scheduler"))._unsafeUnwrap().state;
    const member = round.contributions[0];
    together = 0;
    apart = 0;

    const outcome = (
      await useCases.applyRoundFact(
        deps,
        {
          kind: "debit_processing",
          refs: roundPaymentRefs(group.id, round.id, member?.memberId ?? "", 1),
          paymentIntentId: "pi_1",
        },
        "test",
      )
    )._unsafeUnwrap();

    expect(outcome.status).toBe("applied");
    expect({ together, apart }).toEqual({ together: 1, apart: 0 });
    const stored = (await store.getRound(round.id))._unsafeUnwrap();
    expect(stored?.contributions[0]?.attempts[0]?.status).toBe("processing");
  });

  it("reads the rounds asked for while one is on its way together, each with its own group", async () => {
    const store = new PrismaStore(db.prisma, { clock: new ManualClock(START) });
    const deps = useCaseDepsOn(store, { clock: new ManualClock(START), ids: new SequentialIds() });
    const rounds: string[] = [];
    for (const [n, members] of [
      ["a", ["gia", "hal"]],
      ["b", ["ivy", "jon"]],
      ["c", ["kai", "lea"]],
    ] as const) {
      const group = anActiveGroup({ id: `grp_many_${n}`, memberIds: [...members], startsAt: START });
      await storeNewGroup(store, group);
      rounds.push((await useCases.startRound(deps, group.id, "scheduler"))._unsafeUnwrap().state.id);
    }
    const ids = [rounds[0], rounds[1], "round_missing", rounds[2], rounds[0]] as string[];

    const { result, sent } = await statementsSentDuring(db.prisma, () =>
      Promise.all(ids.map((id) => store.getRoundWithGroup(id))),
    );

    expect(sent).toEqual(["susu_getRoundWithGroup", "susu_getRoundWithGroup_many"]);
    const read = result.map((r) => r._unsafeUnwrap());
    expect(read.map((r) => [r?.round.id, r?.group?.id])).toEqual([
      [rounds[0], "grp_many_a"],
      [rounds[1], "grp_many_b"],
      [undefined, undefined],
      [rounds[2], "grp_many_c"],
      [rounds[0], "grp_many_a"],
    ]);
    for (const r of read)
      if (r !== undefined) {
        expect(r.round).toEqual((await store.getRound(r.round.id))._unsafeUnwrap());
        expect(r.group).toEqual((await store.getGroup(r.round.groupId))._unsafeUnwrap());
      }
  });
});
