import { join } from "node:path";
import type { ViteUserConfig } from "vitest/config";

/**
 * One vitest configuration for every workspace package: workspace imports resolve to
 * TypeScript sources (the "source" export condition), and every run writes a JSON
 * report that `.ci/run` sums into one totals line.
 */
export function sharedTestConfig(packageDir: string): ViteUserConfig {
  return {
    resolve: { conditions: ["source", "import", "module", "default"] },
    ssr: { resolve: { conditions: ["source", "import", "module", "default"] } },
    test: {
      include: ["src/**/*.test.ts", "test/**/*.test.ts"],
      reporters: ["default", "json"],
      outputFile: { json: join(packageDir, "reports", "vitest.json") },
      testTimeout: 30_000,
      hookTimeout: 60_000,
    },
  };
}
