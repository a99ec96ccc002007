// Generates the Prisma client into src/prisma/generated (git-ignored) before build,
// typecheck and test. Skips the work when the schema and Prisma's version have not
// changed since the last run, so the pre-scripts cost nothing on repeat.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
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

const upToDate = () =>
  existsSync(join(outputDir, "client.ts")) &&
  existsSync(stampFile) &&
  readFileSync(stampFile, "utf8") === hash;

if (upToDate()) process.exit(0);

// Build and typecheck may start at once (turbo runs them in parallel), and two `prisma
// generate` into one folder break each other: one at a time, behind a lock directory
// (mkdir is atomic). A lock older than two minutes is a crashed run's, and is taken over.
const lockDir = join(packageDir, "src", "prisma", ".generate.lock");
mkdirSync(dirname(lockDir), { recursive: true });
for (const started = Date.now(); ; ) {
  try {
    mkdirSync(lockDir);
    break;
  } catch (error) {
    if (error.code !== "EEXIST") throw error;
    let age = 0;
    try {
      age = Date.now() - statSync(lockDir).mtimeMs;
    } catch {
      continue; // released meanwhile
    }
    if (age > 120_000) rmSync(lockDir, { recursive: true, force: true });
    else if (Date.now() - started > 180_000) throw new Error(`waited 3 minutes for ${lockDir}`);
    else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
  }
}
const release = () => rmSync(lockDir, { recursive: true, force: true });
// The run that held the lock may have generated it already.
if (upToDate()) {
  release();
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
if (result.status !== 0) {
  release();
  process.exit(result.status ?? 1);
}
writeFileSync(stampFile, hash);
release();
