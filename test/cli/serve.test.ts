/**
 * `latchkey serve` as a real process: zero configuration, health, graceful shutdown, and
 * invalid configuration → exit 2 with one line naming the variable.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtemp, rm, stat, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, spawnCli, waitForHttp } from '../helpers/cli.js';

const dirs: string[] = [];
async function tempDir() {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-cli-'));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('latchkey serve', () => {
  it('starts with zero configuration, creates ./data with a 0600 secret, serves, and exits 0 on SIGTERM', async () => {
    const cwd = await tempDir();
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const child = spawnCli(['serve', '--port', String(port)], { cwd });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    try {
      await waitForHttp(`http://127.0.0.1:${port}/healthz`);
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(await health.json()).toEqual({ status: 'ok' });
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
      const jwks = await (await fetch(`http://127.0.0.1:${port}/.well-known/jwks.json`)).json();
      expect(jwks.keys).toHaveLength(2); // the signing key and the next one, published ahead
      expect(jwks.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toContain('latchkey_logins_total');
      const secret = await stat(join(cwd, 'data', 'secret'));
      expect(secret.mode & 0o777).toBe(0o600);
      expect((await stat(join(cwd, 'data', 'latchkey.db'))).isFile()).toBe(true);
      expect((await readFile(join(cwd, 'data', 'secret'), 'utf8')).trim().length).toBeGreaterThanOrEqual(43);
    } finally {
      child.kill('SIGTERM');
    }
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect(stderr).toBe('');
  });

  it("serves the decoder (CSP connect-src 'none') and the demo, and counts the real flow in /metrics", async () => {
    const cwd = await tempDir();
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const base = `http://127.0.0.1:${port}`;
    const child = spawnCli(['serve', '--port', String(port)], { cwd, env: { LATCHKEY_REFRESH_GRACE: '0' } });
    try {
      await waitForHttp(`${base}/healthz`);
      const decoder = await fetch(`${base}/decoder`);
      expect(decoder.status).toBe(200);
      expect(decoder.headers.get('content-type')).toMatch(/^text\/html/);
      const csp = decoder.headers.get('content-security-policy') ?? '';
      expect(csp).toMatch(/(^|; )default-src 'self'(;|$)/);
      expect(csp).toMatch(/(^|; )connect-src 'none'(;|$)/);
      expect(await decoder.text()).toContain('data-testid="token-input"');
      expect((await fetch(`${base}/`)).status).toBe(200);

      const json = { 'content-type': 'application/json', 'x-latchkey-transport': 'body' };
      const credentials = JSON.stringify({ email: 'metrics@example.com', password: 'correct horse battery staple' });
      expect((await fetch(`${base}/auth/register`, { method: 'POST', headers: json, body: credentials })).status).toBe(201);
      const login = (await (await fetch(`${base}/auth/login`, { method: 'POST', headers: json, body: credentials })).json()) as {
        refreshToken: string;
      };
      const refresh = (token: string) =>
        fetch(`${base}/auth/refresh`, { method: 'POST', headers: json, body: JSON.stringify({ refreshToken: token }) });
      expect((await refresh(login.refreshToken)).status).toBe(200);
      const replay = await refresh(login.refreshToken); // grace 0: a spent token → reuse, session revoked
      expect(replay.status).toBe(401);
      expect(((await replay.json()) as { error: string }).error).toBe('REFRESH_TOKEN_REUSED');

      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/^latchkey_logins_total\{result="success"\} 1$/m);
      expect(metrics).toMatch(/^latchkey_refreshes_total\{result="success"\} 1$/m);
      expect(metrics).toMatch(/^latchkey_refresh_reuse_detected_total 1$/m);
      expect(metrics).toMatch(/^latchkey_http_request_duration_seconds_bucket\{.*route="\/auth\/refresh".*\} \d+$/m);
      expect(metrics).not.toContain(login.refreshToken);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await new Promise((resolve) => child.on('close', resolve))).toBe(0);
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ LATCHKEY_SIGNING_ALG: 'none' }, 'LATCHKEY_SIGNING_ALG'],
    [{ LATCHKEY_SIGNING_ALG: 'HS256', LATCHKEY_HS256_SECRET: 'too-short' }, 'LATCHKEY_HS256_SECRET'],
    [{ LATCHKEY_DATABASE_URL: 'postgres://127.0.0.1/test' }, 'LATCHKEY_SECRET'],
    [{ LATCHKEY_SECRET: 'c2hvcnQ' }, 'LATCHKEY_SECRET'],
    [{ LATCHKEY_ACCESS_TOKEN_TTL: '-5' }, 'LATCHKEY_ACCESS_TOKEN_TTL'],
  ])('invalid configuration %o → exit 2 naming %s on one line, without echoing the value', async (env, variable) => {
    const result = await runCli(['serve'], { cwd: await tempDir(), env });
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(variable);
    for (const value of Object.values(env)) if (value.length > 6) expect(result.stderr).not.toContain(value);
  });
});
