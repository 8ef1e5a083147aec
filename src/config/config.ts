/**
 * Server configuration: the README's configuration table (docs/http-api.md#configuration), from
 * the environment (`loadConfig`) or from `createLatchkey` options — both through one validator
 * (`validateConfig`), so a value the environment refuses is refused as an option too, with the
 * same rule. Anything wrong throws a {@link ConfigError} naming the variable or the option; the CLI
 * turns that into exit code 2 and one line on stderr. Values are never echoed back (they may be secrets).
 */
import { isIP } from 'node:net';
import proxyAddr from 'proxy-addr';
import { ConfigError, type ConfigReason } from '../errors.js';

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
  /** `POST /auth/password/forgot` requests per IP per window. */
  forgotPerIp: number;
  /** Uses of reset and verification links (`/auth/password/reset`, `/auth/email/verify`) per IP per window. */
  linkPerIp: number;
  /** Refreshes per session per window (never below 60 per minute). */
  refreshPerSession: number;
  /** Starts and callbacks of sign-ins with an external identity provider per IP per window (docs/oidc.md). */
  oauthPerIp: number;
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

/** An OpenID Connect provider found by discovery (`LATCHKEY_OIDC_<NAME>_ISSUER`, `_CLIENT_ID`, `_CLIENT_SECRET`; docs/oidc.md). */
export interface OidcProviderConfig {
  /** `<NAME>` lower-cased: the path segment of `/auth/oauth/<id>/start` and the audit's `oidc:<id>`. */
  id: string;
  /** The issuer URL; discovery is fetched from `<issuer>/.well-known/openid-configuration`. `http://` only on loopback. */
  issuer: string;
  clientId: string;
  clientSecret: string;
}

/** The GitHub preset (`LATCHKEY_GITHUB_CLIENT_ID`, `LATCHKEY_GITHUB_CLIENT_SECRET`; docs/oidc.md#github). */
export interface GithubConfig {
  clientId: string;
  clientSecret: string;
  /** Where GitHub's OAuth pages are (`/login/oauth/authorize`, `/login/oauth/access_token`). Default `https://github.com`; GitHub Enterprise Server: its URL. */
  webUrl?: string;
  /** GitHub's REST API (`/user`, `/user/emails`). Default `https://api.github.com`; GitHub Enterprise Server: `https://HOST/api/v3`. */
  apiUrl?: string;
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
  /**
   * Bearer token that `GET /metrics` requires (`LATCHKEY_METRICS_TOKEN`, at least 32 characters);
   * unset, `/metrics` is open to anyone who can reach the server (docs/security.md, "What is exposed").
   */
  metricsToken: string | undefined;
  /** `smtp://user:pass@host:port` or `smtps://…` (`LATCHKEY_SMTP_URL`); unset: the dev outbox (docs/email.md). */
  smtpUrl: string | undefined;
  /** The From of every mail (`LATCHKEY_MAIL_FROM`, default `Latchkey <no-reply@localhost>`). */
  mailFrom: string;
  /** A directory of templates overriding the built-in mails (`LATCHKEY_MAIL_TEMPLATES`). */
  mailTemplates: string | undefined;
  /** Origin of the link pages in mails (`LATCHKEY_APP_URL`, default the issuer's origin). */
  appUrl: string;
  /** The app's own reset page, `{token}` in the fragment (`LATCHKEY_RESET_URL`). */
  resetUrl: string | undefined;
  /** The app's own verification page, `{token}` in the fragment (`LATCHKEY_VERIFY_URL`). */
  verifyUrl: string | undefined;
  /** Seconds a reset link works (`LATCHKEY_RESET_TOKEN_TTL`, 1–86400, default 900). */
  resetTokenTtl: number;
  /** Seconds a verification link works (`LATCHKEY_VERIFY_TOKEN_TTL`, 1–2592000, default 86400). */
  verifyTokenTtl: number;
  /** Unverified accounts cannot sign in, and registration no longer tells who has an account (`LATCHKEY_REQUIRE_EMAIL_VERIFICATION`). */
  requireEmailVerification: boolean;
  /** DPoP-bound sessions (`LATCHKEY_DPOP`, docs/dpop.md): `optional` (default), `required` (unbound logins refused), `off` (proofs at login ignored). */
  dpop: 'off' | 'optional' | 'required';
  /**
   * Server nonces at the auth endpoints (`LATCHKEY_DPOP_NONCE`, docs/dpop.md#server-nonces): a
   * proof without the current `DPoP-Nonce` gets 401 `USE_DPOP_NONCE`. Default `false`.
   */
  dpopNonce: boolean;
  /**
   * The WebAuthn relying-party id of passkeys (`LATCHKEY_WEBAUTHN_RP_ID`, default the issuer's
   * host name; docs/mfa.md#passkeys): a host name (no IP address, port or scheme) that every
   * origin passkeys are used from equals or ends in.
   */
  webauthnRpId: string;
  /**
   * Where every audit event is POSTed, signed per Standard Webhooks (`LATCHKEY_WEBHOOK_URL`, an
   * http(s) URL without credentials; docs/admin.md#webhooks). Unset: no webhooks.
   */
  webhookUrl: string | undefined;
  /** The signing secret, `whsec_` + base64 of 24–64 bytes (`LATCHKEY_WEBHOOK_SECRET`; required with the URL). */
  webhookSecret: string | undefined;
  /** OpenID Connect providers to sign in with (`LATCHKEY_OIDC_<NAME>_*`), in name order. Default none. */
  oidcProviders: OidcProviderConfig[];
  /** The GitHub preset (`LATCHKEY_GITHUB_CLIENT_ID` and `_SECRET`); `undefined`: off. */
  github: GithubConfig | undefined;
  /**
   * Absolute URL prefixes a sign-in with a provider may return to besides this server's own paths
   * (`LATCHKEY_ALLOWED_REDIRECTS`, comma-separated; docs/oidc.md#where-a-sign-in-returns). Default none.
   */
  allowedRedirects: string[];
  /**
   * Seconds each request to an identity provider may take (`LATCHKEY_OAUTH_TIMEOUT`, 1–10, default 10):
   * a start whose discovery does not arrive answers 503 by then; a callback gives up on the
   * provider after this plus 5 s.
   */
  oauthTimeout: number;
}

