// `npm run db:migration:new -- <name> [--empty]`: writes prisma/migrations/<timestamp>_<name>
// with the SQL that takes the existing migrations to schema.prisma. The diff replays the
// migrations in a temporary shadow database on DATABASE_URL's server (the role needs
// CREATEDB) or on the embedded PostgreSQL; no database is changed.
import { relative } from "node:path";
import { parseArgs } from "node:util";
import { resolveDatabaseUrl } from "../src/db/database-url.js";
import { createMigration } from "../src/db/migrations.js";

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { empty: { type: "boolean", default: false } },
});
const name = positionals.join("_");
if (name === "") {
  console.error("usage: npm run db:migration:new -- <name> [--empty]");
  process.exit(2);
}

const database = await resolveDatabaseUrl();
try {
  const result = await createMigration(name, {
    connectionString: database.connectionString,
    allowEmpty: values.empty,
  });
  if (result.status === "no-changes") {
    console.log(
      "No changes: the migrations already match schema.prisma. (Use --empty for a hand-written one.)",
    );
  } else {
    console.log(`Created ${relative(process.cwd(), result.path)}/migration.sql:\n\n${result.sql}`);
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
} finally {
  await database.close();
}
