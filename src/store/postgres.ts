/**
 * PostgreSQL backend: a `pg` Pool of its own (never the global type parsers), Kysely on top.
 *
 * - `int8` (bigint, bigserial, `count(*)`) is parsed to `number` on this pool only: times are
 *   integer ms and ids stay far below 2^53.
 * - A pool or client 'error' event (a backend killed while idle, the server restarting) is
 *   logged and never crashes the process; the query that needed the connection fails with
 *   StoreUnavailableError instead.
 * - `migrate()` holds `pg_advisory_lock` (keyed by the current schema) on a dedicated connection
 *   for the whole run, so concurrent callers apply migrations strictly one after the other.
 *   Kysely's own lock covers only the migration step; its bookkeeping tables and lock row
 *   are created before it, outside any lock (0.28 tolerates that race by re-checking after
 *   a failed `CREATE`, but we do not rely on it). The migrator is also pinned to the current
 *   schema (`migrationTableSchema`): unpinned, its existence check matches a
 *   `kysely_migration` table of *any* schema and then fails in ours.
 */
import { Kysely, Migrator, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Backend, ExecuteResult, StoreLogger } from './backend.js';
import { migrationProvider } from './migrations.js';
import type { Database } from './schema.js';
import { compileStatements, type Statement } from './statements.js';

const INT8_OID = 20;
/** First key of every advisory lock Latchkey takes ("Lk"); the second is a hash of name + schema. */
const ADVISORY_LOCK_CLASS = 0x4c6b;
const CONNECT_TIMEOUT_MS = 10_000;

const parseInt8 = (value: string): number => Number(value);

const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? parseInt8 : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

function errorFields(error: unknown): { code?: string; message: string } {
  const code = (error as { code?: unknown } | null)?.code;
  return {
    ...(typeof code === 'string' ? { code } : {}),
    message: error instanceof Error ? error.message : String(error),
  };
}

export function openPostgres(connectionString: string, poolSize: number, logger: StoreLogger | undefined): Backend {
  const clientConfig: pg.ClientConfig = {
    connectionString,
    types,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    keepAlive: true,
  };
  const pool = new pg.Pool({ ...clientConfig, max: poolSize });
  pool.on('error', (error) => {
    logger?.warn({ dialect: 'postgres', ...errorFields(error) }, 'idle PostgreSQL connection failed');
  });
  // A client checked out of the pool has no pool listener; without this one an error
  // between two queries (e.g. `pg_terminate_backend`) would be an uncaught 'error' event.
  pool.on('connect', (client) => {
    client.on('error', (error) => {
      logger?.debug?.({ dialect: 'postgres', ...errorFields(error) }, 'PostgreSQL connection failed');
    });
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  let closed: Promise<void> | undefined;

  async function migrate() {
    const client = new pg.Client(clientConfig);
    client.on('error', (error) => {
      logger?.warn({ dialect: 'postgres', ...errorFields(error) }, 'migration lock connection failed');
    });
    await client.connect();
    try {
      const { rows } = await client.query<{ schema: string | null }>('select current_schema() as schema');
      const schema = rows[0]?.schema;
      if (!schema) throw new Error('No current schema: check search_path and that the schema exists.');
      await client.query('select pg_advisory_lock($1::int4, hashtext(current_schema()))', [ADVISORY_LOCK_CLASS]);
      try {
        // migrationTableSchema pins Kysely's bookkeeping tables to our schema: its table
        // lookup otherwise matches a `kysely_migration` of any schema in the database.
        const result = await new Migrator({
          db,
          provider: migrationProvider('postgres'),
          migrationTableSchema: schema,
          allowUnorderedMigrations: true,
        }).migrateToLatest();
        if (result.error) throw result.error;
        return result;
      } finally {
        await client.query('select pg_advisory_unlock($1::int4, hashtext(current_schema()))', [ADVISORY_LOCK_CLASS]).catch(() => undefined);
      }
    } finally {
      // Ending the session releases the lock even if the unlock above failed.
      await client.end().catch(() => undefined);
    }
  }

  return {
    dialect: 'postgres',
    db,
    statements: compileStatements(db, 'postgres'),
    // A named statement: each pooled connection parses and plans it once, then only binds.
    execute: async <Row>(statement: Statement<Row>, args: readonly unknown[]): Promise<ExecuteResult<Row>> => {
      const result = await pool.query({ name: statement.name, text: statement.sql, values: statement.values(args) });
      return { rows: result.rows as Row[], changes: result.rowCount ?? 0 };
    },
    exclusive: (fn) => fn(),
    transaction: (fn) => db.transaction().execute(fn),
    lockInTransaction: async (trx, name) => {
      await sql`select pg_advisory_xact_lock(${ADVISORY_LOCK_CLASS}::int4, hashtext(${name} || '.' || current_schema()))`.execute(trx);
    },
    migrate,
    close: () => {
      closed ??= db.destroy().then(() => logger?.debug?.({ dialect: 'postgres' }, 'store closed'));
      return closed;
    },
  };
}
