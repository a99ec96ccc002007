import Stripe from "stripe";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createStripeClient } from "../src/index.js";
import { DAY, failure, type Harness, harness, raw } from "./support.js";

let h: Harness;
beforeAll(async () => {
  h = await harness();
});
afterAll(async () => h.emu.stop());
beforeEach(async () => h.emu.control.reset());

describe("authentication and errors", () => {
  it("rejects a missing key with Stripe's 401, which the SDK raises as an authentication error", async () => {
    const res = await raw(h.emu, "GET", "/v1/customers", { key: null });
    expect(res.status).toBe(401);
    expect((res.json.error as { message: string }).message).toMatch(/did not provide an API key/);
    expect(res.headers.get("request-id")).toMatch(/^req_/);
  });

  it("rejects a wrong key", async () => {
    const stripe = createStripeClient(h.emu.url, {
      secretKey: "sk_test_wrong_key_123456",
      maxNetworkRetries: 0,
    });
    const error = await failure(stripe.customers.list());
    expect(error).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    expect(error.statusCode).toBe(401);
    expect(error.message).toMatch(/Invalid API Key provided: sk_test_/);
  });

  it("answers a missing object with 404 resource_missing and a request id", async () => {
    const error = await failure(h.stripe.customers.retrieve("cus_nope"));
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error.statusCode).toBe(404);
    expect(error.code).toBe("resource_missing");
    expect(error.param).toBe("id");
    expect(error.requestId).toMatch(/^req_/);
  });

  it("answers an unknown URL with 404 and a missing parameter with 400", async () => {
    const res = await raw(h.emu, "GET", "/v1/nothing_here");
    expect(res.status).toBe(404);
    expect((res.json.error as { message: string }).message).toMatch(/Unrecognized request URL/);
    const error = await failure(
      h.stripe.paymentIntents.create({ currency: "aud" } as Stripe.PaymentIntentCreateParams),
    );
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error.statusCode).toBe(400);
    expect(error.param).toBe("amount");
  });

  it("rejects parameters the endpoint does not know, as Stripe does", async () => {
    const error = await failure(
      h.stripe.customers.create({ emial: "typo@example.com" } as Stripe.CustomerCreateParams),
    );
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error.message).toBe("Received unknown parameter: emial");
    expect(error.param).toBe("emial");
    expect((await h.stripe.customers.list()).data).toEqual([]);
  });

  it("refuses an unknown Stripe-Account with a permission error", async () => {
    const error = await failure(h.stripe.customers.list({}, { stripeAccount: "acct_doesnotexist" }));
    expect(error).toBeInstanceOf(Stripe.errors.StripePermissionError);
    expect(error.statusCode).toBe(403);
  });

  it("validates amounts per currency", async () => {
    const tooSmall = await failure(h.stripe.paymentIntents.create({ amount: 49, currency: "aud" }));
    expect(tooSmall.code).toBe("amount_too_small");
    const threeDecimals = await failure(h.stripe.paymentIntents.create({ amount: 1005, currency: "kwd" }));
    expect(threeDecimals.code).toBe("invalid_amount");
    const tooLarge = await failure(h.stripe.paymentIntents.create({ amount: 100_000_000, currency: "aud" }));
    expect(tooLarge.code).toBe("amount_too_large");
    expect((await h.stripe.paymentIntents.create({ amount: 50, currency: "jpy" })).amount).toBe(50);
  });
});

