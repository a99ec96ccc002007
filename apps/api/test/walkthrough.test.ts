// The README's walkthrough, run as written: its ```sh blocks, in order, in one bash session,
// against a real `npm start` (on free ports and throw-away folders). Only the ports are
// changed. The tokens are the demo tokens `npm start` prints (same people, roles and
// lifetime, scripts/stack.mjs printDemoTokens), minted here with a secret given to the
// stack: on embedded defaults `npm start` would keep its secret in the repository's
// .data/jwt-secret, which other tests expect to be absent. A block that calls a /v1 route the running API does not
// document (a route not merged yet) stops the run there: the blocks before it must pass, and
// the test of the whole walkthrough is skipped, naming the missing routes.
// Linux only (like start-process.test.ts), and it needs curl and jq, as the README says.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../src/http/auth.js";

const WALK_SECRET = "walkthrough-secret-0123456789-abcdefghij";

const root = join(import.meta.dirname, "..", "..", "..");
const has = (tool: string) => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;
const runnable = process.platform === "linux" && has("curl") && has("jq") && has("bash");

/** One ```sh block of the walkthrough and the /v1 routes its commands call. */
interface Step {
  readonly script: string;
  readonly routes: readonly { readonly method: string; readonly path: string }[];
}

/** The ```sh blocks of the README's "## Walkthrough" section, in order. */
export function walkthroughSteps(readme: string): Step[] {
  const start = readme.indexOf("\n## Walkthrough\n");
  if (start < 0) throw new Error("README.md has no '## Walkthrough' section");
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => {
    const script = m[1] as string;
    // One command per logical line: join backslash continuations.
    const commands = script.replace(/\\\n/g, " ").split("\n");
    const routes = commands.flatMap((command) =>
      [...command.matchAll(/\$API(\/v1\/[^\s"'?)]*)/g)].map((r) => ({
        method: /-X\s*([A-Z]+)/.exec(command)?.[1] ?? "GET",
        path: r[1] as string,
      })),
    );
    return { script, routes };
  });
}

/** Whether the document has `method path`, where `$VAR` segments of the path match any parameter. */
function documented(
  doc: { paths: Record<string, Record<string, unknown>> },
  method: string,
  path: string,
): boolean {
  const segments = path.split("/");
  return Object.entries(doc.paths).some(([template, item]) => {
    const parts = template.split("/");
    if (parts.length !== segments.length || item[method.toLowerCase()] === undefined) return false;
    return parts.every((part, i) => {
      const segment = segments[i] as string;
      return part.startsWith("{") ? segment.length > 0 : part === segment;
    });
  });
}

let stack: ChildProcess | undefined;
let output = "";
const folders: string[] = [];
let ports: { api: number; emulator: number; postgres: number };
let tokens: Record<"ANA" | "BEN" | "OPS", string>;
let steps: Step[];
let runnableSteps = 0;
let missing: string[] = [];

