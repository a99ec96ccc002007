// A text limit is one limit, whatever the characters: the schema (zod's `max`, the OpenAPI's
// `maxLength`) and the domain both count characters (code points), so a held payment's
// description of 400 emoji (800 UTF-16 units) within the 500 allowed is made and stored as
// sent on PostgreSQL, and a plan's name of exactly 200 emoji is a plan; one character past
// the limit is refused by the schema.
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

async function call(token: string, method: string, path: string, body?: unknown) {
  const res = await env.app.request(path, authed(token, method, body));
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) as Record<string, unknown> };
}

const booking = (reference: string, description: string) => ({
  clientReference: reference,
  amountMinor: 100_00,
  currency: "AUD",
  sellerId: world.seller,
  description,
  customer: { email: "cy@example.com", name: "Cy" },
  fee: { rateBps: 1_000 },
  successUrl: "https://app.example/booking/42/paid",
});

describe("text limits count characters, not UTF-16 units", () => {
  it("a held payment's description of 400 emoji (within 500 characters) is made and stored as sent", async () => {
    const description = "😀".repeat(400);
    const made = await call(
      world.tokens.requester,
      "POST",
      "/v1/held-payments",
      booking("emoji_400", description),
    );
    expect(made.status, made.text).toBe(201);
    const read = await call(world.tokens.requester, "GET", `/v1/held-payments/${made.body.id as string}`);
    expect(read.status, read.text).toBe(200);
    expect(read.body.description).toBe(description);
  });

  it("exactly 500 emoji passes; 501 is refused by the schema (400), not by the domain", async () => {
    const at = await call(
      world.tokens.requester,
      "POST",
      "/v1/held-payments",
      booking("emoji_500", "🎉".repeat(500)),
    );
    expect(at.status, at.text).toBe(201);
    const past = await call(
      world.tokens.requester,
      "POST",
      "/v1/held-payments",
      booking("emoji_501", "🎉".repeat(501)),
    );
    expect(past.status, past.text).toBe(400);
    expect(past.body.code).toBe("invalid_request");
  });

  it("a plan named with 200 emoji (200 characters) is a plan", async () => {
    const name = "🌱".repeat(200);
    const made = await call(world.tokens.platformAdmin, "POST", "/v1/plans", {
      name,
      entitlements: { createGroups: true, maxOpenGroups: 5, sellBookings: true },
      trialDays: 0,
      prices: [{ currency: "AUD", interval: "month", amountMinor: 15_00 }],
    });
    expect(made.status, made.text).toBe(201);
    expect(made.body.name).toBe(name);
  });
});
