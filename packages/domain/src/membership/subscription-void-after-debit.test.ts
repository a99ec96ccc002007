// An ended membership's unpaid invoice whose bank debit was processing when susu asked Stripe
// to void it: Stripe cannot void it then (the debit cannot be called back), so the gateway
// answers `payment_processing`. A success is an invoice paid after the end (refunded); a failure
// leaves the invoice open and payable, so susu voids it then, under a key of its own (Stripe
// keeps the first call's answer for its key).
import { describe, expect, it } from "vitest";
import { MEMBERSHIP_VOID_RECHECK_MS } from "../policy/membership-policy.js";
import { FakeBillingGateway } from "../testing/fake-billing-gateway.js";
import {
  activeSubscription,
  failedInvoice,
  feed,
  invoice,
  MEMBERSHIP_T0,
  paidInvoice,
  snapshot,
} from "../testing/membership-mothers.js";
import { executeBillingEffect } from "../use-cases/execute-membership-effect.js";
import type { SubscriptionEffect } from "./membership-effect.js";
import { subscriptionIds } from "./membership-ids.js";
import type { Subscription } from "./subscription.js";
import { decideSubscription } from "./subscription-decide.js";
import type { SubscriptionInput } from "./subscription-input.js";

const DAY_MS = 86_400_000;
const at = (day: number) => ({ now: MEMBERSHIP_T0 + day * DAY_MS });

/** Attempt 1 of in_2 failed on day 30; Stripe's retry, a BECS debit, was processing when the person canceled on day 31. */
function canceledWhileDebitProcessing(): Subscription {
  return feed(activeSubscription(), [
    failedInvoice("in_2", 30, 1, 3),
    snapshot("canceled", 31, {
      cancellationReason: "cancellation_requested",
      endedAt: MEMBERSHIP_T0 + 31 * DAY_MS,
    }),
  ]);
}

const answered = (voidId: string, status: string): SubscriptionInput => ({
  type: "invoice_void_answered",
  invoiceId: "in_2",
  voidId,
  status,
});

const voids = (effects: readonly SubscriptionEffect[]) =>
  effects.filter((e) => e.kind === "void_subscription_invoice");

/** The same failure heard again (Stripe redelivers its event): ignored, nothing asked or noted. */
function expectNoNews(s: Subscription, failure: SubscriptionInput, day: number): void {
  const d = decideSubscription(s, failure, at(day))._unsafeUnwrap();
  expect(d.ignored).toBeDefined();
  expect(d.effects).toEqual([]);
  expect(d.state).toEqual(s);
}

/** The membership after Stripe answered the first void `payment_processing` on day 31. */
function waitingForTheDebit(): Subscription {
  return decideSubscription(
    canceledWhileDebitProcessing(),
    answered("sub1:invoice:in_2:void", "payment_processing"),
    at(31),
  )._unsafeUnwrap().state;
}

