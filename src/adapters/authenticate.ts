/**
 * What `requireAuth` does, independent of the framework: bearer extraction, verification
 * (the local service, or a remote JWKS), the optional live-session check, and the translation
 * of failures into API answers (docs/http-api.md#bearer-failures). The Express and Fastify adapters
 * only move these results in and out of their request objects.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { ApiError, ConfigError, type ConfigReason, type ErrorCode } from '../errors.js';
import type { Latchkey } from '../latchkey.js';
import {
  authenticateAccessToken,
  createAccessTokenVerifier,
  DEFAULT_CLOCK_TOLERANCE,
  isAssuranceLevel,
  meetsStepUp,
  stepUpChallenge,
  type AssuranceLevel,
  type AuthenticateResult,
  type AuthUser,
} from '../auth/access-token.js';
import type { JwsAlgorithm, Verifier } from '../jwt/index.js';
import { dpopChallenge, dpopHeaderOf, extractCredentials } from '../http/bearer.js';
import { toApiError } from '../http/errors.js';
import { createRemoteJwks, type RemoteJwks, type RemoteJwksOptions } from '../jwks/index.js';
import { createProofVerifier, type ProofVerifier } from '../dpop/proof.js';
import { MemoryReplayCache, type ReplayCache } from '../dpop/replay.js';
import { createDpopNonces, type DpopNonces } from '../dpop/nonce.js';
import { cachedSessionCheck, DEFAULT_SESSION_CACHE_MS, MAX_SESSION_CACHE_MS, type SessionCheck } from './session-check.js';

export type { AuthUser } from '../auth/access-token.js';

interface CommonOptions {
  /**
   * Also reject tokens whose session was revoked (401 `SESSION_REVOKED`), for routes that need
   * instant logout. Costs a store lookup per session every `sessionCacheMs`. Default `false`.
   */
  checkSession?: boolean;
  /** How long a "session is live" answer is reused (ms, 0..5000). Default 2000. */
  sessionCacheMs?: number;
  /**
   * Remembers the DPoP proofs of `Authorization: DPoP` requests (docs/dpop.md#resource-servers).
   * Default: in memory, per middleware; give a shared (Redis) one when several instances serve
   * the same routes.
   */
  dpopReplayCache?: ReplayCache;
  /**
   * The origin (`https://api.example.com`) the `htu` of DPoP proofs must name. Default: the
   * request's own scheme and `Host` (as the framework's trust-proxy setting reports them).
   */
  origin?: string;
  /**
   * Server nonces (RFC 9449 §8, docs/dpop.md#server-nonces): a DPoP proof without the current
   * nonce gets 401 `USE_DPOP_NONCE` with `WWW-Authenticate: DPoP error="use_dpop_nonce"`, and
   * every answer passing this middleware carries the current one in `DPoP-Nonce`. With
   * `latchkey`, the deployment's nonces (shared by every instance with the same
   * `LATCHKEY_SECRET`); with a remote JWKS, nonces of this middleware only. Default `false`.
   */
  dpopNonce?: boolean;
  /**
   * Step-up (RFC 9470, docs/mfa.md#step-up-for-resource-servers): the least assurance level the
   * token's `acr` must show (`aal1` < `aal2` < `aal3`; a token without `acr` counts as `aal1`).
   * Weaker → 401 `STEP_UP_REQUIRED` with `WWW-Authenticate: Bearer
   * error="insufficient_user_authentication", acr_values="aal2"`. Default: none.
   */
  acr?: AssuranceLevel;
  /**
   * Step-up: seconds since the user last authenticated (`auth_time`), at most (plus the clock
   * tolerance). Older, or a token without `auth_time` → 401 `STEP_UP_REQUIRED` whose challenge
   * carries `max_age`. Default: none.
   */
  maxAge?: number;
}

/** Verify with the service of this process (the app that also mounts the auth routes). */
export interface LocalAuthOptions extends CommonOptions {
  latchkey: Latchkey;
}

