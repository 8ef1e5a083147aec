/**
 * The verified-token cache (`createVerifier({ cache: { size } })`, src/jwt/cache.ts): a hit
 * answers with the claims of the full verification, time claims and the key are re-checked on
 * every hit, nothing but the exact token string can hit, failures are never stored, and the
 * size stays bounded. No timing here: whether an answer came from the cache is observed
 * through object identity (a hit hands out the very result object stored on the miss).
 */
import { createPublicKey, createSecretKey, randomBytes } from 'node:crypto';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { type JwtErrorCode, type VerificationKey, type VerifyResult, createVerifier } from '../../src/jwt/index.js';
import { TokenCache, type CachedToken } from '../../src/jwt/cache.js';
import { ALGS, AUD, ISS, KEYS, NOW, NOW_MS, claims, signed, verificationKey } from './helpers.js';

/** A verifier over a mutable key map and a movable clock, with the cache on. */
function setup(size = 100, tolerance = 0) {
  const clock = { ms: NOW_MS };
  const ring = new Map<string, VerificationKey>(ALGS.map((a) => [KEYS[a].kid, verificationKey(KEYS[a])]));
  const verifier = createVerifier({
    algorithms: ALGS,
    keys: (kid) => ring.get(kid),
    issuer: ISS,
    audience: AUD,
    clockTolerance: tolerance,
    now: () => clock.ms,
    cache: { size },
  });
  return { clock, ring, verifier };
}

function ok(result: VerifyResult) {
  if (!result.ok) throw new Error(`expected ok, got ${result.error.code}`);
  return result;
}

function code(result: VerifyResult): JwtErrorCode | 'ok' {
  return result.ok ? 'ok' : result.error.code;
}

describe('verified-token cache: hits', () => {
  it.each(ALGS)('%s: a repeated token is answered from the cache with the same claims', (alg) => {
    const { verifier } = setup();
    const uncached = createVerifier({
      algorithms: ALGS,
      keys: ALGS.map((a) => verificationKey(KEYS[a])),
      issuer: ISS,
      audience: AUD,
      now: () => NOW_MS,
    });
    const token = signed(KEYS[alg]);
    const first = ok(verifier.check(token));
    const second = ok(verifier.check(token));
    expect(second).toBe(first); // the stored result: a hit
    expect(second.claims).toEqual(ok(uncached.check(token)).claims);
    expect(second.header).toEqual({ alg, kid: KEYS[alg].kid, typ: 'at+jwt' });
    expect(verifier.verify(token)).toBe(first);
  });

  it('cached results are deep-frozen (one object is shared by every hit)', () => {
    const { verifier } = setup();
    const token = signed(KEYS.ES256, {}, claims({ aud: [AUD, 'other'], ext: { roles: ['a'] } }));
    const result = ok(verifier.check(token));
    expect(Object.isFrozen(result)).toBe(true);
    expect(Object.isFrozen(result.claims)).toBe(true);
    expect(Object.isFrozen(result.claims.aud)).toBe(true);
    expect(Object.isFrozen((result.claims.ext as { roles: string[] }).roles)).toBe(true);
    expect(Object.isFrozen(result.header)).toBe(true);
  });

  it('the cache is off unless asked for', () => {
    const verifier = createVerifier({ algorithms: ['ES256'], keys: [verificationKey(KEYS.ES256)], issuer: ISS, audience: AUD, now: () => NOW_MS });
    const token = signed(KEYS.ES256);
    expect(verifier.check(token)).not.toBe(verifier.check(token));
  });

  it.each([[0], [-1], [1.5], [1_000_001], [Number.NaN], ['10']])('cache.size %j is refused at construction', (size) => {
    expect(() =>
      createVerifier({ algorithms: ['ES256'], keys: [verificationKey(KEYS.ES256)], issuer: ISS, audience: AUD, cache: { size: size as number } }),
    ).toThrow(expect.objectContaining({ code: 'JWT_OPTIONS_INVALID' }));
    expect(() =>
      createVerifier({ algorithms: ['ES256'], keys: [verificationKey(KEYS.ES256)], issuer: ISS, audience: AUD, cache: null as never }),
    ).toThrow(expect.objectContaining({ code: 'JWT_OPTIONS_INVALID' }));
  });
});

