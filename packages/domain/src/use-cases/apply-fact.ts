import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import type { PaymentFact, PaymentObjectFact } from "../facts/payment-fact.js";
import { routeToRound } from "../facts/route-to-round.js";
import type { MemberReadiness } from "../group/group.js";
import { isGoneCode } from "../policy/failure-codes.js";
import type { MemberDirectory, MemberRef } from "../ports/member-directory.js";
import type { GatewayError, PaymentReader } from "../ports/payment-gateway.js";
import type { UseCaseDeps, UseCaseError } from "./deps.js";
import { updateMemberPayment, updateMemberReadiness } from "./group-use-cases.js";
import { retryOnConflict } from "./retry-on-conflict.js";
import { applyRoundInput } from "./round-use-cases.js";

/** What routing a fact needs besides the use cases' ports. */
export interface FactPorts {
  /** Reads the current state of accounts and mandates (facts about them are re-read, not trusted). */
  readonly reader: PaymentReader;
  /** Finds the members who own a Stripe object. */
  readonly directory: MemberDirectory;
}

/** What a fact did: changed state (`applied`), or nothing to do (`ignored`), with what and why. */
export interface FactOutcome {
  readonly status: "applied" | "ignored";
  readonly detail: string;
}

/** Why applying a fact failed: storage, a refused state, or a provider read that failed. */
export type FactError = UseCaseError | GatewayError;

const applied = (detail: string): FactOutcome => ({ status: "applied", detail });
const ignored = (detail: string): FactOutcome => ({ status: "ignored", detail });

/** Errors that mean "that round, group or member does not exist (any more)": retrying cannot make it appear. */
function isMissing(error: FactError): boolean {
  return (
    error.type === "not_found" || error.type === "member_not_found" || error.type === "contribution_not_found"
  );
}

/**
 * Applies a fact about a payment to the round it concerns (lost optimistic races retried).
 * The same function serves the answers of effects and webhooks, so the in-memory system
 * and production route facts identically.
 */
export function applyRoundFact(
  deps: UseCaseDeps,
  fact: PaymentObjectFact,
  actor: string,
): ResultAsync<FactOutcome, FactError> {
  const route = routeToRound(fact);
  if (route.to === "nobody") return okAsync(ignored(`${fact.kind}: ${route.reason}`));
  const what = `round ${route.roundId}: ${route.input.type}`;
  return retryOnConflict(() => applyRoundInput(deps, route.roundId, route.input, actor))
    .map((decision) =>
      decision.ignored === undefined
        ? applied(`${what} applied`)
        : ignored(`${what} ignored: ${decision.ignored.code}: ${decision.ignored.detail}`),
    )
    .orElse((e) => (isMissing(e) ? okAsync(ignored(`${what} not applied: ${e.code}`)) : errAsync(e)));
}

/** Runs `each` for every member in turn; members that no longer exist are skipped. */
function forEachMember(
  refs: readonly MemberRef[],
  each: (ref: MemberRef) => ResultAsync<unknown, UseCaseError>,
): ResultAsync<readonly MemberRef[], FactError> {
  return refs.reduce<ResultAsync<MemberRef[], FactError>>(
    (chain, ref) =>
      chain.andThen((done) =>
        retryOnConflict(() => each(ref))
          .map(() => [...done, ref])
          .orElse((e) => (isMissing(e) ? okAsync(done) : errAsync(e))),
      ),
    okAsync([]),
  );
}

const list = (refs: readonly MemberRef[]) => refs.map((r) => `${r.groupId}/${r.memberId}`).join(", ");

const describe = (r: Partial<MemberReadiness>): string =>
  Object.entries(r)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(", ");

function recordReadiness(
  deps: UseCaseDeps,
  refs: readonly MemberRef[],
  readiness: Partial<MemberReadiness>,
  actor: string,
  what: string,
): ResultAsync<FactOutcome, FactError> {
  return forEachMember(refs, (ref) =>
    updateMemberReadiness(deps, ref.groupId, ref.memberId, readiness, actor),
  ).map((done) =>
    done.length === 0
      ? ignored(`${what}: none of its members exists any more`)
      : applied(`${what}: ${describe(readiness)} for ${list(done)}`),
  );
}

/** Whether the account can receive, as the provider says now; an account that cannot be read cannot be paid. */
function payoutsEnabledNow(ports: FactPorts, accountId: string): ResultAsync<boolean, FactError> {
  return ports.reader
    .getConnectedAccount(accountId)
    .map((s) => s.transfersActive && s.payoutsEnabled)
    .orElse((e) => (e.type === "gateway_definite" && isGoneCode(e.code) ? okAsync(false) : errAsync(e)));
}

/** Whether the mandate is active, as the provider says now (see {@link payoutsEnabledNow}). */
function mandateActiveNow(ports: FactPorts, mandateId: string): ResultAsync<boolean, FactError> {
  return ports.reader
    .getMandate(mandateId)
    .map((m) => m.status === "active")
    .orElse((e) => (e.type === "gateway_definite" && isGoneCode(e.code) ? okAsync(false) : errAsync(e)));
}

