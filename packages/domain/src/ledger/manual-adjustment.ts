// An operator's correction of the ledger: a balanced transaction of postings a person chose
// (`manual_adjustment`), for what no movement builder books — a ticket asking a person to
// check and correct postings, a reconciliation difference, a legacy state. It goes through
// the ledger's own rules (balanced per currency, positive amounts, known currencies), and
// further ones, since a person types it:
// - every account is of the chart of accounts' shapes (`parseLedgerAccount`), or one the
//   ledger already holds (an account of an older chart);
// - an account of the chart names owners that exist — its round, held payment, marketplace
//   charge or subscription, and the person it is about — or the ledger already holds it
//   (`checkAdjustmentAccounts`): a typo never opens a new account;
// - a posting to an owner's account is in the owner's currency (a round's, a held payment's…);
// - each amount is at most what one charge may be in its currency (`maximumChargeMinor`);
// - the postings touch at most one round, whose id the transaction carries (`refs.roundId`),
//   so the round's group shows it in its books;
// - at most {@link MANUAL_ADJUSTMENT_POSTINGS_MAX} postings, and a reason.
// Who made it, why, the ticket it answers and the reconciliation key it stands for are its
// refs. The id is the caller's (the API derives it from the caller and its Idempotency-Key).
import { err, ok, type Result } from "neverthrow";
import { type CodedError, codedErrorConstructor } from "../kernel/coded-error.js";
import { textLength, textLengthWithin } from "../kernel/text.js";
import { maximumChargeMinor } from "../money/charge-amount.js";
import { parseCurrencyCode } from "../money/currency.js";
import type { CurrencyCode } from "../money/currency-code.js";
import type { MoneyError } from "../money/money.errors.js";
import { amountTooLarge } from "../money/money.errors.js";
import { money } from "../money/money.js";
import { idOfAccountPart, isAccountIdPart } from "./account-id-part.js";
import type { LedgerError } from "./ledger.errors.js";
import {
  createLedgerTransaction,
  LEDGER_REF_VALUE_MAX_CHARS,
  type LedgerAccountId,
  type LedgerPosting,
  type LedgerTransaction,
  type PostingSide,
  sameTransactionContent,
} from "./ledger-transaction.js";

/** Most postings in one adjustment (a correction names a few accounts, not a ledger's worth). */
export const MANUAL_ADJUSTMENT_POSTINGS_MAX = 50;
/** Longest reason (it is kept in the transaction's refs). */
export const MANUAL_ADJUSTMENT_REASON_MAX_CHARS = LEDGER_REF_VALUE_MAX_CHARS;

/** The families of the chart of accounts, by the first part of an account's name. */
export type LedgerAccountFamily = "round" | "member" | "platform" | "held" | "marketplace" | "membership";

/** What an account's name says: its family, its owner (a round, a payment…), its name and its party. */
export interface ParsedLedgerAccount {
  readonly family: LedgerAccountFamily;
  /** The owner's id, unescaped (`round:<r>:…` → r); none for `platform:*`. */
  readonly ownerId?: string;
  /** The account's name within its owner (`pot`, `owed_to_member`, `funds`…); none for `member:<m>`. */
  readonly name?: string;
  /** The person it is about, unescaped (`…:contributions:<m>`, `member:<m>`, `…:seller:<s>`). */
  readonly partyId?: string;
}

// The names of each family's accounts (round-movements.ts, held-movements.ts,
// marketplace-movements.ts, membership-movements.ts): those without a party, and those with one.
const CHART: Readonly<
  Record<
    Exclude<LedgerAccountFamily, "member" | "platform">,
    { readonly own: readonly string[]; readonly perParty: readonly string[] }
  >
> = {
  round: {
    own: ["pot", "in_flight"],
    perParty: ["contributions", "refunds", "payouts", "owed_to_member", "paid_outside_stripe"],
  },
  held: {
    own: [
      "hold",
      "paid_in",
      "seller_payable",
      "seller",
      "fees",
      "refunds",
      "dispute_losses",
      "owed_to_customer",
      "paid_outside_stripe",
      "platform_funded",
      "owed_by_customer",
    ],
    perParty: [],
  },
  marketplace: {
    own: [
      "in_flight",
      "paid_in",
      "platform_funded",
      "fees",
      "refunds",
      "dispute_losses",
      "owed_to_customer",
      "paid_outside_stripe",
      "owed_by_customer",
    ],
    perParty: ["seller_payable", "seller"],
  },
  membership: { own: ["paid_in", "dispute_losses"], perParty: [] },
};
const PLATFORM_ACCOUNTS: readonly string[] = ["funds", "membership_revenue"];

