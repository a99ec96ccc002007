// `npm start`: the whole system on embedded defaults, on a fresh machine.
// 1. builds every package (turbo; the Prisma client is generated on the way),
// 2. starts PostgreSQL (embedded under .data/postgres, or DATABASE_URL) and migrates it,
// 3. starts the Stripe emulator (state kept under .data/stripe) unless STRIPE_API_URL is set,
// 4. runs the API and the scheduler as child processes, and stops everything on Ctrl-C.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const log = (msg, fields = {}) =>
  console.log(JSON.stringify({ level: "info", service: "start", msg, ...fields }));

if (process.env.SUSU_SKIP_BUILD !== "1") {
  log("building");
  const build = spawnSync("npx", ["turbo", "run", "build", "--output-logs=errors-only"], {
    cwd: root,
    stdio: "inherit",
  });
  if (build.status !== 0) process.exit(build.status ?? 1);
}

const adapters = await import(join(root, "packages/adapters/dist/index.js"));
const emulatorLib = await import(join(root, "packages/stripe-emulator/dist/index.js"));

const database = await adapters.resolveDatabaseUrl();
log("database ready", {
  source: database.source,
  url: adapters.redactConnectionString(database.connectionString),
});
const migrated = await adapters.applyMigrations(database.connectionString);
log("migrations applied", { applied: migrated.applied });

const apiPort = Number(process.env.PORT ?? 3000);
let emulator;
let stripeUrl = process.env.STRIPE_API_URL;
let stripeKey = process.env.STRIPE_SECRET_KEY;
let webhookSecret = process.env.STRIPE_WEBHOOK_SECRET;
if (stripeUrl === undefined) {
  const dataDir = join(root, ".data/stripe");
  mkdirSync(dataDir, { recursive: true });
  emulator = await emulatorLib.startEmulator({
    port: Number(process.env.SUSU_EMULATOR_PORT ?? 12111),
    dataDir,
    webhookUrl: `http://127.0.0.1:${apiPort}/webhooks/stripe`,
    webhookRealTimeRetryMs: 5_000,
  });
  stripeUrl = emulator.url;
  stripeKey = emulator.secretKey;
  webhookSecret = emulator.webhookSecret;
  log("stripe emulator ready", { url: stripeUrl, control: `${stripeUrl}/_emulator` });
}

const env = {
  ...process.env,
  DATABASE_URL: database.connectionString,
  STRIPE_API_URL: stripeUrl,
  STRIPE_SECRET_KEY: stripeKey ?? "",
  ...(webhookSecret ? { STRIPE_WEBHOOK_SECRET: webhookSecret } : {}),
  PORT: String(apiPort),
};
const children = [
  spawn(process.execPath, [join(root, "apps/api/dist/main.js")], { env, stdio: "inherit" }),
  spawn(process.execPath, [join(root, "apps/scheduler/dist/main.js")], { env, stdio: "inherit" }),
];
log("susu is running", { api: `http://127.0.0.1:${apiPort}`, health: `http://127.0.0.1:${apiPort}/health` });

let stopping = false;
async function stop(code) {
  if (stopping) return;
  stopping = true;
  log("stopping");
  for (const child of children) child.kill("SIGTERM");
  await Promise.all(
    children.map((c) => (c.exitCode === null ? new Promise((r) => c.once("exit", r)) : null)),
  );
  await emulator?.stop();
  await database.close();
  process.exit(code);
}
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));
for (const child of children)
  child.once("exit", (code) => {
    if (!stopping) {
      log("a process exited; stopping the rest", { code });
      void stop(code ?? 1);
    }
  });
