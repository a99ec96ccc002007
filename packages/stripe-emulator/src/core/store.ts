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

/** The value of an indexed field of an object, or null when it has none (not indexed). */
export type IndexKey<T> = (obj: T) => string | null | undefined;

/** A list filter an index can answer: the index's name and the value asked for (unset: no filter). */
export type IndexFilter = readonly [index: string, value: string | undefined];

interface Index {
  key: IndexKey<never>;
  /** `owner` → key value → records, each bucket in creation order. */
  buckets: Map<string, Map<string, StoredRecord[]>>;
  /** The key value each record is indexed under now. */
  indexedAs: Map<string, string>;
}

/**
 * In-memory objects by id, with per-type and per-account creation order for lists, and
 * secondary indexes on the fields lists filter by (a customer's PaymentIntents, a transfer
 * group's transfers), so neither a lookup nor a filtered list walks every object of a type.
 * Objects are stored as the plain Stripe-shaped values the API returns and mutated in place by
 * their resource: every record the store hands out (`record`, `find`, `get`, `insert`,
 * `indexed`) is re-keyed before the next indexed list and again once the synchronous handler
 * that took it has run, so a field changed in place moves to its new bucket without the
 * resource saying so. (`all` is for reading: records reached only through it are not re-keyed.)
 */
export class ObjectStore {
  private seq = 0;
  private readonly byId = new Map<string, StoredRecord>();
  private readonly byType = new Map<string, StoredRecord[]>();
  /** `type` → `owner` → that account's records of the type. */
  private readonly byOwner = new Map<string, Map<string, StoredRecord[]>>();
  /** `type` → index name → index. */
  private readonly indexes = new Map<string, Map<string, Index>>();
  /** Records handed out since they were last re-keyed, whose indexed fields may have changed. */
  private readonly touched = new Set<StoredRecord>();
  private rekeyScheduled = false;
  /** Every indexed list and `indexed` lookup is compared with a walk of all records (tests turn this on). */
  private readonly checkIndexes = process.env.SUSU_EMULATOR_CHECK_INDEXES === "1";

  /**
   * Indexes `type`'s records by `key` (their owner and the key's value), for lists that
   * filter by it (`page(…, by)`) and for `indexed`.
   */
  defineIndex<T>(type: string, name: string, key: IndexKey<T>): void {
    let byName = this.indexes.get(type);
    if (!byName) {
      byName = new Map();
      this.indexes.set(type, byName);
    }
    const index: Index = { key: key as IndexKey<never>, buckets: new Map(), indexedAs: new Map() };
    byName.set(name, index);
    for (const record of this.byType.get(type) ?? []) placeInIndex(index, record);
  }

  insert<T extends { id: string }, M>(type: string, owner: string, obj: T, meta: M): StoredRecord<T, M> {
    const record: StoredRecord<T, M> = { id: obj.id, type, owner, seq: ++this.seq, obj, meta };
    this.add(record);
    this.touch(record);
    return record;
  }

  private add(record: StoredRecord): void {
    this.byId.set(record.id, record);
    appendTo(this.byType, record.type, record);
    let owners = this.byOwner.get(record.type);
    if (!owners) {
      owners = new Map();
      this.byOwner.set(record.type, owners);
    }
    appendTo(owners, record.owner, record);
    for (const index of this.indexes.get(record.type)?.values() ?? []) placeInIndex(index, record);
  }

  record<T = unknown, M = unknown>(id: string): StoredRecord<T, M> | undefined {
    const record = this.byId.get(id);
    if (record) this.touch(record);
    return record as StoredRecord<T, M> | undefined;
  }

