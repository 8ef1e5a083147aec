/**
 * The authentication flow — the only place that decides who may do what.
 *
 * Edges (the Fastify server, the Express/Fastify adapters, the CLI) translate requests
 * into calls here and results into answers; they hold no policy. Failures the caller
 * must report are thrown as {@link ApiError} with a contract code, except on the two hot
 * paths, {@link AuthService.refresh} and {@link AuthService.authenticate}, which return
 * results: an expired or spent token is an expected outcome, not an exception.
 *
 * This file holds the accounts (register, login, password change, the admin's operations) and
 * puts the service together from the parts with one job each: `refresh.ts` (a session's
 * tokens and the refresh state machine), `bearer-auth.ts` (access tokens checked with the key
 * ring), `sessions.ts` (a user's sessions) and `access-token.ts` (the token itself, shared
 * with `requireAuth`).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { ApiError } from '../errors.js';
import { emailKey, requireEmail } from './email.js';
import type { Store, UserRecord, AuditEventInput } from '../store/types.js';
import type { KeyRing } from '../keys/keyring.js';
import type { Verifier } from '../jwt/index.js';
import { DEFAULT_CLOCK_TOLERANCE, DEFAULT_VERIFIED_TOKEN_CACHE_SIZE, type AuthenticateResult, type AuthUser } from './access-token.js';
import { auditTo, type Audit, type RequestContext } from './audit.js';
import { BearerAuth } from './bearer-auth.js';
import { SessionTokens, type IssuedTokens, type RefreshResult } from './refresh.js';
import { SessionViews, type SessionView } from './sessions.js';
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
import { RateLimiter, type RateLimiterOptions } from './rate-limit.js';
import { createProofVerifier, type ProofVerifier } from '../dpop/proof.js';
import { MemoryReplayCache, type ReplayCache } from '../dpop/replay.js';
import type { DpopNonces } from '../dpop/nonce.js';
import { checkProof, throwIfNotRefusal, type DpopRequest } from './dpop-proofs.js';
import { SecondFactors, type FactorView, type MfaChallenge, type TotpEnrollment } from './mfa.js';
import { Passkeys, type PasskeyView } from './passkeys.js';
import type { PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { Administration } from './admin.js';
import { Federation, type FederatedProfile, type IdentityView } from './federation.js';

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
  /** The mails that account events send (`./email-flows.ts`); none when absent. */
  accountMail?: AccountMail | undefined;
  /**
   * Unverified accounts cannot sign in (403 `EMAIL_NOT_VERIFIED`, after the password check), and
   * registering a taken address answers like a new one while its owner gets a mail.
   */
  requireEmailVerification?: boolean;
  /**
   * Remembers the DPoP proofs used at login, refresh and logout (docs/dpop.md#replay-cache).
   * Default: in memory (one process); share a Redis one between instances.
   */
  dpopReplayCache?: ReplayCache | undefined;
  /** `LATCHKEY_DPOP`: `optional` (default) binds logins that send a proof, `required` refuses the others, `off` ignores proofs at login. */
  dpop?: 'off' | 'optional' | 'required';
  /**
   * `LATCHKEY_DPOP_NONCE`: when given, every proof at the auth endpoints must carry one of its
   * current nonces, else 401 `USE_DPOP_NONCE` (docs/dpop.md#server-nonces). Default: none.
   */
  dpopNonces?: DpopNonces | undefined;
  /** AES-256-GCM key sealing TOTP secrets (`deriveKeys().mfaSeal`). Default: a random key of this process (tests). */
  mfaSealKey?: Buffer;
  /** HMAC key of recovery codes and mfa tokens (`deriveKeys().mfaMac`). Default: a random key of this process (tests). */
  mfaMacKey?: Buffer;
  /** The embedder's custom claims of an account, checked (`./custom-claims.ts`); added to every access token. */
  claims?: ((user: UserRecord) => Promise<Record<string, unknown>>) | undefined;
  /**
   * Passkeys (docs/mfa.md#passkeys): the relying-party id (`LATCHKEY_WEBAUTHN_RP_ID`) and the
   * origins assertions may come from besides the issuer's (`LATCHKEY_ALLOWED_ORIGINS`; read at
   * each ceremony, so an origin added to the list later counts). Default: the issuer's host, no other origin.
   */
  webauthn?: { rpId: string; allowedOrigins: readonly string[] };
}

