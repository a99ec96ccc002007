import { defineConfig } from "vitest/config";
import { sharedTestConfig } from "../../vitest.shared.js";

const shared = sharedTestConfig(import.meta.dirname);

export default defineConfig({
  ...shared,
  test: {
    ...shared.test,
    // The adapters' test PostgreSQL: one server per run (embedded, or DATABASE_URL's),
    // migrated once into a template that each test file copies (createTestDatabase).
    globalSetup: ["../../packages/adapters/test/support/global-setup.ts"],
  },
});
