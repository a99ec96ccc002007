export { clockFromEnv, OffsetFileClock, SIM_CLOCK_FILE_VARIABLE, SimClockRefused } from "./sim-clock.js";
export { RandomIds, SystemClock } from "./system-clock.js";
