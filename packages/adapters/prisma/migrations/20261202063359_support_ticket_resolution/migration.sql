-- AlterTable
ALTER TABLE "support_tickets" ADD COLUMN     "resolution" TEXT,
ADD COLUMN     "resolved_by" TEXT;
