/**
 * Sign-in with an OpenID Connect provider over HTTP, against a real provider: panva's
 * oidc-provider on a loopback port (test/oauth/oidc-provider.ts), its login and consent pages
 * filled as a browser would. What a sign-in creates (an account without a password, amr fed,
 * the refresh cookie of a password login, the audit), the linking rules, linking and unlinking
 * from a signed-in account, and an account with a second factor.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startRealProvider, signInAt, type RealProvider } from './oidc-provider.js';
import { callback, cookiePair, refreshCookieOf, sessionCount, start } from './helpers.js';
import { localAccount, passwordLogin } from './accounts.js';
import { timeStep, totpCode } from '../../src/auth/totp.js';
import { base32Decode } from '../helpers/base32.js';

/** RFC 4648 base32 (the TOTP secret as enrolment shows it). */

let idp: RealProvider;
let t: TestServer;

beforeAll(async () => {
  idp = await startRealProvider({ redirectUris: ['http://localhost:3000/auth/oauth/test/callback'] });
  t = await startTestServer({
    oidcProviders: [{ id: 'test', issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret }],
    github: { clientId: 'gh-id', clientSecret: 'gh-secret-never-shown' },
  });
});
afterAll(async () => {
  await t.close();
  await idp.close();
});

/** The whole flow as `login` at the provider. */
async function signInAs(login: string, query: Record<string, string> = { redirect: '/after?tab=1' }, headers: Record<string, string> = {}) {
  const started = await start(t, 'test', query, headers);
  expect(started.status, JSON.stringify(started.body)).toBe(302);
  const back = await signInAt(idp, started.location!, login);
  return callback(t, back, started.flowCookie);
}

async function refreshWith(cookie: string) {
  const answer = await t.client.post('/auth/refresh', { cookie });
  expect(answer.status).toBe(200);
  return answer.body.accessToken as string;
}

async function audit(type: string) {
  return (await t.latchkey.store.listAudit({ limit: 500 })).filter((e) => e.type === type);
}

describe('GET /auth/providers', () => {
  it('lists every configured provider with id, name and type, and never a secret', async () => {
    const answer = await t.client.get('/auth/providers');
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      providers: [
        { id: 'test', name: 'Test', type: 'oidc' },
        { id: 'github', name: 'GitHub', type: 'github' },
      ],
    });
    expect(answer.text).not.toContain(idp.clientSecret);
    expect(answer.text).not.toContain('gh-secret-never-shown');
  });
});

