/**
 * Verification of DPoP proofs (RFC 9449 §4.3) on the strict JWS core of `jwt/`.
 *
 * `createProofVerifier(options)` checks its options once and returns a closure that never
 * throws: every failure is a {@link DpopFailure} value. The order of checks is fixed: length
 * cap, three canonical base64url segments, header JSON (strict: no duplicate names), `typ`,
 * `alg` allow-list, `jwk` (public only, fitting `alg`, RSA ≥ 2048 bits), `crit`, signature,
 * claims JSON, the bound key (`jkt`), `htm`, `htu`, `iat` window, `ath`, `nonce`, and last
 * the replay cache (so only proofs that passed every other check occupy it).
 *
 * The header of a proof names its public key, and a client sends the same header with every
 * proof: headers that verified are remembered (bounded) with their imported key and
 * thumbprint, so a known client costs one signature check, not a key import.
 */
import { createHash } from 'node:crypto';

import { type PreparedKey, prepareVerificationKey, verifySignature } from '../jwt/algorithms.js';
import { isCanonicalBase64url } from '../jwt/base64url.js';
import { importJwk } from '../jwt/jwk.js';
import { parseJsonObject } from '../jwt/json.js';
import { normaliseHtu } from './htu.js';
import type { DpopNonces } from './nonce.js';
import type { ReplayCache } from './replay.js';
import { type ThumbprintMembers, jwkThumbprint } from './thumbprint.js';

/**
 * `alg` values a proof may use. `Ed25519` is the fully-specified name (RFC 9864) of EdDSA with
 * an Ed25519 key, which some clients (panva's `dpop`) send; both mean the same check here.
 */
export type DpopAlgorithm = 'ES256' | 'EdDSA' | 'Ed25519' | 'RS256' | 'PS256';

/** Every accepted proof algorithm, in the order the `algs` challenge parameter lists them. */
const DPOP_ALGORITHMS: readonly DpopAlgorithm[] = Object.freeze(['ES256', 'EdDSA', 'Ed25519', 'RS256', 'PS256']);

/** The `alg` values a DPoP proof may use, as the `algs` parameter of a DPoP challenge lists them (RFC 9449 §7.1). */
export const DPOP_CHALLENGE_ALGS = 'ES256 EdDSA RS256 PS256';

/** Why a proof was refused (stable; audited as `detail.reason`, never shown with the proof). */
export type DpopFailure =
  /** No `DPoP` header where one was needed. */
  | 'DPOP_MISSING'
  /** Not one compact JWS (or several `DPoP` headers), bad base64url or JSON, too long. */
  | 'DPOP_MALFORMED'
  | 'DPOP_TYP_INVALID'
  /** `alg` outside the allow-list: `none`, HS256, anything symmetric or unknown. */
  | 'DPOP_ALG_NOT_ALLOWED'
  /** `jwk` missing, carrying private members, of an unsupported type, or not fitting `alg`. */
  | 'DPOP_JWK_INVALID'
  | 'DPOP_CRIT_UNSUPPORTED'
  | 'DPOP_SIGNATURE_INVALID'
  /** `jti`, `htm`, `htu` or `iat` missing or of the wrong type. */
  | 'DPOP_CLAIM_INVALID'
  /** Signed by another key than the one the token or session is bound to. */
  | 'DPOP_KEY_MISMATCH'
  | 'DPOP_HTM_MISMATCH'
  | 'DPOP_HTU_MISMATCH'
  /** `iat` more than 60 s away from now. */
  | 'DPOP_IAT_INVALID'
  /** `ath` missing or not the hash of the access token sent with it. */
  | 'DPOP_ATH_MISMATCH'
  /** A server nonce is required and the proof has none, or a stale one (→ `USE_DPOP_NONCE`). */
  | 'DPOP_NONCE_REQUIRED'
  /** This proof (`jkt` + `jti`) was used before. */
  | 'DPOP_REPLAYED'
  /** The replay cache could not answer (Redis down, memory full): refused (→ 503). */
  | 'DPOP_REPLAY_CACHE_UNAVAILABLE';

/** A proof that passed every check. */
export interface VerifiedProof {
  ok: true;
  /** RFC 7638 SHA-256 thumbprint of the proof's key: what a token or session is bound to. */
  jkt: string;
  jti: string;
}

export type ProofResult = VerifiedProof | { ok: false; reason: DpopFailure };

