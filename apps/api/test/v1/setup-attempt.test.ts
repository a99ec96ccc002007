// A set-up's `attempt` on PostgreSQL and the Stripe emulator through the real gateway: the
// attempt names the set-up at Stripe (it is part of the Idempotency-Key the gateway sends),
// so it is held to what the API's own Idempotency-Key is (printable ASCII). A character Node
// cannot put in a header (above U+00FF, CR, LF) once made the SDK report a connection error,
// answered as a retryable 503 that no retry could cure; now it is 400 `invalid_request`
// naming the field, and nothing is made at Stripe or stored.
import { createStripeClient, PrismaStore, StripePaymentGateway, stripeEndpointOf } from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import { DAY_MS, useCaseDepsOn } from "@susu/domain";
import { ManualClock, SequentialIds } from "@susu/domain/testing";
import { type RunningEmulator, startEmulator } from "@susu/stripe-emulator";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authed, testApp, tokenFor } from "../support/app.js";

const db = useTestDatabase();
const clock = new ManualClock(Date.UTC(2026, 5, 1));
let emulator: RunningEmulator;
let stripe: Stripe;
let app: ReturnType<typeof testApp>;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, fees: false });
  const endpoint = { secretKey: emulator.secretKey, ...stripeEndpointOf(emulator.url), timeoutMs: 10_000 };
  stripe = createStripeClient({ ...endpoint, maxNetworkRetries: 0 });
  const gateway = new StripePaymentGateway({ ...endpoint, maxNetworkRetries: 0 }, { clock });
  const deps = useCaseDepsOn(new PrismaStore(db.prisma, { clock }), { clock, ids: new SequentialIds() });
  app = testApp({ useCases: deps, gateway, prisma: db.prisma });
});
afterAll(async () => {
  await emulator?.stop();
});

async function send(who: string, path: string, body: unknown) {
  const res = await app.request(path, authed(await tokenFor(who), "POST", body));
  const text = await res.text();
  return { status: res.status, type: res.headers.get("content-type"), body: JSON.parse(text) };
}

async function groupOf(person: string): Promise<void> {
  const res = await app.request(
    "/v1/groups",
    authed(await tokenFor(person), "POST", {
      name: `${person}'s savers`,
      currency: "AUD",
      contributionMinor: 100_00,
      cadence: "weekly",
      startsAt: new Date(clock.now() + DAY_MS).toISOString(),
      payoutOrderMethod: "join_order",
      displayName: person,
    }),
  );
  expect(res.status).toBe(201);
}

/** What Stripe and the database hold: customers and SetupIntents, and the people's customers. */
const state = async () => ({
  customers: (await stripe.customers.list({ limit: 100 })).data.length,
  setupIntents: (await stripe.setupIntents.list({ limit: 100 })).data.length,
  people: await db.prisma.person.findMany({ orderBy: { id: "asc" } }),
});

// Above U+00FF (Node refuses the header), CR and LF (header injection), and Latin-1 (Node
// would send it, but it is no printable ASCII).
const UNSENDABLE = ["😀", "Ā", "a\r\nb", "a\nb", "caf\u00e9", "tab\there"];

describe("a set-up's attempt", () => {
  it("that is not printable ASCII: 400 invalid_request naming the field, nothing made at Stripe or stored", async () => {
    await groupOf("ana");
    const before = await state();
    for (const attempt of UNSENDABLE) {
      for (const [path, body] of [
        ["/v1/people/me/debit-setup", { attempt }],
        ["/v1/people/ana/payment-methods/setup", { type: "card", attempt }],
        ["/v1/people/me/payment-methods/setup", { type: "au_becs_debit", attempt }],
      ] as const) {
        const res = await send("ana", path, body);
        expect(res.status, `${path} ${JSON.stringify(attempt)}`).toBe(400);
        expect(res.type).toBe("application/problem+json");
        expect(res.body.code).toBe("invalid_request");
        expect(res.body.errors.map((e: { path: string }) => e.path)).toContain("attempt");
      }
    }
    expect(await state()).toEqual(before);
  });

  it("of printable ASCII (spaces and punctuation included) is a set-up at Stripe, repeated for the same attempt", async () => {
    await groupOf("ben");
    const attempt = "retry #2: ~after revoke~";
    const debit = await send("ben", "/v1/people/me/debit-setup", { attempt });
    expect(debit.status, JSON.stringify(debit.body)).toBe(201);
    expect((await send("ben", "/v1/people/me/debit-setup", { attempt })).body.setupIntentId).toBe(
      debit.body.setupIntentId,
    );
    const card = await send("ben", "/v1/people/me/payment-methods/setup", { type: "card", attempt });
    expect(card.status, JSON.stringify(card.body)).toBe(201);
    expect(card.body.setupIntentId).not.toBe(debit.body.setupIntentId);
  });
});
