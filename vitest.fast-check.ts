import fc from "fast-check";

/**
 * Property tests draw fresh random inputs on every run unless `FC_SEED` is set: a developer's
 * `npm test` keeps exploring, while CI (`.ci/run` sets it) checks the same inputs on every
 * run, so a red CI run is a change's doing, not the dice's. A failing property prints its
 * seed either way; `FC_SEED=<seed> npm test` replays it. Tests that pass their own seed keep it.
 */
const seed = process.env.FC_SEED;
if (seed !== undefined && seed !== "") {
  const parsed = Number(seed);
  if (!Number.isSafeInteger(parsed))
    throw new Error(`FC_SEED must be an integer, got ${JSON.stringify(seed)}`);
  fc.configureGlobal({ ...fc.readConfigureGlobal(), seed: parsed });
}
