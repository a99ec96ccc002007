/**
 * What the emulator stores beside each connected account. Its own module because accounts and
 * payouts (which read the bank account) both use it, and accounts call into payouts.
 */
export interface AccountMeta {
  deleted?: boolean;
  /** `external_account[account_number]`: Stripe's test numbers make payouts fail. */
  bankAccountNumber?: string;
  /** Id of the bank account payouts go to. */
  bankAccountId?: string;
}
