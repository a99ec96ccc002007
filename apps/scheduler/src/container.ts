import {
  adminNoticeNotifierOf,
  CommitNotices,
  clockFromEnv,
  createPrismaClient,
  createStripeClient,
  type DeliveringNotifier,
  NotificationDeliveryWorker,
  PgBossTimerScheduler,
  type PrismaClient,
  PrismaLedgerStore,
  PrismaPaymentAttemptStore,
  PrismaPersonEmails,
  PrismaStore,
  PrismaSupportDesk,
  PrismaWebhookInbox,
  RandomIds,
  SmtpNotifier,
  StripeBillingGateway,
  StripePaymentGateway,
  SystemClock,
  smtpTimeoutsFor,
  stripeEndpointOf,
  type WebhookProcessorContext,
} from "@susu/adapters";
import {
  DEFAULT_MARKETPLACE_POLICY,
  type EffectPorts,
  type OutboxStore,
  type UseCaseDeps,
  useCaseDepsOn,
} from "@susu/domain";
import { Container, type ServiceIdentifier } from "inversify";
import type PgBoss from "pg-boss";
import type { SchedulerEnv } from "./env.js";
import type { ReconciliationJobDeps } from "./jobs/reconciliation.js";
import type { Logger } from "./logger.js";

/** What the scheduler's jobs are given. */
export const TOKENS = {
  useCaseDeps: Symbol("UseCaseDeps") as ServiceIdentifier<UseCaseDeps>,
  effectPorts: Symbol("EffectPorts") as ServiceIdentifier<EffectPorts>,
  outbox: Symbol("OutboxStore") as ServiceIdentifier<OutboxStore>,
  webhooks: Symbol("WebhookProcessorContext") as ServiceIdentifier<WebhookProcessorContext>,
  prisma: Symbol("PrismaClient") as ServiceIdentifier<PrismaClient>,
  reconciliation: Symbol("ReconciliationJobDeps") as ServiceIdentifier<ReconciliationJobDeps>,
  deliveries: Symbol("NotificationDeliveryWorker") as ServiceIdentifier<NotificationDeliveryWorker>,
};

/**
 * The notifier: each notification is queued in the delivery log (PostgreSQL) as one
 * delivery per recipient and channel — e-mail when SUSU_SMTP_URL is set, and the enabled
 * webhook endpoints — for the delivery worker ({@link deliveryWorkerOf}) to send. Admin
 * alerts are deduplicated over SUSU_ADMIN_ALERT_WINDOW_MINUTES and link to their ticket.
 */
export function notifierOf(env: SchedulerEnv, prisma: PrismaClient, log: Logger): DeliveringNotifier {
  return adminNoticeNotifierOf(env, prisma, new SystemClock(), log);
}

/**
 * The worker that sends queued deliveries, SUSU_NOTIFY_CONCURRENCY at once: e-mail through
 * SMTP (when configured; a pool of as many connections) and signed webhooks, to the
 * endpoints SUSU_NOTIFY_ENDPOINT_ADDRESSES allows. Its `close`
 * closes the SMTP connections.
 */
export function deliveryWorkerOf(
  env: SchedulerEnv,
  prisma: PrismaClient,
  workerId: string,
): NotificationDeliveryWorker {
  return new NotificationDeliveryWorker({
    prisma,
    clock: new SystemClock(),
    workerId,
    ...(env.SUSU_SMTP_URL !== undefined
      ? {
          email: new SmtpNotifier({
            transport: env.SUSU_SMTP_URL,
            // readSchedulerEnv refuses SUSU_SMTP_URL without SUSU_MAIL_FROM.
            from: env.SUSU_MAIL_FROM ?? "",
            adminEmails: env.SUSU_ADMIN_EMAILS,
            people: new PrismaPersonEmails(prisma),
            where: { locale: env.SUSU_MAIL_LOCALE, timeZone: env.SUSU_MAIL_TIME_ZONE },
            // A slow mail server fails the send before the worker's lease on it runs out.
            timeouts: smtpTimeoutsFor(env.SUSU_NOTIFY_TIMEOUT_MS),
            // A connection for each delivery the worker sends at once.
            maxConnections: env.SUSU_NOTIFY_CONCURRENCY,
          }),
        }
      : {}),
    retry: {
      maxAttempts: env.SUSU_NOTIFY_MAX_ATTEMPTS,
      baseDelayMs: env.SUSU_NOTIFY_RETRY_BASE_MS,
      maxDelayMs: Math.max(env.SUSU_NOTIFY_RETRY_BASE_MS, 3_600_000),
    },
    timeoutMs: env.SUSU_NOTIFY_TIMEOUT_MS,
    endpointDisableAfterMs: env.SUSU_NOTIFY_ENDPOINT_DISABLE_AFTER_HOURS * 3_600_000,
    concurrency: env.SUSU_NOTIFY_CONCURRENCY,
    endpointAddresses: env.SUSU_NOTIFY_ENDPOINT_ADDRESSES,
  });
}

