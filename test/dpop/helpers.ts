/**
 * Proof forging for the dpop/ tests, with node:crypto directly (independent of src/):
 * real keys of every accepted algorithm, and a maker whose header, claims and signature
 * can each be bent.
 */
import { type KeyObject, constants, createHash, generateKeyPairSync, randomUUID, sign } from 'node:crypto';

export type ProofAlg = 'ES256' | 'EdDSA' | 'Ed25519' | 'RS256' | 'PS256';

export interface ProofKey {
  alg: ProofAlg;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The public JWK as a client puts it in the header (no private members). */
  jwk: Record<string, unknown>;
}

export function proofKey(alg: ProofAlg, modulusLength = 2048): ProofKey {
  const pair =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'EdDSA' || alg === 'Ed25519'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('rsa', { modulusLength });
  const { kty, crv, x, y, n, e } = pair.publicKey.export({ format: 'jwk' });
  const jwk = Object.fromEntries(Object.entries({ kty, crv, x, y, n, e }).filter(([, v]) => v !== undefined));
  return { alg, ...pair, jwk };
}

/** Signs the JWS signing input with node:crypto for `alg` (JOSE encodings). */
function signInput(alg: ProofAlg, key: KeyObject, input: string): Buffer {
  const data = Buffer.from(input, 'latin1');
  switch (alg) {
    case 'ES256':
      return sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
    case 'EdDSA':
    case 'Ed25519':
      return sign(null, data, key);
    case 'RS256':
      return sign('sha256', data, key);
    case 'PS256':
      return sign('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  }
}

const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value), 'utf8').toString('base64url');

export const ath = (token: string): string => createHash('sha256').update(token).digest('base64url');

export interface ProofParts {
  /** Merged over `{typ, alg, jwk}`; `undefined` removes a member. */
  header?: Record<string, unknown>;
  /** Merged over `{jti, htm, htu, iat}`; `undefined` removes a claim. */
  claims?: Record<string, unknown>;
  /** Signs with this key instead of the proof key's own (the header still names the proof key). */
  signWith?: KeyObject;
  /** Signature segment written as given. */
  signature?: string;
}

function merged(base: Record<string, unknown>, over: Record<string, unknown> = {}): Record<string, unknown> {
  const all: Record<string, unknown> = { ...base, ...over };
  for (const [k, v] of Object.entries(all)) if (v === undefined) delete all[k];
  return all;
}

/** A proof for `method url` at `nowSeconds`, signed by `key`, bent by `parts`. */
export function makeProof(key: ProofKey, method: string, url: string, nowSeconds: number, parts: ProofParts = {}): string {
  const header = merged({ typ: 'dpop+jwt', alg: key.alg, jwk: key.jwk }, parts.header);
  const claims = merged({ jti: randomUUID(), htm: method, htu: url, iat: Math.floor(nowSeconds) }, parts.claims);
  const input = `${b64(header)}.${b64(claims)}`;
  const signature = parts.signature ?? signInput(key.alg, parts.signWith ?? key.privateKey, input).toString('base64url');
  return `${input}.${signature}`;
}
