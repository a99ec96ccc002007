// Writes one Changeset inside a database transaction the caller opened (runTransaction:
// prepared statements on the pool, or the same SQL through Prisma). Every step either
// succeeds or throws, and a throw rolls the whole transaction back: a stale version, a
// refused row or a lost connection leaves nothing of the changeset stored. Plain SQL, not
// Prisma's query builder: a commit is the API's hottest write, and each Prisma query costs
// several times the statement's own work in its query pipeline.
import {
  type AuditEntry,
  type Changeset,
  type Group,
  type HeldPayment,
  type Instant,
  type LedgerTransaction,
  type MarketplaceCharge,
  type OutboxCompletion,
  type OutboxEffect,
  type Person,
  type Round,
  type StorageError,
  storageError,
  type VersionedChange,
  validateLedgerTransaction,
} from "@susu/domain";
import type { NamedStatement, StatementRunner } from "../db/prisma-client.js";
import type { PlannedNotice, QueuedRows } from "../notify/delivering-notifier.js";
import { toDate } from "./conversions.js";
import { type LedgerPostRows, ledgerPostParts, ledgerPostRows } from "./ledger-post.js";
import { writePlan, writeSubscription } from "./membership-rows.js";
import { writePaymentMethods } from "./payment-method-rows.js";
import { writePayoutPauses, writePayoutRequests, writePayouts } from "./payout-rows.js";
import {
  auditRow,
  groupColumns,
  heldPaymentColumns,
  marketplaceChargeColumns,
  marketplaceSellerRows,
  memberRows,
  outboxAggregateOf,
  personColumns,
  roundChildRows,
  roundColumns,
} from "./projections.js";
import {
  parseGroupSnapshot,
  parseHeldPaymentSnapshot,
  parseMarketplaceChargeSnapshot,
  parsePerson,
  parseRoundSnapshot,
} from "./snapshots.js";
import { StorageRefusal } from "./storage-errors.js";
import { iso, isUniqueViolationOf, storedVersion, writeVersionedRow } from "./versioned-row.js";

type Tx = StatementRunner;

/**
 * Marks an effect done if `$2` holds its claim ($1 the effect, $3 when), returning its id when
 * it did (no row: the claim was lost): `PrismaStore.complete`'s statement, and a changeset's
 * `outboxDone`.
 */
export const OUTBOX_COMPLETE_SQL = `UPDATE outbox_effects SET status = 'done', claimed_by = NULL, claimed_until = NULL, completed_at = $3
                WHERE id = $1 AND claimed_by = $2 AND status = 'pending'
                RETURNING id`;

export { iso, isUniqueViolationOf, storedVersion, writeVersionedRow } from "./versioned-row.js";

// The check the loader runs, run before the save too: in pairs, so a malformed state
// (a NaN amount, a fractional instant) is refused at the door instead of being found
// by the next reader.
function assertStorable(kind: "person", state: Person): void;
function assertStorable(kind: "group", state: Group): void;
function assertStorable(kind: "round", state: Round): void;
function assertStorable(kind: "held payment", state: HeldPayment): void;
function assertStorable(kind: "marketplace charge", state: MarketplaceCharge): void;
function assertStorable(
  kind: "person" | "group" | "round" | "held payment" | "marketplace charge",
  state: Person | Group | Round | HeldPayment | MarketplaceCharge,
): void {
  const checked =
    kind === "person"
      ? parsePerson(state)
      : kind === "group"
        ? parseGroupSnapshot(state)
        : kind === "round"
          ? parseRoundSnapshot(state)
          : kind === "held payment"
            ? parseHeldPaymentSnapshot(state)
            : parseMarketplaceChargeSnapshot(state);
  if (checked.isErr())
    throw new StorageRefusal(storageError.refused(`commit refused ${kind} ${state.id}: ${checked.error}`));
}

// Row-set inserts, `rows` a JSON array of the rows: the transaction's statements and the
// single-statement commits (below) are built from the same fragments.
const PEOPLE_INSERT_ROWS_SQL = (rows: string) => `
  INSERT INTO people (id, display_name, stripe_customer_id, becs_payment_method_id, mandate_id, mandate_active,
                      connected_account_id, payouts_enabled, version, customer_requested_at, created_at, updated_at)
  SELECT r.id, r.display_name, r.stripe_customer_id, r.becs_payment_method_id, r.mandate_id, r.mandate_active,
         r.connected_account_id, r.payouts_enabled, r.version, r.customer_requested_at, r.created_at, r.updated_at
    FROM jsonb_to_recordset(${rows}::jsonb) AS r(
           id text, display_name text, stripe_customer_id text, becs_payment_method_id text, mandate_id text,
           mandate_active boolean, connected_account_id text, payouts_enabled boolean, version integer,
           customer_requested_at timestamptz, created_at timestamptz, updated_at timestamptz)`;
const MEMBERS_INSERT_ROWS_SQL = (groupId: string, rows: string) => `
  INSERT INTO members (group_id, id, display_name, role, status, rotation_position, joined_at)
  SELECT ${groupId}, r.id, r.display_name, r.role, r.status, r.rotation_position, r.joined_at
    FROM jsonb_to_recordset(${rows}::jsonb) AS r(
           id text, display_name text, role member_role, status member_status, rotation_position integer,
           joined_at timestamptz)`;
// With `posted` (the part that posted ledger transactions: ledgerPostParts' `lt`), a row whose
// `ledger` names a transaction that part posted is stored done, completed at `createdAt`. With
// `notices` (the statement has NOTICE_PARTS_SQL's parts, which queue the notices planned for it),
// a row marked `noticed` that NOTICE_FREE lets through is stored done too.
const OUTBOX_INSERT_ROWS_SQL = (
  rows: string,
  availableAt: string,
  createdAt: string,
  posted?: string,
  notices?: { readonly doneId: string },
) => {
  const isPosted = posted === undefined ? "false" : `r.ledger IN (SELECT id FROM ${posted})`;
  const isDone =
    notices === undefined
      ? isPosted
      : `(${isPosted} OR (r.noticed IS TRUE AND ${NOTICE_FREE(notices.doneId)}))`;
  return `
  INSERT INTO outbox_effects (id, aggregate_type, aggregate_id, kind, payload, available_at, created_at, status,
                              completed_at)
  SELECT r.id, r.aggregate_type, r.aggregate_id, r.kind, r.payload, ${availableAt}::timestamptz, ${createdAt}::timestamptz,
         CASE WHEN ${isDone} THEN 'done'::outbox_status ELSE 'pending'::outbox_status END,
         CASE WHEN ${isDone} THEN ${createdAt}::timestamptz END
    FROM ROWS FROM (jsonb_to_recordset(${rows}::jsonb)
                      AS (id text, aggregate_type text, aggregate_id text, kind text, payload jsonb, ledger text,
                          noticed boolean))
         WITH ORDINALITY AS r(id, aggregate_type, aggregate_id, kind, payload, ledger, noticed, n)`;
};
// Whether the notice of outbox row `r` may be queued by the commit: only when its aggregate has
// no effect pending in the outbox (other than `doneId`, the effect whose result the commit
// records and completes), so that a notice never goes ahead of an earlier effect of its
// aggregate, which the dispatcher would have carried out first (one aggregate's effects in
// order). outboxPlan already marks only notices with no effect but notices and postings before
// them in their own changeset. Every part reading it sees the outbox as the statement began (the
// rows it inserts are not seen), so they agree. `OFFSET 0`: a look-up in the pending rows'
// index for each row, as NOT_IN_OUTBOX's.
const NOTICE_FREE = (doneId: string) => `NOT EXISTS (
           SELECT 1 FROM outbox_effects p
            WHERE p.status = 'pending' AND p.aggregate_type = r.aggregate_type AND p.aggregate_id = r.aggregate_id
              AND p.id IS DISTINCT FROM ${doneId}::text OFFSET 0)`;
// The notices planned for a commit (rows marked `noticed`; those that reach someone carry their
// notification and deliveries as `notice`, DeliveringNotifier's QueuedRows), queued by it: the
// same rows, written the same way (existing ids kept), as DeliveringNotifier's QUEUE_SQL writes
// when the dispatcher sends the notice. Parts `nn` and `nd` of a statement reading the outbox
// rows at `rows`, writing only where `gate` holds and NOTICE_FREE lets the notice through (the
// outbox part stores the same rows done). The deliveries' foreign key to their notification is
// checked at the statement's end, after both inserts.
const NOTICE_PARTS_SQL = (rows: string, gate: string, doneId: string) => `
  nn AS (INSERT INTO notifications (id, template, aggregate_type, aggregate_id, group_id, person_ids, roles, data,
                                    created_at)
         SELECT q.id, q.template, q.aggregate_type, q.aggregate_id, q.group_id,
                ARRAY(SELECT jsonb_array_elements_text(q.person_ids)), ARRAY(SELECT jsonb_array_elements_text(q.roles)),
                q.data, q.created_at
           FROM jsonb_to_recordset(${rows}::jsonb) AS r(aggregate_type text, aggregate_id text, notice jsonb),
                jsonb_to_record(r.notice -> 'notification')
                  AS q(id text, template text, aggregate_type text, aggregate_id text, group_id text, person_ids jsonb,
                       roles jsonb, data jsonb, created_at timestamptz)
          WHERE r.notice IS NOT NULL AND ${gate} AND ${NOTICE_FREE(doneId)}
         ON CONFLICT (id) DO NOTHING),
  nd AS (INSERT INTO notification_deliveries
           (id, notification_id, channel, recipient, person_id, endpoint_id, locale, time_zone,
            next_attempt_at, created_at, updated_at)
         SELECT d.id, r.notice -> 'notification' ->> 'id', d.channel::notification_channel, d.recipient, d.person_id,
                d.endpoint_id, d.locale, d.time_zone, c.at, c.at, c.at
           FROM jsonb_to_recordset(${rows}::jsonb) AS r(aggregate_type text, aggregate_id text, notice jsonb),
                LATERAL (SELECT (r.notice -> 'notification' ->> 'created_at')::timestamptz AS at) c,
                jsonb_to_recordset(r.notice -> 'deliveries')
                  AS d(id text, channel text, recipient text, person_id text, endpoint_id text, locale text, time_zone text)
          WHERE r.notice IS NOT NULL AND ${gate} AND ${NOTICE_FREE(doneId)}
         ON CONFLICT (id) DO NOTHING)`;
