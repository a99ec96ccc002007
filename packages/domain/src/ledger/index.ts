/**
 * The ledger: balanced, append-only double-entry transactions in an immutable ledger
 * value, balances and the trial balance, invariant checks, and the builders of a savings
 * round's, a held payment's and a marketplace charge's money movements with their charts of accounts.
 *
 * @module
 */

export { accountIdPart } from "./account-id-part.js";
export { checkHeldMoney, type HeldMoney, heldMoney } from "./held-money.js";
export {
  type HeldMovementInput,
  type HeldRefundSupersededInput,
  type HeldTakeBackInput,
  heldAccountPrefix,
  heldAccounts,
  heldCaptured,
  heldDisputeLost,
  heldFeeEarned,
  heldOwedToCustomer,
  heldPaidOutsideStripe,
  heldRefunded,
  heldRefundFailed,
  heldRefundSuperseded,
  heldSellerPayable,
  heldTransferReversed,
  heldTransferred,
  type TakenBackFrom,
} from "./held-movements.js";
export {
  type BalanceOverflowError,
  balanceOverflow,
  type DuplicateTransactionConflictError,
  duplicateTransactionConflict,
  type InvalidAccountIdError,
  type InvalidOccurredAtError,
  type InvalidRefsError,
  type InvalidTransactionIdError,
  invalidAccountId,
  invalidOccurredAt,
  invalidRefs,
  invalidTransactionId,
  type LedgerError,
  type LedgerErrorCode,
  type LedgerInvariant,
  type LedgerInvariantViolatedError,
  ledgerInvariantViolated,
  type NonPositiveAmountError,
  nonPositiveAmount,
  type TooFewPostingsError,
  type TooManyPostingsError,
  tooFewPostings,
  tooManyPostings,
  type UnbalancedTransactionError,
  unbalancedTransaction,
} from "./ledger.errors.js";
export {
  balanceOf,
  balancesOf,
  emptyLedger,
  type Ledger,
  ledgerFromTransactions,
  postTransaction,
  type TrialBalanceLine,
  transactionById,
  trialBalance,
} from "./ledger.js";
export { checkLedgerInvariants } from "./ledger-invariants.js";
export {
  checkAccountId,
  createLedgerTransaction,
  credit,
  debit,
  LEDGER_ID_MAX_CHARS,
  LEDGER_POSTINGS_MAX,
  LEDGER_REF_KEY_MAX_CHARS,
  LEDGER_REF_VALUE_MAX_CHARS,
  LEDGER_REFS_MAX,
  type LedgerAccountId,
  type LedgerPosting,
  type LedgerTransaction,
  type LedgerTransactionInput,
  type LedgerTransactionKind,
  type PostingSide,
  sameTransactionContent,
  validateLedgerTransaction,
} from "./ledger-transaction.js";
export { checkMarketplaceMoney, type MarketplaceMoney, marketplaceMoney } from "./marketplace-money.js";
export {
  type MarketplaceMovementBase,
  type MarketplaceMovementInput,
  type MarketplaceSellerMovementInput,
  type MarketplaceTakeBackFrom,
  type MarketplaceTakeBackInput,
  marketplaceAccountPrefix,
  marketplaceAccounts,
  marketplaceApplicationFeeRefundCorrected,
  marketplaceApplicationFeeRefunded,
  marketplaceCaptured,
  marketplaceDisputeLost,
  marketplaceFeeEarned,
  marketplaceOwedToCustomer,
  marketplacePaidOutsideStripe,
  marketplaceRefunded,
  marketplaceRefundFailed,
  marketplaceSellerPayable,
  marketplaceTransferReversed,
  marketplaceTransferred,
} from "./marketplace-movements.js";
export {
  membershipAccounts,
  membershipDisputeLost,
  membershipDisputeReinstated,
  membershipInvoicePaid,
  membershipInvoiceRefunded,
  membershipInvoiceRefundFailed,
  membershipOutsideRefundFailed,
  membershipRefundedOutsideSusu,
} from "./membership-movements.js";
export { checkRoundMoney, type RoundMoney, roundMoney } from "./round-money.js";
export {
  contributionOwedToMember,
  contributionPaidOutsideStripe,
  contributionRefunded,
  contributionRefundFailed,
  debitFailed,
  debitInitiated,
  debitSettled,
  disputeLoss,
  disputeReinstated,
  type PayoutMovementInput,
  payoutTransferred,
  type RoundMovementInput,
  roundAccountPrefix,
  roundAccounts,
  transferReversed,
} from "./round-movements.js";