describe("an ended membership's invoice whose BECS debit was processing when it was to be voided", () => {
  it("the end asks for the void (call 1); its answer payment_processing waits for the debit, with a recheck timer", () => {
    const s = canceledWhileDebitProcessing();
    expect(s.invoices.find((i) => i.id === "in_2")?.voiding).toEqual({ calls: 1, status: "requested" });
    const d = decideSubscription(
      s,
      answered("sub1:invoice:in_2:void", "payment_processing"),
      at(31),
    )._unsafeUnwrap();
    expect(d.ignored).toBeUndefined();
    expect(d.state.status).toBe("canceled");
    expect(d.state.invoices.find((i) => i.id === "in_2")?.voiding).toEqual({
      calls: 1,
      status: "awaiting_debit",
    });
    expect(d.effects).toEqual([
      {
        kind: "schedule_timer",
        id: "sub1:invoice:in_2:void:1:recheck",
        aggregate: "subscription",
        aggregateId: "sub1",
        at: MEMBERSHIP_T0 + 31 * DAY_MS + MEMBERSHIP_VOID_RECHECK_MS,
        timer: { kind: "void_recheck", invoiceId: "in_2", call: 1 },
      },
    ]);
    // Heard again (the effect's answer replayed): nothing more.
    const again = decideSubscription(
      d.state,
      answered("sub1:invoice:in_2:void", "payment_processing"),
      at(31),
    );
    expect(again._unsafeUnwrap().ignored?.code).toBe("void_already_answered");
  });

  it("the debit fails (invoice.payment_failed): the invoice is voided then, under a key of its own; once", () => {
    const s = waitingForTheDebit();
    const d = decideSubscription(s, failedInvoice("in_2", 34, 2), at(34))._unsafeUnwrap();
    expect(d.state.status).toBe("canceled");
    expect(d.effects).toEqual([
      {
        kind: "void_subscription_invoice",
        id: "sub1:invoice:in_2:void:2",
        aggregate: "subscription",
        aggregateId: "sub1",
        stripeInvoiceId: "in_2",
      },
    ]);
    const inv = d.state.invoices.find((i) => i.id === "in_2");
    // Asked for the failure of day 34, which it keeps: that failure heard again is no news.
    expect(inv?.voiding).toEqual({
      calls: 2,
      status: "requested",
      lastFailureAt: MEMBERSHIP_T0 + 34 * DAY_MS,
    });
    // No notice of a failed payment to a person whose membership ended, no ticket.
    expect(d.effects.some((e) => e.kind === "notify" || e.kind === "open_ticket")).toBe(false);
    // The same failure heard again changes nothing: call 2 was asked after it.
    expectNoNews(d.state, failedInvoice("in_2", 34, 2), 34);
    // Call 2 answered payment_processing (a newer debit): it waits for that debit, with a recheck;
    // the failure of the older debit heard again then asks nothing either.
    const processing = decideSubscription(
      d.state,
      answered("sub1:invoice:in_2:void:2", "payment_processing"),
      at(35),
    )._unsafeUnwrap();
    expect(processing.effects.map((e) => e.id)).toEqual(["sub1:invoice:in_2:void:2:recheck"]);
    expectNoNews(processing.state, failedInvoice("in_2", 34, 2), 35);
    // The newer debit's own failure is news: call 3.
    const newer = decideSubscription(processing.state, failedInvoice("in_2", 37, 3), at(37))._unsafeUnwrap();
    expect(voids(newer.effects).map((e) => e.id)).toEqual(["sub1:invoice:in_2:void:3"]);
    // Voided: done; the first call's recheck finds nothing to do.
    const voided = decideSubscription(
      d.state,
      answered("sub1:invoice:in_2:void:2", "void"),
      at(34),
    )._unsafeUnwrap();
    expect(voided.state.invoices.find((i) => i.id === "in_2")?.voiding).toEqual({
      calls: 2,
      status: "ended",
      lastFailureAt: MEMBERSHIP_T0 + 34 * DAY_MS,
    });
    expect(voided.effects).toEqual([]);
    const recheck = decideSubscription(
      voided.state,
      { type: "timer", timer: { kind: "void_recheck", invoiceId: "in_2", call: 1 } },
      at(38),
    )._unsafeUnwrap();
    expect(recheck.ignored?.code).toBe("timer_no_longer_due");
    // A later failure (a payment by hand of the void invoice cannot be made) voids nothing more.
    const later = decideSubscription(voided.state, failedInvoice("in_2", 40, 3), at(40))._unsafeUnwrap();
    expect(voids(later.effects)).toEqual([]);
  });

  it("no news of the debit's failure: the recheck timer voids again under a new key; still processing, it waits again", () => {
    const s = waitingForTheDebit();
    const d = decideSubscription(
      s,
      { type: "timer", timer: { kind: "void_recheck", invoiceId: "in_2", call: 1 } },
      at(38),
    )._unsafeUnwrap();
    expect(voids(d.effects)).toEqual([
      expect.objectContaining({ id: "sub1:invoice:in_2:void:2", stripeInvoiceId: "in_2" }),
    ]);
    // The first call's answer heard late says nothing of the second.
    const stale = decideSubscription(
      d.state,
      answered("sub1:invoice:in_2:void", "payment_processing"),
      at(38),
    );
    expect(stale._unsafeUnwrap().ignored?.code).toBe("void_already_answered");
    const still = decideSubscription(
      d.state,
      answered("sub1:invoice:in_2:void:2", "payment_processing"),
      at(38),
    )._unsafeUnwrap();
    expect(still.effects).toEqual([
      expect.objectContaining({
        kind: "schedule_timer",
        id: "sub1:invoice:in_2:void:2:recheck",
        timer: { kind: "void_recheck", invoiceId: "in_2", call: 2 },
      }),
    ]);
    // The timer of the first call fires again (a crash): it is not the one awaited.
    const old = decideSubscription(
      still.state,
      { type: "timer", timer: { kind: "void_recheck", invoiceId: "in_2", call: 1 } },
      at(45),
    )._unsafeUnwrap();
    expect(old.ignored?.code).toBe("timer_no_longer_due");
  });

  it("the debit fails while call 1 waits for its answer: answered payment_processing, the void is asked again at once (call 2), not after the recheck", () => {
    const s = canceledWhileDebitProcessing();
    // The failure arrives before call 1's answer (the call reached Stripe while the debit was processing).
    const heard = decideSubscription(s, failedInvoice("in_2", 34, 2), at(34))._unsafeUnwrap();
    expect(heard.ignored).toBeUndefined();
    expect(voids(heard.effects)).toEqual([]);
    const answeredLate = decideSubscription(
      heard.state,
      answered("sub1:invoice:in_2:void", "payment_processing"),
      at(34),
    )._unsafeUnwrap();
    expect(answeredLate.effects).toEqual([
      {
        kind: "void_subscription_invoice",
        id: "sub1:invoice:in_2:void:2",
        aggregate: "subscription",
        aggregateId: "sub1",
        stripeInvoiceId: "in_2",
      },
    ]);
    expect(answeredLate.state.invoices.find((i) => i.id === "in_2")?.voiding).toEqual({
      calls: 2,
      status: "requested",
      lastFailureAt: MEMBERSHIP_T0 + 34 * DAY_MS,
    });
    // The same failure heard again, while call 1 waits or once call 2 was asked for it, changes
    // nothing: call 2 answered payment_processing (a newer debit) waits for the recheck.
    expectNoNews(heard.state, failedInvoice("in_2", 34, 2), 34);
    expectNoNews(answeredLate.state, failedInvoice("in_2", 34, 2), 34);
    const call2 = decideSubscription(
      answeredLate.state,
      answered("sub1:invoice:in_2:void:2", "payment_processing"),
      at(35),
    )._unsafeUnwrap();
    expect(call2.effects.map((e) => e.id)).toEqual(["sub1:invoice:in_2:void:2:recheck"]);
    expect(call2.state.invoices.find((i) => i.id === "in_2")?.voiding?.status).toBe("awaiting_debit");
    // A newer failure heard while call 2 waits is noted: that answer then asks call 3 at once.
    const newer = decideSubscription(
      answeredLate.state,
      failedInvoice("in_2", 36, 3),
      at(36),
    )._unsafeUnwrap();
    expect(newer.ignored).toBeUndefined();
    expect(voids(newer.effects)).toEqual([]);
    expect(
      decideSubscription(newer.state, answered("sub1:invoice:in_2:void:2", "payment_processing"), at(36))
        ._unsafeUnwrap()
        .effects.map((e) => e.id),
    ).toEqual(["sub1:invoice:in_2:void:3"]);
    // Call 1's answer heard again asks for nothing more.
    expect(
      decideSubscription(
        answeredLate.state,
        answered("sub1:invoice:in_2:void", "payment_processing"),
        at(34),
      )._unsafeUnwrap().ignored?.code,
    ).toBe("void_already_answered");
    // Call 1 answered void instead (Stripe saw the failure first): done, no second call.
    const voided = decideSubscription(
      heard.state,
      answered("sub1:invoice:in_2:void", "void"),
      at(34),
    )._unsafeUnwrap();
    expect(voided.effects).toEqual([]);
    expect(voided.state.invoices.find((i) => i.id === "in_2")?.voiding).toEqual({
      calls: 1,
      status: "ended",
      lastFailureAt: MEMBERSHIP_T0 + 34 * DAY_MS,
    });
  });

  it("a debit still processing at the third recheck opens one ticket (no bank debit takes weeks); the rechecks go on", () => {
    let s = waitingForTheDebit();
    const tickets: SubscriptionEffect[] = [];
    for (let call = 1; call <= 5; call++) {
      const fired = decideSubscription(
        s,
        { type: "timer", timer: { kind: "void_recheck", invoiceId: "in_2", call } },
        at(31 + 7 * call),
      )._unsafeUnwrap();
      expect(voids(fired.effects)).toHaveLength(1);
      const still = decideSubscription(
        fired.state,
        answered(subscriptionIds.invoiceVoid("sub1", "in_2", call + 1), "payment_processing"),
        at(31 + 7 * call),
      )._unsafeUnwrap();
      // Every answer keeps a recheck going: the void still happens once the debit fails.
      expect(still.effects.filter((e) => e.kind === "schedule_timer")).toHaveLength(1);
      tickets.push(...still.effects.filter((e) => e.kind === "open_ticket"));
      s = still.state;
    }
    // Calls 1–3 waited within three weeks; the 4th answer still processing opens the ticket, once.
    expect(tickets).toEqual([
      expect.objectContaining({
        kind: "open_ticket",
        id: "sub1:invoice:in_2:void:stuck:ticket",
        reason: "membership_void_stuck",
      }),
    ]);
    expect((tickets[0] as { summary: string }).summary).toContain("in_2");
  });

  it("the debit succeeds: paid after the end, refunded in full; the recheck then voids nothing", () => {
    const s = waitingForTheDebit();
    const paid = decideSubscription(s, paidInvoice("in_2", 34), at(34))._unsafeUnwrap();
    expect(paid.effects.map((e) => e.kind)).toContain("refund_subscription_invoice");
    const recheck = decideSubscription(
      paid.state,
      { type: "timer", timer: { kind: "void_recheck", invoiceId: "in_2", call: 1 } },
      at(38),
    )._unsafeUnwrap();
    expect(recheck.ignored?.code).toBe("timer_no_longer_due");
    expect(voids(recheck.effects)).toEqual([]);
  });

  it("a void answered void (or paid) ends the voiding: a later failure asks for nothing", () => {
    for (const status of ["void", "paid"]) {
      const d = decideSubscription(
        canceledWhileDebitProcessing(),
        answered("sub1:invoice:in_2:void", status),
        at(31),
      )._unsafeUnwrap();
      expect(d.effects).toEqual([]);
      expect(d.state.invoices.find((i) => i.id === "in_2")?.voiding).toEqual({ calls: 1, status: "ended" });
      const failed = decideSubscription(d.state, failedInvoice("in_2", 34, 2), at(34))._unsafeUnwrap();
      expect(voids(failed.effects)).toEqual([]);
    }
  });

  it("the debit of an invoice the ended membership never heard of fails: voided (call 1)", () => {
    // The renewal in_3 was being debited when the person canceled: no news of it came before the end.
    const s = feed(activeSubscription(), [
      snapshot("canceled", 31, {
        cancellationReason: "cancellation_requested",
        endedAt: MEMBERSHIP_T0 + 31 * DAY_MS,
      }),
    ]);
    const d = decideSubscription(s, failedInvoice("in_3", 34, 1), at(34))._unsafeUnwrap();
    expect(voids(d.effects)).toEqual([
      {
        kind: "void_subscription_invoice",
        id: "sub1:invoice:in_3:void",
        aggregate: "subscription",
        aggregateId: "sub1",
        stripeInvoiceId: "in_3",
      },
    ]);
    expect(d.state.status).toBe("canceled");
  });

  it("a membership canceled for non-payment: the failure that ended it, heard after the end, asks for no second void", () => {
    const s = feed(activeSubscription(), [
      failedInvoice("in_2", 30, 1, 3),
      snapshot("canceled", 45, {
        cancellationReason: "payment_failed",
        endedAt: MEMBERSHIP_T0 + 45 * DAY_MS,
      }),
    ]);
    expect(s.invoices.find((i) => i.id === "in_2")?.voiding).toEqual({ calls: 1, status: "requested" });
    const d = decideSubscription(s, failedInvoice("in_2", 45, 2), at(45))._unsafeUnwrap();
    expect(voids(d.effects)).toEqual([]);
  });

  it("void answers of an invoice susu never asked to void are ignored", () => {
    const d = decideSubscription(
      activeSubscription(),
      answered("sub1:invoice:in_2:void", "payment_processing"),
      at(31),
    );
    expect(d._unsafeUnwrap().ignored?.code).toBe("void_not_requested");
  });

  it("ids: the n-th void of an invoice and its recheck timer", () => {
    expect(subscriptionIds.invoiceVoid("s1", "in_9")).toBe("s1:invoice:in_9:void");
    expect(subscriptionIds.invoiceVoid("s1", "in_9", 1)).toBe("s1:invoice:in_9:void");
    expect(subscriptionIds.invoiceVoid("s1", "in_9", 2)).toBe("s1:invoice:in_9:void:2");
    expect(subscriptionIds.invoiceVoidRecheck("s1", "in_9", 2)).toBe("s1:invoice:in_9:void:2:recheck");
  });
});

