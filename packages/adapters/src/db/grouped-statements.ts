import type { StorageError } from "@susu/domain";
import { err, ok, type Result, ResultAsync } from "neverthrow";
import { classifyDatabaseError, storageErrorOf } from "../prisma/storage-errors.js";
import { settledWithin } from "../settled-within.js";

/** How a {@link GroupedStatements} writes (or reads) its items. */
export interface GroupStatement<I, O> {
  /** One item in a statement of its own (also each item of a group the database refused). */
  one(item: I): Promise<O>;
  /** Several items in one statement, atomic on its own: each item's answer, in their order. */
  many(items: readonly I[]): Promise<readonly O[]>;
}

interface Waiting<I, O> {
  readonly item: I;
  /** Names this item's write in its storage errors. */
  readonly operation: string;
  readonly settle: (result: Result<O, StorageError>) => void;
}

/**
 * The options of grouped reads by key: a read still on its way after 200 ms no longer holds
 * back the next group (a read takes a few milliseconds; a stuck one stalls the rest by this
 * much at most), and the reads of a group the database refused are sent again side by side
 * (a read collides with no other transaction, so nothing orders them).
 */
export const GROUPED_READS = { overtakeAfterMs: 200, apartSideBySide: true } as const;

/**
 * Small writes that each could be a statement (and a commit) of their own, written as they
 * come, and those that come while one is being written written together when it returns:
 * one statement and one commit for many, with no wait added when they come one at a time
 * (group commit). Each caller is answered only once its write is committed, as with a
 * statement of its own; a storage failure of a group fails each of its callers with it.
 * When the database refuses a group (`storage_refused`: a value it cannot hold), or the group
 * collides with another transaction (a deadlock, a serialization failure), each item of the
 * group is written on its own, so only the one it refuses is refused.
 *
 * The same serves small reads by key: the keys asked for while one read is on its way are
 * read by one statement when it returns (`many` answers each key in order), each read no
 * older than its call, as a statement of its own would be. Reads pass `overtakeAfterMs`: a
 * statement still on its way after that long (a connection gone silent, a pool with none
 * free) no longer holds back the next group, which is sent beside it; without it one stuck
 * read would stall every read of its kind in the process, where each caller sending its own
 * statement stalled only itself.
 */
export class GroupedStatements<I, O> {
  #waiting: Waiting<I, O>[] = [];
  #writing = false;

  constructor(
    private readonly writer: GroupStatement<I, O>,
    /** Most items one statement writes. */
    private readonly max: number,
    /** Names the write in storage errors. */
    private readonly operation: string,
    private readonly options: {
      /** How long a statement on its way holds back the next group; unset, until it returns. */
      readonly overtakeAfterMs?: number;
      /**
       * The items of a group the database refused are sent again each on its own: side by side
       * when true (reads), one after another otherwise (writes: a group that deadlocked must
       * not deadlock again with itself).
       */
      readonly apartSideBySide?: boolean;
    } = {},
  ) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`max must be a positive integer, got ${max}`);
    const overtake = options.overtakeAfterMs;
    if (overtake !== undefined && !(Number.isInteger(overtake) && overtake > 0))
      throw new RangeError(`overtakeAfterMs must be a positive integer, got ${overtake}`);
  }

  /** Writes (or reads) `item`, alone or with others, `operation` naming it in storage errors (default: the group's). */
  run(item: I, operation: string = this.operation): ResultAsync<O, StorageError> {
    return new ResultAsync(
      new Promise<Result<O, StorageError>>((settle) => {
        this.#waiting.push({ item, operation, settle });
        if (!this.#writing) void this.#drain();
      }),
    );
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#waiting.length > 0) {
        const written = this.#write(this.#waiting.splice(0, this.max));
        await this.#heldBackBy(written);
      }
    } finally {
      this.#writing = false;
    }
  }

  /** Until `written` returns, or for at most `overtakeAfterMs` when set (it goes on; its callers are answered when it returns). */
  #heldBackBy(written: Promise<void>): Promise<void> {
    const overtake = this.options.overtakeAfterMs;
    return overtake === undefined ? written : settledWithin(written, overtake);
  }

  async #write(group: readonly Waiting<I, O>[]): Promise<void> {
    const [only] = group;
    if (group.length === 1 && only !== undefined) return this.#writeOne(only);
    try {
      const answers = await this.writer.many(group.map((w) => w.item));
      if (answers.length !== group.length)
        throw new Error(`a grouped write answered for ${answers.length} of ${group.length} items`);
      group.forEach((w, i) => {
        w.settle(ok(answers[i] as O));
      });
    } catch (error) {
      // Written item by item: what the database refused (only that item is refused then), and
      // a group that collided with another transaction (a deadlock: rows of a group are locked
      // in the order the plan visits them, which the ids' order only usually is).
      const refused = storageErrorOf(error, { operation: this.operation }).type === "storage_refused";
      if (refused || classifyDatabaseError(error).kind === "write_conflict") {
        if (this.options.apartSideBySide === true) await Promise.all(group.map((w) => this.#writeOne(w)));
        else for (const w of group) await this.#writeOne(w);
      } else for (const w of group) w.settle(err(storageErrorOf(error, { operation: w.operation })));
    }
  }

  async #writeOne(w: Waiting<I, O>): Promise<void> {
    try {
      w.settle(ok(await this.writer.one(w.item)));
    } catch (error) {
      w.settle(err(storageErrorOf(error, { operation: w.operation })));
    }
  }
}
