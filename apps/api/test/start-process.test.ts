// `npm start` as systemd, Docker or a CI runner see it: a real process tree (npm, start.mjs,
// stack.mjs, the API, the scheduler, PostgreSQL and its children) signalled by its PID.
// Linux only: the tree is read from /proc.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { request } from "node:http";
import { connect, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../src/http/auth.js";

const root = join(import.meta.dirname, "..", "..", "..");
const onLinux = process.platform === "linux";

/** One process, told apart from a later one that reuses its pid by its start time. */
interface Proc {
  readonly pid: number;
  readonly startedAt: string;
  readonly args: string;
}

/** Every started tree and temp folder, so nothing outlives a failing test. */
const cleanups: (() => void)[] = [];

afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});
afterAll(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

beforeAll(() => {
  if (onLinux) ensureBuilt();
}, 300_000);

describe.skipIf(!onLinux)("npm start as a process tree", () => {
  it("SIGTERM to npm's PID: the apps drain (a request in flight is answered), then the emulator, then PostgreSQL stop; exit 0; nothing left", async () => {
    const tree = await startTree("npm");
    expect(await health(tree.ports.api)).toBe(200);
    const procs = tree.processes();
    // npm, start.mjs, stack.mjs, the API, the scheduler, the postmaster and its children.
    expect(procs.some((p) => p.args.includes("apps/api/dist/main.js"))).toBe(true);
    expect(procs.some((p) => p.args.includes("apps/scheduler/dist/main.js"))).toBe(true);
    expect(procs.some((p) => p.args.includes(`-D ${tree.pgDataDir}`))).toBe(true);
    // The scheduler's /metrics is on a free port it picked, named in the "running" line.
    const running = tree
      .output()
      .split("\n")
      .find((line) => line.includes('"msg":"susu is running"'));
    const schedulerMetrics = String(JSON.parse(running ?? "{}").schedulerMetrics);
    expect(schedulerMetrics).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const scraped = await fetch(schedulerMetrics);
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toContain("# TYPE susu_webhook_events_processed_total counter");

    // A request whose body is still arriving when the stop begins must still be answered.
    const inFlight = await startSlowRequest(tree.ports.api);
    tree.child.kill("SIGTERM");
    await sleep(300);
    const answer = inFlight.finish();

    expect(await answer).toMatch(/^HTTP\/1\.1 400/);
    expect(await tree.exitCode()).toBe(0);
    await expectAllGone(tree, procs);
    const order = [
      /"susu-api".*"msg":"stopped"/,
      /"susu-scheduler".*"msg":"scheduler stopped"/,
      /"msg":"stripe emulator stopped"/,
      /"msg":"postgres stopped"/,
    ].map((line) => tree.output().search(line));
    expect(order.every((at) => at >= 0)).toBe(true);
    expect(Math.max(order[0]!, order[1]!)).toBeLessThan(order[2]!);
    expect(order[2]!).toBeLessThan(order[3]!);
  }, 60_000);

  it("API_PROCESSES=2: two API processes serve the port, /metrics counts the requests of both, and SIGTERM drains them (a request in flight is answered); exit 0; nothing left", async () => {
    const tree = await startTree("node", { API_PROCESSES: "2" });
    const procs = tree.processes();
    // The primary and its two workers run the same file.
    expect(procs.filter((p) => p.args.includes("apps/api/dist/main.js"))).toHaveLength(3);

    // One connection each: the primary hands connections to the workers in turn.
    const sent = 10;
    for (let i = 0; i < sent; i++) expect(await healthOnNewConnection(tree.ports.api)).toBe(200);
    const token = await mintToken({ subject: "ops", roles: ["service"], ttlSeconds: 60 }, TREE_JWT_SECRET);
    const metrics = await fetch(`http://127.0.0.1:${tree.ports.api}/metrics`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(metrics.status).toBe(200);
    const scraped = await metrics.text();
    const counted = scraped.match(
      /^http_requests_total\{[^}]*route="\/healthz"[^}]*status="200"[^}]*\} (\d+)$/m,
    );
    // One process's own registry would hold about half of them.
    expect(Number(counted?.[1])).toBe(sent);
    // The payment metrics are read from the migrated database by each worker, taken once.
    expect(scraped).toContain("# TYPE susu_payment_outcomes_total counter");
    expect(scraped).toContain("# TYPE susu_debit_settlement_seconds histogram");
    expect(scraped).toMatch(/^susu_held_funds_release_overdue_seconds 0$/m);
    expect(scraped).toMatch(/^susu_outbox_oldest_pending_seconds \d/m);
    expect(scraped).not.toMatch(/^susu_gauge_collect_errors_total\{.*\} [1-9]/m);

    const inFlight = await startSlowRequest(tree.ports.api);
    tree.child.kill("SIGTERM");
    await sleep(300);
    expect(await inFlight.finish()).toMatch(/^HTTP\/1\.1 400/);
    expect(await tree.exitCode()).toBe(0);
    expect(tree.output()).toMatch(/"susu-api".*"msg":"stopped".*"processes":2/);
    await expectAllGone(tree, procs);
  }, 60_000);

  it("SIGINT to start.mjs's PID: exit 0, nothing left", async () => {
    const tree = await startTree("node");
    const procs = tree.processes();
    tree.child.kill("SIGINT");
    expect(await tree.exitCode()).toBe(0);
    await expectAllGone(tree, procs);
  }, 60_000);

  it("the API dying on its own stops the rest: exit non-zero, nothing left", async () => {
    const tree = await startTree("node");
    const procs = tree.processes();
    const api = procs.find((p) => p.args.includes("apps/api/dist/main.js"));
    process.kill(api!.pid, "SIGKILL");
    expect(await tree.exitCode()).not.toBe(0);
    expect(tree.output()).toContain("api exited on its own: stopping the rest");
    await expectAllGone(tree, procs);
  }, 60_000);

  it("a second signal forces the stop of a scheduler that cannot drain, and PostgreSQL still stops", async () => {
    const tree = await startTree("node");
    const procs = tree.processes();
    const scheduler = procs.find((p) => p.args.includes("apps/scheduler/dist/main.js"));
    process.kill(scheduler!.pid, "SIGSTOP"); // a drain that never ends
    tree.child.kill("SIGTERM");
    await sleep(1_500); // past the window in which a repeat counts as the same stop
    tree.child.kill("SIGTERM");
    expect(await tree.exitCode()).toBe(1);
    expect(tree.output()).toContain("forcing the stop");
    expect(tree.output()).toContain('"msg":"postgres stopped"');
    await expectAllGone(tree, procs);
  }, 60_000);

  it.each([
    ["PORT", "api"],
    ["SUSU_EMULATOR_PORT", "emulator"],
    ["SUSU_PG_PORT", "postgres"],
    ["SUSU_SCHEDULER_METRICS_PORT", "schedulerMetrics"],
  ] as const)(
    "a port in use (%s): one line naming it, exit 1, nothing started",
    async (variable, taken) => {
      const ports = await freePorts();
      const blocker = await occupy(ports[taken]);
      try {
        const run = launch("node", ports);
        expect(await run.exitCode()).toBe(1);
        const lines = run.output().trim().split("\n");
        expect(lines).toHaveLength(1);
        expect(lines[0]).toContain(`port ${ports[taken]} is already in use: set ${variable} to a free port`);
        for (const [name, port] of Object.entries(ports))
          if (name !== taken && port !== undefined) expect(await isListening(port), name).toBe(false);
        expect(existsSync(join(run.pgDataDir, "PG_VERSION"))).toBe(false);
      } finally {
        blocker.close();
      }
    },
    30_000,
  );
});

