// One line per Stripe call, written inside the caller's log context (so an API request's id
// reaches it), with the path but never the query, the body or the key.
import { type RunningEmulator, startEmulator } from "@susu/stripe-emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logContext, withLogContext } from "../../src/logging/index.js";
import { createStripeClient, StripePaymentGateway } from "../../src/stripe/index.js";
import { clientConfig, EMULATOR_OPTIONS } from "./emulator-harness.js";

let emulator: RunningEmulator;
beforeAll(async () => {
  emulator = await startEmulator(EMULATOR_OPTIONS);
});
afterAll(async () => {
  await emulator?.stop();
});

/** A sink that keeps each line with the log context in force when it was written. */
function recordingSink() {
  const lines: { fields: Record<string, unknown>; message: string; context: Record<string, string> }[] = [];
  return {
    lines,
    info(fields: Record<string, unknown>, message: string) {
      lines.push({ fields, message, context: { ...logContext() } });
    },
  };
}

describe("createStripeClient({ log })", () => {
  it("logs each call in the context of whoever made it", async () => {
    const sink = recordingSink();
    const gateway = new StripePaymentGateway(createStripeClient(clientConfig(emulator, { log: sink })));
    const [a, b] = await Promise.all([
      withLogContext({ requestId: "req-a" }, () =>
        gateway.createCustomer({
          name: "Ana",
          references: { personId: "ana" },
          idempotencyKey: "person:ana:customer",
          // A first request: made now, under a key Stripe keeps.
          notBefore: Date.now(),
          effectCreatedAt: Date.now(),
        }),
      ),
      withLogContext({ requestId: "req-b" }, () =>
        gateway.createCustomer({
          name: "Ben",
          references: { personId: "ben" },
          idempotencyKey: "person:ben:customer",
          // A first request: made now, under a key Stripe keeps.
          notBefore: Date.now(),
          effectCreatedAt: Date.now(),
        }),
      ),
    ]);
    expect(a.isOk() && b.isOk()).toBe(true);
    const calls = sink.lines.filter((l) => l.message === "stripe call");
    const byKey = (key: string) =>
      calls.find((l) => (l.fields.stripe as { idempotencyKey?: string }).idempotencyKey === key);
    expect(byKey("person:ana:customer")?.context).toEqual({ requestId: "req-a" });
    expect(byKey("person:ben:customer")?.context).toEqual({ requestId: "req-b" });
    expect(byKey("person:ana:customer")?.fields.stripe).toMatchObject({
      method: "POST",
      path: "/v1/customers",
      status: 200,
      stripeRequestId: expect.stringMatching(/^req_/),
      elapsedMs: expect.any(Number),
    });
  });

  it("never logs the query, the body or the secret key", async () => {
    const sink = recordingSink();
    const stripe = createStripeClient(clientConfig(emulator, { log: sink }));
    await stripe.customers.create({ name: "Cy", email: "cy@example.com", metadata: { bsb: "062-000" } });
    await stripe.customers.list({ email: "cy@example.com", limit: 3 });
    const text = JSON.stringify(sink.lines);
    expect(sink.lines.map((l) => (l.fields.stripe as { path: string }).path)).toEqual([
      "/v1/customers",
      "/v1/customers",
    ]);
    expect(text).not.toContain("cy@example.com");
    expect(text).not.toContain("062-000");
    expect(text).not.toContain(emulator.secretKey);
    // Outside any unit of work the context is empty, not someone else's.
    expect(sink.lines.every((l) => Object.keys(l.context).length === 0)).toBe(true);
  });
});
