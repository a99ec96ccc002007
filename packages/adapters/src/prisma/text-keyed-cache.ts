/**
 * A cache whose entries are weighed by the JSON text they were made from, bounded by the
 * total of those texts' lengths and by a count: the oldest entry goes first once either bound
 * is passed; `set` makes an entry the newest (a `get` does not). Snapshots differ in size by orders
 * of magnitude (a two-member group's is about a kilobyte, a round of fifty members' tens of
 * kilobytes, and a parsed snapshot takes a few times its text), so a bound on the count alone
 * let a process keep hundreds of megabytes; the length bounds the memory whatever the sizes.
 */
export class TextKeyedCache<V> {
  readonly #entries = new Map<string, { readonly value: V; readonly chars: number }>();
  #chars = 0;

  constructor(
    /** Most characters of text the entries together stand for. */
    readonly maxChars: number,
    /** Most entries. */
    readonly maxEntries: number,
  ) {
    if (!Number.isSafeInteger(maxChars) || maxChars < 1)
      throw new RangeError(`maxChars must be a positive whole number, got ${maxChars}`);
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1)
      throw new RangeError(`maxEntries must be a positive whole number, got ${maxEntries}`);
  }

  get(key: string): V | undefined {
    return this.#entries.get(key)?.value;
  }

  /**
   * Keeps `value` under `key`, weighed as `chars` characters of text, as the newest entry. One
   * heavier than the whole budget is not kept (it would push out everything else).
   */
  set(key: string, value: V, chars: number): void {
    this.delete(key);
    if (chars > this.maxChars) return;
    this.#entries.set(key, { value, chars });
    this.#chars += chars;
    while (this.#chars > this.maxChars || this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.delete(oldest.value);
    }
  }

  delete(key: string): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    this.#entries.delete(key);
    this.#chars -= entry.chars;
  }

  /** The entries kept, and the characters of text they stand for. */
  get size(): { readonly entries: number; readonly chars: number } {
    return { entries: this.#entries.size, chars: this.#chars };
  }
}
