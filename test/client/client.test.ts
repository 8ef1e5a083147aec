/**
 * The client SDK in Node against a real Latchkey server with a controllable clock. Node has
 * `fetch` and `BroadcastChannel`; the cookie jar and the lock manager stand in for the
 * browser's (test/client/helpers.ts). The real-browser proof is test/browser/.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { AuthError, createAuthClient, type AuthChange, type AuthClient, type AuthClientOptions } from '../../src/client/index.js';
import { cookieJar, eventually, jsonResponse, memoryLocks, type Jar } from './helpers.js';
import { timeStep, totpCode } from '../../src/auth/totp.js';

const TTL = 60;
const EMAIL = 'ada@example.com';
const PASSWORD = 'correct horse battery staple';
/** Past the server's exp check (5 s clock tolerance). */
const PAST_EXPIRY = (TTL + 6) * 1000;

let server: TestServer;
const clients: AuthClient[] = [];
let channelSeq = 0;

beforeAll(async () => {
  server = await startTestServer({ accessTokenTtl: TTL });
  const res = await server.client.post('/auth/register', { body: { email: EMAIL, password: PASSWORD } });
  expect(res.status).toBe(201);
});

afterAll(async () => {
  await server.close();
});

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

interface Tab {
  client: AuthClient;
  events: AuthChange[];
}

/** A "tab": a client on the shared jar; tabs made with the same `channel` coordinate. */
function tab(jar: Jar, options: Partial<AuthClientOptions> & { channel?: string; intercept?: Parameters<Jar['fetch']>[0] } = {}): Tab {
  const { channel, intercept, ...rest } = options;
  const client = createAuthClient({
    baseUrl: server.baseUrl,
    fetch: jar.fetch(intercept),
    now: server.clock.now,
    random: () => 0,
    locks: null,
    channelName: channel ?? `solo-${++channelSeq}`,
    ...rest,
  });
  clients.push(client);
  const events: AuthChange[] = [];
  client.onChange((change) => events.push(change));
  return { client, events };
}

async function me(client: AuthClient): Promise<number> {
  const response = await client.fetch('/auth/me');
  await response.body?.cancel();
  return response.status;
}

describe('sign-in, restore, sign-out', () => {
  it('login holds the token in memory and fetch() sends it as a bearer token', async () => {
    const jar = cookieJar();
    const { client, events } = tab(jar);
    expect(client.signedIn).toBe(false);
    await client.login(EMAIL, PASSWORD);
    expect(client.signedIn).toBe(true);
    expect(events).toEqual([{ type: 'signed-in', signedIn: true }]);
    const response = await client.fetch('/auth/me');
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ email: EMAIL });
    const token = await client.getAccessToken();
    expect(jar.log.at(-1)?.authorization).toBe(`Bearer ${token}`);
    expect(jar.cookies.size).toBe(1);
  });

  it('restore() is false without a refresh cookie and true from it (a reload)', async () => {
    const jar = cookieJar();
    const first = tab(jar);
    expect(await first.client.restore()).toBe(false);
    expect(first.events).toEqual([]);
    expect(await first.client.getAccessToken()).toBeNull();
    await first.client.login(EMAIL, PASSWORD);
    first.client.close();

    const reloaded = tab(jar);
    expect(await reloaded.client.restore()).toBe(true);
    expect(reloaded.events).toEqual([{ type: 'signed-in', signedIn: true }]);
    expect(await me(reloaded.client)).toBe(200);
    expect(jar.count('/auth/refresh')).toBe(2);
  });

  it('logout revokes the session, clears the cookie and fails later calls with MISSING_TOKEN', async () => {
    const jar = cookieJar();
    const { client, events } = tab(jar);
    await client.login(EMAIL, PASSWORD);
    await client.logout();
    expect(events.map((e) => e.type)).toEqual(['signed-in', 'signed-out']);
    expect(jar.cookies.size).toBe(0);
    const error = await client.fetch('/auth/me').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect((error as AuthError).code).toBe('MISSING_TOKEN');
    expect(await client.getAccessToken()).toBeNull();
    expect(await client.restore()).toBe(false);
  });
});

