/**
 * Passkeys (WebAuthn, docs/mfa.md#passkeys), with `@simplewebauthn/server` for the ceremonies:
 * registration by a signed-in user, usernameless sign-in with a discoverable credential, and a
 * passkey as the second step of a password login. Policy only; the store's conditional UPDATEs
 * make the single-use rules hold across instances (a challenge is consumed once, a sign counter
 * only moves forward).
 *
 * `amr`: a credential whose authenticator says it may be backed up or synced (the backup-eligible
 * flag, `credentialDeviceType: "multiDevice"`) signs in as `swk` — its key may live in software,
 * copied between devices; a device-bound one (`singleDevice`) as `hwk`. `acr` is `aal2` for a
 * usernameless sign-in only when the authenticator performed user verification (something the
 * user has + something they know or are), else `aal1`; as a second factor after a password,
 * always `aal2`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  VerifiedAuthenticationResponse,
  VerifiedRegistrationResponse,
  AuthenticatorTransportFuture,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { ApiError } from '../errors.js';
import type { AuditEventInput, PasskeyRecord, PasskeyUse, Store, UserRecord, WebauthnChallengeKind } from '../store/types.js';
import type { AuthUser } from './access-token.js';
import type { Audit, RequestContext } from './audit.js';
import { requireAal2, type PendingLogin, type SecondFactors } from './mfa.js';
import type { IssuedTokens } from './refresh.js';

/** How long a challenge (and the browser's prompt) lasts. */
const CHALLENGE_TTL_MS = 5 * 60 * 1000;
/** COSE algorithms accepted for new credentials: ES256, EdDSA, RS256. */
const ALGORITHMS = [-7, -8, -257];
const NAME_MAX = 64;

/** A passkey as its owner sees it. */
export interface PasskeyView {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
}

export interface PasskeysOptions {
  store: Store;
  now: () => number;
  audit: Audit;
  onEvent: ((event: AuditEventInput) => void) | undefined;
  factors: SecondFactors;
  /** The relying-party id (`LATCHKEY_WEBAUTHN_RP_ID`). */
  rpId: string;
  /** The name authenticators show. */
  rpName: string;
  /** The origins assertions may come from: the issuer's and `LATCHKEY_ALLOWED_ORIGINS` (read per ceremony: an embedder may add one once it listens). */
  origins: () => string[];
  /** The DPoP key a sign-in request proves (`AuthService`): throws like a login for a refused proof. */
  signInProof: (ctx: RequestContext) => Promise<string | null>;
  /** `AuthService.startSession`. */
  startSession: (
    user: UserRecord,
    signIn: { amr: readonly string[]; acr: 'aal1' | 'aal2'; method: string; dpopJkt?: string | null },
    ctx: RequestContext,
  ) => Promise<IssuedTokens | undefined>;
}

type Stage = 'register' | 'login' | 'second_factor';

/** A checked assertion: whose passkey, the counter to record, how to name it in `amr`. */
interface Assertion {
  passkey: PasskeyRecord;
  use: PasskeyUse;
  amr: 'hwk' | 'swk';
  userVerified: boolean;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const view = (p: PasskeyRecord): PasskeyView => ({ id: p.id, name: p.name, createdAt: iso(p.createdAt)!, lastUsedAt: iso(p.lastUsedAt) });

/** Loaded on first use: `import 'latchkey'` stays light. */
const webauthn = () => import('@simplewebauthn/server');

/** The challenge the client data names, or `undefined` for anything that is not a WebAuthn response. */
function clientChallenge(response: unknown): string | undefined {
  const clientDataJSON = (response as { response?: { clientDataJSON?: unknown } } | null)?.response?.clientDataJSON;
  if (typeof clientDataJSON !== 'string') return undefined;
  try {
    const data: unknown = JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8'));
    const challenge = (data as { challenge?: unknown } | null)?.challenge;
    return typeof challenge === 'string' && challenge !== '' ? challenge : undefined;
  } catch {
    return undefined;
  }
}

export class Passkeys {
  readonly #o: PasskeysOptions;

