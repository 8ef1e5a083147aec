/**
 * DPoP server nonces (RFC 9449 §8, docs/dpop.md#server-nonces) over real HTTP: with
 * `LATCHKEY_DPOP_NONCE=true`, a proof without the current nonce at the auth endpoints gets
 * 401 `USE_DPOP_NONCE` with `WWW-Authenticate: DPoP error="use_dpop_nonce"` and a
 * `DPoP-Nonce`; a stale or forged nonce is refused the same way; the current one is accepted
 * (also in proofs made by panva's `dpop`); every answer carries the nonce; two instances with
 * the same `LATCHKEY_SECRET` (one Redis) accept each other's nonces. `requireAuth` with
 * `dpopNonce: true` (Express, Fastify; local and remote JWKS) does the same for resource
 * requests, and without it asks for no nonce.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as dpop from 'dpop';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireAuth as expressRequireAuth } from '../../src/adapters/express.js';
import { requireAuth as fastifyRequireAuth } from '../../src/adapters/fastify.js';
import { loadConfig } from '../../src/config/config.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { expressHost, fastifyHost } from '../adapters/hosts.js';
import type { Latchkey } from '../../src/latchkey.js';
import { TestClient, type TestResponse } from '../helpers/http-client.js';
import { PASSWORD } from '../http/contract.js';
import { createDpopNonces } from '../../src/dpop/nonce.js';
import { ath, makeProof, proofKey, type ProofKey } from '../dpop/helpers.js';

const ORIGIN = 'http://localhost:3000';
const BODY = { 'x-latchkey-transport': 'body' };
const PERIOD_MS = 300_000;

function expectNonceChallenge(res: TestResponse): string {
  expect({ status: res.status, error: res.body?.error }).toEqual({ status: 401, error: 'USE_DPOP_NONCE' });
  const challenge = res.headers.get('www-authenticate') ?? '';
  expect(challenge.startsWith('DPoP error="use_dpop_nonce"'), challenge).toBe(true);
  const nonce = res.headers.get('dpop-nonce');
  expect(nonce).toMatch(/^[A-Za-z0-9_-]{27}$/);
  return nonce!;
}

describe('attacks: DPoP server nonces at the auth endpoints (LATCHKEY_DPOP_NONCE=true)', () => {
  let t: TestServer;
  let email: string;
  const key = proofKey('ES256');

  const proof = (k: ProofKey, method: string, path: string, nonce?: string, claims: Record<string, unknown> = {}) =>
    makeProof(k, method, `${ORIGIN}${path}`, t.clock.now() / 1000, { claims: { nonce, ...claims } });
  const login = (dpopHeader?: string) =>
    t.client.post('/auth/login', { body: { email, password: PASSWORD }, headers: { ...BODY, ...(dpopHeader ? { dpop: dpopHeader } : {}) } });
  const refresh = (refreshToken: string, dpopHeader?: string) =>
    t.client.post('/auth/refresh', { body: { refreshToken }, headers: { ...BODY, ...(dpopHeader ? { dpop: dpopHeader } : {}) } });
  const logout = (refreshToken: string, dpopHeader?: string) =>
    t.client.post('/auth/logout', { body: { refreshToken }, headers: { ...BODY, ...(dpopHeader ? { dpop: dpopHeader } : {}) } });
  const audits = async () => (await t.latchkey.store.listAudit({ limit: 1000 })).map((e) => e.type);

  /** A bound session, signed in with the nonce the server hands out. */
  async function boundSession(): Promise<{ accessToken: string; refreshToken: string; nonce: string }> {
    const nonce = expectNonceChallenge(await login(proof(key, 'POST', '/auth/login')));
    const res = await login(proof(key, 'POST', '/auth/login', nonce));
    expect({ status: res.status, tokenType: res.body.tokenType }).toEqual({ status: 200, tokenType: 'DPoP' });
    return { accessToken: res.body.accessToken, refreshToken: res.body.refreshToken, nonce: res.headers.get('dpop-nonce')! };
  }

  beforeAll(async () => {
    t = await startTestServer({ dpopNonce: true });
    email = `dpop-nonce-${Date.now()}@example.com`;
    expect((await t.client.post('/auth/register', { body: { email, password: PASSWORD } })).status).toBe(201);
  });
  afterAll(() => t?.close());

  it('a login proof without a nonce: 401 USE_DPOP_NONCE, the DPoP challenge, the current nonce; no session, nothing audited', async () => {
    const before = await audits();
    const nonce = expectNonceChallenge(await login(proof(key, 'POST', '/auth/login')));
    expect(nonce).toBe(t.latchkey.dpopNonces.current());
    expect(await audits()).toEqual(before);
    // A proof with the nonce it was given signs in and binds the session.
    const res = await login(proof(key, 'POST', '/auth/login', nonce));
    expect({ status: res.status, tokenType: res.body.tokenType }).toEqual({ status: 200, tokenType: 'DPoP' });
    expect((await audits()).filter((type) => type === 'login_success').length).toBe(before.filter((type) => type === 'login_success').length + 1);
  });

  it('every answer carries the current nonce: successes, refusals, routes without a proof', async () => {
    const nonce = t.latchkey.dpopNonces.current();
    const answers = [
      await login(), // no proof: a bearer session
      await t.client.post('/auth/login', { body: { email, password: 'wrong password!' }, headers: BODY }),
      await t.client.get('/auth/me'),
      await t.client.post('/auth/register', { body: { email, password: PASSWORD } }),
    ];
    expect(answers.map((res) => res.status)).toEqual([200, 401, 401, 409]);
    for (const res of answers) expect(res.headers.get('dpop-nonce')).toBe(nonce);
  });

  it('a stale nonce (two periods old) is refused with the new one, which is then accepted', async () => {
    const old = t.latchkey.dpopNonces.current();
    t.clock.advance(PERIOD_MS); // the previous period's nonce is still good
    const stillGood = await login(proof(key, 'POST', '/auth/login', old));
    expect(stillGood.status).toBe(200);
    expect(stillGood.headers.get('dpop-nonce')).not.toBe(old);
    t.clock.advance(PERIOD_MS);
    const fresh = expectNonceChallenge(await login(proof(key, 'POST', '/auth/login', old)));
    expect(fresh).not.toBe(old);
    expect((await login(proof(key, 'POST', '/auth/login', fresh))).status).toBe(200);
  });

  it('made-up nonces are refused: wrong MAC, another secret, not a string', async () => {
    const current = Buffer.from(t.latchkey.dpopNonces.current(), 'base64url');
    const flipped = Buffer.from(current);
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 1;
    const otherSecret = createDpopNonces({ secret: randomBytes(32), now: t.clock.now }).current();
    for (const nonce of [flipped.toString('base64url'), otherSecret, 42, '']) {
      expectNonceChallenge(await login(makeProof(key, 'POST', `${ORIGIN}/auth/login`, t.clock.now() / 1000, { claims: { nonce } })));
    }
  });

  it('refresh and logout of a bound session without the nonce: 401 USE_DPOP_NONCE, nothing revoked', async () => {
    const session = await boundSession();
    expectNonceChallenge(await refresh(session.refreshToken, proof(key, 'POST', '/auth/refresh')));
    const refreshed = await refresh(session.refreshToken, proof(key, 'POST', '/auth/refresh', session.nonce));
    expect(refreshed.status).toBe(200);
    const next = refreshed.body.refreshToken as string;
    expectNonceChallenge(await logout(next, proof(key, 'POST', '/auth/logout')));
    // Still alive: the refresh works, then a logout with the nonce ends it.
    const again = await refresh(next, proof(key, 'POST', '/auth/refresh', session.nonce));
    expect(again.status).toBe(200);
    expect((await logout(again.body.refreshToken, proof(key, 'POST', '/auth/logout', session.nonce))).status).toBe(200);
    expect((await refresh(again.body.refreshToken, proof(key, 'POST', '/auth/refresh', session.nonce))).body.error).toBe('INVALID_REFRESH_TOKEN');
  });

  it('in cookie mode a refresh refused for its nonce keeps the cookie (the client retries with the nonce)', async () => {
    const nonce = t.latchkey.dpopNonces.current();
    const signedIn = await t.client.post('/auth/login', {
      body: { email, password: PASSWORD },
      headers: { dpop: proof(key, 'POST', '/auth/login', nonce) },
    });
    expect(signedIn.status).toBe(200);
    const cookie = signedIn.cookies.find((c) => c.value !== '');
    expect(cookie).toBeDefined();
    const jar = `${cookie!.name}=${cookie!.value}`;
    const refused = await t.client.post('/auth/refresh', { cookie: jar, headers: { dpop: proof(key, 'POST', '/auth/refresh') } });
    expectNonceChallenge(refused);
    expect(refused.cookies).toEqual([]);
    const retried = await t.client.post('/auth/refresh', { cookie: jar, headers: { dpop: proof(key, 'POST', '/auth/refresh', nonce) } });
    expect(retried.status).toBe(200);
    expect(retried.cookies.some((c) => c.name === cookie!.name && c.value !== '' && c.value !== cookie!.value)).toBe(true);
  });

  it('the bearer routes of the auth API ask for the nonce too (/auth/me with a bound token)', async () => {
    const { accessToken, nonce } = await boundSession();
    const me = (dpopHeader: string) => t.client.get('/auth/me', { headers: { authorization: `DPoP ${accessToken}`, dpop: dpopHeader } });
    expectNonceChallenge(await me(proof(key, 'GET', '/auth/me', undefined, { ath: ath(accessToken) })));
    const ok = await me(proof(key, 'GET', '/auth/me', nonce, { ath: ath(accessToken) }));
    expect({ status: ok.status, email: ok.body.email }).toEqual({ status: 200, email });
  });

  it("accepts proofs of panva's dpop package that carry the nonce", async () => {
    t.clock.set(Date.now()); // the package signs with the real clock
    for (const alg of ['ES256', 'Ed25519', 'PS256'] as const) {
      const keyPair = await dpop.generateKeyPair(alg);
      const first = await login(await dpop.generateProof(keyPair, `${ORIGIN}/auth/login`, 'POST'));
      const nonce = expectNonceChallenge(first);
      const res = await login(await dpop.generateProof(keyPair, `${ORIGIN}/auth/login`, 'POST', nonce));
      expect({ alg, status: res.status, tokenType: res.body.tokenType }).toEqual({ alg, status: 200, tokenType: 'DPoP' });
      const refreshed = await refresh(res.body.refreshToken, await dpop.generateProof(keyPair, `${ORIGIN}/auth/refresh`, 'POST', nonce));
      expect(refreshed.status).toBe(200);
    }
  });
});

