import { errAsync, okAsync, type ResultAsync } from "neverthrow";
import { sellerNetMinor } from "../held-payment/held-payment.js";
import { formatMoney } from "../money/format-money.js";
import { currencyInfo, type Money, money } from "../money/index.js";
import {
  DEFAULT_PAYOUT_SCHEDULE,
  mergePayout,
  PAYOUT_RECHECK_AFTER_ARRIVAL_MS,
  PAYOUT_REQUEST_LOOKUP_MS,
  type PayoutRecord,
  type PayoutRequest,
  type PayoutSchedule,
  payoutRequestMoves,
  type ReportedPayout,
  utcDay,
} from "../payout/payout.js";
import { PAYOUT_AGGREGATE, type PayoutEffect } from "../payout/payout-effect.js";
import { PAYOUT_KEYS_PER_DAY, payoutIds } from "../payout/payout-ids.js";
import { type PayoutPause, payoutPauseOf } from "../payout/payout-pause.js";
import { reversalReserve } from "../payout/reversal-reserve.js";
import type { PersonId } from "../person/ids.js";
import { personError } from "../person/person.errors.js";
import { isGoneCode } from "../policy/failure-codes.js";
import type {
  AccountBalance,
  ConnectedAccountStatus,
  GatewayError,
  PaymentGateway,
  PayoutCreated,
} from "../ports/payment-gateway.js";
import { DAY_MS, HOUR_MS, type Instant } from "../shared/time.js";
import type { UseCaseDeps, UseCaseError } from "./deps.js";
import { loadPerson } from "./load-people.js";

/** The schedule connected accounts susu creates get. */
export function payoutScheduleOf(deps: UseCaseDeps): PayoutSchedule {
  return deps.payoutSchedule ?? DEFAULT_PAYOUT_SCHEDULE;
}

/**
 * An account's payout schedule: what the provider shows for it (an account keeps the schedule
 * it was created with when the setting changes later), the setting when the provider does not say.
 */
function accountPayoutInterval(
  deps: UseCaseDeps,
  account: ConnectedAccountStatus,
): PayoutSchedule["interval"] {
  return account.payoutInterval ?? payoutScheduleOf(deps).interval;
}

/** What recording a reported payout did: `applied` (stored, perhaps with effects) or `ignored`, with why. */
export interface PayoutRecordOutcome {
  readonly applied: boolean;
  readonly detail: string;
}

/** The notice and the ticket a payout that failed owes; their ids make them once per payout. */
function failureEffects(record: PayoutRecord): PayoutEffect[] {
  const amount = formatMoney(money(record.amountMinor, record.currency));
  const code = record.failureCode ?? "unknown";
  const message = record.failureMessage ?? "the bank returned the payout";
  return [
    {
      kind: "notify",
      id: payoutIds.failedNotice(record.payoutId),
      aggregate: PAYOUT_AGGREGATE,
      aggregateId: record.payoutId,
      to: { kind: "people", personIds: [record.personId] },
      template: "payout_failed",
      data: {
        payoutId: record.payoutId,
        amountMinor: record.amountMinor,
        currency: record.currency,
        failureCode: code,
        failureMessage: message,
        // What the person does: correct their bank account on the provider's pages, reached
        // through a new payout onboarding link (an update link once onboarded). Until then
        // payouts are paused: the provider pays nothing to a bank account a payout failed into.
        action: "update_bank_account",
        onboardingPath: `/v1/people/${encodeURIComponent(record.personId)}/payout-onboarding`,
      },
    },
    {
      kind: "open_ticket",
      id: payoutIds.failedTicket(record.payoutId),
      aggregate: PAYOUT_AGGREGATE,
      aggregateId: record.payoutId,
      reason: "payout_failed",
      summary: `payout ${record.payoutId} of ${amount} from account ${record.accountId} (person ${record.personId}) failed: ${code}: ${message}. The funds are back in the account's balance; payouts to that bank account are paused (the provider marks it errored, and the payout run skips it as bank_account_errored) until the person updates their bank details, as they were asked to.`,
    },
  ];
}

/**
 * Records what the provider reported about a payout of a person's connected account (a
 * `payout.*` event), whatever order the events arrive in: a status only moves forward
 * (`mergePayout`). A payout that failed tells the person what to do and opens one ticket
 * for the admins, once per payout (the effects' ids are the payout's). An account no
 * person has is ignored.
 */
export function recordPayout(
  deps: UseCaseDeps,
  reported: ReportedPayout,
  actor: string,
): ResultAsync<PayoutRecordOutcome, UseCaseError> {
  return deps.people.findByConnectedAccount(reported.accountId).andThen((person) => {
    if (person === undefined)
      return okAsync({
        applied: false,
        detail: `payout ${reported.payoutId} (${reported.status}): no person has account ${reported.accountId}`,
      });
    return recordPayoutOf(deps, person.id, reported, actor);
  });
}

/**
 * Records a reported payout for `personId` as {@link recordPayout} does and, with `request`,
 * links the payout request it was made under (`made`, with the payout's id) in the same
 * commit: the answer to susu's own request, or the payout found by its key.
 */
