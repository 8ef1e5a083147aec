/**
 * `npm run example:resource` — the resource server on PORT (default 4000). It needs:
 * AUTH_JWKS_URL (default http://127.0.0.1:3000/.well-known/jwks.json), LATCHKEY_ISSUER
 * (default http://localhost:3000) and LATCHKEY_AUDIENCE (default latchkey). AUTH_JWKS_COOLDOWN_SECONDS
 * (default 30) is the least time between two JWKS fetches.
 */
import type { AddressInfo } from 'node:net';
import { createApp } from './app.js';

const env = process.env;
const app = createApp({
  jwksUrl: env.AUTH_JWKS_URL ?? 'http://127.0.0.1:3000/.well-known/jwks.json',
  issuer: env.LATCHKEY_ISSUER ?? 'http://localhost:3000',
  audience: (env.LATCHKEY_AUDIENCE ?? 'latchkey').split(',').map((a) => a.trim()),
  jwksOptions: { cooldownMs: Number(env.AUTH_JWKS_COOLDOWN_SECONDS ?? 30) * 1000 },
});
const host = env.HOST ?? '127.0.0.1';
const server = app.listen(Number(env.PORT ?? 4000), host, () => {
  const { port } = server.address() as AddressInfo;
  console.log(`resource-server listening on http://${host}:${port}`);
});

function stop(): void {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
}
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
