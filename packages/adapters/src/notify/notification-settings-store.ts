import {
  isNotificationTemplate,
  type NotificationPreferences,
  type NotificationTemplateName,
  type StorageError,
} from "@susu/domain";
import { ResultAsync } from "neverthrow";
import { type PrismaClient, runStatement } from "../db/prisma-client.js";
import { storageErrorOf } from "../prisma/storage-errors.js";

/** A person's notification settings as stored: their preferences and whether their address bounces. */
export interface NotificationSettings extends NotificationPreferences {
  readonly personId: string;
  /** `bouncing`: the mail server refused the address for good; `none`: no address. */
  readonly emailStatus: "none" | "ok" | "bouncing";
  /** When and why it bounced (epoch ms), while it does. */
  readonly emailBounce?: { readonly at: number; readonly reason: string };
}

/** Reads and replaces people's notification settings. */
export interface NotificationSettingsStore {
  /** The person's settings; undefined when there is no such person. */
  get(personId: string): ResultAsync<NotificationSettings | undefined, StorageError>;
  /**
   * Replaces the person's preferences at `at`. Saving an address clears its bounce, the same
   * address again included: the person saying it works now (if it does not, the next e-mail
   * bounces it again). Undefined when there is no such person.
   */
  put(
    personId: string,
    prefs: NotificationPreferences,
    at: number,
  ): ResultAsync<NotificationSettings | undefined, StorageError>;
  /** Settings of several people at once (those who exist). */
  getMany(personIds: readonly string[]): ResultAsync<ReadonlyMap<string, NotificationSettings>, StorageError>;
  /** Records that the address `email` of `personId` bounced (only while it is still theirs). */
  markBounced(personId: string, email: string, reason: string, at: number): ResultAsync<void, StorageError>;
}

const SETTINGS_COLUMNS = {
  id: true,
  email: true,
  locale: true,
  timeZone: true,
  notifyByEmail: true,
  notifyByPush: true,
  mutedNotifications: true,
  emailBouncedAt: true,
  emailBounceReason: true,
} as const;

/** SETTINGS_COLUMNS by their column names, of `people` as `p`, as a {@link SettingsRow} reads them. */
export const SETTINGS_SELECT_SQL = `p.id, p.email, p.locale, p.time_zone AS "timeZone",
         p.notify_by_email AS "notifyByEmail", p.notify_by_push AS "notifyByPush",
         p.muted_notifications AS "mutedNotifications", p.email_bounced_at AS "emailBouncedAt",
         p.email_bounce_reason AS "emailBounceReason"`;

// The settings of the people named in $1.
const SETTINGS_OF_PEOPLE_SQL = `
  SELECT ${SETTINGS_SELECT_SQL}
    FROM people p WHERE p.id = ANY($1::text[])`;

/** A person's notification columns, as {@link SETTINGS_SELECT_SQL} selects them. */
export interface SettingsRow {
  readonly id: string;
  readonly email: string | null;
  readonly locale: string | null;
  readonly timeZone: string | null;
  readonly notifyByEmail: boolean;
  readonly notifyByPush: boolean;
  readonly mutedNotifications: string[];
  readonly emailBouncedAt: Date | null;
  readonly emailBounceReason: string | null;
}

/** The settings a {@link SettingsRow} stores. */
export function settingsOf(row: SettingsRow): NotificationSettings {
  return {
    personId: row.id,
    ...(row.email !== null ? { email: row.email } : {}),
    ...(row.locale !== null ? { locale: row.locale } : {}),
    ...(row.timeZone !== null ? { timeZone: row.timeZone } : {}),
    channels: { email: row.notifyByEmail, push: row.notifyByPush },
    // A template since removed from the domain is no longer muted: it is never sent.
    muted: row.mutedNotifications.filter((t): t is NotificationTemplateName => isNotificationTemplate(t)),
    emailStatus: row.email === null ? "none" : row.emailBouncedAt !== null ? "bouncing" : "ok",
    ...(row.email !== null && row.emailBouncedAt !== null
      ? { emailBounce: { at: row.emailBouncedAt.getTime(), reason: row.emailBounceReason ?? "" } }
      : {}),
  };
}

/** Settings in the `people` table's notification columns. */
export class PrismaNotificationSettings implements NotificationSettingsStore {
  constructor(private readonly prisma: PrismaClient) {}

  get(personId: string): ResultAsync<NotificationSettings | undefined, StorageError> {
    return ResultAsync.fromPromise(
      this.prisma.person.findUnique({ where: { id: personId }, select: SETTINGS_COLUMNS }),
      (e) => storageErrorOf(e, { operation: "read notification settings" }),
    ).map((row) => (row === null ? undefined : settingsOf(row)));
  }

  getMany(
    personIds: readonly string[],
  ): ResultAsync<ReadonlyMap<string, NotificationSettings>, StorageError> {
    // A prepared statement, not Prisma's pipeline: every notification the dispatcher sends reads it.
    return ResultAsync.fromPromise(
      personIds.length === 0
        ? Promise.resolve([])
        : runStatement<SettingsRow>(this.prisma, {
            name: "susu_notification_settings_of_people",
            text: SETTINGS_OF_PEOPLE_SQL,
            values: [[...personIds]],
          }).then((result) => result.rows),
      (e) => storageErrorOf(e, { operation: "read notification settings" }),
    ).map((rows) => new Map(rows.map((r) => [r.id, settingsOf(r)] as const)));
  }

  put(
    personId: string,
    prefs: NotificationPreferences,
    at: number,
  ): ResultAsync<NotificationSettings | undefined, StorageError> {
    return ResultAsync.fromPromise(
      this.prisma.$transaction(async (tx) => {
        const before = await tx.person.findUnique({ where: { id: personId }, select: { id: true } });
        if (before === null) return undefined;
        return tx.person.update({
          where: { id: personId },
          data: {
            email: prefs.email ?? null,
            locale: prefs.locale ?? null,
            timeZone: prefs.timeZone ?? null,
            notifyByEmail: prefs.channels.email,
            notifyByPush: prefs.channels.push,
            mutedNotifications: [...prefs.muted],
            // An address saved, new or the same again, is one the person says works: not
            // bouncing until the mail server refuses it again.
            emailBouncedAt: null,
            emailBounceReason: null,
            updatedAt: new Date(at),
          },
          select: SETTINGS_COLUMNS,
        });
      }),
      (e) => storageErrorOf(e, { operation: "write notification settings" }),
    ).map((row) => (row === undefined ? undefined : settingsOf(row)));
  }

  markBounced(personId: string, email: string, reason: string, at: number): ResultAsync<void, StorageError> {
    return ResultAsync.fromPromise(
      this.prisma.person.updateMany({
        where: { id: personId, email },
        data: { emailBouncedAt: new Date(at), emailBounceReason: reason.slice(0, 500) },
      }),
      (e) => storageErrorOf(e, { operation: "mark an address bouncing" }),
    ).map(() => undefined);
  }
}
