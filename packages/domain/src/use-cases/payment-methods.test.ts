import { type Result, ResultAsync } from "neverthrow";
import { describe, expect, it } from "vitest";
import type { PaymentFact } from "../facts/payment-fact.js";
import { paymentMethodIds } from "../payment-method/payment-method-ids.js";
import { personReadiness } from "../person/person.js";
import { DAY_MS } from "../shared/time.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import type { UseCaseDeps } from "./deps.js";
import * as useCases from "./index.js";

// Saved payment methods: set-up, list, default, removal with the running-round rule, and
// the provider's news (attached, detached behind susu's back, card updated, mandate revoked).

async function deliver(sim: InMemorySusu, facts: readonly PaymentFact[]): Promise<void> {
  (await sim.deliver(facts))._unsafeUnwrap();
  await sim.runUntilQuiet();
}

/** Ben saves a method through a set-up his app confirms; returns the new method's id. */
async function save(
  sim: InMemorySusu,
  personId: string,
  type: "card" | "au_becs_debit",
  attempt: string,
): Promise<string> {
  const setup = (
    await useCases.startPaymentMethodSetup(sim.deps, sim.gateway, personId, type, attempt)
  )._unsafeUnwrap();
  const facts = sim.gateway.confirmSetup(setup.setupIntentId);
  await deliver(sim, facts);
  const first = facts[0];
  if (first?.kind !== "payment_method_changed") throw new Error("no method attached");
  return first.paymentMethodId;
}

/** Ana (onboarded the quick way) and Ben, whose BECS account is saved through a set-up, in a group. */
async function group(options: { readonly round: boolean }) {
  const sim = new InMemorySusu();
  const created = (
    await useCases.createGroup(sim.deps, {
      name: "Methods",
      currency: "AUD",
      contributionMinor: 100_00,
      cadence: "weekly",
      startsAt: sim.clock.now() + DAY_MS,
      payoutOrderMethod: "join_order",
      creator: { id: "ana", displayName: "Ana" },
    })
  )._unsafeUnwrap();
  (await useCases.joinGroup(sim.deps, created.id, { id: "ben", displayName: "Ben" }))._unsafeUnwrap();
  (await sim.onboardPerson("ana"))._unsafeUnwrap();
  const benBecs = await save(sim, "ben", "au_becs_debit", "1");
  sim.gateway.setAccount("acct_ben", true);
  (
    await useCases.updatePersonPayment(sim.deps, "ben", { connectedAccountId: "acct_ben" }, "test")
  )._unsafeUnwrap();
  (await useCases.updatePersonReadiness(sim.deps, "ben", { payoutsEnabled: true }, "test"))._unsafeUnwrap();
  if (options.round) {
    (await useCases.activateGroup(sim.deps, created.id, "ana"))._unsafeUnwrap();
    sim.clock.advance(DAY_MS);
    (await useCases.startRound(sim.deps, created.id, "scheduler"))._unsafeUnwrap();
    await sim.runUntilQuiet();
    // The round's debits were submitted: each member heard how much, for which group, and by when.
    expect(
      sim.notifier.sent.map((n) => [n.template, n.personIds, n.data.groupName, n.data.amountMinor]),
    ).toEqual([
      ["debit_initiated", ["ana"], "Methods", 100_00],
      ["debit_initiated", ["ben"], "Methods", 100_00],
    ]);
    sim.notifier.sent.length = 0;
  }
  return { sim, groupId: created.id, benBecs };
}

const person = async (sim: InMemorySusu, id: string) => (await sim.store.getPerson(id))._unsafeUnwrap();
const methods = async (sim: InMemorySusu, id: string) =>
  (await useCases.listPaymentMethods(sim.deps, id))._unsafeUnwrap();

