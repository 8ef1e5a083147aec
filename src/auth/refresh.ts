/**
 * A session's tokens: the pair handed out at login and at every refresh, the refresh state
 * machine (a compare-and-swap on the session's counter, and the decision table of
 * docs/architecture.md, "POST /auth/refresh", run by {@link decideRotation} on what the swap
 * found), and logout. Expected failures are results, not exceptions.
 */
import type { ProofVerifier } from '../dpop/proof.js';
import type { ErrorCode } from '../errors.js';
import type { KeyRing } from '../keys/keyring.js';
import type { AuditEventInput, SessionRecord, Store, UserRecord } from '../store/types.js';
import { createAccessTokenIssuer, type AccessTokenSubject } from './access-token.js';
import type { Audit, RequestContext } from './audit.js';
import { checkProof } from './dpop-proofs.js';
import type { RateLimiter } from './rate-limit.js';
import { decodeRefreshToken, encodeRefreshToken } from './refresh-token.js';
import { decideRotation } from './rotation.js';

/** What login and refresh hand back; the edge decides how the refresh token travels. */
export interface IssuedTokens {
  accessToken: string;
  /** `DPoP` when the session is bound to a DPoP key (the token carries `cnf.jkt`). */
  tokenType: 'Bearer' | 'DPoP';
  /** Seconds until the access token expires. */
  expiresIn: number;
  refreshToken: string;
  /** Epoch ms when the refresh token stops working (idle or absolute limit, whichever is first). */
  refreshExpiresAt: number;
  sessionId: string;
  userId: string;
}

export type RefreshFailure = Extract<ErrorCode, 'INVALID_REFRESH_TOKEN' | 'REFRESH_TOKEN_REUSED' | 'SESSION_EXPIRED' | 'INVALID_DPOP_PROOF'>;
export type RefreshResult = { ok: true; tokens: IssuedTokens; rotated: boolean } | { ok: false; code: RefreshFailure };

export interface SessionTokensOptions {
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
  /** Seconds the previous refresh token is still accepted after a rotation; 0 disables. */
  refreshGrace: number;
  rateLimiter: RateLimiter | undefined;
  now: () => number;
  audit: Audit;
  /** Observes the events the store audits itself (the rotation's row is written with the swap). */
  onEvent: ((event: AuditEventInput) => void) | undefined;
  /** Checks the DPoP proofs of refresh and logout (docs/dpop.md#bound-sessions). */
  verifyProof: ProofVerifier;
  /** The embedder's custom claims of an account (`./custom-claims.ts`), if any. */
  claims?: ((user: UserRecord) => Promise<Record<string, unknown>>) | undefined;
}

/** Reads of a session that lost a compare-and-swap; two are enough, three bound a pathological loop. */
const MAX_ROTATION_ATTEMPTS = 3;

/** When a session's refresh token stops working: its idle or its absolute limit, whichever is first. */
export function sessionExpiresAt(session: SessionRecord): number {
  return Math.min(session.idleExpiresAt, session.absoluteExpiresAt);
}

export class SessionTokens {
  readonly #o: SessionTokensOptions;
  readonly #signAccessToken: (subject: AccessTokenSubject) => string;

  constructor(options: SessionTokensOptions) {
    this.#o = options;
    const { keys, issuer, audience, accessTokenTtl, now } = options;
    this.#signAccessToken = createAccessTokenIssuer({ signingKey: () => keys.signingKey, issuer, audience, ttl: accessTokenTtl, now });
  }

