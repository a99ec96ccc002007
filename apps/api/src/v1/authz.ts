import type {
  Group,
  GroupActor,
  HeldPayment,
  HeldPaymentQuery,
  MarketplaceCharge,
  MarketplaceChargeQuery,
  Member,
} from "@susu/domain";
import type { Context } from "hono";
import { CALLER_ALIAS, type Principal } from "../http/auth.js";
import { problem } from "../problem.js";

// Authorisation, in one place. People act as themselves (the token's subject is their
// person id); group admins manage their group; a held payment is seen by whoever asked for
// it and whoever it pays; platform admins (role `admin`) and operator tools (role
// `service`) see everything, but of them only platform admins command what is not theirs
// (a group's, a round's or a member's admin command, money on someone's payment): a service
// token gets 403 `admin_only`. A service token is no person either: what a person does as
// themselves (`me` in /v1/people paths, subscribing, paying or being paid) it gets 403
// `person_only`. What a caller may not see is a 404 —
// the same answer as for something that does not exist, so nothing leaks; an action on
// something they may see but not do is a 403 with a code.

/** A platform operator: sees every group, person, round and operations resource. */
export function isPlatformOperator(principal: Principal): boolean {
  return principal.roles.includes("admin") || principal.roles.includes("service");
}

/** The caller's membership of a group, if any (members who left no longer see it). */
export function membershipOf(principal: Principal, group: Group): Member | undefined {
  const member = group.members.find((m) => m.id === principal.subject);
  return member === undefined || member.status === "left" ? undefined : member;
}

/** What a caller may do with a group. */
export type GroupAccess = "none" | "member" | "admin" | "platform";

/** The one rule for groups: platform operators, then the group's admins, then its members. */
export function groupAccess(principal: Principal, group: Group): GroupAccess {
  if (isPlatformOperator(principal)) return "platform";
  const member = membershipOf(principal, group);
  if (member === undefined) return "none";
  return member.role === "admin" ? "admin" : "member";
}

/** The detail of the 403 `not_group_admin` a member gets for a group admin's command. */
export const NOT_GROUP_ADMIN_DETAIL = "only an admin of this group may do this";

/** The detail of the 403 `admin_only` a service token gets for a group admin's command. */
export const GROUP_ADMIN_ONLY_DETAIL =
  "only platform admins may give an admin command on a group they are not an admin of (a service token may not)";

/**
 * Checks the caller may `need` the group: `see` (members and operators), `audit` (what the
 * group's admins and platform operators read: its audit trail), `admin` (a command: the
 * group's admins and platform admins — a service token that is not one of the group's
 * admins gets 403 `admin_only`, see {@link isPlatformAdmin}). Returns the refusal to send,
 * or undefined when allowed.
 */
export function refuseGroup(
  c: Context,
  principal: Principal,
  group: Group | undefined,
  groupId: string,
  need: "see" | "audit" | "admin",
): Response | undefined {
  const access = group === undefined ? "none" : groupAccess(principal, group);
  if (access === "none") return problem(c, 404, "group_not_found", `no group ${groupId}`);
  if (need === "see") return undefined;
  if (access === "member") return problem(c, 403, "not_group_admin", NOT_GROUP_ADMIN_DETAIL);
  if (need === "admin" && group !== undefined && !commandsGroup(principal, group))
    return adminOnly(c, GROUP_ADMIN_ONLY_DETAIL);
  return undefined;
}

/**
 * Whether a caller whose access is `admin` or `platform` may command the group: its own
 * admins (whatever roles their token carries) and platform admins; not a service token.
 */
function commandsGroup(principal: Principal, group: Group): boolean {
  return isPlatformAdmin(principal) || membershipOf(principal, group)?.role === "admin";
}

