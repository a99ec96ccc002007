// Shared helpers of the HTTP infrastructure tests.
import { Writable } from "node:stream";
import { createLogger, type Logger } from "../../src/http/index.js";

/** A shared secret for HS256 tests (never used outside tests). */
export const SECRET = "test-secret-0123456789-abcdefghijklmnop";

/** A logger whose JSON lines are kept in memory. */
export function captureLogs(): {
  logger: Logger;
  lines: () => Record<string, unknown>[];
  text: () => string;
} {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString("utf8"));
      callback();
    },
  });
  const logger = createLogger({ level: "debug", destination });
  const text = () => chunks.join("");
  return {
    logger,
    text,
    lines: () =>
      text()
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

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