// With notices, the outbox part returns its rows, and the statement's row says which notices
// it stored done (queued): `noticed`, their ids as JSON (null when none).
const NOTICED_COLUMN =
  ", (SELECT json_agg(o.id) FROM o WHERE o.kind = 'notify' AND o.status = 'done') AS noticed";
const NOTICED_RETURNING = " RETURNING id, kind, status";
const AUDIT_INSERT_ROWS_SQL = (rows: string) => `
  INSERT INTO audit_log (occurred_at, aggregate_type, aggregate_id, action, outcome, detail, actor)
  SELECT r.occurred_at, r.aggregate_type, r.aggregate_id, r.action, r.outcome, r.detail, r.actor
    FROM ROWS FROM (jsonb_to_recordset(${rows}::jsonb)
                      AS (occurred_at timestamptz, aggregate_type text, aggregate_id text, action text,
                          outcome audit_outcome, detail text, actor text))
         WITH ORDINALITY AS r(occurred_at, aggregate_type, aggregate_id, action, outcome, detail, actor, n)`;

const PERSON_INSERT_SQL = `
  INSERT INTO people (id, display_name, stripe_customer_id, becs_payment_method_id, mandate_id, mandate_active,
                      connected_account_id, payouts_enabled, version, customer_requested_at, created_at, updated_at)
  VALUES ($1, $2, $3, $4, $5, $6::boolean, $7, $8::boolean, $9::int, $10::timestamptz, $11::timestamptz,
          $12::timestamptz)`;
const PERSON_UPDATE_SQL = `
  UPDATE people SET display_name = $2, stripe_customer_id = $3, becs_payment_method_id = $4, mandate_id = $5,
         mandate_active = $6::boolean, connected_account_id = $7, payouts_enabled = $8::boolean, version = $9::int,
         customer_requested_at = $10::timestamptz, updated_at = $11::timestamptz
   WHERE id = $1 AND version = $12::int
  RETURNING 1 AS updated`;

/** A person's row in `people`, keyed by column (the order of {@link PEOPLE_INSERT_ROWS_SQL}'s columns). */
function personRow(person: Person, version: number, at: Instant) {
  const c = personColumns(person, version, at);
  return {
    id: person.id,
    display_name: c.displayName,
    stripe_customer_id: c.stripeCustomerId,
    becs_payment_method_id: c.becsPaymentMethodId,
    mandate_id: c.mandateId,
    mandate_active: c.mandateActive,
    connected_account_id: c.connectedAccountId,
    payouts_enabled: c.payoutsEnabled,
    version: c.version,
    customer_requested_at: c.customerRequestedAt === null ? null : c.customerRequestedAt.toISOString(),
    created_at: toDate(person.createdAt).toISOString(),
    updated_at: iso(c.updatedAt),
  };
}

async function writePerson(tx: Tx, change: VersionedChange<Person>, at: Instant): Promise<void> {
  const person = change.state;
  assertStorable("person", person);
  // $1–$10 in the row's order, then the times: the insert's and the update's statements place them.
  const { created_at, updated_at, ...columns } = personRow(person, storedVersion(change), at);
  const values = Object.values(columns);
  // Two joins racing to make the same person: the second is told its version is stale.
  await writeVersionedRow(tx, {
    aggregate: "person",
    table: "people",
    id: person.id,
    expectedVersion: change.expectedVersion,
    insert: {
      name: "susu_person_insert",
      text: PERSON_INSERT_SQL,
      values: [...values, created_at, updated_at],
    },
    update: { name: "susu_person_update", text: PERSON_UPDATE_SQL, values: [...values, updated_at] },
  });
}

// time_zone is read from the snapshot ($15) in the statement itself: the projection cannot
// disagree with it, and no parameter after $17 moves.
const GROUP_COLUMNS = `name, currency, contribution_amount_minor, cadence, starts_at, payout_order_method,
  payout_order_seed, status, paused_reason, rotation_number, rotations_planned, current_round_id, next_round_at,
  snapshot, version, updated_at, time_zone`;
const GROUP_VALUES = `$2, $3, $4::bigint, $5::cadence, $6::timestamptz, $7::payout_order_method, $8,
  $9::group_status, $10, $11::int, $12::int, $13, $14::timestamptz, $15::jsonb, $16::int, $17::timestamptz,
  $15::jsonb ->> 'timeZone'`;
const GROUP_INSERT_SQL = `
  INSERT INTO groups (id, ${GROUP_COLUMNS}, created_at) VALUES ($1, ${GROUP_VALUES}, $17::timestamptz)`;
const GROUP_UPDATE_SQL = `
  UPDATE groups SET (${GROUP_COLUMNS}) = ROW(${GROUP_VALUES})
   WHERE id = $1 AND version = $18::int
  RETURNING 1 AS updated`;

/** A group's parameters $1–$17 of {@link GROUP_COLUMNS}, as its insert and its update (in a transaction or one statement) take them. */
function groupValues(group: Group, version: number, at: Instant) {
  const c = groupColumns(group, version, at);
  return [
    group.id,
    c.name,
    c.currency,
    String(c.contributionAmountMinor),
    c.cadence,
    iso(c.startsAt),
    c.payoutOrderMethod,
    c.payoutOrderSeed,
    c.status,
    c.pausedReason,
    c.rotationNumber,
    c.rotationsPlanned,
    c.currentRoundId,
    iso(c.nextRoundAt),
    c.snapshot,
    c.version,
    iso(c.updatedAt),
  ];
}

async function writeGroup(tx: Tx, change: VersionedChange<Group>, at: Instant): Promise<void> {
  const group = change.state;
  assertStorable("group", group);
  const values = groupValues(group, storedVersion(change), at);
  await writeVersionedRow(tx, {
    aggregate: "group",
    table: "groups",
    id: group.id,
    expectedVersion: change.expectedVersion,
    insert: { name: "susu_group_insert", text: GROUP_INSERT_SQL, values },
    update: { name: "susu_group_update", text: GROUP_UPDATE_SQL, values },
  });
  await writeMembers(tx, group, change.expectedVersion === undefined);
}

// A group's write rewrites its members' rows from the snapshot, touching only the rows that
// differ: most writes of a group (a round opened or ended, a pause) change no member, and
// rewriting all of them gave every row a new version and new entries in all three of its
// indexes (rotation_position is indexed, so no update of it is HOT), twice: ~750 buffers a
// round in bench/rounds.ts --statements. A row stored as it is is left out of the upsert
// before ON CONFLICT (whose DO UPDATE … WHERE would still lock it); the group's row, updated
// first in the same transaction, keeps other writers of the group out meanwhile.
// (group_id, rotation_position) is unique and PostgreSQL checks it row by row, so two
// members swapping places would collide halfway through the upsert: the positions that
// change are released first (those that stay cannot collide with a new one).
const MEMBERS_RELEASE_POSITIONS_SQL = `
  UPDATE members m SET rotation_position = NULL
    FROM jsonb_to_recordset($2::jsonb) AS r(id text, rotation_position integer)
   WHERE m.group_id = $1 AND m.id = r.id AND m.rotation_position IS NOT NULL
     AND m.rotation_position IS DISTINCT FROM r.rotation_position`;
const MEMBERS_DELETE_GONE_SQL = `
  DELETE FROM members
   WHERE group_id = $1
     AND id NOT IN (SELECT r.id FROM jsonb_to_recordset($2::jsonb) AS r(id text))`;
const MEMBERS_UPSERT_SQL = `${MEMBERS_INSERT_ROWS_SQL("$1", "$2")}
   WHERE NOT EXISTS (
     SELECT 1 FROM members s
      WHERE s.group_id = $1 AND s.id = r.id
        AND (s.display_name, s.role, s.status, s.rotation_position, s.joined_at)
            IS NOT DISTINCT FROM (r.display_name, r.role, r.status, r.rotation_position, r.joined_at))
  ON CONFLICT (group_id, id) DO UPDATE SET
    display_name = EXCLUDED.display_name,
    role = EXCLUDED.role,
    status = EXCLUDED.status,
    rotation_position = EXCLUDED.rotation_position,
    joined_at = EXCLUDED.joined_at`;

async function writeMembers(tx: Tx, group: Group, isNew: boolean): Promise<void> {
  const rows = JSON.stringify(memberRows(group));
  if (!isNew) {
    await tx({ name: "susu_members_release", text: MEMBERS_RELEASE_POSITIONS_SQL, values: [group.id, rows] });
    await tx({ name: "susu_members_delete_gone", text: MEMBERS_DELETE_GONE_SQL, values: [group.id, rows] });
  }
  // members.id references people: a member's person is written before the group (see
  // writeChangeset), so a member who is no person is refused by the foreign key.
  await tx({ name: "susu_members_upsert", text: MEMBERS_UPSERT_SQL, values: [group.id, rows] });
}

const ROUND_COLUMNS = `group_id, sequence, rotation, recipient_member_id, state, currency, contribution_amount_minor,
  scheduled_for, opened_at, collection_deadline_at, grace_ends_at, blocked_reason, ended_at, transfer_group,
  snapshot, version, updated_at`;
