// Reconciliation: susu's ledger against Stripe's balance transactions for one period.
//
// Pure: it takes both sides already reduced to comparable items (see susu-items.ts and
// stripe-items.ts for how a ledger transaction and a stored balance transaction become
// one) and returns every difference with a stable code, and totals per currency and
// category on both sides.
//
// How items are matched. Each susu item names one match key (`effect:<effect id>` for
// what susu made at Stripe with an Idempotency-Key and `effect_id` metadata,
// `object:<Stripe id>` where the ledger carries the Stripe id, `held_charge:<payment>`
// for a held payment's charge). Each Stripe item offers several keys (its source's id,
// its `effect_id` metadata, …). Items are grouped by key and compared as sums, signed
// from the platform balance's point of view (money in positive), in the charge's own
// (presentment) currency: a partial refund, a dispute's withdrawal and reinstatement or
// a BECS debit and its failure are several items under one key.
//
// Codes (stable: reports, the CSV and the API show them):
// - missing_in_susu     Stripe moved money that susu's ledger does not know.
// - missing_at_stripe   susu's ledger records a movement Stripe has no record of.
// - currency_mismatch   both know it, in different currencies.
// - amount_mismatch     both know it, for different amounts.
// - status_mismatch     both know it but one side records a failure, reversal or
//                       withdrawal the other does not (a BECS debit failed at Stripe while
//                       susu still has it in flight; a transfer of susu's reversed at
//                       Stripe that susu never heard of).
// - fee_mismatch        an application fee differs.
// - unmatched_payout    a payout that failed or was cancelled (its money went back to the
//                       balance instead of the bank), or one susu recorded that Stripe
//                       does not have.
// - membership_lookup_failed
//                       Stripe moved money for a charge or refund naming nothing of susu's,
//                       and refused to say which invoice it paid (the look-up through its
//                       PaymentIntent's invoice payment failed with a 4xx): it may be a
//                       membership's, whose invoice then shows as missing_at_stripe.

/** What kind of money movement an item is, for totals and for the CSV. */
export type ReconciliationCategory =
  | "charge"
  | "refund"
  | "transfer"
  | "transfer_reversal"
  | "dispute"
  | "application_fee"
  | "payout"
  | "other";

/** Every category, in report order. */
export const RECONCILIATION_CATEGORIES: readonly ReconciliationCategory[] = [
  "charge",
  "refund",
  "transfer",
  "transfer_reversal",
  "dispute",
  "application_fee",
  "payout",
  "other",
];

/** A comparable movement from susu's ledger (one ledger transaction). */
export interface SusuMoneyItem {
  readonly ledgerTransactionId: string;
  /** The ledger transaction's kind. */
  readonly kind: string;
  readonly category: ReconciliationCategory;
  /** What it is matched on (see the top of this file). */
  readonly key: string;
  /** Minor units, signed from the platform balance's point of view (money in > 0). */
  readonly signedMinor: number;
  /** ISO 4217, upper case: the ledger's (the charge's) currency. */
  readonly currency: string;
  /** Epoch ms. */
  readonly occurredAt: number;
  /** A failure, reversal or withdrawal (a debit that failed): its absence on the other side is a status difference. */
  readonly statusChange?: boolean;
  /** The Stripe object the ledger names where its key does not (a membership invoice's refund): shown in a difference. */
  readonly stripeObjectId?: string;
}

