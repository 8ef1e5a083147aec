import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { hasDuplicateKeys, parseJsonObject } from '../../src/jwt/json.js';

describe('duplicate member detection', () => {
  it.each([
    ['{"a":1,"a":2}', true],
    ['{"a":1, "a" : 2}', true],
    ['{"a":1,"\\u0061":2}', true],
    ['{"a\\"b":1,"a\\"b":2}', true],
    ['{"x":{"a":1,"a":1}}', true],
    ['[{"a":1,"a":1}]', true],
    ['{"a":1,"b":{"a":1},"c":[{"a":1},{"a":2}]}', false],
    ['{"a":"\\"a\\":1,","b":"{\\"a\\":2}"}', false],
    ['{"a":"x","b":"a"}', false],
    ['{"a:":1,"a":2}', false],
    ['{}', false],
    ['{"a":[1,{"b":[]},"a"]}', false],
  ])('%s → %s', (text, expected) => {
    JSON.parse(text); // the scanner runs on valid JSON only
    expect(hasDuplicateKeys(text)).toBe(expected);
    // parseJsonObject counts members instead of collecting names: same verdict for objects.
    if (text.startsWith('{')) expect(parseJsonObject(Buffer.from(text)) === undefined).toBe(expected);
  });

  it('parseJsonObject agrees with hasDuplicateKeys on arbitrary JSON with injected duplicates (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.string(), fc.boolean(), (obj, name, nest) => {
        const inner = `${JSON.stringify({ ...obj, [name]: 1 }).slice(0, -1)},${JSON.stringify(name)}:2}`;
        for (const text of [JSON.stringify(obj), inner, nest ? `{"n":[${inner}]}` : `{"n":${inner}}`, `{"\\"":{"__proto__":[]}}`]) {
          expect(parseJsonObject(Buffer.from(text)) === undefined).toBe(hasDuplicateKeys(text));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('never flags JSON.stringify output, always flags an injected duplicate (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.string(), (obj, name) => {
        const text = JSON.stringify(obj);
        expect(hasDuplicateKeys(text)).toBe(false);
        const withName = { ...obj, [name]: 1 };
        const dup = `${JSON.stringify(withName).slice(0, -1)},${JSON.stringify(name)}:2}`;
        expect(hasDuplicateKeys(dup)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('parseJsonObject refuses invalid UTF-8, a BOM, non-objects and duplicates', () => {
    expect(parseJsonObject(Buffer.from('{"a":1}'))).toEqual({ a: 1 });
    expect(parseJsonObject(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x22, 0x7d]))).toBeUndefined();
    expect(parseJsonObject(Buffer.from('\uFEFF{"a":1}'))).toBeUndefined();
    for (const t of ['[]', '1', '"x"', 'null', '{"a":1,"a":1}', '{']) expect(parseJsonObject(Buffer.from(t))).toBeUndefined();
  });
});

describe('parseJsonObject fast pre-checks keep valid JSON valid', () => {
  it('accepts surrounding JSON whitespace', () => {
    expect(parseJsonObject(Buffer.from(' \r\n\t{"a":1} \n'))).toEqual({ a: 1 });
  });
  it('refuses junk that starts and ends like an object', () => {
    for (const t of ['{junk}', '{"a":1}{"b":2}', '{"a":1,}', '{}x}']) expect(parseJsonObject(Buffer.from(t))).toBeUndefined();
  });
});
