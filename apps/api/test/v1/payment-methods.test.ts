// Saved payment methods on v1: set-up client secrets (the person only), the list (the
// person, platform operators), the default, and removal — refused while a running round
// relies on the method unless an active BECS replacement takes over. Stripe's side is the
// domain's fake gateway; its webhooks are delivered through the one fact router.
import { DAY_MS, type PaymentFact, useCases } from "@susu/domain";
import { describe, expect, it } from "vitest";
import { expectInvalid, expectProblem, groupsTestbed } from "./groups-support.js";

const bed = groupsTestbed();
const { send } = bed;
const ops = { roles: ["admin" as const] };

async function deliver(facts: readonly PaymentFact[]): Promise<void> {
  for (const fact of facts)
    (
      await useCases.applyPaymentFact(bed.deps, { reader: bed.gateway }, fact, "stripe:evt_test")
    )._unsafeUnwrap();
}

/** `who` saves a method through the API; their app confirms it at Stripe; returns its id. */
async function save(who: string, type: "card" | "au_becs_debit", attempt: string): Promise<string> {
  const setup = await send(who, "POST", "/v1/people/me/payment-methods/setup", { type, attempt });
  expect(setup.status, JSON.stringify(setup.body)).toBe(201);
  // Confirmed a second later: methods are listed oldest first.
  bed.clock.advance(1_000);
  const facts = bed.gateway.confirmSetup(setup.body.setupIntentId);
  await deliver(facts);
  const first = facts[0];
  if (first?.kind !== "payment_method_changed") throw new Error("nothing attached");
  return first.paymentMethodId;
}

/** A forming group of `admin` and `member`; `member`'s debit is a BECS account saved through the API. */
async function formingGroup(admin: string, member: string) {
  const groupId = await bed.group(admin, [member]);
  await bed.onboarded(admin);
  const becs = await save(member, "au_becs_debit", "1");
  bed.gateway.setAccount(`acct_${member}`, true);
  (
    await useCases.updatePersonPayment(bed.deps, member, { connectedAccountId: `acct_${member}` }, "stripe")
  )._unsafeUnwrap();
  (
    await useCases.updatePersonReadiness(bed.deps, member, { payoutsEnabled: true }, "stripe")
  )._unsafeUnwrap();
  return { groupId, becs };
}

/** A group of `admin` and `member` with a round in progress; `member`'s debit is a BECS account saved through the API. */
async function runningRound(admin: string, member: string) {
  const { groupId, becs } = await formingGroup(admin, member);
  (await useCases.activateGroup(bed.deps, groupId, admin))._unsafeUnwrap();
  bed.clock.advance(DAY_MS);
  (await useCases.startRound(bed.deps, groupId, { memberId: admin }))._unsafeUnwrap();
  return { groupId, becs };
}

const rows = async () => {
  const [methods, people, outbox] = await Promise.all([
    bed.db.prisma.savedPaymentMethod.count(),
    bed.db.prisma.person.findMany({ orderBy: { id: "asc" } }),
    bed.db.prisma.outboxEffect.count(),
  ]);
  return { methods, people, outbox };
};