/**
 * The person a `/v1/people/{personId}` path names: `me` ({@link CALLER_ALIAS}) is the caller
 * as a person. A caller that is not one (a `service` token: an app) gets 403 `person_only` on
 * every `me` route, reads included, whatever person row its subject may have: there is no
 * person behind it to read or act for. (It reads a person it names by id, as operators do.)
 * Returns the person's id, or the refusal to send.
 */
export function personInPath(c: Context, principal: Principal, personId: string): string | Response {
  if (personId !== CALLER_ALIAS) return personId;
  return refusePersonOnly(c, principal, PERSON_ONLY_DETAIL.self) ?? principal.subject;
}

/** Checks the caller may act on a person's own resources (onboarding, readiness): themselves or an operator. */
export function refusePerson(c: Context, principal: Principal, personId: string): Response | undefined {
  if (principal.subject === personId || isPlatformOperator(principal)) return undefined;
  return problem(c, 404, "person_not_found", `no person ${personId}`);
}

/**
 * A platform admin (role `admin`): the only principal that moves money on a payment it did
 * not ask for, or gives a group's, a round's or a member's admin command on a group it is
 * not an admin of. Service tokens are client apps' backends and operator tools: they see
 * what operators see, but several client apps may hold one, so holds, releases, platform
 * refunds and retries on anyone's payment are refused to them (403 `admin_only`), and so
 * are group admins' commands (settings, payout order, removing members, activating,
 * pausing, resuming, closing; opening, extending, reassigning, cancelling a round, retrying
 * its debits and refunds) on a group whose admin they are not.
 */
export function isPlatformAdmin(principal: Principal): boolean {
  return principal.roles.includes("admin");
}

/** The 403 a service token gets for a platform admin's command: money on a payment, a group's admin command. */
function adminOnly(
  c: Context,
  detail = "only platform admins may move money on a payment they did not ask for (a service token may not)",
): Response {
  return problem(c, 403, "admin_only", detail);
}

/** Whether the caller is a person: a token with role `member` or `admin` (a `service` token alone is an app's). */
export function isPerson(principal: Principal): boolean {
  return principal.roles.includes("member") || principal.roles.includes("admin");
}

/** The details of the 403 `person_only` a service token gets, by what it tried. */
export const PERSON_ONLY_DETAIL = {
  group: "only a person may create or join a group (a service token acts for an app, not a person)",
  self: "only a person may act as themselves: `me`, their onboarding, saved payment methods, payouts, notification settings, entitlements and memberships (a service token acts for an app, not a person)",
  payment:
    "only a person may pay as a customer or be paid as a seller (a service token acts for an app, not a person)",
} as const;

/**
 * Checks the caller is a person (a token with role `member` or `admin`, {@link isPerson}): what
 * only a person may do as themselves — create or join a group, whose pots go to members; set
 * up debits, payouts and cards, settings and memberships as `me`; pay as a customer or be paid
 * as a seller. A `service` token acts for an app (several may hold one, and it sees every
 * group id and person), so it gets 403 `person_only` with `detail`.
 */
export function refusePersonOnly(
  c: Context,
  principal: Principal,
  detail: string = PERSON_ONLY_DETAIL.group,
): Response | undefined {
  if (isPerson(principal)) return undefined;
  return problem(c, 403, "person_only", detail);
}

/** Checks the caller is a platform operator (operations routes); others get 403 `operator_only`. */
export function refuseUnlessOperator(c: Context, principal: Principal): Response | undefined {
  if (isPlatformOperator(principal)) return undefined;
  return problem(c, 403, "operator_only", "only platform operators may do this");
}

/**
 * Checks the caller is a platform admin (what only a person may do to the books or to money
 * owed: a ledger adjustment, setting parked work aside for good): others get 403
 * `operator_only`, service tokens 403 `admin_only` with `detail`.
 */
export function refuseUnlessAdmin(
  c: Context,
  principal: Principal,
  detail = "only platform admins may adjust the ledger (a service token may not)",
): Response | undefined {
  return (
    refuseUnlessOperator(c, principal) ?? (isPlatformAdmin(principal) ? undefined : adminOnly(c, detail))
  );
}