/**
 * Reads an account name of the chart of accounts (`round:<r>:pot`,
 * `round:<r>:contributions:<m>`, `member:<m>`, `platform:funds`, `held:<p>:hold`,
 * `marketplace:<c>:seller:<s>`, `membership:<s>:paid_in`…), ids escaped as `accountIdPart`
 * does; `undefined` for any other name.
 */
export function parseLedgerAccount(account: LedgerAccountId): ParsedLedgerAccount | undefined {
  const parts = account.split(":");
  const [family, second, name, party] = parts;
  if (family === "platform")
    return parts.length === 2 && second !== undefined && PLATFORM_ACCOUNTS.includes(second)
      ? { family, name: second }
      : undefined;
  if (second === undefined || !isAccountIdPart(second)) return undefined;
  if (family === "member")
    return parts.length === 2 ? { family, partyId: idOfAccountPart(second) } : undefined;
  if (family !== "round" && family !== "held" && family !== "marketplace" && family !== "membership")
    return undefined;
  if (name === undefined) return undefined;
  const chart = CHART[family];
  const ownerId = idOfAccountPart(second);
  if (parts.length === 3 && chart.own.includes(name)) return { family, ownerId, name };
  if (parts.length === 4 && party !== undefined && isAccountIdPart(party) && chart.perParty.includes(name))
    return { family, ownerId, name, partyId: idOfAccountPart(party) };
  return undefined;
}

/** The codes a manual adjustment is refused with besides the ledger's and money's own. */
export type ManualAdjustmentErrorCode =
  | "unknown_account"
  | "adjustment_currency_mismatch"
  | "adjustment_spans_rounds"
  | "adjustment_currencies_mixed"
  | "invalid_adjustment";

/** A manual adjustment the rules refuse; nothing is posted. */
export type ManualAdjustmentError =
  | CodedError<ManualAdjustmentErrorCode>
  | LedgerError
  | Extract<MoneyError, { readonly type: "unknown_currency" | "amount_too_large" }>;

const adjustmentError = codedErrorConstructor<ManualAdjustmentErrorCode>();

/** Which way the money an adjustment stands for moved at Stripe, from the platform balance's side. */
export type AdjustmentDirection = "in" | "out";

/** One line of an adjustment as a person types it: the amount in minor units, its currency as text. */
export interface ManualPostingInput {
  readonly account: string;
  readonly side: PostingSide;
  readonly amountMinor: number;
  readonly currency: string;
}

/** What {@link manualAdjustment} takes. */
export interface ManualAdjustmentInput {
  /** The transaction id (stable for a retry of the same request). */
  readonly id: string;
  /**
   * When the movement it books happened (epoch ms): now for a correction inside susu; when
   * Stripe moved the money for one it compares with, so it falls in that period.
   */
  readonly occurredAt: number;
  /** When it is posted (epoch ms), if known: `occurredAt` may not be after it. */
  readonly now?: number;
  /** Who makes it: the operator's subject. */
  readonly by: string;
  /** Why, in their words (1 to {@link MANUAL_ADJUSTMENT_REASON_MAX_CHARS} characters once trimmed). */
  readonly reason: string;
  /** The ticket it answers, if any. */
  readonly ticketId?: string;
  readonly postings: readonly ManualPostingInput[];
  /**
   * The reconciliation item it stands for: compared with Stripe under `category` and `key`
   * (its amount: its debits, in its one currency; `direction` its sign). Absent: inside
   * susu, left out of the comparison.
   */
  readonly reconciliation?: {
    readonly category: string;
    readonly key: string;
    readonly direction: AdjustmentDirection;
  };
}

/**
 * Builds an operator's adjustment (`manual_adjustment`) after checking it: known currencies
 * (`unknown_currency`), amounts up to a charge's in their currency (`amount_too_large`), at
 * most {@link MANUAL_ADJUSTMENT_POSTINGS_MAX} postings (`too_many_postings`), accounts of
 * the chart or in `existingAccounts` (`unknown_account`), at most one round
 * (`adjustment_spans_rounds`), one currency when a reconciliation item is given
 * (`adjustment_currencies_mixed`), a reason and a ticket id that fit in refs and a time
 * from 1970 on and not after `now` (`invalid_adjustment`), then the ledger's rules (`unbalanced_transaction`,
 * `non_positive_amount`, `too_few_postings`…).
 */
