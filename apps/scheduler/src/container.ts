import {
  createPrismaClient,
  createStripeClient,
  LogNotifier,
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
  stripeEndpointOf,
  type WebhookProcessorContext,
} from "@susu/adapters";
import {
  type EffectPorts,
  type Notifier,
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
};

/** E-mail through SMTP when SUSU_SMTP_URL is set; log lines otherwise. */
export function notifierOf(env: SchedulerEnv, prisma: PrismaClient, log: Logger): Notifier {
  if (env.SUSU_SMTP_URL === undefined) return new LogNotifier(log);
  return new SmtpNotifier({
    transport: env.SUSU_SMTP_URL,
    // readSchedulerEnv refuses SUSU_SMTP_URL without SUSU_MAIL_FROM.
    from: env.SUSU_MAIL_FROM ?? "",
    adminEmails: env.SUSU_ADMIN_EMAILS,
    people: new PrismaPersonEmails(prisma),
    where: { locale: env.SUSU_MAIL_LOCALE, timeZone: env.SUSU_MAIL_TIME_ZONE },
    log,
  });
}

/** The scheduler's composition root: the only place that knows which adapter serves which port. */
export function createContainer(
  env: SchedulerEnv & { readonly DATABASE_URL: string },
  boss: PgBoss,
  log: Logger,
): Container {
  const container = new Container();
  const prisma = createPrismaClient(env.DATABASE_URL);
  const clock = new SystemClock();
  const store = new PrismaStore(prisma);
  const stripe = createStripeClient({
    secretKey: env.STRIPE_SECRET_KEY,
    ...stripeEndpointOf(env.STRIPE_API_URL),
    timeoutMs: 20_000,
    maxNetworkRetries: 2,
    log,
  });
  const gateway = new StripePaymentGateway(stripe);
  const desk = new PrismaSupportDesk(prisma, clock);
  const deps = useCaseDepsOn(store, {
    clock,
    ids: new RandomIds(),
    payoutSchedule: env.SUSU_CONNECTED_PAYOUT_SCHEDULE,
  });
  container.bind(TOKENS.prisma).toConstantValue(prisma);
  container.bind(TOKENS.useCaseDeps).toConstantValue(deps);
  container.bind(TOKENS.outbox).toConstantValue(store);
  container.bind(TOKENS.effectPorts).toConstantValue({
    gateway,
    notifier: notifierOf(env, prisma, log),
    desk,
    timers: new PgBossTimerScheduler(boss),
    ledger: new PrismaLedgerStore(prisma),
    // Memberships: plans' prices and people's subscriptions (Stripe Billing).
    billing: new StripeBillingGateway(stripe),
  });
  container.bind(TOKENS.reconciliation).toConstantValue({ prisma, stripe, desk, clock });
  container.bind(TOKENS.webhooks).toConstantValue({
    deps,
    gateway,
    inbox: new PrismaWebhookInbox(prisma, clock),
    desk,
    // Failed card charges, for the API's payment-attempt limits (a card that keeps failing is refused).
    paymentFailures: new PrismaPaymentAttemptStore(prisma),
  });
  return container;
}
