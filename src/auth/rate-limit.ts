/**
 * Rate-limit policy: what is counted, against which limit, and what a trip means.
 * Counters live behind {@link CounterStore} (memory, or Redis shared by every instance).
 *
 * | bucket | key | counts | limit (default) |
 * |---|---|---|---|
 * | login per IP | client IP (IPv6: its /64) | every login attempt | `loginPerIp` (20) per window |
 * | login per account | HMAC(e-mail) | attempts not (yet) followed by a success; reset by a success | `loginPerAccount` (5) per window |
 * | login per account, known IP | HMAC(e-mail) + IP | the same, from an IP this account signed in from before | `loginPerAccount` per window |
 * | registration per IP | client IP | every registration attempt | `registerPerIp` (10) per window |
 * | forgot per IP | client IP | every `POST /auth/password/forgot` | `forgotPerIp` (10) per window |
 * | links per IP | client IP | every use of a reset or verification link | `linkPerIp` (30) per window |
 * | refresh per session | session id (from an authentic token) | every refresh | `refreshPerSession` (120) per window |
 * | refresh per IP | client IP | refreshes with an invalid token | `refreshPerSession` per window |
 *
 * **Account lockout trade-off.** The per-account bucket is a temporary lock, not a delay:
 * after `loginPerAccount` attempts that did not succeed, further attempts for that account
 * get 429 without a password check until the window (60 s) that the first of them opened
 * ends. Locked attempts do not extend the window. An attacker can therefore keep re-locking
 * an account, but only at `loginPerAccount` guesses per window (7,200 a day with defaults),
 * and never for the account's owner at an address they have signed in from before: such an
 * (account, IP) pair has a bucket of its own for 30 days after its last success. A new
 * device of the owner during a sustained attack is the case that waits — and each window's
 * re-lock is visible as a `rate_limited` audit event. Unknown e-mail addresses are counted
 * exactly like real ones, so a 429 reveals nothing about which accounts exist.
 *
 * The account key is an HMAC of the normalised e-mail under a key derived from the master
 * secret (`deriveKeys().rateLimitAccount`, src/keys/master-secret.ts): Redis keys, logs and
 * audit details never hold an address.
 */
import { createHmac } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { ApiError } from '../errors.js';
import type { RateLimitConfig } from '../config/config.js';
import type { CounterStore } from '../ratelimit/store.js';

/** How long a successful sign-in makes an (account, IP) pair "known" for the lockout exemption. */
const KNOWN_PAIR_TTL_MS = 30 * 24 * 3600 * 1000;

export type RateLimitScope = 'login_ip' | 'login_account' | 'register_ip' | 'forgot_ip' | 'link_ip' | 'oauth_ip' | 'refresh_session' | 'refresh_ip';

/** 429 `RATE_LIMITED`; the HTTP edge sends `Retry-After: retryAfter`. */
export class RateLimitedError extends ApiError {
  /** Whole seconds until a retry can succeed (≥ 1). */
  readonly retryAfter: number;
  readonly scope: RateLimitScope;

  constructor(scope: RateLimitScope, retryAfter: number) {
    super('RATE_LIMITED');
    this.name = 'RateLimitedError';
    this.scope = scope;
    this.retryAfter = retryAfter;
  }
}

/** A limit that has just started refusing (audited once per window, not per refused request). */
export interface RateLimitTrip {
  scope: RateLimitScope;
  ip: string | null;
  /** First 16 hex digits of the account HMAC, for login_account. */
  account?: string;
  sessionId?: string;
  limit: number;
  windowSeconds: number;
}

export interface RateLimiterOptions {
  limits: RateLimitConfig;
  store: CounterStore;
  /** Key of the account HMAC, shared by the instances: `deriveKeys(masterSecret).rateLimitAccount`. */
  accountKey: Uint8Array;
  /** Told about each trip (the service audits it). Must not throw. */
  onTrip?: (trip: RateLimitTrip) => void | Promise<void>;
}

/** What a login attempt reserved; hand it back with the outcome. */
export interface LoginTicket {
  readonly accountKey: string;
  readonly knownKey: string;
}

/**
 * The client address as a counter key: IPv4-mapped IPv6 as IPv4, other IPv6 addresses by
 * their /64 (one host usually owns a whole /64), `unknown` when the edge has none.
 */