const ROUND_VALUES = `$2, $3::int, $4::int, $5, $6::round_state, $7, $8::bigint, $9::timestamptz, $10::timestamptz,
  $11::timestamptz, $12::timestamptz, $13, $14::timestamptz, $15, $16::jsonb, $17::int, $18::timestamptz`;
const ROUND_INSERT_SQL = `
  INSERT INTO rounds (id, ${ROUND_COLUMNS}, created_at) VALUES ($1, ${ROUND_VALUES}, $18::timestamptz)`;
const ROUND_UPDATE_SQL = `
  UPDATE rounds SET (${ROUND_COLUMNS}) = ROW(${ROUND_VALUES})
   WHERE id = $1 AND version = $19::int
  RETURNING 1 AS updated`;
// The same, only where the stored snapshot is also the one the change was made from ($19):
// then the child rows stored are that snapshot's, and only the rows that differ are written.
const ROUND_UPDATE_FROM_SQL = `
  UPDATE rounds SET (${ROUND_COLUMNS}) = ROW(${ROUND_VALUES})
   WHERE id = $1 AND version = $20::int AND snapshot = $19::jsonb
  RETURNING 1 AS updated`;

/** A round as this process last loaded it, if it was at `version`: its state and its stored snapshot's text. */
export type LoadedRound = (
  id: string,
  version: number,
) => { readonly round: Round; readonly snapshot: string } | undefined;

/** The round's row as the parameters $1–$18 of its INSERT and UPDATE statements. */
function roundValues(round: Round, version: number, at: Instant): unknown[] {
  const c = roundColumns(round, version, at);
  return [
    round.id,
    c.groupId,
    c.sequence,
    c.rotation,
    c.recipientMemberId,
    c.state,
    c.currency,
    String(c.contributionAmountMinor),
    iso(c.scheduledFor),
    iso(c.openedAt),
    iso(c.collectionDeadlineAt),
    iso(c.graceEndsAt),
    c.blockedReason,
    iso(c.endedAt),
    c.transferGroup,
    c.snapshot,
    c.version,
    iso(c.updatedAt),
  ];
}

async function writeRound(
  tx: Tx,
  change: VersionedChange<Round>,
  at: Instant,
  loaded: LoadedRound | undefined,
): Promise<void> {
  const round = change.state;
  assertStorable("round", round);
  const values = roundValues(round, storedVersion(change), at);
  const previous =
    change.expectedVersion === undefined ? undefined : loaded?.(round.id, change.expectedVersion);
  await writeVersionedRow(tx, {
    aggregate: "round",
    table: "rounds",
    id: round.id,
    expectedVersion: change.expectedVersion,
    insert: { name: "susu_round_insert", text: ROUND_INSERT_SQL, values },
    // Found at the version but with another snapshot (never in a history without forks):
    // a version conflict, and the use case reloads the round.
    update:
      previous === undefined
        ? { name: "susu_round_update", text: ROUND_UPDATE_SQL, values }
        : {
            name: "susu_round_update_from",
            text: ROUND_UPDATE_FROM_SQL,
            values: [...values, previous.snapshot],
          },
  });
  await writeRoundChildren(tx, round, change.expectedVersion === undefined, previous?.round);
}

/**
 * The rows of `after` that are not in `before` as they are (new or changed), and whether any
 * key of `before` is gone from `after`.
 */
function rowsChanged<T>(
  before: readonly T[],
  after: readonly T[],
  key: (row: T) => string,
): { readonly changed: T[]; readonly anyGone: boolean } {
  const stored = new Map(before.map((row) => [key(row), JSON.stringify(row)]));
  const changed = after.filter((row) => stored.get(key(row)) !== JSON.stringify(row));
  const kept = new Set(after.map(key));
  return { changed, anyGone: before.some((row) => !kept.has(key(row))) };
}

// Rows the state no longer has go first, children before parents (the keys restrict
// deletes). A payout replaced by the next payout attempt is such a row.
const PAYOUTS_DELETE_GONE_SQL = `
  DELETE FROM payout_transfers
   WHERE round_id = $1
     AND effect_id NOT IN (SELECT r.effect_id FROM jsonb_to_recordset($2::jsonb) AS r(effect_id text))`;
const ATTEMPTS_DELETE_GONE_SQL = `
  DELETE FROM contribution_attempts
   WHERE round_id = $1
     AND (member_id, attempt) NOT IN (
           SELECT r.member_id, r.attempt
             FROM jsonb_to_recordset($2::jsonb) AS r(member_id text, attempt integer))`;
const CONTRIBUTIONS_DELETE_GONE_SQL = `
  DELETE FROM contributions
   WHERE round_id = $1
     AND member_id NOT IN (
           SELECT r.member_id FROM jsonb_to_recordset($2::jsonb) AS r(member_id text))`;
const CONTRIBUTIONS_UPSERT_SQL_ON = (roundId: string, groupId: string, rows: string, gate = "") => `
  INSERT INTO contributions (round_id, member_id, group_id, currency, amount_minor, status, attempts_count,
                             retry_at, stripe_refund_id)
  SELECT ${roundId}, r.member_id, ${groupId}, r.currency, r.amount_minor, r.status, r.attempts_count,
         r.retry_at, r.stripe_refund_id
    FROM jsonb_to_recordset(${rows}::jsonb) AS r(
           member_id text, currency text, amount_minor bigint, status contribution_status,
           attempts_count integer, retry_at timestamptz, stripe_refund_id text)
  ${gate}
  ON CONFLICT (round_id, member_id) DO UPDATE SET
    currency = EXCLUDED.currency,
    amount_minor = EXCLUDED.amount_minor,
    status = EXCLUDED.status,
    attempts_count = EXCLUDED.attempts_count,
    retry_at = EXCLUDED.retry_at,
    stripe_refund_id = EXCLUDED.stripe_refund_id`;
const CONTRIBUTIONS_UPSERT_SQL = CONTRIBUTIONS_UPSERT_SQL_ON("$1", "$2", "$3");
const ATTEMPTS_UPSERT_SQL_ON = (roundId: string, rows: string, gate = "") => `
  INSERT INTO contribution_attempts (round_id, member_id, attempt, effect_id, currency, amount_minor, status,
                                     requested_at, stripe_payment_intent_id, stripe_charge_id, failure_code,
                                     failure_class)
  SELECT ${roundId}, r.member_id, r.attempt, r.effect_id, r.currency, r.amount_minor, r.status,
         r.requested_at, r.stripe_payment_intent_id, r.stripe_charge_id, r.failure_code, r.failure_class
    FROM jsonb_to_recordset(${rows}::jsonb) AS r(
           member_id text, attempt integer, effect_id text, currency text, amount_minor bigint,
           status attempt_status, requested_at timestamptz, stripe_payment_intent_id text,
           stripe_charge_id text, failure_code text, failure_class failure_class)
  ${gate}
  ON CONFLICT (round_id, member_id, attempt) DO UPDATE SET
    effect_id = EXCLUDED.effect_id,
    currency = EXCLUDED.currency,
    amount_minor = EXCLUDED.amount_minor,
    status = EXCLUDED.status,
    requested_at = EXCLUDED.requested_at,
    stripe_payment_intent_id = EXCLUDED.stripe_payment_intent_id,
    stripe_charge_id = EXCLUDED.stripe_charge_id,
    failure_code = EXCLUDED.failure_code,
    failure_class = EXCLUDED.failure_class`;
const ATTEMPTS_UPSERT_SQL = ATTEMPTS_UPSERT_SQL_ON("$1", "$2");
const PAYOUTS_UPSERT_SQL_ON = (roundId: string, rows: string, gate = "") => `
  INSERT INTO payout_transfers (round_id, effect_id, source_member_id, source_charge_id, attempt, currency,
                                amount_minor, status, stripe_transfer_id, failure_code)
  SELECT ${roundId}, r.effect_id, r.source_member_id, r.source_charge_id, r.attempt, r.currency,
         r.amount_minor, r.status, r.stripe_transfer_id, r.failure_code
    FROM jsonb_to_recordset(${rows}::jsonb) AS r(
           effect_id text, source_member_id text, source_charge_id text, attempt integer, currency text,
           amount_minor bigint, status transfer_status, stripe_transfer_id text, failure_code text)
  ${gate}
  ON CONFLICT (effect_id) DO UPDATE SET
    source_member_id = EXCLUDED.source_member_id,
    source_charge_id = EXCLUDED.source_charge_id,
    attempt = EXCLUDED.attempt,
    currency = EXCLUDED.currency,
    amount_minor = EXCLUDED.amount_minor,
    status = EXCLUDED.status,
    stripe_transfer_id = EXCLUDED.stripe_transfer_id,
    failure_code = EXCLUDED.failure_code`;
const PAYOUTS_UPSERT_SQL = PAYOUTS_UPSERT_SQL_ON("$1", "$2");

/**
 * The round's child rows. With `previous` (the state whose rows are stored: the round's
 * UPDATE found its snapshot), only rows that differ are upserted and a DELETE runs only for a
 * table with a row gone; otherwise every row is rewritten and every table swept.
 */
