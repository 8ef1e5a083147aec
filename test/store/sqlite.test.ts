import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { ConfigError, StoreUnavailableError } from '../../src/errors.js';
import { createStore, parseStoreUrl } from '../../src/store/index.js';
import { migrationsFor } from '../../src/store/migrations.js';
import type { Store } from '../../src/store/types.js';
import { runStoreConformance } from './conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'latchkey-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
const pathOf = new WeakMap<Store, string>();

async function fileStore(): Promise<Store> {
  const path = join(dir, `db-${++n}`, 'latchkey.db');
  const store = await createStore({ url: `sqlite:${path}` });
  pathOf.set(store, path);
  return store;
}

runStoreConformance('sqlite file (WAL)', fileStore, {
  // A second better-sqlite3 handle on the same file, as a second process would have.
  openSibling: async (store) => {
    const path = pathOf.get(store);
    if (!path) throw new Error('not a file store of this suite');
    const sibling = await createStore({ url: `sqlite:${path}` });
    pathOf.set(sibling, path);
    return sibling;
  },
  dumpTables: async (store) => {
    const path = pathOf.get(store);
    if (!path) throw new Error('not a file store of this suite');
    const raw = new BetterSqlite3(path, { readonly: true });
    try {
      const names = raw.prepare(`select name from sqlite_master where type = 'table' and name not like 'sqlite_%'`).pluck().all() as string[];
      return Object.fromEntries(names.map((name) => [name, raw.prepare(`select * from "${name}"`).all() as Array<Record<string, unknown>>]));
    } finally {
      raw.close();
    }
  },
});

runStoreConformance('sqlite :memory:', () => createStore({ url: 'sqlite::memory:' }));

