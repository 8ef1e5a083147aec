/**
 * The mails Latchkey sends, each a subject, a plain-text and an HTML body with `{{name}}`
 * placeholders. Values are HTML-escaped in the HTML body; CR/LF never reach a subject (a
 * placeholder value is one line). The built-in set can be overridden per mail from a
 * directory (`LATCHKEY_MAIL_TEMPLATES`, docs/email.md): `<kind>.txt` — first line
 * `Subject: …`, a blank line, the text body — and `<kind>.html`.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';

export const MAIL_KINDS = [
  'verify_email',
  'reset_password',
  'password_changed',
  'email_change_confirm',
  'email_change_notice',
  'register_attempt',
  'test',
] as const;
export type MailKind = (typeof MAIL_KINDS)[number];

export interface MailTemplate {
  subject: string;
  text: string;
  html: string;
}

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

/** The placeholders each mail may use (an override using another one is refused at start). */
const VARIABLES: Record<MailKind, readonly string[]> = {
  verify_email: ['appName', 'email', 'link', 'expiresIn'],
  reset_password: ['appName', 'email', 'link', 'expiresIn'],
  password_changed: ['appName', 'email'],
  email_change_confirm: ['appName', 'email', 'newEmail', 'link', 'expiresIn'],
  email_change_notice: ['appName', 'email', 'newEmail'],
  register_attempt: ['appName', 'email'],
  test: ['appName', 'email'],
};

const page = (body: string) =>
  `<!doctype html><html><body style="font-family:system-ui,sans-serif;line-height:1.5;max-width:36rem">${body}<p style="color:#666;font-size:.9em">— {{appName}}</p></body></html>`;
const button =
  '<p><a href="{{link}}" style="display:inline-block;padding:.6em 1.2em;background:#1f6feb;color:#fff;text-decoration:none;border-radius:6px">';

const BUILT_IN: Record<MailKind, MailTemplate> = {
  verify_email: {
    subject: 'Confirm your e-mail address',
    text: 'Confirm that {{email}} is your address by opening this link (valid for {{expiresIn}}):\n\n{{link}}\n\nIf you did not create an account, ignore this mail.\n\n— {{appName}}\n',
    html: page(
      `<p>Confirm that <b>{{email}}</b> is your address (the link is valid for {{expiresIn}}).</p>${button}Confirm my address</a></p><p>If you did not create an account, ignore this mail.</p>`,
    ),
  },
  reset_password: {
    subject: 'Reset your password',
    text: 'Someone asked to reset the password of the account {{email}}. Open this link to choose a new one (valid for {{expiresIn}}):\n\n{{link}}\n\nIf it was not you, ignore this mail: your password stays as it is.\n\n— {{appName}}\n',
    html: page(
      `<p>Someone asked to reset the password of the account <b>{{email}}</b> (the link is valid for {{expiresIn}}).</p>${button}Choose a new password</a></p><p>If it was not you, ignore this mail: your password stays as it is.</p>`,
    ),
  },
  password_changed: {
    subject: 'Your password was changed',
    text: 'The password of the account {{email}} was just changed, and every session was signed out.\n\nIf it was not you, reset your password now and contact us.\n\n— {{appName}}\n',
    html: page(
      '<p>The password of the account <b>{{email}}</b> was just changed, and every session was signed out.</p><p>If it was not you, reset your password now and contact us.</p>',
    ),
  },
  email_change_confirm: {
    subject: 'Confirm your new e-mail address',
    text: 'Confirm that {{newEmail}} should become the address of the account {{email}} by opening this link (valid for {{expiresIn}}):\n\n{{link}}\n\nIf you did not ask for this, ignore this mail.\n\n— {{appName}}\n',
    html: page(
      `<p>Confirm that <b>{{newEmail}}</b> should become the address of the account <b>{{email}}</b> (the link is valid for {{expiresIn}}).</p>${button}Confirm the new address</a></p><p>If you did not ask for this, ignore this mail.</p>`,
    ),
  },
  email_change_notice: {
    subject: 'Your e-mail address is being changed',
    text: 'Someone signed in to the account {{email}} asked to change its address to {{newEmail}}. The change happens once the new address is confirmed.\n\nIf it was not you, change your password now.\n\n— {{appName}}\n',
    html: page(
      '<p>Someone signed in to the account <b>{{email}}</b> asked to change its address to <b>{{newEmail}}</b>. The change happens once the new address is confirmed.</p><p>If it was not you, change your password now.</p>',
    ),
  },
  register_attempt: {
    subject: 'Someone tried to register with your address',
    text: 'Someone tried to create an account with {{email}}, which already has one. Nothing changed.\n\nIf it was you, sign in instead — or reset your password if you forgot it.\n\n— {{appName}}\n',
    html: page(
      '<p>Someone tried to create an account with <b>{{email}}</b>, which already has one. Nothing changed.</p><p>If it was you, sign in instead — or reset your password if you forgot it.</p>',
    ),
  },
  test: {
    subject: 'Latchkey test mail',
    text: 'This is a test mail from {{appName}} to {{email}}: mail delivery works.\n',
    html: page('<p>This is a test mail to <b>{{email}}</b>: mail delivery works.</p>'),
  },
};

