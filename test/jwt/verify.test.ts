/**
 * createVerifier: options checked up front, one negative test per check (asserting `code`),
 * real tokens signed with real keys (see helpers.ts), a frozen clock.
 */
import { createSecretKey, generateKeyPairSync } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import {
  type JwtErrorCode,
  type VerificationKey,
  type VerifierOptions,
  JwtError,
  createSigner,
  createVerifier,
  toApiCode,
} from '../../src/jwt/index.js';
import { ALGS, AUD, ISS, KEYS, NOW, NOW_MS, b64, claims, forge, rawSign, signed, verificationKey, verifierFor } from './helpers.js';

const es = KEYS.ES256;
const verifier = verifierFor();

function expectCode(token: string, code: JwtErrorCode, claim?: string, v = verifier): JwtError {
  const result = v.check(token);
  expect(result.ok).toBe(false);
  if (result.ok) throw new Error('unreachable');
  expect(result.error).toBeInstanceOf(JwtError);
  expect(result.error.code).toBe(code);
  if (claim !== undefined) expect(result.error.claim).toBe(claim);
  // verify() throws the same code.
  expect(() => v.verify(token)).toThrow(expect.objectContaining({ code }));
  // Messages never contain the token or any part of it.
  for (const part of token.split('.')) if (part.length > 3) expect(result.error.message).not.toContain(part);
  return result.error;
}

describe('createVerifier: options are checked once, at construction', () => {
  const base: VerifierOptions = { algorithms: ['ES256'], keys: [verificationKey(es)], issuer: ISS, audience: AUD };
  const bad: [string, Partial<VerifierOptions> | Record<string, unknown>][] = [
    ['empty algorithm list', { algorithms: [] }],
    ['alg none', { algorithms: ['none' as never] }],
    ['alg NONE', { algorithms: ['ES256', 'NONE' as never] }],
    ['alg nOnE', { algorithms: ['nOnE' as never] }],
    ['unsupported alg HS512', { algorithms: ['HS512' as never] }],
    ['lower-case es256', { algorithms: ['es256' as never] }],
    ['clockTolerance -1', { clockTolerance: -1 }],
    ['clockTolerance 61', { clockTolerance: 61 }],
    ['clockTolerance NaN', { clockTolerance: Number.NaN }],
    ['clockTolerance as string', { clockTolerance: '30' as never }],
    ['missing issuer', { issuer: undefined as never }],
    ['empty issuer', { issuer: '' }],
    ['empty issuer list', { issuer: [] }],
    ['missing audience', { audience: undefined as never }],
    ['empty audience list', { audience: [] }],
    ['no keys', { keys: [] }],
    ['keys not an array or function', { keys: {} as never }],
    ['key alg not in algorithms', { keys: [verificationKey(KEYS.EdDSA)] }],
    ['duplicate kid', { keys: [verificationKey(es), verificationKey(es)] }],
    ['key/alg mismatch: P-256 key declared EdDSA', { algorithms: ['EdDSA'], keys: [{ kid: 'x', alg: 'EdDSA', key: es.verifyKey }] }],
    ['key/alg mismatch: RSA public key as HS256 secret', { algorithms: ['HS256'], keys: [{ kid: 'x', alg: 'HS256', key: KEYS.RS256.verifyKey }] }],
    ['key/alg mismatch: EC public key as HS256 secret', { algorithms: ['HS256'], keys: [{ kid: 'x', alg: 'HS256', key: es.verifyKey }] }],
    ['key/alg mismatch: HS256 secret as ES256 key', { keys: [{ kid: 'x', alg: 'ES256', key: KEYS.HS256.verifyKey }] }],
    [
      'key is a PEM string, not a KeyObject',
      { keys: [{ kid: 'x', alg: 'ES256', key: es.verifyKey.export({ type: 'spki', format: 'pem' }) as never }] },
    ],
    ['HS256 secret under 32 bytes', { algorithms: ['HS256'], keys: [{ kid: 'x', alg: 'HS256', key: createSecretKey(Buffer.alloc(31, 1)) }] }],
    ['P-384 key for ES256', { keys: [{ kid: 'x', alg: 'ES256', key: generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey }] }],
    [
      'RSA 1024 for RS256',
      { algorithms: ['RS256'], keys: [{ kid: 'x', alg: 'RS256', key: generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey }] },
    ],
    [
      'RSA-PSS key for RS256',
      { algorithms: ['RS256'], keys: [{ kid: 'x', alg: 'RS256', key: generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).publicKey }] },
    ],
    ['empty kid', { keys: [{ ...verificationKey(es), kid: '' }] }],
    ['empty typ', { typ: '' }],
    ['maxTokenLength 0', { maxTokenLength: 0 }],
    ['requiredClaims not strings', { requiredClaims: [1 as never] }],
    ['now not a function', { now: 5 as never }],
  ];
  it.each(bad)('throws JWT_OPTIONS_INVALID for %s', (_name, patch) => {
    expect(() => createVerifier({ ...base, ...patch } as VerifierOptions)).toThrow(
      expect.objectContaining({ name: 'JwtError', code: 'JWT_OPTIONS_INVALID' }),
    );
  });

  it('accepts tolerance 0 and 60, a private key (reduced to public), issuer and audience lists', () => {
    for (const clockTolerance of [0, 60]) expect(() => createVerifier({ ...base, clockTolerance })).not.toThrow();
    const v = createVerifier({
      ...base,
      keys: [{ kid: es.kid, alg: 'ES256', key: es.signKey }],
      issuer: ['other', ISS],
      audience: ['x', AUD],
      now: () => NOW_MS,
    });
    expect(v.verify(signed(es)).claims.sub).toBe('user-1');
  });
});

