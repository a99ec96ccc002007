/** Makes new unique ids for aggregates the domain creates (groups, members, …); a round's id is derived instead (`roundIds.round`). */
export interface IdGenerator {
  /** A new id starting with `prefix` and an underscore, e.g. `round_01H…`. */
  newId(prefix: string): string;
}
