import { describe, expect, it } from "vitest";
import { paymentMethodIds } from "./payment-method-ids.js";

describe("the stored ids of saved payment methods", () => {
  // Sent to the provider as idempotency keys and stored as outbox keys: a change would
  // repeat a detach, a default change or a message.
  it("are pinned", () => {
    expect(paymentMethodIds.setup("ana", "card", "1")).toBe("person:ana:method_setup:card:1");
    expect(paymentMethodIds.detach("pm_1")).toBe("payment_method:pm_1:detach");
    expect(paymentMethodIds.setDefault("pm_1", 3)).toBe("payment_method:pm_1:default:v3");
    expect(paymentMethodIds.detachedNotice("pm_1")).toBe("payment_method:pm_1:detached:notify");
    expect(paymentMethodIds.detachedAdminsNotice("pm_1", "g1")).toBe(
      "payment_method:pm_1:detached:group:g1:notify",
    );
    expect(paymentMethodIds.detachedTicket("pm_1", "g1")).toBe(
      "payment_method:pm_1:detached:group:g1:ticket",
    );
    expect(paymentMethodIds.mandateInactiveNotice("pm_1", "mandate_1")).toBe(
      "payment_method:pm_1:mandate:mandate_1:inactive:notify",
    );
    expect(paymentMethodIds.membershipCardDetachedNotice("pm_1", "mbr_1")).toBe(
      "payment_method:pm_1:detached:membership:mbr_1:notify",
    );
  });

  it("never collide across methods, groups or kinds", () => {
    const ids = ["pm_1", "pm_2"].flatMap((pm) => [
      paymentMethodIds.detach(pm),
      paymentMethodIds.setDefault(pm, 1),
      paymentMethodIds.setDefault(pm, 2),
      paymentMethodIds.detachedNotice(pm),
      ...["g1", "g2"].flatMap((g) => [
        paymentMethodIds.detachedAdminsNotice(pm, g),
        paymentMethodIds.detachedTicket(pm, g),
      ]),
      paymentMethodIds.mandateInactiveNotice(pm, "mandate_1"),
      ...["g1", "mbr_1"].map((s) => paymentMethodIds.membershipCardDetachedNotice(pm, s)),
    ]);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
