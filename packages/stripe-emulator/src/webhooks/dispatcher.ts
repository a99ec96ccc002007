import http from "node:http";
import https from "node:https";
import type Stripe from "stripe";
import type { Engine, StatePart } from "../core/engine.js";
import { renderEvent, type StoredEvent } from "../core/events.js";
import { newId } from "../core/ids.js";
import type { WebhookChaos } from "../core/options.js";
import { SeededRandom } from "../core/rng.js";
import { signatureHeader } from "./signature.js";

/** How long a delivery socket may sit idle before the emulator closes it (see the agents below). */
const IDLE_SOCKET_MS = 4_000;

/** Emulator-side facts about an endpoint that Stripe's object does not carry. */
export interface EndpointMeta {
  /** Receives events of the platform account. */
  platformEvents: boolean;
  /** Receives events of connected accounts (Stripe's `connect: true`). */
  connectEvents: boolean;
}

export type DeliveryState = "queued" | "in_flight" | "retry_wait" | "succeeded" | "failed";

export interface DeliveryAttempt {
  /** Real time of the attempt, ms since the epoch. */
  at: number;
  status: number | null;
  error: string | null;
  durationMs: number;
}

/** One event on its way to one endpoint; a duplicate (webhook chaos) is a second delivery. */
export interface Delivery {
  id: string;
  seq: number;
  eventId: string;
  eventType: string;
  endpointId: string;
  url: string;
  duplicate: boolean;
  state: DeliveryState;
  attempts: DeliveryAttempt[];
  /** Emulator time of the next retry, while `retry_wait`. */
  nextAttemptAt: number | null;
  /** Real time before which a late (chaos) delivery is held back. */
  lateUntilMs: number | null;
}

export interface FlushResult {
  delivered: number;
  failed: number;
  waitingForRetry: number;
}

/**
 * Delivers events to webhook endpoints, signed as Stripe signs them, one at a time per
 * endpoint by default so they arrive in order unless chaos says otherwise. A non-2xx answer or
 * a timeout is retried after `webhookRetryDelaysSeconds` on the emulator clock (and, if set,
 * on real timers); after the last retry the delivery is `failed` and its event stays in
 * `GET /v1/events?delivery_success=false`.
 */
