// The Stripe side of the scheduler's app tests: the emulator (no fees), an SDK client of it as
// the scheduler builds one (no retries), the adapter gateway on that client, sellers onboarded
// through it as the API onboards them, and the platform's new events applied as the webhook
// processor applies them.
import {
  createStripeClient,
  processWebhookEvent,
  StripePaymentGateway,
  stripeEndpointOf,
  type WebhookContext,
} from "@susu/adapters";
import { type Clock, type UseCaseDeps, useCases } from "@susu/domain";
import { type RunningEmulator, startEmulator } from "@susu/stripe-emulator";
import type Stripe from "stripe";

/** What {@link startEmulatorGateway} started. */
export interface EmulatorGateway {
  readonly emulator: RunningEmulator;
  readonly stripe: Stripe;
  readonly gateway: StripePaymentGateway;
}

/**
 * The emulator on a free port, its clock at `startTimeMs` (else the real time), and the
 * adapter gateway on an SDK client of it, reading time from `clock` (else the real time).
 */
export async function startEmulatorGateway(
  options: { readonly startTimeMs?: number; readonly clock?: Clock } = {},
): Promise<EmulatorGateway> {
  const emulator = await startEmulator({
    port: 0,
    fees: false,
    ...(options.startTimeMs !== undefined ? { startTime: Math.floor(options.startTimeMs / 1000) } : {}),
  });
  const stripe = createStripeClient({
    secretKey: emulator.secretKey,
    ...stripeEndpointOf(emulator.url),
    timeoutMs: 10_000,
    maxNetworkRetries: 0,
  });
  const gateway = new StripePaymentGateway(
    stripe,
    options.clock !== undefined ? { clock: options.clock } : {},
  );
  return { emulator, stripe, gateway };
}

const onboardingUrls = {
  refreshUrl: "https://app.example/r",
  returnUrl: "https://app.example/done",
  country: "AU",
};

/**
 * Stores person `id` and onboards their payout account at the emulator as the API does (an
 * account link the person visits). `finished`: they complete it and Stripe's `account.updated`
 * (payouts enabled) is recorded; otherwise they abandon it, and the account cannot pay out.
 * Returns the connected account's id.
 */
export async function onboardSeller(
  deps: UseCaseDeps,
  { emulator, gateway }: EmulatorGateway,
  id: string,
  finished: boolean,
): Promise<string> {
  (
    await deps.uow.commit({
      people: [
        {
          state: { id, displayName: id, createdAt: deps.clock.now(), version: 0 },
          expectedVersion: undefined,
        },
      ],
      groups: [],
      rounds: [],
      outbox: [],
      audit: [],
    })
  )._unsafeUnwrap();
  const link = (
    await useCases.startPersonPayoutOnboarding(deps, gateway, id, onboardingUrls)
  )._unsafeUnwrap();
  // A fresh link's visit lands on the return URL, finished or abandoned (a used or expired one
  // on the refresh URL).
  const landed = await emulator.control.visitAccountLink(link.url, finished ? "complete" : "abandon");
  if (landed !== onboardingUrls.returnUrl) throw new Error(`${id}'s onboarding link led to ${landed}`);
  const accountId = (await deps.people.getPerson(id))._unsafeUnwrap()?.payout?.connectedAccountId;
  if (accountId === undefined) throw new Error(`${id} has no connected account`);
  if (finished)
    (
      await useCases.updatePersonReadiness(deps, id, { payoutsEnabled: true }, "stripe", {
        connectedAccountId: accountId,
      })
    )._unsafeUnwrap();
  return accountId;
}

/** The platform's events at the emulator, each read once, oldest first (what its webhooks bring). */
export class PlatformEvents {
  readonly #seen = new Set<string>();

  constructor(private readonly stripe: Stripe) {}

  /** Marks every event so far as read. */
  async skipExisting(): Promise<void> {
    await this.next();
  }

  /** The events not read before, oldest first. */
  async next(): Promise<Stripe.Event[]> {
    const fresh: Stripe.Event[] = [];
    for await (const event of this.stripe.events.list({ limit: 100 }) as AsyncIterable<Stripe.Event>)
      if (!this.#seen.has(event.id)) {
        this.#seen.add(event.id);
        fresh.push(event);
      }
    // The list is newest first.
    return fresh.reverse();
  }

  /**
   * Applies the events not read before, oldest first, as the webhook processor does; an event
   * whose failure is retryable (a commit that lost a race with the dispatcher) is tried again.
   */
  async deliver(ctx: WebhookContext): Promise<number> {
    const events = await this.next();
    for (const event of events)
      for (let attempt = 1; ; attempt++) {
        const outcome = await processWebhookEvent(event, ctx);
        if (outcome.isOk()) break;
        if (!outcome.error.retryable || attempt === 10)
          throw new Error(`${event.type} ${event.id}: ${outcome.error.code}: ${outcome.error.message}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    return events.length;
  }
}
