/**
 * `latchkey/client/providers` — sign-in with an identity provider (docs/oidc.md):
 *
 * ```ts
 * import { createAuthClient } from 'latchkey/client';
 * import { signInWith } from 'latchkey/client/providers';
 * signInWith('google');                       // back to this page, signed in
 * signInWith('github', { redirect: '/home' });
 * // on the page it returns to:
 * const auth = createAuthClient();
 * if (await auth.restore()) { … } else if (location.hash.startsWith('#error=')) { … }
 * ```
 *
 * The page navigates (`location.assign`) to `auth/oauth/<provider>/start` of the server, which
 * sends it to the provider and back to `redirect` (default: the current path and query) with
 * the refresh cookie set, or with `#error=CODE`. A separate entry point, like
 * `latchkey/client/passkeys`: the base client is kept under its 4 KiB budget. Web APIs only.
 */

export interface ProviderSignInOptions {
  /** Where the sign-in returns: a path of the server's site, or a URL the server allows. Default: the current path and query. */
  redirect?: string;
  /** Where the auth API lives, as for `createAuthClient`; default: this page's origin. */
  baseUrl?: string;
}

/** Leaves the page for the provider `provider` (an `id` of `GET /auth/providers`). */
export function signInWith(provider: string, options: ProviderSignInOptions = {}): void {
  const here = globalThis.location;
  const base = new URL(options.baseUrl ?? here.origin);
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  const start = new URL(`auth/oauth/${encodeURIComponent(provider)}/start`, base);
  start.searchParams.set('redirect', options.redirect ?? here.pathname + here.search);
  here.assign(start.href);
}
