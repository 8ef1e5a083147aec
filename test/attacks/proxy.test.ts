/**
 * LATCHKEY_TRUST_PROXY with real proxied requests: a small reverse proxy (node:http, on
 * loopback) forwards to the real server and appends the address it saw to X-Forwarded-For,
 * as a load balancer does. Distinct clients are distinct loopback addresses (127.0.0.2,
 * 127.0.0.3, …: Linux routes all of 127/8 to lo), so the server can tell them apart only
 * through the header — and must believe the header exactly as far as the setting says.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { runCli } from '../helpers/cli.js';
import { loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/errors.js';

const PASSWORD = 'correct horse battery staple';
/** The address each proxy connects from (what the server sees as the socket peer). */
const PROXY_A = '127.0.0.10';
const PROXY_B = '127.0.0.11';
const ATTACKER = '127.0.0.2';
const OWNER = '127.0.0.3';

interface Target {
  port: number;
}

/** A reverse proxy on 127.0.0.1 that forwards to `upstream` from `outAddress`, appending the peer to X-Forwarded-For. */
async function startProxy(upstream: Target, outAddress: string): Promise<{ port: number; server: Server }> {
  const server = createServer((req, res) => {
    const seen = req.socket.remoteAddress!;
    const prior = req.headers['x-forwarded-for'];
    const headers: IncomingHttpHeaders = { ...req.headers, 'x-forwarded-for': prior ? `${prior}, ${seen}` : seen };
    const forward = httpRequest(
      { host: '127.0.0.1', port: upstream.port, localAddress: outAddress, method: req.method, path: req.url, headers },
      (answer) => {
        res.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, server };
}

/** One JSON request to 127.0.0.1:`port`, sent from `from`. */
function send(
  port: number,
  from: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: { error?: string } | undefined }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        localAddress: from,
        method: 'POST',
        path,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function serverTrusting(trustProxy: string): Promise<{ t: TestServer; port: number }> {
  const t = await startTestServer({
    trustProxy: loadConfig({ LATCHKEY_TRUST_PROXY: trustProxy }).trustProxy,
    rateLimits: { ...loadConfig({}).rateLimits, enabled: true },
  });
  cleanup.push(() => t.close());
  return { t, port: Number(new URL(t.baseUrl).port) };
}

async function proxyTo(target: Target, outAddress: string): Promise<number> {
  const proxy = await startProxy(target, outAddress);
  cleanup.push(() => new Promise((resolve) => proxy.server.close(() => resolve())));
  return proxy.port;
}

/** The addresses the server recorded for login attempts, in order. */
async function loginAddresses(t: TestServer): Promise<Array<string | null>> {
  const audit = await t.latchkey.store.listAudit({ limit: 1000 });
  return audit.filter((e) => e.type.startsWith('login_')).map((e) => e.ip);
}

describe('attacks: LATCHKEY_TRUST_PROXY behind a real proxy', () => {
  it("1 (one hop): an attacker's 20 failed logins lock only the attacker out, not the owner elsewhere; spoofed headers change nothing", async () => {
    const { t, port } = await serverTrusting('1');
    const lb = await proxyTo({ port }, PROXY_A);
    const owner = `owner-${Date.now()}@example.com`;
    await t.latchkey.auth.register(owner, PASSWORD, { ip: null, userAgent: null });
    // 20 logins per address per minute: the attacker spends the whole budget over many accounts.
    for (let i = 0; i < 20; i++) {
      const res = await send(
        lb,
        ATTACKER,
        '/auth/login',
        { email: `someone-${i}@example.com`, password: `guess ${i}` },
        { 'x-forwarded-for': '203.0.113.66' },
      );
      expect(res.status).toBe(401);
    }
    expect(
      (await send(lb, ATTACKER, '/auth/login', { email: 'x@example.com', password: 'guess' }, { 'x-forwarded-for': `198.51.100.7` })).status,
    ).toBe(429);
    const ownerLogin = await send(lb, OWNER, '/auth/login', { email: owner, password: PASSWORD }, { 'x-forwarded-for': '198.51.100.7' });
    expect(ownerLogin.status).toBe(200);
    const seen = await loginAddresses(t);
    expect(new Set(seen)).toEqual(new Set([ATTACKER, OWNER]));
  });

  it('2 (two hops): the address the outer proxy saw is the client; one hop further is spoofable and not believed', async () => {
    const { t, port } = await serverTrusting('2');
    const inner = await proxyTo({ port }, PROXY_B);
    const outer = await proxyTo({ port: inner }, PROXY_A);
    await send(outer, ATTACKER, '/auth/login', { email: 'a@example.com', password: 'guess one' }, { 'x-forwarded-for': '203.0.113.66' });
    await send(outer, OWNER, '/auth/login', { email: 'b@example.com', password: 'guess two' });
    expect(await loginAddresses(t)).toEqual([ATTACKER, OWNER]);
  });

  it('true: the left-most X-Forwarded-For entry, if it is an IP address; anything else (15 KB of junk) falls back to the socket address', async () => {
    const { t, port } = await serverTrusting('true');
    const lb = await proxyTo({ port }, PROXY_A);
    await send(lb, ATTACKER, '/auth/login', { email: 'a@example.com', password: 'guess one' }, { 'x-forwarded-for': '198.51.100.7' });
    await send(lb, ATTACKER, '/auth/login', { email: 'a@example.com', password: 'guess two' }, { 'x-forwarded-for': '2001:db8::7' });
    await send(lb, ATTACKER, '/auth/login', { email: 'a@example.com', password: 'guess three' }, { 'x-forwarded-for': 'x'.repeat(15_000) });
    await send(lb, ATTACKER, '/auth/login', { email: 'a@example.com', password: 'guess four' }, { 'x-forwarded-for': '198.51.100.7:4711' });
    const seen = await loginAddresses(t);
    expect(seen).toEqual(['198.51.100.7', '2001:db8::7', PROXY_A, PROXY_A]);
    const rows = await t.latchkey.store.listAudit({ limit: 1000 });
    expect(Math.max(...rows.map((r) => (r.ip ?? '').length))).toBeLessThanOrEqual(45);
  });

  it('an address list: only those peers are proxies; a client that reaches the server directly cannot spoof', async () => {
    const { t, port } = await serverTrusting(`${PROXY_A}, ::1`);
    const lb = await proxyTo({ port }, PROXY_A);
    await send(lb, ATTACKER, '/auth/login', { email: 'a@example.com', password: 'through the proxy' }, { 'x-forwarded-for': '203.0.113.66' });
    await send(port, ATTACKER, '/auth/login', { email: 'a@example.com', password: 'straight to the server' }, { 'x-forwarded-for': '203.0.113.66' });
    expect(await loginAddresses(t)).toEqual([ATTACKER, ATTACKER]);
  });

  it('CIDR ranges and named ranges: every peer inside is a proxy, so two chained proxies are both skipped', async () => {
    for (const value of ['127.0.0.8/29', '127.0.0.8/255.255.255.248, fd00::/8']) {
      const { t, port } = await serverTrusting(value);
      const inner = await proxyTo({ port }, PROXY_B);
      const outer = await proxyTo({ port: inner }, PROXY_A);
      await send(outer, OWNER, '/auth/login', { email: 'b@example.com', password: 'guess one' }, { 'x-forwarded-for': '203.0.113.66' });
      await send(port, ATTACKER, '/auth/login', { email: 'b@example.com', password: 'guess two' }, { 'x-forwarded-for': '203.0.113.66' });
      expect(await loginAddresses(t), value).toEqual([OWNER, ATTACKER]);
    }
    // `loopback` is all of 127/8 and ::1: here even the clients count as proxies, so the header is believed.
    const { t, port } = await serverTrusting('loopback');
    await send(port, ATTACKER, '/auth/login', { email: 'c@example.com', password: 'guess three' }, { 'x-forwarded-for': '203.0.113.66' });
    expect(await loginAddresses(t)).toEqual(['203.0.113.66']);
  });

  it('false, 0 and unset: the socket address, whatever the headers say', async () => {
    for (const value of ['false', '0', '']) {
      const { t, port } = await serverTrusting(value);
      const lb = await proxyTo({ port }, PROXY_A);
      await send(lb, OWNER, '/auth/login', { email: 'd@example.com', password: 'guess one' }, { 'x-forwarded-for': '203.0.113.66' });
      expect(await loginAddresses(t), value).toEqual([PROXY_A]);
    }
  });

  it('values that cannot work are refused when the configuration is read, naming the variable', () => {
    for (const value of ['yes', 'on', 'no', '-1', '1.5', '300.0.0.1', '10.0.0.0/33', 'example.com', '10.0.0.1,,', 'true, 10.0.0.1']) {
      let thrown: unknown;
      try {
        loadConfig({ LATCHKEY_TRUST_PROXY: value });
      } catch (error) {
        thrown = error;
      }
      expect(thrown, value).toBeInstanceOf(ConfigError);
      expect((thrown as ConfigError).variable, value).toBe('LATCHKEY_TRUST_PROXY');
    }
  });

  it('latchkey serve with LATCHKEY_TRUST_PROXY=yes exits 2 with one line naming the variable', async () => {
    const result = await runCli(['serve', '--port', '0'], { env: { LATCHKEY_TRUST_PROXY: 'yes', LATCHKEY_DATABASE_URL: 'sqlite::memory:' } });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('LATCHKEY_TRUST_PROXY');
  });
});
