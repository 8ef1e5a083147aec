/**
 * The five JWS algorithms we support and the one place that decides which key may be used
 * with which algorithm. Algorithm confusion is impossible by construction: an HMAC key is a
 * `KeyObject` of type `secret`, every asymmetric key must be `public`/`private` with the
 * exact `asymmetricKeyType` (and curve) of its algorithm, and nothing here ever turns key
 * bytes of one kind into a key of another.
 */
import { KeyObject, constants, createHmac, createPublicKey, sign as cryptoSign, timingSafeEqual, verify as cryptoVerify } from 'node:crypto';

/** JWS `alg` values Latchkey supports (RFC 7518 §3.1, RFC 8037 §3.1). */
export type JwsAlgorithm = 'ES256' | 'EdDSA' | 'RS256' | 'PS256' | 'HS256';

/** RSASSA-PSS as RFC 7518 §3.5 fixes it for PS256: MGF1 with SHA-256, salt as long as the hash (32 bytes). */
const PSS = { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } as const;

/** Minimum HMAC secret length (bytes) for HS256 (RFC 7518 §3.2: at least the hash size). */
const MIN_HMAC_SECRET_BYTES = 32;
/** Minimum and maximum RSA modulus sizes (bits). The maximum bounds the cost of one verify. */
const MIN_RSA_BITS = 2048;
const MAX_RSA_BITS = 8192;

/** Is `value` one of {@link JWS_ALGORITHMS} (exact, case-sensitive)? */
export function isJwsAlgorithm(value: unknown): value is JwsAlgorithm {
  return value === 'ES256' || value === 'EdDSA' || value === 'RS256' || value === 'PS256' || value === 'HS256';
}

/**
 * Why `key` cannot be used with `alg` for `use`, or `undefined` when it can. The reason is a
 * fixed text without key material.
 * - `sign`: a `private` key (asymmetric) or `secret` key (HS256).
 * - `verify`: a `public` or `private` key (asymmetric) or `secret` key (HS256).
 */
export function keyProblem(alg: JwsAlgorithm, key: unknown, use: 'sign' | 'verify'): string | undefined {
  if (!(key instanceof KeyObject)) return 'key must be a crypto.KeyObject';
  if (alg === 'HS256') {
    if (key.type !== 'secret') return 'HS256 needs a secret KeyObject (never a public or private key)';
    if ((key.symmetricKeySize ?? 0) < MIN_HMAC_SECRET_BYTES) return `HS256 secret must be at least ${MIN_HMAC_SECRET_BYTES} bytes`;
    return undefined;
  }
  if (key.type === 'secret') return `${alg} needs an asymmetric key, not a secret`;
  if (use === 'sign' && key.type !== 'private') return `${alg} signing needs a private key`;
  const type = key.asymmetricKeyType;
  if (alg === 'ES256') {
    if (type !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') return 'ES256 needs a P-256 EC key';
    return undefined;
  }
  if (alg === 'EdDSA') {
    if (type !== 'ed25519') return 'EdDSA needs an Ed25519 key';
    return undefined;
  }
  // RS256 and PS256 use the same plain RSA keys (the padding comes from `alg`, never from the key:
  // an `rsa-pss` KeyObject carries its own parameters and is refused).
  if (type !== 'rsa') return `${alg} needs an RSA key (type rsa, not rsa-pss)`;
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) return `${alg} key must be ${MIN_RSA_BITS} to ${MAX_RSA_BITS} bits`;
  return undefined;
}

/**
 * A key checked for one algorithm, with what the hot path needs precomputed.
 * @internal
 */
export interface PreparedKey {
  readonly alg: JwsAlgorithm;
  readonly key: KeyObject;
  /** Exact signature length in bytes. */
  readonly signatureLength: number;
}

const prepared = new WeakMap<KeyObject, PreparedKey>();

/**
 * Checks `key` for verification with `alg` once and caches the result per `KeyObject`
 * (private keys are reduced to their public part). Returns a reason string when unusable.
 * @internal
 */
export function prepareVerificationKey(alg: JwsAlgorithm, key: unknown): PreparedKey | string {
  if (key instanceof KeyObject) {
    const hit = prepared.get(key);
    if (hit !== undefined && hit.alg === alg) return hit;
  }
  const problem = keyProblem(alg, key, 'verify');
  if (problem !== undefined) return problem;
  const keyObject = key as KeyObject;
  const verifyKey = keyObject.type === 'private' ? createPublicKey(keyObject) : keyObject;
  const signatureLength = alg === 'RS256' || alg === 'PS256' ? (verifyKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8 : alg === 'HS256' ? 32 : 64;
  const entry: PreparedKey = Object.freeze({ alg, key: verifyKey, signatureLength });
  prepared.set(keyObject, entry);
  return entry;
}

/** Are bytes `[start, end)` of `buf` all zero? */
function isZero(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] !== 0) return false;
  return true;
}

/**
 * Verifies a JWS signature over `data` (bytes, or an ASCII/latin1 string: the JWS signing
 * input) with an already prepared key. Never throws: every
 * malformed signature (wrong length, DER-encoded ECDSA, r = 0 or s = 0, ...) is `false`.
 * @internal
 */
export function verifySignature(prepared: PreparedKey, data: Buffer | string, signature: Buffer): boolean {
  if (signature.length !== prepared.signatureLength) return false;
  try {
    if (prepared.alg === 'HS256') {
      const mac = createHmac('sha256', prepared.key)
        .update(data as string, 'latin1')
        .digest();
      return timingSafeEqual(mac, signature);
    }
    const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    switch (prepared.alg) {
      case 'ES256':
        // r = 0 or s = 0 is never a valid ECDSA signature (also refused by OpenSSL; checked
        // here explicitly so that the rule does not depend on the crypto backend).
        if (isZero(signature, 0, 32) || isZero(signature, 32, 64)) return false;
        return cryptoVerify('sha256', bytes, { key: prepared.key, dsaEncoding: 'ieee-p1363' }, signature);
      case 'EdDSA':
        return cryptoVerify(null, bytes, prepared.key, signature);
      case 'RS256':
        return cryptoVerify('sha256', bytes, prepared.key, signature);
      case 'PS256':
        return cryptoVerify('sha256', bytes, { key: prepared.key, ...PSS }, signature);
    }
  } catch {
    return false;
  }
}

/**
 * Signs `data` with a key already checked by {@link keyProblem} for `sign`.
 * ES256 signatures are JOSE raw `r ‖ s` (64 bytes), never DER.
 * @internal
 */
export function createSignature(alg: JwsAlgorithm, key: KeyObject, data: Buffer): Buffer {
  switch (alg) {
    case 'HS256':
      return createHmac('sha256', key).update(data).digest();
    case 'ES256':
      return cryptoSign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
    case 'EdDSA':
      return cryptoSign(null, data, key);
    case 'RS256':
      return cryptoSign('sha256', data, key);
    case 'PS256':
      return cryptoSign('sha256', data, { key, ...PSS });
  }
}
