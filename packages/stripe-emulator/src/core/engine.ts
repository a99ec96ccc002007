import type Stripe from "stripe";
import { EventLog, type EventRequestInfo, type StoredEvent } from "./events.js";
import { withoutIncludable } from "./includable.js";
import { BT_AVAILABLE_TASK, Ledger, type LedgerSnapshot } from "./ledger.js";
import type { ResolvedOptions } from "./options.js";
import { MAIN_CLOCK, Scheduler, type SchedulerSnapshot, type Task } from "./scheduler.js";
import { ObjectStore, type StoreSnapshot } from "./store.js";

export type TaskHandler = (ref: string, task: Task) => void;

/** A PaymentIntent reached a final outcome; Checkout and invoices follow their payments through this. */
export type PaymentOutcomeListener = (
  paymentIntentId: string,
  outcome: "succeeded" | "failed" | "processing",
) => void;

export interface EngineSnapshot {
  version: 1;
  store: StoreSnapshot;
  scheduler: SchedulerSnapshot;
  events: { seq: number; events: StoredEvent[] };
  ledger: LedgerSnapshot;
  extra: Record<string, unknown>;
}

/** State kept by a module outside the core (webhook deliveries, idempotency keys), persisted with it. */
export interface StatePart {
  name: string;
  snapshot(): unknown;
  restore(value: unknown): void;
  clear(): void;
}

/**
 * The emulator's state and the services every resource uses: objects, clocks, events and the
 * ledger. Handlers run synchronously, one at a time, so `currentRequest` is the request that
 * caused any event emitted while it is set.
 */
export class Engine {
  readonly store = new ObjectStore();
  readonly scheduler: Scheduler;
  readonly events = new EventLog();
  readonly ledger: Ledger;
  currentRequest: EventRequestInfo | null = null;
  baseUrl = "";
  private readonly taskHandlers = new Map<string, TaskHandler>();
  private readonly eventListeners: Array<(event: StoredEvent) => void> = [];
  private readonly changeListeners: Array<() => void> = [];
  private readonly parts: StatePart[] = [];
  private readonly paymentListeners: PaymentOutcomeListener[] = [];

  constructor(readonly options: ResolvedOptions) {
    this.scheduler = new Scheduler(options.startTime);
    this.ledger = new Ledger(this.store, this.scheduler);
    this.onTask(BT_AVAILABLE_TASK, (ref) => this.ledger.makeAvailable(ref));
  }

  get platform(): string {
    return this.options.platformAccountId;
  }

  now(clock: string = MAIN_CLOCK): number {
    return this.scheduler.now(clock);
  }

  onTask(kind: string, handler: TaskHandler): void {
    this.taskHandlers.set(kind, handler);
  }

  onEvent(listener: (event: StoredEvent) => void): void {
    this.eventListeners.push(listener);
  }

  onPaymentOutcome(listener: PaymentOutcomeListener): void {
    this.paymentListeners.push(listener);
  }

  paymentOutcome(paymentIntentId: string, outcome: "succeeded" | "failed" | "processing"): void {
    for (const listener of this.paymentListeners) listener(paymentIntentId, outcome);
  }

  onChange(listener: () => void): void {
    this.changeListeners.push(listener);
  }

  addPart(part: StatePart): void {
    this.parts.push(part);
  }

  changed(): void {
    for (const listener of this.changeListeners) listener();
  }

  /**
   * Records an event about `object` as it is now. `owner` is the account the object lives
   * on; events on connected accounts carry `account` and go to Connect endpoints.
   */
  emit(
    type: Stripe.Event.Type,
    object: object,
    owner: string,
    options: { previous?: Record<string, unknown>; clock?: string } = {},
  ): StoredEvent {
    const event = this.events.add({
      type,
      created: this.now(options.clock ?? MAIN_CLOCK),
      owner,
      account: owner === this.platform ? null : owner,
      request: this.currentRequest ?? { id: null, idempotency_key: null },
      dataJson: JSON.stringify(withoutIncludable(object)),
      previousJson: options.previous ? JSON.stringify(options.previous) : null,
    });
    for (const listener of this.eventListeners) listener(event);
    return event;
  }

  /** Advances a clock, running what falls due in timestamp order; returns how many tasks ran. */
  advance(clock: string, until: number): number {
    const saved = this.currentRequest;
    this.currentRequest = null;
    try {
      return this.scheduler.advance(clock, until, (task) => {
        const handler = this.taskHandlers.get(task.kind);
        if (handler) handler(task.ref, task);
      });
    } finally {
      this.currentRequest = saved;
    }
  }

  /** Runs tasks already due on the main clock (e.g. with a settlement delay of 0). */
  runDue(): number {
    return this.advance(MAIN_CLOCK, this.now());
  }

  reset(startTime: number): void {
    this.store.clear();
    this.scheduler.clear(startTime);
    this.events.clear();
    this.ledger.clear();
    for (const part of this.parts) part.clear();
  }

  snapshot(): EngineSnapshot {
    const extra: Record<string, unknown> = {};
    for (const part of this.parts) extra[part.name] = part.snapshot();
    return {
      version: 1,
      store: this.store.snapshot(),
      scheduler: this.scheduler.snapshot(),
      events: this.events.snapshot(),
      ledger: this.ledger.snapshot(),
      extra,
    };
  }

  restore(snapshot: EngineSnapshot): void {
    this.store.restore(snapshot.store);
    this.scheduler.restore(snapshot.scheduler);
    this.events.restore(snapshot.events);
    this.ledger.restore(snapshot.ledger);
    for (const part of this.parts) {
      if (part.name in snapshot.extra) part.restore(snapshot.extra[part.name]);
    }
  }
}
