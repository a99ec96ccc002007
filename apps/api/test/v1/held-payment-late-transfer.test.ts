// A held payment whose release transfer landed late and could not be booked, on PostgreSQL and
// the Stripe emulator through the SDK: the outbox runs its effects against the emulator and
// the emulator's events go through the webhook processor. The release's first transfer lands
// at Stripe but its answer is lost (an error of unknown outcome) and its transfer.created
// webhook is late; the operator's release looks it up, and the look-up misses it (Stripe's list
// lagging behind — the one thing the emulator cannot do, so the gateway answers that look-up
// "not found"): it is written off and a second transfer is asked, which Stripe refuses (the
// seller's account restricted meanwhile): the release parks. A 10.00 refund succeeds; then the
// first transfer's webhook comes: 90.00 is not what is owed now (81.00), so it is not booked,
// and nothing else will pay the seller: the release blocks (`late_transfer_unbooked`). The
// operator's release is then refused, 409 `transfer_landed_late`, and changes nothing.
import {
  createStripeClient,
  PrismaLedgerStore,
  PrismaStore,
  PrismaSupportDesk,
  processWebhookEvent,
  StripePaymentGateway,
  stripeEndpointOf,
  sweepStuckWork,
  type WebhookContext,
} from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import {
  type EffectPorts,
  type HeldPayment,
  HOUR_MS,
  type PaymentGateway,
  type Person,
  type UseCaseDeps,
  useCaseDepsOn,
  useCases,
} from "@susu/domain";
import { InMemoryTimerScheduler, ManualClock, RecordingNotifier, SequentialIds } from "@susu/domain/testing";
import { type RunningEmulator, startEmulator } from "@susu/stripe-emulator";
import { okAsync, ResultAsync } from "neverthrow";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authed, testApp, tokenFor } from "../support/app.js";

const db = useTestDatabase();
const START = Date.UTC(2026, 5, 1);
const WINDOW = 72 * HOUR_MS;
const APP = "app_bookings";