/** A comparable movement at Stripe (one balance transaction, with its source). */
export interface StripeMoneyItem {
  readonly balanceTransactionId: string;
  /** Stripe's balance transaction `type`. */
  readonly type: string;
  readonly category: ReconciliationCategory;
  /** The source object's id (`ch_…`, `re_…`, `tr_…`, `trr_…`, `du_…`, `po_…`), if any. */
  readonly sourceId: string | null;
  /** What it can be matched on; the first one names it when nothing matches. */
  readonly keys: readonly string[];
  /** Minor units in the presentment currency (the source's), signed as {@link SusuMoneyItem.signedMinor}. */
  readonly signedMinor: number;
  /** The presentment currency, upper case. */
  readonly currency: string;
  /** The balance transaction's own amount, fee and net (settlement currency, signed as Stripe does). */
  readonly settlementMinor: number;
  readonly settlementCurrency: string;
  readonly feeMinor: number;
  readonly netMinor: number;
  /** Stripe's `exchange_rate`; null when nothing was converted. */
  readonly exchangeRate: number | null;
  /** Epoch ms. */
  readonly created: number;
  /** A failure, reversal or withdrawal (`payment_failure_refund`, a dispute reinstated). */
  readonly statusChange?: boolean;
  /** For a transfer reversal: the reversed transfer was made by susu (it carries susu's metadata). */
  readonly reversesSusuTransfer?: boolean;
  /** For a payout: its status at Stripe (paid, in_transit, pending, failed, canceled). */
  readonly payoutStatus?: string;
  /** Why the look-up of its membership invoice failed for good (see `membership_lookup_failed`). */
  readonly lookupFailure?: string;
}

/** The stable code of a difference; see the top of this file. */
export type DifferenceCode =
  | "missing_in_susu"
  | "missing_at_stripe"
  | "currency_mismatch"
  | "amount_mismatch"
  | "status_mismatch"
  | "fee_mismatch"
  | "unmatched_payout"
  | "membership_lookup_failed";

/** Every code, in report order. */
export const DIFFERENCE_CODES: readonly DifferenceCode[] = [
  "missing_in_susu",
  "missing_at_stripe",
  "currency_mismatch",
  "amount_mismatch",
  "status_mismatch",
  "fee_mismatch",
  "unmatched_payout",
  "membership_lookup_failed",
];

/** One difference between the two sides. */
export interface ReconciliationDifference {
  readonly code: DifferenceCode;
  readonly category: ReconciliationCategory;
  /** The match key both sides were grouped on. */
  readonly key: string;
  /** susu's sum (its currency), or null when susu has nothing. */
  readonly susuMinor: number | null;
  readonly susuCurrency: string | null;
  /** Stripe's sum in the presentment currency, or null when Stripe has nothing. */
  readonly stripeMinor: number | null;
  readonly stripeCurrency: string | null;
  /** The ledger transaction ids involved. */
  readonly ledgerTransactionIds: readonly string[];
  /** The balance transaction ids involved. */
  readonly balanceTransactionIds: readonly string[];
  /** The Stripe objects involved (charges, refunds, transfers…). */
  readonly stripeObjectIds: readonly string[];
  /** The earliest time of the items involved, epoch ms. */
  readonly at: number;
  /** One sentence for a person. */
  readonly detail: string;
}

/** One line of the totals: a currency and a category, both sides. */
export interface ReconciliationTotal {
  readonly currency: string;
  readonly category: ReconciliationCategory;
  readonly susuMinor: number;
  readonly susuCount: number;
  readonly stripeMinor: number;
  readonly stripeCount: number;
}

/** What Stripe's balance moved by in one settlement currency: gross, fees, net. */
export interface SettlementTotal {
  readonly currency: string;
  readonly amountMinor: number;
  readonly feeMinor: number;
  readonly netMinor: number;
  readonly count: number;
}

