import type { UseCaseError } from "@susu/domain";
import { err, ok, type Result, type ResultAsync } from "neverthrow";

/** Most items one repository page holds (the ports' bound). */
const REPOSITORY_PAGE_MAX = 100;

/** Newest first, as the repositories page: by creation time, then by id. */
function newestFirst(a: Listed, b: Listed): number {
  if (a.createdAt !== b.createdAt) return b.createdAt - a.createdAt;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

interface Listed {
  readonly id: string;
  readonly createdAt: number;
}

interface ListPage<T> {
  readonly items: readonly T[];
  readonly hasMore: boolean;
}

type ListResult<T> = Result<ListPage<T>, UseCaseError>;

/**
 * One page of the items a principal may list: the union of their authorisation scopes,
 * each read from the repository after the cursor and merged newest first. A cursor the
 * caller may not see is an empty page, as an unknown one is, so it tells nothing.
 *
 * @param cursorVisible whether the caller may see the cursor's item (not asked for platform operators)
 * @param list reads one scope's page from the repository
 */
export async function listVisibleUnion<T extends Listed, S extends object>(args: {
  readonly scopes: readonly S[];
  readonly page: { readonly limit: number; readonly startingAfter?: string | undefined };
  readonly checkCursor: boolean;
  readonly cursorVisible: (id: string) => Promise<Result<boolean, UseCaseError>>;
  readonly list: (
    query: S & { readonly limit: number; readonly startingAfter?: string },
  ) => ResultAsync<ListPage<T>, UseCaseError>;
}): Promise<ListResult<T>> {
  const { page, scopes } = args;
  const empty = { items: [], hasMore: false };
  if (page.startingAfter !== undefined && args.checkCursor) {
    const visible = await args.cursorVisible(page.startingAfter);
    if (visible.isErr()) return err(visible.error);
    if (!visible.value) return ok(empty);
  }
  const after = page.startingAfter !== undefined ? { startingAfter: page.startingAfter } : {};
  if (scopes.length === 1) {
    const [scope] = scopes as [S];
    return args.list({ ...scope, ...after, limit: page.limit });
  }
  // A union: one more than the page from each side tells whether more follow (at the
  // repository's bound, the sides' own `hasMore` does, counting an item two sides hold once).
  const limit = Math.min(page.limit + 1, REPOSITORY_PAGE_MAX);
  const merged = new Map<string, T>();
  let sideHasMore = false;
  for (const scope of scopes) {
    const side = await args.list({ ...scope, ...after, limit });
    if (side.isErr()) return err(side.error);
    for (const item of side.value.items) merged.set(item.id, item);
    sideHasMore ||= side.value.hasMore;
  }
  const items = [...merged.values()].sort(newestFirst);
  return ok({
    items: items.slice(0, page.limit),
    hasMore: items.length > page.limit || (limit === page.limit && sideHasMore),
  });
}
