import { INTERRUPTED_BEFORE, INTERRUPTED_NOTE_PREFIX, interruptedTry } from "@susu/domain";

/** Longest error text kept on an outbox row. */
export const OUTBOX_ERROR_MAX_CHARS = 2_000;

/** A SQL string literal of `text`. */
const literal = (text: string): string => `'${text.replaceAll("'", "''")}'`;

/**
 * The SQL expression of one of the domain's {@link interruptedTry} notes, in its words, for
 * the worker named by the SQL expression `claimant` (a column read before the row is changed).
 */
function noteSql(note: (workerId: string) => string, claimant: string): string {
  const mark = "\u0001";
  const [before = "", after = ""] = note(mark).split(mark);
  return `${literal(before)} || ${claimant} || ${literal(after)}`;
}

/** `interruptedTry.leaseExpired` of `claimant`: what the claim and the stuck-work sweep record. */
export const leaseExpiredNote = (claimant: string): string => noteSql(interruptedTry.leaseExpired, claimant);

/** `interruptedTry.workerDied` of `claimant`: what the dead-worker release records. */
export const workerDiedNote = (claimant: string): string => noteSql(interruptedTry.workerDied, claimant);

/**
 * `interruptedTry.over` in SQL: the note (a SQL expression), then the error the row had
 * before it (`previous`, its column read before the row is changed) unless that was itself
 * a note, in which case the error under that note, if any; at most
 * {@link OUTBOX_ERROR_MAX_CHARS} characters.
 */
export function noteOver(note: string, previous: string): string {
  const sep = literal(INTERRUPTED_BEFORE);
  const earlier = `CASE WHEN ${previous} NOT LIKE ${literal(`${INTERRUPTED_NOTE_PREFIX}%`)} THEN ${previous}
                        WHEN strpos(${previous}, ${sep}) > 0
                        THEN substr(${previous}, strpos(${previous}, ${sep}) + ${INTERRUPTED_BEFORE.length}) END`;
  return `left(${note} || coalesce(${sep} || ${earlier}, ''), ${OUTBOX_ERROR_MAX_CHARS})`;
}
