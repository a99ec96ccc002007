// The payment metrics read from PostgreSQL at scrape time, after real state changes: rounds,
// held payments and marketplace charges decided by the domain and committed through
// PrismaStore, their ledger transactions posted as the outbox posts them, Stripe events
// stored as the API stores them, tickets opened as the dispatcher opens them. Each test
// scrapes the registry's text and reads the values operators see.
import {
  type Changeset,
  type CreateHeldPayment,
  createHeldPayment,
  createMarketplaceCharge,
  DEFAULT_HELD_PAYMENT_POLICY,
  DEFAULT_MARKETPLACE_POLICY,
  DEFAULT_ROUND_POLICY,
  decide,
  decideHeldPayment,
  decideMarketplaceCharge,
  type Group,
  type HeldPayment,
  type HeldPaymentEffect,
  type HeldPaymentInput,
  type Instant,
  isGroupLocalEffect,
  type MarketplaceCharge,
  type MarketplaceChargeEffect,
  type MarketplaceChargeInput,
  type Round,
  type RoundEffect,
  type RoundInput,
} from "@susu/domain";
import { anActiveGroup, aReadyPerson, aRoundOf, ManualClock, peopleOf } from "@susu/domain/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createMetricsRegistry,
  type MetricsRegistry,
  registerPaymentMetrics,
} from "../../src/metrics/index.js";
import { PrismaLedgerStore, PrismaPaymentMetricsReads, PrismaStore } from "../../src/prisma/index.js";
import {
  HELD_FUNDS_BY_AGE_SQL,
  OLDEST_OVERDUE_RELEASE_SQL,
  OLDEST_PENDING_EFFECT_SQL,
  OLDEST_UNPROCESSED_WEBHOOK_SQL,
  OPEN_TICKETS_BY_KIND_SQL,
  REFUNDS_IN_FLIGHT_SQL,
} from "../../src/prisma/payment-metrics-reads.js";
import { PrismaSupportDesk } from "../../src/support/index.js";
import { PrismaWebhookInbox } from "../../src/webhooks/index.js";
import { createTestDatabase, type TestDatabase } from "../support/test-database.js";
import { stripeEvent } from "../webhooks/events.js";

const T = Date.UTC(2026, 2, 2);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };

