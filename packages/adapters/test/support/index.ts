// Hand-built Stripe events and a seeded round, for the apps' webhook processor tests.
export { debitEvent, eventId, stripeEvent } from "../webhooks/events.js";
export { ScriptedStripeReads, seedRound } from "../webhooks/harness.js";
export { createDatabase, dropDatabase, uniqueDatabaseName } from "./databases.js";
export {
  createTestDatabase,
  type TestDatabase,
  type TestDatabaseOptions,
  useTestDatabase,
} from "./test-database.js";
