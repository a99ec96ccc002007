// An operator's adjustment: accepted exactly when the rules allow it (balanced per currency,
// positive amounts within a charge's, accounts of the chart, at most one round), and then a
// balanced `manual_adjustment` that posts; and the chart it checks names agrees with the
// movement builders' own account names, whatever the ids hold (`:` and `%` included).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { maximumChargeMinor } from "../money/charge-amount.js";
import type { CurrencyCode } from "../money/index.js";
import { adjustmentAudit } from "../use-cases/ledger-adjustment.js";
import { heldAccounts } from "./held-movements.js";
import { emptyLedger, postTransaction } from "./ledger.js";
import { checkLedgerInvariants } from "./ledger-invariants.js";
import {
  type AdjustmentAccountFacts,
  adjustmentOwnerKey,
  adjustmentOwners,
  checkAdjustmentAccounts,
  MANUAL_ADJUSTMENT_POSTINGS_MAX,
  type ManualPostingInput,
  manualAdjustment,
  parseLedgerAccount,
} from "./manual-adjustment.js";
import { marketplaceAccounts } from "./marketplace-movements.js";
import { membershipAccounts } from "./membership-movements.js";
import { roundAccounts } from "./round-movements.js";

const T = Date.UTC(2026, 11, 5);
const ACCOUNTS = [
  "round:r1:pot",
  "round:r1:owed_to_member:ana",
  "round:r2:pot",
  "platform:funds",
  "member:ana",
  "held:p1:hold",
  "cash:drawer",
  "legacy:suspense",
] as const;
const CURRENCIES = ["AUD", "JPY", "NZD"] as const;
const EXISTING = new Set(["legacy:suspense"]);

const postingArb: fc.Arbitrary<ManualPostingInput> = fc.record({
  account: fc.constantFrom(...ACCOUNTS),
  side: fc.constantFrom("debit" as const, "credit" as const),
  amountMinor: fc.oneof(fc.integer({ min: 1, max: 500 }), fc.constantFrom(0, -1, 99_999_999, 100_000_000)),
  currency: fc.constantFrom(...CURRENCIES),
});

/** Whether the rules allow these postings, computed apart from the implementation. */
function allowed(postings: readonly ManualPostingInput[]): boolean {
  if (postings.length < 2 || postings.length > MANUAL_ADJUSTMENT_POSTINGS_MAX) return false;
  const net = new Map<string, number>();
  const rounds = new Set<string>();
  for (const p of postings) {
    if (p.amountMinor <= 0 || p.amountMinor > maximumChargeMinor(p.currency as CurrencyCode)) return false;
    if (p.account === "cash:drawer") return false;
    if (p.account.startsWith("round:")) rounds.add(p.account.split(":")[1] ?? "");
    net.set(p.currency, (net.get(p.currency) ?? 0) + (p.side === "debit" ? p.amountMinor : -p.amountMinor));
  }
  return rounds.size <= 1 && [...net.values()].every((n) => n === 0);
}

/** Some postings made balanced: each drawn posting and its mirror on another account. */
const balancedArb = fc
  .array(
    fc.record({
      from: fc.constantFrom(...ACCOUNTS.filter((a) => a !== "cash:drawer" && a !== "round:r2:pot")),
      to: fc.constantFrom(...ACCOUNTS.filter((a) => a !== "cash:drawer" && a !== "round:r2:pot")),
      amountMinor: fc.integer({ min: 1, max: 10_000 }),
      currency: fc.constantFrom(...CURRENCIES),
    }),
    { minLength: 1, maxLength: 10 },
  )
  .map((moves) =>
    moves.flatMap((m): ManualPostingInput[] => [
      { account: m.from, side: "debit", amountMinor: m.amountMinor, currency: m.currency },
      { account: m.to, side: "credit", amountMinor: m.amountMinor, currency: m.currency },
    ]),
  );

const adjust = (postings: readonly ManualPostingInput[]) =>
  manualAdjustment({ id: "adjustment:1", occurredAt: T, by: "ops_ana", reason: "fix", postings }, EXISTING);

