import type { Clock, StorageError } from "@susu/domain";
import { ResultAsync } from "neverthrow";
import type Stripe from "stripe";
import { SystemClock } from "../clock/system-clock.js";
import { type PrismaClient, runStatement } from "../db/prisma-client.js";
import { wakeNotifierOf } from "../db/wake-notifier.js";
import { storageErrorOf } from "../prisma/storage-errors.js";
import { triageAtIngest } from "./triage.js";

/** The channel notified after a committed ingest that stored an event a processor must work. */
export const WEBHOOK_EVENTS_CHANNEL = "susu_webhook_events";

/** What storing one event did: a new row, or the event was already stored. */
export type ReceiveResult = "stored" | "duplicate";

/** An inbox row as the ingest writes it. */
interface IngestRow {
  readonly id: string;
  readonly type: string;
  readonly livemode: boolean;
  readonly apiVersion: string | null;
  readonly stripeCreatedAt: Date;
  readonly payload: string;
  readonly status: "received" | "ignored";
  readonly outcome: string | null;
  readonly orderingKey: string;
}

/**
 * An event to store, and optionally the JSON text it was parsed from (the signed body):
 * stored as it is (jsonb parses it to the same value), which spares serialising the event
 * again. Give the text only when the event is exactly its parse.
 */
interface IncomingEvent {
  readonly event: Stripe.Event;
  readonly rawBody?: string | undefined;
}

function rowOf({ event, rawBody }: IncomingEvent): IngestRow {
  const triage = triageAtIngest(event);
  return {
    id: event.id,
    type: event.type,
    livemode: event.livemode,
    apiVersion: event.api_version ?? null,
    stripeCreatedAt: new Date(event.created * 1000),
    payload: rawBody ?? JSON.stringify(event),
    status: triage.ignoredReason === undefined ? "received" : "ignored",
    outcome: triage.ignoredReason ?? null,
    orderingKey: triage.orderingKey,
  };
}

// One statement, so one transaction: every row of the batch is durable when it returns, or
// none is. Arrays keep it one prepared statement whatever the batch size: the payloads as
// one json array (their texts joined, no escaping: each is JSON already), zipped with the
// other columns' arrays by position (ROWS FROM); the rest as arrays through unnest.
// A text[] of payloads made node-postgres escape every quote of every body (~15 µs of the
// API's CPU per 1.3 KB event) and PostgreSQL unescape it. The array is json, not jsonb:
// json only checks the text and hands each element over as its text, parsed once into the
// row's jsonb; a jsonb array would be built whole and each element copied out of it
// (about 0.04 ms more of PostgreSQL's CPU per event at 64 clients, bench/ingest-cpu.ts).
// ON CONFLICT (id) DO NOTHING: a repeat delivery, here or racing on another API instance,
// leaves exactly one row. An event ignored at ingest is stored finished (processed_at set),
// so it counts in received = processed + ignored + parked and dedupes its repeats, and no
// claim ever sees it. No NOTIFY here: the processors are woken after the commit, and only
// when a row a processor must work was stored (see WakeNotifier).
const INSERT_EVENTS = `
WITH input AS (
  SELECT * FROM ROWS FROM (
    unnest($1::text[]), unnest($2::text[]), unnest($3::bool[]), unnest($4::text[]),
    unnest($5::timestamptz[]), json_array_elements($6::json), unnest($7::text[]),
    unnest($8::text[]), unnest($9::text[])
  ) AS t(id, type, livemode, api_version, stripe_created_at, payload, status, outcome, ordering_key)
),
inserted AS (
  INSERT INTO webhook_events
    (id, type, livemode, api_version, stripe_created_at, payload, status, attempts,
     next_attempt_at, received_at, outcome, processed_at, ordering_key)
  SELECT id, type, livemode, api_version, stripe_created_at, payload::jsonb,
         status::webhook_event_status, 0, $10::timestamptz, $10::timestamptz, outcome,
         CASE WHEN status = 'ignored' THEN $10::timestamptz END, ordering_key
  FROM input
  ORDER BY id
  ON CONFLICT (id) DO NOTHING
  RETURNING id, status
)
SELECT id, status FROM inserted`;

/**
 * Stores verified events in one transaction; which of them were new. Events must have
 * distinct ids (see {@link receiveAll}). Rows are inserted in id order, so two batches
 * racing over the same ids wait for each other instead of deadlocking.
 */
