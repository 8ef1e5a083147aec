/**
 * Latchkey's access tokens, issued and checked in one place: the claims the auth service signs,
 * the checks every verifier makes (the service with its key ring, `requireAuth` with a remote
 * JWKS), their defaults, and what a verified token means — the {@link AuthUser}.
 * docs/http-api.md#access-tokens describes the token; docs/jwt.md the checks of the JWS core.
 */
import { randomBytes } from 'node:crypto';
import { DPOP_CHALLENGE_ALGS } from '../dpop/proof.js';
import type { SessionAuthentication } from '../store/types.js';
import { createSigner, createVerifier, toApiCode, type JwsAlgorithm, type KeyResolver, type SigningKey, type Verifier } from '../jwt/index.js';

/** The authenticated caller of a bearer-protected request (`req.user` / `request.user` in the adapters). */
export interface AuthUser {
  /** User id (`sub`). */
  id: string;
  role: string;
  /** Session id (`sid`). */
  sessionId: string;
  /** Every claim of the verified access token. */
  claims: Record<string, unknown>;
}

export type AuthenticateResult =
  | { ok: true; principal: AuthUser }
  | {
      ok: false;
      code: 'INVALID_TOKEN' | 'TOKEN_EXPIRED';
      /** The JWS core's precise code (`JWT_EXPIRED`, `JWT_KID_UNKNOWN`, …): logged, never sent. */
      reason: string;
    };

/**
 * The algorithms a verifier accepts unless told otherwise: every public-key algorithm Latchkey
 * signs with. A key only verifies its own algorithm (a key ring or JWKS pins `alg` per `kid`),
 * so tokens of a key retired after an algorithm switch still verify. HS256 is never mixed in.
 */
export const PUBLIC_KEY_ALGORITHMS: readonly JwsAlgorithm[] = Object.freeze(['ES256', 'EdDSA', 'RS256']);
/** Seconds of clock skew tolerated unless told otherwise. */
export const DEFAULT_CLOCK_TOLERANCE = 5;
/** Verified access tokens kept in memory unless told otherwise (~10 MB at most; see docs/jwt.md). */
export const DEFAULT_VERIFIED_TOKEN_CACHE_SIZE = 10_000;

export interface AccessTokenVerifierOptions {
  keys: KeyResolver;
  issuer: string | readonly string[];
  audience: string | readonly string[];
  /** Default {@link PUBLIC_KEY_ALGORITHMS}. */
  algorithms?: readonly JwsAlgorithm[] | undefined;
  /** Default {@link DEFAULT_CLOCK_TOLERANCE}. */
  clockTolerance?: number | undefined;
  now?: (() => number) | undefined;
  /** Default {@link DEFAULT_VERIFIED_TOKEN_CACHE_SIZE}; 0 turns the cache off. */
  verifiedTokenCacheSize?: number | undefined;
}

/** The verifier of Latchkey access tokens. Throws a coded `JwtError` for unusable options. */
export function createAccessTokenVerifier(options: AccessTokenVerifierOptions): Verifier {
  const cacheSize = options.verifiedTokenCacheSize ?? DEFAULT_VERIFIED_TOKEN_CACHE_SIZE;
  return createVerifier({
    algorithms: [...(options.algorithms ?? PUBLIC_KEY_ALGORITHMS)],
    keys: options.keys,
    issuer: typeof options.issuer === 'string' ? options.issuer : [...options.issuer],
    audience: typeof options.audience === 'string' ? options.audience : [...options.audience],
    clockTolerance: options.clockTolerance ?? DEFAULT_CLOCK_TOLERANCE,
    ...(options.now ? { now: options.now } : {}),
    ...(cacheSize !== 0 ? { cache: { size: cacheSize } } : {}), // a negative size is refused by createVerifier
  });
}

/** The caller a verified token names, or `undefined` when a Latchkey claim (`sub`, `sid`, `role`) is missing. */
function principalOf(claims: Record<string, unknown>): AuthUser | undefined {
  const { sub, sid, role } = claims;
  if (typeof sub !== 'string' || typeof sid !== 'string' || typeof role !== 'string') return undefined;
  return { id: sub, role, sessionId: sid, claims };
}

/** Checks an access token. Hot path: no I/O, no exceptions for bad tokens. */
export function authenticateAccessToken(verifier: Verifier, token: string): AuthenticateResult {
  const result = verifier.check(token);
  if (!result.ok) return { ok: false, code: toApiCode(result.error), reason: result.error.code };
  const principal = principalOf(result.claims as Record<string, unknown>);
  return principal ? { ok: true, principal } : { ok: false, code: 'INVALID_TOKEN', reason: 'JWT_CLAIM_INVALID' };
}

/** The `kid` of a compact JWS header, without trusting anything else in it. */
export function kidOf(token: string): string | undefined {
  const dot = token.indexOf('.');
  if (dot <= 0 || dot > 2048) return undefined;
  try {
    const header: unknown = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8'));
    const kid = (header as { kid?: unknown } | null)?.kid;
    return typeof kid === 'string' && kid.length > 0 && kid.length <= 256 ? kid : undefined;
  } catch {
    return undefined;
  }
}

