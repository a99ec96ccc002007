import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  mergeReportedMethod,
  type ReportedPaymentMethod,
  type SavedMandateStatus,
  type SavedPaymentMethod,
} from "./saved-payment-method.js";

// News of a method is merged from what the provider holds at the time it is read. Stripe
// sends its events in any order and more than once; the provider's state moves forward
// (attached → updated → detached; a mandate active → inactive, never back). Whatever
// reads happen in between, once the last state has been read susu holds the same thing.

const owner = { personId: "ben", customerId: "cus_ben" };

type ProviderStep =
  | { readonly kind: "update_card"; readonly last4: string; readonly expMonth: number }
  | { readonly kind: "revoke_mandate" }
  | { readonly kind: "detach" };

interface ProviderState {
  readonly method: ReportedPaymentMethod;
  readonly mandate: SavedMandateStatus;
}

const stepArb: fc.Arbitrary<ProviderStep> = fc.oneof(
  fc.record({
    kind: fc.constant("update_card" as const),
    last4: fc.stringMatching(/^\d{4}$/),
    expMonth: fc.integer({ min: 1, max: 12 }),
  }),
  fc.constant({ kind: "revoke_mandate" as const }),
  fc.constant({ kind: "detach" as const }),
);

function apply(state: ProviderState, step: ProviderStep): ProviderState {
  switch (step.kind) {
    case "update_card":
      return state.method.card === undefined
        ? state
        : {
            ...state,
            method: {
              ...state.method,
              card: { ...state.method.card, last4: step.last4, expMonth: step.expMonth },
            },
          };
    case "revoke_mandate":
      return { ...state, mandate: "inactive" };
    case "detach": {
      const { customerId: _, ...rest } = state.method;
      return { ...state, method: rest };
    }
  }
}

const initial = (type: "card" | "au_becs_debit"): ProviderState => ({
  method: {
    paymentMethodId: "pm_1",
    type,
    customerId: "cus_ben",
    ...(type === "card"
      ? { card: { brand: "visa", last4: "4242", expMonth: 12, expYear: 2030 } }
      : { bankAccount: { bsbNumber: "000000", last4: "3456" } }),
    createdAt: 1,
  },
  mandate: "active",
});

function read(stored: SavedPaymentMethod | undefined, state: ProviderState, now: number) {
  const mandate =
    state.method.type === "au_becs_debit" ? { mandateId: "mandate_1", status: state.mandate } : undefined;
  const merge = mergeReportedMethod(stored, state.method, owner, mandate, now);
  return merge.changed && merge.next !== undefined
    ? { ...merge.next, version: (stored?.version ?? -1) + 1 }
    : stored;
}

/** What is stored, facts only (versions and times say when, not what). */
const facts = (m: SavedPaymentMethod | undefined) =>
  m === undefined
    ? undefined
    : {
        card: m.card,
        bankAccount: m.bankAccount,
        mandate: m.mandate,
        removed: m.removal !== undefined,
        by: m.removal?.by,
      };

describe("mergeReportedMethod", () => {
  it("whatever reads happen on the way, reading the last state ends the same; reading it again changes nothing", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("card" as const, "au_becs_debit" as const),
        fc.array(stepArb, { maxLength: 8 }),
        fc.array(fc.boolean(), { minLength: 9, maxLength: 9 }),
        (type, steps, readAfter) => {
          const states: ProviderState[] = [initial(type)];
          for (const step of steps) states.push(apply(states[states.length - 1] as ProviderState, step));
          // Some reads along the way (a read after each state, or not), then the last state.
          let stored: SavedPaymentMethod | undefined;
          states.forEach((state, i) => {
            if (readAfter[i]) stored = read(stored, state, i);
          });
          const last = states[states.length - 1] as ProviderState;
          stored = read(stored, last, 100);
          const once = read(undefined, last, 100);
          const detached = last.method.customerId === undefined;
          if (detached) {
            // Seen attached at some point: kept as removed by the provider; never seen: nothing.
            expect(stored === undefined || (stored.removal?.by === "provider" && !stored.isDefault)).toBe(
              true,
            );
          } else {
            expect(facts(stored)).toEqual(facts(once));
          }
          // A repeat of the last news changes nothing.
          const again = read(stored, last, 200);
          expect(again).toBe(stored);
        },
      ),
    );
  });

  it("a method removed stays removed whatever the provider says later", () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 5 }), (steps) => {
        const first = read(undefined, initial("card"), 0);
        const removed = first && { ...first, removal: { at: 1, by: "person" as const } };
        const after = steps.reduce<ProviderState>((s, step) => apply(s, step), initial("card"));
        expect(read(removed, after, 5)).toBe(removed);
      }),
    );
  });

  it("a mandate that becomes inactive is reported as news once", () => {
    const stored = read(undefined, initial("au_becs_debit"), 0);
    const revoked = apply(initial("au_becs_debit"), { kind: "revoke_mandate" });
    const merge = mergeReportedMethod(
      stored,
      revoked.method,
      owner,
      { mandateId: "mandate_1", status: "inactive" },
      1,
    );
    expect(merge.mandateWentInactive).toBe(true);
    const next = merge.next && { ...merge.next, version: 1 };
    const again = mergeReportedMethod(
      next,
      revoked.method,
      owner,
      { mandateId: "mandate_1", status: "inactive" },
      2,
    );
    expect(again).toMatchObject({ changed: false, mandateWentInactive: false });
  });
});
