// A held payment's read shows platform operators how its charge settled: the amount in
// the charge's currency, the amount that landed in the platform's balance and Stripe's
// exchange rate, from the balance transaction a reconciliation pulled (the pull itself is
// tested against the emulator in packages/adapters/test/reconciliation).
import { useTestDatabase } from "@susu/adapters/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { authed } from "../support/app.js";
import { makeWorlds, type World, worldApp } from "../support/world.js";

const db = useTestDatabase();
let env: ReturnType<typeof worldApp>;
let world: World;

beforeAll(async () => {
  env = worldApp(db.prisma);
  [world] = (await makeWorlds(env.deps, 1)) as [World];
});

const read = async (token: string) => {
  const res = await env.app.request(`/v1/held-payments/${world.heldPaymentId}`, authed(token));
  expect(res.status).toBe(200);
  return (await res.json()) as { id: string; settlement: unknown };
};

describe("GET /v1/held-payments/{id}: settlement", () => {
  it("is null until a reconciliation has pulled the charge's balance transaction", async () => {
    expect((await read(world.tokens.platformAdmin)).settlement).toBeNull();
  });

  it("shows operators both amounts and the rate of a charge settled in another currency; others see null", async () => {
    const at = new Date(env.clock.now());
    await db.prisma.stripeBalanceTransaction.create({
      data: {
        id: "txn_usd_1",
        type: "charge",
        reportingCategory: "charge",
        status: "pending",
        sourceId: "ch_usd_1",
        sourceObject: "charge",
        amountMinor: 150_00n,
        currency: "AUD",
        feeMinor: 0n,
        netMinor: 150_00n,
        exchangeRate: "1.5",
        presentmentMinor: 100_00n,
        presentmentCurrency: "USD",
        created: at,
        availableOn: at,
        heldPaymentId: world.heldPaymentId,
        pulledAt: at,
      },
    });
    const expected = {
      chargeId: "ch_usd_1",
      presentment: { amountMinor: 100_00, currency: "USD" },
      settlement: { amountMinor: 150_00, currency: "AUD" },
      exchangeRate: 1.5,
    };
    expect((await read(world.tokens.platformAdmin)).settlement).toEqual(expected);
    expect((await read(world.tokens.service)).settlement).toEqual(expected);
    expect((await read(world.tokens.requester)).settlement).toBeNull();
    expect((await read(world.tokens.seller)).settlement).toBeNull();
  });
});
