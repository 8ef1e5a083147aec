/**
 * The two steps of a sign-in with an identity provider (docs/oidc.md), between the HTTP routes
 * (`src/http/routes/oauth.ts`, which only carry requests in and answers out) and the policy of
 * `AuthService` (who signs in, what gets linked):
 *
 * - `start`: the redirect target checked (`redirect.ts`), a link request checked against the
 *   caller's live session, fresh PKCE/`state`/`nonce` sealed into the flow cookie, the
 *   provider's authorization URL (discovery fetched lazily; 503 when it cannot be fetched in time).
 * - `callback`: the flow cookie opened and its `state` compared, and the flow claimed once in the
 *   store — all before any request to the provider (`OAUTH_STATE_MISMATCH`); then the provider
 *   exchanges the code and every token check runs (`OAUTH_FAILED`); then the service signs in or
 *   links. Every outcome is a 302 to the flow's target, failures with `#error=CODE`.
 */
import { timingSafeEqual } from 'node:crypto';
import { ApiError, type ErrorCode } from '../errors.js';
import type { AuthService, IssuedTokens, MfaChallenge, RequestContext } from '../auth/service.js';
import type { Store } from '../store/types.js';
import { checkRedirect } from './redirect.js';
import { FLOW_TTL_SECONDS, newFlowId, readFlowCookie, type FlowState } from './flow-cookie.js';
import { newFlowSecrets, ProviderError, type IdentityProvider } from './providers.js';

export interface ProviderView {
  id: string;
  name: string;
  type: 'oidc' | 'github';
}

export interface OAuthFlowsOptions {
  auth: AuthService;
  store: Store;
  providers: ReadonlyMap<string, IdentityProvider>;
  /** `deriveKeys().oauthFlowSeal`. */
  sealKey: Buffer;
  /** The origin of `LATCHKEY_ISSUER`: redirect URIs are built on it, never on the request's Host. */
  issuerOrigin: string;
  allowedRedirects: readonly string[];
  cookieSecure: boolean;
  now: () => number;
  /** Why provider steps failed (never a token, code or secret). */
  logger?: { warn(obj: object, msg: string): void } | undefined;
}

export interface StartRequest {
  /** The `redirect` query parameter. */
  redirect: string | undefined;
  link: boolean;
  /** The refresh cookie, for `link`. */
  refreshToken: string | undefined;
  /** The `Sec-Fetch-Site` header, for `link`. */
  secFetchSite: string | undefined;
  /** Where the auth routes are mounted (`/auth`). */
  mountPath: string;
}

export type CallbackOutcome =
  | { kind: 'signed_in'; location: string; tokens: IssuedTokens }
  | { kind: 'mfa'; location: string }
  | { kind: 'linked'; location: string }
  | { kind: 'failed'; location: string; code: ErrorCode };

const sameText = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** `target` with `fragment` appended (the target never has one: `checkRedirect` refuses `#`). */
const withFragment = (target: string, fragment: URLSearchParams) => `${target}#${fragment.toString()}`;

export class OAuthFlows {
  readonly #o: OAuthFlowsOptions;

  constructor(options: OAuthFlowsOptions) {
    this.#o = options;
  }

  /** The key the flow cookie is sealed under. */
  get sealKey(): Buffer {
    return this.#o.sealKey;
  }

