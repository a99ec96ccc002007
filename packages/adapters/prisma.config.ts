import { defineConfig } from "prisma/config";

// Used by `prisma generate` only. Migrations do not go through the Prisma CLI (its
// `migrate` commands download a native engine); src/db/migrations.ts drives the
// WASM schema engine instead, reading the same paths.
export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
});
