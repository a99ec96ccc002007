// What the payment metrics read at scrape time (see registerPaymentMetrics in ../metrics).
// Two kinds of reads:
// - cumulative counts of facts that are only ever added (an attempt that succeeded or
//   failed, a debit that settled after so long): exported as counters and a histogram, so
//   Prometheus computes rates and ratios over any window, through restarts, and every API
//   process reports the same numbers (nothing is summed across processes);
// - the current state of what is still open (held funds, the oldest waiting effect or
//   event, open tickets): gauges, each read through an index on the open rows, so its cost
//   follows the open work and not the history.
// Read from the database rather than incremented in a process: an outcome is committed by
// whichever process learnt it (the webhook processor, the outbox dispatcher from Stripe's
// answer, a sweep), some of them more than once (a replayed event is ignored by the domain);
// only the committed rows count each payment once, in every process alike.
// The counts are `COUNT … GROUP BY` over the attempts and payments tables: their cost grows
// with the history (one scan per table and scrape). A summary table kept by triggers would
// bound it, at the price of a second copy of each status rule, in SQL.
import { type CurrencyCode, debitMethodFor, roundIds } from "@susu/domain";
import type { PrismaClient } from "../db/prisma-client.js";

/** The three ways susu takes a payment. */
export type PaymentFlow = "round_debit" | "held_payment" | "marketplace_charge";

/** How many payments of one flow, method and currency came to one outcome, ever. */
export interface PaymentOutcomeCount {
  readonly flow: PaymentFlow;
  /** `au_becs_debit`, `card`, or `checkout` (the customer chose in Stripe Checkout; not recorded). */
  readonly method: string;
  readonly currency: string;
  readonly outcome: "succeeded" | "failed";
  readonly count: number;
}

/** How long settled debits took, from requested to settled, bucketed. */
export interface SettlementTimes {
  readonly method: string;
  /** How many took at most each bound (seconds), in the order of the bounds asked for. */
  readonly cumulativeCounts: readonly number[];
  readonly sumSeconds: number;
  readonly count: number;
}

/** The age bands of held funds, from capture. */
export const HELD_FUNDS_AGES = ["under_1d", "1d_to_3d", "3d_to_7d", "over_7d"] as const;
export type HeldFundsAge = (typeof HELD_FUNDS_AGES)[number];

/** Held payments of one currency in one age band: how many, and their amount. */
export interface HeldFundsBand {
  readonly currency: string;
  readonly age: HeldFundsAge;
  readonly payments: number;
  readonly amountMinor: number;
}

/** An open-ticket count by the ticket's kind (`webhook_parked`, `payout_blocked`, …). */
export interface TicketKindCount {
  readonly kind: string;
  readonly count: number;
}

/**
 * The method each flow pays with, as susu asks Stripe for it: round debits with the debit
 * method of the group's currency (the domain's `DEBIT_METHODS`: BECS for AUD); marketplace
 * charges with cards only; held payments through Checkout, where the customer picks among
 * the account's methods and susu does not record which (`checkout`).
 */
function methodOf(flow: PaymentFlow, currency: string): string {
  switch (flow) {
    case "round_debit":
      return debitMethodFor(currency as CurrencyCode) ?? "unknown";
    case "marketplace_charge":
      return "card";
    case "held_payment":
      return "checkout";
  }
}

// The statuses in which a held payment's money is on the platform, waiting for its release
// (`held`, `releasing`, `release_blocked`), are written as literals in the queries: compared
// as enum values, the `(status, created_at, id)` index serves them.
const DAY_MS = 86_400_000;

/** The suffix of a round's "debit settled" ledger transaction id (`<debit effect id>:settled`). */
const SETTLED_SUFFIX = roundIds.ledger.debitSettled("");

/**
 * The reads of open work, as text so a test can ask PostgreSQL's planner which index serves
 * each (their cost follows the open rows, not the history). `$1` is now, in epoch ms.
 */
