/**
 * Signing of compact JWS access tokens: `createSigner` checks the key once and returns a
 * closure that only serialises and signs.
 */
import type { KeyObject } from 'node:crypto';

import { type JwsAlgorithm, createSignature, isJwsAlgorithm, keyProblem } from './algorithms.js';
import { encodeBase64url } from './base64url.js';
import { JwtError } from './errors.js';

/** A private (ES256/EdDSA/RS256/PS256) or secret (HS256) key with its `kid`. */
export interface SigningKey {
  kid: string;
  alg: JwsAlgorithm;
  key: KeyObject;
}

/** Options of {@link createSigner}. */
export interface SignerOptions {
  key: SigningKey;
  /** Header `typ`. Default `at+jwt` (RFC 9068). */
  typ?: string;
}

/** Signs a claims object into a compact JWS. */
export type Signer = (claims: Record<string, unknown>) => string;

/**
 * Creates a signer. The header is always `{"alg","kid","typ"}` in that order.
 * Claims are serialised as given (the caller sets `iss`, `aud`, `exp`, ...).
 *
 * @throws {JwtError} `JWT_OPTIONS_INVALID` when the key does not fit its algorithm (for
 *   example a public key, a P-384 key for ES256, an RSA key under 2048 bits, or an HS256
 *   secret under 32 bytes).
 */
export function createSigner(options: SignerOptions): Signer {
  const { key: signingKey, typ = 'at+jwt' } = options ?? ({} as SignerOptions);
  if (typeof signingKey !== 'object' || signingKey === null) {
    throw new JwtError('JWT_OPTIONS_INVALID', 'key: {kid, alg, key} is required');
  }
  const { kid, alg, key } = signingKey;
  if (typeof kid !== 'string' || kid.length === 0) throw new JwtError('JWT_OPTIONS_INVALID', 'key.kid: a non-empty string is required');
  if (!isJwsAlgorithm(alg)) throw new JwtError('JWT_OPTIONS_INVALID', 'key.alg: not a supported algorithm');
  const problem = keyProblem(alg, key, 'sign');
  if (problem !== undefined) throw new JwtError('JWT_OPTIONS_INVALID', `key.key: ${problem}`);
  if (typeof typ !== 'string' || typ.length === 0) throw new JwtError('JWT_OPTIONS_INVALID', 'typ: a non-empty string is required');

  const prefix = `${encodeBase64url(JSON.stringify({ alg, kid, typ }))}.`;

  return function sign(claims: Record<string, unknown>): string {
    if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) {
      throw new JwtError('JWT_CLAIM_INVALID', 'claims: a plain object is required');
    }
    let json: string;
    try {
      json = JSON.stringify(claims);
    } catch {
      throw new JwtError('JWT_CLAIM_INVALID', 'claims: must be JSON-serialisable');
    }
    const signingInput = prefix + Buffer.from(json, 'utf8').toString('base64url');
    const signature = createSignature(alg, key, Buffer.from(signingInput, 'latin1'));
    return `${signingInput}.${signature.toString('base64url')}`;
  };
}
