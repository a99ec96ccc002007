import { describe, expect, it } from "vitest";
import type { PaymentFact } from "../facts/payment-fact.js";
import type { ConnectedAccountStatus } from "../ports/payment-gateway.js";
import { DAY_MS } from "../shared/time.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import * as useCases from "./index.js";
import { onboardingIncomplete, onboardingRequirementsKey } from "./onboarding-notice.js";

async function ana(): Promise<InMemorySusu> {
  const sim = new InMemorySusu();
  (
    await useCases.createGroup(sim.deps, {
      name: "Onboarding",
      currency: "AUD",
      contributionMinor: 100_00,
      cadence: "weekly",
      startsAt: sim.clock.now() + DAY_MS,
      payoutOrderMethod: "join_order",
      creator: { id: "ana", displayName: "Ana" },
    })
  )._unsafeUnwrap();
  (await sim.onboardPerson("ana"))._unsafeUnwrap();
  return sim;
}

/** Stripe reports `acct_ana` changed (the fact's own copy is stale on purpose: the router reads it again). */
const changed: PaymentFact = {
  kind: "payout_account_changed",
  accountId: "acct_ana",
  reported: {
    accountId: "acct_ana",
    detailsSubmitted: true,
    chargesEnabled: true,
    payoutsEnabled: true,
    transfersActive: true,
    requirementsDue: [],
  },
};

const notices = (sim: InMemorySusu) =>
  sim.notifier.sent.filter((n) => n.template === "onboarding_incomplete");

describe("the onboarding-incomplete notice", () => {
  it("tells the person what is missing and where to continue, once per set of requirements", async () => {
    const sim = await ana();
    sim.gateway.setAccount("acct_ana", false, {
      detailsSubmitted: true,
      requirementsDue: ["individual.verification.document", "external_account"],
      disabledReason: "requirements.past_due",
    });
    (await sim.deliver([changed, changed]))._unsafeUnwrap();
    await sim.runUntilQuiet();
    (await sim.deliver([changed]))._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(notices(sim)).toEqual([
      {
        id: expect.stringMatching(/^account:acct_ana:onboarding_incomplete:2-[0-9a-f]{16}:notify$/),
        aggregate: "payout",
        aggregateId: "acct_ana",
        personIds: ["ana"],
        template: "onboarding_incomplete",
        data: {
          accountId: "acct_ana",
          requirements: "external_account, individual.verification.document",
          disabledReason: "requirements.past_due",
          onboardingPath: "/v1/people/ana/payout-onboarding",
        },
      },
    ]);
    // Stripe asks for something else: a new notice; the same list in another order: none.
    sim.gateway.setAccount("acct_ana", false, {
      detailsSubmitted: true,
      requirementsDue: ["individual.dob.day"],
    });
    (await sim.deliver([changed]))._unsafeUnwrap();
    sim.gateway.setAccount("acct_ana", false, {
      detailsSubmitted: true,
      requirementsDue: ["individual.dob.day", "individual.dob.day"],
    });
    (await sim.deliver([changed]))._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(notices(sim).map((n) => n.data.requirements)).toEqual([
      "external_account, individual.verification.document",
      "individual.dob.day",
    ]);
    const person = (await sim.store.getPerson("ana"))._unsafeUnwrap();
    expect(person?.payout?.payoutsEnabled).toBe(false);
  });

  it("says nothing while the person is still filling in the form, or once the account can receive", async () => {
    const sim = await ana();
    sim.gateway.setAccount("acct_ana", false, {
      detailsSubmitted: false,
      requirementsDue: ["external_account"],
    });
    (await sim.deliver([changed]))._unsafeUnwrap();
    sim.gateway.setAccount("acct_ana", true);
    (await sim.deliver([changed]))._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(notices(sim)).toEqual([]);
    expect(sim.store.outbox().filter((e) => e.kind === "notify")).toEqual([]);
  });

  it("the requirements key ignores order and repeats, and changes with any name or the disabled reason", () => {
    const base: ConnectedAccountStatus = {
      accountId: "acct_1",
      detailsSubmitted: true,
      chargesEnabled: false,
      payoutsEnabled: false,
      transfersActive: false,
      requirementsDue: ["b", "a"],
    };
    const key = onboardingRequirementsKey(base);
    expect(onboardingRequirementsKey({ ...base, requirementsDue: ["a", "b", "a"] })).toBe(key);
    expect(onboardingRequirementsKey({ ...base, requirementsDue: ["a"] })).not.toBe(key);
    expect(onboardingRequirementsKey({ ...base, requirementsDue: ["a", "c"] })).not.toBe(key);
    expect(onboardingRequirementsKey({ ...base, disabledReason: "requirements.past_due" })).not.toBe(key);
    expect(onboardingIncomplete(base)).toBe(true);
    expect(onboardingIncomplete({ ...base, requirementsDue: [] })).toBe(false);
    expect(onboardingIncomplete({ ...base, requirementsDue: [], disabledReason: "rejected.fraud" })).toBe(
      true,
    );
    expect(onboardingIncomplete({ ...base, payoutsEnabled: true, transfersActive: true })).toBe(false);
  });
});
