/**
 * Counter storage for rate limits: a small interface with an in-memory and a Redis
 * implementation. The policy (what is counted, which limits) lives in `auth/rate-limit.ts`.
 *
 * Counters are fixed windows: the first hit of a key starts its window, later hits only add;
 * when the window ends the key disappears. `increment` is atomic in every implementation,
 * so concurrent attempts (and several instances on one Redis) can never all see "under the
 * limit".
 */

/** A counter after an operation. */
export interface CounterState {
  /** Hits in the current window (0 when the key does not exist). */
  count: number;
  /** Milliseconds until the window ends (0 when the key does not exist). */
  resetInMs: number;
}

export interface CounterStore {
  /** Adds one hit to `key`; starts a window of `windowMs` if none is running. Atomic. */
  increment(key: string, windowMs: number): Promise<CounterState>;
  /** Reads a counter without changing it. */
  get(key: string): Promise<CounterState>;
  /** Removes a counter. */
  reset(key: string): Promise<void>;
  close(): Promise<void>;
}
