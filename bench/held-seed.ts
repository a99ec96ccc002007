/**
 * Held payments awaiting their customer, made for the whole-stack benches (not timed): sellers
 * with connected accounts onboarded at the emulator, then `count` held payments through
 * `useCases.createHeldPayment`, their outbox dispatched in this process (as the scheduler's
 * dispatcher would, `concurrency` dispatchers under their own leases) until each has its
 * Checkout Session at the emulator. What the benches then time is the customer paying and
 * Stripe's events reaching susu's committed state.
 */
import {
  createPrismaClient,
  PrismaLedgerStore,
  PrismaStore,
  RandomIds,
  StripePaymentGateway,
  SystemClock,
} from "@susu/adapters";
import { type EffectPorts, type Person, type UseCaseDeps, useCaseDepsOn, useCases } from "@susu/domain";
import { InMemoryTimerScheduler, RecordingNotifier, RecordingSupportDesk } from "@susu/domain/testing";
import { EmulatorControl } from "@susu/stripe-emulator";
import { countOf, pool } from "./stack.js";

export interface SeededCheckout {
  readonly heldPaymentId: string;
  readonly checkoutSessionId: string;
}

export function unwrap<T, E>(
  result: { isOk(): boolean; _unsafeUnwrap(): T; _unsafeUnwrapErr(): E },
  what: string,
): T {
  if (!result.isOk()) throw new Error(`${what}: ${JSON.stringify(result._unsafeUnwrapErr())}`);
  return result._unsafeUnwrap();
}

export function gatewayTo(stripeUrl: string, secretKey: string): StripePaymentGateway {
  const url = new URL(stripeUrl);
  return new StripePaymentGateway({
    secretKey,
    host: url.hostname,
    port: Number(url.port),
    protocol: "http",
    timeoutMs: 60_000,
    maxNetworkRetries: 2,
  });
}

/**
 * `count` held payments of 100.00 AUD (10% fee) awaiting payment, spread over `sellers`
 * sellers, client references `<prefix>_<i>`. Returns them with their sessions, in order.
 */
export async function seedCheckouts(options: {
  readonly connectionString: string;
  readonly stripeUrl: string;
  readonly secretKey: string;
  readonly count: number;
  readonly sellers: number;
  readonly concurrency: number;
  readonly prefix: string;
}): Promise<SeededCheckout[]> {
  const { count, concurrency, prefix } = options;
  const prisma = createPrismaClient(options.connectionString);
  const store = new PrismaStore(prisma);
  const deps: UseCaseDeps = useCaseDepsOn(store, { clock: new SystemClock(), ids: new RandomIds() });
  const gateway = gatewayTo(options.stripeUrl, options.secretKey);
  const stripe = gateway.stripe;
  const ports: EffectPorts = {
    gateway,
    notifier: new RecordingNotifier(),
    desk: new RecordingSupportDesk(),
    timers: new InMemoryTimerScheduler(),
    ledger: new PrismaLedgerStore(prisma),
  };

  const sellerIds = await seedSellers(
    store,
    options.stripeUrl,
    stripe,
    Math.max(1, Math.min(options.sellers, count)),
    concurrency,
    prefix,
  );

  const ids: string[] = new Array(count);
  await pool(
    Array.from({ length: count }, (_, i) => i),
    concurrency,
    async (i) => {
      const { payment } = unwrap(
        await useCases.createHeldPayment(deps, {
          requestedBy: "app_bench",
          clientReference: `${prefix}_${i}`,
          amountMinor: 100_00,
          currency: "AUD",
          sellerId: sellerIds[i % sellerIds.length] ?? "",
          description: `Bench booking ${i}`,
          customer: { email: "cy@example.com", name: "Cy" },
          fee: { kind: "rate", basisPoints: 1_000 },
          successUrl: "https://app.example/done",
        }),
        "createHeldPayment",
      );
      ids[i] = payment.id;
    },
  );

  // The outbox (the Checkout Sessions), `concurrency` dispatchers until none claims anything.
  let parked = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      for (;;) {
        const report = unwrap(
          await useCases.dispatchOutbox(deps, ports, store, { workerId: `${prefix}_seeder_${w}`, limit: 10 }),
          "dispatch",
        );
        parked += report.parked;
        if (report.claimed === 0) return;
      }
    }),
  );
  if (parked > 0) throw new Error(`seeding: ${parked} outbox effects parked`);

  const out: SeededCheckout[] = new Array(count);
  await pool(
    ids.map((id, i) => [id, i] as const),
    concurrency,
    async ([id, i]) => {
      const p = unwrap(await store.getHeldPayment(id), `read ${id}`);
      if (p?.status !== "awaiting_payment" || p.checkoutSessionId === undefined)
        throw new Error(`seeding: ${id} is ${p?.status ?? "missing"} without a Checkout Session`);
      out[i] = { heldPaymentId: id, checkoutSessionId: p.checkoutSessionId };
    },
  );
  await prisma.$disconnect();
  return out;
}

/**
 * `count` sellers `<prefix>_seller_<i>`: each a person whose connected account was made and
 * onboarded at the emulator (payouts enabled). Returns their ids.
 */
export async function seedSellers(
  store: PrismaStore,
  stripeUrl: string,
  stripe: StripePaymentGateway["stripe"],
  count: number,
  concurrency: number,
  prefix: string,
): Promise<string[]> {
  const control = new EmulatorControl(stripeUrl);
  const sellerIds: string[] = [];
  await pool(
    Array.from({ length: count }, (_, i) => i),
    concurrency,
    async (i) => {
      const account = await stripe.accounts.create({
        type: "express",
        country: "AU",
        capabilities: { transfers: { requested: true } },
      });
      await control.completeAccountOnboarding(account.id);
      const person: Person = {
        id: `${prefix}_seller_${i}`,
        displayName: `Seller ${i}`,
        payout: { connectedAccountId: account.id, payoutsEnabled: true },
        createdAt: Date.now(),
        version: 0,
      };
      unwrap(
        await store.commit({
          people: [{ state: person, expectedVersion: undefined }],
          groups: [],
          rounds: [],
          outbox: [],
          audit: [],
        }),
        "seller",
      );
      sellerIds.push(person.id);
    },
  );
  return sellerIds;
}

/** How many of `ids` are in `status` now (one query). */
export async function countHeldIn(
  prisma: ReturnType<typeof createPrismaClient>,
  ids: readonly string[],
  status: string,
): Promise<number> {
  return countOf(
    prisma,
    "SELECT count(*) AS n FROM held_payments WHERE id = ANY($1::text[]) AND status::text = $2",
    [...ids],
    status,
  );
}
