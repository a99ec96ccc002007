import { personReadiness, type RetryPolicy, type UseCaseDeps, useCaseDepsOn } from "@susu/domain";
import { InMemoryStore, ManualClock, SequentialIds } from "@susu/domain/testing";
import { errAsync } from "neverthrow";
import { beforeEach, describe, expect, it } from "vitest";
import { PrismaSupportDesk } from "../../src/support/index.js";
import {
  PrismaWebhookInbox,
  processWebhookInbox,
  type SettledWebhookEvent,
  type WebhookPassOptions,
  type WebhookProcessorContext,
} from "../../src/webhooks/index.js";
import { useTestDatabase } from "../support/index.js";
import { debitEvent, stripeEvent } from "./events.js";
import { flakyRounds, ScriptedStripeReads, seedRound } from "./harness.js";

const db = useTestDatabase();

let clock: ManualClock;
let store: InMemoryStore;
let deps: UseCaseDeps;
let inbox: PrismaWebhookInbox;
let reads: ScriptedStripeReads;
let ctx: WebhookProcessorContext;
let seq = 0;
const unique = (label: string) => `${label}_${++seq}`;

const options: WebhookPassOptions = { workerId: "test-worker" };

beforeEach(async () => {
  // Each test sees only its own events: whatever an earlier test left due is set aside.
  await db.prisma.webhookEvent.updateMany({
    where: { status: { in: ["received", "failed"] } },
    data: { status: "ignored", outcome: "set aside between tests", claimedBy: null, claimedUntil: null },
  });
  clock = new ManualClock(Date.UTC(2026, 5, 1));
  store = new InMemoryStore();
  deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
  inbox = new PrismaWebhookInbox(db.prisma, clock);
  reads = new ScriptedStripeReads();
  ctx = {
    deps,
    inbox,
    gateway: reads,
    desk: new PrismaSupportDesk(db.prisma, clock),
  };
});

async function pass(overrides: Partial<WebhookPassOptions> = {}) {
  return (await processWebhookInbox(ctx, { ...options, ...overrides }))._unsafeUnwrap();
}

const roundOf = (id: string) => store.rounds().find((r) => r.id === id);
const contribution = (roundId: string, memberId: string) =>
  roundOf(roundId)?.contributions.find((c) => c.memberId === memberId);
const personOf = (personId: string) => store.people().find((p) => p.id === personId);
const readinessOf = (personId: string) => {
  const person = personOf(personId);
  return person === undefined ? undefined : personReadiness(person);
};

