// Manual ledger adjustments on v1: a platform admin posts a balanced correcting transaction
// (`POST /v1/operations/ledger/adjustments`), checked by the domain's ledger rules, recorded
// with who and why in the transaction's refs and the audit log, noted on the ticket it
// answers; the same Idempotency-Key answers the same and posts nothing twice.
import { PrismaLedgerStore, PrismaStore, PrismaSupportDesk } from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import {
  type Changeset,
  createLedgerTransaction,
  credit,
  debit,
  manualAdjustment,
  money,
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
import fc from "fast-check";
import type { Result } from "neverthrow";
import { beforeAll, describe, expect, it } from "vitest";
import { authed, testApp, tokenFor } from "../support/app.js";

const db = useTestDatabase();
const T = Date.UTC(2026, 0, 6, 9);
const clock = new ManualClock(T);
const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };
const ok = <T>(r: Result<T, unknown>): T => r._unsafeUnwrap();
const URL = "/v1/operations/ledger/adjustments";

let app: ReturnType<typeof testApp>;
let ledger: PrismaLedgerStore;
let desk: PrismaSupportDesk;
let admin: string;
let service: string;
let member: string;

interface Problem {
  code: string;
  detail: string;
}
interface Adjustment {
  object: string;
  id: string;
  kind: string;
  roundId: string | null;
  refs: Record<string, string>;
  postings: { account: string; direction: string; amount: { amountMinor: number; currency: string } }[];
}

const posting = (account: string, side: "debit" | "credit", amountMinor: number, currency = "AUD") => ({
  account,
  side,
  amountMinor,
  currency,
});

/** Moves `minor` of the round's pot to what it owes ana outside Stripe. */
const correction = (minor: number, extra: Record<string, unknown> = {}) => ({
  reason: "dispute dp_1: the rest owed to ana was never booked",
  postings: [
    posting("round:rnd_adj:owed_to_member:ana", "debit", minor),
    posting("round:rnd_adj:pot", "credit", minor),
  ],
  ...extra,
});

let keys = 0;
const post = (token: string, body: unknown, key = `adj-${++keys}`) =>
  app.request(URL, authed(token, "POST", body, { "Idempotency-Key": key }));

async function balance(account: string): Promise<number> {
  return ok(await ledger.balance(account, "AUD")).amountMinor;
}

beforeAll(async () => {
  const store = new PrismaStore(db.prisma, { clock });
  ledger = new PrismaLedgerStore(db.prisma, { clock });
  desk = new PrismaSupportDesk(db.prisma, clock);
  const deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
  // Never reaches Stripe: nothing tested here calls the gateway (the fake only fills the port).
  app = testApp({ useCases: deps, gateway: new FakePaymentGateway(() => clock.now()), prisma: db.prisma });
  admin = await tokenFor("ops_ana", ["admin"]);
  service = await tokenFor("ops_tool", ["service"]);
  member = await tokenFor("ana");

  ok(
    await store.commit({
      ...empty,
      people: ["ana", "ben", "cy"].map((id) => ({ state: aReadyPerson(id), expectedVersion: undefined })),
    }),
  );
  const group = anActiveGroup({ id: "grp_adj" });
  ok(
    await store.commit({
      ...empty,
      groups: [{ state: group, expectedVersion: undefined }],
      rounds: [{ state: aRoundOf(group, [], { id: "rnd_adj" }), expectedVersion: undefined }],
    }),
  );
  // The pot holds 100.00 AUD.
  ok(
    await ledger.post(
      ok(
        createLedgerTransaction({
          id: "rnd_adj:seed",
          kind: "debit_settled",
          occurredAt: T,
          refs: { roundId: "rnd_adj" },
          postings: [
            debit("round:rnd_adj:pot", money(10_000, "AUD")),
            credit("round:rnd_adj:contributions:ana", money(10_000, "AUD")),
          ],
        }),
      ),
    ),
  );
  ok(
    await desk.openTicket({
      id: "rnd_adj:ticket:dispute:dp_1:withdrawal_unknown",
      aggregate: "round",
      aggregateId: "rnd_adj",
      groupId: "grp_adj",
      reason: "dispute_withdrawal_unknown",
      summary: "dispute dp_1: check and correct the postings",
    } as never),
  );
});

