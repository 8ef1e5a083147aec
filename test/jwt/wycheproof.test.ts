/**
 * Wycheproof JSON Web Signature vectors (test/vectors/wycheproof-jws.json, a subset of
 * C2SP/wycheproof — see test/vectors/README.md): every expected rejection rejects with a coded
 * JwtError, every valid vector verifies. Each group's key is pinned with its algorithm, as our
 * key ring does; the token's header never chooses it. The decoder's verify (CLI and page) never
 * calls an invalid vector valid.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { JwtError, importJwk, verifyJws, type JwsAlgorithm } from '../../src/jwt/index.js';
import { decodeToken, verifyToken } from '../../src/decoder/index.js';

interface WycheproofTest {
  tcId: number;
  comment: string;
  jws: string;
  result: 'valid' | 'invalid';
  flags: string[];
}
interface WycheproofGroup {
  comment: string;
  private?: Record<string, unknown>;
  public?: Record<string, unknown>;
  tests: WycheproofTest[];
}
const file = JSON.parse(readFileSync(new URL('../vectors/wycheproof-jws.json', import.meta.url), 'utf8')) as {
  numberOfTests: number;
  testGroups: WycheproofGroup[];
};

describe('Wycheproof JWS vectors', () => {
  it('the shipped subset is complete as described (50 tests, 3 valid)', () => {
    const tests = file.testGroups.flatMap((g) => g.tests);
    expect(tests).toHaveLength(file.numberOfTests);
    expect(tests.filter((t) => t.result === 'valid').map((t) => t.tcId)).toEqual([1, 18, 33]);
  });

  describe.each(file.testGroups)('$comment', (group) => {
    const jwk = (group.public ?? group.private)!;
    const alg = jwk.alg as JwsAlgorithm;
    const { key } = importJwk(jwk, { alg, allowSecret: true });

    it.each(group.tests)('tcId $tcId $comment → $result', async (t) => {
      let verified = false;
      try {
        verifyJws(t.jws, key, alg);
        verified = true;
      } catch (error) {
        expect(error).toBeInstanceOf(JwtError);
        expect((error as JwtError).code).toMatch(/^JWT_[A-Z_]+$/);
      }
      expect(verified).toBe(t.result === 'valid');

      // The decoder is a JWT tool: the vectors' payload ("foo") is not a JSON object, so even the
      // valid ones are malformed JWTs to it. What matters: it never calls an invalid one valid.
      const decoded = decodeToken(t.jws);
      const decoderResult = await verifyToken(decoded, { type: 'jwk', jwk });
      expect(decoderResult.valid).toBe(false);
      if (t.result === 'valid') expect(decoded).toMatchObject({ ok: false, code: 'PAYLOAD_NOT_JSON' });
    });
  });
});