describe('AuthError codes', () => {
  it('carries the server code and status, never the password', async () => {
    const { client } = tab(cookieJar());
    const error = (await client.login(EMAIL, 'wrong password!').catch((e: unknown) => e)) as AuthError;
    expect(error).toBeInstanceOf(AuthError);
    expect(error.code).toBe('INVALID_CREDENTIALS');
    expect(error.status).toBe(401);
    expect(error.message).not.toContain('wrong password!');
  });

  it('a revoked session: restore() is false, fetch() fails with the refresh code and signs out', async () => {
    const jar = cookieJar();
    const { client, events } = tab(jar);
    await client.login(EMAIL, PASSWORD);
    const token = (await client.getAccessToken())!;
    const sessions = await server.client.get('/auth/sessions', { bearer: token });
    const current = (sessions.body.sessions as { id: string; current: boolean }[]).find((s) => s.current)!;
    expect((await server.client.delete(`/auth/sessions/${current.id}`, { bearer: token })).status).toBe(204);

    server.clock.advance(PAST_EXPIRY);
    const error = (await client.fetch('/auth/me').catch((e: unknown) => e)) as AuthError;
    expect(error.code).toBe('INVALID_REFRESH_TOKEN');
    expect(events.map((e) => e.type)).toEqual(['signed-in', 'signed-out']);
    expect(await client.restore()).toBe(false);
  });

  it('an unreachable server is NETWORK_ERROR, and restore() throws rather than report signed-out', async () => {
    const { client } = tab(cookieJar(), { baseUrl: 'http://127.0.0.1:9' });
    expect(((await client.login(EMAIL, PASSWORD).catch((e: unknown) => e)) as AuthError).code).toBe('NETWORK_ERROR');
    expect(((await client.restore().catch((e: unknown) => e)) as AuthError).code).toBe('NETWORK_ERROR');
  });

  it('refuses to send the access token to another origin', async () => {
    const jar = cookieJar();
    const { client } = tab(jar);
    await client.login(EMAIL, PASSWORD);
    const before = jar.log.length;
    const error = (await client.fetch('https://elsewhere.example/steal').catch((e: unknown) => e)) as AuthError;
    expect(error.code).toBe('FORBIDDEN');
    expect(jar.log.length).toBe(before);
  });
});

