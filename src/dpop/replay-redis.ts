/**
 * The replay cache in Redis, shared by every instance pointed at it: `SET key 1 NX PX ttl`
 * is atomic, so of two instances seeing one proof exactly one gets `OK`. Keys are
 * `<prefix>dpop:<jkt>:<jti>` (no token, no secret). Commands are never queued while
 * disconnected and time out quickly; then the verdict is `unavailable` and the proof is
 * refused (503) rather than accepted unchecked.
 */
import { Redis } from 'ioredis';
import { REPLAY_TTL_MS, type ReplayCache, type ReplayVerdict } from './replay.js';

/** Options of {@link RedisReplayCache}. */
export interface RedisReplayCacheOptions {
  url: string;
  /** Prepended to every key (then `dpop:`). Default `latchkey:`. */
  prefix?: string;
  /** Per-command timeout (ms). Default 500. */
  commandTimeoutMs?: number;
  /** Connection timeout (ms). Default 1000. */
  connectTimeoutMs?: number;
}

export class RedisReplayCache implements ReplayCache {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(options: RedisReplayCacheOptions) {
    this.#prefix = `${options.prefix ?? 'latchkey:'}dpop:`;
    this.#redis = new Redis(options.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: options.connectTimeoutMs ?? 1000,
      commandTimeout: options.commandTimeoutMs ?? 500,
      retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
      // Never print the URL (it may hold a password) in a connection name.
      connectionName: 'latchkey-dpop',
    });
    // Connection errors surface as failed commands (→ 'unavailable'); ioredis keeps reconnecting.
    this.#redis.on('error', () => undefined);
  }

  /** Starts connecting; resolves once connected or after the first failure (reconnects continue). */
  async connect(): Promise<boolean> {
    try {
      await this.#redis.connect();
    } catch {
      // retried in the background
    }
    return this.#redis.status === 'ready';
  }

  async claim(key: string): Promise<ReplayVerdict> {
    try {
      const answer = await this.#redis.set(this.#prefix + key, '1', 'PX', REPLAY_TTL_MS, 'NX');
      return answer === 'OK' ? 'fresh' : 'replayed';
    } catch {
      return 'unavailable';
    }
  }

  async close(): Promise<void> {
    this.#redis.disconnect();
  }
}
