import type { AuditEntry, Changeset, StorageError, UnitOfWork, UseCaseDeps } from "@susu/domain";
import { err, ok, okAsync, type Result, ResultAsync } from "neverthrow";
import type { NamedStatement, OpenTransaction } from "../db/prisma-client.js";
import type { DeferredCommit } from "../prisma/prisma-store.js";
import { storageErrorOf } from "../prisma/storage-errors.js";

/** A unit of work that can leave a commit's transaction open (`PrismaStore.openCommit`). */
export interface OpenCommitStore {
  /**
   * Writes `changes` as `commit` does and leaves the transaction open for the caller to end;
   * `undefined` when it cannot hold one open (the caller then commits as usual).
   */
  openCommit(changes: Changeset): ResultAsync<OpenTransaction | undefined, StorageError>;
  /**
   * `changes` not written yet, to be written with the event's result in one statement
   * (`PrismaStore.deferCommit`); `undefined` when the changeset is not of a shape that can be.
   */
  deferCommit?(changes: Changeset): DeferredCommit | undefined;
}

interface Deferred {
  readonly commit: DeferredCommit;
  readonly changes: Changeset;
}

interface Pending {
  readonly open: OpenTransaction;
  readonly changes: Changeset;
}

/**
 * Writes an event's audit lines and runs its result `statement` as one statement (atomic on
 * its own), answering the statement's rows — so the result of an event whose only write is
 * its audit line needs no transaction of its own and can be written together with other
 * events' (`PrismaWebhookInbox.finishAudited`).
 */
export type AuditedFinish = (
  audit: readonly AuditEntry[],
  statement: NamedStatement,
) => ResultAsync<readonly unknown[], StorageError>;

/** The changeset of an input the aggregate ignored: its audit line(s), nothing else. */
function auditOnly(changes: Changeset): readonly AuditEntry[] | undefined {
  for (const [key, value] of Object.entries(changes)) {
    if (key === "audit" || value === undefined) continue;
    if (!Array.isArray(value) || value.length > 0) return undefined;
  }
  return changes.audit.length > 0 ? changes.audit : undefined;
}

/**
 * The unit of work of one webhook event, which lets the event's result be stored in the
 * transaction of the state it changed (one commit instead of two, and no moment where the
 * state is stored and the result is not).
 *
 * A commit of the use case writes its changeset in a transaction and leaves it open.
 * Before anything else the use case does through the ports this wraps — a read, a
 * provider call, another commit — that transaction is committed, so every read and every
 * later commit sees it, as with an ordinary unit of work; only when the use case has
 * returned with nothing after its last commit does {@link finishWith} run the event's
 * result in that transaction and commit both. A use case that commits twice therefore
 * still has its first commit durable before its second begins: a crash in between leaves
 * the event unrecorded, to be processed again (the domain's apply is idempotent), never
 * recorded with part of its work missing.
 *
 * What the use case is told about a commit is what a commit answers (a stale version, a
 * refused state: nothing stored); a failure of the COMMIT itself comes back from the next
 * operation, or from {@link finishWith}, and leaves neither the state nor the result stored.
 * With an {@link AuditedFinish}, a commit that holds only audit lines (an input the
 * aggregate ignored) is not written at once but kept, and written with the event's result in
 * one statement by {@link finishWith} — or on its own, as any commit, before anything else
 * the use case then does.
 *
 * A commit the store can write in one statement with the event's result (a held payment's
 * change, a change of a round the store loaded: `OpenCommitStore.deferCommit`) is not written
 * at once either: {@link finishWith} writes both in one statement, with no transaction around
 * it; anything else the use case does first writes it on its own, as {@link commit} would have.
 * Its version is then checked only when it is written, after the use case was told it was
 * stored: a stale version (or a round's snapshot other than the one it was loaded with) stores
 * nothing of it, and from then on every operation of this event fails with that
 * `version_conflict` ({@link lost}), its result included, so the event cannot be recorded
 * with the change missing. The caller processes such an event again, from its first read.
 *
 * One event at a time; not shared between events.
 */
export class EventCommits implements UnitOfWork {
  #pending: Pending | undefined;
  /** Audit lines committed by the use case and not written yet (with an {@link AuditedFinish}). */
  #pendingAudit: Changeset | undefined;
  /** A commit not written yet, to be written with the event's result (`OpenCommitStore.deferCommit`). */
  #deferred: Deferred | undefined;
  /** Why a deferred commit was not stored, once one was not: every later operation fails with it. */
  #lost: StorageError | undefined;
  /** Commits, flushes and the finish, one after another. */
  #tail: Promise<unknown> = Promise.resolve();
  #busy = 0;
  readonly #wrapped = new Map<object, object>();
  readonly #wrappedReads = new Map<object, object>();
  /** What the last load of each aggregate read (`get…:<id>`), until it is used or this event commits. */
  readonly #lastRead = new Map<string, { readonly value: unknown }>();
  /** Calls made through the wrapped ports so far (a read is reused only by the very next). */
  #calls = 0;
  /** Commits asked for so far: a read that a commit overtook is not kept. */
  #commits = 0;