/**
 * What `createLatchkey` accepts as configuration: any subset of {@link LatchkeyConfig} (unset
 * values take their defaults), with `rateLimits` also partial.
 */
export type ConfigInput = Partial<Omit<LatchkeyConfig, 'rateLimits'>> & { rateLimits?: Partial<RateLimitConfig> | undefined };

/** A configuration value's name as an option: `secret`, `rateLimits.loginPerIp`. */
type ConfigPath = Exclude<keyof LatchkeyConfig, 'rateLimits'> | `rateLimits.${keyof RateLimitConfig}`;

/** The environment variable of each option (the README's configuration table). */
export const CONFIG_VARIABLES = {
  port: 'PORT',
  host: 'HOST',
  databaseUrl: 'LATCHKEY_DATABASE_URL',
  redisUrl: 'LATCHKEY_REDIS_URL',
  secret: 'LATCHKEY_SECRET',
  issuer: 'LATCHKEY_ISSUER',
  audience: 'LATCHKEY_AUDIENCE',
  accessTokenTtl: 'LATCHKEY_ACCESS_TOKEN_TTL',
  refreshTokenTtl: 'LATCHKEY_REFRESH_TOKEN_TTL',
  sessionMaxAge: 'LATCHKEY_SESSION_MAX_AGE',
  refreshGrace: 'LATCHKEY_REFRESH_GRACE',
  signingAlg: 'LATCHKEY_SIGNING_ALG',
  hs256Secret: 'LATCHKEY_HS256_SECRET',
  allowSignup: 'LATCHKEY_ALLOW_SIGNUP',
  cookieSecure: 'LATCHKEY_COOKIE_SECURE',
  allowedOrigins: 'LATCHKEY_ALLOWED_ORIGINS',
  'rateLimits.enabled': 'LATCHKEY_RATE_LIMITS',
  'rateLimits.loginPerIp': 'LATCHKEY_RATE_LIMIT_LOGIN_IP',
  'rateLimits.loginPerAccount': 'LATCHKEY_RATE_LIMIT_LOGIN_ACCOUNT',
  'rateLimits.registerPerIp': 'LATCHKEY_RATE_LIMIT_REGISTER_IP',
  'rateLimits.forgotPerIp': 'LATCHKEY_RATE_LIMIT_FORGOT_IP',
  'rateLimits.linkPerIp': 'LATCHKEY_RATE_LIMIT_LINK_IP',
  'rateLimits.refreshPerSession': 'LATCHKEY_RATE_LIMIT_REFRESH_SESSION',
  'rateLimits.windowSeconds': 'LATCHKEY_RATE_LIMIT_WINDOW',
  'rateLimits.redisFailure': 'LATCHKEY_RATE_LIMIT_REDIS_FAILURE',
  'rateLimits.redisPrefix': 'LATCHKEY_REDIS_PREFIX',
  trustProxy: 'LATCHKEY_TRUST_PROXY',
  logLevel: 'LATCHKEY_LOG_LEVEL',
  dbPoolSize: 'LATCHKEY_DB_POOL_SIZE',
  keyReloadInterval: 'LATCHKEY_KEY_RELOAD_INTERVAL',
  dbStartupTimeout: 'LATCHKEY_DB_STARTUP_TIMEOUT',
  sqliteSynchronous: 'LATCHKEY_SQLITE_SYNCHRONOUS',
  auditRetention: 'LATCHKEY_AUDIT_RETENTION',
  requestTimeout: 'LATCHKEY_REQUEST_TIMEOUT',
  headersTimeout: 'LATCHKEY_HEADERS_TIMEOUT',
  keepAliveTimeout: 'LATCHKEY_KEEP_ALIVE_TIMEOUT',
  metricsToken: 'LATCHKEY_METRICS_TOKEN',
  smtpUrl: 'LATCHKEY_SMTP_URL',
  mailFrom: 'LATCHKEY_MAIL_FROM',
  mailTemplates: 'LATCHKEY_MAIL_TEMPLATES',
  appUrl: 'LATCHKEY_APP_URL',
  resetUrl: 'LATCHKEY_RESET_URL',
  verifyUrl: 'LATCHKEY_VERIFY_URL',
  resetTokenTtl: 'LATCHKEY_RESET_TOKEN_TTL',
  verifyTokenTtl: 'LATCHKEY_VERIFY_TOKEN_TTL',
  requireEmailVerification: 'LATCHKEY_REQUIRE_EMAIL_VERIFICATION',
  dpop: 'LATCHKEY_DPOP',
  dpopNonce: 'LATCHKEY_DPOP_NONCE',
  webauthnRpId: 'LATCHKEY_WEBAUTHN_RP_ID',
  webhookUrl: 'LATCHKEY_WEBHOOK_URL',
  webhookSecret: 'LATCHKEY_WEBHOOK_SECRET',
  // A family of variables, one triple per provider (read by `oidcFromEnv`, named in errors exactly).
  oidcProviders: 'LATCHKEY_OIDC_<NAME>_ISSUER',
  github: 'LATCHKEY_GITHUB_CLIENT_ID',
  allowedRedirects: 'LATCHKEY_ALLOWED_REDIRECTS',
  oauthTimeout: 'LATCHKEY_OAUTH_TIMEOUT',
  'rateLimits.oauthPerIp': 'LATCHKEY_RATE_LIMIT_OAUTH_IP',
} as const satisfies Record<ConfigPath, string>;

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const MIN_SECRET_BYTES = 32;
/** A metrics token must not be guessable: 32 characters (e.g. `openssl rand -hex 32` gives 64). */
const MIN_METRICS_TOKEN_LENGTH = 32;

