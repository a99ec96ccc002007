// Shared helpers of the HTTP infrastructure tests.

/** A shared secret for HS256 tests (never used outside tests). */
export const SECRET = "test-secret-0123456789-abcdefghijklmnop";

/** JSON request options. */
export function jsonRequest(
  method: string,
  body: unknown,
  headers: Record<string, string> = {},
): RequestInit {
  return {
    method,
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  };
}
