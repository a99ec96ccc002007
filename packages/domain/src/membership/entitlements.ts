/**
 * What a membership grants, as configuration: a plan carries its entitlements, and people
 * without a membership get the deployment's default (`SUSU_DEFAULT_ENTITLEMENTS`), which is
 * today's behaviour unless an operator narrows it. The use cases that create groups and
 * sell held-funds bookings check them; obligations already taken (a running round, a held
 * booking already paid) never depend on them.
 */
export interface Entitlements {
  /** May create savings groups. */
  readonly createGroups: boolean;
  /** How many groups they may have open at once (forming, active or paused) as a member; `null`: no limit. */
  readonly maxOpenGroups: number | null;
  /** May sell bookings paid into held funds, and be a marketplace seller. */
  readonly sellBookings: boolean;
}

/** Today's behaviour: everyone may do everything. The default for people without a membership. */
export const UNRESTRICTED_ENTITLEMENTS: Entitlements = Object.freeze({
  createGroups: true,
  maxOpenGroups: null,
  sellBookings: true,
});

/** The most groups an entitlement may name (a sanity bound on admin input). */
export const MAX_OPEN_GROUPS_LIMIT = 10_000;

/** Whether `value` is a well-formed {@link Entitlements} (admin input, env configuration). */
export function isEntitlements(value: unknown): value is Entitlements {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  const max = v.maxOpenGroups;
  return (
    typeof v.createGroups === "boolean" &&
    typeof v.sellBookings === "boolean" &&
    (max === null ||
      (typeof max === "number" && Number.isSafeInteger(max) && max >= 0 && max <= MAX_OPEN_GROUPS_LIMIT))
  );
}

/** The most of two grants: what someone holding both may do. */
export function widerEntitlements(a: Entitlements, b: Entitlements): Entitlements {
  const max =
    a.maxOpenGroups === null || b.maxOpenGroups === null ? null : Math.max(a.maxOpenGroups, b.maxOpenGroups);
  return {
    createGroups: a.createGroups || b.createGroups,
    maxOpenGroups: max,
    sellBookings: a.sellBookings || b.sellBookings,
  };
}

/**
 * What a person may do: the default, widened by the plan of every membership that grants
 * (`grants` says which do — trialing, active, and past due while Stripe retries).
 */
export function entitlementsOf(fallback: Entitlements, granting: readonly Entitlements[]): Entitlements {
  return granting.reduce(widerEntitlements, fallback);
}

/** Whether `openGroups` open groups leave room for one more under `e`. */
export function mayOpenAnotherGroup(e: Entitlements, openGroups: number): boolean {
  return e.maxOpenGroups === null || openGroups < e.maxOpenGroups;
}