describe("saving payment methods", () => {
  it("a confirmed BECS set-up is saved with its mandate and, with no debit yet, becomes the debit rounds use", async () => {
    const { sim, benBecs } = await group({ round: false });
    const [view] = await methods(sim, "ben");
    expect(view?.usedForDebits).toBe(true);
    expect(view?.method).toMatchObject({
      id: benBecs,
      personId: "ben",
      type: "au_becs_debit",
      bankAccount: { bsbNumber: "000000", last4: "3456" },
      mandate: { mandateId: sim.gateway.mandateOf(benBecs), status: "active" },
      isDefault: false,
    });
    expect((await person(sim, "ben"))?.debit).toEqual({
      paymentMethodId: benBecs,
      mandateId: sim.gateway.mandateOf(benBecs),
      mandateActive: true,
    });
  });

  it("a card and a second BECS account are saved; the debit rounds use stays the active one", async () => {
    const { sim, benBecs } = await group({ round: false });
    const card = await save(sim, "ben", "card", "2");
    const second = await save(sim, "ben", "au_becs_debit", "3");
    const list = await methods(sim, "ben");
    expect(list.map((v) => [v.method.id, v.method.type, v.usedForDebits])).toEqual([
      [benBecs, "au_becs_debit", true],
      [card, "card", false],
      [second, "au_becs_debit", false],
    ]);
    expect(list[1]?.method.card).toEqual({ brand: "visa", last4: "4242", expMonth: 12, expYear: 2030 });
    expect((await person(sim, "ben"))?.debit?.paymentMethodId).toBe(benBecs);
  });

  it("the same set-up request twice is the same SetupIntent; a new attempt key is a new one", async () => {
    const { sim } = await group({ round: false });
    const a = await useCases.startPaymentMethodSetup(sim.deps, sim.gateway, "ben", "card", "k");
    const b = await useCases.startPaymentMethodSetup(sim.deps, sim.gateway, "ben", "card", "k");
    const c = await useCases.startPaymentMethodSetup(sim.deps, sim.gateway, "ben", "card", "k2");
    expect(a._unsafeUnwrap()).toEqual(b._unsafeUnwrap());
    expect(c._unsafeUnwrap().setupIntentId).not.toBe(a._unsafeUnwrap().setupIntentId);
    expect(
      (
        await useCases.startPaymentMethodSetup(sim.deps, sim.gateway, "nobody", "card", "k")
      )._unsafeUnwrapErr().code,
    ).toBe("person_not_found");
  });
});

