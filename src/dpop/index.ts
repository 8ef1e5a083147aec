/**
 * `dpop/` — sender-constrained tokens (RFC 9449): proof verification on the JWS core of
 * `jwt/`, the `jti` replay cache (memory, or Redis for several instances), server nonces,
 * `htu` normalisation and JWK thumbprints. See docs/dpop.md.
 */
export { createDpopNonces } from './nonce.js';
export { accessTokenHash, createProofVerifier } from './proof.js';
export type { DpopFailure, ProofExpectation } from './proof.js';
export { MemoryReplayCache, REPLAY_TTL_MS, createReplayCache } from './replay.js';
export { jwkThumbprint } from './thumbprint.js';
