import { createPrismaClient, PrismaStore, PrismaWebhookInbox, RandomIds, SystemClock } from "@susu/adapters";
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
}): Container {
  const container = new Container();
  const prisma = createPrismaClient(config.databaseUrl);
  const clock = new SystemClock();
  const store = new PrismaStore(prisma);
  const useCases: UseCaseDeps = { groups: store, rounds: store, uow: store, clock, ids: new RandomIds() };
  container.bind(TOKENS.apiDeps).toConstantValue({
    useCases,
    ping: async () => {
      await prisma.$queryRaw`SELECT 1`;
    },
    webhooks: { stripeSecret: config.stripeWebhookSecret, inbox: new PrismaWebhookInbox(prisma, clock) },
  });
  container.bind(TOKENS.close).toConstantValue(() => prisma.$disconnect());
  return container;
}
