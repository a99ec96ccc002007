import { createRoute, z } from "@hono/zod-openapi";
import {
  type AuditRecord,
  type Group,
  type LedgerReader,
  type Round,
  roundOwed,
  type UseCaseError,
  useCases,
} from "@susu/domain";
import type { Context } from "hono";
import { okAsync, type Result } from "neverthrow";
import type { Principal } from "../http/auth.js";
import { NUL_FREE } from "../input.js";
import { problem, useCaseProblem } from "../problem.js";
import { adminActorOf, membershipOf, refuseGroup, refuseRound } from "./authz.js";
import type { V1Deps } from "./context.js";
import { v1Router } from "./context.js";
import { groupAdminForbidden } from "./group-commands.js";
import {
  OwedOutsideStripeSchema,
  OwedPaymentRequestSchema,
  owedPaymentRefusals,
  owedView,
  platformAdminOnly,
  refuseUnlessPlatformAdmin,
} from "./owed.js";
import { type Page, PageQuerySchema, pageOf, pageSchema } from "./pagination.js";
import {
  commonResponses,
  conflictResponse,
  GroupIdParam,
  IdSchema,
  json,
  MoneySchema,
  notFoundResponse,
  orNull,
  PersonIdSchema,
  postResponses,
  TimestampSchema,
  unprocessableResponse,
} from "./schemas.js";

// Rounds under /v1: start the due round, list a group's rounds, read one with everything
// that happened to its money and a timeline of why (from the audit log), and the admin
// actions on a round (retry a debit now, extend the deadline, reassign a blocked payout,
// cancel with refunds, ask again for a refund that failed). Authorisation is authz.ts's; the rules are the domain's.

/** How many timeline lines a round's read embeds; the rest pages at `/v1/rounds/{id}/timeline`. */
export const TIMELINE_EMBEDDED = 100;

const iso = (at: number | undefined) => (at === undefined ? null : new Date(at).toISOString());

const RoundIdParam = z.object({
  roundId: IdSchema.openapi({ param: { name: "roundId", in: "path" }, example: "round_grp_3f9c_r1_s0" }),
});

const RoundMemberParam = RoundIdParam.extend({
  memberId: PersonIdSchema.openapi({ param: { name: "memberId", in: "path" }, example: "ben" }),
});

const TimelineLineSchema = z
  .object({
    id: z.string().openapi({ example: "audit_42", description: "Stable; a page cursor." }),
    at: z.string().openapi({ example: "2030-01-03T09:00:00.000Z" }),
    action: z.string().openapi({
      example: "debit_succeeded",
      description: "The input or command: `open`, `debit_failed`, `timer:collection_deadline`, `cancel`, …",
    }),
    outcome: z.enum(["applied", "ignored"]),
    ignoredCode: z
      .string()
      .nullable()
      .openapi({ description: "Why an ignored input did not apply (`ROUND_IGNORED_CODES`)." }),
    detail: z.string().nullable(),
    actor: z.string().openapi({
      example: "stripe:evt_123",
      description: "A member id, `operator:<id>`, `stripe…`, `timer`, `scheduler`, `effect:…`.",
    }),
  })
  .openapi("TimelineLine");

const AttemptSchema = z.object({
  number: z.number().int(),
  status: z.enum(["requested", "processing", "succeeded", "failed"]),
  requestedAt: z.string(),
  failureCode: z.string().nullable(),
  failureClass: z.enum(["retryable", "permanent", "outcome_unknown"]).nullable(),
});

