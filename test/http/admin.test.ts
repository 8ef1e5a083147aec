/**
 * The admin API over a real server (docs/admin.md#http-api), on SQLite and on PostgreSQL: 1,000
 * users paged 50 at a time while more are created (none repeated, none dropped); 403 for a
 * non-admin, 401 SESSION_REVOKED for a revoked admin session, STEP_UP_REQUIRED for an admin with a
 * factor at aal1; disabling (every refresh token 401 at once, requireAuth({checkSession}) refuses,
 * login 403 only after a correct password); deleting (no row of any table but audit names the
 * user: every table of the schema is read); a role change in the next refresh's token; the last
 * admin; the audit query with its filters.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/http/server.js';
import { latchkeyUser, requireAuth } from '../../src/adapters/fastify.js';
import { expressAdminRouter, expressRouter, requireAuth as expressRequireAuth } from '../../src/adapters/express.js';
import { hashPassword } from '../../src/auth/passwords.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import type { TestResponse } from '../helpers/http-client.js';
import { adminQuery, createTestSchema, describePostgres, type TestSchema } from '../helpers/postgres.js';
import { expectError, PASSWORD } from './contract.js';

const BODY = { 'x-latchkey-transport': 'body' };
const claimsOf = (token: string): Record<string, unknown> => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));

type Dump = Record<string, Array<Record<string, unknown>>>;

interface Target {
  server: TestServer;
  /** Every row of every table, tables listed from the catalogue. */
  dump(): Promise<Dump>;
}

async function startSqlite(): Promise<Target> {
  return sqliteTarget(await startWithInstantRoute({}));
}

/** The same API inside an Express app: expressRouter at /auth, expressAdminRouter at /admin. */
async function startExpress(): Promise<Target> {
  return sqliteTarget(
    await startTestServer({
      buildApp: async (latchkey) => {
        const app = express();
        app.use('/auth', expressRouter(latchkey));
        app.use('/admin', expressAdminRouter(latchkey));
        app.get('/api/instant', expressRequireAuth({ latchkey, checkSession: true, sessionCacheMs: 0 }), (_req, res) => {
          res.json({ ok: true });
        });
        const server = createServer(app);
        return {
          listen: () =>
            new Promise<string>((resolve) =>
              server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)),
            ),
          close: () =>
            new Promise<void>((resolve) => {
              server.closeAllConnections();
              server.close(() => resolve());
            }),
        };
      },
    }),
  );
}

function sqliteTarget(server: TestServer): Target {
  return {
    server,
    async dump() {
      const raw = new BetterSqlite3(join(server.dir, 'latchkey.db'), { readonly: true });
      try {
        const names = raw.prepare(`select name from sqlite_master where type = 'table' and name not like 'sqlite_%'`).pluck().all() as string[];
        return Object.fromEntries(names.map((n) => [n, raw.prepare(`select * from "${n}"`).all() as Array<Record<string, unknown>>]));
      } finally {
        raw.close();
      }
    },
  };
}

async function startPostgres(): Promise<Target> {
  const schema: TestSchema = await createTestSchema();
  const server = await startWithInstantRoute({ databaseUrl: schema.url });
  const close = server.close.bind(server);
  server.close = async () => {
    await close();
    await schema.drop();
  };
  return {
    server,
    async dump() {
      const tables = await adminQuery<{ table_name: string }>(`select table_name from information_schema.tables where table_schema = $1`, [
        schema.schema,
      ]);
      const dump: Dump = {};
      for (const { table_name } of tables) dump[table_name] = await adminQuery(`select * from ${schema.schema}."${table_name}"`);
      return dump;
    },
  };
}