async function writeRoundChildren(tx: Tx, round: Round, isNew: boolean, previous?: Round): Promise<void> {
  const rows = roundChildRows(round);
  let write = rows;
  let gone = { contributions: !isNew, attempts: !isNew, payouts: !isNew };
  if (previous !== undefined) {
    const before = roundChildRows(previous);
    const contributions = rowsChanged(before.contributions, rows.contributions, (r) => r.member_id);
    const attempts = rowsChanged(before.attempts, rows.attempts, (r) => `${r.member_id}\u0000${r.attempt}`);
    const payouts = rowsChanged(before.payouts, rows.payouts, (r) => r.effect_id);
    write = { contributions: contributions.changed, attempts: attempts.changed, payouts: payouts.changed };
    gone = { contributions: contributions.anyGone, attempts: attempts.anyGone, payouts: payouts.anyGone };
  }
  // The sweeps name every row the state keeps (not only the changed ones).
  if (gone.payouts)
    await tx({
      name: "susu_payouts_delete_gone",
      text: PAYOUTS_DELETE_GONE_SQL,
      values: [round.id, JSON.stringify(rows.payouts)],
    });
  if (gone.attempts)
    await tx({
      name: "susu_attempts_delete_gone",
      text: ATTEMPTS_DELETE_GONE_SQL,
      values: [round.id, JSON.stringify(rows.attempts)],
    });
  if (gone.contributions)
    await tx({
      name: "susu_contributions_delete_gone",
      text: CONTRIBUTIONS_DELETE_GONE_SQL,
      values: [round.id, JSON.stringify(rows.contributions)],
    });
  // A new round's children are written too (a round opens with its contributions); an
  // empty list is a statement that inserts nothing, skipped.
  if (write.contributions.length > 0)
    await tx({
      name: "susu_contributions_upsert",
      text: CONTRIBUTIONS_UPSERT_SQL,
      values: [round.id, round.groupId, JSON.stringify(write.contributions)],
    });
  if (write.attempts.length > 0)
    await tx({
      name: "susu_attempts_upsert",
      text: ATTEMPTS_UPSERT_SQL,
      values: [round.id, JSON.stringify(write.attempts)],
    });
  if (write.payouts.length > 0)
    await tx({
      name: "susu_payouts_upsert",
      text: PAYOUTS_UPSERT_SQL,
      values: [round.id, JSON.stringify(write.payouts)],
    });
}

const HELD_PAYMENT_COLUMNS = `requested_by, client_reference, seller_person_id, seller_account_id, status, currency,
  amount_minor, fee_minor, customer_email, checkout_session_id, payment_intent_id, charge_id, transfer_group,
  release_due_at, ended_at, snapshot, version, updated_at`;
const HELD_PAYMENT_VALUES = `$2, $3, $4, $5, $6::held_payment_status, $7, $8::bigint, $9::bigint, $10, $11, $12, $13,
  $14, $15::timestamptz, $16::timestamptz, $17::jsonb, $18::int, $19::timestamptz`;
const HELD_PAYMENT_INSERT_SQL = `
  INSERT INTO held_payments (id, ${HELD_PAYMENT_COLUMNS}, created_at)
  VALUES ($1, ${HELD_PAYMENT_VALUES}, $20::timestamptz)`;
const HELD_PAYMENT_UPDATE_SQL = `
  UPDATE held_payments SET (${HELD_PAYMENT_COLUMNS}) = ROW(${HELD_PAYMENT_VALUES})
   WHERE id = $1 AND version = $20::int
  RETURNING 1 AS updated`;

/** The unique key of a caller's reference: one held payment per (requested_by, client_reference). */
export const HELD_PAYMENT_REFERENCE_KEY = "held_payments_requested_by_client_reference_key";

/**
 * The refusal of a held payment whose caller's reference another payment holds: `duplicate`
 * (an existing payment, not a passing collision), which a use case creating the payment
 * reads as "already exists" and answers with the payment found by the reference.
 */
export function heldPaymentReferenceTaken(id: string): StorageError {
  return storageError.duplicate(
    `commit refused held payment ${id}: another held payment has the caller's reference (unique constraint ${HELD_PAYMENT_REFERENCE_KEY})`,
  );
}

/** The held payment's columns as HELD_PAYMENT_VALUES binds them ($1 the id, $2–$19), and its creation time. */
function heldPaymentValues(change: VersionedChange<HeldPayment>, at: Instant) {
  const payment = change.state;
  const c = heldPaymentColumns(payment, storedVersion(change), at);
  const values = [
    payment.id,
    c.requestedBy,
    c.clientReference,
    c.sellerPersonId,
    c.sellerAccountId,
    c.status,
    c.currency,
    String(c.amountMinor),
    String(c.feeMinor),
    c.customerEmail,
    c.checkoutSessionId,
    c.paymentIntentId,
    c.chargeId,
    c.transferGroup,
    iso(c.releaseDueAt),
    iso(c.endedAt),
    c.snapshot,
    c.version,
    iso(c.updatedAt),
  ];
  return { values, createdAt: iso(c.createdAt) };
}

async function writeHeldPayment(tx: Tx, change: VersionedChange<HeldPayment>, at: Instant): Promise<void> {
  const payment = change.state;
  assertStorable("held payment", payment);
  const { values, createdAt } = heldPaymentValues(change, at);
  await writeVersionedRow(tx, {
    aggregate: "held_payment",
    table: "held_payments",
    id: payment.id,
    expectedVersion: change.expectedVersion,
    insert: {
      name: "susu_held_payment_insert",
      text: HELD_PAYMENT_INSERT_SQL,
      values: [...values, createdAt],
    },
    update: { name: "susu_held_payment_update", text: HELD_PAYMENT_UPDATE_SQL, values },
    // The caller's reference taken by another payment is a duplicate of that payment, said
    // so in words the use case can rely on (the primary key is checked before other keys).
    refusal: (error) =>
      isUniqueViolationOf(error, HELD_PAYMENT_REFERENCE_KEY)
        ? new StorageRefusal(heldPaymentReferenceTaken(payment.id))
        : undefined,
  });
}

const MARKETPLACE_CHARGE_COLUMNS = `requested_by, client_reference, activity_id, purpose, mode, status, currency,
  amount_minor, fee_minor, on_behalf_of, customer_person_id, stripe_customer_id, customer_email, payment_intent_id,
  charge_id, transfer_group, ended_at, snapshot, version, updated_at`;
const MARKETPLACE_CHARGE_VALUES = `$2, $3, $4, $5, $6::marketplace_charge_mode, $7::marketplace_charge_status, $8,
  $9::bigint, $10::bigint, $11::boolean, $12, $13, $14, $15, $16, $17, $18::timestamptz, $19::jsonb, $20::int,
  $21::timestamptz`;
const MARKETPLACE_CHARGE_INSERT_SQL = `
  INSERT INTO marketplace_charges (id, ${MARKETPLACE_CHARGE_COLUMNS}, created_at)
  VALUES ($1, ${MARKETPLACE_CHARGE_VALUES}, $22::timestamptz)`;
const MARKETPLACE_CHARGE_UPDATE_SQL = `
  UPDATE marketplace_charges SET (${MARKETPLACE_CHARGE_COLUMNS}) = ROW(${MARKETPLACE_CHARGE_VALUES})
   WHERE id = $1 AND version = $22::int
  RETURNING 1 AS updated`;
// A charge's sellers are fixed when it is made: written with its first row, never again.
const MARKETPLACE_SELLERS_INSERT_SQL = `
  INSERT INTO marketplace_charge_sellers (charge_id, seller_person_id, position, connected_account_id, weight,
                                          share_minor, fee_minor, created_at)
  SELECT $1, r.seller_person_id, r.position, r.connected_account_id, r.weight, r.share_minor, r.fee_minor,
         $3::timestamptz
    FROM jsonb_to_recordset($2::jsonb) AS r(
           seller_person_id text, position integer, connected_account_id text, weight integer,
           share_minor bigint, fee_minor bigint)`;

/** The unique key of a caller's reference: one marketplace charge per (requested_by, client_reference). */
export const MARKETPLACE_CHARGE_REFERENCE_KEY = "marketplace_charges_requested_by_client_reference_key";

/**
 * The refusal of a marketplace charge whose caller's reference another charge holds:
 * `duplicate` (an existing charge, not a passing collision), which a use case creating the
 * charge reads as "already exists" and answers with the charge found by the reference.
 */
export function marketplaceChargeReferenceTaken(id: string): StorageError {
  return storageError.duplicate(
    `commit refused marketplace charge ${id}: another marketplace charge has the caller's reference (unique constraint ${MARKETPLACE_CHARGE_REFERENCE_KEY})`,
  );
}

async function writeMarketplaceCharge(
  tx: Tx,
  change: VersionedChange<MarketplaceCharge>,
  at: Instant,
): Promise<void> {
  const charge = change.state;
  assertStorable("marketplace charge", charge);
  const c = marketplaceChargeColumns(charge, storedVersion(change), at);
  const values = [
    charge.id,
    c.requestedBy,
    c.clientReference,
    c.activityId,
    c.purpose,
    c.mode,
    c.status,
    c.currency,
    String(c.amountMinor),
    String(c.feeMinor),
    c.onBehalfOf,
    c.customerPersonId,
    c.stripeCustomerId,
    c.customerEmail,
    c.paymentIntentId,
    c.chargeId,
    c.transferGroup,
    iso(c.endedAt),
    c.snapshot,
    c.version,
    iso(c.updatedAt),
  ];
  await writeVersionedRow(tx, {
    aggregate: "marketplace_charge",
    table: "marketplace_charges",
    id: charge.id,
    expectedVersion: change.expectedVersion,
    insert: {
      name: "susu_marketplace_charge_insert",
      text: MARKETPLACE_CHARGE_INSERT_SQL,
      values: [...values, iso(c.createdAt)],
    },
    update: { name: "susu_marketplace_charge_update", text: MARKETPLACE_CHARGE_UPDATE_SQL, values },
    refusal: (error) =>
      isUniqueViolationOf(error, MARKETPLACE_CHARGE_REFERENCE_KEY)
        ? new StorageRefusal(marketplaceChargeReferenceTaken(charge.id))
        : undefined,
  });
  if (change.expectedVersion === undefined)
    await tx({
      name: "susu_marketplace_sellers_insert",
      text: MARKETPLACE_SELLERS_INSERT_SQL,
      values: [charge.id, JSON.stringify(marketplaceSellerRows(charge)), iso(c.createdAt)],
    });
}

