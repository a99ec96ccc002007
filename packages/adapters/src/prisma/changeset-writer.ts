// Writes one Changeset inside a database transaction the caller opened. Every step
// either succeeds or throws, and a throw rolls the whole transaction back: a stale
// version, a refused row or a lost connection leaves nothing of the changeset stored.
import {
  type AuditEntry,
  type Changeset,
  type Group,
  type Instant,
  type OutboxEffect,
  type Person,
  type Round,
  storageError,
  type VersionedChange,
} from "@susu/domain";
import { toDate } from "./conversions.js";
import type { Prisma } from "./generated/client.js";
import {
  asJson,
  auditRow,
  groupColumns,
  memberRows,
  outboxAggregateOf,
  personColumns,
  roundChildRows,
  roundColumns,
} from "./projections.js";
import { parseGroupSnapshot, parsePerson, parseRoundSnapshot } from "./snapshots.js";
import { classifyDatabaseError, StorageRefusal } from "./storage-errors.js";

type Tx = Prisma.TransactionClient;

/** The stored version of a change: 0 for a new aggregate, one more than the version it was loaded at otherwise. */
export function storedVersion(change: VersionedChange<unknown>): number {
  return change.expectedVersion === undefined ? 0 : change.expectedVersion + 1;
}

const conflict = (aggregate: "group" | "round" | "person", id: string) =>
  new StorageRefusal(storageError.versionConflict(aggregate, id));

/** True when `error` is the unique violation of `table`'s primary key: the row was there already. */
function isPrimaryKeyViolation(error: unknown, table: string): boolean {
  const failure = classifyDatabaseError(error);
  return failure.kind === "unique_violation" && failure.constraint === `${table}_pkey`;
}

// The check the loader runs, run before the save too: in pairs, so a malformed state
// (a NaN amount, a fractional instant) is refused at the door instead of being found
// by the next reader.
function assertStorable(kind: "person", state: Person): void;
function assertStorable(kind: "group", state: Group): void;
function assertStorable(kind: "round", state: Round): void;
function assertStorable(kind: "person" | "group" | "round", state: Person | Group | Round): void {
  const checked =
    kind === "person"
      ? parsePerson(state)
      : kind === "group"
        ? parseGroupSnapshot(state)
        : parseRoundSnapshot(state);
  if (checked.isErr())
    throw new StorageRefusal(storageError.refused(`commit refused ${kind} ${state.id}: ${checked.error}`));
}

async function writePerson(tx: Tx, change: VersionedChange<Person>, at: Instant): Promise<void> {
  const person = change.state;
  assertStorable("person", person);
  const columns = personColumns(person, storedVersion(change), at);
  if (change.expectedVersion === undefined) {
    try {
      await tx.person.create({ data: { id: person.id, ...columns, createdAt: toDate(person.createdAt) } });
    } catch (error) {
      // Someone made this person first (two joins racing): a stale version for the caller.
      if (isPrimaryKeyViolation(error, "people")) throw conflict("person", person.id);
      throw error;
    }
  } else {
    const { count } = await tx.person.updateMany({
      where: { id: person.id, version: change.expectedVersion },
      data: columns,
    });
    if (count !== 1) throw conflict("person", person.id);
  }
}

async function writeGroup(tx: Tx, change: VersionedChange<Group>, at: Instant): Promise<void> {
  const group = change.state;
  assertStorable("group", group);
  const columns = groupColumns(group, storedVersion(change), at);
  if (change.expectedVersion === undefined) {
    try {
      await tx.group.create({ data: { id: group.id, ...columns, createdAt: toDate(at) } });
    } catch (error) {
      // Someone stored this group first: the same as a stale version for the caller.
      if (isPrimaryKeyViolation(error, "groups")) throw conflict("group", group.id);
      throw error;
    }
  } else {
    // The version check and the write are one statement, so no other writer can slip
    // in between; a concurrent writer of the same row waits for our commit, re-reads the
    // version and updates nothing.
    const { count } = await tx.group.updateMany({
      where: { id: group.id, version: change.expectedVersion },
      data: columns,
    });
    if (count !== 1) throw conflict("group", group.id);
  }
  await writeMembers(tx, group, change.expectedVersion === undefined);
}

