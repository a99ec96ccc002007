import { currencyInfo, isCurrencyCode } from "@susu/domain";

/** How amounts and dates in an e-mail are written: a locale and a time zone (IANA). */
export interface MailLocale {
  /** BCP 47 locale for numbers, amounts and dates, e.g. `en-AU`. */
  readonly locale: string;
  /** IANA time zone dates are shown in, e.g. `Australia/Sydney`. */
  readonly timeZone: string;
}

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Text made safe to put in HTML element content or a quoted attribute. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

/**
 * A run of 8 to 19 digits, single spaces or hyphens allowed between them, standing alone
 * (not part of an id such as `pi_12345678`): the shape of a card, bank account or BSB+account
 * number.
 */
const NUMBER_LIKE = /(?<![\w-])\d(?:[ -]?\d){7,18}(?![\w-])/g;

/**
 * Masks anything that looks like a full account or card number, keeping its last 4 digits
 * (`4242 4242 4242 4242` → `•••• 4242`), so no e-mail ever carries one.
 */
export function maskNumbers(text: string): string {
  return text.replace(NUMBER_LIKE, (run) => `•••• ${run.replace(/[ -]/g, "").slice(-4)}`);
}

/**
 * Formatters by locale and currency or time zone. Making an `Intl` formatter costs about as
 * much as rendering the rest of an e-mail (its locale data is resolved each time), and every
 * e-mail formats a few amounts and instants; the keys are few (the locales and time zones
 * people chose, the currencies), and a table that fills up is emptied rather than grown.
 * A locale, currency or zone Intl refuses is not kept: each call asks again (and throws).
 */
const amountFormats = new Map<string, { readonly format: Intl.NumberFormat; readonly digits: number }>();
const instantFormats = new Map<string, Intl.DateTimeFormat>();
const FORMATS_KEPT = 256;

function cached<T>(table: Map<string, T>, key: string, make: () => T): T {
  const known = table.get(key);
  if (known !== undefined) return known;
  const made = make();
  if (table.size >= FORMATS_KEPT) table.clear();
  table.set(key, made);
  return made;
}

/**
 * Minor units as an amount in `currency` (ISO 4217), e.g. `12345`, `aud` → `$123.45`. A
 * currency susu supports is read with its exponent in the domain's table (Stripe's minor
 * unit): Intl's own digits for a currency can differ (HUF and IDR have none there, two at
 * Stripe), and reading minor units with them would write the amount 100 times too large.
 */
export function formatAmount(amountMinor: number, currency: string, locale: string): string {
  const code = currency.toUpperCase();
  const exponent = isCurrencyCode(code) ? currencyInfo(code).exponent : undefined;
  let format: { readonly format: Intl.NumberFormat; readonly digits: number };
  try {
    format = cached(amountFormats, `${locale}\u0000${code}`, () => {
      const f = new Intl.NumberFormat(locale, {
        style: "currency",
        currency: code,
        ...(exponent !== undefined
          ? { minimumFractionDigits: exponent, maximumFractionDigits: exponent }
          : {}),
      });
      return { format: f, digits: exponent ?? f.resolvedOptions().maximumFractionDigits ?? 2 };
    });
  } catch {
    // A code Intl does not know: the plain number and the code, never a wrong symbol.
    return `${amountMinor} ${code} (minor units)`;
  }
  return format.format.format(amountMinor / 10 ** format.digits);
}

/** An instant (ISO 8601) as a date and time in the locale and time zone, with the zone's name. */
export function formatInstant(iso: string, where: MailLocale): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  const format = cached(
    instantFormats,
    `${where.locale}\u0000${where.timeZone}`,
    () =>
      new Intl.DateTimeFormat(where.locale, {
        dateStyle: "full",
        timeStyle: "short",
        timeZone: where.timeZone,
      }),
  );
  const text = format.format(at);
  return `${text} (${where.timeZone})`;
}

/** Whether a string is an ISO 8601 instant as the domain writes them (`2026-03-01T00:00:00.000Z`). */
export function isIsoInstant(value: string): boolean {
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$/.test(value);
}

/** `evidenceDueBy` → `Evidence due by`. */
export function labelOf(key: string): string {
  const words = key
    .replace(/Minor$/, "")
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}
