import { describe, expect, it } from "vitest";
import { type Money, money } from "../money/index.js";
import {
  checkAccountId,
  createLedgerTransaction,
  credit,
  debit,
  LEDGER_ID_MAX_CHARS,
  LEDGER_POSTINGS_MAX,
  LEDGER_REFS_MAX,
  type LedgerTransactionInput,
  sameTransactionContent,
} from "./ledger-transaction.js";

const aud = (amountMinor: number) => money(amountMinor, "AUD");

const input = (overrides: Partial<LedgerTransactionInput> = {}): LedgerTransactionInput => ({
  id: "tx1",
  kind: "debit_settled",
  postings: [debit("round:r1:pot", aud(2500)), credit("round:r1:in_flight", aud(2500))],
  occurredAt: 1_700_000_000_000,
  ...overrides,
});

describe("createLedgerTransaction", () => {
  it("makes a frozen, balanced transaction with empty refs by default", () => {
    const tx = createLedgerTransaction(input())._unsafeUnwrap();
    expect(tx).toEqual({
      id: "tx1",
      kind: "debit_settled",
      postings: [
        { account: "round:r1:pot", side: "debit", amount: aud(2500) },
        { account: "round:r1:in_flight", side: "credit", amount: aud(2500) },
      ],
      occurredAt: 1_700_000_000_000,
      refs: {},
    });
    expect(Object.isFrozen(tx) && Object.isFrozen(tx.postings) && Object.isFrozen(tx.refs)).toBe(true);
  });

  it("copies its input, so later changes to it do not reach the transaction", () => {
    const postings = [debit("a", aud(1)), credit("b", aud(1))];
    const refs: Record<string, string> = { roundId: "r1" };
    const tx = createLedgerTransaction(input({ postings, refs }))._unsafeUnwrap();
    postings.push(debit("c", aud(5)));
    refs.roundId = "r2";
    expect(tx.postings).toHaveLength(2);
    expect(tx.refs.roundId).toBe("r1");
  });

  it("accepts several postings and several currencies, each balanced", () => {
    const tx = createLedgerTransaction(
      input({
        postings: [
          debit("a", aud(300)),
          credit("b", aud(100)),
          credit("c", aud(200)),
          debit("x", money(5, "JPY")),
          credit("y", money(5, "JPY")),
        ],
      }),
    );
    expect(tx.isOk()).toBe(true);
  });

  it("refuses no postings and one posting with too_few_postings", () => {
    expect(createLedgerTransaction(input({ postings: [] }))._unsafeUnwrapErr()).toMatchObject({
      type: "too_few_postings",
      code: "too_few_postings",
      postingCount: 0,
    });
    expect(createLedgerTransaction(input({ postings: [debit("a", aud(1))] }))._unsafeUnwrapErr().code).toBe(
      "too_few_postings",
    );
  });

  it("refuses more than LEDGER_POSTINGS_MAX postings with too_many_postings", () => {
    const half = LEDGER_POSTINGS_MAX / 2 + 1;
    const postings = [
      ...Array.from({ length: half }, () => debit("a", aud(1))),
      ...Array.from({ length: half }, () => credit("b", aud(1))),
    ];
    expect(createLedgerTransaction(input({ postings }))._unsafeUnwrapErr().code).toBe("too_many_postings");
  });

  it("refuses zero and negative amounts with non_positive_amount", () => {
    expect(
      createLedgerTransaction(
        input({ postings: [debit("a", aud(0)), credit("b", aud(0))] }),
      )._unsafeUnwrapErr(),
    ).toMatchObject({ code: "non_positive_amount", account: "a", amountMinor: 0 });
    expect(
      createLedgerTransaction(
        input({ postings: [debit("a", aud(-5)), credit("b", aud(-5))] }),
      )._unsafeUnwrapErr().code,
    ).toBe("non_positive_amount");
  });

  it("refuses a transaction unbalanced in any currency with unbalanced_transaction", () => {
    expect(
      createLedgerTransaction(
        input({ postings: [debit("a", aud(100)), credit("b", aud(99))] }),
      )._unsafeUnwrapErr(),
    ).toMatchObject({
      type: "unbalanced_transaction",
      code: "unbalanced_transaction",
      currency: "AUD",
      debitsMinor: 100,
      creditsMinor: 99,
    });
    // balanced in total minor units, but not per currency
    const mixed = [debit("a", aud(100)), credit("b", money(100, "USD"))];
    expect(createLedgerTransaction(input({ postings: mixed }))._unsafeUnwrapErr().code).toBe(
      "unbalanced_transaction",
    );
    // two debits and nothing else
    expect(
      createLedgerTransaction(
        input({ postings: [debit("a", aud(1)), debit("b", aud(1))] }),
      )._unsafeUnwrapErr().code,
    ).toBe("unbalanced_transaction");
  });

  it("refuses a bad id with invalid_transaction_id", () => {
    expect(createLedgerTransaction(input({ id: "" }))._unsafeUnwrapErr().code).toBe("invalid_transaction_id");
    expect(
      createLedgerTransaction(input({ id: "x".repeat(LEDGER_ID_MAX_CHARS + 1) }))._unsafeUnwrapErr().code,
    ).toBe("invalid_transaction_id");
  });

  it("refuses a bad account with invalid_account_id", () => {
    const postings = [debit("", aud(1)), credit("b", aud(1))];
    expect(createLedgerTransaction(input({ postings }))._unsafeUnwrapErr().code).toBe("invalid_account_id");
    expect(checkAccountId("x".repeat(LEDGER_ID_MAX_CHARS + 1))._unsafeUnwrapErr().code).toBe(
      "invalid_account_id",
    );
    expect(checkAccountId("round:r1:pot")._unsafeUnwrap()).toBe("round:r1:pot");
  });

  it("refuses a time that is not non-negative integer epoch ms with invalid_occurred_at", () => {
    for (const occurredAt of [-1, 1.5, Number.NaN]) {
      expect(createLedgerTransaction(input({ occurredAt }))._unsafeUnwrapErr().code).toBe(
        "invalid_occurred_at",
      );
    }
  });

  it("refuses bad refs with invalid_refs", () => {
    const many = Object.fromEntries(Array.from({ length: LEDGER_REFS_MAX + 1 }, (_, i) => [`k${i}`, "v"]));
    for (const refs of [many, { "": "v" }, { k: "" }, { k: "v".repeat(256) }]) {
      expect(createLedgerTransaction(input({ refs }))._unsafeUnwrapErr().code).toBe("invalid_refs");
    }
  });

  it("refuses a sum of postings beyond the safe integer range with balance_overflow", () => {
    const max = Number.MAX_SAFE_INTEGER;
    const postings = [debit("a", aud(max)), debit("a", aud(1)), credit("b", aud(max)), credit("b", aud(1))];
    expect(createLedgerTransaction(input({ postings }))._unsafeUnwrapErr().code).toBe("balance_overflow");
  });

  it("throws for a hand-built posting that breaks the types (a bug)", () => {
    const badAmount = { amountMinor: 1.5, currency: "AUD" } as Money;
    expect(() =>
      createLedgerTransaction(input({ postings: [debit("a", badAmount), credit("b", badAmount)] })),
    ).toThrow(RangeError);
    const badSide = { account: "a", side: "both", amount: aud(1) } as never;
    expect(() => createLedgerTransaction(input({ postings: [badSide, credit("b", aud(1))] }))).toThrow(
      TypeError,
    );
  });
});

