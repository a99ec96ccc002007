-- AlterTable
ALTER TABLE "people" ADD COLUMN     "email" TEXT;
