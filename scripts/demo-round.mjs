// `npm run demo` (with `npm start` running in another terminal): one whole savings round
// through the v1 API, the Stripe emulator and the scheduler, as people would drive it — the
// README's walkthrough as a script. Ana makes a group and Ben joins; both set up their BECS
// debit and payout account; the group starts, the due-round cron opens the round, the
// emulator's clock moves 3 days so the debits settle, Stripe's webhooks reach the API, and
// the scheduler pays the pot out. Tokens are minted with the secret `npm start` keeps in
// .data/jwt-secret (or SUSU_JWT_SECRET), as `npm run token` does.
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const api = process.env.SUSU_API ?? "http://127.0.0.1:3000";
const emulator = process.env.SUSU_EMULATOR ?? "http://127.0.0.1:12111";
const key = process.env.STRIPE_SECRET_KEY ?? "sk_test_emulator";

const secretFile = join(root, ".data/jwt-secret");
const secret =
  process.env.SUSU_JWT_SECRET ??
  (existsSync(secretFile) ? readFileSync(secretFile, "utf8").trim() : undefined);
if (secret === undefined) {
  console.error(
    "no JWT secret: start the system with `npm start` (it makes .data/jwt-secret) or set SUSU_JWT_SECRET",
  );
  process.exit(1);
}
const { mintToken } = await import(join(root, "apps/api/dist/http/auth.js"));
// A suffix per run, so the demo can run again against the same database.
const run = randomUUID().slice(0, 8);
const ana = `ana_${run}`;
const ben = `ben_${run}`;
const tokens = {
  [ana]: await mintToken({ subject: ana, roles: ["member"], ttlSeconds: 3600 }, secret),
  [ben]: await mintToken({ subject: ben, roles: ["member"], ttlSeconds: 3600 }, secret),
};

const say = (msg) => console.log(`• ${msg}`);
/** A JSON call to the API as `person` (a POST gets an Idempotency-Key), or a form call to Stripe. */
async function call(method, url, { body, as, form } = {}) {
  const headers = {};
  if (as) headers.authorization = `Bearer ${tokens[as]}`;
  if (as && method === "POST") headers["idempotency-key"] = randomUUID();
  if (body !== undefined) headers["content-type"] = "application/json";
  if (form !== undefined) {
    headers["content-type"] = "application/x-www-form-urlencoded";
    headers.authorization = `Bearer ${key}`;
  }
  const res = await fetch(url, {
    method,
    headers,
    body:
      form !== undefined ? new URLSearchParams(form) : body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  const json = text ? JSON.parse(text) : {};
  if (!res.ok) throw new Error(`${method} ${url} → ${res.status}: ${text}`);
  return json;
}
async function until(what, check, seconds = 120) {
  for (let i = 0; i < seconds; i++) {
    const value = await check();
    if (value) return value;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const startsAt = new Date(Date.now() + 5_000).toISOString();
const group = await call("POST", `${api}/v1/groups`, {
  as: ana,
  body: {
    name: "Demo savers",
    currency: "AUD",
    contributionMinor: 100_00,
    cadence: "weekly",
    startsAt,
    payoutOrderMethod: "join_order",
    displayName: "Ana",
  },
});
say(`group ${group.id} created (100.00 AUD a week each)`);
await call("POST", `${api}/v1/groups/${group.id}/members`, { as: ben, body: { displayName: "Ben" } });
say(`${ben} joined`);

for (const member of [ana, ben]) {
  const setup = await call("POST", `${api}/v1/people/${member}/debit-setup`, { as: member, body: {} });
  // What the member's app does with the client secret (Stripe.js in production).
  await call("POST", `${emulator}/v1/setup_intents/${setup.setupIntentId}/confirm`, {
    form: {
      "payment_method_data[type]": "au_becs_debit",
      "payment_method_data[au_becs_debit][bsb_number]": "000000",
      "payment_method_data[au_becs_debit][account_number]": "000123456",
      "payment_method_data[billing_details][name]": member,
      "payment_method_data[billing_details][email]": `${member}@example.com`,
      "mandate_data[customer_acceptance][type]": "online",
      "mandate_data[customer_acceptance][online][ip_address]": "203.0.113.7",
      "mandate_data[customer_acceptance][online][user_agent]": "susu-demo",
    },
  });
  const link = await call("POST", `${api}/v1/people/${member}/payout-onboarding`, {
    as: member,
    body: { refreshUrl: "https://app.example/refresh", returnUrl: "https://app.example/done" },
  });
  // The member finishes Stripe's onboarding pages (which then redirect to the app: not followed here).
  await fetch(`${link.url}?action=complete`, { redirect: "manual" });
  say(`${member}: BECS mandate accepted, payout account onboarded`);
}

await until("both members ready (from Stripe's webhooks)", async () => {
  const g = await call("GET", `${api}/v1/groups/${group.id}`, { as: ana });
  return g.members.every((m) => m.readiness.mandateActive && m.readiness.payoutsEnabled);
});
await call("POST", `${api}/v1/groups/${group.id}/activate`, { as: ana });
say("group activated; waiting for the scheduler's due-round cron (runs every minute)");

const opened = await until(
  "the round to open",
  async () => (await call("GET", `${api}/v1/groups/${group.id}/rounds`, { as: ana })).data[0],
);
// The outbox dispatcher submits the debits a moment after the round opens; the clock may
// only move once they exist, or they would settle three days after the jump.
const round = await until("the debits to be submitted", async () => {
  const r = await call("GET", `${api}/v1/rounds/${opened.id}`, { as: ana });
  return r.contributions.every((c) => c.status === "processing") ? r : undefined;
});
say(`round ${round.id} is ${round.status}: BECS debits submitted and processing`);
await call("POST", `${emulator}/_emulator/clock/advance`, { body: { seconds: 3 * 86_400 + 300 } });
say("emulator clock moved 3 days: the debits settle");

const paid = await until("the payout", async () => {
  const r = await call("GET", `${api}/v1/rounds/${round.id}`, { as: ana });
  return r.status === "paid_out" ? r : undefined;
});
const total = paid.payouts.reduce((sum, p) => sum + p.amount.amountMinor, 0);
say(
  `round ${paid.status}: ${(total / 100).toFixed(2)} AUD paid to ${paid.recipientMemberId} in ${paid.payouts.length} transfers`,
);
const ledger = await call("GET", `${api}/v1/groups/${group.id}/ledger`, { as: ana });
say(`ledger: ${JSON.stringify(ledger)}`);
