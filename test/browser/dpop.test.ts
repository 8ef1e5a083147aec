/**
 * `latchkey/client/dpop` with `dpop: true` in a real Chromium (Debian's /usr/bin/chromium via
 * playwright-core) against a real server on the real clock, 5-second access tokens and server
 * nonces on (`LATCHKEY_DPOP_NONCE=true`, so the client's RFC 9449 §8 retry runs for real). Tabs
 * are pages of ONE browser context: they share cookies, IndexedDB, BroadcastChannel and Web
 * Locks like real tabs.
 *
 * The page is served by the server itself at `http://localhost:<port>`, an allowed origin
 * (`LATCHKEY_ALLOWED_ORIGINS`) but not the issuer (`http://localhost:3000`): proofs name the URL
 * the client called, which the auth endpoints accept under the issuer's origin or any allowed
 * one (docs/dpop.md#bound-sessions).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { FastifyInstance } from 'fastify';
import * as jose from 'jose';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { buildServer } from '../../src/http/server.js';
import { createLatchkey, type Latchkey } from '../../src/latchkey.js';
import { chromiumAvailable, launchChromium } from '../helpers/browser.js';
import { TestClient } from '../helpers/http-client.js';
import { makeProof, proofKey } from '../dpop/helpers.js';

const TTL = 5;
const PASSWORD = 'correct horse battery staple';
const run = chromiumAvailable('browser DPoP tests');
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface KeyInfo {
  count: number;
  extractable: boolean[];
  algorithm: string;
  publicJwk: Record<string, unknown> | undefined;
}

type Win = Window & {
  latchkeyClient: {
    login(email: string, password: string): Promise<void>;
    restore(): Promise<boolean>;
    fetch(input: string, init?: RequestInit): Promise<Response>;
    getAccessToken(): Promise<string | null>;
    readonly signedIn: boolean;
  };
  dpopKeyInfo(): Promise<KeyInfo>;
};

/** The page's script: the DPoP client, and a look into its IndexedDB record (done in the page). */
const ENTRY = `
import { createAuthClient } from './src/client/dpop.ts';
window.latchkeyClient = createAuthClient({ dpop: true });
window.dpopKeyInfo = () => new Promise((resolve, reject) => {
  const open = indexedDB.open('latchkey-dpop', 1);
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const db = open.result;
    const all = db.transaction('keys').objectStore('keys').getAll();
    all.onerror = () => reject(all.error);
    all.onsuccess = async () => {
      db.close();
      const pairs = all.result;
      resolve({
        count: pairs.length,
        extractable: pairs.map((pair) => pair.privateKey.extractable),
        algorithm: pairs[0] ? pairs[0].privateKey.algorithm.name + ' ' + pairs[0].privateKey.algorithm.namedCurve : '',
        publicJwk: pairs[0] ? await crypto.subtle.exportKey('jwk', pairs[0].publicKey) : undefined,
      });
    };
  };
});
`;

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

const claimsOf = (token: string): Record<string, unknown> => jose.decodeJwt(token) as Record<string, unknown>;

