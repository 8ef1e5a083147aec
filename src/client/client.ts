/**
 * `createAuthClient`: the browser half of the Latchkey flow (docs/client.md).
 *
 * - The access token lives in this object only — never in localStorage, sessionStorage,
 *   IndexedDB or a readable cookie. The refresh token is the server's httpOnly cookie.
 * - Expiry is the server's `expiresIn` counted on the local clock from the moment the answer
 *   arrived: a client clock that is hours off changes nothing.
 * - `fetch()` refreshes ahead of expiry (`refreshBuffer`, with jitter), and retries a request
 *   once — never more — when the server answers 401 `TOKEN_EXPIRED`.
 * - Single-flight: concurrent callers share one refresh. Across tabs, a Web Lock (or the
 *   channel fallback) lets one tab refresh at a time; after taking it a tab first asks its
 *   siblings, which may already hold a fresh token. Sign-outs reach every tab.
 * - A failed or losing refresh never signs the user out while a sibling holds a live token.
 */
import { AuthError, errorFromResponse, isTerminal, networkError, notSignedIn } from './errors.js';
import { durationMs, type Duration } from './duration.js';
import { channelMutex, localMutex, webLocksMutex, type Mutex } from './mutex.js';
import { TabChannel, type TokenReason, type TokenSnapshot } from './tab-channel.js';

export type AuthChangeType = 'signed-in' | 'refreshed' | 'signed-out';

export interface AuthChange {
  type: AuthChangeType;
  signedIn: boolean;
}

export type AuthChangeListener = (change: AuthChange) => void;

export interface AuthClientOptions {
  /** Origin (and optional path) of the Latchkey server. Default: the page's origin. */
  baseUrl?: string;
  /** Refresh this long before the access token expires (at most a fifth of its lifetime). Default 30 s. */
  refreshBuffer?: Duration;
  /** Give up on a refresh, login or logout request after this long. Default 15 s. */
  requestTimeout?: Duration;
  /** Coordinate with the other tabs of this origin. Default: where `BroadcastChannel` exists. */
  crossTab?: boolean;
  /** The Web Locks manager; default `navigator.locks`. `null` forces the fallback without it. */
  locks?: LockManager | null;
  /** Name shared by the tabs that coordinate; default derived from `baseUrl`. */
  channelName?: string;
  /** The `fetch` to use (tests). Default: the global one. */
  fetch?: typeof fetch;
  /** Local clock in ms (tests). Only differences of it are used. Default `Date.now`. */
  now?: () => number;
  /** Randomness for jitter (tests). Default `Math.random`. */
  random?: () => number;
}

/** What {@link AuthClient.login} resolves to: signed in, or a second factor is due. */
export type LoginResult = { mfaRequired: false } | { mfaRequired: true; factors: Array<'totp' | 'webauthn'> };

/** A second factor for {@link AuthClient.verifyMfa}: a TOTP code, or one of the recovery codes. */
export type MfaAnswer = string | { code: string } | { recoveryCode: string };

/**
 * What builds the body of a sign-in request for {@link AuthClient.signInAt}: it gets the
 * pending second step of `login()` (if any) and `post`, which POSTs JSON to `auth/<endpoint>` of
 * the server and resolves the answer's JSON (or throws `AuthError`).
 */
export type SignInBuilder = (mfaToken: string | undefined, post: (endpoint: string, body: object) => Promise<unknown>) => object | Promise<object>;

/** What a sign-in or refresh answers (checked where it is used). */
interface Answer {
  accessToken?: unknown;
  expiresIn?: unknown;
  mfaToken?: string;
  factors?: Array<'totp' | 'webauthn'>;
}

