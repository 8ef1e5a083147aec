import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  base64urlDecode,
  base64urlEncode,
  decodeToken,
  describeTime,
  explainClaim,
  humanDuration,
  lintToken,
  normalizeToken,
  parseJson,
  stringifyNode,
  toPlain,
  buildReport,
  renderReport,
} from '../../src/decoder/index.js';
import { hs256, NOW, nowS, rawToken } from './helpers.js';

describe('decodeToken', () => {
  it('decodes a JWS and keeps the payload member order, integer-like keys included', () => {
    const t = rawToken('{"typ":"JWT","alg":"HS256"}', '{"z":1,"10":2,"a":3,"2":4}');
    const d = decodeToken(t);
    expect(d.ok && d.kind).toBe('JWS');
    if (!d.ok || d.kind !== 'JWS') return;
    expect(d.payload.members.map((m) => m.key)).toEqual(['z', '10', 'a', '2']);
    expect(d.header.members.map((m) => m.key)).toEqual(['typ', 'alg']);
    expect(stringifyNode(d.payload, 0)).toBe('{"z":1,"10":2,"a":3,"2":4}');
    const report = renderReport(buildReport(d, []));
    expect(report.indexOf('"z"')).toBeLessThan(report.indexOf('"10"'));
  });

  it('keeps the source text of numbers', () => {
    const d = decodeToken(rawToken('{"alg":"HS256"}', '{"big":12345678901234567890,"f":1.50}'));
    expect(d.ok && d.kind === 'JWS' && stringifyNode(d.payload, 0)).toBe('{"big":12345678901234567890,"f":1.50}');
  });

  it('detects duplicate member names in header and payload (last wins, like JSON.parse)', () => {
    const d = decodeToken(rawToken('{"alg":"HS256","alg":"none"}', '{"sub":"a","n":{"x":1,"x":2},"sub":"b"}'));
    if (!d.ok || d.kind !== 'JWS') throw new Error('expected JWS');
    expect(d.duplicates.header).toEqual([{ path: '/', key: 'alg' }]);
    expect(d.duplicates.payload).toEqual([
      { path: '/n', key: 'x' },
      { path: '/', key: 'sub' },
    ]);
    expect(d.headerJson.alg).toBe('none');
    expect(d.payloadJson.sub).toBe('b');
  });

  it('recognises a JWE and shows only its protected header', () => {
    const header = Buffer.from('{"alg":"RSA-OAEP-256","enc":"A256GCM","kid":"k1"}').toString('base64url');
    const d = decodeToken(`${header}.ZW5j.aXY.Y2lwaGVy.dGFn`);
    expect(d.ok && d.kind).toBe('JWE');
    if (!d.ok) return;
    expect(d.headerJson.enc).toBe('A256GCM');
    expect(renderReport(buildReport(d, []))).toContain('"payload":null');
  });

  it('accepts Bearer prefixes, quotes and wrapped lines', async () => {
    const t = await hs256({ sub: '1' });
    expect(normalizeToken(`  Authorization: Bearer ${t.slice(0, 20)}\n  ${t.slice(20)}  `)).toBe(t);
    expect(decodeToken(`"${t}"`).ok).toBe(true);
  });

  it.each([
    ['', 'EMPTY'],
    ['   ', 'EMPTY'],
    ['abc', 'BAD_SEGMENT_COUNT'],
    ['a.b', 'BAD_SEGMENT_COUNT'],
    ['a.b.c.d', 'BAD_SEGMENT_COUNT'],
    ['!!!.e30.', 'BAD_BASE64URL'],
    [`${Buffer.from([0xff, 0xfe]).toString('base64url')}.e30.`, 'NOT_UTF8'],
    [`${Buffer.from('{"alg":').toString('base64url')}.e30.`, 'HEADER_NOT_JSON'],
    [`${Buffer.from('[1]').toString('base64url')}.e30.`, 'HEADER_NOT_OBJECT'],
    [`e30.${Buffer.from('not json').toString('base64url')}.`, 'PAYLOAD_NOT_JSON'],
    [`e30.${Buffer.from('"str"').toString('base64url')}.`, 'PAYLOAD_NOT_OBJECT'],
    ['e30.e30.a', 'BAD_BASE64URL'],
    ['e30.e30.e30.e30.!', 'BAD_BASE64URL'],
    ['x'.repeat(600_000), 'TOO_LARGE'],
  ])('fails with a code, never a throw: %#', (input, code) => {
    const d = decodeToken(input);
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.code).toBe(code);
  });

  it('never throws on arbitrary strings, nor on arbitrary dotted base64url parts', () => {
    const opts = { now: NOW };
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        const d = decodeToken(s);
        lintToken(d, opts);
        return typeof d.ok === 'boolean';
      }),
      { numRuns: 2000 },
    );
    const part = fc.oneof(
      fc.json().map((j) => Buffer.from(j).toString('base64url')),
      fc.base64String().map((s) => s.replace(/=+$/, '')),
      fc.string({ maxLength: 20 }),
    );
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 6 }), (parts) => {
        const d = decodeToken(parts.join('.'));
        const { warnings } = lintToken(d, opts);
        if (d.ok) renderReport(buildReport(d, warnings));
        return true;
      }),
      { numRuns: 2000 },
    );
  });

  it('survives deeply nested JSON', () => {
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    expect(parseJson(deep).ok).toBe(false);
    const d = decodeToken(rawToken('{"alg":"HS256"}', `{"a":${deep}}`));
    expect(d.ok).toBe(false);
  });
});

