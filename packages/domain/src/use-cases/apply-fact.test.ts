import { errAsync, okAsync } from "neverthrow";
import { describe, expect, it } from "vitest";
import type { PaymentFact } from "../facts/payment-fact.js";
import { personReadiness } from "../person/person.js";
import { gatewayError } from "../ports/payment-gateway.js";
import { DAY_MS } from "../shared/time.js";
import type { FakeDebitOutcome } from "../testing/fake-payment-gateway.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import * as useCases from "./index.js";

// The one router of payment facts, as the webhook processor and InMemorySusu run it.

async function runningRound(
  options: { readonly anaCanReceive?: boolean; readonly benDebits?: readonly FakeDebitOutcome[] } = {},
) {
  const sim = new InMemorySusu();
  const group = (
    await useCases.createGroup(sim.deps, {
      name: "Facts",
      currency: "AUD",
      contributionMinor: 100_00,
      cadence: "weekly",
      startsAt: sim.clock.now() + DAY_MS,
      payoutOrderMethod: "join_order",
      creator: { id: "ana", displayName: "Ana" },
    })
  )._unsafeUnwrap();
  (await useCases.joinGroup(sim.deps, group.id, { id: "ben", displayName: "Ben" }))._unsafeUnwrap();
  (await sim.onboardMember(group.id, "ana"))._unsafeUnwrap();
  (await sim.onboardMember(group.id, "ben"))._unsafeUnwrap();
  (await useCases.activateGroup(sim.deps, group.id, "ana"))._unsafeUnwrap();
  if (options.benDebits) sim.gateway.setDebitOutcomes("ben", options.benDebits);
  sim.clock.advance(DAY_MS);
  const opened = (await useCases.startRound(sim.deps, group.id, "scheduler"))._unsafeUnwrap();
  // Ready when the round opened; the bank then stops taking transfers before susu hears of it.
  if (options.anaCanReceive === false) sim.gateway.setAccount("acct_ana", false);
  await sim.runUntilQuiet();
  return { sim, groupId: group.id, roundId: opened.state.id };
}

const route = (sim: InMemorySusu, fact: PaymentFact, actor = "stripe:evt_1") =>
  useCases.applyPaymentFact(sim.deps, sim.factPorts, fact, actor);

async function readinessOf(sim: InMemorySusu, _groupId: string, personId: string) {
  const person = (await sim.store.getPerson(personId))._unsafeUnwrap();
  return person === undefined ? undefined : personReadiness(person);
}

async function roundOf(sim: InMemorySusu, roundId: string) {
  return (await sim.store.getRound(roundId))._unsafeUnwrap();
}

