/**
 * Sign-in with an external identity provider — the policy (docs/oidc.md, docs/security.md
 * "Linking external identities"). The protocol is done by `src/oauth/`; this decides what a
 * confirmed provider account may do here:
 *
 * - an identity already linked signs in to its account;
 * - otherwise the address decides: no account → a new one (no password; its address verified
 *   exactly when the provider says `email_verified: true`); an account → linked only when the
 *   provider asserts the address verified *and* the local address is verified, else 409
 *   `ACCOUNT_EXISTS` and nothing is merged (the owner signs in and links from the account);
 * - a signed-in user links with `start?link=1`: the identity joins that account
 *   (`ACCOUNT_EXISTS` when it belongs to another), no new session;
 * - unlinking never removes the last way to sign in (`LAST_SIGN_IN_METHOD`).
 *
 * An account with a second factor gets the second step, as after a password (`amr` `["fed"]`
 * then `["fed","otp"]`, aal2). A sign-in becomes a session only through `startSession`
 * (`amr: ["fed"]`, `acr: "aal1"`, audit `login_success` with `detail.method` `oidc:<id>` or `github`).
 * Two callbacks racing for one address end on one account: the account and its identity are
 * one insert, and the loser decides again on what the winner wrote.
 */
import { randomUUID } from 'node:crypto';
import { ApiError } from '../errors.js';
import type { IdentityRecord, Store, UserRecord } from '../store/types.js';
import type { AuthUser } from './access-token.js';
import type { Audit, RequestContext } from './audit.js';
import { checkEmail, emailKey } from './email.js';
import type { MfaChallenge } from './mfa.js';
import type { IssuedTokens } from './refresh.js';
import type { SignIn } from './service.js';

/** A provider account, confirmed by the provider (`src/oauth/`). */
export interface FederatedProfile {
  /** The provider's configured id (`google`, `github`). */
  provider: string;
  subject: string;
  email: string | null;
  emailVerified: boolean;
  /** The audit's `detail.method`: `oidc:<id>` or `github`. */
  method: string;
}

/** An identity as its owner sees it (`GET /auth/identities`). */
export interface IdentityView {
  id: string;
  provider: string;
  subject: string;
  email: string | null;
  createdAt: string;
}

export interface FederationOptions {
  store: Store;
  now: () => number;
  audit: Audit;
  allowSignup: boolean;
  requireEmailVerification: boolean;
  startSession: (user: UserRecord, signIn: SignIn, ctx: RequestContext) => Promise<IssuedTokens | undefined>;
  /** The second step an account with a factor owes (`SecondFactors.challenge`). */
  challenge: (user: UserRecord, ctx: RequestContext, amr: readonly string[]) => Promise<MfaChallenge | undefined>;
  isSessionLive: (sessionId: string) => Promise<boolean>;
  requireLiveSession: (principal: AuthUser) => Promise<void>;
}

const view = (identity: IdentityRecord): IdentityView => ({
  id: identity.id,
  provider: identity.provider,
  subject: identity.subject,
  email: identity.email,
  createdAt: new Date(identity.createdAt).toISOString(),
});

export class Federation {
  readonly #o: FederationOptions;

  constructor(options: FederationOptions) {
    this.#o = options;
  }

