import { defineConfig, mergeConfig } from "vitest/config";
import { sharedTestConfig } from "../../vitest.shared.js";

export default mergeConfig(
  sharedTestConfig(import.meta.dirname),
  // Every indexed list is checked against a walk of all records (src/core/store.ts).
  defineConfig({ test: { env: { SUSU_EMULATOR_CHECK_INDEXES: "1" } } }),
);
