/** Durations as seconds (`30`) or strings with a unit (`'30s'`, `'2m'`, `'1h'`). */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h'}`;

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** Milliseconds of `value`; throws `TypeError` naming `option` for anything else. */
export function durationMs(value: Duration, option: string): number {
  if (typeof value === 'number') {
    if (value >= 0 && value < Infinity) return value * 1000;
  } else {
    const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value);
    if (match) return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  }
  throw new TypeError(`${option}: seconds or '30s' expected.`);
}
