import { randomFillSync } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
// One pool refilled in bulk: a crypto call per id would dominate the cost of small requests.
const pool = Buffer.alloc(8192);
let poolOffset = pool.length;

function randomChars(length: number): string {
  if (poolOffset + length > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  let out = "";
  for (let i = 0; i < length; i++) {
    out += ALPHABET[pool[poolOffset + i]! % 62];
  }
  poolOffset += length;
  return out;
}

/** An id shaped like Stripe's: a type prefix, an underscore and 24 random alphanumerics. */
export function newId(prefix: string, length = 24): string {
  return `${prefix}_${randomChars(length)}`;
}

/** A random token without prefix, for secrets and URLs. */
export function randomToken(length: number): string {
  return randomChars(length);
}
