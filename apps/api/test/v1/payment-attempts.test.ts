// Payment-attempt limits on POST /v1/held-payments, on PostgreSQL: over a limit the answer
// is 429 `payment_attempts_exceeded` with the limit and `Retry-After`, and nothing is stored
// (no payment, no outbox effect); the same request again is not counted; the window passing
// admits again; two API instances on one database never admit more than the limit; a card
// whose charges failed repeatedly is refused for a while.
import {
  cardFailureBucket,
  createPrismaClient,
  type PrismaClient,
  PrismaPaymentAttemptStore,
  PrismaStore,
} from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import { type Changeset, type UseCaseDeps, useCaseDepsOn } from "@susu/domain";
import { aReadyPerson, FakePaymentGateway, ManualClock, SequentialIds } from "@susu/domain/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  CARD_FAILED_BUCKET_PREFIX,
  countRefusals,
  PaymentAttemptLimiter,
  type PaymentAttemptLimits,
  type PaymentAttemptStore,
} from "../../src/http/payment-attempts.js";
import { authed, testApp, testHttp, tokenFor } from "../support/app.js";

const db = useTestDatabase();
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const clock = new ManualClock(Date.UTC(2030, 0, 3, 9));
const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };
const LIMITS: PaymentAttemptLimits = {
  perPerson: { max: 3, windowMs: HOUR },
  perCard: { max: 2, windowMs: HOUR },
  perCustomerEmail: { max: 2, windowMs: DAY },
  cardFailures: { max: 3, windowMs: DAY },
};

let deps: UseCaseDeps;
let otherClient: PrismaClient;
let run = 0;

beforeAll(async () => {
  const store = new PrismaStore(db.prisma, { clock });
  deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
  (
    await store.commit({ ...empty, people: [{ state: aReadyPerson("sam"), expectedVersion: undefined }] })
  )._unsafeUnwrap();
  otherClient = createPrismaClient(db.connectionString, { maxConnections: 4 });
});
afterAll(async () => {
  await otherClient.$disconnect();
});
beforeEach(() => {
  // Each test on its own day, and its own names: the log of one never touches another's.
  clock.advance(7 * DAY);
  run++;
});

function appOn(prisma: PrismaClient) {
  const limiter = new PaymentAttemptLimiter({
    store: new PrismaPaymentAttemptStore(prisma) satisfies PaymentAttemptStore,
    limits: LIMITS,
    now: () => clock.now(),
  });
  return testApp({
    useCases: deps,
    // Never reaches Stripe: nothing tested here calls the gateway (the fake only fills the port).
    gateway: new FakePaymentGateway(() => clock.now()),
    prisma,
    paymentAttempts: limiter,
  });
}

const booking = (reference: string, email: string) => ({
  clientReference: reference,
  amountMinor: 100_00,
  currency: "AUD",
  sellerId: "sam",
  description: "Two nights by the sea",
  customer: { email },
  fee: { rateBps: 1_000 },
  successUrl: "https://app.example/paid",
});

async function ask(
  app: ReturnType<typeof appOn>,
  token: string,
  reference: string,
  email = `cy-${reference}@example.com`,
) {
  return app.request("/v1/held-payments", authed(token, "POST", booking(reference, email)));
}

async function stored(): Promise<{ payments: number; effects: number }> {
  const [payments, effects] = await Promise.all([
    db.prisma.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM held_payments`,
    db.prisma.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM outbox_effects`,
  ]);
  return { payments: Number(payments[0]?.n), effects: Number(effects[0]?.n) };
}

interface Refusal {
  readonly code: string;
  readonly status: number;
  readonly limit: string;
  readonly max: number;
  readonly windowSeconds: number;
  readonly remaining: number;
  readonly retryAfterSeconds: number;
}

async function refusal(res: Response, limit: string): Promise<Refusal> {
  const text = await res.text();
  expect(res.status, text).toBe(429);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  const body = JSON.parse(text) as Refusal;
  expect(body.code).toBe("payment_attempts_exceeded");
  expect(body.limit).toBe(limit);
  expect(body.remaining).toBe(0);
  expect(res.headers.get("retry-after")).toBe(String(body.retryAfterSeconds));
  return body;
}

