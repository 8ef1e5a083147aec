/**
 * The authentication flow — the only place that decides who may do what.
 *
 * Edges (the Fastify server, the Express/Fastify adapters, the CLI) translate requests
 * into calls here and results into answers; they hold no policy. Failures the caller
 * must report are thrown as {@link ApiError} with a contract code, except on the two hot
 * paths, {@link AuthService.refresh} and {@link AuthService.authenticate}, which return
 * results: an expired or spent token is an expected outcome, not an exception.
 */
import { randomUUID } from 'node:crypto';
import { ApiError, type ErrorCode } from '../errors.js';
import type { Store, SessionRecord, UserRecord, AuditEventInput } from '../store/types.js';
import type { KeyRing } from '../keys/keyring.js';
import type { Verifier } from '../jwt/index.js';
import {
  authenticateAccessToken,
  createAccessTokenIssuer,
  createAccessTokenVerifier,
  DEFAULT_CLOCK_TOLERANCE,
  DEFAULT_VERIFIED_TOKEN_CACHE_SIZE,
  kidOf,
  PUBLIC_KEY_ALGORITHMS,
  type AccessTokenSubject,
  type AuthenticateResult,
  type AuthUser,
} from './access-token.js';
import {
  assertPasswordPolicy,
  dummyVerify,
  hashPassword,
  isPasswordLengthInvalid,
  needsRehash,
  normalizePassword,
  verifyPassword,
  type PasswordRule,
} from './passwords.js';
import { decodeRefreshToken, encodeRefreshToken } from './refresh-token.js';
import { RateLimiter, type RateLimiterOptions } from './rate-limit.js';
import { decideRotation } from './rotation.js';

export interface AuthServiceOptions {
  store: Store;
  keys: KeyRing;
  /** HMAC key of refresh tokens, derived from the master secret. */
  refreshMacKey: Buffer;
  issuer: string;
  audience: readonly string[];
  /** Seconds. */
  accessTokenTtl: number;
  /** Seconds a refresh token stays usable without use. */
  refreshTokenTtl: number;
  /** Absolute session lifetime in seconds. */
  sessionMaxAge: number;
  /** Seconds the previous refresh token is still accepted after a rotation; 0 disables. */
  refreshGrace: number;
  allowSignup: boolean;
  /** Seconds of clock skew tolerated when verifying access tokens (≤ 60). */
  clockTolerance?: number;
  /**
   * Access tokens kept verified in memory (a repeated token skips the signature check; its
   * expiry and key are re-checked on every use; ~1 KB each). Default 10,000; 0 turns it off.
   */
  verifiedTokenCacheSize?: number;
  passwordRules?: readonly PasswordRule[];
  /** Rate limits (`auth/rate-limit.ts`); none when absent. Trips are audited as `rate_limited`. */
  rateLimits?: Omit<RateLimiterOptions, 'onTrip'> | undefined;
  now?: () => number;
  /** Observes every audited event (metrics, logs). Must not throw. */
  onEvent?: (event: AuditEventInput) => void;
}

/** Who is making the request, as far as the edge can tell. */
export interface RequestContext {
  ip: string | null;
  userAgent: string | null;
}

export interface PublicUser {
  id: string;
  email: string;
  role: string;
}

/** What login and refresh hand back; the edge decides how the refresh token travels. */
export interface IssuedTokens {
  accessToken: string;
  tokenType: 'Bearer';
  /** Seconds until the access token expires. */
  expiresIn: number;
  refreshToken: string;
  /** Epoch ms when the refresh token stops working (idle or absolute limit, whichever is first). */
  refreshExpiresAt: number;
  sessionId: string;
  userId: string;
}

export type RefreshFailure = Extract<ErrorCode, 'INVALID_REFRESH_TOKEN' | 'REFRESH_TOKEN_REUSED' | 'SESSION_EXPIRED'>;
export type RefreshResult = { ok: true; tokens: IssuedTokens; rotated: boolean } | { ok: false; code: RefreshFailure };

