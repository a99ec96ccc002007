import type { CurrencyCode } from "../money/index.js";

/**
 * The debit methods susu collects contributions with, and the currencies each can
 * collect. The one place that says which group currencies are possible: a currency no
 * method here collects is refused when a group is created. BECS Direct Debit (Australian
 * bank accounts) debits AUD only; add a method here (and to the payment gateway) to open
 * another currency.
 */
export const DEBIT_METHODS = [{ method: "au_becs_debit", currencies: ["AUD"] }] as const satisfies readonly {
  readonly method: string;
  readonly currencies: readonly CurrencyCode[];
}[];

/** A debit method susu supports. */
export type DebitMethod = (typeof DEBIT_METHODS)[number]["method"];

/** Every currency some supported debit method collects. */
export const COLLECTABLE_CURRENCIES: readonly CurrencyCode[] = [
  ...new Set(DEBIT_METHODS.flatMap((m): readonly CurrencyCode[] => m.currencies)),
];

/** The debit method that collects `currency`, or undefined when none does. */
export function debitMethodFor(currency: CurrencyCode): DebitMethod | undefined {
  return DEBIT_METHODS.find((m) => (m.currencies as readonly CurrencyCode[]).includes(currency))?.method;
}
