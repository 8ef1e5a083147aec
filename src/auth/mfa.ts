/**
 * Second factors (docs/mfa.md): TOTP enrolment, confirmation and removal, recovery codes, the
 * second step of a login (`mfaToken` → `/auth/mfa/verify`) and the aal2 rule of the built-in
 * routes. Policy only; the store's conditional UPDATEs make the single-use rules hold across
 * instances (a time step accepted once per account, a recovery code and an mfa token used once).
 *
 * Secrets: the TOTP secret is sealed under a key derived from the master secret; recovery codes
 * and mfa tokens are stored only as keyed MACs. None of them is ever logged or audited.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { ApiError } from '../errors.js';
import type { ProofVerifier } from '../dpop/proof.js';
import { seal, unseal } from '../keys/sealing.js';
import type { AuditEventInput, FactorRecord, PasskeyUse, SecondFactorProof, Store, UserRecord } from '../store/types.js';
import { meetsStepUp, stepUpChallenge, type AuthUser } from './access-token.js';
import type { Audit, RequestContext } from './audit.js';
import { checkProof } from './dpop-proofs.js';
import { isPasswordLengthInvalid, normalizePassword, verifyPassword } from './passwords.js';
import type { RateLimiter } from './rate-limit.js';
import type { IssuedTokens } from './refresh.js';
import { base32Encode, matchTotp, otpauthUrl } from './totp.js';

/** How long the second step of a login may take. */
const MFA_TOKEN_TTL_MS = 5 * 60 * 1000;
/** Wrong codes one mfa token survives; the next refusal after these kills it. */
const MFA_MAX_ATTEMPTS = 5;
/** Recovery codes issued at confirmation. */
const RECOVERY_CODE_COUNT = 10;

/** What a login answers instead of tokens when the account has a factor. */
export interface MfaChallenge {
  mfaRequired: true;
  /** Opaque, single use, valid {@link MFA_TOKEN_TTL_MS}; stored only as a MAC. */
  mfaToken: string;
  /** The kinds of factor the account has: `totp`, `webauthn`. */
  factors: Array<'totp' | 'webauthn'>;
}

export interface TotpEnrollment {
  /** The secret in base32, for manual entry. */
  secret: string;
  otpauthUrl: string;
  /** The `otpauth://` URL as a QR code, an SVG document. */
  qrSvg: string;
}

/** A factor as the account's owner sees it. */
export interface FactorView {
  id: string;
  type: 'totp' | 'webauthn';
  createdAt: string;
  lastUsedAt: string | null;
}

export interface SecondFactorsOptions {
  store: Store;
  now: () => number;
  audit: Audit;
  onEvent: ((event: AuditEventInput) => void) | undefined;
  rateLimiter: RateLimiter | undefined;
  verifyProof: ProofVerifier;
  /** AES-256-GCM key of TOTP secrets (`deriveKeys().mfaSeal`). */
  sealKey: Buffer;
  /** HMAC key of recovery codes and mfa tokens (`deriveKeys().mfaMac`). */
  macKey: Buffer;
  /** The issuer name authenticator apps show (the host of `LATCHKEY_ISSUER`). */
  issuerName: string;
  /** `AuthService.startSession`. */
  startSession: (
    user: UserRecord,
    signIn: { amr: readonly string[]; acr: 'aal1' | 'aal2'; method: string; credentialGeneration?: number; dpopJkt?: string | null },
    ctx: RequestContext,
  ) => Promise<IssuedTokens | undefined>;
  requireLiveSession: (principal: AuthUser) => Promise<void>;
}

/** 50 bits per code: 10 characters of lower-case base32, shown as `xxxxx-xxxxx`. */
function newRecoveryCode(): string {
  const code = base32Encode(randomBytes(7)).slice(0, 10).toLowerCase();
  return `${code.slice(0, 5)}-${code.slice(5)}`;
}

