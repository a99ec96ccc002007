import { lookup as dnsLookup } from "node:dns/promises";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { isIP, type LookupFunction } from "node:net";
import {
  type Clock,
  isNotificationTemplate,
  type Notification,
  type NotifyError,
  wantsNotification,
} from "@susu/domain";
import type { ResultAsync } from "neverthrow";
import { type NamedStatement, type PrismaClient, runStatement } from "../db/prisma-client.js";
import { settledWithin } from "../settled-within.js";
import { deliveryIdOf } from "./delivering-notifier.js";
import {
  addressPhrase,
  type EndpointAddressPolicy,
  endpointUrlProblem,
  hostOf,
  privateAddressKind,
} from "./endpoint-address.js";
import { maskEmail } from "./log-notifier.js";
import type { MailLocale } from "./mail-format.js";
import type { MailRenderError } from "./mail-templates.js";
import { type NotificationSettings, PrismaNotificationSettings } from "./notification-settings-store.js";
import { SUSU_SIGNATURE_HEADER, signSusuPayload } from "./susu-signature.js";

/**
 * Sends one e-mail of a stored notification (the SMTP notifier's `deliver`): `notify_rejected`
 * is the address refused for good (the delivery bounces), `mail_unrenderable` an e-mail this
 * process cannot write and `notify_failed` a failure for now (both retried, then failed).
 */
export interface EmailSender {
  deliver(n: Notification, to: string, where: MailLocale): ResultAsync<void, NotifyError | MailRenderError>;
  /** Closes its connections (the SMTP notifier's pool), once nothing more is sent. */
  close?(): void;
  /** The most e-mails it sends at once (its pool's connections), when it caps them. */
  readonly sendsAtOnce?: number | undefined;
}

/**
 * Deliveries a worker sends at once by default (the scheduler's SUSU_NOTIFY_CONCURRENCY), and
 * the SMTP connections the SMTP notifier keeps open by default (a transport given as a URL) to match.
 */
export const DEFAULT_DELIVERY_CONCURRENCY = 8;

/** How deliveries are retried. */
export interface DeliveryRetryPolicy {
  /** Sends before a delivery that keeps failing is marked failed (the first one included). */
  readonly maxAttempts: number;
  /** The wait after the first failure; doubled after each further one. */
  readonly baseDelayMs: number;
  /** The longest wait between two sends. */
  readonly maxDelayMs: number;
}

/** What {@link NotificationDeliveryWorker} is configured with. */
export interface DeliveryWorkerOptions {
  readonly prisma: PrismaClient;
  readonly clock: Clock;
  /** Names this process in claims. */
  readonly workerId: string;
  /** E-mail; without it, e-mail deliveries wait. */
  readonly email?: EmailSender;
  readonly retry: DeliveryRetryPolicy;
  /** How long a webhook endpoint has to answer (ms). */
  readonly timeoutMs: number;
  /** Deliveries claimed per pass (default 20). */
  readonly batchSize?: number;
  /**
   * Deliveries of a pass sent at once (default {@link DEFAULT_DELIVERY_CONCURRENCY}): a slot
   * takes the pass's next delivery as soon as its own is recorded. An SMTP sender should keep
   * as many connections open (the SMTP notifier's `maxConnections`).
   */
  readonly concurrency?: number;
  /**
   * For this long from a pass's start (wall-clock ms; default `timeoutMs`, at least 2 s), the
   * pass claims more deliveries whenever half its slots are free while others are still being
   * sent: a slow endpoint holds its own slot, not the deliveries behind it. A pass claims
   * nothing more once this has passed, or after {@link NotificationDeliveryWorker.stopClaiming};
   * it then sends what it has claimed (up to a batch per slot) and ends.
   */
  readonly refillForMs?: number;
  /** A fraction in [0, 1) for the backoff's jitter (default `Math.random`). */
  readonly random?: () => number;
  /**
   * Which endpoints webhooks may reach (SUSU_NOTIFY_ENDPOINT_ADDRESSES; default `public`):
   * under `public` a send goes only to an https URL without credentials whose host is not,
   * and resolves to no, loopback, private, link-local, CGNAT… address; otherwise it fails
   * at once, not retried (see endpoint-address.ts).
   */
  readonly endpointAddresses?: EndpointAddressPolicy;
  /** Resolves an endpoint's host name to all its addresses (default the system's, `dns.lookup`). */
  readonly lookup?: HostLookup;
  /** Sends one webhook request to the addresses checked (default {@link postWebhook}). */
  readonly post?: WebhookPost;
  /**
   * An endpoint that has failed every send for this long (ms; SUSU_NOTIFY_ENDPOINT_DISABLE_AFTER_HOURS)
   * is disabled when a send to it fails again: its deliveries stop piling up and being retried,
   * and the settled delivery says so (`endpointDisabled`). A send it accepts starts the count
   * again. Absent or 0: never disabled on its own (its failures are still counted from when).
   */
  readonly endpointDisableAfterMs?: number;
}

/** An address a host name resolves to. */
export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/** Resolves a host name to every address it has, as `dns.lookup` with `all` does. */
export type HostLookup = (hostname: string) => Promise<readonly ResolvedAddress[]>;

