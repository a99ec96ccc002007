import type { GaugeSpec, HistogramSpec } from "./metrics-registry.js";

/**
 * What the payment metrics read at scrape time (`PrismaPaymentMetricsReads` in production).
 * Each read is a plain value, so the metrics module knows nothing of the database.
 */
export interface PaymentMetricsReader {
  paymentOutcomes(): Promise<
    readonly {
      readonly flow: string;
      readonly method: string;
      readonly currency: string;
      readonly outcome: string;
      readonly count: number;
    }[]
  >;
  debitSettlementTimes(bounds: readonly number[]): Promise<
    readonly {
      readonly method: string;
      readonly cumulativeCounts: readonly number[];
      readonly sumSeconds: number;
      readonly count: number;
    }[]
  >;
  heldFundsByAge(now: number): Promise<
    readonly {
      readonly currency: string;
      readonly age: string;
      readonly payments: number;
      readonly amountMinor: number;
    }[]
  >;
  oldestOverdueReleaseSeconds(now: number): Promise<number>;
  oldestPendingEffectSeconds(now: number): Promise<number>;
  oldestUnprocessedWebhookSeconds(now: number): Promise<number>;
  openTicketsByKind(): Promise<readonly { readonly kind: string; readonly count: number }[]>;
  refundsInFlight(
    now: number,
  ): Promise<
    readonly { readonly flow: string; readonly oldestSeconds: number; readonly lossesWaiting: number }[]
  >;
}

/** Where the payment metrics are registered: a registry's scrape-time helpers. */
export interface ScrapeTimeMetrics {
  registerGauge(spec: GaugeSpec): void;
  registerCounter(spec: GaugeSpec): void;
  registerHistogram(spec: HistogramSpec): void;
}

const HOUR = 3_600;
const DAY = 86_400;
/**
 * From a card paid at once (seconds) to BECS Direct Debit, which Stripe settles in up to
 * 3 business days (a long weekend makes it 5 or 6 calendar days), and beyond.
 */
export const DEBIT_SETTLEMENT_BUCKETS: readonly number[] = [
  60,
  10 * 60,
  HOUR,
  6 * HOUR,
  DAY,
  2 * DAY,
  3 * DAY,
  4 * DAY,
  5 * DAY,
  7 * DAY,
  10 * DAY,
  14 * DAY,
];

/**
 * Registers the metrics of how payments fare and how long money and work wait, all read
 * from PostgreSQL at scrape time (so every API process reports the same values, and
 * nothing is lost when a process restarts). Label values are bounded: flows, methods and
 * currencies susu supports, fixed outcome words and age bands, ticket kinds; never ids.
 *
 * - `susu_payment_outcomes_total{flow,method,currency,outcome}` (counter): payments that
 *   succeeded or failed, ever; the success ratio is a ratio of their rates.
 * - `susu_debit_settlement_seconds{method}` (histogram): from a round debit's request to
 *   its settlement.
 * - `susu_held_funds_payments{currency,age}` and `susu_held_funds_amount_minor{currency,age}`
 *   (gauges): money held for a dispute window, by age since capture.
 * - `susu_held_funds_release_overdue_seconds` (gauge): how long ago the oldest release that
 *   nothing holds back was due.
 * - `susu_refund_outcome_oldest_seconds{flow}` (gauge): how long the oldest refund of a held
 *   payment or marketplace charge asked of Stripe has waited for its outcome;
 *   `susu_dispute_losses_waiting{flow}` (gauge): payments whose lost dispute waits for one.
 * - `susu_outbox_oldest_pending_seconds`, `susu_webhook_oldest_unprocessed_seconds` (gauges).
 * - `susu_support_tickets_open_by_kind{kind}` (gauge).
 *
 * `now` is the clock the ages are measured with (the process's clock in production).
 */
