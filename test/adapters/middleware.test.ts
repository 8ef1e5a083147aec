/**
 * requireAuth / requireRole / checkSession in Express and Fastify host apps, and the
 * mounting details of the auth routes (mount path → cookie Path, body parsers, fall-through).
 */
import { describe, it, expect, beforeAll, afterAll, vi } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { cookieHeader, expectError, refreshCookieOf, signUp } from '../http/contract.js';
import { expressHost, fastifyHost } from './hosts.js';
import { StoreUnavailableError } from '../../src/errors.js';
import { requireAuth as expressRequireAuth, requireRole as expressRequireRole } from '../../src/adapters/express.js';
import { requireAuth as fastifyRequireAuth } from '../../src/adapters/fastify.js';

const hosts = {
  Express: (options = {}) => startTestServer({ ...options, buildApp: (latchkey) => expressHost(latchkey) }),
  Fastify: (options = {}) => startTestServer({ ...options, buildApp: (latchkey) => fastifyHost(latchkey) }),
} satisfies Record<string, (options?: object) => Promise<TestServer>>;

describe.each(Object.entries(hosts))('requireAuth in %s', (_name, start) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await start();
  });
  afterAll(async () => {
    await t.close();
  });

  it('sets user = {id, role, sessionId, claims} from a valid token', async () => {
    const user = await signUp(t.client);
    const res = await t.client.get('/api/profile', { bearer: user.accessToken });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: user.userId,
      role: 'user',
      sessionId: expect.any(String),
      claims: expect.objectContaining({ sub: user.userId, role: 'user', iss: t.latchkey.config.issuer }),
    });
    expect(res.body.sessionId).toBe(res.body.claims.sid);
  });

  it('RFC 6750 401s with the contract codes; the token never appears in the answer', async () => {
    const user = await signUp(t.client);
    const missing = await t.client.get('/api/profile');
    expectError(missing, 401, 'MISSING_TOKEN');
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="latchkey"');
    const basic = await t.client.get('/api/profile', { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    expectError(basic, 401, 'MISSING_TOKEN');
    const tampered = `${user.accessToken.slice(0, -4)}AAAA`;
    for (const authorization of [`Bearer ${tampered}`, 'Bearer', 'Bearer a b', `Bearer ${user.refreshToken}`]) {
      const res = await t.client.get('/api/profile', { headers: { authorization } });
      expectError(res, 401, 'INVALID_TOKEN');
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="latchkey", error="invalid_token"/);
      expect(res.text).not.toContain(tampered.slice(0, 20));
    }
    t.clock.advance((t.latchkey.config.accessTokenTtl + 61) * 1000);
    const expired = await t.client.get('/api/profile', { bearer: user.accessToken });
    expectError(expired, 401, 'TOKEN_EXPIRED');
    expect(expired.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    expect(expired.text).not.toContain(user.accessToken);
  });

  it('requireRole: 403 FORBIDDEN for another role, 200 once the role is granted', async () => {
    const user = await signUp(t.client);
    expectError(await t.client.get('/api/admin', { bearer: user.accessToken }), 403, 'FORBIDDEN');
    expectError(await t.client.get('/api/admin'), 401, 'MISSING_TOKEN');
    await t.latchkey.store.updateUserRole(user.userId, 'admin', t.clock.now());
    const refreshed = await t.client.post('/auth/refresh', { cookie: cookieHeader(user.refreshToken) });
    const res = await t.client.get('/api/admin', { bearer: refreshed.body.accessToken });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ admin: user.userId });
  });

  it('checkSession: a logged-out session is rejected with 401 SESSION_REVOKED; without it the token lives until exp', async () => {
    const user = await signUp(t.client);
    expect((await t.client.get('/api/instant', { bearer: user.accessToken })).status).toBe(200);
    await t.client.post('/auth/logout', { cookie: cookieHeader(user.refreshToken) });
    const res = await t.client.get('/api/instant', { bearer: user.accessToken });
    expectError(res, 401, 'SESSION_REVOKED');
    expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    expect((await t.client.get('/api/profile', { bearer: user.accessToken })).status).toBe(200);
  });

  it('checkSession caches a live answer for at most 2 s by default', async () => {
    const user = await signUp(t.client);
    expect((await t.client.get('/api/instant-cached', { bearer: user.accessToken })).status).toBe(200);
    await t.client.post('/auth/logout', { cookie: cookieHeader(user.refreshToken) });
    expect((await t.client.get('/api/instant-cached', { bearer: user.accessToken })).status).toBe(200);
    t.clock.advance(2_000);
    expectError(await t.client.get('/api/instant-cached', { bearer: user.accessToken }), 401, 'SESSION_REVOKED');
  });

  it('checkSession: 503 UNAVAILABLE when the store cannot answer', async () => {
    const user = await signUp(t.client);
    const spy = vi.spyOn(t.latchkey.auth, 'isSessionLive').mockRejectedValue(new StoreUnavailableError());
    try {
      expectError(await t.client.get('/api/instant', { bearer: user.accessToken }), 503, 'UNAVAILABLE');
    } finally {
      spy.mockRestore();
    }
    expect((await t.client.get('/api/instant', { bearer: user.accessToken })).status).toBe(200);
  });
});

describe('requireAuth options are checked once, at construction', () => {
  it.each([
    ['Express', expressRequireAuth],
    ['Fastify', fastifyRequireAuth],
  ] as const)('%s', (_name, requireAuth) => {
    expect(() => requireAuth({} as never)).toThrow(/exactly one/);
    expect(() => requireAuth({ latchkey: {} } as never)).toThrow(/createLatchkey/);
    expect(() => requireAuth({ latchkey: {}, jwksUrl: 'https://a.example/jwks' } as never)).toThrow(/exactly one/);
    expect(() => requireAuth({ jwksUrl: 'https://a.example/jwks', issuer: 'i', audience: 'a', sessionCacheMs: 60_000 })).toThrow(/sessionCacheMs/);
    expect(() => expressRequireRole(...([] as unknown as [string]))).toThrow(/at least one role/);
  });
});

