import { generateKeyPairSync } from 'node:crypto';

import * as jose from 'jose';
import { describe, expect, it } from 'vitest';

import { createSigner, createVerifier, exportPublicJwk, generateKeyPair, generateSecret, importJwk } from '../../src/jwt/index.js';
import { AUD, ISS, KEYS, NOW_MS, claims } from './helpers.js';

const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    return (error as { code: string }).code;
  }
  return 'OK';
};

describe('exportPublicJwk / importJwk', () => {
  it.each(['ES256', 'EdDSA', 'RS256', 'PS256'] as const)('%s round-trips and matches jose.exportJWK', async (alg) => {
    const k = KEYS[alg];
    const jwk = exportPublicJwk('kid-1', alg, k.signKey); // private in, public out
    expect(jwk).toMatchObject({ kid: 'kid-1', alg, use: 'sig' });
    expect(JSON.stringify(jwk)).not.toMatch(/"(d|p|q|dp|dq|qi)"/);
    const fromJose = await jose.exportJWK(k.verifyKey);
    expect(jwk).toMatchObject(fromJose);

    const imported = importJwk(jwk);
    expect(imported.kid).toBe('kid-1');
    expect(imported.alg).toBe(alg);
    expect(imported.key.type).toBe('public');
    expect(imported.key.equals(k.verifyKey)).toBe(true);

    // The imported key verifies tokens of the private key.
    const token = createSigner({ key: { kid: 'kid-1', alg, key: k.signKey } })(claims());
    const v = createVerifier({ algorithms: [alg], keys: [imported], issuer: ISS, audience: AUD, now: () => NOW_MS });
    expect(v.check(token).ok).toBe(true);
  });

  it('never exports an HS256 secret', () => {
    expect(code(() => exportPublicJwk('h', 'HS256', KEYS.HS256.signKey))).toBe('JWT_JWK_INVALID');
    expect(code(() => exportPublicJwk('h', 'ES256', KEYS.HS256.signKey))).toBe('JWT_JWK_INVALID');
    expect(code(() => exportPublicJwk('h', 'RS256', KEYS.ES256.verifyKey))).toBe('JWT_JWK_INVALID');
    expect(code(() => exportPublicJwk('', 'ES256', KEYS.ES256.verifyKey))).toBe('JWT_JWK_INVALID');
  });

  it.each(['ES256', 'EdDSA', 'RS256'] as const)('%s: a JWK with private members is refused', async (alg) => {
    const full = { ...(await jose.exportJWK(KEYS[alg].signKey)), kid: 'x' };
    expect(full.d).toBeDefined();
    expect(code(() => importJwk(full))).toBe('JWT_JWK_INVALID');
    if (alg === 'RS256') {
      for (const m of ['p', 'q', 'dp', 'dq', 'qi']) {
        const { d: _d, ...rest } = full;
        expect(code(() => importJwk({ ...rest, [m]: (full as Record<string, unknown>)[m] }))).toBe('JWT_JWK_INVALID');
      }
    }
  });

  it('oct keys only with allowSecret, at least 32 bytes, only HS256', () => {
    const k32 = Buffer.alloc(32, 9).toString('base64url');
    expect(code(() => importJwk({ kty: 'oct', k: k32, kid: 'h' }))).toBe('JWT_JWK_INVALID');
    const hs = importJwk({ kty: 'oct', k: k32, kid: 'h' }, { allowSecret: true });
    expect(hs.alg).toBe('HS256');
    expect(hs.key.type).toBe('secret');
    expect(code(() => importJwk({ kty: 'oct', k: Buffer.alloc(31).toString('base64url'), kid: 'h' }, { allowSecret: true }))).toBe('JWT_JWK_INVALID');
    expect(code(() => importJwk({ kty: 'oct', k: k32, kid: 'h', alg: 'RS256' }, { allowSecret: true }))).toBe('JWT_JWK_INVALID');
  });

  it('refuses bad JWKs', () => {
    const ec = exportPublicJwk('e', 'ES256', KEYS.ES256.verifyKey);
    const rsa = exportPublicJwk('r', 'RS256', KEYS.RS256.verifyKey);
    const cases: unknown[] = [
      null,
      'string',
      [],
      { ...ec, kid: undefined },
      { ...ec, kid: '' },
      { ...ec, alg: 'RS256' },
      { ...ec, alg: 'ES384' },
      { ...ec, alg: 'none' },
      { ...ec, use: 'enc' },
      { ...ec, key_ops: ['sign'] },
      { ...ec, crv: 'P-384' },
      { ...ec, crv: 'secp256k1' },
      { ...ec, x: `${ec.x}=` },
      { ...ec, x: ec.x!.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) }, // off the curve
      { ...ec, y: undefined },
      { kty: 'OKP', crv: 'Ed448', x: 'AAAA', kid: 'o' },
      { kty: 'OKP', crv: 'X25519', x: exportPublicJwk('o', 'EdDSA', KEYS.EdDSA.verifyKey).x, kid: 'o' },
      { ...rsa, e: undefined },
      { kty: 'RSA', kid: 'x', n: generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' }).n, e: 'AQAB' },
      { kty: 'unknown', kid: 'x' },
    ];
    for (const jwk of cases) expect(code(() => importJwk(jwk))).toBe('JWT_JWK_INVALID');
    expect(code(() => importJwk(ec, { alg: 'EdDSA' }))).toBe('JWT_JWK_INVALID');
    expect(importJwk({ ...ec, kid: undefined }, { kid: 'fallback' }).kid).toBe('fallback');
    expect(importJwk({ ...ec, key_ops: ['verify'] }).alg).toBe('ES256');
  });
});

