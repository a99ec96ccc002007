import { z } from "zod";

const emptyAsUnset = (value: unknown) => (value === "" ? undefined : value);

const databaseEnvSchema = z.object({
  /** A PostgreSQL server to use instead of the embedded one. */
  DATABASE_URL: z.preprocess(emptyAsUnset, z.url({ protocol: /^postgres(ql)?$/ }).optional()),
  /** Data folder of the embedded PostgreSQL (default `<repo>/.data/postgres`). */
  SUSU_PG_DATA_DIR: z.preprocess(emptyAsUnset, z.string().optional()),
  /** Port of the embedded PostgreSQL (default: a free port). */
  SUSU_PG_PORT: z.preprocess(emptyAsUnset, z.coerce.number().int().min(1).max(65_535).optional()),
});

/** The database settings of the environment, validated once. */
export type DatabaseEnv = z.infer<typeof databaseEnvSchema>;

/** The only place in this package that reads `process.env`. */
export function readDatabaseEnv(source: NodeJS.ProcessEnv = process.env): DatabaseEnv {
  return databaseEnvSchema.parse({
    DATABASE_URL: source.DATABASE_URL,
    SUSU_PG_DATA_DIR: source.SUSU_PG_DATA_DIR,
    SUSU_PG_PORT: source.SUSU_PG_PORT,
  });
}
