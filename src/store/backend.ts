/**
 * What differs between the dialects, behind one small seam. Everything else — every
 * query of the store — is shared Kysely code in `kysely-store.ts`.
 */
import type { Kysely, MigrationResultSet } from 'kysely';
import type { DialectName } from './migrations.js';
import type { Database } from './schema.js';
import type { Statement, Statements } from './statements.js';

/** What one compiled statement returned: its rows (SELECT, RETURNING) and the rows it changed. */
export interface ExecuteResult<Row> {
  rows: Row[];
  changes: number;
}

export type SyncExecute = <Row>(statement: Statement<Row>, args: readonly unknown[]) => ExecuteResult<Row>;

/** The subset of a pino logger the store uses. Never given SQL parameters. */
export interface StoreLogger {
  debug?(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface Backend {
  readonly dialect: DialectName;
  readonly db: Kysely<Database>;
  /** The per-request statements (`statements.ts`), compiled for this dialect. */
  readonly statements: Statements;
  /**
   * Runs a compiled statement as a prepared statement (SQLite: a cached better-sqlite3
   * `Statement`; PostgreSQL: a named statement, parsed once per connection). Call it inside
   * `exclusive`, as everything else.
   */
  execute<Row>(statement: Statement<Row>, args: readonly unknown[]): Promise<ExecuteResult<Row>>;
  /**
   * SQLite only: `fn`'s statements as one write transaction (`BEGIN IMMEDIATE` … `COMMIT`,
   * `ROLLBACK` when it throws), run synchronously — no other code runs in between. PostgreSQL
   * writes the same things in one statement instead (`Statements.rotateSessionLogged`, …).
   */
  transactionSync?<T>(fn: (execute: SyncExecute) => T): T;
  /**
   * Runs one store call. On SQLite it is serialised with every other store of this process
   * on the same file (see `sqlite.ts` for why); on PostgreSQL it runs as is.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  /** One write transaction (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: READ COMMITTED). */
  transaction<T>(fn: (trx: Kysely<Database>) => Promise<T>): Promise<T>;
  /**
   * Inside `transaction`, serialises against other transactions that take the same lock
   * (PostgreSQL: `pg_advisory_xact_lock`, scoped to the current schema). SQLite needs
   * nothing: `BEGIN IMMEDIATE` already admits one writer at a time.
   */
  lockInTransaction(trx: Kysely<Database>, name: string): Promise<void>;
  /** Applies every pending migration; safe when several processes call it at once. */
  migrate(): Promise<MigrationResultSet>;
  close(): Promise<void>;
}
