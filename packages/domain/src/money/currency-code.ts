/**
 * The ISO 4217 codes susu can hold money in: the currencies Stripe settles most,
 * including zero-decimal ones (JPY, KRW, VND, CLP, PYG) and three-decimal ones
 * (BHD, JOD, KWD, OMR, TND). Upper case here; Stripe's wire format is lower case,
 * which is the Stripe adapter's concern.
 */
export type CurrencyCode =
  | "AED"
  | "AUD"
  | "BGN"
  | "BHD"
  | "BRL"
  | "CAD"
  | "CHF"
  | "CLP"
  | "CZK"
  | "DKK"
  | "EUR"
  | "GBP"
  | "HKD"
  | "HUF"
  | "IDR"
  | "INR"
  | "JOD"
  | "JPY"
  | "KRW"
  | "KWD"
  | "MXN"
  | "MYR"
  | "NOK"
  | "NZD"
  | "OMR"
  | "PLN"
  | "PYG"
  | "RON"
  | "SEK"
  | "SGD"
  | "THB"
  | "TND"
  | "USD"
  | "VND";
