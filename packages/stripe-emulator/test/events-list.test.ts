// GET /v1/events as a catch-up after a restore reads it: `created[gte]` / `created[lt]`,
// every page through the SDK's auto-pagination, newest first, and a connected account's
// events only with its Stripe-Account header.
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DAY, failure, type Harness, harness } from "./support.js";

let h: Harness;
beforeAll(async () => {
  h = await harness({ fees: false });
});
afterAll(async () => h.emu.stop());

describe("listing events by creation time", () => {
  it("returns exactly the events in the range, newest first, across pages", async () => {
    await h.emu.control.reset();
    await h.stripe.customers.create({ email: "before@example.com" });
    await h.emu.control.advanceClock(DAY);
    const from = await h.emu.control.now();
    const inRange: string[] = [];
    for (let i = 0; i < 5; i++) {
      const customer = await h.stripe.customers.create({ email: `in${i}@example.com` });
      inRange.push(customer.id);
      await h.emu.control.advanceClock(60);
    }
    const until = await h.emu.control.now();
    await h.stripe.customers.create({ email: "after@example.com" });

    const listed: string[] = [];
    const created: number[] = [];
    for await (const event of h.stripe.events.list({ created: { gte: from, lt: until }, limit: 2 })) {
      listed.push((event.data.object as { id: string }).id);
      created.push(event.created);
    }
    expect(listed).toEqual([...inRange].reverse());
    expect(created.every((c) => c >= from && c < until)).toBe(true);
    expect([...created].sort((a, b) => b - a)).toEqual(created);

    const since = await h.stripe.events.list({ created: { gte: from }, limit: 100 });
    expect(since.data).toHaveLength(6);
    expect(since.has_more).toBe(false);
  });

  it("lists a connected account's events only with its Stripe-Account header", async () => {
    await h.emu.control.reset();
    const account = await h.stripe.accounts.create({
      type: "express",
      country: "AU",
      capabilities: { transfers: { requested: true } },
    });
    const from = await h.emu.control.now();
    await h.emu.control.completeAccountOnboarding(account.id);
    const own = await h.stripe.events.list({ created: { gte: from } }, { stripeAccount: account.id });
    expect(own.data.map((e) => e.type)).toContain("account.updated");
    const platform = await h.stripe.events.list({ created: { gte: from }, type: "account.updated" });
    expect(platform.data.map((e) => e.id)).not.toEqual(expect.arrayContaining(own.data.map((e) => e.id)));
  });

  it("pages each account's events both ways among the other account's", async () => {
    await h.emu.control.reset();
    const account = await h.stripe.accounts.create({
      type: "express",
      country: "AU",
      capabilities: { transfers: { requested: true } },
    });
    const made = new Map<string | undefined, string[]>([
      [undefined, []],
      [account.id, []],
    ]);
    for (let i = 0; i < 14; i++) {
      const on = i % 3 === 0 ? undefined : account.id;
      const customer = await h.stripe.customers.create(
        { name: `c${i}` },
        on === undefined ? {} : { stripeAccount: on },
      );
      made.get(on)!.push(customer.id);
    }
    for (const [on, ids] of made) {
      const options = on === undefined ? {} : { stripeAccount: on };
      const expected = [...ids].reverse();
      const forward: Stripe.Event[] = [];
      let page = await h.stripe.events.list({ type: "customer.created", limit: 3 }, options);
      forward.push(...page.data);
      while (page.has_more) {
        page = await h.stripe.events.list(
          { type: "customer.created", limit: 3, starting_after: forward.at(-1)!.id },
          options,
        );
        forward.push(...page.data);
      }
      expect(forward.map((e) => (e.data.object as Stripe.Customer).id)).toEqual(expected);
      const backward: Stripe.Event[] = [forward.at(-1)!];
      let more = true;
      while (more) {
        const back = await h.stripe.events.list(
          { type: "customer.created", limit: 3, ending_before: backward[0]!.id },
          options,
        );
        backward.unshift(...back.data);
        more = back.has_more;
      }
      expect(backward.map((e) => e.id)).toEqual(forward.map((e) => e.id));
    }
  });

  it("refuses a cursor that names no event of the account (404 resource_missing), as every other list does", async () => {
    await h.emu.control.reset();
    await h.stripe.customers.create({ email: "one@example.com" });
    const account = await h.stripe.accounts.create({ type: "express", country: "AU" });
    const [platformEvent] = (await h.stripe.events.list({ limit: 1 })).data;
    for (const params of [{ starting_after: "evt_unknown" }, { ending_before: "evt_unknown" }]) {
      const error = await failure(h.stripe.events.list(params));
      expect(error.statusCode).toBe(404);
      expect(error.code).toBe("resource_missing");
      expect(error.param).toBe(Object.keys(params)[0]);
    }
    // Another account's event is no cursor for this one.
    const foreign = await failure(
      h.stripe.events.list({ starting_after: platformEvent!.id }, { stripeAccount: account.id }),
    );
    expect(foreign.code).toBe("resource_missing");
  });
});
