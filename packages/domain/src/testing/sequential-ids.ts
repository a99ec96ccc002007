import type { IdGenerator } from "../ports/id-generator.js";

/** Ids `prefix_1`, `prefix_2`, … — readable and deterministic in tests. */
export class SequentialIds implements IdGenerator {
  #next = new Map<string, number>();
  newId(prefix: string): string {
    const n = (this.#next.get(prefix) ?? 0) + 1;
    this.#next.set(prefix, n);
    return `${prefix}_${n}`;
  }
}
