import { disputedSellerPartMinor } from "../held-payment/decide.js";
import type { HeldPayment } from "../held-payment/held-payment.js";
import { disputedSellerPartsMinor } from "../marketplace/decide.js";
import type { MarketplaceCharge } from "../marketplace/marketplace-charge.js";
import type { CurrencyCode } from "../money/index.js";

/**
 * What a seller's connected-account balance must keep for reversals of their transfers
 * that are still to happen, per currency. A refund after the release (a held payment's, a
 * split's) or a lost dispute takes the seller's part back by reversing their transfer, and
 * Stripe reverses a transfer only from the account's balance: a payout of that balance
 * first leaves the reversal failing and the platform paying for it.
 *
 * A reversal still to happen is one asked for and not answered (`requested`), or one that
 * failed and was not asked again (a later reversal for the same refund, dispute and seller
 * supersedes it): an admin's retry will need the money. And one not asked for yet: the
 * seller's part of every dispute of money already transferred to them that is still open
 * (were it lost) or lost with its loss not booked yet — Stripe debits the platform at once
 * and the reversal follows (`disputedSellerPartMinor`, `disputedSellerPartsMinor`).
 */
export function reversalReserve(
  sellerId: string,
  heldPayments: readonly HeldPayment[],
  charges: readonly MarketplaceCharge[],
): ReadonlyMap<CurrencyCode, number> {
  const reserve = new Map<CurrencyCode, number>();
  const add = (currency: CurrencyCode, amountMinor: number) =>
    reserve.set(currency, (reserve.get(currency) ?? 0) + amountMinor);
  for (const p of heldPayments) {
    if (p.seller.id !== sellerId) continue;
    for (const r of p.reversals)
      if (outstanding(r, p.reversals, (x) => sameTarget(x, r))) add(p.currency, r.amountMinor);
    const disputed = disputedSellerPartMinor(p);
    if (disputed > 0) add(p.currency, disputed);
  }
  for (const c of charges) {
    for (const r of c.reversals) {
      if (r.sellerId !== sellerId) continue;
      if (outstanding(r, c.reversals, (x) => x.sellerId === r.sellerId && sameTarget(x, r)))
        add(c.currency, r.amountMinor);
    }
    const disputed = disputedSellerPartsMinor(c).get(sellerId) ?? 0;
    if (disputed > 0) add(c.currency, disputed);
  }
  return reserve;
}

interface ReversalLike {
  readonly number: number;
  readonly status: "requested" | "reversed" | "failed";
  readonly forRefund?: number;
  readonly forDisputeId?: string;
}

function sameTarget(a: ReversalLike, b: ReversalLike): boolean {
  return a.forRefund === b.forRefund && a.forDisputeId === b.forDisputeId;
}

function outstanding<R extends ReversalLike>(
  r: R,
  all: readonly R[],
  sameFor: (other: R) => boolean,
): boolean {
  if (r.status === "requested") return true;
  if (r.status !== "failed") return false;
  return !all.some((later) => later.number > r.number && sameFor(later));
}