  constructor(
    private readonly store: OpenCommitStore,
    /** How a changeset is stored when no transaction can be left open, and again alone when the result is refused. */
    private readonly uow: UnitOfWork,
    private readonly audited?: AuditedFinish,
  ) {}

  commit(changes: Changeset): ResultAsync<void, StorageError> {
    this.#lastRead.clear();
    this.#commits += 1;
    return this.#serial(async (): Promise<Result<void, StorageError>> => {
      const flushed = await this.#flushNow();
      if (flushed.isErr()) return flushed;
      if (this.audited !== undefined && auditOnly(changes) !== undefined) {
        this.#pendingAudit = changes;
        return ok(undefined);
      }
      const deferred = this.store.deferCommit?.(changes);
      if (deferred !== undefined) {
        this.#deferred = { commit: deferred, changes };
        return ok(undefined);
      }
      const opened = await this.store.openCommit(changes);
      if (opened.isErr()) return err(opened.error);
      if (opened.value === undefined) return this.uow.commit(changes);
      this.#pending = { open: opened.value, changes };
      return ok(undefined);
    });
  }

  /** Commits the open transaction, if there is one (a failure: nothing of it was stored). */
  flush(): ResultAsync<void, StorageError> {
    if (
      this.#pending === undefined &&
      this.#pendingAudit === undefined &&
      this.#deferred === undefined &&
      this.#lost === undefined &&
      this.#busy === 0
    )
      return okAsync(undefined);
    return this.#serial(() => this.#flushNow());
  }

  /**
   * Why a commit the use case was told was stored was not (a deferred commit found its
   * aggregate at another version, or failed): then nothing more of this event is stored and
   * every operation fails with this; the event must be processed again. `undefined` otherwise.
   */
  lost(): StorageError | undefined {
    return this.#lost;
  }

  /**
   * Runs `statement` in the transaction of the use case's last commit, when it is still
   * open (or with its deferred commit, in one statement), and commits both: its rows, or
   * `undefined` when no commit was open (`statement` was not run; the caller records the
   * result on its own). When the database refuses the statement, the state is stored alone
   * (as if the result had been recorded on its own) and the refusal returned; any other
   * failure leaves neither stored — a deferred commit's stale version too, which is then
   * {@link lost}.
   */
  finishWith(statement: NamedStatement): ResultAsync<readonly unknown[] | undefined, StorageError> {
    return this.#serial(async (): Promise<Result<readonly unknown[] | undefined, StorageError>> => {
      if (this.#lost !== undefined) return err(this.#lost);
      const deferred = this.#deferred;
      this.#deferred = undefined;
      if (deferred !== undefined) {
        const written = await deferred.commit.withResult(statement);
        if (written.isOk()) return ok(written.value);
        // Not stored (a stale version, a unique rule the change breaks, the database gone):
        // the event is lost, as when a deferred commit written alone fails (#flushNow), and is
        // settled as the use case's failed commit would have been, never left to fail the pass.
        if (written.error.type !== "storage_refused") {
          this.#lost = written.error;
          return err(written.error);
        }
        // As below: the state stored alone, the refusal returned. Refused again (or failing),
        // the state's own failure is what the event is settled with.
        const alone = await this.uow.commit(deferred.changes);
        if (alone.isErr()) {
          this.#lost = alone.error;
          return err(alone.error);
        }
        return err(written.error);
      }
      const audit = this.#pendingAudit;
      this.#pendingAudit = undefined;
      if (audit !== undefined && this.audited !== undefined) {
        const finished = await this.audited(audit.audit, statement);
        if (finished.isOk() || finished.error.type !== "storage_refused") return finished;
        // As below: the audit stored alone, the refusal returned.
        const alone = await this.uow.commit(audit);
        return alone.isErr() ? err(alone.error) : err(finished.error);
      }
      const pending = this.#pending;
      this.#pending = undefined;
      if (pending === undefined) return ok(undefined);
      let rows: readonly unknown[];
      try {
        rows = (await pending.open.run(statement)).rows;
      } catch (error) {
        await pending.open.rollback();
        const refused = storageErrorOf(error, { operation: "webhook record result" });
        if (refused.type !== "storage_refused") return err(refused);
        const alone = await this.uow.commit(pending.changes);
        return alone.isErr() ? err(alone.error) : err(refused);
      }
      try {
        await pending.open.commit();
      } catch (error) {
        return err(storageErrorOf(error, { operation: "commit" }));
      }
      return ok(rows);
    });
  }

  /**
   * `deps` whose repositories and unit of work are this event's: each repository call
   * first commits what is open (so it reads the state the use case stored).
   */
  depsOver(deps: UseCaseDeps): UseCaseDeps {
    return {
      ...deps,
      people: this.#reads(deps.people),
      groups: this.#reads(deps.groups),
      rounds: this.#reads(deps.rounds),
      heldPayments: this.#reads(deps.heldPayments),
      payouts: this.#reads(deps.payouts),
      marketplaceCharges: this.#reads(deps.marketplaceCharges),
      plans: this.#reads(deps.plans),
      subscriptions: this.#reads(deps.subscriptions),
      paymentMethods: this.#reads(deps.paymentMethods),
      audit: this.#reads(deps.audit),
      uow: this,
    };
  }

  /**
   * `target` with each of its methods committing what is open before it runs (they must
   * return a `ResultAsync`; a failed commit is their failure). For the ports a use case
   * reaches besides storage, e.g. the provider's reads: no transaction stays open while
   * the use case waits on something else.
   */
  over<T extends object>(target: T): T {
    return this.#wrap(target, false);
  }

  /**
   * A repository for the use case: as {@link over}, and an aggregate loaded by id (`get…`)
   * is read once for two loads in a row — the second load of the same id, with no other
   * call through these ports and no commit of this event in between, gets what the first
   * read (the use case reads a payment to decide, then loads it again to apply the input).
   * Only the very next call: anything else in between (a provider's read, which lets time
   * pass; another read) forgets it. What the use case then stores is checked against the
   * version it loaded (a change by another writer is a `version_conflict`, and the retry
   * reads again); a decision to ignore is not, which is why nothing may come between.
   */
  #reads<T extends object>(target: T): T {
    return this.#wrap(target, true);
  }

  #wrap<T extends object>(target: T, reuse: boolean): T {
    const wrappers = reuse ? this.#wrappedReads : this.#wrapped;
    const known = wrappers.get(target);
    if (known !== undefined) return known as T;
    const wrapped = new Proxy(target, {
      get: (t, property) => {
        const value: unknown = Reflect.get(t, property, t);
        if (typeof value !== "function") return value;
        const call = value as (...a: unknown[]) => ResultAsync<unknown, unknown>;
        const byId = reuse && typeof property === "string" && property.startsWith("get");
        return (...args: unknown[]) => {
          const key =
            byId && args.length === 1 && typeof args[0] === "string" ? `${property}:${args[0]}` : undefined;
          const read = key !== undefined ? this.#lastRead.get(key) : undefined;
          // Only a load right after its read is answered from it: any other call in between
          // (a provider's read, another repository call) may have let another writer in, and
          // a decision to ignore an input is stored with no version to check it against.
          this.#lastRead.clear();
          this.#calls += 1;
          if (read !== undefined) return okAsync(read.value);
          const commits = this.#commits;
          const thisCall = this.#calls;
          return this.flush().andThen(() =>
            call.apply(t, args).map((value) => {
              // Kept only if nothing else was called or committed meanwhile (calls side by side).
              if (key !== undefined && commits === this.#commits && thisCall === this.#calls)
                this.#lastRead.set(key, { value });
              return value;
            }),
          );
        };
      },
    });
    wrappers.set(target, wrapped);
    return wrapped;
  }

  async #flushNow(): Promise<Result<void, StorageError>> {
    if (this.#lost !== undefined) return err(this.#lost);
    const deferred = this.#deferred;
    this.#deferred = undefined;
    if (deferred !== undefined) {
      // Written alone, as the use case's commit would have been; not stored, it is lost.
      const written = await this.uow.commit(deferred.changes);
      if (written.isErr()) {
        this.#lost = written.error;
        return written;
      }
    }
    const audit = this.#pendingAudit;
    this.#pendingAudit = undefined;
    if (audit !== undefined) {
      const written = await this.uow.commit(audit);
      if (written.isErr()) return written;
    }
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending === undefined) return ok(undefined);
    try {
      await pending.open.commit();
      return ok(undefined);
    } catch (error) {
      return err(storageErrorOf(error, { operation: "commit" }));
    }
  }

  #serial<T>(work: () => Promise<Result<T, StorageError>>): ResultAsync<T, StorageError> {
    this.#busy += 1;
    const run = this.#tail.then(work, work).finally(() => {
      this.#busy -= 1;
    });
    this.#tail = run.catch(() => undefined);
    return new ResultAsync(run);
  }
}