  /** The record of `type` with this id if `owner` may see it. */
  find<T, M = unknown>(type: string, id: string, owner: string): StoredRecord<T, M> | undefined {
    const record = this.byId.get(id);
    if (!record || record.type !== type || record.owner !== owner) return undefined;
    this.touch(record);
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

  /** `owner`'s records of `type` whose indexed field is `value`, oldest first. */
  indexed<T, M = unknown>(type: string, owner: string, index: string, value: string): StoredRecord<T, M>[] {
    this.rekeyTouched();
    const { key, buckets } = this.index(type, index);
    const found = [...(buckets.get(owner)?.get(value) ?? [])];
    if (this.checkIndexes) {
      const expected = (this.byType.get(type) ?? []).filter(
        (r) => r.owner === owner && (key(r.obj as never) ?? undefined) === value,
      );
      if (expected.length !== found.length || expected.some((r, i) => r !== found[i]))
        throw new Error(`index of ${type} by ${index} disagrees with its records`);
    }
    for (const record of found) this.touch(record);
    return found as StoredRecord<T, M>[];
  }

  remove(id: string): void {
    const record = this.byId.get(id);
    if (!record) return;
    this.byId.delete(id);
    this.touched.delete(record);
    removeFrom(this.byType.get(record.type), record);
    removeFrom(this.byOwner.get(record.type)?.get(record.owner), record);
    for (const index of this.indexes.get(record.type)?.values() ?? []) takeFromIndex(index, record);
  }

  /** Every record of `type`, oldest first, for reading (see the class comment). */
  all<T, M = unknown>(type: string): readonly StoredRecord<T, M>[] {
    return (this.byType.get(type) ?? []) as StoredRecord<T, M>[];
  }

  /**
   * Newest first, as Stripe lists are; `starting_after` pages towards older objects and
   * `ending_before` towards newer ones. `by` names the indexed filters among the list's (`keep`
   * must check them too): the smallest of their buckets is walked instead of every record.
   */
  page<T, M = unknown>(
    type: string,
    owner: string,
    page: PageRequest,
    keep: (record: StoredRecord<T, M>) => boolean = () => true,
    by: readonly IndexFilter[] = [],
  ): Page<T> {
    const list = this.candidates(type, owner, by) as StoredRecord<T, M>[];
    const result = this.pageOf(list, type, owner, page, keep);
    if (this.checkIndexes) {
      const everything = (this.byType.get(type) ?? []) as StoredRecord<T, M>[];
      const expected = this.pageOf(everything, type, owner, page, keep);
      if (
        expected.has_more !== result.has_more ||
        expected.data.length !== result.data.length ||
        expected.data.some((obj, i) => obj !== result.data[i])
      ) {
        throw new Error(
          `index of ${type} by ${by.map(([name]) => name).join(", ")} disagrees with its records`,
        );
      }
    }
    return result;
  }

  /** The records a list of `owner`'s objects of `type` has to look at, in creation order. */
  private candidates(type: string, owner: string, by: readonly IndexFilter[]): readonly StoredRecord[] {
    let best = this.byOwner.get(type)?.get(owner) ?? [];
    const filters = by.filter((f): f is readonly [string, string] => f[1] !== undefined);
    if (filters.length === 0) return best;
    this.rekeyTouched();
    for (const [name, value] of filters) {
      const bucket = this.index(type, name).buckets.get(owner)?.get(value) ?? [];
      if (bucket.length < best.length) best = bucket;
    }
    return best;
  }

  private pageOf<T, M>(
    list: readonly StoredRecord<T, M>[],
    type: string,
    owner: string,
    page: PageRequest,
    keep: (record: StoredRecord<T, M>) => boolean,
  ): Page<T> {
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

  private index(type: string, name: string): Index {
    const index = this.indexes.get(type)?.get(name);
    if (!index) throw new Error(`no index ${name} on ${type}`);
    return index;
  }

  /** The record may be changed in place by whoever took it: re-keyed later (see the class comment). */
  private touch(record: StoredRecord): void {
    if (!this.indexes.has(record.type)) return;
    this.touched.add(record);
    if (!this.rekeyScheduled) {
      this.rekeyScheduled = true;
      // Handlers run synchronously: by the time this runs, whoever took the records has changed them.
      queueMicrotask(() => {
        this.rekeyScheduled = false;
        this.rekeyTouched();
        this.touched.clear();
      });
    }
  }

  /** Moves touched records whose indexed fields changed to their new buckets (they stay touched). */
  private rekeyTouched(): void {
    for (const record of this.touched) {
      for (const index of this.indexes.get(record.type)?.values() ?? []) {
        if (indexedValue(index, record) === index.indexedAs.get(record.id)) continue;
        takeFromIndex(index, record);
        placeInIndex(index, record);
      }
    }
  }

  clear(): void {
    this.seq = 0;
    this.byId.clear();
    this.byType.clear();
    this.byOwner.clear();
    this.touched.clear();
    for (const byName of this.indexes.values()) {
      for (const index of byName.values()) {
        index.buckets.clear();
        index.indexedAs.clear();
      }
    }
  }

  snapshot(): StoreSnapshot {
    return { seq: this.seq, records: [...this.byId.values()].sort((a, b) => a.seq - b.seq) };
  }

  restore(snapshot: StoreSnapshot): void {
    this.clear();
    for (const record of snapshot.records) this.add(record);
    this.seq = snapshot.seq;
  }
}

function indexedValue(index: Index, record: StoredRecord): string | undefined {
  return index.key(record.obj as never) ?? undefined;
}

function placeInIndex(index: Index, record: StoredRecord): void {
  const value = indexedValue(index, record);
  if (value === undefined) return;
  let values = index.buckets.get(record.owner);
  if (!values) {
    values = new Map();
    index.buckets.set(record.owner, values);
  }
  let bucket = values.get(value);
  if (!bucket) {
    bucket = [];
    values.set(value, bucket);
  }
  // Usually the newest record; one re-keyed into an older bucket goes to its place by creation order.
  if (bucket.length === 0 || bucket[bucket.length - 1]!.seq < record.seq) bucket.push(record);
  else bucket.splice(lowerBound(bucket, record.seq), 0, record);
  index.indexedAs.set(record.id, value);
}

function takeFromIndex(index: Index, record: StoredRecord): void {
  const value = index.indexedAs.get(record.id);
  if (value === undefined) return;
  index.indexedAs.delete(record.id);
  const values = index.buckets.get(record.owner);
  const bucket = values?.get(value);
  removeFrom(bucket, record);
  if (bucket?.length === 0) values?.delete(value);
}

function appendTo(map: Map<string, StoredRecord[]>, key: string, record: StoredRecord): void {
  let list = map.get(key);
  if (!list) {
    list = [];
    map.set(key, list);
  }
  list.push(record);
}

/** Removes a record from a list in creation order (binary search, not a walk). */
function removeFrom(list: StoredRecord[] | undefined, record: StoredRecord): void {
  if (!list) return;
  const i = lowerBound(list, record.seq);
  if (list[i] === record) list.splice(i, 1);
}

/** First index whose seq is >= `seq` (lists are kept in seq order). */
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

/** An index key of a string field (an id, a transfer group, an e-mail); null or an expanded object is not indexed. */
export function stringKey<T>(get: (obj: T) => unknown): IndexKey<T> {
  return (obj) => {
    const value = get(obj);
    return typeof value === "string" ? value : null;
  };
}
