// The simulation's fault schedule: drawn from the seed alone, before anything runs, so the
// same seed plans the same faults. Each fault is tied to a round step (the week whose rounds
// it disturbs) and a moment in that step: when the rounds open (`open`), while the debits
// are processing (`processing`) or once they have settled and the pots are being paid out
// (`payout`).

/** A small, fast, seedable generator (mulberry32): the same seed draws the same numbers. */
export function seededRandom(seed) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return {
    next,
    chance: (p) => next() < p,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (items) => items[Math.floor(next() * items.length)],
  };
}

/** The Stripe routes the scheduler calls while rounds run: debits and the pots' transfers. */
export const STRIPE_ROUTES = ["POST /v1/payment_intents", "POST /v1/transfers"];
/** …and while held payments run: their Checkout Sessions and the releases' transfers. */
export const HELD_STRIPE_ROUTES = ["POST /v1/checkout/sessions", "POST /v1/transfers"];
/** …and while marketplace charges run: their PaymentIntents, the splits' transfers, refunds and reversals. */
export const MARKETPLACE_STRIPE_ROUTES = [
  "POST /v1/payment_intents",
  "POST /v1/transfers",
  "POST /v1/refunds",
  "POST /v1/transfers/*/reversals",
];
const MOMENTS = ["open", "processing", "payout"];

/**
 * Plans the faults of a run of `steps` round steps with `schedulers` scheduler processes.
 * `minimum` forces at least that many SIGKILLs and PostgreSQL restarts (a CI run must have
 * one of each whatever the seed draws).
 */
export function planFaults({
  seed,
  steps,
  schedulers,
  routes = STRIPE_ROUTES,
  intensity = 1,
  minimum = { kills: 0, pgRestarts: 0 },
}) {
  const rng = seededRandom(seed ^ 0x5eed);
  const faults = [];
  for (let step = 0; step < steps; step++) {
    // Stripe answering badly: 500s, 429s, timeouts, a response lost after the work was done.
    const stripeFaults = rng.int(0, Math.round(2 * intensity));
    for (let i = 0; i < stripeFaults; i++) {
      const kind = rng.pick(["error", "error", "rate_limit", "rate_limit", "hang", "drop"]);
      faults.push({
        step,
        moment: rng.pick(kind === "hang" ? ["payout"] : MOMENTS),
        type: "stripe",
        route: rng.pick(routes),
        kind,
        count: kind === "hang" ? 1 : rng.int(1, 2),
        phase: kind === "hang" || kind === "drop" ? "before" : rng.pick(["before", "after"]),
      });
    }
    if (rng.chance(0.3 * intensity))
      faults.push({
        step,
        moment: rng.pick(MOMENTS),
        type: "kill",
        scheduler: rng.int(0, schedulers - 1),
        downMs: rng.int(500, 3_000),
      });
    if (rng.chance(0.15 * intensity))
      faults.push({ step, moment: rng.pick(MOMENTS), type: "pg_restart", downMs: rng.int(500, 2_000) });
    // A jump of hours inside a step (on top of the weekly jumps every step makes).
    if (rng.chance(0.4 * intensity))
      faults.push({ step, moment: rng.pick(MOMENTS), type: "clock_jump", seconds: rng.int(600, 6 * 3600) });
  }
  const count = (type) => faults.filter((f) => f.type === type).length;
  for (let k = count("kill"); k < minimum.kills; k++)
    faults.push({
      step: rng.int(0, steps - 1),
      moment: rng.pick(MOMENTS),
      type: "kill",
      scheduler: rng.int(0, schedulers - 1),
      downMs: rng.int(500, 3_000),
    });
  for (let k = count("pg_restart"); k < minimum.pgRestarts; k++)
    faults.push({
      step: rng.int(0, steps - 1),
      moment: rng.pick(MOMENTS),
      type: "pg_restart",
      downMs: rng.int(500, 2_000),
    });
  const order = (f) => f.step * 10 + MOMENTS.indexOf(f.moment);
  return faults.map((f, i) => ({ ...f, i })).sort((a, b) => order(a) - order(b) || a.i - b.i);
}

/** One line per planned fault, for the printed schedule. */
export function describeFault(f) {
  switch (f.type) {
    case "stripe":
      return `step ${f.step} ${f.moment}: stripe ${f.kind} ×${f.count} on ${f.route} (phase ${f.phase})`;
    case "kill":
      return `step ${f.step} ${f.moment}: SIGKILL scheduler ${f.scheduler}, restarted after ${f.downMs} ms`;
    case "pg_restart":
      return `step ${f.step} ${f.moment}: PostgreSQL stopped, started again after ${f.downMs} ms`;
    case "clock_jump":
      return `step ${f.step} ${f.moment}: clock jumps ${f.seconds} s`;
    default:
      return JSON.stringify(f);
  }
}
