import type { CurrencyCode } from "../money/index.js";
import type { PersonId } from "../person/ids.js";
import type { Instant } from "../shared/time.js";

/**
 * Where a payout from a connected account to its bank stands, in Stripe's words:
 * `pending → in_transit → paid`, or `failed` (the bank returned it, possibly after `paid`),
 * or `canceled` (stopped while pending).
 */
export type PayoutStatus = "pending" | "in_transit" | "paid" | "failed" | "canceled";

/** Every {@link PayoutStatus}, for schemas. */
export const PAYOUT_STATUSES = ["pending", "in_transit", "paid", "failed", "canceled"] as const;

/**
 * How far along a status is. Events arrive in any order, so a status only replaces one
 * of a lower rank: a late `payout.created` (pending) never overwrites `paid`, and `failed`
 * after `paid` is the bank returning the money (Stripe reports this). `failed` and
 * `canceled` are both final: the first one heard stands.
 */
const STATUS_RANK: Readonly<Record<PayoutStatus, number>> = {
  pending: 0,
  in_transit: 1,
  paid: 2,
  failed: 3,
  canceled: 3,
};

/** What the provider reported about one payout of a connected account (a `payout.*` event). */
export interface ReportedPayout {
  readonly payoutId: string;
  readonly accountId: string;
  readonly amountMinor: number;
  readonly currency: CurrencyCode;
  readonly status: PayoutStatus;
  /** When the provider expects (or saw) the money reach the bank. */
  readonly arrivalDate: Instant;
  /** Whether the provider's own schedule made it (false: made through the API, by susu). */
  readonly automatic: boolean;
  readonly failureCode?: string;
  readonly failureMessage?: string;
  /** When the provider created the payout. */
  readonly createdAt: Instant;
}

/**
 * A payout as susu recorded it: a projection of the provider's `payout.*` events (not an
 * aggregate: nothing susu decides changes it), tied to the person whose account it left.
 */
export interface PayoutRecord extends ReportedPayout {
  readonly personId: PersonId;
  /** When susu last changed this record. */
  readonly updatedAt: Instant;
}

/** What hearing a reported payout does to the record of it. */
export type PayoutMerge =
  /** First heard of: recorded as reported. */
  | { readonly kind: "recorded"; readonly record: PayoutRecord }
  /** Moved on: the record takes the reported state. */
  | { readonly kind: "advanced"; readonly record: PayoutRecord; readonly from: PayoutStatus }
  /** Nothing new (a duplicate, or a late event of an earlier status): the record stays. */
  | { readonly kind: "stale"; readonly record: PayoutRecord };

/**
 * The record after hearing `reported` (pure; see {@link STATUS_RANK} for the order). The
 * outcome is the same whatever order the events of one payout are heard in, and hearing
 * one twice changes nothing.
 */
export function mergePayout(
  stored: PayoutRecord | undefined,
  reported: ReportedPayout,
  personId: PersonId,
  now: Instant,
): PayoutMerge {
  if (stored === undefined) return { kind: "recorded", record: { ...reported, personId, updatedAt: now } };
  if (STATUS_RANK[reported.status] <= STATUS_RANK[stored.status]) return { kind: "stale", record: stored };
  return {
    kind: "advanced",
    from: stored.status,
    // The person stays who it was recorded for: the account's owner when the payout left.
    record: { ...reported, personId: stored.personId, updatedAt: now },
  };
}

/**
 * How long after its arrival date a `paid` payout is still asked about (10 days): Stripe
 * documents that a payout fails or is canceled within 5 business days, and that some that
 * fail show as `paid` first; ten calendar days cover five business days across a weekend
 * and public holidays.
 */
export const PAYOUT_RECHECK_AFTER_ARRIVAL_MS = 10 * 86_400_000;

/** Whether `status` is a final one (no later event moves it but a bank returning a paid payout). */
export function isPayoutFinal(status: PayoutStatus): boolean {
  return status === "failed" || status === "canceled";
}

/** Days of the week, as Stripe's `weekly_anchor` names them. */
export const WEEKDAYS = [
  "monday",
  "tuesday",
  "wednesday",
  "thursday",
  "friday",
  "saturday",
  "sunday",
] as const;

/** One of {@link WEEKDAYS}. */
export type Weekday = (typeof WEEKDAYS)[number];

/**
 * When connected accounts susu creates pay out to their bank. `manual`: the provider holds
 * the funds until susu asks (the payout job, or an admin); the others are the provider's
 * automatic schedules.
 */
