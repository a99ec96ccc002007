import { validationFailure } from "../http/errors.js";

const ZERO_DECIMAL = new Set([
  "bif",
  "clp",
  "djf",
  "gnf",
  "jpy",
  "kmf",
  "krw",
  "mga",
  "pyg",
  "rwf",
  "ugx",
  "vnd",
  "vuv",
  "xaf",
  "xof",
  "xpf",
]);
const THREE_DECIMAL = new Set(["bhd", "jod", "kwd", "omr", "tnd"]);

// Minimum charge amounts in minor units, from Stripe's "minimum and maximum charge amounts" table.
const MINIMUM_AMOUNT: Record<string, number> = {
  usd: 50,
  aud: 50,
  brl: 50,
  cad: 50,
  chf: 50,
  eur: 50,
  inr: 50,
  nzd: 50,
  sgd: 50,
  gbp: 30,
  jpy: 50,
  dkk: 250,
  hkd: 400,
  mxn: 1000,
  myr: 200,
  nok: 300,
  pln: 200,
  ron: 200,
  sek: 300,
  thb: 1000,
  aed: 200,
  czk: 1500,
  huf: 17500,
  bgn: 100,
};

// Presentment currencies accepted by the emulator (a subset of Stripe's list covering what susu uses).
const SUPPORTED = new Set([
  "aud",
  "usd",
  "eur",
  "gbp",
  "nzd",
  "cad",
  "chf",
  "sgd",
  "hkd",
  "jpy",
  "krw",
  "inr",
  "brl",
  "mxn",
  "dkk",
  "nok",
  "sek",
  "pln",
  "czk",
  "huf",
  "ron",
  "bgn",
  "thb",
  "myr",
  "aed",
  "idr",
  "php",
  "zar",
  "ils",
  "try",
  "cny",
  "twd",
  "vnd",
  "clp",
  "pyg",
  "ugx",
  "xaf",
  "xof",
  "xpf",
  "bif",
  "djf",
  "gnf",
  "kmf",
  "mga",
  "rwf",
  "vuv",
  "bhd",
  "jod",
  "kwd",
  "omr",
  "tnd",
  "fjd",
  "pgk",
  "sar",
  "qar",
  "egp",
  "kes",
  "ngn",
  "cop",
  "pen",
]);

/** Digits after the decimal point of a currency's major unit (0, 2 or 3). */
export function decimals(currency: string): number {
  if (ZERO_DECIMAL.has(currency)) return 0;
  return THREE_DECIMAL.has(currency) ? 3 : 2;
}

export function isZeroDecimal(currency: string): boolean {
  return ZERO_DECIMAL.has(currency);
}

export function parseCurrency(value: string, param = "currency"): string {
  const currency = value.toLowerCase();
  if (!SUPPORTED.has(currency)) {
    throw validationFailure(
      `Invalid currency: ${value}. Stripe currently supports these currencies: ${[...SUPPORTED].join(", ")}`,
      { param },
    );
  }
  return currency;
}

function formatMinor(amount: number, currency: string): string {
  if (ZERO_DECIMAL.has(currency)) return `${amount}`;
  const digits = THREE_DECIMAL.has(currency) ? 3 : 2;
  return (amount / 10 ** digits).toFixed(digits);
}

/** Stripe's amount rules for a charge: a positive integer, the currency's minimum, at most 8 digits. */
export function validateChargeAmount(amount: number, currency: string, param = "amount"): void {
  if (!Number.isInteger(amount) || amount < 0) {
    throw validationFailure("Invalid positive integer", { param, code: "parameter_invalid_integer" });
  }
  const maxDigits = currency === "idr" ? 12 : 8;
  if (amount >= 10 ** maxDigits) {
    throw validationFailure(
      `Amount must be no more than ${formatMinor(10 ** maxDigits - 1, currency)} ${currency}`,
      { param, code: "amount_too_large" },
    );
  }
  const minimum = MINIMUM_AMOUNT[currency] ?? 50;
  if (amount < minimum) {
    throw validationFailure(`Amount must be at least ${formatMinor(minimum, currency)} ${currency}`, {
      param,
      code: "amount_too_small",
    });
  }
  if (THREE_DECIMAL.has(currency) && amount % 10 !== 0) {
    throw validationFailure(
      `Amounts in ${currency.toUpperCase()} must be divisible by 10 (the last digit must be 0).`,
      { param, code: "invalid_amount" },
    );
  }
}

/** A processing fee: basis points of the amount plus a fixed part in minor units, optionally capped. */
export interface FeeRule {
  percentBps: number;
  fixed: number;
  cap?: number;
}

export interface FeeSchedule {
  card: FeeRule;
  au_becs_debit: FeeRule;
  /** Charged with each dispute, in minor units of the charge's currency. */
  dispute: number;
}

/**
 * Defaults modelled on Stripe's published Australian pricing (domestic cards 1.75% + 30c;
 * BECS 1% + 30c capped at A$3.50; A$25 per dispute). Real fees vary by card origin and plan:
 * set `fees` to match your account, or to zero.
 */
export const DEFAULT_FEES: FeeSchedule = {
  card: { percentBps: 175, fixed: 30 },
  au_becs_debit: { percentBps: 100, fixed: 30, cap: 350 },
  dispute: 2500,
};

export function feeFor(rule: FeeRule, amount: number, currency: string): number {
  const fixed = ZERO_DECIMAL.has(currency) ? 0 : rule.fixed;
  const fee = Math.round((amount * rule.percentBps) / 10_000) + fixed;
  const capped = rule.cap !== undefined ? Math.min(fee, rule.cap) : fee;
  return Math.min(capped, amount);
}
