/**
 * What happens to rate limits when Redis goes away.
 *
 * - `local` (default): each instance counts in its own memory until Redis answers again.
 *   Limits keep holding per instance (an attacker gains at most ×N across N instances for
 *   the length of the outage), and logins keep working: a Redis outage is not a login outage.
 * - `closed`: every rate-limited request answers 503 `UNAVAILABLE` while Redis is down — for
 *   deployments where a ×N budget during an outage is worse than refusing logins.
 *
 * Either way nothing waits for a dead Redis: while the client is not connected the primary is
 * skipped without a round trip, and a command that fails or times out (≤ 500 ms) is retried on
 * the fallback. Counters are not copied back when Redis returns.
 */
import { StoreUnavailableError } from '../errors.js';
import type { CounterState, CounterStore } from './store.js';
import type { RedisCounterStore } from './redis.js';

export type RedisFailureMode = 'local' | 'closed';

export class FallbackCounterStore implements CounterStore {
  constructor(
    readonly primary: RedisCounterStore,
    readonly local: CounterStore,
    readonly mode: RedisFailureMode,
  ) {}

  /** Whether the last decisions are shared through Redis. */
  get shared(): boolean {
    return this.primary.ready;
  }

  increment(key: string, windowMs: number): Promise<CounterState> {
    return this.#run((store) => store.increment(key, windowMs));
  }

  get(key: string): Promise<CounterState> {
    return this.#run((store) => store.get(key));
  }

  reset(key: string): Promise<void> {
    return this.#run((store) => store.reset(key));
  }

  async close(): Promise<void> {
    await Promise.all([this.primary.close(), this.local.close()]);
  }

  async #run<T>(operation: (store: CounterStore) => Promise<T>): Promise<T> {
    if (this.primary.ready) {
      try {
        return await operation(this.primary);
      } catch {
        // fall through
      }
    }
    if (this.mode === 'closed') throw new StoreUnavailableError('The rate-limit store is unavailable.');
    return operation(this.local);
  }
}