describe.each([
  ['the standalone server', undefined],
  ['the Express router in a host app', expressHost],
  ['the Fastify plugin in a host app', fastifyHost],
] as const)("DPoP server nonces on the edge's own answers: %s", (_name, host) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ dpopNonce: true, ...(host ? { buildApp: (latchkey: Latchkey) => host(latchkey) } : {}) });
  });
  afterAll(() => t?.close());

  it('refusals before a route runs carry the nonce too: malformed JSON, wrong media type, oversized body, schema, unknown path', async () => {
    const nonce = t.latchkey.dpopNonces.current();
    const json = { 'content-type': 'application/json', ...BODY };
    const answers = [
      await t.client.post('/auth/login', { rawBody: '{"email":', headers: json }),
      await t.client.post('/auth/login', { rawBody: 'email=a', headers: { 'content-type': 'application/x-www-form-urlencoded', ...BODY } }),
      await t.client.post('/auth/login', { rawBody: JSON.stringify({ password: 'x'.repeat(100_000) }), headers: json }),
      await t.client.post('/auth/login', { body: { email: 'a@example.com' }, headers: BODY }),
      await t.client.get('/auth/no-such-route'),
    ];
    expect(answers.map((res) => [res.status, res.body?.error])).toEqual([
      [400, 'VALIDATION_FAILED'],
      [415, 'UNSUPPORTED_MEDIA_TYPE'],
      [413, 'PAYLOAD_TOO_LARGE'],
      [400, 'VALIDATION_FAILED'],
      [404, 'NOT_FOUND'],
    ]);
    for (const res of answers) expect(res.headers.get('dpop-nonce')).toBe(nonce);
  });
});

