/**
 * The identity providers (docs/oidc.md): an OpenID Connect provider found by discovery, and the
 * GitHub preset (OAuth 2.0 and its REST API). The protocol is panva's certified `openid-client`,
 * loaded on the first sign-in (an instance without providers never imports it): PKCE S256,
 * `state`, `nonce`, the RFC 9207 `iss` check, and the ID token's `iss`, `aud`, `exp`, `iat`,
 * `nonce` and `azp` — with the signature always verified against the provider's JWKS
 * (`enableNonRepudiationChecks`), whatever OIDC Core §3.1.3.7 allows over TLS. Our code here is
 * only what the library leaves to its user: which claims count, the e-mail rule of GitHub, and
 * time limits (docs/oidc.md#timeouts).
 *
 * Nothing here decides who signs in: a provider turns a callback into a {@link ProviderProfile},
 * or fails with {@link ProviderError}.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Configuration } from 'openid-client';
import type { GithubConfig, OidcProviderConfig } from '../config/config.js';

type OpenIdClient = typeof import('openid-client');
let loading: Promise<OpenIdClient> | undefined;
/** `openid-client`, imported once, on first use. */
function openid(): Promise<OpenIdClient> {
  loading ??= import('openid-client');
  return loading;
}

/** What a provider says about the account that signed in, after every check passed. */
export interface ProviderProfile {
  /** The provider's stable id of the account (`sub`; GitHub's numeric user id). */
  subject: string;
  /** Trimmed; `null` when the provider gave none. */
  email: string | null;
  /** Only a literal `true` from the provider counts. */
  emailVerified: boolean;
}

/** Why a provider step failed: `unavailable` (the provider could not be reached in time, at start) or `failed` (anything at the callback). */
export class ProviderError extends Error {
  constructor(
    readonly kind: 'unavailable' | 'failed',
    /** A short reason for logs and the audit (never a token or code): `discovery`, `token_request`, `id_token`, `userinfo`, `no_email`, … */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`identity provider ${kind}: ${reason}`, options);
    this.name = 'ProviderError';
  }
}

/** The checks a callback is held to: the values the start put into the flow cookie. */
export interface CallbackChecks {
  state: string;
  nonce: string;
  codeVerifier: string;
}

export interface IdentityProvider {
  readonly id: string;
  /** For people (`Google`, `GitHub`). */
  readonly name: string;
  readonly type: 'oidc' | 'github';
  /** The URL to send the browser to. Throws {@link ProviderError} `unavailable` when discovery cannot be fetched in time. */
  authorizationUrl(params: { redirectUri: string; state: string; nonce: string; codeChallenge: string }): Promise<URL>;
  /** Exchanges the code of `callbackUrl` (our redirect URI with the provider's query) and returns the account. Throws {@link ProviderError}. */
  complete(callbackUrl: URL, checks: CallbackChecks): Promise<ProviderProfile>;
}

export interface ProviderOptions {
  /** Seconds each request to a provider may take (`LATCHKEY_OAUTH_TIMEOUT`). */
  timeoutSeconds: number;
  /** Milliseconds a whole callback may spend on the provider (timeout + 5 s). */
  callbackBudgetMs: number;
}

/** Discovery is cached this long, then fetched again on the next start (a failure keeps the old copy). */
const DISCOVERY_TTL_MS = 3600_000;
/** The ID-token clock tolerance, seconds (at most 60). */
const CLOCK_TOLERANCE_SECONDS = 30;

/**
 * The deadline of the current callback: every request the library makes in it is aborted when
 * the whole callback has spent its budget, not only when one request took `timeout`.
 */
const deadlines = new AsyncLocalStorage<AbortSignal>();

const boundedFetch = (url: string, init: RequestInit): Promise<Response> => {
  const deadline = deadlines.getStore();
  const signal = deadline && init.signal ? AbortSignal.any([init.signal, deadline]) : (deadline ?? init.signal);
  return fetch(url, { ...init, ...(signal ? { signal } : {}) });
};

function withDeadline<T>(budgetMs: number, fn: () => Promise<T>): Promise<T> {
  return deadlines.run(AbortSignal.timeout(budgetMs), fn);
}

const isHttp = (url: string) => new URL(url).protocol === 'http:';

/** The library's configuration hooks shared by both kinds: our fetch, the timeout, plain http only for loopback issuers. */
async function prepare(config: Configuration, insecure: boolean, timeoutSeconds: number): Promise<Configuration> {
  const client = await openid();
  config[client.customFetch] = boundedFetch as never;
  config.timeout = timeoutSeconds;
  if (insecure) client.allowInsecureRequests(config);
  return config;
}

function profileOf(subject: unknown, email: unknown, emailVerified: unknown): ProviderProfile {
  if (typeof subject !== 'string' || subject === '') throw new ProviderError('failed', 'no_subject');
  const address = typeof email === 'string' && email.trim() !== '' ? email.trim() : null;
  return { subject, email: address, emailVerified: emailVerified === true };
}

