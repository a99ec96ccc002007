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
  // Named one by one: a job read back keeps fields of the job this release does not know
  // (see parseTimerJob), which are the job's, not the timer's.
  return {
    id: job.timerId,
    aggregate: job.aggregate,
    aggregateId: job.aggregateId,
    timer: job.timer,
  } as FiredTimer;
}

/**
 * The kind a held payment's or marketplace charge's `refund_overdue` timer with a look-up
 * number (`lookup`: the look-ups after the first) is stored under. Schedulers of the release
 * before look-ups read a `refund_overdue` job without the field (their parser dropped what it
 * did not know), so they applied look-up `m` as the first: its effect id is the first's, kept
 * once, so nothing was asked and the look-ups stopped. They refuse a kind they do not know:
 * the job fails and pg-boss runs it again, until a process of this release takes it.
 */
export const REFUND_LOOKUP_JOB_KIND = "refund_overdue_lookup";

/** What a job stores: a {@link TimerJob}, its timer as it is stored ({@link REFUND_LOOKUP_JOB_KIND}). */
export type TimerJobData = Omit<TimerJob, "timer"> & {
  readonly timer: TimerJob["timer"] | { readonly kind: typeof REFUND_LOOKUP_JOB_KIND };
  readonly roundId?: string;
};

/**
 * The data stored for a job. A round timer also carries `roundId`, the field schedulers
 * of the release before aggregate references read (their parser ignores the rest): a
 * job one of them fetches during a rolling deploy still fires. Drop it in the release
 * after, together with the same field in the `aggregate_refs` migration's rewrite. A refund
 * look-up after the first is stored under {@link REFUND_LOOKUP_JOB_KIND}.
 */
export function timerJobData(job: TimerJob): TimerJobData {
  if (job.aggregate === "round") return { ...job, roundId: job.aggregateId };
  if (job.timer.kind === "refund_overdue" && "lookup" in job.timer && job.timer.lookup !== undefined)
    return { ...job, timer: { ...job.timer, kind: REFUND_LOOKUP_JOB_KIND } };
  return job;
}

// Every timer's fields are checked strictly: a field this release does not know is a newer
// release's, which may change what the timer means (a refund's look-up number did). Such a
// job is unreadable here (failed, and run again by pg-boss on a process that knows it), never
// applied as the timer without the field.
const roundTimerSchema: z.ZodType<RoundTimer> = z.discriminatedUnion("kind", [
  // `extension` tells a timer armed for an earlier deadline from the current one: keep it.
  z.strictObject({
    kind: z.literal("collection_deadline"),
    extension: z.number().int().nonnegative().exactOptional(),
  }),
  z.strictObject({ kind: z.literal("grace_end"), extension: z.number().int().nonnegative().exactOptional() }),
  z.strictObject({ kind: z.literal("payout_due") }),
  z.strictObject({
    kind: z.literal("retry_debit"),
    memberId: z.string().min(1),
    attempt: z.number().int().positive(),
  }),
  z.strictObject({ kind: z.literal("retry_payout"), attempt: z.number().int().positive() }),
]);

const heldPaymentTimerSchema: z.ZodType<HeldPaymentTimer> = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("release_due") }),
  z.strictObject({ kind: z.literal("retry_transfer"), attempt: z.number().int().positive() }),
  z.strictObject({ kind: z.literal("checkout_expired") }),
  z.strictObject({ kind: z.literal("checkout_recheck"), ask: z.number().int().min(2) }),
  z.strictObject({
    kind: z.literal("refund_overdue"),
    refund: z.number().int().positive(),
    attempt: z.number().int().positive(),
    lookup: z.number().int().positive().exactOptional(),
  }),
]);

const marketplaceChargeTimerSchema: z.ZodType<MarketplaceChargeTimer> = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("retry_transfer"),
    sellerId: z.string().min(1),
    attempt: z.number().int().positive(),
  }),
  z.strictObject({ kind: z.literal("action_expired"), wait: z.number().int().min(2).exactOptional() }),
  z.strictObject({
    kind: z.literal("cancel_recheck"),
    ask: z.number().int().min(2),
    wait: z.number().int().min(2).exactOptional(),
  }),
  z.strictObject({
    kind: z.literal("refund_overdue"),
    refund: z.number().int().positive(),
    attempt: z.number().int().positive(),
    lookup: z.number().int().positive().exactOptional(),
  }),
]);

