/**
 * The Stripe emulator in a process of its own for the whole-stack benches (bench/stack.ts):
 * argv[2] is a JSON object of emulator options (`webhookUrl`, `webhookSecret`,
 * `webhookConcurrency`, `webhookRealTimeRetryMs`, `fees`). Prints one JSON line with its URL,
 * secret key and webhook signing secret.
 */
import { startEmulator } from "../packages/stripe-emulator/src/index.js";

const options = JSON.parse(process.argv[2] ?? "{}") as Parameters<typeof startEmulator>[0];
const emulator = await startEmulator({ port: 0, ...options });
console.log(
  JSON.stringify({ url: emulator.url, secretKey: emulator.secretKey, webhookSecret: emulator.webhookSecret }),
);
const shutdown = (): void => {
  void emulator.stop().then(() => process.exit(0));
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