// ---------------------------------------------------------------------------------------------
// The environment: text turned into the values options carry, nothing checked here that the
// validator checks. Text that does not look like its kind is passed on as text, so that the
// validator refuses it with the same rule as an option of the wrong type.

function read(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

const asInteger = (raw: string): number | string => (/^-?\d+$/.test(raw) ? Number(raw) : raw);

function asBoolean(raw: string): boolean | string {
  const lower = raw.toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(lower)) return true;
  if (['false', '0', 'no', 'off'].includes(lower)) return false;
  return raw;
}

const asList = (raw: string): string[] =>
  raw
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);

/**
 * `LATCHKEY_TRUST_PROXY` (docs/security.md, "Client address"): `false`/`0`/unset → the socket
 * address; `true` → every hop; a whole number n → the n hops nearest the server; otherwise a
 * list of proxy addresses and ranges. `yes`/`on` are refused (as list entries): trusting every
 * hop lets any client choose its address, so it is spelled `true`.
 */
function asTrustProxy(raw: string): boolean | number | string[] {
  const lower = raw.toLowerCase();
  if (lower === 'false' || lower === '0') return false;
  if (lower === 'true') return true;
  if (/^\d+$/.test(lower)) return Number(lower);
  return lower.split(',').map((entry) => entry.trim());
}

/** Decodes hex (an even number of hex digits) or base64url; `undefined` for anything else. */
function decodeBytes(raw: string): Uint8Array | undefined {
  if (/^[0-9a-fA-F]+$/.test(raw) && raw.length % 2 === 0) return new Uint8Array(Buffer.from(raw, 'hex'));
  if (/^[A-Za-z0-9_-]+={0,2}$/.test(raw)) return new Uint8Array(Buffer.from(raw.replace(/=+$/, ''), 'base64url'));
  return undefined;
}

/** Bytes of a Standard Webhooks signing key (after `whsec_`). */
const WEBHOOK_SECRET_BYTES = { min: 24, max: 64 } as const;

/**
 * The HMAC key of a webhook secret `whsec_<base64>` (standard base64, padding optional), or a
 * reason it is not one. One rule for the configuration and for the worker that signs.
 */
export function webhookSigningKey(secret: string): Buffer | { reason: ConfigReason; message: string } {
  const body = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : '';
  const bytes = /^[A-Za-z0-9+/]+={0,2}$/.test(body) ? Buffer.from(body, 'base64') : undefined;
  // Canonical: the text is exactly what the bytes encode (Node's decoder skips what it cannot read).
  if (!bytes || bytes.toString('base64').replace(/=+$/, '') !== body.replace(/=+$/, '')) {
    return { reason: 'format', message: 'must be whsec_ followed by standard base64 (as Standard Webhooks secrets are written)' };
  }
  if (bytes.length < WEBHOOK_SECRET_BYTES.min || bytes.length > WEBHOOK_SECRET_BYTES.max) {
    return { reason: 'length', message: `must encode ${WEBHOOK_SECRET_BYTES.min} to ${WEBHOOK_SECRET_BYTES.max} bytes after whsec_` };
  }
  return bytes;
}

/** Decodes a master secret: hex (64+ chars) or base64url, at least 32 bytes. */
export function decodeSecret(raw: string, name = 'LATCHKEY_SECRET'): Uint8Array {
  const bytes = decodeBytes(raw) ?? fail(name, 'format', 'must be hex or base64url');
  if (bytes.length < MIN_SECRET_BYTES) fail(name, 'length', `must be at least ${MIN_SECRET_BYTES} bytes`);
  return bytes;
}

