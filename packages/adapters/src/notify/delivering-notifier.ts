import { createHash } from "node:crypto";
import {
  type Clock,
  DEFAULT_NOTIFICATION_PREFERENCES,
  type Instant,
  type Notification,
  type Notifier,
  type NotifyError,
  wantsNotification,
} from "@susu/domain";
import { okAsync, ResultAsync } from "neverthrow";
import { GROUPED_READS, GroupedStatements, type GroupStatement } from "../db/grouped-statements.js";
import { type PrismaClient, runStatement } from "../db/prisma-client.js";
import type { LineSink } from "./log-notifier.js";
import type { MailLocale } from "./mail-format.js";
import {
  type NotificationSettings,
  SETTINGS_SELECT_SQL,
  type SettingsRow,
  settingsOf,
} from "./notification-settings-store.js";

/** How admin alerts (notifications to `platform_admins`) are linked and deduplicated. */
export interface AdminAlertOptions {
  /**
   * Alerts with the same key (template, aggregate, aggregate id) within this many
   * milliseconds of the last one sent are held back and counted in the next one sent.
   */
  readonly windowMs: number;
  /** The API's public address (`https://api.example`): alerts link to the ticket under it. */
  readonly publicUrl?: string;
  /** Where runbooks are published (a URL ending at `docs/runbooks`); default the repository path. */
  readonly runbooksUrl?: string;
}

/** What {@link DeliveringNotifier} is configured with. */
export interface DeliveringNotifierOptions {
  readonly prisma: PrismaClient;
  readonly clock: Clock;
  /** Whether e-mail is configured (SMTP): without it, no e-mail deliveries are queued. */
  readonly email: boolean;
  /** Who `platform_admins` are, by e-mail. */
  readonly adminEmails: readonly string[];
  /** The platform's locale and time zone, for people who chose none and for addresses that are not people. */
  readonly where: MailLocale;
  readonly alerts: AdminAlertOptions;
  /** Where a notification nobody could be reached for is written. */
  readonly log?: LineSink;
}

/**
 * The runbook of an admin alert's template, where one exists in `docs/runbooks/` (pages are
 * named after Prometheus alerts; these are the ones about the same trouble).
 */
export const ALERT_RUNBOOKS: Readonly<Partial<Record<Notification["template"], string>>> = {
  transfer_blocked: "SusuTransfersBlocked.md",
  release_blocked: "SusuTransfersBlocked.md",
  reversal_failed: "SusuTransfersFailing.md",
  transfer_reversed: "SusuTransfersFailing.md",
  // A notice's own page, not an alert's (scripts/check-alerting-refs.mjs reads this table).
  reconciliation_differences: "SusuReconciliationDifferences.md",
};

/** One delivery to queue. */
interface PlannedDelivery {
  readonly channel: "email" | "webhook";
  readonly recipient: string;
  readonly personId?: string;
  readonly endpointId?: string;
  readonly where?: MailLocale;
}

/** A delivery's id: the same notification to the same recipient is the same delivery, however often it is queued. */
export function deliveryIdOf(
  notificationId: string,
  d: Pick<PlannedDelivery, "channel" | "recipient" | "personId">,
): string {
  const key = [notificationId, d.channel, d.recipient.toLowerCase(), d.personId ?? "@platform_admins"].join(
    "\u0000",
  );
  return `nd_${createHash("sha256").update(key).digest("hex").slice(0, 32)}`;
}

/** What was decided for an admin alert. */
export type AlertDecision =
  | { readonly sent: false }
  | { readonly sent: true; readonly folded: number; readonly foldedSince?: number };

const failed = (message: string): NotifyError => ({ type: "notify_failed", code: "notify_failed", message });

/** Who a notification can reach: its people's settings (those who exist) and the enabled endpoints. */
interface Recipients {
  readonly people: ReadonlyMap<string, NotificationSettings>;
  readonly endpointIds: readonly string[];
}

const ENABLED_ENDPOINTS_SQL = "SELECT id FROM notification_endpoints WHERE status = 'enabled'";