/** The outcome of {@link reconcile}. */
export interface ReconciliationResult {
  /** Match keys both sides agree on. */
  readonly matched: number;
  /** Every difference, ordered by category, then time, then key. */
  readonly differences: readonly ReconciliationDifference[];
  /** Per currency (presentment) and category, both sides. */
  readonly totals: readonly ReconciliationTotal[];
  /** Stripe's balance transactions per settlement currency, with Stripe's fees. */
  readonly settlement: readonly SettlementTotal[];
  /** Payouts at Stripe that susu's ledger does not track (paid or on their way), counted, not differences. */
  readonly payoutsNotTracked: number;
  /**
   * Movements at Stripe that susu's ledger does not record but that were undone in the
   * period, so no money moved (a dispute withdrawn and won back, a payment that failed):
   * counted, not differences.
   */
  readonly undoneAtStripe: number;
  /**
   * Stripe's own movements on the platform's balance, which susu's ledger does not and cannot
   * record (see {@link STRIPE_ACCOUNT_TYPES}: its fees billed to the account, reserves, tax,
   * top-ups): counted, not differences. Missing in reports stored before it was counted.
   */
  readonly stripeAccountMovements?: number;
}

/**
 * Balance transaction types that are Stripe's dealings with the platform account itself, not
 * a movement susu makes or receives (Stripe's "Balance transaction types" reference): its
 * fees billed to the balance (`stripe_fee`: Connect, Radar, Billing…; `stripe_fx_fee`;
 * `tax_fee`), reserves it holds and releases (`reserve_transaction`, `reserved_funds`,
 * `reserve_hold`, `reserve_release`, `payment_network_reserve_hold`/`_release`,
 * `payout_minimum_balance_hold`/`_release`), Climate contributions (`contribution`,
 * `climate_order_purchase`/`_refund`), top-ups (`topup`, `topup_reversal`) and Stripe's
 * advances (`advance`, `advance_funding`, `anticipation_repayment`). They happen in normal
 * operation every day, so they are counted (`stripeAccountMovements`), shown in the settlement
 * totals, and never reported as `missing_in_susu`.
 */
export const STRIPE_ACCOUNT_TYPES: ReadonlySet<string> = new Set([
  "stripe_fee",
  "stripe_fx_fee",
  "tax_fee",
  "tax_fund",
  "reserve_transaction",
  "reserved_funds",
  "reserve_hold",
  "reserve_release",
  "payment_network_reserve_hold",
  "payment_network_reserve_release",
  "payout_minimum_balance_hold",
  "payout_minimum_balance_release",
  "contribution",
  "climate_order_purchase",
  "climate_order_refund",
  "topup",
  "topup_reversal",
  "advance",
  "advance_funding",
  "anticipation_repayment",
]);

interface Group<T> {
  readonly key: string;
  readonly items: T[];
}

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Group<T>[] {
  const groups = new Map<string, Group<T>>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, { key, items: [item] });
    else group.items.push(item);
  }
  return [...groups.values()];
}

const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);
const unique = (values: readonly string[]): string[] => [...new Set(values)].sort();

/** The one currency of a side, or `null` when it has several (itself a currency mismatch). */
function currencyOf(items: readonly { readonly currency: string }[]): string | null {
  const currencies = new Set(items.map((i) => i.currency));
  return currencies.size === 1 ? [...currencies][0]! : null;
}

function difference(
  code: DifferenceCode,
  key: string,
  susu: readonly SusuMoneyItem[],
  stripe: readonly StripeMoneyItem[],
  detail: string,
): ReconciliationDifference {
  const category = susu[0]?.category ?? stripe[0]?.category ?? "other";
  const times = [...susu.map((i) => i.occurredAt), ...stripe.map((i) => i.created)];
  return {
    code,
    category,
    key,
    susuMinor: susu.length > 0 ? sum(susu.map((i) => i.signedMinor)) : null,
    susuCurrency:
      susu.length > 0 ? (currencyOf(susu) ?? unique(susu.map((i) => i.currency)).join("+")) : null,
    stripeMinor: stripe.length > 0 ? sum(stripe.map((i) => i.signedMinor)) : null,
    stripeCurrency:
      stripe.length > 0 ? (currencyOf(stripe) ?? unique(stripe.map((i) => i.currency)).join("+")) : null,
    ledgerTransactionIds: unique(susu.map((i) => i.ledgerTransactionId)),
    balanceTransactionIds: unique(stripe.map((i) => i.balanceTransactionId)),
    stripeObjectIds: unique([
      ...stripe.flatMap((i) => (i.sourceId === null ? [] : [i.sourceId])),
      ...susu.flatMap((i) => (i.stripeObjectId === undefined ? [] : [i.stripeObjectId])),
    ]),
    at: Math.min(...times),
    detail,
  };
}

