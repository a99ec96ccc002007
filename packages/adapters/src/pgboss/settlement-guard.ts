import { createRequire } from "node:module";

/** The two calls of pg-boss that record how a job ended. */
type Settle = "complete" | "fail";

type SettlementErrorHandler = (call: Settle, error: unknown) => void;

let reportTo: SettlementErrorHandler | undefined;
let installed = false;

/**
 * Makes pg-boss's own records of how a job ended safe to lose. pg-boss 10's worker loop,
 * once a handler has returned or thrown, records it with its manager's `complete` or `fail`
 * without awaiting the call or catching its failure (`Manager.work`'s `onFetch`, 10.4.2):
 * when the database is away at that moment — restarting, say — the rejection is unhandled
 * and Node ends the process (seen in the simulation: a scheduler exited during a PostgreSQL
 * restart). pg-boss keeps its manager private, so this wraps the two methods on the
 * manager's class, once per process, before any `PgBoss` is made (a `PgBoss` publishes the
 * manager's methods under their names when it is made, so the wrappers keep them). Each
 * call's promise gets a handler that reports the failure to `onError` (the last one given),
 * so an unawaited call no longer ends the process; the same promise is returned, so a caller
 * that awaits it still sees the failure. Nothing is lost: a job whose end was not recorded
 * stays `active` until its expiry, and pg-boss's maintenance then fails it and runs it again
 * (susu's jobs are applied idempotently).
 */
export function guardJobSettlement(onError: SettlementErrorHandler): void {
  reportTo = onError;
  if (installed) return;
  installed = true;
  const require = createRequire(import.meta.url);
  const Manager = require("pg-boss/src/manager") as { prototype: Record<Settle, unknown> };
  for (const call of ["complete", "fail"] as const) {
    const original = Manager.prototype[call] as (this: unknown, ...args: unknown[]) => Promise<unknown>;
    const guarded = function (this: unknown, ...args: unknown[]): Promise<unknown> {
      const settled = original.apply(this, args);
      settled.catch((error: unknown) => reportTo?.(call, error));
      return settled;
    };
    Object.defineProperty(guarded, "name", { value: call });
    Manager.prototype[call] = guarded;
  }
}
