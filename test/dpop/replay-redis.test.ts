/**
 * The Redis replay cache against the local Redis: one proof identifier is `fresh` exactly once
 * across instances (also when they race), it is kept at least 120 s, and an unreachable Redis
 * answers `unavailable` (the proof is refused) instead of letting proofs through unchecked.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';

import { REPLAY_TTL_MS, createReplayCache } from '../../src/dpop/index.js';
import { RedisReplayCache } from '../../src/dpop/replay-redis.js';
import { serviceAvailable } from '../helpers/services.js';

const REDIS_URL = process.env.LATCHKEY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

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

const reachable = serviceAvailable('Redis', (await redisReachable()) ? undefined : `Redis replay cache: nothing answers at ${REDIS_URL}`);
const prefix = `lk_dpoptest_${process.pid}_${randomBytes(4).toString('hex')}:`;

describe.runIf(reachable)('Redis replay cache', () => {
  const opened: { close(): Promise<void> }[] = [];
  const open = async () => {
    const cache = await createReplayCache({ redisUrl: REDIS_URL, redisPrefix: prefix });
    opened.push(cache as { close(): Promise<void> });
    return cache;
  };
  afterAll(async () => {
    await Promise.all(opened.map((c) => c.close()));
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('a key claimed on one instance is replayed on another', async () => {
    const [a, b] = [await open(), await open()];
    expect(await a.claim('jkt-1:jti-1')).toBe('fresh');
    expect(await b.claim('jkt-1:jti-1')).toBe('replayed');
    expect(await a.claim('jkt-1:jti-1')).toBe('replayed');
    expect(await b.claim('jkt-1:jti-2')).toBe('fresh');
  });

  it('40 concurrent claims of one key over two instances: exactly one is fresh', async () => {
    const [a, b] = [await open(), await open()];
    const verdicts = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).claim('jkt-2:raced')));
    expect(verdicts.filter((v) => v === 'fresh')).toHaveLength(1);
    expect(verdicts.filter((v) => v === 'replayed')).toHaveLength(39);
  });

  it('keeps the key ≥ 120 s, under the prefix, holding nothing but a marker', async () => {
    const cache = await open();
    await cache.claim('jkt-3:jti');
    const redis = new Redis(REDIS_URL);
    try {
      const ttl = await redis.pttl(`${prefix}dpop:jkt-3:jti`);
      expect(ttl).toBeGreaterThan(120_000);
      expect(ttl).toBeLessThanOrEqual(REPLAY_TTL_MS);
      expect(await redis.get(`${prefix}dpop:jkt-3:jti`)).toBe('1');
    } finally {
      redis.disconnect();
    }
  });
});

describe('Redis replay cache: Redis unreachable', () => {
  it('answers unavailable, fast', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const cache = new RedisReplayCache({ url: `redis://127.0.0.1:${port}` });
    await cache.connect();
    const started = Date.now();
    expect(await cache.claim('jkt:jti')).toBe('unavailable');
    expect(Date.now() - started).toBeLessThan(1000);
    await cache.close();
  });
});