async function insertDistinct(
  prisma: PrismaClient,
  events: readonly IncomingEvent[],
  now: Date,
): Promise<ReadonlySet<string>> {
  const rows = events.map(rowOf);
  const { rows: inserted } = await runStatement<{ id: string; status: string }>(prisma, {
    name: "webhook_ingest",
    text: INSERT_EVENTS,
    values: [
      rows.map((r) => r.id),
      rows.map((r) => r.type),
      rows.map((r) => r.livemode),
      rows.map((r) => r.apiVersion),
      rows.map((r) => r.stripeCreatedAt),
      `[${rows.map((r) => r.payload).join(",")}]`,
      rows.map((r) => r.status),
      rows.map((r) => r.outcome),
      rows.map((r) => r.orderingKey),
      now,
    ],
  });
  // Committed: wake the processors if a row is theirs to work.
  if (inserted.some((r) => r.status === "received")) wakeNotifierOf(prisma).wake(WEBHOOK_EVENTS_CHANNEL);
  return new Set(inserted.map((r) => r.id));
}

/**
 * Stores verified events in ONE transaction and says, for each (in the same order), whether
 * it was `stored` or a `duplicate` (already stored, or an earlier copy in the same call).
 * Each event is triaged first ({@link triageAtIngest}): its ordering key, and whether it is
 * stored `ignored` at once because it cannot change any state. A failure stores none.
 */
export function receiveAll(
  prisma: PrismaClient,
  events: readonly Stripe.Event[],
  now: Date,
): ResultAsync<readonly ReceiveResult[], StorageError> {
  return receiveIncoming(
    prisma,
    events.map((event) => ({ event })),
    now,
  );
}

/** {@link receiveAll} of events given with the text each was parsed from, when known. */
function receiveIncoming(
  prisma: PrismaClient,
  incoming: readonly IncomingEvent[],
  now: Date,
): ResultAsync<readonly ReceiveResult[], StorageError> {
  const distinct = [...new Map(incoming.map((e) => [e.event.id, e])).values()];
  return ResultAsync.fromPromise(insertDistinct(prisma, distinct, now), (error) =>
    storageErrorOf(error, { operation: "webhook receive" }),
  ).map((stored) => {
    const seen = new Set<string>();
    return incoming.map(({ event: e }): ReceiveResult => {
      const first = !seen.has(e.id);
      seen.add(e.id);
      return first && stored.has(e.id) ? "stored" : "duplicate";
    });
  });
}

/** Settings of {@link BatchingWebhookIngest}. */
export interface WebhookIngestBatching {
  /** Most events in one transaction (default 64). */
  readonly maxBatch?: number;
  /**
   * Longest an event waits for others before its batch is written, in ms (default 0: only
   * those that arrived in the same turn of the event loop, or while every slot was busy).
   */
  readonly maxWaitMs?: number;
  /** Most batches written at once (default 4); more wait, growing up to `maxBatch`. */
  readonly maxInFlight?: number;
  /**
   * Most events waiting for a write (gathered or queued, not those being written) before
   * {@link BatchingWebhookIngest.full} says so (default 4,096: about a second of the
   * endpoint's rate on the 2-core bench machine). The endpoint then refuses new deliveries
   * with a 503 instead of holding them in memory for longer than Stripe waits for an answer.
   */
  readonly maxWaiting?: number;
}

interface Pending {
  readonly event: IncomingEvent;
  readonly resolve: (result: ReceiveResult) => void;
  readonly reject: (error: StorageError) => void;
}

/** Defaults of {@link WebhookIngestBatching}. */
// maxWaitMs 0: a delivery that finds a slot free is written at once, with whatever arrived in
// the same turn; under load the batches grow by themselves, behind the ones in flight. A wait
// only added latency: with the HTTP endpoint on the 2-core machine (bench/webhooks.ts (a),
// 5 s per row, two runs each, alternating), 0 against 2 ms gave 541–688 against 213–244
// events/s with 1 client, 2,375–2,806 against 1,738–2,119 with 16, 3,344–4,278 against
// 2,869–3,084 with 64.
export const DEFAULT_WEBHOOK_INGEST_BATCHING = {
  maxBatch: 64,
  maxWaitMs: 0,
  maxInFlight: 4,
  maxWaiting: 4_096,
} as const;

function positiveInteger(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min)
    throw new RangeError(`${name} must be an integer ≥ ${min}, got ${value}`);
  return value;
}

/**
 * The webhook endpoint's `receive`, grouped: concurrent deliveries are gathered for up to
 * `maxWaitMs` (or until `maxBatch` are waiting) and stored in one transaction
 * ({@link receiveAll}). Each caller's answer comes only once its batch has committed, so a
 * 2xx is never sent for an event that is not durable; a batch that fails fails every
 * caller in it with the storage error (the endpoint answers 503 and Stripe delivers again).
 * Duplicates within a batch or across batches end as one row.
 */
