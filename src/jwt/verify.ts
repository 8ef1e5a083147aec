/**
 * Verification of compact JWS access tokens.
 *
 * `createVerifier(options)` checks every option once and returns a hot, synchronous closure.
 * The order of checks for one token is fixed (and documented in docs/jwt.md): length cap,
 * three segments, strict base64url, header JSON, `alg` allow-list, `kid`, key/alg match,
 * `crit`/`b64`, signature, payload JSON, `typ`, claims. No algorithm and no key is ever taken
 * from the token: `jwk`, `jku`, `x5u`, `x5c` headers are ignored.
 */
import type { KeyObject } from 'node:crypto';

import { type JwsAlgorithm, type PreparedKey, isJwsAlgorithm, prepareVerificationKey, verifySignature } from './algorithms.js';
import { isCanonicalBase64url } from './base64url.js';
import { type CachedToken, TokenCache, type TokenCacheOptions, deepFreeze, tokenCacheProblem } from './cache.js';
import { JwtError, type JwtErrorCode, tokenError } from './errors.js';
import { parseJsonObject } from './json.js';

/** A key the verifier may use: the token's `kid` selects it, its `alg` must equal the token's. */
export interface VerificationKey {
  kid: string;
  alg: JwsAlgorithm;
  /** `public` (or `private`, reduced to public) key for ES256/EdDSA/RS256/PS256; `secret` for HS256. */
  key: KeyObject;
}

/** Finds the key of a `kid`, or `undefined`. Called with untrusted input: never use `kid` as a path or query. */
export type KeyResolver = (kid: string) => VerificationKey | undefined;

/** Options of {@link createVerifier}. */
export interface VerifierOptions {
  /** Accepted algorithms. Non-empty; `none` (any casing) is refused. */
  algorithms: JwsAlgorithm[];
  /** A fixed key ring, or a resolver called per token (key rotation, remote JWKS). */
  keys: VerificationKey[] | KeyResolver;
  /** Accepted `iss` value(s), compared exactly. */
  issuer: string | string[];
  /** Accepted audience(s); the token's `aud` (string or array) must contain one. */
  audience: string | string[];
  /** Expected `typ`, case-insensitive, `application/` prefix optional. Default `at+jwt`. */
  typ?: string;
  /** Clock skew allowed for `exp`, `nbf`, `iat`, in seconds: 0..60. Default 0. */
  clockTolerance?: number;
  /** Claims that must be present. Default `['iss','aud','sub','exp','iat']`; `iss`, `aud`, `exp`, `iat` are always required. */
  requiredClaims?: string[];
  /** Longest accepted token, in characters. Default 8192. */
  maxTokenLength?: number;
  /** Current time in milliseconds. Default `Date.now`. */
  now?: () => number;
  /**
   * Keep up to `size` verified tokens and answer a token seen before from memory (about
   * 0.2 µs, see bench/RESULTS.md, instead of a signature check), re-checking its time claims
   * and its key on every hit.
   * Default: off. Results of cached tokens are deep-frozen. See docs/jwt.md.
   */
  cache?: TokenCacheOptions;
}

/** Protected header of a verified token. */
export interface JwsHeader {
  alg: JwsAlgorithm;
  kid: string;
  typ: string;
  [name: string]: unknown;
}

/** Claims of a verified token (the registered ones are type-checked). */
export interface JwtClaims {
  iss: string;
  aud: string | string[];
  exp: number;
  iat: number;
  sub?: string;
  nbf?: number;
  [name: string]: unknown;
}

/** A token that passed every check. */
export interface VerifiedJwt {
  header: JwsHeader;
  claims: JwtClaims;
}

/** Outcome of {@link Verifier.check}. */
export type VerifyResult = VerifySuccess | { ok: false; error: JwtError };
type VerifySuccess = { ok: true } & VerifiedJwt;

/** What {@link createVerifier} returns. */
export interface Verifier {
  /** Verifies `token`; throws a {@link JwtError} (without stack trace) when it is not valid. */
  verify(token: string): VerifiedJwt;
  /** Verifies `token` and never throws for any token input: failures are values. */
  check(token: string): VerifyResult;
}

