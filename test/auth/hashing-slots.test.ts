import { describe, it, expect } from 'vitest';
import { createSlots } from '../../src/auth/hashing-slots.js';

describe('hashing slots', () => {
  it('never runs more than `size` tasks at once, runs them all, in arrival order', async () => {
    const run = createSlots(2);
    let active = 0;
    let peak = 0;
    const started: number[] = [];
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        run(async () => {
          started.push(i);
          active++;
          peak = Math.max(peak, active);
          await new Promise((resolve) => setTimeout(resolve, 5));
          active--;
          return i * 10;
        }),
      ),
    );
    expect(peak).toBe(2);
    expect(results).toEqual(Array.from({ length: 12 }, (_, i) => i * 10));
    expect(started).toEqual(Array.from({ length: 12 }, (_, i) => i));
  });

  it('a failing task releases its slot', async () => {
    const run = createSlots(1);
    await expect(run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(run(async () => 'next')).resolves.toBe('next');
  });

  it('refuses a size below one', () => {
    expect(() => createSlots(0)).toThrow(RangeError);
  });
});
