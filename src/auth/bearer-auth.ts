/**
 * Bearer authentication with this process's key ring: the access-token verifier set up over
 * it, the hot-path check, one re-read of the keys for a `kid` another instance just started
 * signing with, and the live-session check of the routes that need instant revocation.
 */
import { ApiError } from '../errors.js';
import type { Verifier } from '../jwt/index.js';
import type { KeyRing } from '../keys/keyring.js';
import type { Store } from '../store/types.js';
import {
  authenticateAccessToken,
  createAccessTokenVerifier,
  kidOf,
  PUBLIC_KEY_ALGORITHMS,
  type AuthenticateResult,
  type AuthUser,
} from './access-token.js';

export interface BearerAuthOptions {
  store: Store;
  keys: KeyRing;
  issuer: string;
  audience: readonly string[];
  clockTolerance: number;
  verifiedTokenCacheSize: number;
  now: () => number;
}

export class BearerAuth {
  readonly verifier: Verifier;
  readonly #store: Store;
  readonly #keys: KeyRing;
  readonly #now: () => number;

  constructor(options: BearerAuthOptions) {
    const { store, keys, issuer, audience, clockTolerance, verifiedTokenCacheSize, now } = options;
    this.#store = store;
    this.#keys = keys;
    this.#now = now;
    this.verifier = createAccessTokenVerifier({
      algorithms: keys.signingKey.alg === 'HS256' ? ['HS256'] : PUBLIC_KEY_ALGORITHMS,
      keys: keys.resolve,
      issuer,
      audience,
      clockTolerance,
      now,
      verifiedTokenCacheSize,
    });
  }

  /** Verifies an access token. Hot path: no I/O, no exceptions for bad tokens. */
  authenticate(token: string): AuthenticateResult {
    return authenticateAccessToken(this.verifier, token);
  }

  /**
   * {@link authenticate}, plus: a token whose `kid` is not loaded yet (a key another instance
   * just started signing with) makes the key ring re-read the store once, then is checked
   * again. Throws StoreUnavailableError if that re-read fails.
   */
  async authenticateFresh(token: string): Promise<AuthenticateResult> {
    const result = this.authenticate(token);
    if (result.ok || result.reason !== 'JWT_KID_UNKNOWN') return result;
    const kid = kidOf(token);
    if (kid === undefined || !(await this.#keys.ensureKid(kid))) return result;
    return this.authenticate(token);
  }

  /** Whether a session is still live: not revoked, within its idle and absolute lifetimes. */
  async isSessionLive(sessionId: string): Promise<boolean> {
    const session = await this.#store.findSession(sessionId);
    const now = this.#now();
    return !!session && session.revokedAt === null && now < session.idleExpiresAt && now < session.absoluteExpiresAt;
  }

  /** Throws `SESSION_REVOKED` unless the caller's session is live (the routes that change or list sessions). */
  async requireLiveSession(principal: AuthUser): Promise<void> {
    if (!(await this.isSessionLive(principal.sessionId))) throw new ApiError('SESSION_REVOKED');
  }
}