describe("saving and listing", () => {
  it("a card and a BECS account are saved from set-ups the person's app confirms; listed with no full number", async () => {
    await bed.group("ivy");
    const card = await save("ivy", "card", "1");
    const becs = await save("ivy", "au_becs_debit", "1");
    const listed = await send("ivy", "GET", "/v1/people/me/payment-methods");
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual({
      object: "list",
      url: "/v1/people/me/payment-methods",
      has_more: false,
      data: [
        {
          object: "payment_method",
          id: card,
          type: "card",
          card: { brand: "visa", last4: "4242", expMonth: 12, expYear: 2030 },
          bankAccount: null,
          mandate: null,
          isDefault: false,
          usedForDebits: false,
          createdAt: expect.any(String),
        },
        {
          object: "payment_method",
          id: becs,
          type: "au_becs_debit",
          card: null,
          bankAccount: { bsbNumber: "000000", last4: "3456" },
          mandate: { id: expect.stringMatching(/^mandate_/), status: "active" },
          isDefault: false,
          // Ivy had no debit: her first BECS account is the one rounds use.
          usedForDebits: true,
          createdAt: expect.any(String),
        },
      ],
    });
    // Stripe's cursor pagination.
    const page = await send("ivy", "GET", "/v1/people/me/payment-methods?limit=1");
    expect(page.body).toMatchObject({ has_more: true, data: [{ id: card }] });
    const next = await send("ivy", "GET", `/v1/people/me/payment-methods?limit=1&starting_after=${card}`);
    expect(next.body).toMatchObject({ has_more: false, data: [{ id: becs }] });
    expectInvalid(await send("ivy", "GET", "/v1/people/me/payment-methods?limit=0"), ["limit"]);
    // Operators see it too; anyone else gets 404.
    expect(
      (await send("ops", "GET", "/v1/people/ivy/payment-methods", undefined, ops)).body.data,
    ).toHaveLength(2);
    expectProblem(await send("eve", "GET", "/v1/people/ivy/payment-methods"), 404, "person_not_found");
    expectProblem(await send(undefined, "GET", "/v1/people/ivy/payment-methods"), 401, "unauthenticated");
  });

  it("the set-up is the person's only, repeats for the same attempt, and refuses bad input naming the field", async () => {
    await bed.group("jon");
    const first = await send("jon", "POST", "/v1/people/jon/payment-methods/setup", {
      type: "card",
      attempt: "1",
    });
    const again = await send("jon", "POST", "/v1/people/me/payment-methods/setup", {
      type: "card",
      attempt: "1",
    });
    expect(again.body.setupIntentId).toBe(first.body.setupIntentId);
    const before = await rows();
    expectProblem(
      await send("ops", "POST", "/v1/people/jon/payment-methods/setup", { type: "card" }, ops),
      404,
      "person_not_found",
    );
    expectProblem(
      await send("kim", "POST", "/v1/people/jon/payment-methods/setup", { type: "card" }),
      404,
      "person_not_found",
    );
    expectInvalid(await send("jon", "POST", "/v1/people/me/payment-methods/setup", { type: "sepa_debit" }), [
      "type",
    ]);
    expectInvalid(await send("jon", "POST", "/v1/people/me/payment-methods/setup", {}), ["type"]);
    expectInvalid(
      await send("jon", "POST", "/v1/people/me/payment-methods/setup", {
        type: "card",
        number: "4242424242424242",
      }),
      [""],
    );
    expect(await rows()).toEqual(before);
  });
});