/**
 * Who the domain is told acts on a group: the caller as a member when they are one of its
 * admins (or not a platform operator: the domain then applies its own member rules), as
 * a platform operator otherwise — audited as `operator:<id>`.
 */
export function groupActorOf(principal: Principal, group: Group): GroupActor {
  const access = groupAccess(principal, group);
  return access === "platform" && membershipOf(principal, group)?.role !== "admin"
    ? { operator: principal.subject }
    : principal.subject;
}

/**
 * Checks the caller is a member of the group (commands people make for themselves, such as
 * swapping positions): others who may not see it get 404, platform operators who are not
 * members 403 `not_a_member`.
 */
export function refuseUnlessMember(
  c: Context,
  principal: Principal,
  group: Group | undefined,
  groupId: string,
): Response | undefined {
  const refused = refuseGroup(c, principal, group, groupId, "see");
  if (refused !== undefined || group === undefined) return refused;
  if (membershipOf(principal, group) === undefined)
    return problem(c, 403, "not_a_member", "only members of this group may do this for themselves");
  return undefined;
}

/**
 * Checks the caller is the person themselves: what only they may start (a debit set-up's
 * client secret, a payout onboarding link, which act as them) is a 404 for anyone else,
 * platform operators included. A `service` token naming its own subject is no person: 403
 * `person_only` (its subject may have a person row, from before service tokens were refused
 * groups, or be a person's id by chance).
 */
export function refuseUnlessSelf(c: Context, principal: Principal, personId: string): Response | undefined {
  if (principal.subject !== personId) return problem(c, 404, "person_not_found", `no person ${personId}`);
  return refusePersonOnly(c, principal, PERSON_ONLY_DETAIL.self);
}

/**
 * Checks a payment's parties: a `service` token may ask for a payment for its users, but not
 * name its own subject as the customer who pays or a seller who is paid (403 `person_only`).
 */
export function refusePayingAsItself(
  c: Context,
  principal: Principal,
  parties: readonly string[],
): Response | undefined {
  if (!parties.includes(principal.subject)) return undefined;
  return refusePersonOnly(c, principal, PERSON_ONLY_DETAIL.payment);
}

/**
 * Checks the caller may `need` a round of `group` (`undefined`: the round or its group
 * does not exist): `see` (the group's members and operators), `admin` (a command: the
 * group's admins and platform admins; a service token that is not one of the group's
 * admins 403 `admin_only`), or `admin_or_self` (those, and the member `memberId` acting on
 * their own contribution). What the caller may not see is a 404 `round_not_found`, the
 * answer for a round that does not exist, so a round id leaks nothing.
 */
export function refuseRound(
  c: Context,
  principal: Principal,
  group: Group | undefined,
  roundId: string,
  need: "see" | "admin" | { readonly adminOrSelf: string },
): Response | undefined {
  const access = group === undefined ? "none" : groupAccess(principal, group);
  if (access === "none" || group === undefined)
    return problem(c, 404, "round_not_found", `no round ${roundId}`);
  if (need === "see") return undefined;
  if (
    typeof need === "object" &&
    need.adminOrSelf === principal.subject &&
    membershipOf(principal, group) !== undefined
  )
    return undefined;
  if (access === "member") return problem(c, 403, "not_group_admin", NOT_GROUP_ADMIN_DETAIL);
  if (!commandsGroup(principal, group)) return adminOnly(c, GROUP_ADMIN_ONLY_DETAIL);
  return undefined;
}

/**
 * Who an admin command is given by, for the use case and its audit line: the member when
 * the caller is one of the group's admins, otherwise the platform operator (audited as
 * `operator:<id>`). Call after the refusal checks.
 */
export function adminActorOf(
  principal: Principal,
  group: Group,
): { readonly memberId: string } | { readonly operator: string } {
  return membershipOf(principal, group)?.role === "admin"
    ? { memberId: principal.subject }
    : { operator: principal.subject };
}

