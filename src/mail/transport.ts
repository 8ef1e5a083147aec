/**
 * Where mails go: an SMTP server (`LATCHKEY_SMTP_URL`, through nodemailer), or, with none
 * configured, the dev outbox — one `.eml` file per mail, mode 0600, in a 0700 directory — so
 * that a first run shows the whole flow without a mail server (docs/email.md).
 */
import { mkdir, writeFile, chmod } from 'node:fs/promises';
import { isIP } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import type { Transporter } from 'nodemailer';
import { ConfigError } from '../errors.js';
import type { RenderedMail } from './templates.js';

export interface OutgoingMail extends RenderedMail {
  /** The queue id; also the Message-ID, so a receiver can drop a duplicate. */
  id: string;
  kind: string;
  to: string;
}

export interface MailTransport {
  /** `smtp` or `outbox`, for logs. */
  readonly kind: 'smtp' | 'outbox';
  /** The outbox directory (absolute), when `kind` is `outbox`. */
  readonly outboxDir?: string;
  /** Resolves once the server accepted the mail (SMTP 250) or the file is written. */
  send(mail: OutgoingMail): Promise<{ file?: string }>;
  close(): void;
}

export interface TransportOptions {
  /** `smtp://user:pass@host:port` or `smtps://…`; unset: the dev outbox. */
  smtpUrl?: string | undefined;
  from: string;
  outboxDir: string;
  /** Socket-level timeouts of SMTP, ms (connection, greeting, idle socket). Default 10 000. */
  timeoutMs?: number;
}

/** The dev outbox of a database: `outbox/` next to the SQLite file; `./data/outbox` otherwise. */
export function outboxDirFor(databaseUrl: string): string {
  if (!databaseUrl.startsWith('sqlite:')) return resolve('data', 'outbox');
  const file = databaseUrl.slice('sqlite:'.length);
  return file === '' || file === ':memory:' ? resolve('data', 'outbox') : join(dirname(resolve(file)), 'outbox');
}

const isLoopback = (host: string) => host === 'localhost' || host === '::1' || host === '[::1]' || (isIP(host) === 4 && host.startsWith('127.'));

/** Checks an SMTP URL the way the environment is checked (ConfigError naming the variable, never echoing the URL). */
function parseSmtpUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError('LATCHKEY_SMTP_URL', 'must be a URL such as smtp://user:pass@host:587 or smtps://host:465');
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') throw new ConfigError('LATCHKEY_SMTP_URL', 'must start with smtp:// or smtps://');
  if (!url.hostname) throw new ConfigError('LATCHKEY_SMTP_URL', 'has no host');
  return url;
}

/**
 * A nodemailer transporter made on first use: nodemailer takes ~40–80 ms to load, which
 * `import 'latchkey'` should not pay (bench/import-time.mjs) — a server sends its first mail later.
 */
function lazyTransporter(make: (nodemailer: typeof import('nodemailer')['default']) => Transporter): { get(): Promise<Transporter>; close(): void } {
  let made: Promise<Transporter> | undefined;
  return {
    get: () => (made ??= import('nodemailer').then((module) => make(module.default))),
    close: () => {
      void made?.then((t) => t.close());
    },
  };
}

export function createMailTransport(options: TransportOptions): MailTransport {
  const timeout = options.timeoutMs ?? 10_000;
  // The outbox whenever no SMTP URL is set, whatever NODE_ENV: production is not guessed from the
  // environment (a warning at start says where the mails go; docs/email.md).
  if (!options.smtpUrl) return outboxTransport(resolve(options.outboxDir), options.from);
  const url = parseSmtpUrl(options.smtpUrl);
  const secure = url.protocol === 'smtps:';
  const host = url.hostname;
  const auth = url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : undefined;
  const transporter = lazyTransporter((nodemailer) =>
    nodemailer.createTransport({
      host,
      port: url.port ? Number(url.port) : secure ? 465 : 587,
      secure,
      // Credentials travel only over TLS: STARTTLS is required unless the server is this machine.
      requireTLS: !secure && auth !== undefined && !isLoopback(host),
      ...(auth ? { auth } : {}),
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: 3 * timeout,
      disableFileAccess: true,
      disableUrlAccess: true,
    }),
  );
  return {
    kind: 'smtp',
    async send(mail) {
      await (await transporter.get()).sendMail(message(options.from, mail));
      return {};
    },
    close: () => transporter.close(),
  };
}

function message(from: string, mail: OutgoingMail) {
  return {
    from,
    to: mail.to,
    subject: mail.subject,
    text: mail.text,
    html: mail.html,
    messageId: `<${mail.id}@latchkey>`,
    disableFileAccess: true,
    disableUrlAccess: true,
  };
}

function outboxTransport(dir: string, from: string): MailTransport {
  const composer = lazyTransporter((nodemailer) => nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' }));
  return {
    kind: 'outbox',
    outboxDir: dir,
    async send(mail) {
      const info = await (await composer.get()).sendMail(message(from, mail));
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${mail.kind}-${mail.id}.eml`);
      // `wx`: a retry after a crash between the write and the queue update makes a second
      // file only if the first is gone; mode 0600 whatever the umask.
      await writeFile(file, info.message as Buffer, { mode: 0o600, flag: 'wx' });
      await chmod(file, 0o600);
      return { file };
    },
    close: () => composer.close(),
  };
}
