import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { PrismaPg } from "@prisma/adapter-pg";
import {
  bindMigrationAwareSqlAdapterFactory,
  ColumnTypeEnum,
  type ConnectionInfo,
  DriverAdapterError,
  type IsolationLevel,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
  type SqlQuery,
  type SqlResultSet,
  type Transaction,
} from "@prisma/driver-adapter-utils";
import type { SchemaEngine } from "@prisma/schema-engine-wasm";
import pg from "pg";
import { withDatabase } from "./connection-string.js";

/*
 * The Prisma CLI's `migrate` commands download a native schema engine, which cannot
 * happen on a machine without network. The same engine ships compiled to WebAssembly in
 * `@prisma/schema-engine-wasm` and talks to PostgreSQL through a JS driver adapter, so
 * the migration tooling drives it directly. The gaps between that engine, Node and
 * `@prisma/adapter-pg` are closed here; each is noted where it is handled.
 */

type WasmExports = Record<string, unknown>;

interface SchemaEngineBindings {
  readonly SchemaEngine: typeof SchemaEngine;
  __wbg_set_wasm(exports: WasmExports): void;
}

// The project compiles without the DOM lib, which is where WebAssembly's types live.
interface WasmRuntime {
  instantiate(
    bytes: Uint8Array,
    imports: Record<string, object>,
  ): Promise<{ instance: { exports: WasmExports } }>;
}
const wasmRuntime = (globalThis as unknown as { WebAssembly: WasmRuntime }).WebAssembly;

type TimerHandle = { unref?: () => unknown } | undefined;

/**
 * The engine arms 10-second timers (timeouts around its own operations) and leaves
 * them pending after it finishes, which kept a finished `db:migrate` alive for 10 s.
 * Its timers are unref'd: while the engine works, its open database connections keep
 * the process alive anyway.
 */
function withUnrefTimers(glue: object): Record<string, unknown> {
  const imports: Record<string, unknown> = { ...glue };
  for (const [name, value] of Object.entries(imports)) {
    if (!name.startsWith("__wbg_setTimeout_") || typeof value !== "function") continue;
    imports[name] = (...args: unknown[]) => {
      const handle = (value as (...args: unknown[]) => TimerHandle)(...args);
      handle?.unref?.();
      return handle;
    };
  }
  return imports;
}

const bindingsSpecifier = "@prisma/schema-engine-wasm/schema_engine_bg";
let bindingsLoading: Promise<SchemaEngineBindings> | undefined;

// The package's entry imports the .wasm file as an ES module, which Node allows only
// behind --experimental-wasm-modules; instantiating the bytes here needs no flag.
function loadBindings(): Promise<SchemaEngineBindings> {
  // One instance per process: the generated glue keeps the instance in module state.
  bindingsLoading ??= (async () => {
    const require = createRequire(import.meta.url);
    const gluePath = require.resolve(bindingsSpecifier);
    const glue = (await import(bindingsSpecifier)) as unknown as SchemaEngineBindings;
    const bytes = await readFile(gluePath.replace(/\.js$/, ".wasm"));
    // The module imports its JS glue under the glue file's name.
    const { instance } = await wasmRuntime.instantiate(bytes, {
      "./schema_engine_bg.js": withUnrefTimers(glue),
    });
    glue.__wbg_set_wasm(instance.exports);
    const start = instance.exports.__wbindgen_start;
    if (typeof start !== "function") throw new Error("schema engine wasm has no __wbindgen_start export");
    start();
    return glue;
  })();
  return bindingsLoading;
}

const pgCharOid = 18;
const pgTextOid = 25;

type UntypedQuery = (...args: unknown[]) => unknown;

/** Row arrays of results that had `"char"` columns, with those columns' indexes. */
const charColumnsOfRows = new WeakMap<object, number[]>();

function retypeCharFields(result: unknown): unknown {
  for (const one of Array.isArray(result) ? result : [result]) {
    const { fields, rows } = (one ?? {}) as { fields?: { dataTypeID: number }[]; rows?: unknown };
    const charColumns: number[] = [];
    fields?.forEach((field, index) => {
      if (field.dataTypeID !== pgCharOid) return;
      field.dataTypeID = pgTextOid;
      charColumns.push(index);
    });
    if (charColumns.length > 0 && typeof rows === "object" && rows !== null)
      charColumnsOfRows.set(rows, charColumns);
  }
  return result;
}

function restoreCharColumns(resultSet: SqlResultSet): SqlResultSet {
  for (const index of charColumnsOfRows.get(resultSet.rows) ?? []) {
    resultSet.columnTypes[index] = ColumnTypeEnum.Character;
  }
  return resultSet;
}

/*
 * Gap 1: the engine's catalog queries return columns of PostgreSQL's internal `"char"`
 * type (e.g. `pg_constraint.contype`). adapter-pg has no mapping for it and fails the
 * whole query, so describing any database fails. Below node-postgres, such columns are
 * reported as text so adapter-pg accepts them; above adapter-pg, they are reported as
 * the driver-adapter `Character` type the engine reads them as.
 */
function retypeCharFieldsOf<T extends object>(target: T): void {
  const query = (target as unknown as { query: UntypedQuery }).query.bind(target);
  (target as unknown as { query: UntypedQuery }).query = (...args) => {
    const pending = query(...args);
    return pending instanceof Promise ? pending.then(retypeCharFields) : pending;
  };
}