export type { AuthenticateResult } from './access-token.js';
/** The authenticated caller of a bearer-protected request: the adapters' `AuthUser` (one type, two names kept for compatibility). */
export type Principal = AuthUser;

export interface SessionView {
  id: string;
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string;
  userAgent: string | null;
  ip: string | null;
  current: boolean;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const MAX_EMAIL_LENGTH = 254;
/** Reads of a session that lost a compare-and-swap; two are enough, three bound a pathological loop. */
const MAX_ROTATION_ATTEMPTS = 3;

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

function toPublicUser(user: UserRecord): PublicUser {
  return { id: user.id, email: user.email, role: user.role };
}

export class AuthService {
  readonly verifier: Verifier;
  readonly #o: Required<Omit<AuthServiceOptions, 'onEvent' | 'rateLimits'>> & Pick<AuthServiceOptions, 'onEvent'>;
  /** The rate-limit policy in force, if any. */
  readonly rateLimiter: RateLimiter | undefined;
  readonly #signAccessToken: (subject: AccessTokenSubject) => string;

  constructor(options: AuthServiceOptions) {
    const { rateLimits, ...rest } = options;
    this.#o = {
      clockTolerance: DEFAULT_CLOCK_TOLERANCE,
      passwordRules: [],
      now: Date.now,
      verifiedTokenCacheSize: DEFAULT_VERIFIED_TOKEN_CACHE_SIZE,
      ...rest,
    };
    this.rateLimiter = rateLimits
      ? new RateLimiter({
          ...rateLimits,
          onTrip: ({ scope, ip, account, sessionId, limit, windowSeconds }) =>
            this.#audit({
              type: 'rate_limited',
              at: this.#o.now(),
              ip,
              sessionId: sessionId ?? null,
              detail: { scope, limit, windowSeconds, ...(account ? { account } : {}) },
            }).catch(() => undefined),
        })
      : undefined;
    const { keys, issuer, audience, clockTolerance, now, verifiedTokenCacheSize, accessTokenTtl } = this.#o;
    this.verifier = createAccessTokenVerifier({
      algorithms: keys.signingKey.alg === 'HS256' ? ['HS256'] : PUBLIC_KEY_ALGORITHMS,
      keys: keys.resolve,
      issuer,
      audience,
      clockTolerance,
      now,
      verifiedTokenCacheSize,
    });
    this.#signAccessToken = createAccessTokenIssuer({ signingKey: () => keys.signingKey, issuer, audience, ttl: accessTokenTtl, now });
  }

  // ── accounts ──────────────────────────────────────────────────────────────

  async register(email: string, password: string, ctx: RequestContext): Promise<PublicUser> {
    if (!this.#o.allowSignup) throw new ApiError('SIGNUP_DISABLED');
    await this.rateLimiter?.beforeRegister(ctx.ip);
    const normalizedEmail = this.#validEmail(email);
    const normalizedPassword = assertPasswordPolicy(password, this.#o.passwordRules);
    const now = this.#o.now();
    const user = await this.#o.store.createUser({
      id: randomUUID(),
      email: normalizedEmail,
      passwordHash: await hashPassword(normalizedPassword),
      role: 'user',
      now,
    });
    await this.#audit({ type: 'register', at: now, userId: user.id, ip: ctx.ip });
    return toPublicUser(user);
  }

  /** Creates a user without the sign-up switch (admin CLI). */
  async createUser(email: string, password: string, role = 'user'): Promise<PublicUser> {
    const normalizedPassword = assertPasswordPolicy(password, this.#o.passwordRules);
    const user = await this.#o.store.createUser({
      id: randomUUID(),
      email: this.#validEmail(email),
      passwordHash: await hashPassword(normalizedPassword),
      role,
      now: this.#o.now(),
    });
    return toPublicUser(user);
  }

  async login(email: string, password: string, ctx: RequestContext): Promise<IssuedTokens> {
    const normalizedEmail = normalizeEmail(email);
    const normalizedPassword = normalizePassword(password);
    // Counted before anything else; over a limit, the password is never checked.
    const ticket = await this.rateLimiter?.beforeLogin(normalizedEmail, ctx.ip);
    // Out-of-policy lengths can never match: answer without hashing (docs/http-api.md#passwords-and-e-mail-addresses).
    if (isPasswordLengthInvalid(normalizedPassword)) return this.#loginFailed(normalizedEmail, undefined, ctx);
    const user = await this.#o.store.findUserByEmail(normalizedEmail);
    if (!user) {
      await dummyVerify(normalizedPassword);
      return this.#loginFailed(normalizedEmail, undefined, ctx);
    }
    if (!(await verifyPassword(user.passwordHash, normalizedPassword))) return this.#loginFailed(normalizedEmail, user, ctx);
    const now = this.#o.now();
    if (needsRehash(user.passwordHash)) {
      await this.#o.store.updatePasswordHash(user.id, user.credentialGeneration, await hashPassword(normalizedPassword), now);
    }
    // Granted on the credentials read above: if the password changed or every session was ended
    // since (a race with POST /auth/password or /auth/logout-all), the store inserts nothing.
    // The session and its audit row are written in one transaction.
    const session = await this.#o.store.createSession(
      {
        id: randomUUID(),
        userId: user.id,
        credentialGeneration: user.credentialGeneration,
        now,
        idleExpiresAt: now + this.#o.refreshTokenTtl * 1000,
        absoluteExpiresAt: now + this.#o.sessionMaxAge * 1000,
        userAgent: ctx.userAgent?.slice(0, 512) ?? null,
        ip: ctx.ip,
      },
      { type: 'login_success', ip: ctx.ip },
    );
    if (!session) return this.#loginFailed(normalizedEmail, user, ctx, 'credentials_changed');
    if (ticket) await this.rateLimiter?.loginSucceeded(ticket);
    this.#o.onEvent?.({ type: 'login_success', at: now, userId: user.id, sessionId: session.id, ip: ctx.ip });
    return this.#issue(user, session);
  }

  async #loginFailed(email: string, user: UserRecord | undefined, ctx: RequestContext, reason?: 'credentials_changed'): Promise<never> {
    await this.#audit({
      type: 'login_failure',
      at: this.#o.now(),
      userId: user?.id ?? null,
      ip: ctx.ip,
      detail: { reason: reason ?? (user ? 'wrong_password' : 'unknown_user'), emailDomain: email.split('@')[1] ?? null },
    });
    throw new ApiError('INVALID_CREDENTIALS');
  }

  // ── refresh: the rotation decision table (docs/architecture.md) ──────────

  async refresh(refreshToken: unknown, ctx: RequestContext): Promise<RefreshResult> {
    const claims = decodeRefreshToken(this.#o.refreshMacKey, refreshToken);
    if (!claims) {
      await this.rateLimiter?.invalidRefresh(ctx.ip);
      return { ok: false, code: 'INVALID_REFRESH_TOKEN' };
    }
    await this.rateLimiter?.beforeRefresh(claims.sessionId, ctx.ip);
    const { store, refreshGrace, refreshTokenTtl } = this.#o;
    // The usual case in one store call: the token is the session's newest, so try the
    // compare-and-swap at its counter straight away. The swap, its audit row and the read of
    // the session's user are one transaction; once it has committed, nothing but answering
    // remains (a database outage right then cannot strand the caller with a spent token,
    // except within the grace window, which covers it). When nothing was written, the store
    // hands back the row as it is, and the decision table below runs on it.
    const rotate = (expectedCounter: number, now: number) =>
      store.rotateSession({
        id: claims.sessionId,
        expectedCounter,
        now,
        idleExpiresAt: now + refreshTokenTtl * 1000,
        audit: { type: 'refresh', ip: ctx.ip },
      });
    let now = this.#o.now();
    let attempt = await rotate(claims.counter, now);
    for (let round = 1; !attempt.ok; round++) {
      const found = attempt.found;
      if (!found || round > MAX_ROTATION_ATTEMPTS) return { ok: false, code: 'INVALID_REFRESH_TOKEN' };
      const { session, user } = found;
      const decision = decideRotation(session, claims.counter, now, refreshGrace * 1000);
      if (decision.action === 'refuse') return { ok: false, code: decision.code };
      if (decision.action === 'retry') {
        // Lost a race (the row moved and came back, or was read before a concurrent commit
        // landed): decide again on a fresh swap.
        now = this.#o.now();
        attempt = await rotate(session.counter, now);
        continue;
      }
      // Idempotent: hand out the session's current token, no second rotation.
      if (decision.action === 'reissue') return { ok: true, rotated: false, tokens: this.#issue(user, session) };

      // A spent token outside the grace window: someone holds a copy. Kill the lineage.
      const revoked = await store.revokeSession(session.id, 'reuse', now);
      if (revoked) {
        await this.#audit({
          type: 'refresh_reuse_detected',
          at: now,
          userId: session.userId,
          sessionId: session.id,
          ip: ctx.ip,
          detail: { presented: claims.counter, current: session.counter },
        });
        return { ok: false, code: 'REFRESH_TOKEN_REUSED' };
      }
      const current = await store.findSessionWithUser(session.id);
      attempt = { ok: false, found: current };
    }
    this.#o.onEvent?.({ type: 'refresh', at: now, userId: attempt.user.id, sessionId: attempt.session.id, ip: ctx.ip });
    return { ok: true, rotated: true, tokens: this.#issue(attempt.user, attempt.session) };
  }

  /** Revokes the session of any authentic refresh token, spent or current. Silent for junk. */
  async logout(refreshToken: unknown, ctx: RequestContext): Promise<void> {
    const claims = decodeRefreshToken(this.#o.refreshMacKey, refreshToken);
    if (!claims) return;
    const now = this.#o.now();
    if (await this.#o.store.revokeSession(claims.sessionId, 'logout', now)) {
      await this.#audit({ type: 'logout', at: now, sessionId: claims.sessionId, ip: ctx.ip });
    }
  }

  // ── bearer-authenticated operations ──────────────────────────────────────

  /** Verifies an access token. Hot path: no I/O, no exceptions for bad tokens. */
  authenticate(token: string): AuthenticateResult {
    return authenticateAccessToken(this.verifier, token);
  }

  /**
   * {@link authenticate}, plus: a token whose `kid` is not loaded yet (a key another instance
   * just started signing with) makes the key ring re-read the store once, then is checked
   * again. What the HTTP edges call. Throws StoreUnavailableError if that re-read fails.
   */
  async authenticateFresh(token: string): Promise<AuthenticateResult> {
    const result = this.authenticate(token);
    if (result.ok || result.reason !== 'JWT_KID_UNKNOWN') return result;
    const kid = kidOf(token);
    if (kid === undefined || !(await this.#o.keys.ensureKid(kid))) return result;
    return this.authenticate(token);
  }

  /** Whether the session behind an access token is still live (for instant revocation). */
  async isSessionLive(sessionId: string): Promise<boolean> {
    const session = await this.#o.store.findSession(sessionId);
    const now = this.#o.now();
    return !!session && session.revokedAt === null && now < session.idleExpiresAt && now < session.absoluteExpiresAt;
  }

  async me(principal: Principal): Promise<PublicUser> {
    const user = await this.#o.store.findUserById(principal.id);
    if (!user) throw new ApiError('INVALID_TOKEN');
    return toPublicUser(user);
  }

  async logoutAll(principal: Principal, ctx: RequestContext): Promise<number> {
    await this.#requireLiveSession(principal);
    const now = this.#o.now();
    const count = await this.#o.store.revokeUserSessions(principal.id, 'logout_all', now);
    await this.#audit({ type: 'logout_all', at: now, userId: principal.id, sessionId: principal.sessionId, ip: ctx.ip, detail: { count } });
    return count;
  }

  async listSessions(principal: Principal): Promise<SessionView[]> {
    await this.#requireLiveSession(principal);
    const sessions = await this.#o.store.listActiveSessions(principal.id, this.#o.now());
    return sessions.map((s) => ({
      id: s.id,
      createdAt: new Date(s.createdAt).toISOString(),
      lastUsedAt: new Date(s.lastUsedAt).toISOString(),
      expiresAt: new Date(this.#sessionExpiresAt(s)).toISOString(),
      userAgent: s.userAgent,
      ip: s.ip,
      current: s.id === principal.sessionId,
    }));
  }

  async revokeSession(principal: Principal, sessionId: string, ctx: RequestContext): Promise<void> {
    await this.#requireLiveSession(principal);
    const session = await this.#o.store.findSession(sessionId);
    // Another user's session is indistinguishable from a missing one.
    if (!session || session.userId !== principal.id || session.revokedAt !== null) throw new ApiError('NOT_FOUND', 'No such session.');
    const now = this.#o.now();
    if (!(await this.#o.store.revokeSession(sessionId, 'revoked', now))) throw new ApiError('NOT_FOUND', 'No such session.');
    await this.#audit({ type: 'session_revoked', at: now, userId: principal.id, sessionId, ip: ctx.ip });
  }

  async changePassword(principal: Principal, currentPassword: string, newPassword: string, ctx: RequestContext): Promise<void> {
    await this.#requireLiveSession(principal);
    const user = await this.#o.store.findUserById(principal.id);
    if (!user) throw new ApiError('INVALID_TOKEN');
    const current = normalizePassword(currentPassword);
    // Guessing the current password with a stolen access token is a login attempt: same budgets.
    const ticket = await this.rateLimiter?.beforeLogin(user.email, ctx.ip);
    if (isPasswordLengthInvalid(current) || !(await verifyPassword(user.passwordHash, current))) {
      throw new ApiError('INVALID_CREDENTIALS', 'The current password is not correct.');
    }
    if (ticket) await this.rateLimiter?.loginSucceeded(ticket);
    const next = assertPasswordPolicy(newPassword, this.#o.passwordRules);
    const now = this.#o.now();
    const revoked = await this.#o.store.changePassword(user.id, await hashPassword(next), principal.sessionId, now);
    await this.#audit({
      type: 'password_change',
      at: now,
      userId: user.id,
      sessionId: principal.sessionId,
      ip: ctx.ip,
      detail: { revokedSessions: revoked },
    });
  }

  /** Revokes every session of a user (admin CLI). */
  async revokeAllSessionsOf(email: string): Promise<number> {
    const user = await this.#o.store.findUserByEmail(normalizeEmail(email));
    if (!user) throw new ApiError('NOT_FOUND', 'No such user.');
    const now = this.#o.now();
    const count = await this.#o.store.revokeUserSessions(user.id, 'admin', now);
    await this.#audit({ type: 'sessions_revoked_by_admin', at: now, userId: user.id, detail: { count } });
    return count;
  }

  // ── internals ────────────────────────────────────────────────────────────

  #issue(user: UserRecord, session: SessionRecord): IssuedTokens {
    const accessToken = this.#signAccessToken({ userId: user.id, role: user.role, sessionId: session.id });
    return {
      accessToken,
      tokenType: 'Bearer',
      expiresIn: this.#o.accessTokenTtl,
      refreshToken: encodeRefreshToken(this.#o.refreshMacKey, { sessionId: session.id, counter: session.counter }),
      refreshExpiresAt: this.#sessionExpiresAt(session),
      sessionId: session.id,
      userId: user.id,
    };
  }

  #sessionExpiresAt(session: SessionRecord): number {
    return Math.min(session.idleExpiresAt, session.absoluteExpiresAt);
  }

  async #requireLiveSession(principal: Principal): Promise<void> {
    if (!(await this.isSessionLive(principal.sessionId))) throw new ApiError('SESSION_REVOKED');
  }

  #validEmail(email: string): string {
    const normalized = normalizeEmail(email);
    if (normalized.length > MAX_EMAIL_LENGTH || !EMAIL.test(normalized)) {
      throw new ApiError('VALIDATION_FAILED', 'A valid e-mail address is required.');
    }
    return normalized;
  }

  async #audit(event: AuditEventInput): Promise<void> {
    await this.#o.store.appendAudit(event);
    this.#o.onEvent?.(event);
  }
}