// Effects enter the outbox due at once: the Changeset carries no time, and the effect's
// own time (a timer's `at`) is when its work is due, not when scheduling it is.
const DUE_AT_ONCE = new Date(0).toISOString();

// WITH ORDINALITY … ORDER BY: rows take their `sequence` (the dispatch order) in the
// changeset's order, as audit lines take their ids. ON CONFLICT DO NOTHING keeps an id already stored once.
const OUTBOX_APPEND_SQL = `${OUTBOX_INSERT_ROWS_SQL("$1", "$2", "$3")}
   ORDER BY r.n
  ON CONFLICT DO NOTHING`;

/**
 * The outbox rows of `effects`, one per id: later copies in the same changeset are dropped
 * here, copies already stored by ON CONFLICT DO NOTHING. The first copy wins, as in the
 * in-memory store, and the row keeps its place in the dispatch order.
 */
function outboxRows(effects: readonly OutboxEffect[]): OutboxRow[] {
  const seen = new Set<string>();
  const rows: OutboxRow[] = [];
  for (const effect of effects) {
    if (seen.has(effect.id)) continue;
    seen.add(effect.id);
    const aggregate = outboxAggregateOf(effect);
    rows.push({
      id: effect.id,
      aggregate_type: aggregate.type,
      aggregate_id: aggregate.id,
      kind: effect.kind,
      payload: effect,
    });
  }
  return rows;
}

/** An outbox row as OUTBOX_INSERT_ROWS_SQL reads it. */
interface OutboxRow {
  readonly id: string;
  readonly aggregate_type: string;
  readonly aggregate_id: string;
  readonly kind: string;
  readonly payload: OutboxEffect;
  /** The ledger transaction the commit posts for this effect (a `post_ledger` carried out in the commit). */
  ledger?: string;
  /** A `notify` the commit queues itself (see CommitNotices): stored done. */
  noticed?: true;
  /** What it queues; absent when it reaches nobody. */
  notice?: QueuedRows;
}

// --- The ledger's postings in the commit that decides them -----------------------------------
//
// A `post_ledger` effect needs nothing outside PostgreSQL: the ledger is in the same database.
// So the commit that stores the state deciding it posts it too, in the same statement or
// transaction (ledgerPostParts, the SQL PrismaLedgerStore posts with), behind the same version
// gate as every other part, and stores its outbox row already done (kept: it is the record
// operators and tests read). That saves the dispatcher's claim, its posting's own statement
// and commit, and the row's completion, and the books move atomically with the state.
//
// What stays as the dispatcher has always done it:
// - a transaction id the ledger holds already (a retry, or a conflict), or an effect id the
//   outbox holds already (the first copy is the one kept, as ever): not posted here, and the
//   row is stored pending (or left as it is), so the dispatcher answers as before — the same
//   content is done, other content `duplicate_transaction_conflict`, parked with its ticket;
// - a transaction the domain's rules refuse (validateLedgerTransaction): left pending, refused
//   by the dispatcher's post as before;
// - a posting the database refuses (a balance out of the safe range, SU003; unbalanced at
//   COMMIT, SU002): PrismaStore stores the changeset again without posting (`postLedger`
//   false), the effect pending, and the dispatcher fails it as before. The state is never lost
//   nor blocked by its books.
// A row another commit inserts with the same effect id at the same moment (ON CONFLICT DO
// NOTHING after waiting for it) would leave this commit's posting without its done row; that
// other row is then carried out by the dispatcher, which finds the transaction posted (the
// same content: done; other: a conflict, parked), as for any id posted twice.
//
// Order: a posting carried out by the dispatcher waited behind every earlier effect of its
// aggregate (one aggregate's effects run one at a time, in order); posted in the commit, it
// does not. Nothing depends on that wait: postings are keyed by their transaction's id, and
// balances are sums, the same in any order (each stays within the safe range, checked per
// statement). Nothing reads pending `post_ledger` rows as money in flight: the readers of
// outbox_effects (operations-counts' depth gauge, payment-metrics-reads' oldest pending effect
// and refunds in flight, by refund effect ids, stuck-work's sweep, worker liveness, the
// operators' lists) count rows or follow refund effects, never a posting's amount; the
// reconciliation reads the ledger's own tables. What changes for operators: the outbox depth
// and `susu_outbox_effects_settled_total{kind="post_ledger"}` no longer count postings made in
// the commit (only those left to the dispatcher).

/**
 * The `post_ledger` effects of `rows` the commit posts itself: each whose transaction the
 * domain's rules accept, the first with its transaction's id (another with the same id is
 * left to the dispatcher, which compares it with the one posted). Marks their rows' `ledger`,
 * and gives their rows for ledgerPostParts; undefined when there are none.
 */
function ledgerPostsOf(rows: readonly OutboxRow[]): LedgerPostRows | undefined {
  const posts: { transaction: LedgerTransaction; effectId: string }[] = [];
  const ids = new Set<string>();
  for (const row of rows) {
    const effect = row.payload;
    if (effect.kind !== "post_ledger" || ids.has(effect.transaction.id)) continue;
    if (validateLedgerTransaction(effect.transaction).isErr()) continue;
    ids.add(effect.transaction.id);
    posts.push({ transaction: effect.transaction, effectId: effect.id });
    row.ledger = effect.transaction.id;
  }
  return posts.length === 0 ? undefined : ledgerPostRows(posts);
}

/**
 * The notices planned for a commit, by effect id (see CommitNotices): each `notify` effect
 * found here is queued by the commit, its outbox row stored done.
 */
export type CommitNotices = ReadonlyMap<string, PlannedNotice>;

/** The changeset's outbox rows, what of them the commit carries out itself, and how many rows it stores done. */
interface OutboxPlan {
  readonly rows: readonly OutboxRow[];
  /** The postings to make (`postLedger`; see ledgerPostsOf). */
  readonly ledger: LedgerPostRows | undefined;
  /** How many rows are notices the commit may queue (`notices`; NOTICE_FREE has the last word). */
  readonly noticed: number;
}

/**
 * The changeset's outbox rows and, when the commit posts its ledger effects (`postLedger`),
 * those postings' rows (see ledgerPostsOf); with `notices`, the rows of the `notify`
 * effects planned there are marked to be queued by the commit.
 */
function outboxPlan(
  effects: readonly OutboxEffect[],
  postLedger: boolean,
  notices?: CommitNotices,
): OutboxPlan {
  const rows = outboxRows(effects);
  let noticed = 0;
  if (notices !== undefined)
    for (const row of rows) {
      // A notice after an effect that is neither a notice nor a posting waits for it, as the
      // dispatcher would have made it wait: it is left to the dispatcher, and so is every
      // notice after it (a posting goes first or not, as "The ledger's postings" says).
      if (row.kind === "post_ledger") continue;
      const planned = row.kind === "notify" ? notices.get(row.id) : undefined;
      if (planned === undefined) break;
      row.noticed = true;
      if (planned.queue !== undefined) row.notice = planned.queue;
      noticed += 1;
    }
  return { rows, ledger: postLedger ? ledgerPostsOf(rows) : undefined, noticed };
}

/**
 * Of a posting in the commit: only an effect whose id the outbox does not hold yet (one it
 * holds was decided before, and is carried out, or was, as that row says). `r` is the
 * transaction's row in ledgerPostParts.
 *
 * `OFFSET 0` keeps the test a look-up by key for each row: without it the planner turns it
 * into an anti-join, and since it takes jsonb_to_recordset for 100 rows it found a scan of the
 * whole outbox cheaper than 100 index probes until the table is large (bench/webhook-costs.ts:
 * 637 sequential scans of outbox_effects reading 3.2 million rows in 1,600 events; 1,539 and
 * 8.3 million with generic plans, which keep the plan made at a connection's first use).
 */
const NOT_IN_OUTBOX = "NOT EXISTS (SELECT 1 FROM outbox_effects e WHERE e.id = r.effect_id OFFSET 0)";

async function appendOutbox(tx: Tx, effects: readonly OutboxEffect[], at: Instant): Promise<void> {
  const rows = outboxRows(effects);
  if (rows.length > 0)
    await tx({
      name: "susu_outbox_append",
      text: OUTBOX_APPEND_SQL,
      values: [JSON.stringify(rows), DUE_AT_ONCE, toDate(at).toISOString()],
    });
}

const AUDIT_APPEND_SQL = `${AUDIT_INSERT_ROWS_SQL("$1")}
   ORDER BY r.n`;

/** Appends audit lines in the open transaction `tx` (none: nothing sent). */
export async function appendAudit(tx: Tx, entries: readonly AuditEntry[]): Promise<void> {
  if (entries.length > 0)
    await tx({
      name: "susu_audit_append",
      text: AUDIT_APPEND_SQL,
      values: [JSON.stringify(entries.map(auditRow))],
    });
}

const byId = <T extends { readonly state: { readonly id: string } }>(a: T, b: T) =>
  a.state.id < b.state.id ? -1 : a.state.id > b.state.id ? 1 : 0;

