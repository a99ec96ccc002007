import { describe, expect, it } from "vitest";
import { money } from "../money/index.js";
import type { PayoutStatus, ReportedPayout } from "../payout/payout.js";
import { DAY_MS } from "../shared/time.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import * as useCases from "./index.js";

const reported = (status: PayoutStatus, over: Partial<ReportedPayout> = {}): ReportedPayout => ({
  payoutId: "po_1",
  accountId: "acct_sam",
  amountMinor: 80_00,
  currency: "AUD",
  status,
  arrivalDate: 1_900_000_000_000,
  automatic: false,
  createdAt: 1_899_000_000_000,
  ...(status === "failed"
    ? { failureCode: "account_closed", failureMessage: "The bank account has been closed." }
    : {}),
  ...over,
});

async function withSeller() {
  const sim = new InMemorySusu();
  (await sim.addSeller("sam"))._unsafeUnwrap();
  return sim;
}

describe("recording payouts", () => {
  it("records a payout for the account's person, and a late created event does not undo paid", async () => {
    const sim = await withSeller();
    (await sim.deliver([{ kind: "payout_changed", payout: reported("paid") }]))._unsafeUnwrap();
    (await sim.deliver([{ kind: "payout_changed", payout: reported("pending") }]))._unsafeUnwrap();
    expect(sim.store.payouts()).toEqual([
      expect.objectContaining({ payoutId: "po_1", personId: "sam", status: "paid" }),
    ]);
  });

  it("a payout of an account nobody has is ignored", async () => {
    const sim = await withSeller();
    const outcome = (
      await useCases.applyPaymentFact(
        sim.deps,
        sim.factPorts,
        { kind: "payout_changed", payout: reported("paid", { accountId: "acct_x" }) },
        "t",
      )
    )._unsafeUnwrap();
    expect(outcome.status).toBe("ignored");
    expect(sim.store.payouts()).toEqual([]);
  });

  it("a failed payout tells the person what to do and opens one ticket, however often it is heard", async () => {
    const sim = await withSeller();
    for (const status of ["pending", "failed", "failed", "paid", "failed"] as const)
      (await sim.deliver([{ kind: "payout_changed", payout: reported(status) }]))._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(sim.store.payouts()).toEqual([
      expect.objectContaining({ status: "failed", failureCode: "account_closed" }),
    ]);
    expect(sim.notifier.sent).toEqual([
      expect.objectContaining({
        id: "payout:po_1:failed:notify",
        aggregate: "payout",
        aggregateId: "po_1",
        personIds: ["sam"],
        template: "payout_failed",
        data: expect.objectContaining({ action: "update_bank_account", failureCode: "account_closed" }),
      }),
    ]);
    expect(sim.desk.tickets).toEqual([
      expect.objectContaining({
        id: "payout:po_1:failed:ticket",
        aggregate: "payout",
        reason: "payout_failed",
      }),
    ]);
  });
});