let emulator: RunningEmulator;
let stripe: Stripe;
let store: PrismaStore;
let deps: UseCaseDeps;
let ports: EffectPorts;
let ctx: WebhookContext;
let app: ReturnType<typeof testApp>;
const clock = new ManualClock(START);
const timers = new InMemoryTimerScheduler();
/** Look-ups of a transfer the gateway answers "not found" without asking (Stripe's list lagging). */
let lookupsToMiss = 0;
/** Events of these types are held back (Stripe's webhook late), kept in `late`. */
let lateTypes: ReadonlySet<string> = new Set();
const late: Stripe.Event[] = [];
const seen = new Set<string>();

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, fees: false, startTime: START / 1000 });
  const endpoint = { secretKey: emulator.secretKey, ...stripeEndpointOf(emulator.url), timeoutMs: 10_000 };
  stripe = createStripeClient({ ...endpoint, maxNetworkRetries: 0 });
  const real = new StripePaymentGateway({ ...endpoint, maxNetworkRetries: 2 }, { clock });
  const gateway = new Proxy(real, {
    get(target, name, receiver) {
      if (name === "findTransfer" && lookupsToMiss > 0)
        return () => {
          lookupsToMiss -= 1;
          return okAsync(undefined);
        };
      const value = Reflect.get(target, name, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as PaymentGateway;
  store = new PrismaStore(db.prisma, { clock });
  const ledger = new PrismaLedgerStore(db.prisma, { clock });
  deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
  ports = {
    gateway,
    notifier: new RecordingNotifier(),
    desk: new PrismaSupportDesk(db.prisma, clock),
    timers,
    ledger,
  };
  ctx = { deps, gateway: real };
  app = testApp({ useCases: deps, gateway, prisma: db.prisma });
  for (const e of (await stripe.events.list({ limit: 100 })).data) seen.add(e.id);
});
afterAll(async () => {
  await emulator?.stop();
});

async function deliver(events: readonly Stripe.Event[]): Promise<void> {
  for (const event of events) {
    const outcome = await processWebhookEvent(event, ctx);
    if (outcome.isErr()) throw new Error(`${event.type} ${event.id}: ${outcome.error.message}`);
  }
}

/**
 * The dispatcher, the due timers and the platform's new events (oldest first), until nothing is
 * left to do now — or, with `killed`, until it resolves: that dispatcher is killed mid-pass,
 * its pass never ends and nothing more of it runs.
 */
async function settle(
  by: { readonly workerId: string; readonly ports: EffectPorts; readonly killed?: Promise<void> } = {
    workerId: "dispatcher",
    ports,
  },
): Promise<void> {
  for (let pass = 0; pass < 30; pass++) {
    const passing = useCases.dispatchOutbox(deps, by.ports, store, { workerId: by.workerId });
    const ran = by.killed === undefined ? await passing : await Promise.race([passing, by.killed]);
    if (ran === undefined) return;
    const report = ran._unsafeUnwrap();
    const due = timers.takeDue(clock.now());
    for (const t of due) (await useCases.applyTimer(deps, t))._unsafeUnwrap();
    const fresh = (await stripe.events.list({ limit: 100 })).data.filter((e) => !seen.has(e.id)).reverse();
    for (const e of fresh) seen.add(e.id);
    late.push(...fresh.filter((e) => lateTypes.has(e.type)));
    const events = fresh.filter((e) => !lateTypes.has(e.type));
    await deliver(events);
    if (report.claimed === 0 && due.length === 0 && events.length === 0) return;
  }
  throw new Error("the held payment did not settle");
}

async function advance(ms: number): Promise<void> {
  clock.advance(ms);
  await emulator.control.advanceClock(ms / 1000);
}

async function payment(id: string): Promise<HeldPayment> {
  const p = (await store.getHeldPayment(id))._unsafeUnwrap();
  if (!p) throw new Error(`no held payment ${id}`);
  return p;
}

const call = async (token: string, method: string, path: string, body?: unknown) =>
  app.request(path, authed(token, method, body));

/**
 * The release's first transfer lands at Stripe with its answer lost and its webhook held back
 * (`late`): the payment's release is blocked, the transfer's outcome unknown.
 */
async function firstTransferLandsUnheard(id: string): Promise<void> {
  lateTypes = new Set(["transfer.created"]);
  await emulator.control.injectFault(landedAnswerLost);
  await advance(WINDOW + 1_000);
  await settle();
  expect(await payment(id)).toMatchObject({
    status: "release_blocked",
    blockKind: "transfer_outcome_unknown",
  });
}

/**
 * The payment released with attempt 1 booked and attempt 2's transfer found by its one look-up:
 * recorded as created, not booked, with its `unexpected_money` ticket and the admins told;
 * Stripe paid the seller (`account`) twice, the books count one payment.
 */
async function expectSecondTransferFlagged(id: string, account: string): Promise<void> {
  const released = await payment(id);
  expect(released.status).toBe("released");
  expect(released.transfers).toMatchObject([
    { number: 1, status: "created" },
    { number: 2, status: "created", failureCode: "another_attempt_landed", unbooked: true, lookups: 1 },
  ]);
  const second = released.transfers[1]?.transferId ?? "";
  expect(
    await db.prisma.supportTicket.findMany({
      where: { id: `${id}:ticket:unexpected_money:transfer:${second}` },
    }),
  ).toMatchObject([{ kind: "unexpected_money", status: "open" }]);
  const notifier = ports.notifier as RecordingNotifier;
  expect(
    notifier.sent.filter((n) => n.template === "unexpected_money" && n.data.transferId === second),
  ).toMatchObject([{ data: { attempt: 2, booked: "no" } }]);
  const transfers = (await stripe.transfers.list({ transfer_group: released.transferGroup })).data;
  expect(transfers.map((t) => [t.amount, t.destination])).toEqual([
    [40_00, account],
    [40_00, account],
  ]);
}

/**
 * A held payment asked for through the API by a seller (a person whose connected account at
 * the emulator is onboarded), paid by card and confirmed fulfilled: held, its release due
 * after the window. Answers the payment's id, the seller's account and an operator's token.
 */
async function fulfilledPayment(booking: {
  readonly sellerId: string;
  readonly sellerName: string;
  readonly clientReference: string;
  readonly description: string;
  readonly customer: { readonly email: string; readonly name: string };
  readonly feeBps: number;
}): Promise<{ readonly id: string; readonly account: { readonly id: string }; readonly operator: string }> {
  const account = await stripe.accounts.create({
    type: "express",
    country: "AU",
    capabilities: { transfers: { requested: true } },
  });
  await emulator.control.completeAccountOnboarding(account.id);
  const seller: Person = {
    id: booking.sellerId,
    displayName: booking.sellerName,
    payout: { connectedAccountId: account.id, payoutsEnabled: true },
    createdAt: clock.now(),
    version: 0,
  };
  (
    await store.commit({
      people: [{ state: seller, expectedVersion: undefined }],
      groups: [],
      rounds: [],
      outbox: [],
      audit: [],
    })
  )._unsafeUnwrap();
  const operator = await tokenFor("ops_olga", ["admin"]);
  const asked = await call(await tokenFor(APP, ["service"]), "POST", "/v1/held-payments", {
    clientReference: booking.clientReference,
    amountMinor: 100_00,
    currency: "AUD",
    sellerId: booking.sellerId,
    description: booking.description,
    customer: booking.customer,
    fee: { rateBps: booking.feeBps },
    successUrl: "https://app.example/paid",
  });
  expect(asked.status, await asked.clone().text()).toBe(201);
  const { id } = (await asked.json()) as { id: string };
  await settle();
  await emulator.control.completeCheckoutSession((await payment(id)).checkoutSessionId ?? "", {
    paymentMethod: "pm_card_visa",
  });
  await settle();
  expect((await payment(id)).status).toBe("held");
  (await useCases.confirmFulfilled(deps, id, (await payment(id)).requestedBy))._unsafeUnwrap();
  return { id, account, operator };
}

/** A transfer lands at Stripe, but its answer is lost: Stripe's 4xx of unknown outcome. */
const landedAnswerLost = {
  route: "POST /v1/transfers",
  kind: "error",
  phase: "after",
  status: 400,
  code: "processing_error",
} as const;

describe("POST /v1/held-payments/{id}/release after a transfer landed late and could not be booked", () => {
  it("is refused 409 transfer_landed_late (problem+json), and nothing changes: no transfer asked, the payment as it was", async () => {
    // Asked for by a seller, paid by card, fulfilled.
    const { id, account, operator } = await fulfilledPayment({
      sellerId: "sam",
      sellerName: "Sam",
      clientReference: "booking_late",
      description: "Two nights by the sea",
      customer: { email: "cy@example.com", name: "Cy" },
      feeBps: 1_000,
    });
    await settle();

    // The release's transfer lands at Stripe, its answer lost, its webhook late.
    lateTypes = new Set(["transfer.created"]);
    await emulator.control.injectFault({
      route: "POST /v1/transfers",
      kind: "error",
      phase: "after",
      status: 400,
      code: "processing_error",
    });
    await advance(WINDOW + 1_000);
    await settle();
    expect(await payment(id)).toMatchObject({
      status: "release_blocked",
      blockKind: "transfer_outcome_unknown",
    });

    // The operator releases: the look-up misses it (written off), the next attempt is refused
    // (the seller's account restricted meanwhile): the release parks.
    await emulator.control.disableTransfers(account.id);
    lookupsToMiss = 1;
    expect((await call(operator, "POST", `/v1/held-payments/${id}/release`)).status).toBe(200);
    await settle();
    const parked = await payment(id);
    expect(parked.status).toBe("release_blocked");
    expect(parked.transfers.map((t) => [t.number, t.status])).toEqual([
      [1, "failed"],
      [2, "failed"],
    ]);

    // A 10.00 refund; then attempt 1's transfer.created comes: 90.00 is not the 81.00 owed now.
    expect(
      (await call(operator, "POST", `/v1/held-payments/${id}/refunds`, { amountMinor: 10_00 })).status,
    ).toBe(200);
    await settle();
    lateTypes = new Set();
    await deliver(late.splice(0));
    await settle();
    const blocked = await payment(id);
    expect(blocked).toMatchObject({ status: "release_blocked", blockKind: "late_transfer_unbooked" });
    expect(blocked.transfers[0]).toMatchObject({ status: "created", unbooked: true });

    // The operator's release: refused with a stable code, nothing changed.
    const before = await (await call(operator, "GET", `/v1/held-payments/${id}`)).json();
    const outboxBefore = await db.prisma.outboxEffect.count();
    const refused = await call(operator, "POST", `/v1/held-payments/${id}/release`);
    expect(refused.status).toBe(409);
    expect(refused.headers.get("content-type")).toBe("application/problem+json");
    expect(((await refused.json()) as { code: string }).code).toBe("transfer_landed_late");
    await settle();
    expect(await (await call(operator, "GET", `/v1/held-payments/${id}`)).json()).toEqual(before);
    expect(await db.prisma.outboxEffect.count()).toBe(outboxBefore);
    expect((await payment(id)).version).toBe(blocked.version);
    // Stripe made one transfer to the seller, the late one.
    const transfers = (await stripe.transfers.list({ transfer_group: blocked.transferGroup })).data;
    expect(transfers.map((t) => [t.amount, t.destination])).toEqual([[90_00, account.id]]);
  });
});

// A late transfer booked beside the next attempt of unknown outcome: the release's first transfer
// lands with its answer lost and its webhook late, the operator's look-up misses it (written
// off), and the next attempt lands too with its answer lost — its transfer.created never comes.
// Then the first one's webhook comes and is booked as the seller's payment: the next attempt is
// written off and, its outcome unknown, looked up once at Stripe (the outbox's find_transfer, by
// its idempotency key in the transfer group): found, it is recorded as a late transfer, not
// booked (the seller was paid twice), with an unexpected_money ticket and the admins told.
// (A charge funds transfers up to its amount, `source_transaction`: both land only with the
// seller's share at most half of it — here 40.00 of 100.00, a 60 % fee.)
describe("a late transfer booked while the next attempt's outcome is unknown", () => {
  it("the next attempt is looked up at Stripe: found, it is recorded, not booked, and a person is told", async () => {
    const { id, account, operator } = await fulfilledPayment({
      sellerId: "sue",
      sellerName: "Sue",
      clientReference: "booking_twice",
      description: "A week in the hills",
      customer: { email: "di@example.com", name: "Di" },
      feeBps: 6_000,
    });
    await settle();

    await firstTransferLandsUnheard(id);

    // The operator's release: the look-up misses attempt 1 (written off); attempt 2 lands too,
    // its answer lost as well.
    lookupsToMiss = 1;
    await emulator.control.injectFault(landedAnswerLost);
    expect((await call(operator, "POST", `/v1/held-payments/${id}/release`)).status).toBe(200);
    await settle();
    const unknown = await payment(id);
    expect(unknown.transfers.map((t) => [t.number, t.status])).toEqual([
      [1, "failed"],
      [2, "unknown"],
    ]);
    expect(late.map((e) => (e.data.object as Stripe.Transfer).metadata?.attempt)).toEqual(["1", "2"]);

    // Attempt 1's webhook comes (attempt 2's never will): booked, the payment released.
    const [first] = late.splice(0);
    lateTypes = new Set();
    await deliver(first ? [first] : []);
    await settle();
    await expectSecondTransferFlagged(id, account.id);
    // The API shows the operator which attempt the books count.
    const body = (await (await call(operator, "GET", `/v1/held-payments/${id}`)).json()) as {
      transfers: { number: number; status: string; booked: boolean }[];
    };
    expect(body.transfers.map((t) => [t.number, t.status, t.booked])).toEqual([
      [1, "created", true],
      [2, "created", false],
    ]);
  });
});

// A late transfer booked while the next attempt is still asked for, whose first try's outcome the
// outbox never heard: the release's first transfer lands with its answer lost and its webhook
// late, the operator's look-up misses it (written off), and the next attempt's transfer lands
// too, but Stripe answers 500 (every retry of the SDK too): the outbox keeps the effect to retry
// it, and its transfer.created never comes. Then the first one's webhook comes and is booked as
// the seller's payment: the next attempt, still asked for, is written off. The outbox's retry of
// its effect re-reads the payment and does not send it — and, its earlier try unheard, reports
// it (`earlier_try_unheard`): the payment looks it up once at Stripe, finds it, and records it
// as a late transfer, not booked, with an unexpected_money ticket and the admins told. (Before,
// the retry was dropped silently: the seller was paid twice and nobody knew.)
describe("a late transfer booked while the next attempt's first try is unheard in the outbox", () => {
  it("the outbox's retry, not sent, has the payment look the attempt up: found, it is recorded, not booked, and a person is told", async () => {
    const { id, account, operator } = await fulfilledPayment({
      sellerId: "uma",
      sellerName: "Uma",
      clientReference: "booking_unheard",
      description: "A week by the lake",
      customer: { email: "ed@example.com", name: "Ed" },
      feeBps: 6_000,
    });
    await settle();

    await firstTransferLandsUnheard(id);

    // The operator's release: the look-up misses attempt 1 (written off); attempt 2 lands too,
    // but every answer of it is a 500: the outbox keeps its effect, to retry it later.
    lookupsToMiss = 1;
    await emulator.control.injectFault({ ...landedAnswerLost, status: 500, count: 3 });
    expect((await call(operator, "POST", `/v1/held-payments/${id}/release`)).status).toBe(200);
    await settle();
    const asked = await payment(id);
    expect(asked.transfers.map((t) => [t.number, t.status])).toEqual([
      [1, "failed"],
      [2, "requested"],
    ]);
    const effect = await db.prisma.outboxEffect.findUniqueOrThrow({
      where: { id: `${id}:transfer:attempt:2` },
    });
    expect(effect.attempts).toBe(1);
    const ours = late.filter((e) => (e.data.object as Stripe.Transfer).metadata?.held_payment_id === id);
    expect(ours.map((e) => (e.data.object as Stripe.Transfer).metadata?.attempt)).toEqual(["1", "2"]);

    // Attempt 1's webhook comes (attempt 2's never will): booked, the payment released, attempt
    // 2 written off while still asked for.
    const first = ours[0];
    if (first === undefined) throw new Error("no transfer.created for attempt 1");
    late.splice(late.indexOf(first), 1);
    await deliver([first]);
    await settle();
    expect((await payment(id)).transfers[1]).toMatchObject({
      status: "failed",
      failureCode: "another_attempt_landed",
    });

    // The outbox retries attempt 2's effect: not sent, its unheard try reported; the look-up finds it.
    await advance(HOUR_MS);
    await settle();
    await expectSecondTransferFlagged(id, account.id);
  });
});

/**
 * The ports of a dispatcher that is killed once the transfer keyed `key` is made at Stripe,
 * before it hears the answer (SIGKILL, out of memory): `killed` resolves then, and that call
 * never returns.
 */
function dyingAfterTransfer(key: string): { readonly ports: EffectPorts; readonly killed: Promise<void> } {
  let die: () => void = () => undefined;
  const killed = new Promise<void>((resolve) => {
    die = resolve;
  });
  const gateway = new Proxy(ports.gateway, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (name !== "createTransfer") return typeof value === "function" ? value.bind(target) : value;
      return (input: Parameters<PaymentGateway["createTransfer"]>[0]) => {
        const sent = target.createTransfer(input);
        if (input.idempotencyKey !== key) return sent;
        return ResultAsync.fromSafePromise(
          Promise.resolve(sent).then(() => {
            die();
            return new Promise<never>(() => undefined);
          }),
        );
      };
    },
  });
  return { ports: { ...ports, gateway }, killed };
}

