// Any order of a paying-out round's transfer outcomes, reversals (whole or in part, of the
// transfer in flight's predecessors too) and resumes: after every step the ledger balances,
// and whenever the round ends it holds nothing and nobody was marked paid short — the pot
// went to the recipient in full. Once the reversals stop, resuming and landing what is asked
// for always ends the round paid out in full.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkRoundMoney, ledgerFromTransactions } from "../ledger/index.js";
import { DEFAULT_ROUND_POLICY } from "../policy/round-policy.js";
import { DAY_MS } from "../shared/time.js";
import { debitProcessing as processing, debitSucceeded as succeeded } from "../testing/mothers.js";
import { decide } from "./decide.js";
import { newRound, payoutDueMinor, type Round, sentNetMinor } from "./round.js";
import type { RoundEffect } from "./round-effect.js";
import type { RoundInput } from "./round-input.js";

const T0 = Date.UTC(2026, 0, 5);
const MEMBERS = ["m1", "m2", "m3"] as const;
const CONTRIBUTION = 10_000;

type Step =
  | { readonly kind: "land"; readonly member: number }
  | { readonly kind: "reverse"; readonly member: number; readonly which: number; readonly share: number }
  | { readonly kind: "resume"; readonly by: "account" | "admin" };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant("land" as const), member: fc.nat(2) }),
  fc.record({
    kind: fc.constant("reverse" as const),
    member: fc.nat(2),
    which: fc.nat(3),
    share: fc.double({ min: 0.0001, max: 1, noNaN: true }),
  }),
  fc.record({
    kind: fc.constant("resume" as const),
    by: fc.constantFrom("account" as const, "admin" as const),
  }),
);

class Run {
  round: Round;
  readonly effects: RoundEffect[] = [];
  now = T0 + 3 * DAY_MS;
  /** Reversals heard after the round ended: back in its pot, ticketed. */
  reversedAfterEndMinor = 0;

  constructor() {
    this.round = newRound({
      id: "r1",
      groupId: "g1",
      rotation: 1,
      sequence: 0,
      recipientMemberId: "m1",
      recipientCanReceive: true,
      contributorIds: [...MEMBERS],
      currency: "AUD",
      contributionMinor: CONTRIBUTION,
      scheduledFor: T0,
    })._unsafeUnwrap();
    this.apply({ type: "open" });
    for (const m of MEMBERS) {
      this.apply(processing(m));
      this.apply(succeeded(m));
    }
  }

  apply(input: RoundInput): void {
    this.now += 1_000;
    const r = decide(this.round, input, { now: this.now, policy: DEFAULT_ROUND_POLICY });
    // Commands refused (a resume while not blocked) change nothing.
    if (r.isErr()) return;
    if (
      this.round.status === "paid_out" &&
      input.type === "transfer_reversed" &&
      r.value.ignored === undefined
    )
      this.reversedAfterEndMinor += input.amountMinor;
    this.effects.push(...r.value.effects);
    this.round = r.value.state;
    this.check(r.value.effects);
  }

  /** The invariants after every step. */
  check(stepEffects: readonly RoundEffect[]): void {
    const ledger = ledgerFromTransactions(
      this.effects.flatMap((e) => (e.kind === "post_ledger" ? [e.transaction] : [])),
    );
    expect(ledger.isOk(), "the ledger balances").toBe(true);
    const money = checkRoundMoney(ledger._unsafeUnwrap(), "r1", "AUD")._unsafeUnwrap();
    expect(money.heldMinor).toBeGreaterThanOrEqual(0);
    if (stepEffects.some((e) => e.kind === "round_ended")) {
      expect(this.round.status).toBe("paid_out");
      expect(money.heldMinor, "a round's pot is zero when it ends").toBe(0);
      expect(money.paidOutMinor).toBe(CONTRIBUTION * MEMBERS.length);
      // Nobody is marked paid short: every contribution reached the recipient in full.
      expect(this.round.payouts.map((p) => [sentNetMinor(p), payoutDueMinor(p)])).toEqual(
        MEMBERS.map(() => [CONTRIBUTION, CONTRIBUTION]),
      );
    }
    // Ended, the pot holds only what came back after the end (ticketed for an admin).
    if (this.round.status === "paid_out") expect(money.heldMinor).toBe(this.reversedAfterEndMinor);
    // The ledger and the round agree on what the recipient holds, whatever the status.
    expect(money.paidOutMinor).toBe(this.round.payouts.reduce((sum, p) => sum + sentNetMinor(p), 0));
  }

  play(step: Step): void {
    const member = step.kind === "resume" ? "m1" : (MEMBERS[step.member] ?? "m1");
    const p = this.round.payouts.find((x) => x.sourceMemberId === member);
    switch (step.kind) {
      case "land":
        if (p?.status === "requested")
          this.apply({
            type: "transfer_created",
            sourceMemberId: member,
            attempt: p.attempt,
            transferId: `tr_${member}_${p.attempt}`,
          });
        return;
      case "reverse": {
        if (p === undefined) return;
        const transfers = [
          ...(p.earlier ?? []),
          ...(p.transferId !== undefined && p.status === "created"
            ? [{ transferId: p.transferId, amountMinor: p.amountMinor, reversedMinor: p.reversedMinor ?? 0 }]
            : []),
        ];
        const t = transfers[step.which % Math.max(1, transfers.length)];
        if (t === undefined) return;
        const left = t.amountMinor - t.reversedMinor;
        if (left <= 0) return;
        const amountMinor = Math.max(1, Math.min(left, Math.round(left * step.share)));
        this.apply({
          type: "transfer_reversed",
          sourceMemberId: member,
          transferId: t.transferId,
          amountMinor,
        });
        return;
      }
      case "resume":
        this.apply(
          step.by === "account"
            ? { type: "recipient_readiness", canReceive: true }
            : { type: "resume_payout" },
        );
        return;
    }
  }
}

describe("a paying-out round under reversals (property)", () => {
  it("never ends holding money or with its recipient short; ends paid out in full once the reversals stop", () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 40 }), (steps) => {
        const run = new Run();
        expect(run.round.status).toBe("paying_out");
        for (const step of steps) run.play(step);
        // The reversals stop: resume and land whatever is asked for, a bounded number of times.
        for (let i = 0; i < 10 && run.round.status !== "paid_out"; i++) {
          run.play({ kind: "resume", by: "admin" });
          for (let m = 0; m < MEMBERS.length; m++) run.play({ kind: "land", member: m });
        }
        expect(run.round.status).toBe("paid_out");
        expect(run.effects.filter((e) => e.kind === "round_ended")).toHaveLength(1);
      }),
      { numRuns: 300 },
    );
  });
});