describe("nested parameters in errors", () => {
  const becsData = (account: Record<string, string>, billing?: Record<string, string>) =>
    ({
      type: "au_becs_debit",
      au_becs_debit: account,
      ...(billing ? { billing_details: billing } : {}),
    }) as unknown as Stripe.PaymentIntentCreateParams.PaymentMethodData;
  const person = { name: "Ana", email: "ana@example.com" };
  const acceptance = { type: "online" as const, online: { ip_address: "127.0.0.1", user_agent: "test" } };
  const debit = (data: Stripe.PaymentIntentCreateParams.PaymentMethodData, mandate: object = acceptance) =>
    h.stripe.paymentIntents.create({
      amount: 1000,
      currency: "aud",
      payment_method_types: ["au_becs_debit"],
      payment_method_data: data,
      mandate_data: { customer_acceptance: mandate } as Stripe.PaymentIntentCreateParams.MandateData,
      confirm: true,
    });
  const ok = { bsb_number: "000000", account_number: "000123456" };

  it("names a field two levels down as parent[child][field], as Stripe does", async () => {
    const cases: [string, () => Promise<unknown>][] = [
      ["payment_method_data[billing_details][name]", () => debit(becsData(ok))],
      [
        "payment_method_data[au_becs_debit][bsb_number]",
        () => debit(becsData({ ...ok, bsb_number: "12" }, person)),
      ],
      [
        "payment_method_data[au_becs_debit][account_number]",
        () => debit(becsData({ bsb_number: "000000" }, person)),
      ],
      [
        "mandate_data[customer_acceptance][type]",
        () => debit(becsData(ok, person), { ...acceptance, type: "later" }),
      ],
      [
        "payment_method_data[card][exp_month]",
        () =>
          h.stripe.setupIntents.create({
            payment_method_data: {
              type: "card",
              card: { token: "tok_visa", exp_month: "june" },
            } as unknown as Stripe.SetupIntentCreateParams.PaymentMethodData,
            confirm: true,
          }),
      ],
      [
        "au_becs_debit[bsb_number]",
        () =>
          h.stripe.paymentMethods.create({
            type: "au_becs_debit",
            au_becs_debit: { account_number: "000123456" } as Stripe.PaymentMethodCreateParams.AuBecsDebit,
            billing_details: person,
          }),
      ],
      [
        "default_price_data[recurring][interval]",
        () =>
          h.stripe.products.create({
            name: "Plan",
            default_price_data: {
              currency: "aud",
              unit_amount: 500,
              recurring: { interval: "fortnight" as "month" },
            },
          }),
      ],
      [
        "line_items[0][price_data][currency]",
        () =>
          h.stripe.checkout.sessions.create({
            mode: "payment",
            success_url: "https://example.com/ok",
            line_items: [
              {
                quantity: 1,
                price_data: { product_data: { name: "Seat" }, unit_amount: 500 },
              } as Stripe.Checkout.SessionCreateParams.LineItem,
            ],
          }),
      ],
    ];
    const params: string[] = [];
    for (const [, call] of cases) params.push((await failure(call())).param ?? "");
    expect(params).toEqual(cases.map(([expected]) => expected));
  });

  it("names a connected account's payout schedule fields in full", async () => {
    const account = await h.stripe.accounts.create({ type: "express", country: "AU" });
    const error = await failure(
      h.stripe.accounts.update(account.id, {
        settings: { payouts: { schedule: { interval: "hourly" as "daily" } } },
      }),
    );
    expect([error.statusCode, error.param]).toEqual([400, "settings[payouts][schedule][interval]"]);
  });
});