const RoundSchema = z
  .object({
    id: z.string(),
    groupId: z.string(),
    status: z.enum([
      "scheduled",
      "collecting",
      "settled",
      "paying_out",
      "payout_blocked",
      "paid_out",
      "refunding",
      "cancelled",
    ]),
    rotation: z.number().int(),
    sequence: z.number().int(),
    recipientMemberId: z.string(),
    contribution: MoneySchema,
    pot: MoneySchema,
    scheduledFor: TimestampSchema,
    openedAt: TimestampSchema,
    collectionDeadlineAt: TimestampSchema,
    graceEndsAt: TimestampSchema,
    endedAt: TimestampSchema,
    blockedReason: z.string().nullable(),
    cancellationReason: z.string().nullable(),
    contributions: z.array(
      z.object({
        memberId: z.string(),
        amount: MoneySchema,
        status: z.string().openapi({ example: "succeeded" }),
        retryAt: TimestampSchema,
        attempts: z.array(AttemptSchema),
        disputes: z.number().int(),
        owedOutsideStripe: OwedOutsideStripeSchema,
      }),
    ),
    payoutAttempt: z.number().int(),
    payouts: z.array(
      z.object({
        sourceMemberId: z.string(),
        amount: MoneySchema,
        status: z.enum(["requested", "created", "failed", "reversed"]),
        attempt: z.number().int(),
        failureCode: z.string().nullable(),
        reversed: orNull(MoneySchema),
      }),
    ),
    refunds: z.array(
      z.object({
        memberId: z.string(),
        amount: MoneySchema,
        status: z.enum(["requested", "succeeded", "failed"]),
      }),
    ),
    disputes: z
      .array(z.object({ memberId: z.string(), amount: MoneySchema }))
      .openapi({ description: "One per dispute a member opened; the amount is their contribution." }),
    timeline: z
      .object({
        object: z.literal("list"),
        url: z.string(),
        data: z.array(TimelineLineSchema),
        has_more: z.boolean(),
      })
      .nullable()
      .openapi({
        description: `The round's first ${TIMELINE_EMBEDDED} timeline lines, oldest first; \`url\` pages through all of them. Null in lists (read the round, or its timeline).`,
      }),
    version: z.number().int(),
  })
  .openapi("Round");

/** What the ledger says a round owes a member outside Stripe, for a round stored before it kept it (see `useCases.ledgerOwedOfRounds`). */
type LedgerOwed = (roundId: string, memberId: string) => number;

/**
 * The round as a client sees it: amounts with their currency, ISO times, no Stripe object ids.
 * `ledgerOwed` gives what a contribution stored before rounds kept what they owe owes (read
 * from the ledger); without it such a contribution shows nothing owed.
 */
export function roundV1View(r: Round, timeline: Page<TimelineLine> | null, ledgerOwed: LedgerOwed = () => 0) {
  const money = (amountMinor: number) => ({ amountMinor, currency: r.currency });
  const refundStatus = {
    refund_requested: "requested",
    refunded: "succeeded",
    refund_failed: "failed",
  } as const;
  return {
    id: r.id,
    groupId: r.groupId,
    status: r.status,
    rotation: r.rotation,
    sequence: r.sequence,
    recipientMemberId: r.recipientMemberId,
    contribution: money(r.contributionMinor),
    pot: money(r.contributions.reduce((sum, c) => sum + c.amountMinor, 0)),
    scheduledFor: iso(r.scheduledFor),
    openedAt: iso(r.openedAt),
    collectionDeadlineAt: iso(r.collectionDeadlineAt),
    graceEndsAt: iso(r.graceEndsAt),
    endedAt: iso(r.endedAt),
    blockedReason: r.blockedReason ?? null,
    cancellationReason: r.cancellationReason ?? null,
    contributions: r.contributions.map((c) => ({
      memberId: c.memberId,
      amount: money(c.amountMinor),
      status: c.status,
      retryAt: iso(c.retryAt),
      attempts: c.attempts.map((a) => ({
        number: a.number,
        status: a.status,
        requestedAt: new Date(a.requestedAt).toISOString(),
        failureCode: a.failureCode ?? null,
        failureClass: a.failureClass ?? null,
      })),
      disputes: c.disputeIds.length,
      owedOutsideStripe: owedView(roundOwed(r, c, ledgerOwed(r.id, c.memberId))),
    })),
    payoutAttempt: r.payoutAttempt,
    payouts: r.payouts.map((p) => ({
      sourceMemberId: p.sourceMemberId,
      amount: money(p.amountMinor),
      status: p.status,
      attempt: p.attempt,
      failureCode: p.failureCode ?? null,
      reversed: p.reversedMinor === undefined ? null : money(p.reversedMinor),
    })),
    refunds: r.contributions.flatMap((c) =>
      c.status === "refund_requested" || c.status === "refunded" || c.status === "refund_failed"
        ? [{ memberId: c.memberId, amount: money(c.amountMinor), status: refundStatus[c.status] }]
        : [],
    ),
    // Stripe's dispute amounts are not kept on the round: each dispute is of the contribution.
    disputes: r.contributions.flatMap((c) =>
      c.disputeIds.map(() => ({ memberId: c.memberId, amount: money(c.amountMinor) })),
    ),
    timeline,
    version: r.version,
  };
}