describe("the default method", () => {
  it("is stored at once and made the customer's default at the provider through the outbox, keyed by version", async () => {
    const { sim, benBecs } = await group({ round: false });
    const card = await save(sim, "ben", "card", "2");
    const customerId = (await person(sim, "ben"))?.customerId ?? "";
    const first = (await useCases.setDefaultPaymentMethod(sim.deps, "ben", card, "ben"))._unsafeUnwrap();
    expect(first.isDefault).toBe(true);
    await sim.runUntilQuiet();
    expect(sim.gateway.defaultMethods.get(customerId)).toBe(card);
    (await useCases.setDefaultPaymentMethod(sim.deps, "ben", benBecs, "ben"))._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(sim.gateway.defaultMethods.get(customerId)).toBe(benBecs);
    // Back to the card: a new key (its version moved on), so the provider really changes it back.
    (await useCases.setDefaultPaymentMethod(sim.deps, "ben", card, "ben"))._unsafeUnwrap();
    await sim.runUntilQuiet();
    expect(sim.gateway.defaultMethods.get(customerId)).toBe(card);
    const list = await methods(sim, "ben");
    expect(list.filter((v) => v.method.isDefault).map((v) => v.method.id)).toEqual([card]);
    // Already the default: nothing new.
    const again = (await useCases.setDefaultPaymentMethod(sim.deps, "ben", card, "ben"))._unsafeUnwrap();
    expect(again.version).toBe(list.find((v) => v.method.id === card)?.method.version);
  });

  it("a working BECS account made the default while the debit is dead becomes the debit; a live debit stays", async () => {
    const { sim, groupId, benBecs } = await group({ round: false });
    const second = await save(sim, "ben", "au_becs_debit", "2");
    const card = await save(sim, "ben", "card", "3");
    // While the debit works, choosing another default moves nothing.
    (await useCases.setDefaultPaymentMethod(sim.deps, "ben", second, "ben"))._unsafeUnwrap();
    expect((await person(sim, "ben"))?.debit).toMatchObject({
      paymentMethodId: benBecs,
      mandateActive: true,
    });
    // Ben's debit is left dead with his second account working (as removing it without a
    // replacement left it before the debit moved on removal).
    (await useCases.updatePersonReadiness(sim.deps, "ben", { mandateActive: false }, "test"))._unsafeUnwrap();
    expect((await useCases.activateGroup(sim.deps, groupId, "ana"))._unsafeUnwrapErr().code).toBe(
      "members_not_ready",
    );
    // A card as the default cannot be debited by rounds: the debit stays dead.
    (await useCases.setDefaultPaymentMethod(sim.deps, "ben", card, "ben"))._unsafeUnwrap();
    expect((await person(sim, "ben"))?.debit).toMatchObject({
      paymentMethodId: benBecs,
      mandateActive: false,
    });
    // The working account as the default: rounds debit it, and the group can start.
    (await useCases.setDefaultPaymentMethod(sim.deps, "ben", second, "ben"))._unsafeUnwrap();
    const ben = await person(sim, "ben");
    expect(ben?.debit).toEqual({
      paymentMethodId: second,
      mandateId: sim.gateway.mandateOf(second),
      mandateActive: true,
    });
    expect(ben && personReadiness(ben).mandateActive).toBe(true);
    expect(
      (await methods(sim, "ben")).map((v) => [v.method.id, v.method.isDefault, v.usedForDebits]),
    ).toEqual([
      [benBecs, false, false],
      [second, true, true],
      [card, false, false],
    ]);
    (await useCases.activateGroup(sim.deps, groupId, "ana"))._unsafeUnwrap();
  });

  it("the working account already the default while the debit is dead: choosing it again makes it the debit", async () => {
    const { sim } = await group({ round: false });
    const second = await save(sim, "ben", "au_becs_debit", "2");
    (await useCases.setDefaultPaymentMethod(sim.deps, "ben", second, "ben"))._unsafeUnwrap();
    await sim.runUntilQuiet();
    (await useCases.updatePersonReadiness(sim.deps, "ben", { mandateActive: false }, "test"))._unsafeUnwrap();
    const effects = sim.store.outbox().length;
    const again = (await useCases.setDefaultPaymentMethod(sim.deps, "ben", second, "ben"))._unsafeUnwrap();
    expect(again.isDefault).toBe(true);
    expect((await person(sim, "ben"))?.debit).toMatchObject({ paymentMethodId: second, mandateActive: true });
    // Stripe's default is already this account: no new call to make it so.
    expect(sim.store.outbox().length).toBe(effects);
  });

  it("refuses a method that is not the person's", async () => {
    const { sim, benBecs } = await group({ round: false });
    expect(
      (await useCases.setDefaultPaymentMethod(sim.deps, "ana", benBecs, "ana"))._unsafeUnwrapErr().code,
    ).toBe("payment_method_not_found");
    expect(
      (await useCases.setDefaultPaymentMethod(sim.deps, "ben", "pm_none", "ben"))._unsafeUnwrapErr().code,
    ).toBe("payment_method_not_found");
  });
});