/** Options of {@link verifyJws}. */
export interface VerifyJwsOptions {
  /** Longest accepted token, in characters. Default 8192. */
  maxTokenLength?: number;
}

/** A JWS whose signature is valid (header checked for `alg` and `crit` only). */
export interface VerifiedJws {
  header: Record<string, unknown>;
  payload: Buffer;
}

const DEFAULT_MAX_TOKEN_LENGTH = 8192;
const MAX_KID_LENGTH = 1024;
/** NumericDates above this are taken for milliseconds (1e11 s is the year 5138). */
const MAX_NUMERIC_DATE = 1e11;
const DEFAULT_REQUIRED = ['iss', 'aud', 'sub', 'exp', 'iat'];
const ALWAYS_REQUIRED = ['iss', 'aud', 'exp', 'iat'];
const hasOwn = Object.prototype.hasOwnProperty;

// ---------------------------------------------------------------------------------------
// The steps shared by createVerifier and verifyJws (one code path for vectors and tokens)

interface ParsedJws {
  header: Record<string, unknown>;
  /** Index of the second '.'. */
  dot2: number;
  dot1: number;
}

/**
 * Length cap, three segments, strict base64url everywhere, header JSON object.
 * `headers` maps header segments of tokens that verified to their (frozen) parsed header:
 * access tokens of one key share one header, so its decoding and strict parsing are done
 * once. Equal segment text means an equal, already validated header.
 */
function parseCompact(token: unknown, maxLength: number, headers?: Map<string, Record<string, unknown>>): ParsedJws | JwtError {
  if (typeof token !== 'string' || token.length === 0 || token.length > maxLength) return tokenError('JWT_MALFORMED');
  const dot1 = token.indexOf('.');
  const dot2 = dot1 < 0 ? -1 : token.indexOf('.', dot1 + 1);
  if (dot1 <= 0 || dot2 < 0 || token.indexOf('.', dot2 + 1) !== -1) return tokenError('JWT_MALFORMED');
  if (!isCanonicalBase64url(token, dot1 + 1, dot2) || !isCanonicalBase64url(token, dot2 + 1, token.length)) {
    return tokenError('JWT_MALFORMED');
  }
  const known = headers?.get(token.slice(0, dot1));
  if (known !== undefined) return { header: known, dot1, dot2 };
  if (!isCanonicalBase64url(token, 0, dot1)) return tokenError('JWT_MALFORMED');
  const header = parseJsonObject(Buffer.from(token.slice(0, dot1), 'base64url'));
  if (header === undefined) return tokenError('JWT_MALFORMED');
  return { header, dot1, dot2 };
}

/** Distinct headers remembered per verifier (one per key in practice; reset when full). */
const MAX_CACHED_HEADERS = 64;

/** We understand no JWS extension: any `crit`, and any `b64` other than `true`, is refused. */
function checkCritical(header: Record<string, unknown>): JwtError | undefined {
  if (hasOwn.call(header, 'crit')) return tokenError('JWT_CRIT_UNSUPPORTED');
  if (hasOwn.call(header, 'b64') && header.b64 !== true) return tokenError('JWT_CRIT_UNSUPPORTED');
  return undefined;
}

/** Verifies the signature segment over the signing input (`header.payload`, ASCII). */
function checkSignature(token: string, parsed: ParsedJws, key: PreparedKey): boolean {
  const signature = Buffer.from(token.slice(parsed.dot2 + 1), 'base64url');
  // HMAC takes the ASCII signing input as a string (no intermediate Buffer).
  const data = key.alg === 'HS256' ? token.slice(0, parsed.dot2) : Buffer.from(token.slice(0, parsed.dot2), 'latin1');
  return verifySignature(key, data, signature);
}

/**
 * Low-level: verifies only the signature of a compact JWS with one given key and algorithm
 * (no `kid`, `typ` or claim checks; the payload may be any bytes). It runs the same parsing,
 * `crit` and signature code as {@link createVerifier}; it exists for public test vectors
 * (RFC 7515/7520/8037) and tools such as `latchkey verify`. Access tokens must go through
 * {@link createVerifier}.
 * @throws {JwtError} `JWT_MALFORMED`, `JWT_ALG_NOT_ALLOWED` (header `alg` is not `alg`),
 *   `JWT_CRIT_UNSUPPORTED`, `JWT_SIGNATURE_INVALID`, or `JWT_OPTIONS_INVALID` when `key`
 *   does not fit `alg`.
 */
