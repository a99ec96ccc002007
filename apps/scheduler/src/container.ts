import {
  createPrismaClient,
  createStripeClient,
  LogNotifier,
  PgBossTimerScheduler,
  type PrismaClient,
  PrismaLedgerStore,
  PrismaPaymentAttemptStore,
  PrismaStore,
  PrismaSupportDesk,
  PrismaWebhookInbox,
  RandomIds,
  StripePaymentGateway,
  SystemClock,
  stripeEndpointOf,
  type WebhookProcessorContext,
} from "@susu/adapters";
import { type EffectPorts, type OutboxStore, type UseCaseDeps, useCaseDepsOn } from "@susu/domain";
import { Container, type ServiceIdentifier } from "inversify";
import type PgBoss from "pg-boss";
import type { SchedulerEnv } from "./env.js";
import type { Logger } from "./logger.js";

/** What the scheduler's jobs are given. */
export const TOKENS = {
  useCaseDeps: Symbol("UseCaseDeps") as ServiceIdentifier<UseCaseDeps>,
  effectPorts: Symbol("EffectPorts") as ServiceIdentifier<EffectPorts>,
  outbox: Symbol("OutboxStore") as ServiceIdentifier<OutboxStore>,
  webhooks: Symbol("WebhookProcessorContext") as ServiceIdentifier<WebhookProcessorContext>,
  prisma: Symbol("PrismaClient") as ServiceIdentifier<PrismaClient>,
};

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
  const gateway = new StripePaymentGateway(
    createStripeClient({
      secretKey: env.STRIPE_SECRET_KEY,
      ...stripeEndpointOf(env.STRIPE_API_URL),
      timeoutMs: 20_000,
      maxNetworkRetries: 2,
      log,
    }),
  );
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
    notifier: new LogNotifier(log),
    desk,
    timers: new PgBossTimerScheduler(boss),
    ledger: new PrismaLedgerStore(prisma),
  });
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