/** Verify with the public keys of a remote Latchkey (a separate resource server). */
export interface RemoteAuthOptions extends CommonOptions {
  /**
   * The auth server's JWKS, e.g. `https://auth.example.com/.well-known/jwks.json`. Without it
   * (and without `jwks`), the JWKS is found by discovery from `issuer`
   * (`${issuer}/.well-known/openid-configuration`, which must name exactly that issuer).
   */
  jwksUrl?: string | URL;
  /** A JWKS client to share between middlewares (instead of `jwksUrl`). */
  jwks?: RemoteJwks;
  /** Settings of the JWKS client created for `jwksUrl` or discovery (timeout, cooldown, fetch, ...). */
  jwksOptions?: Omit<RemoteJwksOptions, 'url'>;
  /** Accepted `iss` (the auth server's `LATCHKEY_ISSUER`). */
  issuer: string | string[];
  /** Accepted `aud` (the auth server's `LATCHKEY_AUDIENCE`). */
  audience: string | string[];
  /** Accepted algorithms. Default `['ES256', 'EdDSA', 'RS256']` (`PUBLIC_KEY_ALGORITHMS`; HS256 never travels in a JWKS). */
  algorithms?: JwsAlgorithm[];
  /** Seconds of clock skew tolerated, 0..60. Default 5 (`DEFAULT_CLOCK_TOLERANCE`, as the service's). */
  clockTolerance?: number;
  /** Current time in ms. Default `Date.now`. */
  now?: () => number;
  /** Required with `checkSession` (a resource server has no session store): is this session live? */
  isSessionLive?: SessionCheck;
  /**
   * Verified tokens remembered so a repeated token costs a lookup, not a signature check
   * (expiry and key are re-checked on every hit). Default 10 000; 0 turns the cache off.
   */
  verifiedTokenCacheSize?: number;
}

export type RequireAuthOptions = LocalAuthOptions | RemoteAuthOptions;

export type AuthOutcome = { ok: true; user: AuthUser } | { ok: false; error: ApiError };

/** What a DPoP proof of the request must name: its method and `htu` (computed only when needed). */
export interface RequestTarget {
  method: string;
  htu(): string;
}

/**
 * Authenticates the request with these headers (and, for `Authorization: DPoP`, its target).
 * Synchronous unless the network or store is needed.
 */
export type Authenticator = ((headers: IncomingHttpHeaders, target?: RequestTarget) => AuthOutcome | Promise<AuthOutcome>) & {
  /** With `dpopNonce: true`: the nonce every answer is to carry in `DPoP-Nonce` now. */
  readonly dpopNonce?: (() => string) | undefined;
};

/** The `htu` of a request: `origin` (or the request's scheme and host) + the path, without query. */
export function requestHtu(origin: string | undefined, protocol: string, host: string | undefined, url: string): string {
  const query = url.indexOf('?');
  const path = query === -1 ? url : url.slice(0, query);
  return `${origin ?? `${protocol}://${host ?? ''}`}${path}`;
}

/**
 * A 401 with the DPoP challenge first (RFC 9449 §7.1): `invalid_token` for a bound token sent
 * as Bearer or an unbound one sent as DPoP, `invalid_dpop_proof` for a missing or bad proof.
 */
function dpopFail(code: 'INVALID_TOKEN' | 'INVALID_DPOP_PROOF' | 'TOKEN_EXPIRED' | 'USE_DPOP_NONCE'): AuthOutcome {
  return { ok: false, error: new ApiError(code, undefined, { challenge: dpopChallenge(code) }) };
}

/** A misconfigured `requireAuth`: the same `ConfigError` (`CONFIG_INVALID`) as any other option, naming `requireAuth`. */
function configError(message: string, reason: ConfigReason): ConfigError {
  return new ConfigError('requireAuth', message, reason);
}

const fail = (code: ErrorCode): AuthOutcome => ({ ok: false, error: new ApiError(code) });

