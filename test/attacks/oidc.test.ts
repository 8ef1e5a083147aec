/**
 * Attacks on sign-in with an identity provider, each its own test, over HTTP against the real
 * server: forged and replayed callbacks, tampered ID tokens, open redirects. Each must be refused
 * with its code (as `#error=CODE` on the callback's redirect, or 400 at the start) and create no
 * session — the test counts the rows of `sessions`.
 *
 * Tampered ID tokens come from a stand-in issuer that signs with jose (test/oauth/stand-ins.ts):
 * panva's oidc-provider, the real provider of the flow tests, never issues a token with a wrong
 * `aud`, a bad signature or `alg: none`, and an attacker in the middle — or a broken provider —
 * would. The checks are all openid-client's and ours; the stand-in only sends what they must refuse.
 * The replayed code is replayed against the real oidc-provider.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startStandInIssuer, type StandInIssuer, type Tamper } from '../oauth/stand-ins.js';
import { startRealProvider, signInAt, type RealProvider } from '../oauth/oidc-provider.js';
import { authorize, callback, refreshCookieOf, sessionCount, signIn, start } from '../oauth/helpers.js';

let idp: StandInIssuer;
let real: RealProvider;
let t: TestServer;

beforeAll(async () => {
  idp = await startStandInIssuer();
  real = await startRealProvider({ redirectUris: ['http://localhost:3000/auth/oauth/real/callback'] });
  t = await startTestServer({
    oidcProviders: [
      { id: 'acme', issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret },
      { id: 'real', issuer: real.issuer, clientId: real.clientId, clientSecret: real.clientSecret },
    ],
    allowedRedirects: ['https://app.example/'],
  });
});
afterAll(async () => {
  await t.close();
  await idp.close();
  await real.close();
});
beforeEach(() => {
  idp.tamper = 'none';
  idp.responseIss = undefined;
  idp.account = { sub: `user-${Math.random().toString(36).slice(2)}`, email: 'someone@idp.example', email_verified: true };
});

const tokenRequests = () => idp.hits.get('/token') ?? 0;

/** Asserts a refused callback: a redirect to `target` with `#error=code`, no refresh cookie, no new session. */
function expectRefused(answer: Awaited<ReturnType<typeof callback>>, code: string, sessionsBefore: number, target = '/after') {
  expect(answer.status).toBe(302);
  expect(answer.location).toBe(`${target}#error=${code}`);
  expect(refreshCookieOf(answer)).toBeUndefined();
  expect(answer.cookies.find((c) => c.name === '__Secure-latchkey-oauth')?.attributes['max-age']).toBe('0');
  expect(sessionCount(t)).toBe(sessionsBefore);
}

describe('an honest sign-in (the control)', () => {
  it('signs in with the stand-in when nothing is tampered with', async () => {
    const before = sessionCount(t);
    const { answer } = await signIn(t, 'acme', { redirect: '/after' });
    expect(answer.location).toBe('/after');
    expect(refreshCookieOf(answer)).toBeDefined();
    expect(sessionCount(t)).toBe(before + 1);
  });
});

