import { DEFAULT_EXCHANGE_RATES } from "./fx-rates.js";
import { DEFAULT_FEES, type FeeSchedule } from "./money.js";

/** Webhook chaos: each probability is drawn from a generator seeded with `seed`, so a run replays. */
export interface WebhookChaos {
  seed: number;
  /** Probability that a delivery is sent twice. */
  duplicate?: number;
  /** Probability that the deliveries queued together (one request's events) are shuffled. */
  outOfOrder?: number;
  /** Probability that a delivery is held back `lateMs` (or until the end of a flush). */
  late?: number;
  lateMs?: number;
}

export interface EmulatorOptions {
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  host?: string;
  /** The only secret key the API accepts (default `sk_test_emulator`). */
  secretKey?: string;
  /** Id of the platform account (the one the secret key belongs to). */
  platformAccountId?: string;
  /** An endpoint created at startup that receives the platform's and connected accounts' events. */
  webhookUrl?: string;
  /**
   * The event types that endpoint receives (its `enabled_events`; default `["*"]`, every
   * type). Kept in step with the option at every start, as its URL and secret are.
   */
  webhookEnabledEvents?: readonly string[];
  /** Signing secret of that endpoint (default: generated, `whsec_…`). */
  webhookSecret?: string;
  /** Keep state as JSON in this folder, loaded at start and saved on change and on stop. */
  dataDir?: string;
  /** Emulator clock at start, Unix seconds (default: the real time). */
  startTime?: number;
  /** How long a BECS debit stays `processing` (default 3 days). */
  settlementDelaySeconds?: number;
  /** Extra delay of the "after 3 minutes" BECS test numbers (default 180 s). */
  delayedSettlementExtraSeconds?: number;
  /** How long charge funds stay pending before they are available (default 2 days). */
  availabilityDelaySeconds?: number;
  /** When the asynchronous refund test cards (4000000000005126, 4000000000007726) change their refund's status (default 60 s). */
  asyncRefundDelaySeconds?: number;
  /** How long a standard payout stays `pending` before it is `in_transit` (default 1 hour). */
  payoutInTransitSeconds?: number;
  /** When a standard payout arrives (`arrival_date`), after its creation (default 2 days). */
  payoutArrivalSeconds?: number;
  /** The platform's default (settlement) currency (default `aud`). */
  settlementCurrency?: string;
  /** Units of each currency per US dollar, for charges in another currency than the account's (default: `DEFAULT_EXCHANGE_RATES`). */
  exchangeRates?: Record<string, number>;
  /** Stripe fees charged on charges and disputes; `false` for none. */
  fees?: Partial<FeeSchedule> | false;
  /**
   * The payment methods "turned on in the Dashboard", by lower-case currency: what a
   * Checkout Session that names no `payment_method_types` offers (Stripe's dynamic payment
   * methods). Default: `card` for every currency.
   */
  dynamicPaymentMethodTypes?: Record<string, string[]>;
  /** How long idempotency keys are kept, on the emulator clock (default 24 h). */
  idempotencyRetentionSeconds?: number;
  /** Emulator-clock delays between webhook attempts; its length is the number of retries (default 3). */
  webhookRetryDelaysSeconds?: number[];
  /**
   * Also retry failed webhook deliveries on real timers, `ms · 2^(attempt−1)` after a failure,
   * so a dev stack recovers without advancing the clock; `null` (the library default) turns
   * this off for deterministic tests.
   */
  webhookRealTimeRetryMs?: number | null;
  /** How long a webhook receiver may take to answer (default 10 s). */
  webhookTimeoutMs?: number;
  /** Deliveries in flight per endpoint (default 1, which keeps them in event order). */
  webhookConcurrency?: number;
  webhookChaos?: WebhookChaos | null;
  /** Lifetime of account links (default 300 s). */
  accountLinkTtlSeconds?: number;
  /** Delays of automatic retries of failed subscription invoices (default 3, 5 and 7 days). */
  invoiceRetryDelaysSeconds?: number[];
  /** API version reported in events and responses (default: the SDK's). */
  apiVersion?: string;
  /** One line per request and delivery (default: silent). */
  log?: (line: string) => void;
}

