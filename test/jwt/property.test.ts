/** fast-check properties: a one-character mutation of a valid token never verifies; junk never throws. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { createSigner } from '../../src/jwt/index.js';
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
