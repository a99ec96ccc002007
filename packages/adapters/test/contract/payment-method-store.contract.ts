// The saved-payment-method store's contract: what the in-memory store and PostgreSQL both
// do with people's saved methods written through the unit of work.
import type {
  Changeset,
  PaymentMethodRepository,
  Person,
  SavedPaymentMethod,
  UnitOfWork,
} from "@susu/domain";
import { aReadyPerson } from "@susu/domain/testing";
import { describe, expect, it } from "vitest";

/** One implementation's ports, fresh and empty. */
export interface PaymentMethodStorePorts {
  readonly methods: PaymentMethodRepository;
  readonly uow: UnitOfWork;
}

const T = Date.UTC(2026, 0, 6);
const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };

const card = (id: string, personId: string, createdAt = T): SavedPaymentMethod => ({
  id,
  personId,
  customerId: `cus_${personId}`,
  type: "card",
  card: { brand: "visa", last4: "4242", expMonth: 12, expYear: 2030 },
  isDefault: false,
  createdAt,
  updatedAt: createdAt,
  version: 0,
});

const becs = (id: string, personId: string, createdAt = T): SavedPaymentMethod => ({
  id,
  personId,
  customerId: `cus_${personId}`,
  type: "au_becs_debit",
  bankAccount: { bsbNumber: "000000", last4: "3456" },
  mandate: { mandateId: `mandate_${id}`, status: "active" },
  isDefault: true,
  createdAt,
  updatedAt: createdAt,
  version: 0,
});

const person = (id: string): Person => ({ ...aReadyPerson(id), createdAt: T });

export function paymentMethodStoreContract(
  name: string,
  create: () => Promise<PaymentMethodStorePorts>,
): void {
  describe(`saved payment method store contract: ${name}`, () => {
    async function withPeople(...ids: string[]) {
      const ports = await create();
      (
        await ports.uow.commit({
          ...empty,
          people: ids.map((id) => ({ state: person(id), expectedVersion: undefined })),
        })
      )._unsafeUnwrap();
      return ports;
    }

    it("stores a method and reads it back whole, by id and in its person's list, oldest first", async () => {
      const { methods, uow } = await withPeople("ana", "ben");
      const a = becs("pm_a", "ana", T + 2);
      const b = card("pm_b", "ana", T + 1);
      (
        await uow.commit({
          ...empty,
          paymentMethods: [
            { state: a, expectedVersion: undefined },
            { state: b, expectedVersion: undefined },
            { state: card("pm_c", "ben"), expectedVersion: undefined },
          ],
        })
      )._unsafeUnwrap();
      expect((await methods.getPaymentMethod("pm_a"))._unsafeUnwrap()).toEqual(a);
      expect((await methods.getPaymentMethod("pm_b"))._unsafeUnwrap()).toEqual(b);
      expect((await methods.getPaymentMethod("pm_none"))._unsafeUnwrap()).toBeUndefined();
      expect((await methods.listPaymentMethodsOfPerson("ana"))._unsafeUnwrap().map((m) => m.id)).toEqual([
        "pm_b",
        "pm_a",
      ]);
    });

    it("checks versions: a stale write is a version conflict and stores nothing", async () => {
      const { methods, uow } = await withPeople("ana");
      const a = card("pm_a", "ana");
      (
        await uow.commit({ ...empty, paymentMethods: [{ state: a, expectedVersion: undefined }] })
      )._unsafeUnwrap();
      const next = { ...a, isDefault: true, updatedAt: T + 5 };
      (await uow.commit({ ...empty, paymentMethods: [{ state: next, expectedVersion: 0 }] }))._unsafeUnwrap();
      expect((await methods.getPaymentMethod("pm_a"))._unsafeUnwrap()).toEqual({ ...next, version: 1 });
      const stale = await uow.commit({
        ...empty,
        paymentMethods: [{ state: { ...a, isDefault: false }, expectedVersion: 0 }],
      });
      expect(stale._unsafeUnwrapErr()).toMatchObject({
        type: "version_conflict",
        aggregate: "payment_method",
      });
      const again = await uow.commit({
        ...empty,
        paymentMethods: [{ state: a, expectedVersion: undefined }],
      });
      expect(again._unsafeUnwrapErr().type).toBe("version_conflict");
      expect((await methods.getPaymentMethod("pm_a"))._unsafeUnwrap()?.version).toBe(1);
    });

    it("keeps removed methods, out of the list unless asked for", async () => {
      const { methods, uow } = await withPeople("ana");
      const a = card("pm_a", "ana");
      (
        await uow.commit({ ...empty, paymentMethods: [{ state: a, expectedVersion: undefined }] })
      )._unsafeUnwrap();
      const removed: SavedPaymentMethod = { ...a, removal: { at: T + 9, by: "provider" }, updatedAt: T + 9 };
      (
        await uow.commit({ ...empty, paymentMethods: [{ state: removed, expectedVersion: 0 }] })
      )._unsafeUnwrap();
      expect((await methods.listPaymentMethodsOfPerson("ana"))._unsafeUnwrap()).toEqual([]);
      expect(
        (await methods.listPaymentMethodsOfPerson("ana", { includeRemoved: true }))._unsafeUnwrap(),
      ).toEqual([{ ...removed, version: 1 }]);
    });

    it("refuses a method of someone who is not a person, and stores nothing of the changeset", async () => {
      const { methods, uow } = await withPeople("ana");
      const refused = await uow.commit({
        ...empty,
        paymentMethods: [
          { state: card("pm_a", "ana"), expectedVersion: undefined },
          { state: card("pm_x", "nobody"), expectedVersion: undefined },
        ],
      });
      expect(refused._unsafeUnwrapErr().type).toBe("storage_refused");
      expect((await methods.getPaymentMethod("pm_a"))._unsafeUnwrap()).toBeUndefined();
    });

    it("stores the method and its person's new debit in one write", async () => {
      const { methods, uow } = await withPeople("ana");
      const ana = person("ana");
      const moved = {
        ...ana,
        debit: { paymentMethodId: "pm_a", mandateId: "mandate_pm_a", mandateActive: true },
      };
      (
        await uow.commit({
          ...empty,
          people: [{ state: { ...moved, version: 1 }, expectedVersion: 0 }],
          paymentMethods: [{ state: becs("pm_a", "ana"), expectedVersion: undefined }],
        })
      )._unsafeUnwrap();
      expect((await methods.getPaymentMethod("pm_a"))._unsafeUnwrap()?.mandate?.status).toBe("active");
    });
  });
}