describe('verified-token cache: time is re-checked on every hit', () => {
  it('a token that expires while cached is JWT_EXPIRED (and no longer a hit)', () => {
    const { clock, verifier } = setup();
    const token = signed(KEYS.ES256, {}, claims({ exp: NOW + 60 }));
    ok(verifier.check(token));
    clock.ms = (NOW + 59) * 1000;
    ok(verifier.check(token));
    clock.ms = (NOW + 60) * 1000;
    expect(code(verifier.check(token))).toBe('JWT_EXPIRED');
    // Even when the clock comes back, the answer is a fresh verification (not the old entry).
    clock.ms = NOW_MS;
    const again = ok(verifier.check(token));
    expect(verifier.check(token)).toBe(again);
  });

  it('clock tolerance applies to hits exactly as to full verifications', () => {
    const { clock, verifier } = setup(100, 30);
    const token = signed(KEYS.HS256, {}, claims({ exp: NOW + 60 }));
    ok(verifier.check(token));
    clock.ms = (NOW + 89) * 1000;
    ok(verifier.check(token));
    clock.ms = (NOW + 90) * 1000;
    expect(code(verifier.check(token))).toBe('JWT_EXPIRED');
  });

  it('nbf and iat are re-checked too (a clock set back)', () => {
    const { clock, verifier } = setup();
    const withNbf = signed(KEYS.ES256, {}, claims({ nbf: NOW - 5, iat: NOW - 100 }));
    const plain = signed(KEYS.ES256, {}, claims({ iat: NOW - 10 }));
    ok(verifier.check(withNbf));
    ok(verifier.check(plain));
    clock.ms = (NOW - 6) * 1000;
    expect(code(verifier.check(withNbf))).toBe('JWT_NOT_YET_VALID');
    clock.ms = (NOW - 11) * 1000;
    expect(code(verifier.check(plain))).toBe('JWT_IAT_INVALID');
  });
});

