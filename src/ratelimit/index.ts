/** Counter stores for rate limits (the policy is in `auth/rate-limit.ts`). */
export type { CounterStore } from './store.js';
export { MemoryCounterStore } from './memory.js';
export { FallbackCounterStore, type RedisFailureMode } from './fallback.js';

import { MemoryCounterStore } from './memory.js';
import { FallbackCounterStore, type RedisFailureMode } from './fallback.js';
import type { CounterStore } from './store.js';

export interface CounterStoreOptions {
  /** `redis://…` shares counters between instances; absent → memory. */
  redisUrl?: string | undefined;
  redisFailure?: RedisFailureMode | undefined;
  redisPrefix?: string | undefined;
  now?: () => number;
  logger?: { warn(obj: object, msg?: string): void; info?(obj: object, msg?: string): void } | undefined;
}

/**
 * The counter store for a configuration: memory, or Redis with a memory fallback (or 503s,
 * with `redisFailure: 'closed'`). Waits for the first Redis connection attempt (≤ 1 s) so
 * the first requests are already shared; a Redis that is down at start is retried in the
 * background while the fallback serves.
 */
export async function createCounterStore(options: CounterStoreOptions = {}): Promise<CounterStore> {
  const local = new MemoryCounterStore(options.now ? { now: options.now } : {});
  if (!options.redisUrl) return local;
  // ioredis is loaded only when Redis is configured.
  const { RedisCounterStore } = await import('./redis.js');
  const redis = new RedisCounterStore({
    url: options.redisUrl,
    ...(options.redisPrefix !== undefined ? { prefix: options.redisPrefix } : {}),
    logger: options.logger,
  });
  if (!(await redis.connect())) {
    options.logger?.warn({ failureMode: options.redisFailure ?? 'local' }, 'rate-limit Redis unreachable at start; retrying in the background');
  }
  return new FallbackCounterStore(redis, local, options.redisFailure ?? 'local');
}
