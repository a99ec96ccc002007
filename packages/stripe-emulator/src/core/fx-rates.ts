/**
 * The emulator's fixed exchange rates: units of each currency per US dollar (a round
 * approximation, not market data). Set `exchangeRates` to use others; a currency missing from
 * the table converts at the US dollar's rate.
 */
export const DEFAULT_EXCHANGE_RATES: Record<string, number> = {
  usd: 1,
  aud: 1.5,
  nzd: 1.65,
  eur: 0.92,
  gbp: 0.79,
  cad: 1.36,
  chf: 0.88,
  sgd: 1.34,
  hkd: 7.8,
  jpy: 150,
  krw: 1350,
  inr: 83,
  cny: 7.2,
  idr: 15_700,
  php: 56,
  thb: 36,
  myr: 4.7,
  fjd: 2.25,
  pgk: 3.75,
  dkk: 6.9,
  nok: 10.6,
  sek: 10.5,
  pln: 4,
  czk: 23,
  huf: 360,
  mxn: 17,
  brl: 5,
  zar: 18.5,
  aed: 3.67,
  kwd: 0.31,
};
