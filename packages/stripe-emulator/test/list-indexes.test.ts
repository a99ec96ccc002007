// Lists filtered by a field (a customer's PaymentIntents, a transfer group's transfers, a
// customer's payment methods) walk an index of that field, not every object: through the SDK,
// with many objects of other customers, groups and accounts around, they answer exactly the
// matching objects newest first, page by page in both directions, also after the field was
// changed in place (an update, attach, detach). The emulator's tests also compare every
// indexed list with a walk of all objects (SUSU_EMULATOR_CHECK_INDEXES in vitest.config.ts).
import type Stripe from "stripe";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { failure, type Harness, harness } from "./support.js";

let h: Harness;
beforeAll(async () => {
  h = await harness({ fees: false });
});
afterAll(async () => h.emu.stop());
beforeEach(async () => h.emu.control.reset());

type Lister = (page: { limit: number; starting_after?: string; ending_before?: string }) => Promise<{
  data: Array<{ id: string }>;
  has_more: boolean;
}>;

/** Every id, newest first, through `starting_after` pages; then back through `ending_before`. */
async function pageBothWays(list: Lister, limit: number): Promise<{ forward: string[]; backward: string[] }> {
  const forward: string[] = [];
  let page = await list({ limit });
  forward.push(...page.data.map((x) => x.id));
  while (page.has_more) {
    page = await list({ limit, starting_after: forward.at(-1)! });
    forward.push(...page.data.map((x) => x.id));
  }
  const backward: string[] = [];
  let before = forward.at(-1);
  let more = before !== undefined;
  while (more && before !== undefined) {
    const back = await list({ limit, ending_before: before });
    backward.unshift(...back.data.map((x) => x.id));
    before = back.data[0]?.id;
    more = back.has_more;
  }
  if (forward.length > 0) backward.push(forward.at(-1)!);
  return { forward, backward };
}