function recordPayoutOf(
  deps: UseCaseDeps,
  personId: PersonId,
  reported: ReportedPayout,
  actor: string,
  request?: PayoutRequest,
): ResultAsync<PayoutRecordOutcome, UseCaseError> {
  const what = `payout ${reported.payoutId} (${reported.status})`;
  return deps.payouts.getPayout(reported.payoutId).andThen((stored) => {
    const now = deps.clock.now();
    const merge = mergePayout(stored, reported, personId, now);
    const made: PayoutRequest | undefined =
      request === undefined
        ? undefined
        : { ...request, status: "made", payoutId: reported.payoutId, updatedAt: now };
    const linked = made !== undefined && payoutRequestMoves(request, made);
    if (merge.kind === "stale" && !linked)
      return okAsync({
        applied: false,
        detail: `${what}: already recorded as ${merge.record.status}`,
      });
    const record = merge.record;
    const outbox = merge.kind !== "stale" && record.status === "failed" ? failureEffects(record) : [];
    const from = merge.kind === "advanced" ? ` (was ${merge.from})` : "";
    const detail = `${what}: recorded for ${record.personId}${from}${linked ? `, made under ${request?.key}` : ""}`;
    return deps.uow
      .commit({
        people: [],
        groups: [],
        rounds: [],
        payouts: merge.kind === "stale" ? [] : [record],
        ...(linked && made !== undefined ? { payoutRequests: [made] } : {}),
        outbox,
        audit: [
          {
            at: now,
            aggregate: "payout",
            aggregateId: record.payoutId,
            action: `payout_${record.status}`,
            outcome: "applied",
            detail,
            actor,
          },
        ],
      })
      .map(() => ({ applied: true, detail }));
  });
}

/** A payout the provider just made, as its `payout.*` event would report it. */
function reportedOf(accountId: string, created: PayoutCreated): ReportedPayout {
  return {
    payoutId: created.payoutId,
    accountId,
    amountMinor: created.amount.amountMinor,
    currency: created.amount.currency,
    status: created.status,
    arrivalDate: created.arrivalDate,
    automatic: false,
    createdAt: created.createdAt,
  };
}

/** Stores a payout request as it stands (a known key only moves forward), with its audit line. */
function commitPayoutRequest(
  deps: UseCaseDeps,
  request: PayoutRequest,
  action: string,
  detail: string,
  actor: string,
): ResultAsync<void, UseCaseError> {
  return deps.uow
    .commit({
      people: [],
      groups: [],
      rounds: [],
      payoutRequests: [request],
      outbox: [],
      audit: [
        {
          at: request.updatedAt,
          aggregate: "payout",
          aggregateId: request.key,
          action,
          outcome: "applied",
          detail,
          actor,
        },
      ],
    })
    .map(() => undefined);
}

/** What one recheck of the payout requests whose outcome susu did not know did. */
export interface PayoutRequestsRecheck {
  /** Requests looked up at the provider by their key. */
  readonly checked: number;
  /** Of those, the ones the provider had made a payout under: recorded now. */
  readonly found: readonly { readonly key: string; readonly payoutId: string }[];
  /** Of those, the ones with no payout {@link PAYOUT_REQUEST_LOOKUP_MS} after they were asked: closed as `not_made`. */
  readonly notMade: readonly string[];
  /** Requests the provider or storage could not answer for now: the next recheck asks again. */
  readonly failed: readonly { readonly key: string; readonly code: string; readonly message: string }[];
}

/** What one recheck of the payouts still in flight or recently paid did. */
export interface PayoutRecheckReport {
  /** The payout requests whose outcome was unknown, looked up first ({@link recheckPayouts}). */
  readonly requests: PayoutRequestsRecheck;
  /** Payouts asked about. */
  readonly checked: number;
  /** Of those, the ones whose record moved on (the provider's news had been lost or was late). */
  readonly changed: readonly { readonly payoutId: string; readonly detail: string }[];
  /** Payouts the provider or storage could not answer for now: the next recheck asks again. */
  readonly failed: readonly { readonly payoutId: string; readonly code: string; readonly message: string }[];
}

/** Payouts read per page of a recheck. */
const PAYOUT_RECHECK_PAGE = 200;

/**
 * Brings susu's records of payouts up to date with the provider, whatever webhooks were
 * lost: every payout still `pending` or `in_transit`, and every `paid` one whose arrival date
 * is at most {@link PAYOUT_RECHECK_AFTER_ARRIVAL_MS} before `at` (a bank may still return it),
 * is read again from the provider and recorded through {@link recordPayout}, as its
 * `payout.*` event would be (actor `payout_recheck`). So a failure found this way tells the
 * person and opens the ticket as the webhook does, with the same ids: the webhook arriving
 * after it (or before it, or both twice) applies nothing more. One payout's failure to be
 * read is reported and does not stop the others. Before them, every payout request whose
 * outcome susu does not know (recorded `asked` before the provider was asked, its answer lost)
 * is looked up at the provider by its key (`recheckPayoutRequests`): a payout whose answer and
 * events were all lost is recorded, and so rechecked like the others.
 */
export function recheckPayouts(
  deps: UseCaseDeps,
  gateway: PaymentGateway,
  at: Instant,
): ResultAsync<PayoutRecheckReport, UseCaseError> {
  return recheckPayoutRequests(deps, gateway, at).andThen((requests) =>
    recheckRecordedPayouts(deps, gateway, at, requests),
  );
}

/** Payout requests read per page of a recheck. */
const PAYOUT_REQUEST_RECHECK_PAGE = 200;

/**
 * Looks every payout request whose outcome susu does not know (`asked`: the provider's answer
 * was lost, or susu stopped before it) up at the provider by its key: a payout made under it
 * is recorded (as its events would record it, so one that failed tells the person and opens
 * the ticket) and the request linked to it; none, {@link PAYOUT_REQUEST_LOOKUP_MS} after it
 * was asked, closes it as `not_made`; none before that leaves it for the next recheck. One
 * request's failure to be looked up is reported and does not stop the others.
 */