export function manualAdjustment(
  input: ManualAdjustmentInput,
  existingAccounts: ReadonlySet<LedgerAccountId> = new Set(),
): Result<LedgerTransaction, ManualAdjustmentError> {
  const reason = input.reason.trim();
  if (!textLengthWithin(reason, 1, MANUAL_ADJUSTMENT_REASON_MAX_CHARS))
    return err(
      adjustmentError(
        "invalid_adjustment",
        `the reason must be 1 to ${MANUAL_ADJUSTMENT_REASON_MAX_CHARS} characters`,
      ),
    );
  if (input.now !== undefined && input.occurredAt > input.now)
    return err(adjustmentError("invalid_adjustment", "an adjustment cannot happen in the future"));
  // The ledger's times are epoch ms from 1970 on: an earlier date is refused here, in the
  // request's own terms, rather than by the ledger's rule on its internal shape.
  if (!Number.isSafeInteger(input.occurredAt) || input.occurredAt < 0)
    return err(adjustmentError("invalid_adjustment", "occurredAt must be on or after 1970-01-01T00:00:00Z"));
  if (input.postings.length > MANUAL_ADJUSTMENT_POSTINGS_MAX)
    return err({
      type: "too_many_postings",
      code: "too_many_postings",
      message: `an adjustment has at most ${MANUAL_ADJUSTMENT_POSTINGS_MAX} postings, got ${input.postings.length}`,
      transactionId: input.id,
      postingCount: input.postings.length,
    });
  const postings: LedgerPosting[] = [];
  const rounds = new Set<string>();
  for (const p of input.postings) {
    const currency = parseCurrencyCode(p.currency);
    if (currency.isErr()) return err(currency.error as ManualAdjustmentError);
    const maximumMinor = maximumChargeMinor(currency.value);
    if (p.amountMinor > maximumMinor) return err(amountTooLarge(currency.value, p.amountMinor, maximumMinor));
    if (!Number.isSafeInteger(p.amountMinor) || p.amountMinor <= 0)
      return err({
        type: "non_positive_amount",
        code: "non_positive_amount",
        message: `posting to ${p.account} must have a positive whole amount, got ${p.amountMinor}`,
        transactionId: input.id,
        account: p.account,
        amountMinor: p.amountMinor,
      });
    const parsed = parseLedgerAccount(p.account);
    if (parsed === undefined && !existingAccounts.has(p.account))
      return err(
        adjustmentError(
          "unknown_account",
          `account ${p.account} is of no known shape (round:<r>:pot, member:<m>, platform:funds, held:<p>:hold…) and the ledger has no such account`,
        ),
      );
    if (parsed?.family === "round" && parsed.ownerId !== undefined) rounds.add(parsed.ownerId);
    postings.push({ account: p.account, side: p.side, amount: money(p.amountMinor, currency.value) });
  }
  if (rounds.size > 1)
    return err(
      adjustmentError(
        "adjustment_spans_rounds",
        `an adjustment touches one round's accounts at most (it is shown in that round's books), got ${[...rounds].join(", ")}`,
      ),
    );
  const recon = input.reconciliation;
  if (recon !== undefined && new Set(postings.map((p) => p.amount.currency)).size > 1)
    return err(
      adjustmentError(
        "adjustment_currencies_mixed",
        "an adjustment compared with Stripe (reconciliation) moves one currency",
      ),
    );
  const [roundId] = rounds;
  if (input.ticketId !== undefined && textLength(input.ticketId) > LEDGER_REF_VALUE_MAX_CHARS)
    return err(adjustmentError("invalid_adjustment", "the ticket id is too long"));
  return createLedgerTransaction({
    id: input.id,
    kind: "manual_adjustment",
    occurredAt: input.occurredAt,
    postings,
    refs: {
      adjustedBy: input.by,
      reason,
      ...(input.ticketId !== undefined ? { ticketId: input.ticketId } : {}),
      ...(roundId !== undefined ? { roundId } : {}),
      ...(recon !== undefined
        ? {
            reconciliationCategory: recon.category,
            reconciliationKey: recon.key,
            reconciliationDirection: recon.direction,
          }
        : {}),
    },
  });
}

/** What owns an account of the chart, as the store is asked about it: an aggregate, or a person. */
export interface AdjustmentOwner {
  readonly kind: "round" | "held" | "marketplace" | "membership" | "person";
  readonly id: string;
}

const OWNER_NAMES: Readonly<Record<AdjustmentOwner["kind"], string>> = {
  round: "round",
  held: "held payment",
  marketplace: "marketplace charge",
  membership: "subscription",
  person: "person",
};

/** The key of an owner in {@link AdjustmentAccountFacts.owners}. */
export function adjustmentOwnerKey(owner: AdjustmentOwner): string {
  return `${owner.kind}:${owner.id}`;
}

