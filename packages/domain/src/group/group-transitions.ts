import { defineTransitions } from "../kernel/transitions.js";

/**
 * `forming` (members join, order is set) → `active` → `completed` (every planned rotation
 * paid out), with `paused` when a payout cannot be delivered or an admin pauses it, and
 * `closed` when an admin ends it early (between rounds). `completed` and `closed` are
 * final: no round opens, nobody joins. Moves: `GROUP_TRANSITIONS`.
 */
export type GroupStatus = "forming" | "active" | "paused" | "completed" | "closed";

/**
 * The moves a group's status can make. Every status change in `group.ts` goes through
 * `assertMove`; any other move throws (a bug, not an outcome).
 *
 * - `forming → active` when an admin activates it (everyone ready), `→ closed` when an
 *   admin gives it up before it starts;
 * - `active → paused` when a payout is blocked or an admin pauses it, `→ completed` when
 *   the last planned rotation is paid out (by a round's end, or by the last member still due
 *   leaving between rounds) or fewer than two members are left to take part, `→ closed` when
 *   an admin closes it between rounds;
 * - `paused → active` when it resumes, `→ completed` as from `active` (the round in progress
 *   during an admin's pause pays out the last rotation, a leave between rounds), `→ closed`
 *   between rounds;
 * - `completed` and `closed` are final.
 */
export const GROUP_TRANSITIONS = defineTransitions<GroupStatus>("group", {
  forming: ["active", "closed"],
  active: ["paused", "completed", "closed"],
  paused: ["active", "completed", "closed"],
  completed: [],
  closed: [],
});
