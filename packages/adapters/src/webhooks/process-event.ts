import {
  type ConnectedAccountStatus,
  type GatewayError,
  type MandateStatus,
  type MemberReadiness,
  type PaymentReferences,
  type RoundInput,
  type UseCaseDeps,
  type UseCaseError,
  useCases,
} from "@susu/domain";
import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import type Stripe from "stripe";
import { type StripeEventTranslation, translateStripeEventWith } from "../stripe/event-translator.js";
import type { MemberDirectory, MemberRef } from "./member-directory.js";

/**
 * The Stripe reads the processor makes: the references of a disputed payment, and the
 * current state of accounts and mandates (`StripePaymentGateway` has all three).
 */
export interface WebhookGateway {
  getPaymentReferences(ids: {
    readonly paymentIntentId?: string;
    readonly chargeId?: string;
  }): ResultAsync<PaymentReferences | undefined, GatewayError>;
  getConnectedAccount(accountId: string): ResultAsync<ConnectedAccountStatus, GatewayError>;
  getMandate(mandateId: string): ResultAsync<MandateStatus, GatewayError>;
}

/** What processing an event needs. */
export interface WebhookContext {
  readonly deps: UseCaseDeps;
  readonly members: MemberDirectory;
  readonly gateway: WebhookGateway;
}

/** What an event did: applied (`processed`), or nothing to do (`ignored`, with why). */
export type WebhookOutcome =
  | { readonly status: "processed"; readonly outcome: string }
  | { readonly status: "ignored"; readonly reason: string };

/** Why processing an event failed, and whether trying again later can help. */
export interface WebhookFailure {
  readonly code: string;
  readonly message: string;
  /** `false`: the same event will fail the same way (the processor parks it at once). */
  readonly retryable: boolean;
  /** The group and round concerned, when known (for the support ticket). */
  readonly groupId?: string;
  readonly roundId?: string;
}

const processed = (outcome: string): WebhookOutcome => ({ status: "processed", outcome });
const ignored = (reason: string): WebhookOutcome => ({ status: "ignored", reason });

/** Errors that mean "that round, group or member does not exist (any more)". */
function isMissing(error: UseCaseError): boolean {
  return (
    error.type === "not_found" || error.type === "member_not_found" || error.type === "contribution_not_found"
  );
}

/**
 * Storage trouble and lost optimistic races pass; a refusal by the domain (an input it
 * considers invalid) will be refused again, so retrying it only delays the ticket.
 */
function useCaseFailure(error: UseCaseError, about: { groupId?: string; roundId?: string } = {}) {
  const retryable =
    error.type === "storage_unavailable" || error.type === "version_conflict" || error.type === "duplicate";
  return { code: error.code, message: error.message, retryable, ...about } satisfies WebhookFailure;
}

function gatewayFailure(error: GatewayError): WebhookFailure {
  return { code: error.code, message: error.message, retryable: error.type !== "gateway_definite" };
}

/**
 * Codes with which Stripe says an account or mandate cannot be read at all: deleted, or
 * disconnected from the platform. Such an account cannot be paid, such a mandate not debited.
 */
const GONE_CODES = new Set(["resource_missing", "account_invalid", "permission_denied"]);

function isGone(error: GatewayError): boolean {
  return error.type === "gateway_definite" && GONE_CODES.has(error.code);
}

const describeReadiness = (r: Partial<MemberReadiness>): string =>
  Object.entries(r)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(", ");

/** Runs `each` for every member in turn, skipping members that no longer exist. */
function forEachMember(
  refs: readonly MemberRef[],
  each: (ref: MemberRef) => ResultAsync<unknown, UseCaseError>,
): ResultAsync<{ readonly done: MemberRef[]; readonly missing: MemberRef[] }, WebhookFailure> {
  return refs.reduce<ResultAsync<{ done: MemberRef[]; missing: MemberRef[] }, WebhookFailure>>(
    (chain, ref) =>
      chain.andThen((acc) =>
        useCases
          .retryOnConflict(() => each(ref))
          .map(() => ({ ...acc, done: [...acc.done, ref] }))
          .orElse((e) =>
            isMissing(e)
              ? okAsync({ ...acc, missing: [...acc.missing, ref] })
              : errAsync(useCaseFailure(e, { groupId: ref.groupId })),
          ),
      ),
    okAsync({ done: [], missing: [] }),
  );
}

