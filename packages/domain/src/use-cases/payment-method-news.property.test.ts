import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { PaymentFact } from "../facts/payment-fact.js";
import { canDebitWith } from "../payment-method/saved-payment-method.js";
import { DAY_MS } from "../shared/time.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import * as useCases from "./index.js";

// Stripe sends news of payment methods at least once and in any order. Whatever happens at
// the provider (cards and accounts saved, cards updated by their network, mandates revoked,
// methods detached behind susu's back) and however the resulting events are repeated and
// shuffled, susu ends with the same saved methods and the same readiness as hearing every
// event once, in order; when the person can be debited, it is from a saved BECS account
// with an active mandate. (Which one, when two new accounts are saved after the debit died,
// is the one heard first; and who is told depends on what susu knew when it heard: a debit
// detached before a working account's set-up arrives puts the round at risk until then.)

type Step =
  | { readonly kind: "save"; readonly type: "card" | "au_becs_debit" }
  | {
      readonly kind: "update_card";
      readonly which: number;
      readonly last4: string;
      readonly expMonth: number;
    }
  | { readonly kind: "revoke"; readonly which: number }
  | { readonly kind: "detach"; readonly which: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant("save" as const),
    type: fc.constantFrom("card" as const, "au_becs_debit" as const),
  }),
  fc.record({
    kind: fc.constant("update_card" as const),
    which: fc.nat(5),
    last4: fc.stringMatching(/^\d{4}$/),
    expMonth: fc.integer({ min: 1, max: 12 }),
  }),
  fc.record({ kind: fc.constant("revoke" as const), which: fc.nat(5) }),
  fc.record({ kind: fc.constant("detach" as const), which: fc.nat(5) }),
);

/** Ben in a group with a round in progress (his debit is his first saved BECS account); the provider's steps; their facts. */
async function world(steps: readonly Step[]) {
  const sim = new InMemorySusu();
  const group = (
    await useCases.createGroup(sim.deps, {
      name: "News",
      currency: "AUD",
      contributionMinor: 100_00,
      cadence: "weekly",
      startsAt: sim.clock.now() + DAY_MS,
      payoutOrderMethod: "join_order",
      creator: { id: "ana", displayName: "Ana" },
    })
  )._unsafeUnwrap();
  (await useCases.joinGroup(sim.deps, group.id, { id: "ben", displayName: "Ben" }))._unsafeUnwrap();
  (await sim.onboardPerson("ana"))._unsafeUnwrap();
  const first = (
    await useCases.startPaymentMethodSetup(sim.deps, sim.gateway, "ben", "au_becs_debit", "0")
  )._unsafeUnwrap();
  (await sim.deliver(sim.gateway.confirmSetup(first.setupIntentId)))._unsafeUnwrap();
  sim.gateway.setAccount("acct_ben", true);
  (
    await useCases.updatePersonPayment(sim.deps, "ben", { connectedAccountId: "acct_ben" }, "t")
  )._unsafeUnwrap();
  (await useCases.updatePersonReadiness(sim.deps, "ben", { payoutsEnabled: true }, "t"))._unsafeUnwrap();
  (await useCases.activateGroup(sim.deps, group.id, "ana"))._unsafeUnwrap();
  sim.clock.advance(DAY_MS);
  (await useCases.startRound(sim.deps, group.id, "scheduler"))._unsafeUnwrap();
  await sim.runUntilQuiet();

  // What happens at the provider, and the events it sends (not yet delivered).
  const methods = [...sim.gateway.paymentMethods.keys()];
  const facts: PaymentFact[] = [];
  for (const [i, step] of steps.entries()) {
    const pick = (n: number) => methods[n % methods.length] as string;
    switch (step.kind) {
      case "save": {
        const setup = (
          await useCases.startPaymentMethodSetup(sim.deps, sim.gateway, "ben", step.type, String(i + 1))
        )._unsafeUnwrap();
        const made = sim.gateway.confirmSetup(setup.setupIntentId);
        const attached = made[0];
        if (attached?.kind === "payment_method_changed") methods.push(attached.paymentMethodId);
        facts.push(...made);
        break;
      }
      case "update_card": {
        const pm = pick(step.which);
        const now = sim.gateway.paymentMethods.get(pm);
        if (now?.card !== undefined && now.customerId !== undefined)
          facts.push(sim.gateway.updateCard(pm, { ...now.card, last4: step.last4, expMonth: step.expMonth }));
        break;
      }
      case "revoke": {
        const mandateId = sim.gateway.mandateOf(pick(step.which));
        if (mandateId !== undefined) facts.push(sim.gateway.revokeMandate(mandateId));
        break;
      }
      case "detach": {
        const pm = pick(step.which);
        if (sim.gateway.paymentMethods.get(pm)?.customerId !== undefined)
          facts.push(sim.gateway.detachBehindTheScenes(pm));
        break;
      }
    }
  }
  return { sim, facts };
}

/** What susu holds once quiet: methods (facts only) and whether Ben can be debited, from a working account. */
async function outcome(sim: InMemorySusu) {
  await sim.runUntilQuiet();
  const ben = (await sim.store.getPerson("ben"))._unsafeUnwrap();
  const saved = sim.store.paymentMethods();
  const methods = saved
    .map(({ version: _v, updatedAt: _u, removal, ...m }) => ({ ...m, removedBy: removal?.by }))
    .sort((a, b) => (a.id < b.id ? -1 : 1));
  const debited = saved.find((m) => m.id === ben?.debit?.paymentMethodId);
  const canBeDebited = ben?.debit?.mandateActive === true;
  if (canBeDebited)
    expect(debited !== undefined && canDebitWith(debited), JSON.stringify(debited)).toBe(true);
  return { methods, canBeDebited };
}

describe("news of saved payment methods", () => {
  it("repeated and shuffled, ends as if each event was heard once in order", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(stepArb, { maxLength: 7 }),
        fc.infiniteStream(fc.nat()),
        fc.nat(),
        async (steps, randomness, seed) => {
          const inOrder = await world(steps);
          (await inOrder.sim.deliver(inOrder.facts))._unsafeUnwrap();
          const expected = await outcome(inOrder.sim);

          const shuffled = await world(steps);
          // Each event once or twice, in an order drawn from the seed.
          const copies = shuffled.facts.flatMap((f, i) => ((seed >> (i % 30)) & 1 ? [f, f] : [f]));
          const rand = randomness[Symbol.iterator]();
          const keyed = copies.map((f) => ({ f, k: rand.next().value as number }));
          keyed.sort((a, b) => a.k - b.k);
          (await shuffled.sim.deliver(keyed.map((x) => x.f)))._unsafeUnwrap();
          expect(await outcome(shuffled.sim)).toEqual(expected);
        },
      ),
      { numRuns: 60 },
    );
  });
});
