/**
 * Redis counters (`LATCHKEY_REDIS_URL`), shared by every instance pointed at the same Redis.
 *
 * `increment` is one Lua script — INCR, then PEXPIRE when the key has no expiry yet — so it
 * is atomic across instances: N processes hammering one key see counts 1..N exactly once.
 * Keys are `<prefix>rl:<name>`; callers never put an e-mail address in a name (accounts are
 * HMACed first).
 *
 * Failure behaviour: commands are never queued while disconnected (`enableOfflineQueue:
 * false`) and time out after `commandTimeoutMs`, so an outage surfaces at once as a rejected
 * promise; {@link FallbackCounterStore} decides what happens then. ioredis keeps reconnecting
 * in the background.
 */
import { Redis } from 'ioredis';
import type { CounterState, CounterStore } from './store.js';

export interface RedisStoreOptions {
  url: string;
  /** Prepended to every key. Default `latchkey:`. */
  prefix?: string;
  /** Per-command timeout (ms). Default 500. */
  commandTimeoutMs?: number;
  /** Connection timeout (ms). Default 1000. */
  connectTimeoutMs?: number;
  /** Told when the connection goes down or comes back (pino-compatible). */
  logger?: { warn(obj: object, msg?: string): void; info?(obj: object, msg?: string): void } | undefined;
}

const INCREMENT = `
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
`;

const GET = `
local count = redis.call('GET', KEYS[1])
if not count then return {0, 0} end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then ttl = 0 end
return {tonumber(count), ttl}
`;

type Scripted = Redis & {
  latchkeyIncrement(key: string, windowMs: number): Promise<[number, number]>;
  latchkeyGet(key: string): Promise<[number, number]>;
};

export class RedisCounterStore implements CounterStore {
  readonly #redis: Scripted;
  readonly #prefix: string;
  #closed = false;
  #wasReady = false;

  constructor(options: RedisStoreOptions) {
    this.#prefix = `${options.prefix ?? 'latchkey:'}rl:`;
    const redis = new Redis(options.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: options.connectTimeoutMs ?? 1000,
      commandTimeout: options.commandTimeoutMs ?? 500,
      retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
      // Never print the URL (it may hold a password) in a connection name or error.
      connectionName: 'latchkey-ratelimit',
    });
    redis.defineCommand('latchkeyIncrement', { numberOfKeys: 1, lua: INCREMENT });
    redis.defineCommand('latchkeyGet', { numberOfKeys: 1, lua: GET });
    const logger = options.logger;
    redis.on('error', (error: Error & { code?: string }) => {
      // One line per transition, not per retry.
      if (this.#wasReady) logger?.warn({ err: { type: error.name, code: error.code } }, 'rate-limit Redis connection lost');
      this.#wasReady = false;
    });
    redis.on('ready', () => {
      this.#wasReady = true;
      logger?.info?.({}, 'rate-limit Redis connected');
    });
    this.#redis = redis as Scripted;
  }

  /** True while commands can be sent. */
  get ready(): boolean {
    return this.#redis.status === 'ready';
  }

  /** Starts connecting; resolves once connected, or after the first failure (reconnects continue). */
  async connect(): Promise<boolean> {
    if (this.#closed) return false;
    try {
      await this.#redis.connect();
    } catch {
      // ioredis retries in the background (retryStrategy).
    }
    return this.ready;
  }

  async increment(key: string, windowMs: number): Promise<CounterState> {
    const [count, ttl] = await this.#redis.latchkeyIncrement(this.#prefix + key, Math.max(1, Math.ceil(windowMs)));
    return { count: Number(count), resetInMs: Number(ttl) };
  }

  async get(key: string): Promise<CounterState> {
    const [count, ttl] = await this.#redis.latchkeyGet(this.#prefix + key);
    return { count: Number(count), resetInMs: Number(ttl) };
  }

  async reset(key: string): Promise<void> {
    await this.#redis.del(this.#prefix + key);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#redis.disconnect();
  }
}