function readinessFor(
  ctx: WebhookContext,
  refs: readonly MemberRef[],
  readiness: Partial<MemberReadiness>,
  actor: string,
  what: string,
): ResultAsync<WebhookOutcome, WebhookFailure> {
  return forEachMember(refs, (ref) =>
    useCases.updateMemberReadiness(ctx.deps, ref.groupId, ref.memberId, readiness, actor),
  ).map(({ done }) =>
    done.length === 0
      ? ignored(`${what}: none of its members exists any more`)
      : processed(
          `${what}: ${describeReadiness(readiness)} for ${done.map((r) => `${r.groupId}/${r.memberId}`).join(", ")}`,
        ),
  );
}

function applyRoundInput(
  ctx: WebhookContext,
  t: { readonly groupId: string; readonly roundId: string; readonly input: RoundInput },
  actor: string,
): ResultAsync<WebhookOutcome, WebhookFailure> {
  const about = { groupId: t.groupId, roundId: t.roundId };
  return useCases
    .retryOnConflict(() => useCases.applyRoundInput(ctx.deps, t.roundId, t.input, actor))
    .map((decision) =>
      decision.ignored === undefined
        ? processed(`round ${t.roundId}: ${t.input.type} applied`)
        : ignored(
            `round ${t.roundId}: ${t.input.type} ignored: ${decision.ignored.code}: ${decision.ignored.detail}`,
          ),
    )
    .orElse((e) =>
      isMissing(e)
        ? okAsync(ignored(`round ${t.roundId}: ${t.input.type} not applied: ${e.code}`))
        : errAsync(useCaseFailure(e, about)),
    );
}

/**
 * An account's readiness as Stripe reports it now. Events about one account can arrive
 * in any order and readiness is a flag each event would overwrite, so the event's own copy
 * of the account could be stale by the time it is processed; Stripe's advice is to read
 * the object again. An account that cannot be read any more cannot be paid.
 */
function currentPayoutReadiness(
  ctx: WebhookContext,
  accountId: string,
): ResultAsync<boolean, WebhookFailure> {
  return ctx.gateway
    .getConnectedAccount(accountId)
    .map((s) => s.transfersActive && s.payoutsEnabled)
    .orElse((e) => (isGone(e) ? okAsync(false) : errAsync(gatewayFailure(e))));
}

/** A mandate's state as Stripe reports it now (see {@link currentPayoutReadiness} for why). */
function currentMandateActive(ctx: WebhookContext, mandateId: string): ResultAsync<boolean, WebhookFailure> {
  return ctx.gateway
    .getMandate(mandateId)
    .map((m) => m.status === "active")
    .orElse((e) => (isGone(e) ? okAsync(false) : errAsync(gatewayFailure(e))));
}

function membersFound(
  lookup: ResultAsync<readonly MemberRef[], { readonly code: string; readonly message: string }>,
): ResultAsync<readonly MemberRef[], WebhookFailure> {
  return lookup.mapErr((e) => ({ code: e.code, message: e.message, retryable: true }));
}

type DebitSetup = Extract<StripeEventTranslation, { kind: "debit_setup" }>;

function debitSetup(
  ctx: WebhookContext,
  t: DebitSetup,
  actor: string,
): ResultAsync<WebhookOutcome, WebhookFailure> {
  const what = `BECS set-up ${t.setupIntentId}`;
  if (t.outcome.status === "failed")
    // A failed set-up changes nothing stored: an earlier mandate, if any, stays as it was.
    return okAsync(ignored(`${what} failed (${t.outcome.failureCode}); the member restarts it in the app`));
  const { paymentMethodId, mandateId } = t.outcome;
  const memberId = t.references?.memberId;
  const refs: ResultAsync<readonly MemberRef[], WebhookFailure> =
    t.references !== undefined && memberId !== undefined
      ? okAsync([{ groupId: t.references.groupId, memberId }])
      : t.customerId !== undefined
        ? membersFound(ctx.members.byCustomer(t.customerId))
        : okAsync([]);
  return refs.andThen((members) => {
    if (members.length === 0) return okAsync(ignored(`${what}: not made for a susu member`));
    return currentMandateActive(ctx, mandateId).andThen((mandateActive) =>
      forEachMember(members, (ref) =>
        useCases
          .updateMemberPayment(
            ctx.deps,
            ref.groupId,
            ref.memberId,
            {
              ...(t.customerId !== undefined ? { customerId: t.customerId } : {}),
              paymentMethodId,
              mandateId,
            },
            actor,
          )
          .andThen(() =>
            useCases.updateMemberReadiness(ctx.deps, ref.groupId, ref.memberId, { mandateActive }, actor),
          ),
      ).map(({ done }) =>
        done.length === 0
          ? ignored(`${what}: none of its members exists any more`)
          : processed(
              `${what}: mandate ${mandateId} (active=${String(mandateActive)}) stored for ${done
                .map((r) => `${r.groupId}/${r.memberId}`)
                .join(", ")}`,
            ),
      ),
    );
  });
}

