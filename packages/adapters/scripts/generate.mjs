// Generates the Prisma client into src/prisma/generated (git-ignored) before build,
// typecheck and test. Skips the work when the schema and Prisma's version have not
// changed since the last run, so the pre-scripts cost nothing on repeat.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const schemaFile = join(packageDir, "prisma", "schema.prisma");
const outputDir = join(packageDir, "src", "prisma", "generated");
const stampFile = join(outputDir, ".schema-hash");

const require = createRequire(import.meta.url);
const prismaCli = join(dirname(require.resolve("prisma/package.json")), "build", "index.js");
const prismaVersion = JSON.parse(readFileSync(require.resolve("prisma/package.json"), "utf8")).version;

const hash = createHash("sha256")
  .update(prismaVersion)
  .update(readFileSync(schemaFile))
  .update(readFileSync(join(packageDir, "prisma.config.ts")))
  .digest("hex");

if (
  existsSync(join(outputDir, "client.ts")) &&
  existsSync(stampFile) &&
  readFileSync(stampFile, "utf8") === hash
) {
  process.exit(0);
}

const result = spawnSync(process.execPath, [prismaCli, "generate"], {
  cwd: packageDir,
  stdio: "inherit",
  env: {
    ...process.env,
    // `generate` only checks that a schema engine binary exists (it does not run it);
    // without one it tries to download it. Any existing file satisfies the check.
    PRISMA_SCHEMA_ENGINE_BINARY: process.execPath,
    CHECKPOINT_DISABLE: "1",
    PRISMA_HIDE_UPDATE_MESSAGE: "1",
  },
});
if (result.status !== 0) process.exit(result.status ?? 1);
writeFileSync(stampFile, hash);
