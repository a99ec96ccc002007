-- CreateTable
CREATE TABLE "payment_attempts" (
    "bucket" TEXT NOT NULL,
    "attempt_key" TEXT NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "payment_attempts_pkey" PRIMARY KEY ("bucket","attempt_key")
);

-- CreateIndex
CREATE INDEX "payment_attempts_bucket_at_idx" ON "payment_attempts"("bucket", "at");

-- CreateIndex
CREATE INDEX "payment_attempts_expires_at_idx" ON "payment_attempts"("expires_at");