// --- the tree ---------------------------------------------------------------------------------

interface Ports {
  readonly api: number;
  readonly emulator: number;
  readonly postgres: number;
  /** Unset: the scheduler picks a free port for its /metrics. */
  readonly schedulerMetrics?: number;
}

interface Launched {
  readonly child: ChildProcess;
  readonly ports: Ports;
  readonly pgDataDir: string;
  output(): string;
  exitCode(): Promise<number | null>;
  /** The spawned process and every descendant, now. */
  processes(): Proc[];
}

/** The secret the trees' tokens are signed with. */
const TREE_JWT_SECRET = "start-process-test-secret-0123456789-abcdef";

/** Spawns `npm start` or `node scripts/start.mjs` on free ports and throw-away folders. */
function launch(
  how: "npm" | "node",
  ports: Ports,
  extraEnv: Readonly<Record<string, string>> = {},
): Launched {
  const pgDataDir = mkdtempSync(join(tmpdir(), "susu-start-pg-"));
  const stripeDir = mkdtempSync(join(tmpdir(), "susu-start-stripe-"));
  const env: NodeJS.ProcessEnv = { ...process.env };
  // The test run's own settings (its PostgreSQL, say) must not leak into the tree.
  for (const name of [
    "DATABASE_URL",
    "STRIPE_API_URL",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "HOST",
    "API_PROCESSES",
    "SUSU_JWT_SECRET",
    "SUSU_JWKS_URL",
  ])
    delete env[name];
  Object.assign(env, {
    SUSU_SKIP_BUILD: "1",
    PORT: String(ports.api),
    SUSU_EMULATOR_PORT: String(ports.emulator),
    SUSU_PG_PORT: String(ports.postgres),
    ...(ports.schedulerMetrics !== undefined
      ? { SUSU_SCHEDULER_METRICS_PORT: String(ports.schedulerMetrics) }
      : {}),
    SUSU_PG_DATA_DIR: pgDataDir,
    SUSU_EMULATOR_DATA_DIR: stripeDir,
    SUSU_JWT_SECRET_FILE: join(stripeDir, "jwt-secret"),
    SUSU_DISPATCH_INTERVAL_MS: "200",
    // Without it, npm start keeps a secret in the repository's .data/jwt-secret, and
    // auth.test.ts's "refuses to run without the secret" then finds one, depending on order.
    SUSU_JWT_SECRET: TREE_JWT_SECRET,
    ...extraEnv,
  });
  const [command, args] = how === "npm" ? ["npm", ["start"]] : [process.execPath, ["scripts/start.mjs"]];
  const child = spawn(command, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    text += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    text += chunk.toString();
  });
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const seen = new Map<number, Proc>();
  const launched: Launched = {
    child,
    ports,
    pgDataDir,
    output: () => text,
    exitCode: () => exit,
    processes: () => {
      for (const p of descendantsOf(child.pid!)) seen.set(p.pid, p);
      return [...seen.values()];
    },
  };
  cleanups.push(() => {
    // Whatever a failed test left: the whole tree, PostgreSQL included, then the folders.
    for (const p of [...seen.values(), ...descendantsOf(child.pid!)]) if (isSame(p)) kill(p.pid, "SIGKILL");
    kill(child.pid!, "SIGKILL");
    rmSync(pgDataDir, { recursive: true, force: true });
    rmSync(stripeDir, { recursive: true, force: true });
  });
  return launched;
}

