/**
 * Counter stores: memory (bounded, clocked windows), Redis against the local server at
 * 127.0.0.1:6379 (atomic across connections, windows expire, no e-mail in any key), shared
 * limits across two servers, and what happens when Redis is unreachable or goes away.
 *
 * Redis tests are skipped with one notice when nothing answers on 6379, unless
 * LATCHKEY_REQUIRE_SERVICES=1, when they fail instead.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { serviceAvailable } from '../helpers/services.js';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { MemoryCounterStore, FallbackCounterStore, createCounterStore } from '../../src/ratelimit/index.js';
import { RedisCounterStore } from '../../src/ratelimit/redis.js';
import { ipKey } from '../../src/auth/rate-limit.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { loadConfig, type RateLimitConfig } from '../../src/config/config.js';

const REDIS_URL = process.env.LATCHKEY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PASSWORD = 'correct horse battery staple';

async function redisReachable(): Promise<boolean> {
  const probe = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1000, retryStrategy: () => null });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

const reachable = serviceAvailable('Redis', (await redisReachable()) ? undefined : `Redis rate-limit store: nothing answers at ${REDIS_URL}`);

const limits = (overrides: Partial<RateLimitConfig> = {}): RateLimitConfig => ({ ...loadConfig({}).rateLimits, enabled: true, ...overrides });
const prefix = () => `lk_rltest_${process.pid}_${randomBytes(4).toString('hex')}:`;

describe('memory counter store', () => {
  it('counts in a fixed window that starts at the first hit and ends on the clock', async () => {
    let now = 1_000_000;
    const store = new MemoryCounterStore({ now: () => now });
    expect(await store.increment('k', 60_000)).toEqual({ count: 1, resetInMs: 60_000 });
    now += 10_000;
    expect(await store.increment('k', 60_000)).toEqual({ count: 2, resetInMs: 50_000 });
    expect(await store.get('k')).toEqual({ count: 2, resetInMs: 50_000 });
    now += 50_000;
    expect(await store.get('k')).toEqual({ count: 0, resetInMs: 0 });
    expect((await store.increment('k', 60_000)).count).toBe(1);
    await store.reset('k');
    expect((await store.get('k')).count).toBe(0);
  });

  it('stays bounded under a flood of distinct keys', async () => {
    const store = new MemoryCounterStore({ maxKeys: 1000 });
    for (let i = 0; i < 10_000; i++) await store.increment(`ip:${i}`, 60_000);
    expect(store.size).toBeLessThanOrEqual(1000);
    expect((await store.get('ip:9999')).count).toBe(1);
  });

  it('client addresses: IPv4-mapped IPv6 as IPv4, IPv6 by /64', () => {
    expect(ipKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(ipKey('192.0.2.7')).toBe('192.0.2.7');
    expect(ipKey('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(ipKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(ipKey('::1')).toBe('0:0:0:0::/64');
    expect(ipKey(null)).toBe('unknown');
  });
});

describe.skipIf(!reachable)('Redis counter store (127.0.0.1:6379)', () => {
  let a: RedisCounterStore;
  let b: RedisCounterStore;
  let raw: Redis;
  const p = prefix();
  beforeAll(async () => {
    a = new RedisCounterStore({ url: REDIS_URL, prefix: p });
    b = new RedisCounterStore({ url: REDIS_URL, prefix: p });
    expect(await a.connect()).toBe(true);
    expect(await b.connect()).toBe(true);
    raw = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    const keys = await raw.keys(`${p}*`);
    if (keys.length) await raw.del(...keys);
    raw.disconnect();
    await a.close();
    await b.close();
  });

  it('increments atomically across two connections: 400 parallel hits → counts 1..400, each once', async () => {
    const results = await Promise.all(Array.from({ length: 400 }, (_, i) => (i % 2 ? a : b).increment('race', 60_000)));
    const counts = results.map((r) => r.count).sort((x, y) => x - y);
    expect(counts).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
    const ttl = await raw.pttl(`${p}rl:race`);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('the window expires in Redis, and get/reset work', async () => {
    expect((await a.increment('short', 150)).count).toBe(1);
    expect((await b.get('short')).count).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await b.get('short')).toEqual({ count: 0, resetInMs: 0 });
    await a.increment('gone', 60_000);
    await b.reset('gone');
    expect((await a.get('gone')).count).toBe(0);
  });

  describe('two servers on one Redis', () => {
    let s1: TestServer;
    let s2: TestServer;
    const shared = prefix();
    beforeAll(async () => {
      const secret = new Uint8Array(randomBytes(32));
      const rl = limits({ redisPrefix: shared });
      s1 = await startTestServer({ rateLimits: rl, redisUrl: REDIS_URL, secret });
      s2 = await startTestServer({ rateLimits: rl, redisUrl: REDIS_URL, secret });
    });
    afterAll(async () => {
      const keys = await raw.keys(`${shared}*`);
      if (keys.length) await raw.del(...keys);
      await s1?.close();
      await s2?.close();
    });

    it('brute force split across both hits the shared account limit (5, then 429 on both)', async () => {
      const victim = `victim-${randomBytes(4).toString('hex')}@example.com`;
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) {
        const server = i % 2 ? s2 : s1;
        statuses.push((await server.client.post('/auth/login', { body: { email: victim, password: `guess number ${i}` } })).status);
      }
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429, 429, 429]);
      // No e-mail address, in any form, in a Redis key.
      const keys = await raw.keys(`${shared}*`);
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) {
        expect(key).not.toContain('@');
        expect(key).not.toContain(victim.split('@')[0]);
      }
    });
  });

  it('Redis going away mid-attack: counting goes on locally (default), and is shared again once it is back', async () => {
    const proxy = await tcpProxy(6379);
    const p2 = prefix();
    const t = await startTestServer({ rateLimits: limits({ redisPrefix: p2 }), redisUrl: `redis://127.0.0.1:${proxy.port}` });
    try {
      const victim = `victim-${randomBytes(4).toString('hex')}@example.com`;
      const login = (i: number) => t.client.post('/auth/login', { body: { email: victim, password: `guess number ${i}` } });
      for (let i = 0; i < 3; i++) expect((await login(i)).status).toBe(401);
      expect(Number(await raw.get((await raw.keys(`${p2}rl:login:acct:*`))[0]!))).toBe(3);
      proxy.stop();
      const started = Date.now();
      // Local counters start from zero: 5 more are checked, then 429 — limits still hold.
      const during: number[] = [];
      for (let i = 0; i < 7; i++) during.push((await login(10 + i)).status);
      expect(during).toEqual([401, 401, 401, 401, 401, 429, 429]);
      expect(Date.now() - started).toBeLessThan(5_000); // nobody waits for the dead Redis
      await proxy.start();
      await waitFor(async () => (t.latchkey.auth.rateLimiter!.store as FallbackCounterStore).shared);
      // Back on Redis: its counter (3) resumes; 2 more checked, then 429.
      const after: number[] = [];
      for (let i = 0; i < 3; i++) after.push((await login(20 + i)).status);
      expect(after).toEqual([401, 401, 429]);
    } finally {
      await t.close();
      await proxy.close();
      const keys = await raw.keys(`${p2}*`);
      if (keys.length) await raw.del(...keys);
    }
  });
});

describe('Redis unreachable (closed port)', () => {
  let closedPort: number;
  beforeAll(async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closedPort = (server.address() as AddressInfo).port;
    await new Promise((resolve) => server.close(resolve));
  });

  it('default (local): logins work, limits hold per instance, nothing hangs', async () => {
    const t = await startTestServer({ rateLimits: limits(), redisUrl: `redis://127.0.0.1:${closedPort}` });
    try {
      const victim = `victim-${randomBytes(4).toString('hex')}@example.com`;
      expect((await t.client.post('/auth/register', { body: { email: victim, password: PASSWORD } })).status).toBe(201);
      const started = Date.now();
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++)
        statuses.push((await t.client.post('/auth/login', { body: { email: victim, password: `guess number ${i}` } })).status);
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await t.close();
    }
  });

  it('LATCHKEY_RATE_LIMIT_REDIS_FAILURE=closed: rate-limited routes answer 503 UNAVAILABLE, others work', async () => {
    const t = await startTestServer({ rateLimits: limits({ redisFailure: 'closed' }), redisUrl: `redis://127.0.0.1:${closedPort}` });
    try {
      const res = await t.client.post('/auth/login', { body: { email: 'someone@example.com', password: PASSWORD } });
      expect([res.status, res.body.error]).toEqual([503, 'UNAVAILABLE']);
      expect((await t.client.post('/auth/register', { body: { email: 'new@example.com', password: PASSWORD } })).status).toBe(503);
      expect((await t.client.get('/healthz')).status).toBe(200);
      expect((await t.client.get('/.well-known/jwks.json')).status).toBe(200);
    } finally {
      await t.close();
    }
  });

  it('createCounterStore without a URL is memory; with one it falls back while disconnected', async () => {
    expect(await createCounterStore()).toBeInstanceOf(MemoryCounterStore);
    const store = await createCounterStore({ redisUrl: `redis://127.0.0.1:${closedPort}` });
    try {
      expect(store).toBeInstanceOf(FallbackCounterStore);
      expect((store as FallbackCounterStore).shared).toBe(false);
      expect((await store.increment('k', 1000)).count).toBe(1);
      expect((await store.increment('k', 1000)).count).toBe(2);
    } finally {
      await store.close();
    }
  });
});

async function waitFor(condition: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('waitFor: timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A TCP proxy to 127.0.0.1:`target` that can be cut (all connections dropped, port closed) and restored. */
async function tcpProxy(target: number) {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const start = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        const upstream = connect(target, '127.0.0.1');
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => undefined);
        }
        client.pipe(upstream).pipe(client);
      });
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as AddressInfo).port;
        resolve();
      });
    });
  await start();
  return {
    get port() {
      return port;
    },
    stop() {
      server?.close();
      for (const s of sockets) s.destroy();
    },
    start,
    async close() {
      this.stop();
    },
  };
}