beforeAll(async () => {
  if (!runnable) return;
  steps = walkthroughSteps(readFileSync(join(root, "README.md"), "utf8"));
  ports = await freePorts();
  const pgDataDir = mkdtempSync(join(tmpdir(), "susu-walk-pg-"));
  const stripeDir = mkdtempSync(join(tmpdir(), "susu-walk-stripe-"));
  folders.push(pgDataDir, stripeDir);
  const env: NodeJS.ProcessEnv = { ...process.env };
  // The run's own settings must not leak in.
  for (const name of [
    "DATABASE_URL",
    "STRIPE_API_URL",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "HOST",
    "SUSU_JWKS_URL",
  ])
    delete env[name];
  Object.assign(env, {
    SUSU_SKIP_BUILD: "1",
    PORT: String(ports.api),
    SUSU_EMULATOR_PORT: String(ports.emulator),
    SUSU_PG_PORT: String(ports.postgres),
    SUSU_PG_DATA_DIR: pgDataDir,
    SUSU_EMULATOR_DATA_DIR: stripeDir,
    SUSU_DISPATCH_INTERVAL_MS: "200",
    SUSU_JWT_SECRET: WALK_SECRET,
  });
  stack = spawn(process.execPath, ["scripts/start.mjs"], {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  stack.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  stack.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const until = Date.now() + 90_000;
  while (!output.includes("susu is running")) {
    if (stack.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
    if (Date.now() > until) throw new Error(`npm start was not running after 90 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const ttlSeconds = 7 * 24 * 3600;
  tokens = {
    ANA: await mintToken({ subject: "ana", roles: ["member"], ttlSeconds }, WALK_SECRET),
    BEN: await mintToken({ subject: "ben", roles: ["member"], ttlSeconds }, WALK_SECRET),
    OPS: await mintToken({ subject: "ops", roles: ["admin"], ttlSeconds }, WALK_SECRET),
  };
  const doc = (await (await fetch(`http://127.0.0.1:${ports.api}/v1/openapi.json`)).json()) as {
    paths: Record<string, Record<string, unknown>>;
  };
  runnableSteps = steps.length;
  for (const [i, step] of steps.entries()) {
    const absent = step.routes.filter((r) => !documented(doc, r.method, r.path));
    if (absent.length > 0 && runnableSteps === steps.length) runnableSteps = i;
    missing.push(...absent.map((r) => `${r.method} ${r.path}`));
  }
  missing = [...new Set(missing)];
}, 150_000);

afterAll(async () => {
  if (stack !== undefined && stack.exitCode === null) {
    const exited = new Promise((r) => stack?.once("exit", r));
    stack.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
    if (stack.exitCode === null) stack.kill("SIGKILL");
  }
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
}, 60_000);

/** Runs the first `count` blocks in one bash session; returns its exit code and output. */
function runSteps(count: number): Promise<{ code: number | null; text: string }> {
  const script = ["set -euo pipefail", ...steps.slice(0, count).map((s) => s.script)]
    .join("\n")
    .replaceAll("127.0.0.1:3000", `127.0.0.1:${ports.api}`)
    .replaceAll("127.0.0.1:12111", `127.0.0.1:${ports.emulator}`);
  return new Promise((resolve) => {
    const child = spawn("bash", ["-c", script], {
      cwd: root,
      // SUSU_JWT_SECRET for the README's `npm run -s token`, as .data/jwt-secret would be.
      env: { ...process.env, ...tokens, SUSU_JWT_SECRET: WALK_SECRET },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let text = "";
    child.stdout.on("data", (c: Buffer) => {
      text += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      text += c.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 240_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, text });
    });
  });
}

// CI has bash, curl and jq (the machine image ships them): there it never skips.
describe.skipIf(!runnable && process.env.CI === undefined)("the README walkthrough", () => {
  it("has steps, and every /v1 route it calls is spelled as the API's routes are", () => {
    expect(steps.length).toBeGreaterThanOrEqual(8);
    for (const step of steps)
      for (const route of step.routes) expect(route.path).toMatch(/^\/v1\/[a-z$/{}A-Z_-]+$/);
  });

  it("runs whole, a round paid out, a held booking released and a marketplace charge settled, with the demo tokens", async () => {
    // Every route the README calls is in the API: a step naming one that is not fails here.
    expect(missing, "routes the README calls that the API does not have").toEqual([]);
    const run = await runSteps(steps.length);
    expect(run.code, run.text).toBe(0);
    expect(run.text).toContain("both ready");
    expect(run.text).toMatch(/"status": "paid_out"/);
    // The held booking: 80.00 paid, 20.00 refunded before the release (18.00 of Ana's 72.00
    // share, 2.00 of the fee), then her 54.00 transferred once.
    expect(run.text).toMatch(/"status": "released",\s*"amount": 8000,\s*"sellerNet": 5400,\s*"feeNet": 600/);
    expect(run.text).toMatch(/"transfers": \[\s*\{\s*"amount": 5400,\s*"status": "created"\s*\}\s*\]/);
    // Ben's pottery class: a new card confirmed with the client secret, settled, part refunded.
    expect(run.text).toMatch(/"status": "settled",\s*"mode": "destination"/);
    expect(run.text).toMatch(/"initiatedBy": "customer"/);
  }, 300_000);
});

async function freePorts(): Promise<{ api: number; emulator: number; postgres: number }> {
  const servers = await Promise.all(
    [0, 1, 2].map(
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once("error", reject);
          server.listen(0, "127.0.0.1", () => resolve(server));
        }),
    ),
  );
  const [api, emulator, postgres] = servers.map((s) => {
    const address = s.address();
    return typeof address === "object" && address !== null ? address.port : 0;
  }) as [number, number, number];
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return { api, emulator, postgres };
}