/** One webhook request, to be sent to the addresses its host was checked to resolve to. */
export interface WebhookRequest {
  readonly url: URL;
  /** What the connection may go to, in order: the host's addresses, each checked. */
  readonly addresses: readonly ResolvedAddress[];
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** Aborts the request (the send's timeout). */
  readonly signal: AbortSignal;
}

/** What an endpoint answered: its HTTP status, and its `Retry-After` header when it sent one. */
export interface WebhookAnswer {
  readonly status: number;
  readonly retryAfter?: string | undefined;
}

/** Sends a {@link WebhookRequest}; resolves with the endpoint's answer once it was read. */
export type WebhookPost = (request: WebhookRequest) => Promise<WebhookAnswer>;

const systemLookup: HostLookup = async (hostname) =>
  (await dnsLookup(hostname, { all: true, verbatim: true })).map((a) => ({
    address: a.address,
    family: a.family === 6 ? 6 : 4,
  }));

let agents: { readonly http: HttpAgent; readonly https: HttpsAgent } | undefined;

/**
 * Sends a webhook request with node:http(s) — kept-alive connections, redirects not
 * followed — connecting only to `request.addresses`: the connection's host-name lookup
 * answers with them instead of asking DNS again, so a name that resolves elsewhere by the
 * time it connects (DNS rebinding) is never followed there. TLS still checks the
 * certificate against the URL's host name.
 */
export function postWebhook(request: WebhookRequest): Promise<WebhookAnswer> {
  const { url, addresses } = request;
  agents ??= { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };
  const lookup: LookupFunction = (_hostname, options, callback) => {
    const fitting = addresses.filter(
      (a) => options.family === undefined || options.family === 0 || a.family === options.family,
    );
    const first = fitting[0];
    if (first === undefined) {
      callback(
        Object.assign(new Error(`no checked address of family ${options.family}`), { code: "ENOTFOUND" }),
        "",
        0,
      );
      return;
    }
    if (options.all) (callback as unknown as (e: null, all: ResolvedAddress[]) => void)(null, [...fitting]);
    else callback(null, first.address, first.family);
  };
  const https = url.protocol === "https:";
  return new Promise((resolve, reject) => {
    const req = (https ? httpsRequest : httpRequest)(
      {
        protocol: url.protocol,
        hostname: hostOf(url),
        ...(url.port !== "" ? { port: Number(url.port) } : {}),
        path: `${url.pathname}${url.search}`,
        method: "POST",
        headers: { ...request.headers, "content-length": String(Buffer.byteLength(request.body)) },
        agent: https ? agents?.https : agents?.http,
        lookup,
        signal: request.signal,
      },
      (res) => {
        // The answer's body is not needed; reading it frees the connection.
        res.resume();
        const retryAfter = res.headers["retry-after"];
        res.once("end", () => resolve({ status: res.statusCode ?? 0, retryAfter }));
        res.once("error", reject);
        res.once("aborted", () => reject(new Error("the endpoint closed the connection mid-answer")));
      },
    );
    req.once("error", reject);
    req.end(request.body);
  });
}

/** What became of one send. */
export type DeliveryOutcome = "sent" | "retrying" | "failed" | "bounced" | "withdrawn";

/** One delivery settled by a pass, for metrics. */
export interface SettledDelivery {
  readonly id: string;
  readonly channel: "email" | "webhook";
  readonly outcome: DeliveryOutcome;
  /**
   * This delivery's failure disabled its endpoint (see {@link DeliveryWorkerOptions.endpointDisableAfterMs}):
   * which, and since when (epoch ms) every send to it had failed.
   */
  readonly endpointDisabled?: { readonly endpointId: string; readonly failingSince: number };
}

interface ClaimedRow {
  readonly id: string;
  readonly notification_id: string;
  readonly channel: "email" | "webhook";
  readonly recipient: string;
  readonly person_id: string | null;
  readonly endpoint_id: string | null;
  readonly locale: string | null;
  readonly time_zone: string | null;
  readonly attempts: number;
}

/**
 * The claim of due deliveries, leased to `workerId` until `until` (exported for the test that
 * proves its plans). Sent through Prisma (unnamed): planned on every run, with its parameters
 * unless the connection's plan_cache_mode forces the generic plan (the scheduler's does).
 */
export function deliveriesClaimStatement(
  workerId: string,
  now: Date,
  until: Date,
  limit: number,
): NamedStatement {
  return {
    name: "susu_notification_deliveries_claim",
    text: `
      UPDATE notification_deliveries d
         SET claimed_by = $1, claimed_until = $2, updated_at = $3
        FROM (SELECT id FROM notification_deliveries
               WHERE status IN ('queued', 'retrying') AND next_attempt_at <= $3
                 AND (claimed_until IS NULL OR claimed_until < $3)
               ORDER BY next_attempt_at, id
               LIMIT $4
               FOR UPDATE SKIP LOCKED) due
       WHERE d.id = due.id
   RETURNING d.id, d.notification_id, d.channel::text AS channel, d.recipient, d.person_id, d.endpoint_id,
             d.locale, d.time_zone, d.attempts`,
    values: [workerId, until, now, limit],
  };
}

/** How long a send is in flight before a pass claims more for its other slots (ms). */
export const SLOW_SEND_MS = 250;

/** How long a pass waits after a claim that found nothing before it claims again (ms). */
export const EMPTY_CLAIM_PAUSE_MS = 1_000;

/** `promise`, or the signal's reason once it aborts first. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/** How one send ended, before the retry policy is applied. */
type SendResult =
  | { readonly kind: "sent"; readonly statusCode?: number }
  | {
      readonly kind: "temporary";
      readonly error: string;
      readonly statusCode?: number;
      /** The endpoint's `Retry-After` with a 429 or 503, as it sent it. */
      readonly retryAfter?: string;
    }
  | { readonly kind: "permanent"; readonly error: string; readonly statusCode?: number }
  | { readonly kind: "bounced"; readonly error: string }
  /** Not sent and not a failure: the person no longer wants it, or not there (see noLongerWanted). */
  | { readonly kind: "withdrawn"; readonly error: string };

/**
 * The delay before the next send after `failedAttempts` failures: exponential from
 * `baseDelayMs`, capped at `maxDelayMs`, with "equal" jitter (never less than half).
 */
export function deliveryBackoffMs(
  policy: DeliveryRetryPolicy,
  failedAttempts: number,
  fraction: number,
): number {
  const exponential = policy.baseDelayMs * 2 ** Math.max(0, failedAttempts - 1);
  const backoff = Math.min(policy.maxDelayMs, exponential);
  const f = Math.min(Math.max(fraction, 0), 0.999_999_999);
  return Math.round(backoff / 2 + (backoff / 2) * f);
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const DAY_NAME = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)";
const MONTH = `(?<month>${MONTHS.join("|")})`;
const TIME = "(?<h>\\d{2}):(?<m>\\d{2}):(?<s>\\d{2})";
/** RFC 9110 §5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms a recipient must accept. */
const HTTP_DATES = [
  new RegExp(`^${DAY_NAME}, (?<day>\\d{2}) ${MONTH} (?<year>\\d{4}) ${TIME} GMT$`),
  new RegExp(
    `^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (?<day>\\d{2})-${MONTH}-(?<yy>\\d{2}) ${TIME} GMT$`,
  ),
  new RegExp(`^${DAY_NAME} ${MONTH} (?<day> \\d|\\d{2}) ${TIME} (?<year>\\d{4})$`),
];

/** An HTTP-date (RFC 9110 §5.6.7) as epoch ms, or undefined when `value` is not one. */
function httpDateMs(value: string, now: number): number | undefined {
  const g = HTTP_DATES.map((form) => form.exec(value)?.groups).find((groups) => groups !== undefined);
  if (g === undefined) return undefined;
  let year = Number(g.year);
  if (g.yy !== undefined) {
    // RFC 850's two-digit year: the century that puts it no more than 50 years ahead.
    const thisYear = new Date(now).getUTCFullYear();
    year = Math.floor(thisYear / 100) * 100 + Number(g.yy);
    if (year > thisYear + 50) year -= 100;
  }
  const month = MONTHS.indexOf(g.month ?? "");
  const [day, h, m, s] = [g.day, g.h, g.m, g.s].map(Number) as [number, number, number, number];
  const at = new Date(Date.UTC(year, month, day, h, m, s));
  // Date.UTC rolls 31 Feb or 25:00 over: such a date is not one.
  const exact =
    at.getUTCFullYear() === year &&
    at.getUTCMonth() === month &&
    at.getUTCDate() === day &&
    at.getUTCHours() === h &&
    at.getUTCMinutes() === m &&
    at.getUTCSeconds() === s;
  return exact ? at.getTime() : undefined;
}

/**
 * How long an endpoint's `Retry-After` (RFC 9110 §10.2.3) asks to wait from `now` (ms):
 * delay-seconds, or an HTTP-date (0 once it has passed); undefined when the value is
 * missing or is neither (a negative or fractional number, anything else), so it is ignored.
 */
export function retryAfterDelayMs(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = httpDateMs(trimmed, now);
  return at === undefined ? undefined : Math.max(0, at - now);
}

/**
 * The delay before the next send after a failure: the backoff, or longer when the endpoint
 * asked for longer (`Retry-After`, see {@link retryAfterDelayMs}), never beyond `maxDelayMs`.
 */
export function retryDelayMs(policy: DeliveryRetryPolicy, backoffMs: number, retryAfterMs?: number): number {
  return retryAfterMs === undefined
    ? backoffMs
    : Math.min(policy.maxDelayMs, Math.max(backoffMs, retryAfterMs));
}

/** How long a delivery worker's claim on a delivery lasts: one send's timeout twice, and 30 s. */
export function deliveryLeaseMs(timeoutMs: number): number {
  return timeoutMs * 2 + 30_000;
}

/**
 * The nodemailer timeouts (ms) for an SMTP transport used by a delivery worker whose sends
 * time out after `timeoutMs`: connecting, the server's greeting and socket inactivity each
 * within that time, so a slow or silent mail server fails the send well before the claim's
 * lease ({@link deliveryLeaseMs}) runs out and another worker could send it too.
 */
export function smtpTimeoutsFor(timeoutMs: number): {
  readonly connectionTimeout: number;
  readonly greetingTimeout: number;
  readonly socketTimeout: number;
} {
  return { connectionTimeout: timeoutMs, greetingTimeout: timeoutMs, socketTimeout: timeoutMs };
}

/**
 * Whether an endpoint's HTTP status is worth another send: 5xx, 408 (timeout) and 429
 * (slow down) are for now; any other 4xx (or a redirect, which is not followed) says the
 * request itself is refused and is not retried.
 */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/**
 * The body a webhook endpoint receives for a delivery: `deliveryId` is the delivery's (also
 * the `Susu-Delivery-Id` header), the same in every resend of it, what a client app
 * deduplicates on; `id` is the notification's, the same in every person's delivery of it.
 */
export function webhookBodyOf(
  n: {
    readonly id: string;
    readonly template: string;
    readonly aggregateType: string;
    readonly aggregateId: string;
    readonly data: unknown;
    readonly createdAt: Date;
  },
  delivery: { readonly id: string; readonly personId: string | null },
): string {
  return JSON.stringify({
    object: "notification",
    id: n.id,
    deliveryId: delivery.id,
    template: n.template,
    personId: delivery.personId,
    // Admin alerts are for the platform's admins, not a person.
    ...(delivery.personId === null ? { role: "platform_admins" } : {}),
    aggregate: { type: n.aggregateType, id: n.aggregateId },
    data: n.data,
    created: Math.floor(n.createdAt.getTime() / 1000),
  });
}

/** A stored notification, as a pass reads it. */
interface NotificationRow {
  readonly id: string;
  readonly template: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly groupId: string | null;
  readonly personIds: string[];
  readonly roles: string[];
  readonly data: unknown;
  readonly createdAt: Date;
}

/** A webhook endpoint, as a pass reads it. */
interface EndpointRow {
  readonly id: string;
  readonly url: string;
  readonly status: string;
  readonly secret: string;
  readonly previousSecret: string | null;
  readonly previousSecretExpiresAt: Date | null;
  /** Since when its sends have all failed, as the pass read it. */
  readonly failingSince: Date | null;
}

/** What a pass reads once for its claimed deliveries, before sending them. */
interface PassReads {
  readonly notifications: ReadonlyMap<string, NotificationRow>;
  readonly endpoints: ReadonlyMap<string, EndpointRow>;
  readonly people: ReadonlyMap<string, NotificationSettings>;
  readonly unattached: ReadonlySet<string>;
}

const NOTIFICATIONS_SQL = `
  SELECT id, template, aggregate_type AS "aggregateType", aggregate_id AS "aggregateId",
         group_id AS "groupId", person_ids AS "personIds", roles, data, created_at AS "createdAt"
    FROM notifications WHERE id = ANY($1::text[])`;

const ENDPOINTS_SQL = `
  SELECT id, url, status::text AS status, secret, previous_secret AS "previousSecret",
         previous_secret_expires_at AS "previousSecretExpiresAt", failing_since AS "failingSince"
    FROM notification_endpoints WHERE id = ANY($1::text[])`;

// The e-mails of the notifications in $1 that follow no person (see unattachedAddresses).
const UNATTACHED_SQL = `
  SELECT notification_id AS "notificationId", recipient
    FROM notification_deliveries
   WHERE notification_id = ANY($1::text[]) AND channel = 'email' AND person_id IS NULL`;

// A send its endpoint accepted: it is no longer failing (written only when it was).
const ENDPOINT_ANSWERED_SQL = `
  UPDATE notification_endpoints SET failing_since = NULL
   WHERE id = $1 AND failing_since IS NOT NULL`;

// A send its endpoint failed: failing from now unless it was already; disabled (reason
// failing) when it has failed every send since $3 or before ($3 null: never). Written only
// when something changes. Returns the row when it did.
const ENDPOINT_FAILED_SQL = `
  WITH e AS (
    SELECT id, COALESCE(failing_since, $2::timestamptz) AS since FROM notification_endpoints
     WHERE id = $1 AND status = 'enabled'
       AND (failing_since IS NULL OR ($3::timestamptz IS NOT NULL AND failing_since <= $3::timestamptz))
       FOR UPDATE)
  UPDATE notification_endpoints n
     SET failing_since = e.since,
         status = CASE WHEN e.since <= $3::timestamptz THEN 'disabled'::notification_endpoint_status ELSE n.status END,
         disabled_at = CASE WHEN e.since <= $3::timestamptz THEN $2::timestamptz ELSE n.disabled_at END,
         disabled_reason = CASE WHEN e.since <= $3::timestamptz
                                THEN 'failing'::notification_endpoint_disabled_reason ELSE n.disabled_reason END,
         updated_at = CASE WHEN e.since <= $3::timestamptz THEN $2::timestamptz ELSE n.updated_at END
    FROM e WHERE n.id = e.id
RETURNING n.status::text AS status, n.failing_since AS "failingSince"`;

// A claimed delivery's lease renewed for one send, counted as an attempt (see renewLease).
const RENEW_LEASE_SQL = `
  UPDATE notification_deliveries
     SET claimed_until = $3, attempts = attempts + 1, updated_at = $4
   WHERE id = $1 AND claimed_by = $2
RETURNING attempts`;

// A send's outcome, written while the claim is still this worker's; the claim is let go.
// `sent_at` is set only by a send that went out ($8 null otherwise).
const RECORD_SQL = `
  UPDATE notification_deliveries
     SET status = $3::notification_delivery_status, last_error = $4, last_status_code = $5,
         next_attempt_at = $6, claimed_by = NULL, claimed_until = NULL, updated_at = $7,
         sent_at = COALESCE($8, sent_at)
   WHERE id = $1 AND claimed_by = $2
RETURNING id`;

/** A notification and an address it goes to, as {@link NotificationDeliveryWorker} compares them. */
const unattachedKey = (notificationId: string, address: string): string =>
  `${notificationId}\u0000${address.trim().toLowerCase()}`;

/**
 * Sends queued notification deliveries: claims due ones (`FOR UPDATE SKIP LOCKED`, with a
 * lease, so two schedulers never send the same delivery at once, and one killed mid-send
 * leaves it to be claimed again when the lease runs out — resent with the same delivery id,
 * so the receiver can deduplicate), sends each (e-mail through SMTP, webhooks signed with the
 * endpoint's secret), and records what happened: sent; retrying with exponential backoff
 * after a failure, a timeout, a 5xx, 408 or 429 (no sooner than a 429's or 503's
 * `Retry-After` asks, up to `maxDelayMs`), up to the policy's attempts, then failed;
 * failed at once on another 4xx, a disabled endpoint, or an e-mail that cannot be written
 * (a template this release has not got, a time zone Intl refuses); bounced when the mail
 * server refuses the address for good (the person's address is then marked bouncing).
 *
 * A pass sends its deliveries up to `concurrency` at once, each on its own: its lease renewed
 * just before it is sent, its outcome recorded just after. The reads a pass needs (the
 * notifications, endpoints, people's settings) are made once for the batch. Those reads and
 * each delivery's lease and outcome are prepared statements on the client's pool; the claim,
 * and the rare re-queue (a changed address) and bounce writes, go through Prisma.
 */
export class NotificationDeliveryWorker {
  private readonly settings: PrismaNotificationSettings;
  private readonly concurrency: number;
  private readonly refillForMs: number;
  private claiming = true;
  /** Endpoints a send of this worker found failing (see trackEndpoint). */
  private readonly failedHere = new Set<string>();

