// The arguments of `npm run db:backup`, `npm run db:restore` and `npm run stripe:catch-up`,
// parsed without I/O so they can be tested.
import { parseArgs } from "node:util";
import { err, ok, type Result } from "neverthrow";
import { parseInstant } from "../reconciliation/command-args.js";

export const BACKUP_USAGE = "usage: npm run db:backup -- --out FILE   (FILE must not exist yet)";
export const RESTORE_USAGE =
  "usage: npm run db:restore -- --from FILE [--force]\n" +
  "  --force  drop what the target database holds (schemas public and pgboss) instead of refusing";
export const CATCH_UP_USAGE =
  "usage: npm run stripe:catch-up -- (--since INSTANT | --backup FILE [--margin-minutes N])\n" +
  "  --since           list Stripe's events created at or after this ISO 8601 instant (with a zone)\n" +
  "  --backup          …or after the snapshot time of this backup file, minus the margin\n" +
  "  --margin-minutes  how far before the snapshot to start (default 60: clocks differ, events lag)";

/** Default margin of the catch-up before a backup's snapshot time. */
export const DEFAULT_CATCH_UP_MARGIN_MINUTES = 60;

type Values = Record<string, string | boolean | undefined>;

function parse(
  args: readonly string[],
  options: Record<string, { type: "string" | "boolean" }>,
  usage: string,
): Result<Values, string> {
  try {
    return ok(
      parseArgs({ args: [...args], options, allowPositionals: false, strict: true }).values as Values,
    );
  } catch (error) {
    return err(`${error instanceof Error ? error.message : String(error)}\n${usage}`);
  }
}

function file(values: Values, name: string, usage: string): Result<string, string> {
  const value = values[name];
  if (typeof value !== "string" || value.trim() === "") return err(`--${name} FILE is required\n${usage}`);
  return ok(value);
}

/** `--out FILE`. */
export function parseBackupArgs(args: readonly string[]): Result<{ outPath: string }, string> {
  return parse(args, { out: { type: "string" } }, BACKUP_USAGE)
    .andThen((v) => file(v, "out", BACKUP_USAGE))
    .map((outPath) => ({ outPath }));
}

/** `--from FILE [--force]`. */
export function parseRestoreArgs(
  args: readonly string[],
): Result<{ fromPath: string; force: boolean }, string> {
  return parse(args, { from: { type: "string" }, force: { type: "boolean" } }, RESTORE_USAGE).andThen((v) =>
    file(v, "from", RESTORE_USAGE).map((fromPath) => ({ fromPath, force: v.force === true })),
  );
}

/** Where a catch-up starts: an instant, or a backup's snapshot minus a margin. */
export type CatchUpStart =
  | { readonly kind: "since"; readonly since: number }
  | { readonly kind: "backup"; readonly backupPath: string; readonly marginMinutes: number };

/** `--since INSTANT`, or `--backup FILE [--margin-minutes N]`. */
export function parseCatchUpArgs(args: readonly string[]): Result<CatchUpStart, string> {
  return parse(
    args,
    { since: { type: "string" }, backup: { type: "string" }, "margin-minutes": { type: "string" } },
    CATCH_UP_USAGE,
  ).andThen((v): Result<CatchUpStart, string> => {
    if ((v.since === undefined) === (v.backup === undefined))
      return err(`give exactly one of --since and --backup\n${CATCH_UP_USAGE}`);
    if (typeof v.since === "string") {
      if (v["margin-minutes"] !== undefined) return err("--margin-minutes goes with --backup, not --since");
      const since = parseInstant(v.since);
      return since === undefined
        ? err(`--since: not a date or an ISO 8601 instant with a zone: ${v.since}`)
        : ok({ kind: "since", since });
    }
    const margin = v["margin-minutes"] ?? String(DEFAULT_CATCH_UP_MARGIN_MINUTES);
    if (typeof margin !== "string" || !/^\d{1,5}$/.test(margin))
      return err(`--margin-minutes: a whole number of minutes, got ${String(margin)}`);
    return file(v, "backup", CATCH_UP_USAGE).map(
      (backupPath): CatchUpStart => ({ kind: "backup", backupPath, marginMinutes: Number(margin) }),
    );
  });
}
