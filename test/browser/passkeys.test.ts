/**
 * Passkeys in a real Chromium (Debian's /usr/bin/chromium via playwright-core) with the DevTools
 * virtual authenticator (CDP `WebAuthn.enable` + `WebAuthn.addVirtualAuthenticator`: ctap2,
 * resident keys, user verification) against a real server on the real clock. The page runs
 * `latchkey/client` with `latchkey/client/passkeys`, served by the server itself at
 * `http://localhost:<port>` (a secure context; WebAuthn refuses IP hosts), an allowed origin.
 *
 * Register, sign out, usernameless sign-in, passkey as the second factor after a password,
 * removal — and three real attacks refused with 401 PASSKEY_INVALID: the assertion the page sent,
 * captured off the wire and posted again from Node; an assertion made by the same authenticator
 * on another origin of the same host (`http://localhost:<other port>`, not allowed); a cloned
 * authenticator (the credential's private key copied with `WebAuthn.getCredentials` into a
 * second authenticator via `WebAuthn.addCredential`, with a lower sign counter).
 *
 * Then the demo page (`/`) under its strict CSP: TOTP enrolment with the QR code (an SVG shown
 * as a data: image), the second step of a login, adding a passkey and signing in with it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createHmac, randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { FastifyInstance } from 'fastify';
import * as jose from 'jose';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base32Decode } from '../helpers/base32.js';
import { loadConfig } from '../../src/config/config.js';
import { buildServer } from '../../src/http/server.js';
import { createLatchkey, type Latchkey } from '../../src/latchkey.js';
import { chromiumAvailable, launchChromium, openDemo, startBrowserServer, type BrowserServer, type PageProblems } from '../helpers/browser.js';
import { TestClient } from '../helpers/http-client.js';

const PASSWORD = 'correct horse battery staple';
const run = chromiumAvailable('browser passkey tests');
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

type Win = Window & {
  auth: {
    login(email: string, password: string): Promise<{ mfaRequired: boolean; factors?: string[] }>;
    logout(): Promise<void>;
    getAccessToken(): Promise<string | null>;
    readonly signedIn: boolean;
  };
  passkeys: {
    signInWithPasskey(): Promise<void>;
    registerPasskey(options?: { name?: string }): Promise<{ id: string; name: string }>;
    listPasskeys(): Promise<Array<{ id: string; name: string }>>;
    removePasskey(id: string): Promise<void>;
  };
  /** The ceremony alone (no server call): what `navigator.credentials.get` answers for `options`. */
  assertFor(options: unknown): Promise<unknown>;
};

/** The page's script: the base client, the passkeys entry, and the bare ceremony for the attacks. */
const ENTRY = `
import { createAuthClient } from './src/client/index.ts';
import { withPasskeys } from './src/client/passkeys.ts';
import { startAuthentication } from '@simplewebauthn/browser';
window.auth = withPasskeys(createAuthClient({ baseUrl: window.LATCHKEY_BASE }));
window.passkeys = window.auth;
window.assertFor = (optionsJSON) => startAuthentication({ optionsJSON });
`;

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

const claimsOf = (token: string): Record<string, unknown> => jose.decodeJwt(token) as Record<string, unknown>;

interface VirtualCredential {
  credentialId: string;
  isResidentCredential: boolean;
  rpId: string;
  privateKey: string;
  userHandle: string;
  signCount: number;
}

/** A CDP session on `page` with one virtual authenticator (ctap2, internal, resident keys, UV). */
async function withAuthenticator(context: BrowserContext, page: Page): Promise<{ cdp: CDPSession; authenticatorId: string }> {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, authenticatorId };
}

