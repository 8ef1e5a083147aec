/**
 * E-mail verification, password recovery and address change over HTTP, with the mails
 * received by a real SMTP server (smtp-server on a loopback port) and their links followed
 * the way a browser would (the token from the URL fragment). On SQLite and PostgreSQL.
 */
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, cookieHeader, expectError, PASSWORD } from '../http/contract.js';
import { startTestServer, type TestServer, type TestServerOptions } from '../helpers/server.js';
import { startSmtp, type ReceivedMail, type TestSmtp } from '../helpers/smtp.js';
import { describePostgres } from '../helpers/postgres.js';

let smtp: TestSmtp;
beforeAll(async () => {
  smtp = await startSmtp();
});
afterAll(async () => {
  await smtp.stop();
});

let counter = 0;
const address = (tag = 'u') => `${tag}${Date.now()}-${counter++}@example.test`;
const NEW_PASSWORD = 'a completely new passphrase 42';

/** The mail to `to` whose subject matches, once it has arrived. */
async function mailTo(to: string, subject: RegExp, timeoutMs = 20_000): Promise<ReceivedMail> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = smtp.received.find((m) => m.rcptTo.includes(to) && subject.test(m.parsed.subject ?? ''));
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no mail "${subject}" to ${to} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
const mailsTo = (to: string, subject: RegExp) => smtp.received.filter((m) => m.rcptTo.includes(to) && subject.test(m.parsed.subject ?? ''));

/** The token of the link in a mail, read from both parts (they must agree), as a browser would: from the fragment. */
function tokenOf(mail: ReceivedMail, page: 'reset-password' | 'verify-email'): string {
  const fromText = new RegExp(`(https?://[^\\s]+/auth/${page}#token=[A-Za-z0-9_-]+)`).exec(mail.parsed.text ?? '')?.[1];
  const fromHtml = new RegExp(`href="(https?://[^"]+/auth/${page}#token=[A-Za-z0-9_-]+)"`).exec(String(mail.parsed.html))?.[1];
  expect(fromText).toBeDefined();
  expect(fromHtml).toBe(fromText);
  const url = new URL(fromText!);
  expect(url.search).toBe('');
  return new URLSearchParams(url.hash.slice(1)).get('token')!;
}

