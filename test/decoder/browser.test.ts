/**
 * The /decoder page in Debian's Chromium (never a downloaded browser): served by Fastify with
 * decoderRoutes and opened from file://. Every network request is recorded: after load there
 * must be none, even for tokens whose header names jku/x5u URLs.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair } from 'jose';
import build from '../../web/decoder/build.mjs';
import { serviceAvailable } from '../helpers/services.js';
import { decoderRoutes } from '../../src/http/routes/decoder.js';
import { hs256, SECRET } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const available = serviceAvailable(
  'Chromium',
  existsSync(CHROMIUM) ? undefined : `decoder page: ${CHROMIUM} not found (apt-get install -y chromium)`,
);

const root = join(import.meta.dirname, '..', '..');
const outDir = mkdtempSync(join(tmpdir(), 'lk-decoder-web-'));
const now = (): number => Math.floor(Date.now() / 1000);

interface Recorder {
  requests: string[];
  failed: string[];
  violations: string[];
}

function record(page: Page): Recorder {
  const r: Recorder = { requests: [], failed: [], violations: [] };
  page.on('request', (req) => r.requests.push(req.url()));
  page.on('requestfailed', (req) => r.failed.push(req.url()));
  page.on('console', (msg) => {
    const text = msg.text();
    if (/content security policy|refused to|blocked/i.test(text) || msg.type() === 'error') r.violations.push(text);
  });
  page.on('pageerror', (e) => r.violations.push(`pageerror: ${e.message}`));
  return r;
}

describe.skipIf(!available)('decoder page in Chromium', () => {
  let app: FastifyInstance;
  let base: string;
  let browser: Browser;
  let csp: string;
  let es: Awaited<ReturnType<typeof generateKeyPair>>;

  beforeAll(async () => {
    await build({ root, outDir });
    csp = readFileSync(join(outDir, 'decoder.csp'), 'utf8').trim();
    app = Fastify();
    await app.register(decoderRoutes, { htmlPath: join(outDir, 'decoder.html') });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    es = await generateKeyPair('ES256', { extractable: true });
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    rmSync(outDir, { recursive: true, force: true });
  });

  async function open(url: string): Promise<{ page: Page; rec: Recorder; loadRequests: string[] }> {
    const context = await browser.newContext();
    const page = await context.newPage();
    const rec = record(page);
    await page.goto(url, { waitUntil: 'load' });
    await page.waitForSelector('html[data-ready="true"]');
    const loadRequests = rec.requests.splice(0);
    return { page, rec, loadRequests };
  }

  const statusOf = async (page: Page): Promise<string> => (await page.getAttribute('[data-testid="verify-status"]', 'data-status')) ?? '';
  const codes = async (page: Page): Promise<string[]> =>
    page.$$eval('[data-testid="warnings"] > *', (els) => els.map((e) => (e as HTMLElement).dataset.code ?? ''));

  it('GET /decoder sends the page with the CSP and hardening headers', async () => {
    const res = await app.inject({ method: 'GET', url: '/decoder' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['content-security-policy']).toBe(csp);
    expect(csp).toMatch(/default-src 'self'/);
    expect(csp).toMatch(/connect-src 'none'/);
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\/(?!www\.w3\.org)/i);
  });

  it('paste → panes and warnings; verify re-evaluates on every input; zero requests', async () => {
    const { page, rec, loadRequests } = await open(`${base}/decoder`);
    expect(loadRequests).toEqual([`${base}/decoder`]);
    const token = await hs256({ sub: 'u1', email: 'ada@example.org', iat: now(), exp: now() + 600 }, { typ: 'JWT' });
    await page.fill('[data-testid="token-input"]', token);
    await expect.poll(() => page.textContent('[data-testid="header-output"]')).toContain('"alg": "HS256"');
    expect(await page.textContent('[data-testid="payload-output"]')).toContain('"email": "ada@example.org"');
    expect(await page.textContent('[data-testid="signature-output"]')).toContain(token.split('.')[2]);
    expect(await codes(page)).toContain('SENSITIVE_EMAIL');
    expect(await page.textContent('[data-testid="time-exp"]')).toMatch(/expires in 10 min/);
    expect(await statusOf(page)).toBe('none');

    await page.fill('[data-testid="key-input"]', SECRET);
    await expect.poll(() => statusOf(page)).toBe('valid');
    expect(await page.textContent('[data-testid="verify-status"]')).toMatch(/^valid/);
    await page.type('[data-testid="key-input"]', 'x');
    await expect.poll(() => statusOf(page)).toBe('invalid');
    expect(await page.textContent('[data-testid="verify-status"]')).toMatch(/^invalid/);
    await page.press('[data-testid="key-input"]', 'Backspace');
    await expect.poll(() => statusOf(page)).toBe('valid');
    // tamper with the token: re-evaluated
    const [h, , s] = token.split('.');
    await page.fill('[data-testid="token-input"]', `${h}.${Buffer.from('{"sub":"admin"}').toString('base64url')}.${s}`);
    await expect.poll(() => statusOf(page)).toBe('invalid');

    // ES256 with a PEM; expiry reported beside the status
    const expired = await new SignJWT({ sub: 'x', exp: now() - 60 }).setProtectedHeader({ alg: 'ES256' }).sign(es.privateKey);
    await page.fill('[data-testid="token-input"]', expired);
    await page.fill('[data-testid="key-input"]', await exportSPKI(es.publicKey));
    await expect.poll(() => statusOf(page)).toBe('valid');
    expect(await page.textContent('[data-testid="verify-time"]')).toMatch(/expired/);
    expect(await codes(page)).toContain('EXPIRED');

    // malformed input: a coded error, no crash
    await page.fill('[data-testid="token-input"]', 'not.a.token!');
    await expect.poll(() => page.getAttribute('[data-testid="decode-error"]', 'data-code')).toBe('BAD_BASE64URL');

    // nothing stored
    expect(await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie])).toEqual([0, 0, '']);
    expect(rec.requests).toEqual([]);
    expect(rec.failed).toEqual([]);
    expect(rec.violations).toEqual([]);
    await page.context().close();
  });

  it('#token= with jku/x5u headers: decoded, warned, nothing fetched; the fragment is dropped', async () => {
    const token = await hs256(
      { sub: 'u', exp: now() + 60 },
      { jku: `${base}/jwks.json`, x5u: `${base}/cert.pem`, kid: "' OR 1=1 --" },
      new TextEncoder().encode('secret'),
    );
    const { page, rec, loadRequests } = await open(`${base}/decoder#token=${token}`);
    expect(loadRequests).toEqual([`${base}/decoder`]);
    expect(await page.inputValue('[data-testid="token-input"]')).toBe(token);
    expect(await page.textContent('[data-testid="header-output"]')).toContain('"jku"');
    await expect.poll(() => codes(page)).toEqual(expect.arrayContaining(['HEADER_JKU', 'HEADER_X5U', 'KID_SUSPICIOUS', 'HMAC_SECRET_GUESSED']));
    expect(await page.evaluate(() => location.href)).toBe(`${base}/decoder`);
    expect(rec.requests).toEqual([]);
    expect(rec.failed).toEqual([]);
    expect(rec.violations).toEqual([]);
    // The CSP really forbids connections (an attempted fetch is refused by the browser).
    const blocked = await page.evaluate(
      async (u) =>
        fetch(u).then(
          () => 'sent',
          () => 'blocked',
        ),
      `${base}/decoder`,
    );
    expect(blocked).toBe('blocked');
    // …and the recorder sees such a violation, so the zero-violation assertions above can fail.
    await expect.poll(() => rec.violations.some((v) => /Content Security Policy|connect-src/i.test(v))).toBe(true);
    await page.context().close();
  });

  it('EdDSA with a PEM and RS256 with a pasted JWKS (matched by kid) verify in the browser', async () => {
    const ed = await generateKeyPair('EdDSA', { extractable: true });
    const rs = await generateKeyPair('RS256', { extractable: true });
    const { page, rec } = await open(`${base}/decoder`);
    await page.fill(
      '[data-testid="token-input"]',
      await new SignJWT({ sub: 'e', exp: now() + 60 }).setProtectedHeader({ alg: 'EdDSA' }).sign(ed.privateKey),
    );
    await page.fill('[data-testid="key-input"]', await exportSPKI(ed.publicKey));
    await expect.poll(() => statusOf(page)).toBe('valid');
    const jwks = JSON.stringify({
      keys: [
        { ...(await exportJWK(ed.publicKey)), kid: 'ed' },
        { ...(await exportJWK(rs.publicKey)), kid: 'rs' },
      ],
    });
    await page.fill(
      '[data-testid="token-input"]',
      await new SignJWT({ sub: 'r', exp: now() + 60 }).setProtectedHeader({ alg: 'RS256', kid: 'rs' }).sign(rs.privateKey),
    );
    await page.fill('[data-testid="key-input"]', jwks);
    await expect.poll(() => statusOf(page)).toBe('valid');
    await page.fill(
      '[data-testid="token-input"]',
      await new SignJWT({ sub: 'r', exp: now() + 60 }).setProtectedHeader({ alg: 'RS256', kid: 'nope' }).sign(rs.privateKey),
    );
    await expect.poll(() => statusOf(page)).toBe('invalid');
    expect(rec.requests).toEqual([]);
    expect(rec.violations).toEqual([]);
    await page.context().close();
  });

  it('a token in the query string is ignored', async () => {
    const token = await hs256({ sub: 'u' });
    const { page } = await open(`${base}/decoder?token=${token}`);
    expect(await page.inputValue('[data-testid="token-input"]')).toBe('');
    expect(await page.isVisible('#query-notice')).toBe(true);
    await page.context().close();
  });

  it('works from file:// with the same behaviour and no requests', async () => {
    const token = await new SignJWT({ sub: 'f', exp: now() + 60 })
      .setProtectedHeader({ alg: 'ES256', jwk: { kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA' } })
      .sign(es.privateKey);
    const url = `${pathToFileURL(join(outDir, 'decoder.html')).href}#token=${token}`;
    const { page, rec } = await open(url);
    expect(await page.textContent('[data-testid="payload-output"]')).toContain('"sub": "f"');
    expect(await codes(page)).toContain('HEADER_JWK');
    await page.fill('[data-testid="key-input"]', await exportSPKI(es.publicKey));
    await expect.poll(() => statusOf(page)).toBe('valid');
    expect(rec.requests).toEqual([]);
    expect(rec.failed).toEqual([]);
    expect(rec.violations).toEqual([]);
    await page.context().close();
  });
});
