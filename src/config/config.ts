/**
 * Server configuration: read from the environment (the README's configuration table,
 * docs/http-api.md#configuration), validated once, frozen.
 * Anything wrong throws a {@link ConfigError} naming the variable; the CLI turns that into
 * exit code 2 and one line on stderr. Values are never echoed back (they may be secrets).
 */
import { isIP } from 'node:net';
import proxyAddr from 'proxy-addr';
import { ConfigError } from '../errors.js';

/** Algorithms the server can sign access tokens with. */
export const SIGNING_ALGORITHMS = ['ES256', 'EdDSA', 'RS256', 'HS256'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

export interface RateLimitConfig {
  /** Master switch (`LATCHKEY_RATE_LIMITS`). */
  enabled: boolean;
  /** Login attempts per IP per window. */
  loginPerIp: number;
  /** Failed login attempts per account per window before the account is slowed down. */
  loginPerAccount: number;
  /** Registrations per IP per window. */
  registerPerIp: number;
  /** Refreshes per session per window (never below 60 per minute). */
  refreshPerSession: number;
  /** Window length in seconds. */
  windowSeconds: number;
  /**
   * With `LATCHKEY_REDIS_URL`, what happens while Redis is unreachable
   * (`LATCHKEY_RATE_LIMIT_REDIS_FAILURE`): `local` (default) counts per instance in memory,
   * `closed` answers 503 to every rate-limited request.
   */
  redisFailure?: 'local' | 'closed';
  /** Prefix of every Redis key (`LATCHKEY_REDIS_PREFIX`, default `latchkey:`). */
  redisPrefix?: string;
}

export interface LatchkeyConfig {
  port: number;
  host: string;
  databaseUrl: string;
  redisUrl: string | undefined;
  /** Master secret as given (`LATCHKEY_SECRET`); `undefined` → generated next to the SQLite file. */
  secret: Uint8Array | undefined;
  issuer: string;
  audience: string[];
  accessTokenTtl: number;
  refreshTokenTtl: number;
  sessionMaxAge: number;
  refreshGrace: number;
  signingAlg: SigningAlgorithm;
  hs256Secret: Uint8Array | undefined;
  allowSignup: boolean;
  cookieSecure: boolean;
  allowedOrigins: string[];
  rateLimits: RateLimitConfig;
  /** Which peers are proxies whose `X-Forwarded-For` is believed (`LATCHKEY_TRUST_PROXY`; see `trustProxy()` below). */
  trustProxy: boolean | number | string[];
  logLevel: string;
  dbPoolSize: number;
  /**
   * Seconds between re-reads of the signing keys from the store (`LATCHKEY_KEY_RELOAD_INTERVAL`,
   * 1–30, default 10): the bound on how long a key rotated elsewhere takes to sign here.
   * At most 30 so that a retired key, published for access-token TTL + 60 s, comfortably
   * outlives every token an instance that has not reloaded yet can still sign with it.
   */
  keyReloadInterval: number;
  /**
   * Seconds `serve` keeps retrying an unreachable database at start-up before it gives up
   * (`LATCHKEY_DB_STARTUP_TIMEOUT`, 0–600, default 30).
   */
  dbStartupTimeout: number;
  /**
   * `PRAGMA synchronous` of a SQLite database (`LATCHKEY_SQLITE_SYNCHRONOUS`, default `normal`):
   * `normal` syncs the write-ahead log at checkpoints, so a power cut or OS crash can lose the
   * last commits (never corrupt the file); `full` syncs it at every commit. See docs/storage.md.
   */
  sqliteSynchronous: 'normal' | 'full';
  /**
   * Seconds audit events are kept (`LATCHKEY_AUDIT_RETENTION`, default 90 days; `0` keeps them
   * forever). `latchkey serve` deletes older events hourly.
   */
  auditRetention: number;
  /**
   * Seconds a client has to send a whole request, headers and body (`LATCHKEY_REQUEST_TIMEOUT`,
   * 1–3600, default 30); then 408 and the connection is closed. Bounds slow-body (slow POST) clients.
   */
  requestTimeout: number;
  /** Seconds a client has to send the request headers (`LATCHKEY_HEADERS_TIMEOUT`, 1–3600, default 10; ≤ the request timeout). */
  headersTimeout: number;
  /**
   * Seconds an idle keep-alive connection stays open (`LATCHKEY_KEEP_ALIVE_TIMEOUT`, 1–3600, default
   * 72: longer than the 60 s idle timeout of common load balancers, so they never reuse a connection
   * the server is closing).
   */
  keepAliveTimeout: number;
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function read(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function integer(env: Env, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, 'must be a whole number');
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}`);
  return value;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = read(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (['true', '1', 'yes', 'on'].includes(raw)) return true;
  if (['false', '0', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(name, 'must be true or false');
}

function origin(value: string, name: string): string {
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
    return url.origin;
  } catch {
    throw new ConfigError(name, 'must be an http(s) URL or origin');
  }
}

/** Decodes the master secret: hex (64+ chars) or base64url, at least 32 bytes. */
export function decodeSecret(raw: string, name = 'LATCHKEY_SECRET'): Uint8Array {
  let bytes: Buffer;
  if (/^[0-9a-fA-F]+$/.test(raw) && raw.length % 2 === 0) bytes = Buffer.from(raw, 'hex');
  else if (/^[A-Za-z0-9_-]+={0,2}$/.test(raw)) bytes = Buffer.from(raw.replace(/=+$/, ''), 'base64url');
  else throw new ConfigError(name, 'must be hex or base64url');
  if (bytes.length < 32) throw new ConfigError(name, 'must encode at least 32 bytes');
  return new Uint8Array(bytes);
}

const TRUST_PROXY_HELP =
  'must be false, true, a hop count, or a comma-separated list of IP addresses, CIDR ranges and loopback/linklocal/uniquelocal';
const NAMED_RANGES = ['loopback', 'linklocal', 'uniquelocal'];

/** One entry of an address list: an IP address, `address/prefix`, `address/netmask` or a named range. */
function isTrustedProxyEntry(entry: string): boolean {
  if (NAMED_RANGES.includes(entry)) return true;
  const [address = '', range, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (range === undefined) return true;
  if (/^\d{1,3}$/.test(range)) return Number(range) <= (family === 4 ? 32 : 128);
  return family === 4 && isIP(range) === 4;
}

/**
 * `LATCHKEY_TRUST_PROXY` (docs/security.md, "Client address"): `false`/`0`/unset → the socket
 * address; `true` → every hop; a whole number n → the n hops nearest the server; otherwise a
 * list of proxy addresses and ranges. `yes`/`on` are refused: trusting every hop lets any
 * client choose its address, so it is spelled `true`.
 */
function trustProxy(env: Env): boolean | number | string[] {
  const raw = read(env, 'LATCHKEY_TRUST_PROXY');
  const lower = raw?.toLowerCase();
  if (lower === undefined || lower === 'false' || lower === '0') return false;
  if (lower === 'true') return true;
  if (/^\d+$/.test(lower)) {
    const hops = Number(lower);
    if (hops > 100) throw new ConfigError('LATCHKEY_TRUST_PROXY', 'a hop count must be between 0 and 100');
    return hops;
  }
  const list = lower.split(',').map((s) => s.trim());
  if (!list.every(isTrustedProxyEntry)) throw new ConfigError('LATCHKEY_TRUST_PROXY', TRUST_PROXY_HELP);
  try {
    proxyAddr.compile(list); // what the server will run: refuse here what it would refuse (e.g. a non-contiguous netmask)
  } catch {
    throw new ConfigError('LATCHKEY_TRUST_PROXY', TRUST_PROXY_HELP);
  }
  return list;
}

function sqliteSynchronous(env: Env): 'normal' | 'full' {
  const raw = read(env, 'LATCHKEY_SQLITE_SYNCHRONOUS')?.toLowerCase() ?? 'normal';
  if (raw !== 'normal' && raw !== 'full') throw new ConfigError('LATCHKEY_SQLITE_SYNCHRONOUS', 'must be normal or full');
  return raw;
}

function redisFailure(env: Env): 'local' | 'closed' {
  const raw = read(env, 'LATCHKEY_RATE_LIMIT_REDIS_FAILURE')?.toLowerCase() ?? 'local';
  if (raw !== 'local' && raw !== 'closed') throw new ConfigError('LATCHKEY_RATE_LIMIT_REDIS_FAILURE', 'must be local or closed');
  return raw;
}

/** Reads and validates the whole configuration. Throws {@link ConfigError}. */
export function loadConfig(env: Env = process.env): LatchkeyConfig {
  const port = integer(env, 'PORT', 3000, 0, 65535);
  const host = read(env, 'HOST') ?? '127.0.0.1';
  const databaseUrl = read(env, 'LATCHKEY_DATABASE_URL') ?? 'sqlite:./data/latchkey.db';
  if (!/^(sqlite:|postgres(ql)?:\/\/)/.test(databaseUrl)) {
    throw new ConfigError('LATCHKEY_DATABASE_URL', 'must start with sqlite: or postgres://');
  }
  const isPostgres = databaseUrl.startsWith('postgres');
  const rawSecret = read(env, 'LATCHKEY_SECRET');
  const secret = rawSecret === undefined ? undefined : decodeSecret(rawSecret);
  if (isPostgres && !secret) {
    throw new ConfigError('LATCHKEY_SECRET', 'is required with PostgreSQL so that every instance shares it');
  }
  const redisUrl = read(env, 'LATCHKEY_REDIS_URL');
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) {
    throw new ConfigError('LATCHKEY_REDIS_URL', 'must start with redis:// or rediss://');
  }

  const issuer = read(env, 'LATCHKEY_ISSUER') ?? 'http://localhost:3000';
  const issuerOrigin = origin(issuer, 'LATCHKEY_ISSUER');
  const audience = (read(env, 'LATCHKEY_AUDIENCE') ?? 'latchkey')
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  if (audience.length === 0) throw new ConfigError('LATCHKEY_AUDIENCE', 'must name at least one audience');

  const signingAlg = (read(env, 'LATCHKEY_SIGNING_ALG') ?? 'ES256') as SigningAlgorithm;
  if (!SIGNING_ALGORITHMS.includes(signingAlg)) {
    throw new ConfigError('LATCHKEY_SIGNING_ALG', `must be one of ${SIGNING_ALGORITHMS.join(', ')}`);
  }
  const rawHs = env.LATCHKEY_HS256_SECRET;
  let hs256Secret: Uint8Array | undefined;
  if (rawHs !== undefined && rawHs !== '') {
    hs256Secret = new TextEncoder().encode(rawHs);
    if (hs256Secret.length < 32) throw new ConfigError('LATCHKEY_HS256_SECRET', 'must be at least 32 bytes');
  }
  if (signingAlg === 'HS256' && !hs256Secret) {
    throw new ConfigError('LATCHKEY_HS256_SECRET', 'is required when LATCHKEY_SIGNING_ALG is HS256');
  }

  const accessTokenTtl = integer(env, 'LATCHKEY_ACCESS_TOKEN_TTL', 900, 1, 86_400);
  const refreshTokenTtl = integer(env, 'LATCHKEY_REFRESH_TOKEN_TTL', 604_800, 1);
  const sessionMaxAge = integer(env, 'LATCHKEY_SESSION_MAX_AGE', 2_592_000, 1);
  const refreshGrace = integer(env, 'LATCHKEY_REFRESH_GRACE', 10, 0, 300);

  const rawOrigins = read(env, 'LATCHKEY_ALLOWED_ORIGINS');
  const allowedOrigins = rawOrigins
    ? rawOrigins
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean)
        .map((o) => origin(o, 'LATCHKEY_ALLOWED_ORIGINS'))
    : [issuerOrigin];

  const windowSeconds = integer(env, 'LATCHKEY_RATE_LIMIT_WINDOW', 60, 1, 86_400);
  const rateLimits: RateLimitConfig = {
    enabled: boolean(env, 'LATCHKEY_RATE_LIMITS', true),
    loginPerIp: integer(env, 'LATCHKEY_RATE_LIMIT_LOGIN_IP', 20, 1),
    loginPerAccount: integer(env, 'LATCHKEY_RATE_LIMIT_LOGIN_ACCOUNT', 5, 1),
    registerPerIp: integer(env, 'LATCHKEY_RATE_LIMIT_REGISTER_IP', 10, 1),
    // Refresh is never limited below 60 per session per minute, i.e. one per second of the window
    // (docs/http-api.md#rate-limits).
    refreshPerSession: integer(env, 'LATCHKEY_RATE_LIMIT_REFRESH_SESSION', 120, windowSeconds),
    windowSeconds,
    redisFailure: redisFailure(env),
    redisPrefix: read(env, 'LATCHKEY_REDIS_PREFIX') ?? 'latchkey:',
  };

  const requestTimeout = integer(env, 'LATCHKEY_REQUEST_TIMEOUT', 30, 1, 3600);
  const headersTimeout = integer(env, 'LATCHKEY_HEADERS_TIMEOUT', Math.min(10, requestTimeout), 1, 3600);
  if (headersTimeout > requestTimeout) throw new ConfigError('LATCHKEY_HEADERS_TIMEOUT', 'must not exceed LATCHKEY_REQUEST_TIMEOUT');

  const logLevel = read(env, 'LATCHKEY_LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('LATCHKEY_LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);

  return Object.freeze({
    port,
    host,
    databaseUrl,
    redisUrl,
    secret,
    issuer,
    audience,
    accessTokenTtl,
    refreshTokenTtl,
    sessionMaxAge,
    refreshGrace,
    signingAlg,
    hs256Secret,
    allowSignup: boolean(env, 'LATCHKEY_ALLOW_SIGNUP', true),
    cookieSecure: boolean(env, 'LATCHKEY_COOKIE_SECURE', true),
    allowedOrigins,
    rateLimits,
    trustProxy: trustProxy(env),
    logLevel,
    dbPoolSize: integer(env, 'LATCHKEY_DB_POOL_SIZE', 10, 1, 1000),
    sqliteSynchronous: sqliteSynchronous(env),
    keyReloadInterval: integer(env, 'LATCHKEY_KEY_RELOAD_INTERVAL', 10, 1, 30),
    dbStartupTimeout: integer(env, 'LATCHKEY_DB_STARTUP_TIMEOUT', 30, 0, 600),
    auditRetention: integer(env, 'LATCHKEY_AUDIT_RETENTION', 7_776_000, 0),
    requestTimeout,
    headersTimeout,
    keepAliveTimeout: integer(env, 'LATCHKEY_KEEP_ALIVE_TIMEOUT', 72, 1, 3600),
  });
}