  constructor(private readonly options: DeliveryWorkerOptions) {
    this.settings = new PrismaNotificationSettings(options.prisma);
    const concurrency = options.concurrency ?? DEFAULT_DELIVERY_CONCURRENCY;
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
    // No more sends at once than the e-mail sender has connections: one beyond them would
    // wait inside it after its lease was renewed, and a slow server could make it outlast it.
    this.concurrency = Math.min(concurrency, options.email?.sendsAtOnce ?? concurrency);
    this.refillForMs = options.refillForMs ?? Math.max(2_000, options.timeoutMs);
    if (!Number.isFinite(this.refillForMs) || this.refillForMs < 0)
      throw new RangeError(`refillForMs must be a non-negative number, got ${this.refillForMs}`);
  }

  /**
   * One pass: claims up to a batch of due deliveries, sends them (up to `concurrency` at
   * once), records the outcomes. While sends are in flight and half the slots are free, it
   * claims again (for `refillForMs` from its start): at once when its last claim came back
   * full (more are due), else once a send has been in flight for {@link SLOW_SEND_MS} — one
   * slow endpoint, a client's push service taking its whole timeout, does not hold the other
   * slots idle until it answers; after a claim that found nothing, not again for
   * {@link EMPTY_CLAIM_PAUSE_MS}. A pass of quick sends claims once, as before. Settled
   * deliveries come back in the order they were claimed. A send that throws is recorded
   * against its delivery (a failure for now: retried, then failed) and the pass goes on. A
   * statement that fails fails the pass, once the deliveries in flight beside it have
   * settled; those not started stay claimed until their lease runs out, as before a crash.
   */
  async runOnce(): Promise<readonly SettledDelivery[]> {
    const started = Date.now();
    const batch = this.options.batchSize ?? 20;
    const first = await this.claim();
    if (first.length === 0) return [];
    const waiting: { readonly row: ClaimedRow; readonly reads: PassReads; readonly order: number }[] = [];
    let claimedSoFar = 0;
    // The deliveries this pass is sending or has yet to send. A refill can claim one of them
    // again once its lease has run out (a refill window longer than the lease, a clock moved
    // on): it stays with the send the pass has for it, so it is never sent twice by one pass.
    const held = new Set<string>();
    const enqueue = async (claimed: readonly ClaimedRow[]) => {
      const rows = claimed.filter((row) => !held.has(row.id));
      if (rows.length === 0) return;
      const reads = await this.readFor(rows);
      for (const row of rows) {
        held.add(row.id);
        waiting.push({ row, reads, order: claimedSoFar++ });
      }
    };
    await enqueue(first);
    const settled: { readonly order: number; readonly delivery: SettledDelivery }[] = [];
    /** The sends in flight, with when each started. */
    const running = new Map<Promise<void>, number>();
    let failure: { readonly error: unknown } | undefined;
    let full = first.length >= batch;
    let claimAfter = 0;
    for (;;) {
      while (failure === undefined && running.size < this.concurrency && waiting.length > 0) {
        const { row, reads, order } = waiting.shift() as (typeof waiting)[number];
        const task: Promise<void> = this.settle(row, reads)
          .then(
            (delivery) => {
              if (delivery !== undefined) settled.push({ order, delivery });
            },
            (error: unknown) => {
              failure ??= { error };
            },
          )
          .finally(() => {
            running.delete(task);
            held.delete(row.id);
          });
        running.set(task, Date.now());
      }
      if (failure !== undefined || (running.size === 0 && waiting.length === 0)) break;
      const now = Date.now();
      const mayRefill =
        waiting.length === 0 &&
        this.claiming &&
        running.size * 2 <= this.concurrency &&
        now - started < this.refillForMs;
      if (!mayRefill) {
        await Promise.race(running.keys());
        continue;
      }
      const readyAt = Math.max(claimAfter, full ? now : Math.min(...running.values()) + SLOW_SEND_MS);
      if (readyAt > now) {
        // The running sends never reject (each records its own failure).
        await settledWithin(Promise.race(running.keys()), readyAt - now);
        continue;
      }
      try {
        const more = await this.claim();
        full = more.length >= batch;
        if (more.length > 0) await enqueue(more);
        else claimAfter = Date.now() + EMPTY_CLAIM_PAUSE_MS;
      } catch (error) {
        failure ??= { error };
      }
    }
    await Promise.all(running.keys());
    if (failure !== undefined) throw failure.error;
    return settled.sort((a, b) => a.order - b.order).map((s) => s.delivery);
  }

