import { err, ok, type Result } from "neverthrow";
import { textLength, textLengthWithin } from "../kernel/text.js";
import type { Notification } from "../ports/notifier.js";

/** Every template name a notification can carry. */
export type NotificationTemplateName = Notification["template"];

/**
 * Whether people may switch a message off. `required`: it is about their money (a debit,
 * a failure, a payout, a refund, a dispute, a membership payment) or asks them to act on
 * it, so it always goes out, on every channel; `optional`: they choose; `admin`: it is sent
 * to the platform's admins only (`SUSU_ADMIN_EMAILS` and the endpoints' admin alerts), never
 * to a person — not in anyone's settings, not theirs to switch, and a person it were
 * addressed to would not get it.
 */
export type NotificationClass = "required" | "optional" | "admin";

/**
 * The class of every template. A mapped type over the union of names: a template added to
 * the domain does not compile until it is classified here.
 */
export const NOTIFICATION_CLASSES: { readonly [T in NotificationTemplateName]: NotificationClass } = {
  // A debit is taken from the person's account: they hear of every one, and when it settles.
  debit_initiated: "required",
  contribution_retry_scheduled: "required",
  contribution_failed: "required",
  // The failure they were told of is undone: the debit was taken and counts.
  contribution_collected_late: "required",
  round_cancelling: "required",
  round_cancelled: "required",
  payout_blocked: "required",
  // No debit is taken and nobody is paid until the member acts: about their money.
  round_waiting_for_you: "required",
  round_waiting_for_members: "required",
  payout_sent: "required",
  refund_failed: "required",
  dispute_opened: "required",
  dispute_closed: "required",
  transfer_reversed: "required",
  unexpected_money: "required",
  payment_failed: "required",
  // A receipt for the customer, and for the seller the money they are owed and until when it is held.
  booking_paid: "required",
  // Nothing was charged and nothing is due: the person only hears their checkout lapsed.
  checkout_expired: "optional",
  refund_started: "required",
  release_blocked: "required",
  // For the platform's admins only: a seller's part of a refund Stripe would not take back.
  reversal_failed: "admin",
  // For the platform's admins only: money owed to a customer that Stripe will not refund, to pay by other means.
  refund_owed: "admin",
  // To the customer or member: money susu owes them outside Stripe, and each payment of it.
  owed_outside_stripe: "required",
  owed_paid_outside_stripe: "required",
  owed_reduced_by_dispute: "required",
  payment_action_required: "required",
  seller_paid: "required",
  // For the platform's admins only: a seller's transfer Stripe refused, parked for them.
  transfer_blocked: "admin",
  payout_failed: "required",
  // Saved payment methods: a debit that can no longer be collected asks the person to act.
  payment_method_detached: "required",
  member_payment_method_detached: "required",
  mandate_inactive: "required",
  // The card a membership is charged on is gone: where it is charged now, or save one.
  membership_card_detached: "required",
  payout_refused: "required",
  // Money cannot reach the person until they give what is missing.
  onboarding_incomplete: "required",
  // The payment was cancelled unconfirmed; the customer may need to pay another way.
  payment_expired: "required",
  // Memberships: the trial's end announces a charge; the rest are failed or lost payments,
  // and money given back (a payment made after the membership was canceled, refunded).
  membership_trial_ending: "required",
  membership_payment_failed: "required",
  membership_payment_action_required: "required",
  membership_lapsed: "required",
  membership_refunded: "required",
  // A refund the person was told of did not reach them after all.
  membership_refund_reversed: "required",
  // A plan change the person asked for did not happen.
  membership_change_refused: "required",
  // A card change the person asked for (their new default card) did not happen.
  membership_card_change_refused: "required",
  // For the platform's admins only: the platform's books and Stripe's differ for a reconciled period.
  reconciliation_differences: "admin",
};

/** Every template name, in a stable order. */
export const NOTIFICATION_TEMPLATE_NAMES = Object.keys(NOTIFICATION_CLASSES) as NotificationTemplateName[];

/** Templates a person can receive (every one but the platform admins' own), in a stable order: their settings list these. */
export const PERSON_NOTIFICATION_TEMPLATES = NOTIFICATION_TEMPLATE_NAMES.filter(
  (t) => NOTIFICATION_CLASSES[t] !== "admin",
);

/** Templates people may switch off. */
export const OPTIONAL_NOTIFICATION_TEMPLATES = NOTIFICATION_TEMPLATE_NAMES.filter(
  (t) => NOTIFICATION_CLASSES[t] === "optional",
);

/** Whether `name` is a template the domain sends. */
export function isNotificationTemplate(name: string): name is NotificationTemplateName {
  return Object.hasOwn(NOTIFICATION_CLASSES, name);
}

/** How a notification reaches a person: e-mail, or a push through the client apps' webhook endpoints. */
export const NOTIFICATION_CHANNELS = ["email", "push"] as const;
export type NotificationChannel = (typeof NOTIFICATION_CHANNELS)[number];

/**
 * A person's contact and notification preferences. `channels` and `muted` apply to optional
 * messages only: required ones go out on every channel the person can be reached on.
 */
export interface NotificationPreferences {
  /** Where e-mails go; absent: none are sent. Stored trimmed, domain in lower case. */
  readonly email?: string;
  /** BCP 47 locale amounts and dates are written in; absent: the platform's default. */
  readonly locale?: string;
  /** IANA time zone dates are shown in; absent: the platform's default. */
  readonly timeZone?: string;
  /** Which channels optional messages use. */
  readonly channels: { readonly email: boolean; readonly push: boolean };
  /** Optional templates the person switched off. */
  readonly muted: readonly NotificationTemplateName[];
}

