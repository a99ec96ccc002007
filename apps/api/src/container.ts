import {
  type AdminNoticeEnv,
  adminNoticeNotifierOf,
  BatchingWebhookIngest,
  clockFromEnv,
  createPrismaClient,
  createStripeClient,
  type EndpointAddressPolicy,
  openConnections,
  PrismaIdempotencyStore,
  PrismaLedgerStore,
  PrismaNotificationEndpoints,
  PrismaNotificationSettings,
  PrismaOperationsCounts,
  PrismaPaymentAttemptStore,
  PrismaPaymentMetricsReads,
  PrismaRateLimitStore,
  PrismaReconciliationStore,
  PrismaStore,
  PrismaSupportDesk,
  PrismaWebhookInbox,
  RandomIds,
  readAdminNoticeEnv,
  reconcileAndTell,
  reconcileOnRequest,
  registerPaymentMetrics,
  StripePaymentGateway,
  stripeEndpointOf,
  type WebhookIngestBatching,
  wakeNotifierOf,
} from "@susu/adapters";
import {
  type Entitlements,
  type HeldPaymentPolicy,
  type MarketplacePolicy,
  type PayoutSchedule,
  useCaseDepsOn,
} from "@susu/domain";
import { Container, type ServiceIdentifier } from "inversify";
import type { ApiDeps } from "./app.js";
import { shareWorkerMetrics } from "./cluster.js";
import { createTokenVerifier } from "./http/auth.js";
import { clientIpResolver } from "./http/client-ip.js";
import type { HttpConfig } from "./http/config.js";
import type { HttpInfrastructure } from "./http/install.js";
import { createHttpMetrics } from "./http/metrics.js";
import { createOverloadGuard } from "./http/overload.js";
import { defaultPaymentAttemptLimits } from "./http/payment-attempt-config.js";
import { countRefusals, PaymentAttemptLimiter, type PaymentAttemptLimits } from "./http/payment-attempts.js";
import { createLogger } from "./http/request-log.js";
import { registerCheckoutCounters } from "./v1/checkout-metrics.js";
import { registerOperationsGauges } from "./v1/operations.js";

/** What the API's routes are given. */
export const TOKENS = {
  apiDeps: Symbol("ApiDeps") as ServiceIdentifier<ApiDeps>,
  close: Symbol("close") as ServiceIdentifier<() => Promise<void>>,
  /** Opens the PostgreSQL connections the pool keeps (`API_DB_POOL_MIN`); how many are open. */
  openConnections: Symbol("openConnections") as ServiceIdentifier<() => Promise<number>>,
};

