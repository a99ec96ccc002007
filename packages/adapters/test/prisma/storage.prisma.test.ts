// The storage contract on PostgreSQL: one database for the file, emptied before each test.
import { PrismaLedgerStore, PrismaStore } from "../../src/prisma/index.js";
import { storageContract } from "../contract/storage.contract.js";
import { useTestDatabase } from "../support/test-database.js";
import { resetDatabase } from "./reset-database.js";

const db = useTestDatabase();

storageContract("postgresql", {
  async create() {
    await resetDatabase(db.prisma);
    const store = new PrismaStore(db.prisma);
    return {
      people: store,
      groups: store,
      rounds: store,
      uow: store,
      audit: store,
      outbox: store,
      ledger: new PrismaLedgerStore(db.prisma),
    };
  },
});