function apply(
  ctx: WebhookContext,
  t: StripeEventTranslation,
  actor: string,
): ResultAsync<WebhookOutcome, WebhookFailure> {
  switch (t.kind) {
    case "round_input":
      return applyRoundInput(ctx, t, actor);
    case "dispute_needs_references":
      // translateStripeEventWith has already looked the references up; it only returns
      // this when the lookup was not made, which would be a bug in this module.
      return errAsync({
        code: "dispute_references_missing",
        message: `dispute ${t.disputeId} reached processing without its payment's references`,
        retryable: false,
      });
    case "payout_readiness": {
      const what = `account ${t.accountId}`;
      return membersFound(ctx.members.byConnectedAccount(t.accountId)).andThen((refs) =>
        refs.length === 0
          ? okAsync(ignored(`${what}: no member has this connected account`))
          : currentPayoutReadiness(ctx, t.accountId).andThen((payoutsEnabled) =>
              readinessFor(ctx, refs, { payoutsEnabled }, actor, what),
            ),
      );
    }
    case "account_deauthorized": {
      // Final for the platform: a later re-connection arrives as its own account.updated.
      const what = `account ${t.accountId} (deauthorized)`;
      return membersFound(ctx.members.byConnectedAccount(t.accountId)).andThen((refs) =>
        refs.length === 0
          ? okAsync(ignored(`${what}: no member has this connected account`))
          : readinessFor(ctx, refs, { payoutsEnabled: false }, actor, what),
      );
    }
    case "mandate_status": {
      const what = `mandate ${t.mandate.mandateId}`;
      return membersFound(ctx.members.byMandate(t.mandate.mandateId)).andThen((refs) =>
        refs.length === 0
          ? okAsync(ignored(`${what}: no member has this mandate`))
          : currentMandateActive(ctx, t.mandate.mandateId).andThen((mandateActive) =>
              readinessFor(ctx, refs, { mandateActive }, actor, what),
            ),
      );
    }
    case "debit_setup":
      return debitSetup(ctx, t, actor);
    case "ignored":
      return okAsync(ignored(t.reason));
    case "not_handled":
      return okAsync(ignored(`not handled: ${t.reason}`));
  }
}

/**
 * Applies one verified Stripe event to the domain: translates it (looking up a disputed
 * payment's references through the gateway) and runs the use case its translation calls
 * for, as actor `stripe:<event id>`:
 *
 * | translation | use case |
 * |---|---|
 * | `round_input` | `applyRoundInput` on the round (lost optimistic races retried) |
 * | dispute (references looked up) | `applyRoundInput` with `dispute_opened` |
 * | `payout_readiness` | `updateMemberReadiness({ payoutsEnabled })` for every member with the account, from the account as Stripe reports it now (resumes a blocked payout) |
 * | `account_deauthorized` | `updateMemberReadiness({ payoutsEnabled: false })` |
 * | `mandate_status` | `updateMemberReadiness({ mandateActive })` for every member with the mandate, from the mandate as Stripe reports it now |
 * | `debit_setup` (succeeded) | `updateMemberPayment` (customer, payment method, mandate), then `updateMemberReadiness({ mandateActive })` |
 * | `ignored`, `not_handled`, a failed set-up | nothing |
 *
 * Safe to run twice and in any order: the rounds' state machines ignore inputs that no
 * longer apply, and readiness is read from Stripe at the time of processing. A round,
 * group or member that does not exist makes the event `ignored` (with why), not a failure:
 * retrying cannot make it appear.
 */
export function processWebhookEvent(
  event: Stripe.Event,
  ctx: WebhookContext,
): ResultAsync<WebhookOutcome, WebhookFailure> {
  const actor = `stripe:${event.id}`;
  return translateStripeEventWith(event, (ids) => ctx.gateway.getPaymentReferences(ids))
    .mapErr(gatewayFailure)
    .andThen((translation) => apply(ctx, translation, actor));
}
