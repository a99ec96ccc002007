/**
 * Escapes an id for use inside a ledger account name: `%` and `:` are percent-encoded
 * (`%` first, so the escapes themselves are not escaped twice), so every account name
 * built from ids parses one way (`round:<r>:pot`, `held:<p>:hold`).
 */
export function accountIdPart(id: string): string {
  return id.replaceAll("%", "%25").replaceAll(":", "%3A");
}