describe("a membership Stripe ended for non-payment: the person is told it ended, never asked to pay", () => {
  const notices = (effects: readonly SubscriptionEffect[]) => effects.filter((e) => e.kind === "notify");
  /** Attempt 1 of in_2 failed on day 30; Stripe canceled the subscription for non-payment on day 45, its event heard first. */
  const endedForNonPayment = () =>
    decideSubscription(
      feed(activeSubscription(), [failedInvoice("in_2", 30, 1, 3)]),
      snapshot("canceled", 45, {
        cancellationReason: "payment_failed",
        endedAt: MEMBERSHIP_T0 + 45 * DAY_MS,
      }),
      at(45),
    )._unsafeUnwrap();

  it("the end tells the lapse as an end (no invoice to pay) and voids the invoice", () => {
    const d = endedForNonPayment();
    expect(d.state.status).toBe("lapsed");
    expect(voids(d.effects)).toHaveLength(1);
    expect(notices(d.effects)).toEqual([
      expect.objectContaining({
        id: "sub1:notify:membership_lapsed:1",
        template: "membership_lapsed",
        data: expect.objectContaining({ ended: "yes" }),
      }),
    ]);
  });

  it("the last failure heard after that end is recorded, with no payment-failed notice or pay link", () => {
    const d = decideSubscription(
      endedForNonPayment().state,
      failedInvoice("in_2", 45, 2),
      at(45),
    )._unsafeUnwrap();
    expect(d.ignored).toBeUndefined();
    expect(notices(d.effects)).toEqual([]);
    expect(d.state.invoices.find((i) => i.id === "in_2")?.failedAttempts).toBe(2);
  });

  it("that failed debit heard again changes nothing (lapsed for good, its attempt recorded)", () => {
    const waiting = decideSubscription(
      endedForNonPayment().state,
      answered("sub1:invoice:in_2:void", "payment_processing"),
      at(45),
    )._unsafeUnwrap().state;
    const d = decideSubscription(waiting, failedInvoice("in_2", 48, 2), at(48))._unsafeUnwrap();
    expect(voids(d.effects).map((e) => e.id)).toEqual(["sub1:invoice:in_2:void:2"]);
    expectNoNews(d.state, failedInvoice("in_2", 48, 2), 48);
  });

  it("a failed debit after that end voids its invoice, and tells the person nothing", () => {
    // The void of in_2 waited for a BECS debit, which fails; a renewal in_3 unknown at the end fails too.
    const waiting = decideSubscription(
      endedForNonPayment().state,
      answered("sub1:invoice:in_2:void", "payment_processing"),
      at(45),
    )._unsafeUnwrap().state;
    for (const [failure, id] of [
      [failedInvoice("in_2", 48, 2), "sub1:invoice:in_2:void:2"],
      [failedInvoice("in_3", 48, 1), "sub1:invoice:in_3:void"],
    ] as const) {
      const d = decideSubscription(waiting, failure, at(48))._unsafeUnwrap();
      expect(voids(d.effects)).toEqual([expect.objectContaining({ id })]);
      expect(notices(d.effects)).toEqual([]);
    }
  });

  it("a lapse Stripe has not ended (retries exhausted, subscription left unpaid) still says the invoice can be paid", () => {
    const d = decideSubscription(
      feed(activeSubscription(), [failedInvoice("in_2", 30, 1, 3)]),
      failedInvoice("in_2", 33, 2),
      at(33),
    )._unsafeUnwrap();
    expect(d.state.status).toBe("lapsed");
    const lapse = notices(d.effects).find((e) => e.kind === "notify" && e.template === "membership_lapsed");
    expect(lapse).toBeDefined();
    expect((lapse as { data: Record<string, unknown> }).data.ended).toBeUndefined();
    expect(notices(d.effects).map((e) => (e as { template: string }).template)).toContain(
      "membership_payment_failed",
    );
  });
});