describe("sameTransactionContent", () => {
  const tx = createLedgerTransaction(input({ refs: { a: "1", b: "2" } }))._unsafeUnwrap();

  it("is true for the same content, refs in any order", () => {
    expect(
      sameTransactionContent(
        tx,
        createLedgerTransaction(input({ refs: { b: "2", a: "1" } }))._unsafeUnwrap(),
      ),
    ).toBe(true);
  });

  it("is false when anything differs", () => {
    const variants: LedgerTransactionInput[] = [
      input({ refs: { a: "1" } }),
      input({ refs: { a: "1", b: "3" } }),
      input({ kind: "debit_failed", refs: { a: "1", b: "2" } }),
      input({ occurredAt: 1, refs: { a: "1", b: "2" } }),
      input({
        postings: [debit("round:r1:pot", aud(2501)), credit("round:r1:in_flight", aud(2501))],
        refs: { a: "1", b: "2" },
      }),
      input({
        postings: [credit("round:r1:in_flight", aud(2500)), debit("round:r1:pot", aud(2500))],
        refs: { a: "1", b: "2" },
      }),
    ];
    for (const variant of variants) {
      expect(sameTransactionContent(tx, createLedgerTransaction(variant)._unsafeUnwrap())).toBe(false);
    }
  });
});