describe.runIf(run)('passkeys in Chromium with the virtual authenticator', () => {
  let latchkey: Latchkey;
  let app: FastifyInstance;
  let phishing: Server;
  let browser: Browser;
  let context: BrowserContext;
  let dir: string;
  let origin: string;
  let otherOrigin: string;
  let client: TestClient;
  let page: Page;
  let authenticator: { cdp: CDPSession; authenticatorId: string };
  const email = `passkey-browser-${Date.now()}@example.com`;
  /** Every body the page POSTed to /auth/passkeys/login/verify, as sent. */
  const verifyBodies: string[] = [];
  const errors: string[] = [];

  const html = (script: string, base: string) =>
    `<!doctype html><html><head><meta charset="utf-8"><script>window.LATCHKEY_BASE=${JSON.stringify(base)}</script><script>${script}</script></head><body></body></html>`;

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
    const otherPort = await freePort();
    origin = `http://localhost:${port}`;
    otherOrigin = `http://localhost:${otherPort}`;
    dir = await mkdtemp(join(tmpdir(), 'latchkey-browser-passkeys-'));
    latchkey = await createLatchkey({
      ...loadConfig({}),
      databaseUrl: `sqlite:${join(dir, 'latchkey.db')}`,
      secret: new Uint8Array(randomBytes(32)),
      issuer: 'http://localhost:3000',
      allowedOrigins: [origin],
      cookieSecure: true,
      rateLimits: { ...loadConfig({}).rateLimits, enabled: false },
      keyReloadIntervalMs: 0,
      now: Date.now,
    });
    expect(latchkey.config.webauthnRpId).toBe('localhost');
    app = await buildServer({ latchkey, logLevel: 'silent' });
    app.get('/passkeys-test.html', async (_request, reply) => reply.type('text/html; charset=utf-8').send(html(script, origin)));
    await app.listen({ port, host: '127.0.0.1' });
    // The attacker's page: same host name (so the same RP id), another port — an origin the server does not allow.
    phishing = createHttpServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(html(script, otherOrigin));
    });
    await new Promise<void>((resolve) => phishing.listen(otherPort, '127.0.0.1', resolve));
    client = new TestClient(`http://127.0.0.1:${port}`);
    expect((await client.post('/auth/register', { body: { email, password: PASSWORD } })).status).toBe(201);
    browser = await launchChromium();
    context = await browser.newContext();
    page = await openPage(`${origin}/passkeys-test.html`);
    authenticator = await withAuthenticator(context, page);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => phishing?.close(resolve));
    await app?.close();
    await latchkey?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function openPage(url: string): Promise<Page> {
    const opened = await context.newPage();
    opened.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
    opened.on('request', (request) => {
      if (request.method() === 'POST' && request.url().endsWith('/auth/passkeys/login/verify')) verifyBodies.push(request.postData() ?? '');
    });
    await opened.goto(url);
    await opened.waitForFunction(() => typeof (window as unknown as Win).auth === 'object');
    return opened;
  }

  const tokenClaims = async (on: Page) => claimsOf((await on.evaluate(() => (window as unknown as Win).auth.getAccessToken()))!);
  const signInWithPasskey = (on: Page) =>
    on.evaluate(async () => {
      const w = window as unknown as Win;
      try {
        await w.passkeys.signInWithPasskey();
        return 'ok';
      } catch (error) {
        return String((error as { code?: string }).code ?? error);
      }
    });
  const credentials = async (): Promise<VirtualCredential[]> =>
    (await authenticator.cdp.send('WebAuthn.getCredentials', { authenticatorId: authenticator.authenticatorId })).credentials as VirtualCredential[];
  const auditTypes = async (type: string) => (await latchkey.store.listAudit({ limit: 1000 })).filter((e) => e.type === type);

  it('register a passkey (a discoverable credential with a random user handle), sign out, sign in usernameless: amr [hwk], acr aal2', async () => {
    expect(await page.evaluate(([e, p]) => (window as unknown as Win).auth.login(e!, p!), [email, PASSWORD])).toEqual({ mfaRequired: false });
    const passkey = await page.evaluate(() => {
      const w = window as unknown as Win;
      return w.passkeys.registerPasskey({ name: 'Virtual' });
    });
    expect(passkey).toMatchObject({ id: expect.any(String), name: 'Virtual' });
    const [stored] = await credentials();
    expect(stored).toMatchObject({ isResidentCredential: true, rpId: 'localhost' });
    expect(Buffer.from(stored!.userHandle, 'base64').toString('utf8')).not.toContain(email);
    expect(Buffer.from(stored!.userHandle, 'base64')).toHaveLength(32);

    await page.evaluate(() => (window as unknown as Win).auth.logout());
    expect(await page.evaluate(() => (window as unknown as Win).auth.signedIn)).toBe(false);
    expect(await signInWithPasskey(page)).toBe('ok');
    expect(await tokenClaims(page)).toMatchObject({ amr: ['hwk'], acr: 'aal2' });
    const body = JSON.parse(verifyBodies.at(-1)!) as { response: { userHandle?: string }; mfaToken?: string };
    expect(body.mfaToken).toBeUndefined();
    expect(body.response.userHandle).toEqual(expect.any(String));
    expect((await auditTypes('login_success')).at(-1)?.detail).toEqual({ method: 'passkey' });
  });

  it('a replayed assertion — the one the page sent, posted again from Node — is refused', async () => {
    const captured = verifyBodies.at(-1)!;
    const replay = await client.post('/auth/passkeys/login/verify', {
      rawBody: captured,
      headers: { 'content-type': 'application/json', 'x-latchkey-transport': 'body', origin },
    });
    expect({ status: replay.status, error: replay.body.error }).toEqual({ status: 401, error: 'PASSKEY_INVALID' });
    expect(replay.body.accessToken).toBeUndefined();
  });

  it('the passkey as the second factor after the password: login → mfaRequired [webauthn] → signInWithPasskey → amr [pwd, hwk]', async () => {
    await page.evaluate(() => (window as unknown as Win).auth.logout());
    const step = await page.evaluate(([e, p]) => (window as unknown as Win).auth.login(e!, p!), [email, PASSWORD]);
    expect(step).toEqual({ mfaRequired: true, factors: ['webauthn'] });
    expect(await page.evaluate(() => (window as unknown as Win).auth.signedIn)).toBe(false);
    expect(await signInWithPasskey(page)).toBe('ok');
    expect(await tokenClaims(page)).toMatchObject({ amr: ['pwd', 'hwk'], acr: 'aal2' });
    expect(JSON.parse(verifyBodies.at(-1)!).mfaToken).toEqual(expect.any(String));
  });

  it('an assertion made on another origin of the same host (not allowed) is refused', async () => {
    const attacker = await openPage(`${otherOrigin}/`);
    const theirs = await withAuthenticator(context, attacker);
    // The victim's credential, in the authenticator the phishing page talks to.
    const [credential] = await credentials();
    await theirs.cdp.send('WebAuthn.addCredential', {
      authenticatorId: theirs.authenticatorId,
      credential: { ...credential!, signCount: credential!.signCount + 10 },
    });
    const options = await client.post('/auth/passkeys/login/options', { body: {} });
    const assertion = (await attacker.evaluate((o) => (window as unknown as Win).assertFor(o), options.body)) as Record<string, unknown>;
    const clientData = JSON.parse(Buffer.from((assertion.response as { clientDataJSON: string }).clientDataJSON, 'base64url').toString('utf8'));
    expect(clientData).toMatchObject({ type: 'webauthn.get', origin: otherOrigin, challenge: options.body.challenge });
    const res = await client.post('/auth/passkeys/login/verify', { body: assertion, headers: { 'x-latchkey-transport': 'body' } });
    expect({ status: res.status, error: res.body.error }).toEqual({ status: 401, error: 'PASSKEY_INVALID' });
    await attacker.close();
  });

  it('a cloned authenticator with a lower sign counter is refused and audited passkey_counter_regression', async () => {
    const [credential] = await credentials();
    expect(credential!.signCount).toBeGreaterThanOrEqual(2);
    const clone = await openPage(`${origin}/passkeys-test.html`);
    const cloned = await withAuthenticator(context, clone);
    await cloned.cdp.send('WebAuthn.addCredential', { authenticatorId: cloned.authenticatorId, credential: { ...credential!, signCount: 0 } });
    await clone.evaluate(() => (window as unknown as Win).auth.logout().catch(() => undefined));
    expect(await signInWithPasskey(clone)).toBe('PASSKEY_INVALID');
    const [regression] = await auditTypes('passkey_counter_regression');
    expect(regression?.detail).toMatchObject({ presented: 1, stored: credential!.signCount });
    // The genuine authenticator still signs in.
    expect(await signInWithPasskey(page)).toBe('ok');
    await clone.close();
  });

  it('removal (aal2 session): the list is empty and the passkey signs no one in any more', async () => {
    const result = await page.evaluate(async () => {
      const w = window as unknown as Win;
      const [first] = await w.passkeys.listPasskeys();
      await w.passkeys.removePasskey(first!.id);
      return (await w.passkeys.listPasskeys()).length;
    });
    expect(result).toBe(0);
    await page.evaluate(() => (window as unknown as Win).auth.logout());
    expect(await signInWithPasskey(page)).toBe('PASSKEY_INVALID');
    expect((await auditTypes('passkey_removed')).length).toBe(1);
    // Without a factor the password signs in at once again.
    expect(await page.evaluate(([e, p]) => (window as unknown as Win).auth.login(e!, p!), [email, PASSWORD])).toEqual({ mfaRequired: false });
    expect(errors).toEqual([]);
  });
});

