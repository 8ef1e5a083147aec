import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPrivateKey } from 'node:crypto';
import { describe, expect, it, beforeAll } from 'vitest';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey as JoseKey } from 'jose';
import { decodeToken, verifyToken, type KeyInput } from '../../src/decoder/index.js';
import { hs256, NOW, nowS, SECRET, rawToken } from './helpers.js';
import { noticeOnce, SERVICES_REQUIRED } from '../helpers/services.js';

/** Why the certificate test cannot make its certificate (undefined: openssl is there). */
const OPENSSL_PROBLEM = (() => {
  const probe = spawnSync('openssl', ['version'], { stdio: 'ignore' });
  return probe.error || probe.status !== 0 ? 'no working openssl binary on PATH' : undefined;
})();
// The same policy as for services: skip with a notice, fail under LATCHKEY_REQUIRE_SERVICES=1.
const SKIP_CERTIFICATE = OPENSSL_PROBLEM !== undefined && !SERVICES_REQUIRED;
if (SKIP_CERTIFICATE) {
  noticeOnce(
    'openssl',
    `[latchkey] skipping the self-signed certificate test: ${OPENSSL_PROBLEM}; LATCHKEY_REQUIRE_SERVICES=1 makes this a failure.`,
  );
}

type Pair = { publicKey: JoseKey; privateKey: JoseKey };
const ALGS = ['ES256', 'RS256', 'EdDSA', 'PS256', 'ES384'] as const;
const pairs: Record<string, Pair> = {};
const others: Record<string, Pair> = {};
beforeAll(async () => {
  for (const alg of ALGS) {
    pairs[alg] = await generateKeyPair(alg, { extractable: true });
    others[alg] = await generateKeyPair(alg, { extractable: true });
  }
});

const claims = { sub: 'u1', iat: nowS, exp: nowS + 600 };
const sign = (alg: string, key: JoseKey, header: Record<string, unknown> = {}, payload: Record<string, unknown> = claims): Promise<string> =>
  new SignJWT(payload).setProtectedHeader({ alg, ...header }).sign(key);
const verify = (token: string, key: KeyInput, algorithms?: string[]) =>
  verifyToken(decodeToken(token), key, { now: NOW, ...(algorithms ? { algorithms: algorithms as never } : {}) });