/** What the request the proof came with looks like. */
export interface ProofExpectation {
  /** The request method, compared exactly with `htm`. */
  method: string;
  /**
   * The request's `htu`: an absolute http(s) URI (query and fragment are ignored), or the list
   * of URIs the request is known by (the auth endpoints under each origin they serve).
   */
  url: string | readonly string[];
  /** The access token sent with the proof (resource requests): then `ath` is required and checked. */
  accessToken?: string | undefined;
  /** The thumbprint the proof's key must have (a bound session or token). */
  jkt?: string | undefined;
}

/** Options of {@link createProofVerifier}. */
export interface ProofVerifierOptions {
  /** Remembers proofs already used. */
  replayCache: ReplayCache;
  /** When given, a proof must carry one of its current nonces. */
  nonces?: DpopNonces | undefined;
  /** Accepted algorithms. Default {@link DPOP_ALGORITHMS}. */
  algorithms?: readonly DpopAlgorithm[];
  /** Current time in ms. Default `Date.now`. */
  now?: () => number;
}

/** Verifies one proof; never throws. Synchronous unless the replay cache is remote. */
export type ProofVerifier = (proof: unknown, expect: ProofExpectation) => ProofResult | Promise<ProofResult>;

/** `|now − iat|` allowed, in seconds. */
const IAT_WINDOW_SECONDS = 60;
/** Longest proof accepted, in characters (an RSA-8192 key and signature fit). */
const MAX_PROOF_LENGTH = 8192;
const MAX_JTI_LENGTH = 256;
/** Distinct proof headers (≈ client keys) remembered; the map is emptied when full. */
const MAX_KNOWN_HEADERS = 4096;
const hasOwn = Object.prototype.hasOwnProperty;

interface KnownHeader {
  readonly key: PreparedKey;
  readonly jkt: string;
}

const failure = (reason: DpopFailure): { ok: false; reason: DpopFailure } => ({ ok: false, reason });

/** base64url(SHA-256(accessToken)): the `ath` of a proof sent with `accessToken`. */
export function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'utf8').digest('base64url');
}

/**
 * The key of a proof header: `jwk` imported as a public key for `alg` (private members,
 * unsupported key types and RSA under 2048 bits are refused by `importJwk`), with its
 * thumbprint. `undefined` when unusable.
 */