/** The API's composition root: the only place that knows which adapter serves which port. */
export function createContainer(config: {
  readonly databaseUrl: string;
  readonly stripeWebhookSecret: string;
  readonly stripeSecretKey: string;
  /** The Stripe API's address when it is not Stripe's own (the emulator). */
  readonly stripeApiUrl?: string;
  /** The payout schedule of the connected accounts susu creates (manual: susu pays out). */
  readonly payoutSchedule?: PayoutSchedule;
  readonly http: HttpConfig;
  /** The payment-attempt limits (POST /v1/held-payments and any route that starts a payment); default the documented ones. */
  readonly paymentAttempts?: PaymentAttemptLimits;
  readonly logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /** What `GET /metrics` answers when several API processes serve (their aggregate). */
  readonly scrapeMetrics?: () => Promise<string>;
  /** The policy held payments are created under (the domain's defaults when absent). */
  readonly heldPaymentPolicy?: HeldPaymentPolicy;
  /** The policy marketplace charges are created under (the domain's defaults when absent). */
  readonly marketplacePolicy?: MarketplacePolicy;
  /** What people without a membership may do (`SUSU_DEFAULT_ENTITLEMENTS`); everything when absent. */
  readonly defaultEntitlements?: Entitlements;
  /** The time zone of a group created without one (`SUSU_DEFAULT_TIME_ZONE`); UTC when absent. */
  readonly defaultTimeZone?: string;
  /** Connections of the API's PostgreSQL pool (`API_DB_POOL_SIZE`; default 10). */
  readonly dbPoolSize?: number;
  /**
   * How many of them stay open while idle (`API_DB_POOL_MIN`; default all of them), so a
   * burst after a quiet moment does not open them on its requests' time.
   */
  readonly dbPoolMin?: number;
  /** How the webhook endpoint groups deliveries into transactions (`SUSU_WEBHOOK_BATCH_*`; defaults otherwise). */
  readonly webhookBatching?: WebhookIngestBatching;
  /**
   * How the platform's admins are told (`SUSU_ADMIN_EMAILS`, …): an admin's reconciliation run
   * queues their notices. Default: the variables' defaults (no admin addresses, no e-mail).
   */
  readonly adminNotice?: AdminNoticeEnv;
  /** Which notification endpoint URLs the API takes (SUSU_NOTIFY_ENDPOINT_ADDRESSES); default `public`. */
  readonly notifyEndpointAddresses?: EndpointAddressPolicy;
}): Container {
  const container = new Container();
  const poolSize = config.dbPoolSize ?? 10;
  const prisma = createPrismaClient(config.databaseUrl, {
    maxConnections: poolSize,
    minConnections: config.dbPoolMin ?? poolSize,
  });
  // The machine's clock; the simulation's movable one only under `npm run sim` (refused elsewhere).
  const clock = clockFromEnv();
  const store = new PrismaStore(prisma, { clock });
  const useCases = useCaseDepsOn(store, {
    clock,
    ids: new RandomIds(),
    ...(config.payoutSchedule !== undefined ? { payoutSchedule: config.payoutSchedule } : {}),
    ...(config.heldPaymentPolicy !== undefined ? { heldPaymentPolicy: config.heldPaymentPolicy } : {}),
    ...(config.marketplacePolicy !== undefined ? { marketplacePolicy: config.marketplacePolicy } : {}),
    ...(config.defaultEntitlements !== undefined ? { defaultEntitlements: config.defaultEntitlements } : {}),
    ...(config.defaultTimeZone !== undefined ? { defaultTimeZone: config.defaultTimeZone } : {}),
  });
  // One logger for the routes and the adapters: while a request runs, every line carries its id.
  const logger = createLogger({ level: config.logLevel });
  // A wake-up for the scheduler that could not be sent: its polling finds the work instead.
  wakeNotifierOf(prisma).reportFailuresTo((channel, error) =>
    logger.warn({ channel, err: String(error) }, "wake-up not sent; the scheduler's polling finds the work"),
  );
  const metrics = createHttpMetrics(
    config.scrapeMetrics !== undefined ? { scrape: config.scrapeMetrics } : {},
  );
  const http: HttpInfrastructure = {
    config: config.http,
    logger,
    metrics,
    overload: createOverloadGuard(config.http.overload, { registry: metrics.registry }),
    verifier: createTokenVerifier({
      sharedSecret: config.http.auth.sharedSecret,
      jwks: config.http.auth.jwks,
      clockToleranceSeconds: config.http.auth.clockToleranceSeconds,
    }),
    idempotencyStore: new PrismaIdempotencyStore(prisma),
    rateLimitStore: new PrismaRateLimitStore(prisma),
    clientIp: clientIpResolver({ trustedProxyHops: config.http.rateLimit.trustedProxyHops }),
  };
  const counts = new PrismaOperationsCounts(prisma);
  registerOperationsGauges(http.metrics, counts, () => clock.now());
  registerCheckoutCounters(http.metrics, counts);
  registerPaymentMetrics(http.metrics, new PrismaPaymentMetricsReads(prisma), () => clock.now());
  if (config.scrapeMetrics !== undefined) shareWorkerMetrics(http.metrics.registry);
  const inbox = new PrismaWebhookInbox(prisma, clock);
  const reconciliationStore = new PrismaReconciliationStore(prisma);
  const stripe = createStripeClient({
    secretKey: config.stripeSecretKey,
    ...stripeEndpointOf(config.stripeApiUrl),
    timeoutMs: 20_000,
    maxNetworkRetries: 2,
    log: logger,
  });
  const ledger = new PrismaLedgerStore(prisma, { clock });
  const desk = new PrismaSupportDesk(prisma, clock);
  // Queues the admins' notices of an admin's reconciliation run (the scheduler's delivery worker sends them).
  const notifier = adminNoticeNotifierOf(config.adminNotice ?? readAdminNoticeEnv({}), prisma, clock, logger);
  container.bind(TOKENS.apiDeps).toConstantValue({
    http,
    useCases,
    ping: async () => {
      await prisma.$queryRaw`SELECT 1`;
    },
    webhooks: {
      stripeSecret: config.stripeWebhookSecret,
      // Concurrent deliveries share one transaction; each is answered once it committed.
      inbox: new BatchingWebhookIngest(prisma, clock, config.webhookBatching),
      overload: http.overload,
    },
    paymentAttempts: new PaymentAttemptLimiter({
      store: new PrismaPaymentAttemptStore(prisma),
      limits: config.paymentAttempts ?? defaultPaymentAttemptLimits(),
      // The API's one clock (the simulation's under `npm run sim`), as everywhere else.
      now: () => clock.now(),
      onRefused: countRefusals(http.metrics),
    }),
    operations: {
      ledger,
      adjustments: ledger,
      tickets: desk,
      outbox: store,
      inbox,
    },
    notifications: {
      settings: new PrismaNotificationSettings(prisma),
      endpoints: new PrismaNotificationEndpoints(prisma),
      deliveries: new PrismaNotificationEndpoints(prisma),
      endpointAddresses: config.notifyEndpointAddresses ?? "public",
    },
    gateway: new StripePaymentGateway(stripe, { clock }),
    reconciliation: {
      // Pulls the period and the margin around it into stripe_balance_transactions (idempotent),
      // as a stored run does, then compares.
      reconcile: (period) => reconcileOnRequest({ prisma, stripe, now: () => clock.now() }, period),
      reports: reconciliationStore,
      settlements: reconciliationStore,
      // An admin's run of a day: stored, ticketed and told as the scheduler's run is.
      runs: {
        run: (period, ranBy) => reconcileAndTell({ prisma, stripe, desk, notifier, clock }, period, ranBy),
        now: () => clock.now(),
      },
    },
  });
  container.bind(TOKENS.close).toConstantValue(() => prisma.$disconnect());
  container.bind(TOKENS.openConnections).toConstantValue(() => openConnections(prisma));
  return container;
}
