// The queues' tables (migration 20261206104500_queue_tables_vacuum): vacuumed after a fixed
// number of dead rows whatever their size, their indexes always cleaned, so the entries their
// worked rows leave in the claims' partial indexes do not pile up as the tables grow (the
// measurement is in the migration).
import { describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/index.js";

const db = useTestDatabase();

describe("the queues' tables", () => {
  it.each(["webhook_events", "outbox_effects", "notification_deliveries"])(
    "%s is vacuumed after 10,000 dead rows whatever its size, indexes included",
    async (table) => {
      const [row] = await db.prisma.$queryRawUnsafe<{ options: string[] | null }[]>(
        "SELECT reloptions AS options FROM pg_class WHERE oid = $1::regclass",
        table,
      );
      expect(new Set(row?.options ?? [])).toEqual(
        new Set([
          ...(table === "outbox_effects" ? ["fillfactor=70"] : []),
          "autovacuum_vacuum_scale_factor=0",
          "autovacuum_vacuum_threshold=10000",
          "vacuum_index_cleanup=on",
        ]),
      );
    },
  );
});
