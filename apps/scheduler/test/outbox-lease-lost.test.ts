// The scheduler's outbox loop on real PostgreSQL with an effect whose claim it loses while it
// runs it (its lease ends mid-run and another dispatcher takes the effect over): the loop's
// completion changes nothing, and it is counted `lease_lost` and logged with the effect's id,
// not counted completed (the dispatcher that took it over completes it, and is counted then).
// Stripe is the emulator through the SDK and the adapter gateway (the effect asks nothing of it).
import { PrismaLedgerStore, PrismaStore, PrismaSupportDesk } from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import {
  type Changeset,
  type EffectPorts,
  MINUTE_MS,
  type OutboxEffect,
  type TimerScheduler,
  useCaseDepsOn,
} from "@susu/domain";
import { RecordingNotifier, SequentialIds } from "@susu/domain/testing";
import { ResultAsync } from "neverthrow";
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type DispatcherLoop, startOutboxDispatcher } from "../src/jobs/outbox-dispatcher.js";
import { createSchedulerMetrics } from "../src/metrics.js";
import { parseScrape } from "./prometheus.js";
import { type EmulatorGateway, startEmulatorGateway } from "./support/emulator.js";

const db = useTestDatabase();

let stripeSide: EmulatorGateway;
beforeAll(async () => {
  stripeSide = await startEmulatorGateway();
});
afterAll(async () => {
  await stripeSide?.emulator.stop();
});
const empty: Changeset = { people: [], groups: [], rounds: [], outbox: [], audit: [] };

const timer = (id: string): OutboxEffect => ({
  kind: "schedule_timer",
  id,
  aggregate: "round",
  aggregateId: `round_${id}`,
  at: Date.now() + 3_600_000,
  timer: { kind: "collection_deadline" },
});

describe("the outbox loop and a claim lost mid-run", () => {
  let dispatcher: DispatcherLoop | undefined;
  afterEach(async () => {
    await dispatcher?.stop();
    dispatcher = undefined;
  });

  it("counts the effect lease_lost and logs it at warn with its id, not completed", async () => {
    const store = new PrismaStore(db.prisma);
    const clock = { now: () => Date.now() };
    const deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    let takenOver = false;
    const timers: TimerScheduler = {
      // The call outlasts the loop's lease (5 minutes): another dispatcher, whose clock is past
      // it, takes the effect over before this one records the result.
      schedule: () =>
        ResultAsync.fromSafePromise(
          (async () => {
            if (takenOver) return;
            const taken = (
              await store.claimDue("other", Date.now() + 5 * MINUTE_MS + 1, MINUTE_MS, 10)
            )._unsafeUnwrap();
            takenOver = taken.some((r) => r.effect.id === "slow");
          })(),
        ),
    };
    const ports: EffectPorts = {
      gateway: stripeSide.gateway,
      notifier: new RecordingNotifier(),
      desk: new PrismaSupportDesk(db.prisma),
      timers,
      ledger: new PrismaLedgerStore(db.prisma),
    };
    await db.prisma.outboxEffect.deleteMany();
    (await store.commit({ ...empty, outbox: [timer("slow")] }))._unsafeUnwrap();
    const metrics = createSchedulerMetrics({ defaultMetrics: false });
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
    dispatcher = startOutboxDispatcher(deps, ports, store, {
      workerId: "loop",
      intervalMs: 20,
      maxBackoffMs: 20,
      log,
      metrics,
    });
    const scraped = async () => parseScrape(await metrics.metrics.text());
    await expect
      .poll(
        async () =>
          (await scraped()).value("susu_outbox_effects_settled_total", {
            kind: "schedule_timer",
            outcome: "lease_lost",
          }),
        { timeout: 10_000 },
      )
      .toBe(1);
    await dispatcher.stop();
    expect(takenOver).toBe(true);
    expect(
      (await scraped()).value("susu_outbox_effects_settled_total", {
        kind: "schedule_timer",
        outcome: "completed",
      }),
    ).toBe(0);
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 40, effectId: "slow", kind: "schedule_timer", outcome: "lease_lost" }),
    );
    // Still the other dispatcher's to settle.
    const row = await db.prisma.outboxEffect.findUniqueOrThrow({ where: { id: "slow" } });
    expect({ status: row.status, claimedBy: row.claimedBy }).toEqual({
      status: "pending",
      claimedBy: "other",
    });
  });
});
