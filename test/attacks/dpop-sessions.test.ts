/**
 * DPoP-bound sessions over HTTP against the real server (docs/dpop.md#bound-sessions): a login
 * with a proof binds the session to the proof's key; its refresh token is then useless without
 * that key. Every attack is a real request (a stolen refresh token replayed without a proof,
 * with the attacker's own key, with proofs bent one way each), refused with 401
 * `INVALID_DPOP_PROOF`, audited `dpop_mismatch`, and followed by a refresh of the legitimate
 * client that still works. Proofs of panva's `dpop` package are accepted end to end.
 */
import { createHash } from 'node:crypto';
import * as dpop from 'dpop';
import * as jose from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import type { TestResponse } from '../helpers/http-client.js';
import { PASSWORD } from '../http/contract.js';
import { makeProof, proofKey, type ProofKey } from '../dpop/helpers.js';
import { GuardedClient, partsOf } from './helpers.js';

const ORIGIN = 'http://localhost:3000';
const BODY = { 'x-latchkey-transport': 'body' };

describe('attacks: DPoP-bound sessions', () => {
  let t: TestServer;
  let c: GuardedClient;
  const key = proofKey('ES256');
  const attacker = proofKey('ES256');
  let email: string;

  const nowSeconds = () => t.clock.now() / 1000;
  const proof = (k: ProofKey, method: string, path: string, parts = {}) => makeProof(k, method, `${ORIGIN}${path}`, nowSeconds(), parts);

  const login = (dpopHeader?: string) =>
    c.post('/auth/login', { body: { email, password: PASSWORD }, headers: { ...BODY, ...(dpopHeader ? { dpop: dpopHeader } : {}) } });
  const refresh = (refreshToken: string, dpopHeader?: string) =>
    c.post('/auth/refresh', { body: { refreshToken }, headers: { ...BODY, ...(dpopHeader ? { dpop: dpopHeader } : {}) } });

  async function dpopAudits(): Promise<Array<Record<string, unknown>>> {
    return (await t.latchkey.store.listAudit({ limit: 1000 })).filter((e) => e.type === 'dpop_mismatch') as never;
  }

  function expectRefused(res: TestResponse): void {
    expect({ status: res.status, error: res.body?.error }).toEqual({ status: 401, error: 'INVALID_DPOP_PROOF' });
    expect(res.cookies).toEqual([]);
  }

  beforeAll(async () => {
    t = await startTestServer();
    c = new GuardedClient(t.baseUrl);
    email = `dpop-${Date.now()}@example.com`;
    expect((await c.post('/auth/register', { body: { email, password: PASSWORD } })).status).toBe(201);
  });
  afterAll(() => t.close());

  it('a login with a proof binds the session: cnf.jkt is the key thumbprint, tokenType DPoP', async () => {
    const res = await login(proof(key, 'POST', '/auth/login'));
    expect(res.status).toBe(200);
    expect(res.body.tokenType).toBe('DPoP');
    const { claims } = partsOf(res.body.accessToken);
    expect(claims.cnf).toEqual({ jkt: await jose.calculateJwkThumbprint(key.jwk as jose.JWK, 'sha256') });
    const refreshed = await refresh(res.body.refreshToken, proof(key, 'POST', '/auth/refresh'));
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.tokenType).toBe('DPoP');
    expect(partsOf(refreshed.body.accessToken).claims.cnf).toEqual(claims.cnf);
  });

  it('a login without a proof is a bearer session, exactly as before', async () => {
    const res = await login();
    expect(res.status).toBe(200);
    expect(res.body.tokenType).toBe('Bearer');
    expect(partsOf(res.body.accessToken).claims.cnf).toBeUndefined();
    const refreshed = await refresh(res.body.refreshToken);
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.tokenType).toBe('Bearer');
    // A proof on a bearer session's refresh does not bind it afterwards.
    const again = await refresh(refreshed.body.refreshToken, proof(key, 'POST', '/auth/refresh'));
    expect(again.status).toBe(200);
    expect(again.body.tokenType).toBe('Bearer');
  });

  it('an invalid proof on login signs no one in', async () => {
    const before = (await t.latchkey.store.listAudit({ limit: 1000 })).filter((e) => e.type === 'login_success').length;
    for (const bad of [
      proof(key, 'POST', '/auth/refresh'),
      proof(key, 'POST', '/auth/login', { header: { alg: 'none' }, signature: '' }),
      proof(key, 'POST', '/auth/login', { claims: { iat: nowSeconds() - 300 } }),
      'not-a-proof',
    ]) {
      const res = await login(bad);
      expect({ status: res.status, error: res.body.error }).toEqual({ status: 401, error: 'INVALID_DPOP_PROOF' });
      expect(res.body.accessToken).toBeUndefined();
    }
    const after = await t.latchkey.store.listAudit({ limit: 1000 });
    expect(after.filter((e) => e.type === 'login_success').length).toBe(before);
    expect(after.filter((e) => e.type === 'login_failure' && e.detail?.reason === 'invalid_dpop_proof').length).toBe(4);
  });

  describe('a stolen bound refresh token', () => {
    let current: string;
    let spent: string;
    let used: string;

    beforeAll(async () => {
      const res = await login(proof(key, 'POST', '/auth/login'));
      expect(res.status).toBe(200);
      used = proof(key, 'POST', '/auth/refresh');
      const first = await refresh(res.body.refreshToken, used);
      expect(first.status).toBe(200);
      spent = res.body.refreshToken;
      current = first.body.refreshToken;
      c.guard(spent);
      c.guard(current);
    });

    // Each attack uses the current token (or the spent one), is refused and audited, and the
    // legitimate client's next refresh (with its key) still works.
    const privateJwk = () => ({ ...key.jwk, d: (key.privateKey.export({ format: 'jwk' }) as { d: string }).d });
    const attacks: Array<[string, () => { token: string; proof: string | undefined; reason: string }]> = [
      ['without a proof', () => ({ token: current, proof: undefined, reason: 'DPOP_MISSING' })],
      ["with the attacker's own key", () => ({ token: current, proof: proof(attacker, 'POST', '/auth/refresh'), reason: 'DPOP_KEY_MISMATCH' })],
      ['with a proof for another URL', () => ({ token: current, proof: proof(key, 'POST', '/auth/logout'), reason: 'DPOP_HTU_MISMATCH' })],
      ['with a proof for another method', () => ({ token: current, proof: proof(key, 'GET', '/auth/refresh'), reason: 'DPOP_HTM_MISMATCH' })],
      ['with a replayed proof (same jti)', () => ({ token: current, proof: used, reason: 'DPOP_REPLAYED' })],
      [
        'with an iat 5 minutes old',
        () => ({
          token: current,
          proof: proof(key, 'POST', '/auth/refresh', { claims: { iat: Math.floor(nowSeconds()) - 300 } }),
          reason: 'DPOP_IAT_INVALID',
        }),
      ],
      [
        'with a private jwk in the header',
        () => ({ token: current, proof: proof(key, 'POST', '/auth/refresh', { header: { jwk: privateJwk() } }), reason: 'DPOP_JWK_INVALID' }),
      ],
      [
        'with alg none',
        () => ({
          token: current,
          proof: proof(key, 'POST', '/auth/refresh', { header: { alg: 'none' }, signature: '' }),
          reason: 'DPOP_ALG_NOT_ALLOWED',
        }),
      ],
      [
        'with alg HS256',
        () => ({
          token: current,
          proof: proof(key, 'POST', '/auth/refresh', { header: { alg: 'HS256' }, signature: 'c2lnbmF0dXJl' }),
          reason: 'DPOP_ALG_NOT_ALLOWED',
        }),
      ],
      ['spent, without a proof (would be reuse)', () => ({ token: spent, proof: undefined, reason: 'DPOP_MISSING' })],
      ["spent, with the attacker's key", () => ({ token: spent, proof: proof(attacker, 'POST', '/auth/refresh'), reason: 'DPOP_KEY_MISMATCH' })],
    ];

    for (const [name, attack] of attacks) {
      it(`${name} → 401 INVALID_DPOP_PROOF, audited, the session keeps working`, async () => {
        const before = (await dpopAudits()).length;
        const { token, proof: header, reason } = attack();
        expectRefused(await refresh(token, header));
        const audits = await dpopAudits();
        expect(audits.length).toBe(before + 1);
        expect(audits.at(-1)).toMatchObject({ detail: { action: 'refresh', reason } });
        expect(JSON.stringify(audits.at(-1))).not.toContain(token);
        // The legitimate client, with its key, carries on.
        used = proof(key, 'POST', '/auth/refresh');
        const legit = await refresh(current, used);
        expect(legit.status).toBe(200);
        expect(legit.body.tokenType).toBe('DPoP');
        spent = current;
        current = legit.body.refreshToken;
        c.guard(current);
      });
    }

    it('logout without the key is refused (no cookie cleared, nothing revoked); with it, the session ends', async () => {
      const before = (await dpopAudits()).length;
      for (const header of [undefined, proof(attacker, 'POST', '/auth/logout'), proof(key, 'POST', '/auth/refresh')]) {
        expectRefused(await c.post('/auth/logout', { body: { refreshToken: current }, headers: { ...BODY, ...(header ? { dpop: header } : {}) } }));
      }
      const audits = await dpopAudits();
      expect(audits.slice(before).map((a) => (a.detail as { action: string }).action)).toEqual(['logout', 'logout', 'logout']);
      used = proof(key, 'POST', '/auth/refresh');
      const legit = await refresh(current, used);
      expect(legit.status).toBe(200);
      current = legit.body.refreshToken;
      const out = await c.post('/auth/logout', { body: { refreshToken: current }, headers: { ...BODY, dpop: proof(key, 'POST', '/auth/logout') } });
      expect(out.status).toBe(200);
      expect((await refresh(current, proof(key, 'POST', '/auth/refresh'))).body.error).toBe('INVALID_REFRESH_TOKEN');
    });
  });

  it("proofs made by panva's dpop package bind and refresh a session end to end", async () => {
    for (const alg of ['ES256', 'Ed25519', 'PS256', 'RS256'] as const) {
      const keyPair = await dpop.generateKeyPair(alg);
      const res = await login(await dpop.generateProof(keyPair, `${ORIGIN}/auth/login`, 'POST'));
      expect(res.status, alg).toBe(200);
      expect(res.body.tokenType).toBe('DPoP');
      const jwk = (await crypto.subtle.exportKey('jwk', keyPair.publicKey)) as jose.JWK;
      expect(partsOf(res.body.accessToken).claims.cnf).toEqual({ jkt: await jose.calculateJwkThumbprint(jwk, 'sha256') });
      // The query is no part of htu.
      const refreshed = await refresh(res.body.refreshToken, await dpop.generateProof(keyPair, `${ORIGIN}/auth/refresh?x=1`, 'POST'));
      expect(refreshed.status, alg).toBe(200);
      expectRefused(await refresh(refreshed.body.refreshToken));
    }
  });
});

