/**
 * A real JWKS server for tests: serves the public keys it holds, rotates them on demand, can
 * fail (HTTP 500, junk, oversize), hang, or go down entirely; counts the requests it gets.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { createSigner, exportPublicJwk, generateKeyPair, type SigningKey } from '../../src/jwt/index.js';

export type JwksMode = 'ok' | 'error' | 'junk' | 'empty' | 'hang' | 'huge';

export interface JwksServer {
  url: string;
  requests: number;
  mode: JwksMode;
  cacheControl: string | undefined;
  /** The key new tokens are signed with. */
  current: SigningKey;
  /** Adds a new key (published alongside the others) and makes it current. */
  rotate(options?: { dropOld?: boolean }): SigningKey;
  sign(claims: Record<string, unknown>, key?: SigningKey): string;
  /** Stops answering: the port refuses connections. */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

function newKey(): SigningKey {
  return { kid: randomUUID(), alg: 'ES256', key: generateKeyPair('ES256').privateKey };
}

export async function startJwksServer(): Promise<JwksServer> {
  let keys: SigningKey[] = [newKey()];
  const hanging = new Set<ServerResponse>();
  const handler = (_req: IncomingMessage, res: ServerResponse) => {
    state.requests++;
    switch (state.mode) {
      case 'error':
        res.writeHead(500).end('{"error":"boom"}');
        return;
      case 'junk':
        res.writeHead(200, { 'content-type': 'application/json' }).end('<html>');
        return;
      case 'empty':
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[]}');
        return;
      case 'huge':
        res.writeHead(200, { 'content-type': 'application/json' }).end(`{"keys":[],"pad":"${'x'.repeat(300_000)}"}`);
        return;
      case 'hang':
        hanging.add(res);
        return;
      default: {
        const headers: Record<string, string> = { 'content-type': 'application/jwk-set+json' };
        if (state.cacheControl !== undefined) headers['cache-control'] = state.cacheControl;
        res.writeHead(200, headers).end(JSON.stringify({ keys: keys.map((k) => exportPublicJwk(k.kid, k.alg, k.key)) }));
      }
    }
  };
  let server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  const stop = async () => {
    for (const res of hanging) res.destroy();
    hanging.clear();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };

  const state: JwksServer = {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    requests: 0,
    mode: 'ok',
    cacheControl: 'public, max-age=300',
    current: keys[0]!,
    rotate({ dropOld = false } = {}) {
      const key = newKey();
      keys = dropOld ? [key] : [...keys, key];
      state.current = key;
      return key;
    },
    sign(claims, key = state.current) {
      return createSigner({ key })(claims);
    },
    down: stop,
    async up() {
      server = createServer(handler);
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    },
    close: () => (server.listening ? stop() : Promise.resolve()),
  };
  return state;
}
