/**
 * Does the Stripe emulator's CPU per round grow with the objects it holds? (issue 11)
 *
 *   npx tsx bench/emulator-scale.ts [--members 6200] [--groups 20,100,500] [--prof <folder>]
 *
 * The Stripe calls of bench/rounds.ts without the rest of the stack: the emulator in its own
 * process (`fees: false`, 16 webhook deliveries at a time to a receiver in this process that
 * answers 200 at once). Set-up (not timed): `--members` people, each a customer with a
 * confirmed BECS mandate (SetupIntent) and an onboarded connected account. Then, for each
 * `--groups` count G, G rounds of 10 members at once, as susu's adapter makes them: per member
 * `paymentIntents.list({ customer, limit: 100 })` (its effect check) and a confirmed BECS
 * PaymentIntent in the round's transfer group; the clock moves 3 days (the debits settle) and
 * the webhooks are flushed; per member `transfers.list({ transfer_group, limit: 100 })` and a
 * transfer of the contribution funded by its charge; the webhooks are flushed. Prints the
 * emulator's CPU ms per round (from /proc) and how many objects it held by then. With
 * `--prof`, the emulator writes a V8 CPU profile into that folder when it stops.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { createStripeClient, EmulatorControl } from "../packages/stripe-emulator/src/index.js";
import { busyWarning, machineLine, startEmulatorProcess } from "./stack.js";

const { values } = parseArgs({
  options: {
    members: { type: "string", default: "6200" },
    groups: { type: "string", default: "20,100,500" },
    prof: { type: "string" },
  },
});
const MEMBERS_PER_GROUP = 10;
const SIZES = values.groups.split(",").map(Number);
const SEEDED = Math.max(Number(values.members), Math.max(...SIZES) * MEMBERS_PER_GROUP);
const loadBefore = loadavg();

let deliveries = 0;
const receiver = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    deliveries++;
    res.writeHead(200).end("{}");
  });
});
await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
const webhookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks`;

const options = { fees: false, webhookConcurrency: 16, webhookRealTimeRetryMs: 1_000 };
const profFlags = values.prof ? ["--cpu-prof", `--cpu-prof-dir=${values.prof}`] : [];
const emulator = await startEmulatorProcess(options, profFlags);
const stripe = createStripeClient(
  { url: emulator.url, secretKey: emulator.secretKey },
  { maxNetworkRetries: 0 },
);
const control = new EmulatorControl(emulator.url);

/** CPU ms (user + system) the emulator has used so far, from /proc (Linux). */
function emulatorCpuMs(): number {
  const stat = readFileSync(`/proc/${emulator.child.pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) / 100) * 1000;
}

async function pool<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

interface Member {
  customer: string;
  paymentMethod: string;
  mandate: string;
  account: string;
}

async function member(i: number): Promise<Member> {
  const customer = await stripe.customers.create(
    { name: `Member ${i}` },
    { idempotencyKey: `customer:${i}` },
  );
  const si = await stripe.setupIntents.create({
    customer: customer.id,
    payment_method_types: ["au_becs_debit"],
  });
  const confirmed = await stripe.setupIntents.confirm(si.id, {
    payment_method_data: {
      type: "au_becs_debit",
      au_becs_debit: { bsb_number: "000000", account_number: "000123456" },
      billing_details: { name: `Member ${i}`, email: "member@example.com" },
    },
    mandate_data: {
      customer_acceptance: { type: "online", online: { ip_address: "203.0.113.7", user_agent: "bench" } },
    },
  });
  const account = await stripe.accounts.create({
    type: "express",
    country: "AU",
    capabilities: { transfers: { requested: true } },
  });
  await control.completeAccountOnboarding(account.id);
  return {
    customer: customer.id,
    paymentMethod: confirmed.payment_method as string,
    mandate: confirmed.mandate as string,
    account: account.id,
  };
}

const setupStart = performance.now();
const members: Member[] = new Array(SEEDED);
await pool(
  Array.from({ length: SEEDED }, (_, i) => i),
  8,
  async (i) => {
    members[i] = await member(i);
  },
);
await stripe.webhookEndpoints.create({ url: webhookUrl, enabled_events: ["*"] });
console.log(`set-up: ${SEEDED} members in ${((performance.now() - setupStart) / 1000).toFixed(0)} s`);

let next = 0;
const rows: string[] = [];
for (const [s, size] of SIZES.entries()) {
  const work = Array.from({ length: size * MEMBERS_PER_GROUP }, (_, k) => ({
    member: members[(next + k) % SEEDED] as Member,
    group: `round_${s}_${Math.floor(k / MEMBERS_PER_GROUP)}`,
    key: `${s}:${k}`,
  }));
  next += work.length;
  const cpuBefore = emulatorCpuMs();
  const started = performance.now();
  const charges = new Map<string, string>();
  await pool(work, 16, async (w) => {
    await stripe.paymentIntents.list({ customer: w.member.customer, limit: 100 });
    const pi = await stripe.paymentIntents.create(
      {
        amount: 100_00,
        currency: "aud",
        customer: w.member.customer,
        payment_method: w.member.paymentMethod,
        mandate: w.member.mandate,
        payment_method_types: ["au_becs_debit"],
        confirm: true,
        off_session: true,
        transfer_group: w.group,
      },
      { idempotencyKey: `debit:${w.key}` },
    );
    charges.set(w.key, pi.latest_charge as string);
  });
  await control.advanceClock(3 * 86_400 + 300);
  await control.flushWebhooks();
  await pool(work, 16, async (w) => {
    await stripe.transfers.list({ transfer_group: w.group, limit: 100 });
    await stripe.transfers.create(
      {
        amount: 100_00,
        currency: "aud",
        destination: w.member.account,
        transfer_group: w.group,
        source_transaction: charges.get(w.key) as string,
      },
      { idempotencyKey: `transfer:${w.key}` },
    );
  });
  await control.flushWebhooks();
  const cpuMs = emulatorCpuMs() - cpuBefore;
  const seconds = (performance.now() - started) / 1000;
  rows.push(`| ${size} | ${(cpuMs / size).toFixed(1)} | ${seconds.toFixed(1)} | ${next} | ${deliveries} |`);
}

console.log(`\n${machineLine(loadBefore)}`);
const warning = busyWarning(loadBefore);
if (warning) console.log(warning);
console.log(
  "\n| groups | emulator CPU ms/round | wall s | PaymentIntents held after | webhooks delivered so far |",
);
console.log(
  "| ------ | --------------------- | ------ | ------------------------- | ------------------------- |",
);
for (const row of rows) console.log(row);

// SIGTERM, and the wait for its exit (with --prof, the profile is written then).
await emulator.stop();
receiver.close();
