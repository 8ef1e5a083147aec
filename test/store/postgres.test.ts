import pg from 'pg';
import { afterAll, expect, it, onTestFinished } from 'vitest';
import { StoreUnavailableError } from '../../src/errors.js';
import { createStore, type StoreLogger } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { migrationsFor } from '../../src/store/migrations.js';
import { adminQuery, createTestSchema, describePostgres, type TestSchema } from '../helpers/postgres.js';
import { runStoreConformance } from './conformance.js';

const schemas: TestSchema[] = [];
const schemaOf = new WeakMap<Store, TestSchema>();

// One at a time: `drop schema … cascade` locks every object of the schema until it commits
// (~150 with today's tables and indexes); dropping this suite's dozens of schemas at once ran
// PostgreSQL out of lock-table slots ("out of shared memory", max_locks_per_transaction 64).
afterAll(async () => {
  for (const schema of schemas) await schema.drop();
}, 120_000);

async function freshSchema(): Promise<TestSchema> {
  const schema = await createTestSchema();
  schemas.push(schema);
  return schema;
}

/** A store on a new, empty schema of its own. */
async function makeStore(): Promise<Store> {
  const schema = await freshSchema();
  const store = await createStore({ url: schema.url, poolSize: 4 });
  schemaOf.set(store, schema);
  return store;
}

const quietLogger = (): StoreLogger & { warnings: object[] } => {
  const warnings: object[] = [];
  return { warnings, info: () => {}, warn: (obj) => warnings.push(obj), error: (obj) => warnings.push(obj) };
};