export interface AuthClient {
  /**
   * Signs in with a password; the server sets the refresh cookie. Resolves `{mfaRequired: false}`
   * when signed in, or `{mfaRequired: true, factors}` when the account has a second factor: then
   * finish with {@link verifyMfa} (or `signInWithPasskey` of `latchkey/client/passkeys`) — the
   * pending step stays in this object. Throws `AuthError` (`INVALID_CREDENTIALS`, …).
   */
  login(email: string, password: string): Promise<LoginResult>;
  /**
   * The second step of a `login()` that answered `mfaRequired`: a TOTP code (`'123456'` or
   * `{code}`) or a recovery code (`{recoveryCode}`). Signs in, or throws `AuthError`:
   * `INVALID_MFA_CODE` (try again, up to 5 times), `MFA_TOKEN_INVALID` (sign in again).
   */
  verifyMfa(answer: MfaAnswer): Promise<LoginResult>;
  /**
   * Signs in with an identity provider (an `id` of `GET /auth/providers`): the page leaves for
   * the provider (`location.assign` to `auth/oauth/<provider>/start`) and comes back to
   * `redirect` (default: the current path and query) with the refresh cookie set — call
   * `restore()` there — or with `#error=CODE`.
   */
  signInWith(provider: string, options?: { redirect?: string }): void;
  /**
   * The building block of other sign-in methods (`latchkey/client/passkeys`): `build` makes the
   * body for `auth/<endpoint>` (it may ask the server first with its `post`); the answer signs in
   * like `login()`'s (and ends a pending second step), or is a new `mfaRequired`.
   */
  signInAt(endpoint: string, build: SignInBuilder): Promise<LoginResult>;
  /** Signs out this tab and every sibling, and revokes the session on the server. */
  logout(): Promise<void>;
  /** On page load: takes a sibling's token or refreshes from the cookie. `true` when signed in. */
  restore(): Promise<boolean>;
  /** `fetch` with the bearer token; relative URLs resolve against `baseUrl`. */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /** A valid access token (refreshing if needed), or `null` when signed out. */
  getAccessToken(): Promise<string | null>;
  /** Subscribes to sign-in, refresh and sign-out; returns the unsubscribe function. */
  onChange(listener: AuthChangeListener): () => void;
  /** Whether this tab currently holds a session. */
  readonly signedIn: boolean;
  /** Stops coordinating with other tabs and drops listeners (the session is kept). */
  close(): void;
}

interface Held {
  token: string;
  expiresAt: number;
  lifetimeMs: number;
  /** When `fetch()` starts a refresh in the background: expiry − buffer − jitter. */
  refreshAt: number;
}

type Status = 'unknown' | 'signed-in' | 'signed-out';

const MAX_BACKOFF_MS = 30_000;

function timeoutSignal(ms: number): AbortSignal | undefined {
  return (globalThis as { AbortSignal?: Partial<typeof AbortSignal> }).AbortSignal?.timeout?.(ms);
}

function defaultBaseUrl(): string {
  const origin = (globalThis as { location?: Location }).location?.origin;
  if (!origin || origin === 'null') throw new TypeError('baseUrl is required.');
  return origin;
}

class BrowserAuthClient implements AuthClient {
  readonly #base: URL;
  readonly #bufferMs: number;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #channel: TabChannel | null;
  readonly #mutex: Mutex;
  readonly #listeners = new Set<AuthChangeListener>();
  readonly #detach: () => void;

  #status: Status = 'unknown';
  #held: Held | null = null;
  /** Incremented by every sign-out: a refresh that waited across one must not resurrect the session. */
  #epoch = 0;
  #inflight: Promise<string> | null = null;
  #backoffMs = 0;
  #backoffUntil = 0;
  #lastError: AuthError | null = null;
  #closed = false;
  /** The second step of a `login()` that answered `mfaRequired`. */
  #mfaToken: string | undefined;

  constructor(options: AuthClientOptions) {
    const base = new URL(options.baseUrl ?? defaultBaseUrl());
    if (!base.pathname.endsWith('/')) base.pathname += '/';
    base.search = '';
    base.hash = '';
    this.#base = base;
    this.#bufferMs = durationMs(options.refreshBuffer ?? 30, 'refreshBuffer');
    this.#timeoutMs = durationMs(options.requestTimeout ?? 15, 'requestTimeout');
    // The global fetch, looked up per call (so a polyfill installed later counts) and called
    // unbound-safe (a detached window.fetch throws "Illegal invocation").
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;

    const crossTab = (options.crossTab ?? true) && typeof BroadcastChannel !== 'undefined';
    const name = options.channelName ?? `latchkey:${base.href}`;
    this.#channel = crossTab
      ? new TabChannel({
          name,
          now: this.#now,
          random: this.#random,
          handlers: {
            snapshot: () => this.#snapshot(),
            onToken: (snapshot, reason) => this.#fromSibling(snapshot, reason),
            onSignedOut: () => this.#drop(false),
          },
        })
      : null;
    const locks = options.locks === undefined ? ((globalThis as { navigator?: Navigator }).navigator?.locks ?? null) : options.locks;
    if (locks) this.#mutex = webLocksMutex(locks, `${name}:refresh`);
    else if (this.#channel) {
      this.#mutex = channelMutex(this.#channel, { random: this.#random, claimTtlMs: this.#timeoutMs + 5000 });
    } else this.#mutex = localMutex();
    this.#detach = this.#watchPageLifecycle();
  }

