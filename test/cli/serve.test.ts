/**
 * `latchkey serve` as a real process: zero configuration, health, graceful shutdown, the
 * issuer and origins that follow the port served, the log on a terminal and off it, and
 * invalid configuration → exit 2 with one line naming the variable.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { runCli, spawnCli, waitForHttp, BIN, TSX } from '../helpers/cli.js';
import { serviceAvailable } from '../helpers/services.js';
import { freePort } from '../helpers/ports.js';

/** script(1) (util-linux) runs a command on a pseudo-terminal: the terminal-log test needs it. */
const haveScript = serviceAvailable('script', existsSync('/usr/bin/script') ? undefined : 'script(1) not found at /usr/bin/script (util-linux)');

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
    const port = await freePort();
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

  it('refuses to start beside an existing database whose generated secret is gone (exit 2, one line), and writes no new secret', async () => {
    const cwd = await tempDir();
    const port = await freePort();
    const first = spawnCli(['serve', '--port', String(port)], { cwd });
    try {
      await waitForHttp(`http://127.0.0.1:${port}/healthz`);
    } finally {
      first.kill('SIGTERM');
    }
    expect(await new Promise((resolve) => first.on('close', resolve))).toBe(0);
    await rm(join(cwd, 'data', 'secret'));
    // A new secret could not unseal the stored signing keys: refuse instead of writing one.
    const again = await runCli(['serve', '--port', String(await freePort())], { cwd });
    expect(again.code).toBe(2);
    const lines = again.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/LATCHKEY_SECRET/);
    expect(lines[0]).toMatch(/secret/);
    await expect(stat(join(cwd, 'data', 'secret'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it("serves the decoder (CSP connect-src 'none') and the demo, and counts the real flow in /metrics", async () => {
    const cwd = await tempDir();
    const port = await freePort();
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

  it('on a non-default port with no configuration: prints one demo URL, and localhost and 127.0.0.1 both pass the cross-site check', async () => {
    const cwd = await tempDir();
    const port = await freePort();
    const child = spawnCli(['serve'], { cwd, env: { PORT: String(port) } });
    const out = collect(child);
    try {
      const demo = await out.line(/"msg":"Demo page: ([^"]+)"/);
      expect(demo).toBe(`http://localhost:${port}/`);
      expect(await crossSiteCheck(port, `http://localhost:${port}`)).toBe(401); // past the check: no refresh cookie
      expect(await crossSiteCheck(port, `http://127.0.0.1:${port}`)).toBe(401);
      expect(await crossSiteCheck(port, `http://localhost:${port + 1}`)).toBe(403);
      expect(await crossSiteCheck(port, 'http://evil.example')).toBe(403);
      expect(await issuedBy(port)).toBe(`http://localhost:${port}`);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await new Promise((resolve) => child.on('close', resolve))).toBe(0);
    expect(out.stdout.match(/Demo page: /g)).toHaveLength(1);
    expect(
      out.stdout
        .split('\n')
        .filter(Boolean)
        .every((line) => line.startsWith('{')),
    ).toBe(true); // not a terminal: JSON lines
  });

  it('LATCHKEY_ISSUER set: the issuer and the one allowed origin are exactly what it says, whatever the port', async () => {
    const cwd = await tempDir();
    const port = await freePort();
    const child = spawnCli(['serve', '--port', String(port)], { cwd, env: { LATCHKEY_ISSUER: 'https://auth.example.com' } });
    const out = collect(child);
    try {
      expect(await out.line(/"msg":"Demo page: ([^"]+)"/)).toBe('https://auth.example.com/');
      expect(await crossSiteCheck(port, 'https://auth.example.com')).toBe(401);
      expect(await crossSiteCheck(port, `http://localhost:${port}`)).toBe(403);
      expect(await crossSiteCheck(port, `http://127.0.0.1:${port}`)).toBe(403);
      expect(await issuedBy(port)).toBe('https://auth.example.com');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await new Promise((resolve) => child.on('close', resolve))).toBe(0);
  });

  it.runIf(haveScript)('on a terminal the log is human-readable (pino-pretty), not JSON', async () => {
    const cwd = await tempDir();
    // script(1) gives the server a pseudo-terminal as stdout; it runs in its own process group.
    const command = [process.execPath, '--import', TSX, BIN, 'serve', '--port', '0'].map(quote).join(' ');
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      cwd,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, TERM: 'dumb' },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const out = collect(child);
    try {
      const demo = await out.line(/Demo page: (http:\/\/localhost:\d+\/)/);
      expect((await fetch(new URL('/healthz', demo))).status).toBe(200);
      expect(out.stdout).toMatch(/INFO.*Demo page: http:\/\/localhost:\d+\//);
      expect(out.stdout).not.toContain('{"level"');
    } finally {
      process.kill(-child.pid!, 'SIGTERM');
    }
    await new Promise((resolve) => child.on('close', resolve));
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ HOST: 'not a host/' }, 'HOST'],
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

const quote = (arg: string) => `'${arg.replaceAll("'", "'\\''")}'`;

/** Collects a child's output; `line(pattern)` resolves with the first capture once a line matches. */
function collect(child: ChildProcess) {
  const out = { stdout: '', stderr: '', line: (pattern: RegExp) => waitFor(pattern) };
  child.stdout!.on('data', (d) => (out.stdout += d));
  child.stderr!.on('data', (d) => (out.stderr += d));
  function waitFor(pattern: RegExp, timeoutMs = 45_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(out.stdout);
        if (!match) return false;
        clearInterval(timer);
        resolve(match[1]!);
        return true;
      };
      const timer = setInterval(() => {
        if (check()) return;
        if (child.exitCode !== null || Date.now() > deadline) {
          clearInterval(timer);
          reject(new Error(`no line matching ${pattern}:\n${out.stdout}\n${out.stderr}`));
        }
      }, 50);
      const deadline = Date.now() + timeoutMs;
    });
  }
  return out;
}

/** A cookie-transport refresh from a browser at `origin`: 403 when the cross-site check refuses it. */
async function crossSiteCheck(port: number, origin: string): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/auth/refresh`, { method: 'POST', headers: { origin } });
  const body = (await response.json()) as { error: string };
  expect(body.error).toBe(response.status === 403 ? 'CSRF_REJECTED' : 'NO_REFRESH_TOKEN');
  return response.status;
}

/** Registers and signs in a user; returns the access token's `iss`. */
async function issuedBy(port: number): Promise<string> {
  const base = `http://127.0.0.1:${port}`;
  const headers = { 'content-type': 'application/json', 'x-latchkey-transport': 'body' };
  const body = JSON.stringify({ email: `iss-${port}@example.com`, password: 'correct horse battery staple' });
  expect((await fetch(`${base}/auth/register`, { method: 'POST', headers, body })).status).toBe(201);
  const { accessToken } = (await (await fetch(`${base}/auth/login`, { method: 'POST', headers, body })).json()) as { accessToken: string };
  return (JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString('utf8')) as { iss: string }).iss;
}
