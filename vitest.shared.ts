import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ViteUserConfig } from "vitest/config";

/**
 * One vitest configuration for every workspace package: workspace imports resolve to
 * TypeScript sources (the "@susu/source" export condition: a name of our own, so that a
 * consumer of the published @susu/domain setting the common "source" condition gets its
 * dist, not its .ts files), and every run writes a JSON report that `.ci/run` sums into
 * one totals line.
 */
export function sharedTestConfig(packageDir: string): ViteUserConfig {
  return {
    // Only "@susu/source" is added before Vite's defaults: vitest hands ssr conditions to the
    // worker's Node as --conditions, and "import" there would make require() of dual
    // packages (pg → pg-pool) pick their ESM entry.
    resolve: { conditions: ["@susu/source", "module", "node", "development|production"] },
    ssr: { resolve: { conditions: ["@susu/source", "module", "node", "development|production"] } },
    test: {
      include: ["src/**/*.test.ts", "test/**/*.test.ts"],
      setupFiles: [join(dirname(fileURLToPath(import.meta.url)), "vitest.fast-check.ts")],
      reporters: ["default", "json"],
      outputFile: { json: join(packageDir, "reports", "vitest.json") },
      testTimeout: 30_000,
      hookTimeout: 60_000,
    },
  };
}
