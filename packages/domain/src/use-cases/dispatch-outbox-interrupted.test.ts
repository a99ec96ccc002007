// A try cut short with no outcome recorded must count as "tried before": its next run passes no
// `createdAt` (the provider looks for what the earlier try made instead of trusting the key
// alone) and `triedBefore` (a written-off transfer reports the unheard try). Two ways a try is
// cut short: the dispatcher's database goes away after the provider call (the next pass gives
// the claim back), or the dispatcher dies mid-call (its lease ends, the next claim takes it).
// The store here keeps `createdAt` as PostgreSQL does, so a first try shows it.
import { errAsync, okAsync, ResultAsync } from "neverthrow";
import { describe, expect, it } from "vitest";
import type { OutboxEffect } from "../ports/outbox-effect.js";
import type { PaymentGateway } from "../ports/payment-gateway.js";
import {
  type Changeset,
  type OutboxRecord,
  type OutboxStore,
  type StorageError,
  storageError,
} from "../ports/storage.js";
import { InMemorySusu } from "../testing/in-memory-susu.js";
import { aReadyPerson } from "../testing/mothers.js";
import type { UseCaseDeps } from "./deps.js";
import { dispatchOutbox } from "./dispatch-outbox.js";

const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };
const LEASE = 60_000;

const transfer = (id: string, recipient: string): OutboxEffect => ({
  kind: "transfer",
  id,
  roundId: "round_1",
  groupId: "grp_1",
  recipientMemberId: recipient,
  sourceMemberId: "ana",
  sourceChargeId: "ch_ana",
  attempt: 1,
  amountMinor: 50_00,
  currency: "AUD",
  transferGroup: "round_round_1",
});

/**
 * A world whose database can go away (`down`: every write fails) and whose gateway records each
 * transfer it is asked for, with the `effectCreatedAt` it was given (absent: a retry), and
 * may go away with the database once it has answered (`downAfter`) or never answer (`hangOn`).
 */
async function world() {
  const susu = new InMemorySusu();
  const createdAt = susu.clock.now();
  (
    await susu.store.commit({
      ...empty,
      people: ["rita", "sam"].map((id) => ({ state: aReadyPerson(id), expectedVersion: undefined })),
      outbox: [transfer("fx_rita", "rita"), transfer("fx_sam", "sam")],
    })
  )._unsafeUnwrap();
  const state = {
    down: false,
    downAfter: undefined as string | undefined,
    hangOn: undefined as string | undefined,
  };
  const asked: { readonly id: string; readonly createdAt: number | undefined }[] = [];
  /** What each claim handed out: effect and whether it failed before. */
  const claimed: [string, boolean][] = [];
  const gone = (): StorageError => storageError.unavailable("connection lost");
  const guard = <T>(run: () => ResultAsync<T, StorageError>): ResultAsync<T, StorageError> =>
    state.down ? errAsync(gone()) : run();
  const gateway = new Proxy(susu.gateway, {
    get(target, name, receiver) {
      if (name === "createTransfer")
        return (input: { idempotencyKey: string; effectCreatedAt?: number }) => {
          asked.push({ id: input.idempotencyKey, createdAt: input.effectCreatedAt });
          if (input.idempotencyKey === state.hangOn)
            return ResultAsync.fromSafePromise(new Promise<never>(() => undefined));
          if (input.idempotencyKey === state.downAfter) state.down = true;
          return okAsync({ transferId: `tr_${input.idempotencyKey}` });
        };
      const value = Reflect.get(target, name, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as PaymentGateway;
  // As the PostgreSQL store does: every claim carries the effect's creation time.
  const outbox: OutboxStore = {
    claimDue: (...args) =>
      guard(() =>
        susu.store.claimDue(...args).map((records) => {
          for (const r of records) claimed.push([r.effect.id, r.failedBefore === true]);
          return records.map((r): OutboxRecord => ({ ...r, createdAt }));
        }),
      ),
    complete: (id, worker) => guard(() => susu.store.complete(id, worker)),
    fail: (...args) => guard(() => susu.store.fail(...args)),
    release: (...args) => guard(() => susu.store.release(...args)),
  };
  const deps: UseCaseDeps = {
    ...susu.deps,
    uow: { commit: (changes) => guard(() => susu.deps.uow.commit(changes)) },
  };
  const ports = { ...susu.ports, gateway };
  const pass = (workerId: string, kept?: { held: Set<string>; started: Set<string> }) =>
    dispatchOutbox(deps, ports, outbox, { workerId, leaseMs: LEASE, ...kept });
  return { susu, state, asked, claimed, createdAt, pass };
}

describe("an outbox try cut short with no outcome recorded", () => {
  it("whose result could not be recorded (the database went away after the call) is given back as tried: its next run is a retry; one never started stays a first try", async () => {
    const w = await world();
    // Rita's transfer goes out, then the database goes away: its result is not recorded, and
    // Sam's (the same round's, next in line) never starts.
    w.state.downAfter = "fx_rita";
    const kept = { held: new Set<string>(), started: new Set<string>() };
    expect((await w.pass("w1", kept)).isErr()).toBe(true);
    expect([...kept.held].sort()).toEqual(["fx_rita", "fx_sam"]);
    expect([...kept.started]).toEqual(["fx_rita"]);

    // The database is back: the next pass gives both back and runs them.
    w.state.down = false;
    w.state.downAfter = undefined;
    expect((await w.pass("w1", kept))._unsafeUnwrap()).toMatchObject({
      released: 2,
      claimed: 2,
      completed: 2,
    });
    expect(kept.held.size + kept.started.size).toBe(0);
    // Claimed again, Rita's says it failed before (the try given back as interrupted); Sam's not.
    expect(w.claimed).toEqual([
      ["fx_rita", false],
      ["fx_sam", false],
      ["fx_rita", true],
      ["fx_sam", false],
    ]);
    expect(w.asked).toEqual([
      { id: "fx_rita", createdAt: w.createdAt },
      // Retried: the provider is to look for the transfer the first try may have made.
      { id: "fx_rita", createdAt: undefined },
      // Never sent before: a first try, trusting the key.
      { id: "fx_sam", createdAt: w.createdAt },
    ]);
  });

  it("cut short by a dispatcher that died mid-call: once its lease ends, the next claim hands it out as tried, and its run is a retry", async () => {
    const w = await world();
    // The first dispatcher's call of Rita's transfer never comes back (killed mid-call).
    w.state.hangOn = "fx_rita";
    void w.pass("dead");
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(w.asked.map((a) => a.id)).toEqual(["fx_rita"]);
    // Under its lease the round is the dead worker's; after it, the next dispatcher's.
    w.state.hangOn = undefined;
    expect((await w.pass("w2"))._unsafeUnwrap().claimed).toBe(0);
    w.susu.clock.advance(LEASE);
    expect((await w.pass("w2"))._unsafeUnwrap()).toMatchObject({ claimed: 2, completed: 2 });
    expect(w.asked).toEqual([
      { id: "fx_rita", createdAt: w.createdAt },
      { id: "fx_rita", createdAt: undefined },
      // Claimed by the dead dispatcher too, but never started: it may not tell, so it is a
      // retry as well (looking first costs a look-up, never a second transfer).
      { id: "fx_sam", createdAt: undefined },
    ]);
  });
});
