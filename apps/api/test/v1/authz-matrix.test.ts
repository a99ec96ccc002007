// The authorisation matrix: every operation of the OpenAPI document, called by every kind
// of caller, gets the class of answer its row says. A documented operation without a row
// fails the test, so a new route cannot ship without deciding who may call it.
//
// Callers (test/support/world.ts): anonymous (no token), a stranger (a person with a group
// of her own, not in this one), a member of the group, its admin, the requester of the
// world's held payment (a client app's principal, not a person) and its seller (a person in
// no group) — both by default expected like the stranger —, the customer of the world's
// marketplace charge (a person in no group; by default like the stranger), a platform admin (role `admin`)
// and a service token (role `service`, by default expected like the platform admin; a group's,
// a round's or a member's admin command it is refused, 403 `admin_only`, as money on a held
// payment; what only a person does as themselves, 403 `person_only`).
//
// A second table, AS_ME, calls every `/v1/people` operation on the caller's own person (`me`):
// the people act on their own, and a service token — whose subject the world gives a person row
// and a saved card — is refused 403 `person_only` on every one, reads included.
//
// Every refusal (401, 403, 404) is also checked to have changed nothing in the domain's
// tables; after an accepted write the world is made anew, so rows do not depend on order.
import { useTestDatabase } from "@susu/adapters/testing";
import { DAY_MS } from "@susu/domain";
import { beforeAll, describe, expect, it } from "vitest";
import { authed } from "../support/app.js";
import {
  countDomainRows,
  exampleBodyOf,
  fillPath,
  type OpenApiDocument,
  type Operation,
  operationsOf,
} from "../support/v1-surface.js";
import { type Caller, makeWorlds, type World, worldApp } from "../support/world.js";

/**
 * The class of answer a caller gets:
 * - `ok`: 2xx;
 * - `allowed`: past authorisation — 2xx, or 409/422 when the world's state refuses it;
 * - `reached`: past authorisation where the world has no such resource — any 2xx or 4xx
 *   other than 401 and 403 (a 404 for the missing ticket, event or effect);
 * - `hidden`: 404 with a `*_not_found` code, the same answer as for something that does not exist;
 * - `notAdmin`: 403 `not_group_admin`; `operatorOnly`: 403 `operator_only`; `adminOnly`: 403 `admin_only`;
 *   `notRequester`: 403 `not_requester`; `personOnly`: 403 `person_only`;
 * - `anon`: 401 `unauthenticated`.
 */
type Expect =
  | "ok"
  | "allowed"
  | "reached"
  | "hidden"
  | "notAdmin"
  | "forbidden"
  | "operatorOnly"
  | "adminOnly"
  | "notRequester"
  | "personOnly"
  | "anon";

/** One row: what each caller gets, and optionally the body to send. */
interface Row {
  readonly stranger: Expect;
  readonly member: Expect;
  readonly groupAdmin: Expect;
  /** The world's held payment's and marketplace charge's requester; defaults to {@link Row.stranger}. */
  readonly requester?: Expect;
  /** The world's held payment's and marketplace charge's seller; defaults to {@link Row.stranger}. */
  readonly seller?: Expect;
  /** The world's marketplace charge's customer (a person in no group); defaults to {@link Row.stranger}. */
  readonly customer?: Expect;
  readonly platformAdmin: Expect;
  /** Defaults to {@link Row.platformAdmin}. */
  readonly service?: Expect;
  /** The request body; default: built from the operation's example in the document. */
  readonly body?: (world: World, caller: Caller) => unknown;
}

// Row shapes for the common rules (v1/authz.ts).
/** Any signed-in person, about their own things (create a group, list mine). */
const anyPerson: Row = { stranger: "ok", member: "ok", groupAdmin: "ok", platformAdmin: "ok" };
/** A group's members and platform operators see; others get 404. */
const seeGroup: Row = { stranger: "hidden", member: "ok", groupAdmin: "ok", platformAdmin: "ok" };
/**
 * A group's admins and platform admins act; members get 403 `not_group_admin`, a service
 * token (which sees the group) 403 `admin_only`, others 404.
 */
