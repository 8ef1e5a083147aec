/** `jwks/` — the remote JWKS client of resource servers. See docs/embedding.md. */
export { createRemoteJwks, JwksFetchError } from './remote-jwks.js';
export type { JwksFetch, JwksRefetchResult, JwksStatus, RemoteJwks, RemoteJwksOptions } from './remote-jwks.js';
export { freshnessSeconds } from './cache-control.js';
