-- Notification endpoints that keep failing are disabled on their own: since when each has
-- failed every send (cleared by a send it accepts), and why a disabled one was disabled (an
-- admin, or its failures). Two nullable columns: existing rows need no rewrite.

-- CreateEnum
CREATE TYPE "notification_endpoint_disabled_reason" AS ENUM ('admin', 'failing');

-- AlterTable
ALTER TABLE "notification_endpoints" ADD COLUMN     "disabled_reason" "notification_endpoint_disabled_reason",
ADD COLUMN     "failing_since" TIMESTAMPTZ(3);

-- Endpoints disabled before this release were disabled by an admin.
UPDATE "notification_endpoints" SET "disabled_reason" = 'admin' WHERE "status" = 'disabled';