describe("removing a method", () => {
  it("a card is removed at once and detached at the provider with the effect id as key", async () => {
    const { sim } = await group({ round: true });
    const card = await save(sim, "ben", "card", "2");
    (await useCases.setDefaultPaymentMethod(sim.deps, "ben", card, "ben"))._unsafeUnwrap();
    const removed = (
      await useCases.removePaymentMethod(sim.deps, "ben", card, undefined, "ben")
    )._unsafeUnwrap();
    expect(removed.method.removal).toEqual({ at: sim.clock.now(), by: "person" });
    expect(removed.method.isDefault).toBe(false);
    await sim.runUntilQuiet();
    expect(sim.gateway.paymentMethods.get(card)?.customerId).toBeUndefined();
    expect((await methods(sim, "ben")).map((v) => v.method.id)).not.toContain(card);
    // The provider's detached event afterwards changes nothing, nobody is told.
    await deliver(sim, [{ kind: "payment_method_changed", paymentMethodId: card }]);
    expect(sim.notifier.sent).toEqual([]);
    expect(
      (await useCases.removePaymentMethod(sim.deps, "ben", card, undefined, "ben"))._unsafeUnwrapErr().code,
    ).toBe("payment_method_not_found");
  });

  it("the debit a running round relies on is refused without a replacement, naming the group; changes nothing", async () => {
    const { sim, groupId, benBecs } = await group({ round: true });
    const before = await person(sim, "ben");
    const refused = (
      await useCases.removePaymentMethod(sim.deps, "ben", benBecs, undefined, "ben")
    )._unsafeUnwrapErr();
    expect(refused).toMatchObject({ code: "payment_method_in_use", groupId });
    expect(await person(sim, "ben")).toEqual(before);
    expect((await methods(sim, "ben"))[0]?.method.removal).toBeUndefined();
    // A card cannot replace a BECS debit; nor can a method of someone else's.
    const card = await save(sim, "ben", "card", "2");
    for (const replacement of [card, "pm_ana", benBecs])
      expect(
        (await useCases.removePaymentMethod(sim.deps, "ben", benBecs, replacement, "ben"))._unsafeUnwrapErr()
          .code,
      ).toBe("replacement_not_usable");
  });

  it("with an active BECS replacement, rounds debit the replacement in the same write and the old one is detached", async () => {
    const { sim, benBecs } = await group({ round: true });
    const second = await save(sim, "ben", "au_becs_debit", "3");
    const removed = (
      await useCases.removePaymentMethod(sim.deps, "ben", benBecs, second, "ben")
    )._unsafeUnwrap();
    expect(removed.debitPaymentMethodId).toBe(second);
    expect((await person(sim, "ben"))?.debit).toEqual({
      paymentMethodId: second,
      mandateId: sim.gateway.mandateOf(second),
      mandateActive: true,
    });
    await sim.runUntilQuiet();
    expect(sim.gateway.paymentMethods.get(benBecs)?.customerId).toBeUndefined();
    expect((await methods(sim, "ben")).map((v) => [v.method.id, v.usedForDebits])).toEqual([[second, true]]);
  });

  it("the debit no round relies on can go; with no other working account the person is then not ready to be debited", async () => {
    const { sim, benBecs } = await group({ round: false });
    (await useCases.removePaymentMethod(sim.deps, "ben", benBecs, undefined, "ben"))._unsafeUnwrap();
    const ben = await person(sim, "ben");
    expect(ben && personReadiness(ben).mandateActive).toBe(false);
  });

  it("the debit no round relies on, removed while another BECS account works: rounds debit that one, ben is told, the group can start", async () => {
    const { sim, groupId, benBecs } = await group({ round: false });
    const second = await save(sim, "ben", "au_becs_debit", "2");
    expect((await person(sim, "ben"))?.debit?.paymentMethodId).toBe(benBecs);
    const removed = (
      await useCases.removePaymentMethod(sim.deps, "ben", benBecs, undefined, "ben")
    )._unsafeUnwrap();
    expect(removed.debitPaymentMethodId).toBe(second);
    const ben = await person(sim, "ben");
    expect(ben?.debit).toEqual({
      paymentMethodId: second,
      mandateId: sim.gateway.mandateOf(second),
      mandateActive: true,
    });
    expect(ben && personReadiness(ben).mandateActive).toBe(true);
    await sim.runUntilQuiet();
    // As when the provider detaches it: ben hears which account rounds debit now (he did not pick it), once.
    expect(
      sim.notifier.sent.map((n) => [
        n.id,
        n.template,
        n.personIds,
        n.data.movedToPaymentMethodId,
        n.data.removedBy,
      ]),
    ).toEqual([
      [paymentMethodIds.detachedNotice(benBecs), "payment_method_detached", ["ben"], second, "person"],
    ]);
    expect(sim.desk.tickets).toEqual([]);
    expect((await methods(sim, "ben")).map((v) => [v.method.id, v.usedForDebits])).toEqual([[second, true]]);
    // The provider's detached event afterwards changes nothing and tells nobody again.
    await deliver(sim, [{ kind: "payment_method_changed", paymentMethodId: benBecs }]);
    expect(sim.notifier.sent.length).toBe(1);
    const activated = await useCases.activateGroup(sim.deps, groupId, "ana");
    expect(activated.isOk() ? "ok" : activated.error.code).toBe("ok");
  });
});