/** Compares one key both sides know; `undefined` when they agree. */
function compare(
  key: string,
  susu: readonly SusuMoneyItem[],
  stripe: readonly StripeMoneyItem[],
): ReconciliationDifference | undefined {
  const susuCurrency = currencyOf(susu);
  const stripeCurrency = currencyOf(stripe);
  if (susuCurrency === null || stripeCurrency === null || susuCurrency !== stripeCurrency)
    return difference(
      "currency_mismatch",
      key,
      susu,
      stripe,
      "susu and Stripe record this movement in different currencies",
    );
  const susuMinor = sum(susu.map((i) => i.signedMinor));
  const stripeMinor = sum(stripe.map((i) => i.signedMinor));
  if (susuMinor === stripeMinor) return undefined;
  const category = susu[0]?.category ?? "other";
  if (category === "application_fee")
    return difference("fee_mismatch", key, susu, stripe, "the application fee differs");
  const susuStatus = susu.some((i) => i.statusChange === true);
  const stripeStatus = stripe.some((i) => i.statusChange === true);
  if (susuStatus !== stripeStatus)
    return difference(
      "status_mismatch",
      key,
      susu,
      stripe,
      stripeStatus
        ? "Stripe records a failure, reversal or withdrawal that susu does not"
        : "susu records a failure, reversal or withdrawal that Stripe does not",
    );
  return difference("amount_mismatch", key, susu, stripe, "susu and Stripe record different amounts");
}

/** Movements of one key that include a failure, reversal or withdrawal and sum to nothing. */
const undone = (items: readonly (SusuMoneyItem | StripeMoneyItem)[]): boolean =>
  items.some((i) => i.statusChange === true) && sum(items.map((i) => i.signedMinor)) === 0;

/** What Stripe has that susu's ledger does not claim: a difference, or why it is none. */
function unclaimed(
  key: string,
  stripe: readonly StripeMoneyItem[],
): ReconciliationDifference | "payout_not_tracked" | "undone" | "stripe_account" {
  const category = stripe[0]?.category ?? "other";
  if (stripe.every((i) => STRIPE_ACCOUNT_TYPES.has(i.type))) return "stripe_account";
  if (category === "payout") {
    const failed = stripe.some((i) => i.payoutStatus === "failed" || i.payoutStatus === "canceled");
    return failed
      ? difference("unmatched_payout", key, [], stripe, "the payout failed or was cancelled at Stripe")
      : "payout_not_tracked";
  }
  if (undone(stripe)) return "undone";
  const failure = stripe.find((i) => i.lookupFailure !== undefined)?.lookupFailure;
  if (failure !== undefined)
    return difference(
      "membership_lookup_failed",
      key,
      [],
      stripe,
      `Stripe refused to say which membership invoice this paid: ${failure}`,
    );
  if (category === "transfer_reversal" && stripe.some((i) => i.reversesSusuTransfer === true))
    return difference(
      "status_mismatch",
      key,
      [],
      stripe,
      "a transfer susu made was reversed at Stripe, and susu does not know",
    );
  return difference(
    "missing_in_susu",
    key,
    [],
    stripe,
    "Stripe moved money that susu's ledger does not record",
  );
}

