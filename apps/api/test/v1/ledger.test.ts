// A group's books on v1: who may read them (members and operators; anyone else a 404),
// the balances of its rounds' accounts, and its transactions a page at a time — never
// another group's.
import { PrismaLedgerStore, PrismaStore } from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import {
  type Changeset,
  contributionOwedToMember,
  contributionPaidOutsideStripe,
  debitInitiated,
  debitSettled,
  type LedgerTransaction,
  money,
  payoutTransferred,
  useCaseDepsOn,
} from "@susu/domain";
import {
  anActiveGroup,
  aReadyPerson,
  aRoundOf,
  FakePaymentGateway,
  ManualClock,
  SequentialIds,
} from "@susu/domain/testing";
import type { Result } from "neverthrow";
import { beforeAll, describe, expect, it } from "vitest";
import { authed, testApp, tokenFor } from "../support/app.js";

const db = useTestDatabase();
const T = Date.UTC(2026, 0, 6);
const clock = new ManualClock(T);
let app: ReturnType<typeof testApp>;

const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };
const aud = (minor: number) => money(minor, "AUD");
const ok = <T>(r: Result<T, unknown>): T => r._unsafeUnwrap();

interface Account {
  account: string;
  kind: string;
  roundId: string | null;
  memberId: string | null;
  balance: { amountMinor: number; currency: string };
}
interface Transaction {
  id: string;
  kind: string;
  occurredAt: string;
  roundId: string | null;
  postings: { account: string; direction: string; amount: { amountMinor: number; currency: string } }[];
}

beforeAll(async () => {
  const store = new PrismaStore(db.prisma);
  const ledger = new PrismaLedgerStore(db.prisma, { clock });
  const deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
  // Never reaches Stripe: nothing tested here calls the gateway (the fake only fills the port).
  app = testApp({ useCases: deps, gateway: new FakePaymentGateway(() => clock.now()), prisma: db.prisma });

  const people = ["ana", "ben", "cy", "dan", "eli"].map((id) => ({
    state: aReadyPerson(id),
    expectedVersion: undefined,
  }));
  ok(await store.commit({ ...empty, people }));
  const group = anActiveGroup({ id: "grp_books", memberIds: ["ana", "ben", "cy"] });
  const other = anActiveGroup({ id: "grp_other", memberIds: ["dan", "eli"] });
  ok(
    await store.commit({
      ...empty,
      groups: [
        { state: group, expectedVersion: undefined },
        { state: other, expectedVersion: undefined },
      ],
      rounds: [
        { state: aRoundOf(group, [], { id: "rnd_books" }), expectedVersion: undefined },
        { state: aRoundOf(other, [], { id: "rnd_other" }), expectedVersion: undefined },
      ],
    }),
  );

  // rnd_books: ana's and ben's debits settle and 150.00 is paid to ana; cy's is in flight.
  const posts: Result<LedgerTransaction, unknown>[] = [];
  let at = T;
  for (const member of ["ana", "ben", "cy"]) {
    at += 1000;
    posts.push(
      debitInitiated({
        id: `in:${member}`,
        roundId: "rnd_books",
        memberId: member,
        amount: aud(100_00),
        occurredAt: at,
      }),
    );
  }
  for (const member of ["ana", "ben"]) {
    at += 1000;
    posts.push(
      debitSettled({
        id: `set:${member}`,
        roundId: "rnd_books",
        memberId: member,
        amount: aud(100_00),
        occurredAt: at,
      }),
    );
  }
  posts.push(
    payoutTransferred({
      id: "pay:ana",
      roundId: "rnd_books",
      recipientMemberId: "ana",
      amount: aud(150_00),
      occurredAt: at + 1000,
    }),
  );
  // ben disputed 0.01 of his contribution; the round owes him the rest outside Stripe (2.00 here).
  posts.push(
    contributionOwedToMember({
      id: "owed:ben",
      roundId: "rnd_books",
      memberId: "ben",
      amount: aud(2_00),
      occurredAt: at + 2000,
    }),
  );
  // An admin paid him 0.50 of it by bank transfer.
  posts.push(
    contributionPaidOutsideStripe({
      id: "owed:ben:paid:1",
      roundId: "rnd_books",
      memberId: "ben",
      amount: aud(50),
      occurredAt: at + 3000,
    }),
  );
  // Another group's money, which must never show in grp_books's books.
  posts.push(
    debitInitiated({
      id: "in:dan",
      roundId: "rnd_other",
      memberId: "dan",
      amount: aud(7_00),
      occurredAt: T + 500,
    }),
  );
  for (const tx of posts) ok(await ledger.post(ok(tx)));
});