describe("idempotency keys", () => {
  it("replays the first response with Idempotent-Replayed and creates nothing twice", async () => {
    const headers = { "Idempotency-Key": "replay-1" };
    const first = await raw(h.emu, "POST", "/v1/customers", { body: "email=a%40example.com", headers });
    const second = await raw(h.emu, "POST", "/v1/customers", { body: "email=a%40example.com", headers });
    expect(first.status).toBe(200);
    expect(second.json).toEqual(first.json);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(second.headers.get("original-request")).toBe(first.headers.get("request-id"));
    expect((await h.stripe.customers.list()).data).toHaveLength(1);
  });

  it("compares parameters regardless of their order", async () => {
    const headers = { "Idempotency-Key": "order-1" };
    const a = await raw(h.emu, "POST", "/v1/customers", { body: "email=x%40y.z&name=X", headers });
    const b = await raw(h.emu, "POST", "/v1/customers", { body: "name=X&email=x%40y.z", headers });
    expect(b.json.id).toBe(a.json.id);
  });

  it("rejects the same key with other parameters as an idempotency error", async () => {
    await h.stripe.customers.create({ email: "one@example.com" }, { idempotencyKey: "mismatch-1" });
    const error = await failure(
      h.stripe.customers.create({ email: "two@example.com" }, { idempotencyKey: "mismatch-1" }),
    );
    expect(error).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(error.statusCode).toBe(400);
    expect(error.type).toBe("StripeIdempotencyError");
  });

  it("does not keep validation failures, so the caller can fix the request", async () => {
    const bad = await failure(
      h.stripe.paymentIntents.create({ amount: 10, currency: "aud" }, { idempotencyKey: "fix-1" }),
    );
    expect(bad.code).toBe("amount_too_small");
    const good = await h.stripe.paymentIntents.create(
      { amount: 1000, currency: "aud" },
      { idempotencyKey: "fix-1" },
    );
    expect(good.amount).toBe(1000);
  });

  it("does not keep unknown or missing parameters either: the same key then runs the fixed request", async () => {
    const unknown = await failure(
      h.stripe.customers.create({ email: "u@example.com", colour: "red" } as never, {
        idempotencyKey: "fix-2",
      }),
    );
    expect(unknown.code).toBe("parameter_unknown");
    const missing = await failure(
      h.stripe.refunds.create({ amount: 100 } as never, { idempotencyKey: "fix-2" }),
    );
    expect(missing.code).toBe("parameter_missing");
    const customer = await h.stripe.customers.create({ email: "u@example.com" }, { idempotencyKey: "fix-2" });
    expect(customer.lastResponse.headers["idempotent-replayed"]).toBeUndefined();
  });

  it("keeps a refusal made once the endpoint ran: after funding, the same key replays the 400", async () => {
    const account = await h.stripe.accounts.create({
      type: "express",
      country: "AU",
      capabilities: { transfers: { requested: true } },
    });
    await h.emu.control.completeAccountOnboarding(account.id);
    const params = { amount: 1000, currency: "aud", destination: account.id };
    const broke = await failure(h.stripe.transfers.create(params, { idempotencyKey: "zz-key-1" }));
    expect(broke.code).toBe("balance_insufficient");
    await h.stripe.paymentIntents.create({
      amount: 10_000,
      currency: "aud",
      payment_method: "pm_card_bypassPending",
      confirm: true,
    });
    const again = await failure(h.stripe.transfers.create(params, { idempotencyKey: "zz-key-1" }));
    expect(again.statusCode).toBe(400);
    expect(again.code).toBe("balance_insufficient");
    expect(again.headers?.["idempotent-replayed"]).toBe("true");
    expect(again.requestId).toBe(broke.requestId);
    expect((await h.stripe.transfers.list()).data).toHaveLength(0);
    const fresh = await h.stripe.transfers.create(params, { idempotencyKey: "zz-key-2" });
    expect(fresh.amount).toBe(1000);
  });

  it("keeps a refund refused by the charge's state, and a missing referenced object", async () => {
    const pi = await h.stripe.paymentIntents.create({
      amount: 1000,
      currency: "aud",
      payment_method: "pm_card_visa",
      confirm: true,
    });
    const params = { payment_intent: pi.id, amount: 2000 };
    const first = await failure(h.stripe.refunds.create(params, { idempotencyKey: "refund-1" }));
    const second = await failure(h.stripe.refunds.create(params, { idempotencyKey: "refund-1" }));
    expect(first.code).toBe("amount_too_large");
    expect(second.code).toBe("amount_too_large");
    expect(first.headers?.["idempotent-replayed"]).toBeUndefined();
    expect(second.headers?.["idempotent-replayed"]).toBe("true");

    const missing = { payment_intent: "pi_not_yet", amount: 100 };
    const nope = await failure(h.stripe.refunds.create(missing, { idempotencyKey: "refund-2" }));
    expect(nope.statusCode).toBe(404);
    const replayed = await failure(h.stripe.refunds.create(missing, { idempotencyKey: "refund-2" }));
    expect(replayed.headers?.["idempotent-replayed"]).toBe("true");
  });

  it("keeps card declines: a retry with the key replays the 402 without a second charge", async () => {
    const params = { amount: 2000, currency: "aud", payment_method: "pm_card_chargeDeclined", confirm: true };
    const first = await failure(h.stripe.paymentIntents.create(params, { idempotencyKey: "decline-1" }));
    const again = await failure(h.stripe.paymentIntents.create(params, { idempotencyKey: "decline-1" }));
    expect(first).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(again.headers?.["idempotent-replayed"]).toBe("true");
    expect(again.payment_intent?.id).toBe(first.payment_intent?.id);
    expect((await h.stripe.charges.list()).data).toHaveLength(1);
  });

  it("answers 409 to a second request while the first with the same key is still running", async () => {
    await h.emu.control.injectFault({ route: "POST /v1/customers", kind: "slow", delayMs: 800 });
    const headers = { "Idempotency-Key": "concurrent-1" };
    const [a, b] = await Promise.all([
      raw(h.emu, "POST", "/v1/customers", { body: "email=c%40d.e", headers }),
      new Promise((r) => setTimeout(r, 100)).then(() =>
        raw(h.emu, "POST", "/v1/customers", { body: "email=c%40d.e", headers }),
      ),
    ]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(409);
    expect((b.json.error as { code: string }).code).toBe("idempotency_key_in_use");
    const later = await raw(h.emu, "POST", "/v1/customers", { body: "email=c%40d.e", headers });
    expect(later.json.id).toBe(a.json.id);
  });

  it("forgets keys after the retention window on the emulator clock", async () => {
    await h.stripe.customers.create({ email: "old@example.com" }, { idempotencyKey: "retention-1" });
    await h.emu.control.advanceClock(DAY - 1);
    await failure(h.stripe.customers.create({ email: "new@example.com" }, { idempotencyKey: "retention-1" }));
    await h.emu.control.advanceClock(1);
    const fresh = await h.stripe.customers.create(
      { email: "new@example.com" },
      { idempotencyKey: "retention-1" },
    );
    expect(fresh.email).toBe("new@example.com");
  });
});

describe("lists, expand and metadata", () => {
  it("pages newest first with starting_after and ending_before", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await h.stripe.customers.create({ name: `c${i}` })).id);
    const newestFirst = [...ids].reverse();
    const page1 = await h.stripe.customers.list({ limit: 2 });
    expect(page1.object).toBe("list");
    expect(page1.url).toBe("/v1/customers");
    expect(page1.data.map((c) => c.id)).toEqual(newestFirst.slice(0, 2));
    expect(page1.has_more).toBe(true);
    const page2 = await h.stripe.customers.list({ limit: 2, starting_after: page1.data[1]!.id });
    expect(page2.data.map((c) => c.id)).toEqual(newestFirst.slice(2, 4));
    const back = await h.stripe.customers.list({ limit: 2, ending_before: page2.data[0]!.id });
    expect(back.data.map((c) => c.id)).toEqual(newestFirst.slice(0, 2));
    expect(back.has_more).toBe(false);
    const all = await h.stripe.customers.list({ limit: 2 }).autoPagingToArray({ limit: 100 });
    expect(all.map((c) => c.id)).toEqual(newestFirst);
    expect((await failure(h.stripe.customers.list({ limit: 101 }))).param).toBe("limit");
    const both = await failure(h.stripe.customers.list({ starting_after: ids[0]!, ending_before: ids[1]! }));
    expect(both.statusCode).toBe(400);
  });

  it("expands ids into objects along a path, in objects and in lists", async () => {
    const pi = await h.stripe.paymentIntents.create({
      amount: 1500,
      currency: "aud",
      payment_method: "pm_card_visa",
      confirm: true,
      expand: ["latest_charge.balance_transaction", "payment_method"],
    });
    const charge = pi.latest_charge as Stripe.Charge;
    expect(charge.object).toBe("charge");
    expect((charge.balance_transaction as Stripe.BalanceTransaction).object).toBe("balance_transaction");
    expect((pi.payment_method as Stripe.PaymentMethod).card?.last4).toBe("4242");
    const listed = await h.stripe.paymentIntents.list({ expand: ["data.latest_charge"] });
    expect((listed.data[0]!.latest_charge as Stripe.Charge).id).toBe(charge.id);
    const fetched = await h.stripe.charges.retrieve(charge.id, { expand: ["payment_intent"] });
    expect((fetched.payment_intent as Stripe.PaymentIntent).id).toBe(pi.id);
    const bad = await failure(h.stripe.charges.retrieve(charge.id, { expand: ["nope"] }));
    expect(bad.statusCode).toBe(400);
  });

  it("merges metadata, deletes a key with an empty value and clears it all with an empty string", async () => {
    const c = await h.stripe.customers.create({ metadata: { round_id: "r1", member: "m1" } });
    const updated = await h.stripe.customers.update(c.id, { metadata: { member: "", cycle: "2" } });
    expect(updated.metadata).toEqual({ round_id: "r1", cycle: "2" });
    const cleared = await h.stripe.customers.update(c.id, { metadata: "" });
    expect(cleared.metadata).toEqual({});
  });
});

