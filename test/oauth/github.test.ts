/**
 * The GitHub preset against a local stand-in of GitHub's OAuth and REST endpoints
 * (test/oauth/stand-ins.ts): GitHub itself is unreachable from this machine, so the preset's
 * base URLs (`github.webUrl`, `github.apiUrl`, the GitHub Enterprise Server settings) point at
 * the stand-in, which answers as GitHub documents — including a bad code with 200 and an error
 * object, and an account whose primary address is unverified.
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startGithubStandIn, type GithubStandIn } from './stand-ins.js';
import { cookiePair, refreshCookieOf, sessionCount, signIn, start } from './helpers.js';

let github: GithubStandIn;
let t: TestServer;
let nextId = 1000;

beforeAll(async () => {
  github = await startGithubStandIn();
  t = await startTestServer({
    github: { clientId: github.clientId, clientSecret: github.clientSecret, webUrl: github.webUrl, apiUrl: github.apiUrl },
  });
});
afterAll(async () => {
  await t.close();
  await github.close();
});
beforeEach(() => {
  const id = nextId++;
  github.account = {
    id,
    login: `octo${id}`,
    emails: [
      { email: `old${id}@users.example`, primary: false, verified: true, visibility: null },
      { email: `octo${id}@users.example`, primary: true, verified: true, visibility: 'public' },
    ],
  };
});

describe('the GitHub preset', () => {
  it('asks GitHub for read:user user:email with PKCE S256 and state, at its OAuth page', async () => {
    const started = await start(t, 'github', { redirect: '/after' });
    const url = new URL(started.location!);
    expect(`${url.origin}${url.pathname}`).toBe(`${github.webUrl}/login/oauth/authorize`);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      client_id: github.clientId,
      redirect_uri: 'http://localhost:3000/auth/oauth/github/callback',
      scope: 'read:user user:email',
      code_challenge_method: 'S256',
    });
    expect(url.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{43,}$/);
  });

  it('signs in with the verified primary address: a new verified account, amr fed, audit method github, subject = the numeric id', async () => {
    const before = sessionCount(t);
    const { answer } = await signIn(t, 'github', { redirect: '/after' });
    expect(answer.location).toBe('/after');
    expect(sessionCount(t)).toBe(before + 1);
    const refreshed = await t.client.post('/auth/refresh', { cookie: cookiePair(refreshCookieOf(answer)!) });
    expect(decodeJwt(refreshed.body.accessToken)).toMatchObject({ amr: ['fed'], acr: 'aal1' });
    const me = await t.client.get('/auth/me', { bearer: refreshed.body.accessToken });
    expect(me.body).toMatchObject({ email: `octo${github.account.id}@users.example`, emailVerified: true });
    expect(await t.latchkey.store.findIdentity('github', String(github.account.id))).toMatchObject({ userId: me.body.id });
    const login = (await t.latchkey.store.listAudit({ limit: 500 })).filter((e) => e.type === 'login_success' && e.userId === me.body.id);
    expect(login.map((e) => e.detail)).toEqual([{ method: 'github' }]);
    // GitHub's REST API wants a User-Agent and its media type.
    expect(github.apiRequests.slice(-2)).toEqual([
      { path: '/api/user', userAgent: 'latchkey', accept: 'application/vnd.github+json' },
      { path: '/api/user/emails', userAgent: 'latchkey', accept: 'application/vnd.github+json' },
    ]);
  });

  it('a renamed GitHub login is the same identity (the numeric id is the subject)', async () => {
    const first = await signIn(t, 'github');
    github.account.login = 'renamed';
    const second = await signIn(t, 'github');
    const ids = await Promise.all(
      [first, second].map(async ({ answer }) => {
        const refreshed = await t.client.post('/auth/refresh', { cookie: cookiePair(refreshCookieOf(answer)!) });
        return (await t.client.get('/auth/me', { bearer: refreshed.body.accessToken })).body.id;
      }),
    );
    expect(ids[0]).toBe(ids[1]);
  });

  it('refuses an account whose primary address is unverified (even with another verified address): OAUTH_FAILED, no session', async () => {
    github.account.emails = [
      { email: `octo${github.account.id}@users.example`, primary: true, verified: false, visibility: 'public' },
      { email: `other${github.account.id}@users.example`, primary: false, verified: true, visibility: null },
    ];
    const before = sessionCount(t);
    const { answer } = await signIn(t, 'github', { redirect: '/after' });
    expect(answer.location).toBe('/after#error=OAUTH_FAILED');
    expect(refreshCookieOf(answer)).toBeUndefined();
    expect(sessionCount(t)).toBe(before);
    expect(await t.latchkey.store.findIdentity('github', String(github.account.id))).toBeUndefined();
    const failure = (await t.latchkey.store.listAudit({ limit: 500 })).filter((e) => e.type === 'login_failure').at(-1);
    expect(failure?.detail).toEqual({ method: 'github', reason: 'no_verified_primary_email' });
  });

  it('a code GitHub refuses (200 with an error object) is OAUTH_FAILED', async () => {
    const before = sessionCount(t);
    const started = await start(t, 'github', { redirect: '/after' });
    const state = new URL(started.location!).searchParams.get('state')!;
    const answer = await fetch(new URL(`/auth/oauth/github/callback?code=not-a-code&state=${state}`, t.baseUrl), {
      redirect: 'manual',
      headers: { cookie: started.flowCookie! },
    });
    expect(answer.headers.get('location')).toBe('/after#error=OAUTH_FAILED');
    expect(sessionCount(t)).toBe(before);
  });
});
