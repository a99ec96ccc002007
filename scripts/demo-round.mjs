// `npm run demo` (with `npm start` running in another terminal): one whole savings round
// through the API, the Stripe emulator and the scheduler, as a person would drive it.
// Two members set up their BECS debit and payout account, the group starts, the due-round
// cron opens the round, the emulator's clock moves 3 days so the debits settle, Stripe's
// webhooks reach the API, and the scheduler pays the pot out.
const api = process.env.SUSU_API ?? "http://127.0.0.1:3000";
const emulator = process.env.SUSU_EMULATOR ?? "http://127.0.0.1:12111";
const key = process.env.STRIPE_SECRET_KEY ?? "sk_test_emulator";

const say = (msg) => console.log(`• ${msg}`);
async function call(method, url, { body, member, form } = {}) {
  const headers = {};
  if (member) headers["x-susu-member"] = member;
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
const group = await call("POST", `${api}/groups`, {
  body: {
    name: "Demo savers",
    currency: "AUD",
    contributionMinor: 100_00,
    cadence: "weekly",
    startsAt,
    payoutOrderMethod: "join_order",
    creator: { id: "ana", displayName: "Ana" },
  },
});
say(`group ${group.id} created (100.00 AUD a week each)`);
await call("POST", `${api}/groups/${group.id}/members`, { body: { id: "ben", displayName: "Ben" } });
say("ben joined");

for (const member of ["ana", "ben"]) {
  const setup = await call("POST", `${api}/groups/${group.id}/members/${member}/debit-setup`, {
    member,
    body: {},
  });
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
  const link = await call("POST", `${api}/groups/${group.id}/members/${member}/payout-onboarding`, {
    member,
    body: { refreshUrl: "https://app.example/refresh", returnUrl: "https://app.example/done" },
  });
  // The member finishes Stripe's onboarding pages (which then redirect to the app: not followed here).
  await fetch(`${link.url}?action=complete`, { redirect: "manual" });
  say(`${member}: BECS mandate accepted, payout account onboarded`);
}

await until("both members ready (from Stripe's webhooks)", async () => {
  const g = await call("GET", `${api}/groups/${group.id}`);
  return g.members.every((m) => m.readiness.mandateActive && m.readiness.payoutsEnabled);
});
await call("POST", `${api}/groups/${group.id}/activate`, { member: "ana", body: {} });
say("group activated; waiting for the scheduler's due-round cron (runs every minute)");

const opened = await until(
  "the round to open",
  async () => (await call("GET", `${api}/groups/${group.id}/rounds`)).data[0],
);
// The outbox dispatcher submits the debits a moment after the round opens; the clock may
// only move once they exist, or they would settle three days after the jump.
const round = await until("the debits to be submitted", async () => {
  const r = await call("GET", `${api}/rounds/${opened.id}`);
  return r.contributions.every((c) => c.status === "processing") ? r : undefined;
});
say(`round ${round.id} is ${round.status}: BECS debits submitted and processing`);
await call("POST", `${emulator}/_emulator/clock/advance`, { body: { seconds: 3 * 86_400 + 300 } });
say("emulator clock moved 3 days: the debits settle");

const paid = await until("the payout", async () => {
  const r = await call("GET", `${api}/rounds/${round.id}`);
  return r.status === "paid_out" ? r : undefined;
});
const total = paid.payouts.reduce((sum, p) => sum + p.amountMinor, 0);
say(
  `round ${paid.status}: ${(total / 100).toFixed(2)} AUD paid to ${paid.recipientMemberId} in ${paid.payouts.length} transfers`,
);