export function verifyJws(token: string, key: KeyObject, alg: JwsAlgorithm, options: VerifyJwsOptions = {}): VerifiedJws {
  if (!isJwsAlgorithm(alg)) throw new JwtError('JWT_OPTIONS_INVALID', 'alg: not a supported algorithm');
  const prepared = prepareVerificationKey(alg, key);
  if (typeof prepared === 'string') throw new JwtError('JWT_OPTIONS_INVALID', `key: ${prepared}`);
  const parsed = parseCompact(token, options.maxTokenLength ?? DEFAULT_MAX_TOKEN_LENGTH);
  if (parsed instanceof JwtError) throw parsed;
  if (parsed.header.alg !== alg) throw tokenError('JWT_ALG_NOT_ALLOWED');
  const critical = checkCritical(parsed.header);
  if (critical) throw critical;
  if (!checkSignature(token, parsed, prepared)) throw tokenError('JWT_SIGNATURE_INVALID');
  return { header: parsed.header, payload: Buffer.from(token.slice(parsed.dot1 + 1, parsed.dot2), 'base64url') };
}

// ---------------------------------------------------------------------------------------
// Option checks

function optionsError(message: string): JwtError {
  return new JwtError('JWT_OPTIONS_INVALID', message);
}

function stringList(name: string, value: unknown): string[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || !list.every((v) => typeof v === 'string' && v.length > 0)) {
    throw optionsError(`${name}: a non-empty string or a non-empty array of non-empty strings is required`);
  }
  return list as string[];
}

/** `application/at+jwt` and `AT+JWT` both normalise to `at+jwt` (RFC 7515 §4.1.9). */
function normaliseTyp(typ: string): string {
  const lower = typ.toLowerCase();
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
}

function checkedKey(entry: unknown, allowed: ReadonlySet<JwsAlgorithm>, where: string): PreparedKey {
  if (typeof entry !== 'object' || entry === null) throw optionsError(`${where}: must be {kid, alg, key}`);
  const { kid, alg, key } = entry as Partial<VerificationKey>;
  if (typeof kid !== 'string' || kid.length === 0) throw optionsError(`${where}.kid: a non-empty string is required`);
  if (!isJwsAlgorithm(alg)) throw optionsError(`${where}.alg: not a supported algorithm`);
  if (!allowed.has(alg)) throw optionsError(`${where}.alg: ${alg} is not in algorithms`);
  const prepared = prepareVerificationKey(alg, key);
  if (typeof prepared === 'string') throw optionsError(`${where}.key: ${prepared}`);
  return prepared;
}

// ---------------------------------------------------------------------------------------

/**
 * Creates a verifier for access tokens. All options are checked here, once.
 *
 * @throws {JwtError} `JWT_OPTIONS_INVALID` for an empty or unknown algorithm list (`none` in
 *   any casing included), a clock tolerance outside 0..60, a missing issuer or audience, or a
 *   key that does not fit its algorithm.
 */
