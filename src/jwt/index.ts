/**
 * `jwt/` — Latchkey's compact JWS core: strict, synchronous, over `node:crypto` only.
 * See docs/jwt.md.
 */
export { JWS_ALGORITHMS, isJwsAlgorithm, keyProblem } from './algorithms.js';
export type { JwsAlgorithm } from './algorithms.js';
export { decodeBase64url, encodeBase64url, isCanonicalBase64url } from './base64url.js';
export { JWT_ERROR_MESSAGES, JwtError, toApiCode } from './errors.js';
export type { JwtErrorCode } from './errors.js';
export { exportPublicJwk, generateKeyPair, generateSecret, importJwk } from './jwk.js';
export type { GeneratedKeyPair, ImportJwkOptions, ImportedKey, PublicJwk } from './jwk.js';
export { createSigner } from './sign.js';
export type { Signer, SignerOptions, SigningKey } from './sign.js';
export type { TokenCacheOptions } from './cache.js';
export { createVerifier, verifyJws } from './verify.js';
export type {
  JwsHeader,
  JwtClaims,
  KeyResolver,
  VerificationKey,
  VerifiedJws,
  VerifiedJwt,
  Verifier,
  VerifierOptions,
  VerifyJwsOptions,
  VerifyResult,
} from './verify.js';
