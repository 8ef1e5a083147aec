/**
 * Real attacks with real forged tokens: algorithm confusion (public key as HMAC secret) and
 * key injection through `jwk`, `jku`, `x5u`, `x5c` headers.
 */
import { createHmac, generateKeyPairSync } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { type JwtErrorCode, createVerifier, exportPublicJwk, verifyJws } from '../../src/jwt/index.js';
import { AUD, ISS, KEYS, NOW_MS, claims, forge, rawSign, signed, verificationKey, verifierFor } from './helpers.js';

function codeOf(v: ReturnType<typeof verifierFor>, token: string): JwtErrorCode | 'OK' {
  const r = v.check(token);
  return r.ok ? 'OK' : r.error.code;
}

describe('algorithm confusion: HS256 token MACed with an asymmetric public key', () => {
  const mixed = verifierFor(); // ES256, EdDSA, RS256 and HS256 all allowed, with an HS256 key in the ring.
  const asymOnly = createVerifier({
    algorithms: ['ES256', 'RS256', 'EdDSA'],
    keys: [verificationKey(KEYS.ES256), verificationKey(KEYS.RS256), verificationKey(KEYS.EdDSA)],
    issuer: ISS,
    audience: AUD,
    now: () => NOW_MS,
  });

  for (const alg of ['ES256', 'RS256', 'EdDSA'] as const) {
    const pub = KEYS[alg].verifyKey;
    const secrets: [string, Buffer][] = [
      ['PEM text', Buffer.from(pub.export({ type: 'spki', format: 'pem' }) as string)],
      ['PEM text without trailing newline', Buffer.from((pub.export({ type: 'spki', format: 'pem' }) as string).trimEnd())],
      ['DER bytes', pub.export({ type: 'spki', format: 'der' })],
      ['JWK JSON', Buffer.from(JSON.stringify(pub.export({ format: 'jwk' })))],
      ['public JWK JSON as published', Buffer.from(JSON.stringify(exportPublicJwk(KEYS[alg].kid, alg, pub)))],
    ];
    if (alg === 'RS256') secrets.push(['PKCS#1 PEM', Buffer.from(pub.export({ type: 'pkcs1', format: 'pem' }) as string)]);

    it.each(secrets)(`${alg} public key as %s`, (_name, secret) => {
      const mac = (input: string) => createHmac('sha256', secret).update(input).digest();
      // kid of the asymmetric key: the key's alg is not HS256.
      const viaKid = forge({ alg: 'HS256', kid: KEYS[alg].kid, typ: 'at+jwt' }, claims(), mac);
      expect(codeOf(mixed, viaKid)).toBe('JWT_ALG_NOT_ALLOWED');
      expect(codeOf(asymOnly, viaKid)).toBe('JWT_ALG_NOT_ALLOWED');
      // kid of the real HS256 key: MAC does not match.
      const viaHsKid = forge({ alg: 'HS256', kid: KEYS.HS256.kid, typ: 'at+jwt' }, claims(), mac);
      expect(codeOf(mixed, viaHsKid)).toBe('JWT_SIGNATURE_INVALID');
      // The low-level API refuses to use a public key for HMAC at all.
      expect(() => verifyJws(viaKid, pub, 'HS256')).toThrow(expect.objectContaining({ code: 'JWT_OPTIONS_INVALID' }));
      // A resolver cannot be tricked either: it returns the key with its own alg.
      const resolverVerifier = verifierFor({ keys: (kid) => (kid === KEYS[alg].kid ? verificationKey(KEYS[alg]) : undefined) });
      expect(codeOf(resolverVerifier, viaKid)).toBe('JWT_ALG_NOT_ALLOWED');
      // A resolver that claims the public key is an HS256 key is a configuration error, not a pass.
      const broken = verifierFor({ keys: () => ({ kid: 'x', alg: 'HS256', key: pub }) });
      expect(codeOf(broken, viaKid)).toBe('JWT_OPTIONS_INVALID');
    });
  }
});

