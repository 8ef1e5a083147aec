/**
 * Browser-test plumbing: Debian's Chromium driven by playwright-core (never a downloaded
 * browser), and a real Latchkey server on the REAL clock, served as `http://localhost:<port>`
 * (a secure context, so the `__Secure-` refresh cookie works), that counts `/auth/refresh`.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { FastifyInstance } from 'fastify';
import { createLatchkey, type Latchkey, type LatchkeyOptions } from '../../src/latchkey.js';
import { buildServer } from '../../src/http/server.js';
import { loadConfig } from '../../src/config/config.js';
import { TestClient } from './http-client.js';
import { serviceAvailable } from './services.js';

const CHROMIUM_PATH = process.env.LATCHKEY_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Whether browser suites run: Chromium present → yes. Missing → skipped with a one-line
 * notice, unless `LATCHKEY_REQUIRE_SERVICES=1`, where a missing browser fails the suite.
 */
export function chromiumAvailable(suite: string): boolean {
  return serviceAvailable(
    'Chromium',
    existsSync(CHROMIUM_PATH) ? undefined : `${suite}: Chromium not found at ${CHROMIUM_PATH} (apt-get install -y chromium)`,
  );
}

export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
let built: Promise<void> | undefined;

/** Builds `dist/web/demo.html` (what `npm run build` does for this page), once per process. */
export function buildDemo(): Promise<void> {
  built ??= (async () => {
    const { default: build } = (await import(pathToFileURL(join(root, 'web', 'demo', 'build.mjs')).href)) as {
      default: (options: { root: string; outDir: string }) => Promise<unknown>;
    };
    await build({ root, outDir: join(root, 'dist', 'web') });
  })();
  return built;
}

export interface RefreshHit {
  at: number;
  status: number;
}

export interface BrowserServer {
  app: FastifyInstance;
  latchkey: Latchkey;
  /** `http://localhost:<port>`: the page origin. */
  baseUrl: string;
  client: TestClient;
  /** Every `/auth/refresh` answered, in order. */
  refreshes: RefreshHit[];
  /** Refreshes answered since `since` (ms, Date.now()). */
  refreshesSince(since: number): RefreshHit[];
  close(): Promise<void>;
}

/** `port`: listen there instead of on a port the OS picks (when the issuer must name it, e.g. for a provider's redirect URI). */
export async function startBrowserServer({ port = 0, ...options }: LatchkeyOptions & { port?: number } = {}): Promise<BrowserServer> {
  await buildDemo();
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-browser-'));
  // The page origin is known only once listening; the config object is frozen but this array
  // is ours, so the origin is added to it after `listen`.
  const allowedOrigins: string[] = [];
  const latchkey = await createLatchkey({
    ...loadConfig({}),
    databaseUrl: `sqlite:${join(dir, 'latchkey.db')}`,
    secret: new Uint8Array(randomBytes(32)),
    issuer: 'http://localhost:3000',
    allowedOrigins,
    rateLimits: { ...loadConfig({}).rateLimits, enabled: false },
    keyReloadIntervalMs: 0,
    now: Date.now,
    ...options,
  });
  const app = await buildServer({ latchkey, logLevel: 'silent' });
  const refreshes: RefreshHit[] = [];
  app.addHook('onResponse', async (request, reply) => {
    if (request.method === 'POST' && request.url.split('?')[0] === '/auth/refresh') refreshes.push({ at: Date.now(), status: reply.statusCode });
  });
  const address = await app.listen({ port, host: '127.0.0.1' });
  const baseUrl = `http://localhost:${new URL(address).port}`;
  allowedOrigins.push(baseUrl);
  return {
    app,
    latchkey,
    baseUrl,
    client: new TestClient(address),
    refreshes,
    refreshesSince: (since) => refreshes.filter((hit) => hit.at >= since),
    async close() {
      await app.close();
      await latchkey.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Problems a page reported: uncaught errors, console errors, CSP violations. */
export interface PageProblems {
  errors: string[];
}

/** Opens the demo in a new tab of `context` and waits until its `restore()` has settled. */
export function openDemo(context: BrowserContext, baseUrl: string, problems?: PageProblems): Promise<Page> {
  return openDemoAt(context, `${baseUrl}/`, problems);
}

/** {@link openDemo} at a full URL (e.g. the one `latchkey serve` printed). */
export async function openDemoAt(context: BrowserContext, url: string, problems?: PageProblems): Promise<Page> {
  const page = await context.newPage();
  if (problems) {
    page.on('pageerror', (error) => problems.errors.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      // Chromium logs every 4xx answer; expected 401s (no cookie yet, wrong password) are not problems.
      if (message.type() === 'error' && !/^Failed to load resource: the server responded with a status of 401\b/.test(message.text())) {
        problems.errors.push(`console: ${message.text()}`);
      }
    });
  }
  await page.goto(url);
  await page.waitForSelector('html[data-ready="true"]', { timeout: 20_000 });
  return page;
}
