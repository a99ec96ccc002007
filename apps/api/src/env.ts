import { z } from "zod";

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
  HOST: z.string().default("127.0.0.1"),
  DATABASE_URL: z.string().url().optional(),
  /** The Stripe webhook endpoint's signing secret (`whsec_…`). */
  STRIPE_WEBHOOK_SECRET: z.string().min(1),
  STRIPE_SECRET_KEY: z.string().min(1),
  /** Where the Stripe API is: unset for Stripe itself, e.g. http://127.0.0.1:12111 for the emulator. */
  STRIPE_API_URL: z.string().url().optional(),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

/** The API's settings, parsed once from the environment. */
export type ApiEnv = z.infer<typeof schema>;

/** Parses the API's environment; throws with every problem listed when it is invalid. */
export function readApiEnv(env: NodeJS.ProcessEnv = process.env): ApiEnv {
  return schema.parse(env);
}
