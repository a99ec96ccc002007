// The audit log contract on PostgreSQL: one database for the file, emptied before each test.
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