describe("POST /v1/operations/ledger/adjustments", () => {
  it("posts a balanced correction: 201 with the transaction, balances moved, the group's books show it, audited as the admin", async () => {
    const res = await post(
      admin,
      correction(2_500, { ticketId: "rnd_adj:ticket:dispute:dp_1:withdrawal_unknown" }),
    );
    expect(res.status).toBe(201);
    const body = (await res.json()) as Adjustment;
    expect(body).toMatchObject({
      object: "ledger_transaction",
      kind: "manual_adjustment",
      roundId: "rnd_adj",
      refs: {
        adjustedBy: "ops_ana",
        reason: "dispute dp_1: the rest owed to ana was never booked",
        ticketId: "rnd_adj:ticket:dispute:dp_1:withdrawal_unknown",
      },
      postings: [
        {
          account: "round:rnd_adj:owed_to_member:ana",
          direction: "debit",
          amount: { amountMinor: 2_500, currency: "AUD" },
        },
        {
          account: "round:rnd_adj:pot",
          direction: "credit",
          amount: { amountMinor: 2_500, currency: "AUD" },
        },
      ],
    });
    expect(await balance("round:rnd_adj:pot")).toBe(7_500);
    expect(await balance("round:rnd_adj:owed_to_member:ana")).toBe(2_500);

    // GET of the group's ledger shows it as any other transaction.
    const txs = (await (
      await app.request("/v1/groups/grp_adj/ledger/transactions", authed(admin))
    ).json()) as { data: Adjustment[] };
    expect(txs.data.map((t) => t.id)).toContain(body.id);
    const books = (await (await app.request("/v1/groups/grp_adj/ledger", authed(admin))).json()) as {
      rounds: { owedToMember: { amountMinor: number } }[];
    };
    expect(books.rounds[0]?.owedToMember.amountMinor).toBe(2_500);

    // Audited on the round, as the admin, with why and the ticket.
    const audit = (await (await app.request("/v1/groups/grp_adj/audit", authed(admin))).json()) as {
      data: { action: string; actor: string; detail: string | null }[];
    };
    const line = audit.data.find((l) => l.action === "manual_adjustment");
    expect(line?.actor).toBe("operator:ops_ana");
    expect(line?.detail).toContain("never booked");
    expect(line?.detail).toContain("rnd_adj:ticket:dispute:dp_1:withdrawal_unknown");

    // Noted on the ticket, which stays open (not asked to resolve it).
    const ticket = ok(await desk.getTicket("rnd_adj:ticket:dispute:dp_1:withdrawal_unknown"));
    expect(ticket?.status).toBe("open");
    expect(ticket?.details.adjustments).toEqual([body.id]);
  });

  it("resolves the ticket when asked", async () => {
    ok(
      await desk.openTicket({
        id: "recon:2026-01-05:differences",
        reason: "reconciliation_differences",
        summary: "differences",
      } as never),
    );
    const res = await post(
      admin,
      correction(100, { ticketId: "recon:2026-01-05:differences", resolveTicket: true }),
    );
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as Adjustment;
    const ticket = ok(await desk.getTicket("recon:2026-01-05:differences"));
    expect(ticket).toMatchObject({ status: "resolved", resolvedBy: "ops_ana" });
    expect(ticket?.resolution).toContain(id);
  });

  it("the same key and body answers the same and posts nothing twice; another body is refused", async () => {
    const pot = await balance("round:rnd_adj:pot");
    const first = await post(admin, correction(300), "adj-replay");
    expect(first.status).toBe(201);
    const again = await post(admin, correction(300), "adj-replay");
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await again.json()).toEqual(await first.json());
    expect(await balance("round:rnd_adj:pot")).toBe(pot - 300);

    const other = await post(admin, correction(301), "adj-replay");
    expect(other.status).toBe(422);
    expect(((await other.json()) as Problem).code).toBe("idempotency_key_reused");
    expect(await balance("round:rnd_adj:pot")).toBe(pot - 300);
  });

  it("after the key's record expired, the same key still posts once: same body 200 with the stored transaction, other body 409", async () => {
    const pot = await balance("round:rnd_adj:pot");
    const first = (await (await post(admin, correction(400), "adj-durable")).json()) as Adjustment;
    await db.prisma.idempotencyKey.deleteMany({ where: { key: "adj-durable" } });
    clock.advance(60_000);

    const same = await post(admin, correction(400), "adj-durable");
    expect(same.status).toBe(200);
    expect(((await same.json()) as Adjustment).id).toBe(first.id);
    await db.prisma.idempotencyKey.deleteMany({ where: { key: "adj-durable" } });

    const other = await post(admin, correction(401), "adj-durable");
    expect(other.status).toBe(409);
    expect(((await other.json()) as Problem).code).toBe("adjustment_key_reused");
    expect(await balance("round:rnd_adj:pot")).toBe(pot - 400);
  });

  it.each([
    [
      "unbalanced",
      {
        reason: "x",
        postings: [posting("round:rnd_adj:pot", "debit", 5), posting("platform:funds", "credit", 4)],
      },
      "unbalanced_transaction",
    ],
    [
      "an account of no known shape",
      {
        reason: "x",
        postings: [posting("round:rnd_adj:pot", "debit", 5), posting("cash:drawer", "credit", 5)],
      },
      "unknown_account",
    ],
    [
      "a round account of no known name",
      {
        reason: "x",
        postings: [posting("round:rnd_adj:pot", "debit", 5), posting("round:rnd_adj:bonus", "credit", 5)],
      },
      "unknown_account",
    ],
    [
      "two rounds",
      {
        reason: "x",
        postings: [posting("round:rnd_adj:pot", "debit", 5), posting("round:rnd_other:pot", "credit", 5)],
      },
      "adjustment_spans_rounds",
    ],
    [
      "an unknown currency",
      {
        reason: "x",
        postings: [
          posting("round:rnd_adj:pot", "debit", 5, "XXX"),
          posting("platform:funds", "credit", 5, "XXX"),
        ],
      },
      "unknown_currency",
    ],
    [
      "an amount too large for its currency",
      {
        reason: "x",
        postings: [
          posting("round:rnd_adj:pot", "debit", 10 ** 12),
          posting("platform:funds", "credit", 10 ** 12),
        ],
      },
      "amount_too_large",
    ],
    [
      "a reconciliation key on two currencies",
      {
        reason: "x",
        postings: [
          posting("platform:funds", "debit", 5),
          posting("member:ana", "credit", 5),
          posting("platform:funds", "debit", 5, "NZD"),
          posting("member:ana", "credit", 5, "NZD"),
        ],
        reconciliation: { category: "refund", key: "object:re_1", direction: "out" },
      },
      "adjustment_currencies_mixed",
    ],
    ["no reason", { reason: " ", postings: correction(5).postings }, "invalid_request"],
    [
      "a zero amount",
      { reason: "x", postings: [posting("platform:funds", "debit", 0), posting("member:ana", "credit", 0)] },
      "invalid_request",
    ],
    [
      "too many postings",
      {
        reason: "x",
        postings: Array.from({ length: 51 }, (_, i) =>
          posting("platform:funds", i % 2 === 0 ? "debit" : "credit", 1),
        ),
      },
      "invalid_request",
    ],
  ])("refuses %s with 400 and a code, posting nothing", async (_, body, code) => {
    const before = await ledger.loadLedger();
    const res = await post(admin, body);
    expect(res.status).toBe(400);
    expect(((await res.json()) as Problem).code).toBe(code);
    expect(ok(await ledger.loadLedger()).transactions.length).toBe(ok(before).transactions.length);
  });

  it("accepts an account that exists though its name is of no known shape (a legacy account)", async () => {
    ok(
      await ledger.post(
        ok(
          createLedgerTransaction({
            id: "legacy:1",
            kind: "dispute_loss",
            occurredAt: T,
            postings: [
              debit("legacy:suspense", money(50, "AUD")),
              credit("platform:funds", money(50, "AUD")),
            ],
          }),
        ),
      ),
    );
    const res = await post(admin, {
      reason: "clear the legacy suspense account",
      postings: [posting("platform:funds", "debit", 50), posting("legacy:suspense", "credit", 50)],
    });
    expect(res.status).toBe(201);
    expect(await balance("legacy:suspense")).toBe(0);
  });

  it("refuses a ticket that does not exist (404) and posts nothing", async () => {
    const pot = await balance("round:rnd_adj:pot");
    const res = await post(admin, correction(7, { ticketId: "no-such-ticket" }));
    expect(res.status).toBe(404);
    expect(((await res.json()) as Problem).code).toBe("ticket_not_found");
    expect(await balance("round:rnd_adj:pot")).toBe(pot);
  });

  it("is for platform admins only: a member gets 403 operator_only, a service token 403 admin_only", async () => {
    const asMember = await post(member, correction(1));
    expect(asMember.status).toBe(403);
    expect(((await asMember.json()) as Problem).code).toBe("operator_only");
    const asService = await post(service, correction(1));
    expect(asService.status).toBe(403);
    expect(((await asService.json()) as Problem).code).toBe("admin_only");
  });

  it("requires an Idempotency-Key", async () => {
    const res = await app.request(URL, authed(admin, "POST", correction(1)));
    expect(res.status).toBe(400);
    expect(((await res.json()) as Problem).code).toBe("idempotency_key_required");
  });
});

