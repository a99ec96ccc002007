// Preloaded (`--import`) into the apps by bench/webhook-costs.ts: counts the statements each
// process sends through node-postgres (by name, or by the SQL's first characters) and, on
// SIGUSR2, writes them with the process's CPU time to `$SUSU_PG_TRACE_DIR/<role>-<pid>-<tag>.json`
// (the tag read from `$SUSU_PG_TRACE_DIR/tag`). Does nothing unless SUSU_PG_TRACE_DIR is set.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";

const dir = process.env.SUSU_PG_TRACE_DIR;
const script = process.argv[1] ?? "";
const role = script.includes("apps/scheduler")
  ? "scheduler"
  : script.includes("apps/api")
    ? "api"
    : process.argv.some((a) => a.includes("stack-emulator"))
      ? "emulator"
      : undefined;
if (role !== undefined && dir) {
  const counts = new Map();
  if (role !== "emulator") {
    const pg = createRequire(script)("pg");
    const query = pg.Client.prototype.query;
    pg.Client.prototype.query = function (...args) {
      const first = args[0];
      const text = typeof first === "string" ? first : (first?.name ?? first?.text ?? "?");
      const key = text.trim().replace(/\s+/g, " ").slice(0, 90);
      counts.set(key, (counts.get(key) ?? 0) + 1);
      return query.apply(this, args);
    };
  }
  process.on("SIGUSR2", () => {
    const tag = readFileSync(`${dir}/tag`, "utf8").trim();
    const cpu = process.cpuUsage();
    writeFileSync(
      `${dir}/${role}-${process.pid}-${tag}.json`,
      JSON.stringify({
        role,
        pid: process.pid,
        cpuUserMs: cpu.user / 1000,
        cpuSysMs: cpu.system / 1000,
        counts: Object.fromEntries(counts),
      }),
    );
  });
}