/** Case-insensitive, with or without the dash (and stray spaces). */
function normalizeRecoveryCode(code: string): string {
  return code.toLowerCase().replace(/[-\s]/g, '');
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The built-in routes' aal2 rule: like `requireAuth({acr: 'aal2'})`, the same 401 and challenge. */
export function requireAal2(principal: AuthUser, now: number): void {
  if (meetsStepUp(principal.claims, { acr: 'aal2' }, now, 0)) return;
  const scheme = principal.claims.cnf === undefined ? 'Bearer' : 'DPoP';
  throw new ApiError('STEP_UP_REQUIRED', undefined, { challenge: stepUpChallenge({ acr: 'aal2' }, scheme) });
}

/** What completes the second step: a TOTP code, a recovery code, or a verified passkey assertion (`auth/passkeys.ts`). */
export type SecondStepAnswer = { code: string } | { recoveryCode: string } | { passkey: PasskeyUse; amr: 'hwk' | 'swk' };

/** A live mfa token, as the passkey ceremony needs it: its MAC (challenges are bound to it) and its account. */
export interface PendingLogin {
  mac: string;
  userId: string;
}

export class SecondFactors {
  readonly #o: SecondFactorsOptions;

  constructor(options: SecondFactorsOptions) {
    this.#o = options;
  }

  #mac(purpose: string, value: string): string {
    return createHmac('sha256', this.#o.macKey).update(`${purpose}\0${value}`).digest('base64url');
  }

  #recoveryMac(userId: string, code: string): string {
    return this.#mac('recovery-code', `${userId}\0${normalizeRecoveryCode(code)}`);
  }

  /** The live mfa token `mfaToken`, or `undefined` (unknown, used, expired, dead). */
  async pendingLogin(mfaToken: string): Promise<PendingLogin | undefined> {
    const mac = this.#mac('mfa-token', mfaToken);
    const record = await this.#o.store.findMfaToken(mac, this.#o.now(), MFA_MAX_ATTEMPTS);
    return record && { mac, userId: record.userId };
  }

  /** A refused passkey assertion on the second step counts against the mfa token like a wrong code. */
  async refusePasskey(login: PendingLogin, reason: string, ctx: RequestContext): Promise<void> {
    const now = this.#o.now();
    const attempts = await this.#o.store.recordMfaFailure(login.mac, now, MFA_MAX_ATTEMPTS);
    await this.#o.audit({
      type: 'mfa_failed',
      at: now,
      userId: login.userId,
      ip: ctx.ip,
      detail: { stage: 'login', method: 'passkey', reason, attempts: attempts ?? null },
    });
  }

  /** The account of a bearer-authenticated request whose session is live (else 401). */
  async account(principal: AuthUser): Promise<UserRecord> {
    return this.#user(principal);
  }

  async #user(principal: AuthUser): Promise<UserRecord> {
    await this.#o.requireLiveSession(principal);
    const user = await this.#o.store.findUserById(principal.id);
    if (!user) throw new ApiError('INVALID_TOKEN');
    return user;
  }

  async listFactors(principal: AuthUser): Promise<{ factors: FactorView[]; recoveryCodesRemaining: number }> {
    const user = await this.#user(principal);
    const factors = await this.#o.store.listFactors(user.id);
    const hasTotp = factors.some((f) => f.type === 'totp');
    return {
      factors: factors.map((f) => ({ id: f.id, type: f.type, createdAt: iso(f.createdAt)!, lastUsedAt: iso(f.lastUsedAt) })),
      recoveryCodesRemaining: hasTotp ? await this.#o.store.countRecoveryCodes(user.id) : 0,
    };
  }

  /**
   * Starts a TOTP enrolment: 409 `MFA_ALREADY_ENROLLED` with a confirmed TOTP factor; aal2 when
   * the account has another factor; the current password, counted like a login attempt. A new
   * enrolment replaces a pending one; nothing changes for login until it is confirmed.
   */
  async enrollTotp(principal: AuthUser, currentPassword: string, ctx: RequestContext): Promise<TotpEnrollment> {
    const user = await this.#user(principal);
    const factors = await this.#o.store.listFactors(user.id);
    if (factors.some((f) => f.type === 'totp')) throw new ApiError('MFA_ALREADY_ENROLLED');
    if (factors.length > 0) requireAal2(principal, this.#o.now());
    const ticket = await this.#o.rateLimiter?.beforeLogin(user.email, ctx.ip);
    const password = normalizePassword(currentPassword);
    if (isPasswordLengthInvalid(password) || !(await verifyPassword(user.passwordHash, password))) {
      throw new ApiError('INVALID_CREDENTIALS', 'The current password is not correct.');
    }
    if (ticket) await this.#o.rateLimiter?.loginSucceeded(ticket);
    const secret = randomBytes(20);
    const saved = await this.#o.store.saveTotpEnrollment({
      id: randomUUID(),
      userId: user.id,
      secretSealed: seal(this.#o.sealKey, secret, `totp:${user.id}`),
      now: this.#o.now(),
    });
    if (saved === 'enrolled') throw new ApiError('MFA_ALREADY_ENROLLED');
    if (saved === 'no_user') throw new ApiError('INVALID_TOKEN');
    const url = otpauthUrl(secret, this.#o.issuerName, user.email);
    // Loaded on first use: `import 'latchkey'` stays light.
    const qrcode = await import('qrcode');
    const qrSvg = await qrcode.toString(url, { type: 'svg', errorCorrectionLevel: 'M', margin: 1 });
    return { secret: base32Encode(secret), otpauthUrl: url, qrSvg };
  }

  /**
   * Confirms the pending enrolment with a current code: the factor takes effect, 10 recovery
   * codes replace any earlier ones (returned once, stored as MACs). The calling session stays as
   * it was (aal1); other sessions are kept. 404 without a pending enrolment, 409 when confirmed.
   */
  async confirmTotp(principal: AuthUser, code: string, ctx: RequestContext): Promise<string[]> {
    const user = await this.#user(principal);
    const factor = await this.#o.store.findTotpFactor(user.id);
    if (!factor) throw new ApiError('NOT_FOUND', 'No TOTP enrolment is pending; start one with POST /auth/mfa/totp/enroll.');
    if (factor.confirmedAt !== null) throw new ApiError('MFA_ALREADY_ENROLLED');
    const ticket = await this.#o.rateLimiter?.beforeLogin(user.email, ctx.ip);
    const now = this.#o.now();
    const step = matchTotp(unseal(this.#o.sealKey, factor.secretSealed, `totp:${user.id}`), code, now);
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    const confirmed =
      step !== undefined &&
      (await this.#o.store.confirmTotp(
        user.id,
        step,
        now,
        codes.map((c) => this.#recoveryMac(user.id, c)),
        { type: 'mfa_enrolled', at: now, userId: user.id, sessionId: principal.sessionId, ip: ctx.ip, detail: { factor: 'totp' } },
      ));
    if (!confirmed) {
      await this.#o.audit({
        type: 'mfa_failed',
        at: now,
        userId: user.id,
        sessionId: principal.sessionId,
        ip: ctx.ip,
        detail: { stage: 'confirm', method: 'totp' },
      });
      throw new ApiError('INVALID_MFA_CODE');
    }
    if (ticket) await this.#o.rateLimiter?.loginSucceeded(ticket);
    this.#o.onEvent?.({ type: 'mfa_enrolled', at: now, userId: user.id, sessionId: principal.sessionId, ip: ctx.ip, detail: { factor: 'totp' } });
    return codes;
  }

  /** Removes the TOTP factor and the recovery codes: 404 without one (checked first), then aal2. */
  async removeTotp(principal: AuthUser, ctx: RequestContext): Promise<void> {
    const user = await this.#user(principal);
    const factor = await this.#o.store.findTotpFactor(user.id);
    if (!factor || factor.confirmedAt === null) throw new ApiError('NOT_FOUND', 'This account has no TOTP factor.');
    const now = this.#o.now();
    requireAal2(principal, now);
    const event = { type: 'mfa_removed', at: now, userId: user.id, sessionId: principal.sessionId, ip: ctx.ip, detail: { factor: 'totp' } };
    if (!(await this.#o.store.deleteTotp(user.id, event))) throw new ApiError('NOT_FOUND', 'This account has no TOTP factor.');
    this.#o.onEvent?.(event);
  }

  /**
   * After a correct password: the second step when the account has a factor (an mfa token,
   * stored as a MAC, bound to the credential generation and DPoP key of this login), else
   * `undefined` (sign in at once).
   */
  async challenge(
    user: UserRecord,
    dpopJkt: string | null,
    ctx: RequestContext,
    amr: readonly string[] = ['pwd'],
  ): Promise<MfaChallenge | undefined> {
    const factors: FactorRecord[] = await this.#o.store.listFactors(user.id);
    if (factors.length === 0) return undefined;
    const token = randomBytes(32).toString('base64url');
    const now = this.#o.now();
    await this.#o.store.createMfaToken({
      mac: this.#mac('mfa-token', token),
      userId: user.id,
      amr: [...amr],
      credentialGeneration: user.credentialGeneration,
      dpopJkt,
      now,
      expiresAt: now + MFA_TOKEN_TTL_MS,
    });
    await this.#o.audit({
      type: 'mfa_required',
      at: now,
      userId: user.id,
      ip: ctx.ip,
      detail: { factors: [...new Set(factors.map((f) => f.type))] },
    });
    return { mfaRequired: true, mfaToken: token, factors: [...new Set(factors.map((f) => f.type))] };
  }

  /**
   * The second step: a TOTP code or a recovery code for a live mfa token. Wrong codes (a replayed
   * time step included) → 401 `INVALID_MFA_CODE` and count against the token (dead after
   * {@link MFA_MAX_ATTEMPTS}) and the account's login limit; a dead, used or expired token →
   * 401 `MFA_TOKEN_INVALID`. When the login carried a DPoP proof, this request must prove the
   * same key. Success: a new session with `amr` `["pwd","otp"]` (a passkey: `["pwd","hwk"]` or
   * `["pwd","swk"]`) and `acr` `aal2`. A passkey's counter, advanced by another sign-in since it
   * was checked, refuses the step with 401 `PASSKEY_INVALID`.
   */
  async verify(mfaToken: string, answer: SecondStepAnswer, ctx: RequestContext): Promise<IssuedTokens> {
    const { store, now: clock } = this.#o;
    const mac = this.#mac('mfa-token', mfaToken);
    const record = await store.findMfaToken(mac, clock(), MFA_MAX_ATTEMPTS);
    if (!record) throw new ApiError('MFA_TOKEN_INVALID');
    const proof = await checkProof(this.#o.verifyProof, ctx.dpop, record.dpopJkt);
    if ((proof && !proof.ok) || (record.dpopJkt !== null && !proof)) {
      const reason = proof && !proof.ok ? proof.reason : 'DPOP_MISSING';
      await this.#o.audit({ type: 'dpop_mismatch', at: clock(), userId: record.userId, ip: ctx.ip, detail: { action: 'mfa_verify', reason } });
      throw new ApiError('INVALID_DPOP_PROOF');
    }
    const user = await store.findUserById(record.userId);
    if (!user) throw new ApiError('MFA_TOKEN_INVALID');
    const ticket = await this.#o.rateLimiter?.beforeLogin(user.email, ctx.ip);
    const method = 'code' in answer ? 'totp' : 'passkey' in answer ? 'passkey' : 'recovery_code';
    const now = clock();
    let factorProof: SecondFactorProof | undefined;
    if ('passkey' in answer) {
      factorProof = { kind: 'passkey', ...answer.passkey };
    } else if ('code' in answer) {
      const factor = await store.findTotpFactor(user.id);
      const step =
        factor?.confirmedAt != null ? matchTotp(unseal(this.#o.sealKey, factor.secretSealed, `totp:${user.id}`), answer.code, now) : undefined;
      if (step !== undefined) factorProof = { kind: 'totp', step };
    } else {
      factorProof = { kind: 'recovery', codeMac: this.#recoveryMac(user.id, answer.recoveryCode) };
    }
    const outcome = factorProof ? await store.completeMfa(mac, user.id, now, MFA_MAX_ATTEMPTS, factorProof) : 'code_refused';
    if (outcome === 'token_invalid') throw new ApiError('MFA_TOKEN_INVALID');
    if (outcome === 'code_refused' && 'passkey' in answer) {
      // Another sign-in advanced the counter first: a clone, or a replay of one assertion.
      const { passkeyId, counter } = answer.passkey;
      await this.#o.audit({ type: 'passkey_counter_regression', at: now, userId: user.id, ip: ctx.ip, detail: { passkeyId, presented: counter } });
      await this.refusePasskey({ mac, userId: user.id }, 'counter', ctx);
      throw new ApiError('PASSKEY_INVALID');
    }
    if (outcome === 'code_refused') {
      const attempts = await store.recordMfaFailure(mac, now, MFA_MAX_ATTEMPTS);
      if (attempts === undefined) throw new ApiError('MFA_TOKEN_INVALID');
      await this.#o.audit({ type: 'mfa_failed', at: now, userId: user.id, ip: ctx.ip, detail: { stage: 'login', method, attempts } });
      throw new ApiError('INVALID_MFA_CODE');
    }
    const tokens = await this.#o.startSession(
      user,
      {
        amr: [...record.amr, 'passkey' in answer ? answer.amr : 'otp'],
        acr: 'aal2',
        method,
        credentialGeneration: record.credentialGeneration,
        dpopJkt: record.dpopJkt ?? (proof?.ok ? proof.jkt : null),
      },
      ctx,
    );
    // The password changed, or every session was ended, since the first step.
    if (!tokens) throw new ApiError('MFA_TOKEN_INVALID');
    if (ticket) await this.#o.rateLimiter?.loginSucceeded(ticket);
    await this.#o.audit({ type: 'mfa_verified', at: now, userId: user.id, sessionId: tokens.sessionId, ip: ctx.ip, detail: { method } });
    if (method === 'recovery_code') {
      const remaining = await store.countRecoveryCodes(user.id);
      await this.#o.audit({ type: 'recovery_code_used', at: now, userId: user.id, sessionId: tokens.sessionId, ip: ctx.ip, detail: { remaining } });
    }
    return tokens;
  }
}