/** An OpenID Connect provider by issuer URL (`LATCHKEY_OIDC_<NAME>_*`). */
class OidcProvider implements IdentityProvider {
  readonly type = 'oidc' as const;
  readonly id: string;
  readonly name: string;
  readonly #config: OidcProviderConfig;
  readonly #options: ProviderOptions;
  #cached: { config: Configuration; at: number } | undefined;
  #inflight: Promise<Configuration> | undefined;

  constructor(config: OidcProviderConfig, options: ProviderOptions) {
    this.#config = config;
    this.#options = options;
    this.id = config.id;
    this.name = config.id.charAt(0).toUpperCase() + config.id.slice(1).replace(/_/g, ' ');
  }

  /** Discovery, fetched lazily, shared by concurrent callers, cached for an hour (an old copy is used while a refetch fails). */
  async #discover(): Promise<Configuration> {
    const cached = this.#cached;
    if (cached && Date.now() - cached.at < DISCOVERY_TTL_MS) return cached.config;
    this.#inflight ??= this.#fetchDiscovery().finally(() => {
      this.#inflight = undefined;
    });
    try {
      return await this.#inflight;
    } catch (error) {
      if (cached) return cached.config;
      throw error;
    }
  }

  async #fetchDiscovery(): Promise<Configuration> {
    const client = await openid();
    const { issuer, clientId, clientSecret } = this.#config;
    const insecure = isHttp(issuer);
    let discovered: Configuration;
    try {
      discovered = await withDeadline(this.#options.timeoutSeconds * 1000, () =>
        client.discovery(new URL(issuer), clientId, undefined, undefined, {
          timeout: this.#options.timeoutSeconds,
          [client.customFetch]: boundedFetch as never,
          ...(insecure ? { execute: [client.allowInsecureRequests] } : {}),
        }),
      );
    } catch (cause) {
      throw new ProviderError('unavailable', 'discovery', { cause });
    }
    // The client authentication the provider supports: HTTP Basic when it lists it (or lists
    // nothing: RFC 8414's default), else the secret in the body.
    const metadata = discovered.serverMetadata();
    const methods = metadata.token_endpoint_auth_methods_supported ?? ['client_secret_basic'];
    const auth = methods.includes('client_secret_basic') ? client.ClientSecretBasic(clientSecret) : client.ClientSecretPost(clientSecret);
    const config = new client.Configuration(
      metadata,
      clientId,
      { client_secret: clientSecret, [client.clockTolerance]: CLOCK_TOLERANCE_SECONDS },
      auth,
    );
    await prepare(config, insecure, this.#options.timeoutSeconds);
    client.enableNonRepudiationChecks(config);
    this.#cached = { config, at: Date.now() };
    return config;
  }

  async authorizationUrl(params: { redirectUri: string; state: string; nonce: string; codeChallenge: string }): Promise<URL> {
    const client = await openid();
    const config = await this.#discover();
    return client.buildAuthorizationUrl(config, {
      redirect_uri: params.redirectUri,
      response_type: 'code',
      scope: 'openid email profile',
      state: params.state,
      nonce: params.nonce,
      code_challenge: params.codeChallenge,
      code_challenge_method: 'S256',
    });
  }

  complete(callbackUrl: URL, checks: CallbackChecks): Promise<ProviderProfile> {
    return withDeadline(this.#options.callbackBudgetMs, async () => {
      const client = await openid();
      let config: Configuration;
      try {
        config = await this.#discover();
      } catch (cause) {
        throw new ProviderError('failed', 'discovery', { cause });
      }
      let tokens: Awaited<ReturnType<OpenIdClient['authorizationCodeGrant']>>;
      try {
        tokens = await client.authorizationCodeGrant(config, callbackUrl, {
          pkceCodeVerifier: checks.codeVerifier,
          expectedState: checks.state,
          expectedNonce: checks.nonce,
          idTokenExpected: true,
        });
      } catch (cause) {
        throw new ProviderError('failed', reasonOf(cause), { cause });
      }
      const claims = tokens.claims();
      if (!claims) throw new ProviderError('failed', 'id_token');
      let email: unknown = claims.email;
      let verified: unknown = claims.email_verified;
      // Claims come from the validated ID token, completed from userinfo (which must name the same `sub`).
      if ((email === undefined || verified === undefined) && config.serverMetadata().userinfo_endpoint) {
        try {
          const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
          email ??= info.email;
          verified ??= info.email_verified;
        } catch (cause) {
          throw new ProviderError('failed', 'userinfo', { cause });
        }
      }
      return profileOf(claims.sub, email, verified);
    });
  }
}

/** A short, non-secret reason for an `openid-client` failure. */
function reasonOf(error: unknown): string {
  const name = (error as { name?: unknown } | null)?.name;
  if (name === 'AuthorizationResponseError') return 'provider_error';
  if (name === 'ResponseBodyError') return 'token_request';
  if (name === 'TimeoutError' || name === 'AbortError') return 'timeout';
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code.toLowerCase() : 'token_request';
}

