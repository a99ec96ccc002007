-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "cadence" AS ENUM ('weekly', 'fortnightly', 'monthly');

-- CreateEnum
CREATE TYPE "payout_order_method" AS ENUM ('fixed', 'join_order', 'seeded_draw');

-- CreateEnum
CREATE TYPE "group_status" AS ENUM ('forming', 'active', 'paused', 'closed');

-- CreateEnum
CREATE TYPE "member_role" AS ENUM ('member', 'admin');

-- CreateEnum
CREATE TYPE "member_status" AS ENUM ('active', 'left', 'removed');

-- CreateEnum
CREATE TYPE "mandate_status" AS ENUM ('none', 'pending', 'active', 'inactive');

-- CreateEnum
CREATE TYPE "round_state" AS ENUM ('scheduled', 'collecting', 'settled', 'paying_out', 'paid_out', 'payout_blocked', 'refunding', 'cancelled');

-- CreateEnum
CREATE TYPE "contribution_status" AS ENUM ('pending', 'processing', 'succeeded', 'failed', 'refunded');

-- CreateEnum
CREATE TYPE "attempt_status" AS ENUM ('pending', 'processing', 'succeeded', 'failed');

-- CreateEnum
CREATE TYPE "failure_class" AS ENUM ('retryable', 'permanent', 'unknown');

-- CreateEnum
CREATE TYPE "transfer_status" AS ENUM ('pending', 'created', 'failed', 'reversed');

-- CreateEnum
CREATE TYPE "refund_status" AS ENUM ('pending', 'requires_action', 'succeeded', 'failed', 'canceled');

-- CreateEnum
CREATE TYPE "ledger_account_kind" AS ENUM ('asset', 'liability', 'revenue', 'expense');

-- CreateEnum
CREATE TYPE "posting_direction" AS ENUM ('debit', 'credit');

-- CreateEnum
CREATE TYPE "outbox_status" AS ENUM ('pending', 'succeeded', 'failed', 'parked');

-- CreateEnum
CREATE TYPE "webhook_event_status" AS ENUM ('received', 'processed', 'ignored', 'failed', 'parked');

-- CreateEnum
CREATE TYPE "support_ticket_status" AS ENUM ('open', 'resolved');

-- CreateEnum
CREATE TYPE "idempotency_key_status" AS ENUM ('in_progress', 'completed');

