// The saved-payment-method store's contract on PostgreSQL, plus what only the database
// enforces: the table's CHECKs keep any number beyond four digits out.
import { describe, expect, it } from "vitest";
import { PrismaStore } from "../../src/prisma/index.js";
import { paymentMethodStoreContract } from "../contract/payment-method-store.contract.js";
import { useTestDatabase } from "../support/test-database.js";
import { resetDatabase } from "./reset-database.js";

const db = useTestDatabase();

paymentMethodStoreContract("postgresql", async () => {
  await resetDatabase(db.prisma);
  const store = new PrismaStore(db.prisma);
  return { methods: store, uow: store };
});

describe("saved_payment_methods on PostgreSQL", () => {
  it("refuses a stored number longer than four digits, whoever writes it", async () => {
    await resetDatabase(db.prisma);
    await db.prisma.$executeRawUnsafe(
      `INSERT INTO people (id, display_name, version, created_at, updated_at) VALUES ('ana', 'Ana', 0, now(), now())`,
    );
    await expect(
      db.prisma.$executeRawUnsafe(
        `INSERT INTO saved_payment_methods (id, person_id, customer_id, type, card_brand, exp_month, exp_year, last4,
           is_default, created_at, updated_at, version)
         VALUES ('pm_1', 'ana', 'cus_1', 'card', 'visa', 12, 2030, '4242424242424242', false, now(), now(), 0)`,
      ),
    ).rejects.toThrow(/saved_payment_methods_last4/);
  });
});