  get signedIn(): boolean {
    return this.#status === 'signed-in';
  }

  login(email: string, password: string): Promise<LoginResult> {
    return this.signInAt('login', () => ({ email, password }));
  }

  verifyMfa(answer: MfaAnswer): Promise<LoginResult> {
    return this.signInAt('mfa/verify', (mfaToken) => ({ ...(typeof answer === 'string' ? { code: answer } : answer), mfaToken }));
  }

  signInWith(provider: string, options: { redirect?: string } = {}): void {
    // Provider ids are lower-cased configuration names ([a-z0-9_]): nothing to escape.
    const here = location;
    here.assign(this.#authUrl(`oauth/${provider}/start?redirect=${encodeURIComponent(options.redirect ?? here.pathname + here.search)}`));
  }

  /** Every sign-in ends here: tokens sign in; `mfaRequired` keeps the step's token for the next call (a refusal keeps the old one). */
  async signInAt(endpoint: string, build: SignInBuilder): Promise<LoginResult> {
    const answer = await this.#post(endpoint, await build(this.#mfaToken, (path, body) => this.#post(path, body)));
    // A second factor is due exactly when the answer carries the step's token (`mfaRequired`).
    this.#mfaToken = answer.mfaToken;
    if (answer.mfaToken) return { mfaRequired: true, factors: answer.factors! };
    this.#hold(snapshotOf(answer), 'login', true);
    return { mfaRequired: false };
  }

  async logout(): Promise<void> {
    await this.#mutex.run(async () => {
      let failure: AuthError | null = null;
      try {
        const response = await this.#fetch(this.#authUrl('logout'), this.#postInit());
        if (!response.ok) failure = await errorFromResponse(response);
      } catch (error) {
        failure = networkError(error);
      }
      // Signed out locally and in every tab even when the server could not be told.
      this.#drop(true);
      if (failure) throw failure;
    });
  }

  async restore(): Promise<boolean> {
    const held = this.#held;
    if (this.#status === 'signed-in' && held && this.#now() < held.refreshAt) return true;
    try {
      await this.#refresh(held?.token ?? null);
      return true;
    } catch (error) {
      if (isTerminal(error)) return false;
      throw error;
    }
  }

  async getAccessToken(): Promise<string | null> {
    try {
      return await this.#tokenForRequest();
    } catch (error) {
      if (isTerminal(error)) return null;
      throw error;
    }
  }

  async fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const request = new Request(input instanceof Request ? input : new URL(input, this.#base), init);
    if (new URL(request.url).origin !== this.#base.origin) {
      throw new AuthError('FORBIDDEN', 'Not the origin of baseUrl.');
    }
    const token = await this.#tokenForRequest();
    const first = await this.#send(request.clone(), token);
    if (first.status !== 401 || (await errorFromResponse(first)).code !== 'TOKEN_EXPIRED') return first;
    // Once, never more: the retry's answer goes to the caller whatever it is.
    const renewed = await this.#refresh(token);
    return this.#send(request, renewed);
  }

  onChange(listener: AuthChangeListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  close(): void {
    this.#closed = true;
    this.#detach();
    this.#channel?.close();
    this.#listeners.clear();
  }

  // ── token state ───────────────────────────────────────────────────────────

  #bufferFor(lifetimeMs: number): number {
    return Math.min(this.#bufferMs, lifetimeMs / 5);
  }

  /** Margin under which a token is treated as expired (it would expire in flight). */
  #skewFor(lifetimeMs: number): number {
    return Math.min(1000, lifetimeMs / 10);
  }

  #usable(held: Held): boolean {
    return this.#now() < held.expiresAt - this.#skewFor(held.lifetimeMs);
  }

  #hold(snapshot: TokenSnapshot, reason: TokenReason, announce: boolean): void {
    const now = this.#now();
    const expiresAt = now + snapshot.remainingMs;
    const buffer = this.#bufferFor(snapshot.lifetimeMs);
    const jitter = this.#random() * (buffer / 2);
    this.#held = { token: snapshot.token, expiresAt, lifetimeMs: snapshot.lifetimeMs, refreshAt: expiresAt - buffer - jitter };
    const was = this.#status;
    this.#status = 'signed-in';
    this.#backoffMs = 0;
    this.#backoffUntil = 0;
    this.#lastError = null;
    if (announce) this.#channel?.announceToken(snapshot, reason);
    this.#emit(reason === 'login' || was !== 'signed-in' ? 'signed-in' : 'refreshed');
  }

  #drop(announce: boolean): void {
    const was = this.#status;
    this.#held = null;
    this.#status = 'signed-out';
    this.#epoch++;
    if (announce) this.#channel?.announceSignedOut();
    if (was === 'signed-in') this.#emit('signed-out');
  }

  #snapshot(): TokenSnapshot | null {
    const held = this.#held;
    if (this.#status !== 'signed-in' || !held) return null;
    const remainingMs = held.expiresAt - this.#now();
    return remainingMs > 0 ? { token: held.token, remainingMs, lifetimeMs: held.lifetimeMs } : null;
  }

  /** A sibling's answer to a query (its broadcast of the same token may have come first). */
  #adopt(snapshot: TokenSnapshot): string {
    if (this.#held?.token !== snapshot.token || this.#status !== 'signed-in') this.#hold(snapshot, 'refresh', false);
    return snapshot.token;
  }

  #fromSibling(snapshot: TokenSnapshot, reason: TokenReason): void {
    if (this.#closed) return;
    const held = this.#held;
    if (held?.token === snapshot.token) return;
    // Two overlapping refreshes (fallback path): keep whichever token lives longer.
    if (reason === 'refresh' && held && this.#status === 'signed-in' && held.expiresAt > this.#now() + snapshot.remainingMs) return;
    this.#hold(snapshot, reason, false);
  }

  #emit(type: AuthChangeType): void {
    const change: AuthChange = { type, signedIn: this.#status === 'signed-in' };
    for (const listener of [...this.#listeners]) {
      try {
        listener(change);
      } catch (error) {
        // A listener's bug must not break the client; surface it like an uncaught error.
        setTimeout(() => {
          throw error;
        });
      }
    }
  }

  // ── refresh ───────────────────────────────────────────────────────────────

  /** The token for a request: refreshes when it is (nearly) expired, or in the background when it is due. */
  async #tokenForRequest(): Promise<string> {
    if (this.#closed || this.#status === 'signed-out') throw notSignedIn();
    const held = this.#held;
    if (held && this.#usable(held)) {
      if (this.#now() >= held.refreshAt && this.#now() >= this.#backoffUntil) {
        this.#refresh(held.token).catch(() => undefined);
      }
      return held.token;
    }
    return this.#refresh(held?.token ?? null);
  }

  /** Single-flight: every caller while one refresh runs gets its result. */
  #refresh(stale: string | null): Promise<string> {
    if (!this.#inflight) {
      this.#inflight = this.#refreshExclusive(stale).finally(() => {
        this.#inflight = null;
      });
    }
    return this.#inflight;
  }

  async #refreshExclusive(stale: string | null): Promise<string> {
    const epoch = this.#epoch;
    if (this.#lastError && this.#now() < this.#backoffUntil) throw this.#lastError;
    return this.#mutex.run(async () => {
      if (this.#epoch !== epoch || this.#closed) throw notSignedIn();
      // Re-check after the wait: a sibling may have refreshed meanwhile and told us…
      const held = this.#held;
      if (held && held.token !== stale && this.#now() < held.refreshAt) return held.token;
      // …or may hold a fresh token its broadcast has not delivered yet.
      const sibling = await this.#channel?.ask((s) => s.token !== stale && s.remainingMs > this.#bufferFor(s.lifetimeMs));
      if (this.#epoch !== epoch || this.#closed) throw notSignedIn();
      if (sibling) return this.#adopt(sibling);
      let snapshot: TokenSnapshot;
      try {
        snapshot = snapshotOf(await this.#post('refresh'));
      } catch (error) {
        if (!isTerminal(error)) {
          this.#backOff(error instanceof AuthError ? error : networkError(error));
          throw error;
        }
        return this.#afterTerminalFailure(stale, epoch, error);
      }
      if (this.#epoch !== epoch || this.#closed) throw notSignedIn();
      this.#hold(snapshot, 'refresh', true);
      return snapshot.token;
    });
  }

  /** A refresh the server refused for good: sign out — unless some tab holds a live session. */
  async #afterTerminalFailure(stale: string | null, epoch: number, error: AuthError): Promise<string> {
    const held = this.#held;
    if (held && held.token !== stale && this.#usable(held)) return held.token;
    const rescue = await this.#channel?.ask((s) => s.token !== stale && s.remainingMs > this.#skewFor(s.lifetimeMs));
    if (rescue && this.#epoch === epoch) return this.#adopt(rescue);
    if (this.#epoch === epoch) this.#drop(true);
    throw error;
  }

  #backOff(error: AuthError): void {
    this.#backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(1000, this.#backoffMs * 2));
    const wait = Math.max(this.#backoffMs, (error.retryAfter ?? 0) * 1000);
    this.#backoffUntil = this.#now() + wait;
    this.#lastError = error;
  }

  // ── HTTP ──────────────────────────────────────────────────────────────────

  #authUrl(endpoint: string): string {
    return new URL(`auth/${endpoint}`, this.#base).href;
  }

  #postInit(body?: unknown): RequestInit {
    const init: RequestInit = { method: 'POST', credentials: 'include' };
    if (body !== undefined) {
      init.headers = { 'content-type': 'application/json' };
      init.body = JSON.stringify(body);
    }
    init.signal = timeoutSignal(this.#timeoutMs) ?? null;
    return init;
  }

  /** POST to `auth/<endpoint>`: the answer's JSON (`{}` when unreadable), or throws `AuthError`. */
  async #post(endpoint: string, body?: unknown): Promise<Answer> {
    let response: Response;
    try {
      response = await this.#fetch(this.#authUrl(endpoint), this.#postInit(body));
    } catch (error) {
      throw networkError(error);
    }
    if (!response.ok) throw await errorFromResponse(response);
    // An unreadable answer is reported by the caller, like any other answer without what it needs.
    return response.json().catch(() => ({}));
  }

  #send(request: Request, token: string): Promise<Response> {
    const headers = new Headers(request.headers);
    headers.set('authorization', `Bearer ${token}`);
    return this.#fetch(new Request(request, { headers }));
  }

  /** Leaving (pagehide) and coming back from the back/forward cache (pageshow). */
  #watchPageLifecycle(): () => void {
    const target = globalThis as { addEventListener?: typeof addEventListener; removeEventListener?: typeof removeEventListener };
    const channel = this.#channel;
    if (!channel || !target.removeEventListener) return () => undefined;
    const hide = (): void => channel.goodbye();
    const show = (event: Event): void => {
      if ((event as PageTransitionEvent).persisted) channel.hello();
    };
    const listen = (method: 'addEventListener' | 'removeEventListener'): void => {
      target[method]!('pagehide', hide);
      target[method]!('pageshow', show);
    };
    listen('addEventListener');
    return () => listen('removeEventListener');
  }
}

/** The tokens of a sign-in or refresh answer; its `expiresIn` starts counting now, on this clock. */
function snapshotOf({ accessToken, expiresIn }: Answer): TokenSnapshot {
  // `* 1000` below makes any positive `expiresIn` a number.
  if (typeof accessToken !== 'string' || !((expiresIn as number) > 0)) {
    throw new AuthError('INTERNAL', 'Bad answer.');
  }
  const ms = (expiresIn as number) * 1000;
  return { token: accessToken, remainingMs: ms, lifetimeMs: ms };
}

/** Creates the client. One per page is the intended use. */
export function createAuthClient(options: AuthClientOptions = {}): AuthClient {
  return new BrowserAuthClient(options);
}
