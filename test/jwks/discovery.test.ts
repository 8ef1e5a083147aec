/**
 * Discovery (docs/http-api.md#discovery): the verifiers people use find the JWKS from the
 * issuer alone — openid-client's `discovery()`, get-jwks with `providerDiscovery`, and
 * `requireAuth({ issuer })` — against a live `latchkey serve`, each verifying a real token;
 * and `requireAuth({ issuer })` trusts only a discovery document that names exactly its
 * issuer, fetches nothing a token names, and follows keys that move.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { SignJWT, createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { allowInsecureRequests, discovery } from 'openid-client';
import buildGetJwks from 'get-jwks';
import { createVerifier } from 'fast-jwt';
import { createAuthenticator, type AuthOutcome } from '../../src/adapters/authenticate.js';
import { requireAuth } from '../../src/adapters/express.js';
import type { JwksFetchError } from '../../src/jwks/remote-jwks.js';
import { spawnCli } from '../helpers/cli.js';
import { testClock, type TestClock } from '../helpers/clock.js';
import { startJwksServer, type JwksServer } from './jwks-server.js';

const AUDIENCE = 'latchkey';

describe('against a live latchkey serve', () => {
  let dir: string;
  let child: ChildProcess;
  let issuer: string;
  let token: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-discovery-'));
    child = spawnCli(['serve', '--port', '0'], { cwd: dir });
    let stdout = '';
    const demo = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`latchkey serve did not start:\n${stdout}`)), 45_000);
      child.stdout!.on('data', (chunk) => {
        stdout += chunk;
        const match = /"msg":"Demo page: (http:\/\/[^"]+)\/"/.exec(stdout);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
    });
    issuer = demo; // no configuration: the issuer is the printed origin, http://localhost:PORT
    const headers = { 'content-type': 'application/json', 'x-latchkey-transport': 'body' };
    const body = JSON.stringify({ email: 'discovery@example.com', password: 'correct horse battery staple' });
    expect((await fetch(`${issuer}/auth/register`, { method: 'POST', headers, body })).status).toBe(201);
    token = ((await (await fetch(`${issuer}/auth/login`, { method: 'POST', headers, body })).json()) as { accessToken: string }).accessToken;
  }, 60_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it.each(['oidc', 'oauth2'] as const)(
    'openid-client discovery() (%s well-known path) finds the JWKS; jose verifies the token with it',
    async (algorithm) => {
      const config = await discovery(new URL(issuer), 'resource-server', undefined, undefined, { execute: [allowInsecureRequests], algorithm });
      const metadata = config.serverMetadata();
      expect(metadata.issuer).toBe(issuer);
      expect(metadata.jwks_uri).toBe(`${issuer}/.well-known/jwks.json`);
      expect(metadata.authorization_endpoint).toBeUndefined();
      const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(metadata.jwks_uri!)), {
        issuer: metadata.issuer,
        audience: AUDIENCE,
        algorithms: metadata.id_token_signing_alg_values_supported!,
      });
      expect(payload).toMatchObject({ iss: issuer, aud: AUDIENCE, role: 'user' });
    },
  );

  it('get-jwks with providerDiscovery finds the key; fast-jwt (as @fastify/jwt) verifies the token with it', async () => {
    const getJwks = buildGetJwks({ providerDiscovery: true, issuersWhitelist: [issuer] });
    const { kid, alg } = decodeProtectedHeader(token);
    const pem = await getJwks.getPublicKey({ domain: issuer, kid: kid!, alg: alg! });
    const verify = createVerifier({ key: pem, algorithms: [alg as 'ES256'], allowedIss: issuer, allowedAud: AUDIENCE });
    expect(verify(token)).toMatchObject({ iss: issuer, aud: AUDIENCE });
    // A forged signature does not get through the discovered key.
    expect(() => verify(`${token.slice(0, -4)}AAAA`)).toThrow();
  });

  it('requireAuth({ issuer, audience }) with no JWKS URL: the discovered keys verify the token over HTTP', async () => {
    const app = express();
    app.get('/api', requireAuth({ issuer, audience: AUDIENCE }), (req, res) => {
      res.json(req.user);
    });
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const api = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
    try {
      const ok = await fetch(api, { headers: { authorization: `Bearer ${token}` } });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ role: 'user', claims: { iss: issuer } });
      const forged = await fetch(api, { headers: { authorization: `Bearer ${token.slice(0, -4)}AAAA` } });
      expect(forged.status).toBe(401);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('the live JWKS and discovery documents: CORS for every origin, ETag, 304', async () => {
    for (const path of ['/.well-known/jwks.json', '/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
      const first = await fetch(`${issuer}${path}`, { headers: { origin: 'https://other.example' } });
      expect(first.status).toBe(200);
      expect(first.headers.get('access-control-allow-origin')).toBe('*');
      const etag = first.headers.get('etag')!;
      expect(etag).toMatch(/^"[\w-]{22}"$/);
      const again = await fetch(`${issuer}${path}`, { headers: { 'if-none-match': etag } });
      expect(again.status).toBe(304);
      expect(await again.text()).toBe('');
      expect(again.headers.get('etag')).toBe(etag);
    }
  });
});

/** An issuer's discovery endpoint that answers whatever `document` is set to, counting requests. */
interface DiscoveryServer {
  issuer: string;
  document: unknown;
  status: number;
  requests: string[];
  close(): Promise<void>;
}

