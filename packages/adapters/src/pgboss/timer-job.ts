import type {
  FiredTimer,
  HeldPaymentTimer,
  MarketplaceChargeTimer,
  RoundTimer,
  ScheduledTimer,
  SubscriptionTimer,
} from "@susu/domain";
import { z } from "zod";

/**
 * The pg-boss queue that carries every aggregate's timers. It was named when rounds were
 * the only aggregate with timers; pending jobs are stored under the name, so it stays.
 */
export const TIMER_QUEUE = "round-timer";

/**
 * The aggregate a timer job is for and that aggregate's timer payload: one arm per
 * aggregate with timers, as the domain's `ScheduledTimer` has (checked below).
 */
export type TimerJobPayload =
  | {
      readonly aggregate: "round";
      readonly aggregateId: string;
      readonly timer: RoundTimer;
    }
  | {
      readonly aggregate: "held_payment";
      readonly aggregateId: string;
      readonly timer: HeldPaymentTimer;
    }
  | {
      readonly aggregate: "marketplace_charge";
      readonly aggregateId: string;
      readonly timer: MarketplaceChargeTimer;
    }
  | {
      readonly aggregate: "subscription";
      readonly aggregateId: string;
      readonly timer: SubscriptionTimer;
    };

/** What a timer job carries. */
export type TimerJob = TimerJobPayload & {
  readonly timerId: string;
  /**
   * Failed attempts at applying the timer before this job (absent: none). A timer that
   * failed is retried as a new job carrying the count, so the retry-or-park policy sees
   * every attempt, whichever job made it.
   */
  readonly attempts?: number;
};

// The job's payload is exactly the domain's timer without its id and time, both ways.
type Payload<T> = T extends unknown ? Omit<T, "id" | "at"> : never;
const payloadMatches: [Payload<ScheduledTimer>] extends [TimerJobPayload]
  ? [TimerJobPayload] extends [Payload<ScheduledTimer>]
    ? true
    : false
  : false = true;
void payloadMatches;

/** The job that fires `timer`. */
export function timerJobOf(timer: ScheduledTimer): TimerJob {
  const { id, at: _, ...payload } = timer;
  return { timerId: id, ...payload };
}

/** The fired timer a job carries, as the domain's `useCases.applyTimer` takes it. */
export function firedTimerOf(job: TimerJob): FiredTimer {
  const { timerId, attempts: _, ...payload } = job;
  return { id: timerId, ...payload };
}

/**
 * The data stored for a job. A round timer also carries `roundId`, the field schedulers
 * of the release before aggregate references read (their parser ignores the rest): a
 * job one of them fetches during a rolling deploy still fires. Drop it in the release
 * after, together with the same field in the `aggregate_refs` migration's rewrite.
 */
export function timerJobData(job: TimerJob): TimerJob & { readonly roundId?: string } {
  return job.aggregate === "round" ? { ...job, roundId: job.aggregateId } : job;
}

const roundTimerSchema: z.ZodType<RoundTimer> = z.discriminatedUnion("kind", [
  // `extension` tells a timer armed for an earlier deadline from the current one: keep it.
  z.object({
    kind: z.literal("collection_deadline"),
    extension: z.number().int().nonnegative().exactOptional(),
  }),
  z.object({ kind: z.literal("grace_end"), extension: z.number().int().nonnegative().exactOptional() }),
  z.object({ kind: z.literal("payout_due") }),
  z.object({
    kind: z.literal("retry_debit"),
    memberId: z.string().min(1),
    attempt: z.number().int().positive(),
  }),
  z.object({ kind: z.literal("retry_payout"), attempt: z.number().int().positive() }),
]);

const heldPaymentTimerSchema: z.ZodType<HeldPaymentTimer> = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("release_due") }),
  z.object({ kind: z.literal("retry_transfer"), attempt: z.number().int().positive() }),
  z.object({ kind: z.literal("checkout_expired") }),
  z.object({
    kind: z.literal("refund_overdue"),
    refund: z.number().int().positive(),
    attempt: z.number().int().positive(),
    lookup: z.number().int().positive().exactOptional(),
  }),
]);

const marketplaceChargeTimerSchema: z.ZodType<MarketplaceChargeTimer> = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("retry_transfer"),
    sellerId: z.string().min(1),
    attempt: z.number().int().positive(),
  }),
  z.object({ kind: z.literal("action_expired") }),
  z.object({
    kind: z.literal("refund_overdue"),
    refund: z.number().int().positive(),
    attempt: z.number().int().positive(),
    lookup: z.number().int().positive().exactOptional(),
  }),
]);

const subscriptionTimerSchema: z.ZodType<SubscriptionTimer> = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("refund_overdue"), invoiceId: z.string().min(1) }),
]);

/**
 * Jobs scheduled before timers named their aggregate carried `{ timerId, roundId, timer }`.
 * The `aggregate_refs` migration rewrote the stored ones; a job an older process sends
 * after it (a rolling deploy) is read here as a round's timer.
 */
function withAggregate(data: unknown): unknown {
  if (typeof data !== "object" || data === null || Array.isArray(data)) return data;
  const old = data as Record<string, unknown>;
  if ("aggregate" in old || typeof old.roundId !== "string") return data;
  return { ...old, aggregate: "round", aggregateId: old.roundId };
}

const timerJobSchema = z.preprocess(
  withAggregate,
  z.discriminatedUnion("aggregate", [
    z.object({
      timerId: z.string().min(1),
      aggregate: z.literal("round"),
      aggregateId: z.string().min(1),
      timer: roundTimerSchema,
      attempts: z.number().int().nonnegative().optional(),
    }),
    z.object({
      timerId: z.string().min(1),
      aggregate: z.literal("held_payment"),
      aggregateId: z.string().min(1),
      timer: heldPaymentTimerSchema,
      attempts: z.number().int().nonnegative().optional(),
    }),
    z.object({
      timerId: z.string().min(1),
      aggregate: z.literal("marketplace_charge"),
      aggregateId: z.string().min(1),
      timer: marketplaceChargeTimerSchema,
      attempts: z.number().int().nonnegative().optional(),
    }),
    z.object({
      timerId: z.string().min(1),
      aggregate: z.literal("subscription"),
      aggregateId: z.string().min(1),
      timer: subscriptionTimerSchema,
      attempts: z.number().int().nonnegative().optional(),
    }),
  ]),
);

/** Reads a job's data back (today's shape or the one before), refusing anything that is not a timer. */
export function parseTimerJob(data: unknown): TimerJob | undefined {
  const parsed = timerJobSchema.safeParse(data);
  if (!parsed.success) return undefined;
  const { attempts, ...job } = parsed.data;
  return attempts === undefined ? job : { ...job, attempts };
}
