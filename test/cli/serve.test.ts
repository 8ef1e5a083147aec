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
