import { describe, expect, it } from "vitest";
import { money } from "../money/index.js";
import {
  balanceOf,
  balancesOf,
  emptyLedger,
  type Ledger,
  ledgerFromTransactions,
  postTransaction,
  transactionById,
  trialBalance,
} from "./ledger.js";
import { checkLedgerInvariants } from "./ledger-invariants.js";
import {
  createLedgerTransaction,
  credit,
  debit,
  type LedgerPosting,
  type LedgerTransaction,
} from "./ledger-transaction.js";

const aud = (amountMinor: number) => money(amountMinor, "AUD");

function tx(id: string, postings: LedgerPosting[], occurredAt = 1000): LedgerTransaction {
  return createLedgerTransaction({ id, kind: "debit_settled", postings, occurredAt })._unsafeUnwrap();
}

function post(ledger: Ledger, ...txs: LedgerTransaction[]): Ledger {
  return txs.reduce((l, t) => postTransaction(l, t)._unsafeUnwrap(), ledger);
}

describe("emptyLedger", () => {
  it("has nothing, and every balance is zero", () => {
    const ledger = emptyLedger();
    expect(ledger.transactions).toEqual([]);
    expect(balanceOf(ledger, "anything", "AUD")).toEqual(aud(0));
    expect(trialBalance(ledger).size).toBe(0);
    expect(checkLedgerInvariants(ledger).isOk()).toBe(true);
  });
});

describe("postTransaction", () => {
  const t1 = tx("t1", [debit("pot", aud(2500)), credit("member", aud(2500))]);
  const t2 = tx("t2", [debit("payout", aud(1000)), credit("pot", aud(1000))]);

  it("appends and keeps balances as debits minus credits", () => {
    const ledger = post(emptyLedger(), t1, t2);
    expect(ledger.transactions).toEqual([t1, t2]);
    expect(balanceOf(ledger, "pot", "AUD")).toEqual(aud(1500));
    expect(balanceOf(ledger, "member", "AUD")).toEqual(aud(-2500));
    expect(balanceOf(ledger, "payout", "AUD")).toEqual(aud(1000));
    expect(balanceOf(ledger, "pot", "USD")).toEqual(money(0, "USD"));
    expect(trialBalance(ledger).get("AUD")).toEqual({ debitsMinor: 3500, creditsMinor: 3500 });
    expect(transactionById(ledger, "t2")).toEqual(t2);
    expect(transactionById(ledger, "nope")).toBeUndefined();
    expect(checkLedgerInvariants(ledger).isOk()).toBe(true);
  });

  it("returns a new ledger and leaves the old one as it was", () => {
    const before = post(emptyLedger(), t1);
    const after = post(before, t2);
    expect(before.transactions).toHaveLength(1);
    expect(balanceOf(before, "pot", "AUD")).toEqual(aud(2500));
    expect(balanceOf(after, "pot", "AUD")).toEqual(aud(1500));
    expect(Object.isFrozen(after) && Object.isFrozen(after.transactions)).toBe(true);
    expect(checkLedgerInvariants(before).isOk() && checkLedgerInvariants(after).isOk()).toBe(true);
  });

  it("is a no-op for the same id with identical content", () => {
    const ledger = post(emptyLedger(), t1);
    const again = postTransaction(ledger, tx("t1", [debit("pot", aud(2500)), credit("member", aud(2500))]));
    expect(again._unsafeUnwrap()).toBe(ledger);
  });

  it("refuses the same id with different content with duplicate_transaction_conflict", () => {
    const ledger = post(emptyLedger(), t1);
    const other = tx("t1", [debit("pot", aud(2600)), credit("member", aud(2600))]);
    expect(postTransaction(ledger, other)._unsafeUnwrapErr()).toMatchObject({
      type: "duplicate_transaction_conflict",
      code: "duplicate_transaction_conflict",
      transactionId: "t1",
    });
  });

  it("checks a hand-built transaction again and refuses an unbalanced one", () => {
    const forged: LedgerTransaction = {
      id: "f",
      kind: "debit_settled",
      postings: [debit("a", aud(10)), credit("b", aud(9))],
      occurredAt: 0,
      refs: {},
    };
    expect(postTransaction(emptyLedger(), forged)._unsafeUnwrapErr().code).toBe("unbalanced_transaction");
  });

  it("refuses a balance leaving the safe integer range with balance_overflow", () => {
    const max = Number.MAX_SAFE_INTEGER;
    const ledger = post(emptyLedger(), tx("big", [debit("a", aud(max)), credit("b", aud(max))]));
    expect(
      postTransaction(ledger, tx("more", [debit("a", aud(1)), credit("c", aud(1))]))._unsafeUnwrapErr(),
    ).toMatchObject({
      code: "balance_overflow",
      currency: "AUD",
    });
  });

  it("keeps currencies apart", () => {
    const ledger = post(
      emptyLedger(),
      tx("a", [debit("pot", aud(100)), credit("m", aud(100))]),
      tx("j", [debit("pot", money(500, "JPY")), credit("m", money(500, "JPY"))]),
    );
    expect(balancesOf(ledger, "pot")).toEqual([aud(100), money(500, "JPY")]);
    expect(balancesOf(ledger, "nobody")).toEqual([]);
    expect([...trialBalance(ledger).keys()]).toEqual(["AUD", "JPY"]);
  });
});

