// What the operations gauges read at scrape time: one `COUNT … GROUP BY` per table, each
// on a status column with an index or a small table, so a scrape costs a few milliseconds.
import type { PrismaClient } from "../db/prisma-client.js";

/** A count of rows with one status. */
export interface StatusCount {
  readonly status: string;
  readonly count: number;
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

  /** Outbox effects still to run or waiting for a person (`done` rows are history, not depth). */
  outboxByStatus(): Promise<readonly StatusCount[]> {
    return this.#counts(
      this.prisma
        .$queryRaw`SELECT status::text AS status, count(*) AS count FROM outbox_effects WHERE status <> 'done' GROUP BY status`,
    );
  }

  /** Webhook events not finished (`received`, `failed`, `parked`). */
  webhooksByStatus(): Promise<readonly StatusCount[]> {
    return this.#counts(
      this.prisma
        .$queryRaw`SELECT status::text AS status, count(*) AS count FROM webhook_events WHERE status IN ('received', 'failed', 'parked') GROUP BY status`,
    );
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

  /** Support tickets by status. */
  ticketsByStatus(): Promise<readonly StatusCount[]> {
    return this.#counts(
      this.prisma
        .$queryRaw`SELECT status::text AS status, count(*) AS count FROM support_tickets GROUP BY status`,
    );
  }

  async #counts(query: Promise<unknown>): Promise<readonly StatusCount[]> {
    const rows = (await query) as { status: string; count: bigint }[];
    return rows.map((r) => ({ status: r.status, count: Number(r.count) }));
  }
}