describe("applyPaymentFact: facts about payments go to the round their references name", () => {
  it("applies a debit's success once; the same fact again (a duplicate webhook) is ignored and says why", async () => {
    const { sim, groupId, roundId } = await runningRound();
    const debit = (await roundOf(sim, roundId))?.contributions[0]?.attempts[0];
    if (!debit?.paymentIntentId) throw new Error("no debit");
    const fact: PaymentFact = {
      kind: "debit_succeeded",
      refs: { groupId, roundId, memberId: "ana", attempt: 1 },
      paymentIntentId: debit.paymentIntentId,
      chargeId: "ch_ana",
    };
    expect((await route(sim, fact))._unsafeUnwrap()).toEqual({
      status: "applied",
      detail: `round ${roundId}: debit_succeeded applied`,
    });
    expect((await roundOf(sim, roundId))?.contributions[0]?.status).toBe("succeeded");
    const again = (await route(sim, fact))._unsafeUnwrap();
    expect(again.status).toBe("ignored");
    expect(again.detail).toContain(`round ${roundId}: debit_succeeded ignored`);
    expect(
      sim.store
        .audit()
        .filter((a) => a.actor === "stripe:evt_1")
        .map((a) => a.outcome),
    ).toEqual(["applied", "ignored"]);
  });

  it("a payment susu's rounds did not make (no round references) is ignored, nothing stored", async () => {
    const { sim, groupId, roundId } = await runningRound();
    const before = await roundOf(sim, roundId);
    const outcome = (
      await route(sim, {
        kind: "debit_succeeded",
        refs: { groupId },
        paymentIntentId: "pi_x",
        chargeId: "ch_x",
      })
    )._unsafeUnwrap();
    expect(outcome).toEqual({ status: "ignored", detail: expect.stringContaining("no round references") });
    expect(await roundOf(sim, roundId)).toEqual(before);
  });

  it("a debit fact without its attempt is ignored: the round cannot tell which debit it is", async () => {
    const { sim, groupId, roundId } = await runningRound();
    const outcome = (
      await route(sim, {
        kind: "debit_failed",
        refs: { groupId, roundId, memberId: "ana" },
        failureCode: "account_closed",
      })
    )._unsafeUnwrap();
    expect(outcome.status).toBe("ignored");
    expect((await roundOf(sim, roundId))?.contributions[0]?.status).toBe("processing");
  });

  it("a fact about a round that does not exist is ignored (retrying cannot make it appear)", async () => {
    const { sim, groupId } = await runningRound();
    const outcome = (
      await route(sim, {
        kind: "transfer_created",
        refs: { groupId, roundId: "round_missing", memberId: "ana", attempt: 1 },
        transferId: "tr_1",
      })
    )._unsafeUnwrap();
    expect(outcome).toEqual({
      status: "ignored",
      detail: "round round_missing: transfer_created not applied: round_not_found",
    });
  });

  it("the answers of effects and the webhooks of the same payment are the same facts: a round settles whichever comes first", async () => {
    const { sim, roundId } = await runningRound();
    await sim.advance(4 * DAY_MS);
    const round = await roundOf(sim, roundId);
    expect(round?.status).toBe("paid_out");
    // Every settlement fact the fake gateway reported, replayed as late webhooks, changes nothing.
    const facts = round?.contributions.map(
      (c): PaymentFact => ({
        kind: "debit_succeeded",
        refs: { groupId: round.groupId, roundId, memberId: c.memberId, attempt: 1 },
        paymentIntentId: c.attempts[0]?.paymentIntentId ?? "",
        chargeId: c.attempts[0]?.chargeId ?? "",
      }),
    );
    for (const f of facts ?? []) expect((await route(sim, f))._unsafeUnwrap().status).toBe("ignored");
    expect(await roundOf(sim, roundId)).toEqual(round);
  });
});

