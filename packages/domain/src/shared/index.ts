export { hash32, seededFractions, unitFraction } from "./hash.js";
export { DAY_MS, type DurationMs, HOUR_MS, type Instant, isoString, MINUTE_MS } from "./time.js";
