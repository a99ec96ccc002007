// The storage contract on PostgreSQL: one database for the file, emptied before each test.
// Twice: with createPrismaClient's pool (commits and hot reads as prepared statements on
// it), and with a Prisma client that has no pool of ours, where the same SQL goes through
// Prisma (runStatement, runTransaction). Both paths must keep the same contract. The stores
// leave their ledger postings to the outbox (postLedgerInCommit: false), as the in-memory
// store does: the contract hands out every effect appended. Posting in the commit, the
// adapter's own way of carrying out a posting, is tested in ledger-in-commit.prisma.test.ts.
import { PrismaPg } from "@prisma/adapter-pg";
import { afterAll } from "vitest";
import { poolOf } from "../../src/db/prisma-client.js";
import { PrismaClient } from "../../src/prisma/generated/client.js";
import { PrismaLedgerStore, PrismaStore } from "../../src/prisma/index.js";
import { storageContract } from "../contract/storage.contract.js";
import { useTestDatabase } from "../support/test-database.js";
import { resetDatabase } from "./reset-database.js";

const db = useTestDatabase();

storageContract("postgresql", {
  async create() {
    await resetDatabase(db.prisma);
    const store = new PrismaStore(db.prisma, { postLedgerInCommit: false });
    return {
      people: store,
      groups: store,
      rounds: store,
      heldPayments: store,
      payouts: store,
      marketplaceCharges: store,
      uow: store,
      audit: store,
      outbox: store,
      ledger: new PrismaLedgerStore(db.prisma),
    };
  },
});

let bare: PrismaClient | undefined;
afterAll(async () => {
  await bare?.$disconnect();
});

storageContract("postgresql through Prisma only (no pool of ours)", {
  async create() {
    await resetDatabase(db.prisma);
    bare ??= new PrismaClient({ adapter: new PrismaPg({ connectionString: db.connectionString }) });
    if (poolOf(bare) !== undefined) throw new Error("this client must not have a pool of ours");
    const store = new PrismaStore(bare, { postLedgerInCommit: false });
    return {
      people: store,
      groups: store,
      rounds: store,
      heldPayments: store,
      payouts: store,
      marketplaceCharges: store,
      uow: store,
      audit: store,
      outbox: store,
      ledger: new PrismaLedgerStore(bare),
    };
  },
});