describe("paying a person out", () => {
  it("pays each currency's available balance once per day, however often the run is repeated", async () => {
    const sim = await withSeller();
    sim.gateway.balances.set("acct_sam", [money(120_00, "AUD"), money(0, "NZD"), money(5_00, "USD")]);
    const at = sim.clock.now();
    const first = (
      await useCases.payOutPerson(sim.deps, sim.gateway, "sam", { kind: "scheduled", at })
    )._unsafeUnwrap();
    expect(first.payouts.map((p) => p.amount)).toEqual([money(120_00, "AUD"), money(5_00, "USD")]);
    // The same day again: the balance is gone, so nothing is asked; a grown balance is refused by the key.
    const again = (
      await useCases.payOutPerson(sim.deps, sim.gateway, "sam", { kind: "scheduled", at })
    )._unsafeUnwrap();
    expect(again.payouts).toEqual([]);
    sim.gateway.balances.set("acct_sam", [money(130_00, "AUD")]);
    const grown = (
      await useCases.payOutPerson(sim.deps, sim.gateway, "sam", { kind: "scheduled", at })
    )._unsafeUnwrap();
    expect(grown.payouts).toEqual([]);
    expect(grown.skipped).toEqual([expect.objectContaining({ code: "idempotency_key_reused" })]);
    expect(sim.gateway.payouts.size).toBe(2);
    // The next day is a new key.
    const next = (
      await useCases.payOutPerson(sim.deps, sim.gateway, "sam", { kind: "scheduled", at: at + DAY_MS })
    )._unsafeUnwrap();
    expect(next.payouts.map((p) => p.amount)).toEqual([money(130_00, "AUD")]);
    expect([...sim.gateway.payouts.keys()]).toContain(
      `payout:acct_sam:AUD:${new Date(at + DAY_MS).toISOString().slice(0, 10)}`,
    );
  });

  it("is refused unless the schedule is manual and the person can be paid out", async () => {
    const sim = await withSeller();
    const automatic = { ...sim.deps, payoutSchedule: { interval: "daily" as const } };
    const trigger = { kind: "requested" as const, requestKey: "k1", by: "ops" };
    expect(
      (await useCases.payOutPerson(automatic, sim.gateway, "sam", trigger))._unsafeUnwrapErr().code,
    ).toBe("payouts_not_manual");
    expect(
      (await useCases.payOutPerson(sim.deps, sim.gateway, "nobody", trigger))._unsafeUnwrapErr().code,
    ).toBe("person_not_found");
    (await sim.addSeller("rae", { canReceive: false }))._unsafeUnwrap();
    expect((await useCases.payOutPerson(sim.deps, sim.gateway, "rae", trigger))._unsafeUnwrapErr().code).toBe(
      "payouts_not_enabled",
    );
  });

  it("the run pays every person who can be paid; one who cannot is reported, not in the way", async () => {
    const sim = await withSeller();
    (await sim.addSeller("ana"))._unsafeUnwrap();
    (await sim.addSeller("rae", { canReceive: false }))._unsafeUnwrap();
    sim.gateway.balances.set("acct_sam", [money(70_00, "AUD")]);
    // The provider does not answer for ana's account now; zed's day was paid already.
    sim.gateway.unreadableBalances.add("acct_ana");
    (await sim.addSeller("zed"))._unsafeUnwrap();
    sim.gateway.balances.set("acct_zed", [money(10_00, "AUD")]);
    sim.gateway.payouts.set(`payout:acct_zed:AUD:${new Date(sim.clock.now()).toISOString().slice(0, 10)}`, {
      accountId: "acct_zed",
      payoutId: "po_zed_earlier",
      amount: money(99_00, "AUD"),
      status: "pending",
      arrivalDate: 0,
    });
    const report = (await useCases.payOutEveryone(sim.deps, sim.gateway, sim.clock.now()))._unsafeUnwrap();
    expect(report.people).toBe(3);
    expect(report.payouts.map((p) => p.amount)).toEqual([money(70_00, "AUD")]);
    expect(report.skipped).toEqual([
      expect.objectContaining({ personId: "zed", code: "idempotency_key_reused" }),
    ]);
    expect(report.failed).toEqual([
      expect.objectContaining({ personId: "ana", code: "api_connection_error" }),
    ]);
    const automatic = {
      ...sim.deps,
      payoutSchedule: { interval: "weekly" as const, weeklyAnchor: "friday" as const },
    };
    expect((await useCases.payOutEveryone(automatic, sim.gateway, sim.clock.now()))._unsafeUnwrap()).toEqual({
      people: 0,
      payouts: [],
      skipped: [],
      failed: [],
    });
  });

  it("a balance adds the provider's balance and the seller's share susu still holds", async () => {
    const sim = await withSeller();
    sim.gateway.balances.set("acct_sam", [money(30_00, "AUD")]);
    // Two bookings paid by card and held: 90.00 and 45.00 of the seller's share (10 % fee); a
    // third still awaiting payment holds nothing.
    for (const [reference, amountMinor] of [
      ["b1", 100_00],
      ["b2", 50_00],
      ["b3", 70_00],
    ] as const) {
      const created = (
        await useCases.createHeldPayment(sim.deps, {
          requestedBy: "app",
          clientReference: reference,
          amountMinor,
          currency: "AUD",
          sellerId: "sam",
          description: "a night",
          customer: { email: "cy@example.com" },
          fee: { kind: "rate", basisPoints: 1_000 },
          successUrl: "https://app.example/done",
        })
      )._unsafeUnwrap();
      await sim.runUntilQuiet();
      if (reference !== "b3") await sim.payCheckout(created.payment.id, "card");
    }
    await sim.runUntilQuiet();
    const balance = (await useCases.personBalance(sim.deps, sim.gateway, "sam"))._unsafeUnwrap();
    expect(balance).toEqual({
      personId: "sam",
      connectedAccountId: "acct_sam",
      provider: { available: [money(30_00, "AUD")], pending: [] },
      accountGone: false,
      heldForSeller: [money(135_00, "AUD")],
    });
  });
});