interface GithubEmail {
  email?: unknown;
  primary?: unknown;
  verified?: unknown;
}

/**
 * The GitHub preset: an OAuth App (or GitHub App) authorization with PKCE and `state`, scope
 * `read:user user:email`; the account is `GET /user` (its numeric `id`), the address the primary
 * one with `verified: true` from `GET /user/emails`, else the sign-in fails. GitHub issues no ID
 * token, so `nonce` plays no part.
 */
class GithubProvider implements IdentityProvider {
  readonly type = 'github' as const;
  readonly id = 'github';
  readonly name = 'GitHub';
  readonly #github: GithubConfig;
  readonly #options: ProviderOptions;
  readonly #webUrl: string;
  readonly #apiUrl: string;
  #config: Promise<Configuration> | undefined;

  constructor(github: GithubConfig, options: ProviderOptions) {
    this.#github = github;
    this.#options = options;
    this.#webUrl = (github.webUrl ?? 'https://github.com').replace(/\/+$/, '');
    this.#apiUrl = (github.apiUrl ?? 'https://api.github.com').replace(/\/+$/, '');
  }

  #configuration(): Promise<Configuration> {
    this.#config ??= (async () => {
      const client = await openid();
      const config = new client.Configuration(
        {
          issuer: this.#webUrl,
          authorization_endpoint: `${this.#webUrl}/login/oauth/authorize`,
          token_endpoint: `${this.#webUrl}/login/oauth/access_token`,
        },
        this.#github.clientId,
        { client_secret: this.#github.clientSecret },
        client.ClientSecretPost(this.#github.clientSecret),
      );
      return prepare(config, isHttp(this.#webUrl), this.#options.timeoutSeconds);
    })();
    return this.#config;
  }

  async authorizationUrl(params: { redirectUri: string; state: string; codeChallenge: string }): Promise<URL> {
    const client = await openid();
    return client.buildAuthorizationUrl(await this.#configuration(), {
      redirect_uri: params.redirectUri,
      scope: 'read:user user:email',
      state: params.state,
      code_challenge: params.codeChallenge,
      code_challenge_method: 'S256',
      allow_signup: 'true',
    });
  }

  complete(callbackUrl: URL, checks: CallbackChecks): Promise<ProviderProfile> {
    return withDeadline(this.#options.callbackBudgetMs, async () => {
      const client = await openid();
      let accessToken: string;
      try {
        const tokens = await client.authorizationCodeGrant(await this.#configuration(), callbackUrl, {
          pkceCodeVerifier: checks.codeVerifier,
          expectedState: checks.state,
        });
        accessToken = tokens.access_token;
      } catch (cause) {
        throw new ProviderError('failed', reasonOf(cause), { cause });
      }
      const user = (await this.#api('/user', accessToken)) as { id?: unknown } | null;
      const emails = await this.#api('/user/emails', accessToken);
      const id = user?.id;
      if (typeof id !== 'number' && typeof id !== 'string') throw new ProviderError('failed', 'no_subject');
      const primary = Array.isArray(emails) ? (emails as GithubEmail[]).find((e) => e?.primary === true && e.verified === true) : undefined;
      if (typeof primary?.email !== 'string') throw new ProviderError('failed', 'no_verified_primary_email');
      return profileOf(String(id), primary.email, true);
    });
  }

  async #api(path: string, accessToken: string): Promise<unknown> {
    let response: Response;
    try {
      response = await boundedFetch(`${this.#apiUrl}${path}`, {
        headers: {
          accept: 'application/vnd.github+json',
          authorization: `Bearer ${accessToken}`,
          'user-agent': 'latchkey',
          'x-github-api-version': '2022-11-28',
        },
        redirect: 'error',
        signal: AbortSignal.timeout(this.#options.timeoutSeconds * 1000),
      });
      if (!response.ok) throw new ProviderError('failed', `github_api_${response.status}`);
      return await response.json();
    } catch (cause) {
      if (cause instanceof ProviderError) throw cause;
      throw new ProviderError('failed', 'github_api', { cause });
    }
  }
}

/** The configured providers, by id. */
export function createProviders(
  config: { oidcProviders: readonly OidcProviderConfig[]; github: GithubConfig | undefined },
  options: ProviderOptions,
): Map<string, IdentityProvider> {
  const providers = new Map<string, IdentityProvider>();
  for (const provider of config.oidcProviders) providers.set(provider.id, new OidcProvider(provider, options));
  if (config.github) providers.set('github', new GithubProvider(config.github, options));
  return providers;
}

/** The PKCE, `state` and `nonce` values of a new flow (`openid-client`'s generators). */
export async function newFlowSecrets(): Promise<{ state: string; nonce: string; codeVerifier: string; codeChallenge: string }> {
  const client = await openid();
  const codeVerifier = client.randomPKCECodeVerifier();
  return {
    state: client.randomState(),
    nonce: client.randomNonce(),
    codeVerifier,
    codeChallenge: await client.calculatePKCECodeChallenge(codeVerifier),
  };
}
