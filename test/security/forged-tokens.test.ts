/**
 * Acceptance 4 of the core issue, over HTTP against the real server: forged access tokens
 * of every classic family are refused, and nothing named by a token is ever fetched.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createHmac, createPublicKey, generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { signUp, expectError } from '../http/contract.js';

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

describe('forged access tokens', () => {
  let t: TestServer;
  let user: Awaited<ReturnType<typeof signUp>>;
  let header: Record<string, unknown>;
  let claims: Record<string, unknown>;
  let publicJwk: Record<string, unknown>;
  let trap: Server;
  let trapUrl: string;
  let trapHits = 0;

  beforeAll(async () => {
    t = await startTestServer();
    user = await signUp(t.client);
    const [h, p] = user.accessToken.split('.');
    header = JSON.parse(Buffer.from(h!, 'base64url').toString());
    claims = { ...JSON.parse(Buffer.from(p!, 'base64url').toString()), role: 'admin' };
    publicJwk = (await t.client.get('/.well-known/jwks.json')).body.keys[0];
    // A server that would hand out the attacker's keys; the verifier must never call it.
    trap = createServer((_req, res) => {
      trapHits++;
      res.end('{}');
    });
    await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
    trapUrl = `http://127.0.0.1:${(trap.address() as AddressInfo).port}/jwks.json`;
  });

  afterAll(async () => {
    trap?.close();
    await t?.close();
  });

  const hs256 = (h: Record<string, unknown>, secret: Buffer | string) => {
    const input = `${b64(h)}.${b64(claims)}`;
    return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
  };

  async function expectRefused(token: string) {
    const res = await t.client.get('/auth/me', { bearer: token });
    expectError(res, 401, 'INVALID_TOKEN');
    expect(res.text).not.toContain(token);
  }

  it('the untampered token works (control)', async () => {
    expect((await t.client.get('/auth/me', { bearer: user.accessToken })).status).toBe(200);
  });

  it('alg "none" in every casing, with and without a signature', async () => {
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      const unsigned = `${b64({ ...header, alg })}.${b64(claims)}`;
      await expectRefused(`${unsigned}.`);
      await expectRefused(`${unsigned}.${user.accessToken.split('.')[2]}`);
    }
  });

  it('HS256 signed with the server public key as the secret (PEM, DER, JWK forms)', async () => {
    const key = createPublicKey({ key: publicJwk as any, format: 'jwk' });
    const forms = [
      key.export({ format: 'pem', type: 'spki' }) as string,
      key.export({ format: 'der', type: 'spki' }) as Buffer,
      JSON.stringify(publicJwk),
      JSON.stringify({ kty: publicJwk.kty, crv: publicJwk.crv, x: publicJwk.x, y: publicJwk.y }),
    ];
    for (const secret of forms) await expectRefused(hs256({ ...header, alg: 'HS256' }, secret));
  });

  it('header-supplied keys (jwk, jku, x5u, x5c) are never used', async () => {
    const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const attackerJwk = attacker.publicKey.export({ format: 'jwk' });
    const spki = attacker.publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
    const sign = (h: Record<string, unknown>) => {
      const input = `${b64(h)}.${b64(claims)}`;
      return `${input}.${cryptoSign('sha256', Buffer.from(input), { key: attacker.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
    };
    await expectRefused(sign({ ...header, jwk: attackerJwk }));
    await expectRefused(sign({ ...header, kid: 'attacker', jwk: { ...attackerJwk, kid: 'attacker' } }));
    await expectRefused(sign({ ...header, jku: trapUrl }));
    await expectRefused(sign({ ...header, kid: 'attacker', jku: trapUrl }));
    await expectRefused(sign({ ...header, x5u: trapUrl }));
    await expectRefused(sign({ ...header, x5c: [spki] }));
    expect(trapHits).toBe(0);
  });

  it('a refresh token is not a bearer token, and an access token is not a refresh token', async () => {
    await expectRefused(user.refreshToken);
    const res = await t.client.post('/auth/refresh', { cookie: `__Secure-refreshToken=${user.accessToken}` });
    expectError(res, 401, 'INVALID_REFRESH_TOKEN');
  });

  it('a token with the claims changed but the original signature', async () => {
    const [h, , s] = user.accessToken.split('.');
    await expectRefused(`${h}.${b64(claims)}.${s}`);
  });
});
