// The simulation's small run in CI (`npm run sim`, sim/run.mjs): the whole stack — embedded
// PostgreSQL, the Stripe emulator with webhook chaos, this API as a process, two scheduler
// processes — through two groups' rotation, with seed 3's fault schedule: Stripe 500s, a 429,
// dropped connections and a timeout on the routes the scheduler calls, a scheduler killed
// with SIGKILL and restarted, PostgreSQL stopped and started again. It must exit 0 with
// every check passing, and find what the run drove (the same seed gives the same table).
// It runs the built apps (turbo builds the API and the scheduler before this package's tests).
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..", "..");
const out = mkdtempSync(join(tmpdir(), "susu-sim-test-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

interface Row {
  readonly check: string;
  readonly expected: string;
  readonly found: string;
  readonly pass: boolean;
}
interface Report {
  readonly seed: number;
  readonly plan: readonly { readonly type: string; readonly kind?: string }[];
  readonly counts: Readonly<Record<"scheduler_sigkill" | "pg_restart" | "stripe_500" | "stripe_429", number>>;
  readonly checks: readonly Row[];
}

function runSim(args: readonly string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, "sim/run.mjs"), ...args], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => {
      output += d;
    });
    child.stderr.on("data", (d) => {
      output += d;
    });
    child.once("exit", (code) => resolve({ code, output }));
  });
}

/** Runs the simulation with `args`; it must exit 0 with every check passing. */
async function passingRun(
  name: string,
  args: readonly string[],
): Promise<{ report: Report; output: string }> {
  const json = join(out, `${name}.json`);
  const { code, output } = await runSim([...args, "--json", json, "--timeout-s", "220"]);
  expect(code, output).toBe(0);
  const report = JSON.parse(readFileSync(json, "utf8")) as Report;
  expect(
    report.checks.filter((r) => !r.pass),
    output,
  ).toEqual([]);
  return { report, output };
}

describe("npm run sim (small run with faults)", () => {
  it("pays every round once, balances the ledger and accounts for every webhook despite the faults", {
    timeout: 240_000,
  }, async () => {
    const { report, output } = await passingRun("seed-3", [
      "--seed",
      "3",
      "--groups",
      "2",
      "--members",
      "2",
      "--rotations",
      "1",
    ]);

    // The faults the seed plans were injected, at least one of each kind the CI run needs.
    expect(report.counts.scheduler_sigkill).toBeGreaterThanOrEqual(1);
    expect(report.counts.pg_restart).toBeGreaterThanOrEqual(1);
    expect(report.counts.stripe_500 + report.counts.stripe_429).toBeGreaterThanOrEqual(1);
    expect(output).toContain("fault schedule:");
    expect(output).toMatch(/check\s+expected\s+found\s+result/);

    // What the run drove, found where it must be: 2 groups × 2 members, one rotation.
    const found = Object.fromEntries(report.checks.map((r) => [r.check, r.found]));
    expect(found).toMatchObject({
      "rounds paid out": "4",
      "(member, rotation) pairs paid": "4",
      "debit attempts (susu)": "8",
      "PaymentIntents at Stripe for susu's debit attempts": "8",
      "debit attempts with more than one PaymentIntent": "0",
      "payout transfers (susu)": "8",
      "transfers at Stripe for susu's payout transfers": "8",
      "contribution charges with more than one transfer": "0",
      "members paid twice in a rotation": "0",
      "ledger transactions unbalanced": "0",
      "ledger AUD debits − credits": "0",
      "round pots and in-flight accounts not zero": "0",
      // 2 × (100.00 + 100.00) AUD and 2 × (101.00 + 101.00) AUD, collected and paid out.
      "ledger: paid out = contributions collected (minor)": "80400",
      "Stripe: connected accounts' balances (minor) = ledger paid out": "80400",
      "delivered events missing from the inbox": "0",
      "inbox events still pending (received or failed)": "0",
      "outbox effects still pending": "0",
    });
    expect(Number(found["events delivered = inbox processed + ignored + parked"])).toBeGreaterThan(0);
  });
  it("settles every marketplace charge once, refunds and reverses what was asked and matches Stripe's money despite the faults", {
    timeout: 240_000,
  }, async () => {
    const { report } = await passingRun("marketplace-seed-5", [
      "--flow",
      "marketplace",
      "--seed",
      "5",
      "--groups",
      "1",
      "--members",
      "2",
      "--rotations",
      "2",
    ]);
    // Seed 5 plans Stripe 500s on the PaymentIntents and 429s on the refunds, a scheduler
    // killed and PostgreSQL restarted: all of them happened.
    expect(report.counts).toMatchObject({
      stripe_500: 2,
      stripe_429: 2,
      scheduler_sigkill: 1,
      pg_restart: 1,
    });
    // Two rounds of purchases: each seller's own (50.00 and 51.00 AUD, destination charges)
    // and the class both co-host (90.00 AUD, a split by weights 1 and 2).
    const found = Object.fromEntries(report.checks.map((r) => [r.check, r.found]));
    expect(found).toMatchObject({
      "marketplace charges (susu)": "6",
      "charges settled or refunded whole": "6",
      "charges with more than one PaymentIntent": "0",
      "(charge, seller) shares (susu)": "8",
      "shares with one transfer at Stripe": "8",
      "shares with more than one transfer": "0",
      "in-flight and seller payable accounts not zero": "0",
      "Stripe: captured (minor) = ledger paid in": "38200",
      "outbox effects still pending": "0",
    });
    expect(Number(found["refunds succeeded (of those asked for)"])).toBeGreaterThan(0);
  });
});
