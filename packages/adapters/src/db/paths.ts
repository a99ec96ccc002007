import { join } from "node:path";
import { fileURLToPath } from "node:url";

// Resolved from this file so the same paths hold from src/ (tsx, vitest) and dist/.
const adaptersDir = fileURLToPath(new URL("../../", import.meta.url));

/** Where the schema, the migrations and the default embedded data folder live. */
export const databasePaths = {
  schemaFile: join(adaptersDir, "prisma", "schema.prisma"),
  migrationsDir: join(adaptersDir, "prisma", "migrations"),
  /** `<repo>/.data/postgres`: inside the project, ignored by git. */
  defaultDataDir: join(adaptersDir, "..", "..", ".data", "postgres"),
} as const;
