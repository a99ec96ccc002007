// What the operations gauges read at scrape time: one `COUNT … GROUP BY` per table. The
// outbox's and the inbox's depth count open rows only, through partial indexes on them:
// done effects and finished events are kept for ever, so a scan would grow with the history.
import type { PrismaClient } from "../db/prisma-client.js";
import { DAILY_RECONCILIATION_RAN_BY } from "../reconciliation/daily-days.js";
import { PrismaReconciliationStore } from "../reconciliation/prisma-reconciliation-store.js";

/**
 * The outbox's depth: effects `pending` (through outbox_effects_due_idx) and `parked`
 * (outbox_effects_parked_idx), a row per status that has any. `done` and `dismissed` effects
 * (parked ones an operator set aside) are history, not depth: a dismissal takes its effect out
 * of the parked count, so the parked alert sees the next parking. As text so a test can ask
 * the planner which index serves each part.
 */
export const OUTBOX_DEPTH_SQL = `
  SELECT 'pending' AS status, count(*) AS count FROM outbox_effects WHERE status = 'pending' HAVING count(*) > 0
  UNION ALL
  SELECT 'parked', count(*) FROM outbox_effects WHERE status = 'parked' HAVING count(*) > 0`;

/**
 * The inbox's depth: events `received` and `failed` (through webhook_events_due_idx, whose
 * predicate this repeats) and `parked` (webhook_events_parked_idx), a row per status that has any.
 * A parked event an operator dismissed is `ignored`: history, out of the parked count.
 */
export const WEBHOOK_DEPTH_SQL = `
  SELECT status::text AS status, count(*) AS count FROM webhook_events
   WHERE status = 'received' OR status = 'failed' GROUP BY status
  UNION ALL
  SELECT 'parked', count(*) FROM webhook_events WHERE status = 'parked' HAVING count(*) > 0`;

/** A count of rows with one status. */
export interface StatusCount {
  readonly status: string;
  readonly count: number;
}

/** How many Checkout Sessions of held payments came to each outcome, ever (see {@link PrismaOperationsCounts.checkoutSessions}). */
export interface CheckoutSessionCounts {
  readonly created: number;
  readonly completed: number;
  readonly expired: number;
  readonly abandoned: number;
}

/** Row counts by status of the tables operators watch: rounds, held payments, marketplace charges, outbox, webhook inbox, tickets. */
export class PrismaOperationsCounts {
  constructor(private readonly prisma: PrismaClient) {}

