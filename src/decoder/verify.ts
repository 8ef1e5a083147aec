/**
 * Signature verification with keys the user gave, via WebCrypto. The algorithm is the header's
 * `alg` only if the key (and the user's choice) allows it; `alg: none` is never valid; keys the
 * token carries itself (`jwk`, `x5c`, `jku`, `x5u`) are never used.
 */
import { ecSignatureLength, hmacMinKeyBytes, importParams, isJwsAlgorithm, verifyParams, type JwsAlgorithm } from './algorithms.js';
import type { DecodedJws, DecodeResult } from './decode.js';
import { prepareKeys, type KeyInput, type PreparedKey } from './keys.js';
import { isCommonSecret } from './secrets.js';
import { warning, type Warning } from './warnings.js';

export type VerifyCode =
  | 'VALID'
  | 'MALFORMED'
  | 'JWE_NOT_SUPPORTED'
  | 'ALG_NONE'
  | 'ALG_NOT_ALLOWED'
  | 'CRIT_UNSUPPORTED'
  | 'KID_NOT_FOUND'
  | 'BAD_SIGNATURE'
  | 'KEY_EMPTY'
  | 'KEY_INVALID'
  | 'KEY_UNSUPPORTED'
  | 'KEY_IS_PRIVATE';

export type TimeStatus = 'ok' | 'expired' | 'not_yet_valid' | 'invalid_claim';

export interface VerifyResult {
  /** True exactly when the signature checks out with a key the user gave. */
  valid: boolean;
  code: VerifyCode;
  message: string;
  /** The algorithm used, when one was. */
  alg?: JwsAlgorithm;
  /** The `kid` of the JWKS key that matched. */
  kid?: string;
  /** Expiry and not-before, judged separately from the signature (CLI exit 5). */
  time: TimeStatus;
  timeMessage?: string;
  /** Findings about the key itself (short or common HMAC secret, private key material). */
  warnings: Warning[];
}

export interface VerifyOptions {
  /** Algorithms the user accepts; default every algorithm of the key's family. */
  algorithms?: readonly JwsAlgorithm[];
  /** Current time in ms (default `Date.now()` at the edge). */
  now?: number;
  /** Seconds of tolerance for `exp`/`nbf`; default 0. */
  clockToleranceSeconds?: number;
}

function result(partial: Omit<VerifyResult, 'time' | 'warnings'> & Partial<VerifyResult>): VerifyResult {
  return { time: 'ok', warnings: [], ...partial };
}

/** Checks `exp` and `nbf` against the clock. */
function checkTimes(payload: Record<string, unknown>, now: number, toleranceSeconds = 0): { time: TimeStatus; message?: string } {
  const nowS = now / 1000;
  for (const claim of ['exp', 'nbf'] as const) {
    if (claim in payload && (typeof payload[claim] !== 'number' || !Number.isFinite(payload[claim]))) {
      return { time: 'invalid_claim', message: `${claim} is not a number.` };
    }
  }
  const exp = payload.exp as number | undefined;
  const nbf = payload.nbf as number | undefined;
  if (exp !== undefined && nowS >= exp + toleranceSeconds) return { time: 'expired', message: 'The token has expired (exp).' };
  if (nbf !== undefined && nowS < nbf - toleranceSeconds) return { time: 'not_yet_valid', message: 'The token is not valid yet (nbf).' };
  return { time: 'ok' };
}

async function verifyWith(key: PreparedKey, alg: JwsAlgorithm, token: DecodedJws): Promise<boolean> {
  const ecLen = ecSignatureLength(alg);
  if (ecLen !== undefined && token.signature.length !== ecLen) return false;
  const params = importParams(key.family, alg);
  let cryptoKey: CryptoKey;
  const m = key.material;
  if (m.format === 'raw') cryptoKey = await crypto.subtle.importKey('raw', m.bytes as BufferSource, params, false, ['verify']);
  else if (m.format === 'spki') cryptoKey = await crypto.subtle.importKey('spki', m.der as BufferSource, params, false, ['verify']);
  else cryptoKey = await crypto.subtle.importKey('jwk', m.jwk, params, false, ['verify']);
  const data = new TextEncoder().encode(token.signingInput);
  return crypto.subtle.verify(verifyParams(alg), cryptoKey, token.signature as BufferSource, data);
}