describe("a lapse told with its pay link, then Stripe's end (the last failure's event heard before the end's)", () => {
  const notices = (effects: readonly SubscriptionEffect[]) => effects.filter((e) => e.kind === "notify");
  const endAt45 = snapshot("canceled", 45, {
    cancellationReason: "payment_failed",
    endedAt: MEMBERSHIP_T0 + 45 * DAY_MS,
  });
  /** Attempt 1 of in_2 failed on day 30; the last attempt failed on day 45 and was heard first: lapsed, told to pay. */
  const lapsedByTheLastFailure = () => {
    const d = decideSubscription(
      feed(activeSubscription(), [failedInvoice("in_2", 30, 1, 3)]),
      failedInvoice("in_2", 45, 2),
      at(45),
    )._unsafeUnwrap();
    expect(d.state.status).toBe("lapsed");
    expect(notices(d.effects).map((e) => [e.id, e.kind === "notify" ? e.data.ended : "?"])).toEqual([
      ["sub1:notify:membership_payment_failed:in_2:2", undefined],
      ["sub1:notify:membership_lapsed:1", undefined],
    ]);
    return d.state;
  };

  it("the end voids the invoice and tells the person, once, that the membership ended (nothing to pay)", () => {
    const d = decideSubscription(lapsedByTheLastFailure(), endAt45, at(45))._unsafeUnwrap();
    expect(d.state.status).toBe("lapsed");
    expect(voids(d.effects)).toEqual([expect.objectContaining({ id: "sub1:invoice:in_2:void" })]);
    expect(notices(d.effects)).toEqual([
      expect.objectContaining({
        id: subscriptionIds.notice.lapseEnded("sub1", 1),
        template: "membership_lapsed",
        to: { kind: "people", personIds: ["p1"] },
        data: expect.objectContaining({ ended: "yes" }),
      }),
    ]);
    expect(d.effects.filter((e) => e.kind === "notify").map((e) => e.id)).toEqual([
      "sub1:notify:membership_lapsed:1:ended",
    ]);
    // The end's event redelivered, a later view of the end, the failure again: nothing more is told.
    for (const again of [
      endAt45,
      snapshot("canceled", 46, {
        cancellationReason: "payment_failed",
        endedAt: MEMBERSHIP_T0 + 45 * DAY_MS,
      }),
      failedInvoice("in_2", 45, 2),
    ]) {
      const r = decideSubscription(d.state, again, at(46))._unsafeUnwrap();
      expect(notices(r.effects)).toEqual([]);
    }
  });

  it("a lapse Stripe marked unpaid, then canceled: told it ended once", () => {
    const unpaid = feed(lapsedByTheLastFailure(), [snapshot("unpaid", 45)]);
    const d = decideSubscription(unpaid, snapshot("canceled", 50, {}), at(50))._unsafeUnwrap();
    expect(d.state.status).toBe("lapsed");
    expect(notices(d.effects).map((e) => e.id)).toEqual(["sub1:notify:membership_lapsed:1:ended"]);
  });

  it("a lapse whose end moved it there (past due when the end came) is told once, as an end", () => {
    const s = feed(activeSubscription(), [failedInvoice("in_2", 30, 1, 3)]);
    const d = decideSubscription(s, endAt45, at(45))._unsafeUnwrap();
    expect(notices(d.effects).map((e) => e.id)).toEqual(["sub1:notify:membership_lapsed:1"]);
    const failure = decideSubscription(d.state, failedInvoice("in_2", 45, 2), at(45))._unsafeUnwrap();
    expect(notices(failure.effects)).toEqual([]);
  });

  it("a lapsed membership canceled by the person or an admin is not told it ended for non-payment", () => {
    const d = decideSubscription(
      lapsedByTheLastFailure(),
      snapshot("canceled", 46, { cancellationReason: "cancellation_requested" }),
      at(46),
    )._unsafeUnwrap();
    expect(d.state.status).toBe("canceled");
    expect(notices(d.effects)).toEqual([]);
  });
});

