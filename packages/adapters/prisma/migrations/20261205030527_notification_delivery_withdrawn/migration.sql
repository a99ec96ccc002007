-- A delivery that was not sent because the person was gone, switched the message off, or
-- moved to another address before it went out: not a failure (the failing-deliveries alert
-- counts only failed ones).

-- AlterEnum
ALTER TYPE "notification_delivery_status" ADD VALUE 'withdrawn';
