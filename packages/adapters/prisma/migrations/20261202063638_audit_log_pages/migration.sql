-- CreateIndex
CREATE INDEX "audit_log_aggregate_type_aggregate_id_id_idx" ON "audit_log"("aggregate_type", "aggregate_id", "id");
