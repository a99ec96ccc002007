import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import type { HeldPayment } from "../held-payment/held-payment.js";
import type { HeldPaymentEffect } from "../held-payment/held-payment-effect.js";
import type { Decision } from "../kernel/decision.js";
import { roundAccounts } from "../ledger/round-movements.js";
import type { MarketplaceCharge } from "../marketplace/marketplace-charge.js";
import type { MarketplaceChargeEffect } from "../marketplace/marketplace-charge-effect.js";
import { isCurrencyCode, money } from "../money/index.js";
import { owedPaymentError } from "../owed/owed-payment.errors.js";
import type { RecordOwedPayment } from "../owed/owed-payment.js";
import { owedRecoveryError } from "../owed/owed-recovery.errors.js";
import type { RecordOwedRecovery } from "../owed/owed-recovery.js";
import { decideHeldOwedPayment, decideMarketplaceOwedPayment } from "../owed/payment-owed.js";
import { decideHeldOwedRecovery, decideMarketplaceOwedRecovery } from "../owed/payment-owed-recovery.js";
import { decideRoundOwedPayment, roundOwedInLedger } from "../owed/round-owed.js";
import type { LedgerReader } from "../ports/ledger-store.js";
import type { StorageError } from "../ports/storage.js";
import type { Round } from "../round/round.js";
import { isGroupLocalEffect, type RoundOutboxEffect } from "../round/round-effect.js";
import { type AggregateKind, applyOperatorCommand } from "./aggregate-commit.js";
import { notFound, type UseCaseDeps, type UseCaseError } from "./deps.js";
import { retryOnConflict } from "./retry-on-conflict.js";
import { operatorActor, type PlatformOperator } from "./round-use-cases.js";

// A platform admin records that money susu owed outside Stripe (a refund Stripe refuses after
// a lost dispute) was paid by other means: a held payment's or a marketplace charge's customer,
// a round's member. Load, decide (`owed/`), store the aggregate with its new payment (version
// checked: two admins recording at once cannot both pay what is owed once), the posting, the
// notice and the ticket resolutions in the outbox, and an audit line naming the admin — once
// more from the load when another writer got there first.

/** What an admin says they paid outside Stripe. */
export interface OwedPaymentCommand {
  readonly amountMinor: number;
  /** Must be the currency of what is owed. */
  readonly currency: string;
  /** The bank transfer's reference, or a note. */
  readonly reference: string;
}

/** The command as the owed rule takes it, or `currency_mismatch` for a currency susu does not know. */
function recordOf(
  operator: PlatformOperator,
  command: OwedPaymentCommand,
): ResultAsync<RecordOwedPayment, UseCaseError> {
  const { currency } = command;
  if (!isCurrencyCode(currency))
    return errAsync(owedPaymentError("currency_mismatch", `${currency} is not a currency susu knows`));
  return okAsync<RecordOwedPayment, UseCaseError>({
    type: "record_owed_payment",
    amount: money(command.amountMinor, currency),
    reference: command.reference,
    by: operatorActor(operator),
  });
}

/** A held payment, loaded, decided on by the owed rule and stored on its own. */
const heldOwedKind: AggregateKind<
  "heldPayments",
  RecordOwedPayment,
  Decision<HeldPayment, HeldPaymentEffect, never>
> = {
  aggregate: "held_payment",
  stored: (change) => ({ heldPayments: [change] }),
  load: (deps, id) => deps.heldPayments.getHeldPayment(id),
  decide: (_deps, payment, input, now) => decideHeldOwedPayment(payment, input, { now }),
};

/** A marketplace charge, loaded, decided on by the owed rule and stored on its own. */
const marketplaceOwedKind: AggregateKind<
  "marketplaceCharges",
  RecordOwedPayment,
  Decision<MarketplaceCharge, MarketplaceChargeEffect, never>
