/**
 * `dpop/` — sender-constrained tokens (RFC 9449): proof verification on the JWS core of
 * `jwt/`, the `jti` replay cache (memory, or Redis for several instances), server nonces,
 * `htu` normalisation and JWK thumbprints. See docs/dpop.md.
 */
export { expectedHtu, normaliseHtu } from './htu.js';
export { createDpopNonces } from './nonce.js';
export type { DpopNonceOptions, DpopNonces } from './nonce.js';
export { DPOP_ALGORITHMS, IAT_WINDOW_SECONDS, accessTokenHash, createProofVerifier } from './proof.js';
export type { DpopAlgorithm, DpopFailure, ProofExpectation, ProofResult, ProofVerifier, ProofVerifierOptions, VerifiedProof } from './proof.js';
export { MemoryReplayCache, REPLAY_TTL_MS, createReplayCache } from './replay.js';
export type { MemoryReplayCacheOptions, ReplayCache, ReplayCacheOptions, ReplayVerdict } from './replay.js';
export { jwkThumbprint } from './thumbprint.js';
