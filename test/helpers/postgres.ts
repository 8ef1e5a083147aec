/**
 * PostgreSQL for tests: a reachability probe, the skip-or-fail policy, and throwaway schemas.
 *
 * - `LATCHKEY_TEST_PG_URL` overrides the server (default `postgres://postgres@127.0.0.1:5432/test`).
 * - Unreachable server: with `LATCHKEY_REQUIRE_SERVICES=1` the suite fails; otherwise it is
 *   skipped with one warning line per process.
 * - Every schema is `lk_test_<random>`, selected through `search_path` in the connection
 *   options of the URL, so test files running in parallel never share tables.
 *
 * Usage in a test file (top-level await):
 *   await describePostgres('my suite', (pg) => { ... pg.createSchema() ... });
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const TEST_PG_URL = process.env.LATCHKEY_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export { SERVICES_REQUIRED, noticeOnce } from './services.js';
import { describeWithServices } from './services.js';

export type ProbeResult = { ok: true } | { ok: false; reason: string };

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparseable url>';
  }
}

let probeOnce: Promise<ProbeResult> | undefined;

/** Whether PostgreSQL at {@link TEST_PG_URL} answers `select 1` (memoised per process). */
export function probePostgres(timeoutMs = 3_000): Promise<ProbeResult> {
  probeOnce ??= (async (): Promise<ProbeResult> => {
    const client = new pg.Client({ connectionString: TEST_PG_URL, connectionTimeoutMillis: timeoutMs });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('select 1');
      return { ok: true };
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      return { ok: false, reason: typeof code === 'string' ? code : error instanceof Error ? error.message : String(error) };
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return probeOnce;
}

/** Runs `sql` on a short-lived admin connection to {@link TEST_PG_URL}. */
export async function adminQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** `url` with `search_path` (and optionally `application_name`) set through connection options. */
export function withSearchPath(url: string, schema: string, applicationName?: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`unsafe schema name ${schema}`);
  const parsed = new URL(url);
  const existing = parsed.searchParams.get('options');
  parsed.searchParams.set('options', `${existing ? `${existing} ` : ''}-c search_path=${schema}`);
  if (applicationName !== undefined) parsed.searchParams.set('application_name', applicationName);
  return parsed.toString();
}

export interface TestSchema {
  /** `lk_test_<random>`. */
  schema: string;
  /** {@link TEST_PG_URL} with `search_path` set to the schema. */
  url: string;
  /** `url` with an `application_name` too (to find its connections in `pg_stat_activity`). */
  urlWithApplicationName(applicationName: string): string;
  /** `DROP SCHEMA … CASCADE`; idempotent. */
  drop(): Promise<void>;
}

/** Creates a fresh, empty schema. Pair with `drop()` (e.g. in `afterAll`). */
export async function createTestSchema(): Promise<TestSchema> {
  const schema = `lk_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(`create schema ${schema}`);
  return {
    schema,
    url: withSearchPath(TEST_PG_URL, schema),
    urlWithApplicationName: (name) => withSearchPath(TEST_PG_URL, schema, name),
    drop: async () => {
      await adminQuery(`drop schema if exists ${schema} cascade`);
    },
  };
}

/**
 * `describe(name, body)` when PostgreSQL is reachable. Otherwise a failing test when
 * `LATCHKEY_REQUIRE_SERVICES=1`, else `describe.skip` and one `console.warn` line per process.
 * Must be awaited at the top level of the test file.
 */
export async function describePostgres(name: string, body: () => void): Promise<void> {
  const probe = await probePostgres();
  const problems = probe.ok
    ? []
    : [`PostgreSQL unreachable at ${redactUrl(TEST_PG_URL)} (${probe.reason}); set LATCHKEY_TEST_PG_URL or start the server`];
  describeWithServices('PostgreSQL', name, problems, body);
}