function recheckPayoutRequests(
  deps: UseCaseDeps,
  gateway: PaymentGateway,
  at: Instant,
): ResultAsync<PayoutRequestsRecheck, UseCaseError> {
  const report: {
    checked: number;
    found: { key: string; payoutId: string }[];
    notMade: string[];
    failed: { key: string; code: string; message: string }[];
  } = { checked: 0, found: [], notMade: [], failed: [] };
  const one = (request: PayoutRequest): ResultAsync<unknown, UseCaseError> =>
    gateway
      .findPayoutByKey({
        accountId: request.accountId,
        idempotencyKey: request.key,
        // The provider's clock and susu's may differ a little: a day's margin.
        createdSince: request.askedAt - DAY_MS,
      })
      .mapErr((e): UseCaseError | GatewayError => e)
      .andThen((payout) => {
        if (payout !== undefined)
          return recordPayoutOf(deps, request.personId, payout, "payout_recheck", request).map(() => {
            report.found.push({ key: request.key, payoutId: payout.payoutId });
            return report;
          });
        if (at - request.askedAt < PAYOUT_REQUEST_LOOKUP_MS) return okAsync<unknown, UseCaseError>(report);
        return commitPayoutRequest(
          deps,
          { ...request, status: "not_made", updatedAt: deps.clock.now() },
          "payout_not_made",
          `no payout under ${request.key} at the provider ${Math.floor((at - request.askedAt) / HOUR_MS)} h after it was asked`,
          "payout_recheck",
        ).map(() => {
          report.notMade.push(request.key);
          return report;
        });
      })
      .map(() => {
        report.checked += 1;
        return report;
      })
      .orElse((e) => {
        report.checked += 1;
        report.failed.push({ key: request.key, code: e.code, message: e.message });
        return okAsync<unknown, UseCaseError>(report);
      });
  const page = (after: string | undefined): ResultAsync<PayoutRequestsRecheck, UseCaseError> =>
    deps.payouts
      .listPayoutRequestsToResolve({
        limit: PAYOUT_REQUEST_RECHECK_PAGE,
        ...(after !== undefined ? { startingAfter: after } : {}),
      })
      .andThen((requests) =>
        requests
          .reduce<ResultAsync<unknown, UseCaseError>>(
            (chain, r) => chain.andThen(() => one(r)),
            okAsync(report),
          )
          .andThen(() => {
            const last = requests.at(-1);
            return requests.length < PAYOUT_REQUEST_RECHECK_PAGE || last === undefined
              ? okAsync<PayoutRequestsRecheck, UseCaseError>(report)
              : page(last.key);
          }),
      );
  return page(undefined);
}

/** The recheck of the payouts susu has recorded ({@link recheckPayouts}), after the requests'. */
function recheckRecordedPayouts(
  deps: UseCaseDeps,
  gateway: PaymentGateway,
  at: Instant,
  requests: PayoutRequestsRecheck,
): ResultAsync<PayoutRecheckReport, UseCaseError> {
  const report: {
    requests: PayoutRequestsRecheck;
    checked: number;
    changed: { payoutId: string; detail: string }[];
    failed: { payoutId: string; code: string; message: string }[];
  } = { requests, checked: 0, changed: [], failed: [] };
  const paidSince = at - PAYOUT_RECHECK_AFTER_ARRIVAL_MS;
  /** Whether the payout's record moved on; a failure to read it is reported, not raised. */
  const one = (stored: PayoutRecord): ResultAsync<boolean, UseCaseError> =>
    gateway
      .getPayout({ accountId: stored.accountId, payoutId: stored.payoutId })
      .mapErr((e): UseCaseError | GatewayError => e)
      .andThen((now) => recordPayout(deps, now, "payout_recheck"))
      .map((outcome) => {
        report.checked += 1;
        if (outcome.applied) report.changed.push({ payoutId: stored.payoutId, detail: outcome.detail });
        return outcome.applied;
      })
      .orElse((e) => {
        report.checked += 1;
        report.failed.push({ payoutId: stored.payoutId, code: e.code, message: e.message });
        return okAsync<boolean, UseCaseError>(false);
      });
  const page = (after: string | undefined): ResultAsync<PayoutRecheckReport, UseCaseError> =>
    deps.payouts
      .listPayoutsToRecheck({
        paidSince,
        limit: PAYOUT_RECHECK_PAGE,
        ...(after !== undefined ? { startingAfter: after } : {}),
      })
      .andThen((payouts) =>
        payouts
          .reduce<ResultAsync<boolean, UseCaseError>>(
            (chain, p) => chain.andThen(() => one(p)),
            okAsync(false),
          )
          .andThen(() => {
            const last = payouts.at(-1);
            return payouts.length < PAYOUT_RECHECK_PAGE || last === undefined
              ? okAsync<PayoutRecheckReport, UseCaseError>(report)
              : page(last.payoutId);
          }),
      );
  return page(undefined);
}

/**
 * Why a payout run asked for this payout: the daily job (its UTC day, and the run's own id,
 * a new one when absent) or an admin's request (its key).
 */
export type PayoutTrigger =
  | { readonly kind: "scheduled"; readonly at: Instant; readonly runId?: string }
  | { readonly kind: "requested"; readonly requestKey: string; readonly by: string };

