-- A marketplace charge whose payment waited for the customer's action past the policy's
-- time ends `expired` (its PaymentIntent cancelled at Stripe).
ALTER TYPE "marketplace_charge_status" ADD VALUE IF NOT EXISTS 'expired';
