// An invoice voided at Stripe (`invoice.voided`: by hand in the dashboard, or by Stripe) is no
// longer owed. A failing invoice voided no longer keeps a past-due membership past due: by the
// recovery rule it is active again when no other invoice still fails (Stripe's view of the
// subscription may say so later, or never if its event is lost). The voided invoice is recorded
// `void`: a late failure of it is no news, and it moves nothing for an ended membership.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  activeSubscription,
  failedInvoice,
  feed,
  invoice,
  MEMBERSHIP_T0,
  paidInvoice,
  snapshot,
} from "../testing/membership-mothers.js";
import { decideSubscription } from "./subscription-decide.js";
import type { SubscriptionInput } from "./subscription-input.js";

const voided = (id: string, day: number): SubscriptionInput => ({
  type: "invoice_voided",
  invoice: invoice(id, day, 0),
});

describe("a failing invoice voided at Stripe", () => {
  const pastDue = () => feed(activeSubscription(), [failedInvoice("in_2", 30, 1, 3)]);

  it("brings a past-due membership back to active: nothing is owed any more", () => {
    const after = feed(pastDue(), [voided("in_2", 31)]);
    expect({ status: after.status, invoice: after.invoices.find((i) => i.id === "in_2")?.status }).toEqual({
      status: "active",
      invoice: "void",
    });
  });

  it("leaves it past due while another invoice still fails", () => {
    const two = feed(pastDue(), [failedInvoice("in_3", 31, 1, 3)]);
    expect(feed(two, [voided("in_2", 32)]).status).toBe("past_due");
    expect(feed(two, [voided("in_2", 32), paidInvoice("in_3", 33)]).status).toBe("active");
    expect(feed(two, [paidInvoice("in_3", 32), voided("in_2", 33)]).status).toBe("active");
  });

  it("a failure of the voided invoice heard late (redelivered, or out of order) is no news", () => {
    const after = feed(pastDue(), [
      voided("in_2", 31),
      failedInvoice("in_2", 30, 1, 3),
      failedInvoice("in_2", 33, 2),
    ]);
    expect(after.status).toBe("active");
    const repeat = decideSubscription(after, voided("in_2", 31), { now: MEMBERSHIP_T0 })._unsafeUnwrap();
    expect(repeat.ignored?.code).toBe("invoice_already_void");
  });

  it("older than Stripe's last view: recorded, the view's status stands", () => {
    // Stripe's view at day 32 still says past due (another reason Stripe knows of); the void of day 31 heard after it.
    const after = feed(pastDue(), [snapshot("past_due", 32), voided("in_2", 31)]);
    expect({ status: after.status, invoice: after.invoices.find((i) => i.id === "in_2")?.status }).toEqual({
      status: "past_due",
      invoice: "void",
    });
  });

  it("an open invoice that never failed, voided, moves nothing (an active membership stays active)", () => {
    expect(feed(activeSubscription(), [voided("in_9", 31)]).status).toBe("active");
  });

  it("a paid invoice is not voided by a stray event", () => {
    const s = activeSubscription();
    const paidId = s.invoices.find((i) => i.status === "paid")?.id ?? "in_1";
    const d = decideSubscription(s, voided(paidId, 40), { now: MEMBERSHIP_T0 })._unsafeUnwrap();
    expect(d.ignored?.code).toBe("invoice_already_paid");
  });

  it("in any order with the other invoice's news, past due ends active once both are settled (property)", () => {
    const news: SubscriptionInput[] = [
      failedInvoice("in_2", 30, 1, 3),
      failedInvoice("in_3", 31, 1, 3),
      voided("in_2", 32),
      paidInvoice("in_3", 33),
    ];
    fc.assert(
      fc.property(
        fc.shuffledSubarray(news, { minLength: news.length, maxLength: news.length }),
        fc.nat(3),
        (order, dup) => {
          const withRepeat = [...order, order[dup % order.length] as SubscriptionInput];
          const after = feed(activeSubscription(), withRepeat);
          expect(after.status).toBe("active");
          expect(after.invoices.find((i) => i.id === "in_2")?.status).toBe("void");
        },
      ),
      { numRuns: 200 },
    );
  });
});