function importProofKey(jwk: unknown, alg: DpopAlgorithm): KnownHeader | undefined {
  const coreAlg = alg === 'Ed25519' ? 'EdDSA' : alg;
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0; // a refused key is an expected outcome: no stack capture
  try {
    const { key } = importJwk(jwk, { kid: 'dpop', alg: coreAlg });
    const prepared = prepareVerificationKey(coreAlg, key);
    if (typeof prepared === 'string') return undefined;
    return { key: prepared, jkt: jwkThumbprint(jwk as ThumbprintMembers) };
  } catch {
    return undefined;
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * Creates a proof verifier. Throws a `RangeError` for unusable options (an empty or unknown
 * algorithm list, a replay cache without `claim`).
 */
export function createProofVerifier(options: ProofVerifierOptions): ProofVerifier {
  const { replayCache, nonces, now = Date.now } = options;
  if (typeof replayCache?.claim !== 'function') throw new RangeError('replayCache: a ReplayCache is required');
  const algorithms = options.algorithms ?? DPOP_ALGORITHMS;
  if (algorithms.length === 0 || !algorithms.every((a) => DPOP_ALGORITHMS.includes(a))) {
    throw new RangeError(`algorithms: a non-empty list of ${DPOP_ALGORITHMS.join(', ')} is required`);
  }
  const allowed: ReadonlySet<string> = new Set(algorithms);
  const known = new Map<string, KnownHeader>();

  /** Header checks up to the key; a known header segment skips them (it verified before). */
  function headerOf(proof: string, dot1: number): KnownHeader | DpopFailure {
    const segment = proof.slice(0, dot1);
    const hit = known.get(segment);
    if (hit !== undefined) return hit;
    if (!isCanonicalBase64url(proof, 0, dot1)) return 'DPOP_MALFORMED';
    const header = parseJsonObject(Buffer.from(segment, 'base64url'));
    if (header === undefined) return 'DPOP_MALFORMED';
    const typ = header.typ;
    if (typeof typ !== 'string' || !/^(application\/)?dpop\+jwt$/i.test(typ)) return 'DPOP_TYP_INVALID';
    const alg = header.alg;
    if (typeof alg !== 'string' || !allowed.has(alg)) return 'DPOP_ALG_NOT_ALLOWED';
    if (hasOwn.call(header, 'crit') || (hasOwn.call(header, 'b64') && header.b64 !== true)) return 'DPOP_CRIT_UNSUPPORTED';
    const imported = importProofKey(header.jwk, alg as DpopAlgorithm);
    return imported ?? 'DPOP_JWK_INVALID';
  }

  function remember(segment: string, header: KnownHeader): void {
    if (known.has(segment)) return;
    if (known.size >= MAX_KNOWN_HEADERS) known.clear();
    known.set(segment, header);
  }

  function verifyUpToReplay(proof: unknown, expect: ProofExpectation): VerifiedProof | { ok: false; reason: DpopFailure } {
    if (typeof proof !== 'string' || proof.length === 0 || proof.length > MAX_PROOF_LENGTH) {
      return failure(proof === undefined ? 'DPOP_MISSING' : 'DPOP_MALFORMED');
    }
    const dot1 = proof.indexOf('.');
    const dot2 = dot1 < 0 ? -1 : proof.indexOf('.', dot1 + 1);
    if (dot1 <= 0 || dot2 < 0 || proof.indexOf('.', dot2 + 1) !== -1) return failure('DPOP_MALFORMED');
    if (!isCanonicalBase64url(proof, dot1 + 1, dot2) || !isCanonicalBase64url(proof, dot2 + 1, proof.length)) {
      return failure('DPOP_MALFORMED');
    }
    const header = headerOf(proof, dot1);
    if (typeof header === 'string') return failure(header);

    const signature = Buffer.from(proof.slice(dot2 + 1), 'base64url');
    if (!verifySignature(header.key, proof.slice(0, dot2), signature)) return failure('DPOP_SIGNATURE_INVALID');
    remember(proof.slice(0, dot1), header);

    // The claims are parsed only once authenticated.
    const claims = parseJsonObject(Buffer.from(proof.slice(dot1 + 1, dot2), 'base64url'));
    if (claims === undefined) return failure('DPOP_MALFORMED');
    const { jti, htm, htu, iat } = claims;
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) return failure('DPOP_CLAIM_INVALID');
    if (typeof htm !== 'string' || typeof htu !== 'string') return failure('DPOP_CLAIM_INVALID');
    if (typeof iat !== 'number' || !Number.isFinite(iat)) return failure('DPOP_CLAIM_INVALID');

    if (expect.jkt !== undefined && header.jkt !== expect.jkt) return failure('DPOP_KEY_MISMATCH');
    if (htm !== expect.method) return failure('DPOP_HTM_MISMATCH');
    // The common case is the exact string; otherwise both sides are normalised.
    const { url } = expect;
    if (typeof url === 'string' ? htu !== url : !url.includes(htu)) {
      const claimed = normaliseHtu(htu);
      const matches = (candidate: string) => claimed === normaliseHtu(candidate);
      if (claimed === undefined || !(typeof url === 'string' ? matches(url) : url.some(matches))) return failure('DPOP_HTU_MISMATCH');
    }
    if (Math.abs(now() / 1000 - iat) > IAT_WINDOW_SECONDS) return failure('DPOP_IAT_INVALID');
    if (expect.accessToken !== undefined && claims.ath !== accessTokenHash(expect.accessToken)) return failure('DPOP_ATH_MISMATCH');
    if (nonces !== undefined && !nonces.accepts(claims.nonce)) return failure('DPOP_NONCE_REQUIRED');
    return { ok: true, jkt: header.jkt, jti };
  }

  const verdictOf = (proof: VerifiedProof, verdict: string): ProofResult =>
    verdict === 'fresh' ? proof : failure(verdict === 'replayed' ? 'DPOP_REPLAYED' : 'DPOP_REPLAY_CACHE_UNAVAILABLE');

  return function verifyProof(proof, expect) {
    const result = verifyUpToReplay(proof, expect);
    if (!result.ok) return result;
    let verdict: ReturnType<ReplayCache['claim']>;
    try {
      verdict = replayCache.claim(`${result.jkt}:${result.jti}`);
    } catch {
      return failure('DPOP_REPLAY_CACHE_UNAVAILABLE');
    }
    if (typeof verdict === 'string') return verdictOf(result, verdict);
    return verdict.then(
      (v) => verdictOf(result, v),
      () => failure('DPOP_REPLAY_CACHE_UNAVAILABLE'),
    );
  };
}
