/**
 * Bounds how many password hashes run at once in this process.
 *
 * argon2id is built to take a whole core per hash. Unbounded, a login flood occupies every
 * core and starves what must stay fast — token verification on protected routes (measured in
 * bench/RESULTS.md: on two cores the protected route's p99 went from ~5 ms to ~16 ms during a
 * flood, for ~10 % more logins per second). Latchkey keeps one core free: at most
 * `availableParallelism() − 1` hashes (at least one) run at a time; the rest wait in order.
 * Rate limits bound how long that queue can get.
 */
import { availableParallelism } from 'node:os';

export type SlotRunner = <T>(task: () => Promise<T>) => Promise<T>;

/** A FIFO semaphore of `size` slots; a released slot passes straight to the next waiter. */
export function createSlots(size: number): SlotRunner {
  if (!Number.isInteger(size) || size < 1) throw new RangeError('size must be a positive integer');
  let active = 0;
  const waiting: Array<() => void> = [];
  return async function run<T>(task: () => Promise<T>): Promise<T> {
    if (active < size) active++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}

/** The process-wide slots every password hash and verification goes through. */
export const HASHING_SLOTS = Math.max(1, availableParallelism() - 1);
export const runHashing: SlotRunner = createSlots(HASHING_SLOTS);
