import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  decodeToken,
  guessCommonSecret,
  lintToken,
  verifyToken,
  WARNING_CODES,
  WARNINGS,
  type WarningCode,
  type DecodedJws,
  type KeyInput,
} from '../../src/decoder/index.js';
import { hs256, NOW, nowS, rawToken, SECRET } from './helpers.js';

const base = { sub: 'user-1', iat: nowS, exp: nowS + 600 };
const enc = new TextEncoder();

/** For every warning code: a real token (and, for key findings, a key) that triggers it. */
const CASES: Record<WarningCode, () => Promise<{ token: string; key?: KeyInput; guess?: boolean }>> = {
  ALG_NONE: async () => ({ token: rawToken('{"alg":"none"}', JSON.stringify(base), '') }),
  ALG_UNKNOWN: async () => ({ token: rawToken('{"alg":"HS257"}', JSON.stringify(base)) }),
  SIGNATURE_EMPTY: async () => ({ token: rawToken('{"alg":"HS256"}', JSON.stringify(base), '') }),
  HMAC_SECRET_SHORT: async () => ({ token: await hs256(base, {}, enc.encode('x7!kQ')), key: { type: 'secret', secret: 'x7!kQ' } }),
  HMAC_SECRET_COMMON: async () => ({ token: await hs256(base, {}, enc.encode('password')), key: { type: 'secret', secret: 'password' } }),
  HMAC_SECRET_GUESSED: async () => ({ token: await hs256(base, {}, enc.encode('changeme')), guess: true }),
  KEY_PRIVATE: async () => ({ token: await hs256(base), key: { type: 'jwk', jwk: { kty: 'RSA', n: 'AQAB', e: 'AQAB', d: 'AQAB' } } }),
  EXP_MISSING: async () => ({ token: await hs256({ sub: 'x', iat: nowS }) }),
  LIFETIME_LONG: async () => ({ token: await hs256({ ...base, exp: nowS + 30 * 86400 }) }),
  EXPIRED: async () => ({ token: await hs256({ ...base, iat: nowS - 7200, exp: nowS - 3600 }) }),
  NOT_YET_VALID: async () => ({ token: await hs256({ ...base, nbf: nowS + 3600 }) }),
  IAT_FUTURE: async () => ({ token: await hs256({ ...base, iat: nowS + 3600, exp: nowS + 7200 }) }),
  TIME_MILLISECONDS: async () => ({ token: await hs256({ ...base, exp: NOW + 600_000 }) }),
  TIME_NOT_NUMERIC: async () => ({ token: rawToken('{"alg":"HS256"}', `{"exp":"${nowS + 600}"}`) }),
  TIME_OUT_OF_RANGE: async () => ({ token: rawToken('{"alg":"HS256"}', '{"exp":1e300}') }),
  SENSITIVE_EMAIL: async () => ({ token: await hs256({ ...base, email: 'ada@example.org' }) }),
  SENSITIVE_PHONE: async () => ({ token: await hs256({ ...base, contact: '+44 20 7946 0958' }) }),
  SENSITIVE_CARD_NUMBER: async () => ({ token: await hs256({ ...base, note: '4111 1111 1111 1111' }) }),
  SENSITIVE_CLAIM_NAME: async () => ({ token: await hs256({ ...base, user: { db_password: 'hunter2' } }) }),
  HEADER_JKU: async () => ({ token: await hs256(base, { jku: 'https://attacker.example/jwks.json' }) }),
  HEADER_X5U: async () => ({ token: await hs256(base, { x5u: 'https://attacker.example/cert.pem' }) }),
  HEADER_JWK: async () => ({ token: await hs256(base, { jwk: { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' } }) }),
  HEADER_X5C: async () => ({ token: await hs256(base, { x5c: ['MIIB'] }) }),
  KID_SUSPICIOUS: async () => ({ token: await hs256(base, { kid: '../../../../dev/null' }) }),
  CRIT_UNKNOWN: async () => ({ token: rawToken('{"alg":"HS256","crit":["exp-ext"],"exp-ext":1}', JSON.stringify(base)) }),
  TYP_MISMATCH: async () => ({ token: await hs256(base, { typ: 'text/plain' }) }),
  JWE: async () => ({ token: `${Buffer.from('{"alg":"dir","enc":"A256GCM"}').toString('base64url')}..aXY.Y2lwaGVy.dGFn` }),
  DUPLICATE_KEYS: async () => ({ token: rawToken('{"alg":"HS256"}', `{"role":"user","exp":${nowS + 60},"role":"admin"}`) }),
};

async function codesFor(c: { token: string; key?: KeyInput; guess?: boolean }): Promise<string[]> {
  const d = decodeToken(c.token);
  const codes = lintToken(d, { now: NOW }).warnings.map((w) => w.code as string);
  if (c.key) codes.push(...(await verifyToken(d, c.key, { now: NOW })).warnings.map((w) => w.code));
  if (c.guess && d.ok && d.kind === 'JWS') {
    const g = await guessCommonSecret(d);
    if (g.found) codes.push('HMAC_SECRET_GUESSED');
  }
  return codes;
}

describe('warnings', () => {
  it('has a triggering case for every code', () => {
    expect(Object.keys(CASES).sort()).toEqual([...WARNING_CODES].sort());
  });

  it.each(WARNING_CODES)('%s is triggered by a real token', async (code) => {
    expect(await codesFor(await CASES[code]())).toContain(code);
  });

  it('a clean token with a strong secret has no warnings', async () => {
    expect(
      await codesFor({ token: await hs256(base, { typ: 'JWT', kid: 'key-2025-01' }), key: { type: 'secret', secret: SECRET }, guess: true }),
    ).toEqual([]);
  });

  it('negative cases: near misses do not warn', async () => {
    const codes = await codesFor({
      token: await hs256(
        { ...base, ts: '2025-01-15', ip: '192.168.100.200', id: '1234567890123456', n: 4111111111111111, at: 'user@host' },
        { typ: 'at+jwt', kid: 'a.b-c_d' },
      ),
    });
    expect(codes).toEqual([]);
    expect(await codesFor({ token: await hs256({ ...base, exp: nowS + 86_400 }) })).toEqual([]);
    expect(await codesFor({ token: await hs256(base, { typ: 'application/at+jwt' }) })).toEqual([]);
  });

  it('typ is checked against an expected value when one is given', async () => {
    const d = decodeToken(await hs256(base, { typ: 'JWT' }));
    expect(lintToken(d, { now: NOW, expectedTyp: 'at+jwt' }).warnings.map((w) => w.code)).toEqual(['TYP_MISMATCH']);
    expect(lintToken(d, { now: NOW, expectedTyp: 'jwt' }).warnings).toEqual([]);
  });

  it('kid injection variants are flagged', async () => {
    for (const kid of ["' UNION SELECT 'key", 'x; rm -rf /', 'a|b', '../keys/x', 'k`id`']) {
      const codes = lintToken(decodeToken(await hs256(base, { kid })), { now: NOW }).warnings.map((w) => w.code);
      expect(codes, kid).toContain('KID_SUSPICIOUS');
    }
  });

  it('messages never contain claim values, secrets or the token', async () => {
    for (const code of WARNING_CODES) {
      const c = await CASES[code]();
      const d = decodeToken(c.token);
      const all = [...lintToken(d, { now: NOW }).warnings, ...(c.key ? (await verifyToken(d, c.key, { now: NOW })).warnings : [])];
      for (const w of all) {
        for (const secret of ['ada@example.org', '7946', '4111', 'hunter2', 'attacker', 'x7!kQ', 'changeme', c.token]) {
          expect(w.message, `${code}/${w.code}`).not.toContain(secret);
        }
      }
    }
  });

  it('the guess finds nothing for a strong secret and skips non-HMAC tokens', async () => {
    const d = decodeToken(await hs256(base)) as DecodedJws;
    expect(await guessCommonSecret(d)).toMatchObject({ found: false, tried: 10_000 });
    const none = decodeToken(rawToken('{"alg":"RS256"}', '{}')) as DecodedJws;
    expect(await guessCommonSecret(none)).toMatchObject({ found: false, reason: 'NOT_HMAC' });
  });

  it('docs/decoder.md lists every warning code with its explanation', () => {
    const doc = readFileSync(new URL('../../docs/decoder.md', import.meta.url), 'utf8');
    for (const code of WARNING_CODES) {
      expect(doc, code).toMatch(new RegExp(`\\|\\s*\`${code}\`\\s*\\|\\s*${WARNINGS[code].severity}\\s*\\|`));
    }
  });
});

describe('linting stays linear on hostile payloads', () => {
  // Regression: an unanchored e-mail regex backtracked quadratically on long runs of name
  // characters — one 100 KB claim froze the CLI (and a page tab) for 11 s.
  it('80 KB claims of name characters, @ signs, dotted runs and digits lint in well under a second', async () => {
    const hostile = [
      'x'.repeat(80_000),
      'x@'.repeat(40_000),
      'a.'.repeat(40_000),
      `${'x'.repeat(60)}@${'a.'.repeat(120)}`.repeat(200),
      '1 '.repeat(40_000),
      '+1'.repeat(40_000),
    ];
    const started = performance.now();
    for (const blob of hostile) {
      const decoded = decodeToken(await hs256({ sub: 'u1', exp: nowS + 600, blob }));
      expect(decoded.ok).toBe(true);
      lintToken(decoded, { now: NOW });
    }
    expect(performance.now() - started).toBeLessThan(1000);
    // The window-based check still finds real addresses.
    const codes = lintToken(decodeToken(await hs256({ exp: nowS + 600, note: `${'x'.repeat(5000)} mail ada@example.com` })), {
      now: NOW,
    }).warnings.map((w) => w.code);
    expect(codes).toContain('SENSITIVE_EMAIL');
  });
});
