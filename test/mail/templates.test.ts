/** Mail templates: built-in set, overrides from a directory, escaping, one-line values. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { loadTemplates, MAIL_KINDS, renderMail } from '../../src/mail/templates.js';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('mail templates', () => {
  it('every built-in mail renders a subject, a text and an HTML body with its values', async () => {
    const set = await loadTemplates();
    for (const kind of MAIL_KINDS) {
      const mail = renderMail(set[kind], {
        appName: 'Acme',
        email: 'a@example.test',
        newEmail: 'b@example.test',
        link: 'https://acme.test/x#token=T',
        expiresIn: '15 minutes',
      });
      expect(mail.subject.length).toBeGreaterThan(0);
      expect(mail.text).toContain('a@example.test');
      expect(mail.html).toMatch(/^<!doctype html>/);
      if (set[kind].text.includes('{{link}}')) {
        expect(mail.text).toContain('https://acme.test/x#token=T');
        expect(mail.html).toContain('href="https://acme.test/x#token=T"');
      }
      expect(mail.text).not.toMatch(/\{\{/);
      expect(mail.html).not.toMatch(/\{\{/);
    }
  });

  it('escapes values in the HTML body, not in the text body', async () => {
    const set = await loadTemplates();
    const mail = renderMail(set.register_attempt, { appName: 'A', email: '"><script>alert(1)</script>@example.test' });
    expect(mail.html).not.toContain('<script>');
    expect(mail.html).toContain('&lt;script&gt;');
    expect(mail.text).toContain('<script>');
  });

  it('refuses a value with CR or LF (no header or body injection through a value)', async () => {
    const set = await loadTemplates();
    expect(() => renderMail(set.test, { appName: 'A', email: 'a@example.test\r\nBcc: evil@example.test' })).toThrow(/several lines/);
  });

  it('a template directory replaces mails one by one; unknown placeholders and a missing Subject line are refused at load', async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-templates-'));
    await writeFile(join(dir, 'reset_password.txt'), 'Subject: Acme password reset\n\nHello {{email}}, go to {{link}}\n');
    await writeFile(join(dir, 'reset_password.html'), '<p>Hello {{email}}, <a href="{{link}}">reset</a></p>');
    const set = await loadTemplates(dir);
    const mail = renderMail(set.reset_password, { appName: 'A', email: 'a@example.test', link: 'https://x.test/#token=1', expiresIn: '1 h' });
    expect(mail).toEqual({
      subject: 'Acme password reset',
      text: 'Hello a@example.test, go to https://x.test/#token=1\n',
      html: '<p>Hello a@example.test, <a href="https://x.test/#token=1">reset</a></p>',
    });
    expect(set.verify_email.subject).toBe('Confirm your e-mail address');

    await writeFile(join(dir, 'test.html'), '<p>{{password}}</p>');
    await expect(loadTemplates(dir)).rejects.toSatisfy((e) => e instanceof ConfigError && /test\.html uses \{\{password\}\}/.test(e.message));
    await rm(join(dir, 'test.html'));
    await writeFile(join(dir, 'test.txt'), 'no subject line here\n');
    await expect(loadTemplates(dir)).rejects.toSatisfy((e) => e instanceof ConfigError && /Subject/.test(e.message));
  });
});
