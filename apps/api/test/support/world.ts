// A small world for the cross-route tests, made through the domain's use cases on the real
// database: an active group whose admin (ana) and member (ben) are onboarded and whose first
// round is open, a stranger (eve, admin of a group of her own), a held payment a client app
// (app, not a person) asked for to pay a seller (sam, a person with a connected account, in
// no group), a platform admin and a service, each with a token. The service's subject has a
// person row and a saved card, as one a service token made before it was refused groups
// (or a person's id an app's subject happens to equal): what `me` must not reach. Several
// worlds can live in one database (ids carry a suffix). The member, the seller and the customer have identity
// providers' subjects as ids (`auth0|ben_w1`, `google-oauth2|sam_w1`, `cy+w1@example.com`).

import type { PrismaClient } from "@susu/adapters";
import { PrismaStore } from "@susu/adapters";
import { DAY_MS, type UseCaseDeps, useCaseDepsOn, useCases } from "@susu/domain";
import {
  aReadyPerson,
  FakePaymentGateway,
  ManualClock,
  onboardThroughUseCases,
  SequentialIds,
  saveCardThroughUseCases,
} from "@susu/domain/testing";
import { testApp, tokenFor } from "./app.js";

/** Who calls, in the authorisation matrix's columns. */
export const CALLERS = [
  "anonymous",
  "stranger",
  "member",
  "groupAdmin",
  "requester",
  "seller",
  "customer",
  "platformAdmin",
  "service",
] as const;
/** One caller. */
export type Caller = (typeof CALLERS)[number];

/** The ids a world's requests point at. */
export interface World {
  readonly groupId: string;
  /** The stranger's own group. */
  readonly otherGroupId: string;
  readonly roundId: string;
  readonly admin: string;
  readonly member: string;
  readonly stranger: string;
  /** A held payment (awaiting payment), its requester (a client app's principal) and its seller. */
  readonly heldPaymentId: string;
  readonly requester: string;
  readonly seller: string;
  /**
   * A marketplace charge (awaiting payment) the same requester asked for: its customer (a
   * person with a Stripe customer, in no group) pays the same seller.
   */
  readonly marketplaceChargeId: string;
  readonly customer: string;
  /** The service token's subject, which has a person row and a saved card (see the top of this file). */
  readonly service: string;
  /** A membership plan whose monthly AUD price Stripe made, and the member's subscription to it (incomplete). */
  readonly planId: string;
  readonly subscriptionId: string;
  /** The card each person among the callers saved (as their app does), by caller; the service's too. */
  readonly cards: Readonly<Partial<Record<Caller, string>>>;
  /** Bearer tokens by caller (none for anonymous). */
  readonly tokens: Readonly<Record<Exclude<Caller, "anonymous">, string>>;
}

/** The app and the use cases' ports on a test database, with a manual clock. */
export function worldApp(prisma: PrismaClient) {
  const clock = new ManualClock(Date.UTC(2026, 5, 1));
  const store = new PrismaStore(prisma);
  const deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
  const gateway = new FakePaymentGateway(() => clock.now());
  const app = testApp({ useCases: deps, gateway, prisma });
  return { app, deps, clock, gateway };
}

let worlds = 0;

/** The provider the worlds' people save their cards at (one, so its ids never repeat in a database). */
const provider = new FakePaymentGateway(() => Date.UTC(2026, 5, 1));

/**
 * Makes a new world and returns its ids and tokens. It is made with the app's stores but a
 * clock and ids of its own (starting at the app's time), so several can be made at once
 * ({@link makeWorlds}) and the app's clock does not move.
 */
