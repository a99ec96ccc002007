import { interruptedTry } from "@susu/domain";

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
