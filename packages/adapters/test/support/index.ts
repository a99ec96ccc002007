// Hand-built Stripe events and a seeded round, for the apps' webhook processor tests.

// A real SMTP server keeping what it receives, for the notifier's tests and the apps' wiring tests.
export { closedPort, type ReceivedMail, type Refusal, TestSmtpServer } from "../notify/smtp-server.js";
// A real HTTP receiver of notification webhooks that verifies their signature.
export { type ReceivedWebhook, TestWebhookReceiver } from "../notify/webhook-receiver.js";
export { debitEvent, eventId, stripeEvent } from "../webhooks/events.js";
export { ScriptedStripeReads, seedRound } from "../webhooks/harness.js";
// Signed Stripe deliveries of a round's debits, for load checks and the benchmarks in bench/.
export {
  debitEventsOf,
  roundEventStream,
  type SignedDelivery,
  signedDelivery,
} from "../webhooks/signed-events.js";
export { createDatabase, dropDatabase, uniqueDatabaseName } from "./databases.js";
// What a call sends to PostgreSQL through a client's pool, for statement-count tests.
export { type SentStatement, statementsSentDuring, statementTextsSentDuring } from "./statement-spy.js";
export { storeNewGroup } from "./store-group.js";
// A started pg-boss for tests (no supervision, no cron).
export { startTestBoss } from "./test-boss.js";
export {
  createTestDatabase,
  type TestDatabase,
  type TestDatabaseOptions,
  useTestDatabase,
} from "./test-database.js";