const adminGroup: Row = {
  stranger: "hidden",
  member: "notAdmin",
  groupAdmin: "allowed",
  platformAdmin: "allowed",
  service: "adminOnly",
};
/** Any member of the group acts (propose a swap, leave); others get 404. */
const memberOfGroup: Row = {
  stranger: "hidden",
  member: "allowed",
  groupAdmin: "allowed",
  platformAdmin: "allowed",
};
/** A person's own onboarding: themselves (the member, `{personId}` is theirs) and operators. */
const ownPerson: Row = {
  stranger: "hidden",
  member: "allowed",
  groupAdmin: "hidden",
  platformAdmin: "allowed",
};
/** Platform operators only (role admin or service); everyone else 403 `operator_only`. */
const operatorOnly: Row = {
  stranger: "operatorOnly",
  member: "operatorOnly",
  groupAdmin: "operatorOnly",
  platformAdmin: "ok",
};
/** Platform admins only (plans); everyone else, service tokens included, 403 `admin_only`. */
const adminOnlyRow: Row = {
  stranger: "adminOnly",
  member: "adminOnly",
  groupAdmin: "adminOnly",
  platformAdmin: "ok",
  service: "adminOnly",
};
/** The world's member's subscription: they and platform operators see it; others 404. */
const ownSubscription: Row = {
  stranger: "hidden",
  member: "ok",
  groupAdmin: "hidden",
  platformAdmin: "ok",
};
/** Operators only, on a resource the world does not have (a 404 for them is fine). */
const operatorOnlyMissing: Row = { ...operatorOnly, platformAdmin: "reached" };
/** A held payment: its requester, its seller and platform operators see it; anyone else gets 404. */
const seeHeldPayment: Row = {
  stranger: "hidden",
  member: "hidden",
  groupAdmin: "hidden",
  requester: "ok",
  seller: "ok",
  platformAdmin: "ok",
};
/** The requester's word on the booking: the seller and operators see the payment, 403 `not_requester`. */
const requesterOfHeldPayment: Row = {
  ...seeHeldPayment,
  requester: "allowed",
  seller: "notRequester",
  platformAdmin: "notRequester",
};
/** Operators' commands on a held payment: its requester and seller see it, 403 `operator_only`. */
const operatorOnHeldPayment: Row = {
  ...seeHeldPayment,
  requester: "operatorOnly",
  seller: "operatorOnly",
  platformAdmin: "allowed",
  // A service token sees every payment but moves money only on those it asked for.
  service: "adminOnly",
};

/** A marketplace charge: its requester, customer, seller and platform operators see it; anyone else gets 404. */
const seeMarketplaceCharge: Row = {
  stranger: "hidden",
  member: "hidden",
  groupAdmin: "hidden",
  requester: "ok",
  seller: "ok",
  customer: "ok",
  platformAdmin: "ok",
};
/**
 * A refund for the customer: its requester and operators; its customer (when a client app
 * asked for the charge) and its seller see it, 403 `not_requester`.
 */
const customerOfMarketplaceCharge: Row = {
  ...seeMarketplaceCharge,
  requester: "allowed",
  customer: "notRequester",
  seller: "notRequester",
  platformAdmin: "allowed",
  service: "notRequester",
};
/** Operators' retries on a marketplace charge: those who see it get 403 `operator_only`. */
const operatorOnMarketplaceCharge: Row = {
  ...seeMarketplaceCharge,
  requester: "operatorOnly",
  seller: "operatorOnly",
  customer: "operatorOnly",
  platformAdmin: "allowed",
  service: "adminOnly",
};

/**
 * One line per operation (`METHOD /v1/path` as in the document). Add the line when you add
 * a route, and remove it when you remove one: a line for an operation the document lacks fails.
 */