export class WebhookDispatcher implements StatePart {
  readonly name = "webhooks";
  private seq = 0;
  private deliveries = new Map<string, Delivery>();
  /** Queued deliveries by endpoint, each in queue order (see {@link EndpointQueue}). */
  private readonly queues = new Map<string, EndpointQueue>();
  /** Position in the one queue order across endpoints: deliveries start in this order. */
  private queued = 0;
  /** Deliveries waiting for a retry (`retry_wait`). */
  private readonly retryWaiting = new Set<Delivery>();
  /** One set per `flush` in progress: the deliveries attempted since it began. */
  private readonly attemptedDuringFlush = new Set<Set<Delivery>>();
  private batch: Delivery[] = [];
  private batchScheduled = false;
  private readonly inFlight = new Map<string, number>();
  private readonly undelivered = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly requests = new Set<http.ClientRequest>();
  private idleWaiters: Array<() => void> = [];
  private flushing = 0;
  private chaos: WebhookChaos | null;
  private rng: SeededRandom | null;
  private stopped = false;
  // Idle sockets are closed after 4 s, before a receiver on node's default keepAliveTimeout
  // (5 s) closes them: node's agent keeps them for ever unless told, and a delivery written on
  // a socket just as the receiver closes it fails with ECONNRESET (retried, but a failure the
  // receiver never saw).
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64, timeout: IDLE_SOCKET_MS });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 64, timeout: IDLE_SOCKET_MS });

  constructor(private readonly engine: Engine) {
    this.chaos = engine.options.webhookChaos;
    this.rng = this.chaos ? new SeededRandom(this.chaos.seed) : null;
    engine.onEvent((event) => this.onEvent(event));
  }

  setChaos(chaos: WebhookChaos | null): void {
    this.chaos = chaos;
    this.rng = chaos ? new SeededRandom(chaos.seed) : null;
  }

  getChaos(): WebhookChaos | null {
    return this.chaos;
  }

  list(): Delivery[] {
    return [...this.deliveries.values()].sort((a, b) => a.seq - b.seq);
  }

  private endpointsFor(event: StoredEvent): Array<{ endpoint: Stripe.WebhookEndpoint; meta: EndpointMeta }> {
    const out: Array<{ endpoint: Stripe.WebhookEndpoint; meta: EndpointMeta }> = [];
    for (const record of this.engine.store.all<Stripe.WebhookEndpoint, EndpointMeta>("webhook_endpoint")) {
      const endpoint = record.obj;
      if (endpoint.status !== "enabled") continue;
      const wanted = event.account === null ? record.meta.platformEvents : record.meta.connectEvents;
      if (!wanted) continue;
      if (!endpoint.enabled_events.includes("*") && !endpoint.enabled_events.includes(event.type)) continue;
      out.push({ endpoint, meta: record.meta });
    }
    return out;
  }

  private onEvent(event: StoredEvent): void {
    for (const { endpoint } of this.endpointsFor(event)) {
      event.pendingWebhooks++;
      this.undelivered.add(`${event.id} ${endpoint.id}`);
      this.batch.push(this.newDelivery(event, endpoint, false));
      if (this.rng && this.chaos?.duplicate && this.rng.chance(this.chaos.duplicate)) {
        this.batch.push(this.newDelivery(event, endpoint, true));
      }
    }
    if (this.batch.length > 0 && !this.batchScheduled) {
      this.batchScheduled = true;
      setImmediate(() => this.commitBatch());
    }
  }

  private newDelivery(event: StoredEvent, endpoint: Stripe.WebhookEndpoint, duplicate: boolean): Delivery {
    const delivery: Delivery = {
      id: newId("whdel", 16),
      seq: ++this.seq,
      eventId: event.id,
      eventType: event.type,
      endpointId: endpoint.id,
      url: endpoint.url,
      duplicate,
      state: "queued",
      attempts: [],
      nextAttemptAt: null,
      lateUntilMs: null,
    };
    this.deliveries.set(delivery.id, delivery);
    return delivery;
  }

  /** Events of one request (or one clock step) are queued together, which is where chaos reorders them. */
  private commitBatch(): void {
    this.batchScheduled = false;
    const batch = this.batch;
    this.batch = [];
    const chaos = this.chaos;
    const rng = this.rng;
    if (chaos && rng) {
      if (chaos.outOfOrder && batch.length > 1 && rng.chance(chaos.outOfOrder)) {
        for (let i = batch.length - 1; i > 0; i--) {
          const j = Math.floor(rng.next() * (i + 1));
          [batch[i], batch[j]] = [batch[j]!, batch[i]!];
        }
      }
      if (chaos.late) {
        for (const delivery of batch) {
          if (rng.chance(chaos.late)) {
            delivery.lateUntilMs = Date.now() + (chaos.lateMs ?? 2000);
            this.timer(chaos.lateMs ?? 2000, () => this.pump());
          }
        }
      }
    }
    for (const delivery of batch) this.enqueue(delivery);
    this.pump();
  }

  private enqueue(delivery: Delivery): void {
    let queue = this.queues.get(delivery.endpointId);
    if (!queue) {
      queue = new EndpointQueue();
      this.queues.set(delivery.endpointId, queue);
    }
    queue.push(delivery, ++this.queued);
  }

  private timer(ms: number, fn: () => void): void {
    const handle = setTimeout(() => {
      this.timers.delete(handle);
      fn();
    }, ms);
    handle.unref();
    this.timers.add(handle);
  }

  private isReady(delivery: Delivery, allowLate: boolean): boolean {
    if (delivery.state !== "queued") return false;
    if (delivery.lateUntilMs === null || delivery.lateUntilMs <= Date.now()) return true;
    return allowLate;
  }

  /**
   * Starts every delivery that may go now, oldest first, respecting per-endpoint concurrency.
   * Each endpoint's queue is read from its head only as far as it has free slots (and past
   * late chaos deliveries), so a long queue costs nothing per delivery that finishes.
   */
  pump(): void {
    if (this.stopped) return;
    const limit = this.engine.options.webhookConcurrency;
    const started: Array<{ delivery: Delivery; pass: number; order: number }> = [];
    for (const pass of [false, true]) {
      if (pass && this.flushing === 0) break;
      for (const [endpointId, queue] of this.queues) {
        let busy = this.inFlight.get(endpointId) ?? 0;
        if (busy >= limit) continue;
        queue.take(
          (delivery) => this.isReady(delivery, pass),
          (delivery, order) => {
            busy++;
            delivery.state = "in_flight";
            started.push({ delivery, pass: pass ? 1 : 0, order });
            return busy < limit;
          },
        );
        this.inFlight.set(endpointId, busy);
      }
    }
    // In the one queue order across endpoints, as a single queue would start them.
    started.sort((a, b) => a.pass - b.pass || a.order - b.order);
    for (const { delivery } of started) this.send(delivery);
    this.checkIdle();
  }

  private send(delivery: Delivery): void {
    const event = this.engine.events.get(delivery.eventId);
    const record = this.engine.store.find<Stripe.WebhookEndpoint, EndpointMeta>(
      "webhook_endpoint",
      delivery.endpointId,
      this.engine.platform,
    );
    if (!event || !record?.obj.secret) {
      this.finish(delivery, null, "endpoint or event no longer exists", 0, false);
      return;
    }
    const body = renderEvent(event, record.obj.api_version ?? this.engine.options.apiVersion);
    // Signed with real time: receivers check the timestamp against their own clock.
    const timestamp = Math.floor(Date.now() / 1000);
    const url = new URL(record.obj.url);
    const client = url.protocol === "https:" ? https : http;
    const started = Date.now();
    let settled = false;
    const done = (status: number | null, error: string | null): void => {
      if (settled) return;
      settled = true;
      this.requests.delete(request);
      const ok = status !== null && status >= 200 && status < 300;
      this.finish(delivery, status, error, Date.now() - started, ok);
    };
    const request = client.request(
      url,
      {
        method: "POST",
        agent: url.protocol === "https:" ? this.httpsAgent : this.agent,
        headers: {
          "Content-Type": "application/json; charset=utf-8",
          "Content-Length": Buffer.byteLength(body),
          "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
          "Stripe-Signature": signatureHeader(record.obj.secret, body, timestamp),
          "Cache-Control": "no-cache",
          Accept: "*/*; q=0.5, application/xml",
        },
      },
      (response) => {
        response.resume();
        response.on("end", () => done(response.statusCode ?? null, null));
        response.on("error", (e) => done(response.statusCode ?? null, e.message));
      },
    );
    this.requests.add(request);
    request.setTimeout(this.engine.options.webhookTimeoutMs, () => {
      request.destroy(new Error("timed out"));
    });
    request.on("error", (e) => done(null, e.message));
    request.end(body);
  }

  private finish(
    delivery: Delivery,
    status: number | null,
    error: string | null,
    durationMs: number,
    ok: boolean,
  ): void {
    this.inFlight.set(delivery.endpointId, Math.max(0, (this.inFlight.get(delivery.endpointId) ?? 1) - 1));
    delivery.attempts.push({ at: Date.now(), status, error, durationMs });
    for (const attempted of this.attemptedDuringFlush) attempted.add(delivery);
    this.engine.options.log?.(
      `webhook ${delivery.eventType} ${delivery.eventId} -> ${delivery.url}: ${status ?? error} (attempt ${delivery.attempts.length})`,
    );
    if (ok) {
      delivery.state = "succeeded";
      const pair = `${delivery.eventId} ${delivery.endpointId}`;
      if (this.undelivered.delete(pair)) {
        const event = this.engine.events.get(delivery.eventId);
        if (event) event.pendingWebhooks = Math.max(0, event.pendingWebhooks - 1);
      }
    } else {
      const delays = this.engine.options.webhookRetryDelaysSeconds;
      const retry = delivery.attempts.length - 1;
      if (retry < delays.length && !this.stopped) {
        delivery.state = "retry_wait";
        this.retryWaiting.add(delivery);
        delivery.nextAttemptAt = this.engine.now() + delays[retry]!;
        const realMs = this.engine.options.webhookRealTimeRetryMs;
        if (realMs !== null) this.timer(realMs * 2 ** retry, () => this.requeue(delivery));
      } else {
        delivery.state = "failed";
      }
    }
    this.engine.changed();
    this.pump();
  }

  private requeue(delivery: Delivery): void {
    if (delivery.state !== "retry_wait") return;
    delivery.state = "queued";
    this.retryWaiting.delete(delivery);
    delivery.nextAttemptAt = null;
    this.enqueue(delivery);
    this.pump();
  }

  /** The deliveries waiting for a retry, oldest first. */
  private waitingForRetry(): Delivery[] {
    return [...this.retryWaiting].sort((a, b) => a.seq - b.seq);
  }

  /** The emulator clock moved: retries whose time has come go out. */
  clockAdvanced(): void {
    const now = this.engine.now();
    for (const delivery of this.waitingForRetry()) {
      if (
        delivery.state === "retry_wait" &&
        delivery.nextAttemptAt !== null &&
        delivery.nextAttemptAt <= now
      ) {
        this.requeue(delivery);
      }
    }
  }

  /** Sends every delivery waiting for a retry now, regardless of its backoff. */
  retryNow(): number {
    let count = 0;
    for (const delivery of this.waitingForRetry()) {
      if (delivery.state === "retry_wait") {
        this.requeue(delivery);
        count++;
      }
    }
    return count;
  }

  /**
   * Resolves once nothing is queued or in flight, late (chaos) deliveries included; retries
   * still waiting for their backoff are left waiting and counted.
   */
  async flush(): Promise<FlushResult> {
    const attempted = new Set<Delivery>();
    this.attemptedDuringFlush.add(attempted);
    this.flushing++;
    try {
      if (this.batchScheduled) this.commitBatch();
      await new Promise<void>((resolve) => {
        this.idleWaiters.push(resolve);
        this.pump();
      });
    } finally {
      this.flushing--;
      this.attemptedDuringFlush.delete(attempted);
    }
    let delivered = 0;
    let failed = 0;
    for (const d of attempted) {
      if (d.state === "succeeded") delivered++;
      if (d.state === "failed") failed++;
    }
    return { delivered, failed, waitingForRetry: this.retryWaiting.size };
  }

  private checkIdle(): void {
    if (this.idleWaiters.length === 0) return;
    const busy = [...this.inFlight.values()].some((n) => n > 0);
    const allowLate = this.flushing > 0;
    const ready = [...this.queues.values()].some((q) => q.has((d) => this.isReady(d, allowLate)));
    if (busy || ready || this.batchScheduled) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  stop(): void {
    this.stopped = true;
    for (const handle of this.timers) clearTimeout(handle);
    this.timers.clear();
    for (const request of this.requests) request.destroy();
    this.requests.clear();
    this.agent.destroy();
    this.httpsAgent.destroy();
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  clear(): void {
    for (const handle of this.timers) clearTimeout(handle);
    this.timers.clear();
    this.deliveries.clear();
    this.queues.clear();
    this.retryWaiting.clear();
    this.batch = [];
    this.undelivered.clear();
    this.rng = this.chaos ? new SeededRandom(this.chaos.seed) : null;
  }

  snapshot(): unknown {
    return {
      seq: this.seq,
      deliveries: this.list().filter((d) => d.state !== "succeeded"),
      undelivered: [...this.undelivered],
    };
  }

  restore(value: unknown): void {
    const snapshot = value as { seq: number; deliveries: Delivery[]; undelivered: string[] };
    this.clear();
    this.seq = snapshot.seq;
    for (const delivery of snapshot.deliveries) {
      if (delivery.state === "in_flight") delivery.state = "queued";
      this.deliveries.set(delivery.id, delivery);
      if (delivery.state === "queued") this.enqueue(delivery);
      if (delivery.state === "retry_wait") this.retryWaiting.add(delivery);
    }
    for (const pair of snapshot.undelivered) this.undelivered.add(pair);
  }
}

/**
 * One endpoint's queued deliveries in queue order. Deliveries start from the head, so taking
 * them is a step of `head`; a late (chaos) delivery that others overtake is passed over and
 * the one taken behind it spliced out. The array is compacted once most of it is taken.
 */
class EndpointQueue {
  private items: Array<{ delivery: Delivery; order: number }> = [];
  private head = 0;

  push(delivery: Delivery, order: number): void {
    this.items.push({ delivery, order });
  }

  /** Hands `start` each ready delivery in order (removing it) while it answers true. */
  take(ready: (delivery: Delivery) => boolean, start: (delivery: Delivery, order: number) => boolean): void {
    let i = this.head;
    while (i < this.items.length) {
      const item = this.items[i]!;
      if (!ready(item.delivery)) {
        i++;
        continue;
      }
      if (i === this.head) {
        this.head++;
        i++;
      } else {
        this.items.splice(i, 1);
      }
      if (!start(item.delivery, item.order)) break;
    }
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  has(ready: (delivery: Delivery) => boolean): boolean {
    for (let i = this.head; i < this.items.length; i++) if (ready(this.items[i]!.delivery)) return true;
    return false;
  }
}
