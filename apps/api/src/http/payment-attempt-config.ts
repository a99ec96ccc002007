import { z } from "zod";
import type { ConfigProblem } from "./config.js";
import type { PaymentAttemptLimits } from "./payment-attempts.js";

// The payment-attempt limits, from the environment. The defaults:
// - 10 per person per hour: a person pays for a handful of things in an hour; ten leaves
//   room for retries after a declined card, and stops one account spraying payments.
// - 5 per card per hour: card testing tries one card many times; a real customer rarely
//   pays with one card more than a few times an hour.
// - 20 per customer email per day: Checkout payments only know the email before the page
//   (the card is entered at Stripe), and one customer's bookings in a day stay well below.
// - 3 failed charges of a card in 24 hours refuse it until the oldest is a day old: the
//   shape of card testing and of a stolen card, on top of Stripe Radar's own checks.

const MINUTE_MS = 60_000;

const int = (min: number, max: number, fallback: number) =>
  z.coerce
    .number({ error: "must be a whole number" })
    .int({ error: "must be a whole number" })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` })
    .default(fallback);

// The failed-charge records are kept 7 days (CARD_FAILURE_KEEP_MS in the scheduler's
// recorder), so no window reaches further back.
const WEEK_MINUTES = 7 * 24 * 60;

const schema = z.object({
  SUSU_PAYMENT_ATTEMPTS_PER_PERSON: int(0, 100_000, 10),
  SUSU_PAYMENT_ATTEMPTS_PER_PERSON_WINDOW_MINUTES: int(1, WEEK_MINUTES, 60),
  SUSU_PAYMENT_ATTEMPTS_PER_CARD: int(0, 100_000, 5),
  SUSU_PAYMENT_ATTEMPTS_PER_CARD_WINDOW_MINUTES: int(1, WEEK_MINUTES, 60),
  SUSU_PAYMENT_ATTEMPTS_PER_EMAIL: int(0, 100_000, 20),
  SUSU_PAYMENT_ATTEMPTS_PER_EMAIL_WINDOW_MINUTES: int(1, WEEK_MINUTES, 24 * 60),
  SUSU_PAYMENT_CARD_FAILURES_MAX: int(0, 1_000, 3),
  SUSU_PAYMENT_CARD_FAILURES_WINDOW_MINUTES: int(1, WEEK_MINUTES, 24 * 60),
});

/** The variables {@link readPaymentAttemptLimits} reads; listed in README Configuration. */
export const PAYMENT_ATTEMPT_VARIABLES = Object.keys(schema.shape) as readonly string[];

/**
 * Parses the payment-attempt limits (a `max` of 0 turns that limit off); the problems name
 * every wrong variable, reported with the rest of the configuration's.
 */
export function readPaymentAttemptLimits(
  env: Readonly<Record<string, string | undefined>>,
): { readonly limits: PaymentAttemptLimits } | { readonly problems: readonly ConfigProblem[] } {
  const present = Object.fromEntries(
    PAYMENT_ATTEMPT_VARIABLES.map((name) => [name, env[name]?.trim() === "" ? undefined : env[name]?.trim()]),
  );
  const parsed = schema.safeParse(present);
  if (!parsed.success)
    return {
      problems: parsed.error.issues.map((issue) => ({
        variable: String(issue.path[0]),
        message: issue.message,
      })),
    };
  const v = parsed.data;
  return {
    limits: {
      perPerson: {
        max: v.SUSU_PAYMENT_ATTEMPTS_PER_PERSON,
        windowMs: v.SUSU_PAYMENT_ATTEMPTS_PER_PERSON_WINDOW_MINUTES * MINUTE_MS,
      },
      perCard: {
        max: v.SUSU_PAYMENT_ATTEMPTS_PER_CARD,
        windowMs: v.SUSU_PAYMENT_ATTEMPTS_PER_CARD_WINDOW_MINUTES * MINUTE_MS,
      },
      perCustomerEmail: {
        max: v.SUSU_PAYMENT_ATTEMPTS_PER_EMAIL,
        windowMs: v.SUSU_PAYMENT_ATTEMPTS_PER_EMAIL_WINDOW_MINUTES * MINUTE_MS,
      },
      cardFailures: {
        max: v.SUSU_PAYMENT_CARD_FAILURES_MAX,
        windowMs: v.SUSU_PAYMENT_CARD_FAILURES_WINDOW_MINUTES * MINUTE_MS,
      },
    },
  };
}

/** The limits when no variable is set (the defaults above). */
export function defaultPaymentAttemptLimits(): PaymentAttemptLimits {
  const read = readPaymentAttemptLimits({});
  if (!("limits" in read)) throw new Error("the payment-attempt defaults do not parse");
  return read.limits;
}
