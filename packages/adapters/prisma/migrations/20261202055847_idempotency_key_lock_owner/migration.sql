-- AlterTable
ALTER TABLE "idempotency_keys" ADD COLUMN     "locked_by" TEXT,
ADD COLUMN     "response_headers" JSONB;

-- Hand-written (Prisma cannot express CHECK constraints; its differ ignores them).
-- No code wrote this table before the v1 API, so an in-progress row here has no owner that
-- could ever complete it; remove any so the lock constraints below can be added.
DELETE FROM "idempotency_keys" WHERE "status" = 'in_progress';

-- A lock has an owner and an end, or neither; a key is locked exactly while in progress.
ALTER TABLE "idempotency_keys"
  ADD CONSTRAINT "idempotency_keys_lock_check" CHECK (("locked_by" IS NULL) = ("locked_until" IS NULL)),
  ADD CONSTRAINT "idempotency_keys_in_progress_check" CHECK (("status" = 'in_progress') = ("locked_by" IS NOT NULL));