const MATRIX: Readonly<Record<string, Row>> = {
  // groups
  // A service token is an app, not a person: it neither creates nor joins groups.
  "POST /v1/groups": {
    ...anyPerson,
    service: "personOnly",
    // The document's example starts in 2030, more than a year after the app's clock: refused.
    body: () => ({
      name: "Matrix savers",
      currency: "AUD",
      contributionMinor: 100_00,
      cadence: "weekly",
      startsAt: new Date(env.clock.now() + 7 * DAY_MS).toISOString(),
      payoutOrderMethod: "join_order",
      displayName: "Matrix",
    }),
  },
  "GET /v1/groups": anyPerson,
  "GET /v1/groups/{groupId}": seeGroup,
  "PATCH /v1/groups/{groupId}": adminGroup,
  "POST /v1/groups/{groupId}/activate": adminGroup,
  "POST /v1/groups/{groupId}/pause": adminGroup,
  "POST /v1/groups/{groupId}/resume": adminGroup,
  "POST /v1/groups/{groupId}/close": adminGroup,
  // members
  "GET /v1/groups/{groupId}/members": seeGroup,
  // Joining: the group's id is the invitation, so a stranger who has it may join.
  "POST /v1/groups/{groupId}/members": {
    stranger: "allowed",
    member: "allowed",
    groupAdmin: "allowed",
    platformAdmin: "allowed",
    service: "personOnly",
  },
  "GET /v1/groups/{groupId}/members/{memberId}": seeGroup,
  // A member leaves for themselves; admins may remove members only while the group forms
  // (the world's group is active: 403 member_removal_not_allowed).
  "DELETE /v1/groups/{groupId}/members/{memberId}": {
    ...memberOfGroup,
    groupAdmin: "forbidden",
    platformAdmin: "forbidden",
    service: "adminOnly",
  },
  "PUT /v1/groups/{groupId}/payout-order": adminGroup,
  // Swaps are members' own (the example names no real counterparty or proposal: 404 inside);
  // platform operators who are not members get 403 not_a_member.
  "POST /v1/groups/{groupId}/swaps": {
    ...memberOfGroup,
    member: "reached",
    groupAdmin: "reached",
    platformAdmin: "forbidden",
  },
  "POST /v1/groups/{groupId}/swaps/accept": {
    ...memberOfGroup,
    member: "reached",
    groupAdmin: "reached",
    platformAdmin: "forbidden",
  },
  // people and onboarding
  // The requester is a client app's principal, not a person (no person: 404); a service token
  // is no person, whatever row its subject has: 403 person_only (AS_ME below: every `me` route).
  "GET /v1/people/me": {
    ...anyPerson,
    requester: "reached",
    platformAdmin: "reached",
    service: "personOnly",
  },
  "GET /v1/people/{personId}": { ...ownPerson, member: "ok", platformAdmin: "ok" },
  // A set-up's client secret and an onboarding link act as the person: nobody else, operators included.
  "POST /v1/people/{personId}/debit-setup": { ...ownPerson, platformAdmin: "hidden" },
  "POST /v1/people/{personId}/payout-onboarding": { ...ownPerson, platformAdmin: "hidden" },
  // A seller's balance and payouts: the person and operators see; operators pay out (the
  // matrix sends no Idempotency-Key, which this POST requires: 400 for the operator).
  "GET /v1/people/{personId}/balance": { ...ownPerson, member: "ok", platformAdmin: "ok" },
  "GET /v1/people/{personId}/payouts": { ...ownPerson, member: "ok", platformAdmin: "ok" },
  "POST /v1/people/{personId}/payouts": {
    ...ownPerson,
    member: "operatorOnly",
    platformAdmin: "reached",
    service: "adminOnly",
  },
  // memberships: everyone reads plans, platform admins manage them (a service token: 403 admin_only)
  "GET /v1/plans": { ...anyPerson, requester: "ok", seller: "ok", customer: "ok" },
  "GET /v1/plans/{planId}": { ...anyPerson, requester: "ok", seller: "ok", customer: "ok" },
  "POST /v1/plans": {
    ...adminOnlyRow,
    platformAdmin: "ok",
    body: () => ({
      name: "Matrix plan",
      entitlements: { createGroups: true, maxOpenGroups: 2, sellBookings: false },
      prices: [{ currency: "AUD", interval: "month", amountMinor: 9_00 }],
    }),
  },
  "PATCH /v1/plans/{planId}": {
    ...adminOnlyRow,
    platformAdmin: "allowed",
    body: () => ({ name: "Renamed" }),
  },
  "POST /v1/plans/{planId}/archive": { ...adminOnlyRow, platformAdmin: "allowed" },
  // a person subscribes themselves (a client app's or an operator's principal is not a person: 404;
  // a service token, whose subject the world gives a person and a card, 403 person_only)
  "POST /v1/subscriptions": {
    stranger: "allowed",
    member: "allowed",
    groupAdmin: "allowed",
    requester: "reached",
    seller: "allowed",
    customer: "allowed",
    platformAdmin: "reached",
    service: "personOnly",
    // the caller's own saved card (a client app or an operator has none: any id)
    body: (world, caller) => ({
      planId: world.planId,
      currency: "AUD",
      interval: "month",
      paymentMethodId: world.cards[caller] ?? "pm_card_visa",
    }),
  },
  // "Your memberships": a service token has none (with `person_id`, anyone's: operators read them)
  "GET /v1/subscriptions": {
    ...anyPerson,
    requester: "ok",
    seller: "ok",
    customer: "ok",
    service: "personOnly",
  },
  // what a person may do: they and platform operators read it; anyone else gets 404
  "GET /v1/people/{personId}/entitlements": { ...ownPerson, member: "ok", platformAdmin: "ok" },
  // the member's subscription: they and operators see it; only they change it; admins may cancel it
  "GET /v1/subscriptions/{subscriptionId}": ownSubscription,
  "POST /v1/subscriptions/{subscriptionId}/change-plan": {
    ...ownSubscription,
    member: "allowed",
    platformAdmin: "hidden",
    body: (world) => ({ planId: world.planId, interval: "year" }),
  },
  "POST /v1/subscriptions/{subscriptionId}/cancel": {
    ...ownSubscription,
    member: "allowed",
    platformAdmin: "allowed",
    service: "hidden",
  },
  "POST /v1/subscriptions/{subscriptionId}/cancel-change": {
    ...ownSubscription,
    member: "allowed",
    platformAdmin: "allowed",
    service: "hidden",
  },
  "POST /v1/subscriptions/{subscriptionId}/resume": {
    ...ownSubscription,
    member: "allowed",
    platformAdmin: "hidden",
  },
  // Saved payment methods: the person and operators list; saving, the default and removal
  // act as the person (nobody else, operators included). The world has no saved method:
  // the member reaches a 404 `payment_method_not_found`.
  "POST /v1/people/{personId}/payment-methods/setup": { ...ownPerson, platformAdmin: "hidden" },
  "GET /v1/people/{personId}/payment-methods": { ...ownPerson, member: "ok", platformAdmin: "ok" },
  "POST /v1/people/{personId}/payment-methods/{paymentMethodId}/default": {
    ...ownPerson,
    member: "reached",
    platformAdmin: "hidden",
  },
  "DELETE /v1/people/{personId}/payment-methods/{paymentMethodId}": {
    ...ownPerson,
    member: "reached",
    platformAdmin: "hidden",
  },
  // notification settings: the person and operators read, the person and platform admins
  // change (a service token: 403 admin_only); endpoints: operators read, platform admins
  // (not a service token: 403 admin_only) manage; the delivery log: operators
  "GET /v1/people/{personId}/notification-settings": { ...ownPerson, member: "ok", platformAdmin: "ok" },
  "PUT /v1/people/{personId}/notification-settings": {
    ...ownPerson,
    member: "ok",
    platformAdmin: "ok",
    service: "adminOnly",
  },
  "GET /v1/notification-endpoints": operatorOnly,
  "POST /v1/notification-endpoints": { ...operatorOnly, service: "adminOnly" },
  "POST /v1/notification-endpoints/{endpointId}/disable": { ...operatorOnlyMissing, service: "adminOnly" },
  "POST /v1/notification-endpoints/{endpointId}/enable": { ...operatorOnlyMissing, service: "adminOnly" },
  "POST /v1/notification-endpoints/{endpointId}/rotate-secret": {
    ...operatorOnlyMissing,
    service: "adminOnly",
  },
  "GET /v1/notification-endpoints/{endpointId}/deliveries": operatorOnlyMissing,
  "GET /v1/operations/notification-deliveries": operatorOnly,
  // rounds
  "GET /v1/groups/{groupId}/rounds": seeGroup,
  "POST /v1/groups/{groupId}/rounds": adminGroup,
  "GET /v1/rounds/{roundId}": seeGroup,
  "GET /v1/rounds/{roundId}/timeline": seeGroup,
  // Admins, or the member for their own contribution ({memberId} is the world's member).
  "POST /v1/rounds/{roundId}/contributions/{memberId}/retry": { ...adminGroup, member: "allowed" },
  "POST /v1/rounds/{roundId}/extend-deadline": adminGroup,
  "POST /v1/rounds/{roundId}/reassign": adminGroup,
  "POST /v1/rounds/{roundId}/cancel": adminGroup,
  "POST /v1/rounds/{roundId}/contributions/{memberId}/retry-refund": adminGroup,
  // Money leaves the platform: platform admins only, whoever may see the round.
  "POST /v1/rounds/{roundId}/contributions/{memberId}/owed-payments": {
    stranger: "hidden",
    member: "operatorOnly",
    groupAdmin: "operatorOnly",
    platformAdmin: "allowed",
    service: "adminOnly",
  },
  // the audit trail: the group's admins and platform operators (a read: service tokens too);
  // the ledger: its members
  "GET /v1/groups/{groupId}/audit": { ...seeGroup, member: "notAdmin" },
  "GET /v1/groups/{groupId}/ledger": seeGroup,
  "GET /v1/groups/{groupId}/ledger/transactions": seeGroup,
  // support tickets and operations: platform operators; resolving a ticket is an operator's
  // decision, a platform admin's (a service token: 403 admin_only)
  "GET /v1/tickets": operatorOnly,
  "GET /v1/tickets/{ticketId}": operatorOnlyMissing,
  "POST /v1/tickets/{ticketId}/resolve": { ...operatorOnlyMissing, service: "adminOnly" },
  "GET /v1/operations/webhook-events": operatorOnly,
  "POST /v1/operations/webhook-events/{eventId}/replay": operatorOnlyMissing,
  "POST /v1/operations/webhook-events/replay": operatorOnly,
  "POST /v1/operations/webhook-events/{eventId}/dismiss": { ...operatorOnlyMissing, service: "adminOnly" },
  "GET /v1/operations/outbox": operatorOnly,
  "POST /v1/operations/outbox/{effectId}/replay": operatorOnlyMissing,
  "POST /v1/operations/outbox/replay": operatorOnly,
  "POST /v1/operations/outbox/{effectId}/dismiss": { ...operatorOnlyMissing, service: "adminOnly" },
  // payout pauses: operators list them, platform admins pause and resume (a service token: 403 admin_only)
  "GET /v1/operations/payouts/pauses": operatorOnly,
  "POST /v1/operations/payouts/pause": {
    ...operatorOnly,
    service: "adminOnly",
    body: () => ({ reason: "matrix pause" }),
  },
  "POST /v1/operations/payouts/resume": { ...operatorOnly, service: "adminOnly", body: () => ({}) },
  // ledger adjustments: operators list them, platform admins post them (a service token: 403
  // admin_only; the matrix sends no Idempotency-Key, which this POST requires: 400 for the admin)
  "GET /v1/operations/ledger/adjustments": operatorOnly,
  "POST /v1/operations/ledger/adjustments": {
    ...operatorOnly,
    platformAdmin: "reached",
    service: "adminOnly",
  },
  // reconciliation with Stripe: platform admins only (a service token: 403 admin_only);
  // without from/to the admin's call is a 400, a missing report a 404
  "GET /v1/operations/reconciliation": { ...operatorOnly, platformAdmin: "reached", service: "adminOnly" },
  "GET /v1/operations/reconciliation/reports": { ...operatorOnly, service: "adminOnly" },
  "GET /v1/operations/reconciliation/reports/{reportId}": { ...operatorOnlyMissing, service: "adminOnly" },
  // (the world's day, `date_missing`, is no date: 400 reconciliation_day_invalid once past the checks)
  "POST /v1/operations/reconciliation/days/{date}/runs": { ...operatorOnlyMissing, service: "adminOnly" },
  // held payments: anyone asks for one (as its requester) and lists what they may see
  "POST /v1/held-payments": {
    ...anyPerson,
    body: (world) => ({
      clientReference: `matrix_${world.heldPaymentId}`,
      amountMinor: 50_00,
      currency: "AUD",
      sellerId: world.seller,
      description: "A night in town",
      customer: { email: "cy@example.com" },
      fee: { rateBps: 500 },
      successUrl: "https://app.example/paid",
    }),
  },
  "GET /v1/held-payments": anyPerson,
  "GET /v1/held-payments/{heldPaymentId}": seeHeldPayment,
  "POST /v1/held-payments/{heldPaymentId}/fulfilment": requesterOfHeldPayment,
  "POST /v1/held-payments/{heldPaymentId}/unfulfilled": requesterOfHeldPayment,
  "POST /v1/held-payments/{heldPaymentId}/hold": operatorOnHeldPayment,
  "POST /v1/held-payments/{heldPaymentId}/release": operatorOnHeldPayment,
  "POST /v1/held-payments/{heldPaymentId}/refunds": operatorOnHeldPayment,
  "POST /v1/held-payments/{heldPaymentId}/refunds/retry": operatorOnHeldPayment,
  "POST /v1/held-payments/{heldPaymentId}/owed-payments": operatorOnHeldPayment,
  "POST /v1/held-payments/{heldPaymentId}/owed-recoveries": operatorOnHeldPayment,
  "POST /v1/held-payments/{heldPaymentId}/reversals/retry": operatorOnHeldPayment,
  // marketplace charges: only the customer themselves or a platform service charges a
  // customer (403 not_customer for anyone else); lists are what each may see
  "POST /v1/marketplace-charges": {
    stranger: "forbidden",
    member: "forbidden",
    groupAdmin: "forbidden",
    customer: "ok",
    platformAdmin: "ok",
    body: (world) => ({
      clientReference: `matrix_${world.marketplaceChargeId}`,
      activityId: "act_matrix",
      purpose: "purchase",
      amountMinor: 40_00,
      currency: "AUD",
      description: "A ceramics kit",
      customer: { personId: world.customer, email: "cy@example.com" },
      sellers: [{ personId: world.seller }],
      fee: { rateBps: 500 },
      paymentMethod: { type: "new_card" },
    }),
  },
  "GET /v1/marketplace-charges": anyPerson,
  "GET /v1/marketplace-charges/{marketplaceChargeId}": seeMarketplaceCharge,
  "POST /v1/marketplace-charges/{marketplaceChargeId}/refunds": customerOfMarketplaceCharge,
  "POST /v1/marketplace-charges/{marketplaceChargeId}/refunds/retry": operatorOnMarketplaceCharge,
  "POST /v1/marketplace-charges/{marketplaceChargeId}/owed-payments": operatorOnMarketplaceCharge,
  "POST /v1/marketplace-charges/{marketplaceChargeId}/owed-recoveries": operatorOnMarketplaceCharge,
  "POST /v1/marketplace-charges/{marketplaceChargeId}/transfers/retry": operatorOnMarketplaceCharge,
  "POST /v1/marketplace-charges/{marketplaceChargeId}/reversals/retry": operatorOnMarketplaceCharge,
};