const INTEGERS = [
  'port',
  'accessTokenTtl',
  'refreshTokenTtl',
  'sessionMaxAge',
  'refreshGrace',
  'dbPoolSize',
  'keyReloadInterval',
  'dbStartupTimeout',
  'auditRetention',
  'requestTimeout',
  'headersTimeout',
  'keepAliveTimeout',
  'resetTokenTtl',
  'verifyTokenTtl',
  'oauthTimeout',
  'rateLimits.loginPerIp',
  'rateLimits.loginPerAccount',
  'rateLimits.registerPerIp',
  'rateLimits.forgotPerIp',
  'rateLimits.linkPerIp',
  'rateLimits.refreshPerSession',
  'rateLimits.oauthPerIp',
  'rateLimits.windowSeconds',
] as const satisfies readonly ConfigPath[];
const BOOLEANS = [
  'allowSignup',
  'cookieSecure',
  'requireEmailVerification',
  'dpopNonce',
  'rateLimits.enabled',
] as const satisfies readonly ConfigPath[];
const LISTS = ['audience', 'allowedOrigins', 'allowedRedirects'] as const satisfies readonly ConfigPath[];
const WORDS = ['sqliteSynchronous', 'rateLimits.redisFailure'] as const satisfies readonly ConfigPath[];

/** The environment's text as option values (only the variables that are set). */
function fromEnv(env: Env): ConfigInput {
  const values: Record<string, unknown> = {};
  const rateLimits: Record<string, unknown> = {};
  for (const [path, variable] of Object.entries(CONFIG_VARIABLES) as [ConfigPath, string][]) {
    if (path === 'oidcProviders' || path === 'github') continue;
    // Used as given (not trimmed): the HMAC key is these bytes.
    const raw = path === 'hs256Secret' ? env[variable] || undefined : read(env, variable);
    if (raw === undefined) continue;
    let value: unknown = raw;
    if ((INTEGERS as readonly string[]).includes(path)) value = asInteger(raw);
    else if ((BOOLEANS as readonly string[]).includes(path)) value = asBoolean(raw);
    else if ((LISTS as readonly string[]).includes(path)) value = asList(raw);
    else if ((WORDS as readonly string[]).includes(path)) value = raw.toLowerCase();
    else if (path === 'trustProxy') value = asTrustProxy(raw);
    else if (path === 'hs256Secret') value = new TextEncoder().encode(raw);
    else if (path === 'secret') value = decodeBytes(raw) ?? fail(variable, 'format', 'must be hex or base64url');
    if (path.startsWith('rateLimits.')) rateLimits[path.slice('rateLimits.'.length)] = value;
    else values[path] = value;
  }
  const oidcProviders = oidcFromEnv(env);
  if (oidcProviders.length > 0) values.oidcProviders = oidcProviders;
  const githubId = read(env, 'LATCHKEY_GITHUB_CLIENT_ID');
  const githubSecret = read(env, 'LATCHKEY_GITHUB_CLIENT_SECRET');
  if (githubId !== undefined || githubSecret !== undefined) {
    if (githubId === undefined) fail('LATCHKEY_GITHUB_CLIENT_ID', 'required', 'is required with LATCHKEY_GITHUB_CLIENT_SECRET');
    if (githubSecret === undefined) fail('LATCHKEY_GITHUB_CLIENT_SECRET', 'required', 'is required with LATCHKEY_GITHUB_CLIENT_ID');
    values.github = { clientId: githubId, clientSecret: githubSecret };
  }
  return { ...values, rateLimits };
}

const OIDC_VARIABLE = /^LATCHKEY_OIDC_([A-Z0-9_]+?)_(ISSUER|CLIENT_ID|CLIENT_SECRET)$/;

/** The `LATCHKEY_OIDC_<NAME>_*` triples, by name; a triple missing a part names the missing variable. */
function oidcFromEnv(env: Env): OidcProviderConfig[] {
  const byName = new Map<string, Partial<Record<'ISSUER' | 'CLIENT_ID' | 'CLIENT_SECRET', string>>>();
  for (const key of Object.keys(env).sort()) {
    const match = OIDC_VARIABLE.exec(key);
    const value = read(env, key);
    if (!match || value === undefined) continue;
    const [, name, part] = match as unknown as [string, string, 'ISSUER' | 'CLIENT_ID' | 'CLIENT_SECRET'];
    byName.set(name, { ...byName.get(name), [part]: value });
  }
  return [...byName].map(([name, parts]) => {
    for (const part of ['ISSUER', 'CLIENT_ID', 'CLIENT_SECRET'] as const) {
      if (parts[part] === undefined) fail(`LATCHKEY_OIDC_${name}_${part}`, 'required', `is required for the provider ${name}`);
    }
    return { id: name.toLowerCase(), issuer: parts.ISSUER!, clientId: parts.CLIENT_ID!, clientSecret: parts.CLIENT_SECRET! };
  });
}

/** Whether `hostname` (as `URL` gives it) is this machine: `localhost`, `*.localhost`, 127.0.0.0/8, `[::1]`. */
function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(hostname) || hostname === '[::1]';
}

