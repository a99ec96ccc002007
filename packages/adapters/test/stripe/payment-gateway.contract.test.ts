import { afterAll } from "vitest";
import { paymentGatewayContract } from "../contract/payment-gateway.contract.js";
import { type StripeHarness, startStripeHarness } from "./emulator-harness.js";

// The same contract as the in-memory fake, through the official SDK against the emulator.
let harness: StripeHarness | undefined;

paymentGatewayContract("StripePaymentGateway (SDK → emulator)", async () => {
  harness = await startStripeHarness();
  await harness.events.skipExisting();
  return harness;
});

afterAll(async () => {
  await harness?.emulator.stop();
});