/**
 * What the callers get on their own person: every `/v1/people` operation with `{personId}` as
 * `me` (and `GET /v1/people/me`), `{paymentMethodId}` the caller's own saved card. `person`:
 * the callers who are people with a person row (the stranger, the member, the group admin,
 * the seller, the customer); `noPerson`: the person tokens without one (the requester, the
 * platform admin; default `reached`). A service token is refused 403 `person_only` on every
 * one, write or read, though the world gives its subject a person row and a card: `me` names
 * a person, and an app is none.
 */
interface MeRow {
  readonly person: Expect;
  readonly noPerson?: Expect;
}

/** One line per `/v1/people` operation (`METHOD /v1/path` as in the document). */
const AS_ME: Readonly<Record<string, MeRow>> = {
  "GET /v1/people/me": { person: "ok", noPerson: "hidden" },
  "GET /v1/people/{personId}": { person: "ok", noPerson: "hidden" },
  "POST /v1/people/{personId}/debit-setup": { person: "ok", noPerson: "hidden" },
  "POST /v1/people/{personId}/payout-onboarding": { person: "ok", noPerson: "hidden" },
  "GET /v1/people/{personId}/balance": { person: "ok", noPerson: "hidden" },
  "GET /v1/people/{personId}/payouts": { person: "ok", noPerson: "hidden" },
  // Paying out is a platform operator's (a person paying themselves out: 403 operator_only);
  // the platform admin has no person row: 404 first.
  "POST /v1/people/{personId}/payouts": { person: "operatorOnly", noPerson: "hidden" },
  "GET /v1/people/{personId}/entitlements": { person: "ok", noPerson: "hidden" },
  "POST /v1/people/{personId}/payment-methods/setup": { person: "ok", noPerson: "hidden" },
  "GET /v1/people/{personId}/payment-methods": { person: "ok" },
  "POST /v1/people/{personId}/payment-methods/{paymentMethodId}/default": {
    person: "ok",
    noPerson: "hidden",
  },
  // (the member's card is what their membership is charged on: 409 for them)
  "DELETE /v1/people/{personId}/payment-methods/{paymentMethodId}": { person: "allowed", noPerson: "hidden" },
  "GET /v1/people/{personId}/notification-settings": { person: "ok", noPerson: "hidden" },
  "PUT /v1/people/{personId}/notification-settings": { person: "ok", noPerson: "hidden" },
};