/** How a sign-in authenticated the user: what {@link AuthService.startSession} records in the session. */
export interface SignIn {
  /** RFC 8176 method values: `pwd`, `otp`, `hwk`, `swk`, `fed`, `mfa`. */
  amr: readonly string[];
  /** `aal1` or `aal2`: `aal2` only when two factors (or a user-verified passkey) were checked. */
  acr: 'aal1' | 'aal2';
  /** The audit row's `detail.method`: `password`, `totp`, `recovery_code`, `passkey`, `oidc:<id>`, … (never a secret). */
  method: string;
  /** When the last factor completed (ms). Default: now. */
  authTime?: number;
  /** The user's credential generation read with the credentials that were checked. Default: `user.credentialGeneration`. */
  credentialGeneration?: number;
  /** The RFC 7638 thumbprint of the DPoP key the sign-in request proved: the session is bound to it. */
  dpopJkt?: string | null;
}

/** What account events tell the mail side (implemented by `EmailFlows`). */
export interface AccountMail {
  sendVerification(user: UserRecord, ctx: { ip: string | null }): Promise<void>;
  registrationAttempted(user: UserRecord, ctx: { ip: string | null }): Promise<void>;
  passwordChanged(user: UserRecord): Promise<void>;
}

export type { AuthenticateResult } from './access-token.js';
export type { RequestContext } from './audit.js';
export type { IssuedTokens, RefreshFailure, RefreshResult } from './refresh.js';
export type { SessionView } from './sessions.js';
export type { FactorView, MfaChallenge, TotpEnrollment } from './mfa.js';
export type { PasskeyView } from './passkeys.js';
export type { FederatedProfile, IdentityView } from './federation.js';

export interface PublicUser {
  id: string;
  email: string;
  role: string;
  /** Whether the address was proven by a link sent to it. */
  emailVerified: boolean;
}

/** The authenticated caller of a bearer-protected request: the adapters' `AuthUser` (one type, two names kept for compatibility). */
export type Principal = AuthUser;

export function toPublicUser(user: UserRecord): PublicUser {
  return { id: user.id, email: user.email, role: user.role, emailVerified: user.emailVerifiedAt !== null };
}

export class AuthService {
  readonly verifier: Verifier;
  readonly #o: Required<
    Omit<
      AuthServiceOptions,
      'onEvent' | 'rateLimits' | 'accountMail' | 'dpopReplayCache' | 'dpopNonces' | 'mfaSealKey' | 'mfaMacKey' | 'webauthn' | 'claims'
    >
  > &
    Pick<AuthServiceOptions, 'onEvent' | 'accountMail' | 'claims'>;
  readonly #verifyProof: ProofVerifier;
  /** The server nonces proofs at the auth endpoints must carry; `undefined`: nonces are off. */
  readonly dpopNonces: DpopNonces | undefined;
  /** The rate-limit policy in force, if any. */
  readonly rateLimiter: RateLimiter | undefined;
  readonly #bearer: BearerAuth;
  readonly #tokens: SessionTokens;
  readonly #sessions: SessionViews;
  readonly #auditTo: Audit;
  readonly #factors: SecondFactors;
  readonly #passkeys: Passkeys;
  /** What admins may do to accounts (`./admin.ts`): the `/admin` API, the admin page and the CLI. */
  readonly admin: Administration;
  readonly #federation: Federation;

