/** DPoP proof verification: every check has a test that passes it and one that fails it, on a frozen clock. */
import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import * as jose from 'jose';
import { describe, expect, it } from 'vitest';

import {
  type DpopFailure,
  type ProofExpectation,
  MemoryReplayCache,
  createDpopNonces,
  createProofVerifier,
  jwkThumbprint,
} from '../../src/dpop/index.js';
import { testClock } from '../helpers/clock.js';
import { type ProofAlg, ath, makeProof, proofKey } from './helpers.js';

const NOW_MS = 1_700_000_000_000;
const NOW = NOW_MS / 1000;
const URL_ = 'https://auth.example.test/auth/refresh';
const REFRESH: ProofExpectation = { method: 'POST', url: URL_ };

const KEYS = {
  ES256: proofKey('ES256'),
  EdDSA: proofKey('EdDSA'),
  Ed25519: proofKey('Ed25519'),
  RS256: proofKey('RS256'),
  PS256: proofKey('PS256'),
};
const es = KEYS.ES256;

function setup(options: { nonces?: ReturnType<typeof createDpopNonces> } = {}) {
  const clock = testClock(NOW_MS);
  const replayCache = new MemoryReplayCache({ now: clock.now });
  const verify = createProofVerifier({ replayCache, now: clock.now, ...options });
  return { clock, replayCache, verify };
}

function reasonOf(result: unknown): DpopFailure | 'ok' {
  const r = result as { ok: boolean; reason?: DpopFailure };
  return r.ok ? 'ok' : (r.reason as DpopFailure);
}

describe('createProofVerifier: valid proofs', () => {
  it.each(Object.keys(KEYS) as ProofAlg[])('%s proof is accepted, with the RFC 7638 thumbprint of its key', async (alg) => {
    const { verify } = setup();
    const key = KEYS[alg];
    const result = verify(makeProof(key, 'POST', URL_, NOW), REFRESH);
    expect(result).toEqual({ ok: true, jkt: await jose.calculateJwkThumbprint(key.jwk as jose.JWK), jti: expect.any(String) });
  });

  it('is synchronous with the memory replay cache', () => {
    const { verify } = setup();
    expect(verify(makeProof(es, 'POST', URL_, NOW), REFRESH)).not.toBeInstanceOf(Promise);
  });

  it('accepts application/dpop+jwt and any casing of typ', () => {
    const { verify } = setup();
    for (const typ of ['application/dpop+jwt', 'DPoP+JWT']) {
      expect(reasonOf(verify(makeProof(es, 'POST', URL_, NOW, { header: { typ } }), REFRESH))).toBe('ok');
    }
  });

  it('a JWK exported by WebCrypto (ext, key_ops) is accepted; kid, alg and use members do not change the thumbprint', async () => {
    const { verify } = setup();
    const withExtras = { ...es.jwk, ext: true, key_ops: ['verify'], kid: 'x', alg: 'ES256', use: 'sig' };
    const result = verify(makeProof(es, 'POST', URL_, NOW, { header: { jwk: withExtras } }), REFRESH);
    expect(result).toMatchObject({ ok: true, jkt: jwkThumbprint(es.jwk as never) });
  });
});