async function writeMembers(tx: Tx, group: Group, isNew: boolean): Promise<void> {
  const rows = JSON.stringify(memberRows(group));
  if (!isNew) {
    // (group_id, rotation_position) is unique and PostgreSQL checks it row by row, so two
    // members swapping places would collide halfway through the upsert: release first.
    await tx.$executeRaw`
      UPDATE members SET rotation_position = NULL
       WHERE group_id = ${group.id} AND rotation_position IS NOT NULL`;
    await tx.$executeRaw`
      DELETE FROM members
       WHERE group_id = ${group.id}
         AND id NOT IN (SELECT r.id FROM jsonb_to_recordset(${rows}::jsonb) AS r(id text))`;
  }
  // members.id references people: a member's person is written before the group (see
  // writeChangeset), so a member who is no person is refused by the foreign key.
  await tx.$executeRaw`
    INSERT INTO members (group_id, id, display_name, role, status, rotation_position, joined_at)
    SELECT ${group.id}, r.id, r.display_name, r.role, r.status, r.rotation_position, r.joined_at
      FROM jsonb_to_recordset(${rows}::jsonb) AS r(
             id text, display_name text, role member_role, status member_status, rotation_position integer,
             joined_at timestamptz)
    ON CONFLICT (group_id, id) DO UPDATE SET
      display_name = EXCLUDED.display_name,
      role = EXCLUDED.role,
      status = EXCLUDED.status,
      rotation_position = EXCLUDED.rotation_position,
      joined_at = EXCLUDED.joined_at`;
}

async function writeRound(tx: Tx, change: VersionedChange<Round>, at: Instant): Promise<void> {
  const round = change.state;
  assertStorable("round", round);
  const columns = roundColumns(round, storedVersion(change), at);
  if (change.expectedVersion === undefined) {
    try {
      await tx.round.create({ data: { id: round.id, ...columns, createdAt: toDate(at) } });
    } catch (error) {
      if (isPrimaryKeyViolation(error, "rounds")) throw conflict("round", round.id);
      throw error;
    }
  } else {
    const { count } = await tx.round.updateMany({
      where: { id: round.id, version: change.expectedVersion },
      data: columns,
    });
    if (count !== 1) throw conflict("round", round.id);
  }
  await writeRoundChildren(tx, round, change.expectedVersion === undefined);
}

