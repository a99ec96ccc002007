import {
  type ConnectedAccountStatus,
  type GatewayError,
  type MandateStatus,
  type MemberReadiness,
  type PaymentReferences,
  type Person,
  type RoundInput,
  type UseCaseDeps,
  type UseCaseError,
  useCases,
} from "@susu/domain";
import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import type Stripe from "stripe";
import { type StripeEventTranslation, translateStripeEventWith } from "../stripe/event-translator.js";

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

/**
 * What processing an event needs. Account and mandate events name only the Stripe
 * object; its owner is found with the people look-ups of `deps.people`.
 */
export interface WebhookContext {
  readonly deps: UseCaseDeps;
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

/** Errors that mean "that round, group, member or person does not exist (any more)". */
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

/** Runs a change to a person (lost optimistic races retried); a person gone is `missing`. */
function changePerson(
  change: () => ResultAsync<unknown, UseCaseError>,
): ResultAsync<"done" | "missing", WebhookFailure> {
  return useCases
    .retryOnConflict(change)
    .map(() => "done" as const)
    .orElse((e) => (isMissing(e) ? okAsync("missing" as const) : errAsync(useCaseFailure(e))));
}

function readinessFor(
  ctx: WebhookContext,
  person: Person,
  readiness: Partial<MemberReadiness>,
  actor: string,
  what: string,
): ResultAsync<WebhookOutcome, WebhookFailure> {
  // One write to the person, whatever groups they are in; the use case tells the rounds.
  return changePerson(() => useCases.updatePersonReadiness(ctx.deps, person.id, readiness, actor)).map(
    (result) =>
      result === "missing"
        ? ignored(`${what}: its person does not exist any more`)
        : processed(`${what}: ${describeReadiness(readiness)} for ${person.id}`),
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
        : ignored(`round ${t.roundId}: ${t.input.type} ignored: ${decision.ignored}`),
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

function personFound(
  lookup: ResultAsync<Person | undefined, { readonly code: string; readonly message: string }>,
): ResultAsync<Person | undefined, WebhookFailure> {
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
  // Set-ups carry the person's id; those started before people existed carry the member
  // id, which is the person's id.
  const personId = t.references?.personId ?? t.references?.memberId;
  const owner: ResultAsync<Person | undefined, WebhookFailure> =
    personId !== undefined
      ? personFound(ctx.deps.people.getPerson(personId))
      : t.customerId !== undefined
        ? personFound(ctx.deps.people.findByCustomer(t.customerId))
        : okAsync(undefined);
  return owner.andThen((person) => {
    if (person === undefined) return okAsync(ignored(`${what}: not made for a susu person`));
    return currentMandateActive(ctx, mandateId).andThen((mandateActive) =>
      // The customer, the mandate and its state in one write to the person.
      changePerson(() =>
        useCases.updatePersonPayment(
          ctx.deps,
          person.id,
          {
            ...(t.customerId !== undefined ? { customerId: t.customerId } : {}),
            debit: { paymentMethodId, mandateId, mandateActive },
          },
          actor,
        ),
      ).map((result) =>
        result === "missing"
          ? ignored(`${what}: its person does not exist any more`)
          : processed(
              `${what}: mandate ${mandateId} (active=${String(mandateActive)}) stored for ${person.id}`,
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
      return personFound(ctx.deps.people.findByConnectedAccount(t.accountId)).andThen((person) =>
        person === undefined
          ? okAsync(ignored(`${what}: no person has this connected account`))
          : currentPayoutReadiness(ctx, t.accountId).andThen((payoutsEnabled) =>
              readinessFor(ctx, person, { payoutsEnabled }, actor, what),
            ),
      );
    }
    case "account_deauthorized": {
      // Final for the platform: a later re-connection arrives as its own account.updated.
      const what = `account ${t.accountId} (deauthorized)`;
      return personFound(ctx.deps.people.findByConnectedAccount(t.accountId)).andThen((person) =>
        person === undefined
          ? okAsync(ignored(`${what}: no person has this connected account`))
          : readinessFor(ctx, person, { payoutsEnabled: false }, actor, what),
      );
    }
    case "mandate_status": {
      const what = `mandate ${t.mandate.mandateId}`;
      return personFound(ctx.deps.people.findByMandate(t.mandate.mandateId)).andThen((person) =>
        person === undefined
          ? okAsync(ignored(`${what}: no person has this mandate`))
          : currentMandateActive(ctx, t.mandate.mandateId).andThen((mandateActive) =>
              readinessFor(ctx, person, { mandateActive }, actor, what),
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
 * | `payout_readiness` | `updatePersonReadiness({ payoutsEnabled })` for the person with the account, from the account as Stripe reports it now (reaches every round where they are the recipient; resumes a blocked payout) |
 * | `account_deauthorized` | `updatePersonReadiness({ payoutsEnabled: false })` |
 * | `mandate_status` | `updatePersonReadiness({ mandateActive })` for the person with the mandate, from the mandate as Stripe reports it now |
 * | `debit_setup` (succeeded) | `updatePersonPayment` (customer, and the mandate with its state as Stripe reports it now): one write |
 * | `ignored`, `not_handled`, a failed set-up | nothing |
 *
 * Safe to run twice and in any order: the rounds' state machines ignore inputs that no
 * longer apply, and readiness is read from Stripe at the time of processing. A round,
 * group or person that does not exist makes the event `ignored` (with why), not a failure:
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
