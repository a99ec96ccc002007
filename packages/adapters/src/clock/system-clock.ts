import { randomUUID } from "node:crypto";
import type { Clock, IdGenerator } from "@susu/domain";

/** The machine's clock. */
export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }
}

/** Random, unguessable ids: `grp_3f9c…` (a UUID v4 without dashes). */
export class RandomIds implements IdGenerator {
  newId(prefix: string): string {
    return `${prefix}_${randomUUID().replaceAll("-", "")}`;
  }
}