export const HELD_FUNDS_BY_AGE_SQL = `
  SELECT currency,
         CASE WHEN age_ms < ${DAY_MS} THEN 'under_1d'
              WHEN age_ms < ${3 * DAY_MS} THEN '1d_to_3d'
              WHEN age_ms < ${7 * DAY_MS} THEN '3d_to_7d'
              ELSE 'over_7d' END AS age,
         count(*) AS payments,
         sum(amount_minor) AS amount
  FROM (
    SELECT currency, amount_minor,
           $1::float8 - COALESCE((snapshot ->> 'capturedAt')::float8, extract(epoch FROM created_at) * 1000) AS age_ms
    FROM held_payments
    WHERE status IN ('held', 'releasing', 'release_blocked')
  ) AS h
  GROUP BY 1, 2`;

export const OLDEST_OVERDUE_RELEASE_SQL = `
  SELECT extract(epoch FROM (to_timestamp($1::float8 / 1000) - min(release_due_at)))::float8 AS seconds
  FROM held_payments
  WHERE status IN ('held', 'releasing', 'release_blocked')
    AND release_due_at < to_timestamp($1::float8 / 1000)
    AND snapshot -> 'adminHold' IS NULL
    AND NOT (COALESCE(snapshot -> 'disputes', '[]'::jsonb) @> '[{"status": "open"}]'::jsonb)`;

/**
 * Per flow, the refunds asked of Stripe whose outcome susu has not heard (`requested` in the
 * snapshot: the refund call answered `pending`, or its answer is still to come), through the
 * partial `…_refund_in_flight_idx` indexes: when the oldest one's attempt was decided (its
 * refund effect's `created_at`; the effect id is `heldPaymentIds.refund` /
 * `marketplaceChargeIds.refund`, `<id>:refund:<n>:attempt:<k>`, and outbox rows are kept), and
 * how many of the payments have a dispute Stripe closed lost whose loss waits for the refund
 * (`waitingLossMinor` on a dispute still open).
 */
export const REFUNDS_IN_FLIGHT_SQL = `
  SELECT flow, min(e.created_at) AS oldest,
         count(DISTINCT p.id) FILTER (WHERE p.loss_waits) AS losses_waiting
  FROM (
    SELECT 'held_payment' AS flow, id, snapshot,
           jsonb_path_exists(snapshot, '$.disputes[*] ? (@.status == "open" && exists(@.waitingLossMinor))') AS loss_waits
    FROM held_payments
    WHERE (snapshot -> 'refunds') @> '[{"status": "requested"}]'::jsonb
    UNION ALL
    SELECT 'marketplace_charge', id, snapshot,
           jsonb_path_exists(snapshot, '$.disputes[*] ? (@.status == "open" && exists(@.waitingLossMinor))')
    FROM marketplace_charges
    WHERE (snapshot -> 'refunds') @> '[{"status": "requested"}]'::jsonb
  ) AS p
  CROSS JOIN LATERAL jsonb_array_elements(p.snapshot -> 'refunds') AS r(refund)
  JOIN outbox_effects AS e
    ON e.id = p.id || ':refund:' || (r.refund ->> 'number') || ':attempt:' || (r.refund ->> 'attempts')
  WHERE r.refund ->> 'status' = 'requested'
  GROUP BY flow`;

/** The flows whose refunds the refund-outcome gauges follow (each reported, 0 when none waits). */
export const REFUND_FLOWS = ["held_payment", "marketplace_charge"] as const;

/** One flow's refunds waiting for Stripe's outcome. */
export interface RefundsInFlight {
  readonly flow: (typeof REFUND_FLOWS)[number];
  /** Seconds since the oldest one's attempt was decided; 0 when none waits. */
  readonly oldestSeconds: number;
  /** Payments whose lost dispute's loss waits for one of them. */
  readonly lossesWaiting: number;
}

export const OLDEST_PENDING_EFFECT_SQL =
  "SELECT created_at FROM outbox_effects WHERE status = 'pending' ORDER BY sequence LIMIT 1";

export const OLDEST_UNPROCESSED_WEBHOOK_SQL =
  "SELECT min(received_at) AS oldest FROM webhook_events WHERE status IN ('received', 'failed')";

export const OPEN_TICKETS_BY_KIND_SQL =
  "SELECT kind, count(*) AS count FROM support_tickets WHERE status = 'open' GROUP BY kind";