-- CreateTable
CREATE TABLE "groups" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "currency" CHAR(3) NOT NULL,
    "contribution_amount_minor" BIGINT NOT NULL,
    "cadence" "cadence" NOT NULL,
    "payout_order_method" "payout_order_method" NOT NULL,
    "payout_order" JSONB,
    "status" "group_status" NOT NULL,
    "paused_reason" TEXT,
    "snapshot" JSONB,
    "version" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "groups_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "members" (
    "id" TEXT NOT NULL,
    "group_id" TEXT NOT NULL,
    "user_id" TEXT NOT NULL,
    "display_name" TEXT NOT NULL,
    "email" TEXT,
    "role" "member_role" NOT NULL,
    "status" "member_status" NOT NULL,
    "rotation_position" INTEGER,
    "joined_at" TIMESTAMPTZ(3) NOT NULL,
    "stripe_customer_id" TEXT,
    "becs_payment_method_id" TEXT,
    "mandate_id" TEXT,
    "mandate_status" "mandate_status" NOT NULL DEFAULT 'none',
    "connected_account_id" TEXT,
    "account_details_submitted" BOOLEAN NOT NULL DEFAULT false,
    "account_charges_enabled" BOOLEAN NOT NULL DEFAULT false,
    "account_payouts_enabled" BOOLEAN NOT NULL DEFAULT false,
    "account_disabled_reason" TEXT,
    "account_requirements_due" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "version" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "members_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "rounds" (
    "id" TEXT NOT NULL,
    "group_id" TEXT NOT NULL,
    "number" INTEGER NOT NULL,
    "rotation" INTEGER NOT NULL,
    "recipient_member_id" TEXT NOT NULL,
    "state" "round_state" NOT NULL,
    "currency" CHAR(3) NOT NULL,
    "contribution_amount_minor" BIGINT NOT NULL,
    "collection_deadline_at" TIMESTAMPTZ(3) NOT NULL,
    "transfer_group" TEXT NOT NULL,
    "snapshot" JSONB NOT NULL,
    "version" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "rounds_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "contributions" (
    "id" TEXT NOT NULL,
    "round_id" TEXT NOT NULL,
    "member_id" TEXT NOT NULL,
    "currency" CHAR(3) NOT NULL,
    "amount_minor" BIGINT NOT NULL,
    "status" "contribution_status" NOT NULL,
    "attempts_count" INTEGER NOT NULL DEFAULT 0,
    "succeeded_at" TIMESTAMPTZ(3),
    "version" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "contributions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "contribution_attempts" (
    "id" TEXT NOT NULL,
    "contribution_id" TEXT NOT NULL,
    "round_id" TEXT NOT NULL,
    "member_id" TEXT NOT NULL,
    "attempt" INTEGER NOT NULL,
    "effect_id" TEXT NOT NULL,
    "currency" CHAR(3) NOT NULL,
    "amount_minor" BIGINT NOT NULL,
    "status" "attempt_status" NOT NULL,
    "stripe_payment_intent_id" TEXT,
    "stripe_charge_id" TEXT,
    "failure_code" TEXT,
    "failure_class" "failure_class",
    "next_attempt_at" TIMESTAMPTZ(3),
    "settled_at" TIMESTAMPTZ(3),
    "version" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "contribution_attempts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "payout_transfers" (
    "id" TEXT NOT NULL,
    "round_id" TEXT NOT NULL,
    "recipient_member_id" TEXT NOT NULL,
    "contribution_attempt_id" TEXT NOT NULL,
    "effect_id" TEXT NOT NULL,
    "currency" CHAR(3) NOT NULL,
    "amount_minor" BIGINT NOT NULL,
    "status" "transfer_status" NOT NULL,
    "destination_account_id" TEXT NOT NULL,
    "source_charge_id" TEXT NOT NULL,
    "transfer_group" TEXT NOT NULL,
    "stripe_transfer_id" TEXT,
    "failure_code" TEXT,
    "reversed_amount_minor" BIGINT NOT NULL DEFAULT 0,
    "version" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "payout_transfers_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "refunds" (
    "id" TEXT NOT NULL,
    "round_id" TEXT,
    "contribution_attempt_id" TEXT,
    "effect_id" TEXT NOT NULL,
    "currency" CHAR(3) NOT NULL,
    "amount_minor" BIGINT NOT NULL,
    "reason" TEXT NOT NULL,
    "status" "refund_status" NOT NULL,
    "stripe_charge_id" TEXT NOT NULL,
    "stripe_refund_id" TEXT,
    "failure_reason" TEXT,
    "version" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "refunds_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "disputes" (
    "id" TEXT NOT NULL,
    "stripe_dispute_id" TEXT NOT NULL,
    "stripe_charge_id" TEXT NOT NULL,
    "contribution_attempt_id" TEXT,
    "round_id" TEXT,
    "member_id" TEXT,
    "currency" CHAR(3) NOT NULL,
    "amount_minor" BIGINT NOT NULL,
    "reason" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "evidence_due_by" TIMESTAMPTZ(3),
    "support_ticket_id" TEXT,
    "version" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "disputes_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ledger_accounts" (
    "id" TEXT NOT NULL,
    "kind" "ledger_account_kind" NOT NULL,
    "currency" CHAR(3) NOT NULL,
    "name" TEXT NOT NULL,
    "balance_minor" BIGINT NOT NULL DEFAULT 0,
    "version" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "ledger_accounts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ledger_transactions" (
    "id" TEXT NOT NULL,
    "effect_id" TEXT,
    "aggregate_type" TEXT NOT NULL,
    "aggregate_id" TEXT NOT NULL,
    "description" TEXT NOT NULL,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "ledger_transactions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ledger_postings" (
    "id" BIGSERIAL NOT NULL,
    "transaction_id" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "direction" "posting_direction" NOT NULL,
    "currency" CHAR(3) NOT NULL,
    "amount_minor" BIGINT NOT NULL,

    CONSTRAINT "ledger_postings_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "outbox_effects" (
    "id" TEXT NOT NULL,
    "sequence" BIGSERIAL NOT NULL,
    "aggregate_type" TEXT NOT NULL,
    "aggregate_id" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "status" "outbox_status" NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "available_at" TIMESTAMPTZ(3) NOT NULL,
    "claimed_by" TEXT,
    "claimed_until" TIMESTAMPTZ(3),
    "last_error" TEXT,
    "result" JSONB,
    "correlation_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "completed_at" TIMESTAMPTZ(3),

    CONSTRAINT "outbox_effects_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "webhook_events" (
    "id" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "livemode" BOOLEAN NOT NULL,
    "api_version" TEXT,
    "stripe_created_at" TIMESTAMPTZ(3) NOT NULL,
    "payload" JSONB NOT NULL,
    "status" "webhook_event_status" NOT NULL DEFAULT 'received',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL,
    "claimed_by" TEXT,
    "claimed_until" TIMESTAMPTZ(3),
    "last_error" TEXT,
    "outcome" TEXT,
    "received_at" TIMESTAMPTZ(3) NOT NULL,
    "processed_at" TIMESTAMPTZ(3),

    CONSTRAINT "webhook_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "support_tickets" (
    "id" TEXT NOT NULL,
    "effect_id" TEXT,
    "kind" TEXT NOT NULL,
    "status" "support_ticket_status" NOT NULL DEFAULT 'open',
    "subject" TEXT NOT NULL,
    "details" JSONB NOT NULL,
    "group_id" TEXT,
    "member_id" TEXT,
    "round_id" TEXT,
    "webhook_event_id" TEXT,
    "version" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "resolved_at" TIMESTAMPTZ(3),

    CONSTRAINT "support_tickets_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "audit_log" (
    "id" BIGSERIAL NOT NULL,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL,
    "actor_type" TEXT NOT NULL,
    "actor_id" TEXT,
    "action" TEXT NOT NULL,
    "aggregate_type" TEXT NOT NULL,
    "aggregate_id" TEXT NOT NULL,
    "correlation_id" TEXT,
    "details" JSONB NOT NULL,

    CONSTRAINT "audit_log_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "idempotency_keys" (
    "scope" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "request_method" TEXT NOT NULL,
    "request_path" TEXT NOT NULL,
    "request_hash" TEXT NOT NULL,
    "status" "idempotency_key_status" NOT NULL,
    "response_status" INTEGER,
    "response_body" JSONB,
    "locked_until" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("scope","key")
);

-- CreateIndex
CREATE INDEX "groups_status_idx" ON "groups"("status");

-- CreateIndex
CREATE INDEX "members_stripe_customer_id_idx" ON "members"("stripe_customer_id");

-- CreateIndex
CREATE INDEX "members_mandate_id_idx" ON "members"("mandate_id");

-- CreateIndex
CREATE INDEX "members_connected_account_id_idx" ON "members"("connected_account_id");

-- CreateIndex
CREATE UNIQUE INDEX "members_group_id_user_id_key" ON "members"("group_id", "user_id");

-- CreateIndex
CREATE UNIQUE INDEX "members_group_id_rotation_position_key" ON "members"("group_id", "rotation_position");

-- CreateIndex
CREATE UNIQUE INDEX "rounds_transfer_group_key" ON "rounds"("transfer_group");

-- CreateIndex
CREATE INDEX "rounds_group_id_state_idx" ON "rounds"("group_id", "state");

-- CreateIndex
CREATE INDEX "rounds_state_collection_deadline_at_idx" ON "rounds"("state", "collection_deadline_at");

-- CreateIndex
CREATE UNIQUE INDEX "rounds_group_id_number_key" ON "rounds"("group_id", "number");

-- CreateIndex
CREATE UNIQUE INDEX "rounds_one_payout_per_rotation_key" ON "rounds"("group_id", "rotation", "recipient_member_id") WHERE (state <> 'cancelled');

-- CreateIndex
CREATE INDEX "contributions_member_id_idx" ON "contributions"("member_id");

-- CreateIndex
CREATE UNIQUE INDEX "contributions_round_id_member_id_key" ON "contributions"("round_id", "member_id");

-- CreateIndex
CREATE UNIQUE INDEX "contribution_attempts_effect_id_key" ON "contribution_attempts"("effect_id");

-- CreateIndex
CREATE UNIQUE INDEX "contribution_attempts_stripe_payment_intent_id_key" ON "contribution_attempts"("stripe_payment_intent_id");

-- CreateIndex
CREATE UNIQUE INDEX "contribution_attempts_stripe_charge_id_key" ON "contribution_attempts"("stripe_charge_id");

-- CreateIndex
CREATE INDEX "contribution_attempts_contribution_id_idx" ON "contribution_attempts"("contribution_id");

-- CreateIndex
CREATE INDEX "contribution_attempts_status_idx" ON "contribution_attempts"("status");

-- CreateIndex
CREATE UNIQUE INDEX "contribution_attempts_round_id_member_id_attempt_key" ON "contribution_attempts"("round_id", "member_id", "attempt");

-- CreateIndex
CREATE UNIQUE INDEX "payout_transfers_effect_id_key" ON "payout_transfers"("effect_id");

-- CreateIndex
CREATE UNIQUE INDEX "payout_transfers_stripe_transfer_id_key" ON "payout_transfers"("stripe_transfer_id");

-- CreateIndex
CREATE INDEX "payout_transfers_status_idx" ON "payout_transfers"("status");

-- CreateIndex
CREATE UNIQUE INDEX "payout_transfers_round_id_contribution_attempt_id_key" ON "payout_transfers"("round_id", "contribution_attempt_id");

-- CreateIndex
CREATE UNIQUE INDEX "refunds_effect_id_key" ON "refunds"("effect_id");

-- CreateIndex
CREATE UNIQUE INDEX "refunds_stripe_refund_id_key" ON "refunds"("stripe_refund_id");

-- CreateIndex
CREATE INDEX "refunds_round_id_idx" ON "refunds"("round_id");

-- CreateIndex
CREATE INDEX "refunds_stripe_charge_id_idx" ON "refunds"("stripe_charge_id");

-- CreateIndex
CREATE INDEX "refunds_status_idx" ON "refunds"("status");

-- CreateIndex
CREATE UNIQUE INDEX "disputes_stripe_dispute_id_key" ON "disputes"("stripe_dispute_id");

-- CreateIndex
CREATE INDEX "disputes_stripe_charge_id_idx" ON "disputes"("stripe_charge_id");

-- CreateIndex
CREATE INDEX "disputes_member_id_idx" ON "disputes"("member_id");

-- CreateIndex
CREATE UNIQUE INDEX "ledger_accounts_id_currency_key" ON "ledger_accounts"("id", "currency");

-- CreateIndex
CREATE UNIQUE INDEX "ledger_transactions_effect_id_key" ON "ledger_transactions"("effect_id");

-- CreateIndex
CREATE INDEX "ledger_transactions_aggregate_type_aggregate_id_idx" ON "ledger_transactions"("aggregate_type", "aggregate_id");

-- CreateIndex
CREATE INDEX "ledger_postings_transaction_id_idx" ON "ledger_postings"("transaction_id");

-- CreateIndex
CREATE INDEX "ledger_postings_account_id_idx" ON "ledger_postings"("account_id");

-- CreateIndex
CREATE UNIQUE INDEX "outbox_effects_sequence_key" ON "outbox_effects"("sequence");

-- CreateIndex
CREATE INDEX "outbox_effects_due_idx" ON "outbox_effects"("available_at") WHERE (status = 'pending');

-- CreateIndex
CREATE INDEX "outbox_effects_aggregate_type_aggregate_id_sequence_idx" ON "outbox_effects"("aggregate_type", "aggregate_id", "sequence");

-- CreateIndex
CREATE INDEX "webhook_events_due_idx" ON "webhook_events"("next_attempt_at") WHERE (status = 'received' OR status = 'failed');

-- CreateIndex
CREATE INDEX "webhook_events_type_idx" ON "webhook_events"("type");

-- CreateIndex
CREATE UNIQUE INDEX "support_tickets_effect_id_key" ON "support_tickets"("effect_id");

-- CreateIndex
CREATE INDEX "support_tickets_status_created_at_idx" ON "support_tickets"("status", "created_at");

-- CreateIndex
CREATE INDEX "support_tickets_group_id_idx" ON "support_tickets"("group_id");

-- CreateIndex
CREATE INDEX "audit_log_aggregate_type_aggregate_id_occurred_at_idx" ON "audit_log"("aggregate_type", "aggregate_id", "occurred_at");

-- CreateIndex
CREATE INDEX "audit_log_correlation_id_idx" ON "audit_log"("correlation_id");

-- CreateIndex
CREATE INDEX "idempotency_keys_expires_at_idx" ON "idempotency_keys"("expires_at");

-- AddForeignKey
ALTER TABLE "members" ADD CONSTRAINT "members_group_id_fkey" FOREIGN KEY ("group_id") REFERENCES "groups"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "rounds" ADD CONSTRAINT "rounds_group_id_fkey" FOREIGN KEY ("group_id") REFERENCES "groups"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "rounds" ADD CONSTRAINT "rounds_recipient_member_id_fkey" FOREIGN KEY ("recipient_member_id") REFERENCES "members"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "contributions" ADD CONSTRAINT "contributions_round_id_fkey" FOREIGN KEY ("round_id") REFERENCES "rounds"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "contributions" ADD CONSTRAINT "contributions_member_id_fkey" FOREIGN KEY ("member_id") REFERENCES "members"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "contribution_attempts" ADD CONSTRAINT "contribution_attempts_contribution_id_fkey" FOREIGN KEY ("contribution_id") REFERENCES "contributions"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "contribution_attempts" ADD CONSTRAINT "contribution_attempts_round_id_fkey" FOREIGN KEY ("round_id") REFERENCES "rounds"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "contribution_attempts" ADD CONSTRAINT "contribution_attempts_member_id_fkey" FOREIGN KEY ("member_id") REFERENCES "members"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "payout_transfers" ADD CONSTRAINT "payout_transfers_round_id_fkey" FOREIGN KEY ("round_id") REFERENCES "rounds"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "payout_transfers" ADD CONSTRAINT "payout_transfers_recipient_member_id_fkey" FOREIGN KEY ("recipient_member_id") REFERENCES "members"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "payout_transfers" ADD CONSTRAINT "payout_transfers_contribution_attempt_id_fkey" FOREIGN KEY ("contribution_attempt_id") REFERENCES "contribution_attempts"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "refunds" ADD CONSTRAINT "refunds_round_id_fkey" FOREIGN KEY ("round_id") REFERENCES "rounds"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "refunds" ADD CONSTRAINT "refunds_contribution_attempt_id_fkey" FOREIGN KEY ("contribution_attempt_id") REFERENCES "contribution_attempts"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "disputes" ADD CONSTRAINT "disputes_contribution_attempt_id_fkey" FOREIGN KEY ("contribution_attempt_id") REFERENCES "contribution_attempts"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "disputes" ADD CONSTRAINT "disputes_round_id_fkey" FOREIGN KEY ("round_id") REFERENCES "rounds"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "disputes" ADD CONSTRAINT "disputes_member_id_fkey" FOREIGN KEY ("member_id") REFERENCES "members"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "disputes" ADD CONSTRAINT "disputes_support_ticket_id_fkey" FOREIGN KEY ("support_ticket_id") REFERENCES "support_tickets"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ledger_postings" ADD CONSTRAINT "ledger_postings_transaction_id_fkey" FOREIGN KEY ("transaction_id") REFERENCES "ledger_transactions"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ledger_postings" ADD CONSTRAINT "ledger_postings_account_id_currency_fkey" FOREIGN KEY ("account_id", "currency") REFERENCES "ledger_accounts"("id", "currency") ON DELETE RESTRICT ON UPDATE CASCADE;