/** The value of one sample in Prometheus text, or undefined when the scrape has none. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(",");
  for (const line of text.split("\n")) {
    const m = line.match(/^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/);
    if (m === null || m[1] !== name) continue;
    const have = (m[2] ?? "")
      .split(/,(?=[a-zA-Z_]\w*=")/)
      .filter((p) => p.length > 0)
      .sort()
      .join(",");
    if (have === wanted) return Number(m[3]);
  }
  return undefined;
}

describe("payment metrics on PostgreSQL", () => {
  let db: TestDatabase;
  let store: PrismaStore;
  let ledger: PrismaLedgerStore;
  let metrics: MetricsRegistry;
  const clock = new ManualClock(T);
  let group: Group;

  beforeAll(async () => {
    db = await createTestDatabase();
    store = new PrismaStore(db.prisma, { clock });
    ledger = new PrismaLedgerStore(db.prisma);
    metrics = createMetricsRegistry({ defaultMetrics: false });
    registerPaymentMetrics(metrics, new PrismaPaymentMetricsReads(db.prisma), () => clock.now());
    group = anActiveGroup();
    (
      await store.commit({
        ...empty,
        people: [...peopleOf(group), aReadyPerson("sel"), aReadyPerson("sel_2"), aReadyPerson("cus")].map(
          (state) => ({ state, expectedVersion: undefined }),
        ),
        groups: [{ state: group, expectedVersion: undefined }],
      })
    )._unsafeUnwrap();
  });
  afterAll(async () => {
    await db.drop();
  });

  describe("round debits", () => {
    let round: Round;
    const posted: RoundEffect[] = [];
    /** Decides `input` at `now` and keeps its ledger postings for the outbox to post. */
    const step = (input: RoundInput, now: Instant) => {
      const decided = decide(round, input, { now, policy: DEFAULT_ROUND_POLICY })._unsafeUnwrap();
      expect(decided.ignored, input.type).toBeUndefined();
      round = decided.state;
      posted.push(...decided.effects.filter((e) => e.kind === "post_ledger"));
    };

    it("counts two succeeded and one failed debit: a success ratio of 2/3 for BECS in AUD", async () => {
      // Opened at T: each member's first debit is requested then.
      round = aRoundOf(group, [], { id: "round_m", now: T });
      (
        await store.commit({ ...empty, rounds: [{ state: round, expectedVersion: undefined }] })
      )._unsafeUnwrap();
      const before = await metrics.text();
      const labels = { flow: "round_debit", method: "au_becs_debit", currency: "AUD" };
      expect(
        sample(before, "susu_payment_outcomes_total", { ...labels, outcome: "succeeded" }),
      ).toBeUndefined();

      step({ type: "debit_processing", memberId: "ana", attempt: 1, paymentIntentId: "pi_ana" }, T + HOUR);
      step(
        {
          type: "debit_succeeded",
          memberId: "ana",
          attempt: 1,
          paymentIntentId: "pi_ana",
          chargeId: "ch_ana",
        },
        T + 2 * DAY + HOUR,
      );
      step(
        {
          type: "debit_succeeded",
          memberId: "ben",
          attempt: 1,
          paymentIntentId: "pi_ben",
          chargeId: "ch_ben",
        },
        T + 4 * DAY,
      );
      step(
        {
          type: "debit_failed",
          memberId: "cy",
          attempt: 1,
          paymentIntentId: "pi_cy",
          failureCode: "insufficient_funds",
        },
        T + 3 * DAY,
      );
      (await store.commit({ ...empty, rounds: [{ state: round, expectedVersion: 0 }] }))._unsafeUnwrap();

      const text = await metrics.text();
      const succeeded = sample(text, "susu_payment_outcomes_total", { ...labels, outcome: "succeeded" });
      const failed = sample(text, "susu_payment_outcomes_total", { ...labels, outcome: "failed" });
      expect([succeeded, failed]).toEqual([2, 1]);
      expect(text).toContain("# TYPE susu_payment_outcomes_total counter");
    });

    it("observes each settled debit's time from request to settlement once its ledger transaction is posted", async () => {
      const method = { method: "au_becs_debit" };
      // The successes are recorded; the outbox has not posted their ledger transactions yet.
      expect(sample(await metrics.text(), "susu_debit_settlement_seconds_count", method)).toBeUndefined();
      for (const effect of posted)
        if (effect.kind === "post_ledger") (await ledger.post(effect.transaction))._unsafeUnwrap();

      const text = await metrics.text();
      expect(text).toContain("# TYPE susu_debit_settlement_seconds histogram");
      const bucket = (le: string) => sample(text, "susu_debit_settlement_seconds_bucket", { ...method, le });
      // ana settled after 2 days and 1 hour, ben after 4 days; cy's failure is no settlement.
      expect(bucket(String(DAY / 1000))).toBe(0);
      expect(bucket(String((2 * DAY) / 1000))).toBe(0);
      expect(bucket(String((3 * DAY) / 1000))).toBe(1);
      expect(bucket(String((4 * DAY) / 1000))).toBe(2);
      expect(bucket("+Inf")).toBe(2);
      expect(sample(text, "susu_debit_settlement_seconds_count", method)).toBe(2);
      expect(sample(text, "susu_debit_settlement_seconds_sum", method)).toBe(
        (2 * DAY + HOUR + 4 * DAY) / 1000,
      );
    });

    it("counts a retry that succeeds as another attempt, and the first failure stays counted", async () => {
      step({ type: "timer", timer: { kind: "retry_debit", memberId: "cy", attempt: 2 } }, T + 5 * DAY);
      step(
        {
          type: "debit_succeeded",
          memberId: "cy",
          attempt: 2,
          paymentIntentId: "pi_cy2",
          chargeId: "ch_cy2",
        },
        T + 7 * DAY,
      );
      (await store.commit({ ...empty, rounds: [{ state: round, expectedVersion: 1 }] }))._unsafeUnwrap();
      const text = await metrics.text();
      const labels = { flow: "round_debit", method: "au_becs_debit", currency: "AUD" };
      expect(sample(text, "susu_payment_outcomes_total", { ...labels, outcome: "succeeded" })).toBe(3);
      expect(sample(text, "susu_payment_outcomes_total", { ...labels, outcome: "failed" })).toBe(1);
    });
  });

  describe("held payments", () => {
    const policy = DEFAULT_HELD_PAYMENT_POLICY;
    const NOW = T + 30 * DAY;

    function created(id: string, amountMinor: number, at: Instant, over: Partial<CreateHeldPayment> = {}) {
      return createHeldPayment(
        {
          id,
          requestedBy: "app_1",
          clientReference: `booking_${id}`,
          amountMinor,
          currency: "AUD",
          seller: { id: "sel", connectedAccountId: "acct_sel", canReceive: true },
          description: "Two nights",
          customer: { email: "cy@example.com" },
          fee: { kind: "rate", basisPoints: 1_000 },
          successUrl: "https://app.example/done",
          ...over,
        },
        { now: at, policy },
      )._unsafeUnwrap().state;
    }
    function apply(payment: HeldPayment, now: Instant, ...inputs: HeldPaymentInput[]): HeldPayment {
      return inputs.reduce((p, input) => {
        const decided = decideHeldPayment(p, input, { now, policy })._unsafeUnwrap();
        expect(decided.ignored, input.type).toBeUndefined();
        return decided.state;
      }, payment);
    }
    const session = (id: string): HeldPaymentInput => ({
      type: "checkout_session_created",
      sessionId: `cs_${id}`,
      url: `https://checkout.example/${id}`,
    });
    const paid = (id: string): HeldPaymentInput => ({
      type: "checkout_completed",
      sessionId: `cs_${id}`,
      paymentIntentId: `pi_${id}`,
      paymentStatus: "succeeded",
      chargeId: `ch_${id}`,
    });
    /** A payment created a little before `capturedAt`, paid then, and its later inputs. */
    function heldSince(
      id: string,
      amountMinor: number,
      capturedAt: Instant,
      ...later: [Instant, HeldPaymentInput][]
    ) {
      let p = apply(created(id, amountMinor, capturedAt - HOUR), capturedAt - HOUR, session(id));
      p = apply(p, capturedAt, paid(id));
      for (const [at, input] of later) p = apply(p, at, input);
      return p;
    }

    it("bands the money on the platform by age since capture, and counts captures and failures by currency", async () => {
      clock.advanceTo(NOW);
      const payments = [
        heldSince("hp_young", 10_000, NOW - 2 * HOUR),
        heldSince("hp_2d", 20_000, NOW - 2 * DAY),
        // Paid 10 days ago and fulfilled at once: its 72-hour dispute window ended 7 days ago.
        heldSince("hp_old", 30_000, NOW - 10 * DAY, [NOW - 10 * DAY, { type: "confirm_fulfilled" }]),
        // As old, but an admin holds it: overdue by nobody's mistake.
        heldSince(
          "hp_hold",
          40_000,
          NOW - 10 * DAY,
          [NOW - 10 * DAY, { type: "confirm_fulfilled" }],
          [NOW - 9 * DAY, { type: "admin_hold", by: "admin_1", reason: "checking a complaint" }],
        ),
        // A delayed method that failed: no money held, one failed payment.
        apply(
          apply(created("hp_fail", 5_000, NOW - 3 * DAY), NOW - 3 * DAY, session("hp_fail"), {
            type: "checkout_completed",
            sessionId: "cs_hp_fail",
            paymentIntentId: "pi_hp_fail",
            paymentStatus: "processing",
          }),
          NOW - 2 * DAY,
          {
            type: "async_payment_failed",
            sessionId: "cs_hp_fail",
            paymentIntentId: "pi_hp_fail",
            failureCode: "debit_failed",
          },
        ),
        // A checkout still open: neither held nor an outcome.
        created("hp_open", 7_000, NOW - HOUR),
      ];
      (
        await store.commit({
          ...empty,
          heldPayments: payments.map((state) => ({ state, expectedVersion: undefined })),
        })
      )._unsafeUnwrap();

      const text = await metrics.text();
      const band = (name: string, age: string) => sample(text, name, { currency: "AUD", age });
      expect(
        ["under_1d", "1d_to_3d", "3d_to_7d", "over_7d"].map((age) => band("susu_held_funds_payments", age)),
      ).toEqual([1, 1, 0, 2]);
      expect(
        ["under_1d", "1d_to_3d", "3d_to_7d", "over_7d"].map((age) =>
          band("susu_held_funds_amount_minor", age),
        ),
      ).toEqual([10_000, 20_000, 0, 70_000]);
      const held = { flow: "held_payment", method: "checkout", currency: "AUD" };
      expect(sample(text, "susu_payment_outcomes_total", { ...held, outcome: "succeeded" })).toBe(4);
      expect(sample(text, "susu_payment_outcomes_total", { ...held, outcome: "failed" })).toBe(1);
      // hp_old's release was due 7 days ago; the held one does not count.
      expect(sample(text, "susu_held_funds_release_overdue_seconds")).toBe((7 * DAY) / 1000);
    });

    it("reads no overdue release once the overdue payment is released, and the released money leaves the bands", async () => {
      const row = await db.prisma.heldPayment.findUniqueOrThrow({ where: { id: "hp_old" } });
      const stored = row.snapshot as unknown as HeldPayment;
      const releasing = apply(stored, NOW, { type: "timer", timer: { kind: "release_due" } });
      expect(releasing.status).toBe("releasing");
      // Releasing is still on the platform (the transfer is in flight) and still overdue.
      (
        await store.commit({
          ...empty,
          heldPayments: [{ state: releasing, expectedVersion: stored.version }],
        })
      )._unsafeUnwrap();
      expect(sample(await metrics.text(), "susu_held_funds_release_overdue_seconds")).toBe((7 * DAY) / 1000);
      const released = apply({ ...releasing, version: stored.version + 1 }, NOW + HOUR, {
        type: "transfer_created",
        attempt: 1,
        transferId: "tr_hp_old",
      });
      expect(released.status).toBe("released");
      (
        await store.commit({
          ...empty,
          heldPayments: [{ state: released, expectedVersion: stored.version + 1 }],
        })
      )._unsafeUnwrap();
      const text = await metrics.text();
      expect(sample(text, "susu_held_funds_release_overdue_seconds")).toBe(0);
      expect(sample(text, "susu_held_funds_payments", { currency: "AUD", age: "over_7d" })).toBe(1);
      expect(sample(text, "susu_held_funds_amount_minor", { currency: "AUD", age: "over_7d" })).toBe(40_000);
      // A release is not a new payment: the captures counted stay 4.
      expect(
        sample(text, "susu_payment_outcomes_total", {
          flow: "held_payment",
          method: "checkout",
          currency: "AUD",
          outcome: "succeeded",
        }),
      ).toBe(4);
    });
  });

  describe("marketplace charges", () => {
    const policy = DEFAULT_MARKETPLACE_POLICY;
    function charge(id: string): MarketplaceCharge {
      return createMarketplaceCharge(
        {
          id,
          clientReference: `rsvp_${id}`,
          requestedBy: "app_1",
          activityId: "act_1",
          purpose: "rsvp",
          description: "Pottery class",
          amountMinor: 10_000,
          currency: "AUD",
          customer: { id: "cus", stripeCustomerId: "cus_stripe", email: "cy@example.com" },
          paymentMethod: { kind: "saved_card", paymentMethodId: "pm_1" },
          fee: { kind: "rate", basisPoints: 1_000 },
          sellers: [{ id: "sel_2", connectedAccountId: "acct_sel_2" }],
        },
        { now: T, policy },
      )._unsafeUnwrap().state;
    }
    const apply = (c: MarketplaceCharge, input: MarketplaceChargeInput) => {
      const decided = decideMarketplaceCharge(c, input, { now: T + HOUR, policy })._unsafeUnwrap();
      expect(decided.ignored, input.type).toBeUndefined();
      return decided.state;
    };

    it("counts card payments that were captured and those that failed", async () => {
      const charges = [
        apply(charge("mc_ok"), {
          type: "payment_succeeded",
          paymentIntentId: "pi_mc_ok",
          chargeId: "ch_mc_ok",
          transferId: "tr_mc_ok",
        }),
        apply(charge("mc_declined"), {
          type: "payment_failed",
          paymentIntentId: "pi_mc_declined",
          failureCode: "card_declined",
        }),
        apply(charge("mc_declined_2"), {
          type: "payment_failed",
          paymentIntentId: "pi_mc_declined_2",
          failureCode: "card_declined",
        }),
        charge("mc_waiting"),
      ];
      (
        await store.commit({
          ...empty,
          marketplaceCharges: charges.map((state) => ({ state, expectedVersion: undefined })),
        })
      )._unsafeUnwrap();
      const text = await metrics.text();
      const card = { flow: "marketplace_charge", method: "card", currency: "AUD" };
      expect(sample(text, "susu_payment_outcomes_total", { ...card, outcome: "succeeded" })).toBe(1);
      expect(sample(text, "susu_payment_outcomes_total", { ...card, outcome: "failed" })).toBe(2);
    });
  });

  describe("work waiting", () => {
    it("reads the age of the oldest pending outbox effect, 0 when none is pending", async () => {
      await db.prisma.outboxEffect.deleteMany({});
      clock.advanceTo(T + 40 * DAY);
      expect(sample(await metrics.text(), "susu_outbox_oldest_pending_seconds")).toBe(0);
      // A round opened now appends its debits to the outbox; 20 minutes later they still wait.
      // A debit reported processing now: its ledger posting goes to the outbox, and waits.
      const { effects } = decide(
        aRoundOf(group, [], { id: "round_w", now: T }),
        { type: "debit_processing", memberId: "ana", attempt: 1, paymentIntentId: "pi_w" },
        { now: clock.now(), policy: DEFAULT_ROUND_POLICY },
      )._unsafeUnwrap();
      const outbox = effects.filter((e) => !isGroupLocalEffect(e));
      expect(outbox.map((e) => e.kind)).toContain("post_ledger");
      (await store.commit({ ...empty, outbox }))._unsafeUnwrap();
      clock.advanceTo(T + 40 * DAY + 20 * 60_000);
      expect(sample(await metrics.text(), "susu_outbox_oldest_pending_seconds")).toBe(20 * 60);
      await db.prisma.outboxEffect.updateMany({ data: { status: "done" } });
      expect(sample(await metrics.text(), "susu_outbox_oldest_pending_seconds")).toBe(0);
    });

    /** A susu debit's PaymentIntent: its events wait for the processor (others are stored ignored at ingest). */
    const waitingDebit = (id: string) => ({
      id,
      object: "payment_intent",
      status: "processing",
      metadata: { group_id: "g", round_id: `round_${id}`, member_id: "ana", attempt: "1" },
    });

    it("reads the age of the oldest Stripe event still to process, and ignores processed ones", async () => {
      const inbox = new PrismaWebhookInbox(db.prisma, clock);
      const start = clock.now();
      expect(sample(await metrics.text(), "susu_webhook_oldest_unprocessed_seconds")).toBe(0);
      (
        await inbox.receive(stripeEvent("payment_intent.processing", waitingDebit("pi_x"), { id: "evt_old" }))
      )._unsafeUnwrap();
      clock.advanceTo(start + 60_000);
      (
        await inbox.receive(stripeEvent("payment_intent.processing", waitingDebit("pi_y"), { id: "evt_new" }))
      )._unsafeUnwrap();
      clock.advanceTo(start + 5 * 60_000);
      expect(sample(await metrics.text(), "susu_webhook_oldest_unprocessed_seconds")).toBe(5 * 60);
      await db.prisma.webhookEvent.update({ where: { id: "evt_old" }, data: { status: "processed" } });
      expect(sample(await metrics.text(), "susu_webhook_oldest_unprocessed_seconds")).toBe(4 * 60);
    });

    it("counts open tickets by kind, not the resolved ones", async () => {
      const desk = new PrismaSupportDesk(db.prisma, clock);
      for (const [id, reason] of [
        ["t_1", "webhook_parked"],
        ["t_2", "webhook_parked"],
        ["t_3", "effect_parked"],
      ] as const)
        (await desk.openTicket({ id, reason, summary: id }))._unsafeUnwrap();
      (await desk.resolveTicket("t_2", { by: "ops", note: "replayed", at: clock.now() }))._unsafeUnwrap();
      const text = await metrics.text();
      expect(sample(text, "susu_support_tickets_open_by_kind", { kind: "webhook_parked" })).toBe(1);
      expect(sample(text, "susu_support_tickets_open_by_kind", { kind: "effect_parked" })).toBe(1);
      // Every gauge's collect errors are exported, at 0: none failed.
      expect(text).toMatch(/^susu_gauge_collect_errors_total\{/m);
      expect(text).not.toMatch(/^susu_gauge_collect_errors_total\{.*\} [1-9]/m);
    });
  });

  describe("refunds waiting for Stripe's outcome", () => {
    const heldPolicy = DEFAULT_HELD_PAYMENT_POLICY;
    const marketPolicy = DEFAULT_MARKETPLACE_POLICY;
    /** Decides `inputs` on the stored payment and commits the state with every effect the outbox gets. */
    async function heldStep(p: HeldPayment, expected: number | undefined, ...inputs: HeldPaymentInput[]) {
      let state = p;
      const outbox: HeldPaymentEffect[] = [];
      for (const input of inputs) {
        const d = decideHeldPayment(state, input, { now: clock.now(), policy: heldPolicy })._unsafeUnwrap();
        expect(d.ignored, input.type).toBeUndefined();
        state = d.state;
        outbox.push(...d.effects);
      }
      (
        await store.commit({ ...empty, heldPayments: [{ state, expectedVersion: expected }], outbox })
      )._unsafeUnwrap();
      return { ...state, version: expected === undefined ? 0 : expected + 1 };
    }
    const scrape = async () => {
      const text = await metrics.text();
      return {
        held: sample(text, "susu_refund_outcome_oldest_seconds", { flow: "held_payment" }),
        market: sample(text, "susu_refund_outcome_oldest_seconds", { flow: "marketplace_charge" }),
        heldLosses: sample(text, "susu_dispute_losses_waiting", { flow: "held_payment" }),
        marketLosses: sample(text, "susu_dispute_losses_waiting", { flow: "marketplace_charge" }),
      };
    };

    it("reads the age of the oldest refund without an outcome, and the lost disputes waiting for one, per flow", async () => {
      clock.advanceTo(T + 50 * DAY);
      const start = clock.now();
      // Everything so far ended its refunds (or made none): nothing waits.
      expect(await scrape()).toEqual({ held: 0, market: 0, heldLosses: 0, marketLosses: 0 });

      const made = createHeldPayment(
        {
          id: "hp_rf",
          requestedBy: "app_1",
          clientReference: "booking_hp_rf",
          amountMinor: 10_000,
          currency: "AUD",
          seller: { id: "sel", connectedAccountId: "acct_sel", canReceive: true },
          description: "One night",
          customer: { email: "cy@example.com" },
          fee: { kind: "rate", basisPoints: 1_000 },
          successUrl: "https://app.example/done",
        },
        { now: start, policy: heldPolicy },
      )._unsafeUnwrap().state;
      // Paid, then a partial refund asked of Stripe (its answer `pending`: no outcome).
      let held = await heldStep(
        made,
        undefined,
        { type: "checkout_session_created", sessionId: "cs_hp_rf", url: "https://checkout.example/hp_rf" },
        {
          type: "checkout_completed",
          sessionId: "cs_hp_rf",
          paymentIntentId: "pi_hp_rf",
          paymentStatus: "succeeded",
          chargeId: "ch_hp_rf",
        },
        { type: "refund", by: "ops", amountMinor: 3_000 },
      );
      clock.advanceTo(start + 5 * DAY);
      expect(await scrape()).toMatchObject({ held: (5 * DAY) / 1000, heldLosses: 0, market: 0 });

      // A dispute opened and closed lost meanwhile: its loss waits for the refund.
      held = await heldStep(
        held,
        held.version,
        {
          type: "dispute_created",
          disputeId: "dp_rf",
          amountMinor: 10_000,
          reason: "fraudulent",
          stripeStatus: "needs_response",
        },
        { type: "dispute_closed", disputeId: "dp_rf", outcome: "lost", amountMinor: 10_000 },
      );
      expect(await scrape()).toMatchObject({ held: (5 * DAY) / 1000, heldLosses: 1 });

      // A marketplace charge's refund asked a day ago waits too, in its own flow.
      let charge = createMarketplaceCharge(
        {
          id: "mc_rf",
          clientReference: "rsvp_mc_rf",
          requestedBy: "app_1",
          activityId: "act_1",
          purpose: "rsvp",
          description: "Pottery class",
          amountMinor: 10_000,
          currency: "AUD",
          customer: { id: "cus", stripeCustomerId: "cus_stripe", email: "cy@example.com" },
          paymentMethod: { kind: "saved_card", paymentMethodId: "pm_1" },
          fee: { kind: "rate", basisPoints: 1_000 },
          sellers: [{ id: "sel_2", connectedAccountId: "acct_sel_2" }],
        },
        { now: clock.now(), policy: marketPolicy },
      )._unsafeUnwrap().state;
      const chargeEffects: MarketplaceChargeEffect[] = [];
      for (const input of [
        {
          type: "payment_succeeded",
          paymentIntentId: "pi_mc_rf",
          chargeId: "ch_mc_rf",
          transferId: "tr_mc_rf",
        },
        { type: "refund", initiatedBy: "platform", by: "ops", reason: "cancelled" },
      ] satisfies MarketplaceChargeInput[]) {
        const d = decideMarketplaceCharge(charge, input, { now: clock.now(), policy: marketPolicy });
        charge = d._unsafeUnwrap().state;
        chargeEffects.push(...d._unsafeUnwrap().effects);
      }
      (
        await store.commit({
          ...empty,
          marketplaceCharges: [{ state: charge, expectedVersion: undefined }],
          outbox: chargeEffects,
        })
      )._unsafeUnwrap();
      clock.advanceTo(start + 6 * DAY);
      expect(await scrape()).toEqual({
        held: (6 * DAY) / 1000,
        market: DAY / 1000,
        heldLosses: 1,
        marketLosses: 0,
      });

      // Stripe's word comes at last: the refund failed (the charge was disputed); the loss closes.
      await heldStep(held, held.version, {
        type: "refund_failed",
        refund: 1,
        attempt: 1,
        failureCode: "charge_for_pending_refund_disputed",
      });
      expect(await scrape()).toEqual({ held: 0, market: DAY / 1000, heldLosses: 0, marketLosses: 0 });
    });
  });

  it("reads the open work through indexes, so a scrape's cost follows the open rows and not the history", async () => {
    const plan = (text: string, values: readonly unknown[] = []) =>
      db.prisma.$transaction(async (tx) => {
        // With a handful of rows a sequential scan is cheapest; forbid it to see whether an
        // index can serve the query at all.
        await tx.$executeRaw`SET LOCAL enable_seqscan = off`;
        const lines = await tx.$queryRawUnsafe<{ "QUERY PLAN": string }[]>(`EXPLAIN ${text}`, ...values);
        return lines.map((line) => line["QUERY PLAN"]).join("\n");
      });
    const now = [clock.now()];
    expect(await plan(HELD_FUNDS_BY_AGE_SQL, now)).toContain("held_payments_status_created_at_id_idx");
    expect(await plan(OLDEST_OVERDUE_RELEASE_SQL, now)).toContain("held_payments_status_created_at_id_idx");
    expect(await plan(OLDEST_PENDING_EFFECT_SQL)).toContain("outbox_effects_due_idx");
    expect(await plan(OLDEST_UNPROCESSED_WEBHOOK_SQL)).toContain("webhook_events_due_idx");
    expect(await plan(OPEN_TICKETS_BY_KIND_SQL)).toContain("support_tickets_status_created_at_idx");
    const refunds = await plan(REFUNDS_IN_FLIGHT_SQL);
    expect(refunds).toContain("held_payments_refund_in_flight_idx");
    expect(refunds).toContain("marketplace_charges_refund_in_flight_idx");
  });
});