/** An `https:` URL, or `http:` on a loopback host; `undefined` otherwise. */
function providerUrl(value: unknown): URL | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    const url = new URL(value);
    if (url.username || url.password || url.search || url.hash) return undefined;
    if (url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname))) return url;
  } catch {
    // not a URL
  }
  return undefined;
}

function fail(variable: string, reason: ConfigReason, message: string): never {
  throw new ConfigError(variable, message, reason);
}

/** Reads and validates the whole configuration from the environment. Throws {@link ConfigError} naming the variable. */
export function loadConfig(env: Env = process.env): LatchkeyConfig {
  return validateConfig(fromEnv(env), 'env');
}

// ---------------------------------------------------------------------------------------------
// The one validator, for the environment and for `createLatchkey` options alike.

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

/** The origin of an http(s) URL, or `undefined`. */
function originOf(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : undefined;
  } catch {
    return undefined;
  }
}

/** The issuer and the browser origins that follow from the listen address (see {@link servedOrigins}). */
export interface ServedOrigins {
  issuer: string;
  allowedOrigins: string[];
}

/**
 * With no issuer configured, the issuer and allowed origins follow the address the server
 * answers at (docs/http-api.md#issuer-and-origins-without-configuration): every origin a browser
 * on this machine can open it under. Listening on `127.0.0.1`, `::1`, `localhost` or a wildcard
 * address (`0.0.0.0`, `::`), it answers on loopback, which a browser reaches as `localhost` and
 * as the literal address (`127.0.0.1`, `[::1]`, whichever the socket accepts); the issuer is
 * `http://localhost:PORT`, because that one name reaches IPv4 and IPv6 loopback alike, browsers
 * treat it as a secure context (the `__Secure-` refresh cookie is kept over plain http), and it
 * is the issuer earlier versions used on the default port. Any other address or host name is
 * the one origin and the issuer. `port` is the port actually bound: `latchkey serve` with
 * `PORT=0` reads the configuration again with the port the OS picked.
 * `undefined` when `host` is neither an IP address nor a host name.
 */
export function servedOrigins(host: string, port: number): ServedOrigins | undefined {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  let names: string[];
  if (bare === 'localhost')
    names = ['localhost', '127.0.0.1', '[::1]']; // listening on `localhost` binds both loopback addresses
  else if (bare === '0.0.0.0') names = ['localhost', '127.0.0.1'];
  else if (bare === '::')
    names = ['localhost', '127.0.0.1', '[::1]']; // `::` accepts IPv4 as well
  else if (bare === '::1') names = ['localhost', '[::1]'];
  else if (bare === '127.0.0.1') names = ['localhost', '127.0.0.1'];
  else if (isIP(bare) === 6) names = [`[${bare}]`];
  else if (isIP(bare) === 4 || /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(bare)) names = [bare];
  else return undefined;
  const origins = names.map((name) => new URL(`http://${name}:${port}`).origin);
  return { issuer: origins[0]!, allowedOrigins: origins };
}

/**
 * Checks every value against the rules of the README's configuration table, fills in the
 * defaults and returns the configuration, frozen. A value that breaks a rule throws a
 * {@link ConfigError} naming it as `naming` says: the environment variable (`LATCHKEY_SECRET`)
 * or the option (`secret`) — with the same `reason` and message either way.
 */