describe("a second set-up", () => {
  it("without an attempt is a new SetupIntent, and a second card saved later is saved beside the first", async () => {
    await bed.group("lea");
    const setups: string[] = [];
    for (const _ of [1, 2]) {
      const setup = await send("lea", "POST", "/v1/people/me/payment-methods/setup", { type: "card" });
      expect(setup.status, JSON.stringify(setup.body)).toBe(201);
      setups.push(setup.body.setupIntentId);
      bed.clock.advance(60_000);
      await deliver(bed.gateway.confirmSetup(setup.body.setupIntentId));
    }
    expect(new Set(setups).size).toBe(2);
    const listed = await send("lea", "GET", "/v1/people/me/payment-methods");
    expect(listed.body.data).toHaveLength(2);
  });

  it("with the same Idempotency-Key is the same SetupIntent, even when the first answer was lost", async () => {
    await bed.group("max");
    // The keys the set-ups are asked for with at the provider.
    const keys: string[] = [];
    const create = bed.gateway.createPaymentMethodSetup.bind(bed.gateway);
    bed.gateway.createPaymentMethodSetup = (input) => {
      keys.push(input.idempotencyKey);
      return create(input);
    };
    const headers = { "Idempotency-Key": "setup-card-max-1" };
    // Stripe creates the SetupIntent and the answer is lost: 503, not stored for replay.
    bed.gateway.injectFault("createPaymentMethodSetup", "lost_reply");
    const lost = await send(
      "max",
      "POST",
      "/v1/people/me/payment-methods/setup",
      { type: "card" },
      { headers },
    );
    expect(lost.status).toBe(503);
    const retried = await send(
      "max",
      "POST",
      "/v1/people/me/payment-methods/setup",
      { type: "card" },
      { headers },
    );
    expect(retried.status, JSON.stringify(retried.body)).toBe(201);
    const replayed = await send(
      "max",
      "POST",
      "/v1/people/me/payment-methods/setup",
      { type: "card" },
      { headers },
    );
    expect(replayed.body.setupIntentId).toBe(retried.body.setupIntentId);
    const other = await send(
      "max",
      "POST",
      "/v1/people/me/payment-methods/setup",
      { type: "card" },
      {
        headers: { "Idempotency-Key": "setup-card-max-2" },
      },
    );
    expect(other.body.setupIntentId).not.toBe(retried.body.setupIntentId);
    // The retry asked for the lost answer's SetupIntent again (the replay never reached the
    // provider); another request key is another set-up.
    Reflect.deleteProperty(bed.gateway, "createPaymentMethodSetup");
    expect(keys).toHaveLength(3);
    expect(keys[1]).toBe(keys[0]);
    expect(keys[2]).not.toBe(keys[0]);
    expect(keys[0]).toMatch(/^person:max:method_setup:card:/);
  });
});

describe("the default", () => {
  it("is the person's choice: stored at once, Stripe's customer default follows through the outbox", async () => {
    await bed.group("lea");
    const card = await save("lea", "card", "1");
    const becs = await save("lea", "au_becs_debit", "1");
    const made = await send("lea", "POST", `/v1/people/me/payment-methods/${card}/default`);
    expect(made.status).toBe(200);
    expect(made.body).toMatchObject({ id: card, isDefault: true });
    await send("lea", "POST", `/v1/people/me/payment-methods/${becs}/default`);
    const listed = (await send("lea", "GET", "/v1/people/me/payment-methods")).body.data as {
      id: string;
      isDefault: boolean;
    }[];
    expect(listed.filter((m) => m.isDefault).map((m) => m.id)).toEqual([becs]);
    const effects = await bed.db.prisma.outboxEffect.findMany({
      where: { kind: "set_default_payment_method", aggregateId: { in: [card, becs] } },
      orderBy: { sequence: "asc" },
    });
    // Keyed by the version the method has as the default: the BECS account was stored twice
    // before (attached, then its mandate from the set-up), so its key is v2.
    expect(effects.map((e) => e.id)).toEqual([
      `payment_method:${card}:default:v1`,
      `payment_method:${becs}:default:v2`,
    ]);
    // Someone else's method, or none, is not found; nobody else may choose.
    expectProblem(
      await send("lea", "POST", "/v1/people/me/payment-methods/pm_nope/default"),
      404,
      "payment_method_not_found",
    );
    expectProblem(
      await send("ops", "POST", `/v1/people/lea/payment-methods/${card}/default`, undefined, ops),
      404,
      "person_not_found",
    );
  });
});

describe("the default and a dead debit", () => {
  it("a working BECS account made the default while the debit is dead becomes the one rounds debit", async () => {
    const { becs } = await formingGroup("vic", "wen");
    const second = await save("wen", "au_becs_debit", "2");
    // Wen's debit stops working (left inactive) while the second account works.
    (
      await useCases.updatePersonReadiness(bed.deps, "wen", { mandateActive: false }, "stripe")
    )._unsafeUnwrap();
    const made = await send("wen", "POST", `/v1/people/me/payment-methods/${second}/default`);
    expect(made.status, JSON.stringify(made.body)).toBe(200);
    expect(made.body).toMatchObject({ id: second, isDefault: true, usedForDebits: true });
    const wen = await bed.db.prisma.person.findUniqueOrThrow({ where: { id: "wen" } });
    expect(wen).toMatchObject({ becsPaymentMethodId: second, mandateActive: true });
    expect((await send("wen", "GET", "/v1/people/me")).body).toMatchObject({
      readiness: { mandateActive: true },
    });
    // The old account is still saved, no longer debited.
    const listed = (await send("wen", "GET", "/v1/people/me/payment-methods")).body.data as {
      id: string;
      usedForDebits: boolean;
    }[];
    expect(listed.map((m) => [m.id, m.usedForDebits])).toEqual([
      [becs, false],
      [second, true],
    ]);
  });
});