describe("GET /v1/groups/{groupId}/ledger", () => {
  it("is for members and operators: anonymous 401, a stranger 404 as for a missing group", async () => {
    expect((await app.request("/v1/groups/grp_books/ledger")).status).toBe(401);
    const stranger = await app.request("/v1/groups/grp_books/ledger", authed(await tokenFor("dan")));
    expect(stranger.status).toBe(404);
    expect(await stranger.json()).toMatchObject({ code: "group_not_found" });
    const missing = await app.request("/v1/groups/grp_none/ledger", authed(await tokenFor("dan")));
    expect(missing.status).toBe(404);
    for (const token of [
      await tokenFor("ben"),
      await tokenFor("ops", ["admin"]),
      await tokenFor("scheduler", ["service"]),
    ])
      expect((await app.request("/v1/groups/grp_books/ledger", authed(token))).status).toBe(200);
  });

  it("gives every account of the group's rounds with its balance, and where each round's money is", async () => {
    const res = await app.request("/v1/groups/grp_books/ledger", authed(await tokenFor("ben")));
    const body = (await res.json()) as {
      object: string;
      groupId: string;
      accounts: Account[];
      rounds: unknown[];
    };
    expect(body).toMatchObject({ object: "ledger", groupId: "grp_books" });
    const balance = (account: string) => body.accounts.find((a) => a.account === account)?.balance;
    expect(balance("round:rnd_books:pot")).toEqual({ amountMinor: 48_00, currency: "AUD" });
    expect(balance("round:rnd_books:in_flight")).toEqual({ amountMinor: 100_00, currency: "AUD" });
    expect(balance("round:rnd_books:contributions:cy")).toEqual({ amountMinor: -100_00, currency: "AUD" });
    expect(balance("round:rnd_books:payouts:ana")).toEqual({ amountMinor: 150_00, currency: "AUD" });
    expect(body.accounts.find((a) => a.account === "round:rnd_books:owed_to_member:ben")).toMatchObject({
      kind: "owed_to_member",
      memberId: "ben",
      balance: { amountMinor: 1_50, currency: "AUD" },
    });
    expect(body.accounts.find((a) => a.account === "round:rnd_books:paid_outside_stripe:ben")).toMatchObject({
      kind: "paid_outside_stripe",
      memberId: "ben",
      balance: { amountMinor: 50, currency: "AUD" },
    });
    expect(body.accounts.find((a) => a.account === "round:rnd_books:contributions:ana")).toMatchObject({
      kind: "contributions",
      roundId: "rnd_books",
      memberId: "ana",
    });
    expect(body.accounts.every((a) => a.roundId === "rnd_books")).toBe(true);
    expect(body.rounds).toEqual([
      {
        roundId: "rnd_books",
        contributed: { amountMinor: 300_00, currency: "AUD" },
        inFlight: { amountMinor: 100_00, currency: "AUD" },
        held: { amountMinor: 48_00, currency: "AUD" },
        refunded: { amountMinor: 0, currency: "AUD" },
        owedToMember: { amountMinor: 1_50, currency: "AUD" },
        paidOutsideStripe: { amountMinor: 50, currency: "AUD" },
        paidOut: { amountMinor: 150_00, currency: "AUD" },
      },
    ]);
    // The books balance: the accounts sum to zero.
    expect(body.accounts.reduce((sum, a) => sum + a.balance.amountMinor, 0)).toBe(0);
  });
});

describe("GET /v1/groups/{groupId}/ledger/transactions", () => {
  const path = "/v1/groups/grp_books/ledger/transactions";

  it("is for members and operators: anonymous 401, a stranger 404", async () => {
    expect((await app.request(path)).status).toBe(401);
    const stranger = await app.request(path, authed(await tokenFor("eli")));
    expect(stranger.status).toBe(404);
    expect(await stranger.json()).toMatchObject({ code: "group_not_found" });
    expect((await app.request(path, authed(await tokenFor("ops", ["admin"])))).status).toBe(200);
  });

  it("pages the group's transactions oldest first with their postings, and only the group's", async () => {
    const ana = await tokenFor("ana");
    const seen: Transaction[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 5; i++) {
      const query =
        cursor === undefined ? "?limit=2" : `?limit=2&starting_after=${encodeURIComponent(cursor)}`;
      const res = await app.request(`${path}${query}`, authed(ana));
      expect(res.status).toBe(200);
      const page = (await res.json()) as {
        object: string;
        data: Transaction[];
        has_more: boolean;
        url: string;
      };
      expect(page).toMatchObject({ object: "list", url: path });
      seen.push(...page.data);
      if (!page.has_more) break;
      expect(page.data).toHaveLength(2);
      cursor = page.data.at(-1)?.id;
    }
    expect(seen.map((t) => t.id)).toEqual([
      "in:ana",
      "in:ben",
      "in:cy",
      "set:ana",
      "set:ben",
      "pay:ana",
      "owed:ben",
      "owed:ben:paid:1",
    ]);
    expect(seen.every((t) => t.roundId === "rnd_books")).toBe(true);
    expect(seen[5]).toMatchObject({
      kind: "payout_transferred",
      occurredAt: new Date(T + 6000).toISOString(),
      postings: [
        {
          account: "round:rnd_books:payouts:ana",
          direction: "debit",
          amount: { amountMinor: 150_00, currency: "AUD" },
        },
        {
          account: "round:rnd_books:pot",
          direction: "credit",
          amount: { amountMinor: 150_00, currency: "AUD" },
        },
      ],
    });
  });

  it("answers another group's transaction as a cursor with an empty page, never its books", async () => {
    const res = await app.request(`${path}?starting_after=in:dan`, authed(await tokenFor("ana")));
    expect(await res.json()).toMatchObject({ data: [], has_more: false });
  });

  it("refuses a bad page query with 400 invalid_request naming the field", async () => {
    const ana = await tokenFor("ana");
    for (const [query, field] of [
      ["limit=0", "limit"],
      ["limit=101", "limit"],
      ["limit=ten", "limit"],
      [`starting_after=${"x".repeat(256)}`, "starting_after"],
    ] as const) {
      const res = await app.request(`${path}?${query}`, authed(ana));
      expect(res.status, query).toBe(400);
      const body = (await res.json()) as { code: string; errors: { path: string }[] };
      expect(body.code).toBe("invalid_request");
      expect(body.errors.map((e) => e.path)).toContain(field);
    }
  });
});
