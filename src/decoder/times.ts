/**
 * Time claims (`exp`, `nbf`, `iat`, `auth_time`, `updated_at`) as local time, UTC, ISO 8601 and a
 * relative phrase. The clock and the time zone are parameters, never read deep inside.
 */

export type TimeClaim = 'exp' | 'nbf' | 'iat' | 'auth_time' | 'updated_at';
const TIME_CLAIMS: readonly TimeClaim[] = ['exp', 'nbf', 'iat', 'auth_time', 'updated_at'];

/** Largest |seconds| a JS Date can represent (±8.64e15 ms). */
const MAX_SECONDS = 8.64e12;
/** Seconds above this (year 5138) almost certainly are milliseconds. */
const MILLIS_THRESHOLD = 1e11;

export type TimeProblem = 'NOT_NUMERIC' | 'OUT_OF_RANGE' | 'MILLISECONDS';

export interface TimeInfo {
  claim: TimeClaim;
  /** The value as found in the payload. */
  raw: unknown;
  /** Seconds since 1970 when the value is usable as a date. */
  seconds?: number;
  local?: string;
  utc?: string;
  iso?: string;
  /** 'expires in 14 min', 'expired 3 days ago', 'issued 5 min ago'… */
  relative?: string;
  problem?: TimeProblem;
  /** For MILLISECONDS: the ISO date the value would be if read as milliseconds. */
  asMillisecondsIso?: string;
}

export interface TimeOptions {
  /** Current time in ms since 1970. */
  now: number;
  /** IANA zone for `local`; default the runtime's zone. */
  timeZone?: string;
  /** BCP 47 locale for `local`; default 'en-GB'-like ISO-ish output. */
  locale?: string;
}

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

/** Human duration: '42 sec', '14 min', '3 hours', '2 days', '5 years'. */
export function humanDuration(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 90) return `${s} sec`;
  const min = Math.round(s / 60);
  if (min < 90) return `${min} min`;
  const h = Math.round(s / 3600);
  if (h < 36) return plural(h, 'hour');
  const d = Math.round(s / 86400);
  if (d < 548) return plural(d, 'day');
  return plural(Math.round(s / (365.25 * 86400)), 'year');
}

function relativePhrase(claim: TimeClaim, deltaMs: number): string {
  const future = deltaMs > 0;
  const span = humanDuration(deltaMs);
  if (Math.abs(deltaMs) < 1000) {
    return claim === 'exp' ? 'expires now' : claim === 'nbf' ? 'becomes valid now' : claim === 'iat' ? 'issued just now' : 'just now';
  }
  switch (claim) {
    case 'exp':
      return future ? `expires in ${span}` : `expired ${span} ago`;
    case 'nbf':
      return future ? `becomes valid in ${span}` : `valid since ${span} ago`;
    case 'iat':
      return future ? `issued in the future (in ${span})` : `issued ${span} ago`;
    case 'auth_time':
      return future ? `authenticated in the future (in ${span})` : `authenticated ${span} ago`;
    case 'updated_at':
      return future ? `in ${span}` : `${span} ago`;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatLocal(date: Date, opts: TimeOptions): string {
  const cacheKey = `${opts.locale ?? ''}|${opts.timeZone ?? ''}`;
  try {
    let fmt = formatters.get(cacheKey);
    if (!fmt) {
      fmt = new Intl.DateTimeFormat(opts.locale ?? 'en-CA', {
        timeZone: opts.timeZone,
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
        hourCycle: 'h23',
        timeZoneName: 'short',
      });
      if (formatters.size < 32) formatters.set(cacheKey, fmt);
    }
    return fmt.format(date);
  } catch {
    return date.toString();
  }
}

function formatUtc(date: Date): string {
  return date
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, ' UTC');
}

/** Describes one time claim value. Never throws. */
export function describeTime(claim: TimeClaim, raw: unknown, opts: TimeOptions): TimeInfo {
  const info: TimeInfo = { claim, raw };
  if (typeof raw !== 'number' || !Number.isFinite(raw)) {
    info.problem = typeof raw === 'number' ? 'OUT_OF_RANGE' : 'NOT_NUMERIC';
    return info;
  }
  if (raw < 0 || raw > MAX_SECONDS) {
    info.problem = 'OUT_OF_RANGE';
    return info;
  }
  if (raw > MILLIS_THRESHOLD) {
    info.problem = 'MILLISECONDS';
    const asMs = new Date(raw);
    if (!Number.isNaN(asMs.getTime())) info.asMillisecondsIso = asMs.toISOString();
  }
  const date = new Date(raw * 1000);
  info.seconds = raw;
  info.local = formatLocal(date, opts);
  info.utc = formatUtc(date);
  info.iso = date.toISOString();
  info.relative = relativePhrase(claim, raw * 1000 - opts.now);
  return info;
}

/** Describes every time claim present in a payload, in the order exp, nbf, iat, auth_time, updated_at. */
export function describeTimes(payload: Record<string, unknown>, opts: TimeOptions): TimeInfo[] {
  return TIME_CLAIMS.filter((c) => c in payload).map((c) => describeTime(c, payload[c], opts));
}