// Queries go through the pool (adapter queries) or a checked-out client (transactions).
class CatalogFriendlyClient extends pg.Client {
  constructor(config?: string | pg.ClientConfig) {
    super(config);
    retypeCharFieldsOf(this);
  }
}

class CatalogFriendlyPool extends pg.Pool {
  constructor(config: pg.PoolConfig) {
    super({ ...config, Client: CatalogFriendlyClient });
    retypeCharFieldsOf(this);
  }
}

/**
 * Gap 2: adapter-pg's `executeScript` splits the script on every `;` and runs the
 * pieces one by one, which breaks a migration containing a function body or a string
 * with a semicolon, and applies half a migration when a later statement fails. Sending
 * the script whole uses PostgreSQL's simple-query protocol: every statement runs, in
 * one implicit transaction, as `psql -1` would.
 */
class MigrationAdapter implements SqlDriverAdapter {
  readonly provider = "postgres";
  readonly adapterName = "@susu/adapters-migrate";
  private disposed = false;

  constructor(
    private readonly inner: SqlDriverAdapter,
    private readonly pool: pg.Pool,
    private readonly afterDispose: () => Promise<void>,
  ) {}

  async queryRaw(query: SqlQuery): Promise<SqlResultSet> {
    return restoreCharColumns(await this.inner.queryRaw(query));
  }

  executeRaw(query: SqlQuery): Promise<number> {
    return this.inner.executeRaw(query);
  }

  async startTransaction(isolationLevel?: IsolationLevel): Promise<Transaction> {
    const transaction = await this.inner.startTransaction(isolationLevel);
    const queryRaw = transaction.queryRaw.bind(transaction);
    transaction.queryRaw = async (query) => restoreCharColumns(await queryRaw(query));
    return transaction;
  }

  getConnectionInfo(): ConnectionInfo {
    return this.inner.getConnectionInfo?.() ?? { supportsRelationJoins: true };
  }

  async executeScript(script: string): Promise<void> {
    try {
      await this.pool.query(script);
    } catch (error) {
      throw toDriverAdapterError(error);
    }
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.inner.dispose();
    await this.afterDispose();
  }
}

function toDriverAdapterError(error: unknown): unknown {
  if (!(error instanceof pg.DatabaseError)) return error;
  return new DriverAdapterError({
    kind: "postgres",
    code: error.code ?? "",
    severity: error.severity ?? "ERROR",
    message: error.message,
    detail: error.detail,
    column: error.column,
    hint: error.hint,
  });
}

async function runOnServer(connectionString: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * Gap 3: `PrismaPg#connectToShadowDb` spreads its config and sets `database`, but with
 * a connection string pg lets the string's database win, so the "shadow" connection
 * would reach the main database, which the engine then resets. Here the shadow
 * connection is built from a connection string that names the shadow database.
 *
 * The engine does not dispose the adapters it was given, so this factory keeps them and
 * {@link openSchemaEngine}'s `close` does.
 */
class MigrationAdapterFactory implements SqlMigrationAwareDriverAdapterFactory {
  readonly provider = "postgres";
  readonly adapterName = "@susu/adapters-migrate";
  private readonly open = new Set<MigrationAdapter>();

  constructor(private readonly connectionString: string) {}

  connect(): Promise<SqlDriverAdapter> {
    return this.connectTo(this.connectionString, async () => undefined);
  }

  async connectToShadowDb(): Promise<SqlDriverAdapter> {
    const name = `prisma_shadow_${crypto.randomUUID().replaceAll("-", "")}`;
    await runOnServer(this.connectionString, `CREATE DATABASE "${name}"`);
    return this.connectTo(withDatabase(this.connectionString, name), () =>
      runOnServer(this.connectionString, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
    );
  }

  async disposeAll(): Promise<void> {
    const adapters = [...this.open];
    this.open.clear();
    await Promise.all(adapters.map((adapter) => adapter.dispose()));
  }

  private async connectTo(
    connectionString: string,
    afterDispose: () => Promise<void>,
  ): Promise<SqlDriverAdapter> {
    const pool = new CatalogFriendlyPool({ connectionString, max: 4 });
    const inner = await new PrismaPg(pool, { disposeExternalPool: true }).connect();
    const adapter = new MigrationAdapter(inner, pool, async () => {
      this.open.delete(adapter);
      await afterDispose();
    });
    this.open.add(adapter);
    return adapter;
  }
}

/** A schema engine bound to one database, with the engine's log lines kept for error messages. */
export interface SchemaEngineSession {
  readonly engine: SchemaEngine;
  readonly logs: readonly string[];
  /** Frees the engine and closes every connection it opened (shadow databases are dropped). */
  close(): Promise<void>;
}

/**
 * Opens the WASM schema engine against `connectionString`. When the engine must replay
 * migrations (to diff them against the schema), it does so in a shadow database created
 * and dropped on the same server.
 */
export async function openSchemaEngine(connectionString: string): Promise<SchemaEngineSession> {
  const bindings = await loadBindings();
  const logs: string[] = [];
  const factory = new MigrationAdapterFactory(connectionString);
  const engine = await bindings.SchemaEngine.new(
    { datamodels: undefined },
    (line: string) => {
      logs.push(line);
    },
    bindMigrationAwareSqlAdapterFactory(factory),
  );
  return {
    engine,
    logs,
    close: async () => {
      engine.free();
      await factory.disposeAll();
    },
  };
}
