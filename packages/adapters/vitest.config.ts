import { defineConfig } from "vitest/config";
import { sharedTestConfig } from "../../vitest.shared.js";

const shared = sharedTestConfig(import.meta.dirname);

export default defineConfig({
  ...shared,
  // Vitest passes ssr.resolve.conditions to the worker's Node as --conditions. The shared
  // list contains "import", which makes Node's require() pick the ESM entry of dual
  // packages (pg requires pg-pool and gets a module namespace instead of a class). Vite
  // adds import/require by itself, so the list only needs "@susu/source" before Vite's defaults.
  ssr: {
    ...shared.ssr,
    resolve: { conditions: ["@susu/source", "module", "node", "development|production"] },
  },
  test: {
    ...shared.test,
    // One PostgreSQL server per run (embedded, or DATABASE_URL's); each test file
    // creates and drops its own database on it.
    globalSetup: ["./test/support/global-setup.ts"],
  },
});
