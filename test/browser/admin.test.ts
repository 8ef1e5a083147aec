/**
 * The admin page (docs/admin.md#admin-page) in a real Chromium against a real server: sign in as
 * an admin, search, open a user, revoke one session, disable the account (its other refresh token
 * dies at once), read the audit entries and filter them; a non-admin is told so. Every request
 * the page makes is recorded: all go to its own origin, and no CSP violation or page error occurs.
 * A screenshot goes to test-results/.
 */
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium, startBrowserServer, type BrowserServer } from '../helpers/browser.js';
import { ROOT } from '../helpers/cli.js';

const PASSWORD = 'correct horse battery staple';
const BODY = { 'x-latchkey-transport': 'body' };
const run = chromiumAvailable('admin page browser test');
const poll = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: 15_000 });

let browser: Browser;
let server: BrowserServer;

describe.runIf(run)('the admin page in Chromium', () => {
  beforeAll(async () => {
    const { default: buildAdmin } = (await import(pathToFileURL(join(ROOT, 'web', 'admin', 'build.mjs')).href)) as {
      default: (options: { root: string; outDir: string }) => Promise<unknown>;
    };
    await buildAdmin({ root: ROOT, outDir: join(ROOT, 'dist', 'web') });
    [server, browser] = await Promise.all([startBrowserServer(), launchChromium()]);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  async function openAdmin(requests: string[], problems: string[]): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.on('request', (request) => requests.push(request.url()));
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      // Expected refusals (a 401 before signing in, the 403 of a non-admin) are logged by Chromium as resource errors.
      if (message.type() === 'error' && !/^Failed to load resource: the server responded with a status of 40[13]\b/.test(message.text())) {
        problems.push(`console: ${message.text()}`);
      }
    });
    await page.goto(`${server.baseUrl}/admin`);
    await page.waitForSelector('html[data-ready="true"]', { timeout: 20_000 });
    return page;
  }

  async function signIn(page: Page, email: string) {
    await page.getByTestId('signin-email').fill(email);
    await page.getByTestId('signin-password').fill(PASSWORD);
    await page.getByTestId('signin-submit').click();
  }

  it('sign in, search, revoke a session, disable a user, read the audit entry — requests only to its own origin', async () => {
    const { latchkey } = server;
    const admin = await latchkey.auth.createUser('ops@example.com', PASSWORD, 'admin');
    for (const email of ['ann@example.com', 'ben@example.com', 'target.user@example.com', 'tina@example.org'])
      await latchkey.auth.createUser(email, PASSWORD);
    const target = (await latchkey.store.findUserByEmail('target.user@example.com'))!;
    const logins = [];
    for (const agent of ['Firefox/133 (laptop)', 'Safari/18 (phone)']) {
      const res = await server.client.post('/auth/login', {
        body: { email: target.email, password: PASSWORD },
        headers: { ...BODY, 'user-agent': agent },
      });
      expect(res.status).toBe(200);
      logins.push(res.body.refreshToken as string);
    }

    const requests: string[] = [];
    const problems: string[] = [];
    const page = await openAdmin(requests, problems);
    const response = await page.request.get(`${server.baseUrl}/admin`);
    const csp = response.headers()['content-security-policy']!;
    for (const directive of [
      "default-src 'none'",
      "connect-src 'self'",
      "base-uri 'none'",
      "frame-ancestors 'none'",
      "form-action 'none'",
      "img-src 'none'",
    ]) {
      expect(csp).toContain(directive);
    }
    expect(csp).toMatch(/script-src 'sha256-[^']+'(;|$)/);

    await signIn(page, 'ops@example.com');
    await poll(() => page.getByTestId('status').textContent()).toBe('signed in as ops@example.com');
    await poll(() => page.getByTestId('user-row').count()).toBe(5);

    // Search: a part of the address, any case.
    await page.getByTestId('search').fill('TARGET');
    await page.getByTestId('search-submit').click();
    await poll(() => page.getByTestId('user-row').count()).toBe(1);
    await page.locator('[data-testid="user-row"][data-email="target.user@example.com"]').click();
    await poll(() => page.getByTestId('detail-email').textContent()).toBe('target.user@example.com');
    await poll(() => page.getByTestId('session-row').count()).toBe(2);
    await expect(page.getByTestId('session-rows').textContent()).resolves.toContain('Safari/18 (phone)');

    // Revoke the first listed session (the newest: the phone's).
    await page.getByTestId('session-row').first().getByTestId('revoke-session').click();
    await poll(() => page.getByTestId('session-row').count()).toBe(1);
    await poll(() => page.getByTestId('notice').textContent()).toContain('1 session(s) of target.user@example.com revoked');
    expect((await server.client.post('/auth/refresh', { body: { refreshToken: logins[1] }, headers: BODY })).status).toBe(401);

    // Disable: the remaining session dies at once.
    await page.getByTestId('toggle-disabled').click();
    await poll(() => page.getByTestId('detail-status').textContent()).toBe('disabled');
    await poll(() => page.getByTestId('session-rows').textContent()).toContain('No live session.');
    await expect(page.getByTestId('session-row').count()).resolves.toBe(0);
    const refused = await server.client.post('/auth/refresh', { body: { refreshToken: logins[0] }, headers: BODY });
    expect({ status: refused.status, error: refused.body.error }).toEqual({ status: 401, error: 'INVALID_REFRESH_TOKEN' });
    expect((await latchkey.store.findUserById(target.id))?.disabledAt).not.toBeNull();
    await expect(page.getByTestId('toggle-disabled').textContent()).resolves.toBe('Enable');

    // The audit log shows both actions, by this admin, about this user.
    const disabledRow = page.locator('[data-testid="audit-row"][data-type="admin_user_disabled"]');
    await poll(() => disabledRow.count()).toBe(1);
    await expect(disabledRow.locator('[data-role="user"]').getAttribute('data-id')).resolves.toBe(target.id);
    await expect(disabledRow.locator('[data-role="actor"]').getAttribute('data-id')).resolves.toBe(admin.id);
    await expect(disabledRow.locator('[data-role="actor"]').textContent()).resolves.toBe(`${admin.id.slice(0, 8)}…`);
    await expect(disabledRow.textContent()).resolves.toContain('revokedSessions: 1');
    await expect(page.locator('[data-testid="audit-row"][data-type="admin_sessions_revoked"]').count()).resolves.toBe(1);
    // Filters: one type, one user.
    await page.getByTestId('audit-type').selectOption('admin_sessions_revoked');
    await page.getByTestId('audit-user').fill(target.id);
    await page.getByTestId('audit-apply').click();
    await poll(() => page.locator('[data-testid="audit-row"]').count()).toBe(1);
    await expect(page.locator('[data-testid="audit-row"]').getAttribute('data-type')).resolves.toBe('admin_sessions_revoked');
    await page.getByTestId('audit-type').selectOption('');
    await page.getByTestId('audit-apply').click();
    await poll(() => page.locator('[data-testid="audit-row"][data-type="login_success"]').count()).toBe(2);

    mkdirSync('test-results', { recursive: true });
    const shot = await page.screenshot({ path: 'test-results/admin-page.png', fullPage: true });
    expect(statSync('test-results/admin-page.png').size).toBe(shot.length);

    expect(problems).toEqual([]);
    const origin = new URL(server.baseUrl).origin;
    expect(requests.length).toBeGreaterThan(10);
    expect(requests.filter((url) => new URL(url).origin !== origin)).toEqual([]);
    const paths = new Set(requests.map((url) => new URL(url).pathname));
    expect([...paths].every((path) => path === '/admin' || path.startsWith('/admin/') || path.startsWith('/auth/'))).toBe(true);
    await page.context().close();
  }, 90_000);

  it('a non-admin signs in and is told the page is not for them; nothing is listed', async () => {
    await server.latchkey.auth.createUser('plain@example.com', PASSWORD);
    const requests: string[] = [];
    const problems: string[] = [];
    const page = await openAdmin(requests, problems);
    await signIn(page, 'plain@example.com');
    await poll(() => page.getByTestId('error').textContent()).toBe('FORBIDDEN: This account is not an admin.');
    await expect(page.getByTestId('user-row').count()).resolves.toBe(0);
    expect(problems).toEqual([]);
    await page.context().close();
  }, 60_000);
});
