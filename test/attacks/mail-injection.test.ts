/**
 * Hostile addresses against everything that reaches a mail: look-alike `＠` (U+FF20), fullwidth
 * letters, zero-width characters, 10 KB addresses and header injection (`\r\nBcc:`) in register,
 * forgot and address change. Each is refused with 400 VALIDATION_FAILED (forgot: the usual 202 and
 * no mail); the real SMTP server never sees an injected header or an extra recipient, and one
 * normalised address never gets a second account.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectError, PASSWORD, signUp } from '../http/contract.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';

let smtp: TestSmtp;
let t: TestServer;
beforeAll(async () => {
  smtp = await startSmtp();
  t = await startTestServer({ smtpUrl: smtp.url });
});
afterAll(async () => {
  await t?.close();
  await smtp?.stop();
});

const HOSTILE = (base: string) => [
  `${base}\r\nBcc: evil@attacker.test`,
  `${base}\nBcc: evil@attacker.test`,
  `${base.replace('@', '\uFF20')}`,
  `${base.replace(/^./, '\uFF41')}`,
  `${base.replace('@', '\u200B@')}`,
  `${'a'.repeat(10_240)}@example.test`,
  `evil@attacker.test,${base}`,
];

describe('hostile addresses never reach a mail header', () => {
  it('register, forgot and address change refuse them; nothing is sent to an injected recipient', async () => {
    const victim = `victim${Date.now()}@example.test`;
    const user = await signUp(t.client, victim);
    for (const address of HOSTILE(`new${Date.now()}@example.test`)) {
      expectError(await t.client.post('/auth/register', { body: { email: address, password: PASSWORD } }), 400, 'VALIDATION_FAILED');
      expectError(
        await t.client.post('/auth/email/change', { bearer: user.accessToken, body: { newEmail: address, currentPassword: PASSWORD } }),
        400,
        'VALIDATION_FAILED',
      );
    }
    for (const address of HOSTILE(victim)) {
      const forgot = await t.client.post('/auth/password/forgot', { body: { email: address } });
      expect(forgot.status).toBe(202);
    }
    await t.latchkey.email.drain();
    await new Promise((r) => setTimeout(r, 500));
    for (const mail of smtp.received) {
      expect(mail.rcptTo.every((r) => !r.includes('attacker.test'))).toBe(true);
      expect(mail.raw).not.toMatch(/^Bcc:/im);
      expect(mail.parsed.headers.has('bcc')).toBe(false);
    }
    // Only the victim's own verification mail went out, to the victim.
    expect(smtp.received.filter((m) => m.rcptTo.includes(victim)).map((m) => m.parsed.subject)).toEqual(['Confirm your e-mail address']);
  }, 60_000);
});
