import fc from "fast-check";
import type { Result } from "neverthrow";
import { describe, expect, it } from "vitest";
import { type CurrencyCode, type Money, money } from "../money/index.js";
import type { LedgerError } from "./ledger.errors.js";
import { balanceOf, emptyLedger, type Ledger, postTransaction, trialBalance } from "./ledger.js";
import { checkLedgerInvariants } from "./ledger-invariants.js";
import type { LedgerTransaction } from "./ledger-transaction.js";
import { checkRoundMoney } from "./round-money.js";
import {
  contributionRefunded,
  debitFailed,
  debitInitiated,
  debitSettled,
  disputeLoss,
  payoutTransferred,
  roundAccounts,
  transferReversed,
} from "./round-movements.js";

// Random sequences of round movements over two rounds whose ids share a prefix and
// contain ":" (the account names must keep them apart), interpreted against a simple
// model; an intent that does not apply to the model's state is skipped, and "replay"
// re-posts an earlier transaction (a retried step). After every step the ledger must be
// sound and every balance must equal the model's formula; at the end each round is
// finished (all paid out, or all refunded) and its pot and in-flight accounts are zero.
// numRuns 100, up to 40 intents each.

const ROUNDS = ["g1:r1", "g1:r10"] as const;
const MEMBERS = ["m0", "m1", "m2", "m3"] as const;
const OPS = ["initiate", "fail", "settle", "refund", "payout", "reverse", "dispute", "replay"] as const;

type Status = "none" | "in_flight" | "settled" | "failed";

interface RoundModel {
  readonly status: Map<string, Status>;
  /** What each member may still be refunded: settled minus refunded. */
  readonly refundable: Map<string, number>;
  initiatedMinor: number;
  failedMinor: number;
  settledMinor: number;
  refundedMinor: number;
  paidOutMinor: number;
  reversedMinor: number;
}

const newRound = (): RoundModel => ({
  status: new Map(MEMBERS.map((m) => [m, "none"])),
  refundable: new Map(MEMBERS.map((m) => [m, 0])),
  initiatedMinor: 0,
  failedMinor: 0,
  settledMinor: 0,
  refundedMinor: 0,
  paidOutMinor: 0,
  reversedMinor: 0,
});

const potMinor = (r: RoundModel) => r.settledMinor - r.refundedMinor - r.paidOutMinor + r.reversedMinor;
const inFlightMinor = (r: RoundModel) => r.initiatedMinor - r.failedMinor - r.settledMinor;
const part = (total: number, percent: number) => Math.max(1, Math.floor((total * percent) / 100));

const intent = fc.record({
  op: fc.constantFrom(...OPS),
  round: fc.nat(ROUNDS.length - 1),
  member: fc.nat(MEMBERS.length - 1),
  percent: fc.integer({ min: 1, max: 100 }),
});

const scenario = fc.record({
  currency: fc.constantFrom<CurrencyCode>("AUD", "JPY", "KWD"),
  contributionMinor: fc.integer({ min: 50, max: 1_000_000 }),
  recipient: fc.nat(MEMBERS.length - 1),
  intents: fc.array(intent, { maxLength: 40 }),
  ending: fc.constantFrom("paid_out", "refunded"),
  settleInFlight: fc.boolean(),
});

