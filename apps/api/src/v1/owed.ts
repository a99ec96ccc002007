import { z } from "@hono/zod-openapi";
import {
  OWED_PAYMENT_REFERENCE_MAX,
  OWED_RECOVERY_REFERENCE_MAX,
  type OwedOutsideStripe,
  owedLeftMinor,
  owedPaidMinor,
  owedRecoveredMinor,
} from "@susu/domain";
import type { Context } from "hono";
import type { Principal } from "../http/auth.js";
import { NUL_FREE } from "../input.js";
import { problem } from "../problem.js";
import { isPlatformAdmin, isPlatformOperator } from "./authz.js";
import { MoneySchema, problemExamples } from "./schemas.js";

// What the payment resources and rounds share about money susu owes outside Stripe (a refund
// Stripe refuses after a lost dispute): the request an admin records a payment of it with,
// its view (what was booked, paid, and is left, with each payment), and the refusals.

/** What a platform admin says they paid outside Stripe. */
export const OwedPaymentRequestSchema = z
  .strictObject({
    amountMinor: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).openapi({
      description: "What was paid, in minor units: part or all of what is still owed",
      example: 1500,
    }),
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/)
      .openapi({
        description: "The currency of what is owed (another is refused, `currency_mismatch`)",
        example: "AUD",
      }),
    reference: z
      .string()
      .trim()
      .min(1)
      .max(OWED_PAYMENT_REFERENCE_MAX)
      .refine(NUL_FREE, "no NUL characters")
      .openapi({
        description:
          "How it was paid: the bank transfer's reference, or a note. One per payment: a reference recorded already on this owed money (trimmed, ignoring case) is refused, `duplicate_owed_payment`, so a retry or a second admin records a transfer once",
        example: "NAB 0042",
      }),
  })
  .openapi("OwedPaymentRequest");

/** What a platform admin says the customer paid back of what they owe back (they got it twice). */
export const OwedRecoveryRequestSchema = z
  .strictObject({
    amountMinor: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).openapi({
      description:
        "What the customer paid back, in minor units: part or all of what they still owe back (`owedBackByCustomer`)",
      example: 1500,
    }),
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/)
      .openapi({
        description: "The currency of the charge (another is refused, `currency_mismatch`)",
        example: "AUD",
      }),
    reference: z
      .string()
      .trim()
      .min(1)
      .max(OWED_RECOVERY_REFERENCE_MAX)
      .refine(NUL_FREE, "no NUL characters")
      .openapi({
        description:
          "How it came back: the bank transfer's reference, or a note. One per recovery: a reference recorded already on this payment (trimmed, ignoring case) is refused, `duplicate_owed_recovery`, so a retry or a second admin records a transfer once",
        example: "Westpac 0917",
      }),
  })
  .openapi("OwedRecoveryRequest");

/** Money owed outside Stripe and what was paid of it. */
export const OwedOutsideStripeSchema = z
  .object({
    owed: MoneySchema.openapi({
      description: "Everything booked as owed outside Stripe (what was paid of it included)",
    }),
    paid: MoneySchema.openapi({ description: "What platform admins recorded paying of it" }),
    givenBackByDisputes: MoneySchema.openapi({
      description:
        "What the customer's bank gave back of it through lost disputes (a dispute that took more than was left to give back at Stripe): no longer owed. Always 0 for a round: its disputes are booked whole when they open, before the rest is owed",
    }),
    left: MoneySchema.openapi({
      description: "What is still owed: owed less paid less given back by disputes, never below zero",
    }),
    owedBackByCustomer: MoneySchema.openapi({
      description:
        "What the customer still owes back: a lost dispute's bank gave back money a platform admin had already paid them outside Stripe (they got it twice), less what was recovered from them since (`recoveredFromCustomer`). Booked as the dispute's loss against the payment's `owed_by_customer` account; an `owed_overpaid` ticket asks an admin to recover it, and what comes back is recorded with `POST …/owed-recoveries`. Always 0 for a round",
    }),
    recoveredFromCustomer: MoneySchema.openapi({
      description:
        "What platform admins recorded recovering from the customer of what they owed back (`POST …/owed-recoveries`). Always 0 for a round",
    }),
    payments: z.array(
      z.object({
        number: z.number().int(),
        amount: MoneySchema,
        reference: z.string(),
        paidBy: z.string().openapi({ example: "operator:olga" }),
        recordedAt: z.string().openapi({ example: "2030-01-03T09:00:00.000Z" }),
      }),
    ),
    recoveries: z.array(
      z.object({
        number: z.number().int(),
        amount: MoneySchema,
        reference: z.string(),
        recordedBy: z.string().openapi({ example: "operator:olga" }),
        recordedAt: z.string().openapi({ example: "2030-01-10T09:00:00.000Z" }),
      }),
    ),
  })
  .nullable()
  .openapi("OwedOutsideStripe", {
    description:
      "Money owed outside Stripe (Stripe refuses a refund of a charge charged back by a dispute, `charge_disputed`): booked on its own ledger account, paid by a platform admin by other means (a bank transfer, cash) and recorded with `POST …/owed-payments`. Null when nothing was ever owed.",
  });

