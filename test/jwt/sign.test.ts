import { createHmac, createSecretKey, generateKeyPairSync } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { createSigner } from '../../src/jwt/index.js';
import { ALGS, KEYS, claims } from './helpers.js';

const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    return (error as { code: string }).code;
  }
  return 'OK';
};

describe('createSigner', () => {
  it.each(ALGS)('%s: header is exactly {"alg","kid","typ"} in that order; signature has the JOSE size', (alg) => {
    const k = KEYS[alg];
    const token = createSigner({ key: { kid: k.kid, alg, key: k.signKey } })(claims());
    const [h, p, s] = token.split('.') as [string, string, string];
    expect(Buffer.from(h, 'base64url').toString()).toBe(`{"alg":"${alg}","kid":"${k.kid}","typ":"at+jwt"}`);
    expect(JSON.parse(Buffer.from(p, 'base64url').toString())).toEqual(claims());
    expect(Buffer.from(s, 'base64url').length).toBe({ ES256: 64, EdDSA: 64, RS256: 256, PS256: 256, HS256: 32 }[alg]);
  });

  it('custom typ, and HS256 equals a plain HMAC of the signing input', () => {
    const k = KEYS.HS256;
    const token = createSigner({ key: { kid: 'h', alg: 'HS256', key: k.signKey }, typ: 'JWT' })({ a: 1 });
    const [h, p, s] = token.split('.') as [string, string, string];
    expect(Buffer.from(h, 'base64url').toString()).toBe('{"alg":"HS256","kid":"h","typ":"JWT"}');
    expect(s).toBe(createHmac('sha256', k.signKey).update(`${h}.${p}`).digest('base64url'));
  });

  it('non-ASCII claims are UTF-8 encoded', () => {
    const k = KEYS.ES256;
    const token = createSigner({ key: { kid: k.kid, alg: 'ES256', key: k.signKey } })({ name: 'Zoë 🔑' });
    expect(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')).name).toBe('Zoë 🔑');
  });

  it('refuses unusable keys at construction with JWT_OPTIONS_INVALID', () => {
    const bad = [
      { kid: 'x', alg: 'ES256', key: KEYS.ES256.verifyKey }, // public key cannot sign
      { kid: 'x', alg: 'HS256', key: KEYS.RS256.verifyKey },
      { kid: 'x', alg: 'HS256', key: KEYS.ES256.signKey },
      { kid: 'x', alg: 'HS256', key: createSecretKey(Buffer.alloc(16, 1)) },
      { kid: 'x', alg: 'ES256', key: generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey },
      { kid: 'x', alg: 'EdDSA', key: generateKeyPairSync('ed448').privateKey },
      { kid: 'x', alg: 'RS256', key: generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey },
      { kid: 'x', alg: 'RS256', key: 'PEM string' },
      { kid: '', alg: 'ES256', key: KEYS.ES256.signKey },
      { kid: 'x', alg: 'none', key: KEYS.ES256.signKey },
      { kid: 'x', alg: 'ES512', key: KEYS.ES256.signKey },
    ];
    for (const key of bad) expect(code(() => createSigner({ key: key as never }))).toBe('JWT_OPTIONS_INVALID');
    expect(code(() => createSigner({ key: { kid: 'x', alg: 'ES256', key: KEYS.ES256.signKey }, typ: '' }))).toBe('JWT_OPTIONS_INVALID');
  });

  it('refuses claims that are not a JSON object', () => {
    const sign = createSigner({ key: { kid: 'x', alg: 'ES256', key: KEYS.ES256.signKey } });
    for (const value of [null, [], 'x', 1]) expect(code(() => sign(value as never))).toBe('JWT_CLAIM_INVALID');
    expect(code(() => sign({ big: 1n }))).toBe('JWT_CLAIM_INVALID');
  });
});