await describePostgres('postgres store', () => {
  runStoreConformance('postgres', makeStore, {
    openSibling: async (store) => {
      const schema = schemaOf.get(store);
      if (!schema) throw new Error('not a store of this suite');
      const sibling = await createStore({ url: schema.url, poolSize: 4 });
      schemaOf.set(sibling, schema);
      return sibling;
    },
    dumpTables: async (store) => {
      const schema = schemaOf.get(store);
      if (!schema) throw new Error('not a store of this suite');
      const tables = await adminQuery<{ table_name: string }>(`select table_name from information_schema.tables where table_schema = $1`, [
        schema.schema,
      ]);
      const dump: Record<string, Array<Record<string, unknown>>> = {};
      for (const { table_name } of tables) dump[table_name] = await adminQuery(`select * from ${schema.schema}."${table_name}"`);
      return dump;
    },
  });

  it('concurrent migrate() on a fresh schema: every caller succeeds, applied once', async () => {
    for (let round = 0; round < 3; round++) {
      const schema = await freshSchema();
      const stores = await Promise.all(Array.from({ length: 4 }, () => createStore({ url: schema.url, poolSize: 2 })));
      try {
        await Promise.all(stores.map((s) => s.migrate()));
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
      const rows = await adminQuery<{ name: string }>(`select name from ${schema.schema}.kysely_migration`);
      expect(rows.map((r) => r.name)).toEqual(Object.keys(migrationsFor('postgres')));
      const tables = await adminQuery<{ table_name: string }>(
        `select table_name from information_schema.tables where table_schema = $1 order by table_name`,
        [schema.schema],
      );
      expect(tables.map((t) => t.table_name)).toEqual([
        'audit_events',
        'identities',
        'kysely_migration',
        'kysely_migration_lock',
        'link_tokens',
        'mail_queue',
        'mfa_tokens',
        'oauth_flows_used',
        'passkeys',
        'recovery_codes',
        'sessions',
        'signing_keys',
        'totp_factors',
        'users',
        'webauthn_challenges',
        'webhook_deliveries',
        'webhook_settings',
      ]);
    }
  });

  it('keeps each schema to itself (another schema with Kysely tables does not confuse migrate)', async () => {
    // Other schemas of this database already hold `kysely_migration` tables (from the tests
    // above); a fresh one must still get its own.
    const store = await makeStore();
    onTestFinished(() => store.close());
    await store.migrate();
    const schema = schemaOf.get(store)!;
    const rows = await adminQuery(`select name from ${schema.schema}.kysely_migration`);
    expect(rows).toHaveLength(Object.keys(migrationsFor('postgres')).length);
  });

  it('stores times as bigint and returns numbers, without touching the global pg type parsers', async () => {
    const store = await makeStore();
    onTestFinished(() => store.close());
    await store.migrate();
    const schema = schemaOf.get(store)!;
    const cols = await adminQuery<{ column_name: string; data_type: string }>(
      `select column_name, data_type from information_schema.columns where table_schema = $1 and table_name = 'sessions' and column_name like '%_at'`,
      [schema.schema],
    );
    expect(new Set(cols.map((c) => c.data_type))).toEqual(new Set(['bigint']));
    await store.appendAudit({ type: 't', at: 2 ** 52 });
    const [event] = await store.listAudit();
    expect(event).toMatchObject({ at: 2 ** 52 });
    expect(typeof event!.id).toBe('number');
    // The global parser still yields strings for int8.
    expect(pg.types.getTypeParser(20, 'text')('42')).toBe('42');
  });

  it('honours poolSize', async () => {
    const schema = await freshSchema();
    const app = `lk_pool_${schema.schema}`;
    const store = await createStore({ url: schema.urlWithApplicationName(app), poolSize: 2 });
    onTestFinished(() => store.close());
    await store.migrate();
    await Promise.all(Array.from({ length: 30 }, () => store.listAudit()));
    const [row] = await adminQuery<{ n: string }>(`select count(*) as n from pg_stat_activity where application_name = $1`, [app]);
    expect(Number(row!.n)).toBeLessThanOrEqual(2);
  });

  it('an unreachable server → StoreUnavailableError from every method', async () => {
    const store = await createStore({ url: 'postgres://postgres@127.0.0.1:1/test', poolSize: 1 });
    onTestFinished(() => store.close());
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.migrate()).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.findUserById('x')).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.createUser({ id: 'x', email: 'x@example.test', passwordHash: 'h', role: 'user', now: 1 })).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
    await expect(
      store.rotateSession({ id: 's', expectedCounter: 0, now: 1, idleExpiresAt: 2, audit: { type: 'refresh', ip: null } }),
    ).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.changePassword('u', 'h', null, 1)).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('an unknown database → StoreUnavailableError', async () => {
    const store = await createStore({ url: 'postgres://postgres@127.0.0.1:5432/lk_no_such_database_here' });
    onTestFinished(() => store.close());
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('idle connections killed by the server (57P01) do not crash the process; the pool recovers', async () => {
    const schema = await freshSchema();
    const app = `lk_kill_${schema.schema}`;
    const logger = quietLogger();
    const store = await createStore({ url: schema.urlWithApplicationName(app), poolSize: 3, logger });
    onTestFinished(() => store.close());
    await store.migrate();
    await Promise.all([store.ping(), store.ping(), store.ping()]);
    const killed = await adminQuery(`select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1`, [app]);
    expect(killed.length).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(logger.warnings.length).toBeGreaterThan(0);
    // The pool dropped the dead clients; the next calls get new connections.
    await store.ping();
    await store.appendAudit({ type: 'after-kill', at: 1 });
    expect((await store.listAudit()).map((e) => e.type)).toEqual(['after-kill']);
  });

  it('a connection killed mid-query → StoreUnavailableError, and the store keeps working', async () => {
    const schema = await freshSchema();
    const app = `lk_midq_${schema.schema}`;
    const store = await createStore({ url: schema.urlWithApplicationName(app), poolSize: 2, logger: quietLogger() });
    onTestFinished(() => store.close());
    // Hold the migration lock of this schema so that migrate() blocks inside a query…
    const holder = new pg.Client({ connectionString: schema.url });
    holder.on('error', () => undefined);
    await holder.connect();
    onTestFinished(() => holder.end().catch(() => undefined));
    await holder.query(`select pg_advisory_lock(${0x4c6b}, hashtext(current_schema()))`);
    const migrating = store.migrate();
    const settled = migrating.then(
      () => 'resolved',
      (error: unknown) => error,
    );
    // …wait until it is waiting on the lock, then kill it.
    for (let i = 0; i < 100; i++) {
      const waiting = await adminQuery(`select pid from pg_stat_activity where application_name = $1 and wait_event_type = 'Lock'`, [app]);
      if (waiting.length > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await adminQuery(`select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1`, [app]);
    const outcome = await settled;
    expect(outcome).toBeInstanceOf(StoreUnavailableError);
    expect((outcome as StoreUnavailableError).message).toContain('57P01');
    await holder.query(`select pg_advisory_unlock(${0x4c6b}, hashtext(current_schema()))`);
    await store.migrate();
    await store.ping();
  });
});