// A late transfer booked while the next attempt's try was cut short by a dispatcher killed
// mid-call: the release's first transfer lands with its answer lost and its webhook late, the
// operator's look-up misses it (written off), and the next attempt's transfer is sent by a
// dispatcher killed before it hears the answer (the transfer made at Stripe; its
// transfer.created never comes). No outcome is recorded: the effect stays claimed by the dead
// dispatcher until its lease ends. Then the first one's webhook comes and is booked: the next
// attempt, still asked for, is written off. The stuck-work sweep clears the dead lease, noting
// the try as interrupted; the outbox's retry then does not send it and reports the unheard try
// (`earlier_try_unheard`): the payment looks it up, finds it, and records it as a late
// transfer, not booked, with an unexpected_money ticket and the admins told. (Before, the
// retry looked like a first try and was dropped silently: the seller paid twice, unnoticed.)
describe("a late transfer booked while the next attempt's try was cut short by a dispatcher killed mid-call", () => {
  it("the retry after the dead dispatcher's lease, not sent, has the payment look the attempt up: found, it is recorded, not booked, and a person is told", async () => {
    const { id, account, operator } = await fulfilledPayment({
      sellerId: "vic",
      sellerName: "Vic",
      clientReference: "booking_killed",
      description: "Three nights in the valley",
      customer: { email: "fay@example.com", name: "Fay" },
      feeBps: 6_000,
    });
    await settle();

    await firstTransferLandsUnheard(id);

    // The operator's release: the look-up misses attempt 1 (written off); attempt 2's transfer
    // is sent by a dispatcher killed mid-call.
    lookupsToMiss = 1;
    expect((await call(operator, "POST", `/v1/held-payments/${id}/release`)).status).toBe(200);
    const attempt2 = `${id}:transfer:attempt:2`;
    const doomed = dyingAfterTransfer(attempt2);
    await settle({ workerId: "doomed", ...doomed });
    // The other dispatcher goes on: the payment's effects wait behind the dead one's live lease.
    await settle();
    expect((await payment(id)).transfers.map((t) => [t.number, t.status])).toEqual([
      [1, "failed"],
      [2, "requested"],
    ]);
    const cut = await db.prisma.outboxEffect.findUniqueOrThrow({ where: { id: attempt2 } });
    expect(cut).toMatchObject({ status: "pending", claimedBy: "doomed", attempts: 0, lastError: null });
    const ours = late.filter((e) => (e.data.object as Stripe.Transfer).metadata?.held_payment_id === id);
    expect(ours.map((e) => (e.data.object as Stripe.Transfer).metadata?.attempt)).toEqual(["1", "2"]);

    // Attempt 1's webhook comes (attempt 2's never will): booked, the payment released, attempt
    // 2 written off while still asked for.
    const first = ours[0];
    if (first === undefined) throw new Error("no transfer.created for attempt 1");
    late.splice(late.indexOf(first), 1);
    await deliver([first]);
    await settle();
    expect((await payment(id)).transfers[1]).toMatchObject({
      status: "failed",
      failureCode: "another_attempt_landed",
    });

    // The dead dispatcher's lease ends; the sweep clears it, noting the try as interrupted.
    await advance(10 * 60_000);
    const swept = await sweepStuckWork(db.prisma, clock.now(), { bossSchema: false });
    expect(swept.outboxLeasesExpired).toContainEqual({ id: attempt2, kind: "transfer", claimedBy: "doomed" });

    // The outbox retries attempt 2's effect: not sent, its unheard try reported; the look-up finds it.
    await settle();
    await expectSecondTransferFlagged(id, account.id);
  });
});