  /** `GET /auth/providers`: the configured providers, never a secret. */
  list(): ProviderView[] {
    return [...this.#o.providers.values()].map(({ id, name, type }) => ({ id, name, type }));
  }

  /** `redirect_uri` of a provider: the issuer's origin, the mount path, `/oauth/<id>/callback`. */
  redirectUri(providerId: string, mountPath: string): string {
    return `${this.#o.issuerOrigin}${mountPath === '/' ? '' : mountPath}/oauth/${providerId}/callback`;
  }

  /** The first step: where to send the browser, and the flow to seal into its cookie. Throws `ApiError`. */
  async start(providerId: string, request: StartRequest, ctx: RequestContext): Promise<{ location: string; flow: FlowState }> {
    const { auth } = this.#o;
    await auth.beforeOAuth(ctx);
    const provider = this.#o.providers.get(providerId);
    if (!provider) throw new ApiError('NOT_FOUND', 'No such identity provider.');
    if (auth.dpopRequired) throw new ApiError('DPOP_REQUIRED', 'This server signs in only with a DPoP proof, which a provider sign-in cannot carry.');
    const redirect = checkRedirect(request.redirect, this.#o.allowedRedirects);
    if (!redirect.ok) throw new ApiError('REDIRECT_NOT_ALLOWED');
    let link: FlowState['link'] = null;
    if (request.link) {
      if (request.secFetchSite?.toLowerCase() !== 'same-origin') {
        throw new ApiError('INVALID_REFRESH_TOKEN', 'Linking a provider starts from a page of this site (Sec-Fetch-Site: same-origin).');
      }
      if (request.refreshToken === undefined) throw new ApiError('NO_REFRESH_TOKEN');
      link = (await auth.linkTargetOf(request.refreshToken)) ?? null;
      if (!link) throw new ApiError('INVALID_REFRESH_TOKEN', 'Linking a provider needs a live session of this browser (not a DPoP-bound one).');
    }
    const secrets = await newFlowSecrets();
    let url: URL;
    try {
      url = await provider.authorizationUrl({
        redirectUri: this.redirectUri(provider.id, request.mountPath),
        state: secrets.state,
        nonce: secrets.nonce,
        codeChallenge: secrets.codeChallenge,
      });
    } catch (error) {
      if (!(error instanceof ProviderError)) throw error;
      this.#o.logger?.warn({ provider: provider.id, reason: error.reason }, 'identity provider unavailable at sign-in start');
      throw new ApiError('UNAVAILABLE', 'The identity provider cannot be reached; try again later.');
    }
    const flow: FlowState = {
      id: newFlowId(),
      provider: provider.id,
      state: secrets.state,
      nonce: secrets.nonce,
      codeVerifier: secrets.codeVerifier,
      redirect: redirect.target,
      link,
      expiresAt: this.#o.now() + FLOW_TTL_SECONDS * 1000,
    };
    return { location: url.href, flow };
  }

  /**
   * The second step. Never throws for a failed sign-in: the outcome names where to send the
   * browser (`#error=CODE` on failure). Throws only `RATE_LIMITED` (before anything else) and
   * what the store throws when the database is down.
   */
  async callback(
    providerId: string,
    query: URLSearchParams,
    cookieHeader: string | undefined,
    mountPath: string,
    ctx: RequestContext,
  ): Promise<CallbackOutcome> {
    const { auth, store } = this.#o;
    await auth.beforeOAuth(ctx);
    const now = this.#o.now();
    const method = providerId === 'github' ? 'github' : `oidc:${providerId}`;
    const flow = readFlowCookie(this.#o.sealKey, this.#o.cookieSecure, cookieHeader, now);
    const target = flow?.redirect ?? '/';
    const fail = async (code: ErrorCode, reason: string): Promise<CallbackOutcome> => {
      await auth.audit({ type: 'login_failure', at: this.#o.now(), ip: ctx.ip, detail: { method, reason } });
      return { kind: 'failed', location: withFragment(target, new URLSearchParams({ error: code })), code };
    };
    // Nothing below asks the provider until the flow is ours, for this provider, with this state, and unused.
    const provider = this.#o.providers.get(providerId);
    if (!flow) return fail('OAUTH_STATE_MISMATCH', 'no_flow_cookie');
    if (!provider || flow.provider !== providerId) return fail('OAUTH_STATE_MISMATCH', 'other_provider');
    const state = query.get('state');
    if (state === null || !sameText(state, flow.state)) return fail('OAUTH_STATE_MISMATCH', 'state_mismatch');
    if (!(await store.claimOAuthFlow(flow.id, flow.expiresAt, now))) return fail('OAUTH_STATE_MISMATCH', 'flow_used');

    const callbackUrl = new URL(this.redirectUri(provider.id, mountPath));
    for (const [key, value] of query) callbackUrl.searchParams.append(key, value);
    let profile: Awaited<ReturnType<IdentityProvider['complete']>>;
    try {
      profile = await provider.complete(callbackUrl, { state: flow.state, nonce: flow.nonce, codeVerifier: flow.codeVerifier });
    } catch (error) {
      if (!(error instanceof ProviderError)) throw error;
      this.#o.logger?.warn({ provider: provider.id, reason: error.reason }, 'identity provider sign-in failed');
      return fail('OAUTH_FAILED', error.reason);
    }
    const federated = { provider: provider.id, ...profile, method };
    try {
      if (flow.link) {
        await auth.linkIdentity(flow.link, federated, ctx);
        return { kind: 'linked', location: withFragment(target, new URLSearchParams({ linked: provider.id })) };
      }
      const result: IssuedTokens | MfaChallenge = await auth.federatedSignIn(federated, ctx);
      if ('mfaRequired' in result) {
        // The second step, as after a password: the page posts the token with a code to /auth/mfa/verify.
        const fragment = new URLSearchParams({ mfaToken: result.mfaToken, factors: result.factors.join(',') });
        return { kind: 'mfa', location: withFragment(target, fragment) };
      }
      return { kind: 'signed_in', location: target, tokens: result };
    } catch (error) {
      // A database outage is the server's answer (503), not a failed sign-in.
      if (!(error instanceof ApiError) || error.code === 'UNAVAILABLE' || error.code === 'INTERNAL') throw error;
      // The service audited its refusal already.
      return { kind: 'failed', location: withFragment(target, new URLSearchParams({ error: error.code })), code: error.code };
    }
  }
}
