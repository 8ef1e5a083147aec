/**
 * `latchkey/client/passkeys` — passkeys (WebAuthn) for the browser client (docs/client.md#passkeys):
 *
 * ```ts
 * import { createAuthClient } from 'latchkey/client';
 * import { withPasskeys } from 'latchkey/client/passkeys';
 * const auth = withPasskeys(createAuthClient());
 * await auth.signInWithPasskey();          // usernameless, or the second step of auth.login()
 * await auth.registerPasskey({ name: 'Laptop' });
 * ```
 *
 * The ceremonies run through `@simplewebauthn/browser` (`navigator.credentials` with the
 * base64url glue of every browser, the native JSON parsers where they exist). A separate entry
 * point, so that apps without passkeys ship none of it; it works with the client of
 * `latchkey/client` and of `latchkey/client/dpop`. Web APIs only; needs a secure context
 * (`https:` or `http://localhost`). A user who cancels the browser's prompt gets the browser's
 * error (`NotAllowedError`, a `WebAuthnError` of `@simplewebauthn/browser`), not an `AuthError`.
 */
import {
  startAuthentication,
  startRegistration,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/browser';
import type { AuthClient } from './client.js';
import { errorFromResponse } from './errors.js';

/** A passkey as its owner sees it (`GET /auth/passkeys`). */
export interface Passkey {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
}

/** `auth.fetch` of a JSON request: the answer's JSON, or throws its `AuthError`. */
async function call<T>(auth: AuthClient, method: string, path: string, body?: object): Promise<T> {
  const response = await auth.fetch(path, {
    method,
    ...(body ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
  });
  if (!response.ok) throw await errorFromResponse(response);
  return (response.status === 204 ? undefined : await response.json()) as T;
}

/** The passkey methods {@link withPasskeys} adds to a client. */
export interface PasskeyMethods {
  /**
   * Signs in with a passkey. After an `auth.login()` that answered `{mfaRequired: true}` (with
   * `webauthn` in `factors`) this is the second step: the browser offers that account's passkeys.
   * Otherwise usernameless: the browser offers every passkey it holds for this site. Resolves when
   * signed in (`onChange` fires `signed-in`); throws `AuthError` (`PASSKEY_INVALID`,
   * `MFA_TOKEN_INVALID`, …) or the browser's error.
   */
  signInWithPasskey(): Promise<void>;
  /**
   * Creates a passkey for the signed-in user and stores it on the server. When the account already
   * has a second factor, the session must be aal2 (signed in with it): else `AuthError`
   * `STEP_UP_REQUIRED`.
   */
  registerPasskey(options?: { name?: string }): Promise<Passkey>;
  /** The signed-in user's passkeys, oldest first. */
  listPasskeys(): Promise<Passkey[]>;
  /** Removes one of the signed-in user's passkeys (needs an aal2 session: else `STEP_UP_REQUIRED`). */
  removePasskey(id: string): Promise<void>;
}

/**
 * Adds `signInWithPasskey()`, `registerPasskey()`, `listPasskeys()` and `removePasskey()` to a
 * client of `latchkey/client` or `latchkey/client/dpop`, and returns that same client.
 */
export function withPasskeys<C extends AuthClient>(auth: C): C & PasskeyMethods {
  const methods: PasskeyMethods = {
    async signInWithPasskey() {
      await auth.signInAt('passkeys/login/verify', async (mfaToken, post) => {
        const optionsJSON = (await post('passkeys/login/options', mfaToken ? { mfaToken } : {})) as PublicKeyCredentialRequestOptionsJSON;
        return { ...(await startAuthentication({ optionsJSON })), mfaToken };
      });
    },
    async registerPasskey(options = {}) {
      const optionsJSON = await call<PublicKeyCredentialCreationOptionsJSON>(auth, 'POST', 'auth/passkeys/register/options');
      const response = await startRegistration({ optionsJSON });
      return (await call<{ passkey: Passkey }>(auth, 'POST', 'auth/passkeys/register/verify', { ...response, name: options.name })).passkey;
    },
    async listPasskeys() {
      return (await call<{ passkeys: Passkey[] }>(auth, 'GET', 'auth/passkeys')).passkeys;
    },
    async removePasskey(id) {
      await call<undefined>(auth, 'DELETE', `auth/passkeys/${encodeURIComponent(id)}`);
    },
  };
  return Object.assign(auth, methods);
}

export { AuthError } from './errors.js';
export type { AuthErrorCode } from './errors.js';
