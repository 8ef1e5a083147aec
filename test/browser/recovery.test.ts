/**
 * Password recovery in a real Chromium, through Latchkey's own pages: the demo's "Forgot
 * password?", the reset mail received by a real SMTP server, the link page, the new password,
 * and signing in with it. Opening the link page alone consumes nothing (a link scanner is
 * harmless), the token leaves the address bar at once, and the only request that carries it is
 * the POST of the page's button.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium, openDemo, startBrowserServer, type BrowserServer, type PageProblems } from '../helpers/browser.js';
import { ROOT } from '../helpers/cli.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';

const PASSWORD = 'correct horse battery staple';
const NEW_PASSWORD = 'a brand new passphrase 77';
const run = chromiumAvailable('password recovery browser test');
const poll = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: 15_000 });

let browser: Browser;
let server: BrowserServer;
let smtp: TestSmtp;

describe.runIf(run)('password recovery in Chromium', () => {
  beforeAll(async () => {
    const { default: buildLink } = (await import(pathToFileURL(join(ROOT, 'web', 'link', 'build.mjs')).href)) as {
      default: (options: { root: string; outDir: string }) => Promise<unknown>;
    };
    await buildLink({ root: ROOT, outDir: join(ROOT, 'dist', 'web') });
    smtp = await startSmtp();
    [server, browser] = await Promise.all([startBrowserServer({ smtpUrl: smtp.url }), launchChromium()]);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await smtp?.stop();
  });

  it('forgot → mail → link page → new password → sign in; opening the page consumes nothing; only the POST carries the token', async () => {
    const context = await browser.newContext();
    const problems: PageProblems = { errors: [] };
    try {
      const demo = await openDemo(context, server.baseUrl, problems);
      const email = `recover-${Date.now()}@example.com`;
      await demo.getByTestId('email').fill(email);
      await demo.getByTestId('password').fill(PASSWORD);
      await demo.getByTestId('register').click();
      await poll(() => demo.getByTestId('status').textContent()).toBe('signed in');
      await demo.getByTestId('logout').click();
      await poll(() => demo.getByTestId('status').textContent()).toBe('signed out');

      await demo.getByTestId('email').fill(email);
      await demo.getByTestId('forgot').click();
      await poll(() => demo.getByTestId('mail-note').textContent()).toContain('Reset requested');

      const deadline = Date.now() + 20_000;
      let mail = smtp.received.find((m) => m.rcptTo.includes(email) && /Reset your password/.test(m.parsed.subject ?? ''));
      while (!mail && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        mail = smtp.received.find((m) => m.rcptTo.includes(email) && /Reset your password/.test(m.parsed.subject ?? ''));
      }
      expect(mail, 'the reset mail').toBeDefined();
      const link = new URL(/(http:\/\/\S+\/auth\/reset-password#token=[\w-]+)/.exec(mail!.parsed.text ?? '')![1]!);
      const token = new URLSearchParams(link.hash.slice(1)).get('token')!;
      // The test server's issuer (http://localhost:3000) was fixed before its port was known: open
      // the link's path and fragment on the port it really listens on.
      const url = `${server.baseUrl}${link.pathname}${link.hash}`;

      // A link scanner (or a curious preview) opens the page and does nothing else.
      const scanner = await context.newPage();
      await scanner.goto(url);
      await poll(() => scanner.getByTestId('title').textContent()).toBe('Choose a new password');
      await scanner.close();

      const page: Page = await context.newPage();
      page.on('pageerror', (error) => problems.errors.push(`pageerror: ${error.message}`));
      const requests: Request[] = [];
      page.on('request', (request) => requests.push(request));
      await page.goto(url);
      await page.getByTestId('reset-form').waitFor({ state: 'visible' });
      expect(page.url()).toBe(`${server.baseUrl}/auth/reset-password`); // the fragment is out of the address bar
      await page.getByTestId('new-password').fill(NEW_PASSWORD);
      await page.getByTestId('repeat-password').fill(NEW_PASSWORD);
      await page.getByTestId('reset-button').click();
      await poll(() => page.getByTestId('result').textContent()).toContain('password was changed');

      const carrying = requests.filter(
        (r) => r.url().includes(token) || (r.postData() ?? '').includes(token) || JSON.stringify(r.headers()).includes(token),
      );
      expect(carrying.map((r) => `${r.method()} ${new URL(r.url()).pathname}`)).toEqual(['POST /auth/password/reset']);
      for (const r of requests) expect(r.headers().referer ?? '', r.url()).toBe('');

      await demo.reload();
      await demo.waitForSelector('html[data-ready="true"]');
      await demo.getByTestId('email').fill(email);
      await demo.getByTestId('password').fill(NEW_PASSWORD);
      await demo.getByTestId('login').click();
      await poll(() => demo.getByTestId('status').textContent()).toBe('signed in');
      expect(problems.errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 120_000);
});
