import { describe, expect, it } from "vitest";
import { money } from "../money/index.js";
import { roundIds } from "../round/round-ids.js";
import { balanceOf, emptyLedger, type Ledger, postTransaction } from "./ledger.js";
import { checkLedgerInvariants } from "./ledger-invariants.js";
import {
  createLedgerTransaction,
  credit,
  debit,
  LEDGER_ID_MAX_CHARS,
  type LedgerTransaction,
} from "./ledger-transaction.js";
import { checkRoundMoney, roundMoney } from "./round-money.js";
import {
  contributionOwedToMember,
  contributionRefunded,
  contributionRefundFailed,
  debitFailed,
  debitInitiated,
  debitSettled,
  disputeLoss,
  disputeReinstated,
  payoutTransferred,
  roundAccountPrefix,
  roundAccounts,
  transferReversed,
} from "./round-movements.js";

const aud = (amountMinor: number) => money(amountMinor, "AUD");
const base = { roundId: "r1", amount: aud(2500), occurredAt: 1_000 };

function apply(ledger: Ledger, ...txs: LedgerTransaction[]): Ledger {
  return txs.reduce((l, t) => postTransaction(l, t)._unsafeUnwrap(), ledger);
}

const balance = (ledger: Ledger, account: string) => balanceOf(ledger, account, "AUD").amountMinor;

describe("roundAccounts", () => {
  it("names the accounts of the chart", () => {
    expect(roundAccounts.pot("r1")).toBe("round:r1:pot");
    expect(roundAccounts.inFlight("r1")).toBe("round:r1:in_flight");
    expect(roundAccounts.contributions("r1", "m1")).toBe("round:r1:contributions:m1");
    expect(roundAccounts.refunds("r1", "m1")).toBe("round:r1:refunds:m1");
    expect(roundAccounts.payouts("r1", "m1")).toBe("round:r1:payouts:m1");
    expect(roundAccounts.member("m1")).toBe("member:m1");
    expect(roundAccounts.platformFunds()).toBe("platform:funds");
  });

  it("escapes ':' and '%' in ids so names cannot collide", () => {
    expect(roundAccounts.pot("g1:round:3")).toBe("round:g1%3Around%3A3:pot");
    expect(roundAccounts.member("50%:x")).toBe("member:50%25%3Ax");
    expect(roundAccounts.payouts("r1", "pot")).not.toBe(roundAccounts.pot("r1:payouts"));
    expect(roundAccountPrefix("r1")).toBe("round:r1:");
  });
});