describe('refreshing', () => {
  it('single-flight: 50 concurrent fetch() calls after expiry share one refresh', async () => {
    const jar = cookieJar();
    const { client, events } = tab(jar);
    await client.login(EMAIL, PASSWORD);
    server.clock.advance(PAST_EXPIRY);
    const statuses = await Promise.all(Array.from({ length: 50 }, () => me(client)));
    expect(statuses).toEqual(Array(50).fill(200));
    expect(jar.count('/auth/refresh')).toBe(1);
    expect(events.map((e) => e.type)).toEqual(['signed-in', 'refreshed']);
  });

  it('refreshes in the background once inside refreshBuffer, while requests keep flowing', async () => {
    const jar = cookieJar();
    const { client } = tab(jar, { refreshBuffer: 10 });
    await client.login(EMAIL, PASSWORD);
    const first = await client.getAccessToken();
    server.clock.advance((TTL - 11) * 1000);
    expect(await me(client)).toBe(200);
    expect(jar.count('/auth/refresh')).toBe(0);
    server.clock.advance(2000);
    expect(await me(client)).toBe(200);
    await eventually(() => jar.count('/auth/refresh') === 1);
    expect(await client.getAccessToken()).not.toBe(first);
    expect(await me(client)).toBe(200);
    expect(jar.count('/auth/refresh')).toBe(1);
  });

  it('the buffer never exceeds a fifth of a short lifetime (a 30 s default with 60 s tokens)', async () => {
    const jar = cookieJar();
    const { client } = tab(jar);
    await client.login(EMAIL, PASSWORD);
    server.clock.advance((TTL - 13) * 1000);
    expect(await me(client)).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(jar.count('/auth/refresh')).toBe(0);
    server.clock.advance(2000);
    expect(await me(client)).toBe(200);
    await eventually(() => jar.count('/auth/refresh') === 1);
  });

  it('retries once after 401 TOKEN_EXPIRED (client clock behind the server)', async () => {
    const jar = cookieJar();
    let offset = 0;
    const { client } = tab(jar, { now: () => server.clock.now() - offset });
    await client.login(EMAIL, PASSWORD);
    server.clock.advance(PAST_EXPIRY);
    offset = PAST_EXPIRY; // the client's clock did not move: it believes the token is fresh
    expect(await me(client)).toBe(200);
    expect(jar.log.filter((e) => e.path === '/auth/me').map((e) => e.status)).toEqual([401, 200]);
    expect(jar.count('/auth/refresh')).toBe(1);
  });

  it('never retries more than once', async () => {
    const jar = cookieJar();
    const expired = () =>
      jsonResponse(
        401,
        { error: 'TOKEN_EXPIRED', message: 'The access token has expired.' },
        {
          'www-authenticate': 'Bearer realm="latchkey", error="invalid_token"',
        },
      );
    const { client } = tab(jar, { intercept: (request) => (new URL(request.url).pathname === '/auth/me' ? expired() : undefined) });
    await client.login(EMAIL, PASSWORD);
    const response = await client.fetch('/auth/me');
    expect(response.status).toBe(401);
    expect((await response.json()).error).toBe('TOKEN_EXPIRED');
    expect(jar.count('/auth/me')).toBe(2);
    expect(jar.count('/auth/refresh')).toBe(1);
  });

  it('does not retry other 401s', async () => {
    const jar = cookieJar();
    const { client } = tab(jar);
    await client.login(EMAIL, PASSWORD);
    const response = await client.fetch('/auth/me', { headers: { 'x-test': '1' } });
    expect(response.status).toBe(200);
    const forged = await client.fetch(new Request(new URL('/auth/sessions/nope', server.baseUrl), { method: 'DELETE' }));
    expect(forged.status).toBe(404);
    expect(jar.count('/auth/sessions/nope')).toBe(1);
    expect(jar.count('/auth/refresh')).toBe(0);
  });

  it('retries a request with a body with the same body', async () => {
    const jar = cookieJar();
    let offset = 0;
    const bodies: string[] = [];
    const { client } = tab(jar, {
      now: () => server.clock.now() - offset,
      intercept: async (request) => {
        if (new URL(request.url).pathname === '/auth/password') bodies.push(await request.text());
        return undefined;
      },
    });
    await client.login(EMAIL, PASSWORD);
    server.clock.advance(PAST_EXPIRY);
    offset = PAST_EXPIRY;
    const body = JSON.stringify({ currentPassword: 'not it at all', newPassword: 'whatever it is 123' });
    const response = await client.fetch('/auth/password', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(response.status).toBe(401);
    expect((await response.json()).error).toBe('INVALID_CREDENTIALS');
    expect(bodies).toEqual([body, body]);
  });

  it('a transient refresh failure keeps the session and backs off instead of storming', async () => {
    const jar = cookieJar();
    let down = true;
    const { client, events } = tab(jar, {
      intercept: (request) =>
        down && new URL(request.url).pathname === '/auth/refresh' ? jsonResponse(503, { error: 'UNAVAILABLE', message: 'x' }) : undefined,
    });
    await client.login(EMAIL, PASSWORD);
    server.clock.advance(PAST_EXPIRY);
    const errors = await Promise.all(Array.from({ length: 5 }, () => client.fetch('/auth/me').catch((e: unknown) => e)));
    for (const error of errors) expect((error as AuthError).code).toBe('UNAVAILABLE');
    expect(((await client.fetch('/auth/me').catch((e: unknown) => e)) as AuthError).code).toBe('UNAVAILABLE');
    expect(jar.count('/auth/refresh')).toBe(1);
    expect(client.signedIn).toBe(true);
    down = false;
    server.clock.advance(1500);
    expect(await me(client)).toBe(200);
    expect(events.map((e) => e.type)).toEqual(['signed-in', 'refreshed']);
  });
});

describe('clock independence', () => {
  for (const [label, offsetMs] of [
    ['5 h ahead', 5 * 3_600_000],
    ['7 h behind', -7 * 3_600_000],
  ] as const) {
    it(`a client clock ${label} changes nothing`, async () => {
      const jar = cookieJar();
      const { client } = tab(jar, { refreshBuffer: 10, now: () => server.clock.now() + offsetMs });
      await client.login(EMAIL, PASSWORD);
      expect(await me(client)).toBe(200);
      server.clock.advance((TTL - 11) * 1000);
      expect(await me(client)).toBe(200);
      expect(jar.count('/auth/refresh')).toBe(0);
      server.clock.advance(PAST_EXPIRY);
      expect(await me(client)).toBe(200);
      expect(jar.count('/auth/refresh')).toBe(1);
      expect(jar.log.filter((e) => e.path === '/auth/me').every((e) => e.status === 200)).toBe(true);
    });
  }
});

describe('several tabs (BroadcastChannel)', () => {
  for (const [mode, locks] of [
    ['Web Locks', memoryLocks],
    ['fallback without Web Locks', () => null],
  ] as const) {
    describe(mode, () => {
      function tabs(n: number, jar: Jar, extra: Partial<AuthClientOptions> & { intercept?: Parameters<Jar['fetch']>[0] } = {}): Tab[] {
        const channel = `tabs-${++channelSeq}`;
        const shared = locks();
        return Array.from({ length: n }, () => tab(jar, { channel, locks: shared, random: Math.random, ...extra }));
      }

      it('login in one tab signs in the others; logout in one signs out all', async () => {
        const jar = cookieJar();
        const [a, b, c] = tabs(3, jar) as [Tab, Tab, Tab];
        await a.client.login(EMAIL, PASSWORD);
        await eventually(() => b.client.signedIn && c.client.signedIn);
        expect(await b.client.getAccessToken()).toBe(await a.client.getAccessToken());
        expect(await me(c.client)).toBe(200);
        await a.client.logout();
        await eventually(() => !b.client.signedIn && !c.client.signedIn);
        expect(b.events.map((e) => e.type)).toEqual(['signed-in', 'signed-out']);
        expect(((await c.client.fetch('/auth/me').catch((e: unknown) => e)) as AuthError).code).toBe('MISSING_TOKEN');
      });

      it('a new tab (or a reload) takes a sibling’s token instead of refreshing', async () => {
        const jar = cookieJar();
        const channel = `tabs-${++channelSeq}`;
        const shared = locks();
        const a = tab(jar, { channel, locks: shared });
        await a.client.login(EMAIL, PASSWORD);
        const b = tab(jar, { channel, locks: shared });
        expect(await b.client.restore()).toBe(true);
        expect(jar.count('/auth/refresh')).toBe(0);
        expect(await b.client.getAccessToken()).toBe(await a.client.getAccessToken());
        expect(b.events).toEqual([{ type: 'signed-in', signedIn: true }]);
      });

      it('concurrent calls in every tab after expiry cause one refresh', async () => {
        const jar = cookieJar();
        const all = tabs(4, jar);
        await all[0]!.client.login(EMAIL, PASSWORD);
        await eventually(() => all.every((t) => t.client.signedIn));
        server.clock.advance(PAST_EXPIRY);
        const statuses = await Promise.all(all.flatMap((t) => Array.from({ length: 10 }, () => me(t.client))));
        expect(statuses.every((s) => s === 200)).toBe(true);
        expect(jar.count('/auth/refresh')).toBe(1);
        const tokens = await Promise.all(all.map((t) => t.client.getAccessToken()));
        expect(new Set(tokens).size).toBe(1);
      });

      it('a failed refresh with no live sibling signs out every tab', async () => {
        const jar = cookieJar();
        const [a, b] = tabs(2, jar) as [Tab, Tab];
        await a.client.login(EMAIL, PASSWORD);
        await eventually(() => b.client.signedIn);
        jar.cookies.clear();
        server.clock.advance(PAST_EXPIRY);
        expect(((await a.client.fetch('/auth/me').catch((e: unknown) => e)) as AuthError).code).toBe('NO_REFRESH_TOKEN');
        await eventually(() => !b.client.signedIn);
        expect(b.events.map((e) => e.type)).toEqual(['signed-in', 'signed-out']);
      });
    });
  }
});

describe('a losing refresh', () => {
  // Separate lock managers model failed exclusion (with one shared mutex the loser's stalled
  // answer would block the winner).
  it('a losing refresh does not sign out a tab whose sibling holds a live session', async () => {
    const jar = cookieJar();
    const channel = `lose-${++channelSeq}`;
    // Separate lock managers, as if exclusion had failed: the loser's refresh is answered
    // with a refusal only after the winner has refreshed.
    const winner = tab(jar, { channel, locks: memoryLocks() });
    const loser = tab(jar, {
      channel,
      locks: memoryLocks(),
      intercept: async (request) => {
        if (new URL(request.url).pathname !== '/auth/refresh') return undefined;
        await winner.client.getAccessToken();
        return jsonResponse(401, { error: 'REFRESH_TOKEN_REUSED', message: 'x' });
      },
    });
    await winner.client.login(EMAIL, PASSWORD);
    await eventually(() => loser.client.signedIn);
    server.clock.advance(PAST_EXPIRY);
    expect(await me(loser.client)).toBe(200);
    expect(loser.client.signedIn).toBe(true);
    expect(winner.client.signedIn).toBe(true);
    expect(loser.events.map((e) => e.type)).toEqual(['signed-in', 'refreshed']);
    expect(await loser.client.getAccessToken()).toBe(await winner.client.getAccessToken());
  });
});

describe('signInWith(provider): leaves the page for the provider sign-in', () => {
  // Node has no `location`: a stand-in records where the page would go (Chromium runs the real
  // navigation end to end in test/browser/oidc.test.ts).
  const visited: string[] = [];
  const place = { pathname: '/app/settings', search: '?tab=2', assign: (url: string) => visited.push(url) };
  beforeAll(() => {
    (globalThis as { location?: unknown }).location = place;
  });
  afterAll(() => {
    delete (globalThis as { location?: unknown }).location;
  });

  it('to auth/oauth/<provider>/start of baseUrl, coming back to this path and query, or to the redirect given', () => {
    const client = createAuthClient({ baseUrl: 'https://app.example.com/base', crossTab: false });
    client.signInWith('google');
    client.signInWith('github', { redirect: '/welcome?new=1&x=a b' });
    client.close();
    expect(visited).toEqual([
      'https://app.example.com/base/auth/oauth/google/start?redirect=%2Fapp%2Fsettings%3Ftab%3D2',
      'https://app.example.com/base/auth/oauth/github/start?redirect=%2Fwelcome%3Fnew%3D1%26x%3Da%20b',
    ]);
    expect(new URL(visited[1]!).searchParams.get('redirect')).toBe('/welcome?new=1&x=a b');
  });
});

describe('options and listeners', () => {
  it('takes refreshBuffer and requestTimeout in seconds and refuses anything else at construction', () => {
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, '2m', '30']) {
      expect(() => createAuthClient({ baseUrl: server.baseUrl, refreshBuffer: bad as never })).toThrow(/refreshBuffer: seconds expected/);
      expect(() => createAuthClient({ baseUrl: server.baseUrl, requestTimeout: bad as never })).toThrow(/requestTimeout: seconds expected/);
    }
    const client = createAuthClient({ baseUrl: server.baseUrl, refreshBuffer: 120, requestTimeout: 0.5, crossTab: false });
    client.close();
  });

  it('requires baseUrl outside a web page', () => {
    expect(() => createAuthClient()).toThrow(/baseUrl/);
  });

  it('onChange returns an unsubscribe function; a throwing listener does not break the client', async () => {
    const jar = cookieJar();
    const { client } = tab(jar);
    const seen: string[] = [];
    const stop = client.onChange((change) => seen.push(change.type));
    client.onChange(() => {
      throw new Error('listener bug');
    });
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown): void => void uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      await client.login(EMAIL, PASSWORD);
      stop();
      await client.logout();
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(seen).toEqual(['signed-in']);
    expect(uncaught).toHaveLength(2);
  });
});

