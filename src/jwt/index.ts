/**
 * `jwt/` — Latchkey's compact JWS core: strict, synchronous, over `node:crypto` only.
 * See docs/jwt.md.
 */
export type { JwsAlgorithm } from './algorithms.js';
export { decodeBase64url, encodeBase64url, isCanonicalBase64url } from './base64url.js';
export { JWT_ERROR_MESSAGES, JwtError, toApiCode } from './errors.js';
export type { JwtErrorCode } from './errors.js';
export { exportPublicJwk, generateKeyPair, generateSecret, importJwk } from './jwk.js';
export type { PublicJwk } from './jwk.js';
export { createSigner } from './sign.js';
export type { SigningKey } from './sign.js';
export { createVerifier, verifyJws } from './verify.js';
export type {
  KeyResolver,
  VerificationKey,
  Verifier,
  VerifierOptions,
  VerifyResult,
} from './verify.js';