describe('a sign-in with the provider', () => {
  it('sends the browser to the provider with PKCE S256, state, nonce and our redirect URI, and seals them in the flow cookie', async () => {
    const started = await start(t, 'test', { redirect: '/x' });
    const url = new URL(started.location!);
    expect(url.origin).toBe(idp.issuer);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      client_id: idp.clientId,
      redirect_uri: 'http://localhost:3000/auth/oauth/test/callback',
      response_type: 'code',
      scope: 'openid email profile',
      code_challenge_method: 'S256',
    });
    for (const parameter of ['state', 'nonce', 'code_challenge']) expect(url.searchParams.get(parameter)).toMatch(/^[A-Za-z0-9_-]{43,}$/);
    expect(started.flow!.attributes).toMatchObject({ httponly: true, secure: true, samesite: 'Lax', path: '/auth/oauth', 'max-age': '600' });
    // Sealed: neither the state nor the verifier can be read from it.
    expect(started.flow!.value).not.toContain(url.searchParams.get('state'));
    expect(started.flow!.value.startsWith('v1.')).toBe(true);
    // The redirect URI never follows the request's Host.
    const spoofed = await start(t, 'test', {}, { host: 'evil.example' });
    expect(new URL(spoofed.location!).searchParams.get('redirect_uri')).toBe('http://localhost:3000/auth/oauth/test/callback');
  });

  it('creates an account without a password, signs in like a password login (refresh cookie, amr fed, aal1) and returns to the target', async () => {
    const before = sessionCount(t);
    const answer = await signInAs('alice');
    expect(answer.status).toBe(302);
    expect(answer.location).toBe('/after?tab=1');
    expect(answer.cookies.find((c) => c.name === '__Secure-latchkey-oauth')).toMatchObject({ value: '', attributes: { 'max-age': '0' } });
    const refresh = refreshCookieOf(answer)!;
    expect(refresh.attributes).toMatchObject({ httponly: true, secure: true, samesite: 'Strict', path: '/auth', 'max-age': '604800' });
    expect(sessionCount(t)).toBe(before + 1);

    // The page gets its access token the way auth.restore() does: POST /auth/refresh with the cookie.
    const accessToken = await refreshWith(cookiePair(refresh));
    const claims = decodeJwt(accessToken);
    expect(claims).toMatchObject({ amr: ['fed'], acr: 'aal1' });
    expect(Math.abs(Number(claims.auth_time) * 1000 - t.clock.now())).toBeLessThan(2000);
    const me = await t.client.get('/auth/me', { bearer: accessToken });
    expect(me.body).toMatchObject({ email: 'alice@idp.example', role: 'user', emailVerified: true });

    const identities = await t.client.get('/auth/identities', { bearer: accessToken });
    expect(identities.body.identities).toEqual([
      { id: expect.any(String), provider: 'test', subject: 'alice', email: 'alice@idp.example', createdAt: expect.any(String) },
    ]);
    const user = await t.latchkey.store.findUserByEmail('alice@idp.example');
    expect(user?.passwordHash).toBe('');
    expect((await audit('register')).find((e) => e.userId === user!.id)?.detail).toEqual({ method: 'oidc:test', emailVerified: true });
    expect((await audit('login_success')).filter((e) => e.userId === user!.id).map((e) => e.detail)).toEqual([{ method: 'oidc:test' }]);
  });

  it('signs the same provider account in to the same local account the next time', async () => {
    await signInAs('bob');
    const again = await signInAs('bob');
    const accessToken = await refreshWith(cookiePair(refreshCookieOf(again)!));
    const me = await t.client.get('/auth/me', { bearer: accessToken });
    expect(me.body.email).toBe('bob@idp.example');
    const user = await t.latchkey.store.findUserByEmail('bob@idp.example');
    expect(me.body.id).toBe(user!.id);
    expect(await t.latchkey.store.listIdentities(user!.id)).toHaveLength(1);
  });

  it('an account without a password refuses every password login exactly like a wrong password, until a reset link sets one', async () => {
    await signInAs('carol');
    const wrong = await t.client.post('/auth/login', { body: { email: 'carol@idp.example', password: 'any password at all' } });
    const unknown = await t.client.post('/auth/login', { body: { email: 'nobody-at-all@idp.example', password: 'any password at all' } });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toEqual(unknown.body);
    expect(wrong.body.error).toBe('INVALID_CREDENTIALS');
    // The empty password is not a password either.
    expect((await t.client.post('/auth/login', { body: { email: 'carol@idp.example', password: '' } })).status).toBe(401);
    expect((await audit('login_failure')).at(-1)?.detail).toMatchObject({ reason: expect.stringMatching(/wrong_password|unknown_user/) });
    expect((await t.client.post('/auth/password/forgot', { body: { email: 'carol@idp.example' } })).status).toBe(202);
  });
});

describe('linking by address', () => {
  it('links to an existing account when the provider asserts the address verified and the local address is verified', async () => {
    const local = await localAccount(t, 'dora@idp.example', { verified: true });
    const answer = await signInAs('dora');
    expect(answer.location).toBe('/after?tab=1');
    const accessToken = await refreshWith(cookiePair(refreshCookieOf(answer)!));
    expect((await t.client.get('/auth/me', { bearer: accessToken })).body.id).toBe(local.id);
    expect((await audit('identity_linked')).find((e) => e.userId === local.id)?.detail).toEqual({ provider: 'test', via: 'verified_email' });
    // The password still works: linking merged nothing away.
    await passwordLogin(t, 'dora@idp.example');
  });

  it('refuses with ACCOUNT_EXISTS, merging nothing, when the local address is not verified', async () => {
    const local = await localAccount(t, 'erin@idp.example', { verified: false });
    const before = sessionCount(t);
    const answer = await signInAs('erin');
    expect(answer.status).toBe(302);
    expect(answer.location).toBe('/after?tab=1#error=ACCOUNT_EXISTS');
    expect(refreshCookieOf(answer)).toBeUndefined();
    expect(sessionCount(t)).toBe(before);
    expect(await t.latchkey.store.listIdentities(local.id)).toEqual([]);
    expect(await t.latchkey.store.findIdentity('test', 'erin')).toBeUndefined();
  });

  it('never links when the provider says email_verified: false (or says nothing), even to a verified account', async () => {
    const local = await localAccount(t, 'fay@idp.example', { verified: true });
    idp.accounts.set('fay', { email: 'fay@idp.example', email_verified: false });
    const before = sessionCount(t);
    expect((await signInAs('fay')).location).toBe('/after?tab=1#error=ACCOUNT_EXISTS');
    idp.accounts.set('fay', { email: 'fay@idp.example' });
    expect((await signInAs('fay')).location).toBe('/after?tab=1#error=ACCOUNT_EXISTS');
    expect(sessionCount(t)).toBe(before);
    expect(await t.latchkey.store.listIdentities(local.id)).toEqual([]);
  });

  it('a new account from an unverified provider address is created unverified', async () => {
    idp.accounts.set('gus', { email: 'gus@idp.example', email_verified: false });
    const answer = await signInAs('gus');
    const accessToken = await refreshWith(cookiePair(refreshCookieOf(answer)!));
    expect((await t.client.get('/auth/me', { bearer: accessToken })).body).toMatchObject({ email: 'gus@idp.example', emailVerified: false });
  });

  it('a provider account without an address fails with OAUTH_FAILED', async () => {
    idp.accounts.set('hal', {});
    const before = sessionCount(t);
    expect((await signInAs('hal')).location).toBe('/after?tab=1#error=OAUTH_FAILED');
    expect(sessionCount(t)).toBe(before);
  });
});