describe('valid tokens', () => {
  it.each(ALGS)('%s: verify returns header and claims; check returns ok', (alg) => {
    const k = KEYS[alg];
    const token = createSigner({ key: { kid: k.kid, alg, key: k.signKey } })(claims());
    const { header, claims: c } = verifier.verify(token);
    expect(header).toEqual({ alg, kid: k.kid, typ: 'at+jwt' });
    expect(c).toEqual(claims());
    expect(verifier.check(token)).toMatchObject({ ok: true, header, claims: c });
  });

  it('typ is compared case-insensitively and accepts the application/ prefix', () => {
    for (const typ of ['at+jwt', 'AT+JWT', 'At+Jwt', 'application/at+jwt', 'APPLICATION/AT+JWT']) {
      expect(verifier.check(signed(es, { typ })).ok).toBe(true);
    }
    const jwtVerifier = verifierFor({ typ: 'JWT' });
    expect(jwtVerifier.check(signed(es, { typ: 'jwt' })).ok).toBe(true);
    expect(jwtVerifier.check(signed(es)).ok).toBe(false);
  });

  it('aud may be an array intersecting the configured audiences', () => {
    expect(verifier.check(signed(es, {}, claims({ aud: ['other', AUD] }))).ok).toBe(true);
  });

  it('the key resolver is consulted per token (rotation without a new verifier)', () => {
    const ring = new Map<string, VerificationKey>();
    const v = verifierFor({ keys: (kid) => ring.get(kid) });
    const token = signed(es);
    expectCode(token, 'JWT_KID_UNKNOWN', undefined, v);
    ring.set(es.kid, verificationKey(es));
    expect(v.check(token).ok).toBe(true);
    ring.delete(es.kid);
    expectCode(token, 'JWT_KID_UNKNOWN', undefined, v);
  });

  it('a resolver returning a key that does not fit its alg is a coded error, not a verification', () => {
    const v = verifierFor({ keys: () => ({ kid: es.kid, alg: 'ES256', key: KEYS.HS256.verifyKey }) });
    expectCode(signed(es), 'JWT_OPTIONS_INVALID', undefined, v);
  });
});

