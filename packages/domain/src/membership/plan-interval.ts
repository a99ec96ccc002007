/** How often a plan's price bills. */
export const PLAN_INTERVALS = ["month", "year"] as const;

/** One of {@link PLAN_INTERVALS}. */
export type PlanInterval = (typeof PLAN_INTERVALS)[number];