export function createVerifier(options: VerifierOptions): Verifier {
  if (typeof options !== 'object' || options === null) throw optionsError('options: an object is required');

  const { algorithms } = options;
  if (!Array.isArray(algorithms) || algorithms.length === 0) throw optionsError('algorithms: a non-empty array is required');
  for (const alg of algorithms as unknown[]) {
    if (typeof alg === 'string' && alg.toLowerCase() === 'none') throw optionsError('algorithms: "none" is never allowed');
    if (!isJwsAlgorithm(alg)) throw optionsError('algorithms: only ES256, EdDSA, RS256, PS256 and HS256 are supported');
  }
  const allowed: ReadonlySet<JwsAlgorithm> = new Set(algorithms);

  const issuers = new Set(stringList('issuer', options.issuer));
  const audiences = new Set(stringList('audience', options.audience));

  const typOption = options.typ ?? 'at+jwt';
  if (typeof typOption !== 'string' || typOption.length === 0) throw optionsError('typ: a non-empty string is required');
  const expectedTyp = normaliseTyp(typOption);

  const tolerance = options.clockTolerance ?? 0;
  if (typeof tolerance !== 'number' || !Number.isFinite(tolerance) || tolerance < 0 || tolerance > 60) {
    throw optionsError('clockTolerance: seconds between 0 and 60 are required');
  }

  const requiredOption = options.requiredClaims ?? DEFAULT_REQUIRED;
  if (!Array.isArray(requiredOption) || !requiredOption.every((c) => typeof c === 'string' && c.length > 0)) {
    throw optionsError('requiredClaims: an array of claim names is required');
  }
  const required = [...new Set([...ALWAYS_REQUIRED, ...requiredOption])];

  const maxLength = options.maxTokenLength ?? DEFAULT_MAX_TOKEN_LENGTH;
  if (!Number.isInteger(maxLength) || maxLength < 16 || maxLength > 1_048_576) {
    throw optionsError('maxTokenLength: an integer between 16 and 1048576 is required');
  }

  const now = options.now ?? Date.now;
  if (typeof now !== 'function') throw optionsError('now: a function returning milliseconds is required');

  let tokens: TokenCache<VerifySuccess> | undefined;
  if (options.cache !== undefined) {
    const problem = tokenCacheProblem(options.cache);
    if (problem !== undefined) throw optionsError(problem);
    tokens = new TokenCache(options.cache.size);
  }
  const headers = new Map<string, Record<string, unknown>>();

  let resolve: (kid: string) => PreparedKey | JwtError | undefined;
  const { keys } = options;
  if (typeof keys === 'function') {
    resolve = (kid) => {
      const entry = keys(kid);
      if (entry === undefined || entry === null) return undefined;
      if (typeof entry !== 'object' || !isJwsAlgorithm(entry.alg) || !allowed.has(entry.alg)) {
        return tokenError('JWT_OPTIONS_INVALID', undefined, 'keys: the resolver returned an unusable key');
      }
      const prepared = prepareVerificationKey(entry.alg, entry.key);
      if (typeof prepared === 'string') return tokenError('JWT_OPTIONS_INVALID', undefined, `keys: ${prepared}`);
      return prepared;
    };
  } else if (Array.isArray(keys) && keys.length > 0) {
    const ring = new Map<string, PreparedKey>();
    keys.forEach((entry, index) => {
      const prepared = checkedKey(entry, allowed, `keys[${index}]`);
      if (ring.has(entry.kid)) throw optionsError(`keys[${index}].kid: duplicate kid`);
      ring.set(entry.kid, prepared);
    });
    resolve = (kid) => ring.get(kid);
  } else {
    throw optionsError('keys: a non-empty array of keys or a resolver function is required');
  }

  function fail(code: JwtErrorCode, claim?: string): { ok: false; error: JwtError } {
    return { ok: false, error: tokenError(code, claim) };
  }

  function check(token: string): VerifyResult {
    if (tokens !== undefined && typeof token === 'string') {
      const hit = tokens.get(token);
      if (hit !== undefined) {
        if (isStillValid(hit)) {
          hit.used = true;
          return hit.result;
        }
        // Outside its time window or its key is gone: verify afresh for the exact answer.
        tokens.delete(token);
      }
    }
    return verifyFully(token);
  }

  /** A cached token still counts when its key still resolves and its time claims still hold. */
  function isStillValid(hit: CachedToken<VerifySuccess>): boolean {
    const nowSeconds = now() / 1000;
    if (nowSeconds - tolerance >= hit.exp || nowSeconds + tolerance < hit.nbf || hit.iat > nowSeconds + tolerance) return false;
    const key = resolve(hit.kid);
    if (key === hit.key) return true;
    // Key rings may hand out a fresh KeyObject for the same key (a reload): equal key material
    // and algorithm verify the same signatures.
    if (key === undefined || key instanceof JwtError || key.alg !== hit.key.alg || !key.key.equals(hit.key.key)) return false;
    hit.key = key;
    return true;
  }

  function verifyFully(token: string): VerifyResult {
    const parsed = parseCompact(token, maxLength, headers);
    if (parsed instanceof JwtError) return { ok: false, error: parsed };
    const header = parsed.header;

    const alg = header.alg;
    if (typeof alg !== 'string' || !allowed.has(alg as JwsAlgorithm)) return fail('JWT_ALG_NOT_ALLOWED');

    const kid = header.kid;
    if (kid === undefined || kid === '') return fail('JWT_KID_MISSING');
    if (typeof kid !== 'string') return fail('JWT_MALFORMED');
    if (kid.length > MAX_KID_LENGTH) return fail('JWT_KID_UNKNOWN');
    const key = resolve(kid);
    if (key === undefined) return fail('JWT_KID_UNKNOWN');
    if (key instanceof JwtError) return { ok: false, error: key };
    if (key.alg !== alg) return fail('JWT_ALG_NOT_ALLOWED');

    const critical = checkCritical(header);
    if (critical) return { ok: false, error: critical };

    if (!checkSignature(token, parsed, key)) return fail('JWT_SIGNATURE_INVALID');

    // The payload is parsed only once it is authenticated.
    const claims = parseJsonObject(Buffer.from(token.slice(parsed.dot1 + 1, parsed.dot2), 'base64url'));
    if (claims === undefined) return fail('JWT_MALFORMED');

    const typ = header.typ;
    if (typeof typ !== 'string' || normaliseTyp(typ) !== expectedTyp) return fail('JWT_TYP_INVALID');

    for (let i = 0; i < required.length; i++) {
      const name = required[i] as string;
      if (!hasOwn.call(claims, name) || claims[name] === null) return fail('JWT_CLAIM_INVALID', name);
    }

    const iss = claims.iss;
    if (typeof iss !== 'string' || !issuers.has(iss)) return fail('JWT_CLAIM_INVALID', 'iss');

    const aud = claims.aud;
    if (typeof aud === 'string') {
      if (!audiences.has(aud)) return fail('JWT_CLAIM_INVALID', 'aud');
    } else if (Array.isArray(aud)) {
      let match = false;
      for (const a of aud) {
        if (typeof a !== 'string') return fail('JWT_CLAIM_INVALID', 'aud');
        if (audiences.has(a)) match = true;
      }
      if (!match) return fail('JWT_CLAIM_INVALID', 'aud');
    } else {
      return fail('JWT_CLAIM_INVALID', 'aud');
    }

    if (hasOwn.call(claims, 'sub') && typeof claims.sub !== 'string') return fail('JWT_CLAIM_INVALID', 'sub');

    const nowSeconds = now() / 1000;
    const exp = claims.exp;
    if (!isNumericDate(exp)) return fail('JWT_CLAIM_INVALID', 'exp');
    if (nowSeconds - tolerance >= exp) return fail('JWT_EXPIRED', 'exp');

    if (hasOwn.call(claims, 'nbf')) {
      const nbf = claims.nbf;
      if (!isNumericDate(nbf)) return fail('JWT_CLAIM_INVALID', 'nbf');
      if (nowSeconds + tolerance < nbf) return fail('JWT_NOT_YET_VALID', 'nbf');
    }

    const iat = claims.iat;
    if (!isNumericDate(iat)) return fail('JWT_CLAIM_INVALID', 'iat');
    if (iat > nowSeconds + tolerance) return fail('JWT_IAT_INVALID', 'iat');

    // Remember the header (authenticated now) so that the next token of this key skips its parsing.
    // Verified headers are frozen: the header cache shares one object between tokens.
    Object.freeze(header);
    const headerSegment = token.slice(0, parsed.dot1);
    if (!headers.has(headerSegment)) {
      if (headers.size >= MAX_CACHED_HEADERS) headers.clear();
      headers.set(headerSegment, header);
    }

    const result: VerifySuccess = { ok: true, header: header as JwsHeader, claims: claims as JwtClaims };
    if (tokens === undefined) return result;
    deepFreeze(result);
    tokens.set({
      token,
      result,
      kid,
      key,
      exp,
      nbf: typeof claims.nbf === 'number' ? claims.nbf : Number.NEGATIVE_INFINITY,
      iat,
      used: false,
    });
    return result;
  }

  function verify(token: string): VerifiedJwt {
    const result = check(token);
    if (!result.ok) throw result.error;
    return result;
  }

  return { verify, check };
}

/** A NumericDate in seconds: a finite, non-negative number not large enough to be milliseconds. */
function isNumericDate(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= MAX_NUMERIC_DATE;
}