/** Validates the options once and returns the per-request function. */
export function createAuthenticator(options: RequireAuthOptions): Authenticator {
  if (typeof options !== 'object' || options === null) throw configError('options are required', 'required');
  const ttl = options.sessionCacheMs ?? DEFAULT_SESSION_CACHE_MS;
  if (!Number.isFinite(ttl) || ttl < 0 || ttl > MAX_SESSION_CACHE_MS) {
    throw configError(`sessionCacheMs must be between 0 and ${MAX_SESSION_CACHE_MS}`, 'range');
  }
  const local = 'latchkey' in options && options.latchkey !== undefined;
  const remote = options as Partial<RemoteAuthOptions>;
  if (local && (remote.jwksUrl !== undefined || remote.jwks !== undefined))
    throw configError('give exactly one of `latchkey`, `jwksUrl` or `jwks`', 'conflict');
  const verify = local ? localVerification(options as LocalAuthOptions) : remoteVerification(options as RemoteAuthOptions);
  const live = sessionCheckOf(options, ttl);
  const now = local ? (options as LocalAuthOptions).latchkey.now : (remote.now ?? Date.now);
  if (options.dpopNonce !== undefined && typeof options.dpopNonce !== 'boolean') throw configError('dpopNonce must be true or false', 'type');
  const nonces = options.dpopNonce ? nonceSource(options, now) : undefined;
  const verifyProof = createProofVerifier({ replayCache: options.dpopReplayCache ?? new MemoryReplayCache({ now }), nonces, now });
  const stepUp = stepUpCheck(
    options,
    now,
    local ? DEFAULT_CLOCK_TOLERANCE : ((options as RemoteAuthOptions).clockTolerance ?? DEFAULT_CLOCK_TOLERANCE),
  );
  const { origin } = options;
  if (origin !== undefined && (typeof origin !== 'string' || !/^https?:\/\/[^/?#]+$/i.test(origin))) {
    throw configError('origin must be an http(s) origin without a path, e.g. https://api.example.com', 'format');
  }

  const authenticate = (headers: IncomingHttpHeaders, target?: RequestTarget): AuthOutcome | Promise<AuthOutcome> => {
    const credentials = extractCredentials(headers);
    if (credentials === undefined) return fail('MISSING_TOKEN');
    const { scheme, token } = credentials;
    if (token === '') return scheme === 'DPoP' ? dpopFail('INVALID_TOKEN') : fail('INVALID_TOKEN');
    // The proof is checked after every verification, a cached one included: the verified-token
    // cache can never let a bound token skip its proof.
    const bind = (outcome: AuthOutcome) => {
      const bound = bindingOf(outcome, scheme, token, headers, target, verifyProof);
      if (!stepUp) return bound;
      return bound instanceof Promise ? bound.then((b) => stepUp(b, scheme)) : stepUp(bound, scheme);
    };
    const first = verify(token);
    const verified = first instanceof Promise ? first.then(bind) : bind(first);
    if (!live) return verified;
    const withSession = (outcome: AuthOutcome): AuthOutcome | Promise<AuthOutcome> =>
      outcome.ok
        ? live(outcome.user.sessionId).then(
            (isLive) => (isLive ? outcome : fail('SESSION_REVOKED')),
            (error: unknown) => ({ ok: false as const, error: toApiError(error) }),
          )
        : outcome;
    return verified instanceof Promise ? verified.then(withSession) : withSession(verified);
  };
  return Object.assign(authenticate, { dpopNonce: nonces ? () => nonces.current() : undefined });
}

/**
 * The step-up rule of `acr` and `maxAge` (docs/mfa.md#step-up-for-resource-servers, the rule
 * itself in `auth/access-token.ts`), or `undefined` when neither is set. A refusal carries the
 * RFC 9470 challenge naming what was asked for.
 */
function stepUpCheck(
  options: CommonOptions,
  now: () => number,
  clockTolerance: number,
): ((outcome: AuthOutcome, scheme: 'Bearer' | 'DPoP') => AuthOutcome) | undefined {
  const { acr, maxAge } = options;
  if (acr !== undefined && !isAssuranceLevel(acr)) throw configError('acr must be one of aal1, aal2, aal3', 'choice');
  if (maxAge !== undefined && (typeof maxAge !== 'number' || !Number.isInteger(maxAge) || maxAge < 0)) {
    throw configError('maxAge must be a whole number of seconds, 0 or more', 'range');
  }
  if (acr === undefined && maxAge === undefined) return undefined;
  const rule = { acr, maxAge };
  const challenges = { Bearer: stepUpChallenge(rule, 'Bearer'), DPoP: stepUpChallenge(rule, 'DPoP') };
  return (outcome, scheme) => {
    if (!outcome.ok || meetsStepUp(outcome.user.claims, rule, now(), clockTolerance)) return outcome;
    return { ok: false, error: new ApiError('STEP_UP_REQUIRED', undefined, { challenge: challenges[scheme] }) };
  };
}

/** The nonces of `dpopNonce: true`: the deployment's with `latchkey`, else this middleware's own. */
function nonceSource(options: RequireAuthOptions, now: () => number): DpopNonces {
  if ('latchkey' in options && options.latchkey) return options.latchkey.dpopNonces;
  return createDpopNonces({ secret: randomBytes(32), now });
}

/** Checks the token's binding (`cnf.jkt`) against the scheme it came with, and the proof of a DPoP request. */
function bindingOf(
  outcome: AuthOutcome,
  scheme: 'Bearer' | 'DPoP',
  token: string,
  headers: IncomingHttpHeaders,
  target: RequestTarget | undefined,
  verifyProof: ProofVerifier,
): AuthOutcome | Promise<AuthOutcome> {
  if (!outcome.ok) {
    const code = outcome.error.code;
    return scheme === 'DPoP' && (code === 'INVALID_TOKEN' || code === 'TOKEN_EXPIRED') ? dpopFail(code) : outcome;
  }
  const cnf = outcome.user.claims.cnf;
  const jkt = (cnf as { jkt?: unknown } | null | undefined)?.jkt;
  if (cnf !== undefined && typeof jkt !== 'string') return fail('INVALID_TOKEN');
  if (scheme === 'Bearer') return jkt === undefined ? outcome : dpopFail('INVALID_TOKEN');
  if (jkt === undefined) return dpopFail('INVALID_TOKEN');
  if (target === undefined) return dpopFail('INVALID_DPOP_PROOF');
  const proof = dpopHeaderOf(headers);
  const settle = (result: Awaited<ReturnType<ProofVerifier>>): AuthOutcome => {
    if (result.ok) return outcome;
    if (result.reason === 'DPOP_REPLAY_CACHE_UNAVAILABLE') return fail('UNAVAILABLE');
    return dpopFail(result.reason === 'DPOP_NONCE_REQUIRED' ? 'USE_DPOP_NONCE' : 'INVALID_DPOP_PROOF');
  };
  const result = verifyProof(proof, { method: target.method, url: target.htu(), accessToken: token, jkt: jkt as string });
  return result instanceof Promise ? result.then(settle) : settle(result);
}

function sessionCheckOf(options: RequireAuthOptions, ttl: number): SessionCheck | undefined {
  if (!options.checkSession) return undefined;
  if ('latchkey' in options && options.latchkey) {
    const { auth, now } = options.latchkey;
    return cachedSessionCheck((sid) => auth.isSessionLive(sid), ttl, now);
  }
  const remote = options as RemoteAuthOptions;
  if (typeof remote.isSessionLive !== 'function') {
    throw configError('checkSession needs `latchkey` or an `isSessionLive` function (a JWKS alone cannot tell revoked sessions)', 'required');
  }
  return cachedSessionCheck(remote.isSessionLive, ttl, remote.now ?? Date.now);
}

function localVerification({ latchkey }: LocalAuthOptions): (token: string) => AuthOutcome | Promise<AuthOutcome> {
  if (typeof latchkey.auth?.authenticate !== 'function') throw configError('latchkey must be the result of createLatchkey()', 'type');
  const { auth } = latchkey;
  const toOutcome = (result: AuthenticateResult): AuthOutcome => (result.ok ? { ok: true, user: result.principal } : fail(result.code));
  return (token) => {
    const result = auth.authenticate(token);
    if (result.ok || result.reason !== 'JWT_KID_UNKNOWN') return toOutcome(result);
    // A key another instance just started signing with: the key ring re-reads the store once.
    return auth.authenticateFresh(token).then(toOutcome, (error: unknown) => ({ ok: false as const, error: toApiError(error) }));
  };
}

/** `jwksUrl`, or the one issuer to discover the JWKS from. */
function jwksSource({ jwksUrl, issuer }: RemoteAuthOptions): { url: string | URL } | { issuer: string } {
  if (jwksUrl) return { url: jwksUrl };
  const issuers = Array.isArray(issuer) ? issuer : [issuer];
  if (issuers.length !== 1 || typeof issuers[0] !== 'string') throw configError('discovery needs exactly one issuer (or give `jwksUrl`)', 'conflict');
  return { issuer: issuers[0] };
}

function remoteVerification(options: RemoteAuthOptions): (token: string) => AuthOutcome | Promise<AuthOutcome> {
  const exactlyOne = 'give exactly one of `latchkey`, `jwksUrl` or `jwks` (or only `issuer`, to find the JWKS by discovery)';
  if (options.jwks && options.jwksUrl) throw configError(exactlyOne, 'conflict');
  if (!options.jwks && !options.jwksUrl && options.issuer === undefined) throw configError(exactlyOne, 'conflict');
  if (options.issuer === undefined) throw configError('issuer is required with a JWKS', 'required');
  if (options.audience === undefined) throw configError('audience is required with a JWKS', 'required');
  const jwks = options.jwks ?? createRemoteJwks({ ...options.jwksOptions, ...jwksSource(options) });
  // The same verifier as the service's, with the fetched keys; it checks issuer, audience,
  // algorithms and tolerance, and throws a coded error.
  const verifier: Verifier = createAccessTokenVerifier({
    algorithms: options.algorithms,
    keys: jwks.resolve,
    issuer: options.issuer,
    audience: options.audience,
    clockTolerance: options.clockTolerance,
    now: options.now,
    verifiedTokenCacheSize: options.verifiedTokenCacheSize,
  });

  const check = (token: string): AuthOutcome | 'KID_UNKNOWN' => {
    const result = authenticateAccessToken(verifier, token);
    if (result.ok) return { ok: true, user: result.principal };
    return result.reason === 'JWT_KID_UNKNOWN' ? 'KID_UNKNOWN' : fail(result.code);
  };

  return (token) => {
    const first = check(token);
    if (first !== 'KID_UNKNOWN') return first;
    // New key (rotation) or made-up kid: one cooldown-limited, shared refetch, then one retry.
    return jwks.refetch().then((refetched) => {
      if (refetched === 'fetched') {
        const second = check(token);
        return second === 'KID_UNKNOWN' ? fail('INVALID_TOKEN') : second;
      }
      // The key may be one we could not fetch: that is an outage, not a bad token.
      return refetched === 'unavailable' ? fail('UNAVAILABLE') : fail('INVALID_TOKEN');
    });
  };
}