// The settings of the people named in $1 and the ids of the enabled endpoints, in one
// statement: one row per person found, each with every endpoint id; a single row with the
// person's columns null when none is found.
const RECIPIENTS_SQL = `
  SELECT e.endpoint_ids AS "endpointIds", ${SETTINGS_SELECT_SQL}
    FROM (SELECT ARRAY(${ENABLED_ENDPOINTS_SQL}) AS endpoint_ids) e
    LEFT JOIN people p ON p.id = ANY($1::text[])`;

type RecipientsRow = { readonly endpointIds: string[] } & (
  | SettingsRow
  | { readonly [K in keyof SettingsRow]: null }
);

/** Most notifications whose recipients one statement reads. */
const RECIPIENTS_GROUP_MAX = 64;

/**
 * The recipients of one notification (its people, named) by {@link RECIPIENTS_SQL}, or of
 * several by the same statement over all their people, each answered with its own people.
 */
function recipientsReader(prisma: PrismaClient): GroupStatement<readonly string[], Recipients> {
  const read = async (personIds: readonly string[]) => {
    const result = await runStatement<RecipientsRow>(prisma, {
      name: "susu_notification_recipients",
      text: RECIPIENTS_SQL,
      values: [[...new Set(personIds)]],
    });
    const people = new Map(
      result.rows.flatMap((r) => (r.id === null ? [] : [[r.id, settingsOf(r)] as const])),
    );
    return { people, endpointIds: result.rows[0]?.endpointIds ?? [] };
  };
  return {
    one: read,
    many: async (groups) => {
      const all = await read(groups.flat());
      return groups.map((personIds): Recipients => {
        const people = new Map<string, NotificationSettings>();
        for (const id of personIds) {
          const settings = all.people.get(id);
          if (settings !== undefined) people.set(id, settings);
        }
        return { people, endpointIds: all.endpointIds };
      });
    },
  };
}

// A notification and its deliveries, written together by one statement (atomic on its own):
// $1–$9 the notification, $10 the deliveries as JSON. Both inserts skip rows that exist, so
// the outbox retrying the effect queues nothing twice (ids are derived from the notification's),
// and a retry that plans a delivery the first try did not (an endpoint enabled since) adds it.
// The deliveries' foreign key is checked at the statement's end, after the notification's insert.
const QUEUE_SQL = `
  WITH n AS (
    INSERT INTO notifications (id, template, aggregate_type, aggregate_id, group_id, person_ids, roles, data, created_at)
    VALUES ($1, $2, $3, $4, $5, $6::text[], $7::text[], $8::jsonb, $9::timestamptz)
    ON CONFLICT (id) DO NOTHING)
  INSERT INTO notification_deliveries
    (id, notification_id, channel, recipient, person_id, endpoint_id, locale, time_zone,
     next_attempt_at, created_at, updated_at)
  SELECT d.id, $1, d.channel::notification_channel, d.recipient, d.person_id, d.endpoint_id,
         d.locale, d.time_zone, $9::timestamptz, $9::timestamptz, $9::timestamptz
    FROM jsonb_to_recordset($10::jsonb)
         AS d(id text, channel text, recipient text, person_id text, endpoint_id text, locale text, time_zone text)
  ON CONFLICT (id) DO NOTHING`;

/** A notification's row in `notifications` and its deliveries' rows, as QUEUE_SQL writes them. */
export interface QueuedRows {
  readonly notification: {
    readonly id: string;
    readonly template: string;
    readonly aggregate_type: string;
    readonly aggregate_id: string;
    readonly group_id: string | null;
    readonly person_ids: readonly string[];
    readonly roles: readonly string[];
    readonly data: Readonly<Record<string, string | number>>;
    /** ISO 8601: the notification's and its deliveries' creation, and when they are first due. */
    readonly created_at: string;
  };
  readonly deliveries: readonly {
    readonly id: string;
    readonly channel: PlannedDelivery["channel"];
    readonly recipient: string;
    readonly person_id: string | null;
    readonly endpoint_id: string | null;
    readonly locale: string | null;
    readonly time_zone: string | null;
  }[];
}

/** A notification planned by {@link DeliveringNotifier.planForCommit}. */
export interface PlannedNotice {
  /** What to queue; absent when it reaches nobody (nothing is stored, as `send` stores nothing then). */
  readonly queue?: QueuedRows;
  /** To call once the commit stored it: what `send` tells when it is done (a log line). */
  readonly stored: () => void;
}

