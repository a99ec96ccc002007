import fc from "fast-check";
import { err, ok, type Result } from "neverthrow";
import { describe, expect, it } from "vitest";
import { allocate, type CurrencyCode, money } from "../money/index.js";
import { duplicateTransactionConflict, type LedgerError } from "./ledger.errors.js";
import {
  balanceOf,
  emptyLedger,
  type Ledger,
  ledgerFromTransactions,
  postTransaction,
  trialBalance,
} from "./ledger.js";
import { checkLedgerInvariants } from "./ledger-invariants.js";
import {
  createLedgerTransaction,
  type LedgerPosting,
  type LedgerTransaction,
  type LedgerTransactionKind,
} from "./ledger-transaction.js";

// numRuns: 60 for sequences of up to 20 transactions (invariants re-checked after every
// post), 200 for single transactions. Each property stays well under 1 s.
const accounts = ["cash", "pot", "in_flight", "member:a", "member:b", "fees"] as const;
const currencies: readonly CurrencyCode[] = ["AUD", "JPY", "KWD", "USD"];
const kinds: readonly LedgerTransactionKind[] = ["debit_initiated", "debit_settled", "payout_transferred"];

const account = fc.constantFrom(...accounts);
const amountMinor = fc.oneof(
  fc.integer({ min: 1, max: 10_000 }),
  fc.integer({ min: 1, max: 1_000_000_000_000 }),
);

/** Postings in one currency that balance: some debits, and their total split across credit accounts. */
const balancedLeg = fc
  .record({
    currency: fc.constantFrom(...currencies),
    debits: fc.array(fc.record({ account, amountMinor }), { minLength: 1, maxLength: 3 }),
    credits: fc.array(fc.record({ account, ratio: fc.integer({ min: 1, max: 9 }) }), {
      minLength: 1,
      maxLength: 3,
    }),
  })
  .map(({ currency, debits, credits }): LedgerPosting[] => {
    const totalMinor = debits.reduce((acc, d) => acc + d.amountMinor, 0);
    const shares = allocate(
      money(totalMinor, currency),
      credits.map((c) => c.ratio),
    )._unsafeUnwrap();
    return [
      ...debits.map((d) => ({
        account: d.account,
        side: "debit" as const,
        amount: money(d.amountMinor, currency),
      })),
      ...credits
        .map((c, i) => ({ account: c.account, side: "credit" as const, amount: shares[i]! }))
        .filter((p) => p.amount.amountMinor > 0),
    ];
  });

const balancedPostings = fc
  .array(balancedLeg, { minLength: 1, maxLength: 2 })
  .map((legs) => legs.flat())
  .filter((postings) => postings.length >= 2);

const txInput = fc.record({
  kind: fc.constantFrom(...kinds),
  postings: balancedPostings,
  occurredAt: fc.nat(),
});

function build(
  id: string,
  input: { kind: LedgerTransactionKind; postings: LedgerPosting[]; occurredAt: number },
) {
  return createLedgerTransaction({ id, ...input })._unsafeUnwrap();
}

function expectSound(ledger: Ledger): void {
  expect(checkLedgerInvariants(ledger).isOk()).toBe(true);
  for (const [, line] of trialBalance(ledger)) expect(line.debitsMinor).toBe(line.creditsMinor);
}