  constructor(options: AuthServiceOptions) {
    const { rateLimits, dpopReplayCache, dpopNonces, mfaSealKey, mfaMacKey, webauthn, ...rest } = options;
    this.#o = {
      clockTolerance: DEFAULT_CLOCK_TOLERANCE,
      passwordRules: [],
      now: Date.now,
      verifiedTokenCacheSize: DEFAULT_VERIFIED_TOKEN_CACHE_SIZE,
      requireEmailVerification: false,
      dpop: 'optional',
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
    const { store, now } = this.#o;
    this.dpopNonces = dpopNonces;
    this.#verifyProof = createProofVerifier({ replayCache: dpopReplayCache ?? new MemoryReplayCache({ now }), nonces: dpopNonces, now });
    this.#auditTo = auditTo(store, this.#o.onEvent);
    this.#bearer = new BearerAuth(this.#o);
    this.verifier = this.#bearer.verifier;
    const audit: Audit = (event) => this.#audit(event);
    this.#tokens = new SessionTokens({ ...this.#o, rateLimiter: this.rateLimiter, audit, onEvent: this.#o.onEvent, verifyProof: this.#verifyProof });
    this.#sessions = new SessionViews({ store, bearer: this.#bearer, now, audit });
    this.#factors = new SecondFactors({
      store,
      now,
      audit,
      onEvent: this.#o.onEvent,
      rateLimiter: this.rateLimiter,
      verifyProof: this.#verifyProof,
      sealKey: mfaSealKey ?? randomBytes(32),
      macKey: mfaMacKey ?? randomBytes(32),
      issuerName: new URL(this.#o.issuer).host,
      startSession: (user, signIn, ctx) => this.startSession(user, signIn, ctx),
      requireLiveSession: (principal) => this.#requireLiveSession(principal),
    });
    const issuer = new URL(this.#o.issuer);
    this.#passkeys = new Passkeys({
      store,
      now,
      audit,
      onEvent: this.#o.onEvent,
      factors: this.#factors,
      rpId: webauthn?.rpId ?? issuer.hostname,
      rpName: issuer.host,
      origins: () => [...new Set([issuer.origin, ...(webauthn?.allowedOrigins ?? [])])],
      signInProof: (ctx) => this.#signInProof(ctx),
      startSession: (user, signIn, ctx) => this.startSession(user, signIn, ctx),
    });
    this.admin = new Administration({ store, bearer: this.#bearer, now, audit, onEvent: this.#o.onEvent, passwordRules: this.#o.passwordRules });
    this.#federation = new Federation({
      store,
      now,
      audit,
      allowSignup: this.#o.allowSignup,
      requireEmailVerification: this.#o.requireEmailVerification,
      startSession: (user, signIn, ctx) => this.startSession(user, signIn, ctx),
      challenge: (user, ctx, amr) => this.#factors.challenge(user, null, ctx, amr),
      isSessionLive: (sessionId) => this.#bearer.isSessionLive(sessionId),
      requireLiveSession: (principal) => this.#requireLiveSession(principal),
    });
  }

  // ── accounts ──────────────────────────────────────────────────────────────

  async register(email: string, password: string, ctx: RequestContext): Promise<PublicUser> {
    if (!this.#o.allowSignup) throw new ApiError('SIGNUP_DISABLED');
    await this.rateLimiter?.beforeRegister(ctx.ip);
    const normalizedEmail = requireEmail(email);
    const normalizedPassword = assertPasswordPolicy(password, this.#o.passwordRules);
    const now = this.#o.now();
    const passwordHash = await hashPassword(normalizedPassword);
    let user: UserRecord;
    try {
      user = await this.#o.store.createUser({ id: randomUUID(), email: normalizedEmail, passwordHash, role: 'user', now });
    } catch (error) {
      if (!(error instanceof ApiError && error.code === 'EMAIL_TAKEN' && this.#o.requireEmailVerification)) throw error;
      // With verification required, a taken address answers exactly like a new one (the hash
      // above took the same time); only its owner learns of the attempt, by mail.
      const owner = await this.#o.store.findUserByEmail(normalizedEmail);
      if (owner) await this.#o.accountMail?.registrationAttempted(owner, ctx);
      return { id: randomUUID(), email: normalizedEmail, role: 'user', emailVerified: false };
    }
    await this.#audit({ type: 'register', at: now, userId: user.id, ip: ctx.ip });
    await this.#o.accountMail?.sendVerification(user, ctx);
    return toPublicUser(user);
  }

  /** Creates a user without the sign-up switch (admin CLI). */
  async createUser(email: string, password: string, role = 'user'): Promise<PublicUser> {
    const normalizedPassword = assertPasswordPolicy(password, this.#o.passwordRules);
    const user = await this.#o.store.createUser({
      id: randomUUID(),
      email: requireEmail(email),
      passwordHash: await hashPassword(normalizedPassword),
      role,
      now: this.#o.now(),
    });
    return toPublicUser(user);
  }

  /**
   * The password step. An account with a second factor gets an {@link MfaChallenge} instead of
   * tokens (no session yet; the attempt counts against the account's login limit until the
   * second step succeeds); every other account signs in (`amr: ["pwd"]`, `aal1`).
   */
  async login(email: string, password: string, ctx: RequestContext): Promise<IssuedTokens | MfaChallenge> {
    const normalizedEmail = emailKey(email);
    const normalizedPassword = normalizePassword(password);
    // Counted before anything else; over a limit, the password is never checked.
    const ticket = await this.rateLimiter?.beforeLogin(normalizedEmail, ctx.ip);
    // A proof binds the new session to its key; an invalid one signs no one in (checked before the password).
    const dpopJkt = await this.#signInProof(ctx);
    // Out-of-policy lengths can never match: answer without hashing (docs/http-api.md#passwords-and-e-mail-addresses).
    if (isPasswordLengthInvalid(normalizedPassword)) return this.#loginFailed(normalizedEmail, undefined, ctx);
    const user = await this.#o.store.findUserByEmail(normalizedEmail);
    if (!user) {
      await dummyVerify(normalizedPassword);
      return this.#loginFailed(normalizedEmail, undefined, ctx);
    }
    if (!(await verifyPassword(user.passwordHash, normalizedPassword))) return this.#loginFailed(normalizedEmail, user, ctx);
    // Said only to someone who knows the password (docs/admin.md#disabling-an-account).
    if (user.disabledAt !== null) {
      await this.#audit({ type: 'login_failure', at: this.#o.now(), userId: user.id, ip: ctx.ip, detail: { reason: 'account_disabled' } });
      throw new ApiError('ACCOUNT_DISABLED');
    }
    if (this.#o.requireEmailVerification && user.emailVerifiedAt === null) {
      await this.#audit({ type: 'login_failure', at: this.#o.now(), userId: user.id, ip: ctx.ip, detail: { reason: 'email_not_verified' } });
      throw new ApiError('EMAIL_NOT_VERIFIED');
    }
    if (needsRehash(user.passwordHash)) {
      await this.#o.store.updatePasswordHash(user.id, user.credentialGeneration, await hashPassword(normalizedPassword), this.#o.now());
    }
    const challenge = await this.#factors.challenge(user, dpopJkt, ctx);
    if (challenge) return challenge;
    const tokens = await this.startSession(user, { amr: ['pwd'], acr: 'aal1', method: 'password', dpopJkt }, ctx);
    if (!tokens) return this.#loginFailed(normalizedEmail, user, ctx, 'credentials_changed');
    if (ticket) await this.rateLimiter?.loginSucceeded(ticket);
    return tokens;
  }

  /**
   * The one way a sign-in becomes a session, for every sign-in method: call it once the
   * method's factors are checked, with how the user authenticated. Password login passes
   * `{amr: ['pwd'], acr: 'aal1', method: 'password'}`; the second step of a login
   * `['pwd', 'otp']` (or `['pwd', 'hwk']`) and `aal2`; a passkey sign-in `['hwk']`/`['swk']`;
   * an external identity provider `['fed']` and `aal1`. The access tokens of the session carry
   * these as `amr`, `acr` and `auth_time` (= `authTime`, default now), and every refresh keeps
   * them (docs/mfa.md#access-token-claims).
   *
   * Granted on the credentials read with `user`: if the password changed or every session was
   * ended since (a race with `POST /auth/password` or `/auth/logout-all`), the store inserts
   * nothing and this returns `undefined` — the caller answers as for wrong credentials. The
   * session and its audit row (`login_success`, `detail.method`) are written in one transaction.
   * `dpopJkt` binds the session to the DPoP key the sign-in request proved (docs/dpop.md).
   */
  async startSession(user: UserRecord, signIn: SignIn, ctx: RequestContext): Promise<IssuedTokens | undefined> {
    // The embedder's claims first: a claims function that fails leaves no session behind.
    const extra = await this.#tokens.claimsOf(user);
    const now = this.#o.now();
    const session = await this.#o.store.createSession(
      {
        id: randomUUID(),
        userId: user.id,
        credentialGeneration: signIn.credentialGeneration ?? user.credentialGeneration,
        now,
        idleExpiresAt: now + this.#o.refreshTokenTtl * 1000,
        absoluteExpiresAt: now + this.#o.sessionMaxAge * 1000,
        userAgent: ctx.userAgent?.slice(0, 512) ?? null,
        ip: ctx.ip,
        dpopJkt: signIn.dpopJkt ?? null,
        authentication: { amr: [...signIn.amr], acr: signIn.acr, authTime: signIn.authTime ?? now },
      },
      { type: 'login_success', ip: ctx.ip, detail: { method: signIn.method } },
    );
    if (!session) return undefined;
    this.#o.onEvent?.({ type: 'login_success', at: now, userId: user.id, sessionId: session.id, ip: ctx.ip, detail: { method: signIn.method } });
    return this.#tokens.issue(user, session, extra);
  }

  /**
   * The DPoP key a sign-in request proves (its session is bound to it), or `null` without a
   * proof (`LATCHKEY_DPOP=off`: always). Refused, audited as `login_failure`: no proof when
   * proofs are required (`DPOP_REQUIRED`), an invalid one (`INVALID_DPOP_PROOF`).
   */
  async #signInProof(ctx: RequestContext): Promise<string | null> {
    if (this.#o.dpop === 'required' && ctx.dpop?.proof === undefined) {
      await this.#audit({ type: 'login_failure', at: this.#o.now(), ip: ctx.ip, detail: { reason: 'dpop_required' } });
      throw new ApiError('DPOP_REQUIRED');
    }
    const proof = this.#o.dpop === 'off' ? undefined : await checkProof(this.#verifyProof, ctx.dpop);
    if (proof && !proof.ok) {
      await this.#audit({ type: 'login_failure', at: this.#o.now(), ip: ctx.ip, detail: { reason: 'invalid_dpop_proof', dpop: proof.reason } });
      throw new ApiError('INVALID_DPOP_PROOF');
    }
    return proof?.jkt ?? null;
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

  /**
   * Checks the DPoP proof of a request made with a bound access token (`cnf.jkt`): made for the
   * request, by that key, with the token's `ath`, not replayed. Never throws for a bad proof
   * (throws `UNAVAILABLE` for the replay cache, `USE_DPOP_NONCE` for a missing server nonce).
   */
  async checkAccessProof(request: DpopRequest, accessToken: string, jkt: string): Promise<{ ok: true } | { ok: false; reason: string }> {
    const result = await this.#verifyProof(request.proof, { method: request.method, url: request.url, accessToken, jkt });
    if (!result.ok) throwIfNotRefusal(result.reason);
    return result.ok ? { ok: true } : result;
  }

  // ── second factors (mfa.ts) ──────────────────────────────────────────────

  /** The second step of a login: a TOTP code or a recovery code for the login's `mfaToken`. */
  verifyMfa(mfaToken: string, answer: { code: string } | { recoveryCode: string }, ctx: RequestContext): Promise<IssuedTokens> {
    return this.#factors.verify(mfaToken, answer, ctx);
  }

  enrollTotp(principal: Principal, currentPassword: string, ctx: RequestContext): Promise<TotpEnrollment> {
    return this.#factors.enrollTotp(principal, currentPassword, ctx);
  }

  confirmTotp(principal: Principal, code: string, ctx: RequestContext): Promise<string[]> {
    return this.#factors.confirmTotp(principal, code, ctx);
  }

  removeTotp(principal: Principal, ctx: RequestContext): Promise<void> {
    return this.#factors.removeTotp(principal, ctx);
  }

  listFactors(principal: Principal): Promise<{ factors: FactorView[]; recoveryCodesRemaining: number }> {
    return this.#factors.listFactors(principal);
  }

  // ── passkeys (passkeys.ts) ───────────────────────────────────────────────

  passkeyRegisterOptions(principal: Principal): Promise<PublicKeyCredentialCreationOptionsJSON> {
    return this.#passkeys.registerOptions(principal);
  }

  /** Stores the passkey of a registration response (`credential.toJSON()`); `name` is the owner's label. */
  passkeyRegisterVerify(principal: Principal, response: unknown, name: string | undefined, ctx: RequestContext): Promise<PasskeyView> {
    return this.#passkeys.registerVerify(principal, response, name, ctx);
  }

  /** Usernameless sign-in options, or (with the login's `mfaToken`) those of the second step. */
  async passkeyLoginOptions(mfaToken: string | undefined, ctx: RequestContext): Promise<PublicKeyCredentialRequestOptionsJSON> {
    await this.rateLimiter?.beforePasskeyOptions(ctx.ip);
    return this.#passkeys.loginOptions(mfaToken);
  }

  /** Signs in with an assertion (`credential.toJSON()`), usernameless or as the second step of `mfaToken`. */
  passkeyLoginVerify(response: unknown, mfaToken: string | undefined, ctx: RequestContext): Promise<IssuedTokens> {
    return this.#passkeys.loginVerify(response, mfaToken, ctx);
  }

  listPasskeys(principal: Principal): Promise<PasskeyView[]> {
    return this.#passkeys.list(principal);
  }

  removePasskey(principal: Principal, id: string, ctx: RequestContext): Promise<void> {
    return this.#passkeys.remove(principal, id, ctx);
  }

  // ── external identity providers (federation.ts; the protocol is src/oauth/) ──

  /**
   * Signs in with a provider account the provider confirmed: tokens (`amr` `["fed"]`, aal1), the
   * second step for an account with a factor, or `ACCOUNT_EXISTS`, `SIGNUP_DISABLED`,
   * `EMAIL_NOT_VERIFIED`, `OAUTH_FAILED` (docs/oidc.md#linking). Federated sessions are never
   * DPoP-bound: the browser's navigation back from the provider carries no proof.
   */
  federatedSignIn(profile: FederatedProfile, ctx: RequestContext): Promise<IssuedTokens | MfaChallenge> {
    return this.#federation.signIn(profile, ctx);
  }

  /** Links a provider account to the user of a live session (`start?link=1`); no session is created. */
  linkIdentity(target: { userId: string; sessionId: string }, profile: FederatedProfile, ctx: RequestContext): Promise<void> {
    return this.#federation.link(target, profile, ctx);
  }

  listIdentities(principal: Principal): Promise<IdentityView[]> {
    return this.#federation.list(principal);
  }

  unlinkIdentity(principal: Principal, identityId: string, ctx: RequestContext): Promise<void> {
    return this.#federation.unlink(principal, identityId, ctx);
  }

  /**
   * Who asks to link a provider (`start?link=1`): the user and session of a refresh token that
   * would refresh now, of a session that is not DPoP-bound (a navigation cannot prove its key, so
   * a stolen cookie of a bound session must not link an attacker's account); else `undefined`.
   */
  async linkTargetOf(refreshToken: string | undefined): Promise<{ userId: string; sessionId: string } | undefined> {
    const session = refreshToken === undefined ? undefined : await this.#tokens.liveSessionOf(refreshToken);
    if (!session || session.dpopJkt !== null) return undefined;
    return { userId: session.userId, sessionId: session.id };
  }

  /** Counts a provider sign-in start or callback against the IP's budget (429 `RATE_LIMITED` over it). */
  async beforeOAuth(ctx: RequestContext): Promise<void> {
    await this.rateLimiter?.beforeOAuth(ctx.ip);
  }

  /** `LATCHKEY_DPOP=required`: provider sign-ins are refused (they cannot bind a session). */
  get dpopRequired(): boolean {
    return this.#o.dpop === 'required';
  }

  // ── a session's tokens (refresh.ts) ──────────────────────────────────────

  /** Rotates the refresh token (the decision table of docs/architecture.md); failures are results. */
  refresh(refreshToken: unknown, ctx: RequestContext): Promise<RefreshResult> {
    return this.#tokens.refresh(refreshToken, ctx);
  }

  /**
   * Revokes the session of any authentic refresh token, spent or current. Silent for junk; a
   * DPoP-bound session needs a proof by its key (`INVALID_DPOP_PROOF` otherwise, nothing revoked).
   */
  logout(refreshToken: unknown, ctx: RequestContext): Promise<{ ok: true } | { ok: false; code: 'INVALID_DPOP_PROOF' }> {
    return this.#tokens.logout(refreshToken, ctx);
  }

  // ── bearer-authenticated operations ──────────────────────────────────────

  /** Verifies an access token. Hot path: no I/O, no exceptions for bad tokens. */
  authenticate(token: string): AuthenticateResult {
    return this.#bearer.authenticate(token);
  }

  /**
   * {@link authenticate}, plus: a token whose `kid` is not loaded yet (a key another instance
   * just started signing with) makes the key ring re-read the store once, then is checked
   * again. What the HTTP edges call. Throws StoreUnavailableError if that re-read fails.
   */
  authenticateFresh(token: string): Promise<AuthenticateResult> {
    return this.#bearer.authenticateFresh(token);
  }

  /** Whether the session behind an access token is still live (for instant revocation). */
  isSessionLive(sessionId: string): Promise<boolean> {
    return this.#bearer.isSessionLive(sessionId);
  }

  async me(principal: Principal): Promise<PublicUser> {
    const user = await this.#o.store.findUserById(principal.id);
    if (!user) throw new ApiError('INVALID_TOKEN');
    return toPublicUser(user);
  }

  // ── a user's sessions (sessions.ts) ─────────────────────────────────────

  logoutAll(principal: Principal, ctx: RequestContext): Promise<number> {
    return this.#sessions.logoutAll(principal, ctx);
  }

  listSessions(principal: Principal): Promise<SessionView[]> {
    return this.#sessions.list(principal);
  }

  revokeSession(principal: Principal, sessionId: string, ctx: RequestContext): Promise<void> {
    return this.#sessions.revoke(principal, sessionId, ctx);
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
    await this.#o.accountMail?.passwordChanged(user);
  }

  /** Revokes every session of a user (admin CLI). */
  async revokeAllSessionsOf(email: string): Promise<number> {
    const user = await this.#o.store.findUserByEmail(emailKey(email));
    if (!user) throw new ApiError('NOT_FOUND', 'No such user.');
    const now = this.#o.now();
    const count = await this.#o.store.revokeUserSessions(user.id, 'admin', now);
    await this.#audit({ type: 'sessions_revoked_by_admin', at: now, userId: user.id, actorId: 'cli', detail: { count } });
    return count;
  }

  // ── internals ────────────────────────────────────────────────────────────

  #requireLiveSession(principal: Principal): Promise<void> {
    return this.#bearer.requireLiveSession(principal);
  }

  /** Appends an audit event and tells the observers (also used by the e-mail flows). */
  audit(event: AuditEventInput): Promise<void> {
    return this.#audit(event);
  }

  #audit(event: AuditEventInput): Promise<void> {
    return this.#auditTo(event);
  }
}