describe("manualAdjustment", () => {
  it("accepts exactly what the rules allow, and what it accepts balances and posts", () => {
    fc.assert(
      fc.property(fc.oneof(fc.array(postingArb, { maxLength: 8 }), balancedArb), (postings) => {
        const built = adjust(postings);
        expect(built.isOk()).toBe(allowed(postings));
        if (built.isErr()) return;
        const tx = built.value;
        expect(tx.kind).toBe("manual_adjustment");
        expect(tx.refs.adjustedBy).toBe("ops_ana");
        const ledger = postTransaction(emptyLedger(), tx).andThen(checkLedgerInvariants);
        expect(ledger.isOk()).toBe(true);
        // The round it touches, if any, is named, and audited beside the transaction.
        const round = postings.find((p) => p.account.startsWith("round:"))?.account.split(":")[1];
        expect(tx.refs.roundId).toBe(round);
        expect(adjustmentAudit(tx, T).map((l) => l.aggregate)).toEqual(
          round === undefined ? ["ledger"] : ["ledger", "round"],
        );
      }),
      { numRuns: 300 },
    );
  });

  it("refuses a time before 1970 or not whole ms in its own code (invalid_adjustment), whatever the postings", () => {
    fc.assert(
      fc.property(
        balancedArb,
        fc.oneof(
          fc.integer({ min: -62_135_596_800_000, max: -1 }),
          fc.constant(0.5),
          fc.constant(Number.NaN),
        ),
        (postings, occurredAt) => {
          const built = manualAdjustment(
            { id: "adjustment:1", occurredAt, by: "ops_ana", reason: "fix", postings },
            EXISTING,
          );
          expect(built.isErr() && built.error.code).toBe("invalid_adjustment");
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe("parseLedgerAccount", () => {
  const id = fc.string({
    minLength: 1,
    maxLength: 12,
    unit: fc.constantFrom("a", "b", ":", "%", "3", "A", "_"),
  });

  it("reads back every account the movement builders name, with their ids", () => {
    fc.assert(
      fc.property(id, id, (owner, party) => {
        const cases: [string, Record<string, string | undefined>][] = [
          [roundAccounts.pot(owner), { family: "round", ownerId: owner, name: "pot" }],
          [roundAccounts.inFlight(owner), { family: "round", ownerId: owner, name: "in_flight" }],
          [
            roundAccounts.contributions(owner, party),
            { family: "round", ownerId: owner, name: "contributions", partyId: party },
          ],
          [roundAccounts.refunds(owner, party), { family: "round", name: "refunds", partyId: party }],
          [roundAccounts.payouts(owner, party), { family: "round", name: "payouts", partyId: party }],
          [roundAccounts.owedToMember(owner, party), { family: "round", name: "owed_to_member" }],
          [roundAccounts.paidOutsideStripe(owner, party), { family: "round", name: "paid_outside_stripe" }],
          [roundAccounts.member(party), { family: "member", partyId: party }],
          [roundAccounts.platformFunds(), { family: "platform", name: "funds" }],
          [membershipAccounts.revenue(), { family: "platform", name: "membership_revenue" }],
          [membershipAccounts.paidIn(owner), { family: "membership", ownerId: owner, name: "paid_in" }],
          [membershipAccounts.disputeLosses(owner), { family: "membership", name: "dispute_losses" }],
          ...Object.entries(heldAccounts).map(([, f]): [string, Record<string, string>] => [
            f(owner),
            { family: "held", ownerId: owner },
          ]),
          [
            marketplaceAccounts.seller(owner, party),
            { family: "marketplace", ownerId: owner, name: "seller", partyId: party },
          ],
          [
            marketplaceAccounts.sellerPayable(owner, party),
            { family: "marketplace", name: "seller_payable", partyId: party },
          ],
          [marketplaceAccounts.inFlight(owner), { family: "marketplace", name: "in_flight" }],
          [marketplaceAccounts.platformFunded(owner), { family: "marketplace", name: "platform_funded" }],
          [marketplaceAccounts.owedToCustomer(owner), { family: "marketplace", name: "owed_to_customer" }],
        ];
        for (const [account, expected] of cases) expect(parseLedgerAccount(account)).toMatchObject(expected);
      }),
      { numRuns: 200 },
    );
  });

  it("refuses names of no known shape", () => {
    for (const account of [
      "cash:drawer",
      "round:r1",
      "round:r1:bonus",
      "round:r1:pot:extra",
      "round::pot",
      "round:r1:contributions:",
      "round:r%zz:pot",
      "member:",
      "member:a:b",
      "platform:cash",
      "held:p1:hold:x",
      "marketplace:c1:seller",
      "",
    ])
      expect(parseLedgerAccount(account), account).toBeUndefined();
  });
});

describe("checkAdjustmentAccounts", () => {
  // One account of each owner's kind, its owner, and the currencies that owner's accounts hold.
  const OWNED: readonly [string, ReturnType<typeof adjustmentOwners>[number], CurrencyCode[] | undefined][] =
    [
      ["round:rnd_1:pot", { kind: "round", id: "rnd_1" }, ["AUD"]],
      ["held:hp%3A1:hold", { kind: "held", id: "hp:1" }, ["NZD"]],
      ["marketplace:mc_1:paid_in", { kind: "marketplace", id: "mc_1" }, ["AUD"]],
      ["membership:sub_1:paid_in", { kind: "membership", id: "sub_1" }, ["AUD", "NZD"]],
      ["member:ana", { kind: "person", id: "ana" }, undefined],
    ];
  const CURRENCIES: readonly CurrencyCode[] = ["AUD", "NZD", "JPY"];
  const tx = (account: string, currency: CurrencyCode) =>
    manualAdjustment(
      {
        id: "adjustment:1",
        occurredAt: T,
        by: "ops_ana",
        reason: "fix",
        postings: [
          { account, side: "debit", amountMinor: 5, currency },
          { account: "platform:funds", side: "credit", amountMinor: 5, currency },
        ],
      },
      new Set(),
    )._unsafeUnwrap();

  it("names each owner an account of the chart has, once; none for platform accounts", () => {
    expect(
      adjustmentOwners(["round:rnd_1:contributions:ana", "round:rnd_1:pot", "platform:funds", "member:ana"]),
    ).toEqual([
      { kind: "round", id: "rnd_1" },
      { kind: "person", id: "ana" },
    ]);
    for (const [account, owner] of OWNED) expect(adjustmentOwners([account])).toEqual([owner]);
  });

  it("accepts an owner's account exactly in its currencies; refuses one whose owner is missing unless the ledger holds it in that currency", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...OWNED),
        fc.constantFrom(...CURRENCIES),
        fc.boolean(),
        fc.option(fc.subarray([...CURRENCIES], { minLength: 1 }), { nil: undefined }),
        ([account, owner, currencies], currency, ownerExists, ledgerHolds) => {
          const facts: AdjustmentAccountFacts = {
            ledgerAccounts: new Map(ledgerHolds === undefined ? [] : [[account, new Set(ledgerHolds)]]),
            owners: new Map(
              ownerExists
                ? [[adjustmentOwnerKey(owner), currencies === undefined ? undefined : new Set(currencies)]]
                : [],
            ),
          };
          const checked = checkAdjustmentAccounts(tx(account, currency), facts);
          const expected = ownerExists
            ? currencies === undefined || currencies.includes(currency)
              ? "ok"
              : "adjustment_currency_mismatch"
            : ledgerHolds === undefined
              ? "unknown_account"
              : owner.kind === "person" || ledgerHolds.includes(currency)
                ? "ok"
                : "adjustment_currency_mismatch";
          expect(checked.isOk() ? "ok" : checked.error.code).toBe(expected);
        },
      ),
    );
  });

  it("a per-party account needs its person too", () => {
    const facts: AdjustmentAccountFacts = {
      ledgerAccounts: new Map(),
      owners: new Map([[adjustmentOwnerKey({ kind: "round", id: "rnd_1" }), new Set<CurrencyCode>(["AUD"])]]),
    };
    const checked = checkAdjustmentAccounts(tx("round:rnd_1:contributions:anaa", "AUD"), facts);
    expect(checked.isErr() && checked.error.code).toBe("unknown_account");
  });
});