/** The preferences of a person who never set any: every channel, nothing muted. */
export const DEFAULT_NOTIFICATION_PREFERENCES: NotificationPreferences = {
  channels: { email: true, push: true },
  muted: [],
};

/** Whether the person hears `template` on `channel`: never one for the platform's admins only. */
export function wantsNotification(
  prefs: NotificationPreferences,
  template: NotificationTemplateName,
  channel: NotificationChannel,
): boolean {
  const cls = NOTIFICATION_CLASSES[template];
  if (cls === "admin") return false;
  if (cls === "required") return true;
  return prefs.channels[channel] && !prefs.muted.includes(template);
}

/** Why preferences were refused; `field` names the input at fault. */
export interface NotificationPreferencesError {
  readonly type: "invalid_notification_preferences";
  readonly code:
    | "invalid_email"
    | "unknown_locale"
    | "unknown_time_zone"
    | "unknown_notification"
    | "notification_required"
    | "notification_admin_only";
  readonly field: string;
  readonly message: string;
}

const refusal = (
  code: NotificationPreferencesError["code"],
  field: string,
  message: string,
): NotificationPreferencesError => ({ type: "invalid_notification_preferences", code, field, message });

/** What a person asks for, before it is checked. */
export interface NotificationPreferencesInput {
  readonly email?: string | null | undefined;
  readonly locale?: string | null | undefined;
  readonly timeZone?: string | null | undefined;
  readonly channels?:
    | { readonly email?: boolean | undefined; readonly push?: boolean | undefined }
    | undefined;
  /** Template name → on (true) or off (false); names left out keep being sent. */
  readonly notifications?: Readonly<Record<string, boolean>> | undefined;
}

/** The longest address SMTP carries (RFC 5321's path limit less the brackets). */
const EMAIL_MAX = 254;
/** One `local@domain` address: no spaces, no brackets or quotes, a dotted domain. */
const EMAIL_SHAPE =
  /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/** An address as stored (trimmed, domain in lower case), or undefined when it is not one. */
export function normalizeEmail(text: string): string | undefined {
  const email = text.trim();
  if (textLength(email) > EMAIL_MAX || !EMAIL_SHAPE.test(email)) return undefined;
  if (email.startsWith(".") || email.includes("..") || email.split("@")[0]?.endsWith(".")) return undefined;
  const at = email.lastIndexOf("@");
  return `${email.slice(0, at)}@${email.slice(at + 1).toLowerCase()}`;
}

/** The canonical form of a locale the runtime can format in, or undefined when it knows none such. */
export function knownLocale(text: string): string | undefined {
  try {
    const [canonical] = Intl.getCanonicalLocales(text.trim());
    if (canonical === undefined) return undefined;
    // A well-formed tag for a language the runtime has no data for (`xx-YY`) is unknown.
    return Intl.DateTimeFormat.supportedLocalesOf([canonical]).length === 1 ? canonical : undefined;
  } catch {
    return undefined;
  }
}

/** The IANA name of a time zone the runtime knows (`australia/sydney` → `Australia/Sydney`), or undefined. */
export function knownTimeZone(text: string): string | undefined {
  const zone = text.trim();
  if (!textLengthWithin(zone, 1, 64)) return undefined;
  try {
    return new Intl.DateTimeFormat("en", { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/**
 * Checks what a person asks for and builds their preferences. Refuses an address that is
 * not one, a locale or time zone the platform cannot format in, a template it does not
 * know, switching off a required template (it is about their money), and any setting of a
 * template sent to the platform's admins only (it never reaches a person).
 */
export function parseNotificationPreferences(
  input: NotificationPreferencesInput,
): Result<NotificationPreferences, NotificationPreferencesError> {
  let email: string | undefined;
  if (input.email !== undefined && input.email !== null) {
    email = normalizeEmail(input.email);
    if (email === undefined)
      return err(refusal("invalid_email", "email", "email is not an e-mail address (name@example.com)"));
  }
  let locale: string | undefined;
  if (input.locale !== undefined && input.locale !== null) {
    locale = knownLocale(input.locale);
    if (locale === undefined)
      return err(
        refusal("unknown_locale", "locale", `unknown locale ${JSON.stringify(input.locale)} (e.g. en-AU)`),
      );
  }
  let timeZone: string | undefined;
  if (input.timeZone !== undefined && input.timeZone !== null) {
    timeZone = knownTimeZone(input.timeZone);
    if (timeZone === undefined)
      return err(
        refusal(
          "unknown_time_zone",
          "timeZone",
          `unknown time zone ${JSON.stringify(input.timeZone)} (an IANA name, e.g. Australia/Sydney)`,
        ),
      );
  }
  const muted: NotificationTemplateName[] = [];
  for (const [name, on] of Object.entries(input.notifications ?? {})) {
    if (!isNotificationTemplate(name))
      return err(
        refusal("unknown_notification", `notifications.${name}`, `there is no notification ${name}`),
      );
    if (NOTIFICATION_CLASSES[name] === "admin")
      return err(
        refusal(
          "notification_admin_only",
          `notifications.${name}`,
          `${name} is sent to the platform's admins only, not to people`,
        ),
      );
    if (on) continue;
    if (NOTIFICATION_CLASSES[name] === "required")
      return err(
        refusal(
          "notification_required",
          `notifications.${name}`,
          `${name} is about your money and cannot be switched off`,
        ),
      );
    muted.push(name);
  }
  return ok({
    ...(email !== undefined ? { email } : {}),
    ...(locale !== undefined ? { locale } : {}),
    ...(timeZone !== undefined ? { timeZone } : {}),
    channels: { email: input.channels?.email ?? true, push: input.channels?.push ?? true },
    muted: NOTIFICATION_TEMPLATE_NAMES.filter((t) => muted.includes(t)),
  });
}