/** One line of a round's timeline. */
export type TimelineLine = z.infer<typeof TimelineLineSchema>;

/** An audit line as a timeline line: an ignored input's `<code>: <detail>` split in two. */
export function timelineLine(line: AuditRecord): TimelineLine {
  const ignored =
    line.outcome === "ignored" ? /^([a-z][a-z0-9_]*): ([\s\S]*)$/.exec(line.detail ?? "") : null;
  return {
    id: line.id,
    at: new Date(line.at).toISOString(),
    action: line.action,
    outcome: line.outcome,
    ignoredCode: ignored?.[1] ?? null,
    detail: ignored?.[2] ?? line.detail ?? null,
    actor: line.actor,
  };
}

const startRoundRoute = createRoute({
  method: "post",
  path: "/groups/{groupId}/rounds",
  tags: ["rounds"],
  summary: "Start the group's due round (its admins, or platform admins)",
  description:
    "Opens the next round if it is due: the next recipient in the payout order, one BECS debit per contributor, the collection deadline armed. Everyone in the rotation must be ready (`members_not_ready` lists who lacks what in `notReady`). A group an older version left with its whole payout order paid and no round is moved on first, as a round's end would (audited `close_rotation`): its next rotation's round opens, or, when that completes the group, the answer is `group_not_active`. Two openers at once: one opens it, the other gets `round_in_progress` or `version_conflict`. A member removing the BECS account the round would debit at the same moment: one of the two wins, the round (the removal is then refused, `payment_method_in_use`) or the removal (the round gets `version_conflict`, and then `members_not_ready`).",
  security: [{ bearer: [] }],
  request: { params: GroupIdParam },
  responses: {
    201: json(RoundSchema, "The round, collecting"),
    ...postResponses,
    ...groupAdminForbidden(),
    ...notFoundResponse(["group_not_found"]),
    ...conflictResponse([
      "no_round_due",
      "round_in_progress",
      "members_not_ready",
      "group_not_active",
      "version_conflict",
      "idempotency_key_in_use",
    ]),
  },
});

const listRoundsRoute = createRoute({
  method: "get",
  path: "/groups/{groupId}/rounds",
  tags: ["rounds"],
  summary: "The group's rounds, oldest first (its members, or platform operators)",
  security: [{ bearer: [] }],
  request: { params: GroupIdParam, query: PageQuerySchema },
  responses: {
    200: json(
      pageSchema(RoundSchema, "RoundList"),
      "A page of rounds (their timelines are null: read a round for it)",
    ),
    ...commonResponses,
    ...notFoundResponse(["group_not_found"]),
  },
});

const getRoundRoute = createRoute({
  method: "get",
  path: "/rounds/{roundId}",
  tags: ["rounds"],
  summary: "A round with its contributions, debit attempts, transfers, refunds, disputes and timeline",
  description: `The timeline holds the round's first ${TIMELINE_EMBEDDED} audit lines, oldest first; \`timeline.has_more\` says whether \`/v1/rounds/{roundId}/timeline\` has more.`,
  security: [{ bearer: [] }],
  request: { params: RoundIdParam },
  responses: {
    200: json(RoundSchema, "The round"),
    ...commonResponses,
    ...notFoundResponse(["round_not_found"]),
  },
});

const timelineRoute = createRoute({
  method: "get",
  path: "/rounds/{roundId}/timeline",
  tags: ["rounds"],
  summary: "What happened to a round and why, oldest first (from its audit log)",
  security: [{ bearer: [] }],
  request: { params: RoundIdParam, query: PageQuerySchema },
  responses: {
    200: json(pageSchema(TimelineLineSchema, "Timeline"), "A page of timeline lines"),
    ...commonResponses,
    ...notFoundResponse(["round_not_found"]),
  },
});

const retryRoute = createRoute({
  method: "post",
  path: "/rounds/{roundId}/contributions/{memberId}/retry",
  tags: ["rounds"],
  summary: "Retry a member's failed debit now (group admins, platform admins, or the member themselves)",
  description:
    "Asks the member's bank again now, before the collection deadline, for a contribution that failed, waits for an automatic retry, or was disputed. `contribution_not_retryable` (nothing changes) after the deadline, once the contribution has had the round policy's most debit attempts (`debitRetry.attemptsMax`, 4 by default, automatic and manual together), and after a permanent failure (account closed, no account, debit not authorised, …) until the member has saved new bank details: Stripe deactivates the mandate a debit failed on for good, and the retry is accepted once the member's mandate is active again.",
  security: [{ bearer: [] }],
  request: { params: RoundMemberParam },
  responses: {
    200: json(RoundSchema, "The round, with the new debit attempt requested"),
    ...postResponses,
    ...groupAdminForbidden(),
    ...notFoundResponse(["round_not_found", "contribution_not_found"]),
    ...conflictResponse(["contribution_not_retryable", "version_conflict", "idempotency_key_in_use"]),
  },
});

