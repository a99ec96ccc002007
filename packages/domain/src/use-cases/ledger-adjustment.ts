// An operator's correction of the ledger, carried out: the adjustment checked by the ledger's
// rules (`manualAdjustment`), with its audit lines and its ticket's note (and resolution, when
// asked), stored in one commit by the `LedgerAdjustments` port.
import { errAsync, type ResultAsync } from "neverthrow";
import type { LedgerTransaction } from "../ledger/ledger-transaction.js";
import {
  type ManualAdjustmentError,
  type ManualAdjustmentInput,
  manualAdjustment,
  parseLedgerAccount,
} from "../ledger/manual-adjustment.js";
import type { LedgerAdjustmentOutcome, LedgerAdjustments } from "../ports/ledger-store.js";
import type { AuditEntry, StorageError } from "../ports/storage.js";

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

/**
 * Posts an operator's adjustment: accounts of no known shape are looked up (allowed only if
 * the ledger holds them), the adjustment built and checked (refused with its code, nothing
 * stored), then stored with its audit lines and its ticket's note in one commit. The
 * outcome says whether it was posted now, posted before by the same request, conflicts with
 * what its id posted before, or names a ticket that does not exist.
 */
export function postLedgerAdjustment(
  adjustments: LedgerAdjustments,
  request: LedgerAdjustmentRequest,
): ResultAsync<LedgerAdjustmentOutcome, ManualAdjustmentError | StorageError> {
  const unshaped = [
    ...new Set(request.postings.map((p) => p.account).filter((a) => parseLedgerAccount(a) === undefined)),
  ];
  return adjustments.existingAccounts(unshaped).andThen((existing) => {
    const built = manualAdjustment(request, existing);
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