  /** Rounds by state (`collecting`, `payout_blocked`, …). */
  roundsByStatus(): Promise<readonly StatusCount[]> {
    return this.#counts(
      this.prisma.$queryRaw`SELECT state::text AS status, count(*) AS count FROM rounds GROUP BY state`,
    );
  }

  /** Outbox effects still to run or waiting for a person (`done` and `dismissed` rows are history, not depth). */
  outboxByStatus(): Promise<readonly StatusCount[]> {
    return this.#counts(this.prisma.$queryRawUnsafe(OUTBOX_DEPTH_SQL));
  }

  /** Webhook events not finished (`received`, `failed`, `parked`). */
  webhooksByStatus(): Promise<readonly StatusCount[]> {
    return this.#counts(this.prisma.$queryRawUnsafe(WEBHOOK_DEPTH_SQL));
  }

  /**
   * Held payments by status: `awaiting_payment` are checkouts still open, `expired` the
   * abandoned ones, `payment_processing` delayed payments, `held` money waiting for its
   * release, `release_blocked` releases that need a person.
   */
  heldPaymentsByStatus(): Promise<readonly StatusCount[]> {
    return this.#counts(
      this.prisma
        .$queryRaw`SELECT status::text AS status, count(*) AS count FROM held_payments GROUP BY status`,
    );
  }

  /**
   * Marketplace charges by status: `requires_action` are customers still to confirm a card or
   * pass 3-D Secure, `transfer_blocked` co-hosts' transfers parked for a person, `refunding`
   * refunds in flight.
   */
  marketplaceChargesByStatus(): Promise<readonly StatusCount[]> {
    return this.#counts(
      this.prisma
        .$queryRaw`SELECT status::text AS status, count(*) AS count FROM marketplace_charges GROUP BY status`,
    );
  }

  /**
   * The end of the last day the scheduler's daily reconciliation reconciled (its newest
   * report), or undefined before its first run: what `susu_reconciliation_days_behind` reads.
   */
  reconciliationLastEnd(): Promise<number | undefined> {
    return new PrismaReconciliationStore(this.prisma).lastPeriodEnd(DAILY_RECONCILIATION_RAN_BY);
  }

  /**
   * When the platform first moved money (its oldest ledger transaction, through the index on
   * `occurred_at`), or undefined with an empty ledger: where `susu_reconciliation_days_behind`
   * counts from before the daily reconciliation's first stored report.
   */
  async firstLedgerActivity(): Promise<number | undefined> {
    const row = await this.prisma.ledgerTransaction.findFirst({
      orderBy: { occurredAt: "asc" },
      select: { occurredAt: true },
    });
    return row?.occurredAt.getTime();
  }

  /** Support tickets by status. */
  ticketsByStatus(): Promise<readonly StatusCount[]> {
    return this.#counts(
      this.prisma
        .$queryRaw`SELECT status::text AS status, count(*) AS count FROM support_tickets GROUP BY status`,
    );
  }

  /**
   * Checkout Sessions of held payments by outcome, counted from facts that are only ever
   * added, so each count only grows (a counter):
   * - `created`: payments whose session exists (the session id is set once, never unset);
   * - `completed`: sessions Stripe reported `checkout.session.completed` (the customer
   *   finished the page; a delayed method may still fail);
   * - `abandoned`: sessions Stripe reported `checkout.session.expired` whose `payment_intent`
   *   was set: Checkout makes the PaymentIntent when the customer submits a payment, so the
   *   customer tried to pay (declined, 3-D Secure not finished) and then left;
   * - `expired`: sessions reported expired with no `payment_intent`: never tried.
   * Read from the stored webhook events (`webhook_events`, deduplicated by event id; a
   * session counted once per outcome), joined to the payments so other sessions of the
   * Stripe account are not counted. One scan of those two event types through the type index.
   */
  async checkoutSessions(): Promise<CheckoutSessionCounts> {
    const rows = (await this.prisma.$queryRaw`
      WITH outcomes AS (
        SELECT e.type, e.payload #>> '{data,object,id}' AS session_id,
               (e.payload #>> '{data,object,payment_intent}') IS NOT NULL AS tried
        FROM webhook_events AS e
        WHERE e.type IN ('checkout.session.completed', 'checkout.session.expired')
      )
      SELECT
        (SELECT count(*) FROM held_payments WHERE checkout_session_id IS NOT NULL) AS created,
        count(DISTINCT o.session_id) FILTER (WHERE o.type = 'checkout.session.completed') AS completed,
        count(DISTINCT o.session_id) FILTER (WHERE o.type = 'checkout.session.expired' AND NOT o.tried) AS expired,
        count(DISTINCT o.session_id) FILTER (WHERE o.type = 'checkout.session.expired' AND o.tried) AS abandoned
      FROM outcomes AS o
      JOIN held_payments AS hp ON hp.checkout_session_id = o.session_id`) as {
      created: bigint;
      completed: bigint;
      expired: bigint;
      abandoned: bigint;
    }[];
    const row = rows[0];
    return {
      created: Number(row?.created ?? 0),
      completed: Number(row?.completed ?? 0),
      expired: Number(row?.expired ?? 0),
      abandoned: Number(row?.abandoned ?? 0),
    };
  }

  async #counts(query: Promise<unknown>): Promise<readonly StatusCount[]> {
    const rows = (await query) as { status: string; count: bigint }[];
    return rows.map((r) => ({ status: r.status, count: Number(r.count) }));
  }
}
