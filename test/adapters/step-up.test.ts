/**
 * How the user authenticated, in access tokens (`amr`, `acr`, `auth_time`), and step-up in
 * `requireAuth` (RFC 9470, docs/mfa.md#step-up-for-resource-servers): `acr` and `maxAge` in
 * Express and Fastify, with the local service and with a remote JWKS (`jwksUrl`). A weaker or
 * older token → 401 `STEP_UP_REQUIRED` with the `insufficient_user_authentication` challenge
 * (Bearer, or DPoP for a DPoP-bound token); tokens without `acr`/`auth_time` count as aal1 and
 * fail any `maxAge`. Options are checked once.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { requireAuth as expressRequireAuth, type RequireAuthOptions } from '../../src/adapters/express.js';
import { requireAuth as fastifyRequireAuth } from '../../src/adapters/fastify.js';
import { createSigner } from '../../src/jwt/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { TestClient, type TestResponse } from '../helpers/http-client.js';
import { cookieHeader, expectError, PASSWORD, refreshCookieOf, signUp } from '../http/contract.js';
import { ath, makeProof, proofKey } from '../dpop/helpers.js';

const ISSUER = 'http://localhost:3000';
const CHALLENGE_AAL2 = 'Bearer error="insufficient_user_authentication", acr_values="aal2"';

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

describe('access tokens say how the user authenticated', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.close());

  it('a password login: amr ["pwd"], acr aal1, auth_time = the login; a refresh keeps all three', async () => {
    const loginAt = Math.floor(t.clock.now() / 1000);
    const user = await signUp(t.client);
    expect(claimsOf(user.accessToken)).toMatchObject({ amr: ['pwd'], acr: 'aal1', auth_time: loginAt });
    t.clock.advance(120_000);
    const refreshed = await t.client.post('/auth/refresh', { cookie: cookieHeader(user.refreshToken) });
    expect(refreshed.status).toBe(200);
    const claims = claimsOf(refreshed.body.accessToken);
    expect(claims).toMatchObject({ amr: ['pwd'], acr: 'aal1', auth_time: loginAt });
    expect(claims.iat).toBe(loginAt + 120);
    // And again, from the rotated token.
    t.clock.advance(60_000);
    const again = await t.client.post('/auth/refresh', { cookie: cookieHeader(refreshCookieOf(refreshed)!.value) });
    expect(claimsOf(again.body.accessToken)).toMatchObject({ amr: ['pwd'], acr: 'aal1', auth_time: loginAt });
  });

  it('startSession records the authentication context it is given, and its refreshes keep it', async () => {
    const { userId } = await signUp(t.client);
    const user = (await t.latchkey.store.findUserById(userId))!;
    const authTime = t.clock.now() - 30_000;
    const tokens = await t.latchkey.auth.startSession(
      user,
      { amr: ['pwd', 'otp'], acr: 'aal2', method: 'totp', authTime },
      { ip: null, userAgent: null },
    );
    expect(tokens).toBeDefined();
    expect(claimsOf(tokens!.accessToken)).toMatchObject({ amr: ['pwd', 'otp'], acr: 'aal2', auth_time: Math.floor(authTime / 1000) });
    const refreshed = await t.client.post('/auth/refresh', { cookie: cookieHeader(tokens!.refreshToken) });
    expect(claimsOf(refreshed.body.accessToken)).toMatchObject({ amr: ['pwd', 'otp'], acr: 'aal2', auth_time: Math.floor(authTime / 1000) });
    const audit = (await t.latchkey.store.listAudit({ limit: 1000 })).filter((e) => e.sessionId === tokens!.sessionId && e.type === 'login_success');
    expect(audit.map((e) => e.detail)).toEqual([{ method: 'totp' }]);
  });
});

describe('step-up in requireAuth', () => {
  let t: TestServer;
  let expressServer: Server;
  let fastifyApp: FastifyInstance;
  const bases: Record<string, string> = {};
  let aal1: string;
  let aal2: string;
  let bare: string;
  let boundAal1: string;
  const key = proofKey('ES256');

  beforeAll(async () => {
    t = await startTestServer();
    const remote = { jwksUrl: `${t.baseUrl}/.well-known/jwks.json`, issuer: ISSUER, audience: 'latchkey', now: () => t.clock.now() };
    const routes: Array<[string, Partial<RequireAuthOptions>]> = [
      ['aal2', { acr: 'aal2' }],
      ['aal1', { acr: 'aal1' }],
      ['fresh', { maxAge: 300 }],
      ['both', { acr: 'aal2', maxAge: 60 }],
    ];
    const app = express();
    fastifyApp = Fastify();
    for (const [verifier, base] of [
      ['local', { latchkey: t.latchkey }],
      ['remote', remote],
    ] as const) {
      for (const [name, options] of routes) {
        const all = { ...base, ...options } as RequireAuthOptions;
        app.get(`/${verifier}/${name}`, expressRequireAuth(all), (req, res) => res.json({ id: req.user!.id }));
        fastifyApp.get(`/${verifier}/${name}`, { preHandler: fastifyRequireAuth(all) }, async (request) => ({ id: request.user!.id }));
      }
    }
    expressServer = createServer(app);
    await new Promise<void>((resolve) => expressServer.listen(0, '127.0.0.1', resolve));
    bases.express = `http://127.0.0.1:${(expressServer.address() as AddressInfo).port}`;
    bases.fastify = await fastifyApp.listen({ port: 0, host: '127.0.0.1' });
  });

  /** Fresh tokens at the current (test) clock: tests move the clock past the older ones' expiry. */
  beforeEach(async () => {
    const signedUp = await signUp(t.client);
    aal1 = signedUp.accessToken;
    const user = (await t.latchkey.store.findUserById(signedUp.userId))!;
    aal2 = (await t.latchkey.auth.startSession(user, { amr: ['pwd', 'otp'], acr: 'aal2', method: 'totp' }, { ip: null, userAgent: null }))!
      .accessToken;
    // A token of this issuer's key with neither `acr` nor `auth_time` (another issuer of tokens, an old one).
    const iat = Math.floor(t.clock.now() / 1000);
    bare = createSigner({ key: t.latchkey.keys.signingKey })({
      iss: ISSUER,
      aud: 'latchkey',
      sub: user.id,
      sid: 'no-session',
      role: 'user',
      jti: randomBytes(8).toString('base64url'),
      iat,
      exp: iat + 600,
    });
    const bound = await t.client.post('/auth/login', {
      body: { email: signedUp.email, password: PASSWORD },
      headers: { 'x-latchkey-transport': 'body', dpop: makeProof(key, 'POST', `${ISSUER}/auth/login`, t.clock.now() / 1000) },
    });
    expect(bound.body.tokenType).toBe('DPoP');
    boundAal1 = bound.body.accessToken;
  });
  afterAll(async () => {
    expressServer.closeAllConnections();
    await new Promise<void>((resolve) => expressServer.close(() => resolve()));
    await fastifyApp.close();
    await t.close();
  });

  function expectStepUp(res: TestResponse, challenge: string, token: string): void {
    expectError(res, 401, 'STEP_UP_REQUIRED');
    expect(res.headers.get('www-authenticate')).toBe(challenge);
    expect(res.text).not.toContain(token);
  }

  for (const host of ['express', 'fastify']) {
    for (const verifier of ['local', 'remote']) {
      describe(`${host}, ${verifier} verifier`, () => {
        const get = (path: string, token: string) => new TestClient(bases[host]!).get(`/${verifier}/${path}`, { bearer: token });

        it('acr aal2: an aal1 token → 401 STEP_UP_REQUIRED with the RFC 9470 challenge; an aal2 token passes', async () => {
          expectStepUp(await get('aal2', aal1), CHALLENGE_AAL2, aal1);
          expect((await get('aal2', aal2)).status).toBe(200);
          // aal2 satisfies aal1 as well.
          expect((await get('aal1', aal2)).status).toBe(200);
          expect((await get('aal1', aal1)).status).toBe(200);
        });

        it('a token without acr counts as aal1; without auth_time it fails any maxAge', async () => {
          expect((await get('aal1', bare)).status).toBe(200);
          expectStepUp(await get('aal2', bare), CHALLENGE_AAL2, bare);
          expectStepUp(await get('fresh', bare), 'Bearer error="insufficient_user_authentication", max_age="300"', bare);
        });

        it('maxAge 300: passes up to 300 s + the clock tolerance (5 s) after auth_time, then 401 with max_age', async () => {
          const { accessToken } = await signUp(t.client);
          expect((await get('fresh', accessToken)).status).toBe(200);
          t.clock.advance(305_000);
          expect((await get('fresh', accessToken)).status).toBe(200);
          t.clock.advance(1_000);
          expectStepUp(await get('fresh', accessToken), 'Bearer error="insufficient_user_authentication", max_age="300"', accessToken);
          // The same token is fine where no age is asked for.
          expect((await get('aal1', accessToken)).status).toBe(200);
        });

        it('acr and maxAge together: the challenge carries both; an old aal2 sign-in is refused too', async () => {
          const both = 'Bearer error="insufficient_user_authentication", acr_values="aal2", max_age="60"';
          const { userId, accessToken } = await signUp(t.client);
          expectStepUp(await get('both', accessToken), both, accessToken);
          const user = (await t.latchkey.store.findUserById(userId))!;
          const strong = (await t.latchkey.auth.startSession(
            user,
            { amr: ['pwd', 'otp'], acr: 'aal2', method: 'totp' },
            { ip: null, userAgent: null },
          ))!;
          expect((await get('both', strong.accessToken)).status).toBe(200);
          t.clock.advance(66_000);
          expectStepUp(await get('both', strong.accessToken), both, strong.accessToken);
        });

        it('a DPoP-bound aal1 token with a valid proof gets the challenge in the DPoP scheme', async () => {
          const url = `${bases[host]}/${verifier}/aal2`;
          const proof = makeProof(key, 'GET', url, t.clock.now() / 1000, { claims: { ath: ath(boundAal1) } });
          const res = await new TestClient(bases[host]!).get(`/${verifier}/aal2`, { headers: { authorization: `DPoP ${boundAal1}`, dpop: proof } });
          expectStepUp(res, 'DPoP error="insufficient_user_authentication", acr_values="aal2", algs="ES256 EdDSA RS256 PS256"', boundAal1);
          // Without a proof the DPoP failure comes first: the proof is checked before the step-up.
          const noProof = await new TestClient(bases[host]!).get(`/${verifier}/aal2`, { headers: { authorization: `DPoP ${boundAal1}` } });
          expectError(noProof, 401, 'INVALID_DPOP_PROOF');
        });

        it('an invalid token is still INVALID_TOKEN (step-up only judges valid tokens)', async () => {
          const res = await get('aal2', `${aal2.slice(0, -4)}AAAA`);
          expectError(res, 401, 'INVALID_TOKEN');
          expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
        });
      });
    }
  }
});

describe('step-up options are checked once, at construction', () => {
  it.each([
    ['Express', expressRequireAuth],
    ['Fastify', fastifyRequireAuth],
  ] as const)('%s', (_name, requireAuth) => {
    const remote = { jwksUrl: 'https://a.example/jwks', issuer: 'i', audience: 'a' };
    for (const acr of ['aal4', 'AAL2', '', 2]) expect(() => requireAuth({ ...remote, acr } as never)).toThrow(/acr must be one of aal1, aal2, aal3/);
    for (const maxAge of [-1, 1.5, '300', Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => requireAuth({ ...remote, maxAge } as never)).toThrow(/maxAge must be a whole number/);
    }
    expect(() => requireAuth({ ...remote, acr: 'aal3', maxAge: 0 })).not.toThrow();
  });
});
