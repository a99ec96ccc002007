import { describe, expect, it } from "vitest";
import { databaseOf, redactConnectionString, withDatabase } from "../../src/db/connection-string.js";
import { resolveDatabaseUrl } from "../../src/db/database-url.js";
import { readDatabaseEnv } from "../../src/db/env.js";

describe("readDatabaseEnv", () => {
  it("treats an empty DATABASE_URL as unset and parses the port", () => {
    expect(readDatabaseEnv({ DATABASE_URL: "", SUSU_PG_PORT: "5544" })).toEqual({
      DATABASE_URL: undefined,
      SUSU_PG_DATA_DIR: undefined,
      SUSU_PG_PORT: 5544,
    });
  });

  it("refuses a DATABASE_URL that is not PostgreSQL", () => {
    expect(() => readDatabaseEnv({ DATABASE_URL: "mysql://u@h/db" })).toThrow();
  });
});

describe("connection strings", () => {
  const url = "postgresql://app:s3cret@db.example:5433/susu?sslmode=require&application_name=api";

  it("swap the database and keep everything else", () => {
    const other = withDatabase(url, "susu_test_1");
    expect(databaseOf(other)).toBe("susu_test_1");
    expect(other).toBe(
      "postgresql://app:s3cret@db.example:5433/susu_test_1?sslmode=require&application_name=api",
    );
  });

  it("hide the password", () => {
    expect(redactConnectionString(url)).not.toContain("s3cret");
  });
});

describe("resolveDatabaseUrl", () => {
  it("uses DATABASE_URL as given, without connecting or starting anything", async () => {
    const url = "postgresql://app@db.example:5432/susu";
    const database = await resolveDatabaseUrl({ env: readDatabaseEnv({ DATABASE_URL: url }) });
    expect(database).toMatchObject({ connectionString: url, source: "external" });
    await database.close();
  });
});
