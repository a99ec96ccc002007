import { money, type PaymentFact } from "@susu/domain";
import {
  FAKE_DECLINED_CARDS,
  type FakeDebitOutcome,
  FakePaymentGateway,
  ManualClock,
} from "@susu/domain/testing";
import { BECS_TEST_ACCOUNTS, paymentGatewayContract } from "./payment-gateway.contract.js";

// The domain's in-memory gateway must behave like the Stripe one wherever the round relies on it.
paymentGatewayContract("FakePaymentGateway (in memory)", async () => {
  const clock = new ManualClock();
  const fake = new FakePaymentGateway(() => clock.now());
  let seq = 0;
  let accounts = 0;
  // Facts the fake reported outside settlement (a paid checkout), returned by the next settle.
  const reported: PaymentFact[] = [];
  return {
    gateway: fake,
    driver: {
      async customerWithMandate({ memberId, accountNumber }) {
        const expected = BECS_TEST_ACCOUNTS[accountNumber];
        const outcome: FakeDebitOutcome = "succeeds" in expected ? "succeed" : { fail: expected.failureCode };
        fake.setDebitOutcomes(memberId, [outcome]);
        seq += 1;
        const mandateId = `mandate_fake_${seq}`;
        // The fake reads every mandate as active, paid from `pm_for_<mandate>`.
        return { customerId: `cus_fake_driver_${seq}`, paymentMethodId: `pm_for_${mandateId}`, mandateId };
      },
      async settle() {
        clock.advance(fake.settlementDelayMs + 1);
        return [...reported.splice(0), ...fake.settleDue()];
      },
      async connectedAccount({ canReceive }) {
        accounts += 1;
        const accountId = `acct_fake_driver_${accounts}`;
        fake.setAccount(accountId, canReceive);
        return accountId;
      },
      async completeOnboarding(accountId) {
        fake.setAccount(accountId, true);
      },
      async disableTransfers(accountId) {
        fake.setAccount(accountId, false);
      },
      async debitCount(transferGroup) {
        return [...fake.debits.values()].filter((d) => d.transferGroup === transferGroup).length;
      },
      async transferCount(transferGroup) {
        return fake.transfers.filter((t) => t.transferGroup === transferGroup).length;
      },
      async now() {
        return clock.now();
      },
      async fund(accountId, amount) {
        const balance = fake.balances.get(accountId) ?? [];
        const have = balance.find((m) => m.currency === amount.currency)?.amountMinor ?? 0;
        fake.balances.set(accountId, [
          ...balance.filter((m) => m.currency !== amount.currency),
          money(have + amount.amountMinor, amount.currency),
        ]);
      },
      async payCheckout(sessionId) {
        reported.push(...fake.payCheckout(sessionId, "card"));
        const paymentIntentId = fake.checkouts.get(sessionId)?.paymentIntentId;
        if (paymentIntentId === undefined) throw new Error(`checkout ${sessionId} was not paid`);
        return paymentIntentId;
      },
      async cardCustomer() {
        seq += 1;
        return `cus_fake_card_${seq}`;
      },
      async confirmCardPayment(paymentIntentId, paymentMethodId) {
        const declined = FAKE_DECLINED_CARDS[paymentMethodId];
        reported.push(
          fake.confirmCardPayment(paymentIntentId, declined === undefined ? "succeed" : { fail: declined }),
        );
      },
    },
  };
});