describe("round movements (property)", () => {
  it("random sequences keep the ledger sound and the pot equal to settled − refunds − payouts + reversals", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        let ledger: Ledger = emptyLedger();
        let step = 0;
        const posted: LedgerTransaction[] = [];
        const rounds = new Map<string, RoundModel>(ROUNDS.map((r) => [r, newRound()]));
        const receivable = new Map<string, number>(MEMBERS.map((m) => [m, 0]));
        const amount = (minor: number): Money => money(minor, s.currency);
        const recipient = MEMBERS[s.recipient]!;

        const post = (built: Result<LedgerTransaction, LedgerError>) => {
          const tx = built._unsafeUnwrap();
          ledger = postTransaction(ledger, tx)._unsafeUnwrap();
          posted.push(tx);
        };

        const check = () => {
          expect(checkLedgerInvariants(ledger).isOk()).toBe(true);
          for (const [, line] of trialBalance(ledger)) expect(line.debitsMinor).toBe(line.creditsMinor);
          for (const [roundId, r] of rounds) {
            const held = balanceOf(ledger, roundAccounts.pot(roundId), s.currency).amountMinor;
            expect(held).toBe(potMinor(r));
            expect(balanceOf(ledger, roundAccounts.inFlight(roundId), s.currency).amountMinor).toBe(
              inFlightMinor(r),
            );
            const summary = checkRoundMoney(ledger, roundId, s.currency)._unsafeUnwrap();
            expect(summary.contributedMinor).toBe(r.initiatedMinor - r.failedMinor);
            expect(summary.refundedMinor).toBe(r.refundedMinor);
            expect(summary.paidOutMinor).toBe(r.paidOutMinor - r.reversedMinor);
          }
          for (const m of MEMBERS) {
            expect(balanceOf(ledger, roundAccounts.member(m), s.currency).amountMinor).toBe(
              receivable.get(m),
            );
          }
        };

        const apply = (op: (typeof OPS)[number], roundId: string, memberId: string, percent: number) => {
          const r = rounds.get(roundId)!;
          const status = r.status.get(memberId)!;
          const id = `${roundId}:${step++}:${op}:${memberId}`;
          const base = { id, roundId, memberId, occurredAt: step };
          switch (op) {
            case "initiate":
              if (status !== "none" && status !== "failed") return;
              post(debitInitiated({ ...base, amount: amount(s.contributionMinor) }));
              r.status.set(memberId, "in_flight");
              r.initiatedMinor += s.contributionMinor;
              return;
            case "fail":
              if (status !== "in_flight") return;
              post(debitFailed({ ...base, amount: amount(s.contributionMinor) }));
              r.status.set(memberId, "failed");
              r.failedMinor += s.contributionMinor;
              return;
            case "settle":
              if (status !== "in_flight") return;
              post(debitSettled({ ...base, amount: amount(s.contributionMinor) }));
              r.status.set(memberId, "settled");
              r.settledMinor += s.contributionMinor;
              r.refundable.set(memberId, r.refundable.get(memberId)! + s.contributionMinor);
              return;
            case "refund": {
              const limit = Math.min(r.refundable.get(memberId)!, potMinor(r));
              if (limit <= 0) return;
              const refundMinor = Math.min(limit, part(s.contributionMinor, percent));
              post(contributionRefunded({ ...base, amount: amount(refundMinor) }));
              r.refundable.set(memberId, r.refundable.get(memberId)! - refundMinor);
              r.refundedMinor += refundMinor;
              return;
            }
            case "payout": {
              if (potMinor(r) <= 0) return;
              const payoutMinor = part(potMinor(r), percent);
              const { memberId: _, ...rest } = base;
              post(payoutTransferred({ ...rest, recipientMemberId: recipient, amount: amount(payoutMinor) }));
              r.paidOutMinor += payoutMinor;
              return;
            }
            case "reverse": {
              const netMinor = r.paidOutMinor - r.reversedMinor;
              if (netMinor <= 0) return;
              const reversalMinor = part(netMinor, percent);
              post(transferReversed({ ...base, memberId: recipient, amount: amount(reversalMinor) }));
              r.reversedMinor += reversalMinor;
              return;
            }
            case "dispute":
              if (status !== "settled") return;
              post(disputeLoss({ ...base, amount: amount(s.contributionMinor) }));
              receivable.set(memberId, receivable.get(memberId)! + s.contributionMinor);
              return;
            case "replay": {
              const earlier = posted[percent % Math.max(1, posted.length)];
              if (earlier === undefined) return;
              expect(postTransaction(ledger, earlier)._unsafeUnwrap()).toBe(ledger);
              return;
            }
          }
        };

        for (const i of s.intents) {
          apply(i.op, ROUNDS[i.round]!, MEMBERS[i.member]!, i.percent);
          check();
        }

        // Finish every round: no debit left processing, then all paid out or all refunded.
        for (const [roundId, r] of rounds) {
          for (const m of MEMBERS) {
            if (r.status.get(m) === "in_flight") apply(s.settleInFlight ? "settle" : "fail", roundId, m, 100);
          }
          if (s.ending === "paid_out") {
            while (potMinor(r) > 0) apply("payout", roundId, recipient, 100);
          } else {
            while (r.paidOutMinor - r.reversedMinor > 0) apply("reverse", roundId, recipient, 100);
            for (const m of MEMBERS)
              while (r.refundable.get(m)! > 0 && potMinor(r) > 0) apply("refund", roundId, m, 100);
          }
          check();
          expect(balanceOf(ledger, roundAccounts.pot(roundId), s.currency).amountMinor).toBe(0);
          expect(balanceOf(ledger, roundAccounts.inFlight(roundId), s.currency).amountMinor).toBe(0);
          const summary = checkRoundMoney(ledger, roundId, s.currency)._unsafeUnwrap();
          // money in = money out + refunds, nothing held
          expect(summary.contributedMinor).toBe(summary.paidOutMinor + summary.refundedMinor);
          if (s.ending === "refunded") expect(summary.paidOutMinor).toBe(0);
        }
      }),
      { numRuns: 100 },
    );
  });
});