/** A currency a payout run did not pay out, and why (the provider's code). */
export interface SkippedPayout {
  readonly amount: Money;
  readonly code: string;
  readonly message: string;
}

/** What paying a person out did, per currency of their available balance. */
export interface PayoutRun {
  readonly personId: PersonId;
  readonly connectedAccountId: string;
  readonly payouts: readonly PayoutCreated[];
  readonly skipped: readonly SkippedPayout[];
}

/**
 * Pays a person's available balance out to their bank, one payout per currency, when their
 * account is on the manual schedule at the provider (`payouts_not_manual` otherwise: the
 * provider pays it out by itself). The account's own schedule decides, not the setting: an
 * account keeps the schedule it was created with, so one created manual before the setting
 * moved off manual is still paid here; the setting decides only when the provider does not say. What
 * reversals of the person's transfers still need (`reversalReserve`: a refund after the
 * release, a lost dispute) stays in the balance, skipped as `reserved_for_reversals`: a
 * reversal is taken from that balance, and a payout first would leave it failing. The
 * idempotency key names the account, the currency and the trigger's day with a number (or
 * an admin's request key), and the request names the run (`runId`): a retried call of the
 * run is answered with its own payout, while the day's key used by an earlier run is
 * refused by the provider as reused (never answered with that run's payout, which this run
 * did not make); the balance is then read again and what arrived since is paid under the
 * day's next key (at most `PAYOUT_KEYS_PER_DAY`; past it, skipped quietly as reused). A
 * payout only ever draws on the available balance, so nothing is paid twice. A payout the
 * provider refuses as more than the balance (`balance_insufficient`: an admin's payout and
 * the day's run at once, both having read the same balance) reads the balance again:
 * nothing left ends the currency quietly (the money was paid, once); what is left is paid
 * under the next key (the day's next number, or the request's next attempt, so a retry asks
 * under the same keys), skipped quietly past `PAYOUT_KEYS_PER_DAY`; a balance that did not
 * move makes it a refusal like any other. A currency Stripe pays out in whole units only
 * (HUF: `payoutStepMinor`) is paid rounded down to one; the fraction stays. A currency whose
 * bank account the provider shows `errored` (a payout to it failed) is not asked for at all:
 * skipped as `bank_account_errored`, quietly (the failed payout told the person and opened
 * the ticket), its balance kept until the person updates their bank details. A currency the provider refuses for good (a restricted account, no
 * bank account) is skipped with its code, the person told and the admins given a ticket,
 * once per account, currency and day; a provider failure that may pass fails the run, for
 * the caller to retry. While an operator has paused payouts (the platform's, or the person's:
 * `pausePayouts`) nothing is asked of the provider: refused `payouts_paused`, with the reason.
 */
export function payOutPerson(
  deps: UseCaseDeps,
  gateway: PaymentGateway,
  personId: PersonId,
  trigger: PayoutTrigger,
): ResultAsync<PayoutRun, UseCaseError | GatewayError> {
  return notPaused(deps, personId).andThen(() => payOutPersonNow(deps, gateway, personId, trigger));
}

/** Refused `payouts_paused` while a pause holds back `personId`'s payouts (the platform's first). */
function notPaused(deps: UseCaseDeps, personId: PersonId): ResultAsync<void, UseCaseError> {
  return deps.payouts.listPayoutPauses().andThen((pauses) => {
    const pause = payoutPauseOf(pauses, personId);
    return pause === undefined
      ? okAsync<void, UseCaseError>(undefined)
      : errAsync<void, UseCaseError>(personError("payouts_paused", pausedMessage(pause, personId)));
  });
}

/** Why a pause holds back a person's payouts, in words. */
function pausedMessage(pause: PayoutPause, personId: PersonId): string {
  const whose =
    pause.scope.kind === "platform" ? "the platform's payouts are" : `person ${personId}'s payouts are`;
  return `${whose} paused by ${pause.pausedBy} since ${new Date(pause.pausedAt).toISOString()}: ${pause.reason}`;
}

