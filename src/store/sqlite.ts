/**
 * SQLite backend: better-sqlite3 (synchronous, one connection per store) in WAL mode.
 *
 * Why `exclusive` serialises per file inside one process: better-sqlite3 waits for a busy
 * database (`busy_timeout`) *synchronously*, blocking the event loop. If two stores of one
 * process opened the same file and one held a write transaction open across an `await`,
 * the other would block the loop waiting for a lock that can only be released by the loop:
 * a stall for the whole `busy_timeout`, then `SQLITE_BUSY`. A process-wide mutex per file
 * removes that case; between processes, `BEGIN IMMEDIATE`, a short `busy_timeout` and
 * {@link whileBusy} (which waits with the event loop free) do the work.
 */
import { closeSync, fchmodSync, mkdirSync, openSync, realpathSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql, type SqliteDatabase, type SqliteStatement } from 'kysely';
import type { Backend, ExecuteResult, StoreLogger, SyncExecute } from './backend.js';
import { migrationProvider } from './migrations.js';
import { Mutex } from './mutex.js';
import type { Database } from './schema.js';
import { compileStatements, type Statement } from './statements.js';

/**
 * How long one try waits for another process's lock (`busy_timeout`) before `SQLITE_BUSY`.
 * better-sqlite3 waits synchronously, blocking the event loop, so this is kept short and the
 * waiting is done by {@link whileBusy}, between tries, with the loop free.
 */
const SQLITE_BUSY_WAIT_MS = 25;

/**
 * How long a store operation keeps trying while another process holds the lock before it fails
 * with `SQLITE_BUSY` (503 `UNAVAILABLE`): ample for another writer's transaction (milliseconds),
 * short enough that a lock nobody releases (a `sqlite3` shell left in `BEGIN EXCLUSIVE`) answers
 * quickly (docs/storage.md, "SQLite").
 */
export const SQLITE_BUSY_BUDGET_MS = 2_000;

const isBusy = (error: unknown): boolean => String((error as { code?: unknown } | null)?.code ?? '').startsWith('SQLITE_BUSY');

/**
 * Runs `attempt` again while it fails with `SQLITE_BUSY`, pausing 5, 10, 20 … 100 ms between
 * tries (the event loop runs meanwhile), for at most {@link SQLITE_BUSY_BUDGET_MS}. A try is
 * repeated only if it changed nothing (`total_changes()` as before it): an operation that wrote
 * before it hit the lock is never replayed, it fails.
 */
