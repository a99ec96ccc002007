// The commands leave with their own exit status, also when they started the embedded
// PostgreSQL: that package's exit hook ends the process with status 0, which hid every
// failure of `npm run db:migrate` and `npm run reconcile` run without DATABASE_URL.
import { execFile } from "node:child_process";
import { access, chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedPostgres } from "../../src/db/embedded-postgres.js";

const packageDir = join(import.meta.dirname, "../..");
/** Nothing listens there: connections are refused at once. */
const UNREACHABLE_DB = "postgresql://susu:wrong@127.0.0.1:1/none";
const UNREACHABLE_STRIPE = "http://127.0.0.1:1";

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `scripts/<script>` as `npm run` does (tsx), with only these database and Stripe settings. */
function runScript(script: string, args: readonly string[], env: Record<string, string>): Promise<Outcome> {
  const base = { ...process.env };
  for (const key of [
    "DATABASE_URL",
    "SUSU_PG_DATA_DIR",
    "SUSU_PG_PORT",
    "STRIPE_SECRET_KEY",
    "STRIPE_API_URL",
  ])
    delete base[key];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", `scripts/${script}`, ...args],
      { cwd: packageDir, env: { ...base, ...env }, timeout: 120_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe("commands exit with their own status", () => {
  it("db:migrate against an unreachable DATABASE_URL exits 1 and says why", async () => {
    const out = await runScript("db-migrate.ts", [], { DATABASE_URL: UNREACHABLE_DB });
    expect(out.code).toBe(1);
    expect(out.stderr).toContain("ECONNREFUSED");
  });

  it("reconcile with an unreachable DATABASE_URL and Stripe exits 2 (a failure, not 'no differences')", async () => {
    const out = await runScript("reconcile.ts", ["--from", "2026-12-01", "--to", "2026-12-02"], {
      DATABASE_URL: UNREACHABLE_DB,
      STRIPE_API_URL: UNREACHABLE_STRIPE,
    });
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("reconciliation failed");
  });

  describe("on the embedded PostgreSQL (no DATABASE_URL)", () => {
    let dir: string;
    let dataDir: string;
    let env: Record<string, string>;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "susu-exit-codes-"));
      // As root the server runs as another user, who must be able to reach the folder.
      await chmod(dir, 0o755);
      dataDir = join(dir, "pg");
      env = { SUSU_PG_DATA_DIR: dataDir };
    });
    afterAll(async () => {
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    });

    it("db:migrate exits 0 when it migrated, then 1 when an applied migration was edited", async () => {
      const first = await runScript("db-migrate.ts", [], env);
      expect(first.stderr).toBe("");
      expect(first.code).toBe(0);
      expect(first.stdout).toMatch(/embedded database .*: applied \d+ migration\(s\)/);

      // Make the database disagree with the folder: one applied migration's checksum changes.
      const server = await startEmbeddedPostgres({ dataDir });
      const client = new pg.Client({ connectionString: server.connectionString("susu") });
      await client.connect();
      const edited = await client.query<{ migration_name: string }>(
        `UPDATE _prisma_migrations SET checksum = 'edited'
          WHERE migration_name = (SELECT min(migration_name) FROM _prisma_migrations)
          RETURNING migration_name`,
      );
      await client.end();
      await server.stop();
      const name = edited.rows[0]?.migration_name ?? "";
      expect(name).not.toBe("");

      const second = await runScript("db-migrate.ts", [], env);
      expect(second.code).toBe(1);
      expect(second.stderr).toContain(name);
    });

    it("a process that started and stopped the server, then ends on its own, keeps the status it set (vitest's after a failed test)", async () => {
      // The adapters' test set-up starts the server in vitest's own process: the package's
      // exit hook turned a failed run's status 1 into 0.
      const script = join(dir, "ends-on-its-own.mts");
      const source = join(packageDir, "src/db/embedded-postgres.ts");
      await writeFile(
        script,
        [
          `import { startEmbeddedPostgres } from ${JSON.stringify(source)};`,
          "const server = await startEmbeddedPostgres({ dataDir: process.argv[2], durable: false });",
          "await server.stop();",
          "process.exitCode = 3;",
        ].join("\n"),
      );
      const out = await new Promise<Outcome>((resolve) =>
        execFile(
          process.execPath,
          ["--import", "tsx", script, join(dir, "own")],
          { cwd: packageDir, timeout: 120_000 },
          (error, stdout, stderr) =>
            resolve({
              code: error === null ? 0 : typeof error.code === "number" ? error.code : -1,
              stdout,
              stderr,
            }),
        ),
      );
      expect(out.code).toBe(3);
      expect(out.stderr).toBe("");
      // PostgreSQL removes its pid file when it stops.
      await expect(access(join(dir, "own", "postmaster.pid"))).rejects.toThrow();
    });

    it("reconcile exits 2 when Stripe cannot be reached", async () => {
      const out = await runScript("reconcile.ts", ["--from", "2026-12-01", "--to", "2026-12-02"], {
        ...env,
        STRIPE_API_URL: UNREACHABLE_STRIPE,
      });
      expect(out.stderr).toContain("reconciliation failed");
      expect(out.code).toBe(2);
    });
  });
});