function payOutPersonNow(
  deps: UseCaseDeps,
  gateway: PaymentGateway,
  personId: PersonId,
  trigger: PayoutTrigger,
): ResultAsync<PayoutRun, UseCaseError | GatewayError> {
  return loadPerson(deps, personId).andThen((person) => {
    if (person.payout === undefined)
      return errAsync(personError("no_payout_account", `person ${personId} has no payout account`));
    if (!person.payout.payoutsEnabled)
      return errAsync(
        personError("payouts_not_enabled", `person ${personId}'s payout account cannot pay out yet`),
      );
    const accountId = person.payout.connectedAccountId;
    const gone = (e: GatewayError): UseCaseError | GatewayError =>
      e.type === "gateway_definite" && isGoneCode(e.code)
        ? personError(
            "payout_account_gone",
            `person ${personId}'s payout account ${accountId} is gone (${e.code})`,
          )
        : e;
    // Where each currency's payouts go, as the provider shows it now: a bank account a payout
    // failed into is `errored`, and nothing is paid to it until the person updates it.
    // Its payout schedule too: an account the provider pays out by itself is not paid here.
    return gateway
      .getConnectedAccount(accountId)
      .mapErr(gone)
      .andThen((account) => {
        const interval = accountPayoutInterval(deps, account);
        return interval === "manual"
          ? okAsync<ConnectedAccountStatus, UseCaseError | GatewayError>(account)
          : errAsync<ConnectedAccountStatus, UseCaseError | GatewayError>(
              personError(
                "payouts_not_manual",
                `person ${personId}'s payout account ${accountId} pays out on the provider's ${interval} schedule; susu does not pay it out by hand`,
              ),
            );
      })
      .andThen((account) => {
        const balanceNow = gateway.getAccountBalance(accountId).mapErr(gone);
        const reserveNow = deps.heldPayments
          .listHeldPaymentsReversingSeller(personId)
          .andThen((held) =>
            deps.marketplaceCharges
              .listMarketplaceChargesReversingSeller(personId)
              .map((charges) => reversalReserve(personId, held, charges)),
          );
        return reserveNow.andThen((reserve) =>
          balanceNow.andThen((balance) => {
            const due = balance.available.filter((m) => m.amountMinor > 0);
            const day = utcDay(trigger.kind === "scheduled" ? trigger.at : deps.clock.now());
            const runId =
              trigger.kind === "scheduled" ? (trigger.runId ?? deps.ids.newId("payoutrun")) : undefined;
            const run: PayoutRunSoFar = { personId, connectedAccountId: accountId, payouts: [], skipped: [] };
            const refusals: PayoutRefusal[] = [];
            const context: PersonPayoutContext = {
              deps,
              gateway,
              personId,
              accountId,
              account,
              reserve,
              trigger,
              day,
              runId,
              refusals,
            };
            // One currency after another: a run is small (a person's currencies) and stays in order.
            return due
              .reduce<ResultAsync<PayoutRunSoFar, UseCaseError | GatewayError>>(
                (acc, available) => acc.andThen((soFar) => payOutCurrency(context, soFar, available)),
                okAsync(run),
              )
              .andThen((r) =>
                refusals.length === 0
                  ? okAsync<PayoutRun, UseCaseError | GatewayError>(r)
                  : deps.uow
                      .commit({
                        people: [],
                        groups: [],
                        rounds: [],
                        outbox: refusals.flatMap(({ amount, error }) =>
                          refusalEffects(personId, accountId, amount, error, day),
                        ),
                        audit: refusals.map(({ amount, error }) => ({
                          at: deps.clock.now(),
                          aggregate: "payout",
                          aggregateId: payoutIds.refusedTicket(accountId, amount.currency, day),
                          action: "payout_refused",
                          outcome: "applied" as const,
                          detail: `payout of ${formatMoney(amount)} from ${accountId} refused: ${error.code}: ${error.message}`,
                          actor: trigger.kind === "scheduled" ? "payout_run" : trigger.by,
                        })),
                      })
                      .map((): PayoutRun => r),
              );
          }),
        );
      });
  });
}

/** A person's payout run as it goes, currency by currency. */
interface PayoutRunSoFar {
  readonly personId: PersonId;
  readonly connectedAccountId: string;
  readonly payouts: PayoutCreated[];
  readonly skipped: SkippedPayout[];
}

/** A payout the provider refused for good: the person is told and the admins ticketed once the run ends. */
interface PayoutRefusal {
  readonly amount: Money;
  readonly error: GatewayError;
}

/** What the currencies of one person's payout run share. */
interface PersonPayoutContext {
  readonly deps: UseCaseDeps;
  readonly gateway: PaymentGateway;
  readonly personId: PersonId;
  readonly accountId: string;
  readonly account: ConnectedAccountStatus;
  /** Per currency, what reversals of the person's transfers still need (`reversalReserve`). */
  readonly reserve: ReturnType<typeof reversalReserve>;
  readonly trigger: PayoutTrigger;
  /** The UTC day the payouts' keys name. */
  readonly day: string;
  /** The scheduled run's id (part of each request); undefined for an admin's request. */
  readonly runId: string | undefined;
  /** Refusals gathered for the end of the run (`refusalEffects`). */
  readonly refusals: PayoutRefusal[];
}

/**
 * Pays out one currency of a person's available balance (a step of `payOutPerson`, whose
 * TSDoc says what it does): skipped as `bank_account_errored` when the currency's bank
 * account is errored at the provider; what reversals still need stays; the rest, in the
 * currency's payout steps, is asked for under the trigger's key, numbered on from 1 when the
 * key was used by an earlier run or the provider finds the balance short.
 */
