// A split's transfer attempt of unknown outcome (its answer lost), written off after the admins'
// look-up found nothing (Stripe's list lagging behind), whose transfer.created then comes late.
// The next attempt was asked for when the first was written off. Before, the late one was
// booked as the seller's payment but the next attempt stayed `requested`: the outbox sent it
// (the seller paid twice), its failure parked a settled charge (a move the table forbids: the
// webhook could never be processed), and a retry timer armed before the late landing asked
// Stripe for a third transfer. The first `created` attempt was taken as the seller's payment
// even when it was the flagged extra, so reversals named a transfer the books never showed.
//
// 100.01 AUD split 2:1:1 at a 10 % fee: sel_a's share is 45.01.
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
  refund,
  splitCommand,
  T0,
} from "../testing/marketplace-charge-mothers.js";
import { decideMarketplaceCharge } from "./decide.js";
import type { MarketplaceCharge } from "./marketplace-charge.js";
import type { MarketplaceChargeEffect } from "./marketplace-charge-effect.js";
import type { MarketplaceChargeInput } from "./marketplace-charge-input.js";

interface Run {
  readonly state: MarketplaceCharge;
  readonly effects: readonly MarketplaceChargeEffect[];
  readonly last: readonly MarketplaceChargeEffect[];
}

/** Applies inputs in order from `r`, keeping every effect (for the books). */
function run(r: Run, inputs: readonly MarketplaceChargeInput[]): Run {
  let { state } = r;
  const effects = [...r.effects];
  let last: readonly MarketplaceChargeEffect[] = [];
  for (const input of inputs) {
    const d = decideMarketplaceCharge(state, input, { now: T0, policy })._unsafeUnwrap();
    last = d.effects;
    if (d.ignored === undefined) state = { ...d.state, version: state.version + 1 };
    effects.push(...d.effects);
  }
  return { state, effects, last };
}

const decide = (r: Run, input: MarketplaceChargeInput) =>
  decideMarketplaceCharge(r.state, input, { now: T0, policy });
const failed = (attempt: number, failureCode: string): MarketplaceChargeInput => ({
  type: "transfer_failed",
  sellerId: "sel_a",
  attempt,
  failureCode,
});
const notFound = (attempt: number): MarketplaceChargeInput => ({
  type: "transfer_not_found",
  sellerId: "sel_a",
  attempt,
});
const retry: MarketplaceChargeInput = { type: "retry_transfers", by: "admin" };
const attemptsOfA = (r: Run) =>
  r.state.transfers
    .filter((t) => t.sellerId === "sel_a")
    .map((t) => [t.attempt, t.status, t.failureCode, t.unbooked]);

/**
 * sel_a's attempt 1 answered api_error (outcome unknown: parked), sel_b paid (and sel_c too
 * unless `cUnpaid`); the admins' retry looked it up, the look-up missed it: attempt 2 asked.
 */
function writtenOff(cUnpaid = false): Run {
  const r = run({ state: created(splitCommand), effects: [], last: [] }, [
    paid(),
    failed(1, "api_error"),
    created1("sel_b"),
    ...(cUnpaid ? [] : [created1("sel_c")]),
    retry,
    notFound(1),
  ]);
  expect(r.state.status).toBe("paying_sellers");
  expect(attemptsOfA(r)).toEqual([
    [1, "failed", "api_error", undefined],
    [2, "requested", undefined, undefined],
  ]);
  return r;
}

