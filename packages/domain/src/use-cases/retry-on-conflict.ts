import { errAsync, type ResultAsync } from "neverthrow";

/**
 * Runs `attempt` again when it lost an optimistic-concurrency race (`version_conflict`),
 * up to `times` in all. Other errors are returned at once.
 */
export function retryOnConflict<T, E extends { readonly type: string }>(
  attempt: () => ResultAsync<T, E>,
  times = 5,
): ResultAsync<T, E> {
  return attempt().orElse((e) =>
    e.type === "version_conflict" && times > 1 ? retryOnConflict(attempt, times - 1) : errAsync(e),
  );
}