  /**
   * From now on a pass claims no more deliveries beside those it is sending (for a stop: the
   * pass in progress ends once they are recorded, not when its refill window closes).
   */
  stopClaiming(): void {
    this.claiming = false;
  }

  /** Closes the e-mail sender's connections; for when the worker's passes have stopped. */
  close(): void {
    this.options.email?.close?.();
  }

  /**
   * Sends one claimed delivery and records what happened; undefined when another worker
   * holds its claim now.
   */
  private async settle(claimed: ClaimedRow, reads: PassReads): Promise<SettledDelivery | undefined> {
    // The claim's lease covers one send, not the whole batch: renew it before each send,
    // and leave a row another worker claimed meanwhile (its lease ran out) to that worker.
    const attempts = await this.renewLease(claimed);
    if (attempts === undefined) return undefined;
    const row = { ...claimed, attempts };
    let result: SendResult;
    try {
      result = await this.send(row, reads);
    } catch (e) {
      // One delivery's trouble is its own: recorded against it as a failure for now, so it
      // is retried and then failed under the policy, and the pass goes on with the others.
      // A statement that fails recording it fails the pass, as any other.
      const what = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      result = { kind: "temporary", error: `the send threw ${what}` };
    }
    const outcome = await this.record(row, result);
    if (outcome === undefined) return undefined;
    const endpoint = row.endpoint_id === null ? undefined : reads.endpoints.get(row.endpoint_id);
    // Only a send the endpoint was asked for counts for or against it: not a delivery withdrawn,
    // one whose notification is gone, or one failed because the endpoint was disabled already.
    const asked =
      row.channel === "webhook" &&
      endpoint?.status === "enabled" &&
      reads.notifications.has(row.notification_id) &&
      outcome !== "withdrawn";
    const disabled = asked
      ? await this.trackEndpoint(endpoint.id, endpoint.failingSince, outcome)
      : undefined;
    return { id: row.id, channel: row.channel, outcome, ...(disabled ? { endpointDisabled: disabled } : {}) };
  }