export interface AccessTokenIssuerOptions {
  /** The key to sign with, read at every issue (a rotation takes effect at once). */
  signingKey: () => SigningKey;
  issuer: string;
  audience: readonly string[];
  /** Seconds. */
  ttl: number;
  now: () => number;
}

/**
 * What an access token says: who (`sub`, `role`), which session (`sid`), how it was
 * authenticated (`amr`, `acr`, `auth_time`), for whom (`iss`, `aud`) and until when.
 */
export interface AccessTokenSubject {
  userId: string;
  role: string;
  sessionId: string;
  /** The thumbprint of the DPoP key the session is bound to: the token carries `cnf: { jkt }`. */
  jkt?: string | null;
  /** How the session was authenticated: the token carries `amr`, `acr` and `auth_time` (seconds). */
  authentication?: SessionAuthentication;
  /** The embedder's custom claims, already checked (`./custom-claims.ts`); Latchkey's own always win. */
  extra?: Record<string, unknown> | undefined;
}

/** Returns the function that signs an access token for a user's session (the signer follows key rotations). */
export function createAccessTokenIssuer(options: AccessTokenIssuerOptions): (subject: AccessTokenSubject) => string {
  const { issuer, audience, ttl, now } = options;
  const aud = audience.length === 1 ? audience[0] : [...audience];
  let signer: { kid: string; sign: (claims: Record<string, unknown>) => string } | undefined;
  return ({ userId, role, sessionId, jkt, authentication, extra }) => {
    const key = options.signingKey();
    if (signer?.kid !== key.kid) signer = { kid: key.kid, sign: createSigner({ key }) };
    const iat = Math.floor(now() / 1000);
    const claims: Record<string, unknown> = {
      ...extra,
      iss: issuer,
      aud,
      sub: userId,
      sid: sessionId,
      role,
      jti: randomBytes(12).toString('base64url'),
      iat,
      exp: iat + ttl,
    };
    if (authentication) {
      claims.amr = [...authentication.amr];
      claims.acr = authentication.acr;
      claims.auth_time = Math.floor(authentication.authTime / 1000);
    }
    if (jkt) claims.cnf = { jkt };
    return signer.sign(claims);
  };
}

/** Authentication assurance levels (NIST SP 800-63B), as access tokens carry them in `acr`. */
export type AssuranceLevel = 'aal1' | 'aal2' | 'aal3';

const ASSURANCE_RANK: Readonly<Record<string, number>> = { aal1: 1, aal2: 2, aal3: 3 };

/** What a route demands of the sign-in behind a token (docs/mfa.md#step-up-for-resource-servers). */
export interface StepUpRule {
  acr?: AssuranceLevel | undefined;
  /** Seconds since `auth_time`, at most (plus the clock tolerance). */
  maxAge?: number | undefined;
}

/**
 * Whether `claims` satisfy `rule`: `acr` ranked at least the one required (none counts as
 * `aal1`, an unknown value as below it); `now − auth_time ≤ maxAge + clockTolerance` (seconds; a
 * token without `auth_time` fails any `maxAge`).
 */
export function meetsStepUp(claims: Record<string, unknown>, rule: StepUpRule, nowMs: number, clockTolerance: number): boolean {
  if (rule.acr !== undefined) {
    const level = claims.acr === undefined ? 1 : typeof claims.acr === 'string' ? (ASSURANCE_RANK[claims.acr] ?? 0) : 0;
    if (level < ASSURANCE_RANK[rule.acr]!) return false;
  }
  if (rule.maxAge !== undefined) {
    const authTime = claims.auth_time;
    if (typeof authTime !== 'number' || !Number.isFinite(authTime)) return false;
    if (Math.floor(nowMs / 1000) - authTime > rule.maxAge + clockTolerance) return false;
  }
  return true;
}

/** Whether `acr` is an assurance level `requireAuth` knows. */
export function isAssuranceLevel(acr: unknown): acr is AssuranceLevel {
  return typeof acr === 'string' && ASSURANCE_RANK[acr] !== undefined;
}

/**
 * The RFC 9470 challenge of a refused step-up: `insufficient_user_authentication` with
 * `acr_values` and/or `max_age` as the rule names them, in the DPoP scheme for a DPoP-bound token.
 */
export function stepUpChallenge(rule: StepUpRule, scheme: 'Bearer' | 'DPoP'): string {
  const params = [rule.acr === undefined ? '' : `acr_values="${rule.acr}"`, rule.maxAge === undefined ? '' : `max_age="${rule.maxAge}"`]
    .filter(Boolean)
    .join(', ');
  return scheme === 'DPoP'
    ? `DPoP error="insufficient_user_authentication", ${params}, algs="${DPOP_CHALLENGE_ALGS}"`
    : `Bearer error="insufficient_user_authentication", ${params}`;
}