function runEmailFlows(label: string, extra: TestServerOptions) {
  describe(`e-mail flows (${label})`, () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await startTestServer({ ...extra, smtpUrl: smtp.url, issuer: 'http://localhost:3000' });
    });
    afterAll(async () => {
      await t?.close();
    });

    it('registration sends a verification mail; its link verifies the address once', async () => {
      const email = address('verify');
      const user = await signUp(t.client, email);
      expect((await t.client.get('/auth/me', { bearer: user.accessToken })).body).toMatchObject({ email, emailVerified: false });
      const mail = await mailTo(email, /Confirm your e-mail/);
      expect(mail.parsed.text).toContain(email);
      const token = tokenOf(mail, 'verify-email');
      const verified = await t.client.post('/auth/email/verify', { body: { token } });
      expect(verified.status).toBe(200);
      expect(verified.body.user).toMatchObject({ email, emailVerified: true });
      expect((await t.client.get('/auth/me', { bearer: user.accessToken })).body.emailVerified).toBe(true);
      expectError(await t.client.post('/auth/email/verify', { body: { token } }), 400, 'LINK_INVALID');
    });

    it('forgot → reset mail → reset: every session ends, the new password signs in, a notice arrives, the link is spent', async () => {
      const email = address('reset');
      const first = await signUp(t.client, email);
      const sessions = [first];
      for (let i = 0; i < 4; i++) {
        const login = await t.client.post('/auth/login', { body: { email, password: PASSWORD } });
        sessions.push({ ...first, refreshToken: login.cookies.find((c) => c.name === '__Secure-refreshToken')!.value });
      }
      const forgot = await t.client.post('/auth/password/forgot', { body: { email } });
      expect(forgot.status).toBe(202);
      const token = tokenOf(await mailTo(email, /Reset your password/), 'reset-password');

      const reset = await t.client.post('/auth/password/reset', { body: { token, newPassword: NEW_PASSWORD } });
      expect(reset.status).toBe(200);
      for (const s of sessions)
        expectError(await t.client.post('/auth/refresh', { cookie: cookieHeader(s.refreshToken) }), 401, 'INVALID_REFRESH_TOKEN');
      expectError(await t.client.post('/auth/login', { body: { email, password: PASSWORD } }), 401, 'INVALID_CREDENTIALS');
      expect((await t.client.post('/auth/login', { body: { email, password: NEW_PASSWORD } })).status).toBe(200);
      await mailTo(email, /password was changed/);
      expectError(await t.client.post('/auth/password/reset', { body: { token, newPassword: `${NEW_PASSWORD}!` } }), 400, 'LINK_INVALID');
      const audit = (await t.latchkey.store.listAudit({ limit: 1000 })).map((e) => e.type);
      expect(audit).toContain('password_reset');
      expect(JSON.stringify(await t.latchkey.store.listAudit({ limit: 1000 }))).not.toContain(token);
    });

    it('20 parallel resets with one token → exactly one 200, 19 × 400 LINK_INVALID', async () => {
      const email = address('race');
      await signUp(t.client, email);
      await t.client.post('/auth/password/forgot', { body: { email } });
      const token = tokenOf(await mailTo(email, /Reset your password/), 'reset-password');
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => t.client.post('/auth/password/reset', { body: { token, newPassword: `${NEW_PASSWORD} ${i}` } })),
      );
      expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
      for (const a of answers.filter((x) => x.status !== 200)) expectError(a, 400, 'LINK_INVALID');
    });

    it('20 parallel verifications with one token → exactly one 200', async () => {
      const email = address('vrace');
      await signUp(t.client, email);
      const token = tokenOf(await mailTo(email, /Confirm your e-mail/), 'verify-email');
      const answers = await Promise.all(Array.from({ length: 20 }, () => t.client.post('/auth/email/verify', { body: { token } })));
      expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
      for (const a of answers.filter((x) => x.status !== 200)) expectError(a, 400, 'LINK_INVALID');
    });

    it('a second forgot voids the first link; a weak password leaves the link usable; an expired link is refused', async () => {
      const email = address('void');
      await signUp(t.client, email);
      await t.client.post('/auth/password/forgot', { body: { email } });
      const firstToken = tokenOf(await mailTo(email, /Reset your password/), 'reset-password');
      await t.client.post('/auth/password/forgot', { body: { email } });
      await smtp.waitFor(smtp.received.length); // settle
      const deadline = Date.now() + 20_000;
      while (mailsTo(email, /Reset your password/).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      const secondToken = tokenOf(mailsTo(email, /Reset your password/)[1]!, 'reset-password');
      expect(secondToken).not.toBe(firstToken);
      expectError(await t.client.post('/auth/password/reset', { body: { token: firstToken, newPassword: NEW_PASSWORD } }), 400, 'LINK_INVALID');
      expectError(await t.client.post('/auth/password/reset', { body: { token: secondToken, newPassword: 'short' } }), 422, 'WEAK_PASSWORD');
      t.clock.advance(901 * 1000);
      expectError(await t.client.post('/auth/password/reset', { body: { token: secondToken, newPassword: NEW_PASSWORD } }), 400, 'LINK_INVALID');
    });

    it('forgot answers the same for known, unknown, malformed and CR/LF addresses; only known ones get a mail, at most 3 per 15 min', async () => {
      const email = address('cap');
      await signUp(t.client, email);
      const bodies = new Set<string>();
      for (const candidate of [email, address('nobody'), 'not an address', `${email}\r\nBcc: evil@example.test`]) {
        const answer = await t.client.post('/auth/password/forgot', { body: { email: candidate } });
        expect(answer.status).toBe(202);
        bodies.add(answer.text);
      }
      expect(bodies.size).toBe(1);
      for (let i = 0; i < 3; i++) await t.client.post('/auth/password/forgot', { body: { email } });
      await t.latchkey.email.drain();
      await new Promise((r) => setTimeout(r, 500));
      expect(mailsTo(email, /Reset your password/)).toHaveLength(3);
      expect(smtp.received.some((m) => m.rcptTo.includes('evil@example.test') || /Bcc: evil/i.test(m.raw))).toBe(false);
      expectError(await t.client.post('/auth/password/forgot', { body: { email: 42 } }), 400, 'VALIDATION_FAILED');
    });

    it('address change: wrong password 401, taken 409; the link goes to the new address, a notice to the old; confirming switches it', async () => {
      const email = address('old');
      const user = await signUp(t.client, email);
      const taken = address('taken');
      await signUp(t.client, taken);
      const next = address('new');
      expectError(
        await t.client.post('/auth/email/change', { bearer: user.accessToken, body: { newEmail: next, currentPassword: 'wrong password!!' } }),
        401,
        'INVALID_CREDENTIALS',
      );
      expectError(
        await t.client.post('/auth/email/change', { bearer: user.accessToken, body: { newEmail: taken, currentPassword: PASSWORD } }),
        409,
        'EMAIL_TAKEN',
      );
      const started = await t.client.post('/auth/email/change', { bearer: user.accessToken, body: { newEmail: next, currentPassword: PASSWORD } });
      expect(started.status).toBe(202);
      const notice = await mailTo(email, /being changed/);
      expect(notice.parsed.text).toContain(next);
      const token = tokenOf(await mailTo(next, /Confirm your new e-mail/), 'verify-email');
      const confirmed = await t.client.post('/auth/email/verify', { body: { token } });
      expect(confirmed.body.user).toMatchObject({ email: next, emailVerified: true });
      expect((await t.client.post('/auth/login', { body: { email: next, password: PASSWORD } })).status).toBe(200);
      expectError(await t.client.post('/auth/login', { body: { email, password: PASSWORD } }), 401, 'INVALID_CREDENTIALS');
    });

    it('resend sends a new verification link and voids the old one; nothing for a verified account', async () => {
      const email = address('resend');
      const user = await signUp(t.client, email);
      const first = tokenOf(await mailTo(email, /Confirm your e-mail/), 'verify-email');
      expect((await t.client.post('/auth/email/verify/resend', { bearer: user.accessToken })).status).toBe(202);
      const deadline = Date.now() + 20_000;
      while (mailsTo(email, /Confirm your e-mail/).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      const second = tokenOf(mailsTo(email, /Confirm your e-mail/)[1]!, 'verify-email');
      expectError(await t.client.post('/auth/email/verify', { body: { token: first } }), 400, 'LINK_INVALID');
      expect((await t.client.post('/auth/email/verify', { body: { token: second } })).status).toBe(200);
      expect((await t.client.post('/auth/email/verify/resend', { bearer: user.accessToken })).status).toBe(202);
      await new Promise((r) => setTimeout(r, 500));
      expect(mailsTo(email, /Confirm your e-mail/)).toHaveLength(2);
    });

    it('the link pages: GET changes nothing whatever the query, strict CSP, no referrer', async () => {
      const email = address('page');
      await signUp(t.client, email);
      await t.client.post('/auth/password/forgot', { body: { email } });
      const token = tokenOf(await mailTo(email, /Reset your password/), 'reset-password');
      for (const path of ['/auth/reset-password', `/auth/reset-password?token=${token}`, '/auth/verify-email']) {
        const page = await t.client.get(path);
        expect(page.status).toBe(200);
        expect(page.headers.get('content-type')).toMatch(/^text\/html/);
        expect(page.headers.get('referrer-policy')).toBe('no-referrer');
        const csp = page.headers.get('content-security-policy')!;
        for (const directive of ["default-src 'none'", "connect-src 'self'", "form-action 'none'", "frame-ancestors 'none'"])
          expect(csp).toContain(directive);
        expect(csp).not.toContain('unsafe-inline');
      }
      expect((await t.client.post('/auth/password/reset', { body: { token, newPassword: NEW_PASSWORD } })).status).toBe(200);
    });
  });
}