/** Launches a tree and waits for "susu is running". */
async function startTree(
  how: "npm" | "node",
  extraEnv: Readonly<Record<string, string>> = {},
): Promise<Launched> {
  const { schedulerMetrics: _picked, ...ports } = await freePorts();
  const tree = launch(how, ports, extraEnv);
  const until = Date.now() + 45_000;
  while (!tree.output().includes("susu is running")) {
    if (tree.child.exitCode !== null) throw new Error(`npm start exited early:\n${tree.output()}`);
    if (Date.now() > until) throw new Error(`npm start was not running after 45 s:\n${tree.output()}`);
    await sleep(100);
    tree.processes();
  }
  tree.processes();
  return tree;
}

async function expectAllGone(tree: Launched, procs: readonly Proc[]): Promise<void> {
  // A process reparented away from a dying parent is still alive, and still found by pid.
  const left = procs.filter(isSame);
  expect(
    left.map((p) => `${p.pid} ${p.args}`),
    "processes of the tree still running",
  ).toEqual([]);
  for (const [name, port] of Object.entries(tree.ports))
    if (port !== undefined) expect(await isListening(port), name).toBe(false);
}

// --- /proc -----------------------------------------------------------------------------------

/** pid, parent pid and start time of a process, or undefined once it is gone (or a zombie). */
function statOf(pid: number): { ppid: number; startedAt: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name is in parentheses and may contain spaces: fields follow the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z" || fields[0] === "X") return undefined;
    return { ppid: Number(fields[1]), startedAt: fields[19] ?? "" };
  } catch {
    return undefined;
  }
}

function argsOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return "";
  }
}

function descendantsOf(rootPid: number): Proc[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = statOf(pid);
    if (stat === undefined) continue;
    children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), pid]);
  }
  const found: Proc[] = [];
  const queue = [rootPid];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    const stat = statOf(pid);
    if (stat !== undefined) found.push({ pid, startedAt: stat.startedAt, args: argsOf(pid) });
    queue.push(...(children.get(pid) ?? []));
  }
  return found;
}

/** Still running, and still the same process (not a new one with its pid). */
function isSame(p: Proc): boolean {
  return statOf(p.pid)?.startedAt === p.startedAt;
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

// --- ports -------------------------------------------------------------------------------------

async function freePorts(): Promise<Required<Ports>> {
  // Held together, so the four differ.
  const servers = await Promise.all([0, 1, 2, 3].map(() => occupy(0)));
  const [api, emulator, postgres, schedulerMetrics] = servers.map((s) => {
    const address = s.address();
    return typeof address === "object" && address !== null ? address.port : 0;
  }) as [number, number, number, number];
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return { api, emulator, postgres, schedulerMetrics };
}

function occupy(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

async function health(port: number): Promise<number> {
  return (await fetch(`http://127.0.0.1:${port}/healthz`)).status;
}

/** GET /healthz on a connection of its own (no keep-alive agent). */
function healthOnNewConnection(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/healthz", agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

/** Sends a request's headers and half its body; `finish()` sends the rest and reads the answer. */
async function startSlowRequest(port: number): Promise<{ finish(): Promise<string> }> {
  const socket = connect(port, "127.0.0.1");
  await new Promise((resolve) => socket.once("connect", resolve));
  const body = '{"id":"evt_1","object":"event"}';
  socket.write(
    `POST /webhooks/stripe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
  );
  let answer = "";
  socket.on("data", (chunk: Buffer) => {
    answer += chunk.toString();
  });
  const closed = new Promise<string>((resolve) => {
    socket.once("close", () => resolve(answer));
    socket.once("error", () => resolve(answer));
  });
  return {
    finish: () => {
      socket.end(body.slice(10));
      return closed;
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// --- the build the tree runs ------------------------------------------------------------------

/**
 * `npm test` builds the API and the scheduler before this file runs (turbo.json,
 * `@susu/api#test`). Run on its own (`npx vitest run` in apps/api), the dist files may be
 * missing or older than their sources: then build them, as `npm start` would.
 */
function ensureBuilt(): void {
  const entries = [
    ["packages/domain", "dist/index.js"],
    ["packages/adapters", "dist/index.js"],
    ["packages/stripe-emulator", "dist/index.js"],
    ["apps/api", "dist/main.js"],
    ["apps/scheduler", "dist/main.js"],
  ] as const;
  const stale = entries.some(([pkg, entry]) => {
    const built = join(root, pkg, entry);
    return !existsSync(built) || newestIn(join(root, pkg, "src")) > statSync(built).mtimeMs;
  });
  if (!stale) return;
  const build = spawnSync(
    "npx",
    ["turbo", "run", "build", "--filter=@susu/api", "--filter=@susu/scheduler", "--output-logs=errors-only"],
    { cwd: root, stdio: "inherit" },
  );
  if (build.status !== 0) throw new Error("building the API and the scheduler failed");
}

function newestIn(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || entry.parentPath.includes("generated")) continue;
    newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}