describe("round facts", () => {
  it("the same event delivered twice is stored once and applied once", async () => {
    const [groupId, roundId] = [unique("grp"), unique("round")];
    await seedRound(store, { groupId, roundId, memberIds: ["ana", "ben"] });
    const event = debitEvent("payment_intent.succeeded", { groupId, roundId, memberId: "ben", attempt: 1 });

    expect((await inbox.receive(event))._unsafeUnwrap()).toBe("stored");
    expect((await inbox.receive(event))._unsafeUnwrap()).toBe("duplicate");
    expect(await pass()).toMatchObject({ claimed: 1, processed: 1, retried: 0, parked: 0 });
    expect(contribution(roundId, "ben")?.status).toBe("succeeded");

    // Stripe delivers it again after it was processed: still one row, nothing to claim.
    expect((await inbox.receive(event))._unsafeUnwrap()).toBe("duplicate");
    expect(await pass()).toMatchObject({ claimed: 0 });
    const applied = store
      .audit()
      .filter((a) => a.aggregateId === roundId && a.action === "debit_succeeded" && a.outcome === "applied");
    expect(applied).toEqual([expect.objectContaining({ actor: `stripe:${event.id}` })]);
    expect((await inbox.find(event.id))._unsafeUnwrap()).toMatchObject({
      status: "processed",
      outcome: `round ${roundId}: debit_succeeded applied`,
    });
  });

  it("a second event with the same fact is recorded as ignored by the round, not applied twice", async () => {
    const [groupId, roundId] = [unique("grp"), unique("round")];
    await seedRound(store, { groupId, roundId, memberIds: ["ana", "ben"] });
    const refs = { groupId, roundId, memberId: "ana", attempt: 1 };
    await inbox.receive(debitEvent("payment_intent.succeeded", refs));
    const again = debitEvent("payment_intent.succeeded", refs);
    await inbox.receive(again);
    expect(await pass()).toMatchObject({ claimed: 2, processed: 1, ignored: 1 });
    expect((await inbox.find(again.id))._unsafeUnwrap()?.outcome).toMatch(
      /^round .+: debit_succeeded ignored: attempt_already_settled: debit attempt is already succeeded$/,
    );
  });

  it("out of order: a success that overtakes its 'processing' leaves the debit succeeded", async () => {
    const [groupId, roundId] = [unique("grp"), unique("round")];
    await seedRound(store, { groupId, roundId, memberIds: ["ana", "ben"] });
    const refs = { groupId, roundId, memberId: "ben", attempt: 1 };
    const t = Math.floor(clock.now() / 1000);
    // Stripe's clock says processing came first, but succeeded was delivered (and claimed) first.
    await inbox.receive(debitEvent("payment_intent.succeeded", refs, { created: t + 1 }));
    expect(await pass()).toMatchObject({ processed: 1 });
    const processing = debitEvent("payment_intent.processing", refs, { created: t });
    await inbox.receive(processing);
    expect(await pass()).toMatchObject({ ignored: 1 });
    expect(contribution(roundId, "ben")?.status).toBe("succeeded");
    expect((await inbox.find(processing.id))._unsafeUnwrap()?.outcome).toContain("already succeeded");
  });

  it("a round that does not exist: ignored and recorded, not retried", async () => {
    const event = debitEvent("payment_intent.succeeded", {
      groupId: "grp_gone",
      roundId: "round_gone",
      memberId: "ana",
      attempt: 1,
    });
    await inbox.receive(event);
    expect(await pass()).toMatchObject({ claimed: 1, ignored: 1, retried: 0 });
    expect((await inbox.find(event.id))._unsafeUnwrap()).toMatchObject({
      status: "ignored",
      outcome: "round round_gone: debit_succeeded not applied: round_not_found",
      attempts: 0,
    });
  });

  it("a dispute: the disputed payment's references are looked up, then the round records it", async () => {
    const [groupId, roundId] = [unique("grp"), unique("round")];
    const succeeded = (memberId: string) => ({
      type: "debit_succeeded" as const,
      memberId,
      attempt: 1,
      paymentIntentId: `pi_${memberId}`,
      chargeId: `ch_${memberId}`,
    });
    await seedRound(store, { groupId, roundId, memberIds: ["ana", "ben", "cy"], inputs: [succeeded("ben")] });
    reads.references.set("pi_ben", { groupId, roundId, memberId: "ben", attempt: 1 });
    const event = stripeEvent("charge.dispute.created", {
      id: "du_1",
      object: "dispute",
      amount: 100_00,
      charge: "ch_ben",
      payment_intent: "pi_ben",
      status: "lost",
    });
    await inbox.receive(event);
    expect(await pass()).toMatchObject({ processed: 1 });
    expect(reads.calls).toEqual(["references:pi_ben"]);
    expect(contribution(roundId, "ben")).toMatchObject({ status: "disputed", disputeIds: ["du_1"] });
  });

  it("a dispute closed lost whose opening never came: the references are looked up, then the round books it as if it had opened", async () => {
    const [groupId, roundId] = [unique("grp"), unique("round")];
    const succeeded = (memberId: string) => ({
      type: "debit_succeeded" as const,
      memberId,
      attempt: 1,
      paymentIntentId: `pi_${memberId}`,
      chargeId: `ch_${memberId}`,
    });
    await seedRound(store, { groupId, roundId, memberIds: ["ana", "ben", "cy"], inputs: [succeeded("ben")] });
    reads.references.set("pi_ben", { groupId, roundId, memberId: "ben", attempt: 1 });
    const event = stripeEvent("charge.dispute.closed", {
      id: "du_2",
      object: "dispute",
      amount: 100_00,
      charge: "ch_ben",
      payment_intent: "pi_ben",
      status: "lost",
    });
    await inbox.receive(event);
    expect(await pass()).toMatchObject({ processed: 1 });
    expect(reads.calls).toEqual(["references:pi_ben"]);
    expect(contribution(roundId, "ben")).toMatchObject({ status: "disputed", disputeIds: ["du_2"] });
  });
});