describe("a written-off transfer of a split's seller that lands late", () => {
  it("is booked as the seller's one payment, and the next attempt still in flight is written off", () => {
    const late = run(writtenOff(), [created1("sel_a", 1)]);
    expect(late.state.status).toBe("settled");
    expect(attemptsOfA(late)).toEqual([
      [1, "created", "api_error", undefined],
      [2, "failed", "another_attempt_landed", undefined],
    ]);
    expect(of(late.last, "open_ticket").map((t) => t.reason)).toEqual(["unexpected_money"]);
    expect(books(late.effects, late.state)).toMatchObject({ sellerPayableMinor: 0 });
    // Its answer, should the outbox have sent it before, changes nothing.
    const answered = run(late, [failed(2, "account_invalid")]);
    expect(answered.state).toEqual(late.state);
  });

  it("the next attempt's failure that comes after does not park a settled charge", () => {
    const late = run(writtenOff(), [created1("sel_a", 1)]);
    for (const code of ["account_invalid", "balance_insufficient"]) {
      const d = decide(late, failed(2, code))._unsafeUnwrap();
      expect(d.ignored?.code).toBe("transfer_not_pending");
    }
    // One of unknown outcome is looked up (below), and parks nothing either.
    const unknown = decide(late, failed(2, "api_error"))._unsafeUnwrap();
    expect(unknown.state.status).toBe("settled");
    expect(unknown.effects.map((e) => e.kind)).toEqual(["find_transfer"]);
  });

  it("a retry timer armed before the late landing asks for no third transfer", () => {
    // sel_c unpaid keeps the charge paying its sellers.
    const retrying = run(writtenOff(true), [failed(2, "balance_insufficient")]);
    expect(of(retrying.last, "schedule_timer").map((t) => t.timer)).toEqual([
      { kind: "retry_transfer", sellerId: "sel_a", attempt: 3 },
    ]);
    const late = run(retrying, [created1("sel_a", 1)]);
    expect(late.state.status).toBe("paying_sellers");
    const d = decide(late, {
      type: "timer",
      timer: { kind: "retry_transfer", sellerId: "sel_a", attempt: 3 },
    })._unsafeUnwrap();
    expect(d.ignored?.code).toBe("timer_no_longer_due");
    expect(of(d.effects, "transfer")).toEqual([]);
  });

  it("an attempt of unknown outcome beside it is written off too: the charge is blocked no more", () => {
    const unknown = run(writtenOff(), [failed(2, "api_error")]);
    expect(unknown.state.status).toBe("transfer_blocked");
    const late = run(unknown, [created1("sel_a", 1)]);
    expect(late.state.status).toBe("settled");
    expect(attemptsOfA(late)[1]).toEqual([2, "failed", "another_attempt_landed", undefined]);
    // It may have landed too: looked up once, its finding flagged, never booked.
    expect(of(late.last, "find_transfer").map((e) => e.attempt)).toEqual([2]);
    const found = run(late, [created1("sel_a", 2)]);
    expect(attemptsOfA(found)[1]).toEqual([2, "created", "another_attempt_landed", true]);
    expect(of(found.last, "open_ticket").map((t) => t.reason)).toEqual(["unexpected_money"]);
    expect(books(found.effects, found.state)).toEqual(books(late.effects, late.state));
    expect(decide(late, notFound(2))._unsafeUnwrap().ignored?.code).toBe("transfer_not_pending");
    // Nothing is left blocked: the admins' retry is refused, not answered ok doing nothing.
    const d = decide(late, retry);
    expect(d.isErr() && d.error.code).toBe("no_blocked_transfer");
  });

  it("the next attempt landed first: the late one is flagged, not booked, and reversals name the booked transfer", () => {
    const r = run(writtenOff(), [created1("sel_a", 2), created1("sel_a", 1)]);
    expect(r.state.status).toBe("settled");
    expect(attemptsOfA(r)).toEqual([
      [1, "created", "api_error", true],
      [2, "created", undefined, undefined],
    ]);
    expect(of(r.last, "open_ticket").map((t) => t.reason)).toEqual(["unexpected_money"]);
    // A dispute won, then a refund: sel_a's part is reversed from tr_sel_a_2, the one booked.
    const refunded = run(r, [dispute(1_000), closed("won", 1_000), refund(2_000)]);
    expect(of(refunded.last, "reverse_transfer").find((e) => e.sellerId === "sel_a")?.transferId).toBe(
      "tr_sel_a_2",
    );
  });
});

