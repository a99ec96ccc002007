-- Where a scheduler job that pages through a table goes on from, shared by every scheduler
-- and kept across restarts (the due-round cron's keyset cursor). A new, empty table: no lock
-- on anything else.

-- CreateTable
CREATE TABLE "scheduler_cursors" (
    "name" TEXT NOT NULL,
    "cursor" JSONB NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "scheduler_cursors_pkey" PRIMARY KEY ("name")
);
