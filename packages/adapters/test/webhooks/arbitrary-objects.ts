import fc from "fast-check";

/** Metadata with any of susu's reference keys (or none). */
export const susuMetadata = fc.record(
  {
    group_id: fc.constantFrom("grp_1", "grp_2"),
    round_id: fc.constantFrom("round_1", "round_2"),
    member_id: fc.constantFrom("ana", "ben"),
    attempt: fc.constantFrom("1", "2", "x"),
    person_id: fc.constantFrom("per_1"),
    held_payment_id: fc.constantFrom("hp_1"),
    marketplace_charge_id: fc.constantFrom("mc_1"),
    susu_subscription_id: fc.constantFrom("sub_susu_1"),
    refund_number: fc.constantFrom("1"),
  },
  { requiredKeys: [] },
);

/** An object shaped enough like any of Stripe's for any of the translators to read. */
export const anObject = fc.record(
  {
    id: fc.constantFrom("obj_1", "pi_1", "ch_1", "re_1", "dp_1", "acct_1", "po_1", "in_1"),
    object: fc.constantFrom("payment_intent", "charge", "refund", "dispute", "account", "invoice", "thing"),
    status: fc.constantFrom(
      "processing",
      "succeeded",
      "requires_payment_method",
      "requires_action",
      "canceled",
      "failed",
      "pending",
      "paid",
      "active",
      "past_due",
      "lost",
      "won",
      "needs_response",
    ),
    metadata: fc.option(susuMetadata, { nil: null }),
    payment_intent: fc.option(fc.constantFrom("pi_1", "pi_2"), { nil: null }),
    charge: fc.option(fc.constantFrom("ch_1"), { nil: null }),
    amount: fc.integer({ min: 0, max: 10_000 }),
    amount_reversed: fc.integer({ min: 0, max: 10_000 }),
    currency: fc.constantFrom("aud", "usd", "xxx"),
    payment_method: fc.option(fc.constantFrom("pm_1"), { nil: null }),
    mandate: fc.option(fc.constantFrom("mandate_1"), { nil: null }),
    customer: fc.option(fc.constantFrom("cus_1"), { nil: null }),
    mode: fc.constantFrom("payment", "setup"),
    arrival_date: fc.constant(1_800_000_000),
    created: fc.constant(1_800_000_000),
  },
  { requiredKeys: ["id", "object"] },
);