async function startDiscoveryServer(): Promise<DiscoveryServer> {
  const state: DiscoveryServer = { issuer: '', document: {}, status: 200, requests: [], close: async () => undefined };
  const server: Server = createServer((req, res) => {
    state.requests.push(req.url ?? '');
    if (req.url !== '/.well-known/openid-configuration') return void res.writeHead(404).end('{}');
    res.writeHead(state.status, { 'content-type': 'application/json' }).end(JSON.stringify(state.document));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () => new Promise((resolve) => server.close(() => resolve()));
  return state;
}

describe('requireAuth({ issuer }): discovery is trusted only as far as the issuer', () => {
  let keys: JwksServer;
  let issuerServer: DiscoveryServer;
  let clock: TestClock;
  let errors: JwksFetchError[];

  beforeEach(async () => {
    keys = await startJwksServer();
    issuerServer = await startDiscoveryServer();
    issuerServer.document = { issuer: issuerServer.issuer, jwks_uri: keys.url };
    clock = testClock();
    errors = [];
  });
  afterEach(async () => {
    await keys.close();
    await issuerServer.close();
  });

  const claims = (overrides: Record<string, unknown> = {}) => {
    const iat = Math.floor(clock.now() / 1000);
    return { iss: issuerServer.issuer, aud: AUDIENCE, sub: 'u1', sid: 's1', role: 'user', jti: randomUUID(), iat, exp: iat + 900, ...overrides };
  };
  const authenticator = () => {
    const authenticate = createAuthenticator({
      issuer: issuerServer.issuer,
      audience: AUDIENCE,
      now: clock.now,
      jwksOptions: { now: clock.now, cooldownMs: 0, onError: (error) => errors.push(error) },
    });
    return async (token: string): Promise<string> => {
      const outcome: AuthOutcome = await authenticate({ authorization: `Bearer ${token}` });
      return outcome.ok ? 'OK' : outcome.error.code;
    };
  };

  it('reads the issuer’s document once, then the JWKS it names; tokens verify', async () => {
    const check = authenticator();
    expect(await check(keys.sign(claims()))).toBe('OK');
    expect(await check(keys.sign(claims()))).toBe('OK');
    expect(issuerServer.requests).toEqual(['/.well-known/openid-configuration']);
    expect(keys.requests).toBe(1);
  });

  it.each([
    ['another issuer', (_issuer: string, jwks: string) => ({ issuer: 'https://evil.example', jwks_uri: jwks })],
    ['the issuer with a trailing slash (not the same string)', (issuer: string, jwks: string) => ({ issuer: `${issuer}/`, jwks_uri: jwks })],
    ['no issuer', (_issuer: string, jwks: string) => ({ jwks_uri: jwks })],
    ['no jwks_uri', (issuer: string) => ({ issuer })],
    ['a plain-http jwks_uri on another host', (issuer: string) => ({ issuer, jwks_uri: 'http://keys.example.net/jwks.json' })],
    ['a jwks_uri with credentials', (issuer: string, jwks: string) => ({ issuer, jwks_uri: jwks.replace('http://', 'http://user:pw@') })],
    ['not an object', () => ['not', 'metadata']],
  ])('a document with %s is refused: no key is fetched, the token is not accepted', async (_label, make) => {
    issuerServer.document = make(issuerServer.issuer, keys.url);
    const check = authenticator();
    expect(await check(keys.sign(claims()))).toBe('UNAVAILABLE');
    expect(keys.requests).toBe(0);
    expect(errors.map((e) => e.code)).toEqual(['JWKS_INVALID']);
  });

  it('a discovery endpoint that fails is an outage (503 UNAVAILABLE), not a bad token', async () => {
    issuerServer.status = 500;
    const check = authenticator();
    expect(await check(keys.sign(claims()))).toBe('UNAVAILABLE');
    expect(errors.map((e) => e.code)).toEqual(['JWKS_HTTP_STATUS']);
    expect(keys.requests).toBe(0);
  });

  it('nothing a token names is fetched: not its iss, not its jku', async () => {
    const evil = await startDiscoveryServer();
    const evilKeys = await startJwksServer();
    evil.document = { issuer: evil.issuer, jwks_uri: evilKeys.url };
    try {
      const check = authenticator();
      const forged = evilKeys.sign(claims({ iss: evil.issuer }));
      expect(await check(forged)).toBe('INVALID_TOKEN');
      const withJku = await new SignJWT(claims())
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: evilKeys.current.kid, jku: evilKeys.url })
        .sign(evilKeys.current.key);
      expect(await check(withJku)).toBe('INVALID_TOKEN');
      expect(evil.requests).toEqual([]);
      expect(evilKeys.requests).toBe(0);
      expect(await check(keys.sign(claims()))).toBe('OK');
    } finally {
      await evil.close();
      await evilKeys.close();
    }
  });

  it('keys that move: after a failed JWKS fetch the document is read again and the new jwks_uri is used', async () => {
    const check = authenticator();
    expect(await check(keys.sign(claims()))).toBe('OK');
    const moved = await startJwksServer();
    try {
      issuerServer.document = { issuer: issuerServer.issuer, jwks_uri: moved.url };
      await keys.down();
      const token = moved.sign(claims()); // a kid the cache does not know: a refetch
      expect(await check(token)).toBe('UNAVAILABLE'); // the old JWKS URL is down
      expect(await check(token)).toBe('OK'); // discovered again: the new URL
      expect(issuerServer.requests).toHaveLength(2);
      expect(moved.requests).toBe(1);
    } finally {
      await moved.close();
    }
  });
});