describe("ledgerFromTransactions", () => {
  const t1 = tx("t1", [debit("pot", aud(2500)), credit("member", aud(2500))]);
  const t2 = tx("t2", [debit("payout", aud(2500)), credit("pot", aud(2500))]);

  it("rebuilds the same ledger from stored transactions", () => {
    const original = post(emptyLedger(), t1, t2);
    const loaded = ledgerFromTransactions(original.transactions)._unsafeUnwrap();
    expect(loaded.transactions).toEqual(original.transactions);
    expect(loaded.balancesMinor).toEqual(original.balancesMinor);
    expect(loaded.totals).toEqual(original.totals);
  });

  it("refuses a repeated id, even with identical content (corrupted storage)", () => {
    expect(ledgerFromTransactions([t1, t1])._unsafeUnwrapErr().code).toBe("duplicate_transaction_conflict");
  });
});

describe("checkLedgerInvariants", () => {
  const t1 = tx("t1", [debit("pot", aud(2500)), credit("member", aud(2500))]);
  const sound = post(emptyLedger(), t1);

  const violated = (ledger: Ledger) => {
    const e = checkLedgerInvariants(ledger)._unsafeUnwrapErr();
    return e.type === "ledger_invariant_violated" ? e.invariant : e.type;
  };

  it("returns a sound ledger unchanged", () => {
    expect(checkLedgerInvariants(sound)._unsafeUnwrap()).toBe(sound);
  });

  it("finds stored balances that disagree with the transactions", () => {
    const balancesMinor = new Map(sound.balancesMinor);
    balancesMinor.set("pot", new Map([["AUD", 2400]]));
    expect(violated({ ...sound, balancesMinor })).toBe("balances_disagree");
    const missing = new Map(sound.balancesMinor);
    missing.delete("pot");
    expect(violated({ ...sound, balancesMinor: missing })).toBe("balances_disagree");
  });

  it("finds stored totals that disagree", () => {
    expect(violated({ ...sound, totals: new Map() })).toBe("totals_disagree");
  });

  it("finds an unbalanced or malformed stored transaction", () => {
    const bad: LedgerTransaction = {
      ...t1,
      postings: [debit("pot", aud(2500)), credit("member", aud(2400))],
    };
    expect(violated({ ...sound, transactions: [bad] })).toBe("transaction_invalid");
    const malformed: LedgerTransaction = {
      ...t1,
      postings: [debit("pot", { amountMinor: 0.5, currency: "AUD" }), t1.postings[1]!],
    };
    expect(violated({ ...sound, transactions: [malformed] })).toBe("transaction_invalid");
  });

  it("finds a repeated transaction id", () => {
    expect(violated({ ...sound, transactions: [t1, t1] })).toBe("duplicate_transaction_id");
  });

  it("finds an id index that does not match", () => {
    expect(violated({ ...sound, positionById: new Map() })).toBe("index_disagrees");
    expect(violated({ ...sound, positionById: new Map([["other", 0]]) })).toBe("index_disagrees");
  });
});