type SetupSucceeded = Extract<PaymentFact, { kind: "debit_setup_succeeded" }>;

function debitSetupSucceeded(
  deps: UseCaseDeps,
  ports: FactPorts,
  fact: SetupSucceeded,
  actor: string,
): ResultAsync<FactOutcome, FactError> {
  const what = `BECS set-up ${fact.setupIntentId}`;
  const memberId = fact.refs?.memberId;
  const owners: ResultAsync<readonly MemberRef[], FactError> =
    fact.refs !== undefined && memberId !== undefined
      ? okAsync([{ groupId: fact.refs.groupId, memberId }])
      : fact.customerId !== undefined
        ? ports.directory.byCustomer(fact.customerId)
        : okAsync([]);
  return owners.andThen((refs) => {
    if (refs.length === 0) return okAsync(ignored(`${what}: not made for a susu member`));
    return mandateActiveNow(ports, fact.mandateId).andThen((mandateActive) =>
      forEachMember(refs, (ref) =>
        updateMemberPayment(
          deps,
          ref.groupId,
          ref.memberId,
          {
            ...(fact.customerId !== undefined ? { customerId: fact.customerId } : {}),
            paymentMethodId: fact.paymentMethodId,
            mandateId: fact.mandateId,
          },
          actor,
        ).andThen(() => updateMemberReadiness(deps, ref.groupId, ref.memberId, { mandateActive }, actor)),
      ).map((done) =>
        done.length === 0
          ? ignored(`${what}: none of its members exists any more`)
          : applied(
              `${what}: mandate ${fact.mandateId} (active=${String(mandateActive)}) stored for ${list(done)}`,
            ),
      ),
    );
  });
}

/**
 * The one router of payment facts: applies a fact to the aggregate(s) it concerns, as
 * `actor` (`stripe:evt_…`, `effect:<id>`). The webhook processor and the in-memory system
 * both run it.
 *
 * | fact | what happens |
 * |---|---|
 * | about a payment (debit, refund, transfer, dispute) | the round named by its references hears the matching input |
 * | `payout_account_changed` | every member with the account gets `payoutsEnabled` as the provider reports it now (a blocked payout resumes) |
 * | `payout_account_disconnected` | every member with the account gets `payoutsEnabled: false` |
 * | `mandate_changed` | every member with the mandate gets `mandateActive` as the provider reports it now |
 * | `debit_setup_succeeded` | the member stores the payment method and mandate, and `mandateActive` |
 * | `debit_setup_failed` | nothing stored: an earlier mandate stays as it was; the member restarts in the app |
 *
 * Safe to run twice and in any order: rounds ignore inputs that no longer apply, and
 * readiness is read from the provider at the time of routing. A round, group or member
 * that does not exist makes the fact `ignored` (with why), not a failure.
 */
export function applyPaymentFact(
  deps: UseCaseDeps,
  ports: FactPorts,
  fact: PaymentFact,
  actor: string,
): ResultAsync<FactOutcome, FactError> {
  switch (fact.kind) {
    case "debit_processing":
    case "debit_succeeded":
    case "debit_failed":
    case "refund_succeeded":
    case "refund_failed":
    case "transfer_created":
    case "transfer_failed":
    case "transfer_reversed":
    case "dispute_opened":
      return applyRoundFact(deps, fact, actor);
    case "payout_account_changed": {
      const what = `account ${fact.accountId}`;
      return ports.directory
        .byConnectedAccount(fact.accountId)
        .andThen((refs) =>
          refs.length === 0
            ? okAsync(ignored(`${what}: no member has this connected account`))
            : payoutsEnabledNow(ports, fact.accountId).andThen((payoutsEnabled) =>
                recordReadiness(deps, refs, { payoutsEnabled }, actor, what),
              ),
        );
    }
    case "payout_account_disconnected": {
      // Final for the platform: a later re-connection arrives as its own account change.
      const what = `account ${fact.accountId} (disconnected)`;
      return ports.directory
        .byConnectedAccount(fact.accountId)
        .andThen((refs) =>
          refs.length === 0
            ? okAsync(ignored(`${what}: no member has this connected account`))
            : recordReadiness(deps, refs, { payoutsEnabled: false }, actor, what),
        );
    }
    case "mandate_changed": {
      const mandateId = fact.mandate.mandateId;
      const what = `mandate ${mandateId}`;
      return ports.directory
        .byMandate(mandateId)
        .andThen((refs) =>
          refs.length === 0
            ? okAsync(ignored(`${what}: no member has this mandate`))
            : mandateActiveNow(ports, mandateId).andThen((mandateActive) =>
                recordReadiness(deps, refs, { mandateActive }, actor, what),
              ),
        );
    }
    case "debit_setup_succeeded":
      return debitSetupSucceeded(deps, ports, fact, actor);
    case "debit_setup_failed":
      return okAsync(
        ignored(
          `BECS set-up ${fact.setupIntentId} failed (${fact.failureCode}); the member restarts it in the app`,
        ),
      );
  }
}
