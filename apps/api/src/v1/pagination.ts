import { z } from "@hono/zod-openapi";

/** Plain decimal digits: a count in a query, as a client writes it. */
const DECIMAL_DIGITS = /^[0-9]+$/;

/**
 * A whole number from `min` to `max` in a query, written in plain decimal digits. Not
 * `z.coerce.number()`, which is JavaScript's Number(): it reads `0x10` as 16, `1e1` as 10,
 * ` 5` (spaces) as 5 and `` as 0, so a client's typo would pass as some other number.
 */
export function queryCount(min: number, max: number) {
  return z.preprocess(
    (value) => (typeof value === "string" && DECIMAL_DIGITS.test(value) ? Number(value) : value),
    z.number({ error: "a whole number in plain decimal digits" }).int().min(min).max(max),
  );
}

/** The query of every list: Stripe's cursor pagination (`limit` 1–100, default 10; `starting_after` an id). */
export const PageQuerySchema = z.object({
  limit: queryCount(1, 100).default(10).openapi({ example: 10 }),
  starting_after: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .openapi({ description: "The id of the last item of the previous page" }),
});

/** A parsed page query. */
export type PageQuery = z.infer<typeof PageQuerySchema>;

/** A list as every list route answers it (Stripe's shape). */
export interface Page<T> {
  readonly object: "list";
  readonly url: string;
  readonly data: readonly T[];
  readonly has_more: boolean;
}

/** The schema of a page of `item`, for OpenAPI. */
export function pageSchema<T extends z.ZodTypeAny>(item: T, name: string) {
  return z
    .object({
      object: z.literal("list"),
      url: z.string(),
      data: z.array(item),
      has_more: z.boolean(),
    })
    .openapi(name);
}

/**
 * One page of `items`, which must be in a stable order (oldest first, then id): the items
 * after `starting_after` (an item no longer there pages from the start of what follows it
 * in that order only if it is found; an unknown cursor is an empty page, never an error).
 */
export function pageOf<T>(
  items: readonly T[],
  idOf: (item: T) => string,
  query: PageQuery,
  url: string,
): Page<T> {
  let start = 0;
  if (query.starting_after !== undefined) {
    const at = items.findIndex((item) => idOf(item) === query.starting_after);
    start = at === -1 ? items.length : at + 1;
  }
  const data = items.slice(start, start + query.limit);
  return { object: "list", url, data, has_more: start + query.limit < items.length };
}