describe("round movements", () => {
  it("debitInitiated: in flight / member's contributions, with refs", () => {
    const tx = debitInitiated({
      ...base,
      id: "e1",
      memberId: "m1",
      refs: { paymentIntentId: "pi_1" },
    })._unsafeUnwrap();
    expect(tx.kind).toBe("debit_initiated");
    expect(tx.postings).toEqual([
      { account: "round:r1:in_flight", side: "debit", amount: aud(2500) },
      { account: "round:r1:contributions:m1", side: "credit", amount: aud(2500) },
    ]);
    expect(tx.refs).toEqual({ paymentIntentId: "pi_1", roundId: "r1", memberId: "m1" });
  });

  it("refs from the input cannot override roundId and memberId", () => {
    const tx = debitInitiated({
      ...base,
      id: "e1",
      memberId: "m1",
      refs: { roundId: "other" },
    })._unsafeUnwrap();
    expect(tx.refs.roundId).toBe("r1");
  });

  it("debitFailed undoes debitInitiated", () => {
    const ledger = apply(
      emptyLedger(),
      debitInitiated({ ...base, id: "e1", memberId: "m1" })._unsafeUnwrap(),
      debitFailed({ ...base, id: "e2", memberId: "m1" })._unsafeUnwrap(),
    );
    expect(balance(ledger, roundAccounts.inFlight("r1"))).toBe(0);
    expect(balance(ledger, roundAccounts.contributions("r1", "m1"))).toBe(0);
    expect(ledger.transactions[1]?.kind).toBe("debit_failed");
  });

  it("debitSettled moves in flight to the pot", () => {
    const ledger = apply(
      emptyLedger(),
      debitInitiated({ ...base, id: "e1", memberId: "m1" })._unsafeUnwrap(),
      debitSettled({ ...base, id: "e2", memberId: "m1" })._unsafeUnwrap(),
    );
    expect(balance(ledger, roundAccounts.inFlight("r1"))).toBe(0);
    expect(balance(ledger, roundAccounts.pot("r1"))).toBe(2500);
    expect(ledger.transactions[1]?.kind).toBe("debit_settled");
  });

  it("contributionRefunded moves the pot back to the member", () => {
    const tx = contributionRefunded({ ...base, id: "e", memberId: "m1" })._unsafeUnwrap();
    expect(tx.kind).toBe("contribution_refunded");
    expect(tx.postings.map((p) => [p.side, p.account])).toEqual([
      ["debit", "round:r1:refunds:m1"],
      ["credit", "round:r1:pot"],
    ]);
  });

  it("payoutTransferred moves the pot to the recipient, transferReversed back", () => {
    const paid = payoutTransferred({ ...base, id: "p", recipientMemberId: "m2" })._unsafeUnwrap();
    expect(paid.kind).toBe("payout_transferred");
    expect(paid.refs).toEqual({ roundId: "r1", memberId: "m2" });
    expect(paid.postings.map((p) => [p.side, p.account])).toEqual([
      ["debit", "round:r1:payouts:m2"],
      ["credit", "round:r1:pot"],
    ]);
    const reversed = transferReversed({ ...base, id: "v", memberId: "m2" })._unsafeUnwrap();
    expect(reversed.kind).toBe("transfer_reversed");
    expect(reversed.postings.map((p) => [p.side, p.account])).toEqual([
      ["debit", "round:r1:pot"],
      ["credit", "round:r1:payouts:m2"],
    ]);
  });

  it("disputeLoss records a receivable against the member, funded by the platform, and leaves the round alone", () => {
    const ledger = apply(
      emptyLedger(),
      debitInitiated({ ...base, id: "e1", memberId: "m1" })._unsafeUnwrap(),
      debitSettled({ ...base, id: "e2", memberId: "m1" })._unsafeUnwrap(),
      payoutTransferred({ ...base, id: "p", recipientMemberId: "m2" })._unsafeUnwrap(),
      disputeLoss({ ...base, id: "d", memberId: "m1", refs: { disputeId: "dp_1" } })._unsafeUnwrap(),
    );
    expect(ledger.transactions[3]?.kind).toBe("dispute_loss");
    expect(balance(ledger, roundAccounts.member("m1"))).toBe(2500);
    expect(balance(ledger, roundAccounts.platformFunds())).toBe(-2500);
    expect(balance(ledger, roundAccounts.pot("r1"))).toBe(0);
    expect(balance(ledger, roundAccounts.payouts("r1", "m2"))).toBe(2500);
    const won = apply(ledger, disputeReinstated({ ...base, id: "w", memberId: "m1" })._unsafeUnwrap());
    expect(balance(won, roundAccounts.member("m1"))).toBe(0);
    expect(won.transactions[4]?.kind).toBe("dispute_reinstated");
  });

  it("refuse empty round or member ids with invalid_account_id", () => {
    expect(debitInitiated({ ...base, roundId: "", id: "e", memberId: "m1" })._unsafeUnwrapErr().code).toBe(
      "invalid_account_id",
    );
    expect(payoutTransferred({ ...base, id: "e", recipientMemberId: "" })._unsafeUnwrapErr().code).toBe(
      "invalid_account_id",
    );
    expect(
      debitInitiated({ ...base, id: "e", memberId: "x".repeat(LEDGER_ID_MAX_CHARS) })._unsafeUnwrapErr().code,
    ).toBe("invalid_account_id");
  });

  it("take a member id as long as a token's subject (255 characters, every ':' escaped) in the longest round id", () => {
    const memberId = `auth0|${":".repeat(249)}`;
    const roundId = roundIds.round(`g${"x".repeat(99)}`, 99, 999);
    const debitId = roundIds.debit(roundId, memberId, 99);
    const initiated = debitInitiated({
      ...base,
      roundId,
      id: roundIds.ledger.debitInitiatedLate(debitId),
      memberId,
    })._unsafeUnwrap();
    expect(initiated.postings.map((p) => p.account)).toContain(
      roundAccounts.contributions(roundId, memberId),
    );
    expect(roundAccounts.contributions(roundId, memberId).length).toBeGreaterThan(800);
    const paid = payoutTransferred({
      ...base,
      roundId,
      id: "e",
      recipientMemberId: memberId,
    })._unsafeUnwrap();
    expect(paid.postings.map((p) => p.account)).toContain(roundAccounts.payouts(roundId, memberId));
  });

  it("refuse non-positive amounts with non_positive_amount", () => {
    expect(debitInitiated({ ...base, amount: aud(0), id: "e", memberId: "m1" })._unsafeUnwrapErr().code).toBe(
      "non_positive_amount",
    );
    expect(disputeLoss({ ...base, amount: aud(-1), id: "e", memberId: "m1" })._unsafeUnwrapErr().code).toBe(
      "non_positive_amount",
    );
  });
});