describe("an ended membership stored before voids were kept (no voiding on its invoices)", () => {
  /** As stored before: the end asked void call 1 (its answer, then, reported nothing), and no voiding was kept. */
  const storedBefore = (s: Subscription): Subscription => ({
    ...s,
    invoices: s.invoices.map(({ voiding: _, ...inv }) => inv),
  });
  const canceledForNonPayment = () =>
    storedBefore(
      feed(activeSubscription(), [
        failedInvoice("in_2", 30, 1, 3),
        snapshot("canceled", 45, {
          cancellationReason: "payment_failed",
          endedAt: MEMBERSHIP_T0 + 45 * DAY_MS,
        }),
      ]),
    );

  it("the failure that ended it, heard after the end, asks no second void (call 1, made after it, voided the invoice)", () => {
    const d = decideSubscription(
      canceledForNonPayment(),
      failedInvoice("in_2", 45, 2),
      at(46),
    )._unsafeUnwrap();
    expect(voids(d.effects)).toEqual([]);
  });

  it("a failure from before the end heard late asks no second void either", () => {
    const s = storedBefore(canceledWhileDebitProcessing());
    const d = decideSubscription(s, failedInvoice("in_2", 30, 1, 3), at(40))._unsafeUnwrap();
    expect(voids(d.effects)).toEqual([]);
  });

  it("a failure after the end (a debit call 1 found in flight) still asks call 2: call 1's answer may have been payment_processing", () => {
    const s = storedBefore(canceledWhileDebitProcessing());
    const d = decideSubscription(s, failedInvoice("in_2", 34, 2), at(34))._unsafeUnwrap();
    expect(voids(d.effects)).toEqual([expect.objectContaining({ id: "sub1:invoice:in_2:void:2" })]);
  });
});