describe("removing", () => {
  it("the debit a running round relies on: 409 naming the group, then replaced by an active BECS account and removed", async () => {
    const { groupId, becs } = await runningRound("max", "nia");
    const card = await save("nia", "card", "1");
    const before = await rows();
    const refused = await send("nia", "DELETE", `/v1/people/me/payment-methods/${becs}`);
    expectProblem(refused, 409, "payment_method_in_use");
    expect(refused.body.groupId).toBe(groupId);
    expectProblem(
      await send("nia", "DELETE", `/v1/people/me/payment-methods/${becs}?replacementId=${card}`),
      409,
      "replacement_not_usable",
    );
    expect(await rows()).toEqual(before);

    const second = await save("nia", "au_becs_debit", "2");
    const removed = await send(
      "nia",
      "DELETE",
      `/v1/people/me/payment-methods/${becs}?replacementId=${second}`,
    );
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    expect(removed.body).toMatchObject({ object: "payment_method_removal", debitPaymentMethodId: second });
    const nia = await bed.db.prisma.person.findUniqueOrThrow({ where: { id: "nia" } });
    expect(nia).toMatchObject({ becsPaymentMethodId: second, mandateActive: true });
    const listed = (await send("nia", "GET", "/v1/people/me/payment-methods")).body.data as {
      id: string;
      usedForDebits: boolean;
    }[];
    expect(listed.map((m) => [m.id, m.usedForDebits])).toEqual([
      [card, false],
      [second, true],
    ]);
    const detach = await bed.db.prisma.outboxEffect.findUniqueOrThrow({
      where: { id: `payment_method:${becs}:detach` },
    });
    expect(detach).toMatchObject({ kind: "detach_payment_method", status: "pending" });
    // Gone: removing it again is not found.
    expectProblem(
      await send("nia", "DELETE", `/v1/people/me/payment-methods/${becs}`),
      404,
      "payment_method_not_found",
    );
  });

  it("the debit no round relies on, with another working BECS account saved: rounds debit that one, the member stays ready and the group can start", async () => {
    const { groupId, becs } = await formingGroup("sol", "tia");
    const second = await save("tia", "au_becs_debit", "2");
    const removed = await send("tia", "DELETE", `/v1/people/me/payment-methods/${becs}`);
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    expect(removed.body).toMatchObject({ paymentMethod: { id: becs }, debitPaymentMethodId: second });
    const tia = await bed.db.prisma.person.findUniqueOrThrow({ where: { id: "tia" } });
    expect(tia).toMatchObject({ becsPaymentMethodId: second, mandateActive: true });
    expect((await send("tia", "GET", "/v1/people/me")).body).toMatchObject({
      readiness: { mandateActive: true },
    });
    // Tia is told which account rounds debit now (she did not name it); the old one is detached.
    const effects = await bed.db.prisma.outboxEffect.findMany({
      where: { aggregateId: becs },
      orderBy: { sequence: "asc" },
    });
    expect(effects.map((e) => [e.id, e.kind])).toEqual([
      [`payment_method:${becs}:detach`, "detach_payment_method"],
      [`payment_method:${becs}:detached:notify`, "notify"],
    ]);
    const activated = await send("sol", "POST", `/v1/groups/${groupId}/activate`);
    expect(activated.status, JSON.stringify(activated.body)).toBe(200);
  });

  it("a card no round relies on is removed at once; only the person may remove", async () => {
    await bed.group("oli");
    const card = await save("oli", "card", "1");
    expectProblem(
      await send("ops", "DELETE", `/v1/people/oli/payment-methods/${card}`, undefined, ops),
      404,
      "person_not_found",
    );
    expectProblem(
      await send("pat", "DELETE", `/v1/people/oli/payment-methods/${card}`),
      404,
      "person_not_found",
    );
    expectInvalid(await send("oli", "DELETE", `/v1/people/me/payment-methods/${card}?replacementId=a.b`), [
      "replacementId",
    ]);
    const removed = await send("oli", "DELETE", `/v1/people/me/payment-methods/${card}`);
    expect(removed.status).toBe(200);
    expect(removed.body).toMatchObject({
      paymentMethod: { id: card, isDefault: false },
      debitPaymentMethodId: null,
    });
    expect((await send("oli", "GET", "/v1/people/me/payment-methods")).body.data).toEqual([]);
  });

  it("the card a current membership is charged on, with no other card: 409 payment_method_bills_membership, nothing changed", async () => {
    await bed.group("uma");
    const card = await save("uma", "card", "1");
    const plan = (
      await useCases.createPlan(
        bed.deps,
        {
          name: "Plan uma",
          entitlements: { createGroups: true, maxOpenGroups: null, sellBookings: true },
          prices: [{ currency: "AUD", interval: "month", amountMinor: 15_00 }],
        },
        { operator: "ops_o" },
      )
    )._unsafeUnwrap();
    (
      await useCases.applyPlanInput(
        bed.deps,
        plan.id,
        { type: "price_created", key: "aud_month", revision: 1, stripePriceId: "price_uma" },
        "stripe",
      )
    )._unsafeUnwrap();
    const membership = (
      await useCases.subscribe(bed.deps, {
        personId: "uma",
        planId: plan.id,
        currency: "AUD",
        interval: "month",
        start: { kind: "saved_method", paymentMethodId: card },
      })
    )._unsafeUnwrap();
    (
      await useCases.applySubscriptionInput(
        bed.deps,
        membership.id,
        {
          type: "subscription_changed",
          snapshot: { stripeSubscriptionId: "sub_uma", status: "active", cancelAtPeriodEnd: false },
        },
        "stripe",
      )
    )._unsafeUnwrap();
    const before = await rows();
    expectProblem(
      await send("uma", "DELETE", `/v1/people/me/payment-methods/${card}`),
      409,
      "payment_method_bills_membership",
    );
    expect(await rows()).toEqual(before);
    // With another card saved, the membership moves to it and the card goes.
    const other = await save("uma", "card", "2");
    const removed = await send("uma", "DELETE", `/v1/people/me/payment-methods/${card}`);
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    const moved = await bed.db.prisma.outboxEffect.findUniqueOrThrow({
      where: { id: `${membership.id}:payment-method:1` },
    });
    expect(moved).toMatchObject({ kind: "set_subscription_payment_method" });
    expect((moved.payload as { paymentMethodId?: string }).paymentMethodId).toBe(other);
  });

  it("a debit detached behind susu's back during a round: readiness drops, notices and a ticket are queued once", async () => {
    const { groupId, becs } = await runningRound("quin", "rae");
    const fact = bed.gateway.detachBehindTheScenes(becs);
    await deliver([fact, fact]);
    const me = await send("rae", "GET", "/v1/people/me");
    expect(me.body).toMatchObject({
      readiness: { mandateActive: false },
      due: expect.arrayContaining(["mandate_inactive"]),
    });
    const effects = await bed.db.prisma.outboxEffect.findMany({
      where: { aggregateId: becs },
      orderBy: { sequence: "asc" },
    });
    expect(effects.map((e) => e.id)).toEqual([
      `payment_method:${becs}:detached:notify`,
      `payment_method:${becs}:detached:group:${groupId}:notify`,
      `payment_method:${becs}:detached:group:${groupId}:ticket`,
    ]);
  });
});