describe("lists filtered through an index", () => {
  it("a customer's PaymentIntents: exactly its own, newest first, and one moved to it in its creation place", async () => {
    const customers = await Promise.all([0, 1, 2].map((i) => h.stripe.customers.create({ name: `c${i}` })));
    const created: Array<{ id: string; customer: string | null }> = [];
    for (let i = 0; i < 45; i++) {
      const customer = i % 4 === 3 ? null : customers[i % 3]!.id;
      const pi = await h.stripe.paymentIntents.create({
        amount: 1000 + i,
        currency: "aud",
        ...(customer !== null ? { customer } : {}),
      });
      created.push({ id: pi.id, customer });
    }
    const [a, b] = [customers[0]!.id, customers[1]!.id];
    // One of a's older PaymentIntents is given to b, and a customer-less one to a.
    const moved = created.find((c) => c.customer === a)!;
    await h.stripe.paymentIntents.update(moved.id, { customer: b });
    moved.customer = b;
    const adopted = created.find((c) => c.customer === null)!;
    await h.stripe.paymentIntents.update(adopted.id, { customer: a });
    adopted.customer = a;

    for (const customer of [a, b]) {
      const expected = created
        .filter((c) => c.customer === customer)
        .map((c) => c.id)
        .reverse();
      const { forward, backward } = await pageBothWays(
        (page) => h.stripe.paymentIntents.list({ customer, ...page }),
        4,
      );
      expect(forward).toEqual(expected);
      expect(backward).toEqual(expected);
      const all = await h.stripe.paymentIntents.list({ customer, limit: 100 });
      expect(all.data.map((pi) => pi.id)).toEqual(expected);
      expect(all.has_more).toBe(false);
    }
    expect(forwardIds(await h.stripe.paymentIntents.list({ limit: 100 }))).toEqual(
      created.map((c) => c.id).reverse(),
    );
    const nobody = await h.stripe.customers.create({});
    expect((await h.stripe.paymentIntents.list({ customer: nobody.id })).data).toEqual([]);
  });

  it("a transfer group's and a destination's transfers, and a connected account sees none of the platform's", async () => {
    await h.stripe.paymentIntents.create({
      amount: 1_000_000,
      currency: "aud",
      payment_method: "pm_card_bypassPending",
      confirm: true,
    });
    const accounts: Stripe.Account[] = [];
    for (let i = 0; i < 3; i++) {
      const account = await h.stripe.accounts.create({
        type: "express",
        country: "AU",
        capabilities: { transfers: { requested: true } },
      });
      await h.emu.control.completeAccountOnboarding(account.id);
      accounts.push(account);
    }
    const transfers: Array<{ id: string; group: string | null; destination: string }> = [];
    for (let i = 0; i < 40; i++) {
      const group = i % 5 === 4 ? null : `round_${i % 4}`;
      const destination = accounts[i % 3]!.id;
      const transfer = await h.stripe.transfers.create({
        amount: 100 + i,
        currency: "aud",
        destination,
        ...(group !== null ? { transfer_group: group } : {}),
      });
      transfers.push({ id: transfer.id, group, destination });
    }
    const newestFirst = [...transfers].reverse();
    for (const group of ["round_0", "round_3"]) {
      const expected = newestFirst.filter((t) => t.group === group).map((t) => t.id);
      const { forward, backward } = await pageBothWays(
        (page) => h.stripe.transfers.list({ transfer_group: group, ...page }),
        3,
      );
      expect(forward).toEqual(expected);
      expect(backward).toEqual(expected);
    }
    const destination = accounts[1]!.id;
    const both = await h.stripe.transfers.list({ destination, transfer_group: "round_1", limit: 100 });
    expect(both.data.map((t) => t.id)).toEqual(
      newestFirst.filter((t) => t.destination === destination && t.group === "round_1").map((t) => t.id),
    );
    const byDestination = await h.stripe.transfers.list({ destination, limit: 100 });
    expect(byDestination.data.map((t) => t.id)).toEqual(
      newestFirst.filter((t) => t.destination === destination).map((t) => t.id),
    );
    expect((await h.stripe.transfers.list({ transfer_group: "round_9" })).data).toEqual([]);
    const asAccount = await h.stripe.transfers.list(
      { transfer_group: "round_0", limit: 100 },
      { stripeAccount: accounts[0]!.id },
    );
    expect(asAccount.data).toEqual([]);
  });

  it("a customer's payment methods follow attach and detach, and a charge its new transfer group", async () => {
    const [ana, ben] = await Promise.all([
      h.stripe.customers.create({ name: "Ana" }),
      h.stripe.customers.create({ name: "Ben" }),
    ]);
    const cards: string[] = [];
    let spare = "";
    for (let i = 0; i < 12; i++) {
      const pm = await h.stripe.paymentMethods.create({ type: "card", card: { token: "tok_visa" } });
      cards.push(pm.id);
      await h.stripe.paymentMethods.attach(pm.id, { customer: i % 2 === 0 ? ana.id : ben.id });
      // A card made between the third and the fourth, attached to nobody yet.
      if (i === 2)
        spare = (await h.stripe.paymentMethods.create({ type: "card", card: { token: "tok_visa" } })).id;
    }
    const ids = async (customer: string) =>
      (await h.stripe.paymentMethods.list({ customer, limit: 100 })).data.map((pm) => pm.id);
    const ofAna = cards.filter((_, i) => i % 2 === 0);
    const ofBen = cards.filter((_, i) => i % 2 === 1);
    expect(await ids(ana.id)).toEqual([...ofAna].reverse());
    expect(await ids(ben.id)).toEqual([...ofBen].reverse());

    // Ana's second card leaves her (a detached card is never attached again); a card made
    // earlier goes to Ben, where it lists in its creation place.
    const card = ofAna[1]!;
    await h.stripe.paymentMethods.detach(card);
    expect(await ids(ana.id)).toEqual(ofAna.filter((id) => id !== card).reverse());
    expect(await ids(ben.id)).toEqual([...ofBen].reverse());
    await h.stripe.paymentMethods.attach(spare, { customer: ben.id });
    expect(await ids(ben.id)).toEqual([...ofBen.slice(0, 1), spare, ...ofBen.slice(1)].reverse());
    const customerList = await h.stripe.customers.listPaymentMethods(ben.id, { limit: 2 });
    expect(customerList.data.map((pm) => pm.id)).toEqual([cards[11], cards[9]]);
    expect(customerList.has_more).toBe(true);

    const charged: string[] = [];
    for (let i = 0; i < 6; i++) {
      const pi = await h.stripe.paymentIntents.create({
        amount: 2000 + i,
        currency: "aud",
        payment_method: "pm_card_visa",
        confirm: true,
        transfer_group: i < 3 ? "first" : "second",
      });
      charged.push(pi.latest_charge as string);
    }
    await h.stripe.charges.update(charged[0]!, { transfer_group: "second" });
    const group = async (name: string) =>
      (await h.stripe.charges.list({ transfer_group: name, limit: 100 })).data.map((c) => c.id);
    expect(await group("first")).toEqual([charged[2], charged[1]]);
    expect(await group("second")).toEqual([charged[5], charged[4], charged[3], charged[0]]);
  });

  it("a charge's dispute is found among many: refunding a charged-back card is refused, a won one refunds", async () => {
    const disputed: Array<{ pi: string; charge: string }> = [];
    for (let i = 0; i < 6; i++) {
      const pi = await h.stripe.paymentIntents.create({
        amount: 4000 + i,
        currency: "aud",
        payment_method: "pm_card_createDispute",
        payment_method_types: ["card"],
        confirm: true,
      });
      disputed.push({ pi: pi.id, charge: pi.latest_charge as string });
    }
    const byCharge = await h.stripe.disputes.list({ charge: disputed[2]!.charge });
    expect(byCharge.data.map((d) => d.charge)).toEqual([disputed[2]!.charge]);
    const open = await failure(h.stripe.refunds.create({ charge: disputed[2]!.charge }));
    expect(open.code).toBe("charge_disputed");
    await h.emu.control.resolveDispute(byCharge.data[0]!.id, "won");
    const refund = await h.stripe.refunds.create({ charge: disputed[2]!.charge, amount: 100 });
    expect(refund.status).toBe("succeeded");
    expect((await failure(h.stripe.refunds.create({ charge: disputed[4]!.charge }))).code).toBe(
      "charge_disputed",
    );
  });
});

function forwardIds(list: { data: Array<{ id: string }> }): string[] {
  return list.data.map((x) => x.id);
}