/** The scheduler's composition root: the only place that knows which adapter serves which port. */
export function createContainer(
  env: SchedulerEnv & { readonly DATABASE_URL: string },
  boss: PgBoss,
  log: Logger,
  workerId = "scheduler",
): Container {
  const container = new Container();
  const prisma = createPrismaClient(env.DATABASE_URL, {
    maxConnections: env.SUSU_DB_POOL_SIZE,
    minConnections: env.SUSU_DB_POOL_MIN,
    // Its named statements (claims, commits, completions) planned once per connection: their
    // generic plans are proven by the claims' plan tests (see SUSU_DB_PLAN_CACHE_MODE).
    planCacheMode: env.SUSU_DB_PLAN_CACHE_MODE,
  });
  // The machine's clock; the simulation's movable one only under `npm run sim` (refused elsewhere).
  const clock = clockFromEnv();
  const notifier = notifierOf(env, prisma, log);
  // Notices (not admin alerts) are queued by the commit that decides them, their outbox rows
  // stored done (see CommitNotices); the rest the dispatcher sends through the same notifier.
  const store = new PrismaStore(prisma, { clock, notices: new CommitNotices(notifier) });
  const stripe = createStripeClient({
    secretKey: env.STRIPE_SECRET_KEY,
    ...stripeEndpointOf(env.STRIPE_API_URL),
    timeoutMs: 20_000,
    maxNetworkRetries: 2,
    log,
  });
  // On the use cases' clock: an effect first decided less than 23 hours ago on it is retried
  // on its Idempotency-Key alone, with no look-up for what an earlier attempt made.
  const gateway = new StripePaymentGateway(stripe, { clock });
  const desk = new PrismaSupportDesk(prisma, clock);
  const deps = useCaseDepsOn(store, {
    clock,
    ids: new RandomIds(),
    payoutSchedule: env.SUSU_CONNECTED_PAYOUT_SCHEDULE,
    marketplacePolicy: {
      ...DEFAULT_MARKETPLACE_POLICY,
      actionExpiryMs: env.SUSU_MARKETPLACE_ACTION_EXPIRY_SECONDS * 1000,
    },
  });
  container.bind(TOKENS.prisma).toConstantValue(prisma);
  container.bind(TOKENS.useCaseDeps).toConstantValue(deps);
  container.bind(TOKENS.outbox).toConstantValue(store);
  container.bind(TOKENS.effectPorts).toConstantValue({
    gateway,
    notifier,
    desk,
    timers: new PgBossTimerScheduler(boss, clock),
    ledger: new PrismaLedgerStore(prisma, { clock }),
    // Memberships: plans' prices and people's subscriptions (Stripe Billing).
    billing: new StripeBillingGateway(stripe),
  });
  container.bind(TOKENS.deliveries).toConstantValue(deliveryWorkerOf(env, prisma, workerId));
  container.bind(TOKENS.reconciliation).toConstantValue({ prisma, stripe, desk, notifier, clock });
  container.bind(TOKENS.webhooks).toConstantValue({
    deps,
    gateway,
    inbox: new PrismaWebhookInbox(prisma, clock),
    // An event's result is stored in the transaction of the state it changed.
    commits: store,
    desk,
    // Failed card charges, for the API's payment-attempt limits (a card that keeps failing is refused).
    paymentFailures: new PrismaPaymentAttemptStore(prisma),
  });
  return container;
}
