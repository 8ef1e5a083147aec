/** A duration in seconds (`30`, `0.5`). */
export type Duration = number;

/** Milliseconds of `value` seconds; throws `TypeError` naming `option` for anything else. */
export function durationMs(value: Duration, option: string): number {
  if (typeof value === 'number' && value >= 0 && value < Infinity) return value * 1000;
  throw new TypeError(`${option}: seconds expected.`);
}