describe("people", () => {
  it("account.updated: readiness read from Stripe now; a blocked payout resumes", async () => {
    const [groupId, roundId] = [unique("grp"), unique("round")];
    const memberIds = [unique("rec"), unique("m"), unique("m")];
    const paid = memberIds.map((memberId) => ({
      type: "debit_succeeded" as const,
      memberId,
      attempt: 1,
      paymentIntentId: `pi_${memberId}`,
      chargeId: `ch_${memberId}`,
    }));
    const { recipient } = await seedRound(store, {
      groupId,
      roundId,
      memberIds,
      inputs: [{ type: "recipient_readiness", canReceive: false }, ...paid],
    });
    expect(roundOf(roundId)?.status).toBe("payout_blocked");
    const account = `acct_${recipient}`;
    // The event's copy says disabled (it was sent first, delivered late); Stripe now says enabled.
    reads.accounts.set(account, { transfersActive: true, payoutsEnabled: true });
    await inbox.receive(
      stripeEvent("account.updated", { id: account, object: "account", payouts_enabled: false }),
    );
    expect(await pass()).toMatchObject({ processed: 1 });
    expect(reads.calls).toEqual([`account:${account}`]);
    expect(readinessOf(recipient)?.payoutsEnabled).toBe(true);
    expect(roundOf(roundId)?.status).toBe("paying_out");
  });

  it("account events for accounts no person has, and deauthorized accounts", async () => {
    const [groupId, roundId, memberId] = [unique("grp"), unique("round"), unique("m")];
    await seedRound(store, { groupId, roundId, memberIds: [memberId, unique("m")] });
    const stranger = stripeEvent("account.updated", { id: "acct_stranger", object: "account" });
    const deauthorized = stripeEvent(
      "account.application.deauthorized",
      { id: "ca_1", object: "application" },
      { account: `acct_${memberId}` },
    );
    await inbox.receive(stranger);
    await inbox.receive(deauthorized);
    expect(await pass()).toMatchObject({ processed: 1, ignored: 1 });
    expect(reads.calls).toEqual([]);
    expect((await inbox.find(stranger.id))._unsafeUnwrap()?.outcome).toBe(
      "account acct_stranger: no person has this connected account",
    );
    expect(readinessOf(memberId)?.payoutsEnabled).toBe(false);
  });

  it("mandate.updated: the mandate's state read from Stripe now sets mandateActive", async () => {
    const [groupId, roundId, memberId] = [unique("grp"), unique("round"), unique("m")];
    await seedRound(store, { groupId, roundId, memberIds: [unique("m"), memberId] });
    reads.mandates.set(`mandate_${memberId}`, "inactive");
    await inbox.receive(
      stripeEvent("mandate.updated", {
        id: `mandate_${memberId}`,
        object: "mandate",
        status: "inactive",
        payment_method: `pm_${memberId}`,
      }),
    );
    expect(await pass()).toMatchObject({ processed: 1 });
    expect(readinessOf(memberId)?.mandateActive).toBe(false);
  });

  it("setup_intent.succeeded made before people (member metadata): the person's payment method and mandate are stored", async () => {
    const [groupId, roundId, memberId] = [unique("grp"), unique("round"), unique("m")];
    await seedRound(store, { groupId, roundId, memberIds: [unique("m"), memberId] });
    await inbox.receive(
      stripeEvent("setup_intent.succeeded", {
        id: "seti_1",
        object: "setup_intent",
        status: "succeeded",
        customer: `cus_${memberId}`,
        payment_method: "pm_new",
        mandate: "mandate_new",
        metadata: { group_id: groupId, member_id: memberId },
      }),
    );
    expect(await pass()).toMatchObject({ processed: 1 });
    expect(personOf(memberId)).toMatchObject({
      customerId: `cus_${memberId}`,
      debit: { paymentMethodId: "pm_new", mandateId: "mandate_new", mandateActive: true },
    });
  });

  it("setup_intent.succeeded with the person's metadata: one write to the person, whatever their groups", async () => {
    const personId = unique("p");
    await seedRound(store, {
      groupId: unique("grp"),
      roundId: unique("round"),
      memberIds: [unique("m"), personId],
    });
    await seedRound(store, {
      groupId: unique("grp"),
      roundId: unique("round"),
      memberIds: [personId, unique("m")],
    });
    const before = store.audit().length;
    const event = stripeEvent("setup_intent.succeeded", {
      id: "seti_person",
      object: "setup_intent",
      status: "succeeded",
      customer: `cus_${personId}`,
      payment_method: "pm_person",
      mandate: "mandate_person",
      metadata: { person_id: personId },
    });
    await inbox.receive(event);
    expect(await pass()).toMatchObject({ processed: 1 });
    expect(personOf(personId)).toMatchObject({
      debit: { paymentMethodId: "pm_person", mandateId: "mandate_person", mandateActive: true },
    });
    expect(store.audit().slice(before)).toEqual([
      expect.objectContaining({
        aggregate: "person",
        aggregateId: personId,
        action: "update_person_payment",
      }),
    ]);
    expect((await inbox.find(event.id))._unsafeUnwrap()?.outcome).toBe(
      `BECS set-up seti_person: mandate mandate_person (active=true) stored for ${personId}`,
    );
  });

  it("account.updated for a person who is the recipient in two groups: one person write, both rounds hear it", async () => {
    const personId = unique("p");
    const rounds = [unique("round"), unique("round")];
    for (const roundId of rounds)
      await seedRound(store, { groupId: unique("grp"), roundId, memberIds: [personId, unique("m")] });
    const account = `acct_${personId}`;
    reads.accounts.set(account, { transfersActive: false, payoutsEnabled: false });
    const before = store.audit().length;
    const event = stripeEvent("account.updated", { id: account, object: "account" });
    await inbox.receive(event);
    expect(await pass()).toMatchObject({ processed: 1 });
    expect(reads.calls).toEqual([`account:${account}`]);
    expect(readinessOf(personId)?.payoutsEnabled).toBe(false);
    const lines = store.audit().slice(before);
    expect(lines.filter((a) => a.aggregate === "person").map((a) => a.action)).toEqual([
      "update_person_readiness",
    ]);
    expect(lines.filter((a) => a.aggregate === "round").map((a) => [a.aggregateId, a.action])).toEqual(
      rounds.map((r) => [r, "recipient_readiness"]),
    );
    for (const roundId of rounds) expect(roundOf(roundId)?.recipientCanReceive).toBe(false);
    expect((await inbox.find(event.id))._unsafeUnwrap()?.outcome).toBe(
      `account ${account}: payoutsEnabled=false for ${personId}`,
    );
  });
  it("setup_intent.succeeded without susu metadata: the person is found by the customer", async () => {
    const [groupId, roundId, memberId] = [unique("grp"), unique("round"), unique("m")];
    await seedRound(store, { groupId, roundId, memberIds: [unique("m"), memberId] });
    reads.mandates.set("mandate_by_customer", "pending");
    await inbox.receive(
      stripeEvent("setup_intent.succeeded", {
        id: "seti_2",
        object: "setup_intent",
        status: "succeeded",
        customer: `cus_${memberId}`,
        payment_method: "pm_by_customer",
        mandate: "mandate_by_customer",
        metadata: {},
      }),
    );
    expect(await pass()).toMatchObject({ processed: 1 });
    expect(personOf(memberId)).toMatchObject({
      // Stripe says the mandate is still pending: not usable for debits yet.
      debit: { paymentMethodId: "pm_by_customer", mandateId: "mandate_by_customer", mandateActive: false },
    });
  });
});