/**
 * The owners an account names: its aggregate (`round:<r>:…` → round r; `membership:<s>:…` →
 * subscription s), and the person it is about (`member:<m>`, `…:contributions:<m>`,
 * `…:seller:<s>`). None for `platform:*` and accounts of no known shape.
 */
function ownersOfAccount(parsed: ParsedLedgerAccount | undefined): AdjustmentOwner[] {
  if (parsed === undefined) return [];
  const owners: AdjustmentOwner[] = [];
  if (parsed.family !== "member" && parsed.family !== "platform" && parsed.ownerId !== undefined)
    owners.push({ kind: parsed.family, id: parsed.ownerId });
  if (parsed.partyId !== undefined) owners.push({ kind: "person", id: parsed.partyId });
  return owners;
}

/** The owners the accounts name (each once), for the store to look up before {@link checkAdjustmentAccounts}. */
export function adjustmentOwners(accounts: readonly LedgerAccountId[]): AdjustmentOwner[] {
  const byKey = new Map<string, AdjustmentOwner>();
  for (const account of accounts)
    for (const owner of ownersOfAccount(parseLedgerAccount(account)))
      byKey.set(adjustmentOwnerKey(owner), owner);
  return [...byKey.values()];
}

/** What the store knows of an adjustment's accounts. */
export interface AdjustmentAccountFacts {
  /** The accounts the ledger already holds, with the currencies it holds each in. */
  readonly ledgerAccounts: ReadonlyMap<LedgerAccountId, ReadonlySet<string>>;
  /**
   * The owners that exist, by {@link adjustmentOwnerKey}, with the currencies their accounts
   * may hold (a round's, a held payment's or a marketplace charge's currency; a
   * subscription's price's and its invoices'); `undefined` for a person (whose `member:<m>`
   * account holds any currency). An owner absent from the map does not exist.
   */
  readonly owners: ReadonlyMap<string, ReadonlySet<CurrencyCode> | undefined>;
}

/**
 * Checks an adjustment's accounts against what exists: an account of the chart names owners
 * that exist, or the ledger already holds it (`unknown_account`: a typo never opens a new
 * account); a posting to an aggregate's account is in that aggregate's currency, and one to
 * an account whose owner is gone in a currency the ledger holds it in
 * (`adjustment_currency_mismatch`). `platform:*`, `member:<m>` and accounts of no known shape
 * (which `manualAdjustment` allows only when the ledger holds them) take any known currency.
 */
export function checkAdjustmentAccounts(
  tx: LedgerTransaction,
  facts: AdjustmentAccountFacts,
): Result<LedgerTransaction, ManualAdjustmentError> {
  for (const { account, amount } of tx.postings) {
    const held = facts.ledgerAccounts.get(account);
    const parsed = parseLedgerAccount(account);
    for (const owner of ownersOfAccount(parsed)) {
      const key = adjustmentOwnerKey(owner);
      if (!facts.owners.has(key)) {
        if (held === undefined)
          return err(
            adjustmentError(
              "unknown_account",
              `account ${account} names ${OWNER_NAMES[owner.kind]} ${owner.id}, which does not exist, and the ledger has no such account`,
            ),
          );
        if (owner.kind !== "person" && !held.has(amount.currency))
          return err(currencyMismatch(account, amount.currency, held));
        continue;
      }
      const currencies = facts.owners.get(key);
      if (currencies !== undefined && !currencies.has(amount.currency))
        return err(currencyMismatch(account, amount.currency, currencies));
    }
  }
  return ok(tx);
}

function currencyMismatch(
  account: LedgerAccountId,
  currency: string,
  allowed: ReadonlySet<string>,
): CodedError<ManualAdjustmentErrorCode> {
  return adjustmentError(
    "adjustment_currency_mismatch",
    `account ${account} holds ${[...allowed].sort().join(", ")}, not ${currency}`,
  );
}

/**
 * Whether a stored adjustment is the one `candidate` would post again (a retry of the same
 * request): the same id, postings and refs; only when it happened may differ.
 */
export function sameAdjustment(stored: LedgerTransaction, candidate: LedgerTransaction): boolean {
  return sameTransactionContent(stored, { ...candidate, occurredAt: stored.occurredAt });
}

/** The reconciliation item an adjustment stands for, read back from its refs; undefined when it has none. */
export function adjustmentReconciliation(
  tx: LedgerTransaction,
): { readonly category: string; readonly key: string; readonly direction: AdjustmentDirection } | undefined {
  const {
    reconciliationCategory: category,
    reconciliationKey: key,
    reconciliationDirection: direction,
  } = tx.refs;
  if (category === undefined || key === undefined || (direction !== "in" && direction !== "out"))
    return undefined;
  return { category, key, direction };
}
