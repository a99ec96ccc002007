import type { RoundTimer } from "@susu/domain";
import { z } from "zod";

/** The pg-boss queue that carries round timers. */
export const ROUND_TIMER_QUEUE = "round-timer";

/** What a round-timer job carries. */
export interface RoundTimerJob {
  readonly timerId: string;
  readonly roundId: string;
  readonly timer: RoundTimer;
}

const roundTimerSchema: z.ZodType<RoundTimer> = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("collection_deadline") }),
  z.object({ kind: z.literal("grace_end") }),
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
});

/** Reads a job's data back, refusing anything that is not a round timer. */
export function parseRoundTimerJob(data: unknown): RoundTimerJob | undefined {
  const parsed = roundTimerJobSchema.safeParse(data);
  return parsed.success ? parsed.data : undefined;
}
