/**
 * The two examples: in-process (roles, instant revocation) and as the one-command programs a
 * user runs (`npm run example:express`, `npm run example:resource`), talking over real HTTP.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { ROOT } from '../helpers/cli.js';
import { startTestServer } from '../helpers/server.js';
import { TestClient } from '../helpers/http-client.js';
import { cookieHeader, expectError, signUp } from '../http/contract.js';
import { createApp as createExpressExample } from '../../examples/express-app/app.js';
import { createApp as createResourceServer } from '../../examples/resource-server/app.js';

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}
async function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe('examples, in-process', () => {
  it('express-app: profile, admin role, instant revocation; resource-server verifies the same tokens by JWKS only', async () => {
    const t = await startTestServer({
      buildApp: async (latchkey) => {
        const server = createServer(createExpressExample(latchkey));
        return { listen: () => listen(server), close: () => stop(server) };
      },
    });
    const resource = createServer(
      createResourceServer({ jwksUrl: `${t.baseUrl}/.well-known/jwks.json`, issuer: t.latchkey.config.issuer, audience: t.latchkey.config.audience }),
    );
    const api = new TestClient(await listen(resource));
    try {
      const user = await signUp(t.client);
      const profile = await t.client.get('/api/profile', { bearer: user.accessToken });
      expect(profile.status).toBe(200);
      expect(profile.body).toMatchObject({ id: user.userId, email: user.email, role: 'user', sessionId: expect.any(String) });
      expectError(await t.client.get('/api/admin/stats', { bearer: user.accessToken }), 403, 'FORBIDDEN');

      const orders = await api.get('/api/orders', { bearer: user.accessToken });
      expect(orders.status).toBe(200);
      expect(orders.body.user).toBe(user.userId);
      expectError(await api.get('/api/orders'), 401, 'MISSING_TOKEN');
      expectError(await api.get('/api/orders', { bearer: user.refreshToken }), 401, 'INVALID_TOKEN');
      expectError(await api.get('/api/reports', { bearer: user.accessToken }), 403, 'FORBIDDEN');

      await t.latchkey.store.updateUserRole(user.userId, 'admin', t.clock.now());
      const admin = (await t.client.post('/auth/refresh', { cookie: cookieHeader(user.refreshToken) })).body.accessToken as string;
      expect((await t.client.get('/api/admin/stats', { bearer: admin })).status).toBe(200);
      expect((await api.get('/api/reports', { bearer: admin })).status).toBe(200);

      await t.client.post('/auth/logout-all', { bearer: admin });
      expectError(await t.client.post('/api/account/export', { bearer: admin, body: {} }), 401, 'SESSION_REVOKED');
      // Stateless routes accept the token until it expires (CONTRACT §4).
      expect((await t.client.get('/api/admin/stats', { bearer: admin })).status).toBe(200);
    } finally {
      await stop(resource);
      await t.close();
    }
  });
});

describe('examples, as the programs users run', () => {
  const children: ChildProcess[] = [];
  let dir: string | undefined;
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const TSX = pathToFileURL(join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

  /** Starts `examples/<name>/server.ts` like its npm script does; resolves with its URL. */
  function start(name: string, env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
    const child = spawn(process.execPath, ['--import', TSX, join(ROOT, 'examples', name, 'server.ts')], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: '0', HOST: '127.0.0.1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    return new Promise((resolve, reject) => {
      let out = '';
      let err = '';
      const timer = setTimeout(() => reject(new Error(`${name} did not start: ${err}`)), 20_000);
      child.stderr!.on('data', (d) => (err += d));
      child.stdout!.on('data', (d) => {
        out += d;
        const match = /listening on (http:\/\/\S+)/.exec(out);
        if (match) {
          clearTimeout(timer);
          resolve({ url: match[1]!, child });
        }
      });
      child.on('exit', (code) => reject(new Error(`${name} exited with ${code}: ${err}`)));
    });
  }

  const exited = (child: ChildProcess) => new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  it('npm run example:express + npm run example:resource: sign up, call both services, stop cleanly', async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-examples-'));
    const auth = await start('express-app', {
      LATCHKEY_DATABASE_URL: `sqlite:${join(dir, 'auth.db')}`,
      LATCHKEY_SECRET: randomBytes(32).toString('base64url'),
      LATCHKEY_COOKIE_SECURE: 'false',
      LATCHKEY_LOG_LEVEL: 'warn',
    });
    const resource = await start('resource-server', { AUTH_JWKS_URL: `${auth.url}/.well-known/jwks.json` });
    const authClient = new TestClient(auth.url);
    const api = new TestClient(resource.url);

    const email = 'example@example.com';
    expect((await authClient.post('/auth/register', { body: { email, password: 'correct horse battery' } })).status).toBe(201);
    const login = await authClient.post('/auth/login', { body: { email, password: 'correct horse battery' } });
    expect(login.status).toBe(200);
    expect(login.cookies.find((c) => c.name === 'refreshToken')?.attributes.path).toBe('/auth');
    const token = login.body.accessToken as string;

    expect((await authClient.get('/api/profile', { bearer: token })).body).toMatchObject({ email, role: 'user' });
    expect((await api.get('/api/orders', { bearer: token })).status).toBe(200);
    expectError(await api.get('/api/reports', { bearer: token }), 403, 'FORBIDDEN');
    expectError(await api.get('/api/orders', { bearer: `${token.slice(0, -3)}abc` }), 401, 'INVALID_TOKEN');

    const authExit = exited(auth.child);
    const resourceExit = exited(resource.child);
    auth.child.kill('SIGTERM');
    resource.child.kill('SIGTERM');
    expect(await authExit).toBe(0);
    expect(await resourceExit).toBe(0);
  });
});
