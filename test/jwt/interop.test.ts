/** Cross-verification in both directions with jose (all four algorithms) and jsonwebtoken (no EdDSA there). */
import * as jose from 'jose';
import jsonwebtoken from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';

import { type JwsAlgorithm, createSigner } from '../../src/jwt/index.js';
import { ALGS, AUD, ISS, KEYS, NOW, NOW_MS, claims, verifierFor } from './helpers.js';

const verifier = verifierFor();

describe.each(ALGS)('%s with jose', (alg) => {
  const k = KEYS[alg];

  it('our token verifies with jose.jwtVerify', async () => {
    const token = createSigner({ key: { kid: k.kid, alg, key: k.signKey } })(claims());
    const { payload, protectedHeader } = await jose.jwtVerify(token, k.verifyKey, {
      algorithms: [alg],
      issuer: ISS,
      audience: AUD,
      typ: 'at+jwt',
      currentDate: new Date(NOW_MS),
    });
    expect(protectedHeader).toEqual({ alg, kid: k.kid, typ: 'at+jwt' });
    expect(payload).toEqual(claims());
  });

  it('a jose.SignJWT token verifies with ours', async () => {
    const token = await new jose.SignJWT({ sid: 's', role: 'admin' })
      .setProtectedHeader({ alg, kid: k.kid, typ: 'at+jwt' })
      .setIssuer(ISS)
      .setAudience([AUD, 'other'])
      .setSubject('user-9')
      .setIssuedAt(NOW)
      .setNotBefore(NOW)
      .setExpirationTime(NOW + 300)
      .setJti('jti-1')
      .sign(k.signKey);
    const { claims: c, header } = verifier.verify(token);
    expect(header).toMatchObject({ alg, kid: k.kid });
    expect(c).toMatchObject({ sub: 'user-9', role: 'admin', aud: [AUD, 'other'], exp: NOW + 300 });
  });

  it('a jose token with an unexpected kid, or tampered, is refused by ours', async () => {
    const token = await new jose.SignJWT(claims()).setProtectedHeader({ alg, kid: 'nope', typ: 'at+jwt' }).sign(k.signKey);
    const r = verifier.check(token);
    expect(!r.ok && r.error.code).toBe('JWT_KID_UNKNOWN');
  });
});

const jwtAlgs: JwsAlgorithm[] = ['ES256', 'RS256', 'HS256'];
describe.each(jwtAlgs)('%s with jsonwebtoken', (alg) => {
  const k = KEYS[alg];

  it('our token verifies with jsonwebtoken.verify', () => {
    const token = createSigner({ key: { kid: k.kid, alg, key: k.signKey } })(claims());
    const decoded = jsonwebtoken.verify(token, k.verifyKey, {
      algorithms: [alg as jsonwebtoken.Algorithm],
      issuer: ISS,
      audience: AUD,
      clockTimestamp: NOW,
      complete: true,
    });
    expect(decoded.header).toMatchObject({ alg, kid: k.kid, typ: 'at+jwt' });
    expect(decoded.payload).toEqual(claims());
  });

  it('a jsonwebtoken.sign token verifies with ours', () => {
    const token = jsonwebtoken.sign(claims({ role: 'admin' }), k.signKey, {
      algorithm: alg as jsonwebtoken.Algorithm,
      keyid: k.kid,
      header: { alg, typ: 'at+jwt' },
    });
    expect(verifier.verify(token).claims.role).toBe('admin');
  });

  it('jsonwebtoken and we agree on an expired token', () => {
    const token = jsonwebtoken.sign(claims({ exp: NOW - 5 }), k.signKey, {
      algorithm: alg as jsonwebtoken.Algorithm,
      keyid: k.kid,
      header: { alg, typ: 'at+jwt' },
    });
    expect(() => jsonwebtoken.verify(token, k.verifyKey, { algorithms: [alg as jsonwebtoken.Algorithm], clockTimestamp: NOW })).toThrow(
      jsonwebtoken.TokenExpiredError,
    );
    const r = verifier.check(token);
    expect(!r.ok && r.error.code).toBe('JWT_EXPIRED');
  });
});