function totalsOf(susu: readonly SusuMoneyItem[], stripe: readonly StripeMoneyItem[]): ReconciliationTotal[] {
  const lines = new Map<string, ReconciliationTotal>();
  const line = (currency: string, category: ReconciliationCategory): ReconciliationTotal => {
    const id = `${currency}|${category}`;
    const existing = lines.get(id);
    if (existing !== undefined) return existing;
    const fresh = { currency, category, susuMinor: 0, susuCount: 0, stripeMinor: 0, stripeCount: 0 };
    lines.set(id, fresh);
    return fresh;
  };
  for (const i of susu) {
    const l = line(i.currency, i.category);
    lines.set(`${i.currency}|${i.category}`, {
      ...l,
      susuMinor: l.susuMinor + i.signedMinor,
      susuCount: l.susuCount + 1,
    });
  }
  for (const i of stripe) {
    const l = line(i.currency, i.category);
    lines.set(`${i.currency}|${i.category}`, {
      ...l,
      stripeMinor: l.stripeMinor + i.signedMinor,
      stripeCount: l.stripeCount + 1,
    });
  }
  const order = (c: ReconciliationCategory) => RECONCILIATION_CATEGORIES.indexOf(c);
  return [...lines.values()].sort(
    (a, b) => a.currency.localeCompare(b.currency) || order(a.category) - order(b.category),
  );
}

function settlementOf(stripe: readonly StripeMoneyItem[]): SettlementTotal[] {
  return groupBy(stripe, (i) => i.settlementCurrency)
    .map(({ key, items }) => ({
      currency: key,
      amountMinor: sum(items.map((i) => i.settlementMinor)),
      feeMinor: sum(items.map((i) => i.feeMinor)),
      netMinor: sum(items.map((i) => i.netMinor)),
      count: items.length,
    }))
    .sort((a, b) => a.currency.localeCompare(b.currency));
}

/**
 * Stripe items that share a key are one movement (a debit and its failure, a dispute's
 * withdrawal and reinstatement): the groups are the connected components of shared keys,
 * each named by its first item's first key.
 */
function connected(items: readonly StripeMoneyItem[]): Group<StripeMoneyItem>[] {
  const parent = items.map((_, i) => i);
  const root = (i: number): number => {
    let r = i;
    while (parent[r] !== r) r = parent[r]!;
    parent[i] = r;
    return r;
  };
  const firstWithKey = new Map<string, number>();
  items.forEach((item, i) => {
    for (const key of item.keys) {
      const other = firstWithKey.get(key);
      if (other === undefined) firstWithKey.set(key, i);
      else parent[root(i)] = root(other);
    }
  });
  const groups = new Map<number, Group<StripeMoneyItem>>();
  items.forEach((item, i) => {
    const r = root(i);
    const group = groups.get(r);
    if (group === undefined) {
      groups.set(r, { key: item.keys[0] ?? item.balanceTransactionId, items: [item] });
    } else group.items.push(item);
  });
  return [...groups.values()];
}

/**
 * Compares susu's items with Stripe's for one period and reports every difference once.
 * A Stripe item is claimed by the first susu key it offers (in the order of susu's keys,
 * sorted), so no Stripe movement is counted twice.
 */