const subscriptionTimerSchema: z.ZodType<SubscriptionTimer> = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("refund_overdue"), invoiceId: z.string().min(1) }),
  z.strictObject({
    kind: z.literal("void_recheck"),
    invoiceId: z.string().min(1),
    call: z.number().int().positive(),
  }),
]);

/**
 * Jobs scheduled before timers named their aggregate carried `{ timerId, roundId, timer }`.
 * The `aggregate_refs` migration rewrote the stored ones; a job an older process sends
 * after it (a rolling deploy) is read here as a round's timer.
 */
function withAggregate(data: unknown): unknown {
  if (!isRecord(data)) return data;
  const old = data;
  if ("aggregate" in old || typeof old.roundId !== "string") return data;
  return { ...old, aggregate: "round", aggregateId: old.roundId };
}

function isRecord(data: unknown): data is Record<string, unknown> {
  return typeof data === "object" && data !== null && !Array.isArray(data);
}

/** A refund look-up stored under {@link REFUND_LOOKUP_JOB_KIND} (with its number) read as the domain's `refund_overdue`. */
function fromStored(data: unknown): unknown {
  const job = withAggregate(data);
  if (!isRecord(job) || !isRecord(job.timer) || job.timer.kind !== REFUND_LOOKUP_JOB_KIND) return job;
  if (job.aggregate !== "held_payment" && job.aggregate !== "marketplace_charge") return job;
  // Without its number it is no look-up this release knows: left unreadable.
  if (job.timer.lookup === undefined) return job;
  return { ...job, timer: { ...job.timer, kind: "refund_overdue" } };
}

/**
 * Fields of the stored data that are not the job's: `roundId` (see {@link timerJobData}) and
 * `dueAt` (written by each send, see PgBossTimerScheduler). Any other field this release
 * does not know is kept on the job read back (a newer release's, carried by the retry it sends).
 */
const STORED_ONLY = ["roundId", "dueAt"] as const;

// The job's own fields are checked; fields of the job (not of its timer) this release does
// not know pass through (looseObject).
const timerJobSchema = z.preprocess(
  fromStored,
  z.discriminatedUnion("aggregate", [
    z.looseObject({
      timerId: z.string().min(1),
      aggregate: z.literal("round"),
      aggregateId: z.string().min(1),
      timer: roundTimerSchema,
      attempts: z.number().int().nonnegative().optional(),
    }),
    z.looseObject({
      timerId: z.string().min(1),
      aggregate: z.literal("held_payment"),
      aggregateId: z.string().min(1),
      timer: heldPaymentTimerSchema,
      attempts: z.number().int().nonnegative().optional(),
    }),
    z.looseObject({
      timerId: z.string().min(1),
      aggregate: z.literal("marketplace_charge"),
      aggregateId: z.string().min(1),
      timer: marketplaceChargeTimerSchema,
      attempts: z.number().int().nonnegative().optional(),
    }),
    z.looseObject({
      timerId: z.string().min(1),
      aggregate: z.literal("subscription"),
      aggregateId: z.string().min(1),
      timer: subscriptionTimerSchema,
      attempts: z.number().int().nonnegative().optional(),
    }),
  ]),
);

/**
 * Reads a job's data back (today's shape or the one before), refusing anything that is not a
 * timer this release knows, field for field. Fields of the job (beside its timer) it does not
 * know are kept on the job returned, so the retry `PgBossTimerScheduler.scheduleRetry` sends carries them.
 */
export function parseTimerJob(data: unknown): TimerJob | undefined {
  const parsed = timerJobSchema.safeParse(data);
  if (!parsed.success) return undefined;
  const { attempts, ...read } = parsed.data;
  const job: Record<string, unknown> = { ...read };
  for (const field of STORED_ONLY) delete job[field];
  return (attempts === undefined ? job : { ...job, attempts }) as TimerJob;
}
