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
import { ROOT, runCli, spawnCli, waitForHttp } from '../helpers/cli.js';
import { SignJWT, generateKeyPair } from 'jose';
import { startTestServer } from '../helpers/server.js';
import { TestClient } from '../helpers/http-client.js';
import { cookieHeader, expectError, signUp } from '../http/contract.js';
import { createApp as createExpressExample } from '../../examples/express-app/app.js';
import { createApp as createResourceServer } from '../../examples/resource-server/app.js';
import { freePort } from '../helpers/ports.js';

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
      // Stateless routes accept the token until it expires (docs/http-api.md#access-tokens).
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
    // The auth server was given no LATCHKEY_ISSUER: its issuer follows its port (docs/http-api.md#issuer-and-origins-without-configuration).
    const resource = await start('resource-server', {
      AUTH_JWKS_URL: `${auth.url}/.well-known/jwks.json`,
      LATCHKEY_ISSUER: `http://localhost:${new URL(auth.url).port}`,
    });
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
  it('resource-server + a separately running `latchkey serve`: verifies its tokens, survives its JWKS going down, follows two key rotations within one cooldown', async () => {
    const work = await mkdtemp(join(tmpdir(), 'latchkey-rotation-'));
    const port = await freePort();
    const authUrl = `http://127.0.0.1:${port}`;
    const issuer = `http://localhost:${port}`; // no LATCHKEY_ISSUER: it follows the port
    const cooldownSeconds = 2;
    const authEnv = {
      LATCHKEY_SECRET: randomBytes(32).toString('base64url'),
      LATCHKEY_KEY_RELOAD_INTERVAL: '1',
      LATCHKEY_RATE_LIMITS: 'off',
      LATCHKEY_LOG_LEVEL: 'error',
    };
    const serve = async () => {
      const child = spawnCli(['serve', '--port', String(port)], { cwd: work, env: authEnv });
      children.push(child);
      await waitForHttp(`${authUrl}/healthz`);
      return child;
    };
    const kidOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;
    const body = { 'x-latchkey-transport': 'body' };
    const credentials = { email: 'rotation@example.com', password: 'correct horse battery staple' };
    const authClient = new TestClient(authUrl);
    const login = async () => {
      const res = await authClient.post('/auth/login', { body: credentials, headers: body });
      expect(res.status).toBe(200);
      return res.body.accessToken as string;
    };
    try {
      let auth = await serve();
      const resource = await start('resource-server', {
        AUTH_JWKS_URL: `${authUrl}/.well-known/jwks.json`,
        LATCHKEY_ISSUER: issuer,
        AUTH_JWKS_COOLDOWN_SECONDS: String(cooldownSeconds),
      });
      const api = new TestClient(resource.url);
      expect((await authClient.post('/auth/register', { body: credentials })).status).toBe(201);
      const first = await login();
      const unseen = await login(); // same key, never shown to the resource server before the outage
      expect((await api.get('/api/orders', { bearer: first })).status).toBe(200);

      // The auth server goes away: keys already fetched keep working, forgeries still fail.
      const down = exited(auth);
      auth.kill('SIGTERM');
      expect(await down).toBe(0);
      expect((await fetch(`${authUrl}/.well-known/jwks.json`).catch(() => undefined))?.ok).not.toBe(true);
      expect((await api.get('/api/orders', { bearer: unseen })).status).toBe(200);
      expectError(await api.get('/api/orders', { bearer: `${unseen.slice(0, -4)}AAAA` }), 401, 'INVALID_TOKEN');
      await new Promise((r) => setTimeout(r, cooldownSeconds * 1000 + 100));
      const stranger = await generateKeyPair('ES256');
      const foreign = await new SignJWT({ sub: 'x', sid: 'y', role: 'admin', jti: 'z' })
        .setProtectedHeader({ alg: 'ES256', kid: 'kid-nobody-published', typ: 'at+jwt' })
        .setIssuer(issuer)
        .setAudience('latchkey')
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(stranger.privateKey);
      // An unknown kid while the JWKS cannot be fetched is an outage (503), not a verdict.
      expectError(await api.get('/api/orders', { bearer: foreign }), 503, 'UNAVAILABLE');

      // Back up; one rotation: the promoted key was published ahead as `next`, so it is accepted at once.
      auth = await serve();
      const rotate = async () => {
        // Two in a row: the second only with --force (the age rule, test/jwks/rotation-delay.test.ts).
        const r = await runCli(['keys', 'rotate', '--force'], { cwd: work, env: authEnv });
        expect(r.code).toBe(0);
        return JSON.parse(r.stdout) as { kid: string; previous: string };
      };
      const signedBy = async (kid: string) => {
        for (let i = 0; i < 50; i++) {
          const token = await login();
          if (kidOf(token) === kid) return token;
          await new Promise((r) => setTimeout(r, 100)); // the server reloads its keys every 1 s here
        }
        throw new Error(`the server never signed with ${kid}`);
      };
      const one = await rotate();
      expect(one.previous).toBe(kidOf(first));
      expect((await api.get('/api/orders', { bearer: await signedBy(one.kid) })).status).toBe(200);

      // Two rotations between fetches: the signing key is one the resource server has never seen.
      const two = await rotate();
      const fresh = await signedBy(two.kid);
      const startedAt = performance.now();
      let status = 0;
      while (performance.now() - startedAt < (cooldownSeconds + 1) * 1000) {
        status = (await api.get('/api/orders', { bearer: fresh })).status;
        if (status === 200) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(status).toBe(200);
      expect(performance.now() - startedAt).toBeLessThanOrEqual(cooldownSeconds * 1000 + 500);
      // Tokens of the retired keys keep verifying until they expire; a forgery still fails.
      expect((await api.get('/api/orders', { bearer: first })).status).toBe(200);
      expectError(await api.get('/api/orders', { bearer: foreign }), 401, 'INVALID_TOKEN');

      const stopped = [exited(auth), exited(resource.child)];
      auth.kill('SIGTERM');
      resource.child.kill('SIGTERM');
      expect(await Promise.all(stopped)).toEqual([0, 0]);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});