export type TemplateSet = Record<MailKind, MailTemplate>;

const PLACEHOLDER = /\{\{\s*([A-Za-z]+)\s*\}\}/g;

function checkPlaceholders(kind: MailKind, source: string, where: string): void {
  for (const [, name] of source.matchAll(PLACEHOLDER)) {
    if (!VARIABLES[kind].includes(name!)) {
      throw new ConfigError(
        'LATCHKEY_MAIL_TEMPLATES',
        `${where} uses {{${name}}}; ${kind} mails know ${VARIABLES[kind].map((v) => `{{${v}}}`).join(', ')}`,
      );
    }
  }
}

/**
 * The built-in templates, with the files of `dir` (when given) replacing them mail by mail.
 * Unknown placeholders and a text file without its `Subject:` line are refused (ConfigError).
 */
export async function loadTemplates(dir?: string): Promise<TemplateSet> {
  const set = { ...BUILT_IN };
  if (!dir) return set;
  const read = async (file: string) => {
    try {
      return await readFile(join(dir, file), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new ConfigError('LATCHKEY_MAIL_TEMPLATES', `cannot read ${file} in the template directory`);
    }
  };
  for (const kind of MAIL_KINDS) {
    const [text, html] = await Promise.all([read(`${kind}.txt`), read(`${kind}.html`)]);
    let template = set[kind];
    if (text !== undefined) {
      const match = /^Subject:[ \t]*(.+)\r?\n\r?\n([\s\S]*)$/.exec(text);
      if (!match) throw new ConfigError('LATCHKEY_MAIL_TEMPLATES', `${kind}.txt must start with a "Subject: …" line and a blank line`);
      template = { ...template, subject: match[1]!.trim(), text: match[2]! };
      checkPlaceholders(kind, text, `${kind}.txt`);
    }
    if (html !== undefined) {
      checkPlaceholders(kind, html, `${kind}.html`);
      template = { ...template, html };
    }
    set[kind] = template;
  }
  return set;
}

const escapeHtml = (value: string) => value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Fills `template`; every value must be one line (a value with CR or LF is a bug upstream). */
export function renderMail(template: MailTemplate, values: Readonly<Record<string, string>>): RenderedMail {
  for (const [name, value] of Object.entries(values)) {
    if (/[\r\n]/.test(value)) throw new TypeError(`mail value ${name} spans several lines`);
  }
  const fill = (source: string, encode: (v: string) => string) => source.replace(PLACEHOLDER, (_, name: string) => encode(values[name] ?? ''));
  return { subject: fill(template.subject, (v) => v), text: fill(template.text, (v) => v), html: fill(template.html, escapeHtml) };
}
