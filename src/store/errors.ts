/**
 * Translation of driver errors into Latchkey's error contract.
 *
 * - Connection-level failures (refused, reset, terminated, pool closed, admin shutdown,
 *   SQLite busy/IO errors…) become {@link StoreUnavailableError} (HTTP 503).
 * - A unique violation on `users.email` becomes `ApiError('EMAIL_TAKEN')`.
 * - Anything else becomes a `LatchkeyError('STORE_ERROR')` that keeps the driver's code and
 *   message but drops `detail`, `where` and the cause: PostgreSQL puts row values there
 *   ("Failing row contains (…hash…)"), and nothing the store throws may carry a password
 *   hash or sealed key into a log.
 */
import { LatchkeyError, StoreUnavailableError } from '../errors.js';

const NODE_NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EPIPE',
  'ENOENT', // unix socket path gone
]);

/** SQLSTATE codes (or classes, two characters) that mean "the database is not usable now". */
const PG_UNAVAILABLE_CLASSES = new Set(['08', '53', '28']);
const PG_UNAVAILABLE_CODES = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '57P04', // database_dropped
  '57014', // query_canceled (statement timeout)
  '3D000', // invalid_catalog_name: database does not exist
  '25006', // read_only_sql_transaction: failed over to a replica
  '55P03', // lock_not_available (lock_timeout)
]);

const SQLITE_UNAVAILABLE_PREFIXES = [
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_IOERR',
  'SQLITE_CANTOPEN',
  'SQLITE_FULL',
  'SQLITE_READONLY',
  'SQLITE_CORRUPT',
  'SQLITE_NOTADB',
  'SQLITE_PROTOCOL',
];

const UNAVAILABLE_MESSAGES = [
  /connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /connection error and is not queryable/i,
  /client was closed and is not queryable/i,
  /cannot use a pool after calling end/i,
  /driver has already been destroyed/i,
  /database connection is not open/i,
  /server closed the connection unexpectedly/i,
];

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Whether `error` means the database cannot be reached or used right now. */
export function isConnectionError(error: unknown, depth = 0): boolean {
  if (error === null || typeof error !== 'object' || depth > 3) return false;
  if (error instanceof StoreUnavailableError) return true;
  const code = codeOf(error);
  if (code !== undefined) {
    if (NODE_NETWORK_CODES.has(code)) return true;
    if (/^[0-9A-Z]{5}$/.test(code) && (PG_UNAVAILABLE_CODES.has(code) || PG_UNAVAILABLE_CLASSES.has(code.slice(0, 2)))) {
      return true;
    }
    if (SQLITE_UNAVAILABLE_PREFIXES.some((prefix) => code.startsWith(prefix))) return true;
  }
  const message = (error as { message?: unknown }).message;
  if (typeof message === 'string' && UNAVAILABLE_MESSAGES.some((re) => re.test(message))) return true;
  // Node reports a refused dual-stack connect as an AggregateError of per-address errors.
  if (error instanceof AggregateError && error.errors.some((inner) => isConnectionError(inner, depth + 1))) {
    return true;
  }
  const cause = (error as { cause?: unknown }).cause;
  return cause !== undefined && isConnectionError(cause, depth + 1);
}

/** Whether `error` is a unique violation on the e-mail column of `users`. */
export function isEmailUniqueViolation(error: unknown): boolean {
  const code = codeOf(error);
  if (code === '23505') {
    return (error as { constraint?: unknown }).constraint === 'users_email_key';
  }
  if (code === 'SQLITE_CONSTRAINT_UNIQUE') {
    const message = (error as { message?: unknown }).message;
    return typeof message === 'string' && message.includes('users.email');
  }
  return false;
}

/** Whether `error` is any unique-constraint violation (both dialects). */
export function isUniqueViolation(error: unknown): boolean {
  const code = codeOf(error);
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** Maps any error thrown while running store method `operation` to the error contract. */
export function toStoreError(operation: string, error: unknown): Error {
  if (error instanceof LatchkeyError) return error;
  if (isConnectionError(error)) {
    const code = codeOf(error);
    return new StoreUnavailableError(`The database is unavailable (${operation}${code ? `: ${code}` : ''}).`, { cause: error });
  }
  const code = codeOf(error) ?? (error instanceof Error ? error.name : 'unknown');
  const message = error instanceof Error ? error.message : String(error);
  return new LatchkeyError('STORE_ERROR', `Store operation ${operation} failed (${code}): ${message}`);
}
