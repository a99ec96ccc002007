export { RandomIds, SystemClock } from "./system-clock.js";