export function reconcile(
  susuItems: readonly SusuMoneyItem[],
  stripeItems: readonly StripeMoneyItem[],
): ReconciliationResult {
  const byKey = new Map<string, number[]>();
  stripeItems.forEach((item, index) => {
    for (const key of new Set(item.keys)) {
      const list = byKey.get(key);
      if (list === undefined) byKey.set(key, [index]);
      else list.push(index);
    }
  });
  const claimed = new Set<number>();
  const differences: ReconciliationDifference[] = [];
  let matched = 0;
  const susuGroups = groupBy(susuItems, (i) => i.key).sort((a, b) => a.key.localeCompare(b.key));
  for (const { key, items } of susuGroups) {
    const indices = (byKey.get(key) ?? []).filter((i) => !claimed.has(i));
    for (const i of indices) claimed.add(i);
    const stripe = indices.map((i) => stripeItems[i]!);
    // What susu booked and undid within the period (a withdrawal undone beside the loss it
    // became) moved nothing: as on Stripe's side, it is no difference.
    if (stripe.length === 0 && undone(items)) continue;
    if (stripe.length === 0) {
      const payout = items[0]?.category === "payout";
      differences.push(
        difference(
          payout ? "unmatched_payout" : "missing_at_stripe",
          key,
          items,
          [],
          payout ? "susu records a payout Stripe does not have" : "Stripe has no record of this movement",
        ),
      );
      continue;
    }
    const found = compare(key, items, stripe);
    if (found === undefined) matched += 1;
    else differences.push(found);
  }
  const rest = stripeItems.filter((_, i) => !claimed.has(i));
  let payoutsNotTracked = 0;
  let undoneAtStripe = 0;
  let stripeAccountMovements = 0;
  for (const { key, items } of connected(rest)) {
    const found = unclaimed(key, items);
    if (found === "payout_not_tracked") payoutsNotTracked += 1;
    else if (found === "undone") undoneAtStripe += 1;
    else if (found === "stripe_account") stripeAccountMovements += items.length;
    else differences.push(found);
  }
  const order = (c: ReconciliationCategory) => RECONCILIATION_CATEGORIES.indexOf(c);
  differences.sort(
    (a, b) => order(a.category) - order(b.category) || a.at - b.at || a.key.localeCompare(b.key),
  );
  return {
    matched,
    differences,
    totals: totalsOf(susuItems, stripeItems),
    settlement: settlementOf(stripeItems),
    payoutsNotTracked,
    undoneAtStripe,
    stripeAccountMovements,
  };
}

/** A period [from, to) in epoch ms. */
interface Period {
  readonly from: number;
  readonly to: number;
}

/**
 * Compares one period, finding counterparts around it. susu's ledger dates a movement when
 * susu processed it (a webhook applied, an effect run), Stripe when it created it, so the two
 * records of one movement can fall on either side of the period's bound (Stripe at 23:59:59,
 * susu at 00:00:00.5 the next day). The items given cover the period widened on both sides
 * (by `RECONCILIATION_MATCH_MARGIN_MS`); the period's own items are reconciled, and each
 * difference they show is looked at again over the widened window:
 *
 * - matched there (its counterpart was just across the bound): no difference on either day;
 * - still a difference there: reported, with every item of the widened window it involves.
 *
 * So a difference is never hidden: every item of one is the period's own on some day, and
 * that day reports it unless the widened window explains it. A difference whose items lie
 * on both sides of the bound, within the margin, is reported by both days (the same items,
 * seen from each side); a difference seen from one day only is reported there. Widening
 * only takes differences away: a key the period's own items agree on is no difference,
 * whatever lies outside the period. The totals, the settlement and the counts are the
 * period's own items'; `matched` also counts the period's differences matched across the bound.
 */
export function reconcileAround(
  susuItems: readonly SusuMoneyItem[],
  stripeItems: readonly StripeMoneyItem[],
  period: Period,
): ReconciliationResult {
  const within = (t: number) => t >= period.from && t < period.to;
  const own = reconcile(
    susuItems.filter((i) => within(i.occurredAt)),
    stripeItems.filter((i) => within(i.created)),
  );
  if (own.differences.length === 0) return own;
  const wide = reconcile(susuItems, stripeItems);
  const itemsOf = (d: ReconciliationDifference) => [
    ...d.ledgerTransactionIds.map((id) => `susu:${id}`),
    ...d.balanceTransactionIds.map((id) => `stripe:${id}`),
  ];
  const ownItems = new Set(own.differences.flatMap(itemsOf));
  const differences = wide.differences.filter((d) => itemsOf(d).some((item) => ownItems.has(item)));
  // The period's differences whose items are in none reported: matched across the bound.
  const reported = new Set(differences.flatMap(itemsOf));
  const matchedAcross = own.differences.filter((d) => !itemsOf(d).some((item) => reported.has(item))).length;
  return { ...own, differences, matched: own.matched + matchedAcross };
}
