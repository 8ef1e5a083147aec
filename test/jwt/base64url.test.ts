import { randomBytes } from 'node:crypto';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { decodeBase64url, encodeBase64url, isCanonicalBase64url } from '../../src/jwt/index.js';

describe('base64url', () => {
  it('round-trips every length', () => {
    for (let n = 0; n < 70; n++) {
      const bytes = randomBytes(n);
      const text = encodeBase64url(bytes);
      expect(text).toMatch(/^[A-Za-z0-9_-]*$/);
      expect(decodeBase64url(text)?.equals(bytes)).toBe(true);
    }
    expect(encodeBase64url('é')).toBe('w6k');
  });

  it.each([
    ['padding', 'w6k='],
    ['double padding', 'AA=='],
    ['plus (base64, not base64url)', 'a+b_'],
    ['slash (base64, not base64url)', 'a/b_'],
    ['space', 'ab cd'],
    ['newline', 'ab\ncd'],
    ['tab', 'abcd\t'],
    ['impossible length (4n+1)', 'abcde'],
    ['non-ASCII', 'abé'],
    ['dot', 'ab.c'],
    ['trailing bits set, 2-char tail (A==0, B has low bits)', 'AB'],
    ['trailing bits set, 3-char tail', 'AAB'],
    ['trailing bits set, 3-char tail (w6l vs w6k)', 'w6l'],
  ])('rejects %s', (_name, text) => {
    expect(isCanonicalBase64url(text)).toBe(false);
    expect(decodeBase64url(text)).toBeUndefined();
  });

  it('accepts exactly the canonical encoding of the bytes (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/= '.split('')), maxLength: 24 }),
        (text) => {
          const decoded = decodeBase64url(text);
          if (decoded !== undefined) expect(decoded.toString('base64url')).toBe(text);
          else
            expect(text.length % 4 === 1 || /[^A-Za-z0-9_-]/.test(text) || Buffer.from(text, 'base64url').toString('base64url') !== text).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