  constructor(options: PasskeysOptions) {
    this.#o = options;
  }

  /** Audits a refused ceremony (`passkey_failed`, a fixed reason, never the response) and throws 401 `PASSKEY_INVALID`. */
  async #refuse(stage: Stage, reason: string, ctx: RequestContext, userId: string | null = null): Promise<never> {
    await this.#o.audit({ type: 'passkey_failed', at: this.#o.now(), userId, ip: ctx.ip, detail: { stage, reason } });
    throw new ApiError('PASSKEY_INVALID');
  }

  async #challenge(kind: WebauthnChallengeKind, challenge: string, fields: { userId?: string; mfaTokenMac?: string; userHandle?: string }) {
    const now = this.#o.now();
    await this.#o.store.createWebauthnChallenge({
      challenge,
      kind,
      userId: fields.userId ?? null,
      mfaTokenMac: fields.mfaTokenMac ?? null,
      userHandle: fields.userHandle ?? null,
      createdAt: now,
      expiresAt: now + CHALLENGE_TTL_MS,
    });
  }

  /** aal2 when the account already has a factor: a stolen aal1 session cannot add one. */
  async #registrant(principal: AuthUser): Promise<UserRecord> {
    const user = await this.#o.factors.account(principal);
    if ((await this.#o.store.listFactors(user.id)).length > 0) requireAal2(principal, this.#o.now());
    return user;
  }

  async list(principal: AuthUser): Promise<PasskeyView[]> {
    const user = await this.#o.factors.account(principal);
    return (await this.#o.store.listPasskeys(user.id)).map(view);
  }

  /**
   * Registration options for the signed-in user: a resident key with user verification, the
   * account's random user handle (the one of its other passkeys, else 32 new random bytes —
   * never the e-mail), its credentials excluded.
   */
  async registerOptions(principal: AuthUser): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const user = await this.#registrant(principal);
    const existing = await this.#o.store.listPasskeys(user.id);
    const userHandle = existing[0]?.userHandle ?? randomBytes(32).toString('base64url');
    const { generateRegistrationOptions } = await webauthn();
    const options = await generateRegistrationOptions({
      rpName: this.#o.rpName,
      rpID: this.#o.rpId,
      userName: user.email,
      userDisplayName: user.email,
      userID: new Uint8Array(Buffer.from(userHandle, 'base64url')),
      timeout: CHALLENGE_TTL_MS,
      attestationType: 'none',
      excludeCredentials: existing.map((p) => ({ id: p.credentialId, transports: p.transports as AuthenticatorTransportFuture[] })),
      authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'required' },
      supportedAlgorithmIDs: ALGORITHMS,
    });
    await this.#challenge('register', options.challenge, { userId: user.id, userHandle });
    return options;
  }

  /** Verifies the attestation of {@link registerOptions}' challenge and stores the passkey (audit `passkey_registered`). */
  async registerVerify(principal: AuthUser, response: unknown, name: string | undefined, ctx: RequestContext): Promise<PasskeyView> {
    const user = await this.#registrant(principal);
    const challenge = clientChallenge(response);
    const now = this.#o.now();
    const issued = challenge === undefined ? undefined : await this.#o.store.consumeWebauthnChallenge(challenge, 'register', now);
    if (!issued || issued.userId !== user.id || issued.userHandle === null) return this.#refuse('register', 'challenge', ctx, user.id);
    const { verifyRegistrationResponse } = await webauthn();
    let info: VerifiedRegistrationResponse['registrationInfo'];
    try {
      const result = await verifyRegistrationResponse({
        response: response as RegistrationResponseJSON,
        expectedChallenge: issued.challenge,
        expectedOrigin: this.#o.origins(),
        expectedRPID: this.#o.rpId,
        requireUserVerification: true,
        supportedAlgorithmIDs: ALGORITHMS,
      });
      info = result.verified ? result.registrationInfo : undefined;
    } catch {
      info = undefined;
    }
    if (!info) return this.#refuse('register', 'attestation', ctx, user.id);
    const passkey = {
      id: randomUUID(),
      userId: user.id,
      credentialId: info.credential.id,
      publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
      counter: info.credential.counter,
      userHandle: issued.userHandle,
      transports: info.credential.transports ?? [],
      deviceType: info.credentialDeviceType,
      backedUp: info.credentialBackedUp,
      name: name?.trim().slice(0, NAME_MAX) || 'Passkey',
      createdAt: now,
    };
    const event = {
      type: 'passkey_registered',
      at: now,
      userId: user.id,
      sessionId: principal.sessionId,
      ip: ctx.ip,
      detail: { passkeyId: passkey.id, deviceType: passkey.deviceType },
    };
    const saved = await this.#o.store.insertPasskey(passkey, event);
    if (saved === 'no_user') throw new ApiError('INVALID_TOKEN');
    if (saved === 'duplicate') return this.#refuse('register', 'duplicate', ctx, user.id);
    this.#o.onEvent?.(event);
    return view({ ...passkey, lastUsedAt: null });
  }

  /**
   * Sign-in options. Without `mfaToken`: usernameless (no `allowCredentials`: the authenticator
   * offers its discoverable credentials). With one: the second step of that login, listing the
   * account's credentials (401 `MFA_TOKEN_INVALID` for a dead token, 404 without a passkey).
   */
  async loginOptions(mfaToken: string | undefined): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const { generateAuthenticationOptions } = await webauthn();
    if (mfaToken === undefined) {
      const options = await generateAuthenticationOptions({ rpID: this.#o.rpId, timeout: CHALLENGE_TTL_MS, userVerification: 'required' });
      await this.#challenge('login', options.challenge, {});
      return options;
    }
    const login = await this.#o.factors.pendingLogin(mfaToken);
    if (!login) throw new ApiError('MFA_TOKEN_INVALID');
    const passkeys = await this.#o.store.listPasskeys(login.userId);
    if (passkeys.length === 0) throw new ApiError('NOT_FOUND', 'This account has no passkey.');
    const options = await generateAuthenticationOptions({
      rpID: this.#o.rpId,
      timeout: CHALLENGE_TTL_MS,
      userVerification: 'required',
      allowCredentials: passkeys.map((p) => ({ id: p.credentialId, transports: p.transports as AuthenticatorTransportFuture[] })),
    });
    await this.#challenge('second_factor', options.challenge, { userId: login.userId, mfaTokenMac: login.mac });
    return options;
  }

  /**
   * Signs in with an assertion. Usernameless: a new session with `amr` `["hwk"]` or `["swk"]`
   * (bound to the request's DPoP key, like a login). With the `mfaToken` of a password login:
   * the second step, `["pwd","hwk"|"swk"]`, `aal2`. Every refusal → 401 `PASSKEY_INVALID`.
   */
  async loginVerify(response: unknown, mfaToken: string | undefined, ctx: RequestContext): Promise<IssuedTokens> {
    if (mfaToken !== undefined) {
      const login = await this.#o.factors.pendingLogin(mfaToken);
      if (!login) throw new ApiError('MFA_TOKEN_INVALID');
      const assertion = await this.#assertion(response, 'second_factor', login, ctx);
      return this.#o.factors.verify(mfaToken, { passkey: assertion.use, amr: assertion.amr }, ctx);
    }
    const dpopJkt = await this.#o.signInProof(ctx);
    const assertion = await this.#assertion(response, 'login', undefined, ctx);
    const { passkey, use } = assertion;
    if (!(await this.#o.store.usePasskey(use, this.#o.now()))) {
      await this.#counterRegression(passkey, use.counter, ctx);
      return this.#refuse('login', 'counter', ctx, passkey.userId);
    }
    const user = await this.#o.store.findUserById(passkey.userId);
    if (!user) return this.#refuse('login', 'credential', ctx);
    const tokens = await this.#o.startSession(
      user,
      { amr: [assertion.amr], acr: assertion.userVerified ? 'aal2' : 'aal1', method: 'passkey', dpopJkt },
      ctx,
    );
    // Every session of the account was ended while this sign-in ran.
    if (!tokens) return this.#refuse('login', 'credentials_changed', ctx, user.id);
    return tokens;
  }

  /** Removes a passkey of the caller: 404 for an unknown or another user's id (checked first), then aal2. */
  async remove(principal: AuthUser, id: string, ctx: RequestContext): Promise<void> {
    const user = await this.#o.factors.account(principal);
    const passkey = (await this.#o.store.listPasskeys(user.id)).find((p) => p.id === id);
    if (!passkey) throw new ApiError('NOT_FOUND', 'No such passkey.');
    const now = this.#o.now();
    requireAal2(principal, now);
    const event = { type: 'passkey_removed', at: now, userId: user.id, sessionId: principal.sessionId, ip: ctx.ip, detail: { passkeyId: id } };
    if (!(await this.#o.store.deletePasskey(user.id, id, event))) throw new ApiError('NOT_FOUND', 'No such passkey.');
    this.#o.onEvent?.(event);
  }

  async #counterRegression(passkey: PasskeyRecord, presented: number, ctx: RequestContext): Promise<void> {
    await this.#o.audit({
      type: 'passkey_counter_regression',
      at: this.#o.now(),
      userId: passkey.userId,
      ip: ctx.ip,
      detail: { passkeyId: passkey.id, stored: passkey.counter, presented },
    });
  }

  /**
   * Checks an assertion: its challenge consumed (issued for this `kind` and, on the second step,
   * this mfa token), a known credential (of the mfa token's account), the user handle, the
   * signature over the client data (origin, RP id, challenge), and a sign counter that moved
   * forward. The counter is recorded by the caller, conditionally (a race is a regression too).
   */
  async #assertion(response: unknown, kind: 'login' | 'second_factor', login: PendingLogin | undefined, ctx: RequestContext): Promise<Assertion> {
    const refuse = async (reason: string, userId: string | null = login?.userId ?? null): Promise<never> => {
      if (login) await this.#o.factors.refusePasskey(login, reason, ctx);
      return this.#refuse(kind, reason, ctx, userId);
    };
    const challenge = clientChallenge(response);
    const issued = challenge === undefined ? undefined : await this.#o.store.consumeWebauthnChallenge(challenge, kind, this.#o.now());
    if (!issued || (login && issued.mfaTokenMac !== login.mac)) return refuse('challenge');
    const { id, response: body } = response as { id?: unknown; response: { userHandle?: unknown } };
    const passkey = typeof id === 'string' ? await this.#o.store.findPasskeyByCredentialId(id) : undefined;
    if (!passkey || (login && passkey.userId !== login.userId)) return refuse('credential');
    if (body.userHandle !== undefined && body.userHandle !== passkey.userHandle) return refuse('user_handle', passkey.userId);
    const { verifyAuthenticationResponse } = await webauthn();
    let info: VerifiedAuthenticationResponse['authenticationInfo'] | undefined;
    try {
      const result = await verifyAuthenticationResponse({
        response: response as AuthenticationResponseJSON,
        expectedChallenge: issued.challenge,
        expectedOrigin: this.#o.origins(),
        expectedRPID: this.#o.rpId,
        credential: {
          id: passkey.credentialId,
          publicKey: new Uint8Array(Buffer.from(passkey.publicKey, 'base64url')),
          // The counter is checked below (to audit a regression), not by the library.
          counter: 0,
          transports: passkey.transports as AuthenticatorTransportFuture[],
        },
        requireUserVerification: false,
      });
      info = result.verified ? result.authenticationInfo : undefined;
    } catch {
      info = undefined;
    }
    if (!info) return refuse('signature', passkey.userId);
    const counter = info.newCounter;
    if ((counter !== 0 || passkey.counter !== 0) && counter <= passkey.counter) {
      await this.#counterRegression(passkey, counter, ctx);
      return refuse('counter', passkey.userId);
    }
    return {
      passkey,
      use: { passkeyId: passkey.id, userId: passkey.userId, counter, backedUp: info.credentialBackedUp },
      amr: info.credentialDeviceType === 'multiDevice' ? 'swk' : 'hwk',
      userVerified: info.userVerified,
    };
  }
}
