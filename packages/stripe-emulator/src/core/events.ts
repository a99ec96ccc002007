import type Stripe from "stripe";
import { newId } from "./ids.js";

export interface EventRequestInfo {
  id: string | null;
  idempotency_key: string | null;
}

/**
 * An event as stored: the object snapshot is kept as JSON text, taken when the event happened,
 * so later changes to the object cannot leak into it and deliveries sign exactly these bytes.
 */
export interface StoredEvent {
  id: string;
  type: Stripe.Event.Type;
  created: number;
  owner: string;
  /** Set when the event happened on a connected account (Connect webhooks carry it). */
  account: string | null;
  seq: number;
  request: EventRequestInfo;
  dataJson: string;
  previousJson: string | null;
  /** Endpoints that have not yet acknowledged the event with a 2xx. */
  pendingWebhooks: number;
}

export interface EventQuery {
  owner: string;
  types?: string[] | undefined;
  createdMatches?: ((created: number) => boolean) | undefined;
  deliverySuccess?: boolean | undefined;
}

export class EventLog {
  private seq = 0;
  private events: StoredEvent[] = [];
  private readonly byId = new Map<string, StoredEvent>();
  /** Each account's events in order, so its list walks only its own. */
  private readonly byOwner = new Map<string, StoredEvent[]>();

  add(input: Omit<StoredEvent, "id" | "seq" | "pendingWebhooks">): StoredEvent {
    const event: StoredEvent = { ...input, id: newId("evt"), seq: ++this.seq, pendingWebhooks: 0 };
    this.keep(event);
    return event;
  }

  private keep(event: StoredEvent): void {
    this.events.push(event);
    this.byId.set(event.id, event);
    let own = this.byOwner.get(event.owner);
    if (!own) {
      own = [];
      this.byOwner.set(event.owner, own);
    }
    own.push(event);
  }

  get(id: string): StoredEvent | undefined {
    return this.byId.get(id);
  }

  all(): readonly StoredEvent[] {
    return this.events;
  }

  /** Newest first, like every Stripe list. */
  page(
    query: EventQuery,
    limit: number,
    startingAfter?: string,
    endingBefore?: string,
  ): { data: StoredEvent[]; has_more: boolean } {
    const events = this.byOwner.get(query.owner) ?? [];
    const keep = (e: StoredEvent): boolean => {
      if (e.owner !== query.owner) return false;
      if (query.types && !query.types.some((t) => typeMatches(t, e.type))) return false;
      if (query.createdMatches && !query.createdMatches(e.created)) return false;
      if (query.deliverySuccess === false && e.pendingWebhooks === 0) return false;
      if (query.deliverySuccess === true && e.pendingWebhooks > 0) return false;
      return true;
    };
    if (endingBefore !== undefined) {
      const cursor = this.byId.get(endingBefore);
      const from = cursor ? firstAfter(events, cursor.seq) : events.length;
      const out: StoredEvent[] = [];
      for (let i = from; i < events.length; i++) {
        const e = events[i]!;
        if (!keep(e)) continue;
        if (out.length === limit) return { data: out.reverse(), has_more: true };
        out.push(e);
      }
      return { data: out.reverse(), has_more: false };
    }
    const cursor = startingAfter !== undefined ? this.byId.get(startingAfter) : undefined;
    let i = cursor ? firstAfter(events, cursor.seq - 1) - 1 : events.length - 1;
    const out: StoredEvent[] = [];
    for (; i >= 0; i--) {
      const e = events[i]!;
      if (!keep(e)) continue;
      if (out.length === limit) return { data: out, has_more: true };
      out.push(e);
    }
    return { data: out, has_more: false };
  }

  clear(): void {
    this.seq = 0;
    this.events = [];
    this.byId.clear();
    this.byOwner.clear();
  }

  snapshot(): { seq: number; events: StoredEvent[] } {
    return { seq: this.seq, events: this.events };
  }

  restore(snapshot: { seq: number; events: StoredEvent[] }): void {
    this.clear();
    this.seq = snapshot.seq;
    for (const event of snapshot.events) this.keep(event);
  }
}

/** Index of the first event whose seq is greater than `seq` (events are kept in seq order). */
function firstAfter(events: readonly StoredEvent[], seq: number): number {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (events[mid]!.seq <= seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Stripe's `type` filter accepts `*` as a wildcard, e.g. `charge.dispute.*`. */
export function typeMatches(pattern: string, type: string): boolean {
  if (pattern === "*" || pattern === type) return true;
  if (!pattern.includes("*")) return false;
  const regex = new RegExp(`^${pattern.split("*").map(escapeRegex).join(".*")}$`);
  return regex.test(type);
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The event's JSON text, exactly the bytes that are signed and delivered. */
export function renderEvent(event: StoredEvent, apiVersion: string): string {
  const previous = event.previousJson !== null ? `,"previous_attributes":${event.previousJson}` : "";
  const account = event.account !== null ? `"account":${JSON.stringify(event.account)},` : "";
  return (
    `{"id":${JSON.stringify(event.id)},"object":"event",${account}"api_version":${JSON.stringify(apiVersion)},` +
    `"created":${event.created},"data":{"object":${event.dataJson}${previous}},"livemode":false,` +
    `"pending_webhooks":${event.pendingWebhooks},"request":${JSON.stringify(event.request)},` +
    `"type":${JSON.stringify(event.type)}}`
  );
}
