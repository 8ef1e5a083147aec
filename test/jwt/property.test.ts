/** fast-check properties: a one-character or one-byte mutation of a valid token never verifies; junk never throws; failures are always coded. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { createSigner, JWT_ERROR_MESSAGES, JwtError } from '../../src/jwt/index.js';
import { ALGS, KEYS, claims, verifierFor } from './helpers.js';

const verifier = verifierFor();
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const replacement = fc.constantFrom(...ALPHABET.split(''), '.', '=', '+', '/', ' ', '\n', '\u0000', 'é');

describe.each(ALGS)('%s', (alg) => {
  const k = KEYS[alg];
  const token = createSigner({ key: { kid: k.kid, alg, key: k.signKey } })(claims());

  it('the unmutated token verifies (control)', () => {
    expect(verifier.check(token).ok).toBe(true);
  });

  it('replacing any one character never verifies', () => {
    fc.assert(
      fc.property(fc.nat({ max: token.length - 1 }), replacement, (index, char) => {
        fc.pre(token[index] !== char);
        const mutated = token.slice(0, index) + char + token.slice(index + 1);
        expect(verifier.check(mutated).ok).toBe(false);
      }),
      { numRuns: 600 },
    );
  });

  it('inserting or deleting one character never verifies', () => {
    fc.assert(
      fc.property(fc.nat({ max: token.length - 1 }), replacement, fc.boolean(), (index, char, insert) => {
        const mutated = insert ? token.slice(0, index) + char + token.slice(index) : token.slice(0, index) + token.slice(index + 1);
        expect(verifier.check(mutated).ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('random claims round-trip through sign and verify', () => {
    const sign = createSigner({ key: { kid: k.kid, alg, key: k.signKey } });
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 4 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }), (extra) => {
        const c = { ...extra, ...claims() };
        const r = verifier.check(sign(c));
        expect(r.ok).toBe(true);
        expect(r.ok && r.claims).toEqual(JSON.parse(JSON.stringify(c)));
      }),
      { numRuns: 100 },
    );
  });
});

it('check() never throws and never accepts arbitrary input', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.string({ unit: fc.constantFrom(...ALPHABET.split(''), '.') }), fc.anything()), (input) => {
      const r = verifier.check(input as string);
      expect(r.ok).toBe(false);
    }),
    { numRuns: 2000 },
  );
});

describe.each(ALGS)('%s: byte-level mutations of the decoded segments', (alg) => {
  const k = KEYS[alg];
  const token = createSigner({ key: { kid: k.kid, alg, key: k.signKey } })(claims());
  const segments = token.split('.').map((s) => Buffer.from(s, 'base64url'));
  const KNOWN = new Set(Object.keys(JWT_ERROR_MESSAGES));

  it('flipping, replacing, dropping or adding bytes of the header, payload or signature never verifies; failures are coded, verify() throws only JwtError', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 2 }),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.constantFrom('flip', 'set', 'drop', 'add'),
        (part, at, byte, how) => {
          const bytes = Buffer.from(segments[part]!);
          const i = at % Math.max(1, bytes.length);
          let mutated: Buffer;
          if (how === 'flip') mutated = Buffer.from(bytes.map((b, j) => (j === i ? b ^ (1 << (byte % 8)) : b)));
          else if (how === 'set') mutated = Buffer.from(bytes.map((b, j) => (j === i ? byte : b)));
          else if (how === 'drop') mutated = Buffer.concat([bytes.subarray(0, i), bytes.subarray(i + 1)]);
          else mutated = Buffer.concat([bytes.subarray(0, i), Buffer.from([byte]), bytes.subarray(i)]);
          fc.pre(!mutated.equals(bytes));
          const parts = segments.map((s) => s.toString('base64url'));
          parts[part] = mutated.toString('base64url'); // canonical encoding: only the bytes differ
          const forged = parts.join('.');
          const r = verifier.check(forged);
          expect(r.ok).toBe(false);
          if (!r.ok) expect(KNOWN.has(r.error.code)).toBe(true);
          try {
            verifier.verify(forged);
            expect.unreachable('verify() accepted a mutated token');
          } catch (error) {
            expect(error).toBeInstanceOf(JwtError);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
