/** `jwks/` — the remote JWKS client of resource servers. See docs/embedding.md. */
export { createRemoteJwks } from './remote-jwks.js';
export type { RemoteJwks, RemoteJwksOptions } from './remote-jwks.js';
export { freshnessSeconds } from './cache-control.js';
