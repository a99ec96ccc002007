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
    const group = (await sim.store.getGroup(groupId))._unsafeUnwrap();
    const customerId = group?.members[0]?.payment.customerId;
    expect(customerId).toMatch(/^cus_/);
    // A deliberate new set-up (new attempt key) reuses the customer.
    const renewed = (
      await useCases.startDebitSetup(sim.deps, sim.gateway, groupId, "ana", "2")
    )._unsafeUnwrap();
    expect(renewed.setupIntentId).not.toBe(first.setupIntentId);
    expect((await sim.store.getGroup(groupId))._unsafeUnwrap()?.members[0]?.payment.customerId).toBe(
      customerId,
    );
  });

  it("payout onboarding creates the connected account once and returns a link", async () => {
    const { sim, groupId } = await setUp();
    const urls = {
      refreshUrl: "https://app.example/refresh",
      returnUrl: "https://app.example/done",
      country: "AU",
    };
    const link = (
      await useCases.startPayoutOnboarding(sim.deps, sim.gateway, groupId, "ana", urls)
    )._unsafeUnwrap();
    expect(link.url).toContain("acct_");
    const accountId = (await sim.store.getGroup(groupId))._unsafeUnwrap()?.members[0]?.payment
      .connectedAccountId;
    (await useCases.startPayoutOnboarding(sim.deps, sim.gateway, groupId, "ana", urls))._unsafeUnwrap();
    expect((await sim.store.getGroup(groupId))._unsafeUnwrap()?.members[0]?.payment.connectedAccountId).toBe(
      accountId,
    );
  });

  it("refuses members who are not in the group", async () => {
    const { sim, groupId } = await setUp();
    const refused = await useCases.startDebitSetup(sim.deps, sim.gateway, groupId, "zed", "1");
    expect(refused._unsafeUnwrapErr().code).toBe("member_not_found");
    const noGroup = await useCases.startDebitSetup(sim.deps, sim.gateway, "grp_none", "ana", "1");
    expect(noGroup._unsafeUnwrapErr().code).toBe("group_not_found");
  });
});
