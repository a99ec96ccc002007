// Round snapshots as stored by older releases still load, in today's shape.
import { anActiveGroup, aRoundOf } from "@susu/domain/testing";
import { describe, expect, it } from "vitest";
import { parseRoundSnapshot } from "../../src/prisma/snapshots.js";

const refunding = aRoundOf(anActiveGroup(), [{ type: "cancel", reason: "called off" }]);

describe("round snapshots", () => {
  it("a refunding or cancelled round stored with blockedReason reads it as its cancellationReason", () => {
    const { cancellationReason: _, ...fields } = refunding;
    for (const status of ["refunding", "cancelled"] as const) {
      const legacy = { ...fields, status, blockedReason: "called off" };
      const loaded = parseRoundSnapshot(JSON.parse(JSON.stringify(legacy)))._unsafeUnwrap();
      expect(loaded).toMatchObject({ status, cancellationReason: "called off" });
      expect(loaded).not.toHaveProperty("blockedReason");
    }
  });

  it("a blocked payout keeps its blockedReason; today's snapshots load as they are", () => {
    const { cancellationReason: _, ...fields } = refunding;
    const blocked = { ...fields, status: "payout_blocked" as const, blockedReason: "no account" };
    expect(parseRoundSnapshot(JSON.parse(JSON.stringify(blocked)))._unsafeUnwrap()).toEqual(blocked);
    expect(parseRoundSnapshot(JSON.parse(JSON.stringify(refunding)))._unsafeUnwrap()).toEqual(refunding);
  });
});
