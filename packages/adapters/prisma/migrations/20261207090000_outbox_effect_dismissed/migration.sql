-- An outbox effect that was parked and that an operator set aside for good
-- (`POST /v1/operations/outbox/{effectId}/dismiss`): terminal, never claimed or run, not done.
-- Alone in its file: a value added to an enum cannot be used in the transaction that adds it,
-- so the partial index on it is the next migration.

-- AlterEnum
ALTER TYPE "outbox_status" ADD VALUE 'dismissed';