/** Reads for the payment metrics on PostgreSQL. */
export class PrismaPaymentMetricsReads {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Payments that came to an outcome, by flow, method, currency and outcome:
   * - round debits: each debit attempt that `succeeded` or `failed` (a retry is another
   *   attempt, so a member whose second try went through counts one of each);
   * - held payments and marketplace charges: `succeeded` once the charge was captured
   *   (whatever happened after: release, refund, dispute), `failed` when the payment did not
   *   go through (`payment_failed`). Held payments whose Checkout expired are counted by
   *   `susu_checkout_sessions_total`, not here.
   * A debit recorded failed that succeeded after all moves from one count to the other.
   */
  async paymentOutcomes(): Promise<readonly PaymentOutcomeCount[]> {
    const rows = (await this.prisma.$queryRaw`
      SELECT 'round_debit' AS flow, currency, status::text AS outcome, count(*) AS count
        FROM contribution_attempts WHERE status IN ('succeeded', 'failed') GROUP BY currency, status
      UNION ALL
      SELECT 'held_payment', currency, CASE WHEN status = 'payment_failed' THEN 'failed' ELSE 'succeeded' END, count(*)
        FROM held_payments WHERE status = 'payment_failed' OR (snapshot ->> 'capturedAt') IS NOT NULL
        GROUP BY 2, 3
      UNION ALL
      SELECT 'marketplace_charge', currency, CASE WHEN status = 'payment_failed' THEN 'failed' ELSE 'succeeded' END, count(*)
        FROM marketplace_charges WHERE status = 'payment_failed' OR (snapshot ->> 'capturedAt') IS NOT NULL
        GROUP BY 2, 3`) as {
      flow: PaymentFlow;
      currency: string;
      outcome: "succeeded" | "failed";
      count: bigint;
    }[];
    return rows.map((r) => ({
      flow: r.flow,
      method: methodOf(r.flow, r.currency),
      currency: r.currency,
      outcome: r.outcome,
      count: Number(r.count),
    }));
  }

  /**
   * How long each round debit that succeeded took, from the attempt's request (the
   * effect that asks Stripe for it) to its "debit settled" ledger transaction (when susu
   * learnt the money arrived), bucketed by `bounds` (seconds, ascending), by method. A
   * debit counts once its ledger transaction is posted (the outbox posts it moments after
   * the success is recorded).
   */
  async debitSettlementTimes(bounds: readonly number[]): Promise<readonly SettlementTimes[]> {
    const rows = (await this.prisma.$queryRaw`
      WITH settled AS (
        SELECT ca.currency,
               GREATEST(0, extract(epoch FROM lt.occurred_at - ca.requested_at))::float8 AS seconds
        FROM contribution_attempts AS ca
        JOIN ledger_transactions AS lt ON lt.id = ca.effect_id || ${SETTLED_SUFFIX}
        WHERE ca.status = 'succeeded'
      ), buckets AS (
        SELECT s.currency, b.i, count(*) FILTER (WHERE s.seconds <= b.le) AS n
        FROM settled AS s CROSS JOIN unnest(${[...bounds]}::float8[]) WITH ORDINALITY AS b(le, i)
        GROUP BY s.currency, b.i
      )
      SELECT t.currency, t.sum, t.count,
             (SELECT array_agg(b.n ORDER BY b.i) FROM buckets AS b WHERE b.currency = t.currency) AS counts
      FROM (SELECT currency, sum(seconds)::float8 AS sum, count(*) AS count FROM settled GROUP BY currency) AS t`) as {
      currency: string;
      counts: bigint[] | null;
      sum: number;
      count: bigint;
    }[];
    // Currencies that share a method add up.
    const byMethod = new Map<string, { counts: number[]; sum: number; count: number }>();
    for (const r of rows) {
      const method = methodOf("round_debit", r.currency);
      const into = byMethod.get(method) ?? { counts: bounds.map(() => 0), sum: 0, count: 0 };
      (r.counts ?? []).forEach((n, i) => {
        into.counts[i] = (into.counts[i] ?? 0) + Number(n);
      });
      into.sum += r.sum;
      into.count += Number(r.count);
      byMethod.set(method, into);
    }
    return [...byMethod].map(([method, v]) => ({
      method,
      cumulativeCounts: v.counts,
      sumSeconds: v.sum,
      count: v.count,
    }));
  }

