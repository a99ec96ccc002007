import {
  createPrismaClient,
  createStripeClient,
  PrismaStore,
  PrismaWebhookInbox,
  RandomIds,
  StripePaymentGateway,
  SystemClock,
  stripeEndpointOf,
} from "@susu/adapters";
import type { UseCaseDeps } from "@susu/domain";
import { Container, type ServiceIdentifier } from "inversify";
import type { ApiDeps } from "./app.js";

/** What the API's routes are given. */
export const TOKENS = {
  apiDeps: Symbol("ApiDeps") as ServiceIdentifier<ApiDeps>,
  close: Symbol("close") as ServiceIdentifier<() => Promise<void>>,
};

/** The API's composition root: the only place that knows which adapter serves which port. */
export function createContainer(config: {
  readonly databaseUrl: string;
  readonly stripeWebhookSecret: string;
  readonly stripeSecretKey: string;
  /** The Stripe API's address when it is not Stripe's own (the emulator). */
  readonly stripeApiUrl?: string;
}): Container {
  const container = new Container();
  const prisma = createPrismaClient(config.databaseUrl);
  const clock = new SystemClock();
  const store = new PrismaStore(prisma);
  const useCases: UseCaseDeps = {
    people: store,
    groups: store,
    rounds: store,
    uow: store,
    clock,
    ids: new RandomIds(),
  };
  container.bind(TOKENS.apiDeps).toConstantValue({
    useCases,
    ping: async () => {
      await prisma.$queryRaw`SELECT 1`;
    },
    webhooks: { stripeSecret: config.stripeWebhookSecret, inbox: new PrismaWebhookInbox(prisma, clock) },
    gateway: new StripePaymentGateway(
      createStripeClient({
        secretKey: config.stripeSecretKey,
        ...stripeEndpointOf(config.stripeApiUrl),
        timeoutMs: 20_000,
        maxNetworkRetries: 2,
      }),
    ),
  });
  container.bind(TOKENS.close).toConstantValue(() => prisma.$disconnect());
  return container;
}
