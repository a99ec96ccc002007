import { okAsync, type ResultAsync } from "neverthrow";
import { type PayoutPause, type PayoutPauseScope, payoutPauseKey } from "../payout/payout-pause.js";
import type { UseCaseDeps, UseCaseError } from "./deps.js";
import { loadPerson } from "./load-people.js";

/** Who or what a pause holds back, as its audit line says. */
function scopeText(scope: PayoutPauseScope): string {
  return scope.kind === "platform" ? "the whole platform" : `person ${scope.personId}`;
}

/** The pause of `scope` in force, if any. */
function pauseOfScope(
  deps: UseCaseDeps,
  scope: PayoutPauseScope,
): ResultAsync<PayoutPause | undefined, UseCaseError> {
  const key = payoutPauseKey(scope);
  return deps.payouts.listPayoutPauses().map((pauses) => pauses.find((p) => payoutPauseKey(p.scope) === key));
}

/** The person a person's scope names must exist (`person_not_found`); the platform always does. */
function scopeExists(deps: UseCaseDeps, scope: PayoutPauseScope): ResultAsync<void, UseCaseError> {
  return scope.kind === "platform"
    ? okAsync(undefined)
    : loadPerson(deps, scope.personId).map(() => undefined);
}

/**
 * Pauses payouts: the platform's (every seller's), or one person's. From its commit on, no
 * payout is asked for them: the payout run skips them with the pause's reason (and pays no one
 * at all while the platform is paused), and an admin's "pay out now" is refused
 * `payouts_paused`. A payout already asked for goes on, and a connected account the provider
 * pays out by itself is not susu's to pause. Pausing what is paused again replaces the reason
 * (and who and when). One audit line (`payouts_paused`, aggregate `payout`, id the scope's key).
 */
export function pausePayouts(
  deps: UseCaseDeps,
  command: { readonly scope: PayoutPauseScope; readonly reason: string; readonly by: string },
): ResultAsync<PayoutPause, UseCaseError> {
  const { scope, reason, by } = command;
  return scopeExists(deps, scope).andThen(() => {
    const now = deps.clock.now();
    const pause: PayoutPause = { scope, reason, pausedBy: by, pausedAt: now };
    return deps.uow
      .commit({
        people: [],
        groups: [],
        rounds: [],
        payoutPauses: [{ scope, pause }],
        outbox: [],
        audit: [
          {
            at: now,
            aggregate: "payout",
            aggregateId: payoutPauseKey(scope),
            action: "payouts_paused",
            outcome: "applied",
            detail: `payouts of ${scopeText(scope)} paused: ${reason}`,
            actor: by,
          },
        ],
      })
      .map(() => pause);
  });
}

/**
 * Resumes payouts paused by {@link pausePayouts}: the next payout run (or an admin's "pay out
 * now") pays what is due, as it would have. Resuming what is not paused changes nothing and
 * audits nothing (`resumed: false`). A person's own pause is theirs: resuming the platform
 * leaves it, and resuming the person leaves the platform's.
 */
export function resumePayouts(
  deps: UseCaseDeps,
  command: { readonly scope: PayoutPauseScope; readonly by: string },
): ResultAsync<{ readonly resumed: boolean }, UseCaseError> {
  const { scope, by } = command;
  return scopeExists(deps, scope)
    .andThen(() => pauseOfScope(deps, scope))
    .andThen((pause) => {
      if (pause === undefined) return okAsync({ resumed: false });
      const now = deps.clock.now();
      return deps.uow
        .commit({
          people: [],
          groups: [],
          rounds: [],
          payoutPauses: [{ scope }],
          outbox: [],
          audit: [
            {
              at: now,
              aggregate: "payout",
              aggregateId: payoutPauseKey(scope),
              action: "payouts_resumed",
              outcome: "applied",
              detail: `payouts of ${scopeText(scope)} resumed (paused by ${pause.pausedBy}: ${pause.reason})`,
              actor: by,
            },
          ],
        })
        .map(() => ({ resumed: true }));
    });
}

/** The pauses in force: the platform's first, then people's by id. */
export function listPayoutPauses(deps: UseCaseDeps): ResultAsync<readonly PayoutPause[], UseCaseError> {
  const order = (p: PayoutPause) => (p.scope.kind === "platform" ? "" : payoutPauseKey(p.scope));
  return deps.payouts
    .listPayoutPauses()
    .map((pauses) => [...pauses].sort((a, b) => (order(a) < order(b) ? -1 : 1)));
}