describe("an adjustment names what exists, in its currency", () => {
  const refused = async (body: unknown) => {
    const res = await post(admin, body);
    return { status: res.status, code: ((await res.json()) as Problem).code };
  };
  const toFunds = (account: string, minor = 100, currency = "AUD") => ({
    reason: "typo probe",
    postings: [
      posting(account, "debit", minor, currency),
      posting("platform:funds", "credit", minor, currency),
    ],
  });
  const ledgerHas = async (account: string) =>
    (await db.prisma.ledgerAccount.count({ where: { id: account } })) > 0;

  it("a typo in an owner's id opens no account: 400 unknown_account, nothing stored, nothing audited", async () => {
    // Two rounds (the typo and the real one): refused as spanning rounds.
    expect(
      await refused({
        reason: "typo probe",
        postings: [posting("round:rnd_adjj:pot", "debit", 100), posting("round:rnd_adj:pot", "credit", 100)],
      }),
    ).toEqual({ status: 400, code: "adjustment_spans_rounds" });
    for (const account of [
      "round:rnd_adjj:pot",
      "round:rnd_adj:contributions:anaa",
      "held:hp_nope:hold",
      "marketplace:mc_nope:paid_in",
      "marketplace:mc_nope:seller:ana",
      "membership:sub_nope:paid_in",
      "member:anaa",
    ]) {
      expect({ account, ...(await refused(toFunds(account))) }).toEqual({
        account,
        status: 400,
        code: "unknown_account",
      });
      expect(await ledgerHas(account)).toBe(false);
    }
    expect(await db.prisma.auditLogEntry.count({ where: { aggregateId: "rnd_adjj" } })).toBe(0);
  });

  it("a round's accounts take its currency only: 400 adjustment_currency_mismatch", async () => {
    const before = await balance("round:rnd_adj:pot");
    expect(await refused(toFunds("round:rnd_adj:pot", 500, "JPY"))).toEqual({
      status: 400,
      code: "adjustment_currency_mismatch",
    });
    expect(await refused(toFunds("round:rnd_adj:owed_to_member:ana", 500, "NZD"))).toEqual({
      status: 400,
      code: "adjustment_currency_mismatch",
    });
    expect(await balance("round:rnd_adj:pot")).toBe(before);
    expect(await db.prisma.ledgerAccount.count({ where: { id: "round:rnd_adj:pot", currency: "JPY" } })).toBe(
      0,
    );
    // A person's account and the platform's take any known currency.
    const res = await post(admin, {
      reason: "a member's NZD credit",
      postings: [posting("member:ben", "debit", 70, "NZD"), posting("platform:funds", "credit", 70, "NZD")],
    });
    expect(res.status).toBe(201);
  });

  it("an account the ledger holds whose owner is gone takes the currencies it holds", async () => {
    ok(
      await ledger.post(
        ok(
          createLedgerTransaction({
            id: "rnd_gone:seed",
            kind: "debit_settled",
            occurredAt: T,
            refs: { roundId: "rnd_gone" },
            postings: [
              debit("round:rnd_gone:pot", money(300, "AUD")),
              credit("round:rnd_gone:contributions:ana", money(300, "AUD")),
            ],
          }),
        ),
      ),
    );
    expect((await post(admin, toFunds("round:rnd_gone:pot", 300))).status).toBe(201);
    expect(await refused(toFunds("round:rnd_gone:pot", 300, "NZD"))).toEqual({
      status: 400,
      code: "adjustment_currency_mismatch",
    });
  });

  it("notes the ticket whatever JSON its details hold (object kept, anything else under value), never 5xx", async () => {
    const cases: [string, unknown, unknown][] = [
      ["scalar", 5, { value: 5 }],
      ["array", [1, "a"], { value: [1, "a"] }],
      ["null", null, {}],
      ["adjustments not an array", { note: "n", adjustments: "adj_old" }, { note: "n" }],
    ];
    for (const [name, details, kept] of cases) {
      const id = `ticket:odd-details:${name.replaceAll(" ", "-")}`;
      ok(
        await desk.openTicket({
          id,
          aggregate: "round",
          aggregateId: "rnd_adj",
          groupId: "grp_adj",
          reason: "dispute_withdrawal_unknown",
          summary: "odd details",
        } as never),
      );
      await db.prisma
        .$executeRaw`UPDATE support_tickets SET details = ${JSON.stringify(details)}::jsonb WHERE id = ${id}`;
      const res = await post(admin, correction(1, { ticketId: id }));
      expect({ name, status: res.status }).toEqual({ name, status: 201 });
      const { id: adjustmentId } = (await res.json()) as Adjustment;
      const stored = await db.prisma.supportTicket.findUniqueOrThrow({ where: { id } });
      const adjustments = name === "adjustments not an array" ? ["adj_old", adjustmentId] : [adjustmentId];
      expect(stored.details).toEqual({ ...(kept as object), adjustments });
    }
  });

  it("two concurrent posts of one adjustment id: posted once, one audit line", async () => {
    const tx = ok(
      manualAdjustment({
        id: "adjustment:concurrent",
        occurredAt: T,
        by: "ops_ana",
        reason: "concurrency",
        postings: [posting("platform:funds", "debit", 7), posting("round:rnd_adj:pot", "credit", 7)],
      }),
    );
    const audit = [
      {
        at: T,
        aggregate: "ledger" as const,
        aggregateId: tx.id,
        action: "manual_adjustment",
        outcome: "applied" as const,
        actor: "operator:ops_ana",
      },
    ];
    const outcomes = await Promise.all(
      [0, 1, 2, 3].map(() => ledger.postAdjustment({ transaction: tx, audit })),
    );
    const posted = outcomes.filter((o) => o.isOk() && o.value.outcome === "posted").length;
    const lines = await db.prisma.auditLogEntry.count({ where: { aggregateId: tx.id } });
    expect({ posted, lines }).toEqual({ posted: 1, lines: 1 });
  });
});

