/**
 * In-process counters: the default store, and the fallback while Redis is unreachable.
 * Bounded: past `maxKeys` counters, expired ones are swept and then the oldest are dropped
 * (an attacker cycling through addresses can only make us forget, never grow without bound).
 */
import type { CounterState, CounterStore } from './store.js';

export interface MemoryStoreOptions {
  /** Current time in ms (tests inject a clock). */
  now?: () => number;
  /** Most counters kept at once. Default 100,000 (about 10 MB). */
  maxKeys?: number;
}

interface Entry {
  count: number;
  resetAt: number;
}

export class MemoryCounterStore implements CounterStore {
  readonly #now: () => number;
  readonly #maxKeys: number;
  readonly #entries = new Map<string, Entry>();

  constructor(options: MemoryStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#maxKeys = options.maxKeys ?? 100_000;
  }

  /** Number of live counters (for tests). */
  get size(): number {
    return this.#entries.size;
  }

  async increment(key: string, windowMs: number): Promise<CounterState> {
    return this.incrementSync(key, windowMs);
  }

  /** Synchronous form: the whole read-modify-write runs in one turn of the event loop. */
  incrementSync(key: string, windowMs: number): CounterState {
    const now = this.#now();
    let entry = this.#entries.get(key);
    if (!entry || entry.resetAt <= now) {
      if (entry) this.#entries.delete(key);
      if (this.#entries.size >= this.#maxKeys) this.#evict(now);
      entry = { count: 0, resetAt: now + windowMs };
      this.#entries.set(key, entry);
    }
    entry.count += 1;
    return { count: entry.count, resetInMs: entry.resetAt - now };
  }

  async get(key: string): Promise<CounterState> {
    return this.getSync(key);
  }

  getSync(key: string): CounterState {
    const now = this.#now();
    const entry = this.#entries.get(key);
    if (!entry || entry.resetAt <= now) return { count: 0, resetInMs: 0 };
    return { count: entry.count, resetInMs: entry.resetAt - now };
  }

  async reset(key: string): Promise<void> {
    this.#entries.delete(key);
  }

  async close(): Promise<void> {
    this.#entries.clear();
  }

  #evict(now: number): void {
    for (const [key, entry] of this.#entries) if (entry.resetAt <= now) this.#entries.delete(key);
    // Still full: drop the oldest tenth (Map iteration is insertion order).
    if (this.#entries.size >= this.#maxKeys) {
      let drop = Math.max(1, Math.floor(this.#maxKeys / 10));
      for (const key of this.#entries.keys()) {
        this.#entries.delete(key);
        if (--drop === 0) break;
      }
    }
  }
}
