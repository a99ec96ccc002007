import { ResultAsync } from "neverthrow";
import { describe, expect, it } from "vitest";
import { DAY_MS } from "../shared/time.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import * as useCases from "./index.js";

async function setUp() {
  const sim = new InMemorySusu();
  const group = (
    await useCases.createGroup(sim.deps, {
      name: "Onboarding",
      currency: "AUD",
      contributionMinor: 50_00,
      cadence: "weekly",
      startsAt: sim.clock.now() + DAY_MS,
      payoutOrderMethod: "join_order",
      creator: { id: "ana", displayName: "Ana" },
    })
  )._unsafeUnwrap();
  return { sim, groupId: group.id };
}

const urls = {
  refreshUrl: "https://app.example/refresh",
  returnUrl: "https://app.example/done",
  country: "AU",
};

describe("member onboarding", () => {
  it("a debit set-up creates the member's customer once and records it; a retry returns the same set-up", async () => {
    const { sim, groupId } = await setUp();
    const first = (
      await useCases.startDebitSetup(sim.deps, sim.gateway, groupId, "ana", "1")
    )._unsafeUnwrap();
    const again = (
      await useCases.startDebitSetup(sim.deps, sim.gateway, groupId, "ana", "1")
    )._unsafeUnwrap();
    expect(again).toEqual(first);
    const customerId = (await sim.store.getPerson("ana"))._unsafeUnwrap()?.customerId;
    expect(customerId).toMatch(/^cus_/);
    // A deliberate new set-up (new attempt key) reuses the customer.
    const renewed = (
      await useCases.startDebitSetup(sim.deps, sim.gateway, groupId, "ana", "2")
    )._unsafeUnwrap();
    expect(renewed.setupIntentId).not.toBe(first.setupIntentId);
    expect((await sim.store.getPerson("ana"))._unsafeUnwrap()?.customerId).toBe(customerId);
  });

  it("a first customer request is recorded before it is sent and says so; a retry names that first instant", async () => {
    const { sim, groupId } = await setUp();
    const calls: Parameters<typeof sim.gateway.createCustomer>[0][] = [];
    const createCustomer = sim.gateway.createCustomer.bind(sim.gateway);
    sim.gateway.createCustomer = (input) => {
      calls.push(input);
      return createCustomer(input);
    };
    // The person is an hour old when a customer is first asked for.
    const first = sim.clock.advance(3_600_000);
    // The first request's answer is lost: it may have made the customer.
    sim.gateway.injectFault("createCustomer", "lost_reply");
    (await useCases.startDebitSetup(sim.deps, sim.gateway, groupId, "ana", "1"))._unsafeUnwrapErr();
    const ana = (await sim.store.getPerson("ana"))._unsafeUnwrap();
    expect(ana?.customerId).toBeUndefined();
    expect(ana?.customerRequestedAt).toBe(first);
    // First attempt: decided now, so the key alone covers it (no look-up needed).
    expect(calls[0]).toMatchObject({ effectCreatedAt: first, notBefore: first });
    sim.clock.advance(2 * DAY_MS);
    (await useCases.startDebitSetup(sim.deps, sim.gateway, groupId, "ana", "1"))._unsafeUnwrap();
    // The retry names when the effect was first decided (two days ago: the provider looks),
    // never its own time, and the look-up is bounded by it.
    expect(calls[1]).toMatchObject({ effectCreatedAt: first, notBefore: first });
    expect((await sim.store.getPerson("ana"))._unsafeUnwrap()?.customerId).toMatch(/^cus_/);
  });

  it("payout onboarding creates the connected account once and returns a link", async () => {
    const { sim, groupId } = await setUp();
    const link = (
      await useCases.startPayoutOnboarding(sim.deps, sim.gateway, groupId, "ana", urls)
    )._unsafeUnwrap();
    expect(link.url).toContain("acct_");
    const accountId = (await sim.store.getPerson("ana"))._unsafeUnwrap()?.payout?.connectedAccountId;
    expect(accountId).toMatch(/^acct_/);
    (await useCases.startPayoutOnboarding(sim.deps, sim.gateway, groupId, "ana", urls))._unsafeUnwrap();
    expect((await sim.store.getPerson("ana"))._unsafeUnwrap()?.payout?.connectedAccountId).toBe(accountId);
  });

  it("another write to the person while their payout account is recorded does not fail the request", async () => {
    const { sim, groupId } = await setUp();
    // Her debit set-up (another request) records her customer between this use case's read
    // of Ana and its write.
    const commit = sim.deps.uow.commit.bind(sim.deps.uow);
    let raced = false;
    const deps = {
      ...sim.deps,
      uow: {
        ...sim.deps.uow,
        commit: (work: Parameters<typeof commit>[0]) => {
          if (raced || work.people.length === 0) return commit(work);
          raced = true;
          const raceWrite = async () =>
            (
              await useCases.updatePersonPayment(sim.deps, "ana", { customerId: "cus_raced" }, "ana")
            )._unsafeUnwrap();
          return ResultAsync.fromSafePromise(raceWrite()).andThen(() => commit(work));
        },
      },
    };
    const started = await useCases.startPayoutOnboarding(deps, sim.gateway, groupId, "ana", urls);
    if (started.isErr()) throw new Error(JSON.stringify(started.error));
    const link = started.value;
    expect(raced).toBe(true);
    const ana = (await sim.store.getPerson("ana"))._unsafeUnwrap();
    // Both writes stand: the account recorded on top of the webhook's mandate.
    expect(ana?.payout?.connectedAccountId).toMatch(/^acct_/);
    expect(link.url).toContain(ana?.payout?.connectedAccountId);
    expect(ana?.customerId).toBe("cus_raced");
  });

  it("refuses members who are not in the group", async () => {
    const { sim, groupId } = await setUp();
    const refused = await useCases.startDebitSetup(sim.deps, sim.gateway, groupId, "zed", "1");
    expect(refused._unsafeUnwrapErr().code).toBe("member_not_found");
    const noGroup = await useCases.startDebitSetup(sim.deps, sim.gateway, "grp_none", "ana", "1");
    expect(noGroup._unsafeUnwrapErr().code).toBe("group_not_found");
  });

  it("a person in two groups onboards once: one customer, one debit set-up per attempt, one account", async () => {
    const { sim, groupId } = await setUp();
    const other = (
      await useCases.createGroup(sim.deps, {
        name: "Second group",
        currency: "AUD",
        contributionMinor: 20_00,
        cadence: "monthly",
        startsAt: sim.clock.now() + DAY_MS,
        payoutOrderMethod: "join_order",
        creator: { id: "ben", displayName: "Ben" },
      })
    )._unsafeUnwrap();
    (await useCases.joinGroup(sim.deps, other.id, { id: "ana", displayName: "Ana B." }))._unsafeUnwrap();
    const here = (await useCases.startDebitSetup(sim.deps, sim.gateway, groupId, "ana", "1"))._unsafeUnwrap();
    const there = (
      await useCases.startDebitSetup(sim.deps, sim.gateway, other.id, "ana", "1")
    )._unsafeUnwrap();
    // The same person, attempt and key: the same SetupIntent, whichever group asked.
    expect(there).toEqual(here);
    const link = (
      await useCases.startPayoutOnboarding(sim.deps, sim.gateway, groupId, "ana", urls)
    )._unsafeUnwrap();
    const again = (
      await useCases.startPayoutOnboarding(sim.deps, sim.gateway, other.id, "ana", urls)
    )._unsafeUnwrap();
    expect(again.url).toBe(link.url);
    const ana = (await sim.store.getPerson("ana"))._unsafeUnwrap();
    // The fake names accounts after their idempotency key: the person's, not a membership's.
    expect(ana).toMatchObject({
      displayName: "Ana",
      customerId: expect.stringMatching(/^cus_/),
      payout: { connectedAccountId: "acct_person:ana:connected_account", payoutsEnabled: false },
    });
    expect(sim.store.people().map((p) => p.id)).toEqual(["ana", "ben"]);
    // One person write per Stripe object (the customer's request first recorded, then the
    // customer; the account), none per group.
    const writes = sim.store.audit().filter((a) => a.aggregate === "person" && a.outcome === "applied");
    expect(writes.map((a) => a.action)).toEqual([
      "update_person_payment",
      "update_person_payment",
      "update_person_payment",
    ]);
  });
});