const retryRefundRoute = createRoute({
  method: "post",
  path: "/rounds/{roundId}/contributions/{memberId}/retry-refund",
  tags: ["rounds"],
  summary:
    "Ask again for a member's refund that failed: a contribution's while the round is refunding or once it was cancelled, a second charge's at any time (group admins, platform admins)",
  description:
    "A refunding round waits for every refund; one that failed (Stripe's `refund.failed`, or a refusal when it was made) keeps it refunding until this is called, once the cause is fixed. Stripe makes a new refund (a new refund attempt under a new idempotency key); news of the failed attempt that arrives later changes nothing. When every refund has landed the round is cancelled. A refund Stripe fails after the round was cancelled (`refund.failed` after `refund.succeeded`) is retried the same way: the round stays cancelled and nothing is posted twice. The refund of a second charge taken from the member (a debit recorded as failed that took the money after all, refunded on its own at once) is retried the same way whatever the round's status, paid out included: the round's status does not change. `no_failed_refund` when that member has no failed refund, or only a contribution's and the round is neither refunding nor cancelled.",
  security: [{ bearer: [] }],
  request: { params: RoundMemberParam },
  responses: {
    200: json(RoundSchema, "The round, with the member's new refund requested"),
    ...postResponses,
    ...groupAdminForbidden(),
    ...notFoundResponse(["round_not_found", "contribution_not_found"]),
    ...conflictResponse(["no_failed_refund", "version_conflict", "idempotency_key_in_use"]),
  },
});

const owedPaymentRoute = createRoute({
  method: "post",
  path: "/rounds/{roundId}/contributions/{memberId}/owed-payments",
  tags: ["rounds"],
  summary:
    "Record paying a member outside Stripe (a bank transfer, cash) part or all of what the round owes them after a dispute (platform admins)",
  description:
    "A contribution disputed for part of its charge leaves the rest owed to the member outside Stripe (Stripe refuses a refund of a disputed charge): `round:<r>:owed_to_member:<m>`, with a dispute ticket asking an admin to pay it. The amount recorded moves to `round:<r>:paid_outside_stripe:<m>` in the ledger, the member is told (`owed_paid_outside_stripe`), and once nothing is left the ticket is resolved. Send an `Idempotency-Key`: the same key again answers what the first request did, and records nothing more. A refusal changes nothing.",
  security: [{ bearer: [] }],
  request: {
    params: RoundMemberParam,
    body: { content: { "application/json": { schema: OwedPaymentRequestSchema } }, required: true },
  },
  responses: {
    200: json(RoundSchema, "The round, with the new payment in the contribution's `owedOutsideStripe`"),
    ...postResponses,
    ...platformAdminOnly,
    ...notFoundResponse(["round_not_found"]),
    ...conflictResponse([
      ...Object.keys(owedPaymentRefusals.nothingOwed),
      "version_conflict",
      "idempotency_key_in_use",
    ]),
    ...unprocessableResponse([...Object.keys(owedPaymentRefusals.unprocessable), "idempotency_key_reused"]),
  },
});

const ExtendDeadlineSchema = z
  .object({
    deadline: z.iso.datetime({ offset: true }).openapi({
      example: "2030-01-10T09:00:00Z",
      description:
        "Later than the current deadline and than now (422 `invalid_deadline`), and at most 60 days after the round opened (the round policy's `maxCollectionMs`), so that every collected contribution can still be refunded within Stripe's 90-day refund window: later is 409 `deadline_not_extendable`, whose detail says the latest allowed date.",
    }),
  })
  .openapi("ExtendDeadline");