describe.runIf(run)('latchkey/client/dpop in Chromium', () => {
  let latchkey: Latchkey;
  let app: FastifyInstance;
  let browser: Browser;
  let dir: string;
  let origin: string;
  let client: TestClient;
  /** Every `/auth/refresh` answered, in order. */
  const refreshes: Array<{ at: number; status: number }> = [];
  /** The status of every `/auth/login` answered, in order. */
  const logins: number[] = [];

  beforeAll(async () => {
    const bundle = await build({
      stdin: { contents: ENTRY, resolveDir: root, loader: 'ts' },
      bundle: true,
      format: 'iife',
      platform: 'browser',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
    });
    const script = bundle.outputFiles[0]!.text.replace(/<\/(script)/gi, '<\\/$1');
    const port = await freePort();
    origin = `http://localhost:${port}`;
    dir = await mkdtemp(join(tmpdir(), 'latchkey-browser-dpop-'));
    latchkey = await createLatchkey({
      ...loadConfig({}),
      databaseUrl: `sqlite:${join(dir, 'latchkey.db')}`,
      secret: new Uint8Array(randomBytes(32)),
      issuer: 'http://localhost:3000',
      allowedOrigins: [origin],
      accessTokenTtl: TTL,
      dpopNonce: true,
      rateLimits: { ...loadConfig({}).rateLimits, enabled: false },
      keyReloadIntervalMs: 0,
      now: Date.now,
    });
    app = await buildServer({ latchkey, logLevel: 'silent' });
    app.get('/dpop-test.html', async (_request, reply) =>
      reply
        .type('text/html; charset=utf-8')
        .send(`<!doctype html><html><head><meta charset="utf-8"><script>${script}</script></head><body></body></html>`),
    );
    app.addHook('onResponse', async (request, reply) => {
      const path = request.url.split('?')[0];
      if (request.method === 'POST' && path === '/auth/refresh') refreshes.push({ at: Date.now(), status: reply.statusCode });
      if (request.method === 'POST' && path === '/auth/login') logins.push(reply.statusCode);
    });
    await app.listen({ port, host: '127.0.0.1' });
    client = new TestClient(`http://127.0.0.1:${port}`);
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await latchkey?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function openTab(context: BrowserContext, errors: string[]): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
    await page.goto(`${origin}/dpop-test.html`);
    await page.waitForFunction(() => typeof (window as unknown as Win).latchkeyClient === 'object');
    return page;
  }
  const tokenOf = (page: Page) => page.evaluate(() => (window as unknown as Win).latchkeyClient.getAccessToken());

  /** `client.fetch('/auth/me')` every 150–400 ms for `durationMs`: the statuses that were not 200. */
  function activity(page: Page, durationMs: number): Promise<{ ok: number; failures: string[] }> {
    return page.evaluate(async (durationMs) => {
      const auth = (window as unknown as Win).latchkeyClient;
      const stats = { ok: 0, failures: [] as string[] };
      const end = performance.now() + durationMs;
      while (performance.now() < end) {
        try {
          const response = await auth.fetch('/auth/me');
          if (response.status === 200) stats.ok++;
          else stats.failures.push(`HTTP ${response.status} ${await response.text()}`);
        } catch (error) {
          stats.failures.push(String((error as { code?: string }).code ?? error));
        }
        await new Promise((resolve) => setTimeout(resolve, 150 + Math.random() * 250));
      }
      return stats;
    }, durationMs);
  }

  it('3 tabs: one non-extractable key in IndexedDB, one refresh per token lifetime, survives reload; the copied cookie is useless from Node', async () => {
    const email = `dpop-browser-${Date.now()}@example.com`;
    expect((await client.post('/auth/register', { body: { email, password: PASSWORD } })).status).toBe(201);
    const context = await browser.newContext();
    const errors: string[] = [];
    try {
      const first = await openTab(context, errors);
      await first.evaluate(([e, p]) => (window as unknown as Win).latchkeyClient.login(e!, p!), [email, PASSWORD]);
      // The first proof had no nonce: the server asked for one (401 use_dpop_nonce), the client retried once with it.
      expect(logins).toEqual([401, 200]);
      const tabs = [first, await openTab(context, errors), await openTab(context, errors)];
      for (const tab of tabs.slice(1)) expect(await tab.evaluate(() => (window as unknown as Win).latchkeyClient.restore())).toBe(true);

      // One key for the origin, private half not extractable, and every tab's token bound to it.
      const info = await first.evaluate(() => (window as unknown as Win).dpopKeyInfo());
      expect({ count: info.count, extractable: info.extractable, algorithm: info.algorithm }).toEqual({
        count: 1,
        extractable: [false],
        algorithm: 'ECDSA P-256',
      });
      const jkt = await jose.calculateJwkThumbprint(info.publicJwk as jose.JWK, 'sha256');
      for (const tab of tabs) expect(claimsOf((await tokenOf(tab))!).cnf).toEqual({ jkt });

      const seconds = 16;
      const start = Date.now();
      const stats = await Promise.all(tabs.map((tab) => activity(tab, seconds * 1000)));
      const hits = refreshes.filter((hit) => hit.at >= start);
      const rotated = hits.filter((hit) => hit.status === 200);
      const gaps = rotated.slice(1).map((hit, i) => hit.at - rotated[i]!.at);
      console.info(
        `3 DPoP tabs, ${seconds} s, TTL ${TTL} s: ${stats.map((s) => s.ok).join('+')} calls OK, ${rotated.length} refreshes, ` +
          `${hits.length - rotated.length} nonce challenges, min gap ${Math.min(...gaps)} ms`,
      );
      for (const s of stats) {
        expect(s.failures).toEqual([]);
        expect(s.ok).toBeGreaterThan(15);
      }
      // Refreshes across the three tabs: about one per token lifetime (a refresh every ≥ 0.7·TTL), never two at once.
      expect(rotated.length).toBeGreaterThanOrEqual(Math.floor(seconds / TTL) - 1);
      expect(rotated.length).toBeLessThanOrEqual(Math.ceil(seconds / (0.7 * TTL)) + 2);
      expect(Math.min(...gaps)).toBeGreaterThan(1000);
      // The only other answers: a tab's first refresh without a nonce (one challenge per tab at most), retried once.
      expect(hits.length - rotated.length).toBeLessThanOrEqual(tabs.length);
      expect(hits.every((hit) => hit.status === 200 || hit.status === 401)).toBe(true);

      // A reload keeps the session (the cookie and the key in IndexedDB), still bound to the same key.
      await first.reload();
      await first.waitForFunction(() => typeof (window as unknown as Win).latchkeyClient === 'object');
      expect(await first.evaluate(() => (window as unknown as Win).latchkeyClient.restore())).toBe(true);
      const me = await first.evaluate(async () => {
        const response = await (window as unknown as Win).latchkeyClient.fetch('/auth/me');
        return { status: response.status, body: await response.json() };
      });
      expect({ status: me.status, email: me.body.email }).toEqual({ status: 200, email });
      expect(claimsOf((await tokenOf(first))!).cnf).toEqual({ jkt });
      expect((await first.evaluate(() => (window as unknown as Win).dpopKeyInfo())).count).toBe(1);

      // The refresh cookie copied out of the browser and replayed from Node: without a proof, and
      // with a proof of the thief's own key (with the server's current nonce), both 401.
      const cookie = (await context.cookies()).find((c) => c.name === '__Secure-refreshToken' || c.name === 'refreshToken');
      expect(cookie?.httpOnly).toBe(true);
      const jar = `${cookie!.name}=${cookie!.value}`;
      const bare = await client.post('/auth/refresh', { cookie: jar });
      expect({ status: bare.status, error: bare.body.error }).toEqual({ status: 401, error: 'INVALID_DPOP_PROOF' });
      const nonce = bare.headers.get('dpop-nonce')!;
      const thief = makeProof(proofKey('ES256'), 'POST', `${origin}/auth/refresh`, Date.now() / 1000, { claims: { nonce } });
      const stolen = await client.post('/auth/refresh', { cookie: jar, headers: { dpop: thief } });
      expect({ status: stolen.status, error: stolen.body.error }).toEqual({ status: 401, error: 'INVALID_DPOP_PROOF' });
      expect([...bare.cookies, ...stolen.cookies]).toEqual([]);
      const audited = (await latchkey.store.listAudit({ limit: 1000 })).filter((e) => e.type === 'dpop_mismatch');
      expect(audited.length).toBeGreaterThanOrEqual(2);

      // The owner's session is untouched: a refresh from the browser still works.
      const after = await first.evaluate(async () => {
        const auth = (window as unknown as Win).latchkeyClient;
        await new Promise((resolve) => setTimeout(resolve, 4500)); // past the refresh point of the 5 s token
        const response = await auth.fetch('/auth/me');
        return response.status;
      });
      expect(after).toBe(200);
      expect(refreshes.at(-1)?.status).toBe(200);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 120_000);
});