> = {
  aggregate: "marketplace_charge",
  stored: (change) => ({ marketplaceCharges: [change] }),
  load: (deps, id) => deps.marketplaceCharges.getMarketplaceCharge(id),
  decide: (_deps, charge, input, now) => decideMarketplaceOwedPayment(charge, input, { now }),
};

/** A platform admin records paying a held payment's customer outside Stripe what it owed them (or part of it). */
export function recordHeldPaymentOwedPaid(
  deps: UseCaseDeps,
  id: string,
  operator: PlatformOperator,
  command: OwedPaymentCommand,
): ResultAsync<HeldPayment, UseCaseError> {
  return recordOf(operator, command).andThen((input) =>
    applyOperatorCommand(heldOwedKind, deps, id, operator, input),
  );
}

/** A platform admin records paying a marketplace charge's customer outside Stripe what it owed them (or part of it). */
export function recordMarketplaceChargeOwedPaid(
  deps: UseCaseDeps,
  id: string,
  operator: PlatformOperator,
  command: OwedPaymentCommand,
): ResultAsync<MarketplaceCharge, UseCaseError> {
  return recordOf(operator, command).andThen((input) =>
    applyOperatorCommand(marketplaceOwedKind, deps, id, operator, input),
  );
}

/** What an admin says the customer paid back of what they owe back (they got it twice). */
export interface OwedRecoveryCommand {
  readonly amountMinor: number;
  /** Must be the currency of the charge. */
  readonly currency: string;
  /** The bank transfer's reference, or a note. */
  readonly reference: string;
}

/** The command as the recovery rule takes it, or `currency_mismatch` for a currency susu does not know. */
function recoveryOf(
  operator: PlatformOperator,
  command: OwedRecoveryCommand,
): ResultAsync<RecordOwedRecovery, UseCaseError> {
  const { currency } = command;
  if (!isCurrencyCode(currency))
    return errAsync(owedRecoveryError("currency_mismatch", `${currency} is not a currency susu knows`));
  return okAsync<RecordOwedRecovery, UseCaseError>({
    type: "record_owed_recovery",
    amount: money(command.amountMinor, currency),
    reference: command.reference,
    by: operatorActor(operator),
  });
}

/** A held payment, loaded, decided on by the recovery rule and stored on its own. */
const heldRecoveryKind: AggregateKind<
  "heldPayments",
  RecordOwedRecovery,
  Decision<HeldPayment, HeldPaymentEffect, never>
> = {
  aggregate: "held_payment",
  stored: (change) => ({ heldPayments: [change] }),
  load: (deps, id) => deps.heldPayments.getHeldPayment(id),
  decide: (_deps, payment, input, now) => decideHeldOwedRecovery(payment, input, { now }),
};

/** A marketplace charge, loaded, decided on by the recovery rule and stored on its own. */
const marketplaceRecoveryKind: AggregateKind<
  "marketplaceCharges",
  RecordOwedRecovery,
  Decision<MarketplaceCharge, MarketplaceChargeEffect, never>
> = {
  aggregate: "marketplace_charge",
  stored: (change) => ({ marketplaceCharges: [change] }),
  load: (deps, id) => deps.marketplaceCharges.getMarketplaceCharge(id),
  decide: (_deps, charge, input, now) => decideMarketplaceOwedRecovery(charge, input, { now }),
};

/**
 * A platform admin records that a held payment's customer paid back (outside Stripe) what they
 * owed back, or part of it: money a lost dispute's bank gave them that an admin had paid already.
 */
export function recordHeldPaymentOwedRecovered(
  deps: UseCaseDeps,
  id: string,
  operator: PlatformOperator,
  command: OwedRecoveryCommand,
): ResultAsync<HeldPayment, UseCaseError> {
  return recoveryOf(operator, command).andThen((input) =>
    applyOperatorCommand(heldRecoveryKind, deps, id, operator, input),
  );
}

/**
 * A platform admin records that a marketplace charge's customer paid back (outside Stripe) what
 * they owed back, or part of it: money a lost dispute's bank gave them that an admin had paid already.
 */
