/**
 * The point of the permanent `next` key: a resource server that fetched the JWKS before a
 * rotation verifies tokens of the promoted key at once, without another fetch.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { decodeProtectedHeader } from 'jose';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { signUp } from '../http/contract.js';
import { createRemoteJwks } from '../../src/jwks/index.js';
import { createVerifier } from '../../src/jwt/index.js';

describe('resource server across a key rotation', () => {
  let t: TestServer | undefined;
  afterAll(async () => {
    await t?.close();
  });

  it('verifies the first token of the new key from the JWKS it fetched before the rotation', async () => {
    t = await startTestServer({ now: Date.now });
    let fetches = 0;
    const jwks = createRemoteJwks({
      url: `${t.baseUrl}/.well-known/jwks.json`,
      fetch: (input, init) => {
        fetches++;
        return fetch(input, init);
      },
    });
    expect(await jwks.refetch()).toBe('fetched');
    expect(fetches).toBe(1);
    const verifier = createVerifier({
      algorithms: ['ES256'],
      keys: jwks.resolve,
      issuer: t.latchkey.config.issuer,
      audience: t.latchkey.config.audience,
    });
    const user = await signUp(t.client);
    expect(verifier.check(user.accessToken).ok).toBe(true);

    // Forced past the age rule (test/jwks/rotation-delay.test.ts): this verifier fetched the JWKS after the next key was published.
    const kid = await t.latchkey.keys.rotate({ force: true });
    const login = await t.client.post('/auth/login', { body: { email: user.email, password: user.password } });
    expect(decodeProtectedHeader(login.body.accessToken).kid).toBe(kid);
    expect(verifier.check(login.body.accessToken)).toMatchObject({ ok: true });
    expect(verifier.check(user.accessToken)).toMatchObject({ ok: true });
    expect(fetches).toBe(1);
  });
});
