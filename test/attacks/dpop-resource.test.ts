/**
 * `requireAuth` with DPoP-bound access tokens (docs/dpop.md#resource-servers), in Express and
 * Fastify, with the local service and with a remote JWKS: `Authorization: DPoP` with a valid
 * proof (including `ath`) is accepted; a bound token sent as Bearer, an unbound one sent as
 * DPoP, and proofs bent one way each (another key, URL, method, `ath`, replayed, old, private
 * `jwk`, `alg: none`/HS256) are refused with the contract's codes and RFC 9449 §7.1
 * challenges. Repeating a request is the test that the verified-token cache never lets a
 * bound token skip its proof. Proofs of panva's `dpop` package are accepted.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as dpop from 'dpop';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireAuth as expressRequireAuth } from '../../src/adapters/express.js';
import { requireAuth as fastifyRequireAuth } from '../../src/adapters/fastify.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { TestClient, type TestResponse } from '../helpers/http-client.js';
import { PASSWORD } from '../http/contract.js';
import { ath, makeProof, proofKey } from '../dpop/helpers.js';
import { expressHost } from '../adapters/hosts.js';

const ISSUER = 'http://localhost:3000';
const BODY = { 'x-latchkey-transport': 'body' };

describe('attacks: DPoP-bound access tokens at requireAuth', () => {
  let t: TestServer;
  let expressServer: Server;
  let fastifyApp: FastifyInstance;
  const bases: Record<string, string> = {};
  const key = proofKey('ES256');
  const attacker = proofKey('ES256');
  let bound: string;
  let unbound: string;
  let embedded: TestServer;

  beforeAll(async () => {
    t = await startTestServer();
    embedded = await startTestServer({ buildApp: (latchkey) => expressHost(latchkey) });
    const remote = () => ({ jwksUrl: `${t.baseUrl}/.well-known/jwks.json`, issuer: ISSUER, audience: 'latchkey' });
    const app = express();
    app.get('/api/local', expressRequireAuth({ latchkey: t.latchkey }), (req, res) => res.json({ id: req.user!.id }));
    app.get('/api/remote', expressRequireAuth(remote()), (req, res) => res.json({ id: req.user!.id }));
    expressServer = createServer(app);
    await new Promise<void>((resolve) => expressServer.listen(0, '127.0.0.1', resolve));
    bases.express = `http://127.0.0.1:${(expressServer.address() as AddressInfo).port}`;
    fastifyApp = Fastify();
    fastifyApp.get('/api/local', { preHandler: fastifyRequireAuth({ latchkey: t.latchkey }) }, async (request) => ({ id: request.user!.id }));
    fastifyApp.get('/api/remote', { preHandler: fastifyRequireAuth(remote()) }, async (request) => ({ id: request.user!.id }));
    bases.fastify = await fastifyApp.listen({ port: 0, host: '127.0.0.1' });

    const email = `dpop-resource-${Date.now()}@example.com`;
    expect((await t.client.post('/auth/register', { body: { email, password: PASSWORD } })).status).toBe(201);
    const login = (headers: Record<string, string>) =>
      t.client.post('/auth/login', { body: { email, password: PASSWORD }, headers: { ...BODY, ...headers } });
    const boundLogin = await login({ dpop: makeProof(key, 'POST', `${ISSUER}/auth/login`, t.clock.now() / 1000) });
    expect(boundLogin.body.tokenType).toBe('DPoP');
    bound = boundLogin.body.accessToken;
    unbound = (await login({})).body.accessToken;
  });
  afterAll(async () => {
    expressServer.closeAllConnections();
    await new Promise<void>((resolve) => expressServer.close(() => resolve()));
    await fastifyApp.close();
    await t.close();
    await embedded.close();
  });

  const now = () => t.clock.now() / 1000;

  for (const host of ['express', 'fastify']) {
    for (const path of ['/api/local', '/api/remote']) {
      describe(`${host} ${path}`, () => {
        const url = () => `${bases[host]}${path}`;
        const get = (authorization: string, proof?: string) =>
          new TestClient(bases[host]!).get(path, { headers: { authorization, ...(proof !== undefined ? { dpop: proof } : {}) } });
        const good = (parts = {}) => makeProof(key, 'GET', url(), now(), { claims: { ath: ath(bound) }, ...parts });

        function expectChallenge(res: TestResponse, code: string, error: string): void {
          expect({ status: res.status, error: res.body?.error }).toEqual({ status: 401, error: code });
          const challenge = res.headers.get('www-authenticate') ?? '';
          expect(challenge.startsWith(`DPoP error="${error}"`), challenge).toBe(true);
          expect(challenge).toContain('algs="ES256 EdDSA RS256 PS256"');
          expect(res.text).not.toContain(bound);
        }

        it('accepts DPoP <token> with a valid proof, again and again (each request its own proof)', async () => {
          for (let i = 0; i < 3; i++) {
            const res = await get(`DPoP ${bound}`, good());
            expect(res.status).toBe(200);
          }
          // The query is no part of htu.
          const withQuery = await new TestClient(bases[host]!).get(`${path}?page=2`, { headers: { authorization: `DPoP ${bound}`, dpop: good() } });
          expect(withQuery.status).toBe(200);
        });

        it('refuses a bound token as Bearer, and an unbound token as DPoP → INVALID_TOKEN', async () => {
          expectChallenge(await get(`Bearer ${bound}`), 'INVALID_TOKEN', 'invalid_token');
          expectChallenge(
            await get(`DPoP ${unbound}`, makeProof(key, 'GET', url(), now(), { claims: { ath: ath(unbound) } })),
            'INVALID_TOKEN',
            'invalid_token',
          );
          // An unbound token as Bearer is as before.
          expect((await get(`Bearer ${unbound}`)).status).toBe(200);
        });

        it('refuses the bound token right after a success when the proof is missing (the verified-token cache does not skip it)', async () => {
          expect((await get(`DPoP ${bound}`, good())).status).toBe(200);
          expectChallenge(await get(`DPoP ${bound}`), 'INVALID_DPOP_PROOF', 'invalid_dpop_proof');
        });

        const privateJwk = () => ({ ...key.jwk, d: (key.privateKey.export({ format: 'jwk' }) as { d: string }).d });
        const bent: Array<[string, () => string]> = [
          ["the attacker's key", () => makeProof(attacker, 'GET', url(), now(), { claims: { ath: ath(bound) } })],
          ['another URL', () => makeProof(key, 'GET', `${bases[host]}/api/other`, now(), { claims: { ath: ath(bound) } })],
          ['another method', () => makeProof(key, 'POST', url(), now(), { claims: { ath: ath(bound) } })],
          ['the ath of another token', () => good({ claims: { ath: ath(unbound) } })],
          ['no ath', () => good({ claims: { ath: undefined } })],
          ['an iat 5 minutes old', () => good({ claims: { ath: ath(bound), iat: Math.floor(now()) - 300 } })],
          ['a private jwk', () => good({ header: { jwk: privateJwk() } })],
          ['alg none', () => good({ header: { alg: 'none' }, signature: '' })],
          ['alg HS256', () => good({ header: { alg: 'HS256' }, signature: 'c2lnbmF0dXJl' })],
        ];
        for (const [name, proof] of bent) {
          it(`refuses a proof with ${name} → INVALID_DPOP_PROOF`, async () => {
            expectChallenge(await get(`DPoP ${bound}`, proof()), 'INVALID_DPOP_PROOF', 'invalid_dpop_proof');
          });
        }

        it('refuses a replayed proof (same jti) → INVALID_DPOP_PROOF', async () => {
          const proof = good();
          expect((await get(`DPoP ${bound}`, proof)).status).toBe(200);
          expectChallenge(await get(`DPoP ${bound}`, proof), 'INVALID_DPOP_PROOF', 'invalid_dpop_proof');
        });
      });
    }
  }

  describe.each([
    ['standalone (Fastify plugin)', () => t],
    ['Express router', () => embedded],
  ])("the auth API's own bearer routes, %s", (_name, server) => {
    let session: { access: string; id: string };
    beforeAll(async () => {
      const s = server();
      const email = `dpop-api-${Date.now()}-${Math.random()}@example.com`;
      await s.client.post('/auth/register', { body: { email, password: PASSWORD } });
      const login = await s.client.post('/auth/login', {
        body: { email, password: PASSWORD },
        headers: { ...BODY, dpop: makeProof(key, 'POST', `${ISSUER}/auth/login`, s.clock.now() / 1000) },
      });
      expect(login.body.tokenType).toBe('DPoP');
      const access = login.body.accessToken as string;
      const proofFor = (method: string, path: string) =>
        makeProof(key, method, `${ISSUER}${path}`, s.clock.now() / 1000, { claims: { ath: ath(access) } });
      const sessions = await s.client.get('/auth/sessions', {
        headers: { authorization: `DPoP ${access}`, dpop: proofFor('GET', '/auth/sessions') },
      });
      expect(sessions.status).toBe(200);
      session = { access, id: sessions.body.sessions[0].id };
    });
    const proof = (k: typeof key, method: string, path: string, token: string) =>
      makeProof(k, method, `${ISSUER}${path}`, server().clock.now() / 1000, { claims: { ath: ath(token) } });

    it('GET /auth/me: DPoP with its proof → 200; as Bearer, without a proof, or with another key → 401 with the DPoP challenge', async () => {
      const c = server().client;
      const me = (headers: Record<string, string>) => c.get('/auth/me', { headers });
      expect((await me({ authorization: `DPoP ${session.access}`, dpop: proof(key, 'GET', '/auth/me', session.access) })).status).toBe(200);
      for (const [headers, code] of [
        [{ authorization: `Bearer ${session.access}` }, 'INVALID_TOKEN'],
        [{ authorization: `DPoP ${session.access}` }, 'INVALID_DPOP_PROOF'],
        [{ authorization: `DPoP ${session.access}`, dpop: proof(attacker, 'GET', '/auth/me', session.access) }, 'INVALID_DPOP_PROOF'],
        [{ authorization: `DPoP ${session.access}`, dpop: proof(key, 'GET', '/auth/sessions', session.access) }, 'INVALID_DPOP_PROOF'],
        [{ authorization: `DPoP ${session.access}`, dpop: proof(key, 'GET', '/auth/me', unbound) }, 'INVALID_DPOP_PROOF'],
      ] as const) {
        const res = await me(headers);
        expect({ status: res.status, error: res.body.error }).toEqual({ status: 401, error: code });
        expect(res.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_(token|dpop_proof)", algs="ES256 EdDSA RS256 PS256"/);
      }
    });

    it('a stolen bound access token cannot end sessions as Bearer; with the key, DELETE /auth/sessions/:id works', async () => {
      const c = server().client;
      const path = `/auth/sessions/${session.id}`;
      const stolen = await c.request('DELETE', path, { bearer: session.access });
      expect({ status: stolen.status, error: stolen.body.error }).toEqual({ status: 401, error: 'INVALID_TOKEN' });
      const logoutAll = await c.post('/auth/logout-all', { bearer: session.access });
      expect(logoutAll.status).toBe(401);
      const ok = await c.request('DELETE', path, {
        headers: { authorization: `DPoP ${session.access}`, dpop: proof(key, 'DELETE', path, session.access) },
      });
      expect(ok.status).toBe(204);
    });
  });

  it("accepts proofs of panva's dpop package end to end (login, refresh, resource)", async () => {
    const keyPair = await dpop.generateKeyPair('ES256');
    const email = `dpop-panva-${Date.now()}@example.com`;
    await t.client.post('/auth/register', { body: { email, password: PASSWORD } });
    const login = await t.client.post('/auth/login', {
      body: { email, password: PASSWORD },
      headers: { ...BODY, dpop: await dpop.generateProof(keyPair, `${ISSUER}/auth/login`, 'POST') },
    });
    expect(login.body.tokenType).toBe('DPoP');
    const refreshed = await t.client.post('/auth/refresh', {
      body: { refreshToken: login.body.refreshToken },
      headers: { ...BODY, dpop: await dpop.generateProof(keyPair, `${ISSUER}/auth/refresh`, 'POST') },
    });
    expect(refreshed.status).toBe(200);
    const token = refreshed.body.accessToken as string;
    for (const base of Object.values(bases)) {
      for (const path of ['/api/local', '/api/remote']) {
        const res = await new TestClient(base).get(path, {
          headers: { authorization: `DPoP ${token}`, dpop: await dpop.generateProof(keyPair, `${base}${path}`, 'GET', undefined, token) },
        });
        expect(res.status, `${base}${path}`).toBe(200);
      }
    }
  });
});