const tamper = (token: string): string => {
  const [h, p, s] = token.split('.');
  const payload = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
  payload.sub = 'admin';
  return `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
};

describe('HS256', () => {
  it('valid, tampered, wrong secret', async () => {
    const t = await hs256(claims);
    expect(await verify(t, { type: 'secret', secret: SECRET })).toMatchObject({ valid: true, code: 'VALID', alg: 'HS256', time: 'ok', warnings: [] });
    expect(await verify(tamper(t), { type: 'secret', secret: SECRET })).toMatchObject({ valid: false, code: 'BAD_SIGNATURE' });
    expect(await verify(t, { type: 'secret', secret: `${SECRET}x` })).toMatchObject({ valid: false, code: 'BAD_SIGNATURE' });
  });
  it('secret encodings and oct JWKs', async () => {
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    const t = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(bytes);
    const b = Buffer.from(bytes);
    expect((await verify(t, { type: 'secret', secret: b.toString('base64url'), encoding: 'base64url' })).valid).toBe(true);
    expect((await verify(t, { type: 'secret', secret: b.toString('base64'), encoding: 'base64' })).valid).toBe(true);
    expect((await verify(t, { type: 'secret', secret: b.toString('hex'), encoding: 'hex' })).valid).toBe(true);
    expect((await verify(t, { type: 'jwk', jwk: { kty: 'oct', k: b.toString('base64url') } })).valid).toBe(true);
    expect(await verify(t, { type: 'secret', secret: 'zz', encoding: 'hex' })).toMatchObject({ code: 'KEY_INVALID' });
    expect(await verify(t, { type: 'secret', secret: '' })).toMatchObject({ code: 'KEY_EMPTY' });
  });
  it('the user can restrict the algorithm', async () => {
    const t = await hs256(claims);
    expect(await verify(t, { type: 'secret', secret: SECRET }, ['HS512'])).toMatchObject({ valid: false, code: 'ALG_NOT_ALLOWED' });
  });
});

describe.each(ALGS)('%s (tokens made by jose)', (alg) => {
  it('valid with PEM and JWK; tampered, wrong key invalid', async () => {
    const { publicKey, privateKey } = pairs[alg]!;
    const t = await sign(alg, privateKey);
    const pem = await exportSPKI(publicKey);
    const jwk = await exportJWK(publicKey);
    expect(await verify(t, { type: 'pem', pem })).toMatchObject({ valid: true, code: 'VALID', alg });
    expect((await verify(t, { type: 'jwk', jwk })).valid).toBe(true);
    expect(await verify(tamper(t), { type: 'pem', pem })).toMatchObject({ valid: false, code: 'BAD_SIGNATURE' });
    expect(await verify(t, { type: 'pem', pem: await exportSPKI(others[alg]!.publicKey) })).toMatchObject({ valid: false, code: 'BAD_SIGNATURE' });
  });

  it('a key embedded in the header (jwk) is never trusted', async () => {
    const attacker = others[alg]!;
    const forged = await sign(alg, attacker.privateKey, { jwk: await exportJWK(attacker.publicKey) }, { ...claims, sub: 'admin' });
    // with the real key: invalid
    expect((await verify(forged, { type: 'pem', pem: await exportSPKI(pairs[alg]!.publicKey) })).valid).toBe(false);
    // with a JWKS of the real key: invalid
    const real = { ...(await exportJWK(pairs[alg]!.publicKey)), kid: 'real' };
    expect((await verify(forged, { type: 'jwks', jwks: { keys: [real] } })).valid).toBe(false);
  });
});

describe('algorithm comes from the key, never the header alone', () => {
  it('RS256 public key used as an HMAC secret (alg confusion) is refused', async () => {
    const pem = await exportSPKI(pairs.RS256!.publicKey);
    // Attacker signs HS256 with the public key PEM text as the secret.
    const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(pem));
    expect(await verify(forged, { type: 'pem', pem })).toMatchObject({ valid: false, code: 'ALG_NOT_ALLOWED' });
  });
  it('alg none is never valid, whatever the key', async () => {
    for (const alg of ['none', 'None', 'NONE']) {
      const t = rawToken(`{"alg":"${alg}"}`, JSON.stringify(claims), '');
      expect(await verify(t, { type: 'secret', secret: SECRET })).toMatchObject({ valid: false, code: 'ALG_NONE' });
    }
  });
  it('a JWK alg narrows the algorithms (RS256 key cannot verify PS256)', async () => {
    const t = await sign('PS256', pairs.PS256!.privateKey);
    const jwk = { ...(await exportJWK(pairs.PS256!.publicKey)), alg: 'RS256' };
    expect(await verify(t, { type: 'jwk', jwk })).toMatchObject({ valid: false, code: 'ALG_NOT_ALLOWED' });
  });
  it('an ES256 token against an ES384 key is refused before any crypto', async () => {
    const t = await sign('ES256', pairs.ES256!.privateKey);
    expect(await verify(t, { type: 'pem', pem: await exportSPKI(pairs.ES384!.publicKey) })).toMatchObject({ code: 'ALG_NOT_ALLOWED' });
  });
  it('jku/x5u in the header are ignored and never fetched', async () => {
    const t = await sign('ES256', others.ES256!.privateKey, { jku: 'http://127.0.0.1:9/jwks.json', x5u: 'http://127.0.0.1:9/c.pem', kid: 'k' });
    const real = { ...(await exportJWK(pairs.ES256!.publicKey)), kid: 'k' };
    expect(await verify(t, { type: 'jwks', jwks: { keys: [real] } })).toMatchObject({ valid: false, code: 'BAD_SIGNATURE' });
  });
});

describe('crit and b64 (RFC 7515 §4.1.11, RFC 7797)', () => {
  it('a correctly signed token that requires an extension is invalid, never "valid"', async () => {
    const { createHmac } = await import('node:crypto');
    const signed = (header: string) => {
      const input = `${Buffer.from(header).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
      return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
    };
    const key: KeyInput = { type: 'secret', secret: SECRET };
    expect(await verify(signed('{"alg":"HS256"}'), key)).toMatchObject({ valid: true, code: 'VALID' });
    expect(await verify(signed('{"alg":"HS256","crit":["exp2"],"exp2":1}'), key)).toMatchObject({ valid: false, code: 'CRIT_UNSUPPORTED' });
    expect(await verify(signed('{"alg":"HS256","crit":["b64"],"b64":false}'), key)).toMatchObject({ valid: false, code: 'CRIT_UNSUPPORTED' });
    expect(await verify(signed('{"alg":"HS256","b64":false}'), key)).toMatchObject({ valid: false, code: 'CRIT_UNSUPPORTED' });
  });
});

describe('JWKS', () => {
  it('matches by kid', async () => {
    const a = { ...(await exportJWK(pairs.ES256!.publicKey)), kid: 'a' };
    const b = { ...(await exportJWK(others.ES256!.publicKey)), kid: 'b' };
    const t = await sign('ES256', others.ES256!.privateKey, { kid: 'b' });
    expect(await verify(t, { type: 'jwks', jwks: { keys: [a, b] } })).toMatchObject({ valid: true, kid: 'b' });
    const c = await sign('ES256', others.ES256!.privateKey, { kid: 'c' });
    expect(await verify(c, { type: 'jwks', jwks: { keys: [a, b] } })).toMatchObject({ valid: false, code: 'KID_NOT_FOUND' });
    const noKid = await sign('ES256', others.ES256!.privateKey);
    expect((await verify(noKid, { type: 'jwks', jwks: { keys: [a, b] } })).valid).toBe(true);
  });
  it('skips unusable keys and refuses an empty set', async () => {
    const a = { ...(await exportJWK(pairs.ES256!.publicKey)), kid: 'a' };
    const t = await sign('ES256', pairs.ES256!.privateKey, { kid: 'a' });
    expect((await verify(t, { type: 'jwks', jwks: { keys: [{ kty: 'XX' }, a] } })).valid).toBe(true);
    expect(await verify(t, { type: 'jwks', jwks: { keys: [] } })).toMatchObject({ code: 'KEY_INVALID' });
    expect(await verify(t, { type: 'jwks', jwks: { nope: 1 } })).toMatchObject({ code: 'KEY_INVALID' });
  });
});