/** The standalone server plus one host route behind requireAuth({checkSession: true}). */
function startWithInstantRoute(options: { databaseUrl?: string }) {
  return startTestServer({
    ...options,
    buildApp: async (latchkey) => {
      const app = await buildServer({ latchkey, logLevel: 'silent' });
      await app.register(latchkeyUser);
      app.get('/api/instant', { preHandler: requireAuth({ latchkey, checkSession: true, sessionCacheMs: 0 }) }, async () => ({ ok: true }));
      return { app, listen: () => app.listen({ port: 0, host: '127.0.0.1' }), close: () => app.close() };
    },
  });
}

function runAdminApi(label: string, start: () => Promise<Target>): void {
  describe(`admin API — ${label}`, () => {
    let target: Target;
    let t: TestServer;
    let admin: { id: string; email: string; accessToken: string; refreshToken: string };
    let fastHash: string;

    beforeAll(async () => {
      target = await start();
      t = target.server;
      fastHash = await hashPassword(PASSWORD);
      const created = await t.latchkey.auth.createUser(`admin-${randomUUID()}@example.com`, PASSWORD, 'admin');
      admin = { id: created.id, email: created.email, ...(await login(created.email)) };
    }, 60_000);
    afterAll(() => t?.close());

    async function login(email: string, headers: Record<string, string> = {}) {
      const res = await t.client.post('/auth/login', { body: { email, password: PASSWORD }, headers: { ...BODY, ...headers } });
      expect(res.status).toBe(200);
      return { accessToken: res.body.accessToken as string, refreshToken: res.body.refreshToken as string };
    }

    /** A user with a password, created in the store (no hashing per user). */
    async function addUser(role = 'user', email = `u-${randomUUID()}@example.com`) {
      return t.latchkey.store.createUser({ id: randomUUID(), email, passwordHash: fastHash, role, now: t.clock.now() });
    }

    const refresh = (refreshToken: string) => t.client.post('/auth/refresh', { body: { refreshToken }, headers: BODY });
    const get = (path: string, bearer = admin.accessToken) => t.client.get(path, { bearer });

    it('pages 1,000 users 50 at a time with the cursor while users are being created: none repeated, none dropped', async () => {
      const before = new Set<string>();
      for (let batch = 0; batch < 10; batch++) {
        const users = await Promise.all(Array.from({ length: 100 }, () => addUser()));
        for (const u of users) before.add(u.id);
        t.clock.advance(1);
      }
      for (const u of (await t.latchkey.store.listUsers({ limit: 5000 })).slice(0, 5000)) before.add(u.id);
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
        const [res]: [TestResponse, ...unknown[]] = await Promise.all([
          get(`/admin/users?limit=50${query}`),
          // Creations racing the page: some at the very instant of the users already listed.
          ...Array.from({ length: 5 }, () => addUser()),
        ]);
        expect(res.status).toBe(200);
        expect(res.headers.get('cache-control')).toBe('no-store');
        seen.push(...res.body.users.map((u: { id: string }) => u.id));
        cursor = res.body.nextCursor;
        pages++;
        if (pages % 4 === 0) t.clock.advance(1);
      } while (cursor !== null && pages < 200);
      expect(new Set(seen).size).toBe(seen.length);
      for (const id of before) expect(seen).toContain(id);
      expect(pages).toBeGreaterThanOrEqual(21);
      const first = (await get('/admin/users?limit=1')).body.users[0];
      expect(Object.keys(first).sort()).toEqual(['createdAt', 'disabled', 'email', 'emailVerified', 'id', 'role']);
    }, 120_000);

    it('searches case-insensitively by part of the address, or by exact id', async () => {
      const tag = randomUUID().slice(0, 8);
      const user = await addUser('user', `Findme.${tag}@Example.com`.toLowerCase());
      const byPart = await get(`/admin/users?query=${encodeURIComponent(`FINDME.${tag.toUpperCase()}`)}`);
      expect(byPart.body.users.map((u: { id: string }) => u.id)).toEqual([user.id]);
      expect((await get(`/admin/users?query=${user.id}`)).body.users.map((u: { email: string }) => u.email)).toEqual([user.email]);
      expect((await get(`/admin/users?query=${tag}-nothing`)).body).toEqual({ users: [], nextCursor: null });
      expectError(await get('/admin/users?limit=0'), 400, 'VALIDATION_FAILED');
      expectError(await get('/admin/users?limit=201'), 400, 'VALIDATION_FAILED');
      expectError(await get('/admin/users?limit=abc'), 400, 'VALIDATION_FAILED');
      expectError(await get('/admin/users?cursor=not-one-of-ours'), 400, 'VALIDATION_FAILED');
      expectError(await get('/admin/users?query=a&query=b'), 400, 'VALIDATION_FAILED');
      expectError(await get('/admin/users?sort=email'), 400, 'VALIDATION_FAILED');
    });

    it('403 FORBIDDEN for a non-admin; 401 without a token; 401 SESSION_REVOKED for a revoked admin session', async () => {
      const user = await addUser();
      const tokens = await login(user.email);
      for (const [method, path] of [
        ['GET', '/admin/users'],
        ['GET', `/admin/users/${admin.id}`],
        ['PATCH', `/admin/users/${user.id}`],
        ['DELETE', `/admin/users/${admin.id}`],
        ['POST', `/admin/users/${admin.id}/sessions/revoke`],
        ['GET', '/admin/audit'],
      ] as const) {
        const body = method === 'PATCH' ? { role: 'admin' } : undefined;
        expectError(await t.client.request(method, path, { bearer: tokens.accessToken, ...(body ? { body } : {}) }), 403, 'FORBIDDEN');
        expectError(await t.client.request(method, path, body ? { body } : {}), 401, 'MISSING_TOKEN');
      }
      expect((await t.latchkey.store.findUserById(user.id))?.role).toBe('user');
      // A second admin whose session is revoked.
      const other = await addUser('admin');
      const otherTokens = await login(other.email);
      expect((await get('/admin/users?limit=1', otherTokens.accessToken)).status).toBe(200);
      await t.client.post('/auth/logout', { body: { refreshToken: otherTokens.refreshToken }, headers: BODY });
      const revoked = await get('/admin/users?limit=1', otherTokens.accessToken);
      expectError(revoked, 401, 'SESSION_REVOKED');
      expect(revoked.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
      // An admin demoted since its token was minted is no admin any more.
      const demoted = await addUser('admin');
      const demotedTokens = await login(demoted.email);
      await t.latchkey.store.updateUser(demoted.id, { role: 'user' }, t.clock.now(), { actorId: 'cli', ip: null });
      expect(claimsOf(demotedTokens.accessToken).role).toBe('admin');
      expectError(await get('/admin/users', demotedTokens.accessToken), 403, 'FORBIDDEN');
    });

    it('an admin with a second factor needs an aal2 token: 401 STEP_UP_REQUIRED with the RFC 9470 challenge', async () => {
      const strong = await addUser('admin');
      const tokens = await login(strong.email);
      await t.latchkey.store.saveTotpEnrollment({ id: randomUUID(), userId: strong.id, secretSealed: 'v1.sealed', now: t.clock.now() });
      await t.latchkey.store.confirmTotp(strong.id, 1, t.clock.now(), [], { type: 'mfa_enrolled', at: t.clock.now(), userId: strong.id });
      const res = await get('/admin/users', tokens.accessToken);
      expectError(res, 401, 'STEP_UP_REQUIRED');
      expect(res.headers.get('www-authenticate')).toMatch(/insufficient_user_authentication.*acr_values="aal2"/);
    });

    it('user detail: sessions and factors, never a secret; 404 for an unknown id', async () => {
      const user = await addUser();
      await login(user.email, { 'user-agent': 'DetailAgent/1' });
      await t.latchkey.store.saveTotpEnrollment({ id: `f-${randomUUID()}`, userId: user.id, secretSealed: 'v1.TOPSECRET', now: t.clock.now() });
      await t.latchkey.store.confirmTotp(user.id, 1, t.clock.now(), ['mac-1'], { type: 'mfa_enrolled', at: t.clock.now(), userId: user.id });
      const res = await get(`/admin/users/${user.id}`);
      expect(res.status).toBe(200);
      expect(res.body.user).toMatchObject({ id: user.id, email: user.email, role: 'user', disabled: false, emailVerified: false });
      expect(res.body.sessions).toHaveLength(1);
      expect(res.body.sessions[0]).toMatchObject({ userAgent: 'DetailAgent/1', ip: '127.0.0.1', acr: 'aal1', amr: ['pwd'] });
      expect(res.body.factors).toEqual([{ id: expect.any(String), type: 'totp', createdAt: expect.any(String), lastUsedAt: expect.any(String) }]);
      expect(JSON.stringify(res.body)).not.toMatch(/TOPSECRET|mac-1|password|hash/i);
      expectError(await get(`/admin/users/${randomUUID()}`), 404, 'NOT_FOUND');
    });

    it('disable: every refresh token 401 at once, checkSession routes 401 SESSION_REVOKED, login 403 ACCOUNT_DISABLED only after a correct password', async () => {
      const user = await addUser();
      const sessions = await Promise.all([login(user.email), login(user.email), login(user.email)]);
      expect((await t.client.get('/api/instant', { bearer: sessions[0]!.accessToken })).status).toBe(200);
      const res = await t.client.patch(`/admin/users/${user.id}`, { bearer: admin.accessToken, body: { disabled: true } });
      expect(res.status).toBe(200);
      expect(res.body.user).toMatchObject({ id: user.id, disabled: true });
      for (const s of sessions) {
        expectError(await refresh(s.refreshToken), 401, 'INVALID_REFRESH_TOKEN');
        expectError(await t.client.get('/api/instant', { bearer: s.accessToken }), 401, 'SESSION_REVOKED');
        expectError(await t.client.get('/auth/sessions', { bearer: s.accessToken }), 401, 'SESSION_REVOKED');
      }
      const wrong = await t.client.post('/auth/login', { body: { email: user.email, password: 'not the password at all' }, headers: BODY });
      expectError(wrong, 401, 'INVALID_CREDENTIALS');
      const right = await t.client.post('/auth/login', { body: { email: user.email, password: PASSWORD }, headers: BODY });
      expectError(right, 403, 'ACCOUNT_DISABLED');
      expect(right.body.accessToken).toBeUndefined();
      // Enabling restores no session; signing in works again.
      const enabled = await t.client.patch(`/admin/users/${user.id}`, { bearer: admin.accessToken, body: { disabled: false } });
      expect(enabled.body.user.disabled).toBe(false);
      expectError(await refresh(sessions[1]!.refreshToken), 401, 'INVALID_REFRESH_TOKEN');
      await login(user.email);
      const audit = await get(`/admin/audit?userId=${user.id}&type=admin_user_disabled`);
      expect(audit.body.events).toEqual([
        {
          id: expect.any(Number),
          type: 'admin_user_disabled',
          at: expect.any(String),
          userId: user.id,
          actorId: admin.id,
          sessionId: null,
          ip: '127.0.0.1',
          data: { revokedSessions: 3 },
        },
      ]);
    });

    it('a role change reaches the next refresh; roles outside [A-Za-z0-9_.:-]{1,64} are refused', async () => {
      const user = await addUser();
      const tokens = await login(user.email);
      expect(claimsOf(tokens.accessToken).role).toBe('user');
      const res = await t.client.patch(`/admin/users/${user.id}`, { bearer: admin.accessToken, body: { role: 'billing:editor' } });
      expect(res.body.user.role).toBe('billing:editor');
      const refreshed = await refresh(tokens.refreshToken);
      expect(refreshed.status).toBe(200);
      expect(claimsOf(refreshed.body.accessToken).role).toBe('billing:editor');
      for (const role of ['', 'has space', 'x'.repeat(65), 'é', 'a/b']) {
        expectError(await t.client.patch(`/admin/users/${user.id}`, { bearer: admin.accessToken, body: { role } }), 400, 'VALIDATION_FAILED');
      }
      expect('x'.repeat(64)).toMatch(/^[A-Za-z0-9_.:-]{1,64}$/);
      expect((await t.client.patch(`/admin/users/${user.id}`, { bearer: admin.accessToken, body: { role: 'x'.repeat(64) } })).status).toBe(200);
      expectError(
        await t.client.patch(`/admin/users/${user.id}`, { bearer: admin.accessToken, body: { disabled: 'yes' } }),
        400,
        'VALIDATION_FAILED',
      );
      expectError(await t.client.patch(`/admin/users/${user.id}`, { bearer: admin.accessToken, body: { email: 'x@y.z' } }), 400, 'VALIDATION_FAILED');
      expectError(await t.client.patch(`/admin/users/${randomUUID()}`, { bearer: admin.accessToken, body: { role: 'a' } }), 404, 'NOT_FOUND');
      const verified = await t.client.patch(`/admin/users/${user.id}`, { bearer: admin.accessToken, body: { emailVerified: true } });
      expect(verified.body.user.emailVerified).toBe(true);
      const events = (await get(`/admin/audit?userId=${user.id}`)).body.events.map((e: { type: string }) => e.type);
      expect(events.filter((type: string) => type.startsWith('admin_'))).toEqual([
        'admin_email_verified',
        'admin_role_changed',
        'admin_role_changed',
      ]);
    });

    it('sessions revoke: all of them, or one by id; their refresh tokens answer 401', async () => {
      const user = await addUser();
      const [a, b, c] = await Promise.all([login(user.email), login(user.email), login(user.email)]);
      const detail = await get(`/admin/users/${user.id}`);
      const one = detail.body.sessions[0].id as string;
      const single = await t.client.post(`/admin/users/${user.id}/sessions/revoke`, { bearer: admin.accessToken, body: { sessionId: one } });
      expect(single.body).toEqual({ revokedSessions: 1 });
      expect((await get(`/admin/users/${user.id}`)).body.sessions).toHaveLength(2);
      expectError(
        await t.client.post(`/admin/users/${user.id}/sessions/revoke`, { bearer: admin.accessToken, body: { sessionId: one } }),
        404,
        'NOT_FOUND',
      );
      const all = await t.client.post(`/admin/users/${user.id}/sessions/revoke`, { bearer: admin.accessToken });
      expect(all.body).toEqual({ revokedSessions: 2 });
      for (const s of [a!, b!, c!]) expectError(await refresh(s.refreshToken), 401, 'INVALID_REFRESH_TOKEN');
      const events = (await get(`/admin/audit?userId=${user.id}&type=admin_sessions_revoked`)).body.events;
      expect(events.map((e: { data: unknown; actorId: string }) => [e.data, e.actorId])).toEqual([
        [{ count: 2 }, admin.id],
        [{ count: 1 }, admin.id],
      ]);
    });

    it('the last enabled admin cannot be demoted, disabled or deleted (409 LAST_ADMIN)', async () => {
      // Make the suite's admin the only enabled one.
      for (const u of await t.latchkey.store.listUsers({ limit: 5000, query: '' })) {
        if (u.role === 'admin' && u.id !== admin.id && u.disabledAt === null) {
          await t.latchkey.store.updateUser(u.id, { role: 'user' }, t.clock.now(), { actorId: 'cli', ip: null });
        }
      }
      for (const body of [{ role: 'user' }, { disabled: true }]) {
        expectError(await t.client.patch(`/admin/users/${admin.id}`, { bearer: admin.accessToken, body }), 409, 'LAST_ADMIN');
      }
      expectError(await t.client.delete(`/admin/users/${admin.id}`, { bearer: admin.accessToken }), 409, 'LAST_ADMIN');
      expect((await get(`/admin/users/${admin.id}`)).body.user).toMatchObject({ role: 'admin', disabled: false });
    });

    it('delete: afterwards no row of any table but audit names the user, and audit rows keep only the id', async () => {
      const email = `doomed-${randomUUID()}@example.com`;
      const user = await addUser('user', email);
      const tokens = await login(email, { 'user-agent': 'DoomedAgent/7.1' });
      await t.latchkey.store.saveTotpEnrollment({ id: `f-${randomUUID()}`, userId: user.id, secretSealed: 'v1.s', now: t.clock.now() });
      await t.latchkey.store.confirmTotp(user.id, 1, t.clock.now(), ['rc-1', 'rc-2'], {
        type: 'mfa_enrolled',
        at: t.clock.now(),
        userId: user.id,
        ip: '127.0.0.1',
      });
      await t.client.post('/auth/login', { body: { email, password: 'wrong password here' }, headers: BODY });
      const res = await t.client.delete(`/admin/users/${user.id}`, { bearer: admin.accessToken });
      expect(res.status).toBe(204);
      expectError(await get(`/admin/users/${user.id}`), 404, 'NOT_FOUND');
      expectError(await t.client.delete(`/admin/users/${user.id}`, { bearer: admin.accessToken }), 404, 'NOT_FOUND');
      expectError(await refresh(tokens.refreshToken), 401, 'INVALID_REFRESH_TOKEN');
      const tables = await target.dump();
      expect(Object.keys(tables).length).toBeGreaterThanOrEqual(11);
      for (const [table, rows] of Object.entries(tables)) {
        for (const row of rows) {
          const text = JSON.stringify(row);
          expect(text, table).not.toContain(email);
          expect(text, table).not.toContain('DoomedAgent');
          if (table !== 'audit_events') expect(text, table).not.toContain(user.id);
        }
      }
      const kept = tables.audit_events!.filter((r) => r.user_id === user.id);
      expect(kept.map((r) => r.type).sort()).toEqual(['admin_user_deleted', 'login_failure', 'login_success', 'mfa_enrolled']);
      for (const row of kept) {
        if (row.type === 'admin_user_deleted') expect(row).toMatchObject({ actor_id: admin.id });
        else expect(row.ip).toBeNull();
        expect(String(row.detail)).not.toMatch(/example\.com/);
      }
    });

    it('audit: newest first, filtered by user (about or by), actor and type, with a cursor', async () => {
      const byAdmin = await get(`/admin/audit?actorId=${admin.id}&limit=200`);
      expect(byAdmin.body.events.length).toBeGreaterThan(5);
      for (const e of byAdmin.body.events) expect(e.actorId).toBe(admin.id);
      const aboutOrBy = await get(`/admin/audit?userId=${admin.id}&limit=200`);
      const ids = aboutOrBy.body.events.map((e: { id: number }) => e.id);
      expect([...ids].sort((x: number, y: number) => y - x)).toEqual(ids);
      expect(aboutOrBy.body.events.some((e: { userId: string }) => e.userId === admin.id)).toBe(true);
      expect(aboutOrBy.body.events.some((e: { userId: string; actorId: string }) => e.actorId === admin.id && e.userId !== admin.id)).toBe(true);
      const seen: number[] = [];
      let cursor: string | null = null;
      do {
        const res = await get(`/admin/audit?userId=${admin.id}&limit=3${cursor ? `&cursor=${cursor}` : ''}`);
        seen.push(...res.body.events.map((e: { id: number }) => e.id));
        cursor = res.body.nextCursor;
      } while (cursor);
      expect(seen).toEqual(ids);
      expectError(await get('/admin/audit?cursor=%7B%7D'), 400, 'VALIDATION_FAILED');
      expectError(await get('/admin/audit?limit=500'), 400, 'VALIDATION_FAILED');
    });
  });
}

runAdminApi('SQLite', startSqlite);
runAdminApi('Express routers, SQLite', startExpress);
await describePostgres('admin API on PostgreSQL', () => runAdminApi('PostgreSQL', startPostgres));
