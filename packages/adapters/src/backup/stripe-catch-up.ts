import type Stripe from "stripe";
import type { PrismaClient } from "../db/prisma-client.js";
import type { WebhookInbox } from "../webhooks/inbox.js";
import { storableInJsonb } from "../webhooks/storable.js";

/** What {@link catchUpStripeEvents} did. */
export interface CatchUpReport {
  /** Events Stripe listed (platform and connected accounts). */
  readonly listed: number;
  /** Of those, events the inbox did not have: stored, to be processed. */
  readonly stored: number;
  /** Events the inbox already had (delivered before the backup, or caught up already). */
  readonly duplicates: number;
  /** Connected accounts whose events were listed too. */
  readonly accounts: number;
}

/** Options of {@link catchUpStripeEvents}. */
export interface CatchUpOptions {
  /** Events created at or after this instant (ms) are listed: the backup's time minus a margin. */
  readonly since: number;
  /**
   * Connected accounts whose own events (Connect: `account.updated`, their payouts,
   * `account.application.deauthorized`) are listed as well, with `Stripe-Account`.
   */
  readonly connectedAccounts?: readonly string[];
}

/** Every connected account susu knows of: its people's. */
export async function knownConnectedAccounts(prisma: PrismaClient): Promise<string[]> {
  const rows = await prisma.person.findMany({
    where: { connectedAccountId: { not: null } },
    select: { connectedAccountId: true },
    orderBy: { connectedAccountId: "asc" },
  });
  return rows.flatMap((r) => (r.connectedAccountId === null ? [] : [r.connectedAccountId]));
}

async function listSince(
  stripe: Stripe,
  since: number,
  account: string | undefined,
): Promise<Stripe.Event[]> {
  const events: Stripe.Event[] = [];
  const created = { gte: Math.floor(since / 1000) };
  // Newest first, page after page (the SDK follows `starting_after`); stored oldest first below.
  const pages = stripe.events.list(
    { created, limit: 100 },
    account === undefined ? undefined : { stripeAccount: account },
  );
  // A Connect delivery names the account the event happened on; listed with
  // Stripe-Account, the event is that account's whether or not the field is filled.
  for await (const event of pages)
    events.push(account !== undefined && event.account === undefined ? { ...event, account } : event);
  return events;
}

/**
 * After a restore, the database has forgotten what Stripe told it since the backup: lists
 * Stripe's events created since `since` (GET /v1/events, `created[gte]`, every page; the
 * platform's and each connected account's) and stores them in the webhook inbox through the
 * same `receive` as the webhook route — an event already there is a duplicate and changes
 * nothing — so the webhook processor applies them as if they had just been delivered. Stripe
 * lists events of the last 30 days only: restore and catch up well within that.
 */
export async function catchUpStripeEvents(
  stripe: Stripe,
  inbox: WebhookInbox,
  options: CatchUpOptions,
): Promise<CatchUpReport> {
  const accounts = options.connectedAccounts ?? [];
  const events: Stripe.Event[] = [];
  for (const account of [undefined, ...accounts])
    events.push(...(await listSince(stripe, options.since, account)));
  events.sort((a, b) => a.created - b.created || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  let stored = 0;
  let duplicates = 0;
  for (const event of events) {
    const result = await inbox.receive(storableInJsonb(event));
    if (result.isErr()) throw new Error(`storing ${event.id} failed: ${result.error.message}`);
    if (result.value === "stored") stored += 1;
    else duplicates += 1;
  }
  return { listed: events.length, stored, duplicates, accounts: accounts.length };
}