describe('linking from a signed-in account (start?link=1), identities, unlinking', () => {
  it('links the provider account to the signed-in user, creating no session; ACCOUNT_EXISTS when it belongs to someone else', async () => {
    await localAccount(t, 'ivy@local.example', { verified: false });
    const { accessToken, cookie } = await passwordLogin(t, 'ivy@local.example');
    const before = sessionCount(t);
    idp.accounts.set('ivy-at-idp', { email: 'ivy.other@idp.example', email_verified: false });
    const answer = await signInAs('ivy-at-idp', { link: '1', redirect: '/settings' }, { cookie, 'sec-fetch-site': 'same-origin' });
    expect(answer.location).toBe('/settings#linked=test');
    expect(refreshCookieOf(answer)).toBeUndefined();
    expect(sessionCount(t)).toBe(before);
    const listed = await t.client.get('/auth/identities', { bearer: accessToken });
    expect(listed.body.identities).toEqual([expect.objectContaining({ provider: 'test', subject: 'ivy-at-idp', email: 'ivy.other@idp.example' })]);
    // Now the provider signs in to ivy's account.
    const signedIn = await signInAs('ivy-at-idp');
    const token = await refreshWith(cookiePair(refreshCookieOf(signedIn)!));
    expect((await t.client.get('/auth/me', { bearer: token })).body.email).toBe('ivy@local.example');

    // alice's provider account belongs to alice: ivy cannot take it.
    const taken = await signInAs('alice', { link: '1', redirect: '/settings' }, { cookie, 'sec-fetch-site': 'same-origin' });
    expect(taken.location).toBe('/settings#error=ACCOUNT_EXISTS');
    expect((await t.latchkey.store.findIdentity('test', 'alice'))?.userId).not.toBe(listed.body.identities[0].userId);
  });

  it('link=1 needs the live session cookie and a same-origin request: 401 otherwise, before the provider is involved', async () => {
    await localAccount(t, 'jay@local.example', { verified: false });
    const { cookie } = await passwordLogin(t, 'jay@local.example');
    const noCookie = await start(t, 'test', { link: '1' }, { 'sec-fetch-site': 'same-origin' });
    expect([noCookie.status, noCookie.body.error]).toEqual([401, 'NO_REFRESH_TOKEN']);
    for (const site of ['cross-site', 'same-site', 'none']) {
      const answer = await start(t, 'test', { link: '1' }, { cookie, 'sec-fetch-site': site });
      expect([answer.status, answer.body.error], site).toEqual([401, 'INVALID_REFRESH_TOKEN']);
    }
    expect((await start(t, 'test', { link: '1' }, { cookie })).status).toBe(401);
    await t.client.post('/auth/logout', { cookie });
    const ended = await start(t, 'test', { link: '1' }, { cookie, 'sec-fetch-site': 'same-origin' });
    expect([ended.status, ended.body.error]).toEqual([401, 'INVALID_REFRESH_TOKEN']);
    expect(ended.flowCookie).toBeUndefined();
  });

  it('unlinks an identity, but never the last way to sign in (409 LAST_SIGN_IN_METHOD); 404 for another user’s', async () => {
    const answer = await signInAs('kim');
    const accessToken = await refreshWith(cookiePair(refreshCookieOf(answer)!));
    const [identity] = (await t.client.get('/auth/identities', { bearer: accessToken })).body.identities;
    const last = await t.client.delete(`/auth/identities/${identity.id}`, { bearer: accessToken });
    expect([last.status, last.body.error]).toEqual([409, 'LAST_SIGN_IN_METHOD']);

    // With a password (a local account that linked the provider), the identity may go.
    await localAccount(t, 'lee@local.example', { verified: false });
    const lee = await passwordLogin(t, 'lee@local.example');
    idp.accounts.set('lee-idp', { email: 'lee@idp.example', email_verified: true });
    await signInAs('lee-idp', { link: '1' }, { cookie: lee.cookie, 'sec-fetch-site': 'same-origin' });
    const [leeIdentity] = (await t.client.get('/auth/identities', { bearer: lee.accessToken })).body.identities;
    expect((await t.client.delete(`/auth/identities/${identity.id}`, { bearer: lee.accessToken })).status).toBe(404);
    expect((await t.client.delete(`/auth/identities/${leeIdentity.id}`, { bearer: lee.accessToken })).status).toBe(204);
    expect((await t.client.get('/auth/identities', { bearer: lee.accessToken })).body.identities).toEqual([]);
    expect((await audit('identity_unlinked')).at(-1)?.detail).toEqual({ provider: 'test' });
    expect((await t.client.get('/auth/identities')).status).toBe(401);
  });
});