export function recordMarketplaceChargeOwedRecovered(
  deps: UseCaseDeps,
  id: string,
  operator: PlatformOperator,
  command: OwedRecoveryCommand,
): ResultAsync<MarketplaceCharge, UseCaseError> {
  return recoveryOf(operator, command).andThen((input) =>
    applyOperatorCommand(marketplaceRecoveryKind, deps, id, operator, input),
  );
}

/**
 * What the ledger says rounds owe members outside Stripe, for the contributions whose figure
 * is only there ({@link roundOwedInLedger}: stored before rounds kept it): `(roundId,
 * memberId)` → the balance of `round:<r>:owed_to_member:<m>` in the round's currency, 0 for
 * every other contribution. Pass it to `roundOwed`. One ledger read for all the rounds, none
 * when no contribution needs it. The owed-payment use case and the API's round views read it
 * this way, so what a round shows owed is what a payment is checked against.
 */
export function ledgerOwedOfRounds(
  ledger: Pick<LedgerReader, "balancesOfRounds">,
  rounds: readonly Round[],
): ResultAsync<(roundId: string, memberId: string) => number, StorageError> {
  const wanted = new Map<string, string>();
  for (const round of rounds)
    for (const c of round.contributions)
      if (roundOwedInLedger(c)) wanted.set(roundAccounts.owedToMember(round.id, c.memberId), round.currency);
  if (wanted.size === 0) return okAsync(() => 0);
  const roundIds = [...new Set(rounds.map((r) => r.id))];
  return ledger.balancesOfRounds(roundIds).map((balances) => {
    const owed = new Map<string, number>();
    for (const { account, balance } of balances)
      if (wanted.get(account) === balance.currency) owed.set(account, balance.amountMinor);
    return (roundId: string, memberId: string) =>
      owed.get(roundAccounts.owedToMember(roundId, memberId)) ?? 0;
  });
}

/**
 * A platform admin records paying member `memberId` outside Stripe what round `roundId` owed
 * them (or part of it). A round stored before rounds kept what they owe reads it from the
 * ledger ({@link ledgerOwedOfRounds}) when the first payment is recorded; without a ledger
 * such a round owes nothing here.
 */
export function recordRoundOwedPaid(
  deps: UseCaseDeps,
  roundId: string,
  memberId: string,
  operator: PlatformOperator,
  command: OwedPaymentCommand,
  ledger?: Pick<LedgerReader, "balancesOfRounds">,
): ResultAsync<Round, UseCaseError> {
  const ledgerOwed = (round: Round): ResultAsync<number, UseCaseError> =>
    ledger === undefined
      ? okAsync(0)
      : ledgerOwedOfRounds(ledger, [round]).map((owed) => owed(round.id, memberId));
  const attempt = (input: RecordOwedPayment): ResultAsync<Round, UseCaseError> =>
    deps.rounds.getRound(roundId).andThen((round) => {
      if (round === undefined) return errAsync<Round, UseCaseError>(notFound("round", roundId));
      return ledgerOwed(round).andThen((ledgerOwedMinor) => {
        const now = deps.clock.now();
        const decided = decideRoundOwedPayment(round, memberId, input, { now }, ledgerOwedMinor);
        if (decided.isErr()) return errAsync<Round, UseCaseError>(decided.error);
        const state: Round = { ...decided.value.state, version: round.version + 1 };
        return deps.uow
          .commit({
            people: [],
            groups: [],
            rounds: [{ state, expectedVersion: round.version }],
            outbox: decided.value.effects.filter((e): e is RoundOutboxEffect => !isGroupLocalEffect(e)),
            audit: [
              {
                at: now,
                aggregate: "round",
                aggregateId: roundId,
                action: input.type,
                outcome: "applied",
                detail: `${memberId}: ${input.amount.amountMinor} ${input.amount.currency} (${input.reference})`,
                actor: input.by,
              },
            ],
          })
          .map(() => state);
      });
    });
  return recordOf(operator, command).andThen((input) => retryOnConflict(() => attempt(input)));
}