describe('mounting the auth routes', () => {
  it('Express: the cookie Path follows the mount path', async () => {
    const t = await startTestServer({ buildApp: (latchkey) => expressHost(latchkey, { mountPath: '/api/v1/auth' }) });
    try {
      await t.client.post('/api/v1/auth/register', { body: { email: 'mount@example.com', password: 'correct horse battery' } });
      const login = await t.client.post('/api/v1/auth/login', { body: { email: 'mount@example.com', password: 'correct horse battery' } });
      expect(login.status).toBe(200);
      expect(refreshCookieOf(login)!.attributes.path).toBe('/api/v1/auth');
      const refreshed = await t.client.post('/api/v1/auth/refresh?x=1', { cookie: cookieHeader(refreshCookieOf(login)!.value) });
      expect(refreshed.status).toBe(200);
      expectError(await t.client.get('/api/v1/auth/custom'), 404, 'NOT_FOUND');
    } finally {
      await t.close();
    }
  });

  it('Express: fallthrough passes unknown paths under the mount to the next handler', async () => {
    const t = await startTestServer({ buildApp: (latchkey) => expressHost(latchkey, { fallthrough: true }) });
    try {
      expect((await t.client.get('/auth/custom')).body).toEqual({ host: 'express' });
      expect((await t.client.post('/auth/login', { body: { email: 'x@example.com', password: 'wrong password' } })).status).toBe(401);
    } finally {
      await t.close();
    }
  });

  it('Express: a body parser in front of the router is reported, not a hang', async () => {
    const t = await startTestServer({ buildApp: (latchkey) => expressHost(latchkey, { parserFirst: true }) });
    try {
      const res = await t.client.post('/auth/login', { body: { email: 'x@example.com', password: 'wrong password' } });
      expect(res.status).toBe(500);
      expect(res.body.hostError).toMatch(/before body parsers/);
      expect(res.text).not.toContain('wrong password');
      // Body-less requests are unaffected.
      expectError(await t.client.get('/auth/me'), 401, 'MISSING_TOKEN');
    } finally {
      await t.close();
    }
  });

  it('Fastify: the cookie Path follows the prefix, and the host app keeps its own 404', async () => {
    const t = await startTestServer({ buildApp: (latchkey) => fastifyHost(latchkey, '/identity') });
    try {
      await t.client.post('/identity/register', { body: { email: 'prefix@example.com', password: 'correct horse battery' } });
      const login = await t.client.post('/identity/login', { body: { email: 'prefix@example.com', password: 'correct horse battery' } });
      expect(refreshCookieOf(login)!.attributes.path).toBe('/identity');
      expectError(await t.client.get('/identity/nope'), 404, 'NOT_FOUND');
      const hostNotFound = await t.client.get('/elsewhere');
      expect(hostNotFound.status).toBe(404);
      expect(hostNotFound.body.error).toBe('Not Found'); // Fastify's own, untouched
    } finally {
      await t.close();
    }
  });
});

describe('requireAuth with a JWKS, over HTTP', () => {
  it.each(['Express', 'Fastify'] as const)(
    '%s: verifies, 401s, and answers 503 UNAVAILABLE for an unknown kid while the JWKS is down',
    async (kind) => {
      const { startJwksServer } = await import('../jwks/jwks-server.js');
      const express = (await import('express')).default;
      const Fastify = (await import('fastify')).default;
      const { createServer } = await import('node:http');
      const jwks = await startJwksServer();
      // No cooldown: the unknown kid below must cause a fetch attempt (which fails).
      const options = { jwksUrl: jwks.url, issuer: 'https://auth.example.com', audience: 'latchkey', jwksOptions: { cooldownMs: 0 } };
      let url: string;
      let close: () => Promise<void>;
      if (kind === 'Express') {
        const app = express();
        app.get('/api', expressRequireAuth(options), (req, res) => res.json(req.user));
        const server = createServer(app);
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
        close = () => new Promise((resolve) => server.close(() => resolve()));
      } else {
        const app = Fastify();
        app.get('/api', { preHandler: fastifyRequireAuth(options) }, async (request) => request.user);
        url = await app.listen({ port: 0, host: '127.0.0.1' });
        close = () => app.close();
      }
      const { TestClient } = await import('../helpers/http-client.js');
      const client = new TestClient(url);
      try {
        const now = Math.floor(Date.now() / 1000);
        const claims = { iss: options.issuer, aud: 'latchkey', sub: 'u1', sid: 's1', role: 'user', iat: now, exp: now + 60 };
        const ok = await client.get('/api', { bearer: jwks.sign(claims) });
        expect(ok.status).toBe(200);
        expect(ok.body).toMatchObject({ id: 'u1', sessionId: 's1', role: 'user' });
        expectError(await client.get('/api', { bearer: jwks.sign({ ...claims, exp: now - 120 }) }), 401, 'TOKEN_EXPIRED');
        const first = jwks.current;
        await jwks.down();
        const next = jwks.rotate();
        const res = await client.get('/api', { bearer: jwks.sign(claims, next) });
        expectError(res, 503, 'UNAVAILABLE');
        expect(res.headers.get('www-authenticate')).toBeNull();
        expect((await client.get('/api', { bearer: jwks.sign(claims, first) })).status).toBe(200); // cached key still works
      } finally {
        await close();
        await jwks.close();
      }
    },
  );
});