describe('LATCHKEY_DPOP', () => {
  it('is optional by default; an unknown value is a configuration error naming the variable', () => {
    expect(loadConfig({}).dpop).toBe('optional');
    expect(loadConfig({ LATCHKEY_DPOP: 'required' }).dpop).toBe('required');
    expect(() => loadConfig({ LATCHKEY_DPOP: 'maybe' })).toThrow(/LATCHKEY_DPOP/);
  });

  it.each([
    ['required', 400, 'DPOP_REQUIRED', 'DPoP'],
    ['off', 200, undefined, 'Bearer'],
  ] as const)('=%s: a login without a proof → %s %s; with a proof → %s', async (mode, status, error, withProof) => {
    const t = await startTestServer({ dpop: mode });
    try {
      const email = `dpop-${mode}-${Date.now()}@example.com`;
      await t.client.post('/auth/register', { body: { email, password: PASSWORD } });
      const login = (headers: Record<string, string>) =>
        t.client.post('/auth/login', { body: { email, password: PASSWORD }, headers: { ...BODY, ...headers } });
      const without = await login({});
      expect({ status: without.status, error: without.body.error }).toEqual({ status, error });
      const key = proofKey('ES256');
      const bound = await login({ dpop: makeProof(key, 'POST', `${ORIGIN}/auth/login`, t.clock.now() / 1000) });
      expect(bound.status).toBe(200);
      expect(bound.body.tokenType).toBe(withProof);
    } finally {
      await t.close();
    }
  });
});

