/**
 * The first run, as a new user meets it: `latchkey serve` with no configuration at all, in an
 * empty directory, on a port the OS picks (`--port 0`). The URL it prints, and both loopback
 * spellings of its address, must each give a demo page that loads without an error and where
 * register, sign in, refresh (a reload restores the session from the refresh cookie) and
 * sign out work — in a real Chromium. And a page of another origin can read the public keys.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { buildDemo, chromiumAvailable, launchChromium, openDemoAt, type PageProblems } from '../helpers/browser.js';
import { spawnCli } from '../helpers/cli.js';

const PASSWORD = 'correct horse battery staple';
const run = chromiumAvailable('first-run browser tests');

let browser: Browser;
let child: ChildProcess;
let dir: string;
let printed: string;
let stdout = '';
let stderr = '';

/** Waits for the one log line that names the demo page; returns its URL. */
function demoUrl(process: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no demo URL printed within ${timeoutMs} ms:\n${stdout}\n${stderr}`)), timeoutMs);
    process.stdout!.on('data', (chunk) => {
      stdout += chunk;
      const match = /"msg":"Demo page: (http:\/\/[^"\s]+)"/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    process.stderr!.on('data', (chunk) => (stderr += chunk));
    process.once('exit', (code) => reject(new Error(`latchkey serve exited with ${code}:\n${stdout}\n${stderr}`)));
  });
}

const status = (page: Page) => page.getByTestId('status').textContent();
/** `expect.poll` with room for a loaded machine (its default gives up after 1 s). */
const poll = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: 15_000 });

/** Register, sign out, sign in, reload (refresh from the cookie), sign out — on the page at `url`. */
async function fullFlow(url: string): Promise<void> {
  const context = await browser.newContext();
  const problems: PageProblems = { errors: [] };
  try {
    const page = await openDemoAt(context, url, problems);
    expect(await page.getByTestId('error').isHidden()).toBe(true);
    await poll(() => status(page)).toBe('signed out');

    const email = `first-run-${Date.now()}-${Math.random().toString(36).slice(2)}@example.com`;
    await page.getByTestId('email').fill(email);
    await page.getByTestId('password').fill(PASSWORD);
    await page.getByTestId('register').click();
    await poll(() => status(page)).toBe('signed in');
    await page.getByTestId('me').click();
    await poll(() => page.getByTestId('me-output').textContent()).toContain(email);

    await page.getByTestId('logout').click();
    await poll(() => status(page)).toBe('signed out');
    await page.getByTestId('email').fill(email);
    await page.getByTestId('password').fill(PASSWORD);
    await page.getByTestId('login').click();
    await poll(() => status(page)).toBe('signed in');

    // A reload forgets the access token: restore() must refresh through the cookie.
    const refreshed = page.waitForResponse((response) => new URL(response.url()).pathname === '/auth/refresh');
    await page.reload();
    expect((await refreshed).status()).toBe(200);
    await page.waitForSelector('html[data-ready="true"]');
    await poll(() => status(page)).toBe('signed in');
    await page.getByTestId('me').click();
    await poll(() => page.getByTestId('me-output').textContent()).toContain(email);

    await page.getByTestId('logout').click();
    await poll(() => status(page)).toBe('signed out');
    await page.reload();
    await page.waitForSelector('html[data-ready="true"]');
    await poll(() => status(page)).toBe('signed out');
    expect(await page.getByTestId('error').isHidden()).toBe(true);
    expect(problems.errors).toEqual([]);
  } finally {
    await context.close();
  }
}

describe.runIf(run)('first run: latchkey serve with no configuration, in Chromium', () => {
  beforeAll(async () => {
    await buildDemo();
    dir = await mkdtemp(join(tmpdir(), 'latchkey-first-run-'));
    child = spawnCli(['serve', '--port', '0'], { cwd: dir });
    [printed, browser] = await Promise.all([demoUrl(child, 45_000), launchChromium()]);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('prints one line naming the demo page, on the port the OS picked', () => {
    const url = new URL(printed);
    expect(url.pathname).toBe('/');
    expect(Number(url.port)).toBeGreaterThan(0);
    expect(url.port).not.toBe('3000');
    expect(stdout.match(/Demo page: /g)).toHaveLength(1);
  });

  it('the printed URL: the demo loads cleanly and register, sign in, refresh and sign out work', async () => {
    await fullFlow(printed);
  }, 60_000);

  it('http://127.0.0.1:PORT works the same', async () => {
    await fullFlow(`http://127.0.0.1:${new URL(printed).port}/`);
  }, 60_000);

  it('http://localhost:PORT works the same', async () => {
    await fullFlow(`http://localhost:${new URL(printed).port}/`);
  }, 60_000);

  it('a verifier in a page of another origin reads the JWKS and the discovery document (CORS)', async () => {
    const port = new URL(printed).port;
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`http://127.0.0.1:${port}/healthz`); // an origin other than http://localhost:PORT
      const read = (url: string) =>
        page.evaluate(async (target) => {
          try {
            const response = await fetch(target);
            return { status: response.status, body: (await response.json()) as Record<string, unknown> };
          } catch (error) {
            return { error: String(error) };
          }
        }, url);
      const jwks = await read(`http://localhost:${port}/.well-known/jwks.json`);
      expect(jwks).toMatchObject({ status: 200, body: { keys: expect.any(Array) } });
      const metadata = await read(`http://localhost:${port}/.well-known/openid-configuration`);
      expect(metadata).toMatchObject({
        status: 200,
        body: { issuer: `http://localhost:${port}`, jwks_uri: `http://localhost:${port}/.well-known/jwks.json` },
      });
      // The control: an answer without the CORS header stays unreadable from this origin.
      expect(await read(`http://localhost:${port}/healthz`)).toMatchObject({ error: expect.stringMatching(/TypeError/) });
    } finally {
      await context.close();
    }
  }, 60_000);
});