describe('DPoP server nonces: off by default', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t?.close());

  it('no DPoP-Nonce header, and a proof without a nonce binds the session', async () => {
    const email = `dpop-no-nonce-${Date.now()}@example.com`;
    expect((await t.client.post('/auth/register', { body: { email, password: PASSWORD } })).headers.get('dpop-nonce')).toBeNull();
    const proof = makeProof(proofKey('ES256'), 'POST', `${ORIGIN}/auth/login`, t.clock.now() / 1000);
    const res = await t.client.post('/auth/login', { body: { email, password: PASSWORD }, headers: { ...BODY, dpop: proof } });
    expect({ status: res.status, tokenType: res.body.tokenType, nonce: res.headers.get('dpop-nonce') }).toEqual({
      status: 200,
      tokenType: 'DPoP',
      nonce: null,
    });
  });
});

describe('DPoP server nonces across instances (one LATCHKEY_SECRET, one Redis)', () => {
  let a: TestServer;
  let b: TestServer;
  let other: TestServer;
  const email = `dpop-nonce-multi-${Date.now()}@example.com`;

  beforeAll(async () => {
    const secret = new Uint8Array(randomBytes(32));
    const prefix = `latchkey-test-${randomBytes(6).toString('hex')}:`;
    const options = {
      dpopNonce: true,
      redisUrl: 'redis://127.0.0.1:6379',
      rateLimits: { ...loadConfig({}).rateLimits, enabled: false, redisPrefix: prefix },
    };
    a = await startTestServer({ ...options, secret });
    b = await startTestServer({ ...options, secret });
    other = await startTestServer(options); // another secret: another deployment
    for (const t of [a, b, other]) expect((await t.client.post('/auth/register', { body: { email, password: PASSWORD } })).status).toBe(201);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await other?.close();
  });

  it("a nonce instance A handed out is accepted by instance B, not by another deployment's", async () => {
    const key = proofKey('ES256');
    const login = (t: TestServer, nonce?: string) =>
      t.client.post('/auth/login', {
        body: { email, password: PASSWORD },
        headers: { ...BODY, dpop: makeProof(key, 'POST', `${ORIGIN}/auth/login`, Date.now() / 1000, { claims: { nonce } }) },
      });
    const nonce = expectNonceChallenge(await login(a));
    const onB = await login(b, nonce);
    expect({ status: onB.status, tokenType: onB.body.tokenType, nonce: onB.headers.get('dpop-nonce') }).toEqual({
      status: 200,
      tokenType: 'DPoP',
      nonce,
    });
    expectNonceChallenge(await login(other, nonce));
  });
});

