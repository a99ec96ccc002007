/**
 * Escapes an id for use inside a ledger account name: `%` and `:` are percent-encoded
 * (`%` first, so the escapes themselves are not escaped twice), so every account name
 * built from ids parses one way (`round:<r>:pot`, `held:<p>:hold`).
 */
export function accountIdPart(id: string): string {
  return id.replaceAll("%", "%25").replaceAll(":", "%3A");
}

/** Whether `part` is an id as {@link accountIdPart} escapes it: not empty, no `:`, `%` only in `%25` or `%3A`. */
export function isAccountIdPart(part: string): boolean {
  return /^(?:[^:%]|%25|%3A)+$/.test(part);
}

/** The id {@link accountIdPart} escaped into `part` (its inverse). */
export function idOfAccountPart(part: string): string {
  return part.replaceAll("%3A", ":").replaceAll("%25", "%");
}
