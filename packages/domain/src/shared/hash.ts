/**
 * A 32-bit FNV-1a hash of a string. Used to derive deterministic "randomness" (retry
 * jitter, seeded draws) from stable ids, so that `decide` stays a pure function and a
 * replay after a crash computes exactly the same schedule.
 */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** A fraction in [0, 1) derived from `text`; the same text always gives the same fraction. */
export function unitFraction(text: string): number {
  return hash32(text) / 0x1_0000_0000;
}

/**
 * A small deterministic pseudo-random generator (mulberry32) seeded from a string.
 * Returns a function producing fractions in [0, 1). Anyone holding the seed can
 * re-derive the same sequence, which is what makes a seeded payout draw auditable.
 */
export function seededFractions(seed: string): () => number {
  let state = hash32(seed);
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  };
}
