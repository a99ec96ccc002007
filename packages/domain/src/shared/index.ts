export { hash32, seededFractions, unitFraction } from "./hash.js";
export {
  canonicalTimeZone,
  DAY_MS,
  type DurationMs,
  HOUR_MS,
  type Instant,
  instantAt,
  isoString,
  type LocalDateTime,
  localDateTime,
  MINUTE_MS,
  type TimeZone,
} from "./time.js";
