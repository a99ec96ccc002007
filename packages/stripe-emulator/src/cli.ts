#!/usr/bin/env node
import { parseArgs } from "node:util";
import { startEmulator } from "./emulator.js";

const USAGE = `susu-stripe-emulator: an offline, stateful Stripe API for the official SDK

Options:
  --port <n>                    port to listen on (default 12111; 0 picks one)
  --host <addr>                 address to listen on (default 127.0.0.1)
  --secret-key <key>            the API key clients must send (default sk_test_emulator)
  --webhook-url <url>           deliver events to this URL (every type unless --webhook-events)
  --webhook-events <a,b,...>    the event types --webhook-url receives (default *)
  --webhook-secret <whsec_...>  signing secret for --webhook-url (default: generated)
  --data-dir <dir>              keep state in this folder across restarts
  --settlement-delay <seconds>  how long BECS debits stay processing (default 259200)
  --retry-ms <ms>               also retry failed webhooks on real timers (default 5000; 0 = off)
  --quiet                       no request log
  --help`;

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "12111" },
    host: { type: "string", default: "127.0.0.1" },
    "secret-key": { type: "string" },
    "webhook-url": { type: "string" },
    "webhook-events": { type: "string" },
    "webhook-secret": { type: "string" },
    "data-dir": { type: "string" },
    "settlement-delay": { type: "string" },
    "retry-ms": { type: "string", default: "5000" },
    quiet: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});

if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

const retryMs = Number(values["retry-ms"]);
const emulator = await startEmulator({
  port: Number(values.port),
  host: values.host,
  ...(values["secret-key"] ? { secretKey: values["secret-key"] } : {}),
  ...(values["webhook-url"] ? { webhookUrl: values["webhook-url"] } : {}),
  ...(values["webhook-events"]
    ? { webhookEnabledEvents: values["webhook-events"].split(",").map((t) => t.trim()) }
    : {}),
  ...(values["webhook-secret"] ? { webhookSecret: values["webhook-secret"] } : {}),
  ...(values["data-dir"] ? { dataDir: values["data-dir"] } : {}),
  ...(values["settlement-delay"] ? { settlementDelaySeconds: Number(values["settlement-delay"]) } : {}),
  webhookRealTimeRetryMs: retryMs > 0 ? retryMs : null,
  ...(values.quiet
    ? {}
    : { log: (line: string) => console.log(JSON.stringify({ at: new Date().toISOString(), msg: line })) }),
});

console.log(
  JSON.stringify({
    msg: "stripe emulator ready",
    url: emulator.url,
    secretKey: emulator.secretKey,
    webhookSecret: values["webhook-url"] ? emulator.webhookSecret : undefined,
  }),
);

const shutdown = (): void => {
  void emulator.stop().then(() => process.exit(0));
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