describe("an adjustment and the reconciliation", () => {
  const DAY = "from=2026-01-04&to=2026-01-05";
  const differences = async () => {
    const res = await app.request(`/v1/operations/reconciliation?${DAY}`, authed(admin));
    expect(res.status).toBe(200);
    return ((await res.json()) as { differences: { code: string; key: string }[] }).differences;
  };

  it("dated when the Stripe movement happened and keyed by it, closes that day's difference", async () => {
    // A refund made in Stripe's Dashboard on Jan 4, never booked by susu: missing in susu.
    await db.prisma.stripeBalanceTransaction.create({
      data: {
        id: "txn_re77",
        type: "refund",
        reportingCategory: "refund",
        status: "available",
        sourceId: "re_77",
        sourceObject: "refund",
        amountMinor: -4_000n,
        currency: "AUD",
        feeMinor: 0n,
        netMinor: -4_000n,
        presentmentMinor: 4_000n,
        presentmentCurrency: "AUD",
        created: new Date("2026-01-04T14:00:00Z"),
        availableOn: new Date("2026-01-04T14:00:00Z"),
        pulledAt: new Date(T),
      },
    });
    expect(await differences()).toMatchObject([{ code: "missing_in_susu", key: "object:re_77" }]);

    const res = await post(admin, {
      reason: "refund re_77 made in the Dashboard, never booked",
      occurredAt: "2026-01-04T14:00:00.000Z",
      postings: [
        posting("round:rnd_adj:refunds:ana", "debit", 4_000),
        posting("round:rnd_adj:pot", "credit", 4_000),
      ],
      reconciliation: { category: "refund", key: "object:re_77", direction: "out" },
    });
    expect(res.status).toBe(201);
    expect(((await res.json()) as { occurredAt: string }).occurredAt).toBe("2026-01-04T14:00:00.000Z");
    expect(await differences()).toEqual([]);
  });

  it("refuses a date in the future", async () => {
    const res = await post(admin, { ...correction(1), occurredAt: "2030-01-01T00:00:00.000Z" });
    expect(res.status).toBe(400);
    expect(((await res.json()) as Problem).code).toBe("invalid_adjustment");
  });

  it.each(["1969-12-31T23:59:59Z", "0001-01-01T00:00:00Z"])(
    "refuses a date before 1970 (%s) with invalid_adjustment, in the request's own terms",
    async (occurredAt) => {
      const res = await post(admin, { ...correction(1), occurredAt });
      expect(res.status).toBe(400);
      const body = (await res.json()) as Problem;
      expect(body.code).toBe("invalid_adjustment");
      expect(body.detail).toContain("occurredAt");
      expect(body.detail).toContain("1970-01-01");
    },
  );
});

