import { seededFractions } from "../shared/hash.js";
import type { MemberId } from "./ids.js";

/**
 * How the rotation's payout order is chosen:
 * - `fixed`: an admin sets the order;
 * - `join_order`: members receive in the order they joined;
 * - `seeded_draw`: a shuffle driven by a recorded seed, so anyone can re-derive it;
 * - `reverse_join_order`: the newest member first (groups that reward newcomers' trust).
 */
export type PayoutOrderMethod = "fixed" | "join_order" | "seeded_draw" | "reverse_join_order";

/** Every payout order method, for validation at the edges. */
export const PAYOUT_ORDER_METHODS: readonly PayoutOrderMethod[] = [
  "fixed",
  "join_order",
  "seeded_draw",
  "reverse_join_order",
];

/** The order in which members receive the pot in a rotation, and how it was made. */
export interface PayoutOrder {
  readonly method: PayoutOrderMethod;
  readonly memberIds: readonly MemberId[];
  /** For `seeded_draw`: the seed the draw used. Publishing it lets anyone audit the order. */
  readonly seed?: string;
}

/**
 * A deterministic Fisher–Yates shuffle of `memberIds` driven by `seed`. The input is
 * sorted first so the result depends only on the set of members and the seed, not on
 * the order they were listed in.
 */
export function drawPayoutOrder(memberIds: readonly MemberId[], seed: string): MemberId[] {
  const order = [...memberIds].sort();
  const next = seededFractions(seed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const a = order[i] as MemberId;
    order[i] = order[j] as MemberId;
    order[j] = a;
  }
  return order;
}

/** True when `order` lists exactly the members of `expected`, each once. */
export function isPermutationOf(order: readonly MemberId[], expected: readonly MemberId[]): boolean {
  if (order.length !== expected.length) return false;
  const seen = new Set(order);
  return seen.size === order.length && expected.every((id) => seen.has(id));
}