/**
 * Writes a changeset in the open transaction `tx`: people, then groups (with their
 * members, who must be people), then rounds (with their contributions, attempts and
 * payouts), then held payments (whose sellers must be people), then marketplace charges
 * (whose customer and sellers must be people), then recorded payouts of connected accounts
 * and susu's payout requests (each only if it is new or its status moves forward), then the
 * outbox and the audit lines. Throws a
 * {@link StorageRefusal} carrying `version_conflict` when an
 * aggregate's stored version is not the expected one (or `duplicate` when a held payment's
 * or marketplace charge's caller reference is taken); the caller's transaction then rolls back.
 *
 * `loadedRound` (optional) gives a changed round as this process loaded it: its child rows are
 * then diffed against that state's, and only the changed ones written (see writeRoundChildren).
 *
 * Aggregates are written in a fixed order (people, groups, rounds, held payments,
 * marketplace charges, each by id) so two transactions touching the same rows lock them in the same order and cannot
 * deadlock.
 *
 * With `postLedger` (the default), the changeset's `post_ledger` effects are posted with its
 * outbox rows, those rows stored done (see "The ledger's postings in the commit" above); a
 * posting the database refuses throws, and the caller stores the changeset again without.
 * With `notices`, the `notify` effects planned there are queued with its outbox rows, those
 * rows stored done (see CommitNotices). Answers what it carried out: how many outbox rows it
 * stored done (ledger transactions it posted, notices it queued) and which notices.
 */
export async function writeChangeset(
  tx: Tx,
  changes: Changeset,
  at: Instant,
  loadedRound?: LoadedRound,
  postLedger = true,
  notices?: CommitNotices,
): Promise<Carried> {
  for (const change of [...changes.people].sort(byId)) await writePerson(tx, change, at);
  for (const change of [...changes.groups].sort(byId)) await writeGroup(tx, change, at);
  for (const change of [...changes.rounds].sort(byId)) await writeRound(tx, change, at, loadedRound);
  for (const change of [...(changes.heldPayments ?? [])].sort(byId)) await writeHeldPayment(tx, change, at);
  for (const change of [...(changes.marketplaceCharges ?? [])].sort(byId))
    await writeMarketplaceCharge(tx, change, at);
  for (const change of [...(changes.plans ?? [])].sort(byId)) await writePlan(tx, change, at);
  for (const change of [...(changes.subscriptions ?? [])].sort(byId)) await writeSubscription(tx, change, at);
  await writePayouts(tx, changes.payouts ?? []);
  await writePayoutRequests(tx, changes.payoutRequests ?? []);
  await writePayoutPauses(tx, changes.payoutPauses ?? []);
  await writePaymentMethods(tx, changes.paymentMethods ?? []);
  return writeTail(tx, changes, at, postLedger, notices);
}

/**
 * The changeset's outbox effects, audit lines and the completion of the effect it records,
 * each only if it has any: one alone is its own statement; two or three are one statement
 * (a data-modifying CTE each, every one run in full, whatever the others do), one round trip
 * instead of up to three. Each part writes what its own statement writes. Ledger postings
 * to make (`postLedger`) are parts of that statement too, before the outbox's, which reads
 * them, and so are notices to queue (`notices`), after it. Answers what it carried out.
 */
async function writeTail(
  tx: Tx,
  changes: Changeset,
  at: Instant,
  postLedger: boolean,
  notices: CommitNotices | undefined,
): Promise<Carried> {
  const { rows: outbox, ledger, noticed } = outboxPlan(changes.outbox, postLedger, notices);
  const hasOutbox = outbox.length > 0;
  const hasAudit = changes.audit.length > 0;
  const done = changes.outboxDone;
  if (
    ledger === undefined &&
    noticed === 0 &&
    Number(hasOutbox) + Number(hasAudit) + Number(done !== undefined) < 2
  ) {
    await appendOutbox(tx, changes.outbox, at);
    await appendAudit(tx, changes.audit);
    if (done !== undefined) await completeOutboxEffect(tx, done);
    return NOTHING_CARRIED;
  }
  const values: unknown[] = [];
  const param = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  const parts: string[] = [];
  let name = "susu_tail";
  const doneId = done === undefined ? "NULL" : param(done.effectId);
  if (hasOutbox) {
    const rows = param(JSON.stringify(outbox));
    const due = param(DUE_AT_ONCE);
    const created = param(toDate(at).toISOString());
    if (ledger !== undefined) {
      const params = {
        transactions: param(ledger.transactions),
        moves: param(ledger.moves),
        postings: param(ledger.postings),
        at: created,
      };
      parts.push(ledgerPostParts(params, NOT_IN_OUTBOX));
      name += "_ledger";
    }
    const withNotices = noticed > 0 ? { doneId } : undefined;
    parts.push(
      `o AS (${OUTBOX_INSERT_ROWS_SQL(rows, due, created, ledger === undefined ? undefined : "lt", withNotices)} ORDER BY r.n ON CONFLICT DO NOTHING${withNotices ? NOTICED_RETURNING : ""})`,
    );
    name += "_outbox";
    if (withNotices) {
      parts.push(NOTICE_PARTS_SQL(rows, "true", doneId));
      name += "_notices";
    }
  }
  if (hasAudit) {
    parts.push(
      `a AS (${AUDIT_INSERT_ROWS_SQL(param(JSON.stringify(changes.audit.map(auditRow))))} ORDER BY r.n)`,
    );
    name += "_audit";
  }
  if (done !== undefined) {
    const [worker, completed] = [param(done.workerId), param(toDate(done.at))];
    parts.push(`d AS (UPDATE outbox_effects SET status = 'done', claimed_by = NULL, claimed_until = NULL,
                         completed_at = ${completed}
                   WHERE id = ${doneId} AND claimed_by = ${worker} AND status = 'pending')`);
    name += "_done";
  }
  const end = `${ledger === undefined ? "SELECT 1 AS written" : "SELECT (SELECT count(*) FROM lt)::int AS posted"}${
    hasOutbox && noticed > 0 ? NOTICED_COLUMN : ""
  }`;
  const { rows } = await tx<CarriedRow>({ name, text: `WITH ${parts.join(",\n")}\n${end}`, values });
  return carriedOf(rows[0]);
}

/** What a commit carried out itself: outbox rows it stored done, and which of them were notices (queued). */
export interface Carried {
  readonly done: number;
  readonly noticed: readonly string[];
}

const NOTHING_CARRIED: Carried = { done: 0, noticed: [] };

/** A commit statement's row as it reports what it carried out: postings made, notices queued. */
export interface CarriedRow {
  readonly posted?: number;
  readonly noticed?: readonly string[] | null;
}

/** What a commit statement's row says it carried out. */
export function carriedOf(row: CarriedRow | undefined): Carried {
  const noticed = row?.noticed ?? [];
  return { done: (row?.posted ?? 0) + noticed.length, noticed };
}

/** The effect whose result the changeset records, done with it (the statement of `PrismaStore.complete`). */
async function completeOutboxEffect(tx: Tx, done: OutboxCompletion): Promise<void> {
  await tx({
    name: "susu_outbox_complete",
    text: OUTBOX_COMPLETE_SQL,
    values: [done.effectId, done.workerId, toDate(done.at)],
  });
}

// --- One statement for the commits the API makes most ----------------------------------------

/** A group as this process last loaded it, if it was at `version`: its state and its stored snapshot's text. */
export type LoadedGroup = (
  id: string,
  version: number,
) => { readonly group: Group; readonly snapshot: string } | undefined;

// A new group: every part an INSERT, so any refusal (the id taken, a key, a check) fails the
// whole statement and stores nothing. Foreign keys are checked at the statement's end, so
// members may reference the group and the people inserted beside them.
// $1–$17 the group, $18 new people, $19 members, $20 outbox rows, $21 due, $22 created, $23 audit.
const NEW_GROUP_COMMIT_SQL = `
  WITH p AS (${PEOPLE_INSERT_ROWS_SQL("$18")}),
  g AS (${GROUP_INSERT_SQL}
        RETURNING id),
  m AS (${MEMBERS_INSERT_ROWS_SQL("$1", "$19")}),
  o AS (${OUTBOX_INSERT_ROWS_SQL("$20", "$21", "$22")} ORDER BY r.n ON CONFLICT DO NOTHING),
  a AS (${AUDIT_INSERT_ROWS_SQL("$23")} ORDER BY r.n)
  SELECT count(*)::int AS written FROM g`;

// A changed group whose members were only added to: the group's UPDATE is the gate — only
// if it finds the group at the expected version *and* with the snapshot the change was made
// from (so the member rows stored are those of that snapshot) does anything else write, each
// part reading the gate's row. Found otherwise, nothing is written and the commit takes the
// full transaction, which decides (a stale version, or members to rewrite).
// $1–$17 the group, $18 expected version, $19 the snapshot it was loaded with, $20 new people,
// $21 new members, $22 outbox rows, $23 due, $24 created, $25 audit.
const CHANGED_GROUP_COMMIT_SQL = `
  WITH g AS (UPDATE groups SET (${GROUP_COLUMNS}) = ROW(${GROUP_VALUES})
              WHERE id = $1 AND version = $18::int AND snapshot = $19::jsonb
             RETURNING id),
  p AS (${PEOPLE_INSERT_ROWS_SQL("$20")} WHERE EXISTS (SELECT 1 FROM g)),
  m AS (${MEMBERS_INSERT_ROWS_SQL("$1", "$21")} WHERE EXISTS (SELECT 1 FROM g)),
  o AS (${OUTBOX_INSERT_ROWS_SQL("$22", "$23", "$24")} WHERE EXISTS (SELECT 1 FROM g) ORDER BY r.n
        ON CONFLICT DO NOTHING),
  a AS (${AUDIT_INSERT_ROWS_SQL("$25")} WHERE EXISTS (SELECT 1 FROM g) ORDER BY r.n)
  SELECT count(*)::int AS written FROM g`;

