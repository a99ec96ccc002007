import { resourceMissing } from "../http/errors.js";

/** One stored API object, with the account that owns it and its creation order. */
export interface StoredRecord<T = unknown, M = unknown> {
  id: string;
  type: string;
  owner: string;
  /** Creation order; `created` has one-second resolution and a frozen clock, so lists sort by this. */
  seq: number;
  obj: T;
  /** Emulator-only state that is not part of Stripe's object (test behaviours, links). */
  meta: M;
}

export interface Page<T> {
  data: T[];
  has_more: boolean;
}

export interface PageRequest {
  limit: number;
  startingAfter?: string | undefined;
  endingBefore?: string | undefined;
}

export interface StoreSnapshot {
  seq: number;
  records: StoredRecord[];
}

/**
 * In-memory objects by id, with per-type creation order for lists. Objects are stored as the
 * plain Stripe-shaped values the API returns and mutated in place by their resource.
 */
export class ObjectStore {
  private seq = 0;
  private readonly byId = new Map<string, StoredRecord>();
  private readonly byType = new Map<string, StoredRecord[]>();

  insert<T extends { id: string }, M>(type: string, owner: string, obj: T, meta: M): StoredRecord<T, M> {
    const record: StoredRecord<T, M> = { id: obj.id, type, owner, seq: ++this.seq, obj, meta };
    this.byId.set(obj.id, record);
    let list = this.byType.get(type);
    if (!list) {
      list = [];
      this.byType.set(type, list);
    }
    list.push(record);
    return record;
  }

  record<T = unknown, M = unknown>(id: string): StoredRecord<T, M> | undefined {
    return this.byId.get(id) as StoredRecord<T, M> | undefined;
  }

  /** The record of `type` with this id if `owner` may see it. */
  find<T, M = unknown>(type: string, id: string, owner: string): StoredRecord<T, M> | undefined {
    const record = this.byId.get(id);
    if (!record || record.type !== type || record.owner !== owner) return undefined;
    return record as StoredRecord<T, M>;
  }

  /** Like `find`, but answers Stripe's 404 `resource_missing`. */
  get<T, M = unknown>(
    type: string,
    id: string,
    owner: string,
    objectName = type,
    param = "id",
  ): StoredRecord<T, M> {
    const record = this.find<T, M>(type, id, owner);
    if (!record) throw resourceMissing(objectName, id, param);
    return record;
  }

  remove(id: string): void {
    const record = this.byId.get(id);
    if (!record) return;
    this.byId.delete(id);
    const list = this.byType.get(record.type);
    if (list) {
      const index = list.indexOf(record);
      if (index >= 0) list.splice(index, 1);
    }
  }

  all<T, M = unknown>(type: string): readonly StoredRecord<T, M>[] {
    return (this.byType.get(type) ?? []) as StoredRecord<T, M>[];
  }

  /**
   * Newest first, as Stripe lists are; `starting_after` pages towards older objects and
   * `ending_before` towards newer ones.
   */
  page<T, M = unknown>(
    type: string,
    owner: string,
    page: PageRequest,
    keep: (record: StoredRecord<T, M>) => boolean = () => true,
  ): Page<T> {
    const list = (this.byType.get(type) ?? []) as StoredRecord<T, M>[];
    const matches = (r: StoredRecord<T, M>): boolean => r.owner === owner && keep(r);
    const data: T[] = [];
    if (page.endingBefore !== undefined) {
      const cursor = this.cursor(type, page.endingBefore, owner, "ending_before");
      let i = lowerBound(list, cursor.seq + 1);
      const collected: T[] = [];
      let hasMore = false;
      for (; i < list.length; i++) {
        const r = list[i]!;
        if (!matches(r)) continue;
        if (collected.length === page.limit) {
          hasMore = true;
          break;
        }
        collected.push(r.obj);
      }
      return { data: collected.reverse(), has_more: hasMore };
    }
    let i = list.length - 1;
    if (page.startingAfter !== undefined) {
      const cursor = this.cursor(type, page.startingAfter, owner, "starting_after");
      i = lowerBound(list, cursor.seq) - 1;
    }
    for (; i >= 0; i--) {
      const r = list[i]!;
      if (!matches(r)) continue;
      if (data.length === page.limit) return { data, has_more: true };
      data.push(r.obj);
    }
    return { data, has_more: false };
  }

  private cursor(type: string, id: string, owner: string, param: string): StoredRecord {
    const record = this.byId.get(id);
    if (!record || record.type !== type || record.owner !== owner) throw resourceMissing(type, id, param);
    return record;
  }

  clear(): void {
    this.seq = 0;
    this.byId.clear();
    this.byType.clear();
  }

  snapshot(): StoreSnapshot {
    return { seq: this.seq, records: [...this.byId.values()].sort((a, b) => a.seq - b.seq) };
  }

  restore(snapshot: StoreSnapshot): void {
    this.clear();
    for (const record of snapshot.records) {
      this.byId.set(record.id, record);
      let list = this.byType.get(record.type);
      if (!list) {
        list = [];
        this.byType.set(record.type, list);
      }
      list.push(record);
    }
    this.seq = snapshot.seq;
  }
}

/** First index whose seq is >= `seq` (records are appended in seq order). */
function lowerBound(list: readonly StoredRecord[], seq: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.seq < seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
