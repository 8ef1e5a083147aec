/**
 * What docs/embedding.md says about LATCHKEY_SIGNING_ALG=EdDSA and the verifiers people use:
 * jsonwebtoken (under express-jwt and passport-jwt) and get-jwks (under @fastify/jwt) cannot
 * verify an Ed25519 token at all; jose — and Latchkey's own requireAuth — can. Against the
 * real JWKS of a server signing with EdDSA.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import jwt from 'jsonwebtoken';
import buildGetJwks from 'get-jwks';
import { createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { createAuthenticator } from '../../src/adapters/authenticate.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { signUp } from '../http/contract.js';

describe('EdDSA tokens and the common verifiers', () => {
  let t: TestServer;
  let token: string;
  let jwks: { keys: (JsonWebKey & { kid: string })[] };
  beforeAll(async () => {
    t = await startTestServer({ signingAlg: 'EdDSA', now: Date.now });
    token = (await signUp(t.client)).accessToken;
    jwks = (await t.client.get('/.well-known/jwks.json')).body;
  });
  afterAll(async () => {
    await t?.close();
  });

  const signingJwk = () => jwks.keys.find((key) => key.kid === decodeProtectedHeader(token).kid)!;
  const expected = () => ({ issuer: t.latchkey.config.issuer, audience: t.latchkey.config.audience });

  it('the tokens are EdDSA, published as OKP Ed25519 keys', () => {
    expect(decodeProtectedHeader(token).alg).toBe('EdDSA');
    expect(signingJwk()).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA' });
  });

  it('jsonwebtoken (express-jwt, passport-jwt) refuses every one, with the key or without an algorithm list', () => {
    const key = createPublicKey({ key: signingJwk(), format: 'jwk' });
    expect(() => jwt.verify(token, key, { algorithms: ['EdDSA' as jwt.Algorithm] })).toThrow();
    expect(() => jwt.verify(token, key)).toThrow(/invalid algorithm/);
  });

  it('get-jwks (@fastify/jwt) cannot turn the OKP key into a PEM', async () => {
    const getJwks = buildGetJwks({ issuersWhitelist: [`${t.baseUrl}/`] });
    const { kid, alg } = decodeProtectedHeader(token);
    await expect(getJwks.getPublicKey({ domain: t.baseUrl, kid: kid!, alg: alg! })).rejects.toThrow(/OKP/);
  });

  it('jose verifies them, from the served JWKS (local or remote), and so does requireAuth', async () => {
    await expect(jwtVerify(token, createLocalJWKSet(jwks), { ...expected(), algorithms: ['EdDSA'], typ: 'at+jwt' })).resolves.toBeDefined();
    const remote = createRemoteJWKSet(new URL(`${t.baseUrl}/.well-known/jwks.json`));
    await expect(jwtVerify(token, remote, { ...expected(), algorithms: ['EdDSA'] })).resolves.toBeDefined();
    const authenticate = createAuthenticator({ jwksUrl: `${t.baseUrl}/.well-known/jwks.json`, ...expected() });
    expect(await authenticate({ authorization: `Bearer ${token}` })).toMatchObject({ ok: true });
  });
});