describe("payment-attempt limits on POST /v1/held-payments", () => {
  it("refuses a person's attempt over the limit with 429, its terms and Retry-After, storing nothing", async () => {
    const app = appOn(db.prisma);
    const ana = await tokenFor(`ana_${run}`);
    const first = clock.now();
    for (let i = 0; i < 3; i++) {
      expect((await ask(app, ana, `b${run}_${i}`)).status).toBe(201);
      clock.advance(60_000);
    }
    const before = await stored();
    const refused = await refusal(await ask(app, ana, `b${run}_3`), "person");
    expect(refused).toMatchObject({ max: 3, windowSeconds: 3600 });
    // The oldest attempt leaves the window an hour after it was admitted.
    expect(refused.retryAfterSeconds).toBe((first + HOUR - clock.now()) / 1000);
    expect(await stored()).toEqual(before);

    // The same request as an admitted one is answered with its payment, not counted or refused.
    const again = await ask(app, ana, `b${run}_0`);
    expect(again.status).toBe(200);

    // A second before the window passes: still refused; at the moment it says: admitted.
    clock.advanceTo(first + HOUR - 1_000);
    await refusal(await ask(app, ana, `b${run}_3`), "person");
    clock.advanceTo(first + HOUR);
    expect((await ask(app, ana, `b${run}_3`)).status).toBe(201);
    await refusal(await ask(app, ana, `b${run}_4`), "person");
  });

  it("counts only requests the domain accepts: ones refused for their content are answered, not counted", async () => {
    const app = appOn(db.prisma);
    const ana = await tokenFor(`ana_${run}`);
    const refusedFor = async (body: Record<string, unknown>) => {
      const res = await app.request("/v1/held-payments", authed(ana, "POST", body));
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      return { status: res.status, code: ((await res.json()) as { code: string }).code };
    };
    const before = await stored();
    // More refused requests than the person's limit (3): an unknown seller, a fee that
    // leaves the seller nothing, a dispute window past the policy's.
    for (let i = 0; i < 2; i++) {
      expect(await refusedFor({ ...booking(`x${run}_s${i}`, "cy@example.com"), sellerId: "nobody" })).toEqual(
        {
          status: 422,
          code: "seller_not_found",
        },
      );
      expect(
        await refusedFor({ ...booking(`x${run}_f${i}`, "cy@example.com"), fee: { amountMinor: 100_00 } }),
      ).toMatchObject({ status: 422, code: "invalid_fee" });
    }
    expect(await stored()).toEqual(before);
    // The person's three attempts are all still theirs.
    for (let i = 0; i < 3; i++) expect((await ask(app, ana, `x${run}_ok${i}`)).status).toBe(201);
    await refusal(await ask(app, ana, `x${run}_ok3`), "person");
  });

  it("limits a customer email (any case) under a service token, which is not limited as a person", async () => {
    const app = appOn(db.prisma);
    const bookings = await tokenFor(`app_bookings_${run}`, ["service"]);
    const email = `dee_${run}@example.com`;
    expect((await ask(app, bookings, `e${run}_0`, email)).status).toBe(201);
    expect((await ask(app, bookings, `e${run}_1`, ` ${email.toUpperCase()}`)).status).toBe(400);
    expect((await ask(app, bookings, `e${run}_1`, email.toUpperCase())).status).toBe(201);
    const before = await stored();
    const refused = await refusal(await ask(app, bookings, `e${run}_2`, email), "customer_email");
    expect(refused).toMatchObject({ max: 2, windowSeconds: 24 * 3600, retryAfterSeconds: 24 * 3600 });
    expect(await stored()).toEqual(before);
    // Other customers of the same app: more than the per-person limit of 3, all admitted.
    for (let i = 3; i < 8; i++) expect((await ask(app, bookings, `e${run}_${i}`)).status).toBe(201);
  });

  it("never admits more than the limit when attempts race on two API instances", async () => {
    const a = appOn(db.prisma);
    const b = appOn(otherClient);
    const ben = await tokenFor(`ben_${run}`);
    const before = await stored();
    const statuses = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        ask(i % 2 === 0 ? a : b, ben, `r${run}_${i}`).then((r) => r.status),
      ),
    );
    expect(statuses.filter((s) => s === 201)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(9);
    const after = await stored();
    expect(after.payments - before.payments).toBe(3);
  });

  it("counts the same request racing with itself once", async () => {
    const a = appOn(db.prisma);
    const b = appOn(otherClient);
    const cat = await tokenFor(`cat_${run}`);
    const statuses = await Promise.all(
      Array.from({ length: 6 }, (_, i) => ask(i % 2 === 0 ? a : b, cat, `same${run}`).then((r) => r.status)),
    );
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 429)).toHaveLength(0);
    // Two more distinct attempts fit under the limit of 3: the racing copies counted once.
    expect((await ask(a, cat, `other${run}_1`)).status).toBe(201);
    expect((await ask(b, cat, `other${run}_2`)).status).toBe(201);
    await refusal(await ask(a, cat, `other${run}_3`), "person");
  });
});

