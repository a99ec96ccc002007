import { errAsync } from "neverthrow";
import { describe, expect, it } from "vitest";
import { type Money, money } from "../money/index.js";
import type { PayoutStatus, ReportedPayout } from "../payout/payout.js";
import { PAYOUT_KEYS_PER_DAY } from "../payout/payout-ids.js";
import { gatewayError, type PaymentGateway } from "../ports/payment-gateway.js";
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

/**
 * `sim`'s gateway with `before` run ahead of every payout asked for (with its key and
 * amount): a test's way to put a payout made elsewhere (an admin's, another run's) between
 * the balance a run read and the payout it asks for.
 */
function payoutsWith(
  sim: InMemorySusu,
  before: (input: { readonly idempotencyKey: string; readonly amount: Money }) => void,
): PaymentGateway {
  return new Proxy(sim.gateway, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (property === "createPayout") before(args[0] as Parameters<typeof before>[0]);
        return value.apply(target, args);
      };
    },
  });
}

/** Takes `amountMinor` AUD out of sam's balance, as a payout made elsewhere does. */
function paidElsewhere(sim: InMemorySusu, amountMinor: number): void {
  const have = sim.gateway.balances.get("acct_sam")?.find((m) => m.currency === "AUD")?.amountMinor ?? 0;
  sim.gateway.balances.set("acct_sam", [money(have - amountMinor, "AUD")]);
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
    // The same day again: the balance is gone, so nothing is asked.
    const again = (
      await useCases.payOutPerson(sim.deps, sim.gateway, "sam", { kind: "scheduled", at })
    )._unsafeUnwrap();
    expect(again.payouts).toEqual([]);
    // What arrives later that day, even exactly the first payout's amount, is paid under the
    // day's next key: the first key is refused as another run's, never answered with its payout.
    const day = new Date(at).toISOString().slice(0, 10);
    sim.gateway.balances.set("acct_sam", [money(120_00, "AUD")]);
    const same = (
      await useCases.payOutPerson(sim.deps, sim.gateway, "sam", { kind: "scheduled", at })
    )._unsafeUnwrap();
    expect(same.payouts.map((p) => p.amount)).toEqual([money(120_00, "AUD")]);
    expect(same.payouts.map((p) => p.payoutId)).not.toContain(first.payouts[0]?.payoutId);
    expect(sim.gateway.payouts.get(`payout:acct_sam:AUD:${day}:2`)?.payoutId).toBe(same.payouts[0]?.payoutId);
    sim.gateway.balances.set("acct_sam", [money(130_00, "AUD")]);
    const grown = (
      await useCases.payOutPerson(sim.deps, sim.gateway, "sam", { kind: "scheduled", at })
    )._unsafeUnwrap();
    expect(grown.payouts.map((p) => p.amount)).toEqual([money(130_00, "AUD")]);
    expect(grown.skipped).toEqual([]);
    expect(sim.gateway.payouts.get(`payout:acct_sam:AUD:${day}:3`)?.amount).toEqual(money(130_00, "AUD"));
    expect(sim.gateway.payouts.size).toBe(4);
    // The next day is a new key.
    sim.gateway.balances.set("acct_sam", [money(30_00, "AUD")]);
    const next = (
      await useCases.payOutPerson(sim.deps, sim.gateway, "sam", { kind: "scheduled", at: at + DAY_MS })
    )._unsafeUnwrap();
    expect(next.payouts.map((p) => p.amount)).toEqual([money(30_00, "AUD")]);
    expect([...sim.gateway.payouts.keys()]).toContain(
      `payout:acct_sam:AUD:${new Date(at + DAY_MS).toISOString().slice(0, 10)}`,
    );
  });

  it("a retried call of the same run keeps its key and gets its own payout back; the day's keys run out at PAYOUT_KEYS_PER_DAY", async () => {
    const sim = await withSeller();
    const at = sim.clock.now();
    const day = new Date(at).toISOString().slice(0, 10);
    const trigger = { kind: "scheduled" as const, at, runId: "payoutrun_a" };
    sim.gateway.balances.set("acct_sam", [money(40_00, "AUD")]);
    const first = (await useCases.payOutPerson(sim.deps, sim.gateway, "sam", trigger))._unsafeUnwrap();
    // The same run asking again (its call retried after a lost answer): the same key, its payout.
    sim.gateway.balances.set("acct_sam", [money(40_00, "AUD")]);
    const retried = (await useCases.payOutPerson(sim.deps, sim.gateway, "sam", trigger))._unsafeUnwrap();
    expect(retried.payouts).toEqual(first.payouts);
    expect([...sim.gateway.payouts.keys()]).toEqual([`payout:acct_sam:AUD:${day}`]);
    // Every key of the day spent by other runs: what arrived waits for the next day.
    for (let n = 2; n <= PAYOUT_KEYS_PER_DAY; n++)
      sim.gateway.payouts.set(`payout:acct_sam:AUD:${day}:${n}`, {
        accountId: "acct_sam",
        payoutId: `po_other_${n}`,
        createdAt: at,
        amount: money(1_00, "AUD"),
        status: "pending",
        arrivalDate: 0,
      });
    const spent = (
      await useCases.payOutPerson(sim.deps, sim.gateway, "sam", { kind: "scheduled", at })
    )._unsafeUnwrap();
    expect(spent.payouts).toEqual([]);
    expect(spent.skipped).toEqual([expect.objectContaining({ code: "idempotency_key_reused" })]);
  });

  it("pays a HUF balance out in whole forints (Stripe takes a manual HUF payout only in multiples of 100), the rest stays", async () => {
    const sim = await withSeller();
    // 1,234.56 Ft available (a transfer converted on the seller's account leaves fillér).
    sim.gateway.balances.set("acct_sam", [money(123_456, "HUF"), money(12_34, "AUD")]);
    const run = (
      await useCases.payOutPerson(sim.deps, sim.gateway, "sam", { kind: "scheduled", at: sim.clock.now() })
    )._unsafeUnwrap();
    expect(run.payouts.map((p) => p.amount)).toEqual([money(123_400, "HUF"), money(12_34, "AUD")]);
    expect(sim.gateway.balances.get("acct_sam")).toEqual([money(56, "HUF"), money(0, "AUD")]);
    // What is left is less than a forint: nothing to ask for, nothing refused.
    const next = (
      await useCases.payOutPerson(sim.deps, sim.gateway, "sam", {
        kind: "scheduled",
        at: sim.clock.now() + DAY_MS,
      })
    )._unsafeUnwrap();
    expect(next.payouts).toEqual([]);
    expect(next.skipped).toEqual([]);
  });

  it("pays nothing into a bank account a payout failed into (errored at the provider): the balance waits, quietly, for new details", async () => {
    const sim = await withSeller();
    sim.gateway.balances.set("acct_sam", [money(40_00, "AUD"), money(9_00, "NZD")]);
    sim.gateway.setPayoutDestination("acct_sam", {
      destinationId: "ba_aud",
      currency: "AUD",
      status: "errored",
    });
    sim.gateway.setPayoutDestination("acct_sam", {
      destinationId: "ba_nzd",
      currency: "NZD",
      status: "usable",
    });
    const at = sim.clock.now();
    for (const day of [0, 1]) {
      const report = (
        await useCases.payOutEveryone(sim.deps, sim.gateway, at + day * DAY_MS)
      )._unsafeUnwrap();
      expect(report.failed).toEqual([]);
      expect(report.skipped).toEqual([
        expect.objectContaining({
          personId: "sam",
          code: "bank_account_errored",
          amount: money(40_00, "AUD"),
        }),
      ]);
      await sim.runUntilQuiet();
    }
    expect([...sim.gateway.payouts.values()].map((p) => p.amount)).toEqual([money(9_00, "NZD")]);
    expect(sim.gateway.balances.get("acct_sam")).toEqual([money(40_00, "AUD"), money(0, "NZD")]);
    // No refusal: the failed payout already told the person and opened the ticket.
    expect(sim.notifier.sent).toEqual([]);
    expect(sim.desk.tickets).toEqual([]);
    // The person put in a new bank account: the next run pays what waited.
    sim.gateway.setPayoutDestination("acct_sam", {
      destinationId: "ba_aud2",
      currency: "AUD",
      status: "usable",
    });
    const fixed = (await useCases.payOutEveryone(sim.deps, sim.gateway, at + 2 * DAY_MS))._unsafeUnwrap();
    expect(fixed.skipped).toEqual([]);
    expect(fixed.payouts.map((p) => p.amount)).toEqual([money(40_00, "AUD")]);
  });

  it("is refused unless the account's schedule at the provider is manual and the person can be paid out", async () => {
    const sim = await withSeller();
    sim.gateway.balances.set("acct_sam", [money(20_00, "AUD")]);
    const automatic = { ...sim.deps, payoutSchedule: { interval: "daily" as const } };
    const trigger = { kind: "requested" as const, requestKey: "k1", by: "ops" };
    // The provider does not say: the setting decides.
    expect(
      (await useCases.payOutPerson(automatic, sim.gateway, "sam", trigger))._unsafeUnwrapErr().code,
    ).toBe("payouts_not_manual");
    // The provider shows the account on its daily schedule: refused whatever the setting.
    sim.gateway.setPayoutInterval("acct_sam", "daily");
    expect((await useCases.payOutPerson(sim.deps, sim.gateway, "sam", trigger))._unsafeUnwrapErr().code).toBe(
      "payouts_not_manual",
    );
    expect(sim.gateway.payouts.size).toBe(0);
    // Still manual at the provider (created before the setting moved off manual): paid.
    sim.gateway.setPayoutInterval("acct_sam", "manual");
    const paid = (await useCases.payOutPerson(automatic, sim.gateway, "sam", trigger))._unsafeUnwrap();
    expect(paid.payouts.map((p) => p.amount)).toEqual([money(20_00, "AUD")]);
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
    // The provider does not answer for ana's account now; zed's day was paid already (by
    // another run): what zed has now arrived since, paid under the day's next key.
    sim.gateway.unreadableBalances.add("acct_ana");
    (await sim.addSeller("zed"))._unsafeUnwrap();
    sim.gateway.balances.set("acct_zed", [money(10_00, "AUD")]);
    sim.gateway.payouts.set(`payout:acct_zed:AUD:${new Date(sim.clock.now()).toISOString().slice(0, 10)}`, {
      accountId: "acct_zed",
      payoutId: "po_zed_earlier",
      createdAt: sim.clock.now(),
      amount: money(99_00, "AUD"),
      status: "pending",
      arrivalDate: 0,
    });
    const report = (await useCases.payOutEveryone(sim.deps, sim.gateway, sim.clock.now()))._unsafeUnwrap();
    expect(report.people).toBe(3);
    expect(report.payouts.map((p) => p.amount)).toEqual([money(70_00, "AUD"), money(10_00, "AUD")]);
    expect(report.payouts.map((p) => p.payoutId)).not.toContain("po_zed_earlier");
    expect(report.skipped).toEqual([]);
    expect(report.failed).toEqual([
      expect.objectContaining({ personId: "ana", code: "api_connection_error" }),
    ]);
    // The setting moved off manual: accounts the provider pays out by itself are reported as
    // such (the provider does not say for sam and ana: the setting decides), not failed; zed's,
    // still manual at the provider, is paid.
    const automatic = {
      ...sim.deps,
      payoutSchedule: { interval: "weekly" as const, weeklyAnchor: "friday" as const },
    };
    sim.gateway.unreadableBalances.delete("acct_ana");
    sim.gateway.setPayoutInterval("acct_zed", "manual");
    sim.gateway.balances.set("acct_zed", [money(3_00, "AUD")]);
    const later = (await useCases.payOutEveryone(automatic, sim.gateway, sim.clock.now()))._unsafeUnwrap();
    expect(later).toEqual({
      rechecked: expect.objectContaining({ failed: [] }),
      people: 1,
      automatic: [
        { personId: "ana", message: expect.stringContaining("weekly") },
        { personId: "sam", message: expect.stringContaining("weekly") },
      ],
      payouts: [expect.objectContaining({ amount: money(3_00, "AUD") })],
      skipped: [],
      paused: [],
      failed: [],
    });
  });

  it("a payout the provider refuses is told to the person and ticketed, once per account, currency and day", async () => {
    const sim = await withSeller();
    sim.gateway.balances.set("acct_sam", [money(60_00, "AUD")]);
    // Stripe refuses: the account cannot pay out (no bank account, restricted), though susu thought it could.
    sim.gateway.setAccount("acct_sam", false);
    const at = sim.clock.now();
    const day = new Date(at).toISOString().slice(0, 10);
    for (let run = 0; run < 2; run++) {
      const report = (await useCases.payOutEveryone(sim.deps, sim.gateway, at))._unsafeUnwrap();
      expect(report.skipped).toEqual([
        expect.objectContaining({
          personId: "sam",
          code: "payouts_not_allowed",
          amount: money(60_00, "AUD"),
        }),
      ]);
      await sim.runUntilQuiet();
    }
    expect(sim.notifier.sent).toEqual([
      expect.objectContaining({
        id: `payout:acct_sam:AUD:${day}:refused:notify`,
        aggregate: "payout",
        personIds: ["sam"],
        template: "payout_refused",
        data: expect.objectContaining({ amountMinor: 60_00, failureCode: "payouts_not_allowed" }),
      }),
    ]);
    expect(sim.desk.tickets).toEqual([
      expect.objectContaining({ id: `payout:acct_sam:AUD:${day}:refused:ticket`, reason: "payout_refused" }),
    ]);
    // The next day's refusal is news again: one more notice and ticket.
    (await useCases.payOutEveryone(sim.deps, sim.gateway, at + DAY_MS))._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(sim.desk.tickets.map((t) => t.reason)).toEqual(["payout_refused", "payout_refused"]);
    // A reused key (money that arrived after the day's payout) is no refusal: nobody is told,
    // and what arrived is paid under the day's next key.
    sim.gateway.setAccount("acct_sam", true);
    (await useCases.payOutEveryone(sim.deps, sim.gateway, at + 2 * DAY_MS))._unsafeUnwrap();
    sim.gateway.balances.set("acct_sam", [money(5_00, "AUD")]);
    const grown = (await useCases.payOutEveryone(sim.deps, sim.gateway, at + 2 * DAY_MS))._unsafeUnwrap();
    expect(grown.skipped).toEqual([]);
    expect(grown.payouts.map((p) => p.amount)).toEqual([money(5_00, "AUD")]);
    await sim.runUntilQuiet();
    expect(sim.desk.tickets).toHaveLength(2);
  });

  it("an admin's payout and the day's run at once: the money is paid once, and the one that finds it gone is no refusal", async () => {
    const sim = await withSeller();
    sim.gateway.balances.set("acct_sam", [money(120_00, "AUD")]);
    const at = sim.clock.now();
    // Both read 120.00; Stripe pays the first and refuses the second (balance_insufficient).
    const [requested, scheduled] = await Promise.all([
      useCases.payOutPerson(sim.deps, sim.gateway, "sam", {
        kind: "requested",
        requestKey: "ops:k1",
        by: "ops",
      }),
      useCases.payOutPerson(sim.deps, sim.gateway, "sam", { kind: "scheduled", at }),
    ]);
    const runs = [requested._unsafeUnwrap(), scheduled._unsafeUnwrap()];
    expect(runs.flatMap((r) => r.payouts).map((p) => p.amount)).toEqual([money(120_00, "AUD")]);
    expect(sim.gateway.balances.get("acct_sam")).toEqual([money(0, "AUD")]);
    await sim.runUntilQuiet();
    // Nothing is wrong with sam's account: nothing skipped, nobody told, no ticket.
    expect(runs.flatMap((r) => r.skipped)).toEqual([]);
    expect(sim.notifier.sent.map((n) => n.template)).not.toContain("payout_refused");
    expect(sim.desk.tickets.map((t) => t.reason)).not.toContain("payout_refused");
  });

  it("a payout made elsewhere took part of the balance first: the rest is paid under the next key, no refusal", async () => {
    const sim = await withSeller();
    const at = sim.clock.now();
    const day = new Date(at).toISOString().slice(0, 10);
    // Between a run's read and its first payout, 100.00 is paid out by someone else.
    let raced = false;
    const gateway = payoutsWith(sim, () => {
      if (raced) return;
      raced = true;
      paidElsewhere(sim, 100_00);
    });
    sim.gateway.balances.set("acct_sam", [money(120_00, "AUD")]);
    const run = (
      await useCases.payOutPerson(sim.deps, gateway, "sam", { kind: "scheduled", at, runId: "payoutrun_a" })
    )._unsafeUnwrap();
    expect(run.payouts.map((p) => p.amount)).toEqual([money(20_00, "AUD")]);
    expect(run.skipped).toEqual([]);
    // The day's first key was refused (nothing made under it); the rest went under the next.
    expect([...sim.gateway.payouts.keys()]).toEqual([`payout:acct_sam:AUD:${day}:2`]);
    // An admin's request likewise, under a key of its own derived from the request's.
    sim.gateway.balances.set("acct_sam", [money(150_00, "AUD")]);
    raced = false;
    const requested = (
      await useCases.payOutPerson(sim.deps, gateway, "sam", {
        kind: "requested",
        requestKey: "ops:k1",
        by: "ops",
      })
    )._unsafeUnwrap();
    expect(requested.payouts.map((p) => p.amount)).toEqual([money(50_00, "AUD")]);
    expect(requested.skipped).toEqual([]);
    expect([...sim.gateway.payouts.keys()]).toEqual([
      `payout:acct_sam:AUD:${day}:2`,
      "payout:acct_sam:AUD:request-2:ops:k1",
    ]);
    expect(sim.gateway.balances.get("acct_sam")).toEqual([money(0, "AUD")]);
    await sim.runUntilQuiet();
    expect(sim.notifier.sent).toEqual([]);
    expect(sim.desk.tickets).toEqual([]);
  });

  it("a balance_insufficient refusal of the balance as read (nothing paid elsewhere) is a refusal: told and ticketed", async () => {
    const sim = await withSeller();
    const at = sim.clock.now();
    const day = new Date(at).toISOString().slice(0, 10);
    sim.gateway.balances.set("acct_sam", [money(60_00, "AUD")]);
    // Stripe refuses what its own balance shows (e.g. funds it will not pay out yet).
    const refusing = new Proxy(sim.gateway, {
      get(target, property) {
        if (property === "createPayout")
          return () => errAsync(gatewayError("gateway_definite", "balance_insufficient", "too low"));
        const value: unknown = Reflect.get(target, property);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const run = (
      await useCases.payOutPerson(sim.deps, refusing, "sam", { kind: "scheduled", at })
    )._unsafeUnwrap();
    expect(run.skipped).toEqual([
      expect.objectContaining({ code: "balance_insufficient", amount: money(60_00, "AUD") }),
    ]);
    await sim.runUntilQuiet();
    expect(sim.notifier.sent.map((n) => [n.id, n.template])).toEqual([
      [`payout:acct_sam:AUD:${day}:refused:notify`, "payout_refused"],
    ]);
    expect(sim.desk.tickets.map((t) => t.reason)).toEqual(["payout_refused"]);
  });

  it("keeps what a reversal of the seller's transfer still needs in the balance: paid out only the rest", async () => {
    const sim = await withSeller();
    // A booking of 100.00 (10 % fee) released to sam: 90.00 transferred.
    const created = (
      await useCases.createHeldPayment(sim.deps, {
        requestedBy: "app",
        clientReference: "b1",
        amountMinor: 100_00,
        currency: "AUD",
        sellerId: "sam",
        description: "a night",
        customer: { email: "cy@example.com" },
        fee: { kind: "rate", basisPoints: 1_000 },
        successUrl: "https://app.example/done",
      })
    )._unsafeUnwrap();
    const id = created.payment.id;
    await sim.runUntilQuiet();
    await sim.payCheckout(id, "card");
    (await useCases.confirmFulfilled(sim.deps, id, "app"))._unsafeUnwrap();
    await sim.advance(73 * 60 * 60 * 1000);
    await sim.runUntilQuiet();
    const held = () => sim.store.heldPayments().find((p) => p.id === id);
    expect(held()?.status).toBe("released");
    // A refund of 50.00 after the release reverses 45.00 of sam's transfer first; Stripe
    // refuses the reversal (the balance was paid out elsewhere), so it waits for an admin's retry.
    sim.gateway.injectFault(
      "reverseTransfer",
      "before",
      gatewayError("gateway_definite", "balance_insufficient", "the account's balance does not cover it"),
    );
    (await useCases.refundHeldPayment(sim.deps, id, { operator: "olga" }, 50_00))._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(held()?.refunds[0]).toMatchObject({ status: "reversal_failed", sellerPartMinor: 45_00 });

    sim.gateway.balances.set("acct_sam", [money(100_00, "AUD"), money(20_00, "USD")]);
    const run = (
      await useCases.payOutPerson(sim.deps, sim.gateway, "sam", { kind: "scheduled", at: sim.clock.now() })
    )._unsafeUnwrap();
    expect(run.payouts.map((p) => p.amount)).toEqual([money(55_00, "AUD"), money(20_00, "USD")]);
    expect(run.skipped).toEqual([
      expect.objectContaining({ code: "reserved_for_reversals", amount: money(45_00, "AUD") }),
    ]);
    expect(sim.gateway.balances.get("acct_sam")).toEqual([money(45_00, "AUD"), money(0, "USD")]);
    // A balance the reserve takes whole is not paid out at all, and nobody is told (no refusal).
    sim.gateway.balances.set("acct_sam", [money(30_00, "AUD")]);
    const small = (
      await useCases.payOutPerson(sim.deps, sim.gateway, "sam", {
        kind: "scheduled",
        at: sim.clock.now() + DAY_MS,
      })
    )._unsafeUnwrap();
    expect(small.payouts).toEqual([]);
    expect(small.skipped).toEqual([
      expect.objectContaining({ code: "reserved_for_reversals", amount: money(30_00, "AUD") }),
    ]);
    await sim.runUntilQuiet();
    expect(sim.desk.tickets.filter((t) => t.aggregate === "payout")).toEqual([]);
    // The admin's retry reverses it: nothing is reserved any more.
    (await useCases.retryRefund(sim.deps, id, { operator: "olga" }))._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(held()?.refunds[0]?.status).toBe("succeeded");
    sim.gateway.balances.set("acct_sam", [money(30_00, "AUD")]);
    const after = (
      await useCases.payOutPerson(sim.deps, sim.gateway, "sam", {
        kind: "scheduled",
        at: sim.clock.now() + 2 * DAY_MS,
      })
    )._unsafeUnwrap();
    expect(after.payouts.map((p) => p.amount)).toEqual([money(30_00, "AUD")]);
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

describe("a payout susu asked for is never unknown to it", () => {
  it("is recorded when asked: its events all lost, the next run's recheck finds it failed, tells the person and tickets it once", async () => {
    const sim = await withSeller();
    sim.gateway.balances.set("acct_sam", [money(70_00, "AUD")]);
    const first = (await useCases.payOutEveryone(sim.deps, sim.gateway, sim.clock.now()))._unsafeUnwrap();
    const payoutId = first.payouts[0]?.payoutId ?? "";
    expect(payoutId).not.toBe("");
    // Not one payout.* event is delivered; the bank returns the payout.
    sim.gateway.payoutNews.set(payoutId, reported("failed", { payoutId, amountMinor: 70_00 }));
    sim.clock.advance(DAY_MS);
    const next = (await useCases.payOutEveryone(sim.deps, sim.gateway, sim.clock.now()))._unsafeUnwrap();
    expect(next.rechecked.changed.map((c) => c.payoutId)).toEqual([payoutId]);
    await sim.runUntilQuiet();
    expect(sim.store.payouts()).toEqual([
      expect.objectContaining({ payoutId, personId: "sam", status: "failed", failureCode: "account_closed" }),
    ]);
    expect(sim.notifier.sent.map((n) => n.id)).toEqual([`payout:${payoutId}:failed:notify`]);
    expect(sim.desk.tickets.map((t) => t.id)).toEqual([`payout:${payoutId}:failed:ticket`]);
  });

  it("its answer lost too: the request recorded before asking is found at the provider by its key, once", async () => {
    const sim = await withSeller();
    const day = new Date(sim.clock.now()).toISOString().slice(0, 10);
    const key = `payout:acct_sam:AUD:${day}`;
    sim.gateway.balances.set("acct_sam", [money(55_00, "AUD")]);
    sim.gateway.injectFault("createPayout", "lost_reply");
    const lost = (await useCases.payOutEveryone(sim.deps, sim.gateway, sim.clock.now()))._unsafeUnwrap();
    expect(lost.payouts).toEqual([]);
    expect(lost.failed).toEqual([expect.objectContaining({ personId: "sam", code: "api_connection_error" })]);
    const made = sim.gateway.payouts.get(key);
    expect(made?.amount).toEqual(money(55_00, "AUD"));
    expect(sim.store.payoutRequests()).toEqual([
      expect.objectContaining({ key, personId: "sam", amountMinor: 55_00, currency: "AUD", status: "asked" }),
    ]);
    // Its events lost too; the bank returns it.
    sim.gateway.payoutNews.set(
      made?.payoutId ?? "",
      reported("failed", { payoutId: made?.payoutId ?? "", amountMinor: 55_00 }),
    );
    const rerun = (await useCases.payOutEveryone(sim.deps, sim.gateway, sim.clock.now()))._unsafeUnwrap();
    expect(rerun.rechecked.requests.found).toEqual([{ key, payoutId: made?.payoutId }]);
    expect(rerun.payouts).toEqual([]);
    expect(rerun.failed).toEqual([]);
    await sim.runUntilQuiet();
    expect(sim.store.payoutRequests()).toEqual([
      expect.objectContaining({ key, status: "made", payoutId: made?.payoutId }),
    ]);
    expect(sim.store.payouts()).toEqual([
      expect.objectContaining({ payoutId: made?.payoutId, personId: "sam", status: "failed" }),
    ]);
    expect(sim.notifier.sent.map((n) => n.id)).toEqual([`payout:${made?.payoutId}:failed:notify`]);
    // Found once: the next recheck has no request left to look up.
    const third = (await useCases.payOutEveryone(sim.deps, sim.gateway, sim.clock.now()))._unsafeUnwrap();
    expect(third.rechecked.requests).toEqual({ checked: 0, found: [], notMade: [], failed: [] });
  });

  it("a request that never reached the provider is closed as not made after two days; one refused is closed at once", async () => {
    const sim = await withSeller();
    sim.gateway.balances.set("acct_sam", [money(20_00, "AUD")]);
    sim.gateway.injectFault("createPayout", "before");
    (await useCases.payOutEveryone(sim.deps, sim.gateway, sim.clock.now()))._unsafeUnwrap();
    expect(sim.store.payoutRequests().map((r) => r.status)).toEqual(["asked"]);
    sim.clock.advance(DAY_MS);
    // Paid the next day under the next day's key; the first request is still looked for.
    const paid = (await useCases.payOutEveryone(sim.deps, sim.gateway, sim.clock.now()))._unsafeUnwrap();
    expect(paid.payouts.map((p) => p.amount)).toEqual([money(20_00, "AUD")]);
    expect(paid.rechecked.requests).toMatchObject({ checked: 1, found: [], notMade: [] });
    sim.clock.advance(DAY_MS);
    const closed = (await useCases.payOutEveryone(sim.deps, sim.gateway, sim.clock.now()))._unsafeUnwrap();
    expect(closed.rechecked.requests.notMade).toHaveLength(1);
    expect(
      sim.store
        .payoutRequests()
        .map((r) => r.status)
        .sort(),
    ).toEqual(["made", "not_made"]);
    // Refused by the provider: closed as refused, nothing to look up.
    sim.gateway.balances.set("acct_sam", [money(9_00, "AUD")]);
    sim.gateway.setAccount("acct_sam", false);
    const refused = (
      await useCases.payOutPerson(sim.deps, sim.gateway, "sam", {
        kind: "requested",
        requestKey: "k1",
        by: "admin",
      })
    )._unsafeUnwrap();
    expect(refused.skipped).toEqual([expect.objectContaining({ code: "payouts_not_allowed" })]);
    expect(
      (await sim.store.getPayoutRequest("payout:acct_sam:AUD:request:k1"))._unsafeUnwrap(),
    ).toMatchObject({
      status: "refused",
    });
  });
});
