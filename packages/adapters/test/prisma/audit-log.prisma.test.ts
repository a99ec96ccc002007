// The audit log contract on PostgreSQL: one database for the file, emptied before each test.
// With createPrismaClient's pool, and through Prisma only (a client with no pool of ours).
import { PrismaPg } from "@prisma/adapter-pg";
import { afterAll } from "vitest";
import { PrismaClient } from "../../src/prisma/generated/client.js";
import { PrismaStore } from "../../src/prisma/index.js";
import { auditLogContract } from "../contract/audit-log.contract.js";
import { useTestDatabase } from "../support/test-database.js";
import { resetDatabase } from "./reset-database.js";

const db = useTestDatabase();

auditLogContract("postgresql", async () => {
  await resetDatabase(db.prisma);
  const store = new PrismaStore(db.prisma);
  return { audit: store, uow: store };
});

let bare: PrismaClient | undefined;
afterAll(async () => {
  await bare?.$disconnect();
});

auditLogContract("postgresql through Prisma only (no pool of ours)", async () => {
  await resetDatabase(db.prisma);
  bare ??= new PrismaClient({ adapter: new PrismaPg({ connectionString: db.connectionString }) });
  const store = new PrismaStore(bare);
  return { audit: store, uow: store };
});
