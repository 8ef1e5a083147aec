/**
 * The remote JWKS client against a real HTTP JWKS server: caching, Cache-Control, rotation,
 * cooldown, single flight, downtime, timeouts, and never fetching a URL named by a token.
 */
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { createRemoteJwks, freshnessSeconds, type RemoteJwksOptions } from '../../src/jwks/index.js';
import { createAuthenticator, type AuthOutcome, type RemoteAuthOptions } from '../../src/adapters/authenticate.js';
import { testClock, type TestClock } from '../helpers/clock.js';
import { startJwksServer, type JwksServer } from './jwks-server.js';

const ISSUER = 'https://auth.example.com';
const AUDIENCE = 'latchkey';

let jwks: JwksServer;
let clock: TestClock;

beforeEach(async () => {
  jwks = await startJwksServer();
  clock = testClock();
});
afterEach(async () => {
  await jwks.close();
});

function claims(overrides: Record<string, unknown> = {}) {
  const iat = Math.floor(clock.now() / 1000);
  return { iss: ISSUER, aud: AUDIENCE, sub: 'user-1', sid: 'session-1', role: 'user', jti: randomUUID(), iat, exp: iat + 900, ...overrides };
}

function authenticator(jwksOptions: Omit<RemoteJwksOptions, 'url'> = {}, extra: Partial<RemoteAuthOptions> = {}) {
  const client = createRemoteJwks({ url: jwks.url, now: clock.now, ...jwksOptions });
  const authenticate = createAuthenticator({ jwks: client, issuer: ISSUER, audience: AUDIENCE, now: clock.now, ...extra });
  return { client, check: async (token: string): Promise<AuthOutcome> => authenticate({ authorization: `Bearer ${token}` }) };
}

const code = (outcome: AuthOutcome) => (outcome.ok ? 'OK' : outcome.error.code);

