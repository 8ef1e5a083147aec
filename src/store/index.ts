/**
 * The storage layer: `createStore({ url })` gives a {@link Store} over SQLite or PostgreSQL.
 * Call `migrate()` once before use (safe from several processes at once).
 */
import { ConfigError } from '../errors.js';
import type { Backend, StoreLogger } from './backend.js';
import { toStoreError } from './errors.js';
import { KyselyStore } from './kysely-store.js';
import type { SqliteSynchronous } from './sqlite.js';
import type { Store } from './types.js';
import { parseStoreUrl } from './url.js';

export type { Store } from './types.js';
export type { StoreLogger } from './backend.js';
export { parseStoreUrl } from './url.js';

/** Default PostgreSQL pool size. */
const DEFAULT_POOL_SIZE = 10;

export interface StoreOptions {
  /** `sqlite:<path>` (parent directory created), `sqlite::memory:`, `postgres://…` or `postgresql://…`. */
  url: string;
  /** PostgreSQL pool size (default {@link DEFAULT_POOL_SIZE}); ignored by SQLite (one connection). */
  poolSize?: number;
  /** pino-compatible; receives connection problems and migration results, never SQL parameters. */
  logger?: StoreLogger;
  /**
   * SQLite's `PRAGMA synchronous` (default `normal`): what a power cut can lose, see
   * docs/storage.md. Ignored by PostgreSQL (its durability is the server's `synchronous_commit`).
   */
  sqliteSynchronous?: SqliteSynchronous;
}

/**
 * Opens a store. Does not touch the schema: call `migrate()` next. PostgreSQL connects lazily
 * (use `ping()` to check); SQLite opens the file now.
 *
 * @throws ConfigError for a malformed URL or pool size; StoreUnavailableError when the
 *   SQLite file cannot be opened.
 */
export async function createStore(options: StoreOptions): Promise<Store> {
  const target = parseStoreUrl(options.url);
  const poolSize = options.poolSize ?? DEFAULT_POOL_SIZE;
  if (!Number.isInteger(poolSize) || poolSize < 1) {
    throw new ConfigError('poolSize', 'must be a positive integer');
  }
  let backend: Backend;
  try {
    // Each driver is loaded only when used: a SQLite deployment never loads `pg`, and the
    // reverse (start-up time and memory; see bench/RESULTS.md, footprint).
    backend =
      target.dialect === 'sqlite'
        ? (await import('./sqlite.js')).openSqlite(target.path, options.logger, options.sqliteSynchronous)
        : (await import('./postgres.js')).openPostgres(target.connectionString, poolSize, options.logger);
  } catch (error) {
    throw toStoreError('open', error);
  }
  return new KyselyStore(backend, options.logger);
}
