import { InMemoryLedgerStore, InMemoryStore } from "@susu/domain/testing";
import { storageContract } from "../contract/storage.contract.js";

storageContract("memory", {
  async create() {
    const store = new InMemoryStore();
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
      ledger: new InMemoryLedgerStore(),
    };
  },
});
