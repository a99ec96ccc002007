-- Reconciliation reads the ledger transactions of one period (the daily job: yesterday; at
-- most 31 days) by occurred_at. No index had that column, so every run scanned the whole of
-- ledger_transactions: a run's cost grew with the ledger's age, not with the period, and a
-- daily job summed over the ledger's life grew with its square. One index entry per posted
-- transaction buys a range scan of the period's rows.

-- CreateIndex
CREATE INDEX "ledger_transactions_occurred_at_idx" ON "ledger_transactions"("occurred_at");