/** The callers with a person row in the world, and the person tokens without one. */
const PEOPLE: readonly Caller[] = ["stranger", "member", "groupAdmin", "seller", "customer"];
const NO_PERSON: readonly Caller[] = ["requester", "platformAdmin"];

/** What each path parameter points at in the world (ids the world lacks: a missing one). */
function paramOf(world: World, name: string): string {
  switch (name) {
    case "groupId":
      return world.groupId;
    case "memberId":
    case "personId":
      return world.member;
    case "roundId":
      return world.roundId;
    case "heldPaymentId":
      return world.heldPaymentId;
    case "marketplaceChargeId":
      return world.marketplaceChargeId;
    case "planId":
      return world.planId;
    case "subscriptionId":
      return world.subscriptionId;
    default:
      return `${name.replace(/Id$/, "")}_missing`;
  }
}

const db = useTestDatabase();
let env: ReturnType<typeof worldApp>;
let doc: OpenApiDocument;
let operations: Operation[];

beforeAll(async () => {
  env = worldApp(db.prisma);
  doc = (await (await env.app.request("/v1/openapi.json")).json()) as OpenApiDocument;
  operations = operationsOf(doc);
});

interface Answer {
  readonly status: number;
  readonly code: string | undefined;
}

async function call(
  world: World,
  operation: Operation,
  caller: Caller,
  row: Pick<Row, "body">,
  params: (name: string) => string = (name) => paramOf(world, name),
): Promise<Answer> {
  const path = fillPath(operation.path, params);
  const body = row.body !== undefined ? row.body(world, caller) : exampleBodyOf(doc, operation.op);
  const init =
    caller === "anonymous"
      ? {
          method: operation.method,
          ...(body === undefined
            ? {}
            : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
        }
      : authed(world.tokens[caller], operation.method, body);
  const res = await env.app.request(path, init);
  const text = await res.text();
  let code: string | undefined;
  if (res.headers.get("content-type")?.startsWith("application/problem+json"))
    code = (JSON.parse(text) as { code?: string }).code;
  return { status: res.status, code };
}

function matches(expected: Expect, { status, code }: Answer): boolean {
  switch (expected) {
    case "ok":
      return status >= 200 && status < 300;
    case "allowed":
      return (status >= 200 && status < 300) || status === 409 || status === 422;
    case "reached":
      return status < 500 && status !== 401 && status !== 403;
    case "hidden":
      return status === 404 && code !== undefined && code.endsWith("_not_found");
    case "notAdmin":
      return status === 403 && code === "not_group_admin";
    case "forbidden":
      return status === 403 && code !== undefined;
    case "operatorOnly":
      return status === 403 && code === "operator_only";
    case "adminOnly":
      return status === 403 && code === "admin_only";
    case "notRequester":
      return status === 403 && code === "not_requester";
    case "personOnly":
      return status === 403 && code === "person_only";
    case "anon":
      return status === 401 && code === "unauthenticated";
  }
}

describe("the authorisation matrix", () => {
  it("has a row for every documented operation", () => {
    const missing = operations.map((o) => o.key).filter((key) => MATRIX[key] === undefined);
    expect(missing, "add these operations to MATRIX in authz-matrix.test.ts").toEqual([]);
  });

  it("has no row for an operation the document does not have (a renamed or removed route)", () => {
    const documented = new Set(operations.map((o) => o.key));
    const absent = Object.keys(MATRIX).filter((key) => !documented.has(key));
    expect(absent, "rows in MATRIX for operations not in the document").toEqual([]);
  });

  it("answers every caller of every operation as its row says, and a refusal changes nothing", async () => {
    // Fresh worlds, made six at a time (concurrently), never while a request is counted.
    const pool: World[] = [];
    const nextWorld = async (): Promise<World> => {
      if (pool.length === 0) pool.push(...(await makeWorlds(env.deps, 6)));
      return pool.shift() as World;
    };
    let world = await nextWorld();
    const failures: string[] = [];
    for (const operation of operations) {
      const row = MATRIX[operation.key];
      if (row === undefined) continue; // reported by the first test
      const expectations: [Caller, Expect][] = [
        ["anonymous", "anon"],
        ["stranger", row.stranger],
        ["member", row.member],
        ["groupAdmin", row.groupAdmin],
        ["requester", row.requester ?? row.stranger],
        ["seller", row.seller ?? row.stranger],
        ["customer", row.customer ?? row.stranger],
        ["platformAdmin", row.platformAdmin],
        ["service", row.service ?? row.platformAdmin],
      ];
      for (const [caller, expected] of expectations) {
        const before = await countDomainRows(db.prisma);
        const answer = await call(world, operation, caller, row);
        if (!matches(expected, answer))
          failures.push(
            `${operation.key} as ${caller}: expected ${expected}, got ${answer.status} ${answer.code ?? ""}`,
          );
        if (answer.status === 401 || answer.status === 403 || answer.status === 404) {
          const after = await countDomainRows(db.prisma);
          if (JSON.stringify(after) !== JSON.stringify(before))
            failures.push(
              `${operation.key} as ${caller}: refused with ${answer.status} but stored something`,
            );
        } else if (operation.method !== "GET" && answer.status < 300 && operation.path.includes("{")) {
          // An accepted write to the world's resources may have changed it: the next caller
          // gets a fresh one. (Writes without path ids — create a group — leave it as it was.)
          world = await nextWorld();
        }
      }
    }
    expect(failures).toEqual([]);
    // Some 20 s alone (every world's people save their cards through the use cases); more
    // beside the other suites on a shared machine.
  }, 90_000);

  it("has an AS_ME line for every /v1/people operation, and none for another", () => {
    const people = operations.filter((o) => o.path.startsWith("/v1/people/")).map((o) => o.key);
    expect(Object.keys(AS_ME).sort(), "AS_ME in authz-matrix.test.ts").toEqual([...people].sort());
  });

  it("answers every caller on their own person (`me`) as AS_ME says: a service token 403 person_only, and a refusal changes nothing", async () => {
    const pool: World[] = [];
    const nextWorld = async (): Promise<World> => {
      if (pool.length === 0) pool.push(...(await makeWorlds(env.deps, 4)));
      return pool.shift() as World;
    };
    let world = await nextWorld();
    const failures: string[] = [];
    for (const operation of operations) {
      const row = AS_ME[operation.key];
      if (row === undefined) continue; // reported by the test above
      const expectations: [Caller, Expect][] = [
        ...PEOPLE.map((caller): [Caller, Expect] => [caller, row.person]),
        ...NO_PERSON.map((caller): [Caller, Expect] => [caller, row.noPerson ?? "reached"]),
        ["service", "personOnly"],
      ];
      for (const [caller, expected] of expectations) {
        const before = await countDomainRows(db.prisma);
        const answer = await call(world, operation, caller, {}, (name) =>
          name === "personId"
            ? "me"
            : name === "paymentMethodId"
              ? (world.cards[caller] ?? "pm_missing")
              : paramOf(world, name),
        );
        if (!matches(expected, answer))
          failures.push(
            `${operation.key} as ${caller} (me): expected ${expected}, got ${answer.status} ${answer.code ?? ""}`,
          );
        if (answer.status === 401 || answer.status === 403 || answer.status === 404) {
          if (JSON.stringify(await countDomainRows(db.prisma)) !== JSON.stringify(before))
            failures.push(
              `${operation.key} as ${caller} (me): refused with ${answer.status} but stored something`,
            );
        } else if (operation.method !== "GET" && answer.status < 300) world = await nextWorld();
      }
    }
    expect(failures).toEqual([]);
  }, 90_000);

  it("refuses every /v1 operation without a token, or with a garbage one, before reading the body", async () => {
    const [world] = await makeWorlds(env.deps, 1);
    if (world === undefined) throw new Error("no world");
    for (const operation of operations) {
      const path = fillPath(operation.path, (name) => paramOf(world, name));
      for (const authorization of [undefined, "Bearer not-a-jwt", "Basic YW5hOnNlY3JldA==", "Bearer "]) {
        const res = await env.app.request(path, {
          method: operation.method,
          headers: {
            "content-type": "application/json",
            ...(authorization === undefined ? {} : { authorization }),
          },
          // Malformed on purpose: anonymous callers must get 401, never a parse error.
          ...(operation.method === "GET" ? {} : { body: "{" }),
        });
        expect(res.status, `${operation.key} with ${authorization ?? "no token"}`).toBe(401);
        expect(res.headers.get("content-type")).toBe("application/problem+json");
      }
    }
  });
});