describe("an invoice written off after Stripe's end, before its failures are heard (Stripe's dunning sends the last failure, the write-off and the cancel in the same second, in any order)", () => {
  const endAt45 = snapshot("canceled", 45, {
    cancellationReason: "payment_failed",
    endedAt: MEMBERSHIP_T0 + 45 * DAY_MS,
  });
  const writtenOff: SubscriptionInput = {
    type: "invoice_marked_uncollectible",
    invoice: invoice("in_2", 45, 0),
  };

  it("the write-off of an invoice the end did not know asks its void, call 1; its failures, at or before the end, then ask nothing", () => {
    const ended = decideSubscription(activeSubscription(), endAt45, at(45))._unsafeUnwrap();
    expect(ended.state.status).toBe("lapsed");
    expect(voids(ended.effects)).toEqual([]);
    const written = decideSubscription(ended.state, writtenOff, at(45))._unsafeUnwrap();
    expect(written.effects).toEqual([
      {
        kind: "void_subscription_invoice",
        id: "sub1:invoice:in_2:void",
        aggregate: "subscription",
        aggregateId: "sub1",
        stripeInvoiceId: "in_2",
      },
    ]);
    expect(written.state.invoices.find((i) => i.id === "in_2")).toMatchObject({
      status: "uncollectible",
      voiding: { calls: 1, status: "requested" },
    });
    let s = written.state;
    for (const later of [failedInvoice("in_2", 30, 1, 15), failedInvoice("in_2", 45, 2), writtenOff]) {
      const d = decideSubscription(s, later, at(46))._unsafeUnwrap();
      expect(voids(d.effects)).toEqual([]);
      s = d.state;
    }
  });

  it("on a membership the person canceled too", () => {
    const ended = feed(activeSubscription(), [
      snapshot("canceled", 31, {
        cancellationReason: "cancellation_requested",
        endedAt: MEMBERSHIP_T0 + 31 * DAY_MS,
      }),
    ]);
    const d = decideSubscription(ended, writtenOff, at(45))._unsafeUnwrap();
    expect(voids(d.effects).map((e) => e.id)).toEqual(["sub1:invoice:in_2:void"]);
  });

  it("the write-off of an invoice the end knew asks nothing: the end asked its void (call 1), also when stored before voids were kept", () => {
    const ended = feed(activeSubscription(), [failedInvoice("in_2", 30, 1, 15), endAt45]);
    expect(ended.invoices.find((i) => i.id === "in_2")?.voiding).toEqual({ calls: 1, status: "requested" });
    const storedBefore: Subscription = {
      ...ended,
      invoices: ended.invoices.map(({ voiding: _, ...inv }) => inv),
    };
    for (const s of [ended, storedBefore]) {
      const d = decideSubscription(s, writtenOff, at(45))._unsafeUnwrap();
      expect(voids(d.effects)).toEqual([]);
      expect(d.state.invoices.find((i) => i.id === "in_2")?.voiding).toEqual(
        s.invoices.find((i) => i.id === "in_2")?.voiding,
      );
    }
  });

  it("a write-off before the end (a membership still going) asks nothing", () => {
    const s = feed(activeSubscription(), [failedInvoice("in_2", 30, 1, 3)]);
    expect(voids(decideSubscription(s, writtenOff, at(45))._unsafeUnwrap().effects)).toEqual([]);
  });
});

describe("the void effect reports Stripe's answer to the membership", () => {
  it.each(["void", "payment_processing", "paid"])(
    "answered %s: one fact naming the call and the invoice",
    async (status) => {
      const billing = new FakeBillingGateway();
      billing.voidInvoiceStatus = status;
      const facts = await executeBillingEffect(billing, {
        kind: "void_subscription_invoice",
        id: "sub1:invoice:in_2:void:2",
        aggregate: "subscription",
        aggregateId: "sub1",
        stripeInvoiceId: "in_2",
      });
      expect(facts._unsafeUnwrap()).toEqual([
        {
          kind: "invoice_void_answered",
          refs: { subscriptionId: "sub1", invoiceId: "in_2" },
          voidId: "sub1:invoice:in_2:void:2",
          status,
        },
      ]);
      expect(billing.calls).toEqual([
        { method: "voidInvoice", idempotencyKey: "sub1:invoice:in_2:void:2", invoiceId: "in_2" },
      ]);
    },
  );
});