describe('header key injection: jwk, jku, x5u, x5c are never used to find a key', () => {
  const verifier = verifierFor();
  const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const attackerJwk = { ...attacker.publicKey.export({ format: 'jwk' }), kid: 'es-1', alg: 'ES256', use: 'sig' };
  const attackerDer = attacker.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  const bySigner = (input: string) => rawSign('ES256', attacker.privateKey, input);
  const injections: [string, Record<string, unknown>][] = [
    ['jwk', { jwk: attackerJwk }],
    ['jku', { jku: 'https://attacker.example/jwks.json' }],
    ['x5u', { x5u: 'https://attacker.example/cert.pem' }],
    ['x5c', { x5c: [attackerDer] }],
    ['all of them', { jwk: attackerJwk, jku: 'https://attacker.example/jwks.json', x5u: 'https://attacker.example/c.pem', x5c: [attackerDer] }],
  ];

  it.each(injections)('%s with a known kid, signed by the attacker → JWT_SIGNATURE_INVALID', (_name, extra) => {
    expect(codeOf(verifier, forge({ alg: 'ES256', kid: 'es-1', typ: 'at+jwt', ...extra }, claims({ sub: 'admin', role: 'admin' }), bySigner))).toBe(
      'JWT_SIGNATURE_INVALID',
    );
  });

  it.each(injections)('%s with the attacker kid → JWT_KID_UNKNOWN', (_name, extra) => {
    expect(codeOf(verifier, forge({ alg: 'ES256', kid: 'attacker', typ: 'at+jwt', ...extra }, claims(), bySigner))).toBe('JWT_KID_UNKNOWN');
  });

  it.each(injections)('%s without kid → JWT_KID_MISSING', (_name, extra) => {
    expect(codeOf(verifier, forge({ alg: 'ES256', typ: 'at+jwt', ...extra }, claims(), bySigner))).toBe('JWT_KID_MISSING');
  });

  it('an embedded oct jwk for HS256 does not become the secret', () => {
    const secret = Buffer.alloc(32, 7);
    const token = forge(
      { alg: 'HS256', kid: KEYS.HS256.kid, typ: 'at+jwt', jwk: { kty: 'oct', k: secret.toString('base64url') } },
      claims(),
      (input) => createHmac('sha256', secret).update(input).digest(),
    );
    expect(codeOf(verifier, token)).toBe('JWT_SIGNATURE_INVALID');
  });

  it.each(injections)('%s on a token we signed is simply ignored (still valid)', (_name, extra) => {
    expect(codeOf(verifier, signed(KEYS.ES256, extra))).toBe('OK');
  });

  it('the key resolver only ever sees the kid string', () => {
    const seen: unknown[] = [];
    const v = verifierFor({
      keys: (kid) => {
        seen.push(kid);
        return undefined;
      },
    });
    v.check(forge({ alg: 'ES256', kid: 'attacker', typ: 'at+jwt', jwk: attackerJwk, jku: 'https://attacker.example' }, claims(), bySigner));
    expect(seen).toEqual(['attacker']);
  });
});

describe('cross-token confusion', () => {
  it('a token signed for one kid cannot be replayed under another kid of the same type', () => {
    const es2 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const v = verifierFor({ algorithms: ['ES256'], keys: [verificationKey(KEYS.ES256), { kid: 'es-2', alg: 'ES256', key: es2.publicKey }] });
    const token = signed(KEYS.ES256, { kid: 'es-2' });
    expect(codeOf(v, token)).toBe('JWT_SIGNATURE_INVALID');
  });

  it('an opaque refresh-token-like string is malformed, never an access token', () => {
    const v = verifierFor();
    expect(codeOf(v, Buffer.alloc(48, 1).toString('base64url'))).toBe('JWT_MALFORMED');
  });
});
