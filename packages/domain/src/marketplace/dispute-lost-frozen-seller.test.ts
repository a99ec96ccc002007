// A split's co-host whose transfer a dispute froze was never paid: when the dispute is lost,
// their part of the loss is taken from what the platform still holds for them (their
// seller_payable), and only what the loss left them is transferred — never their whole share
// to be reversed again later (their balance may be paid out to their bank before the
// reversal, and the platform would lose it). A won dispute thaws as before. A late answer
// showing a frozen co-host was paid after all books the payment and lets the charge settle.
import { describe, expect, it } from "vitest";
import {
  marketplaceBooks as books,
  closed,
  created,
  created1,
  dispute,
  effectsOfKind as of,
  paid,
  reversed,
  run,
  splitCommand,
} from "../testing/marketplace-charge-mothers.js";
import type { MarketplaceChargeInput } from "./marketplace-charge-input.js";

const retryTimer: MarketplaceChargeInput = {
  type: "timer",
  timer: { kind: "retry_transfer", sellerId: "sel_a", attempt: 2 },
};

/** sel_a's first transfer failed, sel_b and sel_c were paid (2_250 each), dispute dp_1 of `amount` opened, and sel_a's retry came due: frozen. */
const frozenA = (amountMinor: number) => {
  const r = run(created(splitCommand), [
    paid(),
    { type: "transfer_failed", sellerId: "sel_a", attempt: 1, failureCode: "balance_insufficient" },
    created1("sel_b"),
    created1("sel_c"),
    dispute(amountMinor),
    retryTimer,
  ]);
  expect(r.state.payouts.find((p) => p.sellerId === "sel_a")?.frozenBy).toBe("dp_1");
  return r;
};

describe("a dispute lost while a co-host's transfer is frozen", () => {
  it("in full: the frozen co-host is transferred nothing, their part comes from their payable, only the paid co-hosts are reversed", () => {
    const start = frozenA(10_001);
    const lost = run(start.state, [closed("lost", 10_001)]);
    expect(of(lost.effects, "transfer")).toEqual([]);
    expect(lost.state.disputes[0]).toMatchObject({ status: "lost", lostMinor: 10_001, lossBooked: true });
    expect(of(lost.effects, "reverse_transfer").map((e) => [e.sellerId, e.amountMinor])).toEqual([
      ["sel_b", 2_250],
      ["sel_c", 2_250],
    ]);
    expect(lost.state.status).toBe("charged_back");
    expect(lost.state.payouts.find((p) => p.sellerId === "sel_a")?.frozenBy).toBeUndefined();
    const back = run(lost.state, [reversed(1, 2_250), reversed(2, 2_250)]);
    const m = books([...start.effects, ...lost.effects, ...back.effects], back.state);
    expect(m).toMatchObject({
      disputeLostMinor: 10_001,
      sellersMinor: 0,
      feesMinor: 0,
      inFlightMinor: 0,
      sellerPayableMinor: 0,
    });
  });

  it("in part: the frozen co-host is transferred only what the loss left them, and is not reversed", () => {
    const start = frozenA(4_000);
    const lost = run(start.state, [closed("lost", 4_000)]);
    const parts = lost.state.disputes[0]?.parts?.sellerPartsMinor ?? [];
    const partA = parts[0] ?? 0;
    expect(partA).toBeGreaterThan(0);
    expect(of(lost.effects, "transfer").map((e) => [e.id, e.amountMinor])).toEqual([
      ["mc2:transfer:sel_a:attempt:2", 4_501 - partA],
    ]);
    expect(lost.state.status).toBe("paying_sellers");
    const landed = run(lost.state, [created1("sel_a", 2)]);
    expect(landed.state.status).toBe("settled");
    expect(landed.state.disputes[0]).toMatchObject({ lossBooked: true });
    expect(of(landed.effects, "reverse_transfer").map((e) => [e.sellerId, e.amountMinor])).toEqual([
      ["sel_b", parts[1]],
      ["sel_c", parts[2]],
    ]);
    const back = run(landed.state, [reversed(1, parts[1] ?? 0), reversed(2, parts[2] ?? 0)]);
    const m = books([...start.effects, ...lost.effects, ...landed.effects, ...back.effects], back.state);
    expect(m.sellerMinor).toEqual({
      sel_a: 4_501 - partA,
      sel_b: 2_250 - (parts[1] ?? 0),
      sel_c: 2_250 - (parts[2] ?? 0),
    });
    expect(m).toMatchObject({ disputeLostMinor: 4_000, inFlightMinor: 0, sellerPayableMinor: 0 });
  });

  it("won: the frozen co-host is transferred their whole share, as before", () => {
    const start = frozenA(10_001);
    const won = run(start.state, [closed("won", 10_001)]);
    expect(of(won.effects, "transfer").map((e) => [e.id, e.amountMinor])).toEqual([
      ["mc2:transfer:sel_a:attempt:2", 4_501],
    ]);
  });
});

describe("a late answer shows a frozen co-host was paid after all", () => {
  /** sel_a's attempt 1 had an uncertain answer, a look-up found nothing while dp_1 was open: frozen. */
  const writtenOff = () => {
    const r = run(created(splitCommand), [
      paid(),
      { type: "transfer_failed", sellerId: "sel_a", attempt: 1, failureCode: "api_error" },
      created1("sel_b"),
      created1("sel_c"),
      { type: "retry_transfers", by: "admin_1" },
      dispute(10_001),
      { type: "transfer_not_found", sellerId: "sel_a", attempt: 1 },
    ]);
    expect(r.state.payouts.find((p) => p.sellerId === "sel_a")?.frozenBy).toBe("dp_1");
    return r;
  };

  it("the payment is booked, the payout thawed, and the charge settles (a won closure asks for nothing)", () => {
    const start = writtenOff();
    const late = run(start.state, [created1("sel_a", 1)]);
    expect(of(late.effects, "open_ticket").map((e) => e.reason)).toEqual(["unexpected_money"]);
    expect(late.state.status).toBe("settled");
    expect(late.state.payouts.find((p) => p.sellerId === "sel_a")?.frozenBy).toBeUndefined();
    const won = run(late.state, [closed("won", 10_001)]);
    expect(of(won.effects, "transfer")).toEqual([]);
    const m = books([...start.effects, ...late.effects, ...won.effects], won.state);
    expect(m.sellerMinor).toEqual({ sel_a: 4_501, sel_b: 2_250, sel_c: 2_250 });
    expect([m.inFlightMinor, m.sellerPayableMinor]).toEqual([0, 0]);
  });

  it("lost: every co-host is reversed their part (sel_a was paid in full), charged back", () => {
    const start = writtenOff();
    const late = run(start.state, [created1("sel_a", 1)]);
    const lost = run(late.state, [closed("lost", 10_001)]);
    expect(of(lost.effects, "transfer")).toEqual([]);
    expect(lost.state.status).toBe("charged_back");
    expect(of(lost.effects, "reverse_transfer").map((e) => [e.sellerId, e.amountMinor])).toEqual([
      ["sel_a", 4_501],
      ["sel_b", 2_250],
      ["sel_c", 2_250],
    ]);
    const back = run(lost.state, [reversed(1, 4_501), reversed(2, 2_250), reversed(3, 2_250)]);
    const m = books([...start.effects, ...late.effects, ...lost.effects, ...back.effects], back.state);
    expect(m).toMatchObject({
      sellersMinor: 0,
      inFlightMinor: 0,
      sellerPayableMinor: 0,
      disputeLostMinor: 10_001,
    });
  });
});