  /**
   * Keeps since when the endpoint has failed every send, and disables it once that is
   * `endpointDisableAfterMs` ago and a send fails again; says so when this send disabled it.
   */
  private async trackEndpoint(
    endpointId: string,
    failingSince: Date | null,
    outcome: DeliveryOutcome,
  ): Promise<{ readonly endpointId: string; readonly failingSince: number } | undefined> {
    if (outcome === "sent") {
      // Written only for an endpoint failing when the pass read it, or since (by this worker):
      // a send's success costs no statement otherwise. (One that another scheduler marked
      // failing after this pass read it is cleared by the next success after that.)
      if (failingSince === null && !this.failedHere.has(endpointId)) return undefined;
      this.failedHere.delete(endpointId);
      await runStatement(this.options.prisma, {
        name: "susu_notification_endpoint_answered",
        text: ENDPOINT_ANSWERED_SQL,
        values: [endpointId],
      });
      return undefined;
    }
    this.failedHere.add(endpointId);
    const now = this.options.clock.now();
    const after = this.options.endpointDisableAfterMs ?? 0;
    const changed = await runStatement<{ readonly status: string; readonly failingSince: Date }>(
      this.options.prisma,
      {
        name: "susu_notification_endpoint_failed",
        text: ENDPOINT_FAILED_SQL,
        values: [endpointId, new Date(now), after > 0 ? new Date(now - after) : null],
      },
    );
    const [row] = changed.rows;
    return row?.status === "disabled" ? { endpointId, failingSince: row.failingSince.getTime() } : undefined;
  }

