// Outbox rows for the scheduler's storage tests: a timer effect per aggregate, an empty changeset.
import type { Changeset, OutboxEffect } from "@susu/domain";

/** The day the fixtures' effects are due. */
export const FIXTURE_DAY = Date.UTC(2026, 0, 6);

export const emptyChangeset: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };

/** A round's deadline timer effect, due at {@link FIXTURE_DAY}, each on its own round (its own aggregate). */
export const timerEffect = (id: string): OutboxEffect => ({
  kind: "schedule_timer",
  id,
  aggregate: "round",
  aggregateId: `round_${id}`,
  at: FIXTURE_DAY,
  timer: { kind: "collection_deadline" },
});
