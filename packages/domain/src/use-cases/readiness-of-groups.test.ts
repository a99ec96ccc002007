// The readiness of several groups' members read together (readinessOfGroups): the same as a
// read per group gives, in reads of at most 1,000 people, side by side.
import { okAsync } from "neverthrow";
import { describe, expect, it } from "vitest";
import type { PersonId } from "../person/ids.js";
import type { Person } from "../person/person.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import { anActiveGroup, aReadyPerson } from "../testing/mothers.js";
import * as useCases from "./index.js";

describe("readinessOfGroups", () => {
  it("reads each member once, at most 1,000 people a read, the reads side by side; as readinessOfMembers gives it", async () => {
    // 25 groups of 50: 1,226 people (every group shares "shared"), not all of them stored.
    const groups = Array.from({ length: 25 }, (_, g) =>
      anActiveGroup({
        id: `grp_${g}`,
        memberIds: ["shared", ...Array.from({ length: 49 }, (_, m) => `p${g}_${m}`)],
      }),
    );
    const stored = new Map<string, Person>(
      groups
        .flatMap((g) => g.members.map((m) => m.id))
        .filter((id) => !id.endsWith("_7"))
        .map((id) => [id, aReadyPerson(id, { payoutsEnabled: id !== "p3_1" })]),
    );
    const reads: { size: number; whileOthersRead: number }[] = [];
    let reading = 0;
    const sim = new InMemorySusu();
    const people = {
      ...sim.deps.people,
      getPeople: (ids: readonly PersonId[]) => {
        reads.push({ size: ids.length, whileOthersRead: reading });
        reading += 1;
        const found = ids.flatMap((id) => stored.get(id) ?? []);
        return okAsync(found).map((p) => {
          reading -= 1;
          return p;
        });
      },
    };
    const deps = { ...sim.deps, people };

    const together = (await useCases.readinessOfGroups(deps, groups))._unsafeUnwrap();

    expect(reads.map((r) => r.size)).toEqual([1_000, 226]);
    expect(reads[1]?.whileOthersRead).toBe(1);
    for (const group of groups) {
      const apart = (await useCases.readinessOfMembers(deps, group))._unsafeUnwrap();
      for (const m of group.members) expect(together(m.id)).toEqual(apart(m.id));
    }
    expect(together("p3_1")).toEqual({ mandateActive: true, payoutsEnabled: false });
    expect(together("p3_7")).toEqual({ mandateActive: false, payoutsEnabled: false });
    expect((await useCases.readinessOfGroups(deps, []))._unsafeUnwrap()("shared")).toEqual({
      mandateActive: false,
      payoutsEnabled: false,
    });
  });
});