  /** Sends one claimed delivery, its lease renewed, unless it is no longer to be sent. */
  private async send(row: ClaimedRow, reads: PassReads): Promise<SendResult> {
    const n = reads.notifications.get(row.notification_id);
    if (n === undefined) return { kind: "permanent", error: "the notification is gone" };
    const unwanted =
      row.person_id === null
        ? undefined
        : await this.noLongerWanted(row, n, reads.people.get(row.person_id), reads.unattached);
    if (unwanted !== undefined) return { kind: "withdrawn", error: unwanted };
    if (row.channel === "email") return this.sendEmail(row, n);
    const endpoint = row.endpoint_id === null ? undefined : reads.endpoints.get(row.endpoint_id);
    return endpoint === undefined || endpoint.status !== "enabled"
      ? { kind: "permanent", error: "the endpoint is disabled" }
      : this.sendWebhook(row, n, endpoint);
  }

  /** The notifications, endpoints and people's settings the claimed deliveries need, one statement each. */
  private async readFor(claimed: readonly ClaimedRow[]): Promise<PassReads> {
    const distinct = (pick: (c: ClaimedRow) => string | null): string[] => [
      ...new Set(
        claimed.flatMap((c) => {
          const value = pick(c);
          return value === null ? [] : [value];
        }),
      ),
    ];
    const notifications = await runStatement<NotificationRow>(this.options.prisma, {
      name: "susu_notification_delivery_notifications",
      text: NOTIFICATIONS_SQL,
      values: [distinct((c) => c.notification_id)],
    });
    const endpointIds = distinct((c) => c.endpoint_id);
    const endpoints =
      endpointIds.length === 0
        ? []
        : (
            await runStatement<EndpointRow>(this.options.prisma, {
              name: "susu_notification_delivery_endpoints",
              text: ENDPOINTS_SQL,
              values: [endpointIds],
            })
          ).rows;
    // People's settings as they are now: a delivery queued (or retrying) before the person
    // changed their address or switched the message off is not sent as it was queued.
    const people = await this.settings.getMany(distinct((c) => c.person_id));
    if (people.isErr()) throw new Error(people.error.message);
    return {
      notifications: new Map(notifications.rows.map((n) => [n.id, n])),
      endpoints: new Map(endpoints.map((e) => [e.id, e])),
      people: people.value,
      unattached: await this.unattachedAddresses(claimed),
    };
  }

  /**
   * The e-mail addresses the claimed rows' notifications also go to without a person (the
   * admins' copy, the notice's own addresses), as `notificationId` NUL lower-cased address:
   * a person's delivery to one of them is not sent beside it. Read only when a person's
   * e-mail was claimed, in one statement.
   */
  private async unattachedAddresses(claimed: readonly ClaimedRow[]): Promise<ReadonlySet<string>> {
    const ids = [
      ...new Set(
        claimed.flatMap((c) => (c.channel === "email" && c.person_id !== null ? [c.notification_id] : [])),
      ),
    ];
    if (ids.length === 0) return new Set();
    const { rows } = await runStatement<{ readonly notificationId: string; readonly recipient: string }>(
      this.options.prisma,
      { name: "susu_notification_delivery_unattached", text: UNATTACHED_SQL, values: [ids] },
    );
    return new Set(rows.map((r) => unattachedKey(r.notificationId, r.recipient)));
  }