describe('forged and replayed callbacks → OAUTH_STATE_MISMATCH, before the provider is asked', () => {
  it('a callback without state', async () => {
    const before = sessionCount(t);
    const started = await start(t, 'acme', { redirect: '/after' });
    const back = await authorize(started.location!);
    back.searchParams.delete('state');
    const requests = tokenRequests();
    expectRefused(await callback(t, back, started.flowCookie), 'OAUTH_STATE_MISMATCH', before);
    expect(tokenRequests()).toBe(requests);
  });

  it('a callback with another state (the attacker’s own flow)', async () => {
    const before = sessionCount(t);
    const victim = await start(t, 'acme', { redirect: '/after' });
    const attacker = await start(t, 'acme', { redirect: '/after' });
    const attackersCode = await authorize(attacker.location!);
    const requests = tokenRequests();
    expectRefused(await callback(t, attackersCode, victim.flowCookie), 'OAUTH_STATE_MISMATCH', before);
    expect(tokenRequests()).toBe(requests);
  });

  it('a callback without the flow cookie (a login CSRF link with the attacker’s code) returns to /', async () => {
    const before = sessionCount(t);
    const attacker = await start(t, 'acme', { redirect: '/after' });
    const link = await authorize(attacker.location!);
    const requests = tokenRequests();
    expectRefused(await callback(t, link, undefined), 'OAUTH_STATE_MISMATCH', before, '/');
    expect(tokenRequests()).toBe(requests);
  });

  it('a tampered flow cookie', async () => {
    const before = sessionCount(t);
    const started = await start(t, 'acme', { redirect: '/after' });
    const back = await authorize(started.location!);
    const [name, value] = started.flowCookie!.split('=') as [string, string];
    const tampered = `${name}=${value.slice(0, 20)}${value[20] === 'A' ? 'B' : 'A'}${value.slice(21)}`;
    expectRefused(await callback(t, back, tampered), 'OAUTH_STATE_MISMATCH', before, '/');
  });

  it('a flow cookie of another provider', async () => {
    const before = sessionCount(t);
    const started = await start(t, 'acme', { redirect: '/after' });
    const back = await authorize(started.location!);
    const other = new URL(back.href.replace('/oauth/acme/', '/oauth/real/'));
    expectRefused(await callback(t, other, started.flowCookie), 'OAUTH_STATE_MISMATCH', before);
  });

  it('an expired flow (more than 600 s after the start)', async () => {
    const before = sessionCount(t);
    const started = await start(t, 'acme', { redirect: '/after' });
    const back = await authorize(started.location!);
    t.clock.advance(601_000);
    try {
      expectRefused(await callback(t, back, started.flowCookie), 'OAUTH_STATE_MISMATCH', before, '/');
    } finally {
      t.clock.advance(-601_000);
    }
  });

  it('a replayed callback (the same URL and cookie after a successful sign-in) is refused without contacting the provider', async () => {
    const { started, back, answer } = await signIn(t, 'acme', { redirect: '/after' });
    expect(answer.location).toBe('/after');
    const before = sessionCount(t);
    const requests = tokenRequests();
    expectRefused(await callback(t, back, started.flowCookie), 'OAUTH_STATE_MISMATCH', before);
    expect(tokenRequests()).toBe(requests);
  });

  it('two copies of one callback at once: one signs in, the other is refused', async () => {
    const started = await start(t, 'acme', { redirect: '/after' });
    const back = await authorize(started.location!);
    const before = sessionCount(t);
    const answers = await Promise.all([callback(t, back, started.flowCookie), callback(t, back, started.flowCookie)]);
    expect(answers.map((a) => a.location).sort()).toEqual(['/after', '/after#error=OAUTH_STATE_MISMATCH']);
    expect(sessionCount(t)).toBe(before + 1);
  });
});

describe('the code and the ID token → OAUTH_FAILED', () => {
  it('a replayed code (used once already) in a fresh flow: the real provider refuses it', async () => {
    const first = await start(t, 'real', { redirect: '/after' });
    const firstBack = await signInAt(real, first.location!, 'mallory');
    expect((await callback(t, firstBack, first.flowCookie)).location).toBe('/after');
    const before = sessionCount(t);
    // A new flow of the attacker's browser, fed the code that was already exchanged.
    const second = await start(t, 'real', { redirect: '/after' });
    const replay = new URL(firstBack.href);
    replay.searchParams.set('state', new URL(second.location!).searchParams.get('state')!);
    expectRefused(await callback(t, replay, second.flowCookie), 'OAUTH_FAILED', before);
  });

  it.each<[string, Tamper]>([
    ['a wrong aud', 'wrong_aud'],
    ['a wrong iss', 'wrong_iss'],
    ['a bad signature', 'bad_signature'],
    ['a signature by a key not in the provider’s JWKS', 'other_key'],
    ['a wrong nonce', 'wrong_nonce'],
    ['alg: none', 'alg_none'],
    ['an expired token', 'expired'],
  ])('an ID token with %s', async (_, tamper) => {
    idp.tamper = tamper;
    const before = sessionCount(t);
    const { answer } = await signIn(t, 'acme', { redirect: '/after' });
    expectRefused(answer, 'OAUTH_FAILED', before);
    expect(await t.latchkey.store.findIdentity('acme', idp.account.sub)).toBeUndefined();
  });

  it('an RFC 9207 iss parameter naming another issuer (mix-up) is refused before the code is exchanged', async () => {
    idp.responseIss = 'https://evil.example';
    const before = sessionCount(t);
    const requests = tokenRequests();
    const { answer } = await signIn(t, 'acme', { redirect: '/after' });
    expectRefused(answer, 'OAUTH_FAILED', before);
    expect(tokenRequests()).toBe(requests);
  });

  it('a provider error (access_denied)', async () => {
    const before = sessionCount(t);
    const started = await start(t, 'acme', { redirect: '/after' });
    const state = new URL(started.location!).searchParams.get('state')!;
    const back = new URL(`http://localhost:3000/auth/oauth/acme/callback?error=access_denied&state=${state}&iss=${encodeURIComponent(idp.issuer)}`);
    expectRefused(await callback(t, back, started.flowCookie), 'OAUTH_FAILED', before);
  });

  it('audits each refusal with the method and a reason, never the code or the state', async () => {
    const started = await start(t, 'acme', { redirect: '/after' });
    const back = await authorize(started.location!);
    back.searchParams.set('state', 'forged');
    await callback(t, back, started.flowCookie);
    const events = (await t.latchkey.store.listAudit({ limit: 1000 })).filter((e) => e.type === 'login_failure');
    expect(events.at(-1)?.detail).toEqual({ method: 'oidc:acme', reason: 'state_mismatch' });
    const all = JSON.stringify(events);
    expect(all).not.toContain(back.searchParams.get('code'));
    expect(all).not.toContain(new URL(started.location!).searchParams.get('state'));
  });
});