describe("applyPaymentFact: facts about people's Stripe objects", () => {
  it("an account change is read again from the provider: a stale 'can receive' event does not make a restricted account ready", async () => {
    const { sim, groupId } = await runningRound();
    sim.gateway.setAccount("acct_ben", false);
    const outcome = (
      await route(sim, {
        kind: "payout_account_changed",
        accountId: "acct_ben",
        reported: {
          accountId: "acct_ben",
          detailsSubmitted: true,
          chargesEnabled: true,
          payoutsEnabled: true,
          transfersActive: true,
          requirementsDue: [],
        },
      })
    )._unsafeUnwrap();
    expect(outcome).toEqual({
      status: "applied",
      detail: "account acct_ben: payoutsEnabled=false for ben",
    });
    expect((await readinessOf(sim, groupId, "ben"))?.payoutsEnabled).toBe(false);
  });

  it("a blocked payout resumes when the recipient's account can receive, and the pot is paid", async () => {
    const { sim, groupId, roundId } = await runningRound({ anaCanReceive: false });
    await sim.advance(4 * DAY_MS);
    expect((await roundOf(sim, roundId))?.status).toBe("payout_blocked");
    sim.gateway.setAccount("acct_ana", true);
    const stale = { accountId: "acct_ana", detailsSubmitted: false, chargesEnabled: false } as const;
    const outcome = (
      await route(sim, {
        kind: "payout_account_changed",
        accountId: "acct_ana",
        reported: { ...stale, payoutsEnabled: false, transfersActive: false, requirementsDue: ["x"] },
      })
    )._unsafeUnwrap();
    expect(outcome.status).toBe("applied");
    await sim.runUntilQuiet();
    expect((await roundOf(sim, roundId))?.status).toBe("paid_out");
    expect((await sim.store.getGroup(groupId))._unsafeUnwrap()?.status).toBe("active");
  });

  it("an account nobody has is ignored; one the provider no longer lets us read (deleted) cannot receive; a disconnected one neither", async () => {
    const { sim, groupId } = await runningRound();
    const changed = (accountId: string) =>
      ({
        kind: "payout_account_changed",
        accountId,
        reported: {
          accountId,
          detailsSubmitted: true,
          chargesEnabled: true,
          payoutsEnabled: true,
          transfersActive: true,
          requirementsDue: [],
        },
      }) as const;
    expect((await route(sim, changed("acct_nobody_knows")))._unsafeUnwrap()).toEqual({
      status: "ignored",
      detail: "account acct_nobody_knows: no person has this connected account",
    });
    const deleted = {
      getConnectedAccount: (id: string) =>
        sim.gateway
          .getConnectedAccount(id)
          .andThen(() => errAsync(gatewayError("gateway_definite", "resource_missing", `no account ${id}`))),
      getMandate: (id: string) => sim.gateway.getMandate(id),
      getPayment: (id: string) => sim.gateway.getPayment(id),
      getPaymentMethod: (id: string) => sim.gateway.getPaymentMethod(id),
    };
    expect((await readinessOf(sim, groupId, "ben"))?.payoutsEnabled).toBe(true);
    const outcome = await useCases.applyPaymentFact(
      sim.deps,
      { reader: deleted },
      changed("acct_ben"),
      "test",
    );
    expect(outcome._unsafeUnwrap().status).toBe("applied");
    expect((await readinessOf(sim, groupId, "ana"))?.payoutsEnabled).toBe(true);
    expect((await readinessOf(sim, groupId, "ben"))?.payoutsEnabled).toBe(false);

    (await route(sim, changed("acct_ben")))._unsafeUnwrap();
    expect((await readinessOf(sim, groupId, "ben"))?.payoutsEnabled).toBe(true);
    (await route(sim, { kind: "payout_account_disconnected", accountId: "acct_ben" }))._unsafeUnwrap();
    expect((await readinessOf(sim, groupId, "ben"))?.payoutsEnabled).toBe(false);
  });

  it("a provider read that may pass (timeout) fails the fact, so the webhook is retried, and changes nothing", async () => {
    const { sim, groupId } = await runningRound();
    const reader = {
      getConnectedAccount: () =>
        sim.gateway
          .getConnectedAccount("nope")
          .mapErr(() => gatewayError("gateway_outcome_unknown", "api_connection_error", "timed out")),
      getMandate: (id: string) => sim.gateway.getMandate(id),
      getPayment: (id: string) => sim.gateway.getPayment(id),
      getPaymentMethod: (id: string) => sim.gateway.getPaymentMethod(id),
    };
    const result = await useCases.applyPaymentFact(
      sim.deps,
      { reader },
      {
        kind: "payout_account_changed",
        accountId: "acct_ben",
        reported: {
          accountId: "acct_ben",
          detailsSubmitted: false,
          chargesEnabled: false,
          payoutsEnabled: false,
          transfersActive: false,
          requirementsDue: [],
        },
      },
      "test",
    );
    expect(result._unsafeUnwrapErr()).toMatchObject({ type: "gateway_outcome_unknown" });
    expect((await readinessOf(sim, groupId, "ben"))?.payoutsEnabled).toBe(true);
  });

  it("a mandate change is read again: after a permanent debit failure the member's mandate is inactive", async () => {
    const { sim, groupId } = await runningRound({ benDebits: [{ fail: "account_closed" }] });
    await sim.advance(4 * DAY_MS);
    const outcome = (
      await route(sim, {
        kind: "mandate_changed",
        // The event said active (stale); the provider says inactive now.
        mandate: { mandateId: "mandate_ben", status: "active", paymentMethodId: "pm_ben" },
      })
    )._unsafeUnwrap();
    expect(outcome.detail).toBe("mandate mandate_ben: mandateActive=false for ben");
    expect((await readinessOf(sim, groupId, "ben"))?.mandateActive).toBe(false);
    expect((await readinessOf(sim, groupId, "ana"))?.mandateActive).toBe(true);
  });

  it("news of a mandate the person replaced after it was looked up leaves their new mandate as it is", async () => {
    const { sim } = await runningRound({ benDebits: [{ fail: "account_closed" }] });
    await sim.advance(4 * DAY_MS); // the provider now says mandate_ben is inactive
    const stale = (await sim.store.getPerson("ben"))._unsafeUnwrap();
    expect(stale?.debit?.mandateId).toBe("mandate_ben");
    // Ben sets up a new mandate between the router's lookup and its write.
    (
      await route(sim, {
        kind: "debit_setup_succeeded",
        setupIntentId: "seti_new",
        customerId: "cus_ben",
        paymentMethodId: "pm_new",
        mandateId: "mandate_new",
      })
    )._unsafeUnwrap();
    // The router's lookup answers from before the new set-up; everything else is the store.
    const store = sim.deps.people;
    const people: typeof store = {
      getPerson: (id) => store.getPerson(id),
      getPeople: (ids) => store.getPeople(ids),
      findByCustomer: (id) => store.findByCustomer(id),
      findByConnectedAccount: (id) => store.findByConnectedAccount(id),
      findByMandate: () => okAsync(stale),
    };
    const outcome = await useCases.applyPaymentFact(
      { ...sim.deps, people },
      sim.factPorts,
      {
        kind: "mandate_changed",
        mandate: { mandateId: "mandate_ben", status: "inactive", paymentMethodId: "pm_ben" },
      },
      "stripe:evt_late",
    );
    expect(outcome._unsafeUnwrap()).toEqual({
      status: "ignored",
      detail: "mandate mandate_ben: ben has replaced it since",
    });
    expect((await sim.store.getPerson("ben"))._unsafeUnwrap()?.debit).toEqual({
      paymentMethodId: "pm_new",
      mandateId: "mandate_new",
      mandateActive: true,
    });
  });

  it("a finished debit set-up stores the member's payment method and mandate; a failed one stores nothing", async () => {
    const { sim, groupId } = await runningRound();
    const failed = (
      await route(sim, {
        kind: "debit_setup_failed",
        setupIntentId: "seti_1",
        refs: { groupId, memberId: "ben" },
        failureCode: "invalid_account_number",
      })
    )._unsafeUnwrap();
    expect(failed.status).toBe("ignored");
    const ok = (
      await route(sim, {
        kind: "debit_setup_succeeded",
        setupIntentId: "seti_2",
        customerId: "cus_ben",
        paymentMethodId: "pm_new",
        mandateId: "mandate_new",
      })
    )._unsafeUnwrap();
    expect(ok).toEqual({
      status: "applied",
      detail: "BECS set-up seti_2: mandate mandate_new (active=true) stored for ben",
    });
    const ben = (await sim.store.getPerson("ben"))._unsafeUnwrap();
    expect(ben).toMatchObject({
      customerId: "cus_ben",
      debit: { paymentMethodId: "pm_new", mandateId: "mandate_new", mandateActive: true },
    });
    const stranger = (
      await route(sim, {
        kind: "debit_setup_succeeded",
        setupIntentId: "seti_3",
        customerId: "cus_stranger",
        paymentMethodId: "pm_s",
        mandateId: "mandate_s",
      })
    )._unsafeUnwrap();
    expect(stranger).toEqual({ status: "ignored", detail: "BECS set-up seti_3: not made for a susu person" });
  });
});
