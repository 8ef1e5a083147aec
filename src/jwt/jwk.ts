/**
 * JWK import/export (RFC 7517) for the keys of {@link JwsAlgorithm}, and key generation.
 * Import accepts public keys only (plus, when asked, HS256 `oct` secrets) and refuses any JWK
 * carrying private members, so a leaked private JWK is never silently used as a public key.
 */
import { type JsonWebKey, type KeyObject, createPublicKey, createSecretKey, generateKeyPairSync, randomBytes } from 'node:crypto';

import { type JwsAlgorithm, isJwsAlgorithm, keyProblem } from './algorithms.js';
import { decodeBase64url } from './base64url.js';
import { JwtError } from './errors.js';

/** A key ready for {@link createVerifier} (or {@link createSigner}). */
export interface ImportedKey {
  kid: string;
  alg: JwsAlgorithm;
  key: KeyObject;
}

/** Options of {@link importJwk}. */
export interface ImportJwkOptions {
  /** Used when the JWK has no `kid`. */
  kid?: string;
  /** Expected algorithm; must agree with the JWK's `alg` when it has one. */
  alg?: JwsAlgorithm;
  /** Accept `kty: "oct"` (HS256 secrets). Default `false`: a JWKS never carries secrets. */
  allowSecret?: boolean;
}

/** A public JWK as published in a JWKS. */
export interface PublicJwk {
  kty: 'EC' | 'OKP' | 'RSA';
  kid: string;
  alg: JwsAlgorithm;
  use: 'sig';
  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'r', 't', 'k'] as const;

function jwkError(message: string): JwtError {
  return new JwtError('JWT_JWK_INVALID', message);
}

function requireB64(jwk: Record<string, unknown>, member: string): string {
  const value = jwk[member];
  if (typeof value !== 'string' || value.length === 0 || decodeBase64url(value) === undefined) {
    throw jwkError(`${member}: canonical base64url is required`);
  }
  return value;
}

/**
 * Imports a public EC P-256, OKP Ed25519 or RSA JWK (or, with `allowSecret`, an `oct` HS256
 * secret). The algorithm comes from the JWK's `alg`, `options.alg`, or the key type; a
 * mismatch between them is an error, as are `use` other than `sig`, `key_ops` without
 * `verify`, and any private member.
 * @throws {JwtError} `JWT_JWK_INVALID` (the message names the member, never its value).
 */
export function importJwk(jwk: unknown, options: ImportJwkOptions = {}): ImportedKey {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw jwkError('a JWK object is required');
  const j = jwk as Record<string, unknown>;
  const kty = j.kty;

  if (j.use !== undefined && j.use !== 'sig') throw jwkError('use: only "sig" keys can verify signatures');
  if (j.key_ops !== undefined && !(Array.isArray(j.key_ops) && j.key_ops.includes('verify'))) {
    throw jwkError('key_ops: must include "verify"');
  }

  const kid = j.kid ?? options.kid;
  if (typeof kid !== 'string' || kid.length === 0) throw jwkError('kid: a non-empty string is required');

  let inferred: JwsAlgorithm;
  let key: KeyObject;
  if (kty === 'oct') {
    if (!options.allowSecret) throw jwkError('kty: "oct" secrets are not accepted here');
    const secret = decodeBase64url(requireB64(j, 'k'));
    if (secret === undefined) throw jwkError('k: canonical base64url is required');
    inferred = 'HS256';
    key = createSecretKey(secret);
  } else {
    for (const member of PRIVATE_MEMBERS) {
      if (j[member] !== undefined) throw jwkError(`${member}: private key members are not accepted`);
    }
    let publicJwk: JsonWebKey;
    if (kty === 'EC') {
      if (j.crv !== 'P-256') throw jwkError('crv: only P-256 EC keys are supported');
      publicJwk = { kty, crv: 'P-256', x: requireB64(j, 'x'), y: requireB64(j, 'y') };
      inferred = 'ES256';
    } else if (kty === 'OKP') {
      if (j.crv !== 'Ed25519') throw jwkError('crv: only Ed25519 OKP keys are supported');
      publicJwk = { kty, crv: 'Ed25519', x: requireB64(j, 'x') };
      inferred = 'EdDSA';
    } else if (kty === 'RSA') {
      publicJwk = { kty, n: requireB64(j, 'n'), e: requireB64(j, 'e') };
      // One RSA key fits RS256 and PS256: the JWK's (or the caller's) `alg` chooses, RS256 otherwise.
      inferred = (j.alg ?? options.alg) === 'PS256' ? 'PS256' : 'RS256';
    } else {
      throw jwkError('kty: only EC, OKP and RSA keys are supported');
    }
    try {
      key = createPublicKey({ key: publicJwk, format: 'jwk' });
    } catch {
      throw jwkError('the key parameters do not describe a valid public key');
    }
  }

  for (const [name, value] of [
    ['alg', j.alg],
    ['options.alg', options.alg],
  ] as const) {
    if (value === undefined) continue;
    if (!isJwsAlgorithm(value)) throw jwkError(`${name}: not a supported algorithm`);
    if (value !== inferred) throw jwkError(`${name}: does not match the key type`);
  }

  const problem = keyProblem(inferred, key, 'verify');
  if (problem !== undefined) throw jwkError(problem);
  return { kid, alg: inferred, key };
}