export interface ResolvedOptions {
  port: number;
  host: string;
  secretKey: string;
  platformAccountId: string;
  webhookUrl: string | null;
  webhookEnabledEvents: string[];
  webhookSecret: string | null;
  dataDir: string | null;
  startTime: number;
  settlementDelaySeconds: number;
  delayedSettlementExtraSeconds: number;
  availabilityDelaySeconds: number;
  asyncRefundDelaySeconds: number;
  payoutInTransitSeconds: number;
  payoutArrivalSeconds: number;
  settlementCurrency: string;
  exchangeRates: Record<string, number>;
  fees: FeeSchedule;
  dynamicPaymentMethodTypes: Record<string, string[]>;
  idempotencyRetentionSeconds: number;
  webhookRetryDelaysSeconds: number[];
  webhookRealTimeRetryMs: number | null;
  webhookTimeoutMs: number;
  webhookConcurrency: number;
  webhookChaos: WebhookChaos | null;
  accountLinkTtlSeconds: number;
  invoiceRetryDelaysSeconds: number[];
  apiVersion: string;
  log: ((line: string) => void) | null;
}

const DAY = 86_400;
export const DEFAULT_API_VERSION = "2026-08-26.dahlia";

/** The configured endpoint's types: `*` alone, or distinct type names (an empty list is refused, as Stripe refuses it). */
function enabledEventsOf(types: readonly string[] | undefined): string[] {
  if (types === undefined) return ["*"];
  const distinct = [...new Set(types)];
  if (distinct.length === 0) throw new RangeError("webhookEnabledEvents must name at least one event type");
  if (distinct.some((t) => typeof t !== "string" || !/^(\*|[a-z_]+(\.[a-z_]+)+)$/.test(t)))
    throw new RangeError(`webhookEnabledEvents must be event types or "*", got ${JSON.stringify(types)}`);
  return distinct;
}

export function resolveOptions(options: EmulatorOptions): ResolvedOptions {
  const fees =
    options.fees === false
      ? { card: { percentBps: 0, fixed: 0 }, au_becs_debit: { percentBps: 0, fixed: 0 }, dispute: 0 }
      : { ...DEFAULT_FEES, ...(options.fees ?? {}) };
  return {
    port: options.port ?? 0,
    host: options.host ?? "127.0.0.1",
    secretKey: options.secretKey ?? "sk_test_emulator",
    platformAccountId: options.platformAccountId ?? "acct_1EmulatorPlatform00",
    webhookUrl: options.webhookUrl ?? null,
    webhookEnabledEvents: enabledEventsOf(options.webhookEnabledEvents),
    webhookSecret: options.webhookSecret ?? null,
    dataDir: options.dataDir ?? null,
    startTime: options.startTime ?? Math.floor(Date.now() / 1000),
    settlementDelaySeconds: options.settlementDelaySeconds ?? 3 * DAY,
    delayedSettlementExtraSeconds: options.delayedSettlementExtraSeconds ?? 180,
    availabilityDelaySeconds: options.availabilityDelaySeconds ?? 2 * DAY,
    asyncRefundDelaySeconds: options.asyncRefundDelaySeconds ?? 60,
    payoutInTransitSeconds: options.payoutInTransitSeconds ?? 3600,
    payoutArrivalSeconds: options.payoutArrivalSeconds ?? 2 * DAY,
    settlementCurrency: (options.settlementCurrency ?? "aud").toLowerCase(),
    exchangeRates: { ...DEFAULT_EXCHANGE_RATES, ...(options.exchangeRates ?? {}) },
    fees,
    dynamicPaymentMethodTypes: Object.fromEntries(
      Object.entries(options.dynamicPaymentMethodTypes ?? {}).map(([c, t]) => [c.toLowerCase(), [...t]]),
    ),
    idempotencyRetentionSeconds: options.idempotencyRetentionSeconds ?? DAY,
    webhookRetryDelaysSeconds: options.webhookRetryDelaysSeconds ?? [3600, 3 * 3600, 6 * 3600],
    webhookRealTimeRetryMs: options.webhookRealTimeRetryMs ?? null,
    webhookTimeoutMs: options.webhookTimeoutMs ?? 10_000,
    webhookConcurrency: Math.max(1, options.webhookConcurrency ?? 1),
    webhookChaos: options.webhookChaos ?? null,
    accountLinkTtlSeconds: options.accountLinkTtlSeconds ?? 300,
    invoiceRetryDelaysSeconds: options.invoiceRetryDelaysSeconds ?? [3 * DAY, 5 * DAY, 7 * DAY],
    apiVersion: options.apiVersion ?? DEFAULT_API_VERSION,
    log: options.log ?? null,
  };
}