describe('one negative test per check', () => {
  it('oversized token → JWT_MALFORMED', () => {
    const big = signed(es, {}, claims({ pad: 'x'.repeat(9000) }));
    expectCode(big, 'JWT_MALFORMED');
    expect(verifierFor({ maxTokenLength: 20_000 }).check(big).ok).toBe(true);
    const small = verifierFor({ maxTokenLength: 100 });
    expectCode(signed(es), 'JWT_MALFORMED', undefined, small);
  });

  it.each([
    ['empty string', ''],
    ['one segment', 'abc'],
    ['two segments', 'abc.def'],
    ['four segments', 'a.b.c.d'],
    ['five segments (JWE)', 'a.b.c.d.e'],
    ['empty header', '.eyJ9.c2ln'],
  ])('%s → JWT_MALFORMED', (_name, token) => {
    expectCode(token, 'JWT_MALFORMED');
  });

  it('non-string token → JWT_MALFORMED from check(), never a throw', () => {
    for (const value of [undefined, null, 42, {}, ['a.b.c']]) {
      const r = verifier.check(value as never);
      expect(!r.ok && r.error.code).toBe('JWT_MALFORMED');
    }
  });

  describe('non-canonical base64url → JWT_MALFORMED', () => {
    const token = signed(es);
    const [h, p, s] = token.split('.') as [string, string, string];
    const flipTrailingBits = (seg: string): string => {
      // The last char of a 4n+2 / 4n+3 segment has unused low bits; set one.
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const last = alphabet.indexOf(seg.at(-1)!);
      return seg.slice(0, -1) + alphabet[last | 1];
    };
    const b64std = (seg: string) => Buffer.from(seg, 'base64url').toString('base64');
    it.each([
      ['padding on the header', `${h}=.${p}.${s}`],
      ['padding on the signature', `${h}.${p}.${s}==`],
      ['standard base64 alphabet (+ and /)', `${b64std(h)}.${b64std(p)}.${b64std(s).replace(/=+$/, '')}`],
      ['a space in the payload', `${h}.${p.slice(0, 5)} ${p.slice(5)}.${s}`],
      ['a newline in the signature', `${h}.${p}.${s.slice(0, 10)}\n${s.slice(10)}`],
      ['leading whitespace', ` ${token}`],
      ['trailing whitespace', `${token} `],
      ['non-zero trailing bits in the signature', `${h}.${p}.${flipTrailingBits(s)}`],
    ])('%s', (_name, t) => {
      expect(t).not.toBe(token);
      expectCode(t, 'JWT_MALFORMED');
    });

    it('the standard-alphabet case really uses + or /', () => {
      // Make sure the test above is meaningful: find a signature containing - or _.
      for (let i = 0; i < 50; i++) {
        const t = signed(es, {}, claims({ jti: `j-${i}` }));
        const sig = t.split('.')[2]!;
        if (/[-_]/.test(sig)) {
          const std = sig.replace(/-/g, '+').replace(/_/g, '/');
          expectCode(`${t.slice(0, t.lastIndexOf('.'))}.${std}`, 'JWT_MALFORMED');
          return;
        }
      }
      throw new Error('no signature with - or _ in 50 tries');
    });

    it('trailing bits in the header', () => {
      const header = b64({ alg: 'ES256', kid: es.kid, typ: 'at+jwt', x: 1 });
      const hs = [header, b64({ alg: 'ES256', kid: es.kid, typ: 'at+jwt', x: 12 }), b64({ alg: 'ES256', kid: es.kid, typ: 'at+jwt', x: 123 })];
      const seg = hs.find((x) => x.length % 4 !== 0)!;
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const bad = seg.slice(0, -1) + alphabet[alphabet.indexOf(seg.at(-1)!) | 1];
      expect(Buffer.from(bad, 'base64url').equals(Buffer.from(seg, 'base64url'))).toBe(true); // lenient decoders agree...
      expectCode(`${bad}.${p}.${s}`, 'JWT_MALFORMED'); // ...we do not
    });
  });

  it.each([
    ['header not JSON', '{"alg":"ES256",'],
    ['header is an array', '["alg","ES256"]'],
    ['header is a string', '"ES256"'],
    ['header is null', 'null'],
  ])('%s → JWT_MALFORMED', (_name, header) => {
    expectCode(
      forge(header, claims(), (i) => rawSign('ES256', es.signKey, i)),
      'JWT_MALFORMED',
    );
  });

  it('header not valid UTF-8 → JWT_MALFORMED', () => {
    const header = Buffer.concat([Buffer.from('{"alg":"ES256","kid":"es-1","typ":"at+jwt","x":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    const input = `${header.toString('base64url')}.${b64(claims())}`;
    expectCode(`${input}.${rawSign('ES256', es.signKey, input).toString('base64url')}`, 'JWT_MALFORMED');
  });

  it('duplicate keys in the header → JWT_MALFORMED (JSON.parse would keep the last)', () => {
    for (const header of [
      `{"alg":"HS256","alg":"ES256","kid":"es-1","typ":"at+jwt"}`,
      `{"alg":"ES256","kid":"other","kid":"es-1","typ":"at+jwt"}`,
      `{"alg":"ES256","kid":"es-1","typ":"at+jwt","k\\u0069d":"es-1"}`,
      `{"alg":"ES256","kid":"es-1","typ":"at+jwt","x":{"a":1,"a":2}}`,
    ]) {
      expectCode(
        forge(header, claims(), (i) => rawSign('ES256', es.signKey, i)),
        'JWT_MALFORMED',
      );
    }
  });

  it('duplicate keys in the payload → JWT_MALFORMED, even correctly signed', () => {
    const c = JSON.stringify(claims()).slice(0, -1);
    for (const payload of [`${c},"sub":"admin"}`, `${c},"aud":"${AUD}"}`, `${c},"ro\\u006ce":"admin"}`, `${c},"nested":{"x":1, "x" :2}}`]) {
      expectCode(signed(es, {}, payload), 'JWT_MALFORMED');
    }
    // Same names in different objects are not duplicates.
    expect(verifier.check(signed(es, {}, `${c},"a":{"sub":1},"b":[{"sub":2},{"sub":3}]}`)).ok).toBe(true);
  });

  it.each([
    ['an array', '[1,2]'],
    ['a number', '42'],
    ['a string', '"hello"'],
    ['null', 'null'],
    ['true', 'true'],
    ['not JSON', 'hello'],
    ['empty', ''],
  ])('payload %s (signed) → JWT_MALFORMED', (_name, payload) => {
    expectCode(signed(es, {}, payload), 'JWT_MALFORMED');
  });

  it.each(['none', 'None', 'NONE', 'nOnE'])('alg %s → JWT_ALG_NOT_ALLOWED (with empty or any signature)', (alg) => {
    expectCode(forge({ alg, kid: es.kid, typ: 'at+jwt' }, claims(), ''), 'JWT_ALG_NOT_ALLOWED');
    expectCode(
      forge({ alg, kid: es.kid, typ: 'at+jwt' }, claims(), (i) => rawSign('ES256', es.signKey, i)),
      'JWT_ALG_NOT_ALLOWED',
    );
  });

  it.each([
    ['not in the list', 'EdDSA', verifierFor({ algorithms: ['ES256'], keys: [verificationKey(es)] })],
    ['unknown HS512', 'HS512', verifier],
    ['wrong case es256', 'es256', verifier],
    ['non-string', 256, verifier],
    ['missing', undefined, verifier],
  ] as const)('alg %s → JWT_ALG_NOT_ALLOWED', (_name, alg, v) => {
    const k = KEYS.EdDSA;
    const token = forge({ alg, kid: k.kid, typ: 'at+jwt' }, claims(), (i) => rawSign('EdDSA', k.signKey, i));
    expectCode(token, 'JWT_ALG_NOT_ALLOWED', undefined, v);
  });

  it('kid missing or empty → JWT_KID_MISSING', () => {
    expectCode(signed(es, { kid: undefined }), 'JWT_KID_MISSING');
    expectCode(signed(es, { kid: '' }), 'JWT_KID_MISSING');
  });

  it('kid not a string → JWT_MALFORMED', () => {
    expectCode(signed(es, { kid: 1 }), 'JWT_MALFORMED');
    expectCode(signed(es, { kid: ['es-1'] }), 'JWT_MALFORMED');
  });

  it.each(['unknown', '../../etc/passwd', "' OR 1=1 --", '__proto__', 'constructor', 'toString', 'ES-1', 'es-1 ', 'x'.repeat(2000)])(
    'kid %j → JWT_KID_UNKNOWN (array ring and resolver alike)',
    (kid) => {
      expectCode(signed(es, { kid }), 'JWT_KID_UNKNOWN');
      const seen: string[] = [];
      const v = verifierFor({
        keys: (k) => {
          seen.push(k);
          return k === es.kid ? verificationKey(es) : undefined;
        },
      });
      expectCode(signed(es, { kid }), 'JWT_KID_UNKNOWN', undefined, v);
    },
  );

  it("the resolved key's alg must equal the header alg → JWT_ALG_NOT_ALLOWED", () => {
    // Token claims EdDSA but names the ES256 key.
    const ed = KEYS.EdDSA;
    expectCode(
      forge({ alg: 'EdDSA', kid: es.kid, typ: 'at+jwt' }, claims(), (i) => rawSign('EdDSA', ed.signKey, i)),
      'JWT_ALG_NOT_ALLOWED',
    );
  });

  it('crit (any value) → JWT_CRIT_UNSUPPORTED', () => {
    for (const crit of [['exp'], [], ['b64'], 'x', null]) expectCode(signed(es, { crit, exp: 1 }), 'JWT_CRIT_UNSUPPORTED');
  });

  it('b64:false (RFC 7797 unencoded payload) → JWT_CRIT_UNSUPPORTED, with or without crit', () => {
    expectCode(signed(es, { b64: false, crit: ['b64'] }), 'JWT_CRIT_UNSUPPORTED');
    expectCode(signed(es, { b64: false }), 'JWT_CRIT_UNSUPPORTED');
    expectCode(signed(es, { b64: 'false' }), 'JWT_CRIT_UNSUPPORTED');
  });

  it('empty, truncated or extended signature → JWT_SIGNATURE_INVALID', () => {
    for (const k of Object.values(KEYS)) {
      const token = signed(k);
      const input = token.slice(0, token.lastIndexOf('.'));
      const sig = Buffer.from(token.slice(token.lastIndexOf('.') + 1), 'base64url');
      expectCode(`${input}.`, 'JWT_SIGNATURE_INVALID');
      expectCode(`${input}.${sig.subarray(0, sig.length - 1).toString('base64url')}`, 'JWT_SIGNATURE_INVALID');
      expectCode(`${input}.${sig.subarray(0, sig.length >> 1).toString('base64url')}`, 'JWT_SIGNATURE_INVALID');
      expectCode(`${input}.${Buffer.concat([sig, Buffer.from([0])]).toString('base64url')}`, 'JWT_SIGNATURE_INVALID');
      expectCode(`${input}.${Buffer.alloc(sig.length).toString('base64url')}`, 'JWT_SIGNATURE_INVALID');
    }
  });

  it('signature by another key of the same type → JWT_SIGNATURE_INVALID', () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    expectCode(
      forge({ alg: 'ES256', kid: es.kid, typ: 'at+jwt' }, claims(), (i) => rawSign('ES256', other, i)),
      'JWT_SIGNATURE_INVALID',
    );
  });

  describe('ES256 signature encoding', () => {
    const input = `${b64({ alg: 'ES256', kid: es.kid, typ: 'at+jwt' })}.${b64(claims())}`;
    const good = rawSign('ES256', es.signKey, input);
    const n = Buffer.from('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551', 'hex');
    const cases: [string, Buffer][] = [
      ['r = 0, s = 0', Buffer.alloc(64)],
      ['r = 0, valid s', Buffer.concat([Buffer.alloc(32), good.subarray(32)])],
      ['valid r, s = 0', Buffer.concat([good.subarray(0, 32), Buffer.alloc(32)])],
      ['r = n, s = n', Buffer.concat([n, n])],
      ['r = valid r + n is not representable: r = n', Buffer.concat([n, good.subarray(32)])],
      ['DER-encoded signature of the same input', rawSign('ES256-DER', es.signKey, input)],
      ['63 bytes', good.subarray(0, 63)],
      ['65 bytes', Buffer.concat([good, Buffer.from([0])])],
      ['132 bytes (ES512 size)', Buffer.concat([good, good, Buffer.alloc(4)])],
    ];
    it.each(cases)('%s → JWT_SIGNATURE_INVALID', (_name, sig) => {
      expectCode(`${input}.${sig.toString('base64url')}`, 'JWT_SIGNATURE_INVALID');
    });
    it('the raw signature itself is valid (control)', () => {
      expect(verifier.check(`${input}.${good.toString('base64url')}`).ok).toBe(true);
    });
  });

  it('typ wrong or missing → JWT_TYP_INVALID', () => {
    for (const typ of ['JWT', 'jwt', 'at+jws', 'application/jwt', 'text/at+jwt', '', 1, undefined, 'dpop+jwt']) {
      expectCode(signed(es, { typ }), 'JWT_TYP_INVALID');
    }
  });

  describe('claims', () => {
    it('exp in the past → JWT_EXPIRED, mapped to TOKEN_EXPIRED', () => {
      const e = expectCode(signed(es, {}, claims({ exp: NOW - 1 })), 'JWT_EXPIRED', 'exp');
      expect(toApiCode(e)).toBe('TOKEN_EXPIRED');
      expectCode(signed(es, {}, claims({ exp: NOW })), 'JWT_EXPIRED', 'exp'); // now must be before exp
    });

    it('exp within / outside clock tolerance (frozen clock)', () => {
      const v30 = verifierFor({ clockTolerance: 30 });
      expect(v30.check(signed(es, {}, claims({ exp: NOW - 29 }))).ok).toBe(true);
      expectCode(signed(es, {}, claims({ exp: NOW - 30 })), 'JWT_EXPIRED', 'exp', v30);
      expectCode(signed(es, {}, claims({ exp: NOW - 31 })), 'JWT_EXPIRED', 'exp', v30);
      expect(verifier.check(signed(es, {}, claims({ exp: NOW + 0.5 }))).ok).toBe(true);
    });

    it('the injected clock is read per token', () => {
      let t = NOW_MS;
      const v = verifierFor({ now: () => t });
      const token = signed(es, {}, claims({ exp: NOW + 60 }));
      expect(v.check(token).ok).toBe(true);
      t += 60_000;
      expectCode(token, 'JWT_EXPIRED', 'exp', v);
    });

    it('nbf in the future → JWT_NOT_YET_VALID (INVALID_TOKEN), tolerance applies', () => {
      const e = expectCode(signed(es, {}, claims({ nbf: NOW + 10 })), 'JWT_NOT_YET_VALID', 'nbf');
      expect(toApiCode(e)).toBe('INVALID_TOKEN');
      expect(verifier.check(signed(es, {}, claims({ nbf: NOW }))).ok).toBe(true);
      expect(verifierFor({ clockTolerance: 10 }).check(signed(es, {}, claims({ nbf: NOW + 10 }))).ok).toBe(true);
      expectCode(signed(es, {}, claims({ nbf: NOW + 11 })), 'JWT_NOT_YET_VALID', 'nbf', verifierFor({ clockTolerance: 10 }));
    });

    it('iat in the future → JWT_IAT_INVALID, tolerance applies', () => {
      expectCode(signed(es, {}, claims({ iat: NOW + 1 })), 'JWT_IAT_INVALID', 'iat');
      expect(verifier.check(signed(es, {}, claims({ iat: NOW }))).ok).toBe(true);
      expect(verifierFor({ clockTolerance: 5 }).check(signed(es, {}, claims({ iat: NOW + 5 }))).ok).toBe(true);
      expectCode(signed(es, {}, claims({ iat: NOW + 6 })), 'JWT_IAT_INVALID', 'iat', verifierFor({ clockTolerance: 5 }));
    });

    it.each(['iss', 'aud', 'exp', 'iat', 'sub'])('%s missing → JWT_CLAIM_INVALID', (name) => {
      expectCode(signed(es, {}, claims({ [name]: undefined })), 'JWT_CLAIM_INVALID', name);
      expectCode(signed(es, {}, claims({ [name]: null })), 'JWT_CLAIM_INVALID', name);
    });

    it('requiredClaims: sub may be dropped; exp/iat/iss/aud stay required; extra names are enforced', () => {
      const noSub = verifierFor({ requiredClaims: [] });
      expect(noSub.check(signed(es, {}, claims({ sub: undefined }))).ok).toBe(true);
      expectCode(signed(es, {}, claims({ exp: undefined })), 'JWT_CLAIM_INVALID', 'exp', noSub);
      expectCode(signed(es, {}, claims({ iat: undefined })), 'JWT_CLAIM_INVALID', 'iat', noSub);
      const withSid = verifierFor({ requiredClaims: ['sub', 'sid', 'toString'] });
      expectCode(signed(es, {}, claims({ sid: undefined })), 'JWT_CLAIM_INVALID', 'sid', withSid);
      expectCode(signed(es, {}, claims()), 'JWT_CLAIM_INVALID', 'toString', withSid); // inherited names do not count
    });

    it.each(['exp', 'iat', 'nbf'])('%s in milliseconds, as a string, or not finite → JWT_CLAIM_INVALID', (name) => {
      for (const value of [NOW_MS, NOW_MS + 900_000, String(NOW + 900), `${NOW}`, true, [NOW], { v: NOW }, -1, 1e11 + 1, '1e400']) {
        expectCode(signed(es, {}, claims({ [name]: value })), 'JWT_CLAIM_INVALID', name);
      }
      // 1e400 parses to Infinity in JSON.
      const raw = JSON.stringify(claims({ [name]: undefined })).replace(/}$/, `,"${name}":1e400}`);
      expectCode(signed(es, {}, raw), 'JWT_CLAIM_INVALID', name);
    });

    it('wrong iss → JWT_CLAIM_INVALID', () => {
      for (const iss of ['https://evil.example', `${ISS}/`, ISS.toUpperCase(), [ISS], 1]) {
        expectCode(signed(es, {}, claims({ iss })), 'JWT_CLAIM_INVALID', 'iss');
      }
    });

    it('wrong aud → JWT_CLAIM_INVALID', () => {
      for (const aud of ['other', [], ['other', 'x'], [AUD, 1], 1, { [AUD]: true }, AUD.toUpperCase()]) {
        expectCode(signed(es, {}, claims({ aud })), 'JWT_CLAIM_INVALID', 'aud');
      }
    });

    it('sub not a string → JWT_CLAIM_INVALID', () => {
      expectCode(signed(es, {}, claims({ sub: 42 })), 'JWT_CLAIM_INVALID', 'sub');
    });
  });
});

describe('errors', () => {
  it('toApiCode maps only JWT_EXPIRED to TOKEN_EXPIRED', () => {
    const codes: JwtErrorCode[] = [
      'JWT_MALFORMED',
      'JWT_ALG_NOT_ALLOWED',
      'JWT_KID_MISSING',
      'JWT_KID_UNKNOWN',
      'JWT_CRIT_UNSUPPORTED',
      'JWT_SIGNATURE_INVALID',
      'JWT_TYP_INVALID',
      'JWT_NOT_YET_VALID',
      'JWT_IAT_INVALID',
      'JWT_CLAIM_INVALID',
      'JWT_OPTIONS_INVALID',
    ];
    for (const code of codes) expect(toApiCode(new JwtError(code))).toBe('INVALID_TOKEN');
    expect(toApiCode(new JwtError('JWT_EXPIRED'))).toBe('TOKEN_EXPIRED');
  });

  it('is a LatchkeyError with a stable code; no token, claim value or key in the message', async () => {
    const { LatchkeyError } = await import('../../src/errors.js');
    const token = signed(es, {}, claims({ aud: 'secret-audience-value' }));
    const r = verifier.check(token);
    expect(!r.ok && r.error).toBeInstanceOf(LatchkeyError);
    expect(!r.ok && r.error.message).not.toContain('secret-audience-value');
    expect(!r.ok && JSON.stringify({ ...r.error, m: r.error.message, s: r.error.stack })).not.toContain(token.split('.')[1]);
  });
});