function payOutCurrency(
  context: PersonPayoutContext,
  soFar: PayoutRunSoFar,
  available: Money,
): ResultAsync<PayoutRunSoFar, UseCaseError | GatewayError> {
  const { deps, gateway, personId, accountId, account, reserve, trigger, day, runId, refusals } = context;
  const actor = trigger.kind === "scheduled" ? "payout_run" : trigger.by;
  const currency = available.currency;
  const destination = account.payoutDestinations?.find((d) => d.currency === currency);
  if (destination?.status === "errored") {
    // Not asked for, not a refusal: the payout that failed told the person
    // (payout_failed) and opened the ticket; the balance waits for new details.
    soFar.skipped.push({
      amount: available,
      code: BANK_ACCOUNT_ERRORED,
      message: `a payout to ${destination.destinationId} failed; the provider pays nothing to it until the person updates their bank details`,
    });
    return okAsync<PayoutRunSoFar, UseCaseError | GatewayError>(soFar);
  }
  const reservedMinor = Math.min(reserve.get(currency) ?? 0, available.amountMinor);
  if (reservedMinor > 0)
    soFar.skipped.push({
      amount: money(reservedMinor, currency),
      code: "reserved_for_reversals",
      message: `${formatMoney(money(reservedMinor, currency))} stays for reversals of the person's transfers still to happen`,
    });
  // Stripe takes some currencies' payouts in whole units only (HUF): the
  // fraction stays in the balance, and is paid once it makes a whole unit.
  const step = currencyInfo(currency).payoutStepMinor;
  const payableOf = (availableMinor: number): Money => {
    const payableMinor = availableMinor - Math.min(reserve.get(currency) ?? 0, availableMinor);
    return money(payableMinor - (payableMinor % step), currency);
  };
  const availableNow = (now: AccountBalance): number =>
    now.available.find((m) => m.currency === currency)?.amountMinor ?? 0;
  /** Skipped for good: a refusal (the person told, the admins ticketed) unless `quiet`. */
  const skip = (amount: Money, e: GatewayError, quiet: boolean) => {
    soFar.skipped.push({ amount, code: e.code, message: e.message });
    if (!quiet && e.type === "gateway_definite") refusals.push({ amount, error: e });
    return okAsync<PayoutRunSoFar, UseCaseError | GatewayError>(soFar);
  };
  const pay = (amount: Money, sequence: number): ResultAsync<PayoutRunSoFar, UseCaseError | GatewayError> => {
    const now = deps.clock.now();
    // Recorded before the provider is asked: whatever is lost after (the answer, every event
    // of the payout, this process), the recheck looks the payout up by this key.
    const request: PayoutRequest = {
      key:
        trigger.kind === "scheduled"
          ? payoutIds.scheduled(accountId, currency, day, sequence)
          : payoutIds.requested(accountId, currency, trigger.requestKey, sequence),
      accountId,
      personId,
      amountMinor: amount.amountMinor,
      currency,
      ...(runId !== undefined ? { runId } : {}),
      status: "asked",
      askedAt: now,
      updatedAt: now,
    };
    return commitPayoutRequest(
      deps,
      request,
      "payout_asked",
      `payout of ${formatMoney(amount)} asked under ${request.key}`,
      actor,
    )
      .andThen(() =>
        gateway.createPayout({
          idempotencyKey: request.key,
          accountId,
          amount,
          description:
            trigger.kind === "scheduled" ? `susu payout ${day}` : `susu payout requested by ${trigger.by}`,
          references: { personId },
          ...(runId !== undefined ? { runId } : {}),
        }),
      )
      .andThen((created) =>
        recordPayoutOf(deps, personId, reportedOf(accountId, created), actor, request).map(() => {
          soFar.payouts.push(created);
          return soFar;
        }),
      )
      .orElse((e) =>
        // A refusal by the provider: nothing was paid under the key. Anything else (no
        // answer, a key another run used, storage) leaves the request as it is.
        e.type === "gateway_definite"
          ? commitPayoutRequest(
              deps,
              { ...request, status: "refused", updatedAt: deps.clock.now() },
              "payout_request_refused",
              `payout under ${request.key} refused: ${e.code}`,
              actor,
            ).andThen(() => errAsync<PayoutRunSoFar, UseCaseError | GatewayError>(e))
          : errAsync<PayoutRunSoFar, UseCaseError | GatewayError>(e),
      )
      .orElse((e) => {
        // The day's key was used by an earlier run (its payout, or its refusal):
        // what is available now arrived since, paid under the day's next key.
        if (
          e.code === "idempotency_key_reused" &&
          trigger.kind === "scheduled" &&
          sequence < PAYOUT_KEYS_PER_DAY
        )
          return gateway.getAccountBalance(accountId).andThen((now) => {
            const next = payableOf(availableNow(now));
            return next.amountMinor === 0
              ? okAsync<PayoutRunSoFar, UseCaseError | GatewayError>(soFar)
              : pay(next, sequence + 1);
          });
        // More than the balance holds: a payout made meanwhile (an admin's and
        // the day's run at once) took it, or part of it. Read again: nothing
        // left is the end (it was paid, once); what is left is paid under the
        // next key. Only a balance that did not move makes it a refusal.
        if (e.type === "gateway_definite" && e.code === BALANCE_INSUFFICIENT)
          return gateway.getAccountBalance(accountId).andThen((now) => {
            const left = payableOf(availableNow(now));
            if (left.amountMinor === 0) return okAsync<PayoutRunSoFar, UseCaseError | GatewayError>(soFar);
            if (left.amountMinor === amount.amountMinor) return skip(amount, e, false);
            return sequence < PAYOUT_KEYS_PER_DAY ? pay(left, sequence + 1) : skip(left, e, true);
          });
        if (!isSkippable(e)) return errAsync<PayoutRunSoFar, UseCaseError | GatewayError>(e);
        return skip(amount, e, false);
      });
  };
  const amount = payableOf(available.amountMinor);
  if (amount.amountMinor === 0) return okAsync(soFar);
  return pay(amount, 1);
}

/**
 * The notice and the ticket a payout the provider refused owes: the person is told their
 * balance stays (and where to fix their payout details), the admins get a ticket. Their
 * ids name the account, the currency and the day, so the day's reruns add nothing.
 */