export class BatchingWebhookIngest {
  readonly #maxBatch: number;
  readonly #maxWaitMs: number;
  readonly #maxInFlight: number;
  readonly #maxWaiting: number;
  #gathering: Pending[] = [];
  /** Events in {@link #gathering} and {@link #ready}: waiting for a write. */
  #waiting = 0;
  /** Cancels the pending close of the batch being gathered, if one is scheduled. */
  #cancelClose: (() => void) | undefined;
  /** Full batches waiting for a free slot. */
  readonly #ready: Pending[][] = [];
  #inFlight = 0;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly clock: Clock = new SystemClock(),
    options: WebhookIngestBatching = {},
  ) {
    this.#maxBatch = positiveInteger(
      "maxBatch",
      options.maxBatch ?? DEFAULT_WEBHOOK_INGEST_BATCHING.maxBatch,
      1,
    );
    this.#maxWaitMs = positiveInteger(
      "maxWaitMs",
      options.maxWaitMs ?? DEFAULT_WEBHOOK_INGEST_BATCHING.maxWaitMs,
      0,
    );
    this.#maxInFlight = positiveInteger(
      "maxInFlight",
      options.maxInFlight ?? DEFAULT_WEBHOOK_INGEST_BATCHING.maxInFlight,
      1,
    );
    this.#maxWaiting = positiveInteger(
      "maxWaiting",
      options.maxWaiting ?? DEFAULT_WEBHOOK_INGEST_BATCHING.maxWaiting,
      1,
    );
  }

  /** Events waiting for a write: gathered or queued behind the batches being written. */
  waiting(): number {
    return this.#waiting;
  }

  /**
   * Whether the events waiting reached `maxWaiting`: the database does not keep up, and a
   * delivery taken now would wait behind them. {@link receive} still takes it (nothing is
   * refused here); the endpoint asks first and answers 503, and Stripe delivers it again.
   */
  full(): boolean {
    return this.#waiting >= this.#maxWaiting;
  }

  /**
   * Stores `event` with the next batch. `rawBody`, when given, is the JSON text the event
   * was parsed from (exactly: nothing replaced), stored instead of serialising the event.
   */
  receive(event: Stripe.Event, rawBody?: string): ResultAsync<ReceiveResult, StorageError> {
    const answer = new Promise<ReceiveResult>((resolve, reject) => {
      this.#gathering.push({ event: { event, rawBody }, resolve, reject });
      this.#waiting += 1;
      if (this.#gathering.length >= this.#maxBatch) this.#close();
      else if (this.#cancelClose === undefined) this.#cancelClose = this.#scheduleClose();
    });
    return ResultAsync.fromPromise(answer, (error) => error as StorageError);
  }

  /** Closes the batch after `maxWaitMs`; 0: after this turn of the event loop (setTimeout's 0 is 1 ms). */
  #scheduleClose(): () => void {
    if (this.#maxWaitMs === 0) {
      const immediate = setImmediate(() => this.#close());
      return () => clearImmediate(immediate);
    }
    const timer = setTimeout(() => this.#close(), this.#maxWaitMs);
    return () => clearTimeout(timer);
  }

  /** Ends the batch being gathered: written now if a slot is free, else queued. */
  #close(): void {
    this.#cancelClose?.();
    this.#cancelClose = undefined;
    if (this.#gathering.length === 0) return;
    this.#ready.push(this.#gathering);
    this.#gathering = [];
    this.#pump();
  }

  #pump(): void {
    while (this.#inFlight < this.#maxInFlight) {
      // While every slot was busy, batches queued up: merge them (up to maxBatch) so a
      // backlog is written in fewer, larger transactions.
      const batch = this.#ready.shift();
      if (batch === undefined) return;
      while (this.#ready.length > 0 && batch.length + (this.#ready[0]?.length ?? 0) <= this.#maxBatch)
        batch.push(...(this.#ready.shift() ?? []));
      this.#waiting -= batch.length;
      this.#inFlight += 1;
      void this.#write(batch).finally(() => {
        this.#inFlight -= 1;
        this.#pump();
      });
    }
  }

  async #write(batch: readonly Pending[]): Promise<void> {
    const result = await receiveIncoming(
      this.prisma,
      batch.map((p) => p.event),
      new Date(this.clock.now()),
    );
    if (result.isErr()) {
      // A refusal (a value the database cannot hold) belongs to one event, not to the others
      // gathered with it: write each alone, so only that one is answered 5xx. An outage fails
      // them all at once (a retry alone would fail the same way).
      if (result.error.type !== "storage_refused" || batch.length === 1) {
        for (const p of batch) p.reject(result.error);
        return;
      }
      await Promise.all(batch.map((p) => this.#write([p])));
      return;
    }
    for (const [i, answer] of result.value.entries()) batch[i]?.resolve(answer);
  }
}
