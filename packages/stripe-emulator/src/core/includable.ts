/**
 * Fields Stripe leaves out of an object unless a request names them in `expand[]`
 * ("includable"), by object type: `invoice.payments`. Webhook events never include them.
 */
const INCLUDABLE: Record<string, readonly string[]> = { invoice: ["payments"] };

/** Objects made by expansion, with the includable fields the request asked for. */
export type Included = WeakMap<object, Set<string>>;

export function isIncludable(obj: Record<string, unknown>, field: string): boolean {
  return typeof obj.object === "string" && (INCLUDABLE[obj.object]?.includes(field) ?? false);
}

/**
 * A copy of `value` without the includable fields nobody asked for; parts without any are
 * shared, not copied, and stored objects are never changed.
 */
export function withoutIncludable(value: unknown, included?: Included): unknown {
  if (Array.isArray(value)) {
    let changed = false;
    const out = value.map((item) => {
      const next = withoutIncludable(item, included);
      if (next !== item) changed = true;
      return next;
    });
    return changed ? out : value;
  }
  if (typeof value !== "object" || value === null) return value;
  const obj = value as Record<string, unknown>;
  let out: Record<string, unknown> | null = null;
  const hidden = typeof obj.object === "string" ? INCLUDABLE[obj.object] : undefined;
  if (hidden) {
    const asked = included?.get(obj);
    for (const field of hidden) {
      if (field in obj && !asked?.has(field)) {
        out ??= { ...obj };
        delete out[field];
      }
    }
  }
  for (const [key, field] of Object.entries(obj)) {
    if (typeof field !== "object" || field === null || (out && !(key in out))) continue;
    const next = withoutIncludable(field, included);
    if (next !== field) {
      out ??= { ...obj };
      out[key] = next;
    }
  }
  return out ?? obj;
}