  /** Signs in with a confirmed provider account: tokens, the second step, or a thrown `ApiError`. */
  async signIn(profile: FederatedProfile, ctx: RequestContext): Promise<IssuedTokens | MfaChallenge> {
    const { store } = this.#o;
    // Two rounds: a round that loses a race (another callback created the account or linked the
    // identity in between) decides again on what it finds.
    for (let round = 0; round < 2; round++) {
      const identity = await store.findIdentity(profile.provider, profile.subject);
      if (identity) {
        const user = await store.findUserById(identity.userId);
        if (user) return this.#session(user, profile, ctx);
        continue; // the account was deleted in between
      }
      if (profile.email === null) return this.#refuse('OAUTH_FAILED', 'no_email', profile, null, ctx);
      // The e-mail rule of registration (look-alike characters, over-long parts) holds here too.
      const checked = checkEmail(profile.email);
      if (!checked.ok) return this.#refuse('OAUTH_FAILED', 'email_refused', profile, null, ctx);
      const { email } = checked;
      const existing = await store.findUserByEmail(email);
      if (existing) {
        if (!profile.emailVerified || existing.emailVerifiedAt === null) {
          return this.#refuse(
            'ACCOUNT_EXISTS',
            profile.emailVerified ? 'local_email_unverified' : 'provider_email_unverified',
            profile,
            existing,
            ctx,
          );
        }
        const linked = await store.linkIdentity(
          { id: randomUUID(), userId: existing.id, provider: profile.provider, subject: profile.subject, email, now: this.#o.now() },
          this.#linkedEvent(existing.id, profile, 'verified_email', ctx),
        );
        if (linked === 'taken') continue;
        return this.#session(existing, profile, ctx);
      }
      if (!this.#o.allowSignup) return this.#refuse('SIGNUP_DISABLED', 'signup_disabled', profile, null, ctx);
      const now = this.#o.now();
      const created = await store.createFederatedUser(
        { id: randomUUID(), email, passwordHash: '', role: 'user', now, emailVerified: profile.emailVerified },
        { id: randomUUID(), provider: profile.provider, subject: profile.subject, email, now },
        { type: 'register', at: now, ip: ctx.ip, detail: { method: profile.method, emailVerified: profile.emailVerified } },
      );
      if (typeof created === 'string') continue;
      return this.#session(created.user, profile, ctx);
    }
    return this.#refuse('ACCOUNT_EXISTS', 'race', profile, null, ctx);
  }

  /**
   * Links a confirmed provider account to the user of a live session (`start?link=1`). No session
   * is created. `ACCOUNT_EXISTS` when the identity belongs to another account; linking it again
   * to its own account is a no-op.
   */
  async link(target: { userId: string; sessionId: string }, profile: FederatedProfile, ctx: RequestContext): Promise<void> {
    const { store } = this.#o;
    if (!(await this.#o.isSessionLive(target.sessionId))) throw new ApiError('SESSION_REVOKED');
    const existing = await store.findIdentity(profile.provider, profile.subject);
    if (existing) {
      if (existing.userId === target.userId) return;
      await this.#refuse('ACCOUNT_EXISTS', 'identity_of_another_account', profile, null, ctx);
    }
    const linked = await store.linkIdentity(
      {
        id: randomUUID(),
        userId: target.userId,
        provider: profile.provider,
        subject: profile.subject,
        email: profile.email === null ? null : emailKey(profile.email),
        now: this.#o.now(),
      },
      { ...this.#linkedEvent(target.userId, profile, 'signed_in', ctx), sessionId: target.sessionId },
    );
    if (linked === 'taken' && (await store.findIdentity(profile.provider, profile.subject))?.userId !== target.userId) {
      await this.#refuse('ACCOUNT_EXISTS', 'identity_of_another_account', profile, null, ctx);
    }
  }

  async list(principal: AuthUser): Promise<IdentityView[]> {
    await this.#o.requireLiveSession(principal);
    return (await this.#o.store.listIdentities(principal.id)).map(view);
  }

  /** 404 for an identity of another user; 409 `LAST_SIGN_IN_METHOD` for the last way to sign in. */
  async unlink(principal: AuthUser, identityId: string, ctx: RequestContext): Promise<void> {
    await this.#o.requireLiveSession(principal);
    const identity = (await this.#o.store.listIdentities(principal.id)).find((i) => i.id === identityId);
    if (!identity) throw new ApiError('NOT_FOUND');
    const outcome = await this.#o.store.unlinkIdentity(principal.id, identityId, {
      type: 'identity_unlinked',
      at: this.#o.now(),
      userId: principal.id,
      sessionId: principal.sessionId,
      ip: ctx.ip,
      detail: { provider: identity.provider },
    });
    if (outcome === 'not_found') throw new ApiError('NOT_FOUND');
    if (outcome === 'last_method') throw new ApiError('LAST_SIGN_IN_METHOD');
  }

  #linkedEvent(userId: string, profile: FederatedProfile, via: 'verified_email' | 'signed_in', ctx: RequestContext) {
    return { type: 'identity_linked', at: this.#o.now(), userId, ip: ctx.ip, detail: { provider: profile.provider, via } };
  }

  async #session(user: UserRecord, profile: FederatedProfile, ctx: RequestContext): Promise<IssuedTokens | MfaChallenge> {
    if (user.disabledAt !== null) return this.#refuse('ACCOUNT_DISABLED', 'account_disabled', profile, user, ctx);
    if (this.#o.requireEmailVerification && user.emailVerifiedAt === null) {
      return this.#refuse('EMAIL_NOT_VERIFIED', 'email_not_verified', profile, user, ctx);
    }
    const challenge = await this.#o.challenge(user, ctx, ['fed']);
    if (challenge) return challenge;
    const tokens = await this.#o.startSession(user, { amr: ['fed'], acr: 'aal1', method: profile.method }, ctx);
    // Every session of the account was ended between the read and the insert: sign in again.
    if (!tokens) return this.#refuse('OAUTH_FAILED', 'credentials_changed', profile, user, ctx);
    return tokens;
  }

  async #refuse(
    code: 'ACCOUNT_EXISTS' | 'OAUTH_FAILED' | 'SIGNUP_DISABLED' | 'EMAIL_NOT_VERIFIED' | 'ACCOUNT_DISABLED',
    reason: string,
    profile: FederatedProfile,
    user: UserRecord | null,
    ctx: RequestContext,
  ): Promise<never> {
    await this.#o.audit({
      type: 'login_failure',
      at: this.#o.now(),
      userId: user?.id ?? null,
      ip: ctx.ip,
      detail: { method: profile.method, reason },
    });
    throw new ApiError(code);
  }
}