describe('sqlite specifics', () => {
  it('creates the parent directory and puts the file in WAL mode', async () => {
    const path = join(dir, 'nested', 'deeper', 'x.db');
    const store = await createStore({ url: `sqlite:${path}` });
    onTestFinished(() => store.close());
    await store.migrate();
    expect(statSync(path).isFile()).toBe(true);
    const raw = new BetterSqlite3(path, { readonly: true });
    try {
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
      const tables = raw.prepare(`select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name`).pluck().all();
      expect(tables).toEqual([
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
      const indexes = raw.prepare(`select name from sqlite_master where type = 'index' and sql is not null order by name`).pluck().all();
      expect(indexes).toEqual([
        'audit_events_actor_idx',
        'audit_events_at_idx',
        'audit_events_user_idx',
        'identities_user_idx',
        'link_tokens_user_idx',
        'mail_queue_due_idx',
        'mail_queue_user_idx',
        'mfa_tokens_user_idx',
        'oauth_flows_used_expires_idx',
        'passkeys_user_idx',
        'recovery_codes_user_idx',
        'sessions_user_id_idx',
        'signing_keys_one_current',
        'signing_keys_one_next',
        'users_created_idx',
        'webauthn_challenges_expires_idx',
        'webhook_deliveries_due_idx',
      ]);
      // The webhook outbox's trigger (docs/storage.md#the-webhook-outbox).
      expect(raw.prepare(`select name from sqlite_master where type = 'trigger'`).pluck().all()).toEqual(['audit_events_webhook']);
    } finally {
      raw.close();
    }
  });

  it('synchronous = NORMAL by default, FULL when asked (LATCHKEY_SQLITE_SYNCHRONOUS), on every connection', async () => {
    // The pragma belongs to the connection: read it through the backend's own handle.
    const { openSqlite } = await import('../../src/store/sqlite.js');
    const { sql } = await import('kysely');
    const levels: Record<string, number> = {};
    for (const [name, setting] of [
      ['default', undefined],
      ['normal', 'normal'],
      ['full', 'full'],
    ] as const) {
      const backend = openSqlite(join(dir, `sync-${name}.db`), undefined, setting);
      onTestFinished(() => backend.close());
      const { rows } = await sql<{ synchronous: number }>`pragma synchronous`.execute(backend.db);
      levels[name] = rows[0]!.synchronous;
    }
    // SQLite's codes: 1 = NORMAL, 2 = FULL.
    expect(levels).toEqual({ default: 1, normal: 1, full: 2 });
    const { loadConfig } = await import('../../src/config/config.js');
    expect(loadConfig({}).sqliteSynchronous).toBe('normal');
    expect(loadConfig({ LATCHKEY_SQLITE_SYNCHRONOUS: ' FULL ' }).sqliteSynchronous).toBe('full');
    for (const bad of ['off', 'extra', '2']) {
      expect(() => loadConfig({ LATCHKEY_SQLITE_SYNCHRONOUS: bad })).toThrow(
        expect.objectContaining({ variable: 'LATCHKEY_SQLITE_SYNCHRONOUS', message: expect.stringContaining('must be normal or full') }),
      );
    }
  });

  it('accepts sqlite:///absolute/path', async () => {
    const path = join(dir, 'triple-slash.db');
    const store = await createStore({ url: `sqlite://${path}` });
    onTestFinished(() => store.close());
    await store.migrate();
    expect(statSync(path).isFile()).toBe(true);
  });

  it('two handles migrating one fresh file at once both succeed', async () => {
    const path = join(dir, 'migrate-race.db');
    const stores = await Promise.all(Array.from({ length: 4 }, () => createStore({ url: `sqlite:${path}` })));
    onTestFinished(() => Promise.all(stores.map((s) => s.close())).then(() => undefined));
    await Promise.all(stores.map((s) => s.migrate()));
    await stores[0]!.ping();
    const raw = new BetterSqlite3(path, { readonly: true });
    try {
      expect(raw.prepare('select count(*) from kysely_migration').pluck().get()).toBe(Object.keys(migrationsFor('sqlite')).length);
    } finally {
      raw.close();
    }
  });

  it('a file that cannot be opened → StoreUnavailableError', async () => {
    // The temp directory itself is not a database file.
    await expect(createStore({ url: `sqlite:${dir}` })).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('a file that is not a database → StoreUnavailableError from every call', async () => {
    const path = join(dir, 'garbage.db');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path, 'this is not a sqlite database, just some text padding '.repeat(100));
    const attempt = createStore({ url: `sqlite:${path}` }).then(async (store) => {
      onTestFinished(() => store.close());
      await store.ping();
    });
    await expect(attempt).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});

describe('sqlite across processes', () => {
  const worker = fileURLToPath(new URL('./fixtures/sqlite-worker.ts', import.meta.url));
  const run = promisify(execFile);

  /** Starts `count` processes that act together at one instant; returns their JSON outputs. */
  async function race(count: number, args: string[]): Promise<unknown[]> {
    const env = { ...process.env, START_AT: String(Date.now() + 2_500) };
    const outputs = await Promise.all(Array.from({ length: count }, () => run(process.execPath, ['--import', 'tsx', worker, ...args], { env })));
    return outputs.map((o) => JSON.parse(o.stdout) as unknown);
  }

  it('processes migrating, inserting the first key and rotating one session at once', { timeout: 60_000 }, async () => {
    const path = join(dir, 'processes.db');
    expect(await race(4, [path, 'migrate'])).toEqual(['migrated', 'migrated', 'migrated', 'migrated']);

    const kids = await race(4, [path, 'insertFirst']);
    expect(new Set(kids).size).toBe(1);

    const store = await createStore({ url: `sqlite:${path}` });
    onTestFinished(() => store.close());
    const user = await store.createUser({ id: 'u', email: 'u@example.test', passwordHash: 'h', role: 'user', now: 1 });
    const session = (await store.createSession(
      {
        id: 's',
        userId: user.id,
        credentialGeneration: user.credentialGeneration,
        now: 1,
        idleExpiresAt: 2 ** 50,
        absoluteExpiresAt: 2 ** 50,
        userAgent: null,
        ip: null,
      },
      { type: 'login_success', ip: null },
    ))!;
    const wins = (await race(4, [path, 'rotate', session.id])) as number[];
    expect(wins.reduce((a, b) => a + b, 0)).toBe(1);
    expect((await store.findSession(session.id))?.counter).toBe(1);
    expect((await store.listAudit()).map((e) => e.type)).toEqual(['login_success', 'refresh']);
    expect((await store.listSigningKeys(2)).map((k) => k.kid)).toEqual(kids.slice(0, 1));
  });
});

describe('parseStoreUrl', () => {
  it('parses the supported forms', () => {
    expect(parseStoreUrl('sqlite:./data/latchkey.db')).toEqual({ dialect: 'sqlite', path: './data/latchkey.db' });
    expect(parseStoreUrl('sqlite::memory:')).toEqual({ dialect: 'sqlite', path: ':memory:' });
    expect(parseStoreUrl('sqlite:///var/lib/x.db')).toEqual({ dialect: 'sqlite', path: '/var/lib/x.db' });
    expect(parseStoreUrl('postgres://u:p@h/db')).toEqual({ dialect: 'postgres', connectionString: 'postgres://u:p@h/db' });
    expect(parseStoreUrl('postgresql://h/db')).toEqual({ dialect: 'postgres', connectionString: 'postgresql://h/db' });
  });

  it('rejects other URLs with a ConfigError that does not echo the URL', () => {
    for (const url of ['mysql://user:hunter2@h/db', 'sqlite:', 'file:x.db', '']) {
      let caught: unknown;
      try {
        parseStoreUrl(url);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ConfigError);
      expect((caught as ConfigError).variable).toBe('LATCHKEY_DATABASE_URL');
      expect((caught as Error).message).not.toContain('hunter2');
    }
  });

  it('createStore rejects a bad pool size', async () => {
    await expect(createStore({ url: 'sqlite::memory:', poolSize: 0 })).rejects.toBeInstanceOf(ConfigError);
    await expect(createStore({ url: 'sqlite::memory:', poolSize: 1.5 })).rejects.toBeInstanceOf(ConfigError);
  });
});
