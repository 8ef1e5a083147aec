/**
 * Public test vectors (test/vectors/, see its README for sources) run through verifyJws, which
 * shares parsing, `crit` handling and the signature code with createVerifier.
 */
import { createPrivateKey, sign as cryptoSign } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { type JwsAlgorithm, JwtError, createVerifier, importJwk, verifyJws } from '../../src/jwt/index.js';

interface Vector {
  name: string;
  alg: JwsAlgorithm;
  jwk: Record<string, unknown>;
  token: string;
  payload?: string;
  privateJwk?: Record<string, unknown>;
}
interface VectorFile {
  source: string;
  payload?: string;
  vectors: Vector[];
  unsecured?: { token: string };
  unsupported?: { name: string; alg: string; protectedHeader: string; signature: string }[];
}

const load = (name: string): VectorFile => JSON.parse(readFileSync(new URL(`../vectors/${name}.json`, import.meta.url), 'utf8')) as VectorFile;
const files = { rfc7515: load('rfc7515'), rfc7520: load('rfc7520'), rfc8037: load('rfc8037') };

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(JwtError);
    return (error as JwtError).code;
  }
  throw new Error('expected a JwtError');
}

/** Flips one bit in the middle of the signature segment while keeping it canonical base64url. */
function tamperSignature(token: string): string {
  const dot = token.lastIndexOf('.');
  const sig = Buffer.from(token.slice(dot + 1), 'base64url');
  sig[sig.length >> 1]! ^= 0x01;
  return `${token.slice(0, dot)}.${sig.toString('base64url')}`;
}

const all = Object.entries(files).flatMap(([file, data]) => data.vectors.map((v) => ({ file, data, v })));

describe('public JWS vectors', () => {
  it('covers every algorithm we support', () => {
    expect(new Set(all.map(({ v }) => v.alg))).toEqual(new Set(['HS256', 'RS256', 'ES256', 'EdDSA']));
  });

  describe.each(all.map(({ v, data }) => [v.name, v, data] as const))('%s', (_name, v, data) => {
    const key = importJwk(v.jwk, { kid: 'vector', alg: v.alg, allowSecret: v.alg === 'HS256' });

    it('verifies and yields the published payload', () => {
      const { header, payload } = verifyJws(v.token, key.key, v.alg);
      expect(header.alg).toBe(v.alg);
      expect(payload.toString('utf8')).toBe(v.payload ?? data.payload);
    });

    it('fails with a tampered signature', () => {
      expect(codeOf(() => verifyJws(tamperSignature(v.token), key.key, v.alg))).toBe('JWT_SIGNATURE_INVALID');
    });

    it('fails with a tampered payload', () => {
      const [h, p, s] = v.token.split('.') as [string, string, string];
      const other = Buffer.from(p, 'base64url');
      other[0]! ^= 0x20;
      expect(codeOf(() => verifyJws(`${h}.${other.toString('base64url')}.${s}`, key.key, v.alg))).toBe('JWT_SIGNATURE_INVALID');
    });

    it('is refused for any other algorithm', () => {
      const otherAlg: JwsAlgorithm = v.alg === 'HS256' ? 'RS256' : 'HS256';
      // The key does not fit the other algorithm: a configuration error, never a verification.
      expect(codeOf(() => verifyJws(v.token, key.key, otherAlg))).toBe('JWT_OPTIONS_INVALID');
    });
  });

  it('RFC 7515 A.1 through createVerifier: no kid → JWT_KID_MISSING (the access-token profile requires one)', () => {
    const v = files.rfc7515.vectors[0]!;
    const key = importJwk(v.jwk, { kid: 'a1', allowSecret: true });
    const verifier = createVerifier({ algorithms: ['HS256'], keys: [key], issuer: 'joe', audience: 'x', now: () => 1300819000_000 });
    const result = verifier.check(v.token);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error.code).toBe('JWT_KID_MISSING');
  });

  it('RFC 7520 4.1 through createVerifier with its kid: signature passes, then the non-JSON payload → JWT_MALFORMED', () => {
    const v = files.rfc7520.vectors[0]!;
    const key = importJwk(v.jwk);
    expect(key.kid).toBe('bilbo.baggins@hobbiton.example');
    const verifier = createVerifier({ algorithms: ['RS256'], keys: [key], issuer: 'x', audience: 'y' });
    const result = verifier.check(v.token);
    expect(!result.ok && result.error.code).toBe('JWT_MALFORMED');
    // ...whereas a forged signature stops at the signature step.
    const forged = verifier.check(tamperSignature(v.token));
    expect(!forged.ok && forged.error.code).toBe('JWT_SIGNATURE_INVALID');
  });

  it('RFC 7515 A.5 unsecured JWS (alg none) is refused', () => {
    const token = files.rfc7515.unsecured!.token;
    const hs = importJwk(files.rfc7515.vectors[0]!.jwk, { kid: 'a1', allowSecret: true });
    expect(codeOf(() => verifyJws(token, hs.key, 'HS256'))).toBe('JWT_ALG_NOT_ALLOWED');
    const verifier = createVerifier({ algorithms: ['HS256'], keys: [hs], issuer: 'joe', audience: 'x' });
    expect(codeOf(() => verifier.verify(token))).toBe('JWT_ALG_NOT_ALLOWED');
  });

  it('RFC 7520 4.3 ES512 (P-521) is refused: not an algorithm we accept', () => {
    const u = files.rfc7520.unsupported![0]!;
    const token = `${u.protectedHeader}.${b64Payload(files.rfc7520.payload!)}.${u.signature}`;
    const es = importJwk(files.rfc7515.vectors[2]!.jwk, { kid: 'a3' });
    expect(codeOf(() => verifyJws(token, es.key, 'ES256'))).toBe('JWT_ALG_NOT_ALLOWED');
    const verifier = createVerifier({ algorithms: ['ES256'], keys: [{ ...es, kid: 'bilbo.baggins@hobbiton.example' }], issuer: 'x', audience: 'y' });
    expect(codeOf(() => verifier.verify(token))).toBe('JWT_ALG_NOT_ALLOWED');
  });

  it('RFC 8037 A.4: Ed25519 signing is deterministic, our key import reproduces the published signature', () => {
    const v = files.rfc8037.vectors[0]!;
    const privateKey = createPrivateKey({ key: v.privateJwk as never, format: 'jwk' });
    const [h, p, s] = v.token.split('.') as [string, string, string];
    expect(cryptoSign(null, Buffer.from(`${h}.${p}`), privateKey).toString('base64url')).toBe(s);
  });
});

function b64Payload(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}
