import { InMemoryStore } from "@susu/domain/testing";
import { auditLogContract } from "../contract/audit-log.contract.js";

auditLogContract("memory", async () => {
  const store = new InMemoryStore();
  return { audit: store, uow: store };
});
