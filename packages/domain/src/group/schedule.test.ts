// When a group's next round opens ({@link nextRoundOpensAt}): its slot in the schedule, but
// never sooner than one cadence after the last round opened.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DAY_MS, HOUR_MS, MINUTE_MS } from "../shared/time.js";
import { type Cadence, roundOpensAt } from "./cadence.js";
import {
  activateGroup,
  createGroup,
  type Group,
  joinGroup,
  markRoundEnded,
  markRoundOpened,
  nextRecipient,
  nextRoundOpensAt,
  ROUND_OPENING_SLACK_MS,
  updateGroupSettings,
} from "./group.js";

const T0 = Date.UTC(2030, 0, 31, 9, 0);
const allReady = () => ({ mandateActive: true, payoutsEnabled: true });

function activeGroup(cadence: Cadence, members = 4): Group {
  let g = createGroup({
    id: "g1",
    name: "Savers",
    currency: "AUD",
    contributionMinor: 100_00,
    cadence,
    startsAt: T0,
    payoutOrderMethod: "join_order",
    rotationsPlanned: 12,
    creator: { id: "m0", displayName: "m0" },
    createdAt: T0 - DAY_MS,
  })._unsafeUnwrap();
  for (let i = 1; i < members; i++)
    g = joinGroup(g, { id: `m${i}`, displayName: `m${i}`, joinedAt: T0 - DAY_MS })._unsafeUnwrap();
  return activateGroup(g, "m0", allReady)._unsafeUnwrap();
}

/** Opens the next round `lateBy` after it is due and pays it out. */
function openAndPay(g: Group, lateBy: number, i: number): { group: Group; openedAt: number } {
  const openedAt = nextRoundOpensAt(g) + lateBy;
  const opened = markRoundOpened(g, `r${i}`, openedAt)._unsafeUnwrap();
  const paidTo = nextRecipient(opened) ?? "m0";
  return { group: markRoundEnded(opened, `r${i}`, { paidTo })._unsafeUnwrap(), openedAt };
}

describe("next round", () => {
  it("keeps to the schedule while rounds open on time", () => {
    let g = activeGroup("weekly");
    for (let i = 0; i < 3; i++) {
      expect(nextRoundOpensAt(g)).toBe(roundOpensAt(T0, "weekly", i));
      g = openAndPay(g, 0, i).group;
    }
  });

  it("a round opened five weeks late moves the next one to a week after it, not at once", () => {
    let g = activeGroup("weekly");
    g = openAndPay(g, 0, 0).group;
    const late = openAndPay(g, 35 * DAY_MS, 1);
    expect(late.group.lastRoundOpenedAt).toBe(late.openedAt);
    expect(nextRoundOpensAt(late.group)).toBe(late.openedAt + 7 * DAY_MS - ROUND_OPENING_SLACK_MS);
  });

  it("the scheduler's own delay (within the slack) moves nothing: round after round on the slot", () => {
    let g = activeGroup("monthly");
    for (let i = 0; i < 12; i++) {
      expect(nextRoundOpensAt(g)).toBe(roundOpensAt(T0, "monthly", i));
      g = openAndPay(g, 50 * MINUTE_MS, i).group;
    }
  });

  it("a group stored before openings were kept keeps to its slot", () => {
    let g = openAndPay(activeGroup("weekly"), 35 * DAY_MS, 0).group;
    const { lastRoundOpenedAt: _gone, ...old } = g;
    g = old;
    expect(nextRoundOpensAt(g)).toBe(roundOpensAt(T0, "weekly", 1));
  });

  it("property: openings are never sooner than one cadence (less the slack) apart, nor before their slot", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<Cadence>("weekly", "fortnightly", "monthly"),
        fc.array(
          fc.oneof(fc.integer({ min: 0, max: 2 * HOUR_MS }), fc.integer({ min: 0, max: 60 * DAY_MS })),
          {
            minLength: 1,
            maxLength: 24,
          },
        ),
        (cadence, delays) => {
          let g = activeGroup(cadence, 3);
          let previous: number | undefined;
          delays.forEach((lateBy, i) => {
            const slot = roundOpensAt(T0, cadence, g.rotation.roundSequence);
            const { group, openedAt } = openAndPay(g, lateBy, i);
            expect(openedAt).toBeGreaterThanOrEqual(slot);
            if (previous !== undefined)
              expect(openedAt).toBeGreaterThanOrEqual(
                roundOpensAt(previous, cadence, 1) - ROUND_OPENING_SLACK_MS,
              );
            previous = openedAt;
            g = group;
          });
        },
      ),
    );
  });
});

describe("a group's time zone", () => {
  const base = {
    id: "g2",
    name: "Sydney savers",
    currency: "AUD" as const,
    contributionMinor: 100_00,
    cadence: "monthly" as const,
    startsAt: Date.parse("2030-03-01T09:00:00+11:00"),
    payoutOrderMethod: "join_order" as const,
    creator: { id: "m0", displayName: "m0" },
    createdAt: T0,
  };

  it("is chosen at creation (canonical IANA name), UTC when none is given, and refused when unknown", () => {
    expect(createGroup({ ...base, timeZone: "australia/sydney" })._unsafeUnwrap().timeZone).toBe(
      "Australia/Sydney",
    );
    expect(createGroup(base)._unsafeUnwrap().timeZone).toBe("UTC");
    for (const timeZone of ["Mars/Olympus", "+10:00", "", "AEST10"])
      expect(createGroup({ ...base, timeZone })._unsafeUnwrapErr().code).toBe("invalid_time_zone");
  });

  it("sets when rounds open: on the 1st at 09:00 in Sydney", () => {
    let g = createGroup({ ...base, timeZone: "Australia/Sydney" })._unsafeUnwrap();
    g = joinGroup(g, { id: "m1", displayName: "m1", joinedAt: T0 })._unsafeUnwrap();
    g = activateGroup(g, "m0", allReady)._unsafeUnwrap();
    g = openAndPay(g, 0, 0).group;
    expect(new Date(nextRoundOpensAt(g)).toISOString()).toBe("2030-03-31T22:00:00.000Z");
  });

  it("may change with the other settings while the group forms", () => {
    const g = createGroup(base)._unsafeUnwrap();
    expect(updateGroupSettings(g, "m0", { timeZone: "Pacific/Auckland" })._unsafeUnwrap().timeZone).toBe(
      "Pacific/Auckland",
    );
    expect(updateGroupSettings(g, "m0", { timeZone: "Nowhere/Land" })._unsafeUnwrapErr().code).toBe(
      "invalid_time_zone",
    );
  });
});
