/**
 * The log context: fields (a request id) that every line written during a unit of work
 * carries, through AsyncLocalStorage, so nothing below the HTTP route needs a logger passed.
 *
 * @module
 */
export { type LogContext, logContext, withLogContext } from "./log-context.js";