describe('htu at the auth endpoints: the issuer origin or an allowed origin, nothing else', () => {
  it('accepts a proof naming an allowed origin, refuses any other origin (login, refresh, /auth/me)', async () => {
    const app = 'https://app.example.com';
    const t = await startTestServer({ allowedOrigins: [app] });
    try {
      const email = `dpop-htu-${Date.now()}@example.com`;
      await t.client.post('/auth/register', { body: { email, password: PASSWORD } });
      const key = proofKey('ES256');
      const at = (origin: string, method: string, path: string, parts = {}) =>
        makeProof(key, method, `${origin}${path}`, t.clock.now() / 1000, parts);
      const login = (dpopHeader: string) =>
        t.client.post('/auth/login', { body: { email, password: PASSWORD }, headers: { ...BODY, dpop: dpopHeader } });
      for (const foreign of ['https://evil.example.com', 'https://app.example.com.evil.example', 'http://app.example.com']) {
        const res = await login(at(foreign, 'POST', '/auth/login'));
        expect({ foreign, status: res.status, error: res.body.error }).toEqual({ foreign, status: 401, error: 'INVALID_DPOP_PROOF' });
      }
      const signedIn = await login(at(app, 'POST', '/auth/login'));
      expect({ status: signedIn.status, tokenType: signedIn.body.tokenType }).toEqual({ status: 200, tokenType: 'DPoP' });
      const refresh = (dpopHeader: string) =>
        t.client.post('/auth/refresh', { body: { refreshToken: signedIn.body.refreshToken }, headers: { ...BODY, dpop: dpopHeader } });
      expect((await refresh(at('https://evil.example.com', 'POST', '/auth/refresh'))).body.error).toBe('INVALID_DPOP_PROOF');
      const refreshed = await refresh(at(ORIGIN, 'POST', '/auth/refresh'));
      expect(refreshed.status).toBe(200);
      const token = refreshed.body.accessToken as string;
      const me = (dpopHeader: string) => t.client.get('/auth/me', { headers: { authorization: `DPoP ${token}`, dpop: dpopHeader } });
      const athOf = { claims: { ath: createHash('sha256').update(token).digest('base64url') } };
      expect((await me(at('https://evil.example.com', 'GET', '/auth/me', athOf))).body.error).toBe('INVALID_DPOP_PROOF');
      expect((await me(at(app, 'GET', '/auth/me', athOf))).body.email).toBe(email);
    } finally {
      await t.close();
    }
  });
});