describe.runIf(run)('the demo page: TOTP with its QR code, the second step, passkeys', () => {
  let server: BrowserServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startBrowserServer();
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('enrol TOTP (QR rendered under the CSP), sign in again through the second step, add a passkey, sign in with it', async () => {
    const context = await browser.newContext();
    const problems: PageProblems = { errors: [] };
    const page = await openDemo(context, server.baseUrl, problems);
    page.setDefaultTimeout(10_000);
    await withAuthenticator(context, page);
    const email = `demo-mfa-${Date.now()}@example.com`;
    await page.getByTestId('email').fill(email);
    await page.getByTestId('password').fill(PASSWORD);
    await page.getByTestId('register').click();
    await page.getByTestId('factors').waitFor();

    await page.getByTestId('totp-password').fill(PASSWORD);
    await page.getByTestId('totp-enroll').click();
    await page.getByTestId('totp-setup').waitFor();
    const secret = await page.getByTestId('totp-secret').textContent();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    // The QR code is an image the browser decoded (a data: SVG, the one image source the CSP allows).
    const qr = await page
      .getByTestId('totp-qr')
      .evaluate((img: HTMLImageElement) => ({ src: img.src.slice(0, 24), width: img.naturalWidth, ok: img.complete }));
    expect(qr).toMatchObject({ src: 'data:image/svg+xml;chars', ok: true });
    expect(qr.width).toBeGreaterThan(0);
    await page.screenshot({ path: 'test-results/demo-totp.png', fullPage: true });
    await page.getByTestId('totp-code').fill(totpCodeOf(secret!, Date.now()));
    await page.getByTestId('totp-confirm').click();
    await page.getByTestId('recovery').waitFor();
    const codes = await page.getByTestId('recovery-codes').locator('li').allTextContents();
    expect(codes).toHaveLength(10);

    // Sign out, sign in: the password alone is not enough any more.
    await page.getByTestId('logout').click();
    await page.getByTestId('password').fill(PASSWORD);
    await page.getByTestId('login').click();
    await page.getByTestId('mfa-step').waitFor();
    expect(await page.getByTestId('mfa-factors').textContent()).toBe('totp');
    expect(await page.getByTestId('status').textContent()).toBe('signed out');
    await page.getByTestId('mfa-code').fill('000000');
    await page.getByTestId('mfa-verify').click();
    await page.getByText('INVALID_MFA_CODE').waitFor();
    await page.getByTestId('mfa-code').fill(codes[0]!);
    await page.getByTestId('mfa-recovery').check();
    await page.getByTestId('mfa-verify').click();
    await page.getByTestId('factors').waitFor();
    expect(await page.getByTestId('token-payload').textContent()).toContain('"aal2"');

    // aal2 now: a passkey may be added; then it signs in without e-mail or password.
    await page.getByTestId('passkey-add').click();
    await page
      .getByTestId('passkey')
      .first()
      .waitFor()
      .catch(async (error: unknown) => {
        throw new Error(`${String(error)}; page error: ${await page.getByTestId('error').textContent()}; ${problems.errors.join(' | ')}`);
      });
    await page.getByTestId('logout').click();
    await page.getByTestId('passkey-login').click();
    await page.getByTestId('factors').waitFor();
    const payload = JSON.parse((await page.getByTestId('token-payload').textContent())!) as { amr: string[]; acr: string };
    expect(payload).toMatchObject({ amr: ['hwk'], acr: 'aal2' });
    await page.screenshot({ path: 'test-results/demo-passkey.png', fullPage: true });
    expect(problems.errors).toEqual([]);
    await context.close();
  });
});

/** RFC 6238 (HMAC-SHA-1, 6 digits, 30 s) from the base32 secret the page showed, computed here. */
function totpCodeOf(secret: string, nowMs: number): string {
  const key = base32Decode(secret);
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(nowMs / 30_000)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[19]! & 0xf;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}
