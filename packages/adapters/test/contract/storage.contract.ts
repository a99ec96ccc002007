// The storage contract: what every implementation of the domain's storage ports must do.
// Run against the in-memory store (test/memory) and PostgreSQL (test/prisma).
import {
  type AuditEntry,
  type AuditLog,
  type Changeset,
  type CreateHeldPayment,
  type CreateMarketplaceCharge,
  closeGroup,
  createHeldPayment,
  createLedgerTransaction,
  createMarketplaceCharge,
  credit,
  DEFAULT_HELD_PAYMENT_POLICY,
  DEFAULT_MARKETPLACE_POLICY,
  DEFAULT_ROUND_POLICY,
  type DueGroupCursor,
  debit,
  decide,
  decideHeldPayment,
  decideMarketplaceCharge,
  dueGroupCursor,
  type Group,
  type GroupRepository,
  HELD_PAYMENT_AGGREGATE,
  type HeldPayment,
  type HeldPaymentEffect,
  type HeldPaymentInput,
  type HeldPaymentRepository,
  INTERRUPTED_BEFORE,
  type Instant,
  interruptedTry,
  type LedgerStore,
  type LedgerTransaction,
  type MarketplaceCharge,
  type MarketplaceChargeEffect,
  type MarketplaceChargeInput,
  type MarketplaceChargeRepository,
  markRoundEnded,
  markRoundOpened,
  money,
  nextRoundOpensAt,
  type OutboxEffect,
  type OutboxOperations,
  type OutboxStore,
  type PayoutPause,
  type PayoutPauseChange,
  type PayoutRecord,
  type PayoutRepository,
  type PayoutRequest,
  type PayoutStatus,
  type Person,
  type PersonRepository,
  pauseGroup,
  pauseGroupByAdmin,
  type Round,
  type RoundInput,
  type RoundRepository,
  reassignPosition,
  reversalReserve,
  type UnitOfWork,
  type VersionedChange,
} from "@susu/domain";
import { anActiveGroup, aReadyPerson, aRoundOf, debitFailed, debitSucceeded } from "@susu/domain/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

/** The storage ports of one implementation, fresh and empty for each test. */
export interface StoragePorts {
  readonly people: PersonRepository;
  readonly groups: GroupRepository;
  readonly rounds: RoundRepository;
  readonly heldPayments: HeldPaymentRepository;
  readonly payouts: PayoutRepository;
  readonly marketplaceCharges: MarketplaceChargeRepository;
  readonly uow: UnitOfWork;
  readonly audit: AuditLog;
  /** The dispatcher's side, and the operators' list (to see an effect's last error). */
  readonly outbox: OutboxStore & Pick<OutboxOperations, "listOutbox" | "requeueParked">;
  readonly ledger: LedgerStore;
}

/** Makes empty storage for a test, and cleans it up afterwards. */
export interface StorageFactory {
  create(): Promise<StoragePorts>;
  destroy?(ports: StoragePorts): Promise<void>;
}

const T = Date.UTC(2026, 0, 6);
const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };

/** The people behind the groups' members, new (onboarded, see `aReadyPerson`): stored with the groups. */
const newPeopleOf = (...groups: readonly Group[]): VersionedChange<Person>[] =>
  [...new Set(groups.flatMap((g) => g.members.map((m) => m.id)))].map((id) => ({
    state: aReadyPerson(id),
    expectedVersion: undefined,
  }));

const timer = (id: string, at = T, aggregateId = "round_1"): OutboxEffect => ({
  kind: "schedule_timer",
  id,
  aggregate: "round",
  aggregateId,
  at,
  timer: { kind: "collection_deadline" },
});

const HOUR = 3_600_000;

/** A client app's `create` command for a held payment of seller `sel` (see {@link heldPayment}). */
const heldCommand = (over: Partial<CreateHeldPayment> = {}): CreateHeldPayment => ({
  id: "hp_1",
  requestedBy: "app_1",
  clientReference: "booking_1",
  amountMinor: 10_000,
  currency: "AUD",
  seller: { id: "sel", connectedAccountId: "acct_sel", canReceive: true },
  description: "Two nights",
  customer: { email: "cy@example.com", name: "Cy" },
  fee: { kind: "rate", basisPoints: 1_000 },
  successUrl: "https://app.example/done",
  ...over,
});

/** A held payment as the domain makes it, with the effects of its decisions so far. */
interface HeldRun {
  readonly state: HeldPayment;
  readonly effects: readonly HeldPaymentEffect[];
}

/** A new held payment, created at `now` (awaiting payment). */
function heldPayment(over: Partial<CreateHeldPayment> = {}, now: Instant = T): HeldRun {
  const created = createHeldPayment(heldCommand(over), { now, policy: DEFAULT_HELD_PAYMENT_POLICY });
  const { state, effects } = created._unsafeUnwrap();
  return { state, effects };
}

/** `inputs` decided in turn at `now` by the domain; each must apply (none ignored). */
function heldStep(from: HeldRun, now: Instant, ...inputs: readonly HeldPaymentInput[]): HeldRun {
  let run = from;
  for (const input of inputs) {
    const decided = decideHeldPayment(run.state, input, {
      now,
      policy: DEFAULT_HELD_PAYMENT_POLICY,
    })._unsafeUnwrap();
    expect(decided.ignored, input.type).toBeUndefined();
    run = { state: decided.state, effects: [...run.effects, ...decided.effects] };
  }
  return run;
}

/** The Checkout Session's answer and the customer's payment: the payment is held. */
const paidInputs = (id: string): HeldPaymentInput[] => [
  { type: "checkout_session_created", sessionId: `cs_${id}`, url: `https://checkout.example/${id}` },
  {
    type: "checkout_completed",
    sessionId: `cs_${id}`,
    paymentIntentId: `pi_${id}`,
    paymentStatus: "succeeded",
    chargeId: `ch_${id}`,
  },
];

/** The ledger postings among a held payment's effects: the outbox rows every store knows today. */
const postings = (effects: readonly HeldPaymentEffect[]): OutboxEffect[] =>
  effects.filter((e): e is Extract<OutboxEffect, { kind: "post_ledger" }> => e.kind === "post_ledger");

/**
 * An audit line about a held payment. AuditEntry's `aggregate` does not name held payments
 * yet (the held payment's wiring widens it); storage keeps any aggregate's lines alike.
 */
const heldAudit = (id: string, action: string): AuditEntry => ({
  at: T,
  aggregate: HELD_PAYMENT_AGGREGATE as unknown as AuditEntry["aggregate"],
  aggregateId: id,
  action,
  outcome: "applied",
  actor: "app_1",
});

const newHeld = (state: HeldPayment): VersionedChange<HeldPayment> => ({ state, expectedVersion: undefined });

/** A client app's `create` command for a marketplace charge: 100.00 AUD from `cus` to seller `sel` (one seller: a destination charge). */
const chargeCommand = (over: Partial<CreateMarketplaceCharge> = {}): CreateMarketplaceCharge => ({
  id: "mc_1",
  clientReference: "rsvp_1",
  requestedBy: "app_1",
  activityId: "act_1",
  purpose: "rsvp",
  description: "Pottery class",
  amountMinor: 10_000,
  currency: "AUD",
  customer: { id: "cus", stripeCustomerId: "cus_stripe", email: "cy@example.com" },
  paymentMethod: { kind: "saved_card", paymentMethodId: "pm_1" },
  fee: { kind: "rate", basisPoints: 1_000 },
  sellers: [{ id: "sel", connectedAccountId: "acct_sel" }],
  ...over,
});

/** Three co-hosts weighted 2:1:1: a split (separate charges and transfers). */
const coHosts: CreateMarketplaceCharge["sellers"] = [
  { id: "sel", connectedAccountId: "acct_sel", weight: 2 },
  { id: "sel_2", connectedAccountId: "acct_sel_2", weight: 1 },
  { id: "sel_3", connectedAccountId: "acct_sel_3", weight: 1 },
];

/** A marketplace charge as the domain makes it, with the effects of its decisions so far. */
interface ChargeRun {
  readonly state: MarketplaceCharge;
  readonly effects: readonly MarketplaceChargeEffect[];
}

/** A new marketplace charge, created at `now` (awaiting payment). */
function marketplaceCharge(over: Partial<CreateMarketplaceCharge> = {}, now: Instant = T): ChargeRun {
  const created = createMarketplaceCharge(chargeCommand(over), { now, policy: DEFAULT_MARKETPLACE_POLICY });
  const { state, effects } = created._unsafeUnwrap();
  return { state, effects };
}

/** `inputs` decided in turn at `now` by the domain; each must apply (none ignored). */
function chargeStep(from: ChargeRun, now: Instant, ...inputs: readonly MarketplaceChargeInput[]): ChargeRun {
  let run = from;
  for (const input of inputs) {
    const decided = decideMarketplaceCharge(run.state, input, {
      now,
      policy: DEFAULT_MARKETPLACE_POLICY,
    })._unsafeUnwrap();
    expect(decided.ignored, input.type).toBeUndefined();
    run = { state: decided.state, effects: [...run.effects, ...decided.effects] };
  }
  return run;
}

/** The payment of charge `id` succeeded (a destination charge's transfer named). */
const chargePaid = (id: string, transferId?: string): MarketplaceChargeInput => ({
  type: "payment_succeeded",
  paymentIntentId: `pi_${id}`,
  chargeId: `ch_${id}`,
  ...(transferId !== undefined ? { transferId } : {}),
});

/** Every reversal the charge asked for and has not heard of, landed. */
const reversalsLanded = (charge: MarketplaceCharge): MarketplaceChargeInput[] =>
  charge.reversals
    .filter((r) => r.status === "requested")
    .map((r) => ({
      type: "transfer_reversed",
      reversal: r.number,
      transferId: r.transferId,
      amountMinor: r.amountMinor,
    }));

/** The ledger postings among a charge's effects. */
const chargePostings = (effects: readonly MarketplaceChargeEffect[]): OutboxEffect[] =>
  effects.filter((e): e is Extract<OutboxEffect, { kind: "post_ledger" }> => e.kind === "post_ledger");

const chargeAudit = (id: string, action: string): AuditEntry => ({
  at: T,
  aggregate: "marketplace_charge",
  aggregateId: id,
  action,
  outcome: "applied",
  actor: "app_1",
});

const newCharge = (state: MarketplaceCharge): VersionedChange<MarketplaceCharge> => ({
  state,
  expectedVersion: undefined,
});

