import type { RoundTimer } from "@susu/domain";
import { z } from "zod";

/** The pg-boss queue that carries round timers. */
export const ROUND_TIMER_QUEUE = "round-timer";

/** What a round-timer job carries. */
export interface RoundTimerJob {
  readonly timerId: string;
  readonly roundId: string;
  readonly timer: RoundTimer;
  /**
   * Failed attempts at applying the timer before this job (absent: none). A timer that
   * failed is retried as a new job carrying the count, so the retry-or-park policy sees
   * every attempt, whichever job made it.
   */
  readonly attempts?: number;
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

const roundTimerJobSchema = z.object({
  timerId: z.string().min(1),
  roundId: z.string().min(1),
  timer: roundTimerSchema,
  attempts: z.number().int().nonnegative().optional(),
});

/** Reads a job's data back, refusing anything that is not a round timer. */
export function parseRoundTimerJob(data: unknown): RoundTimerJob | undefined {
  const parsed = roundTimerJobSchema.safeParse(data);
  if (!parsed.success) return undefined;
  const { attempts, ...job } = parsed.data;
  return attempts === undefined ? job : { ...job, attempts };
}