/** `deps` whose `pick` read runs `between` once, after reading and before answering. */
function raceAfterRead<K extends "people" | "groups">(
  sim: InMemorySusu,
  port: K,
  read: K extends "people" ? "getPeople" : "listGroupsOfPerson",
  between: () => Promise<void>,
): UseCaseDeps {
  let raced = false;
  const target = sim.deps[port] as unknown as Record<
    string,
    (...args: unknown[]) => ResultAsync<unknown, never>
  >;
  const racing = new Proxy(target, {
    get(t, prop, receiver) {
      const v = Reflect.get(t, prop, receiver);
      if (prop !== read || typeof v !== "function") return typeof v === "function" ? v.bind(t) : v;
      return (...args: unknown[]) =>
        new ResultAsync(
          (async () => {
            const answer = await v.apply(t, args);
            if (!raced) {
              raced = true;
              await between();
            }
            return answer;
          })(),
        );
    },
  });
  return { ...sim.deps, [port]: racing };
}

describe("removing the debit while a round opens (the two exclusive)", () => {
  async function dueGroup() {
    const { sim, groupId, benBecs } = await group({ round: false });
    (await useCases.activateGroup(sim.deps, groupId, "ana"))._unsafeUnwrap();
    sim.clock.advance(DAY_MS);
    return { sim, groupId, benBecs };
  }

  it("removed between the round's readiness read and its commit: the round does not open (version_conflict), and then waits for Ben (members_not_ready)", async () => {
    const { sim, groupId, benBecs } = await dueGroup();
    let removal: Result<unknown, { code: string }> | undefined;
    const racing = raceAfterRead(sim, "people", "getPeople", async () => {
      removal = await useCases.removePaymentMethod(sim.deps, "ben", benBecs, undefined, "ben");
    });
    const opened = await useCases.startRound(racing, groupId, "scheduler");
    await sim.runUntilQuiet();
    expect(removal?.isOk()).toBe(true);
    expect(opened.isErr() ? opened.error.code : "opened").toBe("version_conflict");
    expect((await sim.store.getGroup(groupId))._unsafeUnwrap()?.currentRoundId).toBeUndefined();
    expect(sim.gateway.debits.size).toBe(0);
    const again = await useCases.startRound(sim.deps, groupId, "scheduler");
    expect(again.isErr() ? again.error.code : "opened").toBe("members_not_ready");
  });

  it("a round opened between the removal's read of Ben's groups and its commit: the removal is refused (payment_method_in_use), the round debits the method it relies on", async () => {
    const { sim, groupId, benBecs } = await dueGroup();
    let opened: Result<unknown, { code: string }> | undefined;
    const racing = raceAfterRead(sim, "groups", "listGroupsOfPerson", async () => {
      opened = await useCases.startRound(sim.deps, groupId, "scheduler");
    });
    const removal = await useCases.removePaymentMethod(racing, "ben", benBecs, undefined, "ben");
    await sim.runUntilQuiet();
    expect(opened?.isOk()).toBe(true);
    expect(removal.isErr() ? removal.error : "removed").toMatchObject({
      code: "payment_method_in_use",
      groupId,
    });
    expect((await person(sim, "ben"))?.debit).toMatchObject({
      paymentMethodId: benBecs,
      mandateActive: true,
    });
    expect((await methods(sim, "ben")).map((v) => [v.method.id, v.method.removal])).toEqual([
      [benBecs, undefined],
    ]);
  });
});

