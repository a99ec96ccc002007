import { describe, expect, it } from "vitest";
import { money } from "../money/index.js";
import { emptyLedger, postTransaction } from "./ledger.js";
import { checkMarketplaceMoney } from "./marketplace-money.js";
import {
  marketplaceAccounts,
  marketplaceApplicationFeeRefunded,
  marketplaceCaptured,
  marketplaceDisputeLost,
  marketplaceFeeEarned,
  marketplaceOwedToCustomer,
  marketplaceRefunded,
  marketplaceRefundFailed,
  marketplaceSellerPayable,
  marketplaceTransferReversed,
  marketplaceTransferred,
} from "./marketplace-movements.js";

const base = { chargeId: "mc:1", occurredAt: 1 };
const aud = (minor: number) => money(minor, "AUD");

describe("a marketplace charge's movements", () => {
  it("accounts escape ':' and '%' in ids, so each name parses one way", () => {
    expect(marketplaceAccounts.inFlight("mc:1")).toBe("marketplace:mc%3A1:in_flight");
    expect(marketplaceAccounts.seller("mc:1", "s%1")).toBe("marketplace:mc%3A1:seller:s%251");
    expect(marketplaceAccounts.sellerPayable("mc", "s")).toBe("marketplace:mc:seller_payable:s");
  });

  it("every movement balances, and the charge's money adds up through a refund and a lost dispute", () => {
    const txs = [
      marketplaceCaptured({ ...base, id: "t1", amount: aud(10_000) }),
      marketplaceFeeEarned({ ...base, id: "t2", amount: aud(1_000) }),
      marketplaceSellerPayable({ ...base, id: "t3", sellerId: "s", amount: aud(9_000) }),
      marketplaceTransferred({ ...base, id: "t4", sellerId: "s", amount: aud(9_000) }),
      marketplaceTransferReversed({ ...base, id: "t5", sellerId: "s", amount: aud(2_000) }),
      marketplaceApplicationFeeRefunded({ ...base, id: "t6", amount: aud(200), toSellerId: "s" }),
      marketplaceRefunded({
        ...base,
        id: "t7",
        currency: "AUD",
        from: { inFlightMinor: 2_000, feesMinor: 0, platformFundedMinor: 500 },
      }),
      marketplaceDisputeLost({
        ...base,
        id: "t8",
        currency: "AUD",
        from: { inFlightMinor: 0, feesMinor: 300, platformFundedMinor: 100 },
      }),
    ];
    let ledger = emptyLedger();
    for (const tx of txs) ledger = postTransaction(ledger, tx._unsafeUnwrap())._unsafeUnwrap();
    const m = checkMarketplaceMoney(ledger, "mc:1", ["s"], "AUD")._unsafeUnwrap();
    expect(m).toMatchObject({
      paidInMinor: 10_000,
      platformFundedMinor: 600,
      inFlightMinor: 0,
      sellerPayableMinor: 0,
      sellersMinor: 7_200,
      feesMinor: 500,
      refundedMinor: 2_500,
      disputeLostMinor: 400,
    });
  });

  it("a refund's rest owed outside Stripe is taken back like the refund: sellers' parts from in flight, the fee's, the platform's", () => {
    const owed = marketplaceOwedToCustomer({
      ...base,
      id: "o",
      currency: "AUD",
      from: { inFlightMinor: 3_000, feesMinor: 1_000, platformFundedMinor: 0 },
    })._unsafeUnwrap();
    expect(owed.kind).toBe("marketplace_owed_to_customer");
    expect(owed.postings.map((p) => [p.account, p.side, p.amount.amountMinor])).toEqual([
      ["marketplace:mc%3A1:owed_to_customer", "debit", 4_000],
      ["marketplace:mc%3A1:in_flight", "credit", 3_000],
      ["marketplace:mc%3A1:fees", "credit", 1_000],
    ]);
    let ledger = emptyLedger();
    for (const tx of [
      marketplaceCaptured({ ...base, id: "a", amount: aud(10_000) }),
      marketplaceFeeEarned({ ...base, id: "b", amount: aud(1_000) }),
      marketplaceSellerPayable({ ...base, id: "c", sellerId: "s", amount: aud(9_000) }),
      marketplaceTransferred({ ...base, id: "d", sellerId: "s", amount: aud(9_000) }),
      owed,
      marketplaceTransferReversed({ ...base, id: "e", sellerId: "s", amount: aud(3_000) }),
    ])
      ledger = postTransaction(ledger, "kind" in tx ? tx : tx._unsafeUnwrap())._unsafeUnwrap();
    expect(checkMarketplaceMoney(ledger, "mc:1", ["s"], "AUD")._unsafeUnwrap()).toMatchObject({
      inFlightMinor: 0,
      sellersMinor: 6_000,
      feesMinor: 0,
      owedToCustomerMinor: 4_000,
    });
  });

  it("a take-back of nothing is refused; a money check missing a seller fails", () => {
    const nothing = marketplaceRefunded({
      ...base,
      id: "t",
      currency: "AUD",
      from: { inFlightMinor: 0, feesMinor: 0, platformFundedMinor: 0 },
    });
    expect(nothing.isErr()).toBe(true);
    let ledger = emptyLedger();
    for (const tx of [
      marketplaceCaptured({ ...base, id: "a", amount: aud(100) }),
      marketplaceSellerPayable({ ...base, id: "b", sellerId: "s", amount: aud(100) }),
    ])
      ledger = postTransaction(ledger, tx._unsafeUnwrap())._unsafeUnwrap();
    expect(checkMarketplaceMoney(ledger, "mc:1", [], "AUD")._unsafeUnwrapErr().message).toMatch(
      /marketplace_money_unbalanced/,
    );
  });

  it("a refund Stripe failed after its success gives back what it took: in flight, the fee, the platform's part", () => {
    const undone = marketplaceRefundFailed({
      ...base,
      id: "u",
      currency: "AUD",
      from: { inFlightMinor: 2_500, feesMinor: 300, platformFundedMinor: 200 },
    })._unsafeUnwrap();
    expect(undone.kind).toBe("marketplace_refund_failed");
    expect(undone.postings.map((p) => [p.account, p.side, p.amount.amountMinor])).toEqual([
      ["marketplace:mc%3A1:in_flight", "debit", 2_500],
      ["marketplace:mc%3A1:fees", "debit", 300],
      ["marketplace:mc%3A1:platform_funded", "debit", 200],
      ["marketplace:mc%3A1:refunds", "credit", 3_000],
    ]);
  });
});
