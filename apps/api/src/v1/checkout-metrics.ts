import type { HttpMetrics } from "../http/metrics.js";

/** What the checkout counter reads at scrape time (`PrismaOperationsCounts` in @susu/adapters). */
export interface CheckoutSessionCountsReader {
  checkoutSessions(): Promise<{
    readonly created: number;
    readonly completed: number;
    readonly expired: number;
    readonly abandoned: number;
  }>;
}

/** The outcomes the counter has, in the order they are exported. */
export const CHECKOUT_OUTCOMES = ["created", "completed", "expired", "abandoned"] as const;

/**
 * Registers `susu_checkout_sessions_total{outcome}`: the held payments' Checkout Sessions
 * created, completed, expired untouched, and abandoned (expired after the customer tried to
 * pay), read from PostgreSQL at scrape time.
 *
 * A counter, not a gauge: each value is a cumulative count of facts that are only ever
 * added, so it never goes down, and operators want `increase(…[1h])` and ratios such as
 * abandoned / created, which Prometheus computes on counters (and through restarts).
 * Read from the database rather than incremented in memory, so the count is the same
 * whichever API or scheduler process saw the fact, and several processes never add up
 * (aggregated with "first" across cluster workers). `created − completed − expired −
 * abandoned` is the sessions still open. The open ones are also `susu_held_payments{status="awaiting_payment"}`.
 */
export function registerCheckoutCounters(metrics: HttpMetrics, counts: CheckoutSessionCountsReader): void {
  metrics.registerCounter({
    name: "susu_checkout_sessions_total",
    help: "Checkout Sessions of held payments by outcome: created, completed, expired (never tried), abandoned (expired after a payment attempt).",
    labelNames: ["outcome"],
    collect: async () => {
      const read = await counts.checkoutSessions();
      return CHECKOUT_OUTCOMES.map((outcome) => ({ labels: { outcome }, value: read[outcome] }));
    },
  });
}