/** The rows that queue `n`, with `data`, to the `planned` deliveries, at `at`. */
function queuedRows(
  n: Notification,
  data: Readonly<Record<string, string | number>>,
  planned: readonly PlannedDelivery[],
  at: Instant,
): QueuedRows {
  return {
    notification: {
      id: n.id,
      template: n.template,
      aggregate_type: n.aggregate,
      aggregate_id: n.aggregateId,
      group_id: n.groupId ?? null,
      person_ids: [...n.personIds],
      roles: [...(n.roles ?? [])],
      data,
      created_at: new Date(at).toISOString(),
    },
    deliveries: planned.map((d) => ({
      id: deliveryIdOf(n.id, d),
      channel: d.channel,
      recipient: d.recipient,
      person_id: d.personId ?? null,
      endpoint_id: d.endpointId ?? null,
      locale: d.where?.locale ?? null,
      time_zone: d.where?.timeZone ?? null,
    })),
  };
}

/**
 * The notifier of the delivery log: it sends nothing itself. Each notification is stored
 * with one delivery per recipient and channel — an e-mail per address (people by their
 * settings, the notification's addresses, the admins), a webhook per enabled endpoint for
 * each person who hears it by push and for admin alerts — and the scheduler's delivery
 * worker sends them, retries and logs them. Queuing is idempotent (delivery ids are
 * derived from the notification id), so the outbox retrying the effect queues nothing twice.
 */
export class DeliveringNotifier implements Notifier {
  /**
   * The recipients of the notifications being sent at once (the dispatcher works many
   * effects together), read by one statement for those asked for while one is on its way.
   */
  readonly #recipients: GroupedStatements<readonly string[], Recipients>;

