-- CreateEnum
CREATE TYPE "notification_channel" AS ENUM ('email', 'webhook');

-- CreateEnum
CREATE TYPE "notification_delivery_status" AS ENUM ('queued', 'sent', 'retrying', 'failed', 'bounced');

-- CreateEnum
CREATE TYPE "notification_endpoint_status" AS ENUM ('enabled', 'disabled');

-- AlterTable
ALTER TABLE "people" ADD COLUMN     "email_bounce_reason" TEXT,
ADD COLUMN     "email_bounced_at" TIMESTAMPTZ(3),
ADD COLUMN     "locale" TEXT,
ADD COLUMN     "muted_notifications" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN     "notify_by_email" BOOLEAN NOT NULL DEFAULT true,
ADD COLUMN     "notify_by_push" BOOLEAN NOT NULL DEFAULT true,
ADD COLUMN     "time_zone" TEXT;

-- CreateTable
CREATE TABLE "notifications" (
    "id" TEXT NOT NULL,
    "template" TEXT NOT NULL,
    "aggregate_type" TEXT NOT NULL,
    "aggregate_id" TEXT NOT NULL,
    "group_id" TEXT,
    "person_ids" TEXT[],
    "roles" TEXT[],
    "data" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "notifications_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "notification_deliveries" (
    "id" TEXT NOT NULL,
    "notification_id" TEXT NOT NULL,
    "channel" "notification_channel" NOT NULL,
    "recipient" TEXT NOT NULL,
    "person_id" TEXT,
    "endpoint_id" TEXT,
    "locale" TEXT,
    "time_zone" TEXT,
    "status" "notification_delivery_status" NOT NULL DEFAULT 'queued',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "last_error" TEXT,
    "last_status_code" INTEGER,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL,
    "claimed_by" TEXT,
    "claimed_until" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "sent_at" TIMESTAMPTZ(3),

    CONSTRAINT "notification_deliveries_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "notification_endpoints" (
    "id" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "description" TEXT,
    "status" "notification_endpoint_status" NOT NULL DEFAULT 'enabled',
    "secret" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "disabled_at" TIMESTAMPTZ(3),
    "rotated_at" TIMESTAMPTZ(3),
    "previous_secret" TEXT,
    "previous_secret_expires_at" TIMESTAMPTZ(3),

    CONSTRAINT "notification_endpoints_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "admin_alerts" (
    "notification_id" TEXT NOT NULL,
    "dedupe_key" TEXT NOT NULL,
    "sent" BOOLEAN NOT NULL,
    "folded_count" INTEGER NOT NULL DEFAULT 0,
    "decided_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "admin_alerts_pkey" PRIMARY KEY ("notification_id")
);

-- CreateIndex
CREATE INDEX "notification_deliveries_due_idx" ON "notification_deliveries"("next_attempt_at") WHERE (status = 'queued' OR status = 'retrying');

-- CreateIndex
CREATE INDEX "notification_deliveries_status_created_at_idx" ON "notification_deliveries"("status", "created_at");

-- CreateIndex
CREATE INDEX "notification_deliveries_endpoint_id_created_at_idx" ON "notification_deliveries"("endpoint_id", "created_at");

-- CreateIndex
CREATE INDEX "notification_deliveries_notification_id_idx" ON "notification_deliveries"("notification_id");

-- CreateIndex
CREATE INDEX "admin_alerts_dedupe_key_decided_at_idx" ON "admin_alerts"("dedupe_key", "decided_at");

-- AddForeignKey
ALTER TABLE "notification_deliveries" ADD CONSTRAINT "notification_deliveries_notification_id_fkey" FOREIGN KEY ("notification_id") REFERENCES "notifications"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "notification_deliveries" ADD CONSTRAINT "notification_deliveries_endpoint_id_fkey" FOREIGN KEY ("endpoint_id") REFERENCES "notification_endpoints"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- A webhook delivery names its endpoint; an e-mail delivery names none.
ALTER TABLE "notification_deliveries" ADD CONSTRAINT "notification_deliveries_endpoint_check"
  CHECK ((channel = 'webhook') = (endpoint_id IS NOT NULL));
ALTER TABLE "notification_deliveries" ADD CONSTRAINT "notification_deliveries_attempts_check"
  CHECK (attempts >= 0);