/**
 * How a caller stands to a held payment: the principal that asked for it (`requester`,
 * the client app or person whose booking it is), the person it pays (`seller`), a platform
 * operator, or nobody. The requester wins over the seller and operators (a service token
 * that asked for a payment acts as its requester), then the seller, then operators.
 */
export type HeldPaymentAccess = "none" | "requester" | "seller" | "platform";

/** The one rule for held payments: who asked for it, who is paid, platform operators. */
export function heldPaymentAccess(principal: Principal, payment: HeldPayment): HeldPaymentAccess {
  if (payment.requestedBy === principal.subject) return "requester";
  if (payment.seller.id === principal.subject) return "seller";
  return isPlatformOperator(principal) ? "platform" : "none";
}

/**
 * Checks the caller may `need` a held payment (`undefined`: it does not exist): `see` (its
 * requester, its seller, platform operators), `requester` (what only the one who asked for
 * it says: the booking was fulfilled, or not), `operator` (holds, releases and refunds:
 * platform operators). Whoever may not see it gets 404 `held_payment_not_found`, the answer
 * for a payment that does not exist; one who may see it but not do this, 403 with a code.
 */
export function refuseHeldPayment(
  c: Context,
  principal: Principal,
  payment: HeldPayment | undefined,
  heldPaymentId: string,
  need: "see" | "requester" | "operator",
): Response | undefined {
  const access = payment === undefined ? "none" : heldPaymentAccess(principal, payment);
  if (access === "none") return problem(c, 404, "held_payment_not_found", `no held payment ${heldPaymentId}`);
  if (need === "requester" && access !== "requester")
    return problem(
      c,
      403,
      "not_requester",
      "only the one who asked for this payment may report on its booking",
    );
  if (need === "operator" && !isPlatformOperator(principal))
    return problem(c, 403, "operator_only", "only platform operators may do this");
  if (need === "operator" && !isPlatformAdmin(principal)) return adminOnly(c);
  return undefined;
}

/** What a held-payment list asks for besides the page: a status, a seller. */
export interface HeldPaymentFilter {
  readonly status?: HeldPaymentQuery["status"];
  readonly sellerId?: string;
}

/**
 * The queries whose union is the held payments a caller may list with `filter`: platform
 * operators every payment; anyone else those they asked for and those that pay them (two
 * queries, merged by the caller). A seller filter naming someone else narrows a person's
 * list to what they asked for of that seller. Empty: nothing to list.
 */
export function heldPaymentListScopes(
  principal: Principal,
  filter: HeldPaymentFilter,
): Omit<HeldPaymentQuery, "limit" | "startingAfter">[] {
  const status = filter.status !== undefined ? { status: filter.status } : {};
  if (isPlatformOperator(principal))
    return [{ ...status, ...(filter.sellerId !== undefined ? { sellerId: filter.sellerId } : {}) }];
  const me = principal.subject;
  if (filter.sellerId === undefined)
    return [
      { ...status, requestedBy: me },
      { ...status, sellerId: me },
    ];
  if (filter.sellerId === me) return [{ ...status, sellerId: me }];
  return [{ ...status, requestedBy: me, sellerId: filter.sellerId }];
}

/**
 * How a caller stands to a marketplace charge: the principal that asked for it
 * (`requester`, a client app or the customer themselves), the person who pays (`customer`),
 * a person it pays (`seller`, any co-host of a split), a platform operator, or nobody — in
 * that order of precedence.
 */
export type MarketplaceChargeAccess = "none" | "requester" | "customer" | "seller" | "platform";