/** Lets a background refresh finish. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

describe('remote JWKS: caching and rotation', () => {
  it('fetches once on first use, then verifies from the cache', async () => {
    const { check } = authenticator();
    const outcome = await check(jwks.sign(claims()));
    expect(outcome).toMatchObject({ ok: true, user: { id: 'user-1', role: 'user', sessionId: 'session-1' } });
    for (let i = 0; i < 5; i++) expect(code(await check(jwks.sign(claims())))).toBe('OK');
    expect(jwks.requests).toBe(1);
  });

  it('a rotated key (unknown kid) triggers one refetch, after which both keys verify', async () => {
    const { check } = authenticator();
    const old = jwks.sign(claims());
    expect(code(await check(old))).toBe('OK');
    clock.advance(31_000);
    jwks.rotate();
    expect(code(await check(jwks.sign(claims())))).toBe('OK');
    expect(code(await check(old))).toBe('OK');
    expect(jwks.requests).toBe(2);
  });

  it('a key dropped from the JWKS stops verifying after the next fetch', async () => {
    const { check } = authenticator();
    const old = jwks.sign(claims());
    expect(code(await check(old))).toBe('OK');
    clock.advance(31_000);
    jwks.rotate({ dropOld: true });
    expect(code(await check(jwks.sign(claims())))).toBe('OK');
    expect(code(await check(old))).toBe('INVALID_TOKEN');
  });

  it('verified-token cache (on by default): a repeated token still expires, and a tampered copy never hits', async () => {
    for (const size of [undefined, 0]) {
      const { check } = authenticator({}, size === undefined ? {} : { verifiedTokenCacheSize: size });
      const token = jwks.sign(claims({ exp: Math.floor(clock.now() / 1000) + 60 }));
      for (let i = 0; i < 3; i++) expect(code(await check(token))).toBe('OK');
      const [h, p, s] = token.split('.') as [string, string, string];
      const flipped = `${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`;
      expect(code(await check(`${h}.${p}.${flipped}`))).toBe('INVALID_TOKEN');
      clock.advance(66_000); // past exp + the 5 s tolerance
      expect(code(await check(token))).toBe('TOKEN_EXPIRED');
    }
    expect(() => authenticator({}, { verifiedTokenCacheSize: -1 })).toThrow(/cache\.size/);
  });

  it('honours Cache-Control max-age: no fetch before it runs out, a background refresh after', async () => {
    jwks.cacheControl = 'max-age=120';
    const { check, client } = authenticator();
    expect(code(await check(jwks.sign(claims())))).toBe('OK');
    expect(client.status().expiresAt).toBe(clock.now() + 120_000);
    clock.advance(119_000);
    expect(code(await check(jwks.sign(claims())))).toBe('OK');
    await settle();
    expect(jwks.requests).toBe(1);
    clock.advance(2_000);
    expect(code(await check(jwks.sign(claims())))).toBe('OK'); // served from the stale cache…
    await settle();
    expect(jwks.requests).toBe(2); // …while it refreshes
    expect(client.status().expiresAt).toBe(clock.now() + 120_000);
  });

  it('without Cache-Control the default lifetime (10 min) applies; max-age is capped at 24 h', async () => {
    jwks.cacheControl = undefined;
    const a = authenticator();
    await a.check(jwks.sign(claims()));
    expect(a.client.status().expiresAt).toBe(clock.now() + 600_000);
    jwks.cacheControl = 'max-age=999999999';
    const b = authenticator();
    await b.check(jwks.sign(claims()));
    expect(b.client.status().expiresAt).toBe(clock.now() + 86_400_000);
  });

  it('parses Cache-Control', () => {
    expect(freshnessSeconds('public, max-age=300')).toBe(300);
    expect(freshnessSeconds('max-age="60"')).toBe(60);
    expect(freshnessSeconds('no-cache')).toBe(0);
    expect(freshnessSeconds('no-store, max-age=300')).toBe(0);
    expect(freshnessSeconds('max-age=-1')).toBeUndefined();
    expect(freshnessSeconds('private')).toBeUndefined();
    expect(freshnessSeconds(null)).toBeUndefined();
  });
});

describe('remote JWKS: cooldown and single flight', () => {
  it('made-up kids cost at most one fetch per cooldown (default 30 s)', async () => {
    const { check } = authenticator();
    expect(code(await check(jwks.sign(claims())))).toBe('OK');
    clock.advance(31_000);
    const forged = () => jwks.sign(claims(), { ...jwks.current, kid: randomUUID() });
    for (let i = 0; i < 20; i++) expect(code(await check(forged()))).toBe('INVALID_TOKEN');
    expect(jwks.requests).toBe(2);
    clock.advance(29_000);
    expect(code(await check(forged()))).toBe('INVALID_TOKEN');
    expect(jwks.requests).toBe(2);
    clock.advance(2_000);
    expect(code(await check(forged()))).toBe('INVALID_TOKEN');
    expect(jwks.requests).toBe(3);
  });

  it('a rotation inside the cooldown is picked up once the cooldown has passed', async () => {
    const { check } = authenticator({ cooldownMs: 10_000 });
    expect(code(await check(jwks.sign(claims())))).toBe('OK');
    jwks.rotate();
    expect(code(await check(jwks.sign(claims())))).toBe('INVALID_TOKEN');
    clock.advance(10_000);
    expect(code(await check(jwks.sign(claims())))).toBe('OK');
  });

  it('concurrent requests with an unknown kid share one fetch', async () => {
    const { check } = authenticator();
    const token = jwks.sign(claims());
    const outcomes = await Promise.all(Array.from({ length: 25 }, () => check(token)));
    expect(outcomes.map(code)).toEqual(Array(25).fill('OK'));
    expect(jwks.requests).toBe(1);
  });
});

describe('remote JWKS: the endpoint fails', () => {
  it('keeps serving cached keys while the endpoint is down, past max-age', async () => {
    jwks.cacheControl = 'max-age=60';
    const { check, client } = authenticator();
    const token = () => jwks.sign(claims());
    expect(code(await check(token()))).toBe('OK');
    await jwks.down();
    for (let i = 0; i < 3; i++) {
      clock.advance(61_000);
      expect(code(await check(token()))).toBe('OK');
      await settle();
    }
    expect(client.status()).toMatchObject({ loaded: true, lastError: 'JWKS_NETWORK' });
    await jwks.up();
    clock.advance(31_000);
    expect(code(await check(token()))).toBe('OK');
    await settle();
    expect(client.status().lastError).toBeUndefined();
  });

  it('503 UNAVAILABLE for an unknown kid while the endpoint is down; OK again once it is back', async () => {
    const { check } = authenticator();
    expect(code(await check(jwks.sign(claims())))).toBe('OK');
    await jwks.down();
    const next = jwks.rotate();
    clock.advance(31_000);
    expect(code(await check(jwks.sign(claims(), next)))).toBe('UNAVAILABLE');
    // Within the cooldown no new attempt is made, and the answer stays 503.
    expect(code(await check(jwks.sign(claims(), next)))).toBe('UNAVAILABLE');
    await jwks.up();
    clock.advance(31_000);
    expect(code(await check(jwks.sign(claims(), next)))).toBe('OK');
  });

  it('503 UNAVAILABLE when the first fetch fails (nothing cached yet)', async () => {
    jwks.mode = 'error';
    const { check, client } = authenticator();
    expect(code(await check(jwks.sign(claims())))).toBe('UNAVAILABLE');
    expect(client.status()).toMatchObject({ loaded: false, lastError: 'JWKS_HTTP_STATUS' });
  });

  it('a hanging endpoint is bounded by the timeout', async () => {
    jwks.mode = 'hang';
    const { check, client } = authenticator({ timeoutMs: 200 });
    const started = Date.now();
    expect(code(await check(jwks.sign(claims())))).toBe('UNAVAILABLE');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(client.status().lastError).toBe('JWKS_TIMEOUT');
  });

  it('junk, an empty key set or an oversize answer never replace the cached keys', async () => {
    const { check, client } = authenticator();
    const token = jwks.sign(claims());
    expect(code(await check(token))).toBe('OK');
    for (const [mode, error] of [
      ['junk', 'JWKS_INVALID'],
      ['empty', 'JWKS_INVALID'],
      ['huge', 'JWKS_TOO_LARGE'],
    ] as const) {
      jwks.mode = mode;
      clock.advance(31_000);
      expect(await client.refetch()).toBe('unavailable');
      expect(client.status().lastError).toBe(error);
      expect(code(await check(token))).toBe('OK');
    }
  });

  it('onError observes failures; messages name no key material', async () => {
    const errors: Error[] = [];
    jwks.mode = 'error';
    const { client } = authenticator({ onError: (error) => errors.push(error) });
    expect(await client.refetch()).toBe('unavailable');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toBe('The JWKS endpoint answered HTTP 500.');
  });
});

describe('remote JWKS: never fetches a URL named by a token', () => {
  let trap: Server;
  let trapHits = 0;
  let trapUrl = '';
  beforeEach(async () => {
    trapHits = 0;
    trap = createServer((_req, res) => {
      trapHits++;
      res.end(JSON.stringify({ keys: [] }));
    });
    await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
    trapUrl = `http://127.0.0.1:${(trap.address() as AddressInfo).port}/jwks.json`;
  });
  afterEach(async () => {
    await new Promise<void>((resolve) => trap.close(() => resolve()));
  });

  it('jku, x5u and a URL as kid are ignored: only the configured URL is fetched', async () => {
    const fetched: string[] = [];
    const { check } = authenticator({
      fetch: (url, init) => {
        fetched.push(url);
        return fetch(url, init);
      },
    });
    const key = jwks.current;
    const withHeaders = (header: Record<string, unknown>) =>
      new SignJWT(claims()).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', ...header }).sign(key.key);
    expect(code(await check(await withHeaders({ kid: key.kid, jku: trapUrl, x5u: trapUrl })))).toBe('OK');
    clock.advance(31_000);
    expect(code(await check(await withHeaders({ kid: trapUrl, jku: trapUrl })))).toBe('INVALID_TOKEN');
    clock.advance(31_000);
    expect(code(await check(await withHeaders({ kid: 'x', jwk: { kty: 'EC' }, x5c: ['AAAA'] })))).toBe('INVALID_TOKEN');
    expect(trapHits).toBe(0);
    expect(new Set(fetched)).toEqual(new Set([jwks.url]));
  });

  it('a token without kid or with a disallowed alg never causes a fetch', async () => {
    const { check } = authenticator();
    expect(code(await check(jwks.sign(claims())))).toBe('OK');
    clock.advance(31_000);
    const noKid = await new SignJWT(claims()).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' }).sign(jwks.current.key);
    expect(code(await check(noKid))).toBe('INVALID_TOKEN');
    const hs = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: 'new' }).sign(new Uint8Array(32));
    expect(code(await check(hs))).toBe('INVALID_TOKEN');
    expect(jwks.requests).toBe(1);
  });
});

describe('remote JWKS: options', () => {
  it('refuses plain http off loopback, credentials in the URL and non-URLs', () => {
    expect(() => createRemoteJwks({ url: 'http://auth.example.com/jwks.json' })).toThrow(/https is required/);
    expect(createRemoteJwks({ url: 'http://auth.internal/jwks.json', allowInsecureHttp: true }).url).toBe('http://auth.internal/jwks.json');
    expect(() => createRemoteJwks({ url: 'https://u:p@auth.example.com/jwks.json' })).toThrow(/credentials/);
    expect(() => createRemoteJwks({ url: 'not a url' })).toThrow(/absolute URL/);
    expect(() => createRemoteJwks({ url: 'https://a.example/jwks', timeoutMs: -1 })).toThrow(/timeoutMs/);
  });

  it('requireAuth with a JWKS needs issuer and audience, and exactly one key source', () => {
    expect(() => createAuthenticator({ jwksUrl: jwks.url, audience: AUDIENCE } as never)).toThrow(/issuer/);
    expect(() => createAuthenticator({ jwksUrl: jwks.url, issuer: ISSUER } as never)).toThrow(/audience/);
    expect(() => createAuthenticator({ audience: AUDIENCE } as never)).toThrow(/exactly one/);
    expect(() => createAuthenticator({ jwksUrl: jwks.url, jwks: createRemoteJwks({ url: jwks.url }), issuer: ISSUER, audience: AUDIENCE })).toThrow(
      /exactly one/,
    );
    // Without a JWKS URL the issuer is where the JWKS is discovered from: one, and fetchable.
    expect(() => createAuthenticator({ issuer: [ISSUER, 'https://other.example'], audience: AUDIENCE })).toThrow(/exactly one issuer/);
    expect(() => createAuthenticator({ issuer: 'http://auth.example.com', audience: AUDIENCE })).toThrow(/issuer: https is required/);
    expect(() => createAuthenticator({ issuer: ISSUER, audience: AUDIENCE })).not.toThrow();
    expect(() => createAuthenticator({ jwksUrl: jwks.url, issuer: ISSUER, audience: AUDIENCE, checkSession: true })).toThrow(/isSessionLive/);
    expect(() => createAuthenticator({ jwksUrl: jwks.url, issuer: ISSUER, audience: AUDIENCE, clockTolerance: 600 })).toThrow();
  });

  it('verification failures of remote tokens map to the contract codes', async () => {
    const { check } = authenticator();
    expect(code(await check(jwks.sign(claims())))).toBe('OK');
    expect(code(await check(jwks.sign(claims({ exp: Math.floor(clock.now() / 1000) - 120 }))))).toBe('TOKEN_EXPIRED');
    expect(code(await check(jwks.sign(claims({ iss: 'https://evil.example' }))))).toBe('INVALID_TOKEN');
    expect(code(await check(jwks.sign(claims({ aud: 'other' }))))).toBe('INVALID_TOKEN');
    expect(code(await check(jwks.sign(claims({ sid: undefined }))))).toBe('INVALID_TOKEN');
  });
});