/**
 * The whole changeset as one statement, when it is of the shape the API's hottest commits
 * have — one group, created or changed with members only added (creating a group, joining
 * one), new people, outbox effects and audit lines — else undefined. One statement is
 * atomic without a transaction: the commit is one round trip instead of `BEGIN`, one per
 * part and `COMMIT`.
 *
 * It returns `written = 1` when it stored the changeset; 0 when it stored nothing because
 * the group was not found as the change expected ({@link CHANGED_GROUP_COMMIT_SQL}), and
 * then the caller runs {@link writeChangeset} in a transaction, which decides. A changed
 * group needs the state it was loaded at (`loaded`): members are diffed against it. A
 * changeset with ledger postings to make (`postLedger`, none of the API's group commits has
 * any) is left to the transaction, which posts them.
 */
export function singleStatementCommit(
  changes: Changeset,
  at: Instant,
  loaded: LoadedGroup,
  postLedger = true,
): NamedStatement | undefined {
  const [change, ...otherGroups] = changes.groups;
  if (change === undefined || otherGroups.length > 0 || changes.rounds.length > 0) return undefined;
  if (changes.outboxDone !== undefined) return undefined;
  if (
    (changes.heldPayments?.length ?? 0) > 0 ||
    (changes.payouts?.length ?? 0) > 0 ||
    (changes.payoutRequests?.length ?? 0) > 0 ||
    (changes.payoutPauses?.length ?? 0) > 0
  )
    return undefined;
  if ((changes.marketplaceCharges?.length ?? 0) > 0) return undefined;
  if ((changes.paymentMethods?.length ?? 0) > 0) return undefined;
  if ((changes.plans?.length ?? 0) > 0 || (changes.subscriptions?.length ?? 0) > 0) return undefined;
  if (changes.people.some((p) => p.expectedVersion !== undefined)) return undefined;
  const { rows: outbox, ledger } = outboxPlan(changes.outbox, postLedger);
  if (ledger !== undefined) return undefined;
  const group = change.state;
  let newMembers = memberRows(group);
  let previousSnapshot: string | undefined;
  if (change.expectedVersion !== undefined) {
    const previous = loaded(group.id, change.expectedVersion);
    if (previous === undefined) return undefined;
    const before = new Map(memberRows(previous.group).map((row) => [row.id, JSON.stringify(row)]));
    const after = new Map(newMembers.map((row) => [row.id, JSON.stringify(row)]));
    // Only additions: every member before is still there, unchanged (no position moves, no
    // one gone), so the stored rows need nothing but the new ones.
    for (const [id, row] of before) if (after.get(id) !== row) return undefined;
    newMembers = newMembers.filter((row) => !before.has(row.id));
    previousSnapshot = previous.snapshot;
  }
  assertStorable("group", group);
  const people = [...changes.people].sort(byId).map(({ state: person }) => {
    assertStorable("person", person);
    return personRow(person, 0, at);
  });
  const values = groupValues(group, storedVersion(change), at);
  const rest = [
    JSON.stringify(people),
    JSON.stringify(newMembers),
    JSON.stringify(outbox),
    DUE_AT_ONCE,
    toDate(at).toISOString(),
    JSON.stringify(changes.audit.map(auditRow)),
  ];
  return previousSnapshot === undefined
    ? { name: "susu_commit_new_group", text: NEW_GROUP_COMMIT_SQL, values: [...values, ...rest] }
    : {
        name: "susu_commit_changed_group",
        text: CHANGED_GROUP_COMMIT_SQL,
        values: [...values, change.expectedVersion, previousSnapshot, ...rest],
      };
}

// --- A statement gated on its aggregate's UPDATE, and another statement's write folded into it ---

/** A write that can be a part of another statement's `WITH` ({@link NamedStatement.part}). */
type Part = NonNullable<NamedStatement["part"]>;

/** The gate of every part of a gated single statement: its aggregate's UPDATE (part `g`) wrote. */
const GATE = "EXISTS (SELECT 1 FROM g)";

/**
 * The end of a statement whose first part `g` is its aggregate's version-checked UPDATE: its
 * row, `written` (1 when `g` wrote, else 0). With `folded`, that part comes first, as part `f`
 * behind the same gate, its parameters numbered after the statement's `params`, and the row
 * has `finished` too: `f`'s rows as JSON (null when none). With `ledger` (the statement posts
 * ledger transactions: part `lt`), the row has `posted` too: how many it posted; with `notices`
 * (it queues notices: its outbox part `o` returns its rows), `noticed` (NOTICED_COLUMN).
 */
function gatedEnd(params: number, folded: Part | undefined, ledger = false, notices = false): string {
  const finished = folded === undefined ? "" : ", (SELECT json_agg(f) FROM f) AS finished";
  const posted = `${ledger ? ", (SELECT count(*)::int FROM lt) AS posted" : ""}${notices ? NOTICED_COLUMN : ""}`;
  return `${
    folded === undefined
      ? ""
      : `,
  f AS (${folded(params, GATE)})`
  }
  SELECT (SELECT count(*)::int FROM g) AS written${finished}${posted}`;
}

/** A gated statement's ledger parts (ledgerPostParts, behind the gate), their rows at `$${first}`–`$${first + 2}`. */
function gatedLedgerParts(first: number, at: string): string {
  const params = { transactions: `$${first}`, moves: `$${first + 1}`, postings: `$${first + 2}`, at };
  return `${ledgerPostParts(params, `${GATE} AND ${NOT_IN_OUTBOX}`)},`;
}

/** The values of {@link gatedLedgerParts}: none without postings. */
const ledgerValues = (ledger: LedgerPostRows | undefined) =>
  ledger === undefined ? [] : [ledger.transactions, ledger.moves, ledger.postings];

/**
 * A single-statement commit whose every part writes only where its aggregate's
 * version-checked `UPDATE` (part `g`) wrote ({@link singleStatementRoundCommit},
 * {@link singleStatementHeldPaymentCommit}): `written` = 1 when stored, 0 when nothing was.
 */
export interface GatedCommit extends NamedStatement {
  /** The same statement's text with `part` folded in behind the gate, its parameters numbered from `$${params + 1}`. */
  readonly textWith: (part: Part, params: number) => string;
}

/** The folded statements by the names of what they fold: one text per name, built once. */
const foldedTexts = new Map<string, { readonly text: string; readonly params: number }>();

/**
 * `single` with `statement`'s write folded in as one more part (its {@link NamedStatement.part}),
 * gated on the aggregate's version-checked `UPDATE` like every other part: one statement,
 * atomic on its own, that stores the change and the statement's write together or — the
 * aggregate not as the change expected — neither. Its row: `written` (1 when stored, else 0)
 * and `finished`, the statement's rows as JSON (null when none). Undefined when the statement
 * has no part. The two names stand for the folded text, as every statement's name stands for
 * its text.
 */
export function singleStatementCommitWith(
  single: GatedCommit,
  statement: NamedStatement,
): NamedStatement | undefined {
  const part = statement.part;
  if (part === undefined) return undefined;
  const name = `${single.name}+${statement.name}`;
  const params = single.values.length;
  let folded = foldedTexts.get(name);
  if (folded === undefined) {
    folded = { text: single.textWith(part, params), params };
    foldedTexts.set(name, folded);
  }
  // One name, one text: a statement of this name with another count of parameters is a bug.
  if (folded.params !== params)
    throw new Error(`${single.name} has ${params} parameters, not ${folded.params}`);
  return { name, text: folded.text, values: [...single.values, ...statement.values] };
}

// --- One statement for a round's commits from the dispatcher and the webhook processor ---------

// The round's UPDATE is the gate (as CHANGED_GROUP_COMMIT_SQL's): only where the round is at the
// expected version with the snapshot it was loaded from do the parts write, each reading the
// gate's row; found otherwise, nothing is written and the full transaction decides.
// $1–$18 the round, $19 expected version, $20 the loaded snapshot, $21 the group, $22–$24 the
// changed contributions, attempts and payouts, $25 audit rows, $26–$28 the completion or nulls;
// with outbox rows, $29 them, $30 due, $31 created; with ledger postings, $32–$34 their rows
// (gatedLedgerParts). A folded part follows (gatedEnd).
const ROUND_GATE = `WHERE ${GATE}`;
const CHANGED_ROUND_COMMIT_SQL = (
  withOutbox: boolean,
  ledger: boolean,
  notices: boolean,
  folded?: Part,
  params = 0,
) => `
  WITH g AS (UPDATE rounds SET (${ROUND_COLUMNS}) = ROW(${ROUND_VALUES})
              WHERE id = $1 AND version = $19::int AND snapshot = $20::jsonb
             RETURNING id),
  c AS (${CONTRIBUTIONS_UPSERT_SQL_ON("$1", "$21", "$22", ROUND_GATE)}),
  a AS (${ATTEMPTS_UPSERT_SQL_ON("$1", "$23", ROUND_GATE)}),
  p AS (${PAYOUTS_UPSERT_SQL_ON("$1", "$24", ROUND_GATE)}),
  au AS (${AUDIT_INSERT_ROWS_SQL("$25")} ${ROUND_GATE} ORDER BY r.n),
  d AS (UPDATE outbox_effects SET status = 'done', claimed_by = NULL, claimed_until = NULL,
               completed_at = $28::timestamptz
         ${ROUND_GATE} AND $26::text IS NOT NULL
           AND id = $26 AND claimed_by = $27 AND status = 'pending')${
             withOutbox
               ? `,
  ${ledger ? gatedLedgerParts(32, "$31") : ""}
  o AS (${OUTBOX_INSERT_ROWS_SQL("$29", "$30", "$31", ledger ? "lt" : undefined, notices ? { doneId: "$26" } : undefined)} ${ROUND_GATE} ORDER BY r.n
        ON CONFLICT DO NOTHING${notices ? NOTICED_RETURNING : ""})${notices ? `,${NOTICE_PARTS_SQL("$29", GATE, "$26")}` : ""}`
               : ""
           }${gatedEnd(params, folded, ledger, withOutbox && notices)}`;

