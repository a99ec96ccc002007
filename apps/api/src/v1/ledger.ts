import { createRoute, z } from "@hono/zod-openapi";
import type {
  LedgerAccountBalance,
  LedgerReader,
  RecordedLedgerTransaction,
  UseCaseDeps,
} from "@susu/domain";
import type { Context } from "hono";
import { useCaseProblem } from "../problem.js";
import { refuseGroup } from "./authz.js";
import { type V1Env, v1Router } from "./context.js";
import { PageQuerySchema, pageSchema } from "./pagination.js";
import { commonResponses, GroupIdParam, json, MoneySchema, notFoundResponse } from "./schemas.js";

// A group's books: the balances its rounds' transactions make, and those transactions a
// page at a time. Members of the group and platform operators may read them; anyone else
// gets the 404 a group they may not see answers.

/** What the ledger routes need: groups and rounds to authorise and scope, and the ledger to read. */
export interface LedgerRouteDeps {
  readonly useCases: UseCaseDeps;
  readonly ledger: LedgerReader;
}

/** What an account is, from the chart of accounts in the domain's round-movements.ts. */
const ACCOUNT_KINDS = [
  "pot",
  "in_flight",
  "contributions",
  "refunds",
  "owed_to_member",
  "paid_outside_stripe",
  "payouts",
  "member",
  "platform_funds",
  "other",
] as const;
type AccountKind = (typeof ACCOUNT_KINDS)[number];

const AccountSchema = z
  .object({
    account: z.string().openapi({ example: "round:rnd_1:pot" }),
    kind: z.enum(ACCOUNT_KINDS).openapi({
      description:
        "pot: settled contributions the round holds; in_flight: debits submitted, outcome not known; contributions: a member's contributions accepted (a credit balance); refunds: refunded to a member; owed_to_member: what the round owes a member outside Stripe (the rest of a disputed contribution Stripe will not refund); paid_outside_stripe: what platform admins recorded paying a member of it outside Stripe (a bank transfer, cash); payouts: paid to the recipient; member: what a member owes the platform (dispute losses); platform_funds: the platform's money that covered disputes.",
    }),
    roundId: z.string().nullable().openapi({ example: "rnd_1" }),
    memberId: z.string().nullable().openapi({ example: null }),
    balance: MoneySchema.openapi({ description: "Debits minus credits." }),
  })
  .openapi("LedgerAccount");

const RoundMoneySchema = z
  .object({
    roundId: z.string(),
    contributed: MoneySchema,
    inFlight: MoneySchema,
    held: MoneySchema,
    refunded: MoneySchema,
    owedToMember: MoneySchema.openapi({
      description:
        "Owed to members outside Stripe (Stripe refuses a refund of a disputed charge), not paid yet.",
    }),
    paidOutsideStripe: MoneySchema.openapi({
      description: "What platform admins recorded paying members outside Stripe of what was owed to them.",
    }),
    paidOut: MoneySchema,
  })
  .openapi("RoundMoney", {
    description:
      "Where a round's money is: contributed = in flight + held + refunded + owed to members + paid to them outside Stripe + paid out.",
  });

const LedgerSchema = z
  .object({
    object: z.literal("ledger"),
    groupId: z.string(),
    accounts: z.array(AccountSchema).openapi({
      description:
        "Every account the group's rounds posted to, by account then currency. Round accounts show their whole balance; `member:` and `platform:funds`, which other groups share, only this group's part.",
    }),
    rounds: z.array(RoundMoneySchema),
  })
  .openapi("Ledger", {
    example: {
      object: "ledger",
      groupId: "grp_1",
      accounts: [
        {
          account: "round:rnd_1:contributions:ana",
          kind: "contributions",
          roundId: "rnd_1",
          memberId: "ana",
          balance: { amountMinor: -10000, currency: "AUD" },
        },
        {
          account: "round:rnd_1:pot",
          kind: "pot",
          roundId: "rnd_1",
          memberId: null,
          balance: { amountMinor: 10000, currency: "AUD" },
        },
      ],
      rounds: [
        {
          roundId: "rnd_1",
          contributed: { amountMinor: 10000, currency: "AUD" },
          inFlight: { amountMinor: 0, currency: "AUD" },
          held: { amountMinor: 10000, currency: "AUD" },
          refunded: { amountMinor: 0, currency: "AUD" },
          owedToMember: { amountMinor: 0, currency: "AUD" },
          paidOutsideStripe: { amountMinor: 0, currency: "AUD" },
          paidOut: { amountMinor: 0, currency: "AUD" },
        },
      ],
    },
  });