describe('browser-only code', () => {
  it('src/client uses no Node built-ins and no Buffer', async () => {
    const dir = join(import.meta.dirname, '..', '..', 'src', 'client');
    for (const file of await readdir(dir)) {
      const text = await readFile(join(dir, file), 'utf8');
      expect(text, file).not.toMatch(/from\s+['"]node:|require\(|\bBuffer\b|\bprocess\./);
      // The one exception: the DPoP key (a non-extractable CryptoKey, never a token) lives in IndexedDB.
      const storage =
        file === 'dpop-key.ts'
          ? /\b(localStorage|sessionStorage|caches)\s*[.[]|document\.cookie/
          : /\b(localStorage|sessionStorage|indexedDB|caches)\s*[.[]|document\.cookie/;
      expect(text, file).not.toMatch(storage);
    }
  });
});

describe('a second factor: login() → {mfaRequired, factors}, verifyMfa()', () => {
  /** A new account with a confirmed TOTP factor (enrolled over HTTP); its secret and recovery codes. */
  async function withTotp() {
    const email = `mfa-${++channelSeq}@example.com`;
    expect((await server.client.post('/auth/register', { body: { email, password: PASSWORD } })).status).toBe(201);
    const login = await server.client.post('/auth/login', { body: { email, password: PASSWORD } });
    const bearer = login.body.accessToken as string;
    const enroll = await server.client.post('/auth/mfa/totp/enroll', { bearer, body: { currentPassword: PASSWORD } });
    const secret = base32Decode(enroll.body.secret);
    const confirm = await server.client.post('/auth/mfa/totp/confirm', { bearer, body: { code: totpCode(secret, timeStep(server.clock.now())) } });
    expect(confirm.status).toBe(200);
    server.clock.advance(30_000);
    return { email, secret, recoveryCodes: confirm.body.recoveryCodes as string[] };
  }

  it('login() resolves {mfaRequired: true, factors} without signing in; a wrong code keeps the step; the right code signs in', async () => {
    const { email, secret } = await withTotp();
    const { client, events } = tab(cookieJar());
    expect(await client.login(email, PASSWORD)).toEqual({ mfaRequired: true, factors: ['totp'] });
    expect(client.signedIn).toBe(false);
    expect(events).toEqual([]);
    expect(await client.getAccessToken()).toBeNull();
    const wrong = await client.verifyMfa('000000').catch((error: unknown) => error);
    expect(wrong).toBeInstanceOf(AuthError);
    expect((wrong as AuthError).code).toBe('INVALID_MFA_CODE');
    expect(await client.verifyMfa(totpCode(secret, timeStep(server.clock.now())))).toEqual({ mfaRequired: false });
    expect(client.signedIn).toBe(true);
    expect(events).toEqual([{ type: 'signed-in', signedIn: true }]);
    expect(await me(client)).toBe(200);
    const token = (await client.getAccessToken())!;
    expect(JSON.parse(atob(token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/')))).toMatchObject({ amr: ['pwd', 'otp'], acr: 'aal2' });
    // The step is spent: another verify has no mfaToken to send.
    expect(((await client.verifyMfa('123456').catch((e: unknown) => e)) as AuthError).code).toBe('VALIDATION_FAILED');
  });

  it('verifyMfa({recoveryCode}) signs in with a recovery code, once; {code} is the same as a string', async () => {
    const { email, secret, recoveryCodes } = await withTotp();
    const first = tab(cookieJar()).client;
    await first.login(email, PASSWORD);
    await first.verifyMfa({ recoveryCode: recoveryCodes[0]!.toUpperCase() });
    expect(first.signedIn).toBe(true);
    const second = tab(cookieJar()).client;
    await second.login(email, PASSWORD);
    expect(((await second.verifyMfa({ recoveryCode: recoveryCodes[0]! }).catch((e: unknown) => e)) as AuthError).code).toBe('INVALID_MFA_CODE');
    await second.verifyMfa({ code: totpCode(secret, timeStep(server.clock.now())) });
    expect(second.signedIn).toBe(true);
  });

  it('an account without a factor: login() resolves {mfaRequired: false} and signs in', async () => {
    const { client } = tab(cookieJar());
    expect(await client.login(EMAIL, PASSWORD)).toEqual({ mfaRequired: false });
    expect(client.signedIn).toBe(true);
  });
});

/** RFC 4648 base32, decoded independently of the server's encoder. */
function base32Decode(text: string): Uint8Array {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const char of text) {
    value = (value << 5) | alphabet.indexOf(char);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return new Uint8Array(out);
}
