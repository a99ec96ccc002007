import { AsyncLocalStorage } from "node:async_hooks";

/** Fields every log line written inside a unit of work carries (e.g. `requestId`). */
export type LogContext = Readonly<Record<string, string>>;

const storage = new AsyncLocalStorage<LogContext>();

/**
 * Runs `work` with `fields` added to the log context: every line a context-aware logger
 * writes while it runs, however deep in the call (a use case, an adapter, a storage error,
 * a provider call), carries them — without passing a logger down. Nested calls add to the
 * outer fields.
 */
export function withLogContext<T>(fields: LogContext, work: () => T): T {
  const outer = storage.getStore();
  return storage.run(outer === undefined ? fields : { ...outer, ...fields }, work);
}

/**
 * The fields of the unit of work in progress (none outside one), as a new object each
 * time: pino's default mixin merge writes the line's own fields into the object the mixin
 * returns, which must not be the context itself. For pino: `pino({ mixin: logContext })`.
 */
export function logContext(): Record<string, string> {
  const fields = storage.getStore();
  return fields === undefined ? {} : { ...fields };
}