describe('json parser agrees with JSON.parse', () => {
  it('on arbitrary JSON', () => {
    fc.assert(
      fc.property(fc.json(), (text) => {
        const r = parseJson(text);
        return r.ok && JSON.stringify(toPlain(r.value)) === JSON.stringify(JSON.parse(text), (_k, v: unknown) => (Object.is(v, -0) ? 0 : v));
      }),
      { numRuns: 500 },
    );
  });
  it('rejects what JSON.parse rejects', () => {
    for (const bad of ['{', '{"a"}', '[1,]', '{"a":1,}', '01', '"\\x"', 'tru', '"a\u0001"', '1 2', 'NaN']) {
      expect(parseJson(bad).ok, bad).toBe(false);
    }
  });
});

describe('base64url', () => {
  it('round-trips and rejects non-canonical input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const enc = base64urlEncode(bytes);
        return enc === Buffer.from(bytes).toString('base64url') && Buffer.from(base64urlDecode(enc)!).equals(Buffer.from(bytes));
      }),
    );
    expect(base64urlDecode('a')).toBeNull();
    expect(base64urlDecode('ab+/')).toBeNull();
    expect(base64urlDecode('QR')).toBeNull(); // non-canonical trailing bits
  });
});

describe('times (injected clock)', () => {
  const opts = { now: NOW, timeZone: 'Europe/Berlin' };
  it('formats local, UTC, ISO and relative', () => {
    const t = describeTime('exp', nowS + 14 * 60, opts);
    expect(t.iso).toBe('2025-01-15T12:14:00.000Z');
    expect(t.utc).toBe('2025-01-15 12:14:00 UTC');
    expect(t.local).toContain('13:14:00');
    expect(t.relative).toBe('expires in 14 min');
    expect(describeTime('exp', nowS - 3 * 86400, opts).relative).toBe('expired 3 days ago');
    expect(describeTime('nbf', nowS + 7200, opts).relative).toBe('becomes valid in 2 hours');
    expect(describeTime('iat', nowS - 30, opts).relative).toBe('issued 30 sec ago');
    expect(describeTime('iat', nowS, opts).relative).toBe('issued just now');
    expect(describeTime('exp', nowS + 3 * 365.25 * 86400, opts).relative).toBe('expires in 3 years');
  });
  it('turns odd values into problems, not crashes', () => {
    expect(describeTime('exp', NOW, opts).problem).toBe('MILLISECONDS');
    expect(describeTime('exp', NOW, opts).asMillisecondsIso).toBe('2025-01-15T12:00:00.000Z');
    expect(describeTime('exp', '1700000000', opts).problem).toBe('NOT_NUMERIC');
    expect(describeTime('exp', null, opts).problem).toBe('NOT_NUMERIC');
    expect(describeTime('exp', 1e300, opts).problem).toBe('OUT_OF_RANGE');
    expect(describeTime('exp', -5, opts).problem).toBe('OUT_OF_RANGE');
    expect(describeTime('exp', 8.64e12, opts).problem).toBe('MILLISECONDS');
  });
  it('humanDuration units', () => {
    expect(humanDuration(1000)).toBe('1 sec');
    expect(humanDuration(60 * 60_000)).toBe('60 min');
    expect(humanDuration(86400_000)).toBe('24 hours');
    expect(humanDuration(2 * 86400_000)).toBe('2 days');
  });
});

describe('claim explanations', () => {
  it('covers RFC 7519, RFC 9068 and OIDC claims and header parameters', () => {
    for (const c of [
      'iss',
      'sub',
      'aud',
      'exp',
      'nbf',
      'iat',
      'jti',
      'client_id',
      'scope',
      'auth_time',
      'acr',
      'amr',
      'azp',
      'nonce',
      'email',
      'email_verified',
      'groups',
      'roles',
    ]) {
      expect(explainClaim(c)?.description, c).toBeTruthy();
    }
    expect(explainClaim('jku', 'header')?.description).toContain('Never fetched');
    expect(explainClaim('constructor')).toBeUndefined();
    expect(explainClaim('toString', 'header')).toBeUndefined();
  });
});