function keyWarnings(key: PreparedKey, alg: JwsAlgorithm): Warning[] {
  if (key.family !== 'hmac' || key.material.format !== 'raw') return [];
  const out: Warning[] = [];
  const min = hmacMinKeyBytes(alg);
  if (key.material.bytes.length < min) {
    out.push(warning('HMAC_SECRET_SHORT', `It has ${key.material.bytes.length} bytes; ${alg} needs at least ${min}.`, '/key'));
  }
  if (key.secretText !== undefined && isCommonSecret(key.secretText)) out.push(warning('HMAC_SECRET_COMMON', undefined, '/key'));
  return out;
}

/**
 * Verifies a decoded token with the user's key(s). Never throws. The token's own `jwk`, `x5c`,
 * `jku` and `x5u` are ignored whatever they say.
 */
export async function verifyToken(decoded: DecodeResult, keyInput: KeyInput, options: VerifyOptions = {}): Promise<VerifyResult> {
  if (!decoded.ok) return result({ valid: false, code: 'MALFORMED', message: decoded.message });
  if (decoded.kind === 'JWE') {
    return result({ valid: false, code: 'JWE_NOT_SUPPORTED', message: 'The token is encrypted (JWE); this tool verifies signed tokens (JWS) only.' });
  }
  const prepared = prepareKeys(keyInput);
  if (!prepared.ok) return result({ valid: false, code: prepared.code, message: prepared.message });
  const warnings = [...prepared.warnings];
  const alg = decoded.headerJson.alg;
  if (typeof alg === 'string' && alg.toLowerCase() === 'none') {
    return result({ valid: false, code: 'ALG_NONE', message: 'alg "none" is never accepted: the token is unsigned.', warnings });
  }
  if (!isJwsAlgorithm(alg)) {
    return result({ valid: false, code: 'ALG_NOT_ALLOWED', message: 'The header alg is missing or not a supported JWS algorithm.', warnings });
  }
  // RFC 7515 §4.1.11: a recipient that does not understand every parameter named in `crit` must
  // reject the JWS; this tool understands no extension (and `b64: false` changes what is signed).
  const header = decoded.headerJson;
  if ('crit' in header || ('b64' in header && header.b64 !== true)) {
    return result({
      valid: false,
      code: 'CRIT_UNSUPPORTED',
      message: 'The header requires extensions (crit) this tool does not understand; such a token must be rejected.',
      warnings,
    });
  }
  const userAlgs = options.algorithms;
  const allows = (k: PreparedKey): boolean => k.algorithms.includes(alg) && (!userAlgs || userAlgs.includes(alg));

  let candidates = prepared.keys;
  const kid = decoded.headerJson.kid;
  if (keyInput.type === 'jwks' && typeof kid === 'string') {
    candidates = candidates.filter((k) => k.kid === kid);
    if (candidates.length === 0) {
      return result({ valid: false, code: 'KID_NOT_FOUND', message: 'No key in the JWKS has the kid of the token.', warnings });
    }
  }
  const usable = candidates.filter(allows);
  if (usable.length === 0) {
    const offered = [...new Set(candidates.flatMap((k) => k.algorithms))].filter((a) => !userAlgs || userAlgs.includes(a));
    return result({
      valid: false,
      code: 'ALG_NOT_ALLOWED',
      message: `The header says ${alg}, but the key given allows only ${offered.length ? offered.join(', ') : 'no algorithm'}.`,
      warnings,
    });
  }
  const times = checkTimes(decoded.payloadJson, options.now ?? Date.now(), options.clockToleranceSeconds ?? 0);
  let importFailures = 0;
  for (const key of usable) {
    let ok = false;
    try {
      ok = await verifyWith(key, alg, decoded);
    } catch {
      importFailures++;
      continue;
    }
    if (ok) {
      const r = result({
        valid: true,
        code: 'VALID',
        message: `Signature valid (${alg}${key.kid !== undefined ? `, kid ${JSON.stringify(key.kid.slice(0, 64))}` : ''}).`,
        alg,
        time: times.time,
        warnings: [...warnings, ...keyWarnings(key, alg)],
      });
      if (key.kid !== undefined) r.kid = key.kid;
      if (times.message) r.timeMessage = times.message;
      return r;
    }
  }
  if (importFailures === usable.length) {
    return result({ valid: false, code: 'KEY_INVALID', message: `The key could not be imported for ${alg}.`, warnings });
  }
  const keyWarn = usable.length === 1 ? keyWarnings(usable[0]!, alg) : [];
  return result({
    valid: false,
    code: 'BAD_SIGNATURE',
    message: 'Signature invalid: the token was not signed with the key given, or was altered.',
    alg,
    warnings: [...warnings, ...keyWarn],
  });
}
