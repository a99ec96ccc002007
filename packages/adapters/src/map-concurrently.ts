/**
 * Maps `items` with at most `limit` calls of `f` in flight, keeping their order. After a call
 * fails no further item is started, and the promise rejects with the first failure once the
 * calls already in flight have settled: nothing is left running behind the caller.
 */
export async function mapConcurrently<T, U>(
  items: readonly T[],
  limit: number,
  f: (item: T) => Promise<U>,
): Promise<U[]> {
  const out = new Array<U>(items.length);
  let next = 0;
  let failure: { readonly error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const i = next++;
      try {
        out[i] = await f(items[i] as T);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  if (failure !== undefined) throw failure.error;
  return out;
}
