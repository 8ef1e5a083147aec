/**
 * `latchkey/client/dpop` — the browser client with sender-constrained tokens (DPoP, RFC 9449):
 *
 * ```ts
 * import { createAuthClient } from 'latchkey/client/dpop';
 * const auth = createAuthClient({ dpop: true });
 * ```
 *
 * Same client and API as `latchkey/client`; with `dpop: true` the session is bound to a
 * non-extractable ECDSA P-256 key kept in IndexedDB (one per origin, shared by every tab), and
 * every sign-in, refresh, sign-out and `auth.fetch` carries a proof signed with it. A separate
 * entry point, so that apps not using DPoP ship none of it. Web APIs only; needs a secure
 * context (WebCrypto). See docs/dpop.md.
 */
import { type AuthClient, type AuthClientOptions, createAuthClient as createBaseClient } from './client.js';
import { dpopFetch } from './dpop-fetch.js';
import { loadDpopKey } from './dpop-key.js';
import type { DpopKey } from './dpop-proof.js';

export type {
  AuthChange,
  AuthChangeListener,
  AuthChangeType,
  AuthClient,
  AuthClientOptions,
  LoginResult,
  MfaAnswer,
  SignInBuilder,
} from './client.js';
export type { Duration } from './duration.js';
export { AuthError } from './errors.js';
export type { AuthErrorCode } from './errors.js';

/** Options of this entry's {@link createAuthClient}: those of `latchkey/client`, plus `dpop`. */
export interface DpopAuthClientOptions extends AuthClientOptions {
  /** Bind the session to this origin's DPoP key. Default `false` (the plain client). */
  dpop?: boolean;
}

/** Creates the client; with `dpop: true` its tokens are bound to the origin's key. */
export function createAuthClient(options: DpopAuthClientOptions = {}): AuthClient {
  const { dpop, ...rest } = options;
  if (!dpop) return createBaseClient(rest);
  let key: Promise<DpopKey> | undefined;
  // A failure (IndexedDB blocked for a moment) is not remembered: the next request tries again.
  const loadKey = (): Promise<DpopKey> =>
    (key ??= loadDpopKey().catch((error: unknown) => {
      key = undefined;
      throw error;
    }));
  const inner = rest.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  return createBaseClient({ ...rest, fetch: dpopFetch(inner, loadKey) });
}
