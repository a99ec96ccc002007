// An operator's correction of the ledger, carried out: the adjustment checked by the ledger's
// rules (`manualAdjustment`) and against what exists (`checkAdjustmentAccounts`: the owners its
// accounts name, found through their repositories, and their currencies), with its audit lines and its ticket's note (and resolution, when
// asked), stored in one commit by the `LedgerAdjustments` port.
import { errAsync, okAsync, ResultAsync } from "neverthrow";
import type { LedgerAccountId, LedgerTransaction } from "../ledger/ledger-transaction.js";
import {
  type AdjustmentAccountFacts,
  type AdjustmentOwner,
  adjustmentOwnerKey,
  adjustmentOwners,
  checkAdjustmentAccounts,
  type ManualAdjustmentError,
  type ManualAdjustmentInput,
  manualAdjustment,
} from "../ledger/manual-adjustment.js";
import type { CurrencyCode } from "../money/currency-code.js";
import type { LedgerAdjustmentOutcome, LedgerAdjustments } from "../ports/ledger-store.js";
import type { AuditEntry, StorageError } from "../ports/storage.js";
import type { UseCaseDeps } from "./deps.js";

/**
 * The audit lines of an adjustment: one on the ledger transaction, and one on its round when
 * it touches one (so the group's audit trail shows it), action `manual_adjustment`, actor
 * `operator:<by>`, the reason and the ticket as the detail.
 */
export function adjustmentAudit(tx: LedgerTransaction, at: number): AuditEntry[] {
  const { adjustedBy, reason, ticketId, roundId } = tx.refs;
  const detail = `${tx.id}: ${reason ?? ""}${ticketId !== undefined ? ` (ticket ${ticketId})` : ""}`;
  const line = (aggregate: AuditEntry["aggregate"], aggregateId: string): AuditEntry => ({
    at,
    aggregate,
    aggregateId,
    action: "manual_adjustment",
    outcome: "applied",
    detail,
    actor: `operator:${adjustedBy ?? "unknown"}`,
  });
  return [line("ledger", tx.id), ...(roundId !== undefined ? [line("round", roundId)] : [])];
}

/** What {@link postLedgerAdjustment} takes: the adjustment, and whether to resolve its ticket. */
export interface LedgerAdjustmentRequest extends ManualAdjustmentInput {
  /** When it is posted: its audit lines' and the ticket's resolution time; `occurredAt` may not be after it. */
  readonly now: number;
  /** Resolve the ticket (`ticketId`) if it is still open, `by` as who resolved it. */
  readonly resolveTicket?: boolean;
}

/** The repositories of what a ledger account can name: rounds, held payments, marketplace charges, subscriptions, people. */
export type AdjustmentOwnerRepositories = Pick<
  UseCaseDeps,
  "rounds" | "heldPayments" | "marketplaceCharges" | "subscriptions" | "people"
>;

/** The currencies an owner's accounts may hold, `undefined` for a person (any); `null` when it does not exist. */
function ownerCurrencies(
  repos: AdjustmentOwnerRepositories,
  owner: AdjustmentOwner,
): ResultAsync<ReadonlySet<CurrencyCode> | undefined | null, StorageError> {
  const one = (currency: CurrencyCode | undefined) => (currency === undefined ? null : new Set([currency]));
  switch (owner.kind) {
    case "round":
      return repos.rounds.getRound(owner.id).map((r) => one(r?.currency));
    case "held":
      return repos.heldPayments.getHeldPayment(owner.id).map((p) => one(p?.currency));
    case "marketplace":
      return repos.marketplaceCharges.getMarketplaceCharge(owner.id).map((c) => one(c?.currency));
    case "membership":
      return repos.subscriptions
        .getSubscription(owner.id)
        .map((s) =>
          s === undefined ? null : new Set([s.price.currency, ...s.invoices.map((i) => i.currency)]),
        );
    case "person":
      return okAsync(undefined);
  }
}

/** What the ledger and the repositories know of these accounts ({@link checkAdjustmentAccounts}). */
function adjustmentAccountFacts(
  adjustments: LedgerAdjustments,
  repos: AdjustmentOwnerRepositories,
  accounts: readonly LedgerAccountId[],
): ResultAsync<AdjustmentAccountFacts, StorageError> {
  const owners = adjustmentOwners(accounts);
  const aggregates = owners.filter((o) => o.kind !== "person");
  const personIds = owners.filter((o) => o.kind === "person").map((o) => o.id);
  return ResultAsync.combine([
    adjustments.existingAccounts(accounts),
    ResultAsync.combine(aggregates.map((o) => ownerCurrencies(repos, o))),
    personIds.length === 0 ? okAsync([]) : repos.people.getPeople(personIds),
  ] as const).map(([ledgerAccounts, currencies, people]) => {
    const found = new Map<string, ReadonlySet<CurrencyCode> | undefined>();
    aggregates.forEach((owner, i) => {
      const c = currencies[i];
      if (c !== null && c !== undefined) found.set(adjustmentOwnerKey(owner), c);
    });
    for (const person of people) found.set(adjustmentOwnerKey({ kind: "person", id: person.id }), undefined);
    return { ledgerAccounts, owners: found };
  });
}

/**
 * Posts an operator's adjustment: the adjustment built and checked (refused with its code,
 * nothing stored) — accounts of no known shape only if the ledger holds them, accounts of the
 * chart only if their owners exist or the ledger holds them, postings in their owners'
 * currencies — then stored with its audit lines and its ticket's note in one commit. The
 * outcome says whether it was posted now, posted before by the same request, conflicts with
 * what its id posted before, or names a ticket that does not exist.
 */
export function postLedgerAdjustment(
  adjustments: LedgerAdjustments,
  owners: AdjustmentOwnerRepositories,
  request: LedgerAdjustmentRequest,
): ResultAsync<LedgerAdjustmentOutcome, ManualAdjustmentError | StorageError> {
  const accounts = [...new Set(request.postings.map((p) => p.account))];
  return adjustmentAccountFacts(adjustments, owners, accounts).andThen((facts) => {
    const built = manualAdjustment(request, new Set(facts.ledgerAccounts.keys())).andThen((tx) =>
      checkAdjustmentAccounts(tx, facts),
    );
    if (built.isErr()) return errAsync<LedgerAdjustmentOutcome, ManualAdjustmentError>(built.error);
    const transaction = built.value;
    const ticketId = request.ticketId;
    return adjustments.postAdjustment({
      transaction,
      audit: adjustmentAudit(transaction, request.now),
      ...(ticketId !== undefined
        ? {
            ticket: {
              id: ticketId,
              ...(request.resolveTicket === true
                ? {
                    resolution: {
                      by: request.by,
                      note: `ledger adjustment ${transaction.id}: ${transaction.refs.reason ?? ""}`,
                      at: request.now,
                    },
                  }
                : {}),
            },
          }
        : {}),
    });
  });
}
