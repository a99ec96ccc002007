import { createHash } from "node:crypto";

/**
 * A UUID (version 8, "custom") derived from `name`: the same name always gives the same
 * UUID. pg-boss inserts jobs with `ON CONFLICT DO NOTHING`, so using this as the job id
 * makes scheduling the same timer twice create one job.
 */
export function deterministicUuid(name: string): string {
  const bytes = createHash("sha256").update(name).digest().subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x80; // version 8
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80; // RFC 4122 variant
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
