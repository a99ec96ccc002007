// A dispute lost while the release's transfer was in flight waits to be booked until the
// transfer's outcome is heard (where the money is depends on it). When that outcome is unknown
// (Stripe's answer was lost) and the admins' look-up finds no transfer, the attempt moved no
// money: the loss is booked from the share set aside (`earmarked`) before the release goes on,
// so the next attempt transfers the share net of it and nobody is reversed for it — and a loss
// that took everything ends the payment instead of releasing nothing with the loss unbooked.
// (Found by the held-payment model with end checks on what stays set aside for the seller:
// FC_SEED=5 "released with 875 set aside", FC_SEED=1 "released with 1 set aside".)
import { describe, expect, it } from "vitest";
import { HOUR_MS } from "../shared/time.js";
import {
  heldBooks as books,
  heldDisputeLost as lost,
  heldDisputeOpened as opened,
  heldPaid as paid,
  type HeldRun as Run,
  runHeld as run,
  startHeld as start,
  HELD_T0 as T0,
} from "../testing/held-payment-mothers.js";
import type { HeldPaymentEffect } from "./held-payment-effect.js";

const LATER = T0 + 80 * HOUR_MS;

const ofKind = <K extends HeldPaymentEffect["kind"]>(effects: readonly HeldPaymentEffect[], kind: K) =>
  effects.filter((e): e is Extract<HeldPaymentEffect, { kind: K }> => e.kind === kind);

/** The release's transfer of 90.00 asked for; a dispute lost for `lostMinor` meanwhile; its outcome unknown, and not found. */
function lostThenNotFound(lostMinor: number): Run {
  const unknown = run(
    run(start(), [paid, { type: "confirm_fulfilled" }]),
    [
      { type: "timer", timer: { kind: "release_due" } },
      opened(lostMinor),
      lost(lostMinor),
      { type: "transfer_failed", attempt: 1, failureCode: "api_error" },
      { type: "admin_release", by: "admin" },
    ],
    LATER,
  );
  expect(unknown.state).toMatchObject({ status: "release_blocked", blockKind: "transfer_outcome_unknown" });
  expect(unknown.state.disputes[0]).toMatchObject({ status: "lost", lossBooked: false });
  return run(unknown, [{ type: "transfer_not_found", attempt: 1 }], LATER);
}

describe("a dispute lost while the release's transfer was in flight, whose outcome was unknown and no transfer found", () => {
  it("lost for everything: the loss is booked from what was set aside and the payment ends charged back", () => {
    const r = lostThenNotFound(10_000);
    expect(r.state.disputes[0]).toMatchObject({ lossBooked: true });
    expect(r.state.status).toBe("charged_back");
    expect(ofKind(r.effects, "transfer")).toHaveLength(1);
    expect(ofKind(r.effects, "reverse_transfer")).toEqual([]);
    expect(books(r)).toMatchObject({
      holdMinor: 0,
      sellerPayableMinor: 0,
      sellerMinor: 0,
      feesMinor: 0,
      disputeLostMinor: 10_000,
    });
  });

  it("lost for part: the loss is booked first, the next attempt transfers the share net of it, nobody is reversed", () => {
    const r = lostThenNotFound(1_000);
    expect(r.state.disputes[0]).toMatchObject({ lossBooked: true });
    expect(ofKind(r.last, "transfer")).toMatchObject([{ attempt: 2, amountMinor: 8_100 }]);
    const landed = run(r, [{ type: "transfer_created", attempt: 2, transferId: "tr_2" }], LATER);
    expect(landed.state.status).toBe("released");
    expect(ofKind(landed.effects, "reverse_transfer")).toEqual([]);
    expect(books(landed)).toMatchObject({
      holdMinor: 0,
      sellerPayableMinor: 0,
      sellerMinor: 8_100,
      feesMinor: 900,
      disputeLostMinor: 1_000,
    });
  });
});