function refusalEffects(
  personId: PersonId,
  accountId: string,
  amount: Money,
  error: GatewayError,
  day: string,
): PayoutEffect[] {
  const aggregateId = payoutIds.refusedTicket(accountId, amount.currency, day);
  return [
    {
      kind: "notify",
      id: payoutIds.refusedNotice(accountId, amount.currency, day),
      aggregate: PAYOUT_AGGREGATE,
      aggregateId,
      to: { kind: "people", personIds: [personId] },
      template: "payout_refused",
      data: {
        amountMinor: amount.amountMinor,
        currency: amount.currency,
        failureCode: error.code,
        failureMessage: error.message,
        onboardingPath: `/v1/people/${encodeURIComponent(personId)}/payout-onboarding`,
      },
    },
    {
      kind: "open_ticket",
      id: aggregateId,
      aggregate: PAYOUT_AGGREGATE,
      aggregateId,
      reason: "payout_refused",
      summary: `the payout of ${formatMoney(amount)} from account ${accountId} (person ${personId}) on ${day} was refused by the provider: ${error.code}: ${error.message}. The balance stays in the account; the person was told to check their payout details.`,
    },
  ];
}

/**
 * Why a currency was skipped when its bank account is `errored` at the provider (a payout to
 * it failed): the balance stays, paid by the first run after the person updates the account.
 */
const BANK_ACCOUNT_ERRORED = "bank_account_errored";

/**
 * The provider's refusal of a payout above the account's available balance (Stripe's
 * `balance_insufficient`): news of another payout that took the balance first, unless the
 * balance read again is what was asked for.
 */
const BALANCE_INSUFFICIENT = "balance_insufficient";

/**
 * A refusal that trying again with the same key cannot change: the provider refused the
 * payout for good, or the key was used for another request (an admin's request key reused,
 * or the day's last key, `PAYOUT_KEYS_PER_DAY`, spent: what arrived since waits for the next
 * day).
 */
function isSkippable(e: UseCaseError | GatewayError): e is GatewayError {
  return e.type === "gateway_definite" || e.code === "idempotency_key_reused";
}

/** Held payments whose seller's share susu still holds: paid, not yet transferred. */
const AWAITING_RELEASE = new Set(["held", "releasing", "release_blocked"]);

/** A person's money as a seller: at the provider, and what susu still holds for them. */
export interface PersonBalance {
  readonly personId: PersonId;
  /** Undefined when the person has no payout account yet. */
  readonly connectedAccountId: string | undefined;
  /** The connected account's balance at the provider; empty without an account (or when it is gone). */
  readonly provider: AccountBalance;
  /** The provider no longer shows the account (deleted, disconnected): the person must onboard again. */
  readonly accountGone: boolean;
  /** Per currency: the seller's net share of held payments awaiting release (susu's own records). */
  readonly heldForSeller: readonly Money[];
}

/**
 * A person's balance: their connected account's available and pending balance at the
 * provider, and the seller's share of their held payments not yet released, per currency.
 */
export function personBalance(
  deps: UseCaseDeps,
  gateway: PaymentGateway,
  personId: PersonId,
): ResultAsync<PersonBalance, UseCaseError | GatewayError> {
  return loadPerson(deps, personId).andThen((person) => {
    const accountId = person.payout?.connectedAccountId;
    type Provider = { readonly balance: AccountBalance; readonly gone: boolean };
    const none: Provider = { balance: { available: [], pending: [] }, gone: false };
    const provider: ResultAsync<Provider, UseCaseError | GatewayError> =
      accountId === undefined
        ? okAsync(none)
        : gateway
            .getAccountBalance(accountId)
            .map((balance): Provider => ({ balance, gone: false }))
            // An account the provider will not show any more has no balance to show: news for
            // the person (onboard again), not a failure of this read.
            .orElse((e) =>
              e.type === "gateway_definite" && isGoneCode(e.code)
                ? okAsync<Provider, UseCaseError | GatewayError>({ ...none, gone: true })
                : errAsync<Provider, UseCaseError | GatewayError>(e),
            );
    return provider.andThen(({ balance, gone }) =>
      deps.heldPayments.listOpenHeldPaymentsOfSeller(personId).map((payments) => {
        const held = new Map<Money["currency"], number>();
        for (const p of payments) {
          if (!AWAITING_RELEASE.has(p.status)) continue;
          held.set(p.currency, (held.get(p.currency) ?? 0) + sellerNetMinor(p));
        }
        return {
          personId,
          connectedAccountId: accountId,
          provider: balance,
          accountGone: gone,
          heldForSeller: [...held.entries()]
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
            .map(([currency, amountMinor]) => money(amountMinor, currency)),
        };
      }),
    );
  });
}

/** What one payout run over every payable person did. */
export interface PayoutRunReport {
  /** The recheck of payouts in flight or recently paid the run began with ({@link recheckPayouts}). */
  readonly rechecked: PayoutRecheckReport;
  /** People whose balance was looked at (their account on the manual schedule at the provider). */
  readonly people: number;
  /**
   * People whose account the provider pays out by itself (its schedule at the provider is not
   * manual, `payouts_not_manual`): not paid by the run, and not a failure.
   */
  readonly automatic: readonly { readonly personId: PersonId; readonly message: string }[];
  readonly payouts: readonly PayoutCreated[];
  readonly skipped: readonly (SkippedPayout & { readonly personId: PersonId })[];
  /**
   * The platform's pause, when an operator paused every payout (`pausePayouts`): paused before
   * the run, it rechecked the payouts in flight and paid no one (`people` 0); paused while it
   * was under way, it asked for no payout from then on (`people` counts those before). Absent:
   * not paused.
   */
  readonly platformPause?: PayoutPause;
  /**
   * People whose own payouts an operator paused, before the run or while it was under way: not
   * paid, not failed; each with the pause's reason.
   */
  readonly paused: readonly {
    readonly personId: PersonId;
    readonly reason: string;
    readonly pausedBy: string;
  }[];
  /** People the run could not pay now (the provider or storage failed): the next run tries again. */
  readonly failed: readonly {
    readonly personId: PersonId;
    readonly code: string;
    readonly message: string;
  }[];
}

