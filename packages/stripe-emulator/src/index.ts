export { EmulatorControl, EmulatorControlError } from "./control/client.js";
export type { EmulatorOptions, WebhookChaos } from "./core/options.js";
export { CONFIGURED_ENDPOINT_ID, type RunningEmulator, startEmulator } from "./emulator.js";
export type { Fault, FaultKind, FaultSpec } from "./http/faults.js";
export type { CheckoutCompletion } from "./resources/checkout.js";
export { BECS_TEST_ACCOUNTS, type BecsOutcome, TEST_CARD_NUMBERS } from "./resources/test-values.js";
export { createStripeClient, type StripeClientOptions } from "./stripe-client.js";
export type { Delivery, DeliveryAttempt, DeliveryState, FlushResult } from "./webhooks/dispatcher.js";
export { signatureHeader } from "./webhooks/signature.js";