async function whileBusy<T>(attempt: () => Promise<T>, totalChanges: () => number | undefined): Promise<T> {
  const deadline = performance.now() + SQLITE_BUSY_BUDGET_MS;
  for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
    const before = totalChanges();
    try {
      return await attempt();
    } catch (error) {
      const unchanged = before !== undefined && totalChanges() === before;
      if (!isBusy(error) || !unchanged || performance.now() + pause >= deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}

const fileMutexes = new Map<string, Mutex>();

function mutexFor(file: string): Mutex {
  let mutex = fileMutexes.get(file);
  if (!mutex) {
    mutex = new Mutex();
    fileMutexes.set(file, mutex);
  }
  return mutex;
}

/** Distinct SQL texts kept prepared per database (the store issues a few dozen). */
const STATEMENT_CACHE_SIZE = 256;

/**
 * `PRAGMA synchronous` in WAL mode (`LATCHKEY_SQLITE_SYNCHRONOUS`, see docs/storage.md):
 * `normal` (default) syncs the WAL at checkpoints only — a power cut or kernel crash can
 * lose the last commits, never corrupt the file; `full` syncs it at every commit.
 */
export type SqliteSynchronous = 'normal' | 'full';

/**
 * Preparing costs about as much as running one of our statements, and Kysely prepares every
 * query anew: this keeps prepared statements by SQL text, for Kysely's queries and the
 * compiled ones alike (parameters are bound per run, so a statement is reusable;
 * better-sqlite3 runs it synchronously to completion, and the store never streams).
 * Oldest-first eviction bounds the cache.
 */
function statementCache(raw: BetterSqlite3.Database): (text: string) => BetterSqlite3.Statement {
  const statements = new Map<string, BetterSqlite3.Statement>();
  return (text) => {
    let statement = statements.get(text);
    if (statement === undefined) {
      statement = raw.prepare(text);
      if (statements.size >= STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value as string);
      statements.set(text, statement);
    }
    return statement;
  };
}

/**
 * Creates the database file 0600 before SQLite opens it (docs/security.md, "File modes"):
 * SQLite would create it 0644 minus the umask, and gives its `-wal` and `-shm` files the mode of
 * the database, so all three are the owner's only whatever the directory's mode and the umask.
 * A directory created here is 0700. An existing database keeps its mode; a warning says when
 * others can read it.
 */
function createPrivately(path: string, logger: StoreLogger | undefined): void {
  mkdirSync(dirname(resolve(path)), { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const mode = statSync(path).mode & 0o777;
    if ((mode & 0o077) !== 0)
      logger?.warn({ mode: mode.toString(8) }, 'the SQLite database is readable by other users: chmod 600 it (and its -wal and -shm files)');
    return;
  }
  try {
    fchmodSync(fd, 0o600); // the umask may have taken more than group and other bits
  } finally {
    closeSync(fd);
  }
}

export function openSqlite(path: string, logger: StoreLogger | undefined, synchronous: SqliteSynchronous = 'normal'): Backend {
  const memory = path === ':memory:';
  if (!memory) createPrivately(path, logger);
  const raw = new BetterSqlite3(memory ? ':memory:' : path);
  try {
    if (!memory) raw.pragma('journal_mode = WAL');
    raw.pragma(`busy_timeout = ${SQLITE_BUSY_WAIT_MS}`);
    raw.pragma('foreign_keys = ON');
    raw.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  } catch (error) {
    raw.close();
    throw error;
  }
  const mutex = memory ? new Mutex() : mutexFor(realpathSync(path));
  const prepare = statementCache(raw);
  // No table is read, so no lock is needed: it answers even while another process holds one.
  const changesStatement = raw.prepare('SELECT total_changes()').pluck();
  const totalChanges = (): number | undefined => {
    try {
      return changesStatement.get() as number;
    } catch {
      return undefined;
    }
  };
  const database: SqliteDatabase = { close: () => raw.close(), prepare: prepare as (text: string) => SqliteStatement };
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  let closed: Promise<void> | undefined;

  const executeSync: SyncExecute = <Row>(statement: Statement<Row>, args: readonly unknown[]): ExecuteResult<Row> => {
    const prepared = prepare(statement.sql);
    const values = statement.values(args);
    if (prepared.reader) return { rows: prepared.all(values) as Row[], changes: 0 };
    return { rows: [], changes: prepared.run(values).changes };
  };
  const inImmediateTransaction = raw.transaction((fn: (execute: SyncExecute) => unknown) => fn(executeSync)).immediate;

  async function transaction<T>(fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
    return db.connection().execute(async (conn) => {
      await sql`begin immediate`.execute(conn);
      try {
        const result = await fn(conn);
        await sql`commit`.execute(conn);
        return result;
      } catch (error) {
        try {
          await sql`rollback`.execute(conn);
        } catch {
          // already rolled back by SQLite, or the connection is gone; the first error matters
        }
        throw error;
      }
    });
  }

  return {
    dialect: 'sqlite',
    db,
    statements: compileStatements(db, 'sqlite'),
    execute: (statement, args) => {
      try {
        return Promise.resolve(executeSync(statement, args));
      } catch (error) {
        return Promise.reject(error);
      }
    },
    transactionSync: <T>(fn: (execute: SyncExecute) => T): T => inImmediateTransaction(fn) as T,
    // The mutex is released between tries: other operations of this process go on meanwhile.
    exclusive: (fn) => whileBusy(() => mutex.run(fn), totalChanges),
    transaction,
    lockInTransaction: async () => {},
    migrate: () =>
      // One IMMEDIATE transaction around the whole run, so two processes migrating the
      // same file cannot interleave (Kysely's SQLite migration lock is a no-op).
      transaction((conn) =>
        new Migrator({ db: conn, provider: migrationProvider('sqlite'), disableTransactions: true, allowUnorderedMigrations: true })
          .migrateToLatest()
          .then((result) => {
            if (result.error) throw result.error;
            return result;
          }),
      ),
    close: () => {
      closed ??= db.destroy().then(() => logger?.debug?.({ dialect: 'sqlite' }, 'store closed'));
      return closed;
    },
  };
}
