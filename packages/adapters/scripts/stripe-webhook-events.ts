// `npm run -s stripe:webhook-events [-- --comma | --json]`: prints the Stripe event types susu acts
// on (SUSU_WEBHOOK_EVENT_TYPES), one per line, comma-separated (for the Stripe CLI's
// `stripe listen --events`) or as a JSON array (for `enabled_events` in an API call). Subscribe
// susu's webhook endpoints (the platform's and the Connect one) to exactly these.
import { SUSU_WEBHOOK_EVENT_TYPES } from "../src/webhooks/event-types.js";

const args = process.argv.slice(2);
const known = new Set(["--comma", "--json"]);
const unknown = args.filter((a) => !known.has(a));
if (unknown.length > 0 || args.length > 1) {
  console.error(`usage: npm run -s stripe:webhook-events [-- --comma | --json] (got ${args.join(" ")})`);
  process.exit(2);
}
const types = [...SUSU_WEBHOOK_EVENT_TYPES];
if (args[0] === "--json") console.log(JSON.stringify(types));
else if (args[0] === "--comma") console.log(types.join(","));
else console.log(types.join("\n"));
