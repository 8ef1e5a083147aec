/**
 * Sign-in with an OpenID Connect provider in a real Chromium, end to end: the demo page's
 * provider button (GET /auth/providers, `auth.signInWith`) → the real
 * provider — panva's oidc-provider on a loopback port — and its login and consent pages, filled
 * and submitted like a person would → back on the demo page, signed in, `GET /auth/me` showing
 * the new account. The provider and Latchkey are different sites (127.0.0.1 and localhost), as in
 * production: the flow cookie (SameSite=Lax) comes back on the provider's redirect, the refresh
 * cookie (SameSite=Strict) is set there and used by the page's own refresh. A failed sign-in comes
 * back to the demo with its code shown.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium, openDemo, startBrowserServer, type BrowserServer, type PageProblems } from '../helpers/browser.js';
import { freePort } from '../helpers/ports.js';
import { base32Decode } from '../helpers/base32.js';
import { totpCode } from '../../src/auth/totp.js';
import { startRealProvider, type RealProvider } from '../oauth/oidc-provider.js';

const run = chromiumAvailable('OIDC sign-in browser test');
const poll = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: 15_000 });

let browser: Browser;
let server: BrowserServer;
let idp: RealProvider;

describe.runIf(run)('sign-in with an OpenID Connect provider in Chromium', () => {
  beforeAll(async () => {
    const port = await freePort();
    const origin = `http://localhost:${port}`;
    idp = await startRealProvider({ redirectUris: [`${origin}/auth/oauth/idp/callback`] });
    [server, browser] = await Promise.all([
      startBrowserServer({
        port,
        issuer: origin,
        oidcProviders: [{ id: 'idp', issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret }],
      }),
      launchChromium(),
    ]);
    idp.accounts.set('grace', { email: 'grace@idp.example', email_verified: true });
    idp.accounts.set('mallory', { email: 'mallory@idp.example', email_verified: false });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await idp?.close();
  });

  it('demo page → provider login and consent pages → back on the demo page, signed in; GET /auth/me shows the account', async () => {
    const context = await browser.newContext();
    // Problems of our pages only: the provider's pages load web fonts this machine cannot resolve.
    const problems: PageProblems = { errors: [] };
    try {
      const demo = await openDemo(context, server.baseUrl);
      demo.on('pageerror', (error) => problems.errors.push(`pageerror: ${error.message}`));
      demo.on('console', (message) => {
        const ours = message.location().url.startsWith(server.baseUrl);
        if (ours && message.type() === 'error' && !/status of 401\b/.test(message.text())) problems.errors.push(message.text());
      });
      await poll(() => demo.getByTestId('status').textContent()).toBe('signed out');
      const button = demo.getByTestId('provider-idp');
      await poll(() => button.textContent()).toBe('Sign in with Idp');
      await button.click();

      // The provider's own pages (devInteractions): a login form, then consent.
      await demo.waitForURL((url) => url.origin === idp.issuer, { timeout: 15_000 });
      await demo.locator('input[name="login"]').fill('grace');
      await demo.locator('input[name="password"]').fill('any password');
      await demo.locator('button[type="submit"]').click();
      await demo.waitForSelector('input[name="prompt"][value="consent"]', { state: 'attached', timeout: 15_000 });
      await demo.locator('button[type="submit"]').click();

      // Back where the sign-in started, signed in by the page's own restore().
      await demo.waitForURL(`${server.baseUrl}/`, { timeout: 15_000 });
      await demo.waitForSelector('html[data-ready="true"]');
      await poll(() => demo.getByTestId('status').textContent()).toBe('signed in');
      await demo.getByTestId('me').click();
      await poll(async () => JSON.parse((await demo.getByTestId('me-output').textContent()) || '{}') as Record<string, unknown>).toMatchObject({
        email: 'grace@idp.example',
        emailVerified: true,
      });
      expect(await demo.getByTestId('token-payload').textContent()).toContain('"fed"');
      // The refresh cookie is the one a password login sets; the flow cookie is gone.
      const cookies = await context.cookies();
      expect(cookies.find((c) => c.name === '__Secure-refreshToken')).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/auth' });
      expect(cookies.find((c) => c.name === '__Secure-latchkey-oauth')).toBeUndefined();
      expect(problems.errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('an account with TOTP: the provider sign-in comes back to the demo page’s second step; a code finishes it (amr fed + otp, aal2)', async () => {
    // A verified local account with TOTP, which the provider's verified address links to.
    const email = 'ada@idp.example';
    const registered = await server.client.post('/auth/register', { body: { email, password: 'correct horse battery staple' } });
    expect(registered.status).toBe(201);
    await server.latchkey.auth.admin.updateUser(registered.body.user.id, { emailVerified: true }, { actorId: 'cli', ip: null });
    const login = await server.client.post('/auth/login', {
      body: { email, password: 'correct horse battery staple' },
      headers: { 'x-latchkey-transport': 'body' },
    });
    const bearer = login.body.accessToken as string;
    const enroll = await server.client.post('/auth/mfa/totp/enroll', { bearer, body: { currentPassword: 'correct horse battery staple' } });
    const secret = base32Decode(enroll.body.secret);
    const step = Math.floor(Date.now() / 30_000);
    expect((await server.client.post('/auth/mfa/totp/confirm', { bearer, body: { code: totpCode(secret, step) } })).status).toBe(200);
    idp.accounts.set('ada', { email, email_verified: true });

    const context = await browser.newContext();
    try {
      const demo = await openDemo(context, server.baseUrl);
      await demo.getByTestId('provider-idp').click();
      await demo.waitForURL((url) => url.origin === idp.issuer, { timeout: 15_000 });
      await demo.locator('input[name="login"]').fill('ada');
      await demo.locator('input[name="password"]').fill('any password');
      await demo.locator('button[type="submit"]').click();
      await demo.waitForSelector('input[name="prompt"][value="consent"]', { state: 'attached', timeout: 15_000 });
      await demo.locator('button[type="submit"]').click();

      // Back on the demo: not signed in yet, the second step shown, the token gone from the address bar.
      await demo.waitForURL((url) => url.origin === server.baseUrl, { timeout: 15_000 });
      await poll(() => demo.getByTestId('mfa-step').isVisible()).toBe(true);
      expect(await demo.getByTestId('mfa-factors').textContent()).toBe('totp');
      expect(await demo.getByTestId('status').textContent()).toBe('signed out');
      expect(new URL(demo.url()).hash).toBe('');
      // The confirmation used this time step; the next one (within the ±1 window) is still new.
      await demo.getByTestId('mfa-code').fill(totpCode(secret, step + 1));
      await demo.getByTestId('mfa-verify').click();
      await poll(() => demo.getByTestId('status').textContent()).toBe('signed in');
      const payload = JSON.parse((await demo.getByTestId('token-payload').textContent()) || '{}') as Record<string, unknown>;
      expect(payload).toMatchObject({ amr: ['fed', 'otp'], acr: 'aal2' });
    } finally {
      await context.close();
    }
  });

  it('a refused sign-in comes back to the demo page with its code, signed out', async () => {
    // mallory's address is unverified at the provider and has a local account already.
    const registered = await server.client.post('/auth/register', {
      body: { email: 'mallory@idp.example', password: 'correct horse battery staple' },
    });
    expect(registered.status).toBe(201);
    const context = await browser.newContext();
    try {
      const demo = await openDemo(context, server.baseUrl);
      await demo.getByTestId('provider-idp').click();
      await demo.waitForURL((url) => url.origin === idp.issuer, { timeout: 15_000 });
      await demo.locator('input[name="login"]').fill('mallory');
      await demo.locator('input[name="password"]').fill('any password');
      await demo.locator('button[type="submit"]').click();
      await demo.waitForSelector('input[name="prompt"][value="consent"]', { state: 'attached', timeout: 15_000 });
      await demo.locator('button[type="submit"]').click();
      await demo.waitForURL((url) => url.origin === server.baseUrl, { timeout: 15_000 });
      await poll(() => demo.getByTestId('error').textContent()).toContain('ACCOUNT_EXISTS');
      await poll(() => demo.getByTestId('status').textContent()).toBe('signed out');
      expect(new URL(demo.url()).hash).toBe('');
    } finally {
      await context.close();
    }
  });
});