  /**
   * Held payments whose money is on the platform (held, releasing, release blocked), by
   * currency and age since capture: how many and their amount, with every band of a
   * currency present (0 when empty). Through the `(status, created_at, id)` index.
   */
  async heldFundsByAge(now: number): Promise<readonly HeldFundsBand[]> {
    const rows = await this.prisma.$queryRawUnsafe<
      { currency: string; age: HeldFundsAge; payments: bigint; amount: bigint }[]
    >(HELD_FUNDS_BY_AGE_SQL, now);
    const currencies = [...new Set(rows.map((r) => r.currency))].sort();
    return currencies.flatMap((currency) =>
      HELD_FUNDS_AGES.map((age) => {
        const row = rows.find((r) => r.currency === currency && r.age === age);
        return {
          currency,
          age,
          payments: Number(row?.payments ?? 0),
          amountMinor: Number(row?.amount ?? 0),
        };
      }),
    );
  }

  /**
   * How long ago the oldest overdue release was due, in seconds (0 when none is): held
   * payments still on the platform whose dispute window ended (`release_due_at`) and that
   * no person or dispute holds back (an admin hold, an open dispute). The release timer
   * should have released them at that moment.
   */
  async oldestOverdueReleaseSeconds(now: number): Promise<number> {
    const rows = await this.prisma.$queryRawUnsafe<{ seconds: number | null }[]>(
      OLDEST_OVERDUE_RELEASE_SQL,
      now,
    );
    return Math.max(0, rows[0]?.seconds ?? 0);
  }

  /**
   * The age in seconds of the oldest outbox effect still pending (0 when none is), from
   * when it was decided: the first row of the partial index the dispatcher claims through.
   */
  async oldestPendingEffectSeconds(now: number): Promise<number> {
    const rows = await this.prisma.$queryRawUnsafe<{ created_at: Date }[]>(OLDEST_PENDING_EFFECT_SQL);
    const oldest = rows[0]?.created_at;
    return oldest === undefined ? 0 : Math.max(0, now - oldest.getTime()) / 1000;
  }

  /**
   * The age in seconds of the oldest stored Stripe event still to process (received, or
   * failed and to retry), from when susu received it (0 when none is). Through the partial
   * index of due events.
   */
  async oldestUnprocessedWebhookSeconds(now: number): Promise<number> {
    const rows = await this.prisma.$queryRawUnsafe<{ oldest: Date | null }[]>(OLDEST_UNPROCESSED_WEBHOOK_SQL);
    const oldest = rows[0]?.oldest;
    return oldest === null || oldest === undefined ? 0 : Math.max(0, now - oldest.getTime()) / 1000;
  }

  /**
   * Per flow (every one present), how long the oldest refund asked of Stripe has waited for its
   * outcome and how many payments have a lost dispute waiting for one (see
   * {@link REFUNDS_IN_FLIGHT_SQL}). A refund Stripe left pending, or whose news was lost, stays
   * `requested` until someone looks: this is what shows it.
   */
  async refundsInFlight(now: number): Promise<readonly RefundsInFlight[]> {
    const rows =
      await this.prisma.$queryRawUnsafe<{ flow: string; oldest: Date | null; losses_waiting: bigint }[]>(
        REFUNDS_IN_FLIGHT_SQL,
      );
    return REFUND_FLOWS.map((flow) => {
      const row = rows.find((r) => r.flow === flow);
      const oldest = row?.oldest ?? undefined;
      return {
        flow,
        oldestSeconds: oldest === undefined ? 0 : Math.max(0, now - oldest.getTime()) / 1000,
        lossesWaiting: Number(row?.losses_waiting ?? 0),
      };
    });
  }

  /** Open support tickets by kind. */
  async openTicketsByKind(): Promise<readonly TicketKindCount[]> {
    const rows =
      await this.prisma.$queryRawUnsafe<{ kind: string; count: bigint }[]>(OPEN_TICKETS_BY_KIND_SQL);
    return rows.map((r) => ({ kind: r.kind, count: Number(r.count) }));
  }
}