describe('createProofVerifier: refused proofs', () => {
  const otherKey = proofKey('ES256');
  const cases: [string, () => string, DpopFailure, Partial<ProofExpectation>?][] = [
    ['no proof at all', () => undefined as unknown as string, 'DPOP_MISSING'],
    ['an empty string', () => '', 'DPOP_MALFORMED'],
    [
      'two proofs in one header (joined by a comma)',
      () => `${makeProof(es, 'POST', URL_, NOW)}, ${makeProof(es, 'POST', URL_, NOW)}`,
      'DPOP_MALFORMED',
    ],
    ['four segments', () => `${makeProof(es, 'POST', URL_, NOW)}.x`, 'DPOP_MALFORMED'],
    ['padding in the signature', () => `${makeProof(es, 'POST', URL_, NOW)}=`, 'DPOP_MALFORMED'],
    ['over 8192 characters', () => makeProof(es, 'POST', URL_, NOW, { claims: { pad: 'x'.repeat(8200) } }), 'DPOP_MALFORMED'],
    ['a duplicate header member', () => dupHeader(), 'DPOP_MALFORMED'],
    ['typ JWT', () => makeProof(es, 'POST', URL_, NOW, { header: { typ: 'JWT' } }), 'DPOP_TYP_INVALID'],
    ['typ at+jwt', () => makeProof(es, 'POST', URL_, NOW, { header: { typ: 'at+jwt' } }), 'DPOP_TYP_INVALID'],
    ['no typ', () => makeProof(es, 'POST', URL_, NOW, { header: { typ: undefined } }), 'DPOP_TYP_INVALID'],
    ['alg none', () => makeProof(es, 'POST', URL_, NOW, { header: { alg: 'none' }, signature: '' }), 'DPOP_ALG_NOT_ALLOWED'],
    ['alg HS256 keyed with the public JWK', () => hs256Proof(), 'DPOP_ALG_NOT_ALLOWED'],
    ['alg ES384', () => makeProof(es, 'POST', URL_, NOW, { header: { alg: 'ES384' } }), 'DPOP_ALG_NOT_ALLOWED'],
    ['alg es256 (case matters)', () => makeProof(es, 'POST', URL_, NOW, { header: { alg: 'es256' } }), 'DPOP_ALG_NOT_ALLOWED'],
    ['no jwk', () => makeProof(es, 'POST', URL_, NOW, { header: { jwk: undefined } }), 'DPOP_JWK_INVALID'],
    ['a private jwk (d)', () => makeProof(es, 'POST', URL_, NOW, { header: { jwk: es.privateKey.export({ format: 'jwk' }) } }), 'DPOP_JWK_INVALID'],
    [
      'a private RSA jwk',
      () => makeProof(KEYS.RS256, 'POST', URL_, NOW, { header: { jwk: KEYS.RS256.privateKey.export({ format: 'jwk' }) } }),
      'DPOP_JWK_INVALID',
    ],
    [
      'a symmetric jwk',
      () => makeProof(es, 'POST', URL_, NOW, { header: { jwk: { kty: 'oct', k: randomBytes(32).toString('base64url') } } }),
      'DPOP_JWK_INVALID',
    ],
    ['an EC key with alg RS256', () => makeProof(es, 'POST', URL_, NOW, { header: { alg: 'RS256' } }), 'DPOP_JWK_INVALID'],
    [
      'a P-384 key',
      () =>
        makeProof(es, 'POST', URL_, NOW, { header: { jwk: generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' }) } }),
      'DPOP_JWK_INVALID',
    ],
    ['an RSA key of 1024 bits', () => makeProof(proofKey('RS256', 1024), 'POST', URL_, NOW), 'DPOP_JWK_INVALID'],
    ['a jwk that is a string', () => makeProof(es, 'POST', URL_, NOW, { header: { jwk: 'key' } }), 'DPOP_JWK_INVALID'],
    ['crit', () => makeProof(es, 'POST', URL_, NOW, { header: { crit: ['exp'] } }), 'DPOP_CRIT_UNSUPPORTED'],
    ['signed by another key than the jwk names', () => makeProof(es, 'POST', URL_, NOW, { signWith: otherKey.privateKey }), 'DPOP_SIGNATURE_INVALID'],
    [
      'a signature of another proof',
      () => makeProof(es, 'POST', URL_, NOW, { signature: makeProof(es, 'GET', URL_, NOW).split('.')[2] }),
      'DPOP_SIGNATURE_INVALID',
    ],
    ['no jti', () => makeProof(es, 'POST', URL_, NOW, { claims: { jti: undefined } }), 'DPOP_CLAIM_INVALID'],
    ['a numeric jti', () => makeProof(es, 'POST', URL_, NOW, { claims: { jti: 7 } }), 'DPOP_CLAIM_INVALID'],
    ['no htm', () => makeProof(es, 'POST', URL_, NOW, { claims: { htm: undefined } }), 'DPOP_CLAIM_INVALID'],
    ['no htu', () => makeProof(es, 'POST', URL_, NOW, { claims: { htu: undefined } }), 'DPOP_CLAIM_INVALID'],
    ['no iat', () => makeProof(es, 'POST', URL_, NOW, { claims: { iat: undefined } }), 'DPOP_CLAIM_INVALID'],
    ['iat as a string', () => makeProof(es, 'POST', URL_, NOW, { claims: { iat: String(NOW) } }), 'DPOP_CLAIM_INVALID'],
    ['another key than the bound one', () => makeProof(otherKey, 'POST', URL_, NOW), 'DPOP_KEY_MISMATCH', { jkt: jwkThumbprint(es.jwk as never) }],
    ['htm GET for a POST', () => makeProof(es, 'GET', URL_, NOW), 'DPOP_HTM_MISMATCH'],
    ['htm post (methods are case-sensitive)', () => makeProof(es, 'post', URL_, NOW), 'DPOP_HTM_MISMATCH'],
    ['htu of another path', () => makeProof(es, 'POST', 'https://auth.example.test/auth/logout', NOW), 'DPOP_HTU_MISMATCH'],
    ['htu of another host', () => makeProof(es, 'POST', 'https://evil.example/auth/refresh', NOW), 'DPOP_HTU_MISMATCH'],
    ['htu with http instead of https', () => makeProof(es, 'POST', 'http://auth.example.test/auth/refresh', NOW), 'DPOP_HTU_MISMATCH'],
    ['htu of another port', () => makeProof(es, 'POST', 'https://auth.example.test:8443/auth/refresh', NOW), 'DPOP_HTU_MISMATCH'],
    ['a relative htu', () => makeProof(es, 'POST', '/auth/refresh', NOW), 'DPOP_HTU_MISMATCH'],
    ['iat 5 minutes old', () => makeProof(es, 'POST', URL_, NOW - 300), 'DPOP_IAT_INVALID'],
    ['iat 61 s old', () => makeProof(es, 'POST', URL_, NOW - 61), 'DPOP_IAT_INVALID'],
    ['iat 61 s ahead', () => makeProof(es, 'POST', URL_, NOW + 61), 'DPOP_IAT_INVALID'],
    ['no ath with an access token', () => makeProof(es, 'GET', URL_, NOW), 'DPOP_ATH_MISMATCH', { method: 'GET', accessToken: 'the-token' }],
    [
      'the ath of another token',
      () => makeProof(es, 'GET', URL_, NOW, { claims: { ath: ath('another-token') } }),
      'DPOP_ATH_MISMATCH',
      { method: 'GET', accessToken: 'the-token' },
    ],
  ];
  it.each(cases.map(([name, make, reason, expect_]) => [`${name} → ${reason}`, make, reason, expect_] as const))(
    '%s',
    (_name, make, reason, expect_ = {}) => {
      const { verify } = setup();
      expect(reasonOf(verify(make(), { ...REFRESH, ...expect_ }))).toBe(reason);
    },
  );

  function dupHeader(): string {
    const good = makeProof(es, 'POST', URL_, NOW).split('.');
    const header = Buffer.from(`{"typ":"dpop+jwt","alg":"ES256","alg":"ES256","jwk":${JSON.stringify(es.jwk)}}`).toString('base64url');
    return [header, good[1], good[2]].join('.');
  }

  /** The classic confusion: HMAC over the signing input keyed with the public key's bytes. */
  function hs256Proof(): string {
    const parts = makeProof(es, 'POST', URL_, NOW, { header: { alg: 'HS256' }, signature: 'x' }).split('.');
    const input = `${parts[0]}.${parts[1]}`;
    const mac = createHmac('sha256', JSON.stringify(es.jwk)).update(input).digest('base64url');
    return `${input}.${mac}`;
  }

  it('a proof refused for its header is not remembered: the same header with a good signature still verifies', () => {
    const { verify } = setup();
    expect(reasonOf(verify(makeProof(es, 'POST', URL_, NOW, { signWith: otherKey.privateKey }), REFRESH))).toBe('DPOP_SIGNATURE_INVALID');
    expect(reasonOf(verify(makeProof(es, 'POST', URL_, NOW), REFRESH))).toBe('ok');
    // …and a remembered header does not let a bad signature through.
    expect(reasonOf(verify(makeProof(es, 'POST', URL_, NOW, { signWith: otherKey.privateKey }), REFRESH))).toBe('DPOP_SIGNATURE_INVALID');
  });

  it('the algorithm allow-list can be narrowed', () => {
    const clock = testClock(NOW_MS);
    const verify = createProofVerifier({ replayCache: new MemoryReplayCache({ now: clock.now }), now: clock.now, algorithms: ['ES256'] });
    expect(reasonOf(verify(makeProof(KEYS.RS256, 'POST', URL_, NOW), REFRESH))).toBe('DPOP_ALG_NOT_ALLOWED');
    expect(reasonOf(verify(makeProof(es, 'POST', URL_, NOW), REFRESH))).toBe('ok');
  });

  it('bad options throw at construction', () => {
    expect(() => createProofVerifier({ replayCache: undefined as never })).toThrow(/replayCache/);
    expect(() => createProofVerifier({ replayCache: new MemoryReplayCache(), algorithms: [] })).toThrow(/algorithms/);
    expect(() => createProofVerifier({ replayCache: new MemoryReplayCache(), algorithms: ['HS256' as never] })).toThrow(/algorithms/);
  });

  it('never throws, and never accepts, for arbitrary input (property)', () => {
    const { verify } = setup();
    const good = makeProof(es, 'POST', URL_, NOW).split('.');
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.tuple(fc.base64String(), fc.base64String(), fc.base64String()).map((p) => p.join('.')),
          fc.tuple(fc.constantFrom(0, 1, 2), fc.string({ minLength: 1, maxLength: 8 })).map(([i, junk]) => {
            const parts = [...good];
            parts[i] = `${parts[i]}${junk}`;
            return parts.join('.');
          }),
          fc.anything(),
        ),
        (input) => {
          const result = verify(input, REFRESH);
          expect(result).not.toBeInstanceOf(Promise);
          expect((result as { ok: boolean }).ok).toBe(false);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('createProofVerifier: the iat window is ±60 s', () => {
  it.each([-60, -59, 0, 59, 60])('iat now %+d s is accepted', (offset) => {
    const { verify } = setup();
    expect(reasonOf(verify(makeProof(es, 'POST', URL_, NOW + offset), REFRESH))).toBe('ok');
  });
});

describe('createProofVerifier: htu normalisation', () => {
  it.each([
    'HTTPS://AUTH.EXAMPLE.TEST/auth/refresh',
    'https://auth.example.test:443/auth/refresh',
    'https://auth.example.test/auth/refresh?x=1',
    'https://auth.example.test/auth/refresh#frag',
    'https://auth.example.test/auth/./refresh',
    'https://auth.example.test/auth/%72efresh',
  ])('%s matches https://auth.example.test/auth/refresh', (htu) => {
    const { verify } = setup();
    expect(reasonOf(verify(makeProof(es, 'POST', htu, NOW), REFRESH))).toBe('ok');
  });

  it('the request side is normalised too: http default port, query', () => {
    const { verify } = setup();
    const expected = { method: 'GET', url: 'http://Api.Example:80/items?page=2' };
    expect(reasonOf(verify(makeProof(es, 'GET', 'http://api.example/items', NOW), expected))).toBe('ok');
  });

  it('a path differing only in the case of a letter is another resource', () => {
    const { verify } = setup();
    expect(reasonOf(verify(makeProof(es, 'POST', 'https://auth.example.test/auth/Refresh', NOW), REFRESH))).toBe('DPOP_HTU_MISMATCH');
  });

  it('an htu with user information is refused', () => {
    const { verify } = setup();
    expect(reasonOf(verify(makeProof(es, 'POST', 'https://user:pw@auth.example.test/auth/refresh', NOW), REFRESH))).toBe('DPOP_HTU_MISMATCH');
  });
});

describe('createProofVerifier: access-token hash', () => {
  it('ath of the token sent with it is accepted', () => {
    const { verify } = setup();
    const token = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0.sig';
    const proof = makeProof(es, 'GET', 'https://api.example/items', NOW, { claims: { ath: ath(token) } });
    expect(reasonOf(verify(proof, { method: 'GET', url: 'https://api.example/items', accessToken: token }))).toBe('ok');
  });
});

describe('createProofVerifier: replay', () => {
  it('the same proof twice: the second is DPOP_REPLAYED', () => {
    const { verify } = setup();
    const proof = makeProof(es, 'POST', URL_, NOW);
    expect(reasonOf(verify(proof, REFRESH))).toBe('ok');
    expect(reasonOf(verify(proof, REFRESH))).toBe('DPOP_REPLAYED');
  });

  it('a new proof reusing a jti is refused; the same jti of another key is not', () => {
    const { verify } = setup();
    const jti = 'fixed-jti';
    expect(reasonOf(verify(makeProof(es, 'POST', URL_, NOW, { claims: { jti } }), REFRESH))).toBe('ok');
    expect(reasonOf(verify(makeProof(es, 'POST', URL_, NOW + 1, { claims: { jti } }), REFRESH))).toBe('DPOP_REPLAYED');
    expect(reasonOf(verify(makeProof(KEYS.EdDSA, 'POST', URL_, NOW, { claims: { jti } }), REFRESH))).toBe('ok');
  });

  it('a proof is remembered for its whole iat window: replayed at +60 s it is still refused, later its iat is too old', () => {
    const { verify, clock } = setup();
    const proof = makeProof(es, 'POST', URL_, NOW + 60); // made "in the future" to last longest
    expect(reasonOf(verify(proof, REFRESH))).toBe('ok');
    clock.advance(120_000);
    expect(reasonOf(verify(proof, REFRESH))).toBe('DPOP_REPLAYED');
    clock.advance(6_000);
    expect(reasonOf(verify(proof, REFRESH))).toBe('DPOP_IAT_INVALID');
  });

  it('a proof failing another check does not occupy the replay cache', async () => {
    const { verify, replayCache } = setup();
    expect(reasonOf(await verify(makeProof(es, 'GET', URL_, NOW), REFRESH))).toBe('DPOP_HTM_MISMATCH');
    expect(replayCache.size).toBe(0);
  });

  it('an unavailable replay cache refuses the proof', async () => {
    const failing = { claim: async () => 'unavailable' as const };
    const throwing = {
      claim: () => {
        throw new Error('down');
      },
    };
    const rejecting = { claim: () => Promise.reject(new Error('down')) };
    for (const replayCache of [failing, throwing, rejecting]) {
      const verify = createProofVerifier({ replayCache, now: () => NOW_MS });
      expect(reasonOf(await verify(makeProof(es, 'POST', URL_, NOW), REFRESH))).toBe('DPOP_REPLAY_CACHE_UNAVAILABLE');
    }
  });
});

describe('MemoryReplayCache', () => {
  it('keeps each key 125 s, then forgets it', () => {
    const clock = testClock(NOW_MS);
    const cache = new MemoryReplayCache({ now: clock.now });
    expect(cache.claim('a')).toBe('fresh');
    clock.advance(124_999);
    expect(cache.claim('a')).toBe('replayed');
    clock.advance(1);
    expect(cache.claim('a')).toBe('fresh');
  });

  it('is bounded: when every entry is live, new keys are unavailable (never forgotten early); expired ones make room', () => {
    const clock = testClock(NOW_MS);
    const cache = new MemoryReplayCache({ now: clock.now, maxEntries: 3 });
    for (const k of ['a', 'b', 'c']) expect(cache.claim(k)).toBe('fresh');
    expect(cache.claim('d')).toBe('unavailable');
    expect(cache.claim('a')).toBe('replayed');
    clock.advance(125_000);
    expect(cache.claim('d')).toBe('fresh');
    expect(cache.size).toBe(1);
  });
});

describe('createDpopNonces', () => {
  const secret = randomBytes(32);

  it('the current nonce and the previous period’s are accepted, older ones are not', () => {
    const clock = testClock(NOW_MS);
    const nonces = createDpopNonces({ secret, now: clock.now, periodMs: 60_000 });
    const first = nonces.current();
    expect(nonces.accepts(first)).toBe(true);
    clock.advance(60_000);
    expect(nonces.current()).not.toBe(first);
    expect(nonces.accepts(first)).toBe(true);
    clock.advance(60_000);
    expect(nonces.accepts(first)).toBe(false);
  });

  it('a nonce of another secret, a tampered one and non-strings are refused', () => {
    const nonces = createDpopNonces({ secret, now: () => NOW_MS });
    const foreign = createDpopNonces({ secret: randomBytes(32), now: () => NOW_MS }).current();
    const mine = nonces.current();
    const tampered = (mine[0] === 'A' ? 'B' : 'A') + mine.slice(1);
    for (const n of [foreign, tampered, `${mine}A`, '', undefined, 42, {}]) expect(nonces.accepts(n)).toBe(false);
  });

  it('instances sharing the secret accept each other’s nonces', () => {
    const a = createDpopNonces({ secret, now: () => NOW_MS });
    const b = createDpopNonces({ secret: Uint8Array.from(secret), now: () => NOW_MS });
    expect(b.accepts(a.current())).toBe(true);
  });

  it('the verifier asks for a nonce, then accepts a proof carrying it', () => {
    const nonces = createDpopNonces({ secret, now: () => NOW_MS });
    const { verify } = setup({ nonces });
    expect(reasonOf(verify(makeProof(es, 'POST', URL_, NOW), REFRESH))).toBe('DPOP_NONCE_REQUIRED');
    expect(reasonOf(verify(makeProof(es, 'POST', URL_, NOW, { claims: { nonce: 'stale' } }), REFRESH))).toBe('DPOP_NONCE_REQUIRED');
    expect(reasonOf(verify(makeProof(es, 'POST', URL_, NOW, { claims: { nonce: nonces.current() } }), REFRESH))).toBe('ok');
  });

  it('refuses short secrets and short periods', () => {
    expect(() => createDpopNonces({ secret: new Uint8Array(16) })).toThrow(/secret/);
    expect(() => createDpopNonces({ secret, periodMs: 10 })).toThrow(/periodMs/);
  });
});

describe('jwkThumbprint', () => {
  it('RFC 7638 §3.1 example', () => {
    const jwk = {
      kty: 'RSA' as const,
      n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
      e: 'AQAB',
    };
    expect(jwkThumbprint(jwk)).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });

  it.each(['ES256', 'EdDSA'] as const)('%s key: equals jose.calculateJwkThumbprint', async (alg) => {
    const { jwk } = KEYS[alg];
    expect(jwkThumbprint(jwk as never)).toBe(await jose.calculateJwkThumbprint(jwk as jose.JWK));
  });
});
