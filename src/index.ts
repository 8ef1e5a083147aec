/**
 * `latchkey` — the service entry point. Every public export is named here (no `export *`),
 * so this file is the list of what the package promises. It loads no web framework.
 *
 * Framework adapters live in `latchkey/express` and `latchkey/fastify`, the standalone
 * server in `latchkey/server`, the browser SDK in `latchkey/client`.
 */

// The service
export { createLatchkey } from './latchkey.js';
export type { Latchkey, LatchkeyOptions } from './latchkey.js';
export { loadConfig, SIGNING_ALGORITHMS } from './config/config.js';
export type { LatchkeyConfig, RateLimitConfig, SigningAlgorithm } from './config/config.js';

// The auth flow's types (results of the hot paths, the authenticated caller)
export type {
  AuthService,
  AuthenticateResult,
  IssuedTokens,
  Principal,
  PublicUser,
  RefreshFailure,
  RefreshResult,
  RequestContext,
  SessionView,
} from './auth/service.js';

// Errors: one base class, a `code` on each, one table from code to HTTP status
export { ApiError, ConfigError, ERROR_CODES, LatchkeyError, StoreUnavailableError, isApiError } from './errors.js';
export type { ConfigReason, ErrorCode, JwksErrorCode, LatchkeyErrorCode } from './errors.js';

// Custom claims of access tokens (docs/embedding.md#custom-claims)
export { RESERVED_CLAIMS } from './auth/custom-claims.js';
export type { ClaimsFunction, ClaimsOption, ClaimsUser } from './auth/custom-claims.js';

// Event types: the audit log's, the admin page's (docs/events.md)
export { EVENT_TYPES } from './auth/events.js';
export type { EventType } from './auth/events.js';
export { JwtError } from './jwt/index.js';
export type { JwtErrorCode } from './jwt/index.js';

// Token primitives, for services that verify or sign on their own
export { createSigner, createVerifier, exportPublicJwk, importJwk } from './jwt/index.js';
export type { JwsAlgorithm, VerificationKey, Verifier, VerifierOptions, VerifyResult } from './jwt/index.js';
export { createRemoteJwks } from './jwks/index.js';
export type { RemoteJwks, RemoteJwksOptions } from './jwks/index.js';
// DPoP (docs/dpop.md): the proof replay cache to share between instances (requireAuth's `dpopReplayCache`).
export { MemoryReplayCache, createReplayCache } from './dpop/index.js';
export type { ReplayCache, ReplayVerdict } from './dpop/replay.js';

// Storage, for custom deployments and tests
export { createStore } from './store/index.js';
export type { Store, StoreOptions } from './store/index.js';
