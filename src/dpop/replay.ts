/**
 * The `jti` replay cache of DPoP proofs: a proof is accepted once. Each remembered proof
 * stays {@link REPLAY_TTL_MS} (longer than the whole ±60 s `iat` window a proof can be
 * presented in), so a copy can never be replayed while it would still pass the time check.
 *
 * Implementations: {@link MemoryReplayCache} (one process) and `RedisReplayCache`
 * (`replay-redis.ts`, several instances sharing one Redis). Custom ones implement
 * {@link ReplayCache}.
 */

/** What a replay cache says about a proof: first sight, seen before, or cannot tell. */
export type ReplayVerdict = 'fresh' | 'replayed' | 'unavailable';

/**
 * Remembers proof identifiers. `claim` must be atomic: of concurrent claims of one key
 * (across every instance sharing the cache) exactly one is `fresh`. `unavailable` (the
 * backing store is down, or full) refuses the proof: a replay cache fails closed.
 */
export interface ReplayCache {
  claim(key: string): ReplayVerdict | Promise<ReplayVerdict>;
  close?(): Promise<void>;
}

/** How long a proof identifier is remembered: 120 s (twice the `iat` window) plus 5 s for clock differences. */
export const REPLAY_TTL_MS = 125_000;

/** Options of {@link MemoryReplayCache}. */
export interface MemoryReplayCacheOptions {
  /** Current time in ms. Default `Date.now`. */
  now?: () => number;
  /**
   * Most identifiers kept at once. Default 1,000,000 (~8,000 proofs a second sustained, about
   * 150 MB at the worst). When every entry is still live, new proofs get `unavailable`:
   * forgetting a live entry early would let its proof be replayed.
   */
  maxEntries?: number;
}

/** The in-process replay cache. Entries expire in insertion order, so sweeping is O(1) amortised. */
export class MemoryReplayCache implements ReplayCache {
  readonly #now: () => number;
  readonly #max: number;
  /** key → epoch ms when it may be forgotten; insertion order is expiry order (one fixed TTL). */
  readonly #entries = new Map<string, number>();

  constructor(options: MemoryReplayCacheOptions = {}) {
    this.#now = options.now ?? Date.now;
    const max = options.maxEntries ?? 1_000_000;
    if (!Number.isInteger(max) || max < 1) throw new RangeError('maxEntries: a positive integer is required');
    this.#max = max;
  }

  /** Identifiers currently remembered (expired ones may linger until the next claim). */
  get size(): number {
    return this.#entries.size;
  }

  claim(key: string): ReplayVerdict {
    const now = this.#now();
    this.#sweep(now);
    const until = this.#entries.get(key);
    if (until !== undefined && until > now) return 'replayed';
    if (this.#entries.size >= this.#max) return 'unavailable';
    this.#entries.set(key, now + REPLAY_TTL_MS);
    return 'fresh';
  }

  async close(): Promise<void> {
    this.#entries.clear();
  }

  /** Drops expired entries from the oldest end (a clock set back only delays forgetting). */
  #sweep(now: number): void {
    for (const [key, until] of this.#entries) {
      if (until > now) return;
      this.#entries.delete(key);
    }
  }
}

/** Options of {@link createReplayCache}. */
export interface ReplayCacheOptions {
  /** `redis://…`: share the cache with every instance using this Redis. Absent → memory. */
  redisUrl?: string | undefined;
  /** Redis key prefix (then `dpop:`). Default `latchkey:`. */
  redisPrefix?: string | undefined;
  /** Clock of the memory cache. */
  now?: () => number;
}

/**
 * The replay cache for a configuration: Redis when `redisUrl` is given (ioredis is loaded only
 * then; waits for the first connection attempt, ≤ 1 s), memory otherwise.
 */
export async function createReplayCache(options: ReplayCacheOptions = {}): Promise<ReplayCache> {
  if (!options.redisUrl) return new MemoryReplayCache(options.now ? { now: options.now } : {});
  const { RedisReplayCache } = await import('./replay-redis.js');
  const cache = new RedisReplayCache({ url: options.redisUrl, ...(options.redisPrefix !== undefined ? { prefix: options.redisPrefix } : {}) });
  await cache.connect();
  return cache;
}