runEmailFlows('SQLite', {});
await describePostgres('PostgreSQL', () => {
  runEmailFlows('PostgreSQL', { postgres: true });
});

describe('a database copied after a forgot request holds no usable token', () => {
  let t: TestServer;
  let dir: string;
  afterAll(async () => {
    await t?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('no string in any column of any table is accepted by /auth/password/reset or /auth/email/verify', async () => {
    t = await startTestServer({ smtpUrl: smtp.url });
    dir = await mkdtemp(join(tmpdir(), 'latchkey-dump-'));
    const email = address('dump');
    await signUp(t.client, email);
    await t.client.post('/auth/password/forgot', { body: { email } });
    await mailTo(email, /Reset your password/);
    const copy = join(dir, 'copy.db');
    await copyFile(join(t.dir, 'latchkey.db'), copy);
    for (const suffix of ['-wal', '-shm']) await copyFile(join(t.dir, `latchkey.db${suffix}`), `${copy}${suffix}`).catch(() => undefined);
    const db = new BetterSqlite3(copy, { readonly: true });
    const strings = new Set<string>();
    const tables = db.prepare("select name from sqlite_master where type = 'table'").all() as { name: string }[];
    for (const { name } of tables) {
      for (const row of db.prepare(`select * from "${name}"`).all() as Record<string, unknown>[]) {
        for (const value of Object.values(row))
          if (typeof value === 'string') for (const part of value.split(/[.:"{},\s]/)) if (part) strings.add(part);
      }
    }
    db.close();
    expect(strings.size).toBeGreaterThan(10);
    for (const candidate of strings) {
      if (candidate.length > 256) continue;
      const reset = await t.client.post('/auth/password/reset', { body: { token: candidate, newPassword: NEW_PASSWORD } });
      expect(reset.status, candidate).toBe(400);
      const verify = await t.client.post('/auth/email/verify', { body: { token: candidate } });
      expect(verify.status, candidate).toBe(400);
    }
  }, 120_000);
});

describe('LATCHKEY_REQUIRE_EMAIL_VERIFICATION=true', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ smtpUrl: smtp.url, requireEmailVerification: true });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('an unverified account gets 403 EMAIL_NOT_VERIFIED only after a correct password; verified, it signs in', async () => {
    const email = address('req');
    expect((await t.client.post('/auth/register', { body: { email, password: PASSWORD } })).status).toBe(201);
    expectError(await t.client.post('/auth/login', { body: { email, password: 'wrong password!!' } }), 401, 'INVALID_CREDENTIALS');
    expectError(await t.client.post('/auth/login', { body: { email, password: PASSWORD } }), 403, 'EMAIL_NOT_VERIFIED');
    const token = tokenOf(await mailTo(email, /Confirm your e-mail/), 'verify-email');
    expect((await t.client.post('/auth/email/verify', { body: { token } })).status).toBe(200);
    expect((await t.client.post('/auth/login', { body: { email, password: PASSWORD } })).status).toBe(200);
  });

  it('registering a taken address answers like a new one; the owner gets a mail, nobody an account', async () => {
    const email = address('taken');
    const first = await t.client.post('/auth/register', { body: { email, password: PASSWORD } });
    const second = await t.client.post('/auth/register', { body: { email, password: 'another passphrase 99' } });
    expect(second.status).toBe(first.status);
    expect(Object.keys(second.body.user).sort()).toEqual(Object.keys(first.body.user).sort());
    expect(second.body.user).toMatchObject({ email, role: 'user', emailVerified: false });
    expect(second.body.user.id).not.toBe(first.body.user.id);
    await mailTo(email, /tried to register/);
    expectError(await t.client.post('/auth/login', { body: { email, password: 'another passphrase 99' } }), 401, 'INVALID_CREDENTIALS');
  });
});
