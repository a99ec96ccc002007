/**
 * Runs `work` on every item with at most `concurrency` running at once, starting them in the
 * items' order, and resolves once every one has ended. `work` must not reject (wrap its
 * failures in its result): a rejection is rethrown after the others have ended, so nothing is
 * left running behind the caller's back. Pure scheduling: no I/O of its own.
 */
export async function forEachBounded<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  const width = Math.max(1, Math.min(Math.floor(concurrency), items.length));
  let next = 0;
  let failure: { readonly error: unknown } | undefined;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next] as T;
      next += 1;
      try {
        await work(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: width }, lane));
  if (failure !== undefined) throw failure.error;
}