/** The view of what is owed outside Stripe, or null when nothing ever was. */
export function owedView(owed: OwedOutsideStripe) {
  if (owed.bookedMinor === 0 && owed.payments.length === 0) return null;
  const money = (amountMinor: number) => ({ amountMinor, currency: owed.currency });
  return {
    owed: money(owed.bookedMinor),
    paid: money(owedPaidMinor(owed.payments)),
    givenBackByDisputes: money(owed.takenByDisputesMinor ?? 0),
    left: money(owedLeftMinor(owed)),
    owedBackByCustomer: money(owed.owedBackMinor ?? 0),
    recoveredFromCustomer: money(owedRecoveredMinor(owed.recoveries ?? [])),
    payments: owed.payments.map((p) => ({
      number: p.number,
      amount: money(p.amountMinor),
      reference: p.reference,
      paidBy: p.paidBy,
      recordedAt: new Date(p.recordedAt).toISOString(),
    })),
    recoveries: (owed.recoveries ?? []).map((r) => ({
      number: r.number,
      amount: money(r.amountMinor),
      reference: r.reference,
      recordedBy: r.recordedBy,
      recordedAt: new Date(r.recordedAt).toISOString(),
    })),
  };
}

/** The refusals of recording a payment of what is owed, beside the route's own. */
export const owedPaymentRefusals = {
  nothingOwed: {
    nothing_owed: "what was owed outside Stripe is all paid",
    duplicate_owed_payment: 'payment 1 (1500 AUD) was recorded with reference "NAB 0042" already',
  },
  unprocessable: {
    amount_exceeds_owed: "2501 AUD is more than the 2500 AUD still owed",
    currency_mismatch: "what is owed is in AUD, the payment is in NZD",
    invalid_owed_payment: "the amount paid must be positive",
  },
} as const;

/** The refusals of recording money recovered from a customer, beside the route's own. */
export const owedRecoveryRefusals = {
  nothingOwedBack: {
    nothing_owed_back: "what the customer owed back is all recovered",
    duplicate_owed_recovery: 'recovery 1 (1500 AUD) was recorded with reference "Westpac 0917" already',
  },
  unprocessable: {
    amount_exceeds_owed_back: "4001 AUD is more than the 4000 AUD the customer still owes back",
    currency_mismatch: "what the customer owes back is in AUD, the recovery is in NZD",
    invalid_owed_recovery: "the amount recovered must be positive",
  },
} as const;

/** The 403s of a command only platform admins may give. */
export const platformAdminOnly = problemExamples(403, "Allowed to see, not to do.", {
  operator_only: "only platform operators may do this",
  admin_only: "only platform admins may move money (a service token may not)",
});

/**
 * Checks the caller may record money paid outside Stripe: a platform admin (role `admin`).
 * Money leaves the platform, so neither a group's admins nor a service token may (403).
 */
export function refuseUnlessPlatformAdmin(c: Context, principal: Principal): Response | undefined {
  if (!isPlatformOperator(principal))
    return problem(c, 403, "operator_only", "only platform operators may do this");
  if (!isPlatformAdmin(principal))
    return problem(c, 403, "admin_only", "only platform admins may move money (a service token may not)");
  return undefined;
}
