import type { Instant } from "../shared/time.js";

/** The only source of the current time in the domain. */
export interface Clock {
  /** The current instant (epoch milliseconds). */
  now(): Instant;
}
