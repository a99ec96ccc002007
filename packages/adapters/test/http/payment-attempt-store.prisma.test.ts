// The payment-attempt limiter's log in PostgreSQL, on the pool of createPrismaClient and on a
// Prisma client without one (the same SQL through Prisma's interactive transaction): an
// admitted attempt is written to its counted buckets only, a refused one writes nothing, a
// repeat is seen as one, the window bounds what is read, and expired rows are deleted.
import { PrismaPg } from "@prisma/adapter-pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PrismaPaymentAttemptStore } from "../../src/http/index.js";
import { PrismaClient } from "../../src/prisma/generated/client.js";
import { createTestDatabase, type TestDatabase } from "../support/test-database.js";

const T = Date.UTC(2026, 5, 1, 12);
const HOUR = 3_600_000;

describe("PrismaPaymentAttemptStore", () => {
  let db: TestDatabase;
  let bare: PrismaClient;

  beforeAll(async () => {
    db = await createTestDatabase();
    bare = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.connectionString }) });
  });
  afterAll(async () => {
    await bare.$disconnect();
    await db.drop();
  });

  for (const [name, client] of [
    ["the pool", () => db.prisma],
    ["a client without a pool", () => bare],
  ] as const) {
    it(`admits, refuses, sees repeats and windows (${name})`, async () => {
      const store = new PrismaPaymentAttemptStore(client());
      const tag = name.length.toString();
      const person = { key: `person:ana${tag}`, windowMs: HOUR, counted: true };
      const failures = { key: `card_failed:fp${tag}`, windowMs: 24 * HOUR, counted: false };
      const admit = (key: string, at: number, allow: boolean) =>
        store.admit(key, [person, failures], at, () => allow);

      expect(await admit("a1", T, true)).toEqual({
        admitted: true,
        logs: [
          { key: failures.key, times: [], repeat: false },
          { key: person.key, times: [], repeat: false },
        ],
      });
      // Refused: nothing written.
      expect((await admit("a2", T + 1_000, false)).admitted).toBe(false);
      const second = await admit("a3", T + 2_000, true);
      expect(second.logs.find((l) => l.key === person.key)).toEqual({
        key: person.key,
        times: [T],
        repeat: false,
      });
      // A repeat of a1 sees itself as a repeat, and a3 in the log; a2 was never written.
      const repeat = await admit("a1", T + 3_000, false);
      expect(repeat.logs.find((l) => l.key === person.key)).toEqual({
        key: person.key,
        times: [T + 2_000],
        repeat: true,
      });
      // An hour after a1, it has left the window.
      const later = await admit("a4", T + HOUR, false);
      expect(later.logs.find((l) => l.key === person.key)?.times).toEqual([T + 2_000]);
      // Not counted buckets are read, never written.
      await store.record(failures.key, "ch_1", T, 7 * 24 * HOUR);
      const withFailure = await admit("a5", T + HOUR, false);
      expect(withFailure.logs.find((l) => l.key === failures.key)?.times).toEqual([T]);

      // a1 and a3 expire an hour after they were admitted; the failure after a week.
      expect(await store.deleteExpired(T + HOUR + 1_000)).toBe(1);
      expect(await store.deleteExpired(T + HOUR + 2_000)).toBe(1);
      expect(await store.deleteExpired(T + 7 * 24 * HOUR)).toBe(1);
      expect(await store.deleteExpired(T + 8 * 24 * HOUR)).toBe(0);
    });
  }
});