export function validateConfig(input: ConfigInput, naming: 'env' | 'option' = 'option'): LatchkeyConfig {
  const name = (path: ConfigPath) => (naming === 'env' ? CONFIG_VARIABLES[path] : path);
  const invalid = (path: ConfigPath, reason: ConfigReason, message: string): never => fail(name(path), reason, message);
  const rateInput: Partial<RateLimitConfig> = input.rateLimits ?? {};
  const valueAt = (path: ConfigPath): unknown =>
    path.startsWith('rateLimits.') ? rateInput[path.slice('rateLimits.'.length) as keyof RateLimitConfig] : input[path as keyof ConfigInput];

  const integer = (path: ConfigPath, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const value = valueAt(path);
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value)) return invalid(path, 'type', 'must be a whole number');
    if (value < min || value > max) invalid(path, 'range', `must be between ${min} and ${max}`);
    return value;
  };
  const boolean = (path: ConfigPath, fallback: boolean): boolean => {
    const value = valueAt(path);
    if (value === undefined) return fallback;
    return typeof value === 'boolean' ? value : invalid(path, 'type', 'must be true or false');
  };
  const text = (path: ConfigPath): string | undefined => {
    const value = valueAt(path);
    if (value === undefined) return undefined;
    return typeof value === 'string' && value !== '' ? value : invalid(path, 'type', 'must be a non-empty string');
  };
  const choice = <T extends string>(path: ConfigPath, allowed: readonly T[], fallback: T): T => {
    const value = text(path) ?? fallback;
    if (allowed.includes(value as T)) return value as T;
    return invalid(path, 'choice', allowed.length === 2 ? `must be ${allowed[0]} or ${allowed[1]}` : `must be one of ${allowed.join(', ')}`);
  };
  const bytes = (path: ConfigPath): Uint8Array | undefined => {
    const value = valueAt(path);
    if (value === undefined) return undefined;
    if (!(value instanceof Uint8Array)) return invalid(path, 'type', 'must be bytes (a Uint8Array)');
    if (value.length < MIN_SECRET_BYTES) invalid(path, 'length', `must be at least ${MIN_SECRET_BYTES} bytes`);
    return value;
  };
  const list = (path: ConfigPath): string[] | undefined => {
    const value = valueAt(path);
    if (value === undefined) return undefined;
    if (!Array.isArray(value) || !value.every((item) => typeof item === 'string' && item !== '')) {
      return invalid(path, 'type', 'must be a list of non-empty strings');
    }
    return value as string[];
  };

  const port = integer('port', 3000, 0, 65535);
  const host = text('host') ?? '127.0.0.1';
  const databaseUrl = text('databaseUrl') ?? 'sqlite:./data/latchkey.db';
  if (!/^(sqlite:|postgres(ql)?:\/\/)/.test(databaseUrl)) invalid('databaseUrl', 'format', 'must start with sqlite: or postgres://');
  const secret = bytes('secret');
  if (databaseUrl.startsWith('postgres') && !secret) invalid('secret', 'required', 'is required with PostgreSQL so that every instance shares it');
  const redisUrl = text('redisUrl');
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) invalid('redisUrl', 'format', 'must start with redis:// or rediss://');

  const served = servedOrigins(host, port) ?? invalid('host', 'format', 'must be an IP address or a host name');
  const givenIssuer = text('issuer');
  const issuer = givenIssuer ?? served.issuer;
  const issuerOrigin = originOf(issuer) ?? invalid('issuer', 'format', 'must be an http(s) URL or origin');
  const audience = list('audience') ?? ['latchkey'];
  if (audience.length === 0) invalid('audience', 'required', 'must name at least one audience');

  const signingAlg = choice('signingAlg', SIGNING_ALGORITHMS, 'ES256');
  const hs256Secret = bytes('hs256Secret');
  if (signingAlg === 'HS256' && !hs256Secret) invalid('hs256Secret', 'required', `is required when ${name('signingAlg')} is HS256`);

  const accessTokenTtl = integer('accessTokenTtl', 900, 1, 86_400);
  const refreshTokenTtl = integer('refreshTokenTtl', 604_800, 1);
  const sessionMaxAge = integer('sessionMaxAge', 2_592_000, 1);
  const refreshGrace = integer('refreshGrace', 10, 0, 300);

  // The default allowed origin is the issuer's, or with no issuer given those of the listen
  // address. A list that already holds origins is kept as given (an embedder may add an origin
  // to it once its server listens).
  const givenOrigins = list('allowedOrigins');
  let allowedOrigins = givenOrigins ?? (givenIssuer === undefined ? served.allowedOrigins : [issuerOrigin]);
  if (givenOrigins) {
    const origins = givenOrigins.map((o) => originOf(o) ?? invalid('allowedOrigins', 'format', 'must be an http(s) URL or origin'));
    if (origins.some((o, i) => o !== givenOrigins[i])) allowedOrigins = origins;
  }

  const windowSeconds = integer('rateLimits.windowSeconds', 60, 1, 86_400);
  const rateLimits: RateLimitConfig = {
    enabled: boolean('rateLimits.enabled', true),
    loginPerIp: integer('rateLimits.loginPerIp', 20, 1),
    loginPerAccount: integer('rateLimits.loginPerAccount', 5, 1),
    registerPerIp: integer('rateLimits.registerPerIp', 10, 1),
    forgotPerIp: integer('rateLimits.forgotPerIp', 10, 1),
    linkPerIp: integer('rateLimits.linkPerIp', 30, 1),
    // Refresh is never limited below 60 per session per minute, i.e. one per second of the window
    // (docs/http-api.md#rate-limits).
    refreshPerSession: integer('rateLimits.refreshPerSession', 120, windowSeconds),
    oauthPerIp: integer('rateLimits.oauthPerIp', 60, 1),
    windowSeconds,
    redisFailure: choice('rateLimits.redisFailure', ['local', 'closed'] as const, 'local'),
    redisPrefix: text('rateLimits.redisPrefix') ?? 'latchkey:',
  };

  const requestTimeout = integer('requestTimeout', 30, 1, 3600);
  const headersTimeout = integer('headersTimeout', Math.min(10, requestTimeout), 1, 3600);
  if (headersTimeout > requestTimeout) invalid('headersTimeout', 'conflict', `must not exceed ${name('requestTimeout')}`);

  const metricsToken = text('metricsToken');
  if (metricsToken !== undefined) {
    // What a bearer credential can carry (RFC 6750 token68): any other character could never match.
    if (!/^[A-Za-z0-9\-._~+/]+=*$/.test(metricsToken)) invalid('metricsToken', 'format', 'must be a bearer token (A-Z a-z 0-9 - . _ ~ + /)');
    if (metricsToken.length < MIN_METRICS_TOKEN_LENGTH) invalid('metricsToken', 'length', `must be at least ${MIN_METRICS_TOKEN_LENGTH} characters`);
  }
  const smtpUrl = text('smtpUrl');
  if (smtpUrl !== undefined) {
    let protocol: string | undefined;
    try {
      protocol = new URL(smtpUrl).protocol;
    } catch {
      invalid('smtpUrl', 'format', 'must be a URL such as smtp://user:pass@host:587 or smtps://host:465');
    }
    if (protocol !== 'smtp:' && protocol !== 'smtps:') invalid('smtpUrl', 'format', 'must start with smtp:// or smtps://');
  }
  const webhookUrl = text('webhookUrl');
  if (webhookUrl !== undefined) {
    if (originOf(webhookUrl) === undefined) invalid('webhookUrl', 'format', 'must be an http(s) URL');
    const url = new URL(webhookUrl);
    // The URL appears in configuration dumps and error reports; the signature is what authenticates.
    if (url.username !== '' || url.password !== '')
      invalid('webhookUrl', 'format', 'must not carry credentials (the signature authenticates each request)');
  }
  const webhookSecret = text('webhookSecret');
  if (webhookSecret !== undefined) {
    const key = webhookSigningKey(webhookSecret);
    if (!Buffer.isBuffer(key)) invalid('webhookSecret', key.reason, key.message);
  }
  if (webhookUrl !== undefined && webhookSecret === undefined) invalid('webhookSecret', 'required', `is required when ${name('webhookUrl')} is set`);
  if (webhookSecret !== undefined && webhookUrl === undefined) invalid('webhookUrl', 'required', `is required when ${name('webhookSecret')} is set`);
  const appUrl = originOf(text('appUrl') ?? issuerOrigin) ?? invalid('appUrl', 'format', 'must be an http(s) URL or origin');
  // The token must travel in the fragment: never sent to a server, never in a log or a Referer.
  const pageUrl = (path: 'resetUrl' | 'verifyUrl'): string | undefined => {
    const value = text(path);
    if (value === undefined) return undefined;
    if (originOf(value) === undefined) invalid(path, 'format', 'must be an http(s) URL');
    const hash = value.indexOf('#');
    if (hash < 0 || !value.slice(hash).includes('{token}') || value.indexOf('{token}') !== value.lastIndexOf('{token}')) {
      invalid(path, 'format', 'must hold {token} once, in the fragment (after #), e.g. https://app.example/reset#token={token}');
    }
    return value;
  };

  // Browsers refuse WebAuthn on IP hosts; an RP id is a bare host name (RFC 1123 labels).
  const givenRpId = text('webauthnRpId');
  const webauthnRpId = givenRpId?.toLowerCase() ?? new URL(issuerOrigin).hostname;
  if (givenRpId !== undefined) {
    if (isIP(webauthnRpId.replace(/^\[(.*)\]$/, '$1')) !== 0)
      invalid('webauthnRpId', 'format', 'must be a host name, not an IP address (browsers refuse WebAuthn on IP hosts)');
    if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(webauthnRpId)) {
      invalid('webauthnRpId', 'format', 'must be a host name such as example.com (no scheme, port or path)');
    }
  }
  const { oidcProviders, github, allowedRedirects } = identityProviders(input, naming);

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
    allowSignup: boolean('allowSignup', true),
    cookieSecure: boolean('cookieSecure', true),
    allowedOrigins,
    rateLimits,
    trustProxy: trustProxy(valueAt('trustProxy'), (reason, message) => invalid('trustProxy', reason, message)),
    logLevel: choice('logLevel', LOG_LEVELS, 'info'),
    dbPoolSize: integer('dbPoolSize', 10, 1, 1000),
    sqliteSynchronous: choice('sqliteSynchronous', ['normal', 'full'] as const, 'normal'),
    keyReloadInterval: integer('keyReloadInterval', 10, 1, 30),
    dbStartupTimeout: integer('dbStartupTimeout', 30, 0, 600),
    auditRetention: integer('auditRetention', 7_776_000, 0),
    requestTimeout,
    headersTimeout,
    keepAliveTimeout: integer('keepAliveTimeout', 72, 1, 3600),
    metricsToken,
    smtpUrl,
    mailFrom: text('mailFrom') ?? 'Latchkey <no-reply@localhost>',
    mailTemplates: text('mailTemplates'),
    appUrl,
    resetUrl: pageUrl('resetUrl'),
    verifyUrl: pageUrl('verifyUrl'),
    resetTokenTtl: integer('resetTokenTtl', 900, 1, 86_400),
    verifyTokenTtl: integer('verifyTokenTtl', 86_400, 1, 2_592_000),
    requireEmailVerification: boolean('requireEmailVerification', false),
    dpop: choice('dpop', ['off', 'optional', 'required'] as const, 'optional'),
    dpopNonce: boolean('dpopNonce', false),
    webauthnRpId,
    webhookUrl,
    webhookSecret,
    oidcProviders,
    github,
    allowedRedirects,
    oauthTimeout: integer('oauthTimeout', 10, 1, 10),
  });
}

