// Stripe keeps an Idempotency-Key for 24 hours. An effect run again after that (a parked effect
// requeued the next day after a lost answer, a dispatcher down for a day) would make a second
// object under the same key; every create susu sends therefore writes the effect's id as
// `effect_id` metadata, and the object an earlier run made is looked for by it first.
import type { GatewayError } from "@susu/domain";
import { ResultAsync } from "neverthrow";
import type Stripe from "stripe";
import { classifyStripeError } from "./stripe-errors.js";

/** The metadata key naming the effect (its idempotency key) that made a Stripe object. */
export const EFFECT_ID_METADATA_KEY = "effect_id";

/**
 * How many objects a look-up reads at most (newest first): it bounds how far back in a
 * busy scope a retry is recognised, and what one call can cost (100 pages of 100).
 */
export const MADE_BY_EFFECT_READ_MAX = 10_000;

/** A Stripe object that can carry metadata. */
export interface WithMetadata {
  readonly id: string;
  readonly metadata?: Stripe.Metadata | null;
}

/** One page of a Stripe list, newest first. */
export interface ListPage<T> {
  readonly data: readonly T[];
  readonly has_more: boolean;
}

/** The list parameter that asks for the page after `startingAfter` (none: the first page). */
export const pageAfter = (startingAfter: string | undefined): { starting_after?: string } =>
  startingAfter === undefined ? {} : { starting_after: startingAfter };

/**
 * The object `effectId` made, found by its `effect_id` metadata among what `list` returns
 * (a Stripe list, newest first, asked for the page after the given id — spread
 * {@link pageAfter} into its parameters), read page after page until it is found, the list
 * ends, or {@link MADE_BY_EFFECT_READ_MAX} objects were read; else `undefined`. A list, never
 * Stripe's search: search is not read-after-write (new objects take up to a minute to be
 * found), a list is current. Stripe's lists filter by their scope (a customer, a product, a
 * payment, a transfer group, a creation time), not by metadata, so the caller names the
 * narrowest scope.
 */
export function findMadeByEffect<T extends WithMetadata>(
  list: (startingAfter: string | undefined) => PromiseLike<ListPage<T>>,
  effectId: string,
): ResultAsync<T | undefined, GatewayError> {
  return ResultAsync.fromPromise(
    (async () => {
      let read = 0;
      let after: string | undefined;
      for (;;) {
        const page = await list(after);
        for (const item of page.data) {
          if (item.metadata?.[EFFECT_ID_METADATA_KEY] === effectId) return item;
          read += 1;
          if (read >= MADE_BY_EFFECT_READ_MAX) return undefined;
        }
        const last = page.data[page.data.length - 1];
        if (!page.has_more || last === undefined) return undefined;
        after = last.id;
      }
    })(),
    classifyStripeError,
  );
}