/** The one rule for marketplace charges: who asked for it, who pays, who is paid, platform operators. */
export function marketplaceChargeAccess(
  principal: Principal,
  charge: MarketplaceCharge,
): MarketplaceChargeAccess {
  const me = principal.subject;
  if (charge.requestedBy === me) return "requester";
  if (charge.customer.id === me) return "customer";
  if (charge.sellers.some((s) => s.id === me)) return "seller";
  return isPlatformOperator(principal) ? "platform" : "none";
}

/**
 * Checks the caller may `need` a marketplace charge (`undefined`: it does not exist): `see`
 * (its requester, its customer, its sellers, platform operators), `customer` (a refund the
 * customer asks for: its requester — a client app, or the customer who charged themselves —
 * or an operator acting on their word; a customer whose charge a client app asked for asks
 * that app, whose refund rules are its own),
 * `operator` (platform refunds and retries). Whoever may not see it gets 404
 * `marketplace_charge_not_found`, the answer for a charge that does not exist; one who may
 * see it but not do this, 403 with a code.
 */
export function refuseMarketplaceCharge(
  c: Context,
  principal: Principal,
  charge: MarketplaceCharge | undefined,
  chargeId: string,
  need: "see" | "customer" | "operator",
): Response | undefined {
  const access = charge === undefined ? "none" : marketplaceChargeAccess(principal, charge);
  if (access === "none")
    return problem(c, 404, "marketplace_charge_not_found", `no marketplace charge ${chargeId}`);
  if (need === "customer" && access !== "requester" && !isPlatformAdmin(principal))
    return problem(
      c,
      403,
      "not_requester",
      "only the one who asked for the charge (a client app, or the customer who paid for themselves) or platform admins may refund it for the customer",
    );
  if (need === "operator" && !isPlatformOperator(principal))
    return problem(c, 403, "operator_only", "only platform operators may do this");
  if (need === "operator" && !isPlatformAdmin(principal)) return adminOnly(c);
  return undefined;
}

/**
 * Checks the caller may charge `customerId`: the customer themselves, or a platform operator
 * or service (a client app's backend trusted to act for its customers). Anyone else would
 * charge someone else's card: 403 `not_customer`, whether or not the person exists.
 */
export function refuseChargingCustomer(
  c: Context,
  principal: Principal,
  customerId: string,
): Response | undefined {
  if (principal.subject === customerId || isPlatformOperator(principal)) return undefined;
  return problem(
    c,
    403,
    "not_customer",
    "only the customer themselves or a platform service may charge a customer",
  );
}

/** What a marketplace-charge list asks for besides the page: a status, a seller, a customer. */
export interface MarketplaceChargeFilter {
  readonly status?: MarketplaceChargeQuery["status"];
  readonly sellerId?: string;
  readonly customerId?: string;
}

/**
 * The queries whose union is the marketplace charges a caller may list with `filter`:
 * platform operators every charge; anyone else those they asked for, those they pay and
 * those that pay them (three queries, merged by the caller). A seller or customer filter
 * naming someone else narrows a person's list to their own charges with that party.
 */
export function marketplaceChargeListScopes(
  principal: Principal,
  filter: MarketplaceChargeFilter,
): Omit<MarketplaceChargeQuery, "limit" | "startingAfter">[] {
  const narrow = {
    ...(filter.status !== undefined ? { status: filter.status } : {}),
    ...(filter.sellerId !== undefined ? { sellerId: filter.sellerId } : {}),
    ...(filter.customerId !== undefined ? { customerId: filter.customerId } : {}),
  };
  if (isPlatformOperator(principal)) return [narrow];
  const me = principal.subject;
  const scopes: Omit<MarketplaceChargeQuery, "limit" | "startingAfter">[] = [{ ...narrow, requestedBy: me }];
  // As the customer: only if the filter does not name another customer.
  if (filter.customerId === undefined || filter.customerId === me) scopes.push({ ...narrow, customerId: me });
  // As a seller: only if the filter does not name another seller.
  if (filter.sellerId === undefined || filter.sellerId === me) scopes.push({ ...narrow, sellerId: me });
  return scopes;
}
