import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_ROUND_POLICY, type RoundPolicy } from "../policy/round-policy.js";
import { DAY_MS, HOUR_MS } from "../shared/time.js";
import { anActiveGroup, aRoundOf, debitFailed as failed } from "../testing/mothers.js";
import { decide } from "./decide.js";
import type { Round } from "./round.js";
import type { RoundInput } from "./round-input.js";

const T0 = Date.UTC(2026, 0, 5);
const policy: RoundPolicy = DEFAULT_ROUND_POLICY;
const ctx = (now: number) => ({ now, policy });

/** A round of m1 (its recipient), m2 and m3, opened at T0. */
const opened = (): Round => aRoundOf(anActiveGroup({ memberIds: ["m1", "m2", "m3"] }), [], { now: T0 });

function apply(state: Round, input: RoundInput, now: number): Round {
  return decide(state, input, ctx(now))._unsafeUnwrap().state;
}

const m2 = (r: Round) => r.contributions.find((c) => c.memberId === "m2");

describe("a member's manual retries", () => {
  it("after a permanent failure (account closed), a retry is refused until the member's mandate is active again", () => {
    const failedForGood = apply(opened(), failed("m2", "account_closed"), T0 + HOUR_MS);
    const refused = decide(failedForGood, { type: "retry_contribution", memberId: "m2" }, ctx(T0 + DAY_MS));
    expect(refused._unsafeUnwrapErr()).toMatchObject({ code: "contribution_not_retryable" });
    expect(refused._unsafeUnwrapErr().message).toContain("account_closed");
    expect(refused._unsafeUnwrapErr().message).toContain("new bank details");
    const stillInactive = decide(
      failedForGood,
      { type: "retry_contribution", memberId: "m2", mandateActive: false },
      ctx(T0 + DAY_MS),
    );
    expect(stillInactive._unsafeUnwrapErr().code).toBe("contribution_not_retryable");
    // New bank details saved: a new, active mandate.
    const retried = decide(
      failedForGood,
      { type: "retry_contribution", memberId: "m2", mandateActive: true },
      ctx(T0 + DAY_MS),
    )._unsafeUnwrap();
    expect(retried.effects).toContainEqual(
      expect.objectContaining({ kind: "collect_contribution", attempt: 2 }),
    );
  });

  it("pressing retry again and again never makes more debit attempts than the policy allows", () => {
    let state = opened();
    let refusals = 0;
    for (let i = 1; i <= 11; i++) {
      const now = T0 + i * HOUR_MS;
      const attempt = m2(state)?.attempts.length ?? 0;
      state = apply(state, failed("m2", "account_closed", attempt), now);
      const r = decide(state, { type: "retry_contribution", memberId: "m2", mandateActive: true }, ctx(now));
      if (r.isErr()) {
        expect(r.error.code).toBe("contribution_not_retryable");
        refusals += 1;
      } else state = r.value.state;
    }
    expect(m2(state)?.attempts).toHaveLength(policy.debitRetry.attemptsMax);
    expect(refusals).toBeGreaterThan(0);
  });

  it("property: whatever the failures and retries, a contribution has at most attemptsMax debit attempts", () => {
    const code = fc.constantFrom("insufficient_funds", "refer_to_customer", "account_closed", "no_account");
    fc.assert(
      fc.property(
        fc.array(fc.record({ code, active: fc.boolean(), timer: fc.boolean() }), { maxLength: 20 }),
        (steps) => {
          let state = opened();
          let now = T0;
          for (const s of steps) {
            now += HOUR_MS;
            const c = m2(state);
            const last = c?.attempts.at(-1);
            if (last?.status === "requested") state = apply(state, failed("m2", s.code, last.number), now);
            const input: RoundInput = s.timer
              ? {
                  type: "timer",
                  timer: { kind: "retry_debit", memberId: "m2", attempt: (c?.attempts.length ?? 0) + 1 },
                }
              : { type: "retry_contribution", memberId: "m2", mandateActive: s.active };
            const r = decide(state, input, ctx(now));
            if (r.isOk()) state = r.value.state;
            expect(m2(state)?.attempts.length ?? 0).toBeLessThanOrEqual(policy.debitRetry.attemptsMax);
          }
        },
      ),
    );
  });
});