const extendRoute = createRoute({
  method: "post",
  path: "/rounds/{roundId}/extend-deadline",
  tags: ["rounds"],
  summary: "Give members more time to pay: a later collection deadline (group admins, platform admins)",
  security: [{ bearer: [] }],
  request: {
    params: RoundIdParam,
    body: { content: { "application/json": { schema: ExtendDeadlineSchema } }, required: true },
  },
  responses: {
    200: json(RoundSchema, "The round, with its new deadline"),
    ...postResponses,
    ...groupAdminForbidden(),
    ...notFoundResponse(["round_not_found"]),
    ...conflictResponse(["deadline_not_extendable", "version_conflict", "idempotency_key_in_use"]),
    ...unprocessableResponse(["invalid_deadline", "idempotency_key_reused"]),
  },
});

const ReassignSchema = z
  .object({ toMemberId: PersonIdSchema.openapi({ example: "cy" }) })
  .openapi("ReassignPayout");

const reassignRoute = createRoute({
  method: "post",
  path: "/rounds/{roundId}/reassign",
  tags: ["rounds"],
  summary:
    "Give a blocked payout to another member; the two swap places in the rotation (group admins, platform admins)",
  security: [{ bearer: [] }],
  request: {
    params: RoundIdParam,
    body: { content: { "application/json": { schema: ReassignSchema } }, required: true },
  },
  responses: {
    200: json(RoundSchema, "The round, paying the new recipient"),
    ...postResponses,
    ...groupAdminForbidden(),
    ...notFoundResponse(["round_not_found"]),
    ...conflictResponse([
      "round_not_blocked",
      "payout_partially_sent",
      "payout_in_flight",
      "version_conflict",
      "idempotency_key_in_use",
    ]),
    ...unprocessableResponse(["invalid_reassignment", "idempotency_key_reused"]),
  },
});

const CancelSchema = z
  .object({
    reason: z
      .string()
      .trim()
      .min(1)
      .max(500)
      .refine(NUL_FREE, "no NUL characters")
      .openapi({ example: "the group agreed to stop" }),
  })
  .openapi("CancelRound");

const cancelRoute = createRoute({
  method: "post",
  path: "/rounds/{roundId}/cancel",
  tags: ["rounds"],
  summary:
    "Cancel a round that has not paid out: every succeeded contribution is refunded (group admins, platform admins)",
  security: [{ bearer: [] }],
  request: {
    params: RoundIdParam,
    body: { content: { "application/json": { schema: CancelSchema } }, required: true },
  },
  responses: {
    200: json(RoundSchema, "The round, refunding (or cancelled when nothing was collected)"),
    ...postResponses,
    ...groupAdminForbidden(),
    ...notFoundResponse(["round_not_found"]),
    ...conflictResponse(["round_not_cancellable", "version_conflict", "idempotency_key_in_use"]),
  },
});

/** What a round route found: the round and its group, or the answer to send instead. */
type Found = { readonly round: Round; readonly group: Group } | { readonly refused: Response };