describe("events susu does not act on", () => {
  it("an unknown type is stored ignored at ingest, with the reason the processor would give, and never claimed", async () => {
    const unknown = stripeEvent("balance_settings.updated_by_future_stripe", { id: "x", object: "thing" });
    const known = stripeEvent("charge.succeeded", { id: "ch_1", object: "charge" });
    expect((await inbox.receive(unknown))._unsafeUnwrap()).toBe("stored");
    expect((await inbox.receive(known))._unsafeUnwrap()).toBe("stored");
    // A repeat delivery of an event ignored at ingest is still a duplicate.
    expect((await inbox.receive(known))._unsafeUnwrap()).toBe("duplicate");
    expect(await pass()).toMatchObject({ claimed: 0, ignored: 0 });
    expect((await inbox.find(unknown.id))._unsafeUnwrap()).toMatchObject({
      status: "ignored",
      type: "balance_settings.updated_by_future_stripe",
      outcome: "not handled: no susu flow listens to this event type",
      attempts: 0,
      processedAt: clock.now(),
    });
    expect((await inbox.find(known.id))._unsafeUnwrap()?.outcome).toBe(
      "payment_intent.* events carry the payment's outcome",
    );
  });
});

describe("failures", () => {
  const retry: RetryPolicy = {
    baseDelayMs: 1_000,
    factor: 2,
    maxDelayMs: 3_000,
    jitter: "full",
    attemptsMax: 4,
  };

  it("retried with exponential backoff and jitter, then parked with a support ticket", async () => {
    const [groupId, roundId] = [unique("grp"), unique("round")];
    await seedRound(store, { groupId, roundId, memberIds: ["ana", "ben"] });
    const database = { failing: true };
    ctx = { ...ctx, deps: flakyRounds(deps, database) };
    const event = debitEvent("payment_intent.succeeded", { groupId, roundId, memberId: "ana", attempt: 1 });
    await inbox.receive(event);
    const jitter = (id: string, attempt: number) => {
      expect(id).toBe(event.id);
      expect(attempt).toBeGreaterThan(0);
      return 0.5;
    };

    // Backoff 1 s, 2 s, 3 s (capped), each halved by the jitter fraction; then the 4th attempt parks.
    for (const [attempt, delay] of [
      [1, 500],
      [2, 1_000],
      [3, 1_500],
    ] as const) {
      expect(await pass({ retry, jitter })).toMatchObject({ claimed: 1, retried: 1 });
      const row = (await inbox.find(event.id))._unsafeUnwrap();
      expect(row).toMatchObject({ status: "failed", attempts: attempt, nextAttemptAt: clock.now() + delay });
      expect(row?.lastError).toBe("storage_unavailable: connection refused");
      clock.advance(delay - 1);
      expect(await pass({ retry, jitter })).toMatchObject({ claimed: 0 });
      clock.advance(1);
    }
    expect(await pass({ retry, jitter })).toMatchObject({ claimed: 1, parked: 1 });
    expect((await inbox.find(event.id))._unsafeUnwrap()).toMatchObject({ status: "parked", attempts: 4 });
    const ticket = await db.prisma.supportTicket.findUniqueOrThrow({
      where: { id: `webhook:${event.id}:parked` },
    });
    expect(ticket).toMatchObject({
      kind: "webhook_parked",
      status: "open",
      effectId: null,
      webhookEventId: event.id,
      groupId,
      roundId,
    });
    expect(ticket.subject).toContain(
      `Stripe event ${event.id} (payment_intent.succeeded) was parked after 4 attempts`,
    );
    clock.advance(86_400_000);
    expect(await pass({ retry, jitter })).toMatchObject({ claimed: 0 });
    expect(contribution(roundId, "ana")?.status).not.toBe("succeeded");

    // Support fixes the cause and requeues it: it is applied once.
    database.failing = false;
    expect((await inbox.requeue(event.id))._unsafeUnwrap()).toBe(true);
    expect(await pass({ retry, jitter })).toMatchObject({ processed: 1 });
    expect(contribution(roundId, "ana")?.status).toBe("succeeded");
  });

  it("tells each event's end by type and outcome, with Stripe's created time (for metrics)", async () => {
    const [groupId, roundId] = [unique("grp"), unique("round")];
    await seedRound(store, { groupId, roundId, memberIds: ["ana", "ben"] });
    const created = Math.floor(clock.now() / 1000) - 90;
    const refs = { groupId, roundId, memberId: "ben", attempt: 1 };
    const applied = debitEvent("payment_intent.succeeded", refs, { created });
    // Kept at ingest (a debit of susu's), ignored by the processor: its round does not exist.
    const ignored = debitEvent(
      "payment_intent.succeeded",
      { groupId, roundId: unique("round_gone"), memberId: "ben", attempt: 1 },
      { created: created + 1 },
    );
    await inbox.receive(applied);
    await inbox.receive(ignored);
    const settled: SettledWebhookEvent[] = [];
    const onSettled = (e: SettledWebhookEvent) => settled.push(e);
    expect(await pass({ onSettled })).toMatchObject({ processed: 1, ignored: 1 });
    expect(settled.map((e) => [e.eventId, e.type, e.outcome])).toEqual([
      [applied.id, "payment_intent.succeeded", "applied"],
      [ignored.id, "payment_intent.succeeded", "ignored"],
    ]);
    expect(settled[0]?.stripeCreatedAt).toBe(created * 1000);

    // A failing one: retried, then (one attempt allowed after that) parked, each with its code.
    const database = { failing: true };
    ctx = { ...ctx, deps: flakyRounds(deps, database) };
    const failing = debitEvent("payment_intent.succeeded", { ...refs, memberId: "ana" });
    await inbox.receive(failing);
    settled.length = 0;
    const twice = { ...retry, attemptsMax: 2 };
    expect(await pass({ onSettled, retry: twice, jitter: () => 0 })).toMatchObject({ retried: 1 });
    clock.advance(retry.baseDelayMs);
    expect(await pass({ onSettled, retry: twice, jitter: () => 0 })).toMatchObject({ parked: 1 });
    expect(settled.map((e) => [e.eventId, e.outcome, e.code])).toEqual([
      [failing.id, "retried", "storage_unavailable"],
      [failing.id, "parked", "storage_unavailable"],
    ]);
  });

  it("a failure retrying cannot help is parked at once", async () => {
    reads.references.set("pi_unknown", {
      type: "gateway_definite",
      code: "resource_missing",
      message: "No such payment_intent",
    });
    const event = stripeEvent("charge.dispute.created", {
      id: "du_2",
      object: "dispute",
      amount: 500,
      charge: "ch_unknown",
      payment_intent: "pi_unknown",
    });
    await inbox.receive(event);
    expect(await pass({ retry })).toMatchObject({ claimed: 1, parked: 1, retried: 0 });
    expect((await inbox.find(event.id))._unsafeUnwrap()).toMatchObject({
      status: "parked",
      attempts: 1,
      lastError: "resource_missing: No such payment_intent",
    });
    const ticket = await db.prisma.supportTicket.findUniqueOrThrow({
      where: { id: `webhook:${event.id}:parked` },
    });
    expect(ticket.subject).toContain("parked at once (retrying cannot help)");
  });

  it("when the support ticket cannot be opened, the event is not parked silently but stays due", async () => {
    ctx = {
      ...ctx,
      desk: {
        openTicket: () => errAsync({ type: "ticket_failed", code: "ticket_failed", message: "desk down" }),
      },
    };
    reads.references.set("pi_lost", { type: "gateway_definite", code: "resource_missing", message: "gone" });
    const event = stripeEvent("charge.dispute.created", {
      id: "du_3",
      object: "dispute",
      amount: 500,
      charge: "ch_lost",
      payment_intent: "pi_lost",
    });
    await inbox.receive(event);
    expect(await pass({ retry })).toMatchObject({ claimed: 1, parked: 0, retried: 1 });
    expect((await inbox.find(event.id))._unsafeUnwrap()).toMatchObject({
      status: "failed",
      nextAttemptAt: clock.now() + retry.maxDelayMs,
      lastError: "resource_missing: gone (support ticket not opened: desk down)",
    });
  });

  it("a failure the database refuses to record is parked at once with a ticket, not retried forever", async () => {
    const memberId = unique("m");
    await seedRound(store, {
      groupId: unique("grp"),
      roundId: unique("round"),
      memberIds: [unique("m"), memberId],
    });
    // Stripe's error text quotes something with a NUL, which no PostgreSQL text column holds (22021).
    reads.mandates.set(`mandate_${memberId}`, {
      type: "gateway_retryable",
      code: "rate_limit",
      message: "slow down \u0000",
    });
    const event = stripeEvent("mandate.updated", {
      id: `mandate_${memberId}`,
      object: "mandate",
      status: "active",
      payment_method: "pm_1",
    });
    await inbox.receive(event);
    expect(await pass({ retry })).toMatchObject({ claimed: 1, retried: 0, parked: 1 });
    expect((await inbox.find(event.id))._unsafeUnwrap()).toMatchObject({
      status: "parked",
      attempts: 1,
      lastError:
        "storage_refused: webhook mark failed: refused by the database (SQLSTATE 22021); the state breaks a stored rule (while recording rate_limit)",
    });
    const ticket = await db.prisma.supportTicket.findUniqueOrThrow({
      where: { id: `webhook:${event.id}:parked` },
    });
    expect(ticket).toMatchObject({ kind: "webhook_parked", status: "open", webhookEventId: event.id });
    expect(ticket.subject).toContain("was parked at once (retrying cannot help): storage_refused");
    clock.advance(86_400_000);
    expect(await pass({ retry })).toMatchObject({ claimed: 0 });
  });

  it("an outcome the database refuses to record is parked at once with a ticket", async () => {
    // The inbox is real; this wrapper only makes the recorded reason one PostgreSQL refuses.
    ctx = {
      ...ctx,
      inbox: {
        receive: (e) => inbox.receive(e),
        claimDue: (...args) => inbox.claimDue(...args),
        markProcessed: (...args) => inbox.markProcessed(...args),
        markIgnored: (id, workerId, reason) => inbox.markIgnored(id, workerId, `${reason} \u0000`),
        markFailed: (...args) => inbox.markFailed(...args),
        park: (...args) => inbox.park(...args),
      },
    };
    // Kept at ingest (a debit of susu's), ignored by the processor: its round does not exist.
    const event = debitEvent("payment_intent.succeeded", {
      groupId: unique("grp"),
      roundId: unique("round_gone"),
      memberId: "ana",
      attempt: 1,
    });
    await inbox.receive(event);
    expect(await pass({ retry })).toMatchObject({ claimed: 1, ignored: 0, retried: 0, parked: 1 });
    expect((await inbox.find(event.id))._unsafeUnwrap()).toMatchObject({
      status: "parked",
      lastError:
        "storage_refused: webhook mark ignored: refused by the database (SQLSTATE 22021); the state breaks a stored rule (while recording it as ignored)",
    });
    expect(
      await db.prisma.supportTicket.count({ where: { id: `webhook:${event.id}:parked`, status: "open" } }),
    ).toBe(1);
  });

  it("a refusal by storage while processing is parked at once, however the lookup classified it", async () => {
    const refused = {
      type: "storage_refused" as const,
      code: "storage_refused" as const,
      message: "people by connected account: refused by the database (SQLSTATE 22P02)",
    };
    ctx = {
      ...ctx,
      deps: {
        ...ctx.deps,
        people: {
          getPerson: (id) => store.getPerson(id),
          getPeople: (ids) => store.getPeople(ids),
          findByConnectedAccount: () => errAsync(refused),
          findByMandate: () => errAsync(refused),
          findByCustomer: () => errAsync(refused),
        },
      },
    };
    const event = stripeEvent("account.updated", { id: "acct_refused", object: "account" });
    await inbox.receive(event);
    expect(await pass({ retry })).toMatchObject({ claimed: 1, retried: 0, parked: 1 });
    expect((await inbox.find(event.id))._unsafeUnwrap()).toMatchObject({
      status: "parked",
      attempts: 1,
      lastError: `storage_refused: ${refused.message}`,
    });
  });

  it("events the pass has not started when the lease runs out are left for the next claim", async () => {
    const memberIds = [unique("m"), unique("m")];
    await seedRound(store, { groupId: unique("grp"), roundId: unique("round"), memberIds });
    const slowReads = {
      getPaymentReferences: reads.getPaymentReferences.bind(reads),
      getConnectedAccount: reads.getConnectedAccount.bind(reads),
      getPayment: reads.getPayment.bind(reads),
      getPaymentMethod: reads.getPaymentMethod.bind(reads),
      getMandate: (id: string) => {
        clock.advance(2_000); // Stripe answers slowly
        return reads.getMandate(id);
      },
    };
    ctx = { ...ctx, gateway: slowReads };
    const t = Math.floor(clock.now() / 1000);
    const mandateEvent = (memberId: string, created: number) =>
      stripeEvent(
        "mandate.updated",
        { id: `mandate_${memberId}`, object: "mandate", status: "active", payment_method: `pm_${memberId}` },
        { created },
      );
    const [first, second] = [mandateEvent(memberIds[0]!, t), mandateEvent(memberIds[1]!, t + 1)];
    await inbox.receive(first);
    await inbox.receive(second);
    expect(await pass({ leaseMs: 1_000 })).toMatchObject({ claimed: 2, processed: 1, leaseLost: 1 });
    expect((await inbox.find(first.id))._unsafeUnwrap()?.status).toBe("processed");
    expect((await inbox.find(second.id))._unsafeUnwrap()).toMatchObject({ status: "received", attempts: 0 });
    expect(await pass({ leaseMs: 10_000 })).toMatchObject({ claimed: 1, processed: 1 });
  });

  it("a processor that throws is a failure to retry, not a crashed pass", async () => {
    const memberId = unique("m");
    await seedRound(store, {
      groupId: unique("grp"),
      roundId: unique("round"),
      memberIds: [unique("m"), memberId],
    });
    ctx = {
      ...ctx,
      gateway: {
        ...reads,
        getPaymentReferences: (ids) => reads.getPaymentReferences(ids),
        getConnectedAccount: (id) => reads.getConnectedAccount(id),
        getPayment: (id) => reads.getPayment(id),
        getPaymentMethod: (id) => reads.getPaymentMethod(id),
        getMandate: () => {
          throw new TypeError("boom");
        },
      },
    };
    const event = stripeEvent("mandate.updated", {
      id: `mandate_${memberId}`,
      object: "mandate",
      status: "active",
      payment_method: "pm_1",
    });
    await inbox.receive(event);
    expect(await pass({ retry })).toMatchObject({ claimed: 1, retried: 1 });
    expect((await inbox.find(event.id))._unsafeUnwrap()?.lastError).toBe(
      "processing_crashed: TypeError: boom",
    );
  });
});