describe("GET /v1/operations/ledger/adjustments", () => {
  it("lists the adjustments a page at a time, oldest first, to operators only", async () => {
    const first = await app.request(`${URL}?limit=2`, authed(service));
    expect(first.status).toBe(200);
    const page = (await first.json()) as { data: Adjustment[]; has_more: boolean };
    expect(page.data).toHaveLength(2);
    expect(page.has_more).toBe(true);
    expect(page.data.every((t) => t.kind === "manual_adjustment")).toBe(true);
    const rest = (await (
      await app.request(
        `${URL}?limit=100&starting_after=${encodeURIComponent(page.data[1]?.id ?? "")}`,
        authed(service),
      )
    ).json()) as { data: Adjustment[]; has_more: boolean };
    expect(rest.has_more).toBe(false);
    const ids = [...page.data, ...rest.data].map((t) => t.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBeGreaterThanOrEqual(5);

    const asMember = await app.request(URL, authed(member));
    expect(asMember.status).toBe(403);
  });
});

describe("random bodies from a platform admin", () => {
  it("never answer 5xx; every refusal is problem+json with a code and posts nothing", async () => {
    const accounts = fc.constantFrom(
      "round:rnd_adj:pot",
      "round:rnd_adj:owed_to_member:ana",
      "round:rnd_other:pot",
      "platform:funds",
      "member:ana",
      "legacy:suspense",
      "nope",
      "round:rnd_adj:contributions:",
      "held:%zz:hold",
      "",
    );
    const postingArb = fc.record(
      {
        account: fc.oneof(accounts, fc.string({ maxLength: 40 })),
        side: fc.oneof(fc.constantFrom("debit", "credit"), fc.string({ maxLength: 6 })),
        amountMinor: fc.oneof(
          fc.integer({ min: -5, max: 10_000 }),
          fc.constantFrom(0, 1.5, 2 ** 53, Number.MAX_SAFE_INTEGER, 99_999_999, 100_000_000),
        ),
        currency: fc.constantFrom("AUD", "NZD", "JPY", "aud", "XXX", "", "AUDD"),
      },
      { requiredKeys: [] },
    );
    const bodyArb = fc.oneof(
      fc.record(
        {
          reason: fc.oneof(fc.constant("fix"), fc.string({ maxLength: 300 })),
          ticketId: fc.constantFrom("recon:2026-01-05:differences", "nope", "", " "),
          resolveTicket: fc.boolean(),
          postings: fc.array(postingArb, { maxLength: 6 }),
          reconciliation: fc.record(
            {
              category: fc.constantFrom("refund", "charge", "other", "bogus"),
              key: fc.oneof(fc.constant("object:re_9"), fc.string({ maxLength: 300 })),
              direction: fc.constantFrom("in", "out", "sideways"),
            },
            { requiredKeys: [] },
          ),
        },
        { requiredKeys: ["postings"] },
      ),
      fc.jsonValue(),
    );
    await fc.assert(
      fc.asyncProperty(bodyArb, fc.string({ minLength: 1, maxLength: 20 }), async (body, key) => {
        const before = ok(await ledger.loadLedger()).transactions.length;
        const res = await app.request(
          URL,
          authed(admin, "POST", body, { "Idempotency-Key": `fuzz-${key.replace(/[^\x20-\x7E]/g, "_")}` }),
        );
        expect(res.status).toBeLessThan(500);
        const after = ok(await ledger.loadLedger()).transactions.length;
        if (res.status === 201) expect(after).toBe(before + 1);
        else {
          expect(after).toBe(before);
          if (res.status >= 400) {
            expect(res.headers.get("content-type")).toBe("application/problem+json");
            expect(((await res.json()) as Problem).code).toMatch(/^[a-z_]+$/);
          }
        }
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 150) },
    );
  }, 120_000);
});