const PostingSchema = z
  .object({
    account: z.string(),
    direction: z.enum(["debit", "credit"]),
    amount: MoneySchema,
  })
  .openapi("LedgerPosting");

/** A ledger transaction with its postings, as every ledger route shows one. */
export const TransactionSchema = z
  .object({
    object: z.literal("ledger_transaction"),
    id: z.string().openapi({ example: "rnd_1:contribution:ana:attempt:1:settled" }),
    kind: z.string().openapi({
      example: "debit_settled",
      description:
        "debit_initiated, debit_settled, debit_failed, contribution_refunded, contribution_refund_failed, contribution_owed_to_member, contribution_paid_outside_stripe, payout_transferred, transfer_reversed, dispute_loss, dispute_reinstated, manual_adjustment (an operator's correction: who, why and the ticket in `refs`)",
    }),
    occurredAt: z.string().openapi({ example: "2030-01-05T09:00:00.000Z" }),
    recordedAt: z.string().openapi({ example: "2030-01-05T09:00:01.000Z" }),
    roundId: z.string().nullable(),
    memberId: z.string().nullable(),
    refs: z
      .record(z.string(), z.string())
      .openapi({ description: "Ids the movement concerns (Stripe ids…)." }),
    postings: z.array(PostingSchema),
  })
  .openapi("LedgerTransaction");

// Transaction ids are effect ids (up to 255 characters, with `:`): the cursor takes them whole.
const TransactionPageQuerySchema = PageQuerySchema.extend({
  starting_after: z
    .string()
    .min(1)
    .max(255)
    .optional()
    .openapi({ description: "The id of the last transaction of the previous page" }),
});

const getLedgerRoute = createRoute({
  method: "get",
  path: "/groups/{groupId}/ledger",
  tags: ["ledger"],
  summary: "A group's accounts and balances (members of the group and platform operators)",
  security: [{ bearer: [] }],
  request: { params: GroupIdParam },
  responses: {
    200: json(LedgerSchema, "The group's accounts and where each round's money is"),
    ...commonResponses,
    ...notFoundResponse(["group_not_found"]),
  },
});

const listTransactionsRoute = createRoute({
  method: "get",
  path: "/groups/{groupId}/ledger/transactions",
  tags: ["ledger"],
  summary: "A group's ledger transactions with their postings, oldest first",
  security: [{ bearer: [] }],
  request: { params: GroupIdParam, query: TransactionPageQuerySchema },
  responses: {
    200: json(pageSchema(TransactionSchema, "LedgerTransactionList"), "A page of transactions"),
    ...commonResponses,
    ...notFoundResponse(["group_not_found"]),
  },
});

/** `/v1/groups/{groupId}/ledger`: a group's balances and its transactions. */
export function ledgerV1(deps: LedgerRouteDeps) {
  const app = v1Router();

  app.openapi(getLedgerRoute, async (c) => {
    const { groupId } = c.req.valid("param");
    const rounds = await roundsOfVisibleGroup(c, deps, groupId);
    if (rounds instanceof Response) return rounds;
    const balances = await deps.ledger.balancesOfRounds(rounds);
    if (balances.isErr()) return useCaseProblem(c, balances.error);
    return c.json(
      {
        object: "ledger" as const,
        groupId,
        accounts: balances.value.map(accountView),
        rounds: roundMoneyOf(rounds, balances.value),
      },
      200,
    );
  });

  app.openapi(listTransactionsRoute, async (c) => {
    const { groupId } = c.req.valid("param");
    const query = c.req.valid("query");
    const rounds = await roundsOfVisibleGroup(c, deps, groupId);
    if (rounds instanceof Response) return rounds;
    const page = await deps.ledger.transactionsOfRounds(rounds, {
      limit: query.limit,
      ...(query.starting_after !== undefined ? { startingAfter: query.starting_after } : {}),
    });
    if (page.isErr()) return useCaseProblem(c, page.error);
    return c.json(
      {
        object: "list" as const,
        url: `/v1/groups/${groupId}/ledger/transactions`,
        data: page.value.items.map(transactionView),
        has_more: page.value.hasMore,
      },
      200,
    );
  });

  return app;
}

/** The group's round ids when the caller may see the group; otherwise the refusal to send. */
async function roundsOfVisibleGroup(
  c: Context<V1Env>,
  deps: LedgerRouteDeps,
  groupId: string,
): Promise<readonly string[] | Response> {
  const group = await deps.useCases.groups.getGroup(groupId);
  if (group.isErr()) return useCaseProblem(c, group.error);
  const refused = refuseGroup(c, c.get("principal"), group.value, groupId, "see");
  if (refused !== undefined) return refused;
  const rounds = await deps.useCases.rounds.listRoundsOfGroup(groupId);
  if (rounds.isErr()) return useCaseProblem(c, rounds.error);
  return rounds.value.map((r) => r.id);
}

