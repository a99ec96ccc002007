// A split charge's co-hosts are not paid while a dispute of the charge is open (as a held
// payment freezes its release): a transfer that comes due then — a retry timer, an admin's
// retry, an attempt written off by a look-up — is not asked for; the seller's payout waits,
// frozen by the dispute, and the transfer is asked for once no dispute is open. Won, the
// co-hosts are paid; lost, a frozen co-host is transferred only what the loss left of their
// share (their part is taken from what the platform holds for them), and the loss is booked
// once every one is paid or owed nothing (dispute-lost-frozen-seller.test.ts). A transfer
// already asked for before the dispute opened is not stopped (Stripe has it).
import { describe, expect, it } from "vitest";
import {
  marketplaceBooks as books,
  closed,
  created,
  created1,
  dispute,
  effectsOfKind as of,
  paid,
  marketplaceTestPolicy as policy,
  run,
  splitCommand,
  T0,
} from "../testing/marketplace-charge-mothers.js";
import { decideMarketplaceCharge } from "./decide.js";
import type { MarketplaceCharge } from "./marketplace-charge.js";
import type { MarketplaceChargeInput } from "./marketplace-charge-input.js";

const failed = (
  sellerId: string,
  attempt: number,
  failureCode = "balance_insufficient",
): MarketplaceChargeInput => ({
  type: "transfer_failed",
  sellerId,
  attempt,
  failureCode,
});
const retryTimer = (sellerId: string, attempt: number): MarketplaceChargeInput => ({
  type: "timer",
  timer: { kind: "retry_transfer", sellerId, attempt },
});

const ignoredCode = (state: MarketplaceCharge, input: MarketplaceChargeInput) =>
  decideMarketplaceCharge(state, input, { now: T0, policy })._unsafeUnwrap().ignored?.code;

/** sel_a's first transfer failed (retry timer set), sel_b and sel_c were paid, then dispute dp_1 (the whole charge) opened. */
const disputedWhileRetrying = () => {
  const r = run(created(splitCommand), [
    paid(),
    failed("sel_a", 1),
    created1("sel_b"),
    created1("sel_c"),
    dispute(10_001),
  ]);
  expect(of(r.effects, "schedule_timer").map((e) => e.id)).toEqual(["mc2:timer:retry_transfer:sel_a:2"]);
  return r;
};

describe("a split's transfer that comes due while a dispute is open", () => {
  it("the retry timer fires: no transfer is asked for, the payout waits frozen by the dispute; the timer again is ignored", () => {
    const start = disputedWhileRetrying();
    const fired = run(start.state, [retryTimer("sel_a", 2)]);
    expect(fired.last.ignored).toBeUndefined();
    expect(of(fired.effects, "transfer")).toEqual([]);
    expect(fired.state.status).toBe("paying_sellers");
    expect(fired.state.payouts.find((p) => p.sellerId === "sel_a")).toMatchObject({
      parked: false,
      frozenBy: "dp_1",
    });
    expect(fired.state.transfers.filter((t) => t.sellerId === "sel_a").map((t) => t.status)).toEqual([
      "failed",
    ]);
    expect(ignoredCode(fired.state, retryTimer("sel_a", 2))).toBe("timer_no_longer_due");
  });

  it("won: the transfer is asked for with the closure (the attempt the timer named), and the charge settles", () => {
    const start = disputedWhileRetrying();
    const fired = run(start.state, [retryTimer("sel_a", 2)]);
    const won = run(fired.state, [closed("won", 10_001)]);
    expect(of(won.effects, "transfer").map((e) => [e.id, e.amountMinor])).toEqual([
      ["mc2:transfer:sel_a:attempt:2", 4_501],
    ]);
    expect(won.state.payouts.find((p) => p.sellerId === "sel_a")?.frozenBy).toBeUndefined();
    const done = run(won.state, [created1("sel_a", 2)]);
    expect(done.state.status).toBe("settled");
    const m = books([...start.effects, ...fired.effects, ...won.effects, ...done.effects], done.state);
    expect(m.sellerMinor).toEqual({ sel_a: 4_501, sel_b: 2_250, sel_c: 2_250 });
    expect([m.inFlightMinor, m.sellerPayableMinor]).toEqual([0, 0]);
  });

  it("lost: the frozen co-host is transferred only what the loss left them (dispute-lost-frozen-seller.test.ts); in full, nothing", () => {
    const start = disputedWhileRetrying();
    const fired = run(start.state, [retryTimer("sel_a", 2)]);
    const lost = run(fired.state, [closed("lost", 10_001)]);
    expect(of(lost.effects, "transfer")).toEqual([]);
    expect(lost.state.payouts.find((p) => p.sellerId === "sel_a")?.frozenBy).toBeUndefined();
    expect(lost.state.disputes[0]).toMatchObject({ status: "lost", lostMinor: 10_001, lossBooked: true });
    expect(lost.state.status).toBe("charged_back");
  });

  it("an admin's retry of a parked co-host unparks them but asks for nothing until the dispute closes", () => {
    const parked = run(created(splitCommand), [
      paid(),
      failed("sel_a", 1, "account_invalid"),
      created1("sel_b"),
      created1("sel_c"),
      dispute(5_000),
    ]);
    expect(parked.state.status).toBe("transfer_blocked");
    const retried = run(parked.state, [{ type: "retry_transfers", by: "admin_1" }]);
    expect(of(retried.effects, "transfer")).toEqual([]);
    expect(retried.state.status).toBe("paying_sellers");
    expect(retried.state.payouts.find((p) => p.sellerId === "sel_a")).toMatchObject({
      parked: false,
      frozenBy: "dp_1",
    });
    const won = run(retried.state, [closed("won", 5_000)]);
    expect(of(won.effects, "transfer").map((e) => e.id)).toEqual(["mc2:transfer:sel_a:attempt:2"]);
  });

  it("a look-up that finds no transfer writes the attempt off and asks for the next one only once the dispute closes", () => {
    const unknown = run(created(splitCommand), [
      paid(),
      failed("sel_a", 1, "api_error"),
      created1("sel_b"),
      created1("sel_c"),
      { type: "retry_transfers", by: "admin_1" },
      dispute(10_001),
    ]);
    expect(of(unknown.effects, "find_transfer")).toHaveLength(1);
    const missing = run(unknown.state, [{ type: "transfer_not_found", sellerId: "sel_a", attempt: 1 }]);
    expect(of(missing.effects, "transfer")).toEqual([]);
    expect(missing.state.status).toBe("paying_sellers");
    expect(missing.state.payouts.find((p) => p.sellerId === "sel_a")?.frozenBy).toBe("dp_1");
    const won = run(missing.state, [closed("won", 10_001)]);
    expect(of(won.effects, "transfer").map((e) => e.id)).toEqual(["mc2:transfer:sel_a:attempt:2"]);
  });

  it("with two disputes open, the transfer waits for both to close", () => {
    const start = disputedWhileRetrying();
    const both = run(start.state, [dispute(1_000, "dp_2"), retryTimer("sel_a", 2), closed("won", 10_001)]);
    expect(of(both.effects, "transfer")).toEqual([]);
    expect(both.state.payouts.find((p) => p.sellerId === "sel_a")?.frozenBy).toBe("dp_2");
    const second = run(both.state, [closed("won", 1_000, "dp_2")]);
    expect(of(second.effects, "transfer").map((e) => e.id)).toEqual(["mc2:transfer:sel_a:attempt:2"]);
  });
});
