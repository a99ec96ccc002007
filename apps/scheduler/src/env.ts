import { z } from "zod";

const schema = z.object({
  DATABASE_URL: z.string().url().optional(),
  /** Identifies this process in outbox leases; several schedulers may run at once. */
  SUSU_WORKER_ID: z.string().min(1).optional(),
  SUSU_DISPATCH_INTERVAL_MS: z.coerce.number().int().min(50).max(60_000).default(1_000),
  SUSU_OPEN_ROUNDS_CRON: z.string().default("* * * * *"),
  STRIPE_SECRET_KEY: z.string().min(1),
  /** Where the Stripe API is: unset for Stripe itself, e.g. http://127.0.0.1:12111 for the emulator. */
  STRIPE_API_URL: z.string().url().optional(),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

/** The scheduler's settings, parsed once from the environment. */
export type SchedulerEnv = z.infer<typeof schema>;

/** Parses the scheduler's environment; throws with every problem listed when it is invalid. */
export function readSchedulerEnv(env: NodeJS.ProcessEnv = process.env): SchedulerEnv {
  return schema.parse(env);
}