/**
 * Exports the public part of an ES256, EdDSA, RS256 or PS256 key as a JWK with `kid`, `alg` and
 * `use: "sig"`. A private key is reduced to its public part. HS256 secrets are never exported.
 * @throws {JwtError} `JWT_JWK_INVALID` when the key does not fit `alg` or is a secret.
 */
export function exportPublicJwk(kid: string, alg: JwsAlgorithm, keyObject: KeyObject): PublicJwk {
  if (typeof kid !== 'string' || kid.length === 0) throw jwkError('kid: a non-empty string is required');
  if (!isJwsAlgorithm(alg) || alg === 'HS256') throw jwkError('alg: only ES256, EdDSA, RS256 and PS256 keys can be published');
  const problem = keyProblem(alg, keyObject, 'verify');
  if (problem !== undefined) throw jwkError(problem);
  const publicKey = keyObject.type === 'private' ? createPublicKey(keyObject) : keyObject;
  const exported = publicKey.export({ format: 'jwk' });
  const base = { kid, alg, use: 'sig' as const };
  if (alg === 'ES256') return { kty: 'EC', crv: 'P-256', x: exported.x, y: exported.y, ...base };
  if (alg === 'EdDSA') return { kty: 'OKP', crv: 'Ed25519', x: exported.x, ...base };
  return { kty: 'RSA', n: exported.n, e: exported.e, ...base };
}

/** A generated asymmetric key pair. */
export interface GeneratedKeyPair {
  publicKey: KeyObject;
  privateKey: KeyObject;
}

/**
 * Generates a key pair for `alg`: P-256 for ES256, Ed25519 for EdDSA, RSA for RS256 and PS256
 * (`modulusLength` default 2048). For HS256 use {@link generateSecret}.
 */
export function generateKeyPair(alg: Exclude<JwsAlgorithm, 'HS256'>, options: { modulusLength?: number } = {}): GeneratedKeyPair {
  switch (alg) {
    case 'ES256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'EdDSA':
      return generateKeyPairSync('ed25519');
    case 'RS256':
    case 'PS256':
      return generateKeyPairSync('rsa', { modulusLength: options.modulusLength ?? 2048 });
    default:
      throw new JwtError('JWT_OPTIONS_INVALID', 'alg: only ES256, EdDSA, RS256 and PS256 key pairs can be generated');
  }
}

/** Generates a random HS256 secret (`bytes` default 32, minimum 32). */
export function generateSecret(bytes = 32): KeyObject {
  if (!Number.isInteger(bytes) || bytes < 32) throw new JwtError('JWT_OPTIONS_INVALID', 'bytes: at least 32 are required');
  return createSecretKey(randomBytes(bytes));
}