  constructor(private readonly options: DeliveringNotifierOptions) {
    this.#recipients = new GroupedStatements(
      recipientsReader(options.prisma),
      RECIPIENTS_GROUP_MAX,
      "reading the notification's recipients (settings, endpoints)",
      GROUPED_READS,
    );
  }

  send(n: Notification): ResultAsync<void, NotifyError> {
    const toAdmins = (n.roles ?? []).includes("platform_admins");
    return this.recipients(n.personIds, toAdmins).andThen((recipients) =>
      (toAdmins ? this.decideAlert(n) : okAsync<AlertDecision | undefined, NotifyError>(undefined)).andThen(
        (alert) => this.queue(n, recipients, alert),
      ),
    );
  }

  /**
   * The people's settings and the endpoints enabled now, read for each notification (an
   * endpoint enabled or disabled takes effect for the next one), in one statement: prepared,
   * not Prisma's pipeline, as every notification reads it, and one for the notifications sent
   * at once. Endpoints are read only when someone may hear the notification by push (a
   * person, whose settings say, or the admins); a notification only to addresses reads nothing.
   */
  private recipients(personIds: readonly string[], toAdmins: boolean): ResultAsync<Recipients, NotifyError> {
    if (personIds.length === 0 && !toAdmins) return okAsync({ people: new Map(), endpointIds: [] });
    if (personIds.length > 0) return this.#recipients.run(personIds).mapErr((e) => failed(e.message));
    const read = runStatement<{ readonly id: string }>(this.options.prisma, {
      name: "susu_enabled_notification_endpoints",
      text: ENABLED_ENDPOINTS_SQL,
      values: [],
    }).then((result): Recipients => ({ people: new Map(), endpointIds: result.rows.map((r) => r.id) }));
    return ResultAsync.fromPromise(read, (e) =>
      failed(`reading the notification's recipients (settings, endpoints) failed: ${String(e)}`),
    );
  }

  /** The key that makes two admin alerts the same: the notification's own, else its template and what it is about. */
  static alertKey(n: Notification): string {
    return n.alertKey ?? `${n.template}:${n.aggregate}:${n.aggregateId}`;
  }

  /**
   * Decides once per notification id (a retry finds the decision) whether the admin alert
   * goes out: not when one with the same key went out within the window. Serialised per
   * key with an advisory lock, so two schedulers deciding at once send one.
   */
  decideAlert(n: Notification): ResultAsync<AlertDecision, NotifyError> {
    const key = DeliveringNotifier.alertKey(n);
    const now = this.options.clock.now();
    return ResultAsync.fromPromise(
      this.options.prisma.$transaction(async (tx) => {
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`admin_alert:${key}`}, 0))`;
        const known = await tx.adminAlert.findUnique({ where: { notificationId: n.id } });
        const last = await tx.adminAlert.findFirst({
          where: {
            dedupeKey: key,
            sent: true,
            ...(known !== null ? { decidedAt: { lt: known.decidedAt } } : {}),
          },
          orderBy: { decidedAt: "desc" },
        });
        if (known !== null)
          return known.sent
            ? {
                sent: true as const,
                folded: known.foldedCount,
                ...(last ? { foldedSince: last.decidedAt.getTime() } : {}),
              }
            : { sent: false as const };
        if (last !== null && now - last.decidedAt.getTime() < this.options.alerts.windowMs) {
          await tx.adminAlert.create({
            data: { notificationId: n.id, dedupeKey: key, sent: false, decidedAt: new Date(now) },
          });
          return { sent: false as const };
        }
        const folded = await tx.adminAlert.count({
          where: {
            dedupeKey: key,
            sent: false,
            ...(last !== null ? { decidedAt: { gt: last.decidedAt } } : {}),
          },
        });
        await tx.adminAlert.create({
          data: {
            notificationId: n.id,
            dedupeKey: key,
            sent: true,
            foldedCount: folded,
            decidedAt: new Date(now),
          },
        });
        return { sent: true as const, folded, ...(last ? { foldedSince: last.decidedAt.getTime() } : {}) };
      }),
      (e) => failed(`deciding an admin alert failed: ${String(e)}`),
    );
  }

  /**
   * The links and counts an admin alert carries: its ticket (the one it names, else the
   * aggregate's newest open one), its runbook, the alerts folded into it.
   */
  private alertData(
    n: Notification,
    alert: AlertDecision & { sent: true },
  ): ResultAsync<Record<string, string | number>, NotifyError> {
    const found =
      n.ticketId !== undefined
        ? okAsync<{ id: string } | null, NotifyError>({ id: n.ticketId })
        : ResultAsync.fromPromise(
            this.options.prisma.supportTicket.findFirst({
              where: { aggregateType: n.aggregate, aggregateId: n.aggregateId },
              // Open tickets first (the enum's order), the newest of them.
              orderBy: [{ status: "asc" }, { createdAt: "desc" }],
              select: { id: true },
            }),
            (e) => failed(`finding an admin alert's ticket failed: ${String(e)}`),
          );
    return found.map((ticket) => {
      const base = (this.options.alerts.publicUrl ?? "").replace(/\/+$/, "");
      const runbook = ALERT_RUNBOOKS[n.template];
      const runbooks = (this.options.alerts.runbooksUrl ?? "docs/runbooks").replace(/\/+$/, "");
      return {
        ticketUrl:
          ticket === null
            ? `${base}/v1/tickets?status=open`
            : `${base}/v1/tickets/${encodeURIComponent(ticket.id)}`,
        ...(runbook !== undefined ? { runbookUrl: `${runbooks}/${runbook}` } : {}),
        ...(alert.folded > 0
          ? {
              similarAlertsHeldBack: alert.folded,
              ...(alert.foldedSince !== undefined
                ? { heldBackSince: new Date(alert.foldedSince).toISOString() }
                : {}),
            }
          : {}),
      };
    });
  }

  private queue(
    n: Notification,
    recipients: Recipients,
    alert: AlertDecision | undefined,
  ): ResultAsync<void, NotifyError> {
    const extra =
      alert?.sent === true
        ? this.alertData(n, alert)
        : okAsync<Record<string, string | number>, NotifyError>({});
    return extra.andThen((alertData) => {
      const planned = this.plan(n, recipients.people, alert?.sent === true, recipients.endpointIds);
      if (planned.length === 0) {
        this.reachesNobody(n, alert);
        return okAsync(undefined);
      }
      return this.store(queuedRows(n, { ...n.data, ...alertData }, planned, this.options.clock.now()));
    });
  }

  /** The log line of a notification that reaches nobody (an admin alert held back says so). */
  private reachesNobody(n: Notification, alert: AlertDecision | undefined): void {
    this.options.log?.info(
      { notificationId: n.id, template: n.template, to: n.personIds, toRoles: n.roles ?? [] },
      alert?.sent === false ? "admin alert held back (deduplicated)" : "notification has no recipient",
    );
  }

  /**
   * What {@link send} would queue for `n`, for the commit that decides it to write instead (see
   * CommitNotices): its notification's row and deliveries, planned the same way from the same
   * reads, or none when it reaches nobody; `stored` writes, once that commit stored it, the log
   * line {@link send} writes then. Undefined for an admin alert, which is decided when it is
   * sent (its window, its ticket's link): that one is left to {@link send}.
   */
  planForCommit(n: Notification): ResultAsync<PlannedNotice | undefined, NotifyError> {
    if ((n.roles ?? []).length > 0) return okAsync(undefined);
    return this.recipients(n.personIds, false).map((recipients): PlannedNotice => {
      const planned = this.plan(n, recipients.people, false, recipients.endpointIds);
      if (planned.length === 0) return { stored: () => this.reachesNobody(n, undefined) };
      // On this notifier's clock, as a send: the delivery worker (on the same clock) finds them due.
      return { queue: queuedRows(n, n.data, planned, this.options.clock.now()), stored: () => {} };
    });
  }

  private plan(
    n: Notification,
    people: ReadonlyMap<string, NotificationSettings>,
    toAdmins: boolean,
    endpointIds: readonly string[],
  ): PlannedDelivery[] {
    const planned: PlannedDelivery[] = [];
    // Addresses are de-duplicated per audience: among the people, and among the copies that
    // follow no person (the notice's own addresses, the admins'). A person whose address is
    // also one of the latter still has a delivery of their own, which follows their settings
    // (a new address, a message switched off); the worker does not send it while it would go
    // to the same address as such a copy ({@link NotificationDeliveryWorker}), so nobody gets
    // the same e-mail twice, and the admins' copy never depends on a person's settings.
    const addresses = { person: new Set<string>(), other: new Set<string>() };
    const email = (recipient: string, where: MailLocale, personId?: string) => {
      const key = recipient.trim().toLowerCase();
      const seen = personId ? addresses.person : addresses.other;
      if (!this.options.email || key === "" || seen.has(key)) return;
      seen.add(key);
      planned.push({
        channel: "email",
        recipient: recipient.trim(),
        where,
        ...(personId ? { personId } : {}),
      });
    };
    const defaults = this.options.where;
    for (const personId of n.personIds) {
      const s = people.get(personId);
      const prefs = s ?? DEFAULT_NOTIFICATION_PREFERENCES;
      // A bouncing address is not written to again until the person saves an address (the same one too).
      if (s?.email !== undefined && s.emailStatus === "ok" && wantsNotification(prefs, n.template, "email"))
        email(
          s.email,
          { locale: s.locale ?? defaults.locale, timeZone: s.timeZone ?? defaults.timeZone },
          personId,
        );
      if (wantsNotification(prefs, n.template, "push"))
        for (const endpointId of endpointIds)
          planned.push({ channel: "webhook", recipient: endpointId, endpointId, personId });
    }
    for (const address of n.emails ?? []) email(address, defaults);
    if (toAdmins) {
      for (const address of this.options.adminEmails) email(address, defaults);
      for (const endpointId of endpointIds)
        planned.push({ channel: "webhook", recipient: endpointId, endpointId });
    }
    return planned;
  }

  private store(rows: QueuedRows): ResultAsync<void, NotifyError> {
    const n = rows.notification;
    return ResultAsync.fromPromise(
      runStatement(this.options.prisma, {
        name: "susu_notification_queue",
        text: QUEUE_SQL,
        values: [
          n.id,
          n.template,
          n.aggregate_type,
          n.aggregate_id,
          n.group_id,
          [...n.person_ids],
          [...n.roles],
          JSON.stringify(n.data),
          n.created_at,
          JSON.stringify(rows.deliveries),
        ],
      }),
      (e) => failed(`queuing notification deliveries failed: ${String(e)}`),
    ).map(() => undefined);
  }
}
