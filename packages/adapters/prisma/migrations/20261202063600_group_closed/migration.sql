-- AlterEnum
ALTER TYPE "group_status" ADD VALUE 'closed';