/**
 * The whole changeset as one statement when it is a change of one round this process loaded
 * (`loaded`), whose stored child rows only need upserts (none gone), with outbox effects,
 * audit lines and a completion — the shape of the dispatcher's and the webhook processor's
 * round commits — else undefined. One statement is atomic without a transaction: one round
 * trip instead of `BEGIN`, one per part and `COMMIT`. Like {@link singleStatementCommit}, it
 * returns `written = 0` having stored nothing when the round was not as loaded, and the
 * caller then runs {@link writeChangeset} in a transaction, which decides. With `postLedger`,
 * its ledger effects are posted in it, behind the same gate (see writeChangeset).
 */
export function singleStatementRoundCommit(
  changes: Changeset,
  at: Instant,
  loaded: LoadedRound,
  postLedger = true,
  notices?: CommitNotices,
): GatedCommit | undefined {
  const [change, ...otherRounds] = changes.rounds;
  if (change === undefined || otherRounds.length > 0 || change.expectedVersion === undefined)
    return undefined;
  if (changes.people.length > 0 || changes.groups.length > 0) return undefined;
  if (
    (changes.heldPayments?.length ?? 0) > 0 ||
    (changes.payouts?.length ?? 0) > 0 ||
    (changes.payoutRequests?.length ?? 0) > 0 ||
    (changes.payoutPauses?.length ?? 0) > 0
  )
    return undefined;
  if ((changes.marketplaceCharges?.length ?? 0) > 0) return undefined;
  if ((changes.paymentMethods?.length ?? 0) > 0) return undefined;
  if ((changes.plans?.length ?? 0) > 0 || (changes.subscriptions?.length ?? 0) > 0) return undefined;
  const round = change.state;
  const previous = loaded(round.id, change.expectedVersion);
  if (previous === undefined) return undefined;
  try {
    assertStorable("round", round);
  } catch {
    return undefined; // the transaction refuses it, as it refuses any state it cannot store
  }
  const rows = roundChildRows(round);
  const before = roundChildRows(previous.round);
  const contributions = rowsChanged(before.contributions, rows.contributions, (r) => r.member_id);
  const attempts = rowsChanged(before.attempts, rows.attempts, (r) => `${r.member_id}\u0000${r.attempt}`);
  const payouts = rowsChanged(before.payouts, rows.payouts, (r) => r.effect_id);
  if (contributions.anyGone || attempts.anyGone || payouts.anyGone) return undefined;
  const { rows: outbox, ledger, noticed } = outboxPlan(changes.outbox, postLedger, notices);
  const done = changes.outboxDone;
  const values = [
    ...roundValues(round, storedVersion(change), at),
    change.expectedVersion,
    previous.snapshot,
    round.groupId,
    JSON.stringify(contributions.changed),
    JSON.stringify(attempts.changed),
    JSON.stringify(payouts.changed),
    JSON.stringify(changes.audit.map(auditRow)),
    done?.effectId ?? null,
    done?.workerId ?? null,
    done === undefined ? null : toDate(done.at).toISOString(),
    ...(outbox.length > 0 ? [JSON.stringify(outbox), DUE_AT_ONCE, toDate(at).toISOString()] : []),
    ...ledgerValues(ledger),
  ];
  const withOutbox = outbox.length > 0;
  const withLedger = ledger !== undefined;
  const withNotices = noticed > 0;
  const name = `susu_commit_round${withLedger ? "_ledger" : withOutbox ? "_outbox" : ""}${withNotices ? "_notices" : ""}`;
  return {
    name,
    text: roundCommitText(withOutbox, withLedger, withNotices),
    values,
    textWith: (part, params) => CHANGED_ROUND_COMMIT_SQL(withOutbox, withLedger, withNotices, part, params),
  };
}

/** The texts of CHANGED_ROUND_COMMIT_SQL without a folded part, built once for each shape. */
const roundCommitTexts = new Map<string, string>();
function roundCommitText(withOutbox: boolean, ledger: boolean, notices: boolean): string {
  const key = `${withOutbox}:${ledger}:${notices}`;
  let text = roundCommitTexts.get(key);
  if (text === undefined) {
    text = CHANGED_ROUND_COMMIT_SQL(withOutbox, ledger, notices);
    roundCommitTexts.set(key, text);
  }
  return text;
}

// --- One statement for a held payment's commits ----------------------------------------------

// The payment's UPDATE at the expected version is the gate (as CHANGED_ROUND_COMMIT_SQL's): only
// where it finds the payment at that version do the outbox effects, the audit lines and the
// completion write, each reading the gate's row; found otherwise, nothing is written and the
// full transaction decides (a stale version). Every part runs in full, whatever the others do.
// $1–$19 the payment, $20 expected version, $21 outbox rows, $22 due, $23 created, $24 audit
// rows, $25–$27 the completion or nulls; with ledger postings, $28–$30 their rows
// (gatedLedgerParts). A folded part follows (gatedEnd).
const HELD_PAYMENT_GATE = `WHERE ${GATE}`;
const CHANGED_HELD_PAYMENT_COMMIT_SQL = (ledger: boolean, notices: boolean, folded?: Part, params = 0) => `
  WITH g AS (UPDATE held_payments SET (${HELD_PAYMENT_COLUMNS}) = ROW(${HELD_PAYMENT_VALUES})
              WHERE id = $1 AND version = $20::int
             RETURNING id),
  ${ledger ? gatedLedgerParts(28, "$23") : ""}
  o AS (${OUTBOX_INSERT_ROWS_SQL("$21", "$22", "$23", ledger ? "lt" : undefined, notices ? { doneId: "$25" } : undefined)} ${HELD_PAYMENT_GATE} ORDER BY r.n
        ON CONFLICT DO NOTHING${notices ? NOTICED_RETURNING : ""}),${notices ? `${NOTICE_PARTS_SQL("$21", GATE, "$25")},` : ""}
  a AS (${AUDIT_INSERT_ROWS_SQL("$24")} ${HELD_PAYMENT_GATE} ORDER BY r.n),
  d AS (UPDATE outbox_effects SET status = 'done', claimed_by = NULL, claimed_until = NULL,
               completed_at = $27::timestamptz
         ${HELD_PAYMENT_GATE} AND $25::text IS NOT NULL
           AND id = $25 AND claimed_by = $26 AND status = 'pending')${gatedEnd(params, folded, ledger, notices)}`;
/** The texts of CHANGED_HELD_PAYMENT_COMMIT_SQL without a folded part, built once for each shape. */
const heldPaymentCommitTexts = new Map<string, string>();
function heldPaymentCommitText(ledger: boolean, notices: boolean): string {
  const key = `${ledger}:${notices}`;
  let text = heldPaymentCommitTexts.get(key);
  if (text === undefined) {
    text = CHANGED_HELD_PAYMENT_COMMIT_SQL(ledger, notices);
    heldPaymentCommitTexts.set(key, text);
  }
  return text;
}

/**
 * The whole changeset as one statement when it is a change of one existing held payment
 * with its outbox effects, audit lines and completion (every input a checkout's news, a
 * transfer's answer or a timer feeds a payment) — else undefined. One round trip instead of
 * the payment's UPDATE and the tail's statement (and, outside a transaction, `BEGIN` and
 * `COMMIT`). Like {@link singleStatementRoundCommit}, it returns `written = 0` having stored
 * nothing when the payment is not at the expected version, and the caller then runs
 * {@link writeChangeset}, which decides; a state that cannot be stored is left to it too. With
 * `postLedger`, its ledger effects are posted in it, behind the same gate (see writeChangeset).
 */
export function singleStatementHeldPaymentCommit(
  changes: Changeset,
  at: Instant,
  postLedger = true,
  notices?: CommitNotices,
): GatedCommit | undefined {
  const [change, ...otherPayments] = changes.heldPayments ?? [];
  if (change === undefined || otherPayments.length > 0 || change.expectedVersion === undefined)
    return undefined;
  if (changes.people.length > 0 || changes.groups.length > 0 || changes.rounds.length > 0) return undefined;
  if (
    (changes.payouts?.length ?? 0) > 0 ||
    (changes.payoutRequests?.length ?? 0) > 0 ||
    (changes.payoutPauses?.length ?? 0) > 0 ||
    (changes.marketplaceCharges?.length ?? 0) > 0
  )
    return undefined;
  if ((changes.paymentMethods?.length ?? 0) > 0) return undefined;
  if ((changes.plans?.length ?? 0) > 0 || (changes.subscriptions?.length ?? 0) > 0) return undefined;
  try {
    assertStorable("held payment", change.state);
  } catch {
    return undefined; // the transaction refuses it, as it refuses any state it cannot store
  }
  const done = changes.outboxDone;
  const { rows: outbox, ledger, noticed } = outboxPlan(changes.outbox, postLedger, notices);
  const withLedger = ledger !== undefined;
  const withNotices = noticed > 0;
  return {
    name: `susu_commit_held_payment${withLedger ? "_ledger" : ""}${withNotices ? "_notices" : ""}`,
    text: heldPaymentCommitText(withLedger, withNotices),
    values: [
      ...heldPaymentValues(change, at).values,
      change.expectedVersion,
      JSON.stringify(outbox),
      DUE_AT_ONCE,
      toDate(at).toISOString(),
      JSON.stringify(changes.audit.map(auditRow)),
      done?.effectId ?? null,
      done?.workerId ?? null,
      done === undefined ? null : toDate(done.at).toISOString(),
      ...ledgerValues(ledger),
    ],
    textWith: (part, params) => CHANGED_HELD_PAYMENT_COMMIT_SQL(withLedger, withNotices, part, params),
  };
}
