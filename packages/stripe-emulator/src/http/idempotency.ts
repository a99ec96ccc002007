import type { StatePart } from "../core/engine.js";

export interface StoredResponse {
  status: number;
  body: string;
  headers: Record<string, string>;
  requestId: string;
}

interface Entry {
  fingerprint: string;
  createdAt: number;
  /** Absent while the first request with this key is still executing. */
  response?: StoredResponse;
}

export type Claim =
  | { kind: "new" }
  | { kind: "replay"; response: StoredResponse }
  | { kind: "in_flight" }
  | { kind: "mismatch" };

/**
 * Idempotency keys, scoped by account as Stripe scopes them. A key is claimed when its first
 * request starts; its response (success or error) is kept for the retention window on the
 * emulator clock; a failure of the parameters' validation releases the key so the caller can
 * fix the request.
 */
export class IdempotencyKeys implements StatePart {
  readonly name = "idempotency";
  private entries = new Map<string, Entry>();

  claim(scope: string, key: string, fingerprint: string, now: number): Claim {
    const id = `${scope} ${key}`;
    const entry = this.entries.get(id);
    if (!entry) {
      this.entries.set(id, { fingerprint, createdAt: now });
      return { kind: "new" };
    }
    if (entry.fingerprint !== fingerprint) return { kind: "mismatch" };
    if (!entry.response) return { kind: "in_flight" };
    return { kind: "replay", response: entry.response };
  }

  complete(scope: string, key: string, response: StoredResponse): void {
    const entry = this.entries.get(`${scope} ${key}`);
    if (entry) entry.response = response;
  }

  release(scope: string, key: string): void {
    this.entries.delete(`${scope} ${key}`);
  }

  prune(now: number, retentionSeconds: number): void {
    for (const [id, entry] of this.entries) {
      if (entry.response && entry.createdAt + retentionSeconds <= now) this.entries.delete(id);
    }
  }

  size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }

  snapshot(): unknown {
    return [...this.entries.entries()].filter(([, e]) => e.response !== undefined);
  }

  restore(value: unknown): void {
    this.entries = new Map(value as Array<[string, Entry]>);
  }
}

/**
 * Parameters compared independently of their order, as Stripe compares them. Sorting the
 * encoded `key=value` pairs is enough: array elements carry their index in the key.
 */
export function fingerprint(method: string, path: string, body: string): string {
  return `${method} ${path} ${body.split("&").sort().join("&")}`;
}