/** Defines the storage contract tests for `name`. */
export function storageContract(name: string, factory: StorageFactory): void {
  describe(`storage contract: ${name}`, () => {
    let s: StoragePorts;
    beforeEach(async () => {
      s = await factory.create();
    });
    afterEach(async () => {
      await factory.destroy?.(s);
    });

    describe("recorded payouts", () => {
      const payout = (
        id: string,
        status: PayoutStatus,
        createdAt: number,
        over: Partial<PayoutRecord> = {},
      ): PayoutRecord => ({
        payoutId: id,
        accountId: "acct_ana",
        personId: "ana",
        amountMinor: 12_34,
        currency: "AUD",
        status,
        arrivalDate: createdAt + 2 * 86_400_000,
        automatic: false,
        ...(status === "failed" ? { failureCode: "account_closed", failureMessage: "closed" } : {}),
        createdAt,
        updatedAt: createdAt + 1,
        ...over,
      });
      const write = async (...payouts: PayoutRecord[]) =>
        (await s.uow.commit({ ...empty, payouts }))._unsafeUnwrap();

      beforeEach(async () => {
        (
          await s.uow.commit({
            ...empty,
            people: ["ana", "ben", "cy"].map((id) => ({
              state: aReadyPerson(id, { payoutsEnabled: id !== "cy" }),
              expectedVersion: undefined,
            })),
          })
        )._unsafeUnwrap();
      });

      it("keeps the furthest status: a late earlier status never overwrites a later one", async () => {
        await write(payout("po_1", "paid", T));
        await write(payout("po_1", "pending", T));
        await write(payout("po_1", "in_transit", T));
        expect((await s.payouts.getPayout("po_1"))._unsafeUnwrap()).toEqual(payout("po_1", "paid", T));
        await write(payout("po_1", "failed", T, { updatedAt: T + 9 }));
        expect((await s.payouts.getPayout("po_1"))._unsafeUnwrap()).toEqual(
          payout("po_1", "failed", T, { updatedAt: T + 9 }),
        );
        await write(payout("po_1", "canceled", T));
        expect((await s.payouts.getPayout("po_1"))._unsafeUnwrap()?.status).toBe("failed");
        expect((await s.payouts.getPayout("po_missing"))._unsafeUnwrap()).toBeUndefined();
      });

      it("pages a person's payouts newest first; a cursor of someone else's payout reads nothing", async () => {
        await write(
          payout("po_a", "paid", T),
          payout("po_b", "pending", T + 1_000),
          payout("po_c", "pending", T + 1_000),
        );
        await write(payout("po_ben", "paid", T + 5_000, { personId: "ben", accountId: "acct_ben" }));
        const first = (await s.payouts.listPayoutsOfPerson({ personId: "ana", limit: 2 }))._unsafeUnwrap();
        expect(first.items.map((p) => p.payoutId)).toEqual(["po_c", "po_b"]);
        expect(first.hasMore).toBe(true);
        const rest = (
          await s.payouts.listPayoutsOfPerson({ personId: "ana", limit: 2, startingAfter: "po_b" })
        )._unsafeUnwrap();
        expect(rest).toEqual({ items: [payout("po_a", "paid", T)], hasMore: false });
        expect(
          (
            await s.payouts.listPayoutsOfPerson({ personId: "ana", limit: 2, startingAfter: "po_ben" })
          )._unsafeUnwrap(),
        ).toEqual({ items: [], hasMore: false });
      });

      it("lists the payouts to recheck: in flight, or paid with a recent arrival, by id in pages", async () => {
        await write(
          payout("po_1", "pending", T),
          payout("po_2", "in_transit", T - 30 * 86_400_000),
          payout("po_3", "paid", T),
          payout("po_4", "paid", T - 1),
          payout("po_5", "failed", T),
          payout("po_6", "canceled", T),
          payout("po_7", "paid", T, { personId: "ben", accountId: "acct_ben" }),
        );
        // Paid ones arriving at or after T + 2 days (their arrival is two days after creation).
        const paidSince = T + 2 * 86_400_000;
        const first = (await s.payouts.listPayoutsToRecheck({ paidSince, limit: 2 }))._unsafeUnwrap();
        expect(first.map((p) => p.payoutId)).toEqual(["po_1", "po_2"]);
        const rest = (
          await s.payouts.listPayoutsToRecheck({ paidSince, limit: 10, startingAfter: "po_2" })
        )._unsafeUnwrap();
        expect(rest.map((p) => p.payoutId)).toEqual(["po_3", "po_7"]);
        expect(rest[0]).toEqual(payout("po_3", "paid", T));
      });

      it("keeps a payout request's furthest outcome and lists the ones still asked, by key in pages", async () => {
        const asked = (key: string, over: Partial<PayoutRequest> = {}): PayoutRequest => ({
          key,
          accountId: "acct_ana",
          personId: "ana",
          amountMinor: 12_00,
          currency: "AUD",
          runId: "payoutrun_1",
          status: "asked",
          askedAt: T,
          updatedAt: T,
          ...over,
        });
        const put = async (...payoutRequests: PayoutRequest[]) =>
          (await s.uow.commit({ ...empty, payoutRequests }))._unsafeUnwrap();
        await put(asked("k1"), asked("k2"), asked("k3"), asked("k4"));
        // Another run recording `asked` again under a key changes nothing.
        await put(asked("k1", { runId: "payoutrun_2", amountMinor: 99_00, askedAt: T + 5 }));
        expect((await s.payouts.getPayoutRequest("k1"))._unsafeUnwrap()).toEqual(asked("k1"));
        await put(asked("k2", { status: "made", payoutId: "po_2", updatedAt: T + 1 }));
        await put(asked("k3", { status: "not_made", updatedAt: T + 2 }));
        // A final outcome stays; not_made still becomes made (the payout turned up after all).
        await put(
          asked("k2", { status: "refused", updatedAt: T + 3 }),
          asked("k3", { status: "made", payoutId: "po_3" }),
        );
        expect((await s.payouts.getPayoutRequest("k2"))._unsafeUnwrap()).toMatchObject({
          status: "made",
          payoutId: "po_2",
        });
        expect((await s.payouts.getPayoutRequest("k3"))._unsafeUnwrap()).toMatchObject({
          status: "made",
          payoutId: "po_3",
        });
        expect((await s.payouts.getPayoutRequest("k_missing"))._unsafeUnwrap()).toBeUndefined();
        const first = (await s.payouts.listPayoutRequestsToResolve({ limit: 1 }))._unsafeUnwrap();
        expect(first).toEqual([asked("k1")]);
        const rest = (
          await s.payouts.listPayoutRequestsToResolve({ limit: 10, startingAfter: "k1" })
        )._unsafeUnwrap();
        expect(rest.map((r) => r.key)).toEqual(["k4"]);
      });

      it("keeps the payout pauses in force: set, set again with a new reason, cleared, each scope its own", async () => {
        const pause = (scope: PayoutPause["scope"], reason: string, at = T): PayoutPause => ({
          scope,
          reason,
          pausedBy: "olga",
          pausedAt: at,
        });
        const change = async (...payoutPauses: PayoutPauseChange[]) =>
          (await s.uow.commit({ ...empty, payoutPauses }))._unsafeUnwrap();
        const listed = async () =>
          [...(await s.payouts.listPayoutPauses())._unsafeUnwrap()].sort((a, b) =>
            JSON.stringify(a.scope) < JSON.stringify(b.scope) ? -1 : 1,
          );
        expect(await listed()).toEqual([]);
        const platform = { kind: "platform" } as const;
        const ana = { kind: "person", personId: "ana" } as const;
        await change(
          { scope: platform, pause: pause(platform, "bank holiday") },
          { scope: ana, pause: pause(ana, "fraud review") },
        );
        expect(await listed()).toEqual([pause(ana, "fraud review"), pause(platform, "bank holiday")]);
        await change({ scope: platform, pause: pause(platform, "still reconciling", T + 5) });
        await change({ scope: ana });
        expect(await listed()).toEqual([pause(platform, "still reconciling", T + 5)]);
        // Clearing what is not paused changes nothing.
        await change({ scope: ana }, { scope: platform });
        await change({ scope: platform });
        expect(await listed()).toEqual([]);
      });

      it("lists the people whose account can pay out, by id, in pages", async () => {
        const first = (await s.payouts.listPayoutAccounts({ limit: 1 }))._unsafeUnwrap();
        expect(first.map((a) => a.personId)).toEqual(["ana"]);
        const next = (
          await s.payouts.listPayoutAccounts({ limit: 10, startingAfter: "ana" })
        )._unsafeUnwrap();
        expect(next).toEqual([{ personId: "ben", connectedAccountId: expect.stringMatching(/^acct_/) }]);
      });
    });

    it("stores a new group and reads it back whole, at version 0", async () => {
      const group = anActiveGroup();
      (
        await s.uow.commit({
          ...empty,
          people: newPeopleOf(group),
          groups: [{ state: group, expectedVersion: undefined }],
        })
      )._unsafeUnwrap();
      const loaded = (await s.groups.getGroup(group.id))._unsafeUnwrap();
      expect(loaded).toEqual({ ...group, version: 0 });
      expect((await s.groups.getGroup("grp_missing"))._unsafeUnwrap()).toBeUndefined();
    });

    it("stores a round with its contributions, attempts and payouts, and lists a group's rounds in order", async () => {
      const group = anActiveGroup();
      const r1 = aRoundOf(group, [
        { type: "debit_processing", memberId: "ana", attempt: 1, paymentIntentId: "pi_1" },
        {
          type: "debit_failed",
          memberId: "ben",
          attempt: 1,
          paymentIntentId: "pi_2",
          failureCode: "insufficient_funds",
        },
      ]);
      const r0 = { ...aRoundOf(group, [], { id: "round_0" }), sequence: 0 };
      const r1later = { ...r1, sequence: 1 };
      (
        await s.uow.commit({
          ...empty,
          people: newPeopleOf(group),
          groups: [{ state: group, expectedVersion: undefined }],
          rounds: [
            { state: r1later, expectedVersion: undefined },
            { state: r0, expectedVersion: undefined },
          ],
        })
      )._unsafeUnwrap();
      expect((await s.rounds.getRound(r1.id))._unsafeUnwrap()).toEqual({ ...r1later, version: 0 });
      const listed = (await s.rounds.listRoundsOfGroup(group.id))._unsafeUnwrap();
      expect(listed.map((r) => r.id)).toEqual(["round_0", "round_1"]);
    });

    it("stores every step of a round's life whole: retried debits, payouts replaced by a retry, paid out", async () => {
      const group = anActiveGroup();
      let round = aRoundOf(group);
      (
        await s.uow.commit({
          ...empty,
          people: newPeopleOf(group),
          groups: [{ state: group, expectedVersion: undefined }],
          rounds: [{ state: round, expectedVersion: undefined }],
        })
      )._unsafeUnwrap();
      const ctx = { now: T, policy: DEFAULT_ROUND_POLICY };
      const steps: RoundInput[][] = [
        ["ana", "ben", "cy"].map((m) => ({
          type: "debit_processing" as const,
          memberId: m,
          attempt: 1,
          paymentIntentId: `pi_${m}`,
        })),
        [{ type: "debit_failed", memberId: "ben", attempt: 1, failureCode: "insufficient_funds" }],
        [{ type: "timer", timer: { kind: "retry_debit", memberId: "ben", attempt: 2 } }],
        [{ type: "debit_processing", memberId: "ben", attempt: 2, paymentIntentId: "pi_ben_2" }],
        [
          {
            type: "debit_succeeded",
            memberId: "ana",
            attempt: 1,
            paymentIntentId: "pi_ana",
            chargeId: "ch_ana",
          },
          {
            type: "debit_succeeded",
            memberId: "ben",
            attempt: 2,
            paymentIntentId: "pi_ben_2",
            chargeId: "ch_ben",
          },
          {
            type: "debit_succeeded",
            memberId: "cy",
            attempt: 1,
            paymentIntentId: "pi_cy",
            chargeId: "ch_cy",
          },
        ],
        [
          { type: "transfer_failed", sourceMemberId: "ana", attempt: 1, failureCode: "balance_insufficient" },
          { type: "transfer_created", sourceMemberId: "ben", attempt: 1, transferId: "tr_ben" },
          { type: "transfer_created", sourceMemberId: "cy", attempt: 1, transferId: "tr_cy" },
        ],
        [{ type: "timer", timer: { kind: "retry_payout", attempt: 2 } }],
        [{ type: "transfer_created", sourceMemberId: "ana", attempt: 2, transferId: "tr_ana" }],
      ];
      for (const inputs of steps) {
        const before: Round = round;
        for (const input of inputs) {
          const decided = decide(round, input, ctx)._unsafeUnwrap();
          expect(decided.ignored, JSON.stringify(input)).toBeUndefined();
          round = decided.state;
        }
        const version = before.version + 1;
        (
          await s.uow.commit({ ...empty, rounds: [{ state: round, expectedVersion: before.version }] })
        )._unsafeUnwrap();
        round = { ...round, version };
        expect((await s.rounds.getRound(round.id))._unsafeUnwrap()).toEqual(round);
      }
      expect(round.status).toBe("paid_out");
      expect(round.payouts.map((p) => [p.sourceMemberId, p.attempt, p.status])).toEqual([
        ["ana", 2, "created"],
        ["ben", 1, "created"],
        ["cy", 1, "created"],
      ]);
    });

    it("stores a round whose member disputed a contribution after its refund failed, and books the rest as owed to them", async () => {
      const group = anActiveGroup({ memberIds: ["ana", "ben"] });
      const opened = aRoundOf(group);
      (
        await s.uow.commit({
          ...empty,
          people: newPeopleOf(group),
          groups: [{ state: group, expectedVersion: undefined }],
          rounds: [{ state: opened, expectedVersion: undefined }],
        })
      )._unsafeUnwrap();
      const at = opened.collectionDeadlineAt ?? T;
      let round = opened;
      const effects: OutboxEffect[] = [];
      for (const input of [
        debitSucceeded("ana"),
        // Ben's debit failed for good: the round refunds Ana at once.
        debitFailed("ben", "account_closed"),
        { type: "refund_succeeded", memberId: "ana", refundId: "re_ana" },
        { type: "refund_failed", memberId: "ana", failureCode: "account_closed" },
        { type: "dispute_opened", memberId: "ana", disputeId: "dp_ana", amountMinor: 1_000, attempt: 1 },
      ] satisfies RoundInput[]) {
        const decided = decide(round, input, { now: at, policy: DEFAULT_ROUND_POLICY })._unsafeUnwrap();
        expect(decided.ignored, JSON.stringify(input)).toBeUndefined();
        round = decided.state;
        for (const e of decided.effects) if (e.kind === "post_ledger") effects.push(e);
      }
      (
        await s.uow.commit({
          ...empty,
          rounds: [{ state: round, expectedVersion: opened.version }],
          outbox: effects,
        })
      )._unsafeUnwrap();
      const stored = (await s.rounds.getRound(round.id))._unsafeUnwrap();
      expect(stored).toEqual({ ...round, version: opened.version + 1 });
      expect(stored?.contributions.find((c) => c.memberId === "ana")?.status).toBe("disputed");
      const claimed = (await s.outbox.claimDue("w", at + 1, 60_000, 100))._unsafeUnwrap();
      expect(claimed.map((r) => r.effect)).toEqual(effects);
      const transactions = effects.flatMap((e) => (e.kind === "post_ledger" ? [e.transaction] : []));
      expect(transactions.map((t) => t.kind).slice(-3)).toEqual([
        "contribution_refund_failed",
        "contribution_refunded",
        "contribution_owed_to_member",
      ]);
      for (const t of [...transactions, ...transactions]) (await s.ledger.post(t))._unsafeUnwrap();
      const balance = async (name: string) =>
        (await s.ledger.balance(`round:${round.id}:${name}`, "AUD"))._unsafeUnwrap().amountMinor;
      expect([
        await balance("pot"),
        await balance("refunds:ana"),
        await balance("owed_to_member:ana"),
      ]).toEqual([0, 1_000, 9_000]);
    });

    it("stores a group whose payout positions were swapped, and a paused one", async () => {
      const group = anActiveGroup();
      (
        await s.uow.commit({
          ...empty,
          people: newPeopleOf(group),
          groups: [{ state: group, expectedVersion: undefined }],
        })
      )._unsafeUnwrap();
      const swapped = reassignPosition(group, "ana", "cy")._unsafeUnwrap();
      (await s.uow.commit({ ...empty, groups: [{ state: swapped, expectedVersion: 0 }] }))._unsafeUnwrap();
      expect((await s.groups.getGroup(group.id))._unsafeUnwrap()).toEqual({ ...swapped, version: 1 });
      const paused = pauseGroup(swapped, "payout blocked");
      (await s.uow.commit({ ...empty, groups: [{ state: paused, expectedVersion: 1 }] }))._unsafeUnwrap();
      expect((await s.groups.getGroup(group.id))._unsafeUnwrap()).toEqual({ ...paused, version: 2 });
    });

    it("stores an admin's pause and a closure whole (who, when, why); a closed group is never due", async () => {
      const group = anActiveGroup({ id: "grp_closing", startsAt: T - 1 });
      (
        await s.uow.commit({
          ...empty,
          people: newPeopleOf(group),
          groups: [{ state: group, expectedVersion: undefined }],
        })
      )._unsafeUnwrap();
      const paused = pauseGroupByAdmin(group, { operator: "ops" }, "checking", T)._unsafeUnwrap();
      (await s.uow.commit({ ...empty, groups: [{ state: paused, expectedVersion: 0 }] }))._unsafeUnwrap();
      expect((await s.groups.getGroup(group.id))._unsafeUnwrap()).toEqual({ ...paused, version: 1 });
      const closed = closeGroup(paused, "ana", "done", T)._unsafeUnwrap();
      (await s.uow.commit({ ...empty, groups: [{ state: closed, expectedVersion: 1 }] }))._unsafeUnwrap();
      expect((await s.groups.getGroup(group.id))._unsafeUnwrap()).toEqual({ ...closed, version: 2 });
      expect((await s.groups.findGroupsDueForRound(T, 10))._unsafeUnwrap().map((g) => g.id)).not.toContain(
        group.id,
      );
    });

    it("increments the version on every change and refuses a stale one (version_conflict)", async () => {
      const group = anActiveGroup();
      (
        await s.uow.commit({
          ...empty,
          people: newPeopleOf(group),
          groups: [{ state: group, expectedVersion: undefined }],
        })
      )._unsafeUnwrap();
      const renamed = { ...group, name: "Renamed" };
      (await s.uow.commit({ ...empty, groups: [{ state: renamed, expectedVersion: 0 }] }))._unsafeUnwrap();
      expect((await s.groups.getGroup(group.id))._unsafeUnwrap()).toMatchObject({
        name: "Renamed",
        version: 1,
      });
      const stale = await s.uow.commit({
        ...empty,
        groups: [{ state: { ...group, name: "Lost" }, expectedVersion: 0 }],
      });
      expect(stale._unsafeUnwrapErr()).toMatchObject({
        type: "version_conflict",
        aggregate: "group",
        id: group.id,
      });
      const twice = await s.uow.commit({ ...empty, groups: [{ state: group, expectedVersion: undefined }] });
      expect(twice._unsafeUnwrapErr().type).toBe("version_conflict");
      expect((await s.groups.getGroup(group.id))._unsafeUnwrap()).toMatchObject({
        name: "Renamed",
        version: 1,
      });
    });

    it("is all or nothing: a conflict on one aggregate stores none of the changeset", async () => {
      const group = anActiveGroup();
      const round = aRoundOf(group);
      (
        await s.uow.commit({
          ...empty,
          people: newPeopleOf(group),
          groups: [{ state: group, expectedVersion: undefined }],
        })
      )._unsafeUnwrap();
      const failed = await s.uow.commit({
        people: [{ state: aReadyPerson("dee"), expectedVersion: undefined }],
        groups: [{ state: { ...group, name: "Changed" }, expectedVersion: 0 }],
        rounds: [{ state: round, expectedVersion: 3 }],
        outbox: [timer("t1")],
        audit: [
          {
            at: T,
            aggregate: "round",
            aggregateId: round.id,
            action: "open",
            outcome: "applied",
            actor: "test",
          },
        ],
      });
      expect(failed.isErr()).toBe(true);
      expect((await s.groups.getGroup(group.id))._unsafeUnwrap()).toMatchObject({
        name: "Test group",
        version: 0,
      });
      expect((await s.rounds.getRound(round.id))._unsafeUnwrap()).toBeUndefined();
      expect((await s.people.getPerson("dee"))._unsafeUnwrap()).toBeUndefined();
      expect((await s.outbox.claimDue("w", T + 1, 60_000, 10))._unsafeUnwrap()).toEqual([]);
    });

    it("a round opened a second time under the same id is refused (version_conflict), storing nothing of that commit", async () => {
      // Round ids are derived from the group and the round's sequence (roundIds.round), so
      // two openings of the same round — a restore replayed, a race the group's version did
      // not catch — meet on the round's id: the second must be a conflict, not a crash or a
      // second row.
      const group = anActiveGroup();
      const round = aRoundOf(group);
      (
        await s.uow.commit({
          ...empty,
          people: newPeopleOf(group),
          groups: [{ state: group, expectedVersion: undefined }],
          rounds: [{ state: round, expectedVersion: undefined }],
        })
      )._unsafeUnwrap();
      const again = await s.uow.commit({
        ...empty,
        groups: [{ state: { ...group, name: "Opened twice" }, expectedVersion: 0 }],
        rounds: [{ state: { ...round, recipientMemberId: "ben" }, expectedVersion: undefined }],
        outbox: [timer("t-again")],
      });
      expect(again._unsafeUnwrapErr()).toMatchObject({
        type: "version_conflict",
        aggregate: "round",
        id: round.id,
      });
      expect((await s.groups.getGroup(group.id))._unsafeUnwrap()).toMatchObject({
        name: "Test group",
        version: 0,
      });
      expect((await s.rounds.getRound(round.id))._unsafeUnwrap()).toEqual({ ...round, version: 0 });
      expect((await s.rounds.listRoundsOfGroup(group.id))._unsafeUnwrap()).toHaveLength(1);
      expect((await s.outbox.claimDue("w", T + 1, 60_000, 10))._unsafeUnwrap()).toEqual([]);
    });

    it("two writers racing on one version: exactly one wins", async () => {
      const group = anActiveGroup();
      (
        await s.uow.commit({
          ...empty,
          people: newPeopleOf(group),
          groups: [{ state: group, expectedVersion: undefined }],
        })
      )._unsafeUnwrap();
      const results = await Promise.all(
        ["A", "B", "C"].map((n) =>
          s.uow.commit({ ...empty, groups: [{ state: { ...group, name: n }, expectedVersion: 0 }] }),
        ),
      );
      expect(results.filter((r) => r.isOk())).toHaveLength(1);
      expect(results.filter((r) => r.isErr() && r.error.type === "version_conflict")).toHaveLength(2);
      expect((await s.groups.getGroup(group.id))._unsafeUnwrap()?.version).toBe(1);
    });

    it("finds active groups whose next round is due and that have no round in progress", async () => {
      const due = anActiveGroup({ id: "grp_due", startsAt: T - 1 });
      const later = anActiveGroup({ id: "grp_later", startsAt: T + 86_400_000 });
      const busy = { ...anActiveGroup({ id: "grp_busy", startsAt: T - 1 }), currentRoundId: "round_x" };
      (
        await s.uow.commit({
          ...empty,
          people: newPeopleOf(due, later, busy),
          groups: [due, later, busy].map((g) => ({ state: g, expectedVersion: undefined })),
        })
      )._unsafeUnwrap();
      const found = (await s.groups.findGroupsDueForRound(T, 10))._unsafeUnwrap();
      expect(found.map((g) => g.id)).toEqual(["grp_due"]);
    });

    it("a group whose last round opened late is due a cadence after it, not at its old slot; stored whole", async () => {
      const day = 86_400_000;
      // Weekly from 30 days ago; its first round opened 3 days ago (the group was paused):
      // the second's slot (23 days ago) has passed, but it opens a week after the first did.
      const base = anActiveGroup({ id: "grp_late", startsAt: T - 30 * day });
      const opened = markRoundOpened(base, "round_late", T - 3 * day)._unsafeUnwrap();
      const late = markRoundEnded(opened, "round_late", { paidTo: "ana" })._unsafeUnwrap();
      (
        await s.uow.commit({
          ...empty,
          people: newPeopleOf(late),
          groups: [{ state: late, expectedVersion: undefined }],
        })
      )._unsafeUnwrap();
      expect((await s.groups.getGroup(late.id))._unsafeUnwrap()).toEqual(late);
      expect(nextRoundOpensAt(late)).toBe(T + 4 * day - 3_600_000);
      expect((await s.groups.findGroupsDueForRound(T, 10))._unsafeUnwrap()).toEqual([]);
      const due = (await s.groups.findGroupsDueForRound(T + 4 * day, 10))._unsafeUnwrap();
      expect(due.map((g) => g.id)).toEqual(["grp_late"]);
    });

    it("finds only active groups, up to the limit, and whole", async () => {
      const due = (id: string) => anActiveGroup({ id, startsAt: T - 1 });
      const paused = pauseGroup(due("grp_paused"), "admin asked");
      const groups = [due("grp_a"), due("grp_b"), due("grp_c"), paused];
      (
        await s.uow.commit({
          ...empty,
          people: newPeopleOf(...groups),
          groups: groups.map((g) => ({ state: g, expectedVersion: undefined })),
        })
      )._unsafeUnwrap();
      const all = (await s.groups.findGroupsDueForRound(T, 10))._unsafeUnwrap();
      expect(all.map((g) => g.id).sort()).toEqual(["grp_a", "grp_b", "grp_c"]);
      expect(all.find((g) => g.id === "grp_b")).toEqual(due("grp_b"));
      const two = (await s.groups.findGroupsDueForRound(T, 2))._unsafeUnwrap();
      expect(two).toHaveLength(2);
      expect((await s.groups.findGroupsDueForRound(T - 2, 10))._unsafeUnwrap()).toEqual([]);
    });

    it("pages through the due groups after a cursor, most overdue first, then by id, ties included", async () => {
      // Four groups share one due instant (started on the same hour), two are due earlier
      // and later; one is due after `T` and one has a round in progress.
      const at = (id: string, dueAgo: number) => anActiveGroup({ id, startsAt: T - dueAgo });
      const groups = [
        at("grp_tie_c", 5_000),
        at("grp_late", 1_000),
        at("grp_tie_a", 5_000),
        at("grp_first", 9_000),
        at("grp_tie_d", 5_000),
        at("grp_tie_b", 5_000),
        anActiveGroup({ id: "grp_future", startsAt: T + 1 }),
        { ...at("grp_busy", 7_000), currentRoundId: "round_busy" },
      ];
      (
        await s.uow.commit({
          ...empty,
          people: newPeopleOf(...groups),
          groups: groups.map((g) => ({ state: g, expectedVersion: undefined })),
        })
      )._unsafeUnwrap();
      const order = ["grp_first", "grp_tie_a", "grp_tie_b", "grp_tie_c", "grp_tie_d", "grp_late"];
      expect((await s.groups.findGroupsDueForRound(T, 10))._unsafeUnwrap().map((g) => g.id)).toEqual(order);
      // Pages of two, each after the last group of the one before: every due group once.
      const pages: string[][] = [];
      let after: DueGroupCursor | undefined;
      for (;;) {
        const page = (await s.groups.findGroupsDueForRound(T, 2, after))._unsafeUnwrap();
        if (page.length > 0) pages.push(page.map((g) => g.id));
        const last = page.at(-1);
        if (page.length < 2 || last === undefined) break;
        after = dueGroupCursor(last);
      }
      expect(pages).toEqual([
        ["grp_first", "grp_tie_a"],
        ["grp_tie_b", "grp_tie_c"],
        ["grp_tie_d", "grp_late"],
      ]);
      // A cursor between two ids of a tie, and one that names no stored group.
      const tieAt = T - 5_000;
      const afterB = { nextRoundAt: tieAt, groupId: "grp_tie_b" };
      expect((await s.groups.findGroupsDueForRound(T, 10, afterB))._unsafeUnwrap().map((g) => g.id)).toEqual([
        "grp_tie_c",
        "grp_tie_d",
        "grp_late",
      ]);
      const afterGone = { nextRoundAt: tieAt, groupId: "grp_tie_bb" };
      expect(
        (await s.groups.findGroupsDueForRound(T, 1, afterGone))._unsafeUnwrap().map((g) => g.id),
      ).toEqual(["grp_tie_c"]);
      const pastAll = { nextRoundAt: T, groupId: "grp_zzz" };
      expect((await s.groups.findGroupsDueForRound(T, 10, pastAll))._unsafeUnwrap()).toEqual([]);
    });

    describe("people", () => {
      const newPerson = (p: Person): VersionedChange<Person> => ({ state: p, expectedVersion: undefined });

      it("stores a person and reads them back whole, by id and by each Stripe object", async () => {
        const ana = aReadyPerson("ana");
        const bare: Person = { id: "ben", displayName: "Ben", createdAt: T, version: 0 };
        (await s.uow.commit({ ...empty, people: [newPerson(ana), newPerson(bare)] }))._unsafeUnwrap();
        expect((await s.people.getPerson("ana"))._unsafeUnwrap()).toEqual(ana);
        expect((await s.people.getPerson("ben"))._unsafeUnwrap()).toEqual(bare);
        expect((await s.people.getPerson("nobody"))._unsafeUnwrap()).toBeUndefined();
        expect((await s.people.findByCustomer("cus_ana"))._unsafeUnwrap()).toEqual(ana);
        expect((await s.people.findByMandate("mandate_ana"))._unsafeUnwrap()).toEqual(ana);
        expect((await s.people.findByConnectedAccount("acct_ana"))._unsafeUnwrap()).toEqual(ana);
        expect((await s.people.findByMandate("mandate_nobody"))._unsafeUnwrap()).toBeUndefined();
        const some = (await s.people.getPeople(["ben", "nobody", "ana"]))._unsafeUnwrap();
        expect(some).toEqual([bare, ana]);
        expect((await s.people.getPeople([]))._unsafeUnwrap()).toEqual([]);
      });

      it("keeps when a person's customer was first asked for, inserted and updated, with their group too", async () => {
        const asked: Person = {
          id: "dee",
          displayName: "Dee",
          customerRequestedAt: T + 1,
          createdAt: T,
          version: 0,
        };
        (await s.uow.commit({ ...empty, people: [newPerson(asked)] }))._unsafeUnwrap();
        expect((await s.people.getPerson("dee"))._unsafeUnwrap()).toEqual(asked);
        const made: Person = { ...asked, customerId: "cus_dee", customerRequestedAt: T + 2 };
        (await s.uow.commit({ ...empty, people: [{ state: made, expectedVersion: 0 }] }))._unsafeUnwrap();
        expect((await s.people.getPerson("dee"))._unsafeUnwrap()).toEqual({ ...made, version: 1 });
        // A new group's people are inserted with it (one statement): theirs is kept too.
        const group = anActiveGroup({ id: "grp_asked" });
        const people = newPeopleOf(group).map((p) => ({
          ...p,
          state: { ...p.state, customerRequestedAt: T + 3 },
        }));
        (
          await s.uow.commit({ ...empty, people, groups: [{ state: group, expectedVersion: undefined }] })
        )._unsafeUnwrap();
        const both = (await s.groups.getGroupWithPeople("grp_asked"))._unsafeUnwrap();
        expect(both?.people.map((p) => p.customerRequestedAt)).toEqual(group.members.map(() => T + 3));
      });

      it("reads a group with its members' people together: what getGroup and getPeople give, in the members' order", async () => {
        const group = anActiveGroup({ id: "grp_with_people" });
        (
          await s.uow.commit({
            ...empty,
            people: newPeopleOf(group),
            groups: [{ state: group, expectedVersion: undefined }],
          })
        )._unsafeUnwrap();
        // A member's person changed since: the read gives the person as now stored.
        const first = group.members[0]?.id as string;
        const stored = (await s.people.getPerson(first))._unsafeUnwrap() as Person;
        const changed: Person = { ...stored, displayName: "Renamed" };
        (
          await s.uow.commit({ ...empty, people: [{ state: changed, expectedVersion: stored.version }] })
        )._unsafeUnwrap();
        const both = (await s.groups.getGroupWithPeople("grp_with_people"))._unsafeUnwrap();
        const people = (await s.people.getPeople(group.members.map((m) => m.id)))._unsafeUnwrap();
        expect(both).toEqual({ group: (await s.groups.getGroup("grp_with_people"))._unsafeUnwrap(), people });
        expect(both?.people.map((p) => p.id)).toEqual(group.members.map((m) => m.id));
        expect(both?.people[0]).toMatchObject({ displayName: "Renamed", version: stored.version + 1 });
        expect((await s.groups.getGroupWithPeople("grp_nobody"))._unsafeUnwrap()).toBeUndefined();
      });

      it("increments a person's version on every change and refuses a stale one (version_conflict)", async () => {
        const ana = aReadyPerson("ana");
        (await s.uow.commit({ ...empty, people: [newPerson(ana)] }))._unsafeUnwrap();
        const disabled: Person = {
          ...ana,
          payout: { connectedAccountId: "acct_ana", payoutsEnabled: false },
        };
        (await s.uow.commit({ ...empty, people: [{ state: disabled, expectedVersion: 0 }] }))._unsafeUnwrap();
        expect((await s.people.getPerson("ana"))._unsafeUnwrap()).toEqual({ ...disabled, version: 1 });
        const stale = await s.uow.commit({ ...empty, people: [{ state: ana, expectedVersion: 0 }] });
        expect(stale._unsafeUnwrapErr()).toMatchObject({
          type: "version_conflict",
          aggregate: "person",
          id: "ana",
        });
        const again = await s.uow.commit({ ...empty, people: [newPerson(ana)] });
        expect(again._unsafeUnwrapErr()).toMatchObject({ type: "version_conflict", aggregate: "person" });
        // A person without Stripe objects any more is stored so too.
        const { customerId: _c, debit: _d, payout: _p, ...bare } = disabled;
        (await s.uow.commit({ ...empty, people: [{ state: bare, expectedVersion: 1 }] }))._unsafeUnwrap();
        expect((await s.people.getPerson("ana"))._unsafeUnwrap()).toEqual({ ...bare, version: 2 });
        expect((await s.people.findByCustomer("cus_ana"))._unsafeUnwrap()).toBeUndefined();
      });

      it("refuses a group whose member is not a person, storing nothing", async () => {
        const group = anActiveGroup({ memberIds: ["ana", "ben"] });
        const refused = await s.uow.commit({
          ...empty,
          people: [newPerson(aReadyPerson("ana"))],
          groups: [{ state: group, expectedVersion: undefined }],
        });
        expect(refused._unsafeUnwrapErr().type).toBe("storage_refused");
        expect((await s.groups.getGroup(group.id))._unsafeUnwrap()).toBeUndefined();
        expect((await s.people.getPerson("ana"))._unsafeUnwrap()).toBeUndefined();
      });

      it("a Stripe object belongs to one person: a second owner is refused (duplicate)", async () => {
        (await s.uow.commit({ ...empty, people: [newPerson(aReadyPerson("ana"))] }))._unsafeUnwrap();
        const impostor: Person = { ...aReadyPerson("ben"), customerId: "cus_ana" };
        expect(
          (await s.uow.commit({ ...empty, people: [newPerson(impostor)] }))._unsafeUnwrapErr().type,
        ).toBe("duplicate");
        expect((await s.people.getPerson("ben"))._unsafeUnwrap()).toBeUndefined();
      });

      it("lists the groups a person belongs to and has not left, by id", async () => {
        const first = anActiveGroup({ id: "grp_b", memberIds: ["ana", "ben"] });
        const second = anActiveGroup({ id: "grp_a", memberIds: ["cy", "ana"] });
        const other = anActiveGroup({ id: "grp_c", memberIds: ["ben", "cy"] });
        const withAna = anActiveGroup({ id: "grp_d", memberIds: ["ben", "ana", "cy"] });
        const leftAna = {
          ...withAna,
          members: withAna.members.map((m) => (m.id === "ana" ? { ...m, status: "left" as const } : m)),
          payoutOrder: { ...withAna.payoutOrder, memberIds: ["ben", "cy"] },
        };
        (
          await s.uow.commit({
            ...empty,
            people: newPeopleOf(first, second, other, leftAna),
            groups: [first, second, other, leftAna].map((g) => ({ state: g, expectedVersion: undefined })),
          })
        )._unsafeUnwrap();
        const ofAna = (await s.groups.listGroupsOfPerson("ana"))._unsafeUnwrap();
        expect(ofAna.map((g) => g.id)).toEqual(["grp_a", "grp_b"]);
        expect(ofAna[1]).toEqual({ ...first, version: 0 });
        expect((await s.groups.listGroupsOfPerson("nobody"))._unsafeUnwrap()).toEqual([]);
      });
    });

    describe("held payments", () => {
      const seller = (id = "sel"): VersionedChange<Person> => ({
        state: aReadyPerson(id),
        expectedVersion: undefined,
      });
      const heldSubject = (id: string) => [{ aggregate: heldAudit(id, "").aggregate, aggregateId: id }];

      it("stores a new held payment and reads it back whole, by id and by the caller's reference", async () => {
        const { state } = heldPayment();
        (
          await s.uow.commit({ ...empty, people: [seller()], heldPayments: [newHeld(state)] })
        )._unsafeUnwrap();
        expect((await s.heldPayments.getHeldPayment("hp_1"))._unsafeUnwrap()).toEqual(state);
        expect(
          (await s.heldPayments.findHeldPaymentByReference("app_1", "booking_1"))._unsafeUnwrap(),
        ).toEqual(state);
        expect((await s.heldPayments.getHeldPayment("hp_missing"))._unsafeUnwrap()).toBeUndefined();
        // The reference is the caller's own: another caller's, or another reference, is another payment.
        expect(
          (await s.heldPayments.findHeldPaymentByReference("app_2", "booking_1"))._unsafeUnwrap(),
        ).toBeUndefined();
        expect(
          (await s.heldPayments.findHeldPaymentByReference("app_1", "booking_2"))._unsafeUnwrap(),
        ).toBeUndefined();
      });

      it("increments a held payment's version on every change and refuses a stale one (version_conflict)", async () => {
        const created = heldPayment();
        (
          await s.uow.commit({ ...empty, people: [seller()], heldPayments: [newHeld(created.state)] })
        )._unsafeUnwrap();
        const held = heldStep(created, T + HOUR, ...paidInputs("hp_1")).state;
        (
          await s.uow.commit({ ...empty, heldPayments: [{ state: held, expectedVersion: 0 }] })
        )._unsafeUnwrap();
        expect((await s.heldPayments.getHeldPayment("hp_1"))._unsafeUnwrap()).toEqual({
          ...held,
          version: 1,
        });
        const stale = await s.uow.commit({ ...empty, heldPayments: [{ state: held, expectedVersion: 0 }] });
        expect(stale._unsafeUnwrapErr()).toMatchObject({
          type: "version_conflict",
          aggregate: "held_payment",
          id: "hp_1",
        });
        const again = await s.uow.commit({ ...empty, heldPayments: [newHeld(created.state)] });
        expect(again._unsafeUnwrapErr()).toMatchObject({ type: "version_conflict", id: "hp_1" });
        const missing = await s.uow.commit({
          ...empty,
          heldPayments: [{ state: { ...held, id: "hp_gone" }, expectedVersion: 0 }],
        });
        expect(missing._unsafeUnwrapErr()).toMatchObject({ type: "version_conflict", id: "hp_gone" });
        expect((await s.heldPayments.getHeldPayment("hp_1"))._unsafeUnwrap()).toEqual({
          ...held,
          version: 1,
        });
      });

      it("one payment per caller's reference: another under a taken reference is a duplicate, and nothing of its changeset is stored", async () => {
        const first = heldPayment();
        (
          await s.uow.commit({ ...empty, people: [seller()], heldPayments: [newHeld(first.state)] })
        )._unsafeUnwrap();
        const second = heldPayment({ id: "hp_2" });
        const refused = await s.uow.commit({
          ...empty,
          people: [seller("sel_2")],
          heldPayments: [newHeld(second.state)],
          outbox: [timer("t_hp_2")],
          audit: [heldAudit("hp_2", "create")],
        });
        expect(refused._unsafeUnwrapErr()).toMatchObject({ type: "duplicate" });
        expect(refused._unsafeUnwrapErr().message).toContain("caller's reference");
        expect((await s.heldPayments.getHeldPayment("hp_2"))._unsafeUnwrap()).toBeUndefined();
        expect((await s.people.getPerson("sel_2"))._unsafeUnwrap()).toBeUndefined();
        expect((await s.outbox.claimDue("w", T + 1, 60_000, 10))._unsafeUnwrap()).toEqual([]);
        expect(
          (await s.audit.listAudit({ subjects: heldSubject("hp_2"), limit: 10 }))._unsafeUnwrap(),
        ).toEqual([]);
        expect(
          (await s.heldPayments.findHeldPaymentByReference("app_1", "booking_1"))._unsafeUnwrap()?.id,
        ).toBe("hp_1");
        // Another caller may use the same reference.
        const other = heldPayment({ id: "hp_3", requestedBy: "app_2" });
        (await s.uow.commit({ ...empty, heldPayments: [newHeld(other.state)] }))._unsafeUnwrap();
        expect(
          (await s.heldPayments.findHeldPaymentByReference("app_2", "booking_1"))._unsafeUnwrap()?.id,
        ).toBe("hp_3");
      });

      it("refuses a held payment whose seller is not a person, storing nothing", async () => {
        const { state } = heldPayment({
          seller: { id: "nobody", connectedAccountId: "acct_x", canReceive: true },
        });
        const refused = await s.uow.commit({ ...empty, heldPayments: [newHeld(state)] });
        expect(refused._unsafeUnwrapErr().type).toBe("storage_refused");
        expect((await s.heldPayments.getHeldPayment("hp_1"))._unsafeUnwrap()).toBeUndefined();
      });

      it("a Checkout Session or PaymentIntent belongs to one payment: a second is a duplicate", async () => {
        const a = heldStep(heldPayment(), T, ...paidInputs("hp_1")).state;
        (await s.uow.commit({ ...empty, people: [seller()], heldPayments: [newHeld(a)] }))._unsafeUnwrap();
        const b = heldStep(
          heldPayment({ id: "hp_2", clientReference: "booking_2" }),
          T,
          ...paidInputs("hp_1"),
        );
        const refused = await s.uow.commit({ ...empty, heldPayments: [newHeld(b.state)] });
        expect(refused._unsafeUnwrapErr().type).toBe("duplicate");
        expect((await s.heldPayments.getHeldPayment("hp_2"))._unsafeUnwrap()).toBeUndefined();
      });

      it("is all or nothing: a failing change stores nothing of the held payment, its outbox rows or its audit", async () => {
        const created = heldPayment();
        const other = heldPayment({ id: "hp_2", clientReference: "booking_2" });
        (
          await s.uow.commit({
            ...empty,
            people: [seller()],
            heldPayments: [newHeld(created.state), newHeld(other.state)],
          })
        )._unsafeUnwrap();
        const paid = heldStep(created, T + HOUR, ...paidInputs("hp_1"));
        const captured = postings(paid.effects);
        expect(captured.map((e) => e.kind === "post_ledger" && e.transaction.kind)).toEqual([
          "held_captured",
        ]);
        const failed = await s.uow.commit({
          ...empty,
          heldPayments: [
            { state: paid.state, expectedVersion: 0 },
            { state: other.state, expectedVersion: 4 },
          ],
          outbox: captured,
          audit: [heldAudit("hp_1", "checkout_completed")],
        });
        expect(failed._unsafeUnwrapErr()).toMatchObject({ type: "version_conflict", id: "hp_2" });
        expect((await s.heldPayments.getHeldPayment("hp_1"))._unsafeUnwrap()).toEqual(created.state);
        expect(
          (await s.heldPayments.listHeldPayments({ status: "held", limit: 10 }))._unsafeUnwrap().items,
        ).toEqual([]);
        expect((await s.outbox.claimDue("w", T + 1, 60_000, 10))._unsafeUnwrap()).toEqual([]);
        expect(
          (await s.audit.listAudit({ subjects: heldSubject("hp_1"), limit: 10 }))._unsafeUnwrap(),
        ).toEqual([]);
        // The same change alone is stored with its postings and its audit line.
        (
          await s.uow.commit({
            ...empty,
            heldPayments: [{ state: paid.state, expectedVersion: 0 }],
            outbox: captured,
            audit: [heldAudit("hp_1", "checkout_completed")],
          })
        )._unsafeUnwrap();
        expect((await s.heldPayments.getHeldPayment("hp_1"))._unsafeUnwrap()).toEqual({
          ...paid.state,
          version: 1,
        });
        const claimed = (await s.outbox.claimDue("w", T + 1, 60_000, 10))._unsafeUnwrap();
        expect(claimed.map((r) => r.effect)).toEqual(captured);
        const lines = (await s.audit.listAudit({ subjects: heldSubject("hp_1"), limit: 10 }))._unsafeUnwrap();
        expect(lines.map((l) => [l.aggregateId, l.action])).toEqual([["hp_1", "checkout_completed"]]);
      });

      it("stores a payment's whole life and reads it back as it was: transfers retried, refunds, a lost dispute, reversals", async () => {
        let run = heldPayment({
          id: "hp_life",
          clientReference: "booking_life",
          cancelUrl: "https://app.example/x",
        });
        (
          await s.uow.commit({ ...empty, people: [seller()], heldPayments: [newHeld(run.state)] })
        )._unsafeUnwrap();
        const steps: [Instant, HeldPaymentInput[]][] = [
          [T + HOUR, paidInputs("hp_life")],
          [
            T + 2 * HOUR,
            [{ type: "confirm_fulfilled" }, { type: "refund", by: "admin_1", amountMinor: 2_500 }],
          ],
          [T + 3 * HOUR, [{ type: "refund_succeeded", refund: 1, attempt: 1, refundId: "re_1" }]],
          [T + 80 * HOUR, [{ type: "timer", timer: { kind: "release_due" } }]],
          [
            T + 80 * HOUR,
            [{ type: "transfer_failed", attempt: 1, failureCode: "rate_limit", failureMessage: "slow down" }],
          ],
          [T + 82 * HOUR, [{ type: "timer", timer: { kind: "retry_transfer", attempt: 2 } }]],
          [T + 82 * HOUR, [{ type: "transfer_created", attempt: 2, transferId: "tr_2" }]],
          // A refund after the release (its seller part reversed first), before the dispute: once
          // a dispute is lost Stripe refuses refunds of the charge (charge_disputed), and so does susu.
          [T + 84 * HOUR, [{ type: "refund", by: "admin_1", amountMinor: 1_000 }]],
          [T + 85 * HOUR, [{ type: "transfer_reversed", reversal: 1, transferId: "tr_2", amountMinor: 900 }]],
          [T + 86 * HOUR, [{ type: "refund_succeeded", refund: 2, attempt: 1, refundId: "re_2" }]],
          [
            T + 90 * HOUR,
            [
              {
                type: "dispute_created",
                disputeId: "dp_1",
                amountMinor: 1_000,
                reason: "product_not_received",
                stripeStatus: "needs_response",
                evidenceDueBy: T + 300 * HOUR,
              },
              { type: "dispute_updated", disputeId: "dp_1", stripeStatus: "under_review" },
            ],
          ],
          [
            T + 92 * HOUR,
            [{ type: "dispute_closed", disputeId: "dp_1", outcome: "lost", amountMinor: 1_000 }],
          ],
          [T + 93 * HOUR, [{ type: "transfer_reversed", reversal: 2, transferId: "tr_2", amountMinor: 900 }]],
        ];
        for (const [now, inputs] of steps) {
          const before = run;
          run = heldStep(run, now, ...inputs);
          (
            await s.uow.commit({
              ...empty,
              heldPayments: [{ state: run.state, expectedVersion: before.state.version }],
              outbox: postings(run.effects.slice(before.effects.length)),
            })
          )._unsafeUnwrap();
          run = { ...run, state: { ...run.state, version: before.state.version + 1 } };
          expect((await s.heldPayments.getHeldPayment("hp_life"))._unsafeUnwrap()).toEqual(run.state);
        }
        const life = run.state;
        expect(life.status).toBe("released");
        expect(life.transfers.map((t) => [t.number, t.status])).toEqual([
          [1, "failed"],
          [2, "created"],
        ]);
        expect(life.refunds.map((r) => [r.number, r.stage, r.status])).toEqual([
          [1, "holding", "succeeded"],
          [2, "transferred", "succeeded"],
        ]);
        expect(life.reversals.map((r) => [r.number, r.reason, r.status])).toEqual([
          [1, "refund", "reversed"],
          [2, "dispute_lost", "reversed"],
        ]);
        expect(life.disputes).toMatchObject([{ id: "dp_1", status: "lost", lossBooked: true }]);
        // Every posting of its life went to the outbox once, in the order decided, whole.
        const claimed = (await s.outbox.claimDue("w", T + 1, 60_000, 100))._unsafeUnwrap();
        expect(claimed.map((r) => r.effect)).toEqual(postings(run.effects));
        // Ended (released): no longer among the seller's open payments; found by its reference.
        expect((await s.heldPayments.listOpenHeldPaymentsOfSeller("sel"))._unsafeUnwrap()).toEqual([]);
        expect(
          (await s.heldPayments.findHeldPaymentByReference("app_1", "booking_life"))._unsafeUnwrap(),
        ).toEqual(life);
      });

      it("stores a payment whose partial loss left the rest owed outside Stripe, and books what is owed", async () => {
        let run = heldPayment({ id: "hp_owed", clientReference: "booking_owed" });
        (
          await s.uow.commit({ ...empty, people: [seller()], heldPayments: [newHeld(run.state)] })
        )._unsafeUnwrap();
        const before = run;
        run = heldStep(
          run,
          T + HOUR,
          ...paidInputs("hp_owed"),
          { type: "report_unfulfilled", reason: "cancelled" },
          { type: "refund_failed", refund: 1, attempt: 1, failureCode: "charge_disputed" },
          {
            type: "dispute_created",
            disputeId: "dp_o",
            amountMinor: 6_000,
            reason: "fraudulent",
            stripeStatus: "needs_response",
          },
          { type: "dispute_closed", disputeId: "dp_o", outcome: "lost", amountMinor: 6_000 },
        );
        (
          await s.uow.commit({
            ...empty,
            heldPayments: [{ state: run.state, expectedVersion: before.state.version }],
            outbox: postings(run.effects),
          })
        )._unsafeUnwrap();
        const stored = (await s.heldPayments.getHeldPayment("hp_owed"))._unsafeUnwrap();
        expect(stored).toEqual({ ...run.state, version: before.state.version + 1 });
        expect(stored?.status).toBe("charged_back");
        expect(stored?.refunds.map((r) => [r.number, r.amountMinor, r.status])).toEqual([
          [1, 10_000, "superseded_by_dispute"],
          [2, 4_000, "owed_outside_stripe"],
        ]);
        const transactions = run.effects.flatMap((e) => (e.kind === "post_ledger" ? [e.transaction] : []));
        expect(transactions.map((t) => t.kind)).toContain("held_owed_to_customer");
        for (const t of transactions) (await s.ledger.post(t))._unsafeUnwrap();
        const balance = async (name: string) =>
          (await s.ledger.balance(`held:hp_owed:${name}`, "AUD"))._unsafeUnwrap().amountMinor;
        expect([
          await balance("hold"),
          await balance("dispute_losses"),
          await balance("owed_to_customer"),
        ]).toEqual([0, 6_000, 4_000]);
      });

      it("stores a payment whose refund Stripe failed after its success, and undoes its posting", async () => {
        let run = heldPayment({ id: "hp_undone", clientReference: "booking_undone" });
        (
          await s.uow.commit({ ...empty, people: [seller()], heldPayments: [newHeld(run.state)] })
        )._unsafeUnwrap();
        const before = run;
        run = heldStep(
          run,
          T + HOUR,
          ...paidInputs("hp_undone"),
          { type: "report_unfulfilled", reason: "cancelled" },
          { type: "refund_succeeded", refund: 1, attempt: 1, refundId: "re_u" },
          { type: "refund_failed", refund: 1, attempt: 1, failureCode: "declined" },
        );
        (
          await s.uow.commit({
            ...empty,
            heldPayments: [{ state: run.state, expectedVersion: before.state.version }],
            outbox: postings(run.effects),
          })
        )._unsafeUnwrap();
        const stored = (await s.heldPayments.getHeldPayment("hp_undone"))._unsafeUnwrap();
        expect(stored).toEqual({ ...run.state, version: before.state.version + 1 });
        expect(stored?.refunds).toMatchObject([
          { status: "failed", ledgerPosted: false, failedAfterSuccess: 1 },
        ]);
        // Refunded no more: the refund is outstanding again, and the payment has not ended.
        expect(stored?.status).toBe("refunding");
        expect(stored?.endedAt).toBeUndefined();
        const transactions = run.effects.flatMap((e) => (e.kind === "post_ledger" ? [e.transaction] : []));
        expect(transactions.map((t) => t.kind).slice(-2)).toEqual(["held_refunded", "held_refund_failed"]);
        for (const t of [...transactions, ...transactions]) (await s.ledger.post(t))._unsafeUnwrap();
        const balance = async (name: string) =>
          (await s.ledger.balance(`held:hp_undone:${name}`, "AUD"))._unsafeUnwrap().amountMinor;
        expect([await balance("hold"), await balance("refunds")]).toEqual([10_000, 0]);
      });

      it("stores a blocked release under an admin hold, and a failed payment, whole", async () => {
        const blocked = heldStep(
          heldPayment({ id: "hp_blocked", clientReference: "b_blocked" }),
          T + HOUR,
          ...paidInputs("hp_blocked"),
          { type: "confirm_fulfilled" },
          { type: "seller_account_not_ready", reason: "payouts disabled" },
        );
        const due = heldStep(
          blocked,
          T + 80 * HOUR,
          { type: "timer", timer: { kind: "release_due" } },
          {
            type: "admin_hold",
            by: "admin_1",
            reason: "checking the seller",
          },
        ).state;
        expect(due).toMatchObject({ status: "release_blocked", blockKind: "seller_cannot_receive" });
        expect(due.adminHold).toBeDefined();
        const failed = heldStep(heldPayment({ id: "hp_failed", clientReference: "b_failed" }), T + HOUR, {
          type: "checkout_completed",
          sessionId: "cs_failed",
          paymentIntentId: "pi_failed",
          paymentStatus: "requires_payment_method",
        }).state;
        expect(failed).toMatchObject({ status: "payment_failed", failureCode: "requires_payment_method" });
        (
          await s.uow.commit({ ...empty, people: [seller()], heldPayments: [newHeld(due), newHeld(failed)] })
        )._unsafeUnwrap();
        expect((await s.heldPayments.getHeldPayment("hp_blocked"))._unsafeUnwrap()).toEqual(due);
        expect((await s.heldPayments.getHeldPayment("hp_failed"))._unsafeUnwrap()).toEqual(failed);
      });

      it("lists a seller's open payments oldest first; ended ones and other sellers' are left out", async () => {
        const at = (id: string, hours: number, over: Partial<CreateHeldPayment> = {}) =>
          heldPayment({ id, clientReference: `b_${id}`, ...over }, T + hours * HOUR);
        const newest = at("hp_a", 3);
        const oldest = at("hp_b", 1);
        const held = heldStep(at("hp_c", 2), T + 4 * HOUR, ...paidInputs("hp_c"));
        const expired = heldStep(at("hp_d", 0), T + 30 * HOUR, {
          type: "timer",
          timer: { kind: "checkout_expired" },
        });
        expect(expired.state).toMatchObject({ status: "expired" });
        const refunded = heldStep(at("hp_e", 0), T + 5 * HOUR, ...paidInputs("hp_e"), {
          type: "report_unfulfilled",
          reason: "cancelled",
        });
        const ended = heldStep(refunded, T + 6 * HOUR, {
          type: "refund_succeeded",
          refund: 1,
          attempt: 1,
          refundId: "re_e",
        }).state;
        expect(ended).toMatchObject({ status: "refunded" });
        const others = at("hp_f", 1, {
          seller: { id: "sel_2", connectedAccountId: "acct_sel_2", canReceive: true },
        });
        (
          await s.uow.commit({
            ...empty,
            people: [seller(), seller("sel_2")],
            heldPayments: [newest.state, oldest.state, held.state, expired.state, ended, others.state].map(
              newHeld,
            ),
          })
        )._unsafeUnwrap();
        const open = (await s.heldPayments.listOpenHeldPaymentsOfSeller("sel"))._unsafeUnwrap();
        expect(open.map((p) => p.id)).toEqual(["hp_b", "hp_c", "hp_a"]);
        expect(open[1]).toEqual(held.state);
        expect(
          (await s.heldPayments.listOpenHeldPaymentsOfSeller("sel_2"))._unsafeUnwrap().map((p) => p.id),
        ).toEqual(["hp_f"]);
        expect((await s.heldPayments.listOpenHeldPaymentsOfSeller("nobody"))._unsafeUnwrap()).toEqual([]);
      });

      it("pages newest first (then by id), with each filter and all of them, after the cursor payment's place", async () => {
        // Six payments: two sellers, two callers, some held; hp_3 and hp_4 created at the same instant.
        const spec = [
          ["hp_1", 1, "sel", "app_1", false],
          ["hp_2", 2, "sel_2", "app_1", true],
          ["hp_3", 3, "sel", "app_2", true],
          ["hp_4", 3, "sel", "app_1", false],
          ["hp_5", 4, "sel", "app_1", true],
          ["hp_6", 5, "sel_2", "app_2", false],
        ] as const;
        const payments = spec.map(([id, hours, sellerId, requestedBy, paid]) => {
          const created = heldPayment(
            {
              id,
              requestedBy,
              clientReference: `b_${id}`,
              seller: { id: sellerId, connectedAccountId: `acct_${sellerId}`, canReceive: true },
            },
            T + hours * HOUR,
          );
          return paid ? heldStep(created, T + 10 * HOUR, ...paidInputs(id)).state : created.state;
        });
        (
          await s.uow.commit({
            ...empty,
            people: [seller(), seller("sel_2")],
            heldPayments: payments.map(newHeld),
          })
        )._unsafeUnwrap();
        const ids = async (query: Parameters<HeldPaymentRepository["listHeldPayments"]>[0]) => {
          const page = (await s.heldPayments.listHeldPayments(query))._unsafeUnwrap();
          return { ids: page.items.map((p) => p.id), hasMore: page.hasMore };
        };
        expect(await ids({ limit: 100 })).toEqual({
          ids: ["hp_6", "hp_5", "hp_4", "hp_3", "hp_2", "hp_1"],
          hasMore: false,
        });
        // Pages of two, each after the last of the one before.
        expect(await ids({ limit: 2 })).toEqual({ ids: ["hp_6", "hp_5"], hasMore: true });
        expect(await ids({ limit: 2, startingAfter: "hp_5" })).toEqual({
          ids: ["hp_4", "hp_3"],
          hasMore: true,
        });
        expect(await ids({ limit: 2, startingAfter: "hp_3" })).toEqual({
          ids: ["hp_2", "hp_1"],
          hasMore: false,
        });
        expect(await ids({ limit: 2, startingAfter: "hp_1" })).toEqual({ ids: [], hasMore: false });
        // Each filter, and all of them.
        expect(await ids({ sellerId: "sel", limit: 2 })).toEqual({ ids: ["hp_5", "hp_4"], hasMore: true });
        expect(await ids({ sellerId: "sel", limit: 2, startingAfter: "hp_4" })).toEqual({
          ids: ["hp_3", "hp_1"],
          hasMore: false,
        });
        expect(await ids({ requestedBy: "app_2", limit: 10 })).toEqual({
          ids: ["hp_6", "hp_3"],
          hasMore: false,
        });
        expect(await ids({ status: "held", limit: 10 })).toEqual({
          ids: ["hp_5", "hp_3", "hp_2"],
          hasMore: false,
        });
        expect(await ids({ status: "awaiting_payment", limit: 1, startingAfter: "hp_6" })).toEqual({
          ids: ["hp_4"],
          hasMore: true,
        });
        expect(await ids({ sellerId: "sel", requestedBy: "app_1", status: "held", limit: 10 })).toEqual({
          ids: ["hp_5"],
          hasMore: false,
        });
        expect(
          await ids({
            sellerId: "sel",
            requestedBy: "app_1",
            status: "awaiting_payment",
            limit: 1,
            startingAfter: "hp_5",
          }),
        ).toEqual({ ids: ["hp_4"], hasMore: true });
        // The cursor marks a place whatever the cursor payment's status; an unknown one reads nothing.
        expect(await ids({ status: "held", limit: 10, startingAfter: "hp_4" })).toEqual({
          ids: ["hp_3", "hp_2"],
          hasMore: false,
        });
        expect(await ids({ limit: 10, startingAfter: "hp_missing" })).toEqual({ ids: [], hasMore: false });
        // Whole payments, at their version.
        const page = (
          await s.heldPayments.listHeldPayments({ requestedBy: "app_2", limit: 1 })
        )._unsafeUnwrap();
        expect(page.items).toEqual([payments[5]]);
        expect((await s.heldPayments.listHeldPayments({ limit: 0 }))._unsafeUnwrapErr().type).toBe(
          "storage_refused",
        );
        expect((await s.heldPayments.listHeldPayments({ limit: 101 }))._unsafeUnwrapErr().type).toBe(
          "storage_refused",
        );
      });
    });

    describe("marketplace charges", () => {
      const person = (id: string): VersionedChange<Person> => ({
        state: aReadyPerson(id),
        expectedVersion: undefined,
      });
      /** The customer and the three sellers the charges name. */
      const parties = () => ["cus", "sel", "sel_2", "sel_3"].map(person);
      const subject = (id: string) => [{ aggregate: "marketplace_charge" as const, aggregateId: id }];

      it("stores a charge whose partial loss left the rest owed outside Stripe, and books what is owed", async () => {
        const created = marketplaceCharge({ id: "mc_owed", clientReference: "rsvp_owed" });
        (
          await s.uow.commit({ ...empty, people: parties(), marketplaceCharges: [newCharge(created.state)] })
        )._unsafeUnwrap();
        const run = chargeStep(
          created,
          T + HOUR,
          chargePaid("mc_owed", "tr_owed"),
          { type: "refund", initiatedBy: "platform", by: "admin_1", reason: "cancelled" },
          { type: "refund_failed", refund: 1, attempt: 1, failureCode: "charge_disputed" },
          {
            type: "dispute_opened",
            disputeId: "dp_o",
            amountMinor: 6_000,
            reason: "fraudulent",
            stripeStatus: "needs_response",
          },
          { type: "dispute_closed", disputeId: "dp_o", outcome: "lost", amountMinor: 6_000 },
        );
        (
          await s.uow.commit({
            ...empty,
            marketplaceCharges: [{ state: run.state, expectedVersion: created.state.version }],
            outbox: chargePostings(run.effects),
          })
        )._unsafeUnwrap();
        const stored = (await s.marketplaceCharges.getMarketplaceCharge("mc_owed"))._unsafeUnwrap();
        expect(stored).toEqual({ ...run.state, version: created.state.version + 1 });
        expect(stored?.status).toBe("charged_back");
        expect(stored?.refunds.map((r) => [r.number, r.amountMinor, r.status])).toEqual([
          [1, 10_000, "superseded_by_dispute"],
          [2, 4_000, "owed_outside_stripe"],
        ]);
        const transactions = run.effects.flatMap((e) => (e.kind === "post_ledger" ? [e.transaction] : []));
        expect(transactions.map((t) => t.kind)).toContain("marketplace_owed_to_customer");
        for (const t of transactions) (await s.ledger.post(t))._unsafeUnwrap();
        expect(
          (await s.ledger.balance("marketplace:mc_owed:owed_to_customer", "AUD"))._unsafeUnwrap().amountMinor,
        ).toBe(4_000);
      });

      it("stores a charge whose refund Stripe failed after its success, and undoes its posting", async () => {
        const created = marketplaceCharge({ id: "mc_undone", clientReference: "rsvp_undone" });
        (
          await s.uow.commit({ ...empty, people: parties(), marketplaceCharges: [newCharge(created.state)] })
        )._unsafeUnwrap();
        const run = chargeStep(
          created,
          T + HOUR,
          chargePaid("mc_undone", "tr_undone"),
          { type: "refund", initiatedBy: "platform", by: "admin_1", reason: "cancelled", amountMinor: 3_000 },
          { type: "refund_succeeded", refund: 1, attempt: 1, refundId: "re_u" },
          { type: "refund_failed", refund: 1, attempt: 1, failureCode: "declined" },
        );
        (
          await s.uow.commit({
            ...empty,
            marketplaceCharges: [{ state: run.state, expectedVersion: created.state.version }],
            outbox: chargePostings(run.effects),
          })
        )._unsafeUnwrap();
        const stored = (await s.marketplaceCharges.getMarketplaceCharge("mc_undone"))._unsafeUnwrap();
        expect(stored).toEqual({ ...run.state, version: created.state.version + 1 });
        expect(stored?.refunds).toMatchObject([
          { status: "failed", ledgerPosted: false, failedAfterSuccess: 1 },
        ]);
        const transactions = run.effects.flatMap((e) => (e.kind === "post_ledger" ? [e.transaction] : []));
        expect(transactions.map((t) => t.kind)).toContain("marketplace_refund_failed");
        for (const t of [...transactions, ...transactions]) (await s.ledger.post(t))._unsafeUnwrap();
        expect(
          (await s.ledger.balance("marketplace:mc_undone:refunds", "AUD"))._unsafeUnwrap().amountMinor,
        ).toBe(0);
      });

      it("lists a seller's payments and charges with a reversal asked for or failed, and no others", async () => {
        const reversal = (number: number, status: "requested" | "reversed" | "failed") => ({
          number,
          effectId: `e_${number}`,
          amountMinor: 1_000,
          reason: "refund" as const,
          forRefund: 1,
          status,
        });
        const held = (
          id: string,
          statuses: readonly ("requested" | "reversed" | "failed")[],
          hours: number,
        ) => ({
          ...heldPayment({ id, clientReference: `b_${id}` }, T + hours * HOUR).state,
          reversals: statuses.map((st, i) => reversal(i + 1, st)),
        });
        const charge = (
          id: string,
          reversals: readonly { sellerId: string; status: "requested" | "reversed" | "failed" }[],
          hours: number,
        ) => ({
          ...marketplaceCharge({ id, clientReference: `o_${id}`, sellers: coHosts }, T + hours * HOUR).state,
          reversals: reversals.map((r, i) => ({
            number: i + 1,
            effectId: `e_${id}_${i + 1}`,
            sellerId: r.sellerId,
            transferId: `tr_${r.sellerId}`,
            amountMinor: 500,
            forRefund: 1,
            status: r.status,
          })),
        });
        (
          await s.uow.commit({
            ...empty,
            people: parties(),
            heldPayments: [
              held("hp_req", ["requested"], 2),
              held("hp_fail", ["reversed", "failed"], 1),
              held("hp_done", ["reversed"], 0),
              held("hp_none", [], 0),
            ].map(newHeld),
            marketplaceCharges: [
              charge("mc_a", [{ sellerId: "sel_2", status: "failed" }], 1),
              charge(
                "mc_b",
                [
                  { sellerId: "sel", status: "reversed" },
                  { sellerId: "sel_3", status: "requested" },
                ],
                0,
              ),
              charge("mc_c", [], 2),
            ].map(newCharge),
          })
        )._unsafeUnwrap();
        const heldIds = async (seller: string) =>
          (await s.heldPayments.listHeldPaymentsReversingSeller(seller))._unsafeUnwrap().map((p) => p.id);
        const chargeIds = async (seller: string) =>
          (await s.marketplaceCharges.listMarketplaceChargesReversingSeller(seller))
            ._unsafeUnwrap()
            .map((c) => c.id);
        expect(await heldIds("sel")).toEqual(["hp_fail", "hp_req"]);
        expect(await heldIds("sel_2")).toEqual([]);
        expect(await chargeIds("sel")).toEqual([]);
        expect(await chargeIds("sel_2")).toEqual(["mc_a"]);
        expect(await chargeIds("sel_3")).toEqual(["mc_b"]);
        const [read] = (await s.heldPayments.listHeldPaymentsReversingSeller("sel"))._unsafeUnwrap();
        expect(read?.reversals.map((r) => r.status)).toEqual(["reversed", "failed"]);
      });

      it("lists a seller's payments and charges with a dispute that may yet reverse a transfer already made to them, and keeps their part of it from a payout", async () => {
        const dispute = (id: string, status: "open" | "won" | "lost", lossBooked?: boolean) => ({
          id,
          amountMinor: 4_000,
          reason: "fraudulent",
          stripeStatus: status === "open" ? "needs_response" : status,
          status,
          ...(status === "lost"
            ? { lostMinor: 4_000, sellerPartMinor: 3_600, feePartMinor: 400, lossBooked: lossBooked ?? false }
            : {}),
        });
        const transfer = {
          number: 1,
          effectId: "e_t1",
          amountMinor: 9_000,
          status: "created" as const,
          requestedAt: T,
          transferId: "tr_1",
        };
        // 100.00 AUD, a 10% fee: the seller was paid 90.00; a dispute of 40.00 would take 36.00 back.
        const held = (
          id: string,
          hours: number,
          transferred: boolean,
          disputes: readonly ReturnType<typeof dispute>[],
        ) => ({
          ...heldPayment({ id, clientReference: `b_${id}` }, T + hours * HOUR).state,
          capturedAt: T,
          releaseStarted: transferred,
          transfers: transferred ? [transfer] : [],
          disputes,
        });
        // The split pays sel 45.00, sel_2 and sel_3 22.50 each (their shares of 90.00); only sel_2 was paid.
        const split = {
          ...marketplaceCharge({ id: "mc_split", clientReference: "o_split", sellers: coHosts }, T).state,
          capturedAt: T,
          transfers: [
            {
              sellerId: "sel_2",
              attempt: 1,
              effectId: "e_sel_2",
              amountMinor: 2_250,
              status: "created" as const,
              transferId: "tr_sel_2",
            },
          ],
          disputes: [dispute("dp_split", "open")],
        };
        const destination = {
          ...marketplaceCharge(
            {
              id: "mc_dest",
              clientReference: "o_dest",
              sellers: [{ id: "sel_3", connectedAccountId: "acct_sel_3" }],
            },
            T,
          ).state,
          capturedAt: T,
          destinationTransferId: "tr_dest",
          disputes: [dispute("dp_dest", "open")],
        };
        (
          await s.uow.commit({
            ...empty,
            people: parties(),
            heldPayments: [
              held("hp_open", 3, true, [dispute("dp_1", "open")]),
              held("hp_lost_waiting", 2, true, [dispute("dp_2", "lost", false)]),
              held("hp_not_paid", 1, false, [dispute("dp_3", "open")]),
              held("hp_won", 0, true, [dispute("dp_4", "won")]),
              held("hp_lost_booked", 0, true, [dispute("dp_5", "lost", true)]),
            ].map(newHeld),
            marketplaceCharges: [split, destination].map(newCharge),
          })
        )._unsafeUnwrap();
        const heldOf = async (seller: string) =>
          (await s.heldPayments.listHeldPaymentsReversingSeller(seller))._unsafeUnwrap();
        const chargesOf = async (seller: string) =>
          (await s.marketplaceCharges.listMarketplaceChargesReversingSeller(seller))._unsafeUnwrap();
        expect((await heldOf("sel")).map((p) => p.id)).toEqual(["hp_lost_waiting", "hp_open"]);
        expect((await chargesOf("sel")).map((c) => c.id)).toEqual([]);
        expect((await chargesOf("sel_2")).map((c) => c.id)).toEqual(["mc_split"]);
        expect((await chargesOf("sel_3")).map((c) => c.id)).toEqual(["mc_dest"]);
        // What a payout keeps, from what was read back: 36.00 for each disputed payment.
        const reserve = async (seller: string) =>
          Object.fromEntries(reversalReserve(seller, await heldOf(seller), await chargesOf(seller)));
        expect(await reserve("sel")).toEqual({ AUD: 7_200 });
        // sel_2's part of losing 40.00 of the split: in proportion to what each holds, the fee
        // included (45.00, 22.50, 22.50 and 10.00): 9.00. Unpaid sellers keep nothing.
        expect(await reserve("sel_2")).toEqual({ AUD: 900 });
        // The destination charge's seller was paid the whole 100.00: the 40.00 comes back from them.
        expect(await reserve("sel_3")).toEqual({ AUD: 4_000 });
      });

      it("stores a destination charge and a split and reads them back whole: by id, by the caller's reference, by the PaymentIntent", async () => {
        const destination = chargeStep(
          marketplaceCharge({ sellerIsMerchantOfRecord: true, paymentMethod: { kind: "new_card" } }),
          T + HOUR,
          { type: "payment_requires_action", paymentIntentId: "pi_mc_1", clientSecret: "pi_mc_1_secret_x" },
        ).state;
        expect(destination).toMatchObject({
          mode: "destination",
          onBehalfOf: true,
          status: "requires_action",
          clientSecret: "pi_mc_1_secret_x",
        });
        const split = marketplaceCharge({ id: "mc_2", clientReference: "order_2", sellers: coHosts }).state;
        expect(split.mode).toBe("split");
        (
          await s.uow.commit({
            ...empty,
            people: parties(),
            marketplaceCharges: [newCharge(destination), newCharge(split)],
          })
        )._unsafeUnwrap();
        const repo = s.marketplaceCharges;
        expect((await repo.getMarketplaceCharge("mc_1"))._unsafeUnwrap()).toEqual(destination);
        expect((await repo.getMarketplaceCharge("mc_2"))._unsafeUnwrap()).toEqual(split);
        expect((await repo.findMarketplaceChargeByReference("app_1", "rsvp_1"))._unsafeUnwrap()).toEqual(
          destination,
        );
        expect((await repo.findMarketplaceChargeByReference("app_1", "order_2"))._unsafeUnwrap()).toEqual(
          split,
        );
        expect((await repo.findMarketplaceChargeByPaymentIntent("pi_mc_1"))._unsafeUnwrap()).toEqual(
          destination,
        );
        expect((await repo.getMarketplaceCharge("mc_missing"))._unsafeUnwrap()).toBeUndefined();
        expect(
          (await repo.findMarketplaceChargeByPaymentIntent("pi_missing"))._unsafeUnwrap(),
        ).toBeUndefined();
        // The reference is the caller's own: another caller's, or another reference, is another charge.
        expect(
          (await repo.findMarketplaceChargeByReference("app_2", "rsvp_1"))._unsafeUnwrap(),
        ).toBeUndefined();
        expect(
          (await repo.findMarketplaceChargeByReference("app_1", "rsvp_2"))._unsafeUnwrap(),
        ).toBeUndefined();
      });

      it("increments a charge's version on every change and refuses a stale one (version_conflict)", async () => {
        const created = marketplaceCharge();
        (
          await s.uow.commit({ ...empty, people: parties(), marketplaceCharges: [newCharge(created.state)] })
        )._unsafeUnwrap();
        const settled = chargeStep(created, T + HOUR, chargePaid("mc_1", "tr_dest")).state;
        expect(settled.status).toBe("settled");
        (
          await s.uow.commit({ ...empty, marketplaceCharges: [{ state: settled, expectedVersion: 0 }] })
        )._unsafeUnwrap();
        expect((await s.marketplaceCharges.getMarketplaceCharge("mc_1"))._unsafeUnwrap()).toEqual({
          ...settled,
          version: 1,
        });
        const stale = await s.uow.commit({
          ...empty,
          marketplaceCharges: [{ state: settled, expectedVersion: 0 }],
        });
        expect(stale._unsafeUnwrapErr()).toMatchObject({
          type: "version_conflict",
          aggregate: "marketplace_charge",
          id: "mc_1",
        });
        const again = await s.uow.commit({ ...empty, marketplaceCharges: [newCharge(created.state)] });
        expect(again._unsafeUnwrapErr()).toMatchObject({ type: "version_conflict", id: "mc_1" });
        const missing = await s.uow.commit({
          ...empty,
          marketplaceCharges: [{ state: { ...settled, id: "mc_gone" }, expectedVersion: 0 }],
        });
        expect(missing._unsafeUnwrapErr()).toMatchObject({ type: "version_conflict", id: "mc_gone" });
        expect((await s.marketplaceCharges.getMarketplaceCharge("mc_1"))._unsafeUnwrap()).toEqual({
          ...settled,
          version: 1,
        });
      });

      it("one charge per caller's reference: another under a taken reference is a duplicate, and nothing of its changeset is stored", async () => {
        (
          await s.uow.commit({
            ...empty,
            people: parties(),
            marketplaceCharges: [newCharge(marketplaceCharge().state)],
          })
        )._unsafeUnwrap();
        const second = marketplaceCharge({ id: "mc_2" });
        const refused = await s.uow.commit({
          ...empty,
          people: [person("cus_2")],
          marketplaceCharges: [newCharge(second.state)],
          outbox: [timer("t_mc_2")],
          audit: [chargeAudit("mc_2", "create")],
        });
        expect(refused._unsafeUnwrapErr()).toMatchObject({ type: "duplicate" });
        expect(refused._unsafeUnwrapErr().message).toContain("caller's reference");
        expect((await s.marketplaceCharges.getMarketplaceCharge("mc_2"))._unsafeUnwrap()).toBeUndefined();
        expect((await s.people.getPerson("cus_2"))._unsafeUnwrap()).toBeUndefined();
        expect((await s.outbox.claimDue("w", T + 1, 60_000, 10))._unsafeUnwrap()).toEqual([]);
        expect((await s.audit.listAudit({ subjects: subject("mc_2"), limit: 10 }))._unsafeUnwrap()).toEqual(
          [],
        );
        expect(
          (await s.marketplaceCharges.findMarketplaceChargeByReference("app_1", "rsvp_1"))._unsafeUnwrap()
            ?.id,
        ).toBe("mc_1");
        // Another caller may use the same reference.
        const other = marketplaceCharge({ id: "mc_3", requestedBy: "app_2" });
        (await s.uow.commit({ ...empty, marketplaceCharges: [newCharge(other.state)] }))._unsafeUnwrap();
        expect(
          (await s.marketplaceCharges.findMarketplaceChargeByReference("app_2", "rsvp_1"))._unsafeUnwrap()
            ?.id,
        ).toBe("mc_3");
      });

      it("refuses a charge whose customer or any seller is not a person, storing nothing", async () => {
        (await s.uow.commit({ ...empty, people: parties() }))._unsafeUnwrap();
        const strangers = [
          marketplaceCharge({
            customer: { id: "nobody", stripeCustomerId: "cus_x", email: "x@example.com" },
          }),
          marketplaceCharge({
            sellers: [...coHosts.slice(0, 2), { id: "nobody", connectedAccountId: "acct_x" }],
          }),
        ];
        for (const { state } of strangers) {
          const refused = await s.uow.commit({
            ...empty,
            marketplaceCharges: [newCharge(state)],
            audit: [chargeAudit("mc_1", "create")],
          });
          expect(refused._unsafeUnwrapErr().type).toBe("storage_refused");
          expect((await s.marketplaceCharges.getMarketplaceCharge("mc_1"))._unsafeUnwrap()).toBeUndefined();
          expect((await s.audit.listAudit({ subjects: subject("mc_1"), limit: 10 }))._unsafeUnwrap()).toEqual(
            [],
          );
        }
        // A customer made in the same changeset is a person by the time the charge is stored.
        const withNewCustomer = marketplaceCharge({
          customer: { id: "cus_new", stripeCustomerId: "cus_new_stripe", email: "new@example.com" },
        }).state;
        (
          await s.uow.commit({
            ...empty,
            people: [person("cus_new")],
            marketplaceCharges: [newCharge(withNewCustomer)],
          })
        )._unsafeUnwrap();
        expect((await s.marketplaceCharges.getMarketplaceCharge("mc_1"))._unsafeUnwrap()).toEqual(
          withNewCustomer,
        );
      });

      it("a PaymentIntent belongs to one charge: a second is a duplicate", async () => {
        const a = chargeStep(marketplaceCharge(), T, chargePaid("mc_1", "tr_1")).state;
        (
          await s.uow.commit({ ...empty, people: parties(), marketplaceCharges: [newCharge(a)] })
        )._unsafeUnwrap();
        const b = chargeStep(
          marketplaceCharge({ id: "mc_2", clientReference: "rsvp_2" }),
          T,
          chargePaid("mc_1", "tr_2"),
        ).state;
        const refused = await s.uow.commit({ ...empty, marketplaceCharges: [newCharge(b)] });
        expect(refused._unsafeUnwrapErr().type).toBe("duplicate");
        expect((await s.marketplaceCharges.getMarketplaceCharge("mc_2"))._unsafeUnwrap()).toBeUndefined();
        expect(
          (await s.marketplaceCharges.findMarketplaceChargeByPaymentIntent("pi_mc_1"))._unsafeUnwrap()?.id,
        ).toBe("mc_1");
      });

      it("is all or nothing: a conflict on one charge stores nothing of the other, its outbox rows or its audit", async () => {
        const created = marketplaceCharge();
        const other = marketplaceCharge({ id: "mc_2", clientReference: "rsvp_2" });
        (
          await s.uow.commit({
            ...empty,
            people: parties(),
            marketplaceCharges: [newCharge(created.state), newCharge(other.state)],
          })
        )._unsafeUnwrap();
        const settled = chargeStep(created, T + HOUR, chargePaid("mc_1", "tr_dest"));
        const posted = chargePostings(settled.effects);
        expect(posted.map((e) => e.kind === "post_ledger" && e.transaction.kind)).toEqual([
          "marketplace_captured",
          "marketplace_fee_earned",
          "marketplace_seller_payable",
          "marketplace_transferred",
        ]);
        const failed = await s.uow.commit({
          ...empty,
          marketplaceCharges: [
            { state: settled.state, expectedVersion: 0 },
            { state: other.state, expectedVersion: 3 },
          ],
          outbox: posted,
          audit: [chargeAudit("mc_1", "payment_succeeded")],
        });
        expect(failed._unsafeUnwrapErr()).toMatchObject({ type: "version_conflict", id: "mc_2" });
        expect((await s.marketplaceCharges.getMarketplaceCharge("mc_1"))._unsafeUnwrap()).toEqual(
          created.state,
        );
        expect(
          (
            await s.marketplaceCharges.listMarketplaceCharges({ status: "settled", limit: 10 })
          )._unsafeUnwrap().items,
        ).toEqual([]);
        expect((await s.outbox.claimDue("w", T + 1, 60_000, 10))._unsafeUnwrap()).toEqual([]);
        expect((await s.audit.listAudit({ subjects: subject("mc_1"), limit: 10 }))._unsafeUnwrap()).toEqual(
          [],
        );
        // The same change alone is stored with its postings and its audit line.
        (
          await s.uow.commit({
            ...empty,
            marketplaceCharges: [{ state: settled.state, expectedVersion: 0 }],
            outbox: posted,
            audit: [chargeAudit("mc_1", "payment_succeeded")],
          })
        )._unsafeUnwrap();
        expect((await s.marketplaceCharges.getMarketplaceCharge("mc_1"))._unsafeUnwrap()).toEqual({
          ...settled.state,
          version: 1,
        });
        const claimed = (await s.outbox.claimDue("w", T + 1, 60_000, 10))._unsafeUnwrap();
        expect(claimed.map((r) => r.effect)).toEqual(posted);
        const lines = (await s.audit.listAudit({ subjects: subject("mc_1"), limit: 10 }))._unsafeUnwrap();
        expect(lines.map((l) => [l.aggregate, l.aggregateId, l.action])).toEqual([
          ["marketplace_charge", "mc_1", "payment_succeeded"],
        ]);
      });

      it("stores a split's whole life and reads it back as it was: a transfer retried, a partial refund, a lost dispute, reversals", async () => {
        let run = marketplaceCharge({ id: "mc_life", clientReference: "order_life", sellers: coHosts });
        (
          await s.uow.commit({ ...empty, people: parties(), marketplaceCharges: [newCharge(run.state)] })
        )._unsafeUnwrap();
        const steps: [Instant, (charge: MarketplaceCharge) => MarketplaceChargeInput[]][] = [
          [T + HOUR, () => [chargePaid("mc_life")]],
          [
            T + HOUR,
            () => [
              { type: "transfer_created", sellerId: "sel", attempt: 1, transferId: "tr_sel_1" },
              { type: "transfer_created", sellerId: "sel_2", attempt: 1, transferId: "tr_sel_2_1" },
              { type: "transfer_failed", sellerId: "sel_3", attempt: 1, failureCode: "balance_insufficient" },
            ],
          ],
          [
            T + 13 * HOUR, // past the retry's time (the policy's longest delay is 12 h)
            () => [
              { type: "timer", timer: { kind: "retry_transfer", sellerId: "sel_3", attempt: 2 } },
              { type: "transfer_created", sellerId: "sel_3", attempt: 2, transferId: "tr_sel_3_2" },
            ],
          ],
          [
            T + 14 * HOUR,
            () => [
              {
                type: "refund",
                initiatedBy: "customer",
                by: "app_1",
                reason: "can't come",
                amountMinor: 2_000,
              },
            ],
          ],
          [T + 15 * HOUR, reversalsLanded],
          [T + 16 * HOUR, () => [{ type: "refund_succeeded", refund: 1, attempt: 1, refundId: "re_1" }]],
          [
            T + 17 * HOUR,
            () => [
              {
                type: "dispute_opened",
                disputeId: "dp_1",
                amountMinor: 1_000,
                reason: "fraudulent",
                stripeStatus: "needs_response",
                evidenceDueBy: T + 300 * HOUR,
              },
              { type: "dispute_updated", disputeId: "dp_1", stripeStatus: "under_review" },
              { type: "dispute_closed", disputeId: "dp_1", outcome: "lost", amountMinor: 1_000 },
            ],
          ],
          [T + 18 * HOUR, reversalsLanded],
        ];
        for (const [now, inputs] of steps) {
          const before = run;
          run = chargeStep(run, now, ...inputs(run.state));
          (
            await s.uow.commit({
              ...empty,
              marketplaceCharges: [{ state: run.state, expectedVersion: before.state.version }],
              outbox: chargePostings(run.effects.slice(before.effects.length)),
            })
          )._unsafeUnwrap();
          run = { ...run, state: { ...run.state, version: before.state.version + 1 } };
          expect((await s.marketplaceCharges.getMarketplaceCharge("mc_life"))._unsafeUnwrap()).toEqual(
            run.state,
          );
        }
        const life = run.state;
        expect(life.status).toBe("settled");
        expect(life.transfers.map((t) => [t.sellerId, t.attempt, t.status])).toEqual([
          ["sel", 1, "created"],
          ["sel_2", 1, "created"],
          ["sel_3", 1, "failed"],
          ["sel_3", 2, "created"],
        ]);
        expect(life.refunds.map((r) => [r.number, r.initiatedBy, r.status])).toEqual([
          [1, "customer", "succeeded"],
        ]);
        expect(life.reversals.length).toBeGreaterThanOrEqual(2);
        expect(life.reversals.every((r) => r.status === "reversed")).toBe(true);
        expect(life.disputes).toMatchObject([{ id: "dp_1", status: "lost", lossBooked: true }]);
        // Every posting of its life went to the outbox once, in the order decided, whole.
        const claimed = (await s.outbox.claimDue("w", T + 1, 60_000, 100))._unsafeUnwrap();
        expect(claimed.map((r) => r.effect)).toEqual(chargePostings(run.effects));
        // Each co-host finds it among their charges.
        for (const sellerId of ["sel", "sel_2", "sel_3"])
          expect(
            (await s.marketplaceCharges.listMarketplaceCharges({ sellerId, limit: 10 }))._unsafeUnwrap()
              .items,
          ).toEqual([life]);
      });

      it("keeps a charge's effects of every kind in the outbox and hands them out whole, in order", async () => {
        let run = marketplaceCharge({ id: "mc_fx", clientReference: "order_fx", sellers: coHosts });
        run = chargeStep(run, T + HOUR, chargePaid("mc_fx"), {
          type: "transfer_created",
          sellerId: "sel",
          attempt: 1,
          transferId: "tr_fx_1",
        });
        run = chargeStep(
          run,
          T + HOUR,
          { type: "transfer_created", sellerId: "sel_2", attempt: 1, transferId: "tr_fx_2" },
          { type: "transfer_failed", sellerId: "sel_3", attempt: 1, failureCode: "balance_insufficient" },
        );
        run = chargeStep(
          run,
          T + 13 * HOUR,
          { type: "timer", timer: { kind: "retry_transfer", sellerId: "sel_3", attempt: 2 } },
          { type: "transfer_created", sellerId: "sel_3", attempt: 2, transferId: "tr_fx_3" },
          { type: "refund", initiatedBy: "platform", by: "admin_1", reason: "cancelled", amountMinor: 1_000 },
        );
        run = chargeStep(run, T + 14 * HOUR, ...reversalsLanded(run.state), {
          type: "dispute_opened",
          disputeId: "dp_fx",
          amountMinor: 500,
          reason: "fraudulent",
          stripeStatus: "needs_response",
        });
        const kinds = new Set(run.effects.map((e) => e.kind));
        expect([...kinds].sort()).toEqual(
          [
            "create_payment",
            "notify",
            "open_ticket",
            "post_ledger",
            "refund",
            "reverse_transfer",
            "schedule_timer",
            "transfer",
          ].sort(),
        );
        const effects: OutboxEffect[] = [...run.effects];
        (
          await s.uow.commit({
            ...empty,
            people: parties(),
            marketplaceCharges: [newCharge(run.state)],
            outbox: effects,
          })
        )._unsafeUnwrap();
        const claimed = (await s.outbox.claimDue("w", T + 1, 60_000, 100))._unsafeUnwrap();
        expect(claimed.map((r) => r.effect)).toEqual(effects);
      });

      it("stores a failed payment and a refunded destination charge, ended, whole", async () => {
        const failed = chargeStep(
          marketplaceCharge({ id: "mc_failed", clientReference: "r_failed" }),
          T + HOUR,
          {
            type: "payment_failed",
            paymentIntentId: "pi_failed",
            failureCode: "card_declined",
          },
        ).state;
        expect(failed).toMatchObject({ status: "payment_failed", endedAt: T + HOUR });
        const refunded = chargeStep(
          marketplaceCharge({ id: "mc_refunded", clientReference: "r_refunded" }),
          T + HOUR,
          chargePaid("mc_refunded", "tr_refunded"),
          { type: "refund", initiatedBy: "platform", by: "admin_1", reason: "cancelled" },
          { type: "refund_succeeded", refund: 1, attempt: 1, refundId: "re_1" },
        ).state;
        expect(refunded).toMatchObject({ status: "refunded", endedAt: T + HOUR });
        (
          await s.uow.commit({
            ...empty,
            people: parties(),
            marketplaceCharges: [newCharge(failed), newCharge(refunded)],
          })
        )._unsafeUnwrap();
        expect((await s.marketplaceCharges.getMarketplaceCharge("mc_failed"))._unsafeUnwrap()).toEqual(
          failed,
        );
        expect((await s.marketplaceCharges.getMarketplaceCharge("mc_refunded"))._unsafeUnwrap()).toEqual(
          refunded,
        );
      });

      it("pages newest first (then by id), with each filter and all of them, after the cursor charge's place", async () => {
        // Six charges: two customers, two callers, destination and split sellers, some settled;
        // mc_3 and mc_4 created at the same instant.
        const spec = [
          ["mc_1", 1, "cus", "app_1", "sel", false],
          ["mc_2", 2, "cus_2", "app_1", "split", true],
          ["mc_3", 3, "cus", "app_2", "sel_2", true],
          ["mc_4", 3, "cus", "app_1", "sel", false],
          ["mc_5", 4, "cus_2", "app_1", "sel", true],
          ["mc_6", 5, "cus", "app_2", "split", false],
        ] as const;
        const charges = spec.map(([id, hours, customerId, requestedBy, sellers, paid]) => {
          const created = marketplaceCharge(
            {
              id,
              requestedBy,
              clientReference: `r_${id}`,
              customer: { id: customerId, stripeCustomerId: `${customerId}_stripe`, email: "c@example.com" },
              sellers:
                sellers === "split" ? coHosts : [{ id: sellers, connectedAccountId: `acct_${sellers}` }],
            },
            T + hours * HOUR,
          );
          if (!paid) return created.state;
          const settled = chargeStep(
            created,
            T + 10 * HOUR,
            chargePaid(id, sellers === "split" ? undefined : `tr_${id}`),
          );
          return sellers === "split"
            ? chargeStep(
                settled,
                T + 10 * HOUR,
                ...coHosts.map(
                  (h): MarketplaceChargeInput => ({
                    type: "transfer_created",
                    sellerId: h.id,
                    attempt: 1,
                    transferId: `tr_${id}_${h.id}`,
                  }),
                ),
              ).state
            : settled.state;
        });
        expect(charges.map((c) => c.status)).toEqual([
          "awaiting_payment",
          "settled",
          "settled",
          "awaiting_payment",
          "settled",
          "awaiting_payment",
        ]);
        (
          await s.uow.commit({
            ...empty,
            people: [...parties(), person("cus_2")],
            marketplaceCharges: charges.map(newCharge),
          })
        )._unsafeUnwrap();
        const ids = async (query: Parameters<MarketplaceChargeRepository["listMarketplaceCharges"]>[0]) => {
          const page = (await s.marketplaceCharges.listMarketplaceCharges(query))._unsafeUnwrap();
          return { ids: page.items.map((c) => c.id), hasMore: page.hasMore };
        };
        expect(await ids({ limit: 100 })).toEqual({
          ids: ["mc_6", "mc_5", "mc_4", "mc_3", "mc_2", "mc_1"],
          hasMore: false,
        });
        // Pages of two, each after the last of the one before.
        expect(await ids({ limit: 2 })).toEqual({ ids: ["mc_6", "mc_5"], hasMore: true });
        expect(await ids({ limit: 2, startingAfter: "mc_5" })).toEqual({
          ids: ["mc_4", "mc_3"],
          hasMore: true,
        });
        expect(await ids({ limit: 2, startingAfter: "mc_3" })).toEqual({
          ids: ["mc_2", "mc_1"],
          hasMore: false,
        });
        expect(await ids({ limit: 2, startingAfter: "mc_1" })).toEqual({ ids: [], hasMore: false });
        // A seller's: their destination charges and the splits they co-host.
        expect(await ids({ sellerId: "sel", limit: 2 })).toEqual({ ids: ["mc_6", "mc_5"], hasMore: true });
        expect(await ids({ sellerId: "sel", limit: 3, startingAfter: "mc_5" })).toEqual({
          ids: ["mc_4", "mc_2", "mc_1"],
          hasMore: false,
        });
        expect(await ids({ sellerId: "sel_2", limit: 10 })).toEqual({
          ids: ["mc_6", "mc_3", "mc_2"],
          hasMore: false,
        });
        expect(await ids({ sellerId: "sel_3", limit: 1, startingAfter: "mc_6" })).toEqual({
          ids: ["mc_2"],
          hasMore: false,
        });
        expect(await ids({ sellerId: "cus", limit: 10 })).toEqual({ ids: [], hasMore: false });
        // The customer's, the caller's, by status, and all of them.
        expect(await ids({ customerId: "cus_2", limit: 10 })).toEqual({
          ids: ["mc_5", "mc_2"],
          hasMore: false,
        });
        expect(await ids({ customerId: "cus", limit: 2, startingAfter: "mc_6" })).toEqual({
          ids: ["mc_4", "mc_3"],
          hasMore: true,
        });
        expect(await ids({ requestedBy: "app_2", limit: 10 })).toEqual({
          ids: ["mc_6", "mc_3"],
          hasMore: false,
        });
        expect(await ids({ status: "settled", limit: 10 })).toEqual({
          ids: ["mc_5", "mc_3", "mc_2"],
          hasMore: false,
        });
        expect(
          await ids({
            sellerId: "sel",
            customerId: "cus_2",
            requestedBy: "app_1",
            status: "settled",
            limit: 10,
          }),
        ).toEqual({ ids: ["mc_5", "mc_2"], hasMore: false });
        expect(
          await ids({
            sellerId: "sel",
            customerId: "cus",
            requestedBy: "app_1",
            status: "awaiting_payment",
            limit: 1,
            startingAfter: "mc_6",
          }),
        ).toEqual({ ids: ["mc_4"], hasMore: true });
        // The cursor marks a place whatever the cursor charge's status; an unknown one reads nothing.
        expect(await ids({ status: "settled", limit: 10, startingAfter: "mc_4" })).toEqual({
          ids: ["mc_3", "mc_2"],
          hasMore: false,
        });
        expect(await ids({ limit: 10, startingAfter: "mc_missing" })).toEqual({ ids: [], hasMore: false });
        expect(await ids({ sellerId: "sel", limit: 10, startingAfter: "mc_missing" })).toEqual({
          ids: [],
          hasMore: false,
        });
        // Whole charges, at their version.
        const page = (
          await s.marketplaceCharges.listMarketplaceCharges({ sellerId: "sel_3", limit: 2 })
        )._unsafeUnwrap();
        expect(page.items).toEqual([charges[5], charges[1]]);
        for (const limit of [0, 101, 1.5])
          expect((await s.marketplaceCharges.listMarketplaceCharges({ limit }))._unsafeUnwrapErr().type).toBe(
            "storage_refused",
          );
      });
    });

    describe("outbox", () => {
      it("keeps an effect once per id, however often it is appended", async () => {
        (await s.uow.commit({ ...empty, outbox: [timer("t1"), timer("t1")] }))._unsafeUnwrap();
        (await s.uow.commit({ ...empty, outbox: [timer("t1")] }))._unsafeUnwrap();
        const claimed = (await s.outbox.claimDue("w1", T, 60_000, 10))._unsafeUnwrap();
        expect(claimed.map((r) => r.effect)).toEqual([timer("t1")]);
      });

      it("leases claims: another worker gets nothing until the lease ends", async () => {
        (await s.uow.commit({ ...empty, outbox: [timer("t1"), timer("t2")] }))._unsafeUnwrap();
        const first = (await s.outbox.claimDue("w1", T, 60_000, 10))._unsafeUnwrap();
        expect(first).toHaveLength(2);
        expect((await s.outbox.claimDue("w2", T + 1_000, 60_000, 10))._unsafeUnwrap()).toEqual([]);
        const afterLease = (await s.outbox.claimDue("w2", T + 61_000, 60_000, 1))._unsafeUnwrap();
        expect(afterLease).toHaveLength(1);
      });

      it("two workers claiming at once never get the same effect, nor effects of one aggregate", async () => {
        (
          await s.uow.commit({
            ...empty,
            outbox: Array.from({ length: 20 }, (_, i) =>
              timer(`t${String(i).padStart(2, "0")}`, T, `round_${i % 4}`),
            ),
          })
        )._unsafeUnwrap();
        const [a, b] = await Promise.all([
          s.outbox.claimDue("w1", T, 60_000, 15),
          s.outbox.claimDue("w2", T, 60_000, 15),
        ]);
        const claims = [
          ...a._unsafeUnwrap().map((r) => ({ worker: "w1", effect: r.effect })),
          ...b._unsafeUnwrap().map((r) => ({ worker: "w2", effect: r.effect })),
        ];
        const ids = claims.map((c) => c.effect.id);
        expect(new Set(ids).size).toBe(ids.length);
        // The first claim took the 15 oldest, touching all four rounds: the second got none of them.
        expect([...ids].sort()).toEqual(
          Array.from({ length: 15 }, (_, i) => `t${String(i).padStart(2, "0")}`),
        );
        const holders = new Map<string, Set<string>>();
        for (const c of claims) {
          const round = (c.effect as { aggregateId: string }).aggregateId;
          holders.set(round, new Set([...(holders.get(round) ?? []), c.worker]));
        }
        expect([...holders.values()].filter((workers) => workers.size > 1)).toEqual([]);
      });

      it("an aggregate with an effect under a live lease gives nothing to any claim until it is settled", async () => {
        (
          await s.uow.commit({
            ...empty,
            outbox: [timer("a1", T, "round_a"), timer("a2", T, "round_a"), timer("b1", T, "round_b")],
          })
        )._unsafeUnwrap();
        const ids = async (worker: string, at: number, limit = 10) =>
          (await s.outbox.claimDue(worker, at, 60_000, limit))._unsafeUnwrap().map((r) => r.effect.id);
        expect(await ids("w1", T, 1)).toEqual(["a1"]);
        // a2 waits behind a1, whoever asks, the holder included.
        expect(await ids("w2", T + 1)).toEqual(["b1"]);
        expect(await ids("w1", T + 2)).toEqual([]);
        (await s.outbox.complete("a1", "w1", T + 3))._unsafeUnwrap();
        // Settled, a1 frees its round: a2 goes to whoever asks next; b1 stays w2's.
        expect(await ids("w3", T + 4)).toEqual(["a2"]);
      });

      it("a dead worker's lease holds its aggregate until it ends; then the next worker gets it whole, in order", async () => {
        (
          await s.uow.commit({ ...empty, outbox: [timer("a1", T, "round_a"), timer("a2", T, "round_a")] })
        )._unsafeUnwrap();
        (await s.outbox.claimDue("dead", T, 60_000, 1))._unsafeUnwrap();
        expect((await s.outbox.claimDue("w2", T + 59_999, 60_000, 10))._unsafeUnwrap()).toEqual([]);
        const after = (await s.outbox.claimDue("w2", T + 60_000, 60_000, 10))._unsafeUnwrap();
        expect(after.map((r) => r.effect.id)).toEqual(["a1", "a2"]);
      });

      it("a lease that ended unsettled was maybe tried: the claim that takes it hands the effect out as failed before, no attempt counted, and records why", async () => {
        (
          await s.uow.commit({ ...empty, outbox: [timer("a1", T, "round_a"), timer("a2", T, "round_a")] })
        )._unsafeUnwrap();
        const claim = async (worker: string, at: number) =>
          (await s.outbox.claimDue(worker, at, 60_000, 10))
            ._unsafeUnwrap()
            .map((r) => [r.effect.id, r.attempts, r.failedBefore === true]);
        const lastErrors = async () =>
          Object.fromEntries(
            (await s.outbox.listOutbox({ status: "pending", limit: 10 }))
              ._unsafeUnwrap()
              .items.map((e) => [e.id, e.lastError]),
          );
        // "dead" takes a1 and never settles it; a2 was never claimed.
        (await s.outbox.claimDue("dead", T, 60_000, 1))._unsafeUnwrap();
        expect(await claim("w2", T + 60_000)).toEqual([
          ["a1", 0, true],
          ["a2", 0, false],
        ]);
        expect(await lastErrors()).toEqual({
          a1: interruptedTry.leaseExpired("dead"),
          a2: undefined,
        });
        // w2 dies too: both were its, both maybe tried.
        expect(await claim("w3", T + 120_000)).toEqual([
          ["a1", 0, true],
          ["a2", 0, true],
        ]);
        expect(await lastErrors()).toEqual({
          a1: interruptedTry.leaseExpired("w2"),
          a2: interruptedTry.leaseExpired("w2"),
        });
        // w3 gives them back unstarted: what is recorded stays, the next claim still says so.
        expect((await s.outbox.release("w3", ["a1", "a2"]))._unsafeUnwrap()).toBe(2);
        expect(await claim("w4", T + 120_001)).toEqual([
          ["a1", 0, true],
          ["a2", 0, true],
        ]);
      });

      it("a worker gives back a claim whose run started as interrupted: the next claim says it failed before; one given back plainly does not", async () => {
        (
          await s.uow.commit({ ...empty, outbox: [timer("a1", T, "round_a"), timer("b1", T, "round_b")] })
        )._unsafeUnwrap();
        (await s.outbox.claimDue("w1", T, 60_000, 10))._unsafeUnwrap();
        const note = interruptedTry.unrecorded("w1");
        expect((await s.outbox.release("intruder", ["a1"], note))._unsafeUnwrap()).toBe(0);
        expect((await s.outbox.release("w1", ["a1"], note))._unsafeUnwrap()).toBe(1);
        expect((await s.outbox.release("w1", ["b1"]))._unsafeUnwrap()).toBe(1);
        const again = (await s.outbox.claimDue("w2", T + 1, 60_000, 10))._unsafeUnwrap();
        expect(again.map((r) => [r.effect.id, r.attempts, r.failedBefore === true])).toEqual([
          ["a1", 0, true],
          ["b1", 0, false],
        ]);
        const pending = (await s.outbox.listOutbox({ status: "pending", limit: 10 }))._unsafeUnwrap();
        expect(pending.items.map((e) => [e.id, e.lastError])).toEqual([
          ["a1", note],
          ["b1", undefined],
        ]);
      });

      it("a live worker gives back every claim it holds on a pending effect, none of another's, and records nothing else", async () => {
        (
          await s.uow.commit({
            ...empty,
            outbox: [timer("a1", T, "round_a"), timer("a2", T, "round_a"), timer("b1", T, "round_b")],
          })
        )._unsafeUnwrap();
        const releaseOwn = s.outbox.releaseOwnClaims?.bind(s.outbox);
        if (releaseOwn === undefined) throw new Error("the store gives back no worker's own claims");
        expect((await s.outbox.claimDue("w1", T, 60_000, 2))._unsafeUnwrap().map((r) => r.effect.id)).toEqual(
          ["a1", "a2"],
        );
        expect(
          (await s.outbox.claimDue("w2", T, 60_000, 10))._unsafeUnwrap().map((r) => r.effect.id),
        ).toEqual(["b1"]);
        // a2 settled: only a1 is still w1's.
        (await s.outbox.complete("a2", "w1", T))._unsafeUnwrap();
        expect((await releaseOwn("w1"))._unsafeUnwrap()).toBe(1);
        expect((await releaseOwn("w1"))._unsafeUnwrap()).toBe(0);
        // Claimable again at once, as it was (no attempt, no note); w2's claim holds.
        const again = (await s.outbox.claimDue("w3", T + 1, 60_000, 10))._unsafeUnwrap();
        expect(again.map((r) => [r.effect.id, r.attempts, r.failedBefore === true])).toEqual([
          ["a1", 0, false],
        ]);
      });

      it("counts the runs parked as refused for good: a requeued claim hands them out, so the run keys its provider calls past them; other parks and retries count none", async () => {
        (
          await s.uow.commit({ ...empty, outbox: [timer("a1", T, "round_a"), timer("b1", T, "round_b")] })
        )._unsafeUnwrap();
        const claim = async (worker: string, at: number) =>
          (await s.outbox.claimDue(worker, at, 60_000, 10))
            ._unsafeUnwrap()
            .map((r) => [r.effect.id, r.refusals ?? 0]);
        expect(await claim("w1", T)).toEqual([
          ["a1", 0],
          ["b1", 0],
        ]);
        // a1: a retry first (counts nothing), then a refusal parked; b1: parked, retries spent.
        (await s.outbox.fail("a1", "w1", "lock_timeout", T + 1, { refused: true }))._unsafeUnwrap();
        (await s.outbox.fail("b1", "w1", "api_error", undefined))._unsafeUnwrap();
        expect(await claim("w2", T + 1)).toEqual([["a1", 0]]);
        (
          await s.outbox.fail("a1", "w2", "balance_insufficient", undefined, { refused: true })
        )._unsafeUnwrap();
        expect((await s.outbox.requeueParked("a1", T + 2))._unsafeUnwrap()).toBe("requeued");
        expect((await s.outbox.requeueParked("b1", T + 2))._unsafeUnwrap()).toBe("requeued");
        expect(await claim("w3", T + 2)).toEqual([
          ["a1", 1],
          ["b1", 0],
        ]);
        // Refused again under its new key: the next requeue goes past both.
        (
          await s.outbox.fail("a1", "w3", "balance_insufficient", undefined, { refused: true })
        )._unsafeUnwrap();
        (await s.outbox.release("w3", ["b1"]))._unsafeUnwrap();
        expect((await s.outbox.requeueParked("a1", T + 3))._unsafeUnwrap()).toBe("requeued");
        expect(await claim("w4", T + 3)).toEqual([
          ["a1", 2],
          ["b1", 0],
        ]);
      });

      it("an interruption's note keeps the error the effect failed with before it, through later interruptions", async () => {
        (await s.uow.commit({ ...empty, outbox: [timer("a1", T, "round_a")] }))._unsafeUnwrap();
        const lastError = async () =>
          (await s.outbox.listOutbox({ status: "pending", limit: 10 }))._unsafeUnwrap().items[0]?.lastError;
        (await s.outbox.claimDue("w1", T, 60_000, 10))._unsafeUnwrap();
        (await s.outbox.fail("a1", "w1", "stripe: 500 api_error (req_1)", T + 5_000))._unsafeUnwrap();
        // w2 takes the retry and dies; w3's claim records it, over the provider's error.
        (await s.outbox.claimDue("w2", T + 5_000, 60_000, 10))._unsafeUnwrap();
        (await s.outbox.claimDue("w3", T + 65_000, 60_000, 10))._unsafeUnwrap();
        const cause = `${INTERRUPTED_BEFORE}stripe: 500 api_error (req_1)`;
        expect(await lastError()).toBe(`${interruptedTry.leaseExpired("w2")}${cause}`);
        // w3 dies too: the newest note, the same cause under it (not the note before).
        (await s.outbox.claimDue("w4", T + 125_000, 60_000, 10))._unsafeUnwrap();
        expect(await lastError()).toBe(`${interruptedTry.leaseExpired("w3")}${cause}`);
        // w4 started it and could not record how it went: its note, the same cause.
        expect((await s.outbox.release("w4", ["a1"], interruptedTry.unrecorded("w4")))._unsafeUnwrap()).toBe(
          1,
        );
        expect(await lastError()).toBe(`${interruptedTry.unrecorded("w4")}${cause}`);
      });

      it("a later effect passes an earlier one of its aggregate that waits out a retry backoff", async () => {
        (
          await s.uow.commit({ ...empty, outbox: [timer("a1", T, "round_a"), timer("a2", T, "round_a")] })
        )._unsafeUnwrap();
        (await s.outbox.claimDue("w1", T, 60_000, 1))._unsafeUnwrap();
        (await s.outbox.fail("a1", "w1", "provider down", T + 5_000))._unsafeUnwrap();
        const later = (await s.outbox.claimDue("w2", T + 1, 60_000, 10))._unsafeUnwrap();
        expect(later.map((r) => r.effect.id)).toEqual(["a2"]);
        // Due again, a1 still waits while a2 is leased.
        expect((await s.outbox.claimDue("w3", T + 5_000, 60_000, 10))._unsafeUnwrap()).toEqual([]);
        (await s.outbox.complete("a2", "w2", T + 5_001))._unsafeUnwrap();
        const retried = (await s.outbox.claimDue("w3", T + 5_002, 60_000, 10))._unsafeUnwrap();
        expect(retried.map((r) => [r.effect.id, r.attempts])).toEqual([["a1", 1]]);
      });

      it("a worker releases its own pending claims at once, no attempt counted; nobody else's", async () => {
        (
          await s.uow.commit({ ...empty, outbox: [timer("a1", T, "round_a"), timer("b1", T, "round_b")] })
        )._unsafeUnwrap();
        (await s.outbox.claimDue("w1", T, 60_000, 10))._unsafeUnwrap();
        (await s.outbox.complete("b1", "w1", T))._unsafeUnwrap();
        expect((await s.outbox.release("intruder", ["a1"]))._unsafeUnwrap()).toBe(0);
        expect((await s.outbox.claimDue("w2", T + 1, 60_000, 10))._unsafeUnwrap()).toEqual([]);
        // b1 is done (not released), "missing" does not exist: one claim given back.
        expect((await s.outbox.release("w1", ["a1", "b1", "missing"]))._unsafeUnwrap()).toBe(1);
        const again = (await s.outbox.claimDue("w2", T + 2, 60_000, 10))._unsafeUnwrap();
        expect(again.map((r) => [r.effect.id, r.attempts])).toEqual([["a1", 0]]);
        expect((await s.outbox.release("w1", []))._unsafeUnwrap()).toBe(0);
      });

      it("a completion answers whether it took effect: not for a claim another worker took over, nor twice", async () => {
        (await s.uow.commit({ ...empty, outbox: [timer("a1", T, "round_a")] }))._unsafeUnwrap();
        (await s.outbox.claimDue("w1", T, 60_000, 10))._unsafeUnwrap();
        // w1's lease ends mid-run; w2 takes the effect over.
        const taken = (await s.outbox.claimDue("w2", T + 60_001, 60_000, 10))._unsafeUnwrap();
        expect(taken.map((r) => r.effect.id)).toEqual(["a1"]);
        expect((await s.outbox.complete("a1", "w1", T + 60_002))._unsafeUnwrap()).toBe(false);
        expect((await s.outbox.complete("a1", "w2", T + 60_003))._unsafeUnwrap()).toBe(true);
        expect((await s.outbox.complete("a1", "w2", T + 60_004))._unsafeUnwrap()).toBe(false);
        expect((await s.outbox.complete("missing", "w2", T + 60_005))._unsafeUnwrap()).toBe(false);
        expect((await s.outbox.claimDue("w3", T + 200_000, 60_000, 10))._unsafeUnwrap()).toEqual([]);
      });

      it("a failure answers whether it was recorded: not for a claim another worker took over", async () => {
        (await s.uow.commit({ ...empty, outbox: [timer("a1", T, "round_a")] }))._unsafeUnwrap();
        (await s.outbox.claimDue("w1", T, 60_000, 10))._unsafeUnwrap();
        (await s.outbox.claimDue("w2", T + 60_001, 60_000, 10))._unsafeUnwrap();
        expect((await s.outbox.fail("a1", "w1", "late", T + 70_000))._unsafeUnwrap()).toBe(false);
        expect((await s.outbox.fail("a1", "w1", "late", undefined))._unsafeUnwrap()).toBe(false);
        expect((await s.outbox.fail("a1", "w2", "provider down", T + 70_000))._unsafeUnwrap()).toBe(true);
        const again = (await s.outbox.claimDue("w3", T + 70_000, 60_000, 10))._unsafeUnwrap();
        expect(again.map((r) => [r.effect.id, r.attempts])).toEqual([["a1", 1]]);
      });

      it("a completed effect is never claimed again; a failed one is due again at its retry time; a parked one never", async () => {
        (
          await s.uow.commit({ ...empty, outbox: [timer("done"), timer("retry"), timer("park")] })
        )._unsafeUnwrap();
        (await s.outbox.claimDue("w1", T, 60_000, 10))._unsafeUnwrap();
        (await s.outbox.complete("done", "w1", T))._unsafeUnwrap();
        (await s.outbox.fail("retry", "w1", "boom", T + 5_000))._unsafeUnwrap();
        (await s.outbox.fail("park", "w1", "hopeless", undefined))._unsafeUnwrap();
        expect((await s.outbox.claimDue("w2", T + 1_000, 60_000, 10))._unsafeUnwrap()).toEqual([]);
        const again = (await s.outbox.claimDue("w2", T + 5_000, 60_000, 10))._unsafeUnwrap();
        expect(again.map((r) => [r.effect.id, r.attempts])).toEqual([["retry", 1]]);
        expect(
          (await s.outbox.claimDue("w3", T + 3_600_000, 60_000, 10))._unsafeUnwrap().map((r) => r.effect.id),
        ).toEqual(["retry"]);
      });

      it("only the worker holding the lease can complete or fail an effect", async () => {
        (await s.uow.commit({ ...empty, outbox: [timer("t1")] }))._unsafeUnwrap();
        (await s.outbox.claimDue("w1", T, 60_000, 10))._unsafeUnwrap();
        (await s.outbox.complete("t1", "intruder", T))._unsafeUnwrap();
        (await s.outbox.fail("t1", "intruder", "not mine", undefined))._unsafeUnwrap();
        const again = (await s.outbox.claimDue("w2", T + 60_000, 60_000, 10))._unsafeUnwrap();
        expect(again.map((r) => [r.effect.id, r.attempts])).toEqual([["t1", 0]]);
      });

      it("hands effects out in the order they were appended, whole", async () => {
        const collect: OutboxEffect = {
          kind: "collect_contribution",
          id: "round_1:contribution:ana:attempt:1",
          roundId: "round_1",
          groupId: "grp_1",
          memberId: "ana",
          attempt: 1,
          amountMinor: 100_00,
          currency: "AUD",
          transferGroup: "round_round_1",
        };
        const notify: OutboxEffect = {
          kind: "notify",
          id: "round_1:notify:round_cancelling:all",
          aggregate: "round",
          aggregateId: "round_1",
          to: { kind: "group", groupId: "grp_1", members: { kind: "all_members" } },
          template: "round_cancelling",
          data: { roundId: "round_1", reason: "deadline" },
        };
        const ledger: OutboxEffect = {
          kind: "post_ledger",
          id: "round_1:tx",
          transaction: createLedgerTransaction({
            id: "round_1:tx",
            kind: "debit_initiated",
            postings: [debit("a", money(5, "AUD")), credit("b", money(5, "AUD"))],
            occurredAt: T,
            refs: { roundId: "round_1" },
          })._unsafeUnwrap(),
        };
        (await s.uow.commit({ ...empty, outbox: [timer("t9"), collect] }))._unsafeUnwrap();
        (await s.uow.commit({ ...empty, outbox: [notify, ledger, timer("t1")] }))._unsafeUnwrap();
        const claimed = (await s.outbox.claimDue("w1", T, 60_000, 10))._unsafeUnwrap();
        expect(claimed.map((r) => r.effect)).toEqual([timer("t9"), collect, notify, ledger, timer("t1")]);
        expect(claimed.map((r) => r.attempts)).toEqual([0, 0, 0, 0, 0]);
      });

      it("an effect appended again after it was done is not run again", async () => {
        (await s.uow.commit({ ...empty, outbox: [timer("t1")] }))._unsafeUnwrap();
        (await s.outbox.claimDue("w1", T, 60_000, 10))._unsafeUnwrap();
        (await s.outbox.complete("t1", "w1", T))._unsafeUnwrap();
        (await s.uow.commit({ ...empty, outbox: [timer("t1")] }))._unsafeUnwrap();
        expect((await s.outbox.claimDue("w2", T + 1, 60_000, 10))._unsafeUnwrap()).toEqual([]);
      });
    });

    describe("ledger", () => {
      const tx = (id: string, amountMinor = 500) =>
        createLedgerTransaction({
          id,
          kind: "debit_settled",
          postings: [
            debit("round:r1:pot", money(amountMinor, "AUD")),
            credit("round:r1:in_flight", money(amountMinor, "AUD")),
          ],
          occurredAt: T,
          refs: { roundId: "r1" },
        })._unsafeUnwrap();

      it("posts balanced transactions and reads balances", async () => {
        (await s.ledger.post(tx("tx1")))._unsafeUnwrap();
        (await s.ledger.post(tx("tx2", 250)))._unsafeUnwrap();
        expect((await s.ledger.balance("round:r1:pot", "AUD"))._unsafeUnwrap()).toEqual(money(750, "AUD"));
        expect((await s.ledger.balance("round:r1:in_flight", "AUD"))._unsafeUnwrap()).toEqual(
          money(-750, "AUD"),
        );
        expect((await s.ledger.balance("round:r1:pot", "USD"))._unsafeUnwrap()).toEqual(money(0, "USD"));
      });

      it("posting the same transaction twice is a no-op; the same id with other content is refused", async () => {
        (await s.ledger.post(tx("tx1")))._unsafeUnwrap();
        (await s.ledger.post(tx("tx1")))._unsafeUnwrap();
        expect((await s.ledger.balance("round:r1:pot", "AUD"))._unsafeUnwrap().amountMinor).toBe(500);
        const conflict = await s.ledger.post(tx("tx1", 999));
        expect(conflict._unsafeUnwrapErr().type).toBe("duplicate");
        expect((await s.ledger.balance("round:r1:pot", "AUD"))._unsafeUnwrap().amountMinor).toBe(500);
      });

      it("refuses a transaction that does not balance, storing none of it", async () => {
        const unbalanced: LedgerTransaction = {
          ...tx("bad"),
          postings: [
            debit("round:r1:pot", money(500, "AUD")),
            credit("round:r1:in_flight", money(499, "AUD")),
          ],
        };
        expect((await s.ledger.post(unbalanced))._unsafeUnwrapErr().type).toBe("duplicate");
        expect((await s.ledger.balance("round:r1:pot", "AUD"))._unsafeUnwrap()).toEqual(money(0, "AUD"));
        (await s.ledger.post(tx("bad")))._unsafeUnwrap();
      });

      it("refuses a post that would take a balance out of the safe integer range", async () => {
        const big = (id: string) =>
          createLedgerTransaction({
            id,
            kind: "debit_settled",
            postings: [debit("pot", money(5e15, "KRW")), credit("bank", money(5e15, "KRW"))],
            occurredAt: T,
            refs: {},
          })._unsafeUnwrap();
        (await s.ledger.post(big("big1")))._unsafeUnwrap();
        const overflow = await s.ledger.post(big("big2"));
        expect(overflow._unsafeUnwrapErr()).toMatchObject({ type: "duplicate" });
        expect(overflow._unsafeUnwrapErr().message).toContain("balance_overflow");
        expect((await s.ledger.balance("pot", "KRW"))._unsafeUnwrap()).toEqual(money(5e15, "KRW"));
        expect((await s.ledger.balance("bank", "KRW"))._unsafeUnwrap()).toEqual(money(-5e15, "KRW"));
      });

      it("posts a held payment's movements (the held_* kinds), once each", async () => {
        const life = heldStep(heldPayment(), T + HOUR, ...paidInputs("hp_1"), { type: "confirm_fulfilled" });
        const released = heldStep(
          life,
          T + 80 * HOUR,
          { type: "timer", timer: { kind: "release_due" } },
          {
            type: "transfer_created",
            attempt: 1,
            transferId: "tr_1",
          },
        );
        const transactions = postings(released.effects).flatMap((e) =>
          e.kind === "post_ledger" ? [e.transaction] : [],
        );
        expect(transactions.map((t) => t.kind)).toEqual([
          "held_captured",
          "held_fee_earned",
          "held_seller_payable",
          "held_transferred",
        ]);
        for (const t of [...transactions, ...transactions]) (await s.ledger.post(t))._unsafeUnwrap();
        const balance = async (account: string) =>
          (await s.ledger.balance(account, "AUD"))._unsafeUnwrap().amountMinor;
        expect(await balance("held:hp_1:hold")).toBe(0);
        expect(await balance("held:hp_1:paid_in")).toBe(-10_000);
        expect(await balance("held:hp_1:seller")).toBe(9_000);
        expect(await balance("held:hp_1:fees")).toBe(1_000);
      });

      it("posts a marketplace charge's movements (the marketplace_* kinds), once each", async () => {
        const split = chargeStep(
          marketplaceCharge({ sellers: coHosts }),
          T + HOUR,
          chargePaid("mc_1"),
          ...coHosts.map(
            (h): MarketplaceChargeInput => ({
              type: "transfer_created",
              sellerId: h.id,
              attempt: 1,
              transferId: `tr_${h.id}`,
            }),
          ),
        );
        let run = chargeStep(split, T + 2 * HOUR, {
          type: "refund",
          initiatedBy: "platform",
          by: "admin_1",
          reason: "cancelled",
          amountMinor: 4_000,
        });
        run = chargeStep(run, T + 3 * HOUR, ...reversalsLanded(run.state), {
          type: "refund_succeeded",
          refund: 1,
          attempt: 1,
          refundId: "re_1",
        });
        run = chargeStep(
          run,
          T + 4 * HOUR,
          {
            type: "dispute_opened",
            disputeId: "dp_1",
            amountMinor: 1_000,
            reason: "fraudulent",
            stripeStatus: "needs_response",
          },
          { type: "dispute_closed", disputeId: "dp_1", outcome: "lost", amountMinor: 1_000 },
        );
        const transactions = chargePostings(run.effects).flatMap((e) =>
          e.kind === "post_ledger" ? [e.transaction] : [],
        );
        const kinds = new Set(transactions.map((t) => t.kind));
        for (const kind of [
          "marketplace_captured",
          "marketplace_fee_earned",
          "marketplace_seller_payable",
          "marketplace_transferred",
          "marketplace_transfer_reversed",
          "marketplace_refunded",
          "marketplace_dispute_lost",
        ] as const)
          expect(kinds.has(kind), kind).toBe(true);
        for (const t of [...transactions, ...transactions]) (await s.ledger.post(t))._unsafeUnwrap();
        // A destination charge's refund that gives the fee back (the application fee refunded).
        const destination = chargeStep(
          marketplaceCharge({ id: "mc_dest", clientReference: "rsvp_dest" }),
          T + HOUR,
          chargePaid("mc_dest", "tr_dest"),
          { type: "refund", initiatedBy: "platform", by: "admin_1", reason: "cancelled" },
          { type: "refund_succeeded", refund: 1, attempt: 1, refundId: "re_dest" },
        );
        const destinationTransactions = chargePostings(destination.effects).flatMap((e) =>
          e.kind === "post_ledger" ? [e.transaction] : [],
        );
        expect(destinationTransactions.map((t) => t.kind)).toContain("marketplace_application_fee_refunded");
        for (const t of destinationTransactions) (await s.ledger.post(t))._unsafeUnwrap();
        // Balances are the movements' sums, each posted once.
        const sums = new Map<string, number>();
        for (const t of [...transactions, ...destinationTransactions])
          for (const p of t.postings)
            sums.set(
              p.account,
              (sums.get(p.account) ?? 0) +
                (p.side === "debit" ? p.amount.amountMinor : -p.amount.amountMinor),
            );
        expect(sums.size).toBeGreaterThan(4);
        for (const [account, sum] of sums)
          expect((await s.ledger.balance(account, "AUD"))._unsafeUnwrap().amountMinor, account).toBe(sum);
      });

      it("keeps an account's balances per currency", async () => {
        const fx = createLedgerTransaction({
          id: "fx",
          kind: "debit_settled",
          postings: [
            debit("pot", money(700, "NZD")),
            credit("bank", money(700, "NZD")),
            debit("pot", money(300, "AUD")),
            debit("pot", money(200, "AUD")),
            credit("bank", money(500, "AUD")),
          ],
          occurredAt: T,
          refs: {},
        })._unsafeUnwrap();
        (await s.ledger.post(fx))._unsafeUnwrap();
        (await s.ledger.post(fx))._unsafeUnwrap();
        expect((await s.ledger.balance("pot", "NZD"))._unsafeUnwrap()).toEqual(money(700, "NZD"));
        expect((await s.ledger.balance("pot", "AUD"))._unsafeUnwrap()).toEqual(money(500, "AUD"));
        expect((await s.ledger.balance("bank", "AUD"))._unsafeUnwrap()).toEqual(money(-500, "AUD"));
      });
    });
  });
}
