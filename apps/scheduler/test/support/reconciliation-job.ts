// Shared by the reconciliation job's tests on PostgreSQL and the emulator: the emulator with its
// SDK client, the job's dependencies as the scheduler wires them, and the admins' e-mail of a
// stored notice.
import {
  createStripeClient,
  type PrismaClient,
  PrismaSupportDesk,
  renderMail,
  stripeEndpointOf,
} from "@susu/adapters";
import type { Notification } from "@susu/domain";
import type { ManualClock } from "@susu/domain/testing";
import { type RunningEmulator, startEmulator } from "@susu/stripe-emulator";
import type Stripe from "stripe";
import { notifierOf } from "../../src/container.js";
import { readSchedulerEnv, type SchedulerEnv } from "../../src/env.js";
import type { ReconciliationJobDeps } from "../../src/jobs/reconciliation.js";
import type { Logger } from "../../src/logger.js";

/** The emulator (no fees, its clock at `startTimeMs`) and the scheduler's kind of client of it (no retries). */
export async function startReconciliationEmulator(
  startTimeMs: number,
): Promise<{ readonly emulator: RunningEmulator; readonly stripe: Stripe }> {
  const emulator = await startEmulator({ port: 0, fees: false, startTime: startTimeMs / 1000 });
  const stripe = createStripeClient({
    secretKey: emulator.secretKey,
    ...stripeEndpointOf(emulator.url),
    timeoutMs: 10_000,
    maxNetworkRetries: 0,
  });
  return { emulator, stripe };
}

/**
 * The scheduler's environment with e-mail on (nothing is sent by these tests: deliveries are
 * only queued) and one admin address, `ops@susu.test`; `extra` adds or overrides variables.
 */
export function schedulerEnvWithAdmin(extra: Readonly<Record<string, string>> = {}): SchedulerEnv {
  return readSchedulerEnv({
    STRIPE_SECRET_KEY: "sk_test_x",
    SUSU_SMTP_URL: "smtp://127.0.0.1:2525",
    SUSU_MAIL_FROM: "susu <no-reply@susu.test>",
    SUSU_ADMIN_EMAILS: "ops@susu.test",
    ...extra,
  });
}

/** The job's dependencies as the scheduler wires them: the desk on PostgreSQL, the notifier of `env`. */
export function reconciliationJobDeps(
  prisma: PrismaClient,
  stripe: Stripe,
  env: SchedulerEnv,
  clock: ManualClock,
  log: Logger,
): ReconciliationJobDeps {
  return {
    prisma,
    stripe,
    desk: new PrismaSupportDesk(prisma, clock),
    notifier: notifierOf(env, prisma, log),
    clock,
  };
}

/** A stored notice, as far as its e-mail needs it. */
export interface StoredNotice {
  readonly id: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly template: string;
  readonly data: unknown;
}

/** What the admins read of a stored notice (the e-mail the delivery worker renders). */
export const adminMailOf = (notice: StoredNotice) =>
  renderMail(
    {
      id: notice.id,
      aggregate: notice.aggregateType,
      aggregateId: notice.aggregateId,
      personIds: [],
      roles: ["platform_admins"],
      template: notice.template,
      data: notice.data,
    } as unknown as Notification,
    { locale: "en-AU", timeZone: "UTC" },
  );
