/**
 * The Stripe emulator in a process of its own for bench/held-payments.ts: no Stripe fees
 * (amounts stay plain, as in the adapters' e2e tests) and its clock starting at argv[2]
 * (Unix seconds), the bench's domain clock. Prints one JSON line with its URL and key.
 */
import { startEmulator } from "../packages/stripe-emulator/src/index.js";

const emulator = await startEmulator({ port: 0, fees: false, startTime: Number(process.argv[2]) });
console.log(JSON.stringify({ url: emulator.url, secretKey: emulator.secretKey }));
const shutdown = (): void => {
  void emulator.stop().then(() => process.exit(0));
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
