// Old and new processes side by side (a rolling deploy): a newer susu stores a round with a
// field this code does not know, and this code's dispatcher (the old scheduler) runs an effect
// of that round. The effect must not be lost nor parked as corrupted: it is retried with a
// reason that says so, goes through once a process that can read the round runs it, and is
// parked with that reason and a ticket only when its retries run out. An outbox payload with
// an unknown field is due again later; a payload with a wrong amount is still parked at once.
import { DAY_MS, type EffectPorts, type RetryPolicy, useCaseDepsOn, useCases } from "@susu/domain";
import {
  anActiveGroup,
  FakePaymentGateway,
  InMemoryTimerScheduler,
  ManualClock,
  RecordingNotifier,
  RecordingSupportDesk,
  SequentialIds,
} from "@susu/domain/testing";
import { describe, expect, it } from "vitest";
import { PrismaLedgerStore, PrismaStore } from "../../src/prisma/index.js";
import { storeNewGroup } from "../support/index.js";
import { useTestDatabase } from "../support/test-database.js";

const START = Date.UTC(2026, 0, 6);
const RETRY: RetryPolicy = {
  baseDelayMs: 1_000,
  factor: 1,
  maxDelayMs: 1_000,
  jitter: "none",
  attemptsMax: 3,
};

describe("an older dispatcher meets a round a newer susu stored", () => {
  const db = useTestDatabase();

  async function world(name: string) {
    const clock = new ManualClock(START);
    const store = new PrismaStore(db.prisma, { clock });
    const ledger = new PrismaLedgerStore(db.prisma, { clock });
    const gateway = new FakePaymentGateway(() => clock.now(), 3 * DAY_MS);
    const desk = new RecordingSupportDesk();
    const deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    const ports: EffectPorts = {
      gateway,
      notifier: new RecordingNotifier(),
      desk,
      timers: new InMemoryTimerScheduler(),
      ledger,
    };
    const group = anActiveGroup({
      id: `grp_${name}`,
      memberIds: ["ana", "ben", "cy"].map((m) => `${m}_${name}`),
      startsAt: START,
    });
    await storeNewGroup(store, group);
    const round = (await useCases.startRound(deps, group.id, "scheduler"))._unsafeUnwrap().state;
    // The newer susu's write: the round with a field this code's schema does not have.
    await db.prisma.$executeRawUnsafe(
      `UPDATE rounds SET snapshot = snapshot || '{"addedByNewerSusu": {"note": "x"}}'::jsonb WHERE id = $1`,
      round.id,
    );
    const dispatch = (workerId: string) =>
      useCases.dispatchOutbox(deps, ports, store, { workerId, leaseMs: 60_000, retry: RETRY });
    const debitId = `${round.id}:contribution:${group.members[0]?.id}:attempt:1`;
    const row = () => db.prisma.outboxEffect.findUniqueOrThrow({ where: { id: debitId } });
    return { clock, store, gateway, desk, round, dispatch, debitId, row };
  }

  it("retries the effect with the reason (not parked as corrupted); a process that reads the round completes it", async () => {
    const w = await world("finished");
    (await w.dispatch("old"))._unsafeUnwrap();
    const after = await w.row();
    expect(after.status).toBe("pending");
    expect(after.attempts).toBe(1);
    expect(after.lastError).toMatch(/does not know.*addedByNewerSusu/);
    expect(after.lastError).toMatch(/newer/);
    expect(w.desk.tickets).toEqual([]);
    // Every reader of the round sees the same: retry later (the API answers 503), not corrupted (500).
    expect((await w.store.getRound(w.round.id))._unsafeUnwrapErr()).toMatchObject({
      type: "storage_unavailable",
    });

    // The deploy finishes: a process that reads the round runs the effect again (here: the
    // field gone, as a newer process would read it), with the same key: one debit only.
    await db.prisma.$executeRawUnsafe(
      `UPDATE rounds SET snapshot = snapshot - 'addedByNewerSusu' WHERE id = $1`,
      w.round.id,
    );
    w.clock.advance(1_000);
    (await w.dispatch("new"))._unsafeUnwrap();
    expect((await w.row()).status).toBe("done");
    const debits = [...w.gateway.debits.values()].filter((d) => d.references.attempt === 1);
    expect(new Set(debits.map((d) => d.references.memberId)).size).toBe(debits.length);
    const stored = (await w.store.getRound(w.round.id))._unsafeUnwrap();
    const first = stored?.contributions[0];
    expect(first?.attempts[0]?.paymentIntentId).toBe(
      debits.find((d) => d.references.memberId === first?.memberId)?.paymentIntentId,
    );
  });

  it("an effect whose payload a newer susu wrote is due again later, not parked; a bad amount still parks at once", async () => {
    const w = await world("payload");
    await db.prisma.$executeRawUnsafe(
      `UPDATE rounds SET snapshot = snapshot - 'addedByNewerSusu' WHERE id = $1`,
      w.round.id,
    );
    const [other] = (
      await db.prisma.outboxEffect.findMany({
        where: { aggregateId: w.round.id, id: { not: w.debitId }, kind: "collect_contribution" },
        orderBy: { sequence: "asc" },
        take: 1,
      })
    ).map((r) => r.id);
    if (other === undefined) throw new Error("no second debit");
    await db.prisma.$executeRawUnsafe(
      `UPDATE outbox_effects SET payload = payload || '{"addedByNewerSusu": 1}'::jsonb WHERE id = $1`,
      w.debitId,
    );
    // Not a newer shape: an amount of the wrong type is corrupted, and still refused.
    await db.prisma.$executeRawUnsafe(
      `UPDATE outbox_effects SET payload = jsonb_set(payload, '{amountMinor}', '"500"'::jsonb) WHERE id = $1`,
      other,
    );
    const claimed = (await w.store.claimDue("old", w.clock.now(), 60_000, 100))._unsafeUnwrap();
    expect(claimed.map((r) => r.effect.id)).not.toContain(w.debitId);
    expect(claimed.map((r) => r.effect.id)).not.toContain(other);
    const waiting = await w.row();
    // Postponed without counting an attempt: the newer process keeps its whole retry budget.
    expect(waiting).toMatchObject({ status: "pending", attempts: 0 });
    expect(waiting.availableAt.getTime()).toBe(w.clock.now() + 60_000);
    expect(waiting.lastError).toMatch(/newer version of susu.*addedByNewerSusu/);
    const bad = await db.prisma.outboxEffect.findUniqueOrThrow({ where: { id: other } });
    expect(bad.status).toBe("parked");
    expect(bad.lastError).toMatch(/^malformed payload: .*amountMinor/);

    // A process that reads the payload claims it once it is due.
    await db.prisma.$executeRawUnsafe(
      `UPDATE outbox_effects SET payload = payload - 'addedByNewerSusu' WHERE id = $1`,
      w.debitId,
    );
    w.clock.advance(60_000);
    const again = (await w.store.claimDue("new", w.clock.now(), 60_000, 100))._unsafeUnwrap();
    expect(again.find((r) => r.effect.id === w.debitId)).toMatchObject({ attempts: 0, failedBefore: true });
  });

  it("parks a payload from a newer susu with that reason once it is an hour old, never sooner", async () => {
    const w = await world("payload-aged");
    await db.prisma.$executeRawUnsafe(
      `UPDATE outbox_effects SET payload = payload || '{"addedByNewerSusu": 1}'::jsonb WHERE id = $1`,
      w.debitId,
    );
    for (let minute = 0; minute < 60; minute++) {
      (await w.store.claimDue("old", w.clock.now(), 60_000, 100))._unsafeUnwrap();
      expect(await w.row()).toMatchObject({ status: "pending", attempts: 0 });
      w.clock.advance(60_000);
    }
    (await w.store.claimDue("old", w.clock.now(), 60_000, 100))._unsafeUnwrap();
    const parked = await w.row();
    expect(parked.status).toBe("parked");
    expect(parked.lastError).toMatch(/no newer process ran it within 60 minutes.*addedByNewerSusu/);
  });

  it("parks it with that reason and a ticket once its retries run out (the deploy never finished)", async () => {
    const w = await world("unfinished");
    for (let pass = 0; pass < RETRY.attemptsMax + 1; pass++) {
      (await w.dispatch("old"))._unsafeUnwrap();
      w.clock.advance(1_000);
    }
    const parked = await w.row();
    expect(parked.status).toBe("parked");
    expect(parked.lastError).toMatch(/newer/);
    expect(w.desk.tickets.map((t) => t.id)).toContain(`${w.debitId}:parked`);
  });
});