export type PayoutSchedule =
  | { readonly interval: "manual" }
  | { readonly interval: "daily" }
  | { readonly interval: "weekly"; readonly weeklyAnchor: Weekday }
  | { readonly interval: "monthly"; readonly monthlyAnchor: number };

/**
 * The default: `manual`, the platform holding funds in the sellers' balances and paying
 * them out with its own daily job, so nobody has to act for a pot to reach a bank, and
 * susu can stop a payout while it still matters.
 */
export const DEFAULT_PAYOUT_SCHEDULE: PayoutSchedule = { interval: "manual" };

/** The UTC calendar day of `at`, `YYYY-MM-DD` (a scheduled payout's key names its day). */
export function utcDay(at: Instant): string {
  return new Date(at).toISOString().slice(0, 10);
}

/**
 * A {@link PayoutSchedule} from its configuration text: `manual`, `daily`,
 * `weekly:<weekday>` (e.g. `weekly:friday`) or `monthly:<1-31>` (e.g. `monthly:15`;
 * Stripe pays on the month's last day when it is shorter). `undefined` for anything else.
 */
export function parsePayoutSchedule(text: string): PayoutSchedule | undefined {
  const [interval, anchor, ...rest] = text.trim().toLowerCase().split(":");
  if (rest.length > 0) return undefined;
  switch (interval) {
    case "manual":
    case "daily":
      return anchor === undefined ? { interval } : undefined;
    case "weekly":
      return (WEEKDAYS as readonly string[]).includes(anchor ?? "")
        ? { interval, weeklyAnchor: anchor as Weekday }
        : undefined;
    case "monthly": {
      const day = /^[0-9]{1,2}$/.test(anchor ?? "") ? Number(anchor) : Number.NaN;
      return day >= 1 && day <= 31 ? { interval, monthlyAnchor: day } : undefined;
    }
    default:
      return undefined;
  }
}

/**
 * Where a payout susu asked the provider for stands in susu's own records. `asked`: recorded
 * before the provider is asked, so a payout the provider made is never unknown to susu (its
 * answer lost, every `payout.*` event lost, susu stopped in between): the payout recheck looks
 * it up at the provider by its key. `made`: the provider's payout is known (`payoutId`), and
 * recorded as a {@link PayoutRecord}. `refused`: the provider refused it, nothing was paid.
 * `not_made`: the provider showed no payout under its key {@link PAYOUT_REQUEST_LOOKUP_MS}
 * after it was asked (the request never reached it).
 */
export type PayoutRequestStatus = "asked" | "made" | "refused" | "not_made";

/** Every {@link PayoutRequestStatus}, for schemas. */
export const PAYOUT_REQUEST_STATUSES = ["asked", "made", "refused", "not_made"] as const;

/**
 * How far along a request's status is: `asked` moves to any outcome; `not_made` can still
 * become `made` (a payout under its key turning up after all is the truth); `made` and
 * `refused` are final (the provider answered the key).
 */
const REQUEST_RANK: Readonly<Record<PayoutRequestStatus, number>> = {
  asked: 0,
  not_made: 1,
  refused: 2,
  made: 2,
};

/** A payout susu asked the provider for, keyed by the request's idempotency key. */
export interface PayoutRequest {
  /** The request's idempotency key at the provider (`payoutIds.scheduled` or `payoutIds.requested`). */
  readonly key: string;
  /** The connected account asked to pay out. */
  readonly accountId: string;
  readonly personId: PersonId;
  readonly amountMinor: number;
  readonly currency: CurrencyCode;
  /** The scheduled run that asked first (part of its request at the provider); absent for an admin's request. */
  readonly runId?: string;
  readonly status: PayoutRequestStatus;
  /** The provider's payout, once known (`made`). */
  readonly payoutId?: string;
  /** When susu first asked. */
  readonly askedAt: Instant;
  /** When susu last changed this record. */
  readonly updatedAt: Instant;
}

/**
 * Whether `next` replaces the stored request (pure): a new key is stored; a known one only
 * moves to a status further along ({@link REQUEST_RANK}), so recording `asked` again (another
 * run asking under a key an earlier run used) changes nothing, and two writers racing keep the
 * furthest outcome.
 */
export function payoutRequestMoves(stored: PayoutRequest | undefined, next: PayoutRequest): boolean {
  return stored === undefined || REQUEST_RANK[next.status] > REQUEST_RANK[stored.status];
}

/**
 * How long after it was asked a request the provider shows no payout for is closed as
 * `not_made` (2 days): the provider answers a payout request in seconds and keeps its key a
 * day; a scheduled key names its day and is not asked again after it.
 */
export const PAYOUT_REQUEST_LOOKUP_MS = 2 * 86_400_000;