describe("the provider's news of methods", () => {
  it("a debit detached behind susu's back during a round: readiness drops, ben and the admins told, a ticket, once", async () => {
    const { sim, groupId, benBecs } = await group({ round: true });
    const fact = sim.gateway.detachBehindTheScenes(benBecs);
    await deliver(sim, [fact, fact]);
    const ben = await person(sim, "ben");
    expect(ben && personReadiness(ben).mandateActive).toBe(false);
    expect(sim.notifier.sent.map((n) => [n.template, n.personIds])).toEqual([
      ["payment_method_detached", ["ben"]],
      ["member_payment_method_detached", ["ana"]],
    ]);
    expect(sim.desk.tickets).toEqual([
      expect.objectContaining({
        id: paymentMethodIds.detachedTicket(benBecs, groupId),
        aggregate: "payment_method",
        aggregateId: benBecs,
        groupId,
        reason: "payment_method_detached",
      }),
    ]);
    expect((await methods(sim, "ben")).length).toBe(0);
    // No card or account number in anything sent.
    expect(JSON.stringify(sim.notifier.sent)).not.toMatch(/\d{6,}/);
  });

  it("a debit detached during a round while another BECS account works: rounds debit that one, ben is told, no ticket", async () => {
    const { sim, benBecs } = await group({ round: true });
    const second = await save(sim, "ben", "au_becs_debit", "3");
    await deliver(sim, [sim.gateway.detachBehindTheScenes(benBecs)]);
    const ben = await person(sim, "ben");
    expect(ben?.debit).toEqual({
      paymentMethodId: second,
      mandateId: sim.gateway.mandateOf(second),
      mandateActive: true,
    });
    expect(sim.notifier.sent.map((n) => [n.template, n.personIds, n.data.movedToPaymentMethodId])).toEqual([
      ["payment_method_detached", ["ben"], second],
    ]);
    expect(sim.desk.tickets).toEqual([]);
  });

  it("a set-up finishing after the debit died makes the new account the debit; before, it waits for the death", async () => {
    const { sim, benBecs } = await group({ round: true });
    const setup = (
      await useCases.startPaymentMethodSetup(sim.deps, sim.gateway, "ben", "au_becs_debit", "3")
    )._unsafeUnwrap();
    const saved = sim.gateway.confirmSetup(setup.setupIntentId);
    const revoked = sim.gateway.revokeMandate(sim.gateway.mandateOf(benBecs) ?? "");
    await deliver(sim, [revoked, ...saved]);
    const second = saved[0]?.kind === "payment_method_changed" ? saved[0].paymentMethodId : "";
    expect((await person(sim, "ben"))?.debit).toMatchObject({ paymentMethodId: second, mandateActive: true });
  });

  it("a card the network updated gets its new expiry and last four digits", async () => {
    const { sim } = await group({ round: false });
    const card = await save(sim, "ben", "card", "2");
    const update = sim.gateway.updateCard(card, { brand: "visa", last4: "1881", expMonth: 3, expYear: 2031 });
    await deliver(sim, [update, update]);
    const saved = (await methods(sim, "ben")).find((v) => v.method.id === card)?.method;
    expect(saved?.card).toEqual({ brand: "visa", last4: "1881", expMonth: 3, expYear: 2031 });
  });

  it("a revoked mandate drops readiness and tells the person how to fix it, once", async () => {
    const { sim, benBecs } = await group({ round: true });
    const mandateId = sim.gateway.mandateOf(benBecs) ?? "";
    const fact = sim.gateway.revokeMandate(mandateId);
    await deliver(sim, [fact, fact]);
    const ben = await person(sim, "ben");
    expect(ben && personReadiness(ben).mandateActive).toBe(false);
    expect(sim.notifier.sent.filter((n) => n.template === "mandate_inactive")).toEqual([
      expect.objectContaining({
        id: paymentMethodIds.mandateInactiveNotice(benBecs, mandateId),
        personIds: ["ben"],
        data: expect.objectContaining({ setupPath: "/v1/people/me/payment-methods/setup" }),
      }),
    ]);
    expect((await methods(sim, "ben"))[0]?.method.mandate?.status).toBe("inactive");
  });

  it("news heard in any order ends the same: a detach heard before the attach saves nothing", async () => {
    const { sim } = await group({ round: false });
    const setup = (
      await useCases.startPaymentMethodSetup(sim.deps, sim.gateway, "ben", "card", "x")
    )._unsafeUnwrap();
    const [attached] = sim.gateway.confirmSetup(setup.setupIntentId);
    if (attached?.kind !== "payment_method_changed") throw new Error("no attach");
    const detached = sim.gateway.detachBehindTheScenes(attached.paymentMethodId);
    await deliver(sim, [detached, attached]);
    expect((await methods(sim, "ben")).map((v) => v.method.id)).not.toContain(attached.paymentMethodId);
    expect(sim.notifier.sent).toEqual([]);
  });
});