/**
 * The identity providers and the redirect allow-list (docs/oidc.md). From the environment each
 * value is named by its own variable (`LATCHKEY_OIDC_GOOGLE_ISSUER`); as options by its path
 * (`oidcProviders[0].issuer`, `github.clientId`).
 */
function identityProviders(
  input: ConfigInput,
  naming: 'env' | 'option',
): { oidcProviders: OidcProviderConfig[]; github: GithubConfig | undefined; allowedRedirects: string[] } {
  const given = input.oidcProviders ?? [];
  if (!Array.isArray(given)) fail('oidcProviders', 'type', 'must be a list of {id, issuer, clientId, clientSecret}');
  const ids = new Set<string>();
  const oidcProviders = given.map((provider: Partial<OidcProviderConfig> | undefined, i): OidcProviderConfig => {
    const id = provider?.id;
    const nameOf = (field: 'ID' | 'ISSUER' | 'CLIENT_ID' | 'CLIENT_SECRET', option: string) =>
      naming === 'env' ? `LATCHKEY_OIDC_${String(id).toUpperCase()}_${field === 'ID' ? 'ISSUER' : field}` : `oidcProviders[${i}].${option}`;
    if (typeof id !== 'string' || !/^[a-z0-9][a-z0-9_]{0,31}$/.test(id)) {
      fail(nameOf('ID', 'id'), 'format', 'the provider name must be 1–32 letters, digits or _ (its id is the name lower-cased)');
    }
    if (id === 'github') fail(nameOf('ID', 'id'), 'conflict', 'github is the GitHub preset: set LATCHKEY_GITHUB_CLIENT_ID and _SECRET instead');
    if (ids.has(id)) fail(nameOf('ID', 'id'), 'conflict', `the provider ${id} is configured twice`);
    ids.add(id);
    const issuer = provider?.issuer;
    if (providerUrl(issuer) === undefined) {
      fail(nameOf('ISSUER', 'issuer'), 'format', 'must be an https:// URL (http:// only on localhost or 127.0.0.1), without query or fragment');
    }
    for (const [field, option] of [
      ['CLIENT_ID', 'clientId'],
      ['CLIENT_SECRET', 'clientSecret'],
    ] as const) {
      const value = provider?.[option];
      if (typeof value !== 'string' || value === '') fail(nameOf(field, option), 'required', 'must be a non-empty string');
    }
    return { id, issuer: issuer!, clientId: provider!.clientId!, clientSecret: provider!.clientSecret! };
  });

  let github: GithubConfig | undefined;
  if (input.github !== undefined) {
    if (typeof input.github !== 'object' || input.github === null) fail('github', 'type', 'must be {clientId, clientSecret}');
    const value = input.github as Partial<GithubConfig>;
    const nameOf = (field: keyof GithubConfig) =>
      naming === 'env' ? (field === 'clientSecret' ? 'LATCHKEY_GITHUB_CLIENT_SECRET' : 'LATCHKEY_GITHUB_CLIENT_ID') : `github.${field}`;
    for (const field of ['clientId', 'clientSecret'] as const) {
      if (typeof value?.[field] !== 'string' || value[field] === '') fail(nameOf(field), 'required', 'must be a non-empty string');
    }
    for (const field of ['webUrl', 'apiUrl'] as const) {
      if (value?.[field] !== undefined && providerUrl(value[field]) === undefined) {
        fail(nameOf(field), 'format', 'must be an https:// URL (http:// only on localhost or 127.0.0.1)');
      }
    }
    github = Object.freeze({ ...value }) as GithubConfig;
  }

  const redirectsName = naming === 'env' ? CONFIG_VARIABLES.allowedRedirects : 'allowedRedirects';
  const redirects = input.allowedRedirects ?? [];
  if (!Array.isArray(redirects) || !redirects.every((r) => typeof r === 'string' && r !== '')) {
    fail(redirectsName, 'type', 'must be a list of absolute URL prefixes');
  }
  const allowedRedirects = redirects.map((prefix) => {
    let url: URL;
    try {
      url = new URL(prefix);
    } catch {
      return fail(redirectsName, 'format', 'must be absolute http(s) URL prefixes, e.g. https://app.example/');
    }
    if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password || url.search || url.hash) {
      fail(redirectsName, 'format', 'must be absolute http(s) URL prefixes without credentials, query or fragment');
    }
    // A bare origin is the origin's every path: `https://app.example` must not also allow `https://app.example.evil`.
    return url.href;
  });
  return { oidcProviders, github, allowedRedirects };
}

/** `trustProxy`: `false`, `true`, a hop count 0–100 (0 is `false`) or a list of proxy addresses and ranges. */
function trustProxy(value: unknown, invalid: (reason: ConfigReason, message: string) => never): boolean | number | string[] {
  if (value === undefined || value === false || value === 0) return false;
  if (value === true) return true;
  if (typeof value === 'number') {
    return Number.isInteger(value) && value > 0 && value <= 100 ? value : invalid('range', 'a hop count must be between 0 and 100');
  }
  if (!Array.isArray(value) || !value.every((entry) => typeof entry === 'string')) return invalid('type', TRUST_PROXY_HELP);
  const list = value.map((entry: string) => entry.trim().toLowerCase());
  if (!list.every(isTrustedProxyEntry)) return invalid('format', TRUST_PROXY_HELP);
  try {
    proxyAddr.compile(list); // what the server will run: refuse here what it would refuse (e.g. a non-contiguous netmask)
  } catch {
    return invalid('format', TRUST_PROXY_HELP);
  }
  return list;
}