// Account ids escape ":" and "%" inside ids (round-movements.ts); undone here for display.
function unescapeId(part: string): string {
  return part.replaceAll("%3A", ":").replaceAll("%25", "%");
}

interface ParsedAccount {
  readonly kind: AccountKind;
  readonly roundId: string | null;
  readonly memberId: string | null;
}

/** Reads an account id of the chart of accounts: `round:<r>:pot`, `member:<m>`, … */
export function parseAccount(account: string): ParsedAccount {
  if (account === "platform:funds") return { kind: "platform_funds", roundId: null, memberId: null };
  const parts = account.split(":");
  if (parts[0] === "member" && parts.length === 2)
    return { kind: "member", roundId: null, memberId: unescapeId(parts[1] ?? "") };
  if (parts[0] === "round" && parts.length >= 3) {
    const roundId = unescapeId(parts[1] ?? "");
    const [kind, memberId] = [parts[2], parts[3]];
    if ((kind === "pot" || kind === "in_flight") && parts.length === 3)
      return { kind, roundId, memberId: null };
    if (
      (kind === "contributions" ||
        kind === "refunds" ||
        kind === "owed_to_member" ||
        kind === "paid_outside_stripe" ||
        kind === "payouts") &&
      parts.length === 4
    )
      return { kind, roundId, memberId: unescapeId(memberId ?? "") };
  }
  return { kind: "other", roundId: null, memberId: null };
}

function accountView(line: LedgerAccountBalance) {
  return { account: line.account, ...parseAccount(line.account), balance: line.balance };
}

/** Where each round's money is, per currency the round used, from its account balances. */
function roundMoneyOf(rounds: readonly string[], balances: readonly LedgerAccountBalance[]) {
  const totals = new Map<
    string,
    Record<
      "contributed" | "inFlight" | "held" | "refunded" | "owedToMember" | "paidOutsideStripe" | "paidOut",
      number
    >
  >();
  for (const line of balances) {
    const parsed = parseAccount(line.account);
    if (parsed.roundId === null) continue;
    const key = `${parsed.roundId}\u0000${line.balance.currency}`;
    const t = totals.get(key) ?? {
      contributed: 0,
      inFlight: 0,
      held: 0,
      refunded: 0,
      owedToMember: 0,
      paidOutsideStripe: 0,
      paidOut: 0,
    };
    const minor = line.balance.amountMinor;
    if (parsed.kind === "contributions") t.contributed -= minor;
    else if (parsed.kind === "in_flight") t.inFlight += minor;
    else if (parsed.kind === "pot") t.held += minor;
    else if (parsed.kind === "refunds") t.refunded += minor;
    else if (parsed.kind === "owed_to_member") t.owedToMember += minor;
    else if (parsed.kind === "paid_outside_stripe") t.paidOutsideStripe += minor;
    else if (parsed.kind === "payouts") t.paidOut += minor;
    totals.set(key, t);
  }
  const order = new Map(rounds.map((id, i) => [id, i]));
  return [...totals.entries()]
    .map(([key, t]) => {
      const [roundId = "", currency = ""] = key.split("\u0000");
      const m = (amountMinor: number) => ({ amountMinor: amountMinor + 0, currency });
      return {
        roundId,
        contributed: m(t.contributed),
        inFlight: m(t.inFlight),
        held: m(t.held),
        refunded: m(t.refunded),
        owedToMember: m(t.owedToMember),
        paidOutsideStripe: m(t.paidOutsideStripe),
        paidOut: m(t.paidOut),
      };
    })
    .sort((a, b) => (order.get(a.roundId) ?? 0) - (order.get(b.roundId) ?? 0));
}

/** A stored transaction as the ledger routes show it. */
export function transactionView({ transaction, recordedAt }: RecordedLedgerTransaction) {
  return {
    object: "ledger_transaction" as const,
    id: transaction.id,
    kind: transaction.kind,
    occurredAt: new Date(transaction.occurredAt).toISOString(),
    recordedAt: new Date(recordedAt).toISOString(),
    roundId: transaction.refs.roundId ?? null,
    memberId: transaction.refs.memberId ?? null,
    refs: { ...transaction.refs },
    postings: transaction.postings.map((p) => ({ account: p.account, direction: p.side, amount: p.amount })),
  };
}
