/**
 * What the emulator stores beside each connected account. Its own module because accounts and
 * payouts (which read the bank account) both use it, and accounts call into payouts.
 */
export interface AccountMeta {
  deleted?: boolean;
  /** Each bank account's number, by its id (Stripe's test numbers make payouts to it fail). */
  bankAccountNumbers?: Record<string, string>;
  /** Id payouts name when the account has no bank account in their currency. */
  bankAccountId?: string;
}