describe("refusals on /metrics", () => {
  it("counts each refusal by its limit in susu_payment_attempts_refused_total", async () => {
    const http = testHttp({ prisma: db.prisma });
    const app = testApp({
      useCases: deps,
      // Never reaches Stripe: nothing tested here calls the gateway (the fake only fills the port).
      gateway: new FakePaymentGateway(() => clock.now()),
      prisma: db.prisma,
      http,
      paymentAttempts: new PaymentAttemptLimiter({
        store: new PrismaPaymentAttemptStore(db.prisma),
        limits: LIMITS,
        now: () => clock.now(),
        onRefused: countRefusals(http.metrics),
      }),
    });
    const eve = await tokenFor(`eve_${run}`);
    for (let i = 0; i < 3; i++) expect((await ask(app, eve, `n${run}_${i}`)).status).toBe(201);
    await refusal(await ask(app, eve, `n${run}_3`), "person");
    await refusal(await ask(app, eve, `n${run}_4`), "person");
    const text = await (await app.request("/metrics", authed(await tokenFor("ops", ["admin"])))).text();
    expect(text).toMatch(/^susu_payment_attempts_refused_total\{limit="person"\} 2$/m);
  });
});

describe("when the limits cannot be checked", () => {
  it("answers 503 payment_attempt_limits_unavailable and starts no payment", async () => {
    const down: PaymentAttemptStore = {
      admit: () => Promise.reject(new Error("connection refused")),
      deleteExpired: () => Promise.reject(new Error("connection refused")),
    };
    const app = testApp({
      useCases: deps,
      // Never reaches Stripe: nothing tested here calls the gateway (the fake only fills the port).
      gateway: new FakePaymentGateway(() => clock.now()),
      prisma: db.prisma,
      paymentAttempts: new PaymentAttemptLimiter({ store: down, limits: LIMITS, now: () => clock.now() }),
    });
    const before = await stored();
    const res = await ask(app, await tokenFor(`dan_${run}`), `down${run}`);
    expect(res.status).toBe(503);
    const body = (await res.json()) as { code: string; detail: string };
    expect(body.code).toBe("payment_attempt_limits_unavailable");
    expect(body.detail).not.toContain("connection refused");
    expect(await stored()).toEqual(before);
  });
});

describe("PaymentAttemptLimiter with cards", () => {
  const limiter = () =>
    new PaymentAttemptLimiter({
      store: new PrismaPaymentAttemptStore(db.prisma),
      limits: LIMITS,
      now: () => clock.now(),
    });
  const principal = (subject: string) => ({ subject, roles: ["service" as const] });

  it("refuses a card fingerprint whose charges failed 3 times in a day, until the oldest failure is a day old", async () => {
    const store = new PrismaPaymentAttemptStore(db.prisma);
    const fingerprint = `fp_${run}`;
    // The scheduler records failures under the adapters' bucket name; the limiter reads the same.
    expect(cardFailureBucket(fingerprint)).toBe(`${CARD_FAILED_BUCKET_PREFIX}${fingerprint}`);
    const firstFailure = clock.now();
    for (let i = 0; i < 3; i++) {
      await store.record(
        `${CARD_FAILED_BUCKET_PREFIX}${fingerprint}`,
        `ch_${run}_${i}`,
        clock.now(),
        7 * DAY,
      );
      // A failure reported twice (Stripe retries the event) counts once.
      await store.record(
        `${CARD_FAILED_BUCKET_PREFIX}${fingerprint}`,
        `ch_${run}_${i}`,
        clock.now(),
        7 * DAY,
      );
      if (i < 2) {
        const verdict = await limiter().admit({
          key: `try_${run}_${i}`,
          principal: principal("app"),
          cardFingerprint: fingerprint,
        });
        // One or two failures: the card may still be tried.
        expect(verdict.admitted).toBe(true);
      }
      clock.advance(HOUR);
    }
    const verdict = await limiter().admit({
      key: `try_${run}_x`,
      principal: principal("app"),
      cardFingerprint: fingerprint,
    });
    expect(verdict).toEqual({
      admitted: false,
      refusal: {
        limit: "card_failures",
        max: 3,
        windowSeconds: 24 * 3600,
        remaining: 0,
        retryAfterSeconds: (firstFailure + DAY - clock.now()) / 1000,
      },
    });
    clock.advanceTo(firstFailure + DAY);
    const later = await limiter().admit({
      key: `try_${run}_y`,
      principal: principal("app"),
      cardFingerprint: fingerprint,
    });
    expect(later.admitted).toBe(true);
  });

  it("limits a saved payment method, and tells how many attempts remain", async () => {
    const pm = `pm_${run}`;
    const attempt = (i: number) =>
      limiter().admit({ key: `pm_try_${run}_${i}`, principal: principal("app"), paymentMethodId: pm });
    expect(await attempt(0)).toEqual({ admitted: true, repeat: false, remaining: 1 });
    expect(await attempt(0)).toEqual({ admitted: true, repeat: true, remaining: undefined });
    expect(await attempt(1)).toEqual({ admitted: true, repeat: false, remaining: 0 });
    const refused = await attempt(2);
    expect(refused.admitted).toBe(false);
    if (!refused.admitted) expect(refused.refusal.limit).toBe("card");
  });
});