/** `/v1/groups/{groupId}/rounds` and `/v1/rounds/…`: start, list and read rounds, and the admin actions. */
export function roundsV1(deps: V1Deps & { readonly ledger?: LedgerReader }) {
  const app = v1Router();
  const uc = deps.useCases;

  /** A round's timeline page, from the audit log. */
  async function timelineOf(
    roundId: string,
    query: { readonly limit: number; readonly starting_after?: string | undefined },
  ) {
    const lines = await uc.audit.listAudit({
      subjects: [{ aggregate: "round", aggregateId: roundId }],
      limit: query.limit + 1,
      ...(query.starting_after !== undefined ? { startingAfter: query.starting_after } : {}),
    });
    return lines.map((l) => ({
      object: "list" as const,
      url: `/v1/rounds/${roundId}/timeline`,
      data: l.slice(0, query.limit).map(timelineLine),
      has_more: l.length > query.limit,
    }));
  }

  /**
   * What the ledger says these rounds owe members whose contribution does not keep it (rounds
   * stored before they did), read as the owed-payment use case reads it; nothing without a
   * ledger, and no read when no contribution needs it.
   */
  function ledgerOwedOf(rounds: readonly Round[]) {
    return deps.ledger === undefined
      ? okAsync<LedgerOwed, UseCaseError>(() => 0)
      : useCases.ledgerOwedOfRounds(deps.ledger, rounds);
  }

  async function viewOf(c: Context, round: Round): Promise<Response | ReturnType<typeof roundV1View>> {
    const [timeline, owed] = await Promise.all([
      timelineOf(round.id, { limit: TIMELINE_EMBEDDED }),
      ledgerOwedOf([round]),
    ]);
    if (timeline.isErr()) return useCaseProblem(c, timeline.error);
    if (owed.isErr()) return useCaseProblem(c, owed.error);
    return roundV1View(round, timeline.value, owed.value);
  }

  /** Loads a round and its group and applies the one authorisation rule for rounds. */
  async function findRound(
    c: Context,
    principal: Principal,
    roundId: string,
    need: Parameters<typeof refuseRound>[4],
  ): Promise<Found> {
    const loaded = await roundAndGroup(roundId);
    if (loaded.isErr()) return { refused: useCaseProblem(c, loaded.error) };
    const round = loaded.value?.round;
    const found = loaded.value?.group;
    const refused = refuseRound(c, principal, found, roundId, need);
    if (refused || round === undefined || found === undefined)
      return { refused: refused ?? problem(c, 404, "round_not_found", `no round ${roundId}`) };
    return { round, group: found };
  }

  /**
   * A round and its group: in one statement when the store can (one wait for the pool),
   * else the round, then its group. No round: undefined; a round whose group is missing:
   * the round without a group (refused as no round).
   */
  function roundAndGroup(roundId: string) {
    const together = uc.rounds.getRoundWithGroup?.bind(uc.rounds);
    if (together !== undefined) return together(roundId);
    return uc.rounds
      .getRound(roundId)
      .andThen((round) =>
        round === undefined
          ? okAsync(undefined)
          : uc.groups.getGroup(round.groupId).map((group) => ({ round, group })),
      );
  }

  /** Answers a command's outcome with the round as it now stands. */
  async function answer(c: Context, roundId: string, result: Result<unknown, UseCaseError>) {
    if (result.isErr()) return useCaseProblem(c, result.error);
    const round = await uc.rounds.getRound(roundId);
    if (round.isErr()) return useCaseProblem(c, round.error);
    if (round.value === undefined) return problem(c, 404, "round_not_found", `no round ${roundId}`);
    const view = await viewOf(c, round.value);
    return view instanceof Response ? view : c.json(view, 200);
  }

  app.openapi(startRoundRoute, async (c) => {
    const principal = c.get("principal");
    const { groupId } = c.req.valid("param");
    const group = await uc.groups.getGroup(groupId);
    if (group.isErr()) return useCaseProblem(c, group.error);
    const refused = refuseGroup(c, principal, group.value, groupId, "admin");
    if (refused || group.value === undefined)
      return refused ?? problem(c, 404, "group_not_found", `no group ${groupId}`);
    const started = await useCases.startRound(uc, groupId, adminActorOf(principal, group.value));
    if (started.isErr()) return useCaseProblem(c, started.error);
    const view = await viewOf(c, started.value.state);
    if (view instanceof Response) return view;
    return c.json(view, 201, { location: `/v1/rounds/${encodeURIComponent(view.id)}` });
  });

  app.openapi(listRoundsRoute, async (c) => {
    const { groupId } = c.req.valid("param");
    const query = c.req.valid("query");
    // Read side by side (one wait for the pool, not two in a row); the rounds are answered
    // only to whom the group's rule lets see them.
    const [group, rounds] = await Promise.all([
      uc.groups.getGroup(groupId),
      uc.rounds.listRoundsOfGroup(groupId),
    ]);
    if (group.isErr()) return useCaseProblem(c, group.error);
    const refused = refuseGroup(c, c.get("principal"), group.value, groupId, "see");
    if (refused) return refused;
    if (rounds.isErr()) return useCaseProblem(c, rounds.error);
    // Oldest first: the order rounds open in (their sequence), as the repository lists them.
    const page = pageOf(rounds.value, (r) => r.id, query, `/v1/groups/${groupId}/rounds`);
    // No timelines in a list: one audit read per round would make a page cost N+1 queries.
    // What older rounds owe is one ledger read for the page, when any needs it.
    const owed = await ledgerOwedOf(page.data);
    if (owed.isErr()) return useCaseProblem(c, owed.error);
    return c.json({ ...page, data: page.data.map((r) => roundV1View(r, null, owed.value)) }, 200);
  });

  app.openapi(getRoundRoute, async (c) => {
    const { roundId } = c.req.valid("param");
    // The timeline is read beside the round and its group, and answered only once the
    // round's rule lets the caller see it.
    const [found, timeline] = await Promise.all([
      findRound(c, c.get("principal"), roundId, "see"),
      timelineOf(roundId, { limit: TIMELINE_EMBEDDED }),
    ]);
    if ("refused" in found) return found.refused;
    if (timeline.isErr()) return useCaseProblem(c, timeline.error);
    const owed = await ledgerOwedOf([found.round]);
    if (owed.isErr()) return useCaseProblem(c, owed.error);
    return c.json(roundV1View(found.round, timeline.value, owed.value), 200);
  });

  app.openapi(timelineRoute, async (c) => {
    const { roundId } = c.req.valid("param");
    const found = await findRound(c, c.get("principal"), roundId, "see");
    if ("refused" in found) return found.refused;
    const page = await timelineOf(roundId, c.req.valid("query"));
    if (page.isErr()) return useCaseProblem(c, page.error);
    return c.json(page.value, 200);
  });

  app.openapi(retryRoute, async (c) => {
    const principal = c.get("principal");
    const { roundId, memberId } = c.req.valid("param");
    const found = await findRound(c, principal, roundId, { adminOrSelf: memberId });
    if ("refused" in found) return found.refused;
    const result = await useCases.retryOnConflict(() =>
      useCases.retryContribution(uc, roundId, memberId, actorName(principal, found.group)),
    );
    return answer(c, roundId, result);
  });

  app.openapi(retryRefundRoute, async (c) => {
    const principal = c.get("principal");
    const { roundId, memberId } = c.req.valid("param");
    const found = await findRound(c, principal, roundId, "admin");
    if ("refused" in found) return found.refused;
    const result = await useCases.retryOnConflict(() =>
      useCases.applyRoundInput(
        uc,
        roundId,
        { type: "retry_refund", memberId },
        actorName(principal, found.group),
      ),
    );
    return answer(c, roundId, result);
  });

  app.openapi(owedPaymentRoute, async (c) => {
    const principal = c.get("principal");
    const { roundId, memberId } = c.req.valid("param");
    const found = await findRound(c, principal, roundId, "see");
    if ("refused" in found) return found.refused;
    const refused = refuseUnlessPlatformAdmin(c, principal);
    if (refused !== undefined) return refused;
    const result = await useCases.recordRoundOwedPaid(
      uc,
      roundId,
      memberId,
      { operator: principal.subject },
      c.req.valid("json"),
      deps.ledger,
    );
    return answer(c, roundId, result);
  });

  app.openapi(extendRoute, async (c) => {
    const principal = c.get("principal");
    const { roundId } = c.req.valid("param");
    const { deadline } = c.req.valid("json");
    const found = await findRound(c, principal, roundId, "admin");
    if ("refused" in found) return found.refused;
    const result = await useCases.retryOnConflict(() =>
      useCases.applyRoundInput(
        uc,
        roundId,
        { type: "extend_deadline", deadline: Date.parse(deadline) },
        actorName(principal, found.group),
      ),
    );
    return answer(c, roundId, result);
  });

  app.openapi(reassignRoute, async (c) => {
    const principal = c.get("principal");
    const { roundId } = c.req.valid("param");
    const { toMemberId } = c.req.valid("json");
    const found = await findRound(c, principal, roundId, "admin");
    if ("refused" in found) return found.refused;
    // The use case reassigns the group's current round: an older round is not blocked.
    if (found.group.currentRoundId !== roundId)
      return problem(
        c,
        409,
        "round_not_blocked",
        `the round is ${found.round.status}; only a blocked payout can be reassigned`,
      );
    const actor = adminActorOf(principal, found.group);
    const result = await useCases.retryOnConflict(() =>
      useCases.reassignPayout(uc, found.group.id, "memberId" in actor ? actor.memberId : actor, toMemberId),
    );
    return answer(c, roundId, result);
  });

  app.openapi(cancelRoute, async (c) => {
    const principal = c.get("principal");
    const { roundId } = c.req.valid("param");
    const { reason } = c.req.valid("json");
    const found = await findRound(c, principal, roundId, "admin");
    if ("refused" in found) return found.refused;
    const result = await useCases.retryOnConflict(() =>
      useCases.applyRoundInput(uc, roundId, { type: "cancel", reason }, actorName(principal, found.group)),
    );
    return answer(c, roundId, result);
  });

  return app;
}

/** The audit actor of a caller allowed to act on a round of `group`: their member id, or `operator:<id>`. */
function actorName(principal: Principal, group: Group): string {
  return membershipOf(principal, group) !== undefined
    ? principal.subject
    : useCases.operatorActor({ operator: principal.subject });
}
