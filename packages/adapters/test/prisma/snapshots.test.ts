// Round snapshots as stored by older releases still load, in today's shape.
import { anActiveGroup, aRoundOf } from "@susu/domain/testing";
import { describe, expect, it } from "vitest";
import { parseOutboxEffect, parseRoundSnapshot, upgradeOutboxPayload } from "../../src/prisma/snapshots.js";
import { LEGACY_EFFECTS } from "../support/legacy-payloads.js";

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

describe("outbox payloads", () => {
  it("written before effects named their aggregate, they read in today's shape (a rolling deploy)", () => {
    for (const { old, today } of LEGACY_EFFECTS)
      expect(parseOutboxEffect(old)._unsafeUnwrap()).toEqual(today);
  });

  it("today's payloads read as they are, and the rewrite leaves them alone", () => {
    for (const { today } of LEGACY_EFFECTS) {
      const stored = JSON.parse(JSON.stringify(today));
      expect(upgradeOutboxPayload(stored)).toBe(stored);
      expect(parseOutboxEffect(stored)._unsafeUnwrap()).toEqual(today);
    }
  });

  it("an old payload that was never valid is still refused", () => {
    const broken = {
      kind: "notify",
      id: "x",
      roundId: "r",
      to: { kind: "admins" },
      template: "payout_sent",
      data: {},
    };
    expect(parseOutboxEffect(broken).isErr()).toBe(true); // no groupId to resolve the audience from
  });
});