describe('attacks: requireAuth with dpopNonce: true', () => {
  let t: TestServer;
  let expressServer: Server;
  let fastifyApp: FastifyInstance;
  const bases: Record<string, string> = {};
  const key = proofKey('ES256');
  let bound: string;

  beforeAll(async () => {
    t = await startTestServer(); // nonces off at its auth endpoints: requireAuth asks for them on its own
    const remote = { jwksUrl: `${t.baseUrl}/.well-known/jwks.json`, issuer: ORIGIN, audience: 'latchkey', dpopNonce: true };
    const app = express();
    app.get('/api/local', expressRequireAuth({ latchkey: t.latchkey, dpopNonce: true }), (req, res) => res.json({ id: req.user!.id }));
    app.get('/api/remote', expressRequireAuth(remote), (req, res) => res.json({ id: req.user!.id }));
    app.get('/api/plain', expressRequireAuth({ latchkey: t.latchkey }), (req, res) => res.json({ id: req.user!.id }));
    expressServer = createServer(app);
    await new Promise<void>((resolve) => expressServer.listen(0, '127.0.0.1', resolve));
    bases.express = `http://127.0.0.1:${(expressServer.address() as AddressInfo).port}`;
    fastifyApp = Fastify();
    const local = fastifyRequireAuth({ latchkey: t.latchkey, dpopNonce: true });
    fastifyApp.get('/api/local', { preHandler: local }, async (request) => ({ id: request.user!.id }));
    fastifyApp.get('/api/remote', { preHandler: fastifyRequireAuth(remote) }, async (request) => ({ id: request.user!.id }));
    fastifyApp.get('/api/plain', { preHandler: fastifyRequireAuth({ latchkey: t.latchkey }) }, async (request) => ({ id: request.user!.id }));
    bases.fastify = await fastifyApp.listen({ port: 0, host: '127.0.0.1' });

    const email = `dpop-nonce-resource-${Date.now()}@example.com`;
    expect((await t.client.post('/auth/register', { body: { email, password: PASSWORD } })).status).toBe(201);
    const res = await t.client.post('/auth/login', {
      body: { email, password: PASSWORD },
      headers: { ...BODY, dpop: makeProof(key, 'POST', `${ORIGIN}/auth/login`, t.clock.now() / 1000) },
    });
    expect(res.body.tokenType).toBe('DPoP');
    bound = res.body.accessToken;
    t.clock.set(Date.now()); // the remote verifier and its nonces run on the real clock
  });
  afterAll(async () => {
    expressServer?.closeAllConnections();
    await new Promise<void>((resolve) => expressServer?.close(() => resolve()));
    await fastifyApp?.close();
    await t?.close();
  });

  for (const host of ['express', 'fastify']) {
    for (const path of ['/api/local', '/api/remote']) {
      it(`${host} ${path}: no nonce → USE_DPOP_NONCE; stale or forged → refused; the current one → accepted`, async () => {
        const client = new TestClient(bases[host]!);
        const get = (nonce?: unknown) =>
          client.get(path, {
            headers: {
              authorization: `DPoP ${bound}`,
              dpop: makeProof(key, 'GET', `${bases[host]}${path}`, Date.now() / 1000, { claims: { ath: ath(bound), nonce } }),
            },
          });
        const nonce = expectNonceChallenge(await get());
        expectNonceChallenge(await get(`${nonce.slice(0, -1)}${nonce.endsWith('A') ? 'E' : 'A'}`)); // another MAC
        const ok = await get(nonce);
        expect({ status: ok.status, nonce: ok.headers.get('dpop-nonce') }).toEqual({ status: 200, nonce });
        // A bound token as Bearer is still refused as before, with the nonce on the answer.
        const bearer = await client.get(path, { headers: { authorization: `Bearer ${bound}` } });
        expect({ status: bearer.status, error: bearer.body.error, nonce: bearer.headers.get('dpop-nonce') }).toEqual({
          status: 401,
          error: 'INVALID_TOKEN',
          nonce,
        });
      });
    }

    it(`${host}: without dpopNonce no nonce is asked for, none sent`, async () => {
      const url = `${bases[host]}/api/plain`;
      const res = await new TestClient(bases[host]!).get('/api/plain', {
        headers: { authorization: `DPoP ${bound}`, dpop: makeProof(key, 'GET', url, t.clock.now() / 1000, { claims: { ath: ath(bound) } }) },
      });
      expect({ status: res.status, nonce: res.headers.get('dpop-nonce') }).toEqual({ status: 200, nonce: null });
    });
  }

  it('the nonce of two periods ago is refused (local; the 900 s access token is still valid)', async () => {
    const client = new TestClient(bases.express!);
    const old = t.latchkey.dpopNonces.current();
    t.clock.advance(2 * PERIOD_MS); // the nonce's period and the next are over; the token has 300 s left
    const res = await client.get('/api/local', {
      headers: {
        authorization: `DPoP ${bound}`,
        dpop: makeProof(key, 'GET', `${bases.express}/api/local`, t.clock.now() / 1000, { claims: { ath: ath(bound), nonce: old } }),
      },
    });
    expect(expectNonceChallenge(res)).not.toBe(old);
    t.clock.set(Date.now());
  });
});