export function registerPaymentMetrics(
  metrics: ScrapeTimeMetrics,
  reader: PaymentMetricsReader,
  now: () => number,
): void {
  metrics.registerCounter({
    name: "susu_payment_outcomes_total",
    help: "Payments that came to an outcome (succeeded, failed), by flow (round_debit, held_payment, marketplace_charge), method (au_becs_debit, card, checkout) and currency.",
    labelNames: ["flow", "method", "currency", "outcome"],
    collect: async () =>
      (await reader.paymentOutcomes()).map((r) => ({
        labels: { flow: r.flow, method: r.method, currency: r.currency, outcome: r.outcome },
        value: r.count,
      })),
  });
  metrics.registerHistogram({
    name: "susu_debit_settlement_seconds",
    help: "Round debits that succeeded: time from the debit's request to its settlement (money in the pot), by method.",
    labelNames: ["method"],
    buckets: DEBIT_SETTLEMENT_BUCKETS,
    collect: async () =>
      (await reader.debitSettlementTimes(DEBIT_SETTLEMENT_BUCKETS)).map((r) => ({
        labels: { method: r.method },
        cumulativeCounts: r.cumulativeCounts,
        sum: r.sumSeconds,
        count: r.count,
      })),
  });
  metrics.registerGauge({
    name: "susu_held_funds_payments",
    help: "Held payments whose money is on the platform (held, releasing, release_blocked), by currency and age since capture (under_1d, 1d_to_3d, 3d_to_7d, over_7d).",
    labelNames: ["currency", "age"],
    collect: async () =>
      (await reader.heldFundsByAge(now())).map((r) => ({
        labels: { currency: r.currency, age: r.age },
        value: r.payments,
      })),
  });
  metrics.registerGauge({
    name: "susu_held_funds_amount_minor",
    help: "The amounts of those held payments, in the currency's minor unit, by currency and age since capture.",
    labelNames: ["currency", "age"],
    collect: async () =>
      (await reader.heldFundsByAge(now())).map((r) => ({
        labels: { currency: r.currency, age: r.age },
        value: r.amountMinor,
      })),
  });
  metrics.registerGauge({
    name: "susu_held_funds_release_overdue_seconds",
    help: "Seconds since the oldest release of held funds was due (its dispute window ended) without happening, no admin hold or open dispute holding it back; 0 when none is overdue.",
    collect: async () => [{ labels: {}, value: await reader.oldestOverdueReleaseSeconds(now()) }],
  });
  metrics.registerGauge({
    name: "susu_refund_outcome_oldest_seconds",
    help: "Seconds since the oldest refund of a held payment or marketplace charge still waiting for Stripe's outcome was asked for (its attempt decided), by flow (held_payment, marketplace_charge); 0 when none waits.",
    labelNames: ["flow"],
    collect: async () =>
      (await reader.refundsInFlight(now())).map((r) => ({
        labels: { flow: r.flow },
        value: r.oldestSeconds,
      })),
  });
  metrics.registerGauge({
    name: "susu_dispute_losses_waiting",
    help: "Payments with a dispute Stripe closed lost whose loss waits for a refund's outcome (release frozen, loss not booked), by flow.",
    labelNames: ["flow"],
    collect: async () =>
      (await reader.refundsInFlight(now())).map((r) => ({
        labels: { flow: r.flow },
        value: r.lossesWaiting,
      })),
  });
  metrics.registerGauge({
    name: "susu_outbox_oldest_pending_seconds",
    help: "Age of the oldest outbox effect still pending, from when it was decided; 0 when none is.",
    collect: async () => [{ labels: {}, value: await reader.oldestPendingEffectSeconds(now()) }],
  });
  metrics.registerGauge({
    name: "susu_webhook_oldest_unprocessed_seconds",
    help: "Age of the oldest Stripe event still to process (received, or failed and to retry), from when susu received it; 0 when none is.",
    collect: async () => [{ labels: {}, value: await reader.oldestUnprocessedWebhookSeconds(now()) }],
  });
  metrics.registerGauge({
    name: "susu_support_tickets_open_by_kind",
    help: "Support tickets still open, by kind (webhook_parked, effect_parked, payout_blocked, …).",
    labelNames: ["kind"],
    collect: async () =>
      (await reader.openTicketsByKind()).map((r) => ({ labels: { kind: r.kind }, value: r.count })),
  });
}
