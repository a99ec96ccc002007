import { InMemoryStore } from "@susu/domain/testing";
import { paymentMethodStoreContract } from "../contract/payment-method-store.contract.js";

paymentMethodStoreContract("memory", async () => {
  const store = new InMemoryStore();
  return { methods: store, uow: store };
});