describe('verified-token cache: nothing but the exact token hits', () => {
  it('a tampered copy of a cached token never hits (every one-character change)', () => {
    const { verifier } = setup();
    for (const alg of ALGS) {
      const token = signed(KEYS[alg]);
      ok(verifier.check(token));
      for (let i = 0; i < token.length; i++) {
        const c = token[i] === 'A' ? 'B' : 'A';
        const tampered = token.slice(0, i) + c + token.slice(i + 1);
        if (tampered === token) continue;
        expect(verifier.check(tampered).ok, `${alg} position ${i}`).toBe(false);
      }
      // The genuine token is still a hit afterwards.
      expect(verifier.check(token)).toBe(verifier.check(token));
    }
  });

  it('property: insertions, deletions and replacements of a cached token never verify', () => {
    const { verifier } = setup();
    const token = signed(KEYS.HS256);
    ok(verifier.check(token));
    fc.assert(
      fc.property(
        fc.nat({ max: token.length }),
        fc.constantFrom('delete', 'insert', 'replace'),
        fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.= '.split('')),
        (at, op, ch) => {
          const i = Math.min(at, token.length - 1);
          const mutated =
            op === 'delete'
              ? token.slice(0, i) + token.slice(i + 1)
              : op === 'insert'
                ? token.slice(0, at) + ch + token.slice(at)
                : token.slice(0, i) + ch + token.slice(i + 1);
          fc.pre(mutated !== token);
          expect(verifier.check(mutated).ok).toBe(false);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('the same header and payload with another signature is JWT_SIGNATURE_INVALID', () => {
    const { verifier } = setup();
    const token = signed(KEYS.HS256);
    ok(verifier.check(token));
    const other = createSecretKey(randomBytes(32));
    const forged = signed({ ...KEYS.HS256, signKey: other, verifyKey: other });
    expect(forged.split('.').slice(0, 2)).toEqual(token.split('.').slice(0, 2));
    expect(code(verifier.check(forged))).toBe('JWT_SIGNATURE_INVALID');
  });

  it('another header and payload glued to a cached signature neither hit nor evict the real token', () => {
    const { verifier } = setup();
    const token = signed(KEYS.ES256);
    const first = ok(verifier.check(token));
    const signature = token.split('.')[2] as string;
    const glued = signed(KEYS.ES256, {}, claims({ role: 'admin' }))
      .split('.')
      .slice(0, 2)
      .join('.');
    expect(code(verifier.check(`${glued}.${signature}`))).toBe('JWT_SIGNATURE_INVALID');
    expect(code(verifier.check(`${signature}`))).toBe('JWT_MALFORMED');
    expect(verifier.check(token)).toBe(first);
  });

  it('failures are never cached: a rejected token stays rejected, a fixed key then verifies it', () => {
    const { ring, verifier } = setup();
    const token = signed(KEYS.ES256);
    ring.delete(KEYS.ES256.kid);
    expect(code(verifier.check(token))).toBe('JWT_KID_UNKNOWN');
    expect(code(verifier.check(token))).toBe('JWT_KID_UNKNOWN');
    ring.set(KEYS.ES256.kid, verificationKey(KEYS.ES256));
    ok(verifier.check(token));
  });
});

describe('verified-token cache: keys', () => {
  it.each(ALGS)('%s: a key removed from the resolver rejects its cached tokens', (alg) => {
    const { ring, verifier } = setup();
    const token = signed(KEYS[alg]);
    ok(verifier.check(token));
    ring.delete(KEYS[alg].kid);
    expect(code(verifier.check(token))).toBe('JWT_KID_UNKNOWN');
  });

  it('a kid that now names a key of another algorithm rejects the cached token', () => {
    const { ring, verifier } = setup();
    const token = signed(KEYS.ES256);
    ok(verifier.check(token));
    ring.set(KEYS.ES256.kid, { kid: KEYS.ES256.kid, alg: 'RS256', key: KEYS.RS256.verifyKey });
    expect(code(verifier.check(token))).toBe('JWT_ALG_NOT_ALLOWED');
  });

  it('a kid re-pointed to a different key of the same algorithm: JWT_SIGNATURE_INVALID', () => {
    const { ring, verifier } = setup();
    const token = signed(KEYS.HS256);
    ok(verifier.check(token));
    ring.set(KEYS.HS256.kid, { kid: KEYS.HS256.kid, alg: 'HS256', key: createSecretKey(randomBytes(32)) });
    expect(code(verifier.check(token))).toBe('JWT_SIGNATURE_INVALID');
  });

  it('a fresh KeyObject with the same key material (a key-ring reload) keeps the hits', () => {
    const { ring, verifier } = setup();
    const token = signed(KEYS.ES256);
    const first = ok(verifier.check(token));
    const reloaded = createPublicKey({ key: KEYS.ES256.verifyKey.export({ format: 'jwk' }), format: 'jwk' });
    expect(reloaded).not.toBe(KEYS.ES256.verifyKey);
    ring.set(KEYS.ES256.kid, { kid: KEYS.ES256.kid, alg: 'ES256', key: reloaded });
    expect(verifier.check(token)).toBe(first);
    expect(verifier.check(token)).toBe(first);
  });

  it('an array key ring works with the cache too', () => {
    const verifier = createVerifier({
      algorithms: ALGS,
      keys: ALGS.map((a) => verificationKey(KEYS[a])),
      issuer: ISS,
      audience: AUD,
      now: () => NOW_MS,
      cache: { size: 10 },
    });
    for (const alg of ALGS) {
      const token = signed(KEYS[alg]);
      expect(verifier.check(token)).toBe(verifier.check(token));
    }
  });
});

describe('verified-token cache: bounded', () => {
  it('keeps at most `size` tokens under 100,000 distinct ones', () => {
    const size = 1_000;
    const { verifier } = setup(size);
    const tokens: string[] = [];
    const results: VerifyResult[] = [];
    for (let i = 0; i < 100_000; i++) {
      const token = signed(KEYS.HS256, {}, claims({ jti: `j-${i}` }));
      tokens.push(token);
      results.push(ok(verifier.check(token)));
    }
    // Newest first: the ones still cached answer with their stored result.
    let hits = 0;
    for (let i = tokens.length - 1; i >= 0; i--) if (verifier.check(tokens[i] as string) === results[i]) hits++;
    expect(hits).toBeGreaterThan(0);
    expect(hits).toBeLessThanOrEqual(size);
  });

  it('TokenCache never exceeds its size, and CLOCK keeps entries in use through a flood of one-off tokens', () => {
    const cache = new TokenCache<number>(10_000);
    const entry = (token: string, n: number): CachedToken<number> => ({
      token,
      result: n,
      kid: 'k',
      key: undefined as never,
      exp: 0,
      nbf: 0,
      iat: 0,
      used: false,
    });
    const hot = Array.from({ length: 100 }, (_, i) => `h.p.hot-${i}`);
    for (const t of hot) cache.set(entry(t, 0));
    for (let i = 0; i < 100_000; i++) {
      cache.set(entry(`h.p.cold-${i}`, i));
      expect(cache.size).toBeLessThanOrEqual(10_000);
      if (i % 1_000 === 0)
        for (const t of hot) {
          const e = cache.get(t);
          if (e) e.used = true;
        }
    }
    expect(cache.size).toBe(10_000);
    expect(hot.filter((t) => cache.get(t) !== undefined).length).toBe(hot.length);
    cache.clear();
    expect(cache.size).toBe(0);
  });
});