  /** The access token (with the account's custom claims, read now) and the refresh token of the session's current counter. */
  async issue(user: UserRecord, session: SessionRecord, extra?: Record<string, unknown>): Promise<IssuedTokens> {
    extra ??= await this.claimsOf(user);
    return {
      accessToken: this.#signAccessToken({
        extra,
        userId: user.id,
        role: user.role,
        sessionId: session.id,
        jkt: session.dpopJkt,
        authentication: { amr: session.amr, acr: session.acr, authTime: session.authTime },
      }),
      tokenType: session.dpopJkt ? 'DPoP' : 'Bearer',
      expiresIn: this.#o.accessTokenTtl,
      refreshToken: encodeRefreshToken(this.#o.refreshMacKey, { sessionId: session.id, counter: session.counter }),
      refreshExpiresAt: sessionExpiresAt(session),
      sessionId: session.id,
      userId: user.id,
    };
  }

  /** The account's custom claims (`undefined` without a claims function); throws `CLAIMS_INVALID`. */
  async claimsOf(user: UserRecord): Promise<Record<string, unknown> | undefined> {
    return this.#o.claims ? this.#o.claims(user) : undefined;
  }

  async refresh(refreshToken: unknown, ctx: RequestContext): Promise<RefreshResult> {
    const { store, refreshGrace, refreshTokenTtl, rateLimiter } = this.#o;
    const claims = decodeRefreshToken(this.#o.refreshMacKey, refreshToken);
    if (!claims) {
      await rateLimiter?.invalidRefresh(ctx.ip);
      return { ok: false, code: 'INVALID_REFRESH_TOKEN' };
    }
    await rateLimiter?.beforeRefresh(claims.sessionId, ctx.ip);
    // A proof, when sent, must be valid whatever the session. Its key goes into the swap: a
    // session bound to another key (or bound, and no proof came) is not rotated — the row
    // comes back and is refused below, before the decision table, so a stolen token replayed
    // without the key revokes nothing (the legitimate client keeps its session).
    const proof = await checkProof(this.#o.verifyProof, ctx.dpop);
    if (proof && !proof.ok) return this.#dpopRefused('refresh', claims.sessionId, null, ctx, proof.reason);
    const proofJkt = proof?.jkt ?? null;
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
        proofJkt,
        audit: { type: 'refresh', ip: ctx.ip },
      });
    let now = this.#o.now();
    let attempt = await rotate(claims.counter, now);
    for (let round = 1; !attempt.ok; round++) {
      const found = attempt.found;
      if (!found || round > MAX_ROTATION_ATTEMPTS) return { ok: false, code: 'INVALID_REFRESH_TOKEN' };
      const { session, user } = found;
      if (session.dpopJkt !== null && session.dpopJkt !== proofJkt) {
        return this.#dpopRefused('refresh', session.id, session.userId, ctx, proofJkt === null ? 'DPOP_MISSING' : 'DPOP_KEY_MISMATCH');
      }
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
      if (decision.action === 'reissue') return { ok: true, rotated: false, tokens: await this.issue(user, session) };

      // A spent token outside the grace window: someone holds a copy. Kill the lineage.
      const revoked = await store.revokeSession(session.id, 'reuse', now);
      if (revoked) {
        await this.#o.audit({
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
    return { ok: true, rotated: true, tokens: await this.issue(attempt.user, attempt.session) };
  }

  /**
   * The live session of a refresh token that would refresh now (the current token, or the
   * previous one inside the grace window), without rotating anything; `undefined` otherwise.
   */
  async liveSessionOf(refreshToken: unknown): Promise<SessionRecord | undefined> {
    const claims = decodeRefreshToken(this.#o.refreshMacKey, refreshToken);
    if (!claims) return undefined;
    const session = await this.#o.store.findSession(claims.sessionId);
    if (!session) return undefined;
    const decision = decideRotation(session, claims.counter, this.#o.now(), this.#o.refreshGrace * 1000);
    return decision.action === 'retry' || decision.action === 'reissue' ? session : undefined;
  }

  /**
   * Revokes the session of any authentic refresh token, spent or current. Silent for junk. A
   * bound session needs a proof by its key, else `INVALID_DPOP_PROOF` and nothing is revoked.
   */
  async logout(refreshToken: unknown, ctx: RequestContext): Promise<{ ok: true } | { ok: false; code: 'INVALID_DPOP_PROOF' }> {
    const claims = decodeRefreshToken(this.#o.refreshMacKey, refreshToken);
    if (!claims) return { ok: true };
    const session = await this.#o.store.findSession(claims.sessionId);
    const bound = session?.dpopJkt ?? null;
    const proof = await checkProof(this.#o.verifyProof, ctx.dpop, bound);
    if ((proof && !proof.ok) || (bound !== null && !proof)) {
      return this.#dpopRefused('logout', claims.sessionId, session?.userId ?? null, ctx, proof && !proof.ok ? proof.reason : 'DPOP_MISSING');
    }
    const now = this.#o.now();
    if (await this.#o.store.revokeSession(claims.sessionId, 'logout', now)) {
      await this.#o.audit({ type: 'logout', at: now, sessionId: claims.sessionId, ip: ctx.ip });
    }
    return { ok: true };
  }

  /** A refresh or logout refused for its DPoP proof: audited `dpop_mismatch` (the reason, never the proof); nothing revoked. */
  async #dpopRefused(
    action: 'refresh' | 'logout',
    sessionId: string,
    userId: string | null,
    ctx: RequestContext,
    reason: string,
  ): Promise<{ ok: false; code: 'INVALID_DPOP_PROOF' }> {
    await this.#o.audit({ type: 'dpop_mismatch', at: this.#o.now(), userId, sessionId, ip: ctx.ip, detail: { action, reason } });
    return { ok: false, code: 'INVALID_DPOP_PROOF' };
  }
}