  /**
   * Why a person's delivery must not be sent as it was queued, or undefined when it still
   * must: the person is gone, switched the message off on this channel, or (e-mail) no longer
   * has this address — then the notice goes to the address they have now, if they still want
   * it there, as its own delivery (the id the notifier would give it, so never twice). An
   * e-mail to the address the person still has is not sent either when the notice also goes
   * there without a person (`unattached`: the admins' copy, to a person who is an admin at
   * the same address): that copy reaches them, once.
   */
  private async noLongerWanted(
    row: ClaimedRow,
    n: { readonly id: string; readonly template: string },
    person: NotificationSettings | undefined,
    unattached: ReadonlySet<string>,
  ): Promise<string | undefined> {
    // No settings stored: the notifier planned push with the defaults (every message) and no
    // e-mail, so the same holds here; an e-mail to a person whose row has gone since is not sent.
    if (person === undefined)
      return row.channel === "webhook" ? undefined : "the person is gone, and with them their address";
    const wants = (channel: "email" | "push") =>
      !isNotificationTemplate(n.template) || wantsNotification(person, n.template, channel);
    if (row.channel === "webhook")
      return wants("push") ? undefined : "the person switched these messages off";
    if (!wants("email")) return "the person switched these messages off";
    const address = person.email;
    if (address !== undefined && address.trim().toLowerCase() === row.recipient.trim().toLowerCase()) {
      if (person.emailStatus === "bouncing") return "the address bounces";
      return unattached.has(unattachedKey(n.id, row.recipient))
        ? "the notice goes to this address without a person too (the admins' copy): sent once, as that"
        : undefined;
    }
    if (address === undefined || person.emailStatus !== "ok")
      return address === undefined
        ? "the person removed this address and has none now"
        : "the person's address changed since this was queued, and the new one bounces";
    await this.queueAgainTo(n.id, row, person, address.trim());
    return "the person's address changed since this was queued";
  }

  /**
   * Queues the notice for the address the person has now, under the id the notifier would
   * give it, so it is never sent twice. If that delivery exists and was withdrawn (the person
   * moved from this address and back again before it went out), it is queued again with its sends counted from zero; in any
   * other state it is left as it is (queued, sending, or settled).
   */
  private async queueAgainTo(
    notificationId: string,
    row: ClaimedRow,
    person: NotificationSettings,
    address: string,
  ): Promise<void> {
    const now = new Date(this.options.clock.now());
    const id = deliveryIdOf(notificationId, {
      channel: "email",
      recipient: address,
      personId: person.personId,
    });
    await this.options.prisma.$executeRaw`
      INSERT INTO notification_deliveries
        (id, notification_id, channel, recipient, person_id, locale, time_zone, status, attempts,
         next_attempt_at, created_at, updated_at)
      VALUES (${id}, ${notificationId}, 'email', ${address}, ${person.personId},
              ${person.locale ?? row.locale}, ${person.timeZone ?? row.time_zone}, 'queued', 0,
              ${now}, ${now}, ${now})
      ON CONFLICT (id) DO UPDATE
        SET status = 'queued', attempts = 0, last_error = NULL, last_status_code = NULL,
            next_attempt_at = EXCLUDED.next_attempt_at, updated_at = EXCLUDED.updated_at
        WHERE notification_deliveries.status = 'withdrawn'`;
  }

  /**
   * How long a claim holds: one send (a webhook's timeout; the SMTP transport's timeouts,
   * see {@link smtpTimeoutsFor}, stay below it) with room to record the outcome. It is
   * renewed before each send of a batch, so a slow batch never outlives it.
   */
  private leaseMs(): number {
    return deliveryLeaseMs(this.options.timeoutMs);
  }

  /**
   * Extends this worker's claim on a row for one send and counts the send as an attempt,
   * guarded by the row still being claimed by this worker (a claim whose lease ran out may
   * have been taken by another worker, which then sends it; one nobody took is still this
   * worker's). The row's attempts, or undefined when the claim is lost.
   */
  private async renewLease(row: ClaimedRow): Promise<number | undefined> {
    const now = new Date(this.options.clock.now());
    const until = new Date(now.getTime() + this.leaseMs());
    const renewed = await runStatement<{ readonly attempts: number }>(this.options.prisma, {
      name: "susu_notification_delivery_renew",
      text: RENEW_LEASE_SQL,
      values: [row.id, this.options.workerId, until, now],
    });
    return renewed.rows[0]?.attempts;
  }

  private async claim(): Promise<ClaimedRow[]> {
    const now = new Date(this.options.clock.now());
    const until = new Date(now.getTime() + this.leaseMs());
    const claim = deliveriesClaimStatement(this.options.workerId, now, until, this.options.batchSize ?? 20);
    return this.options.prisma.$queryRawUnsafe<ClaimedRow[]>(claim.text, ...claim.values);
  }

  private async sendEmail(
    row: ClaimedRow,
    n: {
      id: string;
      template: string;
      aggregateType: string;
      aggregateId: string;
      groupId: string | null;
      personIds: string[];
      roles: string[];
      data: unknown;
    },
  ): Promise<SendResult> {
    if (this.options.email === undefined) return { kind: "temporary", error: "e-mail is not configured" };
    const notification = {
      id: n.id,
      aggregate: n.aggregateType,
      aggregateId: n.aggregateId,
      ...(n.groupId !== null ? { groupId: n.groupId } : {}),
      personIds: n.personIds,
      roles: n.roles,
      template: n.template,
      data: n.data,
    } as unknown as Notification;
    const where = { locale: row.locale ?? "en-AU", timeZone: row.time_zone ?? "UTC" };
    const sent = await this.options.email.deliver(notification, row.recipient, where);
    if (sent.isOk()) return { kind: "sent" };
    switch (sent.error.type) {
      case "notify_rejected":
        return { kind: "bounced", error: sent.error.message };
      case "mail_unrenderable":
        // Not the address's fault. Retried like a failure for now, then failed: during a rolling
        // deploy an older scheduler meets a newer release's template, and a later pass may run
        // on a process that can write it (the backoff spans about an hour by default).
        return { kind: "temporary", error: `not sent: ${sent.error.message}` };
      default:
        return { kind: "temporary", error: sent.error.message };
    }
  }

