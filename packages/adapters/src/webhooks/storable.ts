// What PostgreSQL's jsonb cannot hold in a Stripe event, and the event without it: the
// webhook route and the restore's catch-up store events through the same inbox.
/**
 * Whether parsed JSON text may hold what PostgreSQL's jsonb refuses: a NUL character (U+0000)
 * or a lone UTF-16 surrogate. JSON writes either only as an escape (`\u0000`, `\ud83d`): a
 * raw control character inside a string does not parse, outside strings only blanks are
 * allowed, and UTF-8 text cannot encode a lone surrogate. A false positive (an escaped
 * backslash before `u0000`, or a surrogate pair written as two escapes) only costs the walk of
 * {@link storableInJsonb}.
 */
export function mayHoldUnstorable(jsonText: string): boolean {
  return jsonText.includes("\\u0000") || SURROGATE_ESCAPE.test(jsonText);
}

const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;
// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * The event with every NUL character (U+0000) and every lone UTF-16 surrogate in its strings
 * and keys replaced by U+FFFD. PostgreSQL's jsonb holds neither, so a signed event carrying one
 * (a customer's name, say) could never be stored: the endpoint would answer 503 and Stripe
 * would retry it until it gave up. The signature was checked on the exact bytes first; only
 * the stored copy differs, and only where PostgreSQL could not hold it anyway. Surrogate pairs
 * (an emoji) are kept.
 */
export function storableInJsonb<T>(value: T): T {
  // Walks without recursion (the project's rule, as the API's input checks): a signed event is
  // bounded in depth by the verifier, but the restore's catch-up stores Stripe's listed events
  // through here too, and a recursive walk of a value nested thousands deep overflows the stack.
  // Each container is copied empty when first met and filled when taken off the stack.
  const pending: [source: object, copy: unknown[] | Record<string, unknown>][] = [];
  const take = (v: unknown): unknown => {
    if (typeof v === "string") return cleanText(v);
    if (typeof v !== "object" || v === null) return v;
    const copy = Array.isArray(v) ? new Array<unknown>(v.length) : {};
    pending.push([v, copy]);
    return copy;
  };
  const result = take(value);
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [source, copy] = next;
    if (Array.isArray(source)) {
      const items = copy as unknown[];
      for (let i = 0; i < source.length; i++) items[i] = take(source[i]);
      continue;
    }
    // Defined, not assigned: a `__proto__` key of parsed JSON stays an own key, as with
    // Object.fromEntries, instead of setting the copy's prototype.
    for (const [key, item] of Object.entries(source))
      Object.defineProperty(copy, cleanText(key), {
        value: take(item),
        enumerable: true,
        writable: true,
        configurable: true,
      });
  }
  return result as T;
}

function cleanText(text: string): string {
  return text.replaceAll("\u0000", "\ufffd").replace(LONE_SURROGATE, "\ufffd");
}