describe('races', () => {
  it('callbacks of two provider accounts with one verified address, at once: one local account, both signed in to it', async () => {
    const flows = [];
    for (const sub of ['race-a', 'race-b']) {
      idp.account = { sub, email: 'race@idp.example', email_verified: true };
      const started = await start(t, 'acme', { redirect: '/after' });
      flows.push({ started, back: await authorize(started.location!) });
    }
    const answers = await Promise.all(flows.map(({ started, back }) => callback(t, back, started.flowCookie)));
    expect(answers.map((a) => a.location)).toEqual(['/after', '/after']);
    const user = await t.latchkey.store.findUserByEmail('race@idp.example');
    expect((await t.latchkey.store.listIdentities(user!.id)).map((i) => i.subject).sort()).toEqual(['race-a', 'race-b']);
  });

  it('the same with an unverified address: one account, the other callback ACCOUNT_EXISTS — never two accounts', async () => {
    const flows = [];
    for (const sub of ['race-c', 'race-d']) {
      idp.account = { sub, email: 'race-unverified@idp.example', email_verified: false };
      const started = await start(t, 'acme', { redirect: '/after' });
      flows.push({ started, back: await authorize(started.location!) });
    }
    const answers = await Promise.all(flows.map(({ started, back }) => callback(t, back, started.flowCookie)));
    expect(answers.map((a) => a.location).sort()).toEqual(['/after', '/after#error=ACCOUNT_EXISTS']);
    const user = await t.latchkey.store.findUserByEmail('race-unverified@idp.example');
    expect(await t.latchkey.store.listIdentities(user!.id)).toHaveLength(1);
  });
});

describe('open redirects → 400 REDIRECT_NOT_ALLOWED at the start, no flow', () => {
  it.each([
    ['another origin', 'https://evil.example/'],
    ['a //evil.example path', '//evil.example'],
    ['javascript:', 'javascript:alert(document.domain)'],
    ['the backslash trick', '/\\evil.example'],
    ['a look-alike of an allowed prefix', 'https://app.example.evil.example/'],
  ])('%s', async (_, redirect) => {
    const before = sessionCount(t);
    const answer = await start(t, 'acme', { redirect });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('REDIRECT_NOT_ALLOWED');
    expect(answer.location).toBeNull();
    expect(answer.flowCookie).toBeUndefined();
    expect(sessionCount(t)).toBe(before);
  });

  it('an allowed prefix and a path of this site are followed after the sign-in', async () => {
    expect((await signIn(t, 'acme', { redirect: 'https://app.example/welcome?x=1' })).answer.location).toBe('https://app.example/welcome?x=1');
    expect((await signIn(t, 'acme', {})).answer.location).toBe('/');
  });
});

describe('secrets stay out of the log and the audit', () => {
  it('a run of sign-ins, successful and tampered, logs no client secret, code, state, nonce, verifier or token', async () => {
    let log = '';
    const logStream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        log += chunk.toString();
        done();
      },
    });
    const logged = await startTestServer({
      logStream,
      oidcProviders: [{ id: 'acme', issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret }],
    });
    try {
      const secrets: string[] = [idp.clientSecret];
      for (const tamper of ['none', 'bad_signature', 'wrong_nonce'] as const) {
        idp.tamper = tamper;
        const { started, back, answer } = await signIn(logged, 'acme', { redirect: '/after' });
        const authorization = new URL(started.location!).searchParams;
        secrets.push(back.searchParams.get('code')!, authorization.get('state')!, authorization.get('nonce')!, authorization.get('code_challenge')!);
        secrets.push(started.flow!.value);
        const refresh = refreshCookieOf(answer);
        if (refresh) secrets.push(refresh.value);
      }
      expect(log).toContain('/auth/oauth/:provider/callback'); // the route pattern, never the query
      const audit = JSON.stringify(await logged.latchkey.store.listAudit({ limit: 1000 }));
      for (const secret of secrets) {
        expect(log).not.toContain(secret);
        expect(audit).not.toContain(secret);
      }
    } finally {
      await logged.close();
    }
  });
});
