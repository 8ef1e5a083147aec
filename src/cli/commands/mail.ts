/**
 * `latchkey mail test --to E`: sends one test mail now, through the configured transport (SMTP,
 * or the dev outbox), and says what happened. `latchkey mail outbox [--json]`: lists the mails in
 * the dev outbox, oldest first (docs/email.md).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { requireEmail } from '../../auth/email.js';
import { ApiError } from '../../errors.js';
import { EXIT, type Command, type CliIo } from '../io.js';
import { withLatchkey } from '../admin.js';

const USAGE = 'usage: latchkey mail test --to E | latchkey mail outbox [--json]\n';

/** The headers of an `.eml` file we wrote: the block before the first blank line, folded lines joined. */
function headersOf(eml: string): Record<string, string> {
  const head = eml.split(/\r?\n\r?\n/, 1)[0] ?? '';
  const headers: Record<string, string> = {};
  let last: string | undefined;
  for (const line of head.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && last) headers[last] += ` ${line.trim()}`;
    else {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      last = line.slice(0, colon).toLowerCase();
      headers[last] = line.slice(colon + 1).trim();
    }
  }
  return headers;
}

/** RFC 2047 encoded words (nodemailer encodes non-ASCII subjects) back to text. */
function decodeWords(value: string): string {
  return value.replace(/=\?utf-8\?([bq])\?([^?]*)\?=/gi, (_, encoding: string, text: string) =>
    encoding.toLowerCase() === 'b'
      ? Buffer.from(text, 'base64').toString('utf8')
      : Buffer.from(
          text.replace(/_/g, ' ').replace(/=([0-9a-f]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))),
          'latin1',
        ).toString('utf8'),
  );
}

async function listOutbox(dir: string, io: CliIo, json: boolean): Promise<number> {
  let files: string[];
  try {
    files = (await readdir(dir)).filter((f) => f.endsWith('.eml')).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    files = [];
  }
  const mails = await Promise.all(
    files.map(async (name) => {
      const file = join(dir, name);
      const headers = headersOf(await readFile(file, 'utf8'));
      return { file, date: headers.date ?? null, to: headers.to ?? null, subject: headers.subject ? decodeWords(headers.subject) : null };
    }),
  );
  if (json) io.stdout(`${JSON.stringify({ outbox: dir, mails })}\n`);
  else if (mails.length === 0) io.stdout(`The outbox ${dir} is empty.\n`);
  else for (const m of mails) io.stdout(`${m.date ?? '?'}  ${m.to ?? '?'}  ${m.subject ?? ''}\n  ${m.file}\n`);
  return EXIT.OK;
}

export const mail: Command = async (args, io) => {
  const [sub, ...rest] = args;
  let values: { to?: string; json?: boolean };
  try {
    ({ values } = parseArgs({ args: rest, options: { to: { type: 'string' }, json: { type: 'boolean' } }, strict: true }));
  } catch {
    io.stderr(USAGE);
    return EXIT.USAGE;
  }
  if (sub === 'test') {
    if (!values.to) {
      io.stderr(USAGE);
      return EXIT.USAGE;
    }
    let to: string;
    try {
      to = requireEmail(values.to);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      io.stderr('latchkey: --to must be an e-mail address\n');
      return EXIT.USAGE;
    }
    return withLatchkey(io, async (latchkey) => {
      try {
        const { file } = await latchkey.mail.sendNow('test', to, {});
        io.stdout(`${JSON.stringify({ sent: true, transport: latchkey.mail.transport.kind, ...(file ? { file } : {}) })}\n`);
        return EXIT.OK;
      } catch (error) {
        io.stderr(`latchkey: ${(error as Error).message} (transport ${latchkey.mail.transport.kind})\n`);
        return EXIT.FAILURE;
      }
    });
  }
  if (sub === 'outbox') {
    return withLatchkey(io, async (latchkey) => {
      const dir = latchkey.mail.transport.outboxDir;
      if (!dir) {
        io.stderr('latchkey: LATCHKEY_SMTP_URL is set: mails go to the SMTP server, there is no outbox\n');
        return EXIT.USAGE;
      }
      return listOutbox(dir, io, values.json === true);
    });
  }
  io.stderr(USAGE);
  return EXIT.USAGE;
};
