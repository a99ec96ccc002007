// The operators' commands that call Stripe (`npm run reconcile`, `npm run stripe:catch-up`)
// say which Stripe they could not reach: the default is the emulator of `npm start` on its
// default port, and an operator whose stack runs elsewhere (SUSU_EMULATOR_PORT) or who meant
// Stripe itself otherwise sees only the SDK's "An error occurred with our connection to Stripe".
import { execFile } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/index.js";

const db = useTestDatabase();

/** A port nothing listens on: one the system handed out, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

function withoutStripe(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { STRIPE_SECRET_KEY: _key, STRIPE_API_URL: _url, ...rest } = env;
  return rest;
}

async function runScript(script: string, args: string[], env: Record<string, string>) {
  const run = promisify(execFile)(process.execPath, ["--import", "tsx", script, ...args], {
    cwd: join(import.meta.dirname, "../.."),
    // Stripe only as the test says: none of the caller's STRIPE_* settings.
    env: { ...withoutStripe(process.env), DATABASE_URL: db.connectionString, ...env },
  });
  return run.then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({
      code: e.code,
      stdout: e.stdout ?? "",
      stderr: e.stderr ?? "",
    }),
  );
}

describe("a command that cannot reach Stripe", () => {
  it("`npm run reconcile` names the Stripe it tried (the emulator's port when no key is set) and exits 2", async () => {
    const port = await closedPort();
    const result = await runScript("scripts/reconcile.ts", ["--day", "2026-12-01"], {
      SUSU_EMULATOR_PORT: String(port),
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`reconciliation failed (Stripe at http://127.0.0.1:${port}):`);
  }, 60_000);

  it("`npm run stripe:catch-up` names the Stripe it tried and exits 1", async () => {
    const port = await closedPort();
    const result = await runScript("scripts/stripe-catch-up.ts", ["--since", "2026-12-01T00:00:00Z"], {
      STRIPE_SECRET_KEY: "sk_test_unreachable",
      STRIPE_API_URL: `http://127.0.0.1:${port}`,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`catch-up failed (Stripe at http://127.0.0.1:${port}):`);
    expect(result.stderr).toContain("Nothing is lost: run the command again");
  }, 60_000);

  it("names only the address it dialled: a user:password, path or query in STRIPE_API_URL is not printed", async () => {
    const port = await closedPort();
    const result = await runScript("scripts/stripe-catch-up.ts", ["--since", "2026-12-01T00:00:00Z"], {
      STRIPE_SECRET_KEY: "sk_test_unreachable",
      STRIPE_API_URL: `http://proxyuser:PROXYPASS@127.0.0.1:${port}/stripe?token=TOKEN123`,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`catch-up failed (Stripe at http://127.0.0.1:${port}):`);
    expect(result.stderr).not.toMatch(/proxyuser|PROXYPASS|TOKEN123/);
  }, 60_000);
});
