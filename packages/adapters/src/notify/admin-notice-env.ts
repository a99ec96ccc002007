// The environment variables that say how the platform's admins are told (admin alerts: the
// `platform_admins` notices), read the same way by every process that queues them: the
// scheduler, the API (an admin's reconciliation run) and `npm run reconcile`.
import type { Clock } from "@susu/domain";
import { z } from "zod";
import type { PrismaClient } from "../db/prisma-client.js";
import { DeliveringNotifier } from "./delivering-notifier.js";
import type { LineSink } from "./log-notifier.js";

function isLocale(locale: string): boolean {
  try {
    return Intl.getCanonicalLocales(locale).length === 1;
  } catch {
    return false;
  }
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The variables (a zod shape, spread into each process's schema). */
export const ADMIN_NOTICE_ENV = {
  /**
   * Where notifications are e-mailed (`smtp://127.0.0.1:1025`, `smtps://user:pass@host:465`);
   * unset: they are log lines. A process that only queues notices reads whether it is set.
   */
  SUSU_SMTP_URL: z
    .string()
    .url({ error: "must be an smtp:// or smtps:// URL" })
    .regex(/^smtps?:\/\//, { error: "must be an smtp:// or smtps:// URL" })
    .optional(),
  /** The platform admins' addresses, comma-separated: who `platform_admins` notifications go to. */
  SUSU_ADMIN_EMAILS: z
    .string()
    .default("")
    .transform((text, ctx) => {
      const emails = text
        .split(",")
        .map((e) => e.trim())
        .filter((e) => e !== "");
      const wrong = emails.filter((e) => !z.email().safeParse(e).success);
      if (wrong.length > 0) {
        ctx.addIssue({ code: "custom", message: `not an e-mail address: ${wrong.join(", ")}` });
        return z.NEVER;
      }
      return emails;
    }),
  /** The locale amounts and dates in e-mails are written in (BCP 47). */
  SUSU_MAIL_LOCALE: z
    .string()
    .default("en-AU")
    .refine((locale) => isLocale(locale), { error: "must be a BCP 47 locale, e.g. en-AU" }),
  /** The time zone dates in e-mails are shown in (IANA). */
  SUSU_MAIL_TIME_ZONE: z
    .string()
    .default("Australia/Sydney")
    .refine((zone) => isTimeZone(zone), { error: "must be an IANA time zone, e.g. Australia/Sydney" }),
  /**
   * The API's public address (`https://api.example`): admin alerts link to their ticket
   * under it (`/v1/tickets/{id}`).
   */
  SUSU_PUBLIC_URL: z
    .string()
    .url({ error: "must be an http(s) URL" })
    .regex(/^https?:\/\//, { error: "must be an http(s) URL" })
    .optional(),
  /** Where the runbooks are published (ending at `docs/runbooks`); unset: the repository path. */
  SUSU_RUNBOOKS_URL: z.string().url({ error: "must be a URL" }).optional(),
  /** Admin alerts with the same template and subject within this many minutes are sent once. */
  SUSU_ADMIN_ALERT_WINDOW_MINUTES: z.coerce.number().int().min(0).max(10_080).default(60),
};

const schema = z.object(ADMIN_NOTICE_ENV);

/** The variables, parsed. */
export type AdminNoticeEnv = z.infer<typeof schema>;

/**
 * Parses the variables alone, a blank value read as unset: the settings, or every variable
 * at fault (for a process that reads them beside a schema of its own, the API).
 */
export function parseAdminNoticeEnv(
  env: Readonly<Record<string, string | undefined>>,
):
  | { readonly env: AdminNoticeEnv }
  | { readonly problems: readonly { readonly variable: string; readonly message: string }[] } {
  const present = Object.fromEntries(
    Object.keys(ADMIN_NOTICE_ENV).map((name) => [
      name,
      env[name]?.trim() === "" ? undefined : env[name]?.trim(),
    ]),
  );
  const parsed = schema.safeParse(present);
  if (parsed.success) return { env: parsed.data };
  return {
    problems: parsed.error.issues.map((i) => ({
      variable: String(i.path[0] ?? "environment"),
      message: i.message,
    })),
  };
}

/** {@link parseAdminNoticeEnv}, throwing one error that names every variable at fault (`npm run reconcile`). */
export function readAdminNoticeEnv(env: Readonly<Record<string, string | undefined>>): AdminNoticeEnv {
  const parsed = parseAdminNoticeEnv(env);
  if ("env" in parsed) return parsed.env;
  throw new Error(parsed.problems.map((p) => `${p.variable}: ${p.message}`).join("\n"));
}

/**
 * The notifier that queues notices in the delivery log as `env` says: one delivery per
 * recipient and channel — e-mail when SUSU_SMTP_URL is set, and the enabled notification
 * endpoints' webhooks — which the scheduler's delivery worker sends. Admin alerts are
 * deduplicated over SUSU_ADMIN_ALERT_WINDOW_MINUTES and link to their ticket.
 */
export function adminNoticeNotifierOf(
  env: AdminNoticeEnv,
  prisma: PrismaClient,
  clock: Clock,
  log?: LineSink,
): DeliveringNotifier {
  return new DeliveringNotifier({
    prisma,
    clock,
    email: env.SUSU_SMTP_URL !== undefined,
    adminEmails: env.SUSU_ADMIN_EMAILS,
    where: { locale: env.SUSU_MAIL_LOCALE, timeZone: env.SUSU_MAIL_TIME_ZONE },
    alerts: {
      windowMs: env.SUSU_ADMIN_ALERT_WINDOW_MINUTES * 60_000,
      ...(env.SUSU_PUBLIC_URL !== undefined ? { publicUrl: env.SUSU_PUBLIC_URL } : {}),
      ...(env.SUSU_RUNBOOKS_URL !== undefined ? { runbooksUrl: env.SUSU_RUNBOOKS_URL } : {}),
    },
    ...(log !== undefined ? { log } : {}),
  });
}