describe("ledger (properties)", () => {
  it("any sequence of valid transactions keeps the ledger balanced per currency and balances equal to a naive model", () => {
    fc.assert(
      fc.property(fc.array(txInput, { maxLength: 20 }), (inputs) => {
        let ledger = emptyLedger();
        const model = new Map<string, number>();
        inputs.forEach((input, i) => {
          ledger = postTransaction(ledger, build(`tx${i}`, input))._unsafeUnwrap();
          for (const p of input.postings) {
            const key = `${p.amount.currency} ${p.account}`;
            model.set(key, (model.get(key) ?? 0) + (p.side === "debit" ? 1 : -1) * p.amount.amountMinor);
          }
          expectSound(ledger);
        });
        for (const c of currencies) {
          let totalMinor = 0;
          for (const a of accounts) {
            const balanceMinor = balanceOf(ledger, a, c).amountMinor;
            expect(balanceMinor).toBe(model.get(`${c} ${a}`) ?? 0);
            totalMinor += balanceMinor;
          }
          expect(totalMinor).toBe(0);
        }
        // save → load: rebuilding from the stored transactions gives the same ledger
        const loaded = ledgerFromTransactions(ledger.transactions)._unsafeUnwrap();
        expect(loaded.balancesMinor).toEqual(ledger.balancesMinor);
        expect(loaded.totals).toEqual(ledger.totals);
        expectSound(loaded);
      }),
      { numRuns: 60 },
    );
  });

  it("always refuses a transaction that is unbalanced in some currency", () => {
    fc.assert(
      fc.property(
        balancedPostings,
        fc.nat(),
        fc.integer({ min: -1_000, max: 1_000 }).filter((d) => d !== 0),
        (postings, pick, delta) => {
          const index = pick % postings.length;
          const target = postings[index]!;
          const changedMinor = target.amount.amountMinor + delta;
          fc.pre(changedMinor > 0);
          const tampered = postings.map((p, i) =>
            i === index ? { ...p, amount: money(changedMinor, p.amount.currency) } : p,
          );
          const result = createLedgerTransaction({
            id: "t",
            kind: "debit_settled",
            postings: tampered,
            occurredAt: 0,
          });
          expect(result._unsafeUnwrapErr()).toMatchObject({
            code: "unbalanced_transaction",
            currency: target.amount.currency,
          });
          // dropping any posting unbalances it too (amounts are positive)
          const dropped = postings.filter((_, i) => i !== index);
          const droppedResult = createLedgerTransaction({
            id: "t",
            kind: "debit_settled",
            postings: dropped,
            occurredAt: 0,
          });
          expect(droppedResult._unsafeUnwrapErr().code).toBe(
            dropped.length < 2 ? "too_few_postings" : "unbalanced_transaction",
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it("posting the same transaction again is a no-op; the same id with other content is a conflict", () => {
    fc.assert(
      fc.property(
        fc.array(txInput, { minLength: 1, maxLength: 15 }),
        fc.array(fc.nat()),
        (inputs, replays) => {
          let ledger = emptyLedger();
          const posted: LedgerTransaction[] = [];
          inputs.forEach((input, i) => {
            const tx = build(`tx${i}`, input);
            posted.push(tx);
            ledger = postTransaction(ledger, tx)._unsafeUnwrap();
          });
          for (const r of replays) {
            const i = r % inputs.length;
            // a fresh, equal copy, as a retried step would build it
            const again = postTransaction(ledger, build(`tx${i}`, inputs[i]!))._unsafeUnwrap();
            expect(again).toBe(ledger);
            const changed = { ...inputs[i]!, occurredAt: inputs[i]!.occurredAt + 1 };
            expect(postTransaction(ledger, build(`tx${i}`, changed))._unsafeUnwrapErr().code).toBe(
              "duplicate_transaction_conflict",
            );
          }
          expect(ledger.transactions).toEqual(posted);
          expectSound(ledger);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("rebuilding posts in one pass what posting the stored transactions one by one would: the same ledger, or the same error", () => {
    // Stored rows as a load reads them, not checked yet: ids from a small set (repeats),
    // amounts near the safe-integer limit (overflows), and some rows tampered (unbalanced).
    const hugeMinor = fc.integer({ min: 2 ** 51, max: Number.MAX_SAFE_INTEGER });
    const storedRow = fc.record({
      id: fc.constantFrom("t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7"),
      kind: fc.constantFrom(...kinds),
      postings: fc.oneof(
        { weight: 6, arbitrary: balancedPostings },
        {
          weight: 2,
          arbitrary: fc
            .record({ currency: fc.constantFrom(...currencies), huge: hugeMinor, to: account })
            .map(({ currency, huge, to }): LedgerPosting[] => [
              { account: "cash", side: "debit", amount: money(huge, currency) },
              { account: to, side: "credit", amount: money(huge, currency) },
            ]),
        },
        {
          weight: 1,
          arbitrary: balancedPostings.map((postings) =>
            postings.map((p, i) =>
              i === 0 ? { ...p, amount: money(p.amount.amountMinor + 1, p.amount.currency) } : p,
            ),
          ),
        },
      ),
      occurredAt: fc.nat(),
      refs: fc.constant({}),
    });
    /** The rebuild as it was written before: each transaction posted in turn, a repeated id refused. */
    const oneByOne = (rows: readonly LedgerTransaction[]): Result<Ledger, LedgerError> => {
      let ledger = emptyLedger();
      for (const row of rows) {
        if (ledger.positionById.has(row.id)) return err(duplicateTransactionConflict(row.id));
        const posted = postTransaction(ledger, row);
        if (posted.isErr()) return err(posted.error);
        ledger = posted.value;
      }
      return ok(ledger);
    };
    fc.assert(
      fc.property(fc.array(storedRow, { maxLength: 12 }), (rows) => {
        const rebuilt = ledgerFromTransactions(rows);
        const expected = oneByOne(rows);
        if (expected.isErr()) {
          expect(rebuilt._unsafeUnwrapErr()).toEqual(expected.error);
          return;
        }
        const ledger = rebuilt._unsafeUnwrap();
        expect(ledger.transactions).toEqual(expected.value.transactions);
        expect(ledger.balancesMinor).toEqual(expected.value.balancesMinor);
        expect(ledger.totals).toEqual(expected.value.totals);
        expect(ledger.positionById).toEqual(expected.value.positionById);
        expect(Object.isFrozen(ledger) && Object.isFrozen(ledger.transactions)).toBe(true);
        expectSound(ledger);
      }),
      { numRuns: 300 },
    );
  });
});
