/** Shared fixtures for the jwt/ tests: real keys, a frozen clock, and a token forger. */
import { type KeyObject, constants, createHmac, createSecretKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';

import type { JwsAlgorithm, VerificationKey, VerifierOptions } from '../../src/jwt/index.js';
import { createVerifier } from '../../src/jwt/index.js';

/** Frozen clock: 2023-11-14T22:13:20Z, in ms. */
export const NOW_MS = 1_700_000_000_000;
export const NOW = NOW_MS / 1000;
export const ISS = 'https://auth.example.test';
export const AUD = 'latchkey';

export interface TestKey {
  kid: string;
  alg: JwsAlgorithm;
  /** Signs (private or secret). */
  signKey: KeyObject;
  /** Verifies (public or secret). */
  verifyKey: KeyObject;
}

function pair(alg: JwsAlgorithm, kid: string): TestKey {
  const { privateKey, publicKey } =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'EdDSA'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, alg, signKey: privateKey, verifyKey: publicKey };
}

const secret = createSecretKey(randomBytes(32));
export const KEYS: Record<JwsAlgorithm, TestKey> = {
  ES256: pair('ES256', 'es-1'),
  EdDSA: pair('EdDSA', 'ed-1'),
  RS256: pair('RS256', 'rs-1'),
  PS256: pair('PS256', 'ps-1'),
  HS256: { kid: 'hs-1', alg: 'HS256', signKey: secret, verifyKey: secret },
};
export const ALGS: JwsAlgorithm[] = ['ES256', 'EdDSA', 'RS256', 'PS256', 'HS256'];

export function verificationKey(k: TestKey): VerificationKey {
  return { kid: k.kid, alg: k.alg, key: k.verifyKey };
}

/** A verifier accepting all four test keys, with the frozen clock. */
export function verifierFor(overrides: Partial<VerifierOptions> = {}) {
  return createVerifier({
    algorithms: ALGS,
    keys: ALGS.map((a) => verificationKey(KEYS[a])),
    issuer: ISS,
    audience: AUD,
    now: () => NOW_MS,
    ...overrides,
  });
}

/** Valid claims at the frozen clock; `undefined` values remove a claim. */
export function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const all: Record<string, unknown> = {
    iss: ISS,
    aud: AUD,
    sub: 'user-1',
    sid: 'sess-1',
    role: 'user',
    jti: 'j-1',
    iat: NOW - 10,
    exp: NOW + 900,
    ...overrides,
  };
  for (const [k, v] of Object.entries(all)) if (v === undefined) delete all[k];
  return all;
}

export const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value), 'utf8').toString('base64url');

/** Raw JWS signature with node:crypto directly (independent of src/jwt). */
export function rawSign(alg: JwsAlgorithm | 'ES256-DER', key: KeyObject | Buffer | string, data: string): Buffer {
  const bytes = Buffer.from(data, 'latin1');
  switch (alg) {
    case 'HS256':
      return createHmac('sha256', key as KeyObject)
        .update(bytes)
        .digest();
    case 'ES256':
      return sign('sha256', bytes, { key: key as KeyObject, dsaEncoding: 'ieee-p1363' });
    case 'ES256-DER':
      return sign('sha256', bytes, { key: key as KeyObject, dsaEncoding: 'der' });
    case 'EdDSA':
      return sign(null, bytes, key as KeyObject);
    case 'RS256':
      return sign('sha256', bytes, key as KeyObject);
    case 'PS256':
      return sign('sha256', bytes, { key: key as KeyObject, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  }
}

/**
 * Forges a compact token: header and payload may be objects or raw JSON text; the signature is
 * computed with `signer` over the exact signing input (or given as a raw segment string).
 */
export function forge(header: unknown, payload: unknown, signer: ((signingInput: string) => Buffer) | string): string {
  const input = `${b64(header)}.${b64(payload)}`;
  const sig = typeof signer === 'string' ? signer : signer(input).toString('base64url');
  return `${input}.${sig}`;
}

/** Forges a token correctly signed by a test key (with its kid and typ unless overridden). */
export function signed(k: TestKey, header: Record<string, unknown> = {}, payload: unknown = claims()): string {
  const h = { alg: k.alg, kid: k.kid, typ: 'at+jwt', ...header };
  for (const [name, v] of Object.entries(h)) if (v === undefined) delete (h as Record<string, unknown>)[name];
  return forge(h, payload, (input) => rawSign(k.alg, k.signKey, input));
}
