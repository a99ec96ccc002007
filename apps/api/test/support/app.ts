// One way for every API test to build the app: the real middlewares (auth, idempotency,
// rate limits, logs, metrics, edge errors), storage in PostgreSQL when a Prisma client is
// given (in memory otherwise), and tokens minted with the test secret. Every response under
// /v1 is checked against the app's OpenAPI document (openapi-conformance.ts): one that does
// not match fails the test that made the request.

import type { PrismaClient, ReconciliationPeriod } from "@susu/adapters";
import {
  PrismaIdempotencyStore,
  PrismaLedgerStore,
  PrismaNotificationEndpoints,
  PrismaNotificationSettings,
  PrismaRateLimitStore,
  PrismaReconciliationStore,
  PrismaStore,
  PrismaSupportDesk,
  PrismaWebhookInbox,
  reconcileStored,
} from "@susu/adapters";
import type { PaymentGateway, UseCaseDeps } from "@susu/domain";
import { type ApiDeps, createApp } from "../../src/app.js";
import { createTokenVerifier, mintToken, type Role } from "../../src/http/auth.js";
import { clientIpResolver } from "../../src/http/client-ip.js";
import { readHttpConfig } from "../../src/http/config.js";
import { InMemoryIdempotencyStore } from "../../src/http/idempotency-memory.js";
import type { HttpInfrastructure } from "../../src/http/install.js";
import { createHttpMetrics } from "../../src/http/metrics.js";
import { createOverloadGuard } from "../../src/http/overload.js";
import { InMemoryRateLimitStore } from "../../src/http/rate-limit-memory.js";
import { createLogger } from "../../src/http/request-log.js";
import { checkedAgainstDocument } from "./openapi-conformance.js";

/** The HS256 secret API tests sign their tokens with. */
export const TEST_JWT_SECRET = "api-test-secret-0123456789-abcdefghij";

/** The HTTP infrastructure as production wires it, with the test secret and quiet logs. */
export function testHttp(
  options: { readonly prisma?: PrismaClient; readonly env?: Record<string, string> } = {},
): HttpInfrastructure {
  const config = readHttpConfig({
    SUSU_JWT_SECRET: TEST_JWT_SECRET,
    // Tests send many requests from one address and one subject: limits are tested on their own.
    SUSU_RATE_LIMIT_PER_MINUTE: "0",
    SUSU_RATE_LIMIT_IP_PER_MINUTE: "0",
    ...options.env,
  });
  return {
    config,
    logger: createLogger({ level: "silent" }),
    metrics: createHttpMetrics({ defaultMetrics: false }),
    overload: createOverloadGuard(config.overload),
    verifier: createTokenVerifier({ sharedSecret: TEST_JWT_SECRET }),
    idempotencyStore:
      options.prisma !== undefined
        ? new PrismaIdempotencyStore(options.prisma)
        : new InMemoryIdempotencyStore(),
    rateLimitStore:
      options.prisma !== undefined ? new PrismaRateLimitStore(options.prisma) : new InMemoryRateLimitStore(),
    clientIp: clientIpResolver(),
  };
}

/** A token for `subject` (a person id) with `roles` (default member), valid for an hour. */
export function tokenFor(subject: string, roles: readonly Role[] = ["member"]): Promise<string> {
  return mintToken({ subject, roles, ttlSeconds: 3600 }, TEST_JWT_SECRET);
}

/** The ledger as the operations routes take it: read, and adjusted by operators. */
const ledgerPorts = (ledger: PrismaLedgerStore) => ({ ledger, adjustments: ledger });

/** The app for a test: `prisma` stores idempotency keys, rate limits and webhooks in PostgreSQL. */
export function testApp(input: {
  readonly useCases: UseCaseDeps;
  readonly gateway: PaymentGateway;
  readonly prisma?: PrismaClient;
  readonly webhooks?: ApiDeps["webhooks"];
  readonly ping?: () => Promise<void>;
  readonly env?: Record<string, string>;
  /** The ledger and operations ports; default on `prisma` (none without it). */
  readonly operations?: ApiDeps["operations"];
  /** The HTTP infrastructure; default {@link testHttp}. */
  readonly http?: HttpInfrastructure;
  /**
   * Reconciliation with Stripe; default on `prisma`: compares what is stored in
   * stripe_balance_transactions, pulling nothing (these apps have no Stripe); a day's run fails.
   */
  readonly reconciliation?: ApiDeps["reconciliation"];
  /** Limits on payment attempts; default none (payments not limited). */
  readonly paymentAttempts?: ApiDeps["paymentAttempts"];
  /** Notification settings, endpoints and deliveries; default on `prisma` (none without it). */
  readonly notifications?: ApiDeps["notifications"];
}) {
  const reconciliation =
    input.reconciliation ??
    (input.prisma !== undefined
      ? {
          reconcile: (period: ReconciliationPeriod) => reconcileStored(input.prisma as PrismaClient, period),
          reports: new PrismaReconciliationStore(input.prisma),
          settlements: new PrismaReconciliationStore(input.prisma),
          // The route is there (its checks answer before any run); a run needs Stripe, which these apps lack.
          runs: {
            run: () => Promise.reject(new Error("this test app has no Stripe to reconcile with")),
            now: () => input.useCases.clock.now(),
          },
        }
      : undefined);
  const operations =
    input.operations ??
    (input.prisma !== undefined
      ? {
          ...ledgerPorts(new PrismaLedgerStore(input.prisma, { clock: input.useCases.clock })),
          tickets: new PrismaSupportDesk(input.prisma, input.useCases.clock),
          outbox: new PrismaStore(input.prisma, { clock: input.useCases.clock }),
          inbox: new PrismaWebhookInbox(input.prisma, input.useCases.clock),
        }
      : undefined);
  const notifications =
    input.notifications ??
    (input.prisma !== undefined
      ? {
          settings: new PrismaNotificationSettings(input.prisma),
          endpoints: new PrismaNotificationEndpoints(input.prisma),
          deliveries: new PrismaNotificationEndpoints(input.prisma),
        }
      : undefined);
  return checkedAgainstDocument(
    createApp({
      useCases: input.useCases,
      gateway: input.gateway,
      ping:
        input.ping ??
        (async () => {
          if (input.prisma !== undefined) await input.prisma.$queryRaw`SELECT 1`;
        }),
      webhooks:
        input.webhooks ??
        (input.prisma !== undefined
          ? { stripeSecret: "whsec_api_test", inbox: new PrismaWebhookInbox(input.prisma) }
          : { stripeSecret: "whsec_api_test", inbox: undefined as never }),
      http:
        input.http ??
        testHttp({
          ...(input.prisma ? { prisma: input.prisma } : {}),
          ...(input.env ? { env: input.env } : {}),
        }),
      ...(operations !== undefined ? { operations } : {}),
      ...(reconciliation !== undefined ? { reconciliation } : {}),
      ...(input.paymentAttempts !== undefined ? { paymentAttempts: input.paymentAttempts } : {}),
      ...(notifications !== undefined ? { notifications } : {}),
    }),
  );
}

/** Request options for a JSON body with a bearer token (and an idempotency key, when given). */
export function authed(
  token: string,
  method = "GET",
  body?: unknown,
  headers: Record<string, string> = {},
): RequestInit {
  return {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  };
}