// An attempt written off while still asked for (its transfer effect in the outbox, or its first
// try's answer not back yet), whose answer then says its outcome is unknown: Stripe may have
// made that transfer too. Before, the charge ignored the answer (the attempt was no longer in
// flight), so nothing looked it up: with its webhook lost, the seller was paid twice and nobody
// knew (the marketplace model: "Stripe made 2 transfers to sel_a, the charge knows 1").
describe("a split's attempt written off while still asked for, whose answer then comes of unknown outcome", () => {
  /** sel_a's attempt 1 written off, attempt 2 asked; attempt 1 lands late and is booked: attempt 2 written off. */
  const writtenOffAsked = (): Run => {
    const r = run(writtenOff(), [created1("sel_a", 1)]);
    expect(attemptsOfA(r)[1]).toEqual([2, "failed", "another_attempt_landed", undefined]);
    return r;
  };

  for (const failureCode of ["api_error", "timeout", "processing_error", "earlier_try_unheard"])
    it(`(${failureCode}) is looked up once at Stripe; the charge stays settled and nothing else is asked`, () => {
      const r = writtenOffAsked();
      const d = decide(r, failed(2, failureCode))._unsafeUnwrap();
      expect(d.ignored).toBeUndefined();
      expect(d.state.status).toBe("settled");
      expect(d.state.transfers.find((t) => t.sellerId === "sel_a" && t.attempt === 2)).toMatchObject({
        status: "failed",
        failureCode: "another_attempt_landed",
        lookups: 1,
      });
      expect(d.effects).toMatchObject([
        {
          kind: "find_transfer",
          id: `${r.state.id}:transfer:sel_a:attempt:2:lookup:1`,
          sellerId: "sel_a",
          attempt: 2,
          transferEffectId: `${r.state.id}:transfer:sel_a:attempt:2`,
          transferGroup: r.state.transferGroup,
        },
      ]);
    });

  it("only once: the same answer again (a replay, the outbox reporting it too) asks nothing more", () => {
    const asked = run(writtenOffAsked(), [failed(2, "api_error")]);
    for (const code of ["api_error", "earlier_try_unheard"]) {
      const d = decide(asked, failed(2, code))._unsafeUnwrap();
      expect(d.ignored?.code).toBe("transfer_not_pending");
      expect(d.effects).toEqual([]);
    }
  });

  it("found by the look-up: a late transfer, not booked (the seller was paid twice), a ticket and the admins told", () => {
    const asked = run(writtenOffAsked(), [failed(2, "api_error")]);
    const found = run(asked, [created1("sel_a", 2)]);
    expect(found.state.status).toBe("settled");
    expect(attemptsOfA(found)[1]).toEqual([2, "created", "another_attempt_landed", true]);
    expect(of(found.last, "open_ticket").map((t) => t.reason)).toEqual(["unexpected_money"]);
    expect(of(found.last, "notify")).toMatchObject([
      { template: "unexpected_money", to: { kind: "platform_admins" }, data: { attempt: 2, booked: "no" } },
    ]);
    expect(books(found.effects, found.state)).toEqual(books(asked.effects, asked.state));
    expect(of(found.last, "transfer")).toEqual([]);
  });

  it("not found by the look-up: nothing changes", () => {
    const asked = run(writtenOffAsked(), [failed(2, "api_error")]);
    const d = decide(asked, notFound(2))._unsafeUnwrap();
    expect(d.ignored?.code).toBe("transfer_not_pending");
    expect(d.effects).toEqual([]);
  });

  it("a definite failure needs nothing: no look-up", () => {
    const r = writtenOffAsked();
    for (const code of ["account_invalid", "balance_insufficient"]) {
      const d = decide(r, failed(2, code))._unsafeUnwrap();
      expect(d.ignored?.code).toBe("transfer_not_pending");
      expect(d.effects).toEqual([]);
    }
  });
});
