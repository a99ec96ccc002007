import { describe, expect, it } from "vitest";
import {
  createPerson,
  personReadiness,
  samePerson,
  updatePersonPayment,
  updatePersonReadiness,
} from "./person.js";
import { personKeys } from "./person-keys.js";

const T0 = Date.UTC(2026, 0, 5);
const ana = () => createPerson({ id: "ana", displayName: " Ana ", createdAt: T0 })._unsafeUnwrap();
const debit = { paymentMethodId: "pm_1", mandateId: "mandate_1", mandateActive: true };

describe("a person", () => {
  it("starts with no Stripe objects and is ready for nothing", () => {
    expect(ana()).toEqual({ id: "ana", displayName: "Ana", createdAt: T0, version: 0 });
    expect(personReadiness(ana())).toEqual({ mandateActive: false, payoutsEnabled: false });
    expect(createPerson({ id: "ben", displayName: "  ", createdAt: T0 })._unsafeUnwrap().displayName).toBe(
      "ben",
    );
  });

  it("refuses an empty id and over-long names", () => {
    expect(createPerson({ id: "", displayName: "x", createdAt: T0 })._unsafeUnwrapErr().code).toBe(
      "invalid_person",
    );
    expect(
      createPerson({ id: "a", displayName: "x".repeat(101), createdAt: T0 })._unsafeUnwrapErr().code,
    ).toBe("invalid_person");
    expect(
      createPerson({ id: "x".repeat(256), displayName: "X", createdAt: T0 })._unsafeUnwrapErr().code,
    ).toBe("invalid_person");
  });

  it("takes an id as long as a token's subject (255 characters); a missing name is the id's first 100", () => {
    const id = `auth0|${"a".repeat(249)}`;
    const person = createPerson({ id, displayName: "Ana", createdAt: T0 })._unsafeUnwrap();
    expect(person.id).toBe(id);
    expect(createPerson({ id, displayName: " ", createdAt: T0 })._unsafeUnwrap().displayName).toBe(
      id.slice(0, 100),
    );
  });

  it("records a customer, a mandate and a connected account; readiness is derived from them", () => {
    let p = updatePersonPayment(ana(), { customerId: "cus_1", debit })._unsafeUnwrap();
    expect(personReadiness(p)).toEqual({ mandateActive: true, payoutsEnabled: false });
    p = updatePersonPayment(p, { connectedAccountId: "acct_1" })._unsafeUnwrap();
    expect(p.payout).toEqual({ connectedAccountId: "acct_1", payoutsEnabled: false });
    p = updatePersonReadiness(p, { payoutsEnabled: true })._unsafeUnwrap();
    expect(personReadiness(p)).toEqual({ mandateActive: true, payoutsEnabled: true });
    // Recording the account already held keeps its state; a new account starts disabled.
    expect(updatePersonPayment(p, { connectedAccountId: "acct_1" })._unsafeUnwrap()).toEqual(p);
    expect(updatePersonPayment(p, { connectedAccountId: "acct_2" })._unsafeUnwrap().payout).toEqual({
      connectedAccountId: "acct_2",
      payoutsEnabled: false,
    });
    // A new mandate replaces the old one whole.
    const renewed = { paymentMethodId: "pm_2", mandateId: "mandate_2", mandateActive: false };
    expect(updatePersonPayment(p, { debit: renewed })._unsafeUnwrap().debit).toEqual(renewed);
    expect(updatePersonPayment(p, { customerId: "" })._unsafeUnwrapErr().code).toBe("invalid_person");
  });

  it("readiness is granted only to a mandate or account the person has; withdrawing it from none is a no-op", () => {
    expect(updatePersonReadiness(ana(), { mandateActive: true })._unsafeUnwrapErr().code).toBe(
      "no_debit_mandate",
    );
    expect(updatePersonReadiness(ana(), { payoutsEnabled: true })._unsafeUnwrapErr().code).toBe(
      "no_payout_account",
    );
    expect(
      updatePersonReadiness(ana(), { mandateActive: false, payoutsEnabled: false })._unsafeUnwrap(),
    ).toEqual(ana());
    const p = updatePersonPayment(ana(), { debit })._unsafeUnwrap();
    expect(updatePersonReadiness(p, { mandateActive: false })._unsafeUnwrap().debit?.mandateActive).toBe(
      false,
    );
  });

  it("readiness news about another mandate or account than the person's changes nothing", () => {
    const p = updatePersonPayment(ana(), { debit })._unsafeUnwrap();
    const mandateId = p.debit?.mandateId ?? "";
    expect(
      updatePersonReadiness(p, { mandateActive: false }, { mandateId: "mandate_old" })._unsafeUnwrap(),
    ).toEqual(p);
    expect(
      updatePersonReadiness(p, { mandateActive: false }, { mandateId })._unsafeUnwrap().debit?.mandateActive,
    ).toBe(false);
    expect(
      updatePersonReadiness(p, { payoutsEnabled: true }, { connectedAccountId: "acct_old" })._unsafeUnwrap(),
    ).toEqual(p);
  });

  it("samePerson compares facts, not versions", () => {
    const p = updatePersonPayment(ana(), { debit })._unsafeUnwrap();
    expect(samePerson(p, { ...p, version: 7 })).toBe(true);
    expect(samePerson(p, updatePersonReadiness(p, { mandateActive: false })._unsafeUnwrap())).toBe(false);
  });
});

describe("the Stripe keys a person's objects are made with", () => {
  // Stored at Stripe: a change would create a second customer or account on retry.
  it("are pinned", () => {
    expect(personKeys.customer("ana")).toBe("person:ana:customer");
    expect(personKeys.connectedAccount("ana")).toBe("person:ana:connected_account");
    expect(personKeys.debitSetup("ana", "2")).toBe("person:ana:debit_setup:2");
  });

  it("never collide across people or kinds", () => {
    const keys = ["ana", "ben"].flatMap((id) => [
      personKeys.customer(id),
      personKeys.connectedAccount(id),
      personKeys.debitSetup(id, "1"),
      personKeys.debitSetup(id, "2"),
    ]);
    expect(new Set(keys).size).toBe(keys.length);
  });
});
