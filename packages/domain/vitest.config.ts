import { defineConfig } from "vitest/config";
import { sharedTestConfig } from "../../vitest.shared.js";

const shared = sharedTestConfig(import.meta.dirname);

// The domain is pure (no globals, no I/O), so its test files can share one worker
// environment: vitest's per-file isolation costs more here than the tests themselves.
export default defineConfig({ ...shared, test: { ...shared.test, isolate: false } });