describe('accounts with a second factor, disabled accounts', () => {
  it('a provider sign-in of an account with TOTP owes the second step: #mfaToken, then /auth/mfa/verify → amr fed + otp, aal2', async () => {
    await localAccount(t, 'mo@idp.example', { verified: true });
    const { accessToken } = await passwordLogin(t, 'mo@idp.example');
    const enroll = await t.client.post('/auth/mfa/totp/enroll', { bearer: accessToken, body: { currentPassword: 'correct horse battery staple' } });
    const secret = base32Decode(enroll.body.secret);
    const confirm = await t.client.post('/auth/mfa/totp/confirm', { bearer: accessToken, body: { code: totpCode(secret, timeStep(t.clock.now())) } });
    expect(confirm.status).toBe(200);

    const before = sessionCount(t);
    const answer = await signInAs('mo');
    expect(refreshCookieOf(answer)).toBeUndefined();
    expect(sessionCount(t)).toBe(before);
    const location = new URL(answer.location!, 'http://localhost:3000');
    expect(location.pathname + location.search).toBe('/after?tab=1');
    const fragment = new URLSearchParams(location.hash.slice(1));
    expect(fragment.get('factors')).toBe('totp');

    t.clock.advance(30_000); // the next time step: the confirmation's code was used
    const verified = await t.client.post('/auth/mfa/verify', {
      body: { mfaToken: fragment.get('mfaToken'), code: totpCode(secret, timeStep(t.clock.now())) },
    });
    expect(verified.status).toBe(200);
    expect(decodeJwt(verified.body.accessToken)).toMatchObject({ amr: ['fed', 'otp'], acr: 'aal2' });
    expect(sessionCount(t)).toBe(before + 1);
  });

  it('a disabled account is refused with ACCOUNT_DISABLED', async () => {
    await signInAs('nell');
    const user = await t.latchkey.store.findUserByEmail('nell@idp.example');
    await t.latchkey.auth.admin.updateUser(user!.id, { disabled: true }, { actorId: 'cli', ip: null });
    const before = sessionCount(t);
    expect((await signInAs('nell')).location).toBe('/after?tab=1#error=ACCOUNT_DISABLED');
    expect(sessionCount(t)).toBe(before);
  });
});

describe('rate limit', () => {
  it('LATCHKEY_RATE_LIMIT_OAUTH_IP counts starts and callbacks per IP: over it, 429 RATE_LIMITED with Retry-After', async () => {
    const limited = await startTestServer({
      oidcProviders: [{ id: 'test', issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret }],
      rateLimits: { enabled: true, oauthPerIp: 3 },
    });
    try {
      const started = await start(limited, 'test');
      expect(started.status).toBe(302);
      const back = await signInAt(idp, started.location!, 'olga');
      expect((await callback(limited, back, started.flowCookie)).status).toBe(302);
      expect((await start(limited, 'test')).status).toBe(302);
      const over = await start(limited, 'test');
      expect([over.status, over.body.error]).toEqual([429, 'RATE_LIMITED']);
      const refused = await callback(limited, back, started.flowCookie);
      expect(refused.status).toBe(429);
    } finally {
      await limited.close();
    }
  });
});
