/**
 * `LATCHKEY_SIGNING_ALG`: each of the four algorithms, end to end over HTTP (docs/http-api.md#access-tokens).
 * The token's header names the configured algorithm, the server accepts its own tokens,
 * a verifier outside verifies them with jose (against the served JWKS, or the shared secret
 * for HS256), and the JWKS never carries private parts — with HS256 it is empty: the secret is
 * never published (docs/http-api.md#jwks).
 */
import { describe, expect, it } from 'vitest';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import type { SigningAlgorithm } from '../../src/config/config.js';
import { startTestServer } from '../helpers/server.js';
import { cookieHeader, refreshCookieOf, signUp } from './contract.js';

const HS256_SECRET = 'an HS256 secret of at least 32 bytes, used as UTF-8';
const KTY: Record<Exclude<SigningAlgorithm, 'HS256'>, object> = {
  ES256: { kty: 'EC', crv: 'P-256' },
  EdDSA: { kty: 'OKP', crv: 'Ed25519' },
  RS256: { kty: 'RSA' },
};

describe('LATCHKEY_SIGNING_ALG over HTTP', () => {
  it.each(['ES256', 'EdDSA', 'RS256', 'HS256'] as const)('%s: signs, serves and verifies its tokens', async (alg) => {
    const hs256Secret = alg === 'HS256' ? new TextEncoder().encode(HS256_SECRET) : undefined;
    const t = await startTestServer({ signingAlg: alg, hs256Secret });
    try {
      const user = await signUp(t.client);
      expect(decodeProtectedHeader(user.accessToken)).toEqual({ alg, kid: expect.any(String), typ: 'at+jwt' });

      const me = await t.client.get('/auth/me', { bearer: user.accessToken });
      expect(me.status).toBe(200);
      expect(me.body.id).toBe(user.userId);
      const refreshed = await t.client.post('/auth/refresh', { cookie: cookieHeader(user.refreshToken) });
      expect(refreshed.status).toBe(200);
      expect(refreshCookieOf(refreshed)?.value).toEqual(expect.any(String));
      expect(decodeProtectedHeader(refreshed.body.accessToken).alg).toBe(alg);

      const jwks = await t.client.get('/.well-known/jwks.json');
      expect(jwks.status).toBe(200);
      const expected = {
        issuer: t.latchkey.config.issuer,
        audience: t.latchkey.config.audience,
        typ: 'at+jwt',
        currentDate: new Date(t.clock.now()),
      };
      if (alg === 'HS256') {
        expect(jwks.body).toEqual({ keys: [] });
        expect(jwks.text).not.toContain(Buffer.from(HS256_SECRET).toString('base64url'));
        const { payload } = await jwtVerify(refreshed.body.accessToken, hs256Secret!, { ...expected, algorithms: ['HS256'] });
        expect(payload.sub).toBe(user.userId);
      } else {
        // The current key and the next one, published before it signs.
        expect(jwks.body.keys).toHaveLength(2);
        for (const key of jwks.body.keys) {
          expect(key).toMatchObject({ ...KTY[alg], alg, use: 'sig', kid: expect.any(String) });
          for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(key).not.toHaveProperty(priv);
        }
        const { payload } = await jwtVerify(refreshed.body.accessToken, createLocalJWKSet(jwks.body), { ...expected, algorithms: [alg] });
        expect(payload.sub).toBe(user.userId);
      }
    } finally {
      await t.close();
    }
  });
});
