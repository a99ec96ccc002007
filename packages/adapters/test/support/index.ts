export { createDatabase, dropDatabase, uniqueDatabaseName } from "./databases.js";
export {
  createTestDatabase,
  type TestDatabase,
  type TestDatabaseOptions,
  useTestDatabase,
} from "./test-database.js";