describe('keys', () => {
  it('certificates, PKCS#1 RSA, private keys', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const t = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256' }).sign(rsa.privateKey);
    const pkcs1 = rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }) as string;
    expect((await verify(t, { type: 'pem', pem: pkcs1 })).valid).toBe(true);
    const priv = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    expect(await verify(t, { type: 'pem', pem: priv })).toMatchObject({ valid: false, code: 'KEY_IS_PRIVATE' });
    expect(await verify(t, { type: 'pem', pem: 'hello' })).toMatchObject({ code: 'KEY_INVALID' });
    expect(await verify(t, { type: 'pem', pem: '-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----' })).toMatchObject({
      code: 'KEY_INVALID',
    });
    // a private JWK still verifies with its public part, with a warning
    const jwkPriv = rsa.privateKey.export({ format: 'jwk' });
    expect(await verify(t, { type: 'jwk', jwk: jwkPriv })).toMatchObject({ valid: true, warnings: [{ code: 'KEY_PRIVATE' }] });
  });
  it.skipIf(SKIP_CERTIFICATE)('a self-signed certificate PEM verifies (the certificate is made with openssl)', async () => {
    if (OPENSSL_PROBLEM) throw new Error(`${OPENSSL_PROBLEM} (LATCHKEY_REQUIRE_SERVICES=1 makes this a failure)`);
    // A throwaway self-signed P-256 certificate.
    const dir = mkdtempSync(join(tmpdir(), 'lk-cert-'));
    try {
      const made = spawnSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:P-256',
          '-nodes',
          '-keyout',
          join(dir, 'k.pem'),
          '-out',
          join(dir, 'c.pem'),
          '-subj',
          '/CN=test',
          '-days',
          '1',
        ],
        { stdio: 'ignore' },
      );
      expect(made.status, 'openssl req -x509').toBe(0);
      const key = createPrivateKey(readFileSync(join(dir, 'k.pem')));
      const t = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256' }).sign(key);
      expect((await verify(t, { type: 'pem', pem: readFileSync(join(dir, 'c.pem'), 'utf8') })).valid).toBe(true);
      // The certificate's key, not any key: a token of another key fails against it.
      expect(
        (await verify(await sign('ES256', others.ES256!.privateKey), { type: 'pem', pem: readFileSync(join(dir, 'c.pem'), 'utf8') })).valid,
      ).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('never throws', () => {
  it('on arbitrary key text (as the page detects it) and arbitrary tokens', async () => {
    const { default: fc } = await import('fast-check');
    const { detectKeyInput } = await import('../../src/decoder/index.js');
    const t = await hs256(claims);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.constantFrom(
            '-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----',
            '{"keys":[{"kty":"EC"}]}',
            '{"kty":"RSA","n":"!","e":"AQAB"}',
          ),
        ),
        fc.oneof(fc.constant(t), fc.string()),
        async (keyText, token) => {
          const input = detectKeyInput(keyText);
          if (!input) return true;
          const r = await verifyToken(decodeToken(token), input, { now: NOW });
          return typeof r.valid === 'boolean' && (token !== t || r.valid === (keyText === SECRET));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('time status beside the signature', () => {
  it('expired and not-yet-valid tokens have a valid signature but a time problem', async () => {
    const exp = await hs256({ sub: 'x', exp: nowS - 10 });
    expect(await verify(exp, { type: 'secret', secret: SECRET })).toMatchObject({ valid: true, time: 'expired' });
    const nbf = await hs256({ sub: 'x', nbf: nowS + 100, exp: nowS + 200 });
    expect(await verify(nbf, { type: 'secret', secret: SECRET })).toMatchObject({ valid: true, time: 'not_yet_valid' });
    const tol = await verifyToken(decodeToken(exp), { type: 'secret', secret: SECRET }, { now: NOW, clockToleranceSeconds: 60 });
    expect(tol.time).toBe('ok');
  });
  it('malformed tokens and JWEs are reported, not thrown', async () => {
    expect(await verify('nope', { type: 'secret', secret: SECRET })).toMatchObject({ valid: false, code: 'MALFORMED' });
    expect(await verify('e30.e30.e30.e30.e30', { type: 'secret', secret: SECRET })).toMatchObject({ valid: false, code: 'JWE_NOT_SUPPORTED' });
  });
});