export function ipKey(ip: string | null | undefined): string {
  if (!ip) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (!isIPv6(ip)) return ip;
  const [head = '', tail = ''] = ip.split('%')[0]!.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => (parseInt(g, 16) || 0).toString(16))
    .join(':')}::/64`;
}

export class RateLimiter {
  readonly #limits: RateLimitConfig;
  readonly #store: CounterStore;
  readonly #hmacKey: Buffer;
  readonly #onTrip: RateLimiterOptions['onTrip'];
  readonly #windowMs: number;

  constructor(options: RateLimiterOptions) {
    this.#limits = options.limits;
    this.#store = options.store;
    this.#hmacKey = Buffer.from(options.accountKey);
    this.#onTrip = options.onTrip;
    this.#windowMs = options.limits.windowSeconds * 1000;
  }

  get store(): CounterStore {
    return this.#store;
  }

  /** HMAC of a normalised e-mail, as used in counter keys (hex). */
  accountHash(normalizedEmail: string): string {
    return createHmac('sha256', this.#hmacKey).update(normalizedEmail).digest('hex').slice(0, 32);
  }

  /**
   * Counts a login attempt against the IP and the account. Throws {@link RateLimitedError}
   * when either is over its limit (the password must then not be checked).
   */
  async beforeLogin(normalizedEmail: string, ip: string | null): Promise<LoginTicket> {
    const client = ipKey(ip);
    await this.#hit(`login:ip:${client}`, this.#limits.loginPerIp, { scope: 'login_ip', ip });
    const account = this.accountHash(normalizedEmail);
    const knownKey = `login:known:${account}:${client}`;
    const known = (await this.#store.get(knownKey)).count > 0;
    const accountKey = known ? `login:acctip:${account}:${client}` : `login:acct:${account}`;
    await this.#hit(accountKey, this.#limits.loginPerAccount, { scope: 'login_account', ip, account: account.slice(0, 16) });
    return { accountKey, knownKey };
  }

  /** A successful login: the account's attempts are forgiven and the (account, IP) pair becomes known. */
  async loginSucceeded(ticket: LoginTicket): Promise<void> {
    await this.#store.reset(ticket.accountKey);
    await this.#store.reset(ticket.knownKey);
    await this.#store.increment(ticket.knownKey, KNOWN_PAIR_TTL_MS);
  }

  async beforeRegister(ip: string | null): Promise<void> {
    await this.#hit(`register:ip:${ipKey(ip)}`, this.#limits.registerPerIp, { scope: 'register_ip', ip });
  }

  async beforeForgot(ip: string | null): Promise<void> {
    await this.#hit(`forgot:ip:${ipKey(ip)}`, this.#limits.forgotPerIp, { scope: 'forgot_ip', ip });
  }

  /**
   * Options of a passkey sign-in (docs/mfa.md#passkeys): they need no account but store a
   * challenge, so they spend the IP's login budget like a password attempt.
   */
  async beforePasskeyOptions(ip: string | null): Promise<void> {
    await this.#hit(`login:ip:${ipKey(ip)}`, this.#limits.loginPerIp, { scope: 'login_ip', ip });
  }

  /** A start or callback of a sign-in with an identity provider (docs/oidc.md). */
  async beforeOAuth(ip: string | null): Promise<void> {
    await this.#hit(`oauth:ip:${ipKey(ip)}`, this.#limits.oauthPerIp, { scope: 'oauth_ip', ip });
  }

  /** A use of a reset or verification link (guessing tokens is bounded per IP). */
  async beforeLinkUse(ip: string | null): Promise<void> {
    await this.#hit(`link:ip:${ipKey(ip)}`, this.#limits.linkPerIp, { scope: 'link_ip', ip });
  }

  /** A refresh with an authentic token of `sessionId`. */
  async beforeRefresh(sessionId: string, ip: string | null): Promise<void> {
    await this.#hit(`refresh:sid:${sessionId}`, this.#limits.refreshPerSession, { scope: 'refresh_session', ip, sessionId });
  }

  /** A refresh with a token that is not authentic: counted per IP. */
  async invalidRefresh(ip: string | null): Promise<void> {
    await this.#hit(`refresh:ip:${ipKey(ip)}`, this.#limits.refreshPerSession, { scope: 'refresh_ip', ip });
  }

  async close(): Promise<void> {
    await this.#store.close();
  }

  async #hit(key: string, limit: number, trip: Omit<RateLimitTrip, 'limit' | 'windowSeconds'>): Promise<void> {
    const { count, resetInMs } = await this.#store.increment(key, this.#windowMs);
    if (count <= limit) return;
    if (count === limit + 1) await this.#onTrip?.({ ...trip, limit, windowSeconds: this.#limits.windowSeconds });
    throw new RateLimitedError(trip.scope, Math.max(1, Math.ceil(resetInMs / 1000)));
  }
}
