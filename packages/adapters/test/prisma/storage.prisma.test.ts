// The storage contract on PostgreSQL: a fresh database per test (a copy of the migrated
// template). TRUNCATE cannot reset one database between tests: the ledger and the audit
// log refuse it, being append-only.
import { PrismaLedgerStore, PrismaStore } from "../../src/prisma/index.js";
import { type StoragePorts, storageContract } from "../contract/storage.contract.js";
import { createTestDatabase, type TestDatabase } from "../support/test-database.js";

const databases = new WeakMap<StoragePorts, TestDatabase>();

storageContract("postgresql", {
  async create() {
    const db = await createTestDatabase();
    const store = new PrismaStore(db.prisma);
    const ports: StoragePorts = {
      groups: store,
      rounds: store,
      uow: store,
      outbox: store,
      ledger: new PrismaLedgerStore(db.prisma),
    };
    databases.set(ports, db);
    return ports;
  },
  async destroy(ports) {
    await databases.get(ports)?.drop();
  },
});