export async function makeWorld(appDeps: UseCaseDeps): Promise<World> {
  const n = ++worlds;
  const clock = new ManualClock(appDeps.clock.now());
  let next = 0;
  const deps: UseCaseDeps = { ...appDeps, clock, ids: { newId: (prefix) => `${prefix}_w${n}_${++next}` } };
  const admin = `ana_w${n}`;
  // Some people are named as identity providers name them (Auth0, Google, an e-mail), so
  // every route is called with person ids holding `|`, `@`, `+` and `.` (percent-encoded in paths).
  const member = `auth0|ben_w${n}`;
  const stranger = `eve_w${n}`;
  const startsAt = clock.now() + DAY_MS;
  const base = {
    currency: "AUD",
    contributionMinor: 100_00,
    cadence: "weekly",
    startsAt,
    payoutOrderMethod: "join_order",
  } as const;
  const group = (
    await useCases.createGroup(deps, {
      ...base,
      name: `World ${n}`,
      creator: { id: admin, displayName: "Ana" },
    })
  )._unsafeUnwrap();
  const other = (
    await useCases.createGroup(deps, {
      ...base,
      name: `Elsewhere ${n}`,
      creator: { id: stranger, displayName: "Eve" },
    })
  )._unsafeUnwrap();
  (await useCases.joinGroup(deps, group.id, { id: member, displayName: "Ben" }))._unsafeUnwrap();
  for (const person of [admin, member]) await onboardThroughUseCases(deps, person);
  (await useCases.activateGroup(deps, group.id, admin))._unsafeUnwrap();
  clock.advanceTo(startsAt);
  const opened = (await useCases.startRound(deps, group.id, { memberId: admin }))._unsafeUnwrap();
  const requester = `app_w${n}`;
  const seller = `google-oauth2|sam_w${n}`;
  const customer = `cy+w${n}@example.com`;
  const service = `svc_w${n}`;
  (
    await deps.uow.commit({
      people: [
        ...[seller, customer].map((id) => ({
          state: { ...aReadyPerson(id), createdAt: clock.now() },
          expectedVersion: undefined,
        })),
        // The service's person: no Stripe customer or account of its own yet (its card below makes the customer).
        {
          state: { id: service, displayName: "Bookings app", createdAt: clock.now(), version: 0 },
          expectedVersion: undefined,
        },
      ],
      groups: [],
      rounds: [],
      outbox: [],
      audit: [],
    })
  )._unsafeUnwrap();
  // The people among the callers save a card each as their apps do (a set-up, confirmed, the
  // provider's word recorded; a person with no customer yet gets one), on the worlds' fake provider.
  const cardOf = (caller: Caller, personId: string) =>
    saveCardThroughUseCases(deps, provider, personId, `pm_w${n}_${caller}`);
  const [customerCard, memberCard, strangerCard, adminCard, sellerCard, serviceCard] = await Promise.all([
    cardOf("customer", customer),
    cardOf("member", member),
    cardOf("stranger", stranger),
    cardOf("groupAdmin", admin),
    cardOf("seller", seller),
    cardOf("service", service),
  ]);
  const cards: Partial<Record<Caller, string>> = {
    customer: customerCard,
    member: memberCard,
    stranger: strangerCard,
    groupAdmin: adminCard,
    seller: sellerCard,
    service: serviceCard,
  };
  const held = (
    await useCases.createHeldPayment(deps, {
      requestedBy: requester,
      clientReference: `booking_w${n}`,
      amountMinor: 100_00,
      currency: "AUD",
      sellerId: seller,
      description: "Two nights by the sea",
      customer: { email: "cy@example.com" },
      fee: { kind: "rate", basisPoints: 1_000 },
      successUrl: "https://app.example/paid",
    })
  )._unsafeUnwrap();
  const charge = (
    await useCases.createMarketplaceCharge(deps, {
      requestedBy: requester,
      clientReference: `rsvp_w${n}`,
      activityId: `act_w${n}`,
      purpose: "rsvp",
      description: "Pottery class",
      amountMinor: 50_00,
      currency: "AUD",
      customerId: customer,
      customerEmail: "cy@example.com",
      paymentMethod: { kind: "saved_card", paymentMethodId: customerCard },
      fee: { kind: "rate", basisPoints: 1_000 },
      sellers: [{ id: seller }],
    })
  )._unsafeUnwrap();
  const plan = (
    await useCases.createPlan(
      deps,
      {
        name: `Plan ${n}`,
        entitlements: { createGroups: true, maxOpenGroups: null, sellBookings: true },
        prices: [{ currency: "AUD", interval: "month", amountMinor: 15_00 }],
      },
      { operator: `ops_w${n}` },
    )
  )._unsafeUnwrap();
  (
    await useCases.applyPlanInput(
      deps,
      plan.id,
      { type: "price_created", key: "aud_month", revision: 1, stripePriceId: `price_w${n}` },
      "stripe",
    )
  )._unsafeUnwrap();
  const subscription = (
    await useCases.subscribe(deps, {
      personId: member,
      planId: plan.id,
      currency: "AUD",
      interval: "month",
      start: { kind: "saved_method", paymentMethodId: memberCard },
    })
  )._unsafeUnwrap();
  clock.advance(60_000);
  return {
    planId: plan.id,
    subscriptionId: subscription.id,
    groupId: group.id,
    otherGroupId: other.id,
    roundId: opened.state.id,
    admin,
    member,
    stranger,
    heldPaymentId: held.payment.id,
    requester,
    seller,
    marketplaceChargeId: charge.charge.id,
    customer,
    service,
    cards,
    tokens: {
      stranger: await tokenFor(stranger),
      member: await tokenFor(member),
      groupAdmin: await tokenFor(admin),
      requester: await tokenFor(requester),
      seller: await tokenFor(seller),
      customer: await tokenFor(customer),
      platformAdmin: await tokenFor(`ops_w${n}`, ["admin"]),
      service: await tokenFor(service, ["service"]),
    },
  };
}

/** Makes `count` worlds concurrently (each takes a few hundred ms of use cases on its own). */
export function makeWorlds(appDeps: UseCaseDeps, count: number): Promise<World[]> {
  return Promise.all(Array.from({ length: count }, () => makeWorld(appDeps)));
}