/** People read per page of a payout run. */
const PAYOUT_RUN_PAGE = 200;

/**
 * The scheduled payout run: every person whose account can pay out and is on the manual
 * schedule at the provider (whatever the setting says now: an account keeps the schedule it
 * was created with) is paid their available balance per currency, keyed by `at`'s UTC day and numbered within it,
 * the run named by a new id (`payOutPerson`): the run repeated on one day pays nothing twice,
 * pays what arrived since under the day's next key, and reports only the payouts it made.
 * One person's failure does not stop the others; it is reported, and the next run (or a
 * rerun) tries again. A person whose account the provider pays out by itself is reported in
 * `automatic`, neither paid nor failed. Every run, whatever the schedule, first rechecks the payouts in flight
 * or recently paid ({@link recheckPayouts}), so a failure whose webhook was lost is applied
 * before anyone is paid. While an operator has paused the platform's payouts the run, after that
 * recheck, pays no one and reports the pause (`platformPause`); a person whose own payouts are
 * paused is reported in `paused` with the reason, not asked for. The pauses are read again
 * before each person, so a pause committed while the run is under way holds back whom it
 * names from then on, reported the same way (the platform's ends the run), never in `failed`.
 * Resumed, the next run pays what is due then.
 */
export function payOutEveryone(
  deps: UseCaseDeps,
  gateway: PaymentGateway,
  at: Instant,
): ResultAsync<PayoutRunReport, UseCaseError> {
  return recheckPayouts(deps, gateway, at).andThen((rechecked) =>
    payOutEveryoneAfterRecheck(deps, gateway, at, rechecked),
  );
}

function payOutEveryoneAfterRecheck(
  deps: UseCaseDeps,
  gateway: PaymentGateway,
  at: Instant,
  rechecked: PayoutRecheckReport,
): ResultAsync<PayoutRunReport, UseCaseError> {
  const report: {
    rechecked: PayoutRecheckReport;
    people: number;
    automatic: PayoutRunReport["automatic"][number][];
    payouts: PayoutCreated[];
    skipped: PayoutRunReport["skipped"][number][];
    platformPause?: PayoutPause;
    paused: PayoutRunReport["paused"][number][];
    failed: PayoutRunReport["failed"][number][];
  } = { rechecked, people: 0, automatic: [], payouts: [], skipped: [], paused: [], failed: [] };
  const runId = deps.ids.newId("payoutrun");
  /** Adds one person's run (or its failure) to the report. */
  const tally = (personId: PersonId, outcome: PayoutRun | UseCaseError | GatewayError) => {
    if (!("payouts" in outcome) && outcome.code === "payouts_not_manual") {
      report.automatic.push({ personId, message: outcome.message });
      return report;
    }
    report.people += 1;
    if ("payouts" in outcome) {
      report.payouts.push(...outcome.payouts);
      report.skipped.push(...outcome.skipped.map((s) => ({ ...s, personId })));
    } else report.failed.push({ personId, code: outcome.code, message: outcome.message });
    return report;
  };
  /**
   * One person: the pauses are read again just before them, so a pause committed while the
   * run is under way holds them back as one placed before it would, reported as paused (the
   * platform's stops the run), never as a failure; not paused, they are paid.
   */
  const one = (personId: PersonId): ResultAsync<PayoutRunReport, UseCaseError> =>
    deps.payouts.listPayoutPauses().andThen((pauses) => {
      const pause = payoutPauseOf(pauses, personId);
      if (pause?.scope.kind === "platform") report.platformPause = pause;
      else if (pause !== undefined)
        report.paused.push({ personId, reason: pause.reason, pausedBy: pause.pausedBy });
      if (pause !== undefined) return okAsync<PayoutRunReport, UseCaseError>(report);
      return payOutPersonNow(deps, gateway, personId, { kind: "scheduled", at, runId })
        .map((run) => tally(personId, run))
        .orElse((e) => okAsync<PayoutRunReport, UseCaseError>(tally(personId, e)));
    });
  const page = (after: PersonId | undefined): ResultAsync<PayoutRunReport, UseCaseError> =>
    deps.payouts
      .listPayoutAccounts({
        limit: PAYOUT_RUN_PAGE,
        ...(after !== undefined ? { startingAfter: after } : {}),
      })
      .andThen((accounts) =>
        accounts
          .reduce<ResultAsync<PayoutRunReport, UseCaseError>>(
            (chain, account) =>
              chain.andThen(() =>
                // The platform paused while the run was under way: no one after is asked for.
                report.platformPause !== undefined
                  ? okAsync<PayoutRunReport, UseCaseError>(report)
                  : one(account.personId),
              ),
            okAsync(report),
          )
          .andThen(() => {
            const last = accounts.at(-1);
            return accounts.length < PAYOUT_RUN_PAGE ||
              last === undefined ||
              report.platformPause !== undefined
              ? okAsync<PayoutRunReport, UseCaseError>(report)
              : page(last.personId);
          }),
      );
  return deps.payouts.listPayoutPauses().andThen((pauses) => {
    const platformPause = pauses.find((p) => p.scope.kind === "platform");
    if (platformPause !== undefined) {
      report.platformPause = platformPause;
      return okAsync<PayoutRunReport, UseCaseError>(report);
    }
    return page(undefined);
  });
}