async function writeRoundChildren(tx: Tx, round: Round, isNew: boolean): Promise<void> {
  const rows = roundChildRows(round);
  const contributions = JSON.stringify(rows.contributions);
  const attempts = JSON.stringify(rows.attempts);
  const payouts = JSON.stringify(rows.payouts);
  if (!isNew) {
    // Rows the state no longer has go first, children before parents (the keys restrict
    // deletes). A payout replaced by the next payout attempt is such a row.
    await tx.$executeRaw`
      DELETE FROM payout_transfers
       WHERE round_id = ${round.id}
         AND effect_id NOT IN (SELECT r.effect_id FROM jsonb_to_recordset(${payouts}::jsonb) AS r(effect_id text))`;
    await tx.$executeRaw`
      DELETE FROM contribution_attempts
       WHERE round_id = ${round.id}
         AND (member_id, attempt) NOT IN (
               SELECT r.member_id, r.attempt
                 FROM jsonb_to_recordset(${attempts}::jsonb) AS r(member_id text, attempt integer))`;
    await tx.$executeRaw`
      DELETE FROM contributions
       WHERE round_id = ${round.id}
         AND member_id NOT IN (
               SELECT r.member_id FROM jsonb_to_recordset(${contributions}::jsonb) AS r(member_id text))`;
  }
  await tx.$executeRaw`
    INSERT INTO contributions (round_id, member_id, group_id, currency, amount_minor, status, attempts_count,
                               retry_at, stripe_refund_id)
    SELECT ${round.id}, r.member_id, ${round.groupId}, r.currency, r.amount_minor, r.status, r.attempts_count,
           r.retry_at, r.stripe_refund_id
      FROM jsonb_to_recordset(${contributions}::jsonb) AS r(
             member_id text, currency text, amount_minor bigint, status contribution_status,
             attempts_count integer, retry_at timestamptz, stripe_refund_id text)
    ON CONFLICT (round_id, member_id) DO UPDATE SET
      currency = EXCLUDED.currency,
      amount_minor = EXCLUDED.amount_minor,
      status = EXCLUDED.status,
      attempts_count = EXCLUDED.attempts_count,
      retry_at = EXCLUDED.retry_at,
      stripe_refund_id = EXCLUDED.stripe_refund_id`;
  await tx.$executeRaw`
    INSERT INTO contribution_attempts (round_id, member_id, attempt, effect_id, currency, amount_minor, status,
                                       requested_at, stripe_payment_intent_id, stripe_charge_id, failure_code,
                                       failure_class)
    SELECT ${round.id}, r.member_id, r.attempt, r.effect_id, r.currency, r.amount_minor, r.status,
           r.requested_at, r.stripe_payment_intent_id, r.stripe_charge_id, r.failure_code, r.failure_class
      FROM jsonb_to_recordset(${attempts}::jsonb) AS r(
             member_id text, attempt integer, effect_id text, currency text, amount_minor bigint,
             status attempt_status, requested_at timestamptz, stripe_payment_intent_id text,
             stripe_charge_id text, failure_code text, failure_class failure_class)
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
  await tx.$executeRaw`
    INSERT INTO payout_transfers (round_id, effect_id, source_member_id, source_charge_id, attempt, currency,
                                  amount_minor, status, stripe_transfer_id, failure_code)
    SELECT ${round.id}, r.effect_id, r.source_member_id, r.source_charge_id, r.attempt, r.currency,
           r.amount_minor, r.status, r.stripe_transfer_id, r.failure_code
      FROM jsonb_to_recordset(${payouts}::jsonb) AS r(
             effect_id text, source_member_id text, source_charge_id text, attempt integer, currency text,
             amount_minor bigint, status transfer_status, stripe_transfer_id text, failure_code text)
    ON CONFLICT (effect_id) DO UPDATE SET
      source_member_id = EXCLUDED.source_member_id,
      source_charge_id = EXCLUDED.source_charge_id,
      attempt = EXCLUDED.attempt,
      currency = EXCLUDED.currency,
      amount_minor = EXCLUDED.amount_minor,
      status = EXCLUDED.status,
      stripe_transfer_id = EXCLUDED.stripe_transfer_id,
      failure_code = EXCLUDED.failure_code`;
}

// Effects enter the outbox due at once: the Changeset carries no time, and the effect's
// own time (a timer's `at`) is when its work is due, not when scheduling it is.
const DUE_AT_ONCE = new Date(0);

async function appendOutbox(tx: Tx, effects: readonly OutboxEffect[], at: Instant): Promise<void> {
  // One row per id: later copies in the same changeset are dropped here, copies already
  // stored by ON CONFLICT DO NOTHING (createMany's skipDuplicates). The first copy wins,
  // as in the in-memory store, and the row keeps its place in the dispatch order.
  const seen = new Set<string>();
  const rows: Prisma.OutboxEffectCreateManyInput[] = [];
  for (const effect of effects) {
    if (seen.has(effect.id)) continue;
    seen.add(effect.id);
    const aggregate = outboxAggregateOf(effect);
    rows.push({
      id: effect.id,
      aggregateType: aggregate.type,
      aggregateId: aggregate.id,
      kind: effect.kind,
      payload: asJson(effect),
      availableAt: DUE_AT_ONCE,
      createdAt: toDate(at),
    });
  }
  if (rows.length > 0) await tx.outboxEffect.createMany({ data: rows, skipDuplicates: true });
}

async function appendAudit(tx: Tx, entries: readonly AuditEntry[]): Promise<void> {
  if (entries.length > 0) await tx.auditLogEntry.createMany({ data: entries.map(auditRow) });
}

const byId = <T extends { readonly state: { readonly id: string } }>(a: T, b: T) =>
  a.state.id < b.state.id ? -1 : a.state.id > b.state.id ? 1 : 0;

/**
 * Writes a changeset in the open transaction `tx`: people, then groups (with their
 * members, who must be people), then rounds (with their contributions, attempts and
 * payouts), then the outbox and the audit lines. Throws a {@link StorageRefusal} carrying
 * `version_conflict` when an aggregate's stored version is not the expected one; the
 * caller's transaction then rolls back.
 *
 * Aggregates are written in a fixed order (people, groups, rounds, each by id) so two
 * transactions touching the same rows lock them in the same order and cannot deadlock.
 */
export async function writeChangeset(tx: Tx, changes: Changeset, at: Instant): Promise<void> {
  for (const change of [...changes.people].sort(byId)) await writePerson(tx, change, at);
  for (const change of [...changes.groups].sort(byId)) await writeGroup(tx, change, at);
  for (const change of [...changes.rounds].sort(byId)) await writeRound(tx, change, at);
  await appendOutbox(tx, changes.outbox, at);
  await appendAudit(tx, changes.audit);
}