describe("fault injection and the SDK's retries", () => {
  it("recovers from a 500 after the request ran, without creating anything twice", async () => {
    const stripe = h.emu.stripe({ maxNetworkRetries: 2 });
    await h.emu.control.injectFault({ route: "POST /v1/payment_intents", kind: "error", phase: "after" });
    const pi = await stripe.paymentIntents.create({ amount: 1000, currency: "aud", metadata: { n: "1" } });
    expect(pi.lastResponse.headers["idempotent-replayed"]).toBe("true");
    expect((await stripe.paymentIntents.list()).data.map((p) => p.id)).toEqual([pi.id]);
  });

  it("confirms once when the confirmation's response is lost and the SDK retries it", async () => {
    const stripe = h.emu.stripe({ maxNetworkRetries: 2 });
    const pi = await stripe.paymentIntents.create({ amount: 2500, currency: "aud" });
    await h.emu.control.injectFault({
      route: "POST /v1/payment_intents/*/confirm",
      kind: "error",
      phase: "after",
      count: 2,
    });
    const confirmed = await stripe.paymentIntents.confirm(pi.id, { payment_method: "pm_card_visa" });
    expect(confirmed.status).toBe("succeeded");
    expect((await stripe.charges.list({ payment_intent: pi.id })).data).toHaveLength(1);
    expect((await stripe.balance.retrieve()).pending[0]?.amount).toBe(2500 - 74);
  });

  it("recovers from 500s before the request ran", async () => {
    const stripe = h.emu.stripe({ maxNetworkRetries: 2 });
    await h.emu.control.injectFault({ route: "POST /v1/customers", kind: "error", count: 2 });
    const customer = await stripe.customers.create({ email: "r@example.com" });
    expect((await stripe.customers.list()).data.map((c) => c.id)).toEqual([customer.id]);
    expect(await h.emu.control.listFaults()).toEqual([]);
  });

  it("raises an API error when retries are off", async () => {
    await h.emu.control.injectFault({ route: "GET /v1/customers/*", kind: "error", status: 503 });
    const error = await failure(h.stripe.customers.retrieve("cus_x"));
    expect(error).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(error.statusCode).toBe(503);
  });

  it("refuses with a Stripe error code when the fault names one, and runs nothing", async () => {
    const stripe = h.emu.stripe({ maxNetworkRetries: 2 });
    const account = await stripe.accounts.create({ type: "express", country: "AU" });
    await h.emu.control.injectFault({
      route: "POST /v1/transfers",
      kind: "error",
      status: 400,
      code: "balance_insufficient",
    });
    const error = await failure(
      stripe.transfers.create({ amount: 100, currency: "aud", destination: account.id }),
    );
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect([error.statusCode, error.code]).toEqual([400, "balance_insufficient"]);
    expect((await stripe.transfers.list()).data).toEqual([]);
  });

  it("retries a 429 only when Stripe-Should-Retry says so", async () => {
    const stripe = h.emu.stripe({ maxNetworkRetries: 1 });
    await h.emu.control.injectFault({ route: "POST /v1/customers", kind: "rate_limit" });
    expect((await stripe.customers.create({})).object).toBe("customer");
    await h.emu.control.injectFault({ route: "POST /v1/customers", kind: "rate_limit", shouldRetry: false });
    const error = await failure(stripe.customers.create({}));
    expect(error).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    expect(error.statusCode).toBe(429);
  });

  it("recovers from a request that hangs past the client's timeout after it ran", async () => {
    const stripe = h.emu.stripe({ maxNetworkRetries: 1, timeout: 800 });
    await h.emu.control.injectFault({ route: "POST /v1/customers", kind: "hang", phase: "after" });
    const customer = await stripe.customers.create({ email: "slow@example.com" });
    expect(customer.lastResponse.headers["idempotent-replayed"]).toBe("true");
    expect((await stripe.customers.list()).data).toHaveLength(1);
  });

  it("surfaces a timeout as a connection error when retries are off", async () => {
    const stripe = h.emu.stripe({ maxNetworkRetries: 0, timeout: 200 });
    await h.emu.control.injectFault({ route: "GET /v1/balance", kind: "hang" });
    const error = await failure(stripe.balance.retrieve());
    expect(error).toBeInstanceOf(Stripe.errors.StripeConnectionError);
  });

  it("recovers from a dropped connection", async () => {
    const stripe = h.emu.stripe({ maxNetworkRetries: 1 });
    await h.emu.control.injectFault({ route: "POST /v1/customers", kind: "drop", phase: "after" });
    const customer = await stripe.customers.create({ email: "drop@example.com" });
    expect((await stripe.customers.list()).data.map((c) => c.id)).toEqual([customer.id]);
  });
});