  private async sendWebhook(
    row: ClaimedRow,
    n: {
      id: string;
      template: string;
      aggregateType: string;
      aggregateId: string;
      data: unknown;
      createdAt: Date;
    },
    endpoint: {
      url: string;
      secret: string;
      previousSecret: string | null;
      previousSecretExpiresAt: Date | null;
    },
  ): Promise<SendResult> {
    const body = webhookBodyOf(n, { id: row.id, personId: row.person_id });
    const now = this.options.clock.now();
    const timestamp = Math.floor(now / 1000);
    // While a rotated secret's predecessor is honoured, both sign: the client app switches when it likes.
    const secrets =
      endpoint.previousSecret !== null &&
      endpoint.previousSecretExpiresAt !== null &&
      endpoint.previousSecretExpiresAt.getTime() > now
        ? [endpoint.secret, endpoint.previousSecret]
        : [endpoint.secret];
    // The whole send, the host's lookup included, has the timeout.
    const signal = AbortSignal.timeout(this.options.timeoutMs);
    try {
      const target = await this.targetOf(endpoint.url, signal);
      if ("kind" in target) return target;
      const response = await (this.options.post ?? postWebhook)({
        url: target.url,
        addresses: target.addresses,
        headers: {
          "content-type": "application/json",
          "user-agent": "susu-notifications/1",
          [SUSU_SIGNATURE_HEADER]: signSusuPayload(secrets, body, timestamp),
          "Susu-Delivery-Id": row.id,
        },
        body,
        signal,
      });
      const statusCode = response.status;
      if (statusCode >= 200 && statusCode < 300) return { kind: "sent", statusCode };
      const error = `the endpoint answered ${statusCode}`;
      if (!isRetryableStatus(statusCode)) return { kind: "permanent", error, statusCode };
      // A 429 (slow down) or 503 (unavailable) may say when to come back (see record).
      return (statusCode === 429 || statusCode === 503) && response.retryAfter !== undefined
        ? { kind: "temporary", error, statusCode, retryAfter: response.retryAfter }
        : { kind: "temporary", error, statusCode };
    } catch (e) {
      const err = e as { name?: string; message?: string; code?: string; cause?: { code?: string } };
      const what =
        signal.aborted || err.name === "TimeoutError"
          ? `no answer within ${this.options.timeoutMs} ms`
          : `${err.cause?.code ?? err.code ?? err.name ?? "error"}: ${err.message ?? String(e)}`;
      return { kind: "temporary", error: what };
    }
  }

  /**
   * Where a webhook may go: the endpoint's URL and the addresses its host resolves to now,
   * or why it may not — a URL the policy refuses, or (`public`) a host with any address
   * {@link privateAddressKind} names: a permanent failure, never retried, as the endpoint
   * is the platform's own network (or points there now: DNS rebinding). A host that does
   * not resolve now is a temporary failure (a lookup's error is thrown).
   */
  private async targetOf(
    raw: string,
    signal: AbortSignal,
  ): Promise<{ readonly url: URL; readonly addresses: readonly ResolvedAddress[] } | SendResult> {
    const policy = this.options.endpointAddresses ?? "public";
    const problem = endpointUrlProblem(raw, policy);
    if (problem !== undefined)
      return { kind: "permanent", error: `not sent: the endpoint's URL is not allowed: ${problem}` };
    const url = new URL(raw);
    const host = hostOf(url);
    const family = isIP(host);
    const addresses: readonly ResolvedAddress[] =
      family === 4 || family === 6
        ? [{ address: host, family }]
        : await abortable((this.options.lookup ?? systemLookup)(host), signal);
    if (addresses.length === 0)
      return { kind: "temporary", error: `the endpoint's host ${host} has no address` };
    if (policy === "public")
      for (const { address } of addresses) {
        const kind = privateAddressKind(address);
        if (kind !== undefined)
          return {
            kind: "permanent",
            error: `not sent: the endpoint's host ${host} resolves to ${address}, ${addressPhrase(kind)} (SUSU_NOTIFY_ENDPOINT_ADDRESSES is public)`,
          };
      }
    return { url, addresses };
  }

  /** Writes the outcome if this worker still holds the claim; undefined when the lease was lost. */
  private async record(row: ClaimedRow, result: SendResult): Promise<DeliveryOutcome | undefined> {
    const now = this.options.clock.now();
    const retry = this.options.retry;
    let outcome: DeliveryOutcome;
    let nextAttemptAt = new Date(now);
    if (result.kind === "sent") outcome = "sent";
    else if (result.kind === "bounced") outcome = "bounced";
    else if (result.kind === "withdrawn") outcome = "withdrawn";
    else if (result.kind === "permanent" || row.attempts >= retry.maxAttempts) outcome = "failed";
    else {
      outcome = "retrying";
      const backoff = deliveryBackoffMs(retry, row.attempts, (this.options.random ?? Math.random)());
      const asked = "retryAfter" in result ? retryAfterDelayMs(result.retryAfter, now) : undefined;
      nextAttemptAt = new Date(now + retryDelayMs(retry, backoff, asked));
    }
    const error =
      result.kind === "sent"
        ? null
        : (row.channel === "email"
            ? result.error.replaceAll(row.recipient, maskEmail(row.recipient))
            : result.error
          ).slice(0, 1000);
    const statusCode = "statusCode" in result && result.statusCode !== undefined ? result.statusCode : null;
    const updated = await runStatement(this.options.prisma, {
      name: "susu_notification_delivery_record",
      text: RECORD_SQL,
      values: [
        row.id,
        this.options.workerId,
        outcome,
        error,
        statusCode,
        nextAttemptAt,
        new Date(now),
        outcome === "sent" ? new Date(now) : null,
      ],
    });
    if (updated.rows.length === 0) return undefined;
    if (outcome === "bounced" && row.person_id !== null) {
      const marked = await this.settings.markBounced(row.person_id, row.recipient, error ?? "bounced", now);
      if (marked.isErr()) throw new Error(marked.error.message);
    }
    return outcome;
  }
}