describe('PS256 keys', () => {
  it('an RSA JWK is RS256 unless its alg (or the caller) says PS256', () => {
    const { alg: _alg, ...bare } = exportPublicJwk('r', 'RS256', KEYS.RS256.verifyKey);
    expect(importJwk(bare).alg).toBe('RS256');
    expect(importJwk({ ...bare, alg: 'PS256' }).alg).toBe('PS256');
    expect(importJwk(bare, { alg: 'PS256' }).alg).toBe('PS256');
    expect(code(() => importJwk({ ...bare, alg: 'PS256' }, { alg: 'RS256' }))).toBe('JWT_JWK_INVALID');
  });

  it('an rsa-pss KeyObject (its own parameters) and RSA under 2048 bits are refused', () => {
    const pss = generateKeyPairSync('rsa-pss', { modulusLength: 2048 });
    expect(code(() => createSigner({ key: { kid: 'p', alg: 'PS256', key: pss.privateKey } }))).toBe('JWT_OPTIONS_INVALID');
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(code(() => createSigner({ key: { kid: 'p', alg: 'PS256', key: small.privateKey } }))).toBe('JWT_OPTIONS_INVALID');
  });

  it('a PS256 signature does not verify as RS256 with the same key, nor the reverse', () => {
    const { publicKey, privateKey } = generateKeyPair('RS256');
    for (const [signAlg, verifyAlg] of [
      ['PS256', 'RS256'],
      ['RS256', 'PS256'],
    ] as const) {
      const token = createSigner({ key: { kid: 'g', alg: signAlg, key: privateKey } })(claims());
      const forged = `${Buffer.from(JSON.stringify({ alg: verifyAlg, kid: 'g', typ: 'at+jwt' })).toString('base64url')}.${token.split('.').slice(1).join('.')}`;
      const v = createVerifier({
        algorithms: [verifyAlg],
        keys: [{ kid: 'g', alg: verifyAlg, key: publicKey }],
        issuer: ISS,
        audience: AUD,
        now: () => NOW_MS,
      });
      expect(v.check(forged)).toMatchObject({ ok: false, error: { code: 'JWT_SIGNATURE_INVALID' } });
    }
  });
});

describe('generateKeyPair / generateSecret', () => {
  it.each(['ES256', 'EdDSA', 'RS256', 'PS256'] as const)('%s keys sign and verify', (alg) => {
    const { publicKey, privateKey } = generateKeyPair(alg);
    const token = createSigner({ key: { kid: 'g', alg, key: privateKey } })(claims());
    const v = createVerifier({ algorithms: [alg], keys: [{ kid: 'g', alg, key: publicKey }], issuer: ISS, audience: AUD, now: () => NOW_MS });
    expect(v.check(token).ok).toBe(true);
  });

  it('HS256 secrets are 32+ bytes', () => {
    expect(generateSecret().symmetricKeySize).toBe(32);
    expect(generateSecret(64).symmetricKeySize).toBe(64);
    expect(code(() => generateSecret(16))).toBe('JWT_OPTIONS_INVALID');
    expect(code(() => generateKeyPair('HS256' as never))).toBe('JWT_OPTIONS_INVALID');
  });
});