describe("a whole round in the ledger", () => {
  const members = ["m1", "m2", "m3"];

  function collected(): Ledger {
    let ledger = emptyLedger();
    for (const m of members) {
      ledger = apply(
        ledger,
        debitInitiated({ ...base, id: `r1:${m}:init`, memberId: m })._unsafeUnwrap(),
        debitSettled({ ...base, id: `r1:${m}:settled`, memberId: m })._unsafeUnwrap(),
      );
    }
    return ledger;
  }

  it("paid out: the pot and in flight end at zero and the money adds up", () => {
    let ledger = collected();
    expect(balance(ledger, roundAccounts.pot("r1"))).toBe(7500);
    for (const m of members) {
      ledger = apply(
        ledger,
        payoutTransferred({ ...base, id: `r1:payout:${m}`, recipientMemberId: "m2" })._unsafeUnwrap(),
      );
    }
    expect(balance(ledger, roundAccounts.pot("r1"))).toBe(0);
    expect(roundMoney(ledger, "r1", "AUD")).toEqual({
      roundId: "r1",
      currency: "AUD",
      contributedMinor: 7500,
      inFlightMinor: 0,
      heldMinor: 0,
      refundedMinor: 0,
      paidOutMinor: 7500,
      owedToMemberMinor: 0,
      paidOutsideStripeMinor: 0,
    });
    expect(checkRoundMoney(ledger, "r1", "AUD").isOk()).toBe(true);
    expect(checkLedgerInvariants(ledger).isOk()).toBe(true);
  });

  it("cancelled: one debit failed, the others refunded, the pot ends at zero", () => {
    let ledger = apply(
      emptyLedger(),
      debitInitiated({ ...base, id: "i1", memberId: "m1" })._unsafeUnwrap(),
      debitInitiated({ ...base, id: "i2", memberId: "m2" })._unsafeUnwrap(),
      debitSettled({ ...base, id: "s1", memberId: "m1" })._unsafeUnwrap(),
    );
    expect(roundMoney(ledger, "r1", "AUD")).toMatchObject({
      contributedMinor: 5000,
      inFlightMinor: 2500,
      heldMinor: 2500,
    });
    ledger = apply(
      ledger,
      debitFailed({ ...base, id: "f2", memberId: "m2" })._unsafeUnwrap(),
      contributionRefunded({ ...base, id: "rf1", memberId: "m1" })._unsafeUnwrap(),
    );
    expect(roundMoney(ledger, "r1", "AUD")).toMatchObject({
      contributedMinor: 2500,
      inFlightMinor: 0,
      heldMinor: 0,
      refundedMinor: 2500,
      paidOutMinor: 0,
    });
    expect(checkRoundMoney(ledger, "r1", "AUD").isOk()).toBe(true);
  });

  it("a refund failed after its success is reversed, and the rest of a disputed contribution is owed, not refunded", () => {
    let ledger = apply(
      emptyLedger(),
      debitInitiated({ ...base, id: "i1", memberId: "m1" })._unsafeUnwrap(),
      debitSettled({ ...base, id: "s1", memberId: "m1" })._unsafeUnwrap(),
      contributionRefunded({ ...base, id: "rf1", memberId: "m1" })._unsafeUnwrap(),
    );
    const reversed = contributionRefundFailed({ ...base, id: "rf1:failed", memberId: "m1" })._unsafeUnwrap();
    const owed = contributionOwedToMember({
      ...base,
      id: "owed",
      memberId: "m1",
      amount: aud(2_400),
    })._unsafeUnwrap();
    expect([reversed, owed].map((t) => [t.kind, t.postings.map((p) => [p.account, p.side])])).toEqual([
      [
        "contribution_refund_failed",
        [
          ["round:r1:pot", "debit"],
          ["round:r1:refunds:m1", "credit"],
        ],
      ],
      [
        "contribution_owed_to_member",
        [
          ["round:r1:owed_to_member:m1", "debit"],
          ["round:r1:pot", "credit"],
        ],
      ],
    ]);
    ledger = apply(
      ledger,
      reversed,
      contributionRefunded({
        ...base,
        id: "withdrawn",
        memberId: "m1",
        amount: aud(100),
      })._unsafeUnwrap(),
      owed,
    );
    expect(checkRoundMoney(ledger, "r1", "AUD")._unsafeUnwrap()).toMatchObject({
      contributedMinor: 2500,
      heldMinor: 0,
      refundedMinor: 100,
      owedToMemberMinor: 2_400,
    });
  });

  it("an empty round reads all zeros (never -0)", () => {
    const m = roundMoney(emptyLedger(), "r1", "AUD");
    expect(Object.is(m.contributedMinor, 0)).toBe(true);
    expect(checkRoundMoney(emptyLedger(), "r1", "AUD").isOk()).toBe(true);
  });

  it("checkRoundMoney catches a foreign transaction that drains the pot", () => {
    const drain = createLedgerTransaction({
      id: "x",
      kind: "payout_transferred",
      postings: [debit("somewhere:else", aud(100)), credit(roundAccounts.pot("r1"), aud(100))],
      occurredAt: 0,
    })._unsafeUnwrap();
    const ledger = apply(collected(), drain);
    expect(checkRoundMoney(ledger, "r1", "AUD")._unsafeUnwrapErr()).toMatchObject({
      code: "ledger_invariant_violated",
      invariant: "round_money_unbalanced",
    });
  });
});
