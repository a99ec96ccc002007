// Values the global setup hands to test files (vitest's provide/inject).
declare module "vitest" {
  export interface ProvidedContext {
    /** A connection string to the test server's maintenance database, for CREATE/DROP DATABASE. */
    susuTestServerUrl: string;
    /** A database migrated once for the run; test databases are copies of it. */
    susuTestTemplateDatabase: string;
  }
}

export {};
